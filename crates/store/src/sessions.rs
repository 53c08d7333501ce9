//! Server-side sessions and personal API tokens. Only SHA-256 hashes of the
//! secrets are stored; the secrets themselves live in the cookie or with the
//! token's owner.

use crate::users::User;
use crate::{Result, Store, StoreError, Tx};
use carepath_domain::ids::{TokenId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub token_hash: String,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub mfa_done: bool,
    pub ended_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionUser {
    token_hash: String,
    s_created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    mfa_done: bool,
    ended_at: Option<i64>,
    #[sqlx(flatten)]
    user: User,
}

/// Token scopes are stored as a space-separated list of permission names.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Scopes(pub Vec<String>);

impl From<String> for Scopes {
    fn from(s: String) -> Self {
        Scopes(
            s.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    #[sqlx(try_from = "String")]
    pub id: TokenId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub name: String,
    /// Permission names the token is limited to (intersected with the user's roles).
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

const TOKEN_COLS: &str =
    "id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at";

impl Tx {
    pub async fn create_session(
        &mut self,
        token_hash: &str,
        user: UserId,
        expires_at: i64,
        mfa_done: bool,
        client_addr: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO session (token_hash, user_id, created_at, last_seen_at, expires_at, mfa_done, client_addr) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6)",
            )
            .bind(token_hash)
            .bind(user.to_string())
            .bind(now)
            .bind(expires_at)
            .bind(mfa_done)
            .bind(client_addr)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Record activity (for idle logoff).
    pub async fn touch_session(&mut self, token_hash: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("UPDATE session SET last_seen_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// End a session (logout, idle or absolute timeout, rotation).
    pub async fn end_session(&mut self, token_hash: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("UPDATE session SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// End every open session of a user (password, role or second-factor change).
    pub async fn end_sessions_of(&mut self, user: UserId) -> Result<u64> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
                .bind(user.to_string())
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    pub async fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        token_hash: &str,
        scopes: &[String],
        expires_at: i64,
    ) -> Result<TokenId> {
        let id = TokenId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO api_token (id, user_id, name, token_hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(name)
            .bind(token_hash)
            .bind(scopes.join(","))
            .bind(now)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
        });
        Ok(id)
    }

    /// A live (unrevoked, unexpired) token by hash; records its use.
    pub async fn use_api_token(&mut self, token_hash: &str) -> Result<Option<ApiToken>> {
        let now = self.now();
        let sql = format!(
            "UPDATE api_token SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 \
             RETURNING {TOKEN_COLS}"
        );
        Ok(on_tx!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *c)
                .await?
        }))
    }

    /// Revoke one of `user`'s tokens.
    pub async fn revoke_api_token(&mut self, user: UserId, id: TokenId) -> Result<()> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE api_token SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
                .bind(id.to_string())
                .bind(user.to_string())
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl Store {
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT token_hash, user_id, created_at, last_seen_at, expires_at, mfa_done, ended_at FROM session WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(c)
            .await?
        }))
    }

    /// A session and its user in one read (the per-request lookup).
    pub async fn session_with_user(&self, token_hash: &str) -> Result<Option<(Session, User)>> {
        let row: Option<SessionUser> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT s.token_hash, s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.mfa_done, \
                 s.ended_at, u.id, u.username, u.display_name, u.password_hash, u.disabled, u.totp_secret, \
                 u.pending_totp_secret, u.failed_logins, u.locked_until, u.created_at \
                 FROM session s JOIN staff_user u ON u.id = s.user_id WHERE s.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(c)
            .await?
        });
        Ok(row.map(|r| {
            (
                Session {
                    token_hash: r.token_hash,
                    user_id: r.user.id,
                    created_at: r.s_created_at,
                    last_seen_at: r.last_seen_at,
                    expires_at: r.expires_at,
                    mfa_done: r.mfa_done,
                    ended_at: r.ended_at,
                },
                r.user,
            )
        }))
    }

    pub async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM api_token WHERE user_id = $1 ORDER BY created_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user.to_string())
                .fetch_all(c)
                .await?
        }))
    }
}
