//! The outside check, kept running: schemathesis generates requests from the
//! served OpenAPI document — anonymously and with a clinical token — and
//! fails on any server error or any answer the document does not describe
//! (status code, content type, body schema). Bounded and seeded, so a run
//! takes a few minutes and repeats. Skips (loudly) when `st` is not
//! installed, except under CI, where `.ci/run` installs it.

use carepath_app::auth;
use carepath_domain::authz::Role;
use carepath_e2e::skip_or_fail;
use carepath_testkit::{TestDb, World};
use std::process::Command;

fn st() -> Option<String> {
    let candidates = [
        std::env::var("SCHEMATHESIS").ok(),
        Some("/var/tmp/carepath-venv/bin/st".into()),
        Some("st".into()),
    ];
    candidates.into_iter().flatten().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The credential a run sends, and which operations it tests.
enum Cred {
    None,
    /// A staff API token: every operation but the portal's.
    Bearer(String),
    /// A patient's portal session: the portal's operations only.
    Portal(String),
}

fn run(
    st: &str,
    base: &str,
    cred: Cred,
    config: Option<&std::path::Path>,
    report: &std::path::Path,
) -> (bool, String) {
    let mut c = Command::new(st);
    if let Some(f) = config {
        c.arg("--config-file").arg(f);
    }
    c.args(["run", &format!("{base}/api/v1/openapi.json")])
        .args(["--url", base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "100", "--seed", "20261201"])
        .args(["--generation-deterministic", "--no-shrink"])
        .args(["--workers", "2", "--request-timeout", "10"])
        .args(["--report", "ndjson", "--report-dir"])
        .arg(report)
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    match cred {
        Cred::None => {}
        Cred::Bearer(t) => {
            c.args(["-H", &format!("Authorization: Bearer {t}")]);
            c.args(["--exclude-path-regex", "^/api/v1/portal/"]);
        }
        Cred::Portal(t) => {
            c.args(["-H", &format!("Cookie: carepath_portal={t}")]);
            c.args(["--include-path-regex", "^/api/v1/portal/"]);
        }
    }
    let out = c.output().expect("run schemathesis");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_api_matches_its_openapi_document() {
    let Some(st) = st() else {
        return skip_or_fail("schemathesis (pip install schemathesis)");
    };
    let w = World::new(TestDb::sqlite().await).await;
    let nurse = w.principal(Role::Nurse).await;
    let token = auth::issue_token(
        &w.app,
        &nurse,
        "schemathesis",
        &[
            "read_demographics".into(),
            "read_clinical".into(),
            "write_clinical".into(),
            "view_dashboard".into(),
            "use_calculators".into(),
        ],
        1,
    )
    .await
    .unwrap();
    // With the token, path parameters name things that exist, so the
    // generated requests reach the handlers' own checks (anonymous runs keep
    // random ids).
    carepath_app::chart::admit(
        &w.app,
        &carepath_testkit::system(),
        w.patient_a,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let counselor = w.principal(Role::Counselor).await;
    let session = carepath_app::work::schedule(
        &w.app,
        &counselor,
        w.a,
        &carepath_app::work::SeriesInput {
            kind: "group".into(),
            title: "Group".into(),
            modality: "process".into(),
            start_date: "2030-01-07".into(),
            time: "10:00".into(),
            minutes: 60,
            weekdays: vec![],
            weeks: 1,
            location: String::new(),
        },
    )
    .await
    .unwrap()
    .remove(0);
    let mut items = serde_json::Map::new();
    for (name, _) in carepath_clinical::cows::ITEMS.iter() {
        items.insert(name.to_string(), 0.into());
    }
    let (record, _) = carepath_app::chart::create(
        &w.app,
        &nurse,
        w.patient_a,
        &carepath_app::kinds::Input::from_json(
            carepath_app::kinds::Kind::Cows,
            serde_json::json!({"items": items, "vitals": {"hr": 80}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let report = tempfile::tempdir().unwrap();
    let config = report.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.id\" = \"{}\"\n\"path.pid\" = \"{}\"\n\"path.sid\" = \"{session}\"\n\
             \"path.rid\" = \"{record}\"\n\"path.kind\" = \"cows\"\n\"path.name\" = \"cows\"\n",
            w.patient_a, w.a
        ),
    )
    .unwrap();
    let base = w.base.clone();
    let (st2, base2, dir) = (st.clone(), base.clone(), report.path().to_path_buf());
    let anonymous = tokio::task::spawn_blocking(move || {
        run(&st2, &base2, Cred::None, None, &dir.join("anonymous"))
    })
    .await
    .unwrap();
    let dir = report.path().to_path_buf();
    let (st3, base3, config3) = (st.clone(), base.clone(), config.clone());
    let clinical = tokio::task::spawn_blocking(move || {
        run(
            &st3,
            &base3,
            Cred::Bearer(token),
            Some(&config3),
            &dir.join("clinical"),
        )
    })
    .await
    .unwrap();
    // The portal's operations with a patient's session.
    let inv = carepath_app::portal::invite(&w.app, &carepath_testkit::system(), w.patient_a)
        .await
        .unwrap();
    let session = carepath_app::portal::join(
        &w.app,
        &carepath_app::portal::JoinInput {
            code: inv.code,
            username: "alpha.portal".into(),
            password: carepath_testkit::PW.into(),
            confirm: carepath_testkit::PW.into(),
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap();
    let dir = report.path().to_path_buf();
    let portal = tokio::task::spawn_blocking(move || {
        run(
            &st,
            &base,
            Cred::Portal(session),
            Some(&config),
            &dir.join("portal"),
        )
    })
    .await
    .unwrap();
    for (who, (ok, text)) in [
        ("anonymous", anonymous),
        ("clinical token", clinical),
        ("portal session", portal),
    ] {
        // A failure is a finding about Carepath: fail. An error of the
        // tool's own ("Runtime Error": Hypothesis tripping over its
        // Python) is not, and is reported; any other error (network: the
        // server hung or dropped the connection) is.
        let summary = text.split("SUMMARY").nth(1).unwrap_or(&text);
        let findings = summary.contains("Failures:")
            || summary
                .lines()
                .skip_while(|l| !l.trim_start().starts_with("Errors:"))
                .skip(1)
                .take_while(|l| l.trim_start().starts_with('🚫'))
                .any(|l| !l.contains("Runtime Error"));
        assert!(
            ok || !findings,
            "schemathesis ({who}) found problems:\n{text}"
        );
        if !ok {
            eprintln!("schemathesis ({who}): the tool reported internal errors only:\n{summary}");
        }
        // The figures, for the record (cargo test --nocapture shows them).
        let summary: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .filter(|l| !l.trim().is_empty())
            .collect();
        eprintln!("schemathesis ({who}):\n{}", summary.join("\n"));
        if who != "anonymous" {
            assert!(
                !text.contains("401 Unauthorized"),
                "the clinical token must reach the handlers:\n{text}"
            );
        }
    }
}
