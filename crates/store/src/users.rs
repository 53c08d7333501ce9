//! Staff accounts, role grants, second factors, login throttling, and
//! break-the-glass grants.

use crate::{Result, Store, StoreError, now_us, parse_id};
use carepath_domain::audit::NewEvent;
use carepath_domain::authz::Role;
use carepath_domain::ids::{GrantId, PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    #[serde(skip)]
    pub totp_secret: Option<String>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

impl User {
    pub fn mfa_enrolled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    password_hash: String,
    disabled: bool,
    totp_secret: Option<String>,
    failed_logins: i64,
    locked_until: Option<i64>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        Ok(User {
            id: parse_id(&r.id, "staff_user.id")?,
            username: r.username,
            display_name: r.display_name,
            password_hash: r.password_hash,
            disabled: r.disabled,
            totp_secret: r.totp_secret,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
            created_at: r.created_at,
        })
    }
}

/// A role held in a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub program_id: ProgramId,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakGlassGrant {
    pub id: GrantId,
    pub user_id: UserId,
    pub username: String,
    pub patient_id: PatientId,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: String,
    user_id: String,
    username: String,
    patient_id: String,
    reason: String,
    created_at: i64,
    expires_at: i64,
    reviewed_by: Option<String>,
    reviewed_at: Option<i64>,
    review_note: Option<String>,
}

impl TryFrom<GrantRow> for BreakGlassGrant {
    type Error = StoreError;
    fn try_from(r: GrantRow) -> Result<Self> {
        Ok(BreakGlassGrant {
            id: parse_id(&r.id, "break_glass.id")?,
            user_id: parse_id(&r.user_id, "break_glass.user_id")?,
            username: r.username,
            patient_id: parse_id(&r.patient_id, "break_glass.patient_id")?,
            reason: r.reason,
            created_at: r.created_at,
            expires_at: r.expires_at,
            reviewed_by: r.reviewed_by,
            reviewed_at: r.reviewed_at,
            review_note: r.review_note,
        })
    }
}

const USER_COLS: &str = "id, username, display_name, password_hash, disabled, totp_secret, failed_logins, locked_until, created_at";

/// What a failed login did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
}

