//! The patient portal's own realm: accounts (one per patient), one-time
//! invitations and sessions (only hashes of the secrets are stored), the
//! program's portal settings, and the patients' self-reports with the staff
//! acknowledgement of those that alerted. Reports and acknowledgements are
//! append-only.

use crate::{PatientWrite, Result, StoreError, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortalAccount {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub language: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub password_set_at: i64,
    /// The second factor (TOTP secret, base32), when the patient set one up.
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// A secret on offer while the patient sets the factor up.
    #[serde(skip)]
    pub pending_totp: Option<String>,
    /// A family member's account: the family-involvement consent (its root
    /// record id) it stands on, and the recipient it names.
    pub consent_id: Option<String>,
    pub recipient: Option<String>,
    /// The consent lets them see upcoming appointments.
    pub show_appointments: bool,
}

/// What a family invitation carries.
#[derive(Debug, Clone)]
pub struct FamilyGrant {
    pub consent_id: String,
    pub recipient: String,
    pub show_appointments: bool,
}

impl PortalAccount {
    pub fn mfa_enrolled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

const ACCOUNT_COLS: &str = "id, patient_id, username, password_hash, language, failed_logins, \
    locked_until, disabled_at, created_at, password_set_at, totp_secret, pending_totp, consent_id, \
    recipient, show_appointments";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortalInvite {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub created_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// For a family member: who (as the consent names them).
    pub recipient: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortalSession {
    pub token_hash: String,
    pub account_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub mfa_done: bool,
    pub ended_at: Option<i64>,
}

/// What a program shows its patients, and when a self-report alerts staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PortalSettings {
    pub show_drug_tests: bool,
    pub show_dosing: bool,
    pub show_plan: bool,
    pub show_rewards: bool,
    pub sows_alert_from: i64,
    pub craving_alert_from: i64,
    pub mood_alert_at_most: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Report {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    /// The 16 SOWS answers as a JSON array, when the patient rated withdrawal.
    pub sows_items: Option<String>,
    pub sows_total: Option<i64>,
    pub craving: i64,
    pub mood: i64,
    /// What reached staff ("" when nothing did).
    pub alert: String,
    pub reported_at: i64,
    pub ack_by: Option<String>,
    pub ack_note: Option<String>,
    pub ack_at: Option<i64>,
}

pub struct NewReport {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub sows_items: Option<String>,
    pub sows_total: Option<i64>,
    pub craving: i64,
    pub mood: i64,
    pub alert: String,
}

const REPORT_COLS: &str = "r.id, r.patient_id, r.program_id, r.sows_items, r.sows_total, r.craving, r.mood, \
    r.alert, r.reported_at, a.by_name AS ack_by, a.note AS ack_note, a.at_us AS ack_at";
const REPORT_FROM: &str = "patient_report r LEFT JOIN patient_report_ack a ON a.report_id = r.id";

impl Tx {
    /// Record an invitation (its code's hash) valid until `expires_at`.
    pub async fn create_portal_invite(
        &mut self,
        patient: PatientId,
        code_hash: &str,
        by: Option<UserId>,
        by_name: &str,
        expires_at: i64,
        family: Option<&FamilyGrant>,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO portal_invite (id, code_hash, patient_id, created_by, created_by_name, created_at, expires_at, \
                 consent_id, recipient, show_appointments) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id).bind(code_hash).bind(patient.to_string()).bind(by.map(|u| u.to_string()))
            .bind(by_name).bind(now).bind(expires_at)
            .bind(family.map(|f| f.consent_id.clone())).bind(family.map(|f| f.recipient.clone()))
            .bind(family.is_some_and(|f| f.show_appointments))
            .execute(&mut *c).await?;
        });
        Ok(id)
    }

    /// Use an invitation: the patient it is for (and, for a family member,
    /// the consent it stands on), if it is unused and unexpired (and from
    /// now on used). Two racing uses: one wins.
    pub async fn use_portal_invite(
        &mut self,
        code_hash: &str,
    ) -> Result<Option<(PatientId, Option<FamilyGrant>)>> {
        let now = self.now();
        #[allow(clippy::type_complexity)]
        let row: Option<(String, Option<String>, Option<String>, bool)> = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE portal_invite SET used_at = $2 \
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING patient_id, consent_id, recipient, show_appointments",
            )
            .bind(code_hash).bind(now)
            .fetch_optional(&mut *c).await?
        });
        let Some((p, consent, recipient, show)) = row else {
            return Ok(None);
        };
        let p = p
            .parse()
            .map_err(|_| StoreError::Corrupt("portal_invite.patient_id"))?;
        let family = match (consent, recipient) {
            (Some(consent_id), Some(recipient)) => Some(FamilyGrant {
                consent_id,
                recipient,
                show_appointments: show,
            }),
            _ => None,
        };
        Ok(Some((p, family)))
    }

    /// Create the patient's account (or, with `family`, the family
    /// member's account under that consent), or give an existing one a new
    /// username and password (an invitation also recovers an account).
    /// Returns its id. A username already taken is
    /// `Conflict("portal_account_username")`.
    pub async fn set_portal_account(
        &mut self,
        patient: PatientId,
        username: &str,
        password_hash: &str,
        language: &str,
        family: Option<&FamilyGrant>,
    ) -> Result<String> {
        let now = self.now();
        let existing: Option<(String,)> = match family {
            None => on_tx!(self, c => {
                sqlx::query_as("SELECT id FROM portal_account WHERE patient_id = $1 AND consent_id IS NULL")
                    .bind(patient.to_string())
                    .fetch_optional(&mut *c).await?
            }),
            Some(f) => on_tx!(self, c => {
                sqlx::query_as("SELECT id FROM portal_account WHERE consent_id = $1")
                    .bind(&f.consent_id)
                    .fetch_optional(&mut *c).await?
            }),
        };
        let id = match existing {
            Some((id,)) => {
                on_tx!(self, c => {
                    sqlx::query(
                        "UPDATE portal_account SET username = $2, password_hash = $3, language = $4, \
                         failed_logins = 0, locked_until = NULL, disabled_at = NULL, password_set_at = $5, \
                         totp_secret = NULL, pending_totp = NULL, totp_last_step = NULL, \
                         show_appointments = $6 WHERE id = $1",
                    )
                    .bind(&id).bind(username).bind(password_hash).bind(language).bind(now)
                    .bind(family.is_some_and(|f| f.show_appointments))
                    .execute(&mut *c).await.map_err(conflict_on("portal_account_username"))?;
                });
                // Every earlier session of the account ends with the new password.
                on_tx!(self, c => {
                    sqlx::query("UPDATE portal_session SET ended_at = $2 WHERE account_id = $1 AND ended_at IS NULL")
                        .bind(&id).bind(now).execute(&mut *c).await?;
                });
                id
            }
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                on_tx!(self, c => {
                    sqlx::query(
                        "INSERT INTO portal_account (id, patient_id, username, password_hash, language, created_at, password_set_at, \
                         consent_id, recipient, show_appointments) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)",
                    )
                    .bind(&id).bind(patient.to_string()).bind(username).bind(password_hash)
                    .bind(language).bind(now)
                    .bind(family.map(|f| f.consent_id.clone())).bind(family.map(|f| f.recipient.clone()))
                    .bind(family.is_some_and(|f| f.show_appointments))
                    .execute(&mut *c).await.map_err(conflict_on("portal_account_username"))?;
                });
                id
            }
        };
        Ok(id)
    }

    /// Turn off a patient's own portal access, or (`account`) one family
    /// member's; their sessions end with it.
    pub async fn disable_portal_account(
        &mut self,
        patient: PatientId,
        account: Option<&str>,
    ) -> Result<bool> {
        let now = self.now();
        let ids: Vec<(String,)> = match account {
            None => on_tx!(self, c => {
                sqlx::query_as(
                    "UPDATE portal_account SET disabled_at = $2 WHERE patient_id = $1 AND disabled_at IS NULL \
                     AND consent_id IS NULL RETURNING id",
                )
                .bind(patient.to_string()).bind(now)
                .fetch_all(&mut *c).await?
            }),
            Some(a) => on_tx!(self, c => {
                sqlx::query_as(
                    "UPDATE portal_account SET disabled_at = $2 WHERE patient_id = $1 AND disabled_at IS NULL \
                     AND id = $3 RETURNING id",
                )
                .bind(patient.to_string()).bind(now).bind(a)
                .fetch_all(&mut *c).await?
            }),
        };
        for (id,) in &ids {
            on_tx!(self, c => {
                sqlx::query("UPDATE portal_session SET ended_at = $2 WHERE account_id = $1 AND ended_at IS NULL")
                    .bind(id).bind(now).execute(&mut *c).await?;
            });
        }
        Ok(!ids.is_empty())
    }

    pub async fn set_portal_language(&mut self, account: &str, language: &str) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_account SET language = $2 WHERE id = $1")
                .bind(account).bind(language).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Count a wrong password; lock the account at `max_failures`.
    pub async fn portal_login_failure(
        &mut self,
        account: &str,
        max_failures: i64,
        lock_for_us: i64,
    ) -> Result<Option<i64>> {
        let now = self.now();
        let (locked,): (Option<i64>,) = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE portal_account SET failed_logins = failed_logins + 1, \
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
                 WHERE id = $1 RETURNING locked_until",
            )
            .bind(account).bind(max_failures).bind(now + lock_for_us)
            .fetch_one(&mut *c).await?
        });
        Ok(locked)
    }

    pub async fn portal_login_success(&mut self, account: &str) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_account SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)")
                .bind(account).execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn create_portal_session(
        &mut self,
        token_hash: &str,
        account: &str,
        expires_at: i64,
        mfa_done: bool,
        client_addr: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO portal_session (token_hash, account_id, created_at, last_seen_at, expires_at, mfa_done, client_addr) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6)",
            )
            .bind(token_hash).bind(account).bind(now).bind(expires_at).bind(mfa_done).bind(client_addr)
            .execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Offer a second-factor secret (or withdraw the offer).
    pub async fn set_portal_pending_totp(
        &mut self,
        account: &str,
        secret: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_account SET pending_totp = $2 WHERE id = $1")
                .bind(account).bind(secret).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Set (or with `None` remove) the account's second factor.
    pub async fn set_portal_totp(
        &mut self,
        account: &str,
        secret: Option<&str>,
        step: Option<i64>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_account SET totp_secret = $2, totp_last_step = $3, pending_totp = NULL WHERE id = $1")
                .bind(account).bind(secret).bind(step).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Accept a code's time step once (replay protection): false when this
    /// step or a later one was used already.
    pub async fn accept_portal_totp_step(&mut self, account: &str, step: i64) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE portal_account SET totp_last_step = $2 \
                 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(account).bind(step).execute(&mut *c).await?.rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn touch_portal_session(&mut self, token_hash: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_session SET last_seen_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash).bind(now).execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn end_portal_session(&mut self, token_hash: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("UPDATE portal_session SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL")
                .bind(token_hash).bind(now).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Save a program's portal settings.
    pub async fn set_portal_settings(
        &mut self,
        program: ProgramId,
        s: &PortalSettings,
        by: &str,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program_portal (program_id, show_drug_tests, show_dosing, show_plan, show_rewards, \
                 sows_alert_from, craving_alert_from, mood_alert_at_most, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (program_id) DO UPDATE SET show_drug_tests = EXCLUDED.show_drug_tests, \
                 show_dosing = EXCLUDED.show_dosing, show_plan = EXCLUDED.show_plan, \
                 show_rewards = EXCLUDED.show_rewards, sows_alert_from = EXCLUDED.sows_alert_from, \
                 craving_alert_from = EXCLUDED.craving_alert_from, mood_alert_at_most = EXCLUDED.mood_alert_at_most, \
                 updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
            )
            .bind(program.to_string()).bind(s.show_drug_tests).bind(s.show_dosing).bind(s.show_plan)
            .bind(s.show_rewards).bind(s.sows_alert_from).bind(s.craving_alert_from)
            .bind(s.mood_alert_at_most).bind(now).bind(by)
            .execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Append a patient's self-report.
    pub async fn add_patient_report(&mut self, w: &PatientWrite, r: &NewReport) -> Result<String> {
        w.check(r.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO patient_report (id, patient_id, program_id, sows_items, sows_total, craving, mood, alert, reported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id).bind(r.patient_id.to_string()).bind(r.program_id.to_string())
            .bind(&r.sows_items).bind(r.sows_total).bind(r.craving).bind(r.mood)
            .bind(&r.alert).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("patient_report", id.clone()));
        Ok(id)
    }

    /// A staff member's acknowledgement of an alerting report, once
    /// (`Conflict("patient_report_ack_pkey")` after the first).
    pub async fn ack_patient_report(
        &mut self,
        w: &PatientWrite,
        patient: PatientId,
        report: &str,
        by: UserId,
        by_name: &str,
        note: &str,
    ) -> Result<()> {
        w.check(patient)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO patient_report_ack (report_id, by_user, by_name, note, at_us) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(report).bind(by.to_string()).bind(by_name).bind(note).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("patient_report_ack_pkey"))?;
        });
        self.touched
            .push(("patient_report_ack", report.to_string()));
        Ok(())
    }
}

