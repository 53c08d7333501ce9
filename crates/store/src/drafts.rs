//! Form drafts: what a member of staff typed and has not saved yet (kept
//! when their session ended as they pressed Save, or saved as a draft). One
//! per person per form path; the application layer decides who may read one
//! (only its author) and removes it once the form is submitted.

use crate::{Result, Store, Tx};
use carepath_domain::ids::UserId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Draft {
    pub path: String,
    /// The form as submitted (`application/x-www-form-urlencoded`).
    pub body: String,
    /// `signed_out` or `draft`.
    pub reason: String,
    pub saved_at: i64,
}

impl Tx {
    /// Keep (or replace) the draft of `user` for the form at `path`.
    pub async fn put_draft(
        &mut self,
        user: UserId,
        path: &str,
        body: &str,
        reason: &str,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO form_draft (user_id, path, body, reason, saved_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, path) DO UPDATE SET body = excluded.body, reason = excluded.reason, saved_at = excluded.saved_at",
            )
            .bind(user.to_string())
            .bind(path)
            .bind(body)
            .bind(reason)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Remove the draft of `user` for `path`; true when there was one.
    pub async fn delete_draft(&mut self, user: UserId, path: &str) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query("DELETE FROM form_draft WHERE user_id = $1 AND path = $2")
                .bind(user.to_string())
                .bind(path)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Remove every draft saved before `before` (UTC microseconds).
    pub async fn purge_drafts(&mut self, before: i64) -> Result<u64> {
        let n = on_tx!(self, c => {
            sqlx::query("DELETE FROM form_draft WHERE saved_at < $1")
                .bind(before)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}

impl Store {
    /// The draft of `user` for `path`, if any.
    pub async fn draft(&self, user: UserId, path: &str) -> Result<Option<Draft>> {
        let d = with_reader!(self, c => {
            sqlx::query_as("SELECT path, body, reason, saved_at FROM form_draft WHERE user_id = $1 AND path = $2")
                .bind(user.to_string())
                .bind(path)
                .fetch_optional(c)
                .await?
        });
        Ok(d)
    }

    /// Whether `user` has any draft (cheap check before a delete).
    pub async fn has_drafts(&self, user: UserId) -> Result<bool> {
        let n: (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM form_draft WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_one(c)
                .await?
        });
        Ok(n.0 > 0)
    }
}
