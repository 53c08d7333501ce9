//! The `carepath` binary end to end: demo seeding, audit verify (and its
//! detection of a one-byte change), backup and restore with refusals.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn carepath(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_carepath"));
    c.env("CAREPATH_DATA_DIR", dir)
        .env_remove("CAREPATH_DATABASE_URL")
        .env("CAREPATH_LOG", "warn");
    c
}

/// Seed the demo clinic into `dir` (no server); its output, once it succeeded.
fn demo(dir: &std::path::Path) -> std::process::Output {
    let out = carepath(dir)
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test]
async fn demo_verify_tamper_backup_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = demo(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dr.okafor") && text.contains("auditor.kim"),
        "{text}"
    );
    // Deterministic: the same seed gives the same TOTP secret line twice.
    let again = carepath(&dir)
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("Reopened"));
    assert_eq!(
        text.lines().find(|l| l.starts_with("admin ")),
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .find(|l| l.starts_with("admin "))
    );

    let v = carepath(&dir).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    // The database, its key, checkpoints and the demo's secrets are the
    // owner's alone.
    for f in [
        "carepath.sqlite3",
        "audit.key",
        "audit-checkpoints",
        "demo-logins.txt",
    ] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // Another demo installation gets second-factor secrets of its own.
    let elsewhere = tmp.path().join("elsewhere");
    let out2 = carepath(&elsewhere)
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(&elsewhere)
        .output()
        .unwrap();
    let admin_line = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.starts_with("admin "))
            .map(str::to_string)
    };
    assert_ne!(admin_line(&out), admin_line(&out2));

    // The demo shows patients at every step of the path.
    {
        let url = format!("sqlite://{}", dir.join("carepath.sqlite3").display());
        let store = carepath_store::Store::connect(&url).await.unwrap();
        let programs = store.list_programs().await.unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        let mut unsigned_orders = 0;
        let mut awaiting_cosign = 0;
        let mut amended = 0;
        for g in &programs {
            for kind in [
                "assessment",
                "cows",
                "order",
                "plan",
                "note",
                "consent",
                "attendance",
                "discharge",
                "followup",
                "followup_outcome",
                "enrollment",
            ] {
                let rs = store
                    .program_records(g.id, kind, 0, None, carepath_store::Pending::All)
                    .await
                    .unwrap();
                if !rs.is_empty() {
                    kinds.insert(kind);
                }
                unsigned_orders += rs
                    .iter()
                    .filter(|r| r.kind == "order" && !r.is_signed())
                    .count();
                awaiting_cosign += rs
                    .iter()
                    .filter(|r| r.kind == "note" && r.is_signed() && r.awaits_cosign())
                    .count();
                amended += rs.iter().filter(|r| r.amends.is_some()).count();
            }
        }
        assert_eq!(kinds.len(), 11, "{kinds:?}");
        assert!(unsigned_orders > 0 && awaiting_cosign > 0 && amended > 0);
        assert!(
            !store
                .referrals(&programs.iter().map(|g| g.id).collect::<Vec<_>>(), false)
                .await
                .unwrap()
                .is_empty(),
            "call-backs waiting"
        );
        // The opioid treatment program's outcomes have something to say on
        // every dashboard: doses and missed days, tests, incentives, an
        // overdose, follow-up calls, and the way from a call to a first dose.
        let app = carepath_app::App::new(store.clone(), Default::default());
        let otp = programs
            .iter()
            .find(|g| g.name == "Riverside Opioid Treatment Program")
            .unwrap();
        let tz = jiff::tz::TimeZone::get(&otp.timezone).unwrap();
        let w = carepath_app::dashboard::Window::last_months(app.now_us(), &tz, 12);
        let o = carepath_app::dashboard::outcomes_of(&app, otp, &w)
            .await
            .unwrap();
        let sum = |f: &dyn Fn(&carepath_app::dashboard::Month) -> i64| -> i64 {
            o.months.iter().map(f).sum()
        };
        assert!(sum(&|m| m.doses) > 1_000, "{:?}", o.months);
        assert!(
            sum(&|m| m.due_days) > sum(&|m| m.covered_days),
            "{:?}",
            o.months
        );
        assert!(sum(&|m| m.covered_days) > 0);
        assert!(sum(&|m| m.tests_negative) > 0 && sum(&|m| m.tests) > sum(&|m| m.tests_negative));
        assert!(sum(&|m| m.cm_earned_cents) > 0 && o.cm_annual_budget_cents > 0);
        assert!(sum(&|m| m.overdoses) >= 1);
        assert!(
            o.timing
                .iter()
                .any(|t| t.from_call > 0 && t.call_to_first_dose_h.is_some())
        );
        let wm = programs
            .iter()
            .find(|g| g.name == "Harbor House Withdrawal Management")
            .unwrap();
        let o = carepath_app::dashboard::outcomes_of(&app, wm, &w)
            .await
            .unwrap();
        assert!(o.months.iter().map(|m| m.followups_due).sum::<i64>() > 0);
        assert!(o.months.iter().map(|m| m.followups_reached).sum::<i64>() > 0);
        store.close().await;
    }

    let backup = tmp.path().join("b.cpb");
    let b = carepath(&dir)
        .arg("backup")
        .arg(&backup)
        .env("CAREPATH_BACKUP_PASSPHRASE", "twelve chars or more")
        .arg("--passphrase")
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));

    // Change one byte of one stored audit event (bypassing the append-only trigger).
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("carepath.sqlite3").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("DROP TRIGGER audit_event_no_update; UPDATE audit_event SET action = 'patient.creatE' WHERE seq = 100")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let v = carepath(&dir).args(["audit", "verify"]).output().unwrap();
    assert_eq!(v.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("#100"),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );

    // Restore refuses a wrong passphrase and a foreign file, changing nothing...
    let r = carepath(&dir)
        .arg("restore")
        .arg(&backup)
        .arg("--passphrase")
        .env("CAREPATH_BACKUP_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("wrong passphrase"));
    let foreign = tmp.path().join("foreign.bin");
    std::fs::write(&foreign, b"SQLite format 3\0 not really").unwrap();
    let r = carepath(&dir)
        .arg("restore")
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a Carepath backup"));
    assert_eq!(
        carepath(&dir)
            .args(["audit", "verify"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1),
        "still the tampered file"
    );
    // ...and with the right passphrase brings back the intact chain.
    let r = carepath(&dir)
        .arg("restore")
        .arg(&backup)
        .arg("--passphrase")
        .env("CAREPATH_BACKUP_PASSPHRASE", "twelve chars or more")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        carepath(&dir)
            .args(["audit", "verify"])
            .output()
            .unwrap()
            .status
            .success()
    );

    // Backups prove where they come from. A plain backup, edited inside
    // (a dose changed, the administrator's second factor removed, the audit
    // log wiped) with its checksum recomputed, is refused by its seal...
    let plain = tmp.path().join("plain.cpb");
    let b = carepath(&dir).arg("backup").arg(&plain).output().unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    for (what, sql) in [
        (
            "dose",
            "DROP TRIGGER clinical_record_no_update; UPDATE clinical_record SET summary = 'Given: clonidine 0.3 mg' WHERE kind = 'order'",
        ),
        (
            "second factor",
            "UPDATE staff_user SET totp_secret = NULL WHERE username = 'admin'",
        ),
        (
            "audit log",
            "DROP TRIGGER audit_event_no_delete; DELETE FROM audit_event; UPDATE audit_head SET seq = 0",
        ),
    ] {
        let forged = tmp
            .path()
            .join(format!("forged-{}.cpb", what.replace(' ', "-")));
        forge_backup(&plain, &forged, sql).await;
        let r = carepath(&dir).arg("restore").arg(&forged).output().unwrap();
        assert!(!r.status.success(), "{what}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("seal does not verify"),
            "{what}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    // ...so is another installation's backup, unless its key is given to
    // move that installation here.
    let other = tmp.path().join("other");
    assert!(
        carepath(&other)
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
    let theirs = tmp.path().join("theirs.cpb");
    assert!(
        carepath(&other)
            .arg("backup")
            .arg(&theirs)
            .output()
            .unwrap()
            .status
            .success()
    );
    let r = carepath(&dir).arg("restore").arg(&theirs).output().unwrap();
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("made by installation"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let moved = tmp.path().join("moved");
    let r = carepath(&moved)
        .arg("restore")
        .arg(&theirs)
        .arg("--key")
        .arg(other.join("audit.key"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v = carepath(&moved).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(
        std::fs::metadata(plain.as_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "backups are the owner's alone"
    );
    assert!(
        carepath(&dir)
            .args(["audit", "verify"])
            .output()
            .unwrap()
            .status
            .success(),
        "nothing was changed by the refused restores"
    );

    // Bad input to `user add`: non-zero exit and a message naming the field.
    let u = carepath(&dir)
        .args(["user", "add", "Bad Name", "--name", "x", "--role", "nurse"])
        .env("CAREPATH_NEW_PASSWORD", "a fine long password")
        .output()
        .unwrap();
    assert!(!u.status.success());
    assert!(String::from_utf8_lossy(&u.stderr).contains("username"));
    let u = carepath(&dir)
        .args([
            "user",
            "add",
            "new.nurse",
            "--name",
            "New Nurse",
            "--role",
            "nurse",
            "--program",
            "Harbor House Residential",
        ])
        .env("CAREPATH_NEW_PASSWORD", "a fine long password")
        .output()
        .unwrap();
    assert!(u.status.success(), "{}", String::from_utf8_lossy(&u.stderr));
}

/// PostgreSQL: backup with pg_dump, tamper, restore with pg_restore; a backup of
/// the other kind is refused. Runs when `CAREPATH_TEST_POSTGRES_URL` is set.
#[tokio::test]
async fn postgres_backup_and_restore() {
    let Some(db) = carepath_testkit::TestDb::postgres().await else {
        eprintln!("SKIPPED: CAREPATH_TEST_POSTGRES_URL not set");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = &db.store;
    let app = carepath_app::App::new(s.clone(), Default::default());
    let sys = carepath_app::Principal::system("test");
    let org = carepath_app::admin::create_organization(&app, &sys, "PG Org")
        .await
        .unwrap();
    carepath_app::admin::create_program(
        &app,
        &sys,
        org.id,
        &carepath_store::NewProgram {
            name: "PG OTP".into(),
            kind: carepath_domain::program::ProgramKind::OpioidTreatmentProgram,
            address: "x".into(),
            timezone: "America/Denver".into(),
            hours: "x".into(),
        },
    )
    .await
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_carepath"))
            .env("CAREPATH_DATABASE_URL", &db.url)
            .env("CAREPATH_DATA_DIR", tmp.path())
            .env("CAREPATH_LOG", "warn")
            .args(args)
            .output()
            .unwrap()
    };
    // This installation's key, where the CLI looks for it.
    carepath_store::integrity::write_key(&tmp.path().join("audit.key"), &db.key).unwrap();
    let backup = tmp.path().join("pg.cpb");
    let b = run(&["backup", backup.to_str().unwrap()]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    // The backup itself is audited as an export.
    let before = s.audit_count().await.unwrap();
    assert!(
        s.audit_events(&carepath_store::AuditFilter {
            action: Some("backup.export".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .events
        .len()
            == 1
    );
    db.exec_raw("ALTER TABLE audit_event DISABLE TRIGGER USER; UPDATE audit_event SET detail = 'x' WHERE seq = 1; ALTER TABLE audit_event ENABLE TRIGGER USER")
        .await
        .unwrap();
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(1));
    // A backup of an SQLite database is refused here.
    let sqlite_dir = tmp.path().join("sq");
    let d = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .env_remove("CAREPATH_DATABASE_URL")
        .env("CAREPATH_LOG", "warn")
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(&sqlite_dir)
        .output()
        .unwrap();
    assert!(d.status.success());
    let sq_backup = tmp.path().join("sq.cpb");
    let b = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .env("CAREPATH_DATA_DIR", &sqlite_dir)
        .env_remove("CAREPATH_DATABASE_URL")
        .arg("backup")
        .arg(&sq_backup)
        .output()
        .unwrap();
    assert!(b.status.success());
    let r = run(&["restore", sq_backup.to_str().unwrap()]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("configured database is PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // The real restore brings the intact chain back.
    s.close().await;
    let r = run(&["restore", backup.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v = run(&["audit", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let fresh = carepath_store::Store::connect(&db.url).await.unwrap();
    // Everything up to the backup, plus the restore's own event.
    assert_eq!(fresh.audit_count().await.unwrap(), before + 1);
    fresh.close().await;
}

/// `carepath calc` prints what the engine computes for every documented
/// example; bad input exits 2 with a JSON error naming the field.
#[test]
fn calc_matches_the_engine_and_rejects_bad_input() {
    use std::io::Write;
    use std::process::Stdio;
    let ctx = carepath_clinical::calc::Context {
        now: Some(jiff::Timestamp::now().to_string()),
    };
    let calc = |name: &str, input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(["calc", name, "--input", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    for (name, input, _) in carepath_clinical::calc::documented_examples() {
        let out = calc(&name, &input.to_string());
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            got,
            carepath_clinical::calc::run(&name, input, &ctx).unwrap(),
            "{name}"
        );
    }
    let out = calc(
        "take-home",
        r#"{"policy": "federal-2024", "medication": "methadone", "days_in_treatment": 3, "treatment_type": "maintenance", "criteria": {}}"#,
    );
    assert_eq!(out.status.code(), Some(2));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["field"], "criteria.no_active_substance_use");
    let out = calc("take-home", r#"{"policy": "texas"}"#);
    assert_eq!(out.status.code(), Some(2));
    let out = calc("cows", "not json");
    assert_eq!(out.status.code(), Some(2));
}

/// `carepath serve` reads a TOML config, answers /readyz, and a second server
/// on the same data directory refuses to start.
#[test]
fn serve_from_config_file_and_lock() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = tmp.path().join("carepath.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{port}\"\n\n[web]\nidle_timeout_secs = 600\n",
            tmp.path().join("data")
        ),
    )
    .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .env_remove("CAREPATH_DATABASE_URL")
        .env_remove("CAREPATH_DATA_DIR")
        .env("CAREPATH_LOG", "warn")
        .spawn()
        .unwrap();
    let mut ready = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            s.read_to_string(&mut ready).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .env_remove("CAREPATH_DATABASE_URL")
        .env_remove("CAREPATH_DATA_DIR")
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("locked"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["--config", "/nonexistent.toml", "serve"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

/// Every subcommand takes `--data-dir` and `--database-url`, before or after
/// its own arguments, with nothing in the environment.
#[test]
fn data_dir_and_database_url_where_a_user_types_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clinic");
    let csv = tmp.path().join("otp.csv");
    // Three rows in the shape of SAMHSA's OTP directory.
    std::fs::write(
        &csv,
        "ID,ADDRESS,CITY,STATE,POSTAL,Latitude,Longitude\n\
         Harbor Methadone Clinic,12 Pier Road,Baltimore,MD,21230,39.2704,-76.6094\n\
         Valley Recovery OTP,400 Main St,Fresno,CA,93721,36.7378,-119.7871\n\
         Lakeside Opioid Treatment,9 Shore Dr,Chicago,IL,60611,41.8925,-87.6160\n",
    )
    .unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(args)
            .env_remove("CAREPATH_DATABASE_URL")
            .env_remove("CAREPATH_DATA_DIR")
            .env_remove("CAREPATH_CONFIG")
            .env("CAREPATH_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let (ok, text) = run(&[
        &os("finder"),
        &os("import"),
        csv.as_os_str(),
        &os("--data-dir"),
        dir.as_os_str(),
    ]);
    assert!(ok, "{text}");
    assert!(dir.join("carepath.sqlite3").exists(), "{text}");
    let (ok, text) = run(&[
        &os("audit"),
        &os("verify"),
        &os("--data-dir"),
        dir.as_os_str(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("intact"), "{text}");
    // The same database named by URL, flag before the subcommand.
    let url = format!("sqlite://{}", dir.join("carepath.sqlite3").display());
    let (ok, text) = run(&[
        &os("--database-url"),
        &os(&url),
        &os("audit"),
        &os("verify"),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("intact"), "{text}");
}

/// Rewrite a plain backup as a forger without the key would: change the
/// database inside with `sql`, recompute the size and checksum, keep the
/// header's seal.
async fn forge_backup(from: &std::path::Path, to: &std::path::Path, sql: &str) {
    use sha2::{Digest, Sha256};
    let raw = std::fs::read(from).unwrap();
    let magic = b"CAREPATH-BACKUP 2\n";
    assert!(raw.starts_with(magic));
    let rest = &raw[magic.len()..];
    let nl = rest.iter().position(|b| *b == b'\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&rest[..nl]).unwrap();
    let db = tempfile::tempdir().unwrap();
    let path = db.path().join("x.sqlite3");
    std::fs::write(&path, &rest[nl + 1..]).unwrap();
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let payload = std::fs::read(&path).unwrap();
    header["size"] = payload.len().into();
    header["sha256"] = hex::encode(Sha256::digest(&payload)).into();
    let mut out = magic.to_vec();
    out.extend(serde_json::to_vec(&header).unwrap());
    out.push(b'\n');
    out.extend(payload);
    std::fs::write(to, out).unwrap();
}

/// kill -9 mid-rush, three times, on SQLite and (when configured)
/// PostgreSQL: every acknowledged dose survives the restart, nobody is dosed
/// twice, the audit chain verifies (the checks are in `bench_crash`, which
/// exits non-zero when one fails).
#[test]
fn kill_dash_nine_mid_rush_loses_no_acknowledged_dose() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = carepath(tmp.path());
    c.args([
        "bench",
        "dosing",
        "--patients",
        "150",
        "--clients",
        "12",
        "--crash",
        "3",
    ]);
    if let Ok(pg) = std::env::var("CAREPATH_TEST_POSTGRES_URL") {
        c.args(["--postgres", &pg]);
    }
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("SQLite: crash test passed: 3 × kill -9"),
        "{text}"
    );
    if std::env::var("CAREPATH_TEST_POSTGRES_URL").is_ok() {
        assert!(text.contains("PostgreSQL: crash test passed"), "{text}");
    }
}

/// `carepath lab import` files a demo patient's results and exits 2 naming
/// a rejected message; `carepath serve --mllp` answers framed messages with
/// framed ACKs.
#[tokio::test]
async fn lab_import_and_mllp() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    demo(&dir);
    let url = format!("sqlite://{}", dir.join("carepath.sqlite3").display());
    let store = carepath_store::Store::connect(&url).await.unwrap();
    let program = store
        .list_programs()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.kind == carepath_domain::program::ProgramKind::OpioidTreatmentProgram)
        .unwrap();
    let p = store
        .search_patients(
            &[program.id],
            &carepath_store::PatientSearch {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .remove(0);
    store.close().await;
    let msg = |control: &str, status: &str| {
        format!(
            "MSH|^~\\&|TOXLAB|ACMELAB|CAREPATH|OTP|20261201083000||ORU^R01^ORU_R01|{control}|P|2.5.1\r\
             PID|1||{}^^^CAREPATH^MR||{}^{}||{}\r\
             OBR|1||ACC-{control}|URDS^Urine drug screen^L|||20261130091500\r\
             OBX|1|CWE|3773-9^Methadone^LN||260373001^Detected^SCT|||A|||{status}",
            p.mrn,
            p.legal_last_name,
            p.legal_first_name,
            p.date_of_birth.replace('-', "")
        )
    };
    let file = tmp.path().join("results.hl7");
    // Two messages in one file (newline-separated segments, as files are).
    std::fs::write(
        &file,
        format!("{}\n{}\n", msg("CLI-1", "F"), msg("CLI-2", "F")).replace('\r', "\n"),
    )
    .unwrap();
    let o = carepath(&dir)
        .args(["lab", "import", "--program", &program.name])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(text.matches("AA filed (1 results)").count(), 2, "{text}");
    // A rejected message: exit 2, the problem named.
    std::fs::write(&file, msg("CLI-3", "X")).unwrap();
    let o = carepath(&dir)
        .args([
            "lab",
            "import",
            "--ack",
            "--program",
            &program.id.to_string(),
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("AE rejected") && text.contains("OBX[1]-11"),
        "{text}"
    );
    assert!(text.contains("MSA|AE|CLI-3"), "{text}");
    let none = carepath(&dir)
        .args(["lab", "import", "--program", "Nowhere"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no program named"));

    // MLLP: the server's listener answers each framed message in order.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (http, mllp) = (free(), free());
    let mut server = carepath(&dir)
        .args([
            "serve",
            "--mllp",
            &format!("127.0.0.1:{mllp}"),
            "--lab-program",
            &program.name,
        ])
        .env("CAREPATH_LISTEN", format!("127.0.0.1:{http}"))
        .spawn()
        .unwrap();
    let mut sock = None;
    for _ in 0..100 {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", mllp)) {
            sock = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut sock = sock.expect("the MLLP listener is up");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let frame = |m: &str| {
        let mut v = vec![0x0b];
        v.extend_from_slice(m.as_bytes());
        v.extend_from_slice(&[0x1c, 0x0d]);
        v
    };
    let mut bytes = frame(&msg("MLLP-1", "F"));
    bytes.extend(frame(&msg("MLLP-1", "F")));
    bytes.extend(frame("garbage"));
    sock.write_all(&bytes).unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while got.iter().filter(|b| **b == 0x1c).count() < 3 {
        let n = sock.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&got);
    let acks: Vec<&str> = text.split('\u{1c}').filter(|s| s.contains("MSA")).collect();
    assert_eq!(acks.len(), 3, "{text}");
    assert!(acks[0].contains("MSA|AA|MLLP-1"), "{}", acks[0]);
    assert!(
        acks[1].contains("MSA|AA|MLLP-1"),
        "a repeat is answered the same: {}",
        acks[1]
    );
    assert!(acks[2].contains("MSA|AR"), "{}", acks[2]);
}

/// `carepath fhir bulk` over the demo's opioid treatment program: NDJSON per
/// resource type, each patient only under a consent that permits the
/// recipient and purpose (the demo's TPO consents permit treatment), each
/// release in that patient's accounting of disclosures; every resource is
/// labelled 42 CFR Part 2 and passes the outside validator (`fhir.resources`
/// < 7). A purpose no consent covers releases nobody.
#[tokio::test]
async fn fhir_bulk_export_of_the_demo_is_consented_and_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    demo(&dir);
    let export = tmp.path().join("fhir");
    let bulk_of = |program: &str, purpose: &str, out_dir: &std::path::Path| {
        carepath(&dir)
            .args([
                "fhir",
                "bulk",
                "--program",
                program,
                "--recipient",
                "Mercy Hospital emergency department",
                "--purpose",
                purpose,
                "--as",
                "intake.patel",
                "--out",
            ])
            .arg(out_dir)
            .output()
            .unwrap()
    };
    let bulk = |purpose: &str, out_dir: &std::path::Path| {
        bulk_of("Riverside Opioid Treatment Program", purpose, out_dir)
    };
    // Research is not treatment, payment or operations: nobody goes.
    let none = bulk("research", &tmp.path().join("none"));
    assert!(
        none.status.success(),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let text = String::from_utf8_lossy(&none.stdout);
    assert!(text.contains("fhir bulk: 0 patients released"), "{text}");
    let r = bulk("treatment", &export);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8_lossy(&r.stdout);
    let released: usize = text
        .split("fhir bulk: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(released >= 20, "{text}");
    assert!(text.contains("left out: no consent permits it"), "{text}");
    let mut files = vec![];
    let mut total = 0;
    for e in std::fs::read_dir(&export).unwrap() {
        let path = e.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        for line in body.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                format!("{}.ndjson", v["resourceType"].as_str().unwrap()),
                path.file_name().unwrap().to_str().unwrap()
            );
            assert!(v["meta"]["security"].to_string().contains("42CFRPart2"));
            total += 1;
        }
        files.push(path);
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // The unit and the residence too: every program's consented records.
    let mut released_all = released;
    for (k, program) in [
        "Harbor House Withdrawal Management",
        "Harbor House Residential",
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("fhir-{k}"));
        let r = bulk_of(program, "treatment", &out);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let text = String::from_utf8_lossy(&r.stdout);
        let n: usize = text
            .split("fhir bulk: ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{text}"));
        assert!(n > 0, "{program}: {text}");
        released_all += n;
        for e in std::fs::read_dir(&out).unwrap() {
            let path = e.unwrap().path();
            total += std::fs::read_to_string(&path).unwrap().lines().count();
            files.push(path);
        }
    }
    for want in [
        "Patient.ndjson",
        "EpisodeOfCare.ndjson",
        "Consent.ndjson",
        "MedicationRequest.ndjson",
        "MedicationAdministration.ndjson",
        "Observation.ndjson",
    ] {
        assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
    }
    // Each released patient is in the accounting: the audit trail says so.
    let v = carepath(&dir).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.join("carepath.sqlite3").display()
    ))
    .await
    .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM disclosure WHERE channel = 'fhir-bulk'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n as usize, released_all);
    if let Some(py) = carepath_testkit::fhir_validator() {
        let v = carepath_testkit::validate_fhir_files(&py, &files);
        assert!(
            v.valid,
            "{}",
            v.report
                .lines()
                .filter(|l| !l.starts_with("ok "))
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(
            v.report.lines().filter(|l| l.starts_with("ok ")).count(),
            total
        );
    }
}

/// The state report of the demo: every admission and discharge of the last
/// quarter, and of the last 95 days in each program, is a complete TEDS
/// record (zero problems, exit 0); a re-run writes the same bytes.
#[tokio::test]
async fn teds_extract_of_the_demo_is_complete_and_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    demo(&dir);
    let teds = |program: &str, period: Option<(&str, &str)>, out_dir: &std::path::Path| {
        let mut c = carepath(&dir);
        c.args([
            "teds",
            "--program",
            program,
            "--as",
            "intake.patel",
            "--out",
        ])
        .arg(out_dir);
        if let Some((f, t)) = period {
            c.args(["--from", f, "--to", t]);
        }
        let r = c.output().unwrap();
        let text = String::from_utf8_lossy(&r.stdout).to_string();
        assert!(
            r.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(text.contains("; 0 records with problems;"), "{text}");
        text
    };
    let count = |text: &str, what: &str| -> usize {
        text.split(&format!(" {what}"))
            .next()
            .and_then(|t| t.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{text}"))
    };
    let today = jiff::Zoned::now().date();
    let from = today
        .checked_sub(jiff::Span::new().days(95))
        .unwrap()
        .to_string();
    let to = today.to_string();
    let mut admissions = 0;
    let mut discharges = 0;
    for program in [
        "Riverside Opioid Treatment Program",
        "Harbor House Withdrawal Management",
        "Harbor House Residential",
    ] {
        teds(program, None, &tmp.path().join("quarter"));
        let a = tmp.path().join("a");
        let t1 = teds(program, Some((&from, &to)), &a);
        admissions += count(&t1, "admissions,");
        discharges += count(&t1, "discharges;");
        let b = tmp.path().join("b");
        let t2 = teds(program, Some((&from, &to)), &b);
        let digest = |t: &str| t.rsplit("sha256 ").next().unwrap().trim().to_string();
        assert_eq!(digest(&t1), digest(&t2), "a re-run gives the same extract");
        for e in std::fs::read_dir(&a).unwrap() {
            let e = e.unwrap();
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(b.join(e.file_name())).unwrap()
            );
        }
    }
    assert!(admissions >= 150, "{admissions} admissions");
    assert!(discharges >= 50, "{discharges} discharges");
    let file = std::fs::read_dir(tmp.path().join("a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("teds-admissions-"))
        .unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header.len(), 41);
    assert_eq!(
        &header[..4],
        ["RECORD_TYPE", "PROVIDER", "CASEID", "CLIENTID"]
    );
    for line in text.lines().skip(1) {
        assert_eq!(line.split(',').count(), 41, "{line}");
        assert!(line.starts_with("A,"));
    }
}