impl crate::Store {
    pub async fn portal_account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<PortalAccount>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM portal_account WHERE username = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(c).await?
        }))
    }

    /// The patient's own account (not a family member's).
    pub async fn portal_account_of(&self, patient: PatientId) -> Result<Option<PortalAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLS} FROM portal_account WHERE patient_id = $1 AND consent_id IS NULL"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_optional(c).await?
        }))
    }

    /// Family members' accounts for a patient, oldest first.
    pub async fn family_accounts(&self, patient: PatientId) -> Result<Vec<PortalAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLS} FROM portal_account WHERE patient_id = $1 AND consent_id IS NOT NULL \
             ORDER BY created_at, id"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    pub async fn portal_account(&self, id: &str) -> Result<Option<PortalAccount>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM portal_account WHERE id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
        }))
    }

    /// A session and its account.
    pub async fn portal_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<(PortalSession, PortalAccount)>> {
        let s: Option<PortalSession> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT token_hash, account_id, created_at, last_seen_at, expires_at, mfa_done, ended_at \
                 FROM portal_session WHERE token_hash = $1",
            )
            .bind(token_hash).fetch_optional(c).await?
        });
        let Some(s) = s else { return Ok(None) };
        let sql = format!("SELECT {ACCOUNT_COLS} FROM portal_account WHERE id = $1");
        let a: Option<PortalAccount> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&s.account_id).fetch_optional(c).await?
        });
        Ok(a.map(|a| (s, a)))
    }

    /// A patient's invitations, newest first.
    pub async fn portal_invites(&self, patient: PatientId) -> Result<Vec<PortalInvite>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, patient_id, created_by_name, created_at, expires_at, used_at, recipient \
                 FROM portal_invite WHERE patient_id = $1 ORDER BY created_at DESC",
            )
            .bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// The program's portal settings, if it saved any.
    pub async fn portal_settings(&self, program: ProgramId) -> Result<Option<PortalSettings>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT show_drug_tests, show_dosing, show_plan, show_rewards, sows_alert_from, \
                 craving_alert_from, mood_alert_at_most FROM program_portal WHERE program_id = $1",
            )
            .bind(program.to_string()).fetch_optional(c).await?
        }))
    }

    /// A patient's self-reports, newest first.
    pub async fn patient_reports(&self, patient: PatientId, limit: i64) -> Result<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLS} FROM {REPORT_FROM} WHERE r.patient_id = $1 \
             ORDER BY r.reported_at DESC, r.id DESC LIMIT $2"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(limit).fetch_all(c).await?
        }))
    }

    /// A program's alerting self-reports since `since` that nobody has
    /// acknowledged yet (the worklist), oldest first.
    pub async fn unacknowledged_reports(
        &self,
        program: ProgramId,
        since: i64,
    ) -> Result<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLS} FROM {REPORT_FROM} WHERE r.program_id = $1 AND r.reported_at >= $2 \
             AND r.alert <> '' AND a.report_id IS NULL ORDER BY r.reported_at, r.id"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(since).fetch_all(c).await?
        }))
    }

    pub async fn patient_report(&self, id: &str) -> Result<Option<Report>> {
        let sql = format!("SELECT {REPORT_COLS} FROM {REPORT_FROM} WHERE r.id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
        }))
    }
}
