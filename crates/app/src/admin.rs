//! Administration: accounts and their roles, the audit viewer, the review of
//! emergency (break-the-glass) access. Every change is audited in its unit
//! of work; listings are audited as reads.

use crate::App;
use crate::actor::Principal;
use crate::auth;
use crate::error::{Error, Problems, Result};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{GrantId, ProgramId, UserId};
use carepath_domain::password;
use carepath_store::{
    AuditFilter, AuditPage, BreakGlassGrant, Grant, OrgGrant, Program, StoreError, User,
};

/// An account with its roles.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub grants: Vec<Grant>,
    /// Organization-wide roles (shown to organization administrators).
    pub org_roles: Vec<OrgGrant>,
}

/// Accounts with their roles, as far as `who` administers them: an
/// organization administrator sees every account; a program's
/// administrator sees the accounts holding a role in their programs, with
/// those roles only. Audited.
pub async fn users(app: &App, who: &Principal) -> Result<Vec<Account>> {
    if !who.can(Permission::ManageUsers) && !who.is_system() {
        return Err(Error::Forbidden("administrators only".into()));
    }
    let everywhere = who.org_allows(Permission::ManageUsers);
    let mine = who.programs_with(Permission::ManageUsers);
    let all = app.store.all_grants().await?;
    let org = app.store.all_org_roles().await?;
    let out = app
        .store
        .list_users()
        .await?
        .into_iter()
        .filter_map(|u| {
            let grants: Vec<Grant> = all
                .iter()
                .filter(|(id, g)| *id == u.id && (everywhere || mine.contains(&g.program_id)))
                .map(|(_, g)| *g)
                .collect();
            let org_roles: Vec<OrgGrant> = org
                .iter()
                .filter(|(id, _)| *id == u.id)
                .map(|(_, g)| *g)
                .collect();
            (everywhere || !grants.is_empty()).then_some(Account {
                user: u,
                grants,
                org_roles: if everywhere { org_roles } else { vec![] },
            })
        })
        .collect();
    app.audit(who.event("user.list", Outcome::Success)).await?;
    Ok(out)
}

/// The programs in which `who` administers accounts (every program when
/// organization-wide), and whether they may grant the administrator role.
pub async fn administered(app: &App, who: &Principal) -> Result<(Vec<Program>, bool)> {
    let everywhere = who.org_allows(Permission::ManageUsers);
    let mine = who.programs_with(Permission::ManageUsers);
    let programs = app
        .store
        .list_programs()
        .await?
        .into_iter()
        .filter(|g| everywhere || mine.contains(&g.id))
        .collect();
    Ok((programs, everywhere))
}

/// Refuse unless `who` administers accounts in `program` (there or
/// organization-wide). The administrator role itself is granted and revoked
/// only organization-wide.
fn require_admin_in(who: &Principal, program: ProgramId, role: Role) -> Result<()> {
    if who.is_system() {
        return Ok(());
    }
    if !who.administers(program, Permission::ManageUsers) {
        return Err(Error::Forbidden(
            "you administer accounts only in your own programs".into(),
        ));
    }
    if role == Role::Admin && !who.org_allows(Permission::ManageUsers) {
        return Err(Error::Forbidden(
            "only an organization administrator grants or removes the administrator role".into(),
        ));
    }
    Ok(())
}

/// Refuse unless `who` may change `user`'s account as a whole (disable it,
/// set its password): an organization administrator may; a program's
/// administrator only when every role the account holds is in programs they
/// administer and none of them is an administrator role.
async fn require_whole_account(app: &App, who: &Principal, user: UserId) -> Result<()> {
    app.store.user(user).await?;
    if who.is_system() || who.org_allows(Permission::ManageUsers) {
        return Ok(());
    }
    let grants = app.store.grants(user).await?;
    let org = app.store.org_roles(user).await?;
    if !org.is_empty() || grants.iter().any(|g| g.role == Role::Admin) {
        return Err(Error::Forbidden(
            "only an organization administrator changes an administrator's account".into(),
        ));
    }
    if grants.is_empty()
        || grants
            .iter()
            .any(|g| !who.holds_in(g.program_id, Permission::ManageUsers))
    {
        return Err(Error::Forbidden(
            "this account works in programs you do not administer".into(),
        ));
    }
    Ok(())
}

/// A new account with one role.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewUser {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub program_id: String,
    #[serde(default)]
    pub role: String,
}

