//! `carepath bench dosing`: the morning rush. An opioid treatment program
//! with N patients on methadone, each with an order; every dose of one
//! morning driven through the HTTP API exactly as the desk does it (the
//! pre-dose panel, then the dose) from C concurrent clients on loopback.
//! In the same run, on the same database: the storage limit — bare durable
//! single-row inserts through the same pools with the same durability
//! settings. Results belong in BENCHMARKS.md.

use crate::bench::pct;
use crate::scratch::Scratch;
use anyhow::{Result, ensure};
use carepath_app::dosing::{self, OrderInput, ProductInput, ReceiptInput};
use carepath_app::{App, Principal, admin, registration};
use carepath_domain::authz::Role;
use carepath_domain::ids::PatientId;
use carepath_domain::program::ProgramKind;
use carepath_store::NewProgram;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DosingArgs {
    /// Patients with an active order, each dosed once.
    #[arg(long, default_value_t = 1_500)]
    pub patients: usize,
    /// Concurrent desk clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// A PostgreSQL server URL: run the same on a fresh database there too.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Instead of timing: the crash test. Serve from a child process, kill it
    /// with SIGKILL this many times at random moments of the rush, restart
    /// it, and check that every acknowledged dose is there, no patient is
    /// dosed twice, and the audit chain verifies. Exits non-zero otherwise.
    #[arg(long)]
    pub crash: Option<usize>,
}

pub(crate) const PW: &str = "bench-password-2026";

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) async fn seed(app: &App, n: usize) -> Result<Vec<PatientId>> {
    let sys = Principal::system("bench");
    let org = admin::create_organization(app, &sys, "Bench").await?;
    let prog = admin::create_program(
        app,
        &sys,
        org.id,
        &NewProgram {
            name: "Bench OTP".into(),
            kind: ProgramKind::OpioidTreatmentProgram,
            address: "x".into(),
            timezone: "America/New_York".into(),
            hours: "x".into(),
        },
    )
    .await?;
    for (u, role) in [("bench.nurse", Role::Nurse), ("bench.md", Role::Prescriber)] {
        admin::create_user(
            app,
            &sys,
            &admin::NewUser {
                username: u.into(),
                display_name: u.into(),
                password: PW.into(),
                program_id: prog.id.to_string(),
                role: role.as_str().into(),
            },
        )
        .await?;
    }
    let nurse = admin::user_by_username(app, "bench.nurse")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench.nurse"))?;
    let md = admin::user_by_username(app, "bench.md")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench.md"))?;
    let as_nurse = Principal::system_for("bench", nurse.id, "Bench Nurse", Role::Nurse, prog.id);
    let as_md = Principal::system_for("bench", md.id, "Bench MD", Role::Prescriber, prog.id);
    let product = dosing::add_product(
        app,
        &sys,
        prog.id,
        &ProductInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            name: "Methadone 10 mg/mL".into(),
            strength_mg: 10.0,
        },
    )
    .await?;
    dosing::receive(
        app,
        &as_nurse,
        prog.id,
        &ReceiptInput {
            product_id: product,
            lot: "BENCH-1".into(),
            expires_on: None,
            amount_mg: 50.0 * n as f64 + 1000.0,
        },
    )
    .await?;
    let mut ids = vec![];
    for i in 0..n {
        let p = registration::register(
            app,
            &as_nurse,
            &registration::Registration {
                program_id: prog.id.to_string(),
                legal_first_name: format!("Pat{i}"),
                legal_last_name: "Bench".into(),
                date_of_birth: format!("{}-{:02}-{:02}", 1970 + i % 30, 1 + i % 12, 1 + i % 28),
                sex: if i % 2 == 0 { "female" } else { "male" }.into(),
                admit_level: Some(ProgramKind::OpioidTreatmentProgram.as_str().into()),
                confirm_new: true,
                ..Default::default()
            },
        )
        .await?;
        dosing::create_order(
            app,
            &as_md,
            p.id,
            &OrderInput {
                medication: "methadone".into(),
                form: "oral_liquid".into(),
                phase: "induction".into(),
                dose_mg: 20.0 + (i % 4) as f64 * 5.0,
                ..Default::default()
            },
        )
        .await?;
        ids.push(p.id);
    }
    Ok(ids)
}

async fn one(db: &Scratch, a: &DosingArgs, label: &str) -> Result<()> {
    let t = Instant::now();
    let app = App::new(db.store.clone(), Default::default());
    let ids = seed(&app, a.patients).await?;
    println!(
        "{label}: seeded {} patients with orders in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone())).await?;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(a.clients)
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
    ensure!(r.status().is_redirection(), "login failed: {}", r.status());
    // The rush: each client takes the next patient in line, reads the
    // panel, records the dose.
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let grouped = db.store.group_commit_stats();
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..a.clients {
        let (c, base, ids, next) = (c.clone(), base.clone(), ids.clone(), next.clone());
        tasks.spawn(async move {
            let mut lat = vec![];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = ids.get(i) else {
                    return Ok::<_, anyhow::Error>(lat);
                };
                let t = Instant::now();
                let r = c
                    .get(format!("{base}/api/v1/patients/{p}/dosing"))
                    .send()
                    .await?;
                ensure!(r.status().is_success(), "panel {}", r.status());
                let panel: serde_json::Value = r.json().await?;
                ensure!(
                    panel["holds"].as_array().is_some_and(|h| h.is_empty()),
                    "held: {panel}"
                );
                let r = c
                    .post(format!("{base}/api/v1/patients/{p}/doses"))
                    .json(&serde_json::json!({}))
                    .send()
                    .await?;
                ensure!(
                    r.status().as_u16() == 201,
                    "dose {}: {}",
                    r.status(),
                    r.text().await?
                );
                lat.push(t.elapsed());
            }
        });
    }
    let mut lat = vec![];
    while let Some(r) = tasks.join_next().await {
        lat.extend(r??);
    }
    let wall = t.elapsed();
    lat.sort();
    ensure!(
        lat.len() == ids.len(),
        "{} doses of {}",
        lat.len(),
        ids.len()
    );
    let rate = ids.len() as f64 / wall.as_secs_f64();
    println!(
        "{label}: morning rush: {} doses from {} clients in {:.2} s — {:.0} doses/s; per patient (panel + dose) p50 {}, p99 {}",
        ids.len(),
        a.clients,
        wall.as_secs_f64(),
        rate,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
    if let (Some((c0, u0)), Some((c1, u1))) = (grouped, db.store.group_commit_stats()) {
        println!(
            "{label}: group commit: {} units of work in {} transactions ({:.1} per commit)",
            u1 - u0,
            c1 - c0,
            (u1 - u0) as f64 / (c1 - c0).max(1) as f64
        );
    }
    // The storage limit in the same run, on the same database.
    let bare = db.store.durable_insert_probe(ids.len(), a.clients).await?;
    let bare_rate = ids.len() as f64 / bare.as_secs_f64();
    println!(
        "{label}: bare durable single-row inserts: {} in {:.2} s — {:.0}/s; doses/s ÷ inserts/s = {:.2}",
        ids.len(),
        bare.as_secs_f64(),
        bare_rate,
        rate / bare_rate
    );
    Ok(())
}

pub async fn dosing(a: &DosingArgs) -> Result<()> {
    if let Some(rounds) = a.crash {
        return crate::bench_crash::crash(a, rounds).await;
    }
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
