//! The director's dashboards: month-by-month aggregates of one program,
//! computed by the database (grouped counts and sums over indexed ranges;
//! a sum of BIGINT is cast back to BIGINT, PostgreSQL widening it to NUMERIC),
//! never by loading the rows. Months are given by the caller as labelled
//! `[lo, hi)` ranges of microseconds in the program's time zone, or as
//! clinic-day strings for the tables keyed by clinic day. Counts only: no
//! patient identifier leaves these queries.

use crate::{Backend, Result, Store};
use carepath_domain::ids::ProgramId;
use std::collections::BTreeMap;

/// One month of the calendar, in the program's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRange {
    /// `2026-11`.
    pub label: String,
    /// First microsecond of the month.
    pub lo: i64,
    /// First microsecond of the next month.
    pub hi: i64,
}

/// Doses of one month (by clinic day).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DoseMonth {
    /// Every dose recorded (observed, take-home, exception, back entry).
    pub doses: i64,
    pub take_home: i64,
    /// Patients dosed at least once.
    pub patients: i64,
    /// Patient-days covered by a daily medication's dose (or bottle), on
    /// clinic days up to `covered_to` that are not closure days.
    pub covered_days: i64,
}

/// Drug tests of one month (by collection time).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestMonth {
    pub collected: i64,
    pub refused: i64,
    /// Collected, not refused, no result yet.
    pub pending: i64,
    /// Every result in, none positive for a substance other than the
    /// treatment medications.
    pub negative: i64,
}

/// Incentives of one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CmMonth {
    pub earned_cents: i64,
    /// Rewards handed over (redemptions fulfilled) in the month.
    pub redeemed_cents: i64,
}

/// Overdoses and naloxone kits of one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SafetyMonth {
    pub overdoses: i64,
    pub overdose_deaths: i64,
    /// Kits handed out (sum of quantities).
    pub naloxone_kits: i64,
}

/// Aftercare follow-up calls due in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowupMonth {
    pub due: i64,
    /// With an outcome recorded (reached or not).
    pub called: i64,
    pub reached: i64,
}

/// One admission and how it began: when the person first asked for a call
/// back (a request staff registered them from), and the first dose after.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdmissionTiming {
    pub admitted_at: i64,
    pub first_call_at: Option<i64>,
    pub first_dose_at: Option<i64>,
}

/// A daily medication order's span (injections excluded: they are not
/// due every day). `until` is the successor's first day when superseded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderSpan {
    pub patient_id: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub successor_starts_on: Option<String>,
}

/// `WITH m(label, lo, hi) AS (VALUES ($k, $k+1, $k+2), …)` for `months`,
/// placeholders numbered from `first`.
pub fn months_cte(first: usize, n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let k = first + 3 * i;
            format!("(${k}, ${}, ${})", k + 1, k + 2)
        })
        .collect();
    format!("WITH m(label, lo, hi) AS (VALUES {})", rows.join(", "))
}

/// Bind the program, then each month's label and range.
macro_rules! bind_months {
    ($q:expr, $program:expr, $months:expr) => {{
        let mut q = $q.bind($program.to_string());
        for m in $months {
            q = q.bind(m.label.clone()).bind(m.lo).bind(m.hi);
        }
        q
    }};
}

/// The analytes of the treatment medications themselves: present by design
/// in a patient taking them, so never what makes a test "positive" here
/// (ASAM, Appropriate Use of Drug Testing in Clinical Addiction Medicine,
/// 2017: the prescribed medication is tested to confirm adherence, not
/// counted as use).
pub const MEDICATION_ANALYTES: &[&str] =
    &["methadone", "eddp", "buprenorphine", "norbuprenorphine"];

/// The dashboard's aggregates, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Drug tests from their results (the reference).
    Tests,
    /// Drug tests from the `drug_test_reading` rollup.
    TestReadings,
    CmEarned,
    CmRedeemed,
    Overdoses,
    Kits,
    /// Reads JSON, which each engine does its own way.
    Followups(Engine),
    Admissions,
}

/// An SQL engine the aggregates are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    /// DuckDB, for the benchmark's comparison.
    DuckDb,
}

