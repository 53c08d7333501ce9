//! The `carepath` command.

mod backup;
mod bench;
mod bench_chart;
mod bench_crash;
mod bench_dashboard;
mod bench_dosing;
mod config;
mod demo;
mod demo_dosing;
mod demo_path;
mod lab;
mod scratch;

use anyhow::{Context, Result, bail};
use carepath_app::clock::{Clock, SystemClock};
use carepath_app::{App, Principal, admin};
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_store::Store;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "carepath",
    version,
    about = "Carepath: clinical software for opioid addiction treatment programs"
)]
struct Cli {
    /// TOML configuration file (environment variables CAREPATH_* override it).
    #[arg(long, global = true, env = "CAREPATH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: the SQLite database, its lock file, and backups'
    /// staging (overrides `data_dir` and CAREPATH_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL, `sqlite://PATH` or `postgres://…` (overrides
    /// `database_url` and CAREPATH_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        /// Also receive HL7 v2 lab results over MLLP on this address
        /// (config `lab.mllp_listen`).
        #[arg(long)]
        mllp: Option<String>,
        /// The program (name or id) the MLLP interface files results in
        /// (config `lab.program`; needed when there are several).
        #[arg(long)]
        lab_program: Option<String>,
    },
    /// Create (or reopen) a demo organization (SQLite in ./carepath-demo
    /// unless --data-dir or --database-url say otherwise), print logins, and serve.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply database schema migrations.
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Write a consistent, checksummed (optionally encrypted) backup while the server runs.
    Backup(backup::BackupArgs),
    /// Replace the database with a backup (the server must be stopped).
    Restore(backup::RestoreArgs),
    /// The treatment finder's facility directory.
    #[command(subcommand)]
    Finder(FinderCmd),
    /// The dosing desk's jobs.
    #[command(subcommand)]
    Dosing(DosingCmd),
    /// The HL7 v2 laboratory interface.
    #[command(subcommand)]
    Lab(LabCmd),
    /// FHIR R4 exports.
    #[command(subcommand)]
    Fhir(FhirCmd),
    /// The state report: TEDS admission and discharge records of a program
    /// for a period, as two CSV files (docs/TEDS.md). Every record's missing
    /// or invalid elements are listed; exits 3 when any record has one.
    Teds {
        /// Program name or id (needed when there are several).
        #[arg(long)]
        program: Option<String>,
        /// First day of the period, YYYY-MM-DD (default: the last quarter's).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the period, included (default: the last quarter's).
        #[arg(long)]
        to: Option<String>,
        /// The directory to write the files into (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// The staff member preparing the report (username; clinical staff
        /// of the program): the audit trail names them.
        #[arg(long = "as")]
        as_user: String,
    },
    /// Benchmarks (results belong in BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run a clinical calculator on a JSON input; prints the JSON result.
    /// Invalid input exits 2 with a JSON error naming the field.
    Calc {
        /// One of: cows, sows, oud-diagnosis, level-of-care, withdrawal-course,
        /// methadone-order, missed-doses, buprenorphine-order, naltrexone-start,
        /// comfort-med, take-home, cm-ledger, cm-draw, drug-test.
        name: String,
        /// JSON input file, or - for standard input.
        #[arg(long, default_value = "-")]
        input: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account with a role in a program. The password is read from
    /// CAREPATH_NEW_PASSWORD, or prompted for.
    Add {
        username: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Role: admin, prescriber, nurse, counselor, intake, front_desk, auditor, patient.
        #[arg(long)]
        role: String,
        /// Program name or id (default: every program).
        #[arg(long)]
        program: Option<String>,
        /// Also hold the role organization-wide (admin: create programs and
        /// grant the administrator role; auditor: read every program's audit
        /// trail). Only admin and auditor.
        #[arg(long)]
        org: bool,
    },
    /// Set a new password (from CAREPATH_NEW_PASSWORD, or prompted); ends the user's sessions.
    Passwd { username: String },
    /// Disable an account; ends its sessions and revokes its API tokens.
    Disable { username: String },
    /// List accounts and their roles.
    List,
}

