//! `carepath bench dosing --crash N`: the morning rush against a server in a
//! child process that is killed with SIGKILL N times at random moments and
//! restarted. Between rounds and at the end, on the database itself: every
//! dose the server acknowledged (HTTP 201) is there, no patient has more than
//! one dose, and the audit chain verifies. A failure exits non-zero.

use crate::bench_dosing::{DosingArgs, PW, seed};
use crate::config::Config;
use anyhow::{Context, Result, bail, ensure};
use carepath_app::App;
use carepath_domain::ids::PatientId;
use carepath_store::VerifyResult;
use rand::Rng;
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub async fn crash(a: &DosingArgs, rounds: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    crash_on(a, rounds, dir.path(), None, "SQLite").await?;
    if let Some(admin) = &a.postgres {
        let db = crate::scratch::Scratch::postgres(admin).await?;
        let url = db
            .url()
            .context("a PostgreSQL scratch database has a URL")?;
        let pg_dir = tempfile::tempdir()?;
        let r = crash_on(a, rounds, pg_dir.path(), Some(url), "PostgreSQL").await;
        db.drop_now().await?;
        r?;
    }
    Ok(())
}

fn config(dir: &Path, url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: url,
        ..Config::default()
    }
}

/// What the rush learned about each patient.
#[derive(Default)]
struct Seen {
    /// The server answered 201: the dose must be in the database.
    acked: Vec<PatientId>,
    /// The server answered "already dosed": a dose from a request whose
    /// answer was lost in the crash.
    present: Vec<PatientId>,
}

async fn crash_on(
    a: &DosingArgs,
    rounds: usize,
    dir: &Path,
    url: Option<String>,
    label: &str,
) -> Result<()> {
    let cfg = config(dir, url.clone());
    {
        let store = crate::open(&cfg, true).await?;
        let app = App::new(store.clone(), Default::default());
        let ids = seed(&app, a.patients).await?;
        store.close().await;
        std::fs::write(
            dir.join("patients.txt"),
            ids.iter().map(|p| format!("{p}\n")).collect::<String>(),
        )?;
    }
    let all: Vec<PatientId> = std::fs::read_to_string(dir.join("patients.txt"))?
        .lines()
        .map(|l| l.parse().map_err(|_| anyhow::anyhow!("patient id {l}")))
        .collect::<Result<_>>()?;
    let mut pending = all.clone();
    let mut acked_total = 0usize;
    let mut rng = rand::rng();
    for round in 0..=rounds {
        let kill = round < rounds;
        let mut child = Server::start(dir, url.as_deref()).await?;
        let c = child.login().await?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let killed = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let line = Arc::new(pending.clone());
        let acks = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..a.clients {
            let (c, base, line, next, seen, killed, acks) = (
                c.clone(),
                child.base.clone(),
                line.clone(),
                next.clone(),
                seen.clone(),
                killed.clone(),
                acks.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = line.get(i) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    match desk(&c, &base, *p).await {
                        Ok(Answer::Dosed) => {
                            seen.lock().expect("seen").acked.push(*p);
                            acks.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Answer::AlreadyDosed) => seen.lock().expect("seen").present.push(*p),
                        Ok(Answer::Other(s)) => bail!("patient {p}: unexpected answer {s}"),
                        Err(_) if killed.load(Ordering::Relaxed) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
            });
        }
        if kill {
            // Kill somewhere between 5 % and 60 % of what is left.
            let target = rng
                .random_range(pending.len() / 20..=pending.len() * 3 / 5)
                .max(1);
            while acks.load(Ordering::Relaxed) < target && !tasks.is_empty() {
                if tasks.len() < a.clients {
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            killed.store(true, Ordering::Relaxed);
            child.kill().await?;
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        if !kill {
            killed.store(true, Ordering::Relaxed);
            child.kill().await?;
        }
        let seen = std::mem::take(&mut *seen.lock().expect("seen"));
        // On the database, after the kill: every acknowledged dose is there,
        // once.
        let store = crate::open(&cfg, false).await?;
        for p in seen.acked.iter().chain(&seen.present) {
            let n = store.doses(*p, 10).await?.len();
            ensure!(
                n == 1,
                "{label}: round {round}: patient {p} has {n} doses after the restart"
            );
        }
        store.close().await;
        acked_total += seen.acked.len();
        let done: HashSet<PatientId> = seen.acked.into_iter().chain(seen.present).collect();
        pending.retain(|p| !done.contains(p));
        println!(
            "{label}: round {}: {} acknowledged{}; {} patients left",
            round + 1,
            acks.load(Ordering::Relaxed),
            if kill { ", then kill -9" } else { "" },
            pending.len()
        );
    }
    ensure!(
        pending.is_empty(),
        "{label}: {} patients never dosed",
        pending.len()
    );
    let store = crate::open(&cfg, false).await?;
    for p in &all {
        let n = store.doses(*p, 10).await?.len();
        ensure!(n == 1, "{label}: patient {p} has {n} doses");
    }
    let events = match store.verify_audit_chain(|_| {}).await? {
        VerifyResult::Intact { events, .. } => events,
        VerifyResult::Broken(e) => bail!("{label}: the audit chain is broken: {e}"),
    };
    store.close().await;
    println!(
        "{label}: crash test passed: {rounds} × kill -9 mid-rush; {acked_total} acknowledged doses all present; {} patients with exactly one dose; audit chain intact ({events} events)",
        all.len()
    );
    Ok(())
}

enum Answer {
    Dosed,
    AlreadyDosed,
    Other(String),
}

/// What the desk does for one patient: the panel, then the dose.
async fn desk(c: &reqwest::Client, base: &str, p: PatientId) -> Result<Answer> {
    let r = c
        .get(format!("{base}/api/v1/patients/{p}/dosing"))
        .send()
        .await?;
    if !r.status().is_success() {
        return Ok(Answer::Other(format!("panel {}", r.status())));
    }
    r.bytes().await?;
    let r = c
        .post(format!("{base}/api/v1/patients/{p}/doses"))
        .json(&serde_json::json!({}))
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    Ok(match status {
        201 => Answer::Dosed,
        409 if body.contains("already dosed") => Answer::AlreadyDosed,
        _ => Answer::Other(format!("{status}: {body}")),
    })
}

/// `carepath serve` in a child process.
struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(dir: &Path, url: Option<&str>) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
        cmd.arg("serve")
            .env("CAREPATH_DATA_DIR", dir)
            .env("CAREPATH_LISTEN", format!("127.0.0.1:{port}"))
            .env("CAREPATH_LOG", "warn")
            .env_remove("CAREPATH_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        match url {
            Some(u) => cmd.env("CAREPATH_DATABASE_URL", u),
            None => cmd.env_remove("CAREPATH_DATABASE_URL"),
        };
        let child = cmd.spawn().context("starting carepath serve")?;
        let base = format!("http://127.0.0.1:{port}");
        let probe = reqwest::Client::new();
        for _ in 0..600 {
            if probe
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(Server { child, base });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("carepath serve did not become ready")
    }

    async fn login(&self) -> Result<reqwest::Client> {
        let c = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let r = c
            .post(format!("{}/login", self.base))
            .form(&[("username", "bench.nurse"), ("password", PW)])
            .send()
            .await?;
        ensure!(r.status().is_redirection(), "login failed: {}", r.status());
        Ok(c)
    }

    /// SIGKILL: no shutdown, no flush, no checkpoint.
    async fn kill(&mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}
