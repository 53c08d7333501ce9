//! Drug testing: collections, results per analyte, prescribers' reviews,
//! random test days, the program's testing policy, and the HL7 v2 lab
//! messages with their reconciliation queue. Everything but the policy is
//! append-only.

use crate::{PatientWrite, Result, Src, StoreError, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DrugTest {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub collected_at: i64,
    /// urine or oral_fluid.
    pub specimen: String,
    pub observed: bool,
    /// Urine temperature read within four minutes in range; `None` when not
    /// read (oral fluid, or a laboratory report).
    pub temperature_in_range: Option<bool>,
    pub refused: bool,
    pub random: bool,
    /// Chain-of-custody / accession number on the label.
    pub specimen_id: Option<String>,
    pub note: Option<String>,
    pub lab_message_id: Option<String>,
    pub by_name: String,
    pub recorded_at: i64,
}

pub struct NewDrugTest {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub collected_at: i64,
    pub specimen: String,
    pub observed: bool,
    pub temperature_in_range: Option<bool>,
    pub refused: bool,
    pub random: bool,
    pub specimen_id: Option<String>,
    pub note: Option<String>,
    pub lab_message_id: Option<String>,
    /// `None` for the laboratory interface.
    pub by: Option<UserId>,
    pub by_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TestResult {
    pub id: String,
    pub test_id: String,
    pub analyte: String,
    pub loinc: String,
    /// screen or confirmation.
    pub method: String,
    /// point_of_care or laboratory.
    pub source: String,
    /// positive, negative or inconclusive.
    pub outcome: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub cutoff: Option<String>,
    /// preliminary, final or corrected.
    pub status: String,
    pub lab_message_id: Option<String>,
    pub resulted_at: i64,
    pub recorded_at: i64,
    pub by_name: String,
}

pub struct NewResult {
    pub analyte: String,
    pub loinc: String,
    pub method: String,
    pub source: String,
    pub outcome: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub cutoff: Option<String>,
    pub status: String,
    pub lab_message_id: Option<String>,
    pub resulted_at: i64,
    pub by_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Review {
    pub id: String,
    pub test_id: String,
    pub results_seen: i64,
    pub note: String,
    pub by_name: String,
    pub reviewed_at: i64,
}

/// A program's random-testing policy as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TestingPolicy {
    pub early_days: i64,
    pub early_per_block: i64,
    pub per_block: i64,
    pub min_per_year: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RandomDay {
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub admitted_on: String,
    pub block: i64,
    pub test_day: String,
}

/// One HL7 v2 message as received, with the answer given.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct LabMessage {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub received_at: i64,
    pub channel: String,
    pub sender: String,
    pub control_id: String,
    pub message_type: String,
    #[serde(skip)]
    pub raw: String,
    pub ack_code: String,
    pub status: String,
    pub error: Option<String>,
    pub patient_id: Option<String>,
    pub received_by: String,
    /// Set once staff matched an unmatched message.
    pub matched_patient_id: Option<String>,
    pub matched_by_name: Option<String>,
    pub matched_at: Option<i64>,
}

pub struct NewLabMessage {
    pub program_id: ProgramId,
    pub channel: String,
    pub sender: String,
    pub control_id: String,
    pub message_type: String,
    pub raw: String,
    pub ack_code: String,
    pub status: String,
    pub error: Option<String>,
    pub patient_id: Option<PatientId>,
    pub received_by: String,
}

const TEST_COLS: &str = "id, patient_id, program_id, collected_at, specimen, observed, temperature_in_range, refused, random, \
     specimen_id, note, lab_message_id, by_name, recorded_at";
const RESULT_COLS: &str = "r.id, r.test_id, r.analyte, r.loinc, r.method, r.source, r.outcome, r.value, r.unit, r.cutoff, r.status, \
     r.lab_message_id, r.resulted_at, r.recorded_at, r.by_name";
const MSG_COLS: &str = "m.id, m.program_id, m.received_at, m.channel, m.sender, m.control_id, m.message_type, m.raw, m.ack_code, \
     m.status, m.error, m.patient_id, m.received_by, x.patient_id AS matched_patient_id, x.by_name AS matched_by_name, \
     x.matched_at";

impl Tx {
    /// Record a collection (or a refusal) for the opened patient
    /// (`Conflict("drug_test_specimen")` when the program already has the
    /// specimen id).
    pub async fn add_drug_test(&mut self, w: &PatientWrite, t: &NewDrugTest) -> Result<String> {
        w.check(t.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO drug_test (id, patient_id, program_id, collected_at, specimen, observed, temperature_in_range, \
                 refused, random, specimen_id, note, lab_message_id, by_user, by_name, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&id).bind(t.patient_id.to_string()).bind(t.program_id.to_string()).bind(t.collected_at)
            .bind(&t.specimen).bind(t.observed).bind(t.temperature_in_range).bind(t.refused).bind(t.random)
            .bind(&t.specimen_id).bind(&t.note).bind(&t.lab_message_id).bind(t.by.map(|u| u.to_string()))
            .bind(&t.by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("drug_test_specimen"))?;
        });
        self.touched.push(("drug_test", id.clone()));
        Ok(id)
    }

    /// Add results to a test of the opened patient.
    pub async fn add_results(
        &mut self,
        w: &PatientWrite,
        test: &DrugTest,
        results: &[NewResult],
    ) -> Result<Vec<String>> {
        w.check(test.patient_id)?;
        let now = self.now();
        let mut ids = vec![];
        for r in results {
            let id = uuid::Uuid::now_v7().to_string();
            on_tx!(self, c => {
                sqlx::query(
                    "INSERT INTO drug_test_result (id, test_id, patient_id, analyte, loinc, method, source, outcome, value, unit, \
                     cutoff, status, lab_message_id, resulted_at, recorded_at, by_name) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                )
                .bind(&id).bind(&test.id).bind(test.patient_id.to_string()).bind(&r.analyte).bind(&r.loinc)
                .bind(&r.method).bind(&r.source).bind(&r.outcome).bind(&r.value).bind(&r.unit).bind(&r.cutoff)
                .bind(&r.status).bind(&r.lab_message_id).bind(r.resulted_at).bind(now).bind(&r.by_name)
                .execute(&mut *c).await?;
            });
            self.touched.push(("drug_test_result", id.clone()));
            ids.push(id);
        }
        Ok(ids)
    }

    /// A prescriber's review of a test of the opened patient.
    pub async fn add_review(
        &mut self,
        w: &PatientWrite,
        test: &DrugTest,
        results_seen: i64,
        note: &str,
        by: UserId,
        by_name: &str,
    ) -> Result<String> {
        w.check(test.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO drug_test_review (id, test_id, results_seen, note, by_user, by_name, reviewed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id).bind(&test.id).bind(results_seen).bind(note).bind(by.to_string()).bind(by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("drug_test_review", id.clone()));
        Ok(id)
    }

    /// A test by id, inside the unit of work.
    pub async fn drug_test_in_tx(&mut self, id: &str) -> Result<Option<DrugTest>> {
        drug_test(Src::Tx(self), id).await
    }

    /// A program's test by specimen id, inside the unit of work.
    pub async fn test_by_specimen(
        &mut self,
        program: ProgramId,
        specimen_id: &str,
    ) -> Result<Option<DrugTest>> {
        let sql =
            format!("SELECT {TEST_COLS} FROM drug_test WHERE program_id = $1 AND specimen_id = $2");
        Ok(on_tx!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(specimen_id)
                .fetch_optional(&mut *c).await?
        }))
    }

    /// Store a received message (`Conflict("lab_message_once")` when the
    /// sender's control id was accepted before).
    pub async fn add_lab_message(&mut self, m: &NewLabMessage) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO lab_message (id, program_id, received_at, channel, sender, control_id, message_type, raw, \
                 ack_code, status, error, patient_id, received_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&id).bind(m.program_id.to_string()).bind(now).bind(&m.channel).bind(&m.sender)
            .bind(&m.control_id).bind(&m.message_type).bind(&m.raw).bind(&m.ack_code).bind(&m.status)
            .bind(&m.error).bind(m.patient_id.map(|p| p.to_string())).bind(&m.received_by)
            .execute(&mut *c).await.map_err(conflict_on("lab_message_once"))?;
        });
        self.touched.push(("lab_message", id.clone()));
        Ok(id)
    }

    /// Match an unmatched message to a patient, once
    /// (`Conflict("lab_message_match_pkey")` when matched already).
    pub async fn match_lab_message(
        &mut self,
        w: &PatientWrite,
        message: &str,
        patient: PatientId,
        reason: &str,
        by: UserId,
        by_name: &str,
    ) -> Result<()> {
        w.check(patient)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO lab_message_match (message_id, patient_id, reason, by_user, by_name, matched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(message).bind(patient.to_string()).bind(reason).bind(by.to_string()).bind(by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("lab_message_match_pkey"))?;
        });
        self.touched
            .push(("lab_message_match", message.to_string()));
        Ok(())
    }

    /// Record the random days drawn for a block (a block drawn already by a
    /// concurrent request is left as it was).
    pub async fn add_random_days(
        &mut self,
        patient: PatientId,
        program: ProgramId,
        admitted_on: &str,
        block: i64,
        seed: u64,
        days: &[String],
    ) -> Result<()> {
        let now = self.now();
        for d in days {
            on_tx!(self, c => {
                sqlx::query(
                    "INSERT INTO random_test_day (patient_id, program_id, admitted_on, block, test_day, seed, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(patient.to_string()).bind(program.to_string()).bind(admitted_on).bind(block)
                .bind(d).bind(seed as i64).bind(now)
                .execute(&mut *c).await?;
            });
            self.touched
                .push(("random_test_day", format!("{patient}/{program}/{d}")));
        }
        Ok(())
    }

    /// Save a program's random-testing policy.
    pub async fn set_testing_policy(
        &mut self,
        program: ProgramId,
        p: &TestingPolicy,
        by: UserId,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program_testing (program_id, early_days, early_per_block, per_block, min_per_year, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (program_id) DO UPDATE SET early_days = excluded.early_days, \
                 early_per_block = excluded.early_per_block, per_block = excluded.per_block, \
                 min_per_year = excluded.min_per_year, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(program.to_string()).bind(p.early_days).bind(p.early_per_block).bind(p.per_block)
            .bind(p.min_per_year).bind(now).bind(by.to_string())
            .execute(&mut *c).await?;
        });
        Ok(())
    }
}