/// Create an account with one role in one program, in one unit of work
/// (never an account without its role). Every invalid field at once.
pub async fn create_user(app: &App, who: &Principal, f: &NewUser) -> Result<String> {
    if !who.can(Permission::ManageUsers) && !who.is_system() {
        return Err(Error::Forbidden("administrators only".into()));
    }
    let mut p = Problems::new();
    let username = f.username.trim().to_lowercase();
    p.take(password::check_username(&username));
    if f.display_name.trim().is_empty() {
        p.add("display_name", "is required");
    }
    p.take(password::check(&f.password, &username));
    let program: Option<ProgramId> = p.take(
        f.program_id
            .parse()
            .map_err(|_| Error::invalid("program_id", "choose a program")),
    );
    let role: Option<Role> = p.take(f.role.parse::<Role>());
    if let Some(g) = program
        && p.is_empty()
        && app.store.program(g).await.is_err()
    {
        p.add("program_id", "no such program");
    }
    p.finish()?;
    let (Some(program), Some(role)) = (program, role) else {
        return Err(Error::Internal("account checks".into()));
    };
    require_admin_in(who, program, role)?;
    let hash = auth::hash_password(f.password.clone()).await?;
    let by = Some(who.user_id).filter(|u| !u.0.is_nil());
    let mut tx = app.begin().await?;
    let id = tx
        .create_user(&username, f.display_name.trim(), &hash)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::invalid("username", "is taken"),
            other => other.into(),
        })?;
    tx.audit(
        who.event("user.create", Outcome::Success)
            .object("user", id),
    );
    tx.grant_role(id, program, role, by).await?;
    tx.audit(
        who.event("user.grant", Outcome::Success)
            .object("user", id)
            .program(program)
            .detail(format!("grant {role}")),
    );
    tx.commit().await?;
    Ok(username)
}

/// Grant (`grant = true`) or revoke a role in a program.
pub async fn change_role(
    app: &App,
    who: &Principal,
    user: UserId,
    program: &str,
    role: &str,
    grant: bool,
) -> Result<()> {
    if !who.can(Permission::ManageUsers) && !who.is_system() {
        return Err(Error::Forbidden("administrators only".into()));
    }
    app.store.user(user).await?;
    let mut p = Problems::new();
    let program: Option<ProgramId> = p.take(
        program
            .parse()
            .map_err(|_| Error::invalid("program_id", "unknown program")),
    );
    let role: Option<Role> = p.take(role.parse::<Role>());
    p.finish()?;
    let (Some(program), Some(role)) = (program, role) else {
        return Err(Error::Internal("role checks".into()));
    };
    if app.store.program(program).await.is_err() {
        return Err(Error::invalid("program_id", "no such program"));
    }
    require_admin_in(who, program, role)?;
    if !grant && user == who.user_id && role == Role::Admin {
        return Err(Error::Forbidden(
            "you cannot remove your own administrator role".into(),
        ));
    }
    let by = Some(who.user_id).filter(|u| !u.0.is_nil());
    let mut tx = app.begin().await?;
    if grant {
        tx.grant_role(user, program, role, by).await?;
    } else {
        tx.revoke_role(user, program, role).await?;
    }
    // Granting oneself a role is allowed (a small program's administrator
    // may also be its nurse) but never silent: it has its own action, which
    // the auditors' review list shows.
    let own = grant && user == who.user_id && who.is_staff();
    let action = match (grant, own) {
        (true, true) => SELF_GRANT,
        (true, false) => "user.grant",
        (false, _) => "user.revoke",
    };
    tx.audit(
        who.event(action, Outcome::Success)
            .object("user", user)
            .program(program)
            .detail(format!(
                "{} {role}",
                match (grant, own) {
                    (true, true) => "granted themselves",
                    (true, false) => "grant",
                    (false, _) => "revoke",
                }
            )),
    );
    Ok(tx.commit().await?)
}

/// The audit action of a role an administrator granted themselves.
pub const SELF_GRANT: &str = "user.grant.self";

/// Grant or revoke an organization-wide role (administrator or auditor):
/// organization administrators and operators only.
pub async fn change_org_role(
    app: &App,
    who: &Principal,
    user: UserId,
    role: &str,
    grant: bool,
) -> Result<()> {
    if !who.org_allows(Permission::ManageUsers) {
        return Err(Error::Forbidden(
            "only an organization administrator grants organization-wide roles".into(),
        ));
    }
    let role: Role = role.parse()?;
    if !matches!(role, Role::Admin | Role::Auditor) {
        return Err(Error::invalid(
            "role",
            "only admin or auditor can be held organization-wide",
        ));
    }
    app.store.user(user).await?;
    if !grant && user == who.user_id && role == Role::Admin {
        return Err(Error::Forbidden(
            "you cannot remove your own administrator role".into(),
        ));
    }
    let org = app
        .store
        .organization()
        .await?
        .ok_or_else(|| Error::Conflict("create the organization first".into()))?;
    let by = Some(who.user_id).filter(|u| !u.0.is_nil());
    let mut tx = app.begin().await?;
    if grant {
        tx.grant_org_role(user, org.id, role, by).await?;
    } else {
        tx.revoke_org_role(user, org.id, role).await?;
    }
    tx.audit(
        who.event(
            if grant {
                "user.org_grant"
            } else {
                "user.org_revoke"
            },
            Outcome::Success,
        )
        .object("user", user)
        .detail(format!(
            "{} organization-wide {role}",
            if grant { "grant" } else { "revoke" }
        )),
    );
    Ok(tx.commit().await?)
}

