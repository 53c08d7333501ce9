//! No lost work: what a member of staff typed into a form is kept when their
//! session ends for inactivity as they press Save (the form is held for the
//! person whose session it was, and handed back after they sign in again),
//! and when they choose "Save draft" on a long form such as the intake
//! assessment. A draft is only ever shown to its author, on the form it
//! belongs to; it is removed when that form is submitted, when its author
//! discards it, or after [`KEEP_DAYS`]. Drafts are working copies, never the
//! record: nothing in one is clinical until the form is saved through its
//! own service. The audit says a draft was kept, restored or discarded (the
//! form's path), never what it holds.

use crate::App;
use crate::actor::{Principal, Via};
use crate::error::{Error, Result};
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::ids::UserId;
pub use carepath_store::drafts::Draft;

/// How long a draft is kept.
pub const KEEP_DAYS: i64 = 7;

/// A session that ended this recently (microseconds) may still hand the
/// form that found it ended to its owner.
const JUST_ENDED_US: i64 = 120 * 1_000_000;

/// The largest form kept (bytes).
const MAX_BODY: usize = 256 * 1024;

/// The person a draft belongs to: a member of staff signed in with a session.
fn owner(p: &Principal) -> Result<UserId> {
    match (&p.kind, &p.via) {
        (crate::ActorKind::Staff, Via::Session { .. }) if p.mfa_done => Ok(p.user_id),
        _ => Err(Error::Forbidden(
            "drafts belong to a signed-in member of staff".into(),
        )),
    }
}

fn check(path: &str, body: &str) -> Result<()> {
    if !path.starts_with('/') || path.starts_with("//") || path.len() > 500 {
        return Err(Error::invalid("path", "not a form of this server"));
    }
    if body.len() > MAX_BODY {
        return Err(Error::invalid(
            "form",
            format!("too long to keep as a draft (over {} KB)", MAX_BODY / 1024),
        ));
    }
    Ok(())
}

/// Keep the form that arrived with a session token that has just ended for
/// inactivity, for the person whose session it was. Answers whether it was
/// kept (false for an unknown token, one ended long ago or by signing out).
pub async fn hold_on_expiry(
    app: &App,
    session_token: &str,
    path: &str,
    body: &str,
) -> Result<bool> {
    check(path, body)?;
    let hash = crate::auth::sha256_hex(session_token);
    let Some((s, _)) = app.store.session_with_user(&hash).await? else {
        return Ok(false);
    };
    let now = app.now_us();
    let just_ended = s.ended_at.is_some_and(|t| now - t <= JUST_ENDED_US);
    if !just_ended {
        return Ok(false);
    }
    let mut tx = app.begin().await?;
    tx.put_draft(s.user_id, path, body, "signed_out").await?;
    let mut e = NewEvent::new("draft.keep", Outcome::Success)
        .detail(format!("signed out for inactivity on saving {path}"));
    e.user_id = Some(s.user_id.to_string());
    tx.audit(e);
    tx.commit().await?;
    Ok(true)
}

/// Save what `p` typed into the form at `path` as their draft.
pub async fn save(app: &App, p: &Principal, path: &str, body: &str) -> Result<()> {
    let user = owner(p)?;
    check(path, body)?;
    let mut tx = app.begin().await?;
    tx.put_draft(user, path, body, "draft").await?;
    tx.audit(
        p.event("draft.save", Outcome::Success)
            .detail(path.to_string()),
    );
    tx.commit().await?;
    Ok(())
}

/// `p`'s draft of the form at `path`, if one is kept and not too old.
pub async fn find(app: &App, p: &Principal, path: &str) -> Result<Option<Draft>> {
    let Ok(user) = owner(p) else {
        return Ok(None);
    };
    let oldest = app.now_us() - KEEP_DAYS * 86_400 * 1_000_000;
    Ok(app
        .store
        .draft(user, path)
        .await?
        .filter(|d| d.saved_at >= oldest))
}

/// Discard `p`'s draft of `path`.
pub async fn discard(app: &App, p: &Principal, path: &str) -> Result<()> {
    let user = owner(p)?;
    let mut tx = app.begin().await?;
    if tx.delete_draft(user, path).await? {
        tx.audit(
            p.event("draft.discard", Outcome::Success)
                .detail(path.to_string()),
        );
    }
    tx.commit().await?;
    Ok(())
}

/// The form at `path` was submitted and saved: its draft has done its work.
pub async fn submitted(app: &App, p: &Principal, path: &str) -> Result<()> {
    let Ok(user) = owner(p) else {
        return Ok(());
    };
    if !app.store.has_drafts(user).await? {
        return Ok(());
    }
    let mut tx = app.begin().await?;
    tx.delete_draft(user, path).await?;
    tx.commit().await?;
    Ok(())
}

/// Remove drafts older than [`KEEP_DAYS`] (the hourly sweep).
pub async fn purge(app: &App) -> Result<u64> {
    let before = app.now_us() - KEEP_DAYS * 86_400 * 1_000_000;
    let mut tx = app.begin().await?;
    let n = tx.purge_drafts(before).await?;
    tx.commit().await?;
    Ok(n)
}