async fn drug_test(src: Src<'_>, id: &str) -> Result<Option<DrugTest>> {
    let sql = format!("SELECT {TEST_COLS} FROM drug_test WHERE id = $1");
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
    }))
}

impl crate::Store {
    pub async fn drug_test(&self, id: &str) -> Result<Option<DrugTest>> {
        drug_test(Src::Store(self), id).await
    }

    /// A patient's tests, newest collection first.
    pub async fn drug_tests(&self, patient: PatientId) -> Result<Vec<DrugTest>> {
        let sql = format!(
            "SELECT {TEST_COLS} FROM drug_test WHERE patient_id = $1 ORDER BY collected_at DESC, id DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// Every result of a patient's tests, in the order recorded.
    pub async fn test_results(&self, patient: PatientId) -> Result<Vec<TestResult>> {
        let sql = format!(
            "SELECT {RESULT_COLS} FROM drug_test_result r WHERE r.patient_id = $1 ORDER BY r.recorded_at, r.id"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// A patient's results for one analyte, oldest first (the analyte index).
    pub async fn analyte_results(
        &self,
        patient: PatientId,
        analyte: &str,
    ) -> Result<Vec<TestResult>> {
        let sql = format!(
            "SELECT {RESULT_COLS} FROM drug_test_result r WHERE r.patient_id = $1 AND r.analyte = $2 ORDER BY r.resulted_at, r.id"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(analyte).fetch_all(c).await?
        }))
    }

    pub async fn test_reviews(&self, patient: PatientId) -> Result<Vec<Review>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT v.id, v.test_id, v.results_seen, v.note, v.by_name, v.reviewed_at FROM drug_test_review v \
                 JOIN drug_test t ON t.id = v.test_id WHERE t.patient_id = $1 ORDER BY v.reviewed_at",
            )
            .bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// A program's tests collected from `from_us` on, with their results and
    /// reviews (for the worklist and the program's lists).
    pub async fn program_tests(
        &self,
        program: ProgramId,
        from_us: i64,
    ) -> Result<(Vec<DrugTest>, Vec<TestResult>, Vec<Review>)> {
        let sql = format!(
            "SELECT {TEST_COLS} FROM drug_test WHERE program_id = $1 AND collected_at >= $2 ORDER BY collected_at DESC"
        );
        let rsql = format!(
            "SELECT {RESULT_COLS} FROM drug_test_result r JOIN drug_test t ON t.id = r.test_id \
             WHERE t.program_id = $1 AND t.collected_at >= $2 ORDER BY r.recorded_at, r.id"
        );
        let tests: Vec<DrugTest> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(from_us).fetch_all(c).await?
        });
        let results: Vec<TestResult> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(rsql)).bind(program.to_string()).bind(from_us).fetch_all(c).await?
        });
        let reviews: Vec<Review> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT v.id, v.test_id, v.results_seen, v.note, v.by_name, v.reviewed_at FROM drug_test_review v \
                 JOIN drug_test t ON t.id = v.test_id WHERE t.program_id = $1 AND t.collected_at >= $2 ORDER BY v.reviewed_at",
            )
            .bind(program.to_string()).bind(from_us).fetch_all(c).await?
        });
        Ok((tests, results, reviews))
    }

    pub async fn testing_policy(&self, program: ProgramId) -> Result<Option<TestingPolicy>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT early_days, early_per_block, per_block, min_per_year FROM program_testing WHERE program_id = $1",
            )
            .bind(program.to_string()).fetch_optional(c).await?
        }))
    }

    /// The blocks already drawn for each episode of a program's patients.
    pub async fn random_blocks(&self, program: ProgramId) -> Result<Vec<(String, String, i64)>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT DISTINCT patient_id, admitted_on, block FROM random_test_day WHERE program_id = $1",
            )
            .bind(program.to_string()).fetch_all(c).await?
        }))
    }

    /// Random test days of a program between two days (inclusive).
    pub async fn random_days(
        &self,
        program: ProgramId,
        from: &str,
        to: &str,
    ) -> Result<Vec<RandomDay>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT patient_id, admitted_on, block, test_day FROM random_test_day \
                 WHERE program_id = $1 AND test_day >= $2 AND test_day <= $3 ORDER BY test_day",
            )
            .bind(program.to_string()).bind(from).bind(to).fetch_all(c).await?
        }))
    }

    /// A patient's random days in a program up to `to` (inclusive).
    pub async fn patient_random_days(
        &self,
        patient: PatientId,
        to: &str,
    ) -> Result<Vec<RandomDay>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT patient_id, admitted_on, block, test_day FROM random_test_day \
                 WHERE patient_id = $1 AND test_day <= $2 ORDER BY test_day",
            )
            .bind(patient.to_string()).bind(to).fetch_all(c).await?
        }))
    }

    /// A message accepted before from this sender with this control id.
    pub async fn accepted_lab_message(
        &self,
        program: ProgramId,
        sender: &str,
        control_id: &str,
    ) -> Result<Option<LabMessage>> {
        let sql = format!(
            "SELECT {MSG_COLS} FROM lab_message m LEFT JOIN lab_message_match x ON x.message_id = m.id \
             WHERE m.program_id = $1 AND m.sender = $2 AND m.control_id = $3 AND m.status <> 'rejected'"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(sender).bind(control_id)
                .fetch_optional(c).await?
        }))
    }

    pub async fn lab_message(&self, id: &str) -> Result<LabMessage> {
        let sql = format!(
            "SELECT {MSG_COLS} FROM lab_message m LEFT JOIN lab_message_match x ON x.message_id = m.id WHERE m.id = $1"
        );
        let m: Option<LabMessage> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
        });
        m.ok_or(StoreError::NotFound)
    }

    /// A program's messages, newest first: all of them, or only those
    /// waiting for a match (`unmatched_only`).
    pub async fn lab_messages(
        &self,
        program: ProgramId,
        unmatched_only: bool,
        limit: i64,
    ) -> Result<Vec<LabMessage>> {
        let sql = format!(
            "SELECT {MSG_COLS} FROM lab_message m LEFT JOIN lab_message_match x ON x.message_id = m.id \
             WHERE m.program_id = $1 AND ($2 = 0 OR (m.status = 'unmatched' AND x.message_id IS NULL)) \
             ORDER BY m.received_at DESC LIMIT $3"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(i64::from(unmatched_only))
                .bind(limit).fetch_all(c).await?
        }))
    }
}