/// The SQL of each month-by-month aggregate, for `months` months: `$1` is
/// the program, then each month's label, start and end (`months_cte`).
/// Public so that the dashboard benchmark can hand the very same
/// statements to another engine. `Followups` takes the time "now" last;
/// `Admissions` takes the program and an admission range.
pub fn sql_text(which: Aggregate, months: usize) -> String {
    let cte = months_cte(2, months);
    match which {
        Aggregate::Tests => {
            let meds = MEDICATION_ANALYTES
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{cte} SELECT m.label, COUNT(*), \
                   COALESCE(SUM(CASE WHEN t.refused THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN NOT t.refused AND NOT EXISTS (SELECT 1 FROM drug_test_result a WHERE a.test_id = t.id) THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN NOT t.refused \
                     AND EXISTS (SELECT 1 FROM drug_test_result a WHERE a.test_id = t.id) \
                     AND NOT EXISTS (SELECT 1 FROM drug_test_result r WHERE r.test_id = t.id \
                       AND r.outcome = 'positive' AND r.analyte NOT IN ({meds}) \
                       AND NOT EXISTS (SELECT 1 FROM drug_test_result s WHERE s.test_id = t.id \
                         AND s.analyte = r.analyte AND s.id <> r.id \
                         AND ((s.method = 'confirmation' AND r.method = 'screen') \
                           OR (s.method = r.method AND s.recorded_at > r.recorded_at)))) \
                     THEN 1 ELSE 0 END), 0) \
                 FROM m JOIN drug_test t ON t.program_id = $1 AND t.collected_at >= m.lo AND t.collected_at < m.hi \
                 GROUP BY m.label ORDER BY m.label"
            )
        }
        Aggregate::TestReadings => format!(
            "{cte} SELECT m.label, COUNT(*), \
               COALESCE(SUM(CASE WHEN t.refused THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN NOT t.refused AND t.results = 0 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN NOT t.refused AND t.results > 0 AND t.positives = 0 THEN 1 ELSE 0 END), 0) \
             FROM m JOIN drug_test_reading t ON t.program_id = $1 AND t.collected_at >= m.lo AND t.collected_at < m.hi \
             GROUP BY m.label ORDER BY m.label"
        ),
        Aggregate::CmEarned => format!(
            "{cte} SELECT m.label, CAST(COALESCE(SUM(e.amount_cents), 0) AS BIGINT) FROM m JOIN cm_earning e \
               ON e.funding_id IN (SELECT id FROM cm_funding WHERE program_id = $1) \
              AND e.earned_at >= m.lo AND e.earned_at < m.hi GROUP BY m.label ORDER BY m.label"
        ),
        Aggregate::CmRedeemed => format!(
            "{cte} SELECT m.label, CAST(COALESCE(SUM(r.cost_cents), 0) AS BIGINT) FROM m \
               JOIN cm_redemption_outcome o ON o.outcome = 'fulfilled' AND o.at_us >= m.lo AND o.at_us < m.hi \
               JOIN cm_redemption r ON r.id = o.redemption_id AND r.program_id = $1 \
             GROUP BY m.label ORDER BY m.label"
        ),
        Aggregate::Overdoses => format!(
            "{cte} SELECT m.label, COUNT(*), COALESCE(SUM(CASE WHEN o.outcome = 'died' THEN 1 ELSE 0 END), 0) \
             FROM m JOIN overdose_event o ON o.program_id = $1 AND o.occurred_at >= m.lo AND o.occurred_at < m.hi \
             GROUP BY m.label ORDER BY m.label"
        ),
        Aggregate::Kits => format!(
            "{cte} SELECT m.label, CAST(COALESCE(SUM(k.quantity), 0) AS BIGINT) \
             FROM m JOIN naloxone_kit k ON k.program_id = $1 AND k.handed_at >= m.lo AND k.handed_at < m.hi \
             GROUP BY m.label ORDER BY m.label"
        ),
        Aggregate::Followups(engine) => {
            let reached = match engine {
                Engine::Sqlite => "json_extract(o.body, '$.reached') = 1",
                Engine::Postgres => "(o.body::jsonb ->> 'reached') = 'true'",
                Engine::DuckDb => "json_extract_string(o.body, '$.reached') = 'true'",
            };
            let n = 2 + 3 * months;
            format!(
                "{cte} SELECT m.label, COUNT(*), COUNT(o.id), \
                   COALESCE(SUM(CASE WHEN {reached} THEN 1 ELSE 0 END), 0) \
                 FROM m JOIN clinical_record f ON f.program_id = $1 AND f.kind = 'followup' \
                   AND f.amends IS NULL AND f.due_at >= m.lo AND f.due_at < m.hi AND f.due_at <= ${n} \
                 LEFT JOIN clinical_record o ON o.ref_id = f.id AND o.kind = 'followup_outcome' \
                 GROUP BY m.label ORDER BY m.label"
            )
        }
        // $1 program, $2..$3 the admission range.
        Aggregate::Admissions => "SELECT e.admitted_at, \
               (SELECT MIN(r.created_at) FROM referral r WHERE r.patient_id = e.patient_id \
                  AND r.program_id = e.program_id AND r.created_at <= e.admitted_at) AS first_call_at, \
               (SELECT d.given_at FROM dose d WHERE d.patient_id = e.patient_id \
                  AND d.program_id = e.program_id AND d.given_at >= e.admitted_at \
                  ORDER BY d.clinic_day, d.slot LIMIT 1) AS first_dose_at \
             FROM episode e WHERE e.program_id = $1 AND e.admitted_at >= $2 AND e.admitted_at < $3 \
             ORDER BY e.admitted_at"
            .to_string(),
    }
}