/// Disable or re-enable an account; disabling ends its sessions and revokes
/// its tokens.
pub async fn set_disabled(app: &App, who: &Principal, user: UserId, disabled: bool) -> Result<()> {
    if !who.can(Permission::ManageUsers) && !who.is_system() {
        return Err(Error::Forbidden("administrators only".into()));
    }
    require_whole_account(app, who, user).await?;
    if user == who.user_id && disabled {
        return Err(Error::Forbidden(
            "you cannot disable your own account".into(),
        ));
    }
    let mut tx = app.begin().await?;
    tx.set_disabled(user, disabled).await?;
    tx.audit(
        who.event(
            if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            Outcome::Success,
        )
        .object("user", user),
    );
    Ok(tx.commit().await?)
}

/// Set a new password (the CLI's `user passwd`); ends every session and
/// revokes every API token of the account.
pub async fn set_password(
    app: &App,
    who: &Principal,
    username: &str,
    password: &str,
) -> Result<()> {
    let user = app
        .store
        .user_by_username(&username.trim().to_lowercase())
        .await?
        .ok_or(Error::NotFound)?;
    require_whole_account(app, who, user.id).await?;
    password::check(password, &user.username)?;
    let hash = auth::hash_password(password.to_string()).await?;
    let mut tx = app.begin().await?;
    tx.set_password(user.id, &hash).await?;
    tx.audit(
        who.event("user.passwd", Outcome::Success)
            .object("user", user.id),
    );
    Ok(tx.commit().await?)
}

/// An account by username.
pub async fn user_by_username(app: &App, username: &str) -> Result<Option<User>> {
    Ok(app
        .store
        .user_by_username(&username.trim().to_lowercase())
        .await?)
}

/// What `who` may audit: `None` for everything (organization-wide auditors
/// and operators), else the programs where they are auditor.
fn audit_scope(who: &Principal, p: Permission) -> Result<Option<Vec<ProgramId>>> {
    if who.org_allows(p) {
        return Ok(None);
    }
    let mine = who.programs_with(p);
    if mine.is_empty() {
        return Err(Error::Forbidden("auditors only".into()));
    }
    Ok(Some(mine))
}

/// The audit log, newest first (auditors: a program's auditor sees what
/// concerns their programs; an organization auditor everything); the read
/// itself is audited.
/// Returns the page and the chain head (sequence number, hash).
pub async fn audit_events(
    app: &App,
    who: &Principal,
    f: &AuditFilter,
    via: &str,
) -> Result<(AuditPage, (i64, String))> {
    let mut f = f.clone();
    f.programs = audit_scope(who, Permission::ReadAudit)?;
    let page = app.store.audit_events(&f).await?;
    let head = app.store.audit_head().await?;
    let mut ev = who.event("audit.view", Outcome::Success);
    if !via.is_empty() {
        ev.detail = Some(via.into());
    }
    app.audit(ev).await?;
    Ok((page, head))
}

/// Emergency-access grants for review, unreviewed first (auditors); audited.
pub async fn break_glass_grants(app: &App, who: &Principal) -> Result<Vec<BreakGlassGrant>> {
    let scope = audit_scope(who, Permission::ReviewBreakGlass)?;
    let v = app.store.list_break_glass(200, scope.as_deref()).await?;
    app.audit(who.event("break_glass.list", Outcome::Success))
        .await?;
    Ok(v)
}

/// Roles that administrators granted themselves, newest first — the
/// review list beside emergency access (auditors, scoped like the audit
/// trail); audited.
pub async fn self_grants(
    app: &App,
    who: &Principal,
) -> Result<Vec<carepath_domain::audit::StoredEvent>> {
    let scope = audit_scope(who, Permission::ReviewBreakGlass)?;
    let page = app
        .store
        .audit_events(&AuditFilter {
            action: Some(SELF_GRANT.into()),
            limit: 200,
            programs: scope,
            ..Default::default()
        })
        .await?;
    app.audit(who.event("user.self_grants.list", Outcome::Success))
        .await?;
    Ok(page.events)
}

