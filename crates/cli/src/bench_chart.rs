//! `carepath bench chart`: how the clinical record holds up as it grows. A
//! seeded withdrawal unit (patients with COWS series, signed notes and plans,
//! scheduled follow-ups) on a throwaway database; measured: loading one
//! patient's whole record (the chart's query), the chart page and the
//! worklist over HTTP on loopback. Results belong in BENCHMARKS.md.

use crate::bench::pct;
use anyhow::Result;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_domain::ids::PatientId;
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_store::programs::NewProgram;
use carepath_store::{Author, NewRecord, NewSignature, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ChartArgs {
    /// Patients in care on the unit.
    #[arg(long, default_value_t = 1_000)]
    pub patients: usize,
    /// COWS entries per patient.
    #[arg(long, default_value_t = 40)]
    pub checks: usize,
    /// Signed notes per patient.
    #[arg(long, default_value_t = 10)]
    pub notes: usize,
    /// Samples per measurement.
    #[arg(long, default_value_t = 300)]
    pub samples: usize,
    /// A PostgreSQL server URL: run the same on a fresh database there too.
    #[arg(long)]
    pub postgres: Option<String>,
}

const PW: &str = "bench-password-2026";
const HOUR: i64 = 3_600_000_000;

fn ev(a: &str) -> NewEvent {
    NewEvent::new(a, Outcome::Success)
}

fn fmt(d: Duration) -> String {
    if d.as_micros() < 1000 {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

async fn seed(store: &Store, a: &ChartArgs) -> Result<(Vec<PatientId>, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_122);
    let org = store.create_organization("Bench", ev("o")).await?;
    let prog = store
        .create_program(
            org.id,
            &NewProgram {
                name: "Bench Detox".into(),
                kind: ProgramKind::WithdrawalManagement,
                address: "x".into(),
                timezone: "America/New_York".into(),
                hours: "x".into(),
            },
            ev("p"),
        )
        .await?;
    let hash = carepath_web::auth::hash_password(PW.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let nurse = store
        .create_user("bench.nurse", "Bench Nurse", &hash, ev("u"))
        .await?;
    store
        .grant_role(nurse.id, prog.id, Role::Nurse, None, ev("g"))
        .await?;
    let author = Author {
        id: nurse.id,
        name: "Bench Nurse".into(),
        role: "nurse".into(),
    };
    let now = carepath_store::now_us();
    let mut ids = vec![];
    let mut n = 0;
    for i in 0..a.patients {
        let d = Demographics {
            legal_first_name: format!("Pat{i}"),
            legal_last_name: "Bench".into(),
            preferred_name: None,
            date_of_birth: jiff::civil::date(
                1980 + (i % 20) as i16,
                1 + (i % 12) as i8,
                1 + (i % 28) as i8,
            ),
            sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
        };
        let p = store
            .create_patient(
                prog.id,
                &d,
                &mrn_from_serial(500_000 + i as u32),
                None,
                ev("x"),
            )
            .await?;
        let admitted = now - a.checks as i64 * 4 * HOUR - HOUR;
        let e = store
            .admit(
                p.id,
                prog.id,
                "withdrawal_management",
                admitted,
                None,
                ev("a"),
            )
            .await?;
        let rec = |kind: &str, body: serde_json::Value, at: i64| {
            let mut r = NewRecord::new(
                p.id,
                prog.id,
                kind,
                body,
                format!("{kind} entry"),
                at,
                author.clone(),
            );
            r.episode_id = Some(e);
            r.due_at = Some(at + 4 * HOUR);
            r
        };
        let mut batch = vec![];
        for k in 0..a.checks {
            let total: u8 = rng.random_range(2..30);
            batch.push(rec(
                "cows",
                json!({"scale": "cows", "score": {"total": total, "band": "moderate", "band_label": "moderate"}, "vitals": {"hr": 90}}),
                admitted + k as i64 * 4 * HOUR,
            ));
        }
        for k in 0..a.notes {
            batch.push(rec(
                "note",
                json!({"template": "DAP", "service": "individual", "sections": {"data": "d", "assessment": "a", "plan": "p"}}),
                admitted + k as i64 * 12 * HOUR,
            ));
        }
        let rids = store
            .append_records_at(&batch, now, ev("bench.seed"))
            .await?;
        for rid in rids.iter().skip(a.checks) {
            store
                .sign_record(
                    rid,
                    &NewSignature {
                        kind: "author",
                        signer_id: Some(nurse.id),
                        signer_name: "Bench Nurse".into(),
                        signer_role: "nurse".into(),
                        method: "credential",
                        drawing: None,
                    },
                    ev("bench.sign"),
                )
                .await?;
        }
        n += batch.len();
        ids.push(p.id);
    }
    Ok((ids, n))
}

async fn one(store: &Store, a: &ChartArgs, label: &str) -> Result<()> {
    let t = Instant::now();
    let (ids, records) = seed(store, a).await?;
    println!(
        "{label}: seeded {} patients, {records} records in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // 1. The chart's query: every version of every record with signatures.
    let mut times = vec![];
    for _ in 0..a.samples {
        let p = ids[rng.random_range(0..ids.len())];
        let t = Instant::now();
        let r = store.patient_records(p, &[]).await?;
        times.push(t.elapsed());
        assert_eq!(r.len(), a.checks + a.notes);
    }
    times.sort();
    println!(
        "{label}: load one patient's record ({} entries): p50 {}, p99 {}",
        a.checks + a.notes,
        fmt(pct(&times, 0.5)),
        fmt(pct(&times, 0.99))
    );
    // 2. Pages over HTTP, one request at a time (a nurse's view).
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(
        store.clone(),
        Default::default(),
    ))
    .await?;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for _ in 0..100 {
        if c.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", "bench.nurse"), ("password", PW)])
        .send()
        .await?;
    anyhow::ensure!(r.status().is_redirection(), "login failed: {}", r.status());
    let pages = a.samples.min(200);
    let mut chart = vec![];
    for _ in 0..pages {
        let p = ids[rng.random_range(0..ids.len())];
        let t = Instant::now();
        let r = c.get(format!("{base}/patients/{p}")).send().await?;
        anyhow::ensure!(r.status().is_success(), "chart {}", r.status());
        let _ = r.bytes().await?;
        chart.push(t.elapsed());
    }
    chart.sort();
    println!(
        "{label}: GET /patients/{{id}} (chart with flowsheet and notes): p50 {}, p99 {}",
        fmt(pct(&chart, 0.5)),
        fmt(pct(&chart, 0.99))
    );
    let mut wl = vec![];
    for _ in 0..pages.min(40) {
        let t = Instant::now();
        let r = c.get(format!("{base}/worklist")).send().await?;
        anyhow::ensure!(r.status().is_success(), "worklist {}", r.status());
        let _ = r.bytes().await?;
        wl.push(t.elapsed());
    }
    wl.sort();
    println!(
        "{label}: GET /worklist ({} patients due a COWS check): p50 {}, p99 {}",
        ids.len(),
        fmt(pct(&wl, 0.5)),
        fmt(pct(&wl, 0.99))
    );
    Ok(())
}

pub async fn chart(a: &ChartArgs) -> Result<()> {
    // Throwaway databases (dropped at the end): an SQLite file, and a fresh
    // database on the PostgreSQL server if one is named.
    let sqlite = carepath_store::testing::TestDb::sqlite().await;
    one(&sqlite.store, a, "SQLite").await?;
    if let Some(pg) = &a.postgres {
        let db = carepath_store::testing::TestDb::postgres_at(pg).await?;
        one(&db.store, a, "PostgreSQL").await?;
    }
    Ok(())
}