impl Store {
    /// Create an account. `password_hash` is an argon2id PHC string made by the caller.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        ev: NewEvent,
    ) -> Result<User> {
        let id = UserId::new();
        let now = now_us();
        with_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO staff_user (id, username, display_name, password_hash, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id.to_string())
            .bind(username)
            .bind(display_name)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("user", id));
        });
        self.user(id).await
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user WHERE id = $1");
        let row: UserRow = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(c).await?
        });
        row.try_into()
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user WHERE username = $1");
        let row: Option<UserRow> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(c).await?
        });
        row.map(User::try_from).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user ORDER BY username");
        let rows: Vec<UserRow> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await?
        });
        rows.into_iter().map(User::try_from).collect()
    }

    /// Replace a password; ends every session of the account.
    pub async fn set_password(&self, id: UserId, password_hash: &str, ev: NewEvent) -> Result<()> {
        let now = now_us();
        with_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE staff_user SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
                .bind(id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, ev.object("user", id));
        });
        Ok(())
    }

    /// Disable or re-enable an account; disabling ends its sessions and revokes its tokens.
    pub async fn set_disabled(&self, id: UserId, disabled: bool, ev: NewEvent) -> Result<()> {
        let now = now_us();
        with_tx!(self, tx => {
            let n = sqlx::query("UPDATE staff_user SET disabled = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(disabled)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            if disabled {
                sqlx::query("UPDATE session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
                    .bind(id.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE api_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(id.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, ev.object("user", id));
        });
        Ok(())
    }

    /// Grant a role in a program (idempotent). Audited as a permission change.
    pub async fn grant_role(
        &self,
        user: UserId,
        program: ProgramId,
        role: Role,
        by: Option<UserId>,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO user_role (user_id, program_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, program_id, role) DO NOTHING",
            )
            .bind(user.to_string())
            .bind(program.to_string())
            .bind(role.as_str())
            .bind(now_us())
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("user", user).program(program).detail(format!("grant {role}")));
        });
        Ok(())
    }

    /// Remove a role in a program. Audited as a permission change.
    pub async fn revoke_role(
        &self,
        user: UserId,
        program: ProgramId,
        role: Role,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query("DELETE FROM user_role WHERE user_id = $1 AND program_id = $2 AND role = $3")
                .bind(user.to_string())
                .bind(program.to_string())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, ev.object("user", user).program(program).detail(format!("revoke {role}")));
        });
        Ok(())
    }

    /// Every (program, role) the user holds.
    pub async fn grants(&self, user: UserId) -> Result<Vec<Grant>> {
        let rows: Vec<(String, String)> = with_reader!(self, c => {
            sqlx::query_as("SELECT program_id, role FROM user_role WHERE user_id = $1 ORDER BY program_id, role")
                .bind(user.to_string())
                .fetch_all(c)
                .await?
        });
        rows.into_iter()
            .map(|(p, r)| {
                Ok(Grant {
                    program_id: parse_id(&p, "user_role.program_id")?,
                    role: r
                        .parse()
                        .map_err(|_| StoreError::Corrupt("user_role.role"))?,
                })
            })
            .collect()
    }

    /// Record a failed password or second-factor attempt; lock the account for
    /// `lock_for_us` once `max_failures` consecutive failures are reached.
    pub async fn record_login_failure(
        &self,
        id: UserId,
        max_failures: i64,
        lock_for_us: i64,
        ev: NewEvent,
    ) -> Result<FailureOutcome> {
        let now = now_us();
        let out = with_tx!(self, tx => {
            let (failed, locked): (i64, Option<i64>) = sqlx::query_as(
                "UPDATE staff_user SET failed_logins = failed_logins + 1, \
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
                 WHERE id = $1 RETURNING failed_logins, locked_until",
            )
            .bind(id.to_string())
            .bind(max_failures)
            .bind(now + lock_for_us)
            .fetch_one(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("user", id));
            FailureOutcome { failed_logins: failed, locked_until: locked }
        });
        Ok(out)
    }

    /// Clear the failure counter after a successful login.
    pub async fn clear_login_failures(&self, id: UserId) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query("UPDATE staff_user SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Enrol a TOTP secret and replace the recovery codes (their hashes).
    pub async fn set_totp(
        &self,
        id: UserId,
        secret: &str,
        accepted_step: i64,
        recovery_hashes: &[String],
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
            sqlx::query("UPDATE staff_user SET totp_secret = $2, totp_last_step = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(secret)
                .bind(accepted_step)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM recovery_code WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            for h in recovery_hashes {
                sqlx::query("INSERT INTO recovery_code (user_id, code_hash) VALUES ($1, $2)")
                    .bind(id.to_string())
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit!(tx, ev.object("user", id));
        });
        Ok(())
    }

    /// Accept a TOTP time step only if it is later than the last accepted one
    /// (RFC 6238 § 5.2: a code must not be accepted twice). Atomic, so two
    /// concurrent submissions of the same code cannot both succeed.
    pub async fn accept_totp_step(&self, id: UserId, step: i64) -> Result<bool> {
        let n = with_tx!(self, tx => {
            sqlx::query(
                "UPDATE staff_user SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(id.to_string())
            .bind(step)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Spend a recovery code (by hash). True if it existed and was unused.
    pub async fn use_recovery_code(&self, id: UserId, code_hash: &str) -> Result<bool> {
        let n = with_tx!(self, tx => {
            sqlx::query("UPDATE recovery_code SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
                .bind(id.to_string())
                .bind(code_hash)
                .bind(now_us())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn unused_recovery_codes(&self, id: UserId) -> Result<i64> {
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM recovery_code WHERE user_id = $1 AND used_at IS NULL")
                .bind(id.to_string())
                .fetch_one(c)
                .await?
        });
        Ok(n)
    }

    /// Open an emergency-access grant (42 CFR § 2.51 medical emergencies).
    pub async fn create_break_glass(
        &self,
        user: UserId,
        patient: PatientId,
        reason: &str,
        ttl_us: i64,
        ev: NewEvent,
    ) -> Result<GrantId> {
        let id = GrantId::new();
        let now = now_us();
        with_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO break_glass (id, user_id, patient_id, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(patient.to_string())
            .bind(reason)
            .bind(now)
            .bind(now + ttl_us)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("break_glass", id).patient(patient));
        });
        Ok(id)
    }

    /// The user's unexpired grant for a patient, if any.
    pub async fn active_break_glass(
        &self,
        user: UserId,
        patient: PatientId,
        now: i64,
    ) -> Result<Option<GrantId>> {
        let row: Option<(String,)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id FROM break_glass WHERE user_id = $1 AND patient_id = $2 AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1",
            )
            .bind(user.to_string())
            .bind(patient.to_string())
            .bind(now)
            .fetch_optional(c)
            .await?
        });
        row.map(|(id,)| parse_id(&id, "break_glass.id")).transpose()
    }

    /// Grants for review, unreviewed first, newest first.
    pub async fn list_break_glass(&self, limit: i64) -> Result<Vec<BreakGlassGrant>> {
        let rows: Vec<GrantRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT b.id, b.user_id, u.username, b.patient_id, b.reason, b.created_at, b.expires_at, \
                 b.reviewed_by, b.reviewed_at, b.review_note \
                 FROM break_glass b JOIN staff_user u ON u.id = b.user_id \
                 ORDER BY (b.reviewed_at IS NULL) DESC, b.created_at DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(c)
            .await?
        });
        rows.into_iter().map(BreakGlassGrant::try_from).collect()
    }

    /// Record the review of a grant (once).
    pub async fn review_break_glass(
        &self,
        id: GrantId,
        reviewer: &str,
        note: &str,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE break_glass SET reviewed_by = $2, reviewed_at = $3, review_note = $4 WHERE id = $1 AND reviewed_at IS NULL",
            )
            .bind(id.to_string())
            .bind(reviewer)
            .bind(now_us())
            .bind(note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            append_audit!(tx, ev.object("break_glass", id));
        });
        Ok(())
    }
}