#[derive(Subcommand)]
enum BenchCmd {
    /// The finder: in-process and HTTP, real and 1,000,000-facility sets, PostGIS as the peer.
    Finder(bench::BenchArgs),
    /// The clinical record as it grows: one patient's record, the chart page and the worklist.
    Chart(bench_chart::ChartArgs),
    /// The morning rush at the dosing window, with the bare durable-insert rate of the same database.
    Dosing(bench_dosing::DosingArgs),
    /// The director's dashboards on five years of a program, against DuckDB.
    Dashboard(bench_dashboard::DashboardArgs),
}

#[derive(Subcommand)]
enum FhirCmd {
    /// Bulk export of a program to one recipient for one purpose: NDJSON
    /// files per resource type (FHIR Bulk Data) in --out. Each patient goes
    /// only under a consent of theirs that permits the recipient and purpose
    /// (42 CFR § 2.31) and is recorded in their accounting of disclosures;
    /// the others are left out and counted.
    Bulk {
        /// Program name or id (needed when there are several).
        #[arg(long)]
        program: Option<String>,
        /// Who receives the records (as the consents name them).
        #[arg(long)]
        recipient: String,
        /// Why (e.g. "treatment", "payment", "coordination of care").
        #[arg(long)]
        purpose: String,
        /// The directory to write the NDJSON files into (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// The staff member making the disclosure (username; clinical staff
        /// of the program): the accounting names them.
        #[arg(long = "as")]
        as_user: String,
    },
}

#[derive(Subcommand)]
enum DosingCmd {
    /// Apply the missed-dose rule to every patient with an active order:
    /// suspend take-homes where the prescriber must see the patient first
    /// (the server runs this every hour).
    Sweep,
}

#[derive(Subcommand)]
enum LabCmd {
    /// Receive ORU^R01 result messages from files (one or more messages
    /// each): every message is stored as received, filed on the patient it
    /// names or queued for a staff match, and its ACK printed. Exits 2 when
    /// any message was rejected (AE/AR), naming the problem.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Program name or id (needed when there are several).
        #[arg(long)]
        program: Option<String>,
        /// Print each ACK message as well as the summary line.
        #[arg(long)]
        ack: bool,
    },
}

#[derive(Subcommand)]
enum FinderCmd {
    /// Import a SAMHSA directory file (merged with what is already imported;
    /// duplicates by normalized name and address are merged). A running
    /// server picks up the new directory within 30 seconds.
    Import {
        file: PathBuf,
        /// samhsa-csv, samhsa-keys or otp-directory (default: detected from the header).
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the audit hash chain; exit non-zero naming the first bad entry.
    Verify,
}

fn operator_event(action: &str) -> NewEvent {
    operator().event(action, Outcome::Success)
}

/// The operator at the command line, as a system actor.
fn operator() -> Principal {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Principal::system(&format!("cli-{who}"))
}

fn new_password(username: &str) -> Result<String> {
    let pw = match std::env::var("CAREPATH_NEW_PASSWORD") {
        Ok(p) => p,
        Err(_) => rpassword::prompt_password(format!("New password for {username}: "))
            .context("reading password")?,
    };
    carepath_domain::password::check(&pw, username).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pw)
}

fn app(store: &Store, cfg: &config::Config) -> App {
    App::new(store.clone(), cfg.web.clone())
}

