//! Server-side sessions and personal API tokens. Only SHA-256 hashes of the
//! secrets are stored; the secrets themselves live in the cookie or with the
//! token's owner.

use crate::{Result, Store, StoreError, now_us, parse_id};
use carepath_domain::audit::NewEvent;
use carepath_domain::ids::{TokenId, UserId};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub mfa_done: bool,
    pub ended_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    user_id: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    mfa_done: bool,
    ended_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    /// Permission names the token is limited to (intersected with the user's roles).
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    user_id: String,
    name: String,
    scopes: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self> {
        Ok(ApiToken {
            id: parse_id(&r.id, "api_token.id")?,
            user_id: parse_id(&r.user_id, "api_token.user_id")?,
            name: r.name,
            scopes: r
                .scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        expires_at: i64,
        mfa_done: bool,
        client_addr: Option<&str>,
    ) -> Result<()> {
        let now = now_us();
        with_tx!(self, tx => {
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
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row: Option<SessionRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT token_hash, user_id, created_at, last_seen_at, expires_at, mfa_done, ended_at FROM session WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(c)
            .await?
        });
        row.map(|r| {
            Ok(Session {
                user_id: parse_id(&r.user_id, "session.user_id")?,
                token_hash: r.token_hash,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                expires_at: r.expires_at,
                mfa_done: r.mfa_done,
                ended_at: r.ended_at,
            })
        })
        .transpose()
    }

    /// Record activity (for idle logoff).
    pub async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query("UPDATE session SET last_seen_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// End a session (logout, idle or absolute timeout, rotation).
    pub async fn end_session(&self, token_hash: &str) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query("UPDATE session SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash)
                .bind(now_us())
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    pub async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        scopes: &[String],
        expires_at: i64,
        ev: NewEvent,
    ) -> Result<TokenId> {
        let id = TokenId::new();
        with_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO api_token (id, user_id, name, token_hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(name)
            .bind(token_hash)
            .bind(scopes.join(","))
            .bind(now_us())
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("api_token", id));
        });
        Ok(id)
    }

    /// A live (unrevoked, unexpired) token by hash; records its use.
    pub async fn use_api_token(&self, token_hash: &str, now: i64) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = with_tx!(self, tx => {
            sqlx::query_as(
                "UPDATE api_token SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 \
                 RETURNING id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        row.map(ApiToken::try_from).transpose()
    }

    pub async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_token \
                 WHERE user_id = $1 ORDER BY created_at DESC",
            )
            .bind(user.to_string())
            .fetch_all(c)
            .await?
        });
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    /// Revoke one of `user`'s tokens.
    pub async fn revoke_api_token(&self, user: UserId, id: TokenId, ev: NewEvent) -> Result<()> {
        with_tx!(self, tx => {
            let n = sqlx::query("UPDATE api_token SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
                .bind(id.to_string())
                .bind(user.to_string())
                .bind(now_us())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            append_audit!(tx, ev.object("api_token", id));
        });
        Ok(())
    }
}
