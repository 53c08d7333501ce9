//! Staff accounts, role grants, second factors, login throttling, and
//! break-the-glass grants.

use crate::{Result, Store, StoreError, Tx, conflict_on};
use carepath_domain::authz::Role;
use carepath_domain::ids::{GrantId, OrgId, PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    #[sqlx(try_from = "String")]
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// A secret offered for enrolment, waiting for a code from it.
    #[serde(skip)]
    pub pending_totp_secret: Option<String>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

impl User {
    pub fn mfa_enrolled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

/// A role held in a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Grant {
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// An organization-wide role (administrator or auditor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OrgGrant {
    #[sqlx(try_from = "String")]
    pub org_id: OrgId,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BreakGlassGrant {
    #[sqlx(try_from = "String")]
    pub id: GrantId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
}

const USER_COLS: &str = "id, username, display_name, password_hash, disabled, totp_secret, pending_totp_secret, failed_logins, locked_until, created_at";

/// What a failed login did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
}

impl Tx {
    /// Create an account. `password_hash` is an argon2id PHC string made by
    /// the caller. `Conflict("staff_user_username_key")` if the name is taken.
    pub async fn create_user(
        &mut self,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<UserId> {
        let id = UserId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO staff_user (id, username, display_name, password_hash, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id.to_string())
            .bind(username)
            .bind(display_name)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(conflict_on("staff_user_username_key"))?;
        });
        Ok(id)
    }

    /// Replace a password; ends every session and revokes every API token of
    /// the account (credentials die together: a token minted before a reset
    /// must not outlive it).
    pub async fn set_password(&mut self, id: UserId, password_hash: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            let n = sqlx::query(
                "UPDATE staff_user SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(password_hash)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
                .bind(id.to_string())
                .bind(now)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE api_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(id.to_string())
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Disable or re-enable an account; disabling ends its sessions and revokes its tokens.
    pub async fn set_disabled(&mut self, id: UserId, disabled: bool) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            let n = sqlx::query("UPDATE staff_user SET disabled = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(disabled)
                .execute(&mut *c)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            if disabled {
                sqlx::query("UPDATE session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
                    .bind(id.to_string())
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("UPDATE api_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(id.to_string())
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }

    /// Grant a role in a program (idempotent).
    pub async fn grant_role(
        &mut self,
        user: UserId,
        program: ProgramId,
        role: Role,
        by: Option<UserId>,
    ) -> Result<()> {
        self.changes_reference();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO user_role (user_id, program_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, program_id, role) DO NOTHING",
            )
            .bind(user.to_string())
            .bind(program.to_string())
            .bind(role.as_str())
            .bind(now)
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Remove a role in a program.
    pub async fn revoke_role(
        &mut self,
        user: UserId,
        program: ProgramId,
        role: Role,
    ) -> Result<()> {
        self.changes_reference();
        on_tx!(self, c => {
            sqlx::query("DELETE FROM user_role WHERE user_id = $1 AND program_id = $2 AND role = $3")
                .bind(user.to_string())
                .bind(program.to_string())
                .bind(role.as_str())
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Grant an organization-wide role (idempotent).
    pub async fn grant_org_role(
        &mut self,
        user: UserId,
        org: OrgId,
        role: Role,
        by: Option<UserId>,
    ) -> Result<()> {
        self.changes_reference();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO org_role (user_id, org_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, org_id, role) DO NOTHING",
            )
            .bind(user.to_string())
            .bind(org.to_string())
            .bind(role.as_str())
            .bind(now)
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Remove an organization-wide role.
    pub async fn revoke_org_role(&mut self, user: UserId, org: OrgId, role: Role) -> Result<()> {
        self.changes_reference();
        on_tx!(self, c => {
            sqlx::query("DELETE FROM org_role WHERE user_id = $1 AND org_id = $2 AND role = $3")
                .bind(user.to_string())
                .bind(org.to_string())
                .bind(role.as_str())
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Record a failed password or second-factor attempt; lock the account for
    /// `lock_for_us` once `max_failures` consecutive failures are reached.
    pub async fn record_login_failure(
        &mut self,
        id: UserId,
        max_failures: i64,
        lock_for_us: i64,
    ) -> Result<FailureOutcome> {
        let now = self.now();
        let (failed, locked): (i64, Option<i64>) = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE staff_user SET failed_logins = failed_logins + 1, \
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
                 WHERE id = $1 RETURNING failed_logins, locked_until",
            )
            .bind(id.to_string())
            .bind(max_failures)
            .bind(now + lock_for_us)
            .fetch_one(&mut *c)
            .await?
        });
        Ok(FailureOutcome {
            failed_logins: failed,
            locked_until: locked,
        })
    }

    /// Clear the failure counter after a successful login.
    pub async fn clear_login_failures(&mut self, id: UserId) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE staff_user SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Offer a secret for enrolment (replacing any earlier offer), or
    /// withdraw the offer (`None`).
    pub async fn set_pending_totp(&mut self, id: UserId, secret: Option<&str>) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE staff_user SET pending_totp_secret = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(secret)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Enrol a TOTP secret and replace the recovery codes (their hashes);
    /// the pending offer is cleared.
    pub async fn set_totp(
        &mut self,
        id: UserId,
        secret: &str,
        accepted_step: i64,
        recovery_hashes: &[String],
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE staff_user SET totp_secret = $2, totp_last_step = $3, pending_totp_secret = NULL WHERE id = $1")
                .bind(id.to_string())
                .bind(secret)
                .bind(accepted_step)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM recovery_code WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
            for h in recovery_hashes {
                sqlx::query("INSERT INTO recovery_code (user_id, code_hash) VALUES ($1, $2)")
                    .bind(id.to_string())
                    .bind(h)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }

    /// Accept a TOTP time step only if it is later than the last accepted one
    /// (RFC 6238 § 5.2: a code must not be accepted twice). Atomic, so two
    /// concurrent submissions of the same code cannot both succeed.
    pub async fn accept_totp_step(&mut self, id: UserId, step: i64) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE staff_user SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(id.to_string())
            .bind(step)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Spend a recovery code (by hash). True if it existed and was unused.
    pub async fn use_recovery_code(&mut self, id: UserId, code_hash: &str) -> Result<bool> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE recovery_code SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
                .bind(id.to_string())
                .bind(code_hash)
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Open an emergency-access grant (42 CFR § 2.51 medical emergencies).
    pub async fn create_break_glass(
        &mut self,
        user: UserId,
        patient: PatientId,
        reason: &str,
        ttl_us: i64,
    ) -> Result<GrantId> {
        let id = GrantId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO break_glass (id, user_id, patient_id, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(patient.to_string())
            .bind(reason)
            .bind(now)
            .bind(now + ttl_us)
            .execute(&mut *c)
            .await?;
        });
        Ok(id)
    }

    /// Record the review of a grant (once). `NotFound` if already reviewed.
    pub async fn review_break_glass(
        &mut self,
        id: GrantId,
        reviewer: &str,
        note: &str,
    ) -> Result<()> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE break_glass SET reviewed_by = $2, reviewed_at = $3, review_note = $4 WHERE id = $1 AND reviewed_at IS NULL",
            )
            .bind(id.to_string())
            .bind(reviewer)
            .bind(now)
            .bind(note)
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
    pub async fn user(&self, id: UserId) -> Result<User> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user WHERE id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(c).await?
        }))
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user WHERE username = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(c).await?
        }))
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM staff_user ORDER BY username");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await?
        }))
    }

    /// Every (program, role) the user holds.
    pub async fn grants(&self, user: UserId) -> Result<Vec<Grant>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT program_id, role FROM user_role WHERE user_id = $1 ORDER BY program_id, role")
                .bind(user.to_string())
                .fetch_all(c)
                .await?
        }))
    }

    /// Every role the user holds, in programs and organization-wide, in one
    /// round trip (each request resolves its principal with it).
    /// A user's roles in programs and organizations (cached like programs'
    /// reference data: a grant or revocation commits a new generation).
    pub async fn roles_of(&self, user: UserId) -> Result<(Vec<Grant>, Vec<OrgGrant>)> {
        let key = format!("roles:{user}");
        if let Some(r) = self.refs.get::<(Vec<Grant>, Vec<OrgGrant>)>(&key) {
            return Ok(r);
        }
        let g = self.refs.generation();
        let r = self.roles_of_uncached(user).await?;
        self.refs.put(key, g, r.clone());
        Ok(r)
    }

    async fn roles_of_uncached(&self, user: UserId) -> Result<(Vec<Grant>, Vec<OrgGrant>)> {
        let rows: Vec<(bool, String, String)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT FALSE AS org, program_id AS scope, role FROM user_role WHERE user_id = $1 \
                 UNION ALL SELECT TRUE, org_id, role FROM org_role WHERE user_id = $1 \
                 ORDER BY 1, 2, 3",
            )
            .bind(user.to_string())
            .fetch_all(c)
            .await?
        });
        let mut grants = vec![];
        let mut org = vec![];
        for (is_org, scope, role) in rows {
            let role: Role = role
                .parse()
                .map_err(|_| StoreError::Corrupt("user_role.role"))?;
            if is_org {
                org.push(OrgGrant {
                    org_id: scope
                        .parse()
                        .map_err(|_| StoreError::Corrupt("org_role.org_id"))?,
                    role,
                });
            } else {
                grants.push(Grant {
                    program_id: scope
                        .parse()
                        .map_err(|_| StoreError::Corrupt("user_role.program_id"))?,
                    role,
                });
            }
        }
        Ok((grants, org))
    }

    /// The user's organization-wide roles.
    pub async fn org_roles(&self, user: UserId) -> Result<Vec<OrgGrant>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT org_id, role FROM org_role WHERE user_id = $1 ORDER BY org_id, role")
                .bind(user.to_string())
                .fetch_all(c)
                .await?
        }))
    }

    /// Every organization-wide role of every user.
    pub async fn all_org_roles(&self) -> Result<Vec<(UserId, OrgGrant)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(try_from = "String")]
            user_id: UserId,
            #[sqlx(flatten)]
            grant: OrgGrant,
        }
        let rows: Vec<Row> = with_reader!(self, c => {
            sqlx::query_as("SELECT user_id, org_id, role FROM org_role ORDER BY user_id, org_id, role")
                .fetch_all(c)
                .await?
        });
        Ok(rows.into_iter().map(|r| (r.user_id, r.grant)).collect())
    }

    /// Every grant of every user: (user, program, role).
    pub async fn all_grants(&self) -> Result<Vec<(UserId, Grant)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(try_from = "String")]
            user_id: UserId,
            #[sqlx(flatten)]
            grant: Grant,
        }
        let rows: Vec<Row> = with_reader!(self, c => {
            sqlx::query_as("SELECT user_id, program_id, role FROM user_role ORDER BY user_id, program_id, role")
                .fetch_all(c)
                .await?
        });
        Ok(rows.into_iter().map(|r| (r.user_id, r.grant)).collect())
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
        row.map(|(id,)| {
            id.parse()
                .map_err(|_| StoreError::Corrupt("break_glass.id"))
        })
        .transpose()
    }

    /// Grants for review, unreviewed first, newest first; with `programs`,
    /// only grants to patients of those programs (home program or an
    /// episode there).
    pub async fn list_break_glass(
        &self,
        limit: i64,
        programs: Option<&[ProgramId]>,
    ) -> Result<Vec<BreakGlassGrant>> {
        let filter = match programs {
            None => String::new(),
            Some(g) => {
                let list = crate::placeholders(2, g.len().max(1));
                format!(
                    "WHERE b.patient_id IN (SELECT id FROM patient WHERE program_id IN ({list}) \
                     UNION SELECT patient_id FROM episode WHERE program_id IN ({list}))"
                )
            }
        };
        let sql = format!(
            "SELECT b.id, b.user_id, u.username, b.patient_id, b.reason, b.created_at, b.expires_at, \
             b.reviewed_by, b.reviewed_at, b.review_note \
             FROM break_glass b JOIN staff_user u ON u.id = b.user_id {filter} \
             ORDER BY (b.reviewed_at IS NULL) DESC, b.created_at DESC LIMIT $1"
        );
        Ok(with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit);
            match programs {
                None => {}
                Some([]) => q = q.bind(String::new()),
                Some(g) => {
                    for p in g {
                        q = q.bind(p.to_string());
                    }
                }
            }
            q.fetch_all(c).await?
        }))
    }

    /// One emergency-access grant.
    pub async fn break_glass(&self, id: GrantId) -> Result<BreakGlassGrant> {
        let r: Option<BreakGlassGrant> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT b.id, b.user_id, u.username, b.patient_id, b.reason, b.created_at, b.expires_at, \
                 b.reviewed_by, b.reviewed_at, b.review_note \
                 FROM break_glass b JOIN staff_user u ON u.id = b.user_id WHERE b.id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(c)
            .await?
        });
        r.ok_or(StoreError::NotFound)
    }
}