/// Open the database with the installation key. With `init` (commands that
/// may set up an installation: serve, demo, migrate, imports), migrate,
/// create the key if there is none, and start the keyed chain.
async fn open(cfg: &config::Config, init: bool) -> Result<Store> {
    let url = cfg.database_url()?;
    let store = Store::connect(&url)
        .await
        .with_context(|| "opening the database")?;
    if init {
        store.migrate().await.context("applying migrations")?;
    }
    let (key, created) = carepath_store::integrity::load_or_create_key(&cfg.key_path(), init)?;
    if created {
        tracing::info!(path = %cfg.key_path().display(), id = %key.id(), "created the installation key");
    }
    let store = store.with_key(key);
    if init {
        store.ensure_keyed(SystemClock.now_us()).await?;
    }
    // The database holds addiction treatment records (42 CFR Part 2): only
    // the service's account reads its files.
    if let Some(path) = url.strip_prefix("sqlite://") {
        for f in [
            path.to_string(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            owner_only(Path::new(&f))?;
        }
    }
    Ok(store)
}

/// Make a file readable and writable by its owner only (Unix).
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if path.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Write a signed checkpoint of the audit chain's head outside the database.
async fn checkpoint(store: &Store, cfg: &config::Config) -> Result<()> {
    if let Some(cp) = store.checkpoint(SystemClock.now_us()).await? {
        carepath_store::integrity::append_checkpoint(
            &cfg.checkpoint_path(),
            cfg.audit_checkpoint_export.as_deref(),
            &cp,
        )?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Benchmarks log only warnings: a log line per request would measure the terminal.
    let default_filter = if matches!(cli.cmd, Cmd::Bench(_)) {
        "warn"
    } else {
        "info,sqlx=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAREPATH_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    if let Cmd::Calc { name, input } = &cli.cmd {
        return Ok(calc(name, input));
    }
    if let Cmd::Bench(BenchCmd::Finder(a)) = &cli.cmd {
        bench::finder(a).await?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Cmd::Bench(BenchCmd::Dosing(a)) = &cli.cmd {
        bench_dosing::dosing(a).await?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Cmd::Bench(BenchCmd::Dashboard(a)) = &cli.cmd {
        bench_dashboard::dashboard(a).await?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Cmd::Bench(BenchCmd::Chart(a)) = &cli.cmd {
        bench_chart::chart(a).await?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let mut cfg = config::Config::load(cli.config.as_deref())?;
    let demo = matches!(cli.cmd, Cmd::Demo { .. });
    match (&cli.data_dir, demo) {
        (Some(d), _) => cfg.data_dir = d.clone(),
        (None, true) => cfg.data_dir = PathBuf::from("./carepath-demo"),
        (None, false) => {}
    }
    match (&cli.database_url, demo) {
        (Some(u), _) => cfg.database_url = Some(u.clone()),
        // The demo is SQLite in its own directory unless told otherwise.
        (None, true) => cfg.database_url = None,
        (None, false) => {}
    }
    match cli.cmd {
        Cmd::Serve { mllp, lab_program } => {
            if mllp.is_some() {
                cfg.lab.mllp_listen = mllp;
            }
            if lab_program.is_some() {
                cfg.lab.program = lab_program;
            }
            let _lock = cfg.lock_data_dir()?;
            let store = open(&cfg, true).await?;
            serve(store, &cfg).await?;
        }
        Cmd::Demo { listen, no_serve } => {
            cfg.listen = listen;
            std::fs::create_dir_all(&cfg.data_dir)?;
            let _lock = cfg.lock_data_dir()?;
            let store = open(&cfg, true).await?;
            let clock = carepath_app::clock::ManualClock::from_system();
            let seeding = app(&store, &cfg).with_clock(std::sync::Arc::new(clock.clone()));
            let logins =
                demo::seed(&seeding, &clock, &cfg.data_dir.join("demo-logins.txt")).await?;
            checkpoint(&store, &cfg).await?;
            demo::print_logins(&cfg.listen, &logins);
            if !no_serve {
                serve(store, &cfg).await?;
            }
        }
        Cmd::Migrate => {
            let store = open(&cfg, true).await?;
            checkpoint(&store, &cfg).await?;
            println!("migrations applied");
        }
        Cmd::User(u) => user(&cfg, u).await?,
        Cmd::Audit(AuditCmd::Verify) => {
            let store = open(&cfg, false).await?;
            return audit_verify(&app(&store, &cfg), &cfg).await;
        }
        Cmd::Backup(a) => {
            let store = open(&cfg, false).await?;
            backup::backup(&store, &cfg, &a).await?;
            checkpoint(&store, &cfg).await?;
        }
        Cmd::Calc { .. } | Cmd::Bench(_) => unreachable!("handled above"),
        Cmd::Dosing(DosingCmd::Sweep) => {
            let store = open(&cfg, false).await?;
            let app = app(&store, &cfg);
            let who = carepath_app::actor::Principal::system("missed-dose sweep");
            for r in carepath_app::dosing::missed_dose_sweep(&app, &who).await? {
                println!(
                    "{} {}: {} patients, {} with missed days, {} for the prescriber, {} take-home suspensions",
                    r.program, r.clinic_day, r.patients, r.missed, r.prescriber, r.suspended
                );
            }
            checkpoint(&store, &cfg).await?;
        }
        Cmd::Lab(LabCmd::Import {
            files,
            program,
            ack,
        }) => {
            let store = open(&cfg, true).await?;
            let code = lab::import(&app(&store, &cfg), &files, program.as_deref(), ack).await?;
            checkpoint(&store, &cfg).await?;
            return Ok(code);
        }
        Cmd::Fhir(FhirCmd::Bulk {
            program,
            recipient,
            purpose,
            out,
            as_user,
        }) => {
            let store = open(&cfg, false).await?;
            let app = app(&store, &cfg);
            let program = lab::program(&app, program.as_deref()).await?;
            let who = carepath_app::fhir::acting_as(&app, "fhir-bulk", &as_user, program).await?;
            let b = carepath_app::fhir::bulk(&app, &who, program, &recipient, &purpose).await?;
            std::fs::create_dir_all(&out)?;
            for (kind, rows) in &b.by_type {
                let mut text = String::new();
                for r in rows {
                    text.push_str(&serde_json::to_string(r)?);
                    text.push('\n');
                }
                let file = out.join(format!("{kind}.ndjson"));
                std::fs::write(&file, text)?;
                println!("{}: {} resources", file.display(), rows.len());
            }
            println!(
                "fhir bulk: {} patients released to {recipient:?} for {purpose:?} (each in their accounting of disclosures); {} left out: no consent permits it",
                b.patients,
                b.left_out.len()
            );
            checkpoint(&store, &cfg).await?;
        }
        Cmd::Teds {
            program,
            from,
            to,
            out,
            as_user,
        } => {
            use carepath_app::teds::{self, Period, Which};
            let store = open(&cfg, false).await?;
            let app = app(&store, &cfg);
            let program = lab::program(&app, program.as_deref()).await?;
            let who = carepath_app::fhir::acting_as(&app, "teds", &as_user, program).await?;
            let period = match (from, to) {
                (None, None) => {
                    let today = jiff::Timestamp::from_microsecond(app.now_us())?
                        .to_zoned(jiff::tz::TimeZone::UTC)
                        .date();
                    Period::last_quarter(today)
                }
                (Some(f), Some(t)) => Period::parse(&f, &t)?,
                _ => anyhow::bail!("give both --from and --to, or neither (the last quarter)"),
            };
            let x = teds::extract(&app, &who, program, period).await?;
            std::fs::create_dir_all(&out)?;
            for w in [Which::Admissions, Which::Discharges] {
                let file = out.join(x.file_name(w));
                std::fs::write(&file, x.csv(w))?;
                println!("{}", file.display());
            }
            for (what, rows) in [("admission", &x.admissions), ("discharge", &x.discharges)] {
                for r in rows {
                    for p in &r.problems {
                        println!("{what} {}: {} — {}", r.case_id, p.element, p.message);
                    }
                }
            }
            println!(
                "teds {}..{}: {} admissions, {} discharges; {} records with problems; sha256 {}",
                period.from,
                period.to,
                x.admissions.len(),
                x.discharges.len(),
                x.records_with_problems(),
                x.digest()
            );
            checkpoint(&store, &cfg).await?;
            if x.records_with_problems() > 0 {
                return Ok(std::process::ExitCode::from(3));
            }
        }
        Cmd::Finder(FinderCmd::Import { file, format }) => {
            let store = open(&cfg, true).await?;
            finder_import(&app(&store, &cfg), &file, format.as_deref()).await?;
            checkpoint(&store, &cfg).await?;
        }
        Cmd::Restore(a) => {
            let _lock = cfg
                .lock_data_dir()
                .context("the server appears to be running: stop it before restoring")?;
            backup::restore(&cfg, &a).await?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn serve(store: Store, cfg: &config::Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "Carepath listening");
    let state = carepath_web::AppState::new(app(&store, cfg));
    // Checkpoints of the audit chain's head, outside the database, whenever
    // it has grown (a truncated chain is caught back to the last one).
    let every = std::time::Duration::from_secs(cfg.audit_checkpoint_secs.max(1));
    let (cp_store, cp_cfg) = (store.clone(), cfg.clone());
    let checkpoints = tokio::spawn(async move {
        let mut last = -1;
        loop {
            match cp_store.audit_head().await {
                Ok((seq, _)) if seq != last => match checkpoint(&cp_store, &cp_cfg).await {
                    Ok(()) => last = seq,
                    Err(e) => tracing::error!(error = %e, "writing an audit checkpoint failed"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the audit head failed"),
            }
            tokio::time::sleep(every).await;
        }
    });
    // The missed-dose sweep, every hour (idempotent).
    let sweep_app = app(&store, cfg);
    let sweeps = tokio::spawn(async move {
        let who = carepath_app::actor::Principal::system("missed-dose sweep");
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = carepath_app::dosing::missed_dose_sweep(&sweep_app, &who).await {
                tracing::error!(error = %e, "the missed-dose sweep failed");
            }
            // Form drafts are kept for a week.
            if let Err(e) = carepath_app::drafts::purge(&sweep_app).await {
                tracing::error!(error = %e, "removing old form drafts failed");
            }
        }
    });
    // The HL7 v2 lab interface over MLLP, when configured.
    let mllp = match &cfg.lab.mllp_listen {
        Some(addr) => {
            let lab_app = app(&store, cfg);
            let program = lab::program(&lab_app, cfg.lab.program.as_deref()).await?;
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the MLLP listener {addr}"))?;
            tracing::info!(addr = %l.local_addr()?, "HL7 v2 MLLP listener");
            Some(tokio::spawn(lab::mllp(l, lab_app, program)))
        }
        None => None,
    };
    carepath_web::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sweeps.abort();
    if let Some(m) = mllp {
        m.abort();
    }
    checkpoints.abort();
    checkpoint(&store, cfg).await?;
    store.close().await;
    Ok(())
}

async fn audit_verify(app: &App, cfg: &config::Config) -> Result<std::process::ExitCode> {
    let checkpoints = carepath_store::integrity::read_checkpoints(&cfg.checkpoint_path())?;
    let pb = indicatif::ProgressBar::new_spinner();
    let r = admin::verify_integrity(app, &checkpoints, |n| {
        pb.set_message(format!("{n} events checked"))
    })
    .await?;
    pb.finish_and_clear();
    if r.intact() {
        println!(
            "audit chain intact: {} events verified (keyed from #{}); head #{} {}",
            r.events,
            r.keyed_from
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            r.head.0,
            r.head.1
        );
        println!(
            "clinical record intact: {} rows match their sealed digests; {} checkpoints confirmed",
            r.rows, r.checkpoints
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    eprintln!("AUDIT VERIFICATION FAILED ({} findings):", r.findings.len());
    for f in &r.findings {
        eprintln!("- {}", f.message);
    }
    Ok(std::process::ExitCode::from(1))
}

async fn user(cfg: &config::Config, cmd: UserCmd) -> Result<()> {
    let store = open(cfg, false).await?;
    let app = app(&store, cfg);
    let op = operator();
    match cmd {
        UserCmd::Add {
            username,
            name,
            role,
            program,
            org,
        } => {
            carepath_domain::password::check_username(&username)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let programs = carepath_app::work::programs(&app).await?;
            if programs.is_empty() {
                bail!(
                    "no programs exist yet: run `carepath demo` or create the organization first"
                );
            }
            let targets: Vec<_> = match &program {
                None => programs.clone(),
                Some(p) => {
                    let found: Vec<_> = programs
                        .iter()
                        .filter(|g| g.name.eq_ignore_ascii_case(p) || g.id.to_string() == *p)
                        .cloned()
                        .collect();
                    if found.is_empty() {
                        bail!(
                            "program: no program named {p:?}; known: {}",
                            programs
                                .iter()
                                .map(|g| g.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    found
                }
            };
            let pw = new_password(&username)?;
            admin::create_user(
                &app,
                &op,
                &admin::NewUser {
                    username: username.clone(),
                    display_name: name.clone(),
                    password: pw,
                    program_id: targets[0].id.to_string(),
                    role: role.as_str().into(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let u = admin::user_by_username(&app, &username)
                .await?
                .with_context(|| format!("username: no account {username:?}"))?;
            for g in targets.iter().skip(1) {
                admin::change_role(&app, &op, u.id, &g.id.to_string(), role.as_str(), true).await?;
            }
            if org {
                admin::change_org_role(&app, &op, u.id, role.as_str(), true)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{username} holds {role} organization-wide");
            }
            println!(
                "created {username} ({}) as {role} in {}",
                u.id,
                targets
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        UserCmd::Passwd { username } => {
            admin::user_by_username(&app, &username)
                .await?
                .with_context(|| format!("username: no account {username:?}"))?;
            let pw = new_password(&username)?;
            admin::set_password(&app, &op, &username, &pw).await?;
            println!(
                "password changed for {username}; their sessions were ended and API tokens revoked"
            );
        }
        UserCmd::Disable { username } => {
            let u = admin::user_by_username(&app, &username)
                .await?
                .with_context(|| format!("username: no account {username:?}"))?;
            admin::set_disabled(&app, &op, u.id, true).await?;
            println!("{username} disabled; sessions ended and API tokens revoked");
        }
        UserCmd::List => {
            let programs = carepath_app::work::programs(&app).await?;
            for acc in admin::users(&app, &op).await? {
                let u = acc.user;
                let roles: Vec<String> = acc
                    .grants
                    .into_iter()
                    .map(|g| {
                        format!(
                            "{}@{}",
                            g.role,
                            programs
                                .iter()
                                .find(|p| p.id == g.program_id)
                                .map(|p| p.name.as_str())
                                .unwrap_or("?")
                        )
                    })
                    .chain(
                        acc.org_roles
                            .iter()
                            .map(|g| format!("{}@organization", g.role)),
                    )
                    .collect();
                println!(
                    "{:<20} {:<28} {:<8} mfa={:<3} {}",
                    u.username,
                    u.display_name,
                    if u.disabled { "disabled" } else { "active" },
                    if u.mfa_enrolled() { "on" } else { "off" },
                    roles.join(", ")
                );
            }
        }
    }
    checkpoint(&store, cfg).await?;
    Ok(())
}

/// `carepath calc`: no configuration or database needed.
fn calc(name: &str, input: &str) -> std::process::ExitCode {
    use std::io::Read;
    let fail = |field: &str, message: String| {
        let e =
            serde_json::json!({"error": {"code": "invalid", "field": field, "message": message}});
        println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
        std::process::ExitCode::from(2)
    };
    let mut text = String::new();
    let read = if input == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(input).map(|t| text = t)
    };
    if let Err(e) = read {
        return fail("input", format!("cannot read {input}: {e}"));
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return fail("input", format!("not valid JSON: {e}")),
    };
    let ctx = carepath_clinical::calc::Context {
        now: Some(carepath_app::clock::SystemClock.now().to_string()),
    };
    match carepath_clinical::calc::run(name, value, &ctx) {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&e.to_json()).unwrap_or_default()
            );
            std::process::ExitCode::from(2)
        }
    }
}

async fn finder_import(app: &App, file: &std::path::Path, format: Option<&str>) -> Result<()> {
    use carepath_finder::import::Format;
    let fmt = match format {
        None => None,
        Some(f) => Some(Format::parse(f).with_context(|| {
            format!("format: {f:?} is not samhsa-csv, samhsa-keys or otp-directory")
        })?),
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message("importing the directory");
    // One unit of work, so a failure leaves the directory as it was.
    let r =
        carepath_app::finder::import(app, &operator(), &bytes, fmt, &file.display().to_string())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    pb.finish_and_clear();
    let report = &r.report;
    println!(
        "{} ({}): {} rows read; {} new facilities, {} merged with existing listings, {} skipped",
        file.display(),
        r.format.name(),
        report.rows,
        report.added,
        report.merged,
        report.skipped.len()
    );
    for s in &report.skipped {
        println!("  skipped line {}: {}", s.line, s.reason);
    }
    if !report.unknown_codes.is_empty() {
        let list: Vec<String> = report
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        println!(
            "  service codes kept as written (not in Carepath's vocabulary): {}",
            list.join(" ")
        );
    }
    println!("directory: {} facilities (was {})", r.total, r.before);
    Ok(())
}
