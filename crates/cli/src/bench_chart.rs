//! `carepath bench chart`: how the clinical record holds up as it grows. A
//! seeded withdrawal unit (patients with COWS series and signed notes),
//! written through the application's services on a throwaway database;
//! measured: loading one patient's whole record through the patient scope
//! (the chart's read), the chart page and the worklist over HTTP on
//! loopback. Results belong in BENCHMARKS.md.

use crate::bench::pct;
use crate::scratch::Scratch;
use anyhow::Result;
use carepath_app::clock::{Clock, HOUR_US, ManualClock, SystemClock};
use carepath_app::kinds::Input;
use carepath_app::kinds::flowsheet::{FlowsheetInput, Scale};
use carepath_app::kinds::notes::NoteInput;
use carepath_app::{App, Principal, access, admin, chart, registration};
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::ProgramKind;
use carepath_store::NewProgram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
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

fn fmt(d: Duration) -> String {
    if d.as_micros() < 1000 {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

/// COWS item scores adding up to about `target`.
fn items(target: u8, rng: &mut ChaCha8Rng) -> BTreeMap<String, u16> {
    let mut out = BTreeMap::new();
    let mut left = target as i32;
    for (name, allowed) in carepath_clinical::cows::ITEMS.iter() {
        let v = allowed
            .iter()
            .rev()
            .find(|a| (**a as i32) <= (left / 2).max(if rng.random_bool(0.5) { 1 } else { 0 }))
            .copied()
            .unwrap_or(0);
        left -= v as i32;
        out.insert((*name).to_string(), v as u16);
    }
    out
}

/// The unit, its nurse, and the patients, written through the services.
async fn seed(
    app: &App,
    clock: &ManualClock,
    a: &ChartArgs,
) -> Result<(ProgramId, Vec<PatientId>, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_122);
    let sys = Principal::system("bench");
    let now = clock.now_us();
    let org = admin::create_organization(app, &sys, "Bench").await?;
    let prog = admin::create_program(
        app,
        &sys,
        org.id,
        &NewProgram {
            name: "Bench Detox".into(),
            kind: ProgramKind::WithdrawalManagement,
            address: "x".into(),
            timezone: "America/New_York".into(),
            hours: "x".into(),
        },
    )
    .await?;
    admin::create_user(
        app,
        &sys,
        &admin::NewUser {
            username: "bench.nurse".into(),
            display_name: "Bench Nurse".into(),
            password: PW.into(),
            program_id: prog.id.to_string(),
            role: Role::Nurse.as_str().into(),
        },
    )
    .await?;
    let nurse = admin::user_by_username(app, "bench.nurse")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench.nurse"))?;
    let acting = Principal::system_for("bench", nurse.id, "Bench Nurse", Role::Nurse, prog.id);
    let mut ids = vec![];
    let mut n = 0;
    let admitted = now - a.checks as i64 * 4 * HOUR_US - HOUR_US;
    for i in 0..a.patients {
        clock.set(admitted);
        let p = registration::register(
            app,
            &acting,
            &registration::Registration {
                program_id: prog.id.to_string(),
                legal_first_name: format!("Pat{i}"),
                legal_last_name: "Bench".into(),
                date_of_birth: format!("{}-{:02}-{:02}", 1980 + i % 20, 1 + i % 12, 1 + i % 28),
                sex: if i % 2 == 0 { "female" } else { "male" }.into(),
                admit_level: Some(ProgramKind::WithdrawalManagement.as_str().into()),
                confirm_new: true,
                ..Default::default()
            },
        )
        .await?;
        let mut batch = vec![];
        for k in 0..a.checks {
            let total: u8 = rng.random_range(2..30);
            batch.push(Input::Flowsheet(FlowsheetInput {
                scale: Some(Scale::Cows),
                items: items(total, &mut rng),
                sows: vec![],
                vitals: carepath_clinical::flowsheet::Vitals {
                    hr: Some(90),
                    ..Default::default()
                },
                observed_at: Some(carepath_app::fmt::rfc3339(
                    admitted + k as i64 * 4 * HOUR_US,
                )),
            }));
        }
        for k in 0..a.notes {
            batch.push(Input::Note(NoteInput {
                template: "DAP".into(),
                sections: [("data", "d"), ("assessment", "a"), ("plan", "p")]
                    .into_iter()
                    .map(|(x, y)| (x.to_string(), y.to_string()))
                    .collect(),
                service: "individual".into(),
                occurred_at: Some(carepath_app::fmt::rfc3339(
                    admitted + k as i64 * 12 * HOUR_US,
                )),
                session_id: None,
                goal_refs: vec![],
                cosigner_id: None,
                private: false,
            }));
        }
        clock.set(now);
        n += chart::create_batch(app, &acting, p.id, &batch, true)
            .await?
            .len();
        ids.push(p.id);
    }
    Ok((prog.id, ids, n))
}

async fn one(db: &Scratch, a: &ChartArgs, label: &str) -> Result<()> {
    let t = Instant::now();
    let clock = ManualClock::at(SystemClock.now_us());
    let seeding =
        App::new(db.store.clone(), Default::default()).with_clock(Arc::new(clock.clone()));
    let (_, ids, records) = seed(&seeding, &clock, a).await?;
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
        let r = db.store.patient_records(p, &[]).await?;
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
    // 1b. The same through the patient scope: access check, audit event,
    //     every body read into its kind.
    let app = App::new(db.store.clone(), Default::default());
    let nurse = admin::user_by_username(&app, "bench.nurse")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench.nurse"))?;
    let program = carepath_app::work::programs(&app).await?[0].id;
    let reader = Principal::system_for("bench", nurse.id, "Bench Nurse", Role::Nurse, program);
    let mut times = vec![];
    for _ in 0..a.samples {
        let p = ids[rng.random_range(0..ids.len())];
        let t = Instant::now();
        let s = access::open(&app, &reader, p, Permission::ReadClinical, "bench.read").await?;
        let r = s.entries(&app, &[]).await?;
        times.push(t.elapsed());
        assert_eq!(r.len(), a.checks + a.notes);
    }
    times.sort();
    println!(
        "{label}: open the patient and read the record through the scope: p50 {}, p99 {}",
        fmt(pct(&times, 0.5)),
        fmt(pct(&times, 0.99))
    );
    // 2. Pages over HTTP, one request at a time (a nurse's view).
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone())).await?;
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
    let sqlite = Scratch::sqlite().await?;
    one(&sqlite, a, "SQLite").await?;
    sqlite.drop_now().await?;
    if let Some(pg) = &a.postgres {
        let db = Scratch::postgres(pg).await?;
        one(&db, a, "PostgreSQL").await?;
        db.drop_now().await?;
    }
    Ok(())
}