/// Record the review of an emergency-access grant (once).
pub async fn review_break_glass(app: &App, who: &Principal, id: GrantId, note: &str) -> Result<()> {
    let scope = audit_scope(who, Permission::ReviewBreakGlass)?;
    let g = app
        .store
        .break_glass(id)
        .await
        .map_err(|_| Error::NotFound)?;
    if let Some(mine) = scope {
        let theirs = app.store.patient_programs(g.patient_id).await?;
        if !theirs.iter().any(|p| mine.contains(p)) {
            return Err(Error::NotFound);
        }
    }
    if note.trim().is_empty() {
        return Err(Error::invalid("note", "is required"));
    }
    let mut tx = app.begin().await?;
    tx.review_break_glass(id, &who.username, note.trim())
        .await?;
    tx.audit(
        who.event("break_glass.review", Outcome::Success)
            .object("break_glass", id),
    );
    Ok(tx.commit().await?)
}

/// Verify the audit chain, the checkpoints kept outside the database and
/// every clinical row against its sealed digest (the CLI's `audit verify`).
pub async fn verify_integrity(
    app: &App,
    checkpoints: &[(usize, Option<carepath_domain::audit::Checkpoint>)],
    progress: impl FnMut(u64),
) -> Result<carepath_store::integrity::Report> {
    Ok(app.store.verify_integrity(checkpoints, progress).await?)
}

/// A signed checkpoint of the audit chain's head now (`None` when the
/// installation has no key), for the caller to write outside the database.
pub async fn checkpoint(app: &App) -> Result<Option<carepath_domain::audit::Checkpoint>> {
    Ok(app.store.checkpoint(app.now_us()).await?)
}

/// The organization, if one exists.
pub async fn organization(app: &App) -> Result<Option<carepath_store::Organization>> {
    Ok(app.store.organization().await?)
}

fn system_only(who: &Principal) -> Result<()> {
    if who.is_system() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only an operator of this installation may do this".into(),
        ))
    }
}

/// Create the organization (operators: the CLI and the demo).
pub async fn create_organization(
    app: &App,
    who: &Principal,
    name: &str,
) -> Result<carepath_store::Organization> {
    system_only(who)?;
    let mut tx = app.begin().await?;
    let org = tx.create_organization(name).await?;
    tx.audit(
        who.event("organization.create", Outcome::Success)
            .object("organization", org.id),
    );
    tx.commit().await?;
    Ok(org)
}

/// Create a program of the organization (organization administrators and
/// operators). The time zone must be
/// an IANA name.
pub async fn create_program(
    app: &App,
    who: &Principal,
    org: carepath_domain::ids::OrgId,
    p: &carepath_store::NewProgram,
) -> Result<carepath_store::Program> {
    if !who.org_allows(Permission::ManagePrograms) {
        return Err(Error::Forbidden(
            "only an organization administrator creates programs".into(),
        ));
    }
    carepath_domain::program::parse_time_zone(&p.timezone)?;
    if p.name.trim().is_empty() {
        return Err(Error::invalid("name", "is required"));
    }
    let mut tx = app.begin().await?;
    let g = tx.create_program(org, p).await?;
    tx.audit(
        who.event("program.create", Outcome::Success)
            .object("program", g.id)
            .program(g.id),
    );
    tx.commit().await?;
    Ok(g)
}

/// Give an account a TOTP secret directly (operators: the demo and tests;
/// people enrol on `/mfa/enroll`).
pub async fn assign_second_factor(
    app: &App,
    who: &Principal,
    user: UserId,
    secret: &str,
) -> Result<()> {
    system_only(who)?;
    auth::totp(secret, "check")?;
    let mut tx = app.begin().await?;
    tx.set_totp(user, secret, 0, &[]).await?;
    tx.audit(
        who.event("auth.mfa_enrol", Outcome::Success)
            .object("user", user)
            .detail("assigned by an operator"),
    );
    Ok(tx.commit().await?)
}

/// Who may co-sign a note in `program` (supervising prescribers, counselors
/// and nurses of the program other than the principal): (id, name).
pub async fn cosigners(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<Vec<(UserId, String)>> {
    let grants = app.store.all_grants().await?;
    let mut out = vec![];
    for u in app.store.list_users().await? {
        if u.disabled || u.id == who.user_id {
            continue;
        }
        if grants.iter().any(|(id, g)| {
            *id == u.id
                && g.program_id == program
                && matches!(g.role, Role::Prescriber | Role::Counselor | Role::Nurse)
        }) {
            out.push((u.id, u.display_name));
        }
    }
    Ok(out)
}