impl Store {
    /// Doses by month of clinic day, from `from` to the end of the month of
    /// `to` (bottles dated later this month count in it); patient-days
    /// covered only up to `covered_to` (the day before today: today is not
    /// over), closure days left out. Read from the `dose_month` rollup, less
    /// what the rollup cannot leave out: covered days on closure days and
    /// after `covered_to` (a few days' rows, read directly).
    pub async fn dashboard_doses(
        &self,
        program: ProgramId,
        from: &str,
        to: &str,
        covered_to: &str,
    ) -> Result<BTreeMap<String, DoseMonth>> {
        let rows: Vec<(String, i64, i64, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT month, CAST(SUM(doses) AS BIGINT), CAST(SUM(take_home) AS BIGINT), COUNT(*), \
                   CAST(SUM(daily_days) AS BIGINT) \
                 FROM dose_month WHERE program_id = $1 AND month >= $2 AND month <= $3 GROUP BY month",
            )
            .bind(program.to_string())
            .bind(month_of(from))
            .bind(month_of(to))
            .fetch_all(c)
            .await?
        });
        let not_covered: Vec<(String, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT substr(clinic_day, 1, 7), COUNT(*) FROM ( \
                   SELECT DISTINCT d.patient_id, d.clinic_day FROM dose d \
                     JOIN med_product p ON p.id = d.product_id AND p.form <> 'injection_xr' \
                   WHERE d.program_id = $1 AND d.clinic_day > $3 AND d.clinic_day <= $4 \
                   UNION ALL \
                   SELECT DISTINCT d.patient_id, d.clinic_day FROM clinic_closure k \
                     JOIN dose d ON d.program_id = k.program_id AND d.clinic_day = k.day \
                     JOIN med_product p ON p.id = d.product_id AND p.form <> 'injection_xr' \
                   WHERE k.program_id = $1 AND k.day >= $2 AND k.day <= $3 \
                 ) x GROUP BY substr(clinic_day, 1, 7)",
            )
            .bind(program.to_string())
            .bind(from)
            .bind(covered_to)
            .bind(format!("{}-31", month_of(to)))
            .fetch_all(c)
            .await?
        });
        let mut out: BTreeMap<String, DoseMonth> = BTreeMap::new();
        for (m, doses, take_home, patients, daily) in rows {
            out.insert(
                m,
                DoseMonth {
                    doses,
                    take_home,
                    patients,
                    covered_days: daily,
                },
            );
        }
        for (m, n) in not_covered {
            let e = out.entry(m).or_default();
            e.covered_days = (e.covered_days - n).max(0);
        }
        Ok(out)
    }

    /// The same as [`Store::dashboard_doses`], counted from the dose rows
    /// themselves: the reference the rollup is held to (tests, benchmark).
    pub async fn dashboard_doses_from_rows(
        &self,
        program: ProgramId,
        from: &str,
        to: &str,
        covered_to: &str,
    ) -> Result<BTreeMap<String, DoseMonth>> {
        let to = format!("{}-31", month_of(to));
        let counts: Vec<(String, i64, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT substr(clinic_day, 1, 7), COUNT(*), \
                   COALESCE(SUM(CASE WHEN kind = 'take_home' THEN 1 ELSE 0 END), 0), \
                   COUNT(DISTINCT patient_id) \
                 FROM dose WHERE program_id = $1 AND clinic_day >= $2 AND clinic_day <= $3 \
                 GROUP BY substr(clinic_day, 1, 7)",
            )
            .bind(program.to_string())
            .bind(from)
            .bind(&to)
            .fetch_all(c)
            .await?
        });
        let covered: Vec<(String, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT substr(clinic_day, 1, 7), COUNT(*) FROM ( \
                   SELECT DISTINCT patient_id, clinic_day FROM dose \
                   WHERE program_id = $1 AND clinic_day >= $2 AND clinic_day <= $3 \
                     AND product_id IN (SELECT id FROM med_product WHERE program_id = $1 AND form <> 'injection_xr') \
                     AND clinic_day NOT IN (SELECT day FROM clinic_closure WHERE program_id = $1) \
                 ) x GROUP BY substr(clinic_day, 1, 7)",
            )
            .bind(program.to_string())
            .bind(from)
            .bind(covered_to)
            .fetch_all(c)
            .await?
        });
        let mut out: BTreeMap<String, DoseMonth> = BTreeMap::new();
        for (m, doses, take_home, patients) in counts {
            let e = out.entry(m).or_default();
            e.doses = doses;
            e.take_home = take_home;
            e.patients = patients;
        }
        for (m, n) in covered {
            out.entry(m).or_default().covered_days = n;
        }
        Ok(out)
    }

    /// The program's daily medication orders in force at any time on or
    /// after `from` (a clinic day).
    pub async fn dashboard_order_spans(
        &self,
        program: ProgramId,
        from: &str,
    ) -> Result<Vec<OrderSpan>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT o.patient_id, o.starts_on, o.ends_on, \
                   (SELECT n.starts_on FROM med_order n WHERE n.supersedes = o.id) AS successor_starts_on \
                 FROM med_order o \
                 WHERE o.program_id = $1 AND o.form <> 'injection_xr' \
                   AND (o.ends_on IS NULL OR o.ends_on >= $2) \
                 ORDER BY o.patient_id, o.starts_on",
            )
            .bind(program.to_string())
            .bind(from)
            .fetch_all(c)
            .await?
        }))
    }

    /// Drug tests by month of collection. A result is superseded by a
    /// confirmation of the same analyte, or by a later result of the same
    /// method (a correction); a test is negative when it has results and
    /// none still standing is positive for a substance of misuse.
    ///
    /// Read from the `drug_test_reading` rollup (one row per test).
    pub async fn dashboard_tests(
        &self,
        program: ProgramId,
        months: &[MonthRange],
    ) -> Result<BTreeMap<String, TestMonth>> {
        self.tests_by(Aggregate::TestReadings, program, months)
            .await
    }

    /// The same as [`Store::dashboard_tests`], from the results themselves:
    /// the reference the rollup is held to (tests, benchmark).
    pub async fn dashboard_tests_from_rows(
        &self,
        program: ProgramId,
        months: &[MonthRange],
    ) -> Result<BTreeMap<String, TestMonth>> {
        self.tests_by(Aggregate::Tests, program, months).await
    }

    async fn tests_by(
        &self,
        which: Aggregate,
        program: ProgramId,
        months: &[MonthRange],
    ) -> Result<BTreeMap<String, TestMonth>> {
        if months.is_empty() {
            return Ok(BTreeMap::new());
        }
        let sql = sql_text(which, months.len());
        let rows: Vec<(String, i64, i64, i64, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), program, months)
                .fetch_all(c)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(m, collected, refused, pending, negative)| {
                (
                    m,
                    TestMonth {
                        collected,
                        refused,
                        pending,
                        negative,
                    },
                )
            })
            .collect())
    }

    /// Incentives earned and rewards handed over, by month; and the
    /// program's annual incentive budget (all funding sources).
    pub async fn dashboard_cm(
        &self,
        program: ProgramId,
        months: &[MonthRange],
    ) -> Result<(BTreeMap<String, CmMonth>, i64)> {
        let (budget,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT CAST(COALESCE(SUM(annual_budget_cents), 0) AS BIGINT) FROM cm_funding WHERE program_id = $1")
                .bind(program.to_string())
                .fetch_one(c)
                .await?
        });
        if months.is_empty() {
            return Ok((BTreeMap::new(), budget));
        }
        let earned_sql = sql_text(Aggregate::CmEarned, months.len());
        let redeemed_sql = sql_text(Aggregate::CmRedeemed, months.len());
        let earned: Vec<(String, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(earned_sql)), program, months)
                .fetch_all(c)
                .await?
        });
        let redeemed: Vec<(String, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(redeemed_sql)), program, months)
                .fetch_all(c)
                .await?
        });
        let mut out: BTreeMap<String, CmMonth> = BTreeMap::new();
        for (m, n) in earned {
            out.entry(m).or_default().earned_cents = n;
        }
        for (m, n) in redeemed {
            out.entry(m).or_default().redeemed_cents = n;
        }
        Ok((out, budget))
    }

    /// Overdose events (and deaths) and naloxone kits handed out, by month.
    pub async fn dashboard_safety(
        &self,
        program: ProgramId,
        months: &[MonthRange],
    ) -> Result<BTreeMap<String, SafetyMonth>> {
        if months.is_empty() {
            return Ok(BTreeMap::new());
        }
        let od_sql = sql_text(Aggregate::Overdoses, months.len());
        let kit_sql = sql_text(Aggregate::Kits, months.len());
        let od: Vec<(String, i64, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(od_sql)), program, months)
                .fetch_all(c)
                .await?
        });
        let kits: Vec<(String, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(kit_sql)), program, months)
                .fetch_all(c)
                .await?
        });
        let mut out: BTreeMap<String, SafetyMonth> = BTreeMap::new();
        for (m, n, died) in od {
            let e = out.entry(m).or_default();
            e.overdoses = n;
            e.overdose_deaths = died;
        }
        for (m, n) in kits {
            out.entry(m).or_default().naloxone_kits = n;
        }
        Ok(out)
    }

    /// Aftercare follow-up calls by month they fell due (up to `now`):
    /// due, called (an outcome recorded), reached.
    pub async fn dashboard_followups(
        &self,
        program: ProgramId,
        months: &[MonthRange],
        now: i64,
    ) -> Result<BTreeMap<String, FollowupMonth>> {
        if months.is_empty() {
            return Ok(BTreeMap::new());
        }
        let engine = match self.backend() {
            Backend::Sqlite => Engine::Sqlite,
            Backend::Postgres => Engine::Postgres,
        };
        let sql = sql_text(Aggregate::Followups(engine), months.len());
        let rows: Vec<(String, i64, i64, i64)> = with_reader!(self, c => {
            bind_months!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), program, months)
                .bind(now)
                .fetch_all(c)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(m, due, called, reached)| {
                (
                    m,
                    FollowupMonth {
                        due,
                        called,
                        reached,
                    },
                )
            })
            .collect())
    }

    /// Admissions to the program in `[lo, hi)`: when each began, the first
    /// call-back request the patient was registered from (before the
    /// admission), and the first dose in the program from the admission on.
    pub async fn dashboard_admissions(
        &self,
        program: ProgramId,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<AdmissionTiming>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql_text(Aggregate::Admissions, 0)))
            .bind(program.to_string())
            .bind(lo)
            .bind(hi)
            .fetch_all(c)
            .await?
        }))
    }
}

/// `2026-11` of `2026-11-30`.
fn month_of(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollup_triggers_read_the_same_medication_list() {
        let list = MEDICATION_ANALYTES
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", ");
        for m in [
            include_str!("../migrations/sqlite/0018_dashboards.sql"),
            include_str!("../migrations/postgres/0018_dashboards.sql"),
        ] {
            assert_eq!(m.matches(&format!("NOT IN ({list})")).count(), 2);
        }
    }

    #[test]
    fn months_cte_numbers_placeholders_in_order() {
        assert_eq!(
            months_cte(2, 2),
            "WITH m(label, lo, hi) AS (VALUES ($2, $3, $4), ($5, $6, $7))"
        );
    }
}
