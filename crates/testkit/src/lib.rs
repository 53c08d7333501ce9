//! The shared test kit: fresh databases ([`TestDb`]), a seeded [`World`] of
//! two programs, staff in every role and a patient in each program (written
//! through the application's services by a system actor, as the demo is),
//! the real server on a loopback port, and HTTP helpers.

pub mod db;

pub use db::{PG_ENV, TestDb};

use carepath_app::{App, Principal, Settings, admin, registration};
use carepath_domain::authz::Role;
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_domain::program::ProgramKind;
use carepath_store::{Backend, NewProgram, Store};

/// The password of every test account.
pub const PW: &str = "correct horse battery staple";
/// The TOTP secret of the accounts that need a second factor.
pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// Settings for tests: sign-in rate limits out of the way.
pub fn settings() -> Settings {
    Settings {
        login_attempts_per_minute: 1000,
        ..Default::default()
    }
}

/// Two programs (A: an opioid treatment program, B: residential), a staff
/// account in every role in A (`u.<role>`), a patient in each program, and
/// the server on a loopback port.
pub struct World {
    pub app: App,
    pub base: String,
    pub a: ProgramId,
    pub b: ProgramId,
    pub patient_a: PatientId,
    pub patient_b: PatientId,
    pub users: Vec<(Role, UserId, String)>,
    pub db: TestDb,
}

/// A program for tests (Chicago time, an opioid treatment program).
pub fn new_program(name: &str) -> NewProgram {
    NewProgram {
        name: name.into(),
        kind: ProgramKind::OpioidTreatmentProgram,
        address: "x".into(),
        timezone: "America/Chicago".into(),
        hours: "x".into(),
    }
}

/// The operator actor tests seed with.
pub fn system() -> Principal {
    Principal::system("test")
}

impl World {
    pub async fn new(db: TestDb) -> World {
        World::with(db, settings()).await
    }

    pub async fn with(db: TestDb, s: Settings) -> World {
        let app = App::new(db.store.clone(), s);
        let sys = system();
        let org = admin::create_organization(&app, &sys, "T").await.unwrap();
        let mk = |n: &str, kind| NewProgram {
            name: n.into(),
            kind,
            address: "x".into(),
            timezone: "America/Chicago".into(),
            hours: "x".into(),
        };
        let a = admin::create_program(
            &app,
            &sys,
            org.id,
            &mk("A", ProgramKind::OpioidTreatmentProgram),
        )
        .await
        .unwrap()
        .id;
        let b = admin::create_program(&app, &sys, org.id, &mk("B", ProgramKind::Residential))
            .await
            .unwrap()
            .id;
        let reg = |program: ProgramId, first: &str| registration::Registration {
            program_id: program.to_string(),
            legal_first_name: first.into(),
            legal_last_name: "Testcase".into(),
            date_of_birth: "1990-01-02".into(),
            sex: "male".into(),
            confirm_new: true,
            ..Default::default()
        };
        let patient_a = registration::register(&app, &sys, &reg(a, "Alpha"))
            .await
            .unwrap()
            .id;
        let patient_b = registration::register(&app, &sys, &reg(b, "Bravo"))
            .await
            .unwrap()
            .id;
        let mut users = vec![];
        for role in Role::ALL {
            let name = format!("u.{}", role.as_str().replace('_', "-"));
            admin::create_user(
                &app,
                &sys,
                &admin::NewUser {
                    username: name.clone(),
                    display_name: name.clone(),
                    password: PW.into(),
                    program_id: a.to_string(),
                    role: role.as_str().into(),
                },
            )
            .await
            .unwrap();
            let u = admin::user_by_username(&app, &name).await.unwrap().unwrap();
            if role.mfa_required_by_default() {
                admin::assign_second_factor(&app, &sys, u.id, SECRET)
                    .await
                    .unwrap();
            }
            users.push((role, u.id, name));
        }
        let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone()))
            .await
            .unwrap();
        World {
            app,
            base,
            a,
            b,
            patient_a,
            patient_b,
            users,
            db,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// The account of `role` in program A.
    pub fn user(&self, role: Role) -> (UserId, &str) {
        let u = self.users.iter().find(|u| u.0 == role).expect("role");
        (u.1, u.2.as_str())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The principal of `role`'s account in program A, signed in through the
    /// authentication service (second factor given when due) — for tests
    /// that call services without HTTP.
    pub async fn principal(&self, role: Role) -> Principal {
        let (_, name) = self.user(role);
        signed_in(&self.app, name, role.mfa_required_by_default()).await
    }

    /// A browser-like client signed in as `role` (second factor given when due).
    pub async fn login(&self, role: Role) -> reqwest::Client {
        let (_, name) = self.user(role);
        login(&self.base, name, role.mfa_required_by_default()).await
    }
}

/// Sign `username` in through the services and resolve the session to its
/// principal; with `mfa`, pass the second factor first.
pub async fn signed_in(app: &App, username: &str, mfa: bool) -> Principal {
    use carepath_app::auth::{self, Credential, SecondFactor};
    let s = auth::sign_in(app, username, PW.into(), None)
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("sign in {username}"));
    let mut token = s.token;
    let p = auth::resolve(app, Credential::Session(&token), None)
        .await
        .unwrap()
        .unwrap();
    if mfa {
        assert!(!p.mfa_done, "{username}: second factor due");
        match auth::second_factor(app, &p, &code_now()).await.unwrap() {
            SecondFactor::Passed(t) => token = t,
            _ => panic!("second factor for {username}"),
        }
    }
    auth::resolve(app, Credential::Session(&token), None)
        .await
        .unwrap()
        .unwrap()
}

/// A client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The current code of [`SECRET`].
pub fn code_now() -> String {
    carepath_app::auth::totp(SECRET, "x")
        .unwrap()
        .generate_current()
        .to_string()
}

/// Sign in on the pages; with `mfa`, check that clinical pages wait for the
/// second factor, then give it.
pub async fn login(base: &str, username: &str, mfa: bool) -> reqwest::Client {
    use reqwest::StatusCode;
    let c = client();
    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", username), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {username}");
    if mfa {
        assert_eq!(r.headers()["location"], "/mfa");
        let r = c.get(format!("{base}/dashboard")).send().await.unwrap();
        assert_eq!(
            r.headers()["location"],
            "/mfa",
            "no dashboard before the second factor"
        );
        let r = c
            .post(format!("{base}/mfa"))
            .form(&[("code", code_now())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "mfa for {username}");
    }
    c
}

/// GET a JSON document, asserting 200.
pub async fn get_json(c: &reqwest::Client, url: String) -> serde_json::Value {
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

/// GET a page's text, asserting 200.
pub async fn get_text(c: &reqwest::Client, url: String) -> String {
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.text().await.unwrap()
}

/// POST JSON; the status and the JSON answer (null when there is none).
pub async fn post_json(
    c: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    let r = c.post(&url).json(&body).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Run `f` on SQLite, and on PostgreSQL when configured — for tests that
/// name their backend (`…_on_sqlite`, `…_on_postgres`).
pub async fn on(backend: Backend) -> Option<TestDb> {
    TestDb::of(backend).await
}

/// A test that runs once per backend, as two tests named `<name>::sqlite`
/// and `<name>::postgres` (the latter passes with a note when no server is
/// configured), so a failure names its database.
#[macro_export]
macro_rules! both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: $crate::TestDb) $body
            #[tokio::test]
            async fn sqlite() {
                run($crate::TestDb::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                match $crate::TestDb::postgres().await {
                    Some(db) => run(db).await,
                    None => eprintln!("{} is not set: the PostgreSQL run was skipped", $crate::PG_ENV),
                }
            }
        }
    };
}

/// One program on a fresh database, built through the services (browser
/// tests and others that need a small clinic of their own).
pub struct Clinic {
    pub app: App,
    pub program: ProgramId,
    pub db: TestDb,
}

impl Clinic {
    pub async fn new(db: TestDb, name: &str, kind: ProgramKind, timezone: &str) -> Clinic {
        let app = App::new(db.store.clone(), settings());
        let sys = system();
        let org = admin::create_organization(&app, &sys, "Test clinic")
            .await
            .unwrap();
        let program = admin::create_program(
            &app,
            &sys,
            org.id,
            &NewProgram {
                name: name.into(),
                kind,
                address: "x".into(),
                timezone: timezone.into(),
                hours: "x".into(),
            },
        )
        .await
        .unwrap()
        .id;
        Clinic { app, program, db }
    }

    /// A staff account with password [`PW`] holding `roles` in the program;
    /// roles that need a second factor get [`SECRET`].
    pub async fn staff(&self, username: &str, display_name: &str, roles: &[Role]) -> UserId {
        let sys = system();
        admin::create_user(
            &self.app,
            &sys,
            &admin::NewUser {
                username: username.into(),
                display_name: display_name.into(),
                password: PW.into(),
                program_id: self.program.to_string(),
                role: roles[0].as_str().into(),
            },
        )
        .await
        .unwrap();
        let u = admin::user_by_username(&self.app, username)
            .await
            .unwrap()
            .unwrap();
        for r in &roles[1..] {
            admin::change_role(
                &self.app,
                &sys,
                u.id,
                &self.program.to_string(),
                r.as_str(),
                true,
            )
            .await
            .unwrap();
        }
        if roles.iter().any(|r| r.mfa_required_by_default()) {
            admin::assign_second_factor(&self.app, &sys, u.id, SECRET)
                .await
                .unwrap();
        }
        u.id
    }

    /// A patient of the program, admitted at `admit` when given.
    pub async fn patient(
        &self,
        first: &str,
        last: &str,
        date_of_birth: &str,
        admit: Option<ProgramKind>,
    ) -> carepath_store::Patient {
        registration::register(
            &self.app,
            &system(),
            &registration::Registration {
                program_id: self.program.to_string(),
                legal_first_name: first.into(),
                legal_last_name: last.into(),
                date_of_birth: date_of_birth.into(),
                sex: "female".into(),
                admit_level: admit.map(|k| k.as_str().into()),
                confirm_new: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    /// The server on a loopback port: its base URL.
    pub async fn serve(&self) -> String {
        carepath_web::spawn_loopback(carepath_web::AppState::new(self.app.clone()))
            .await
            .unwrap()
    }
}

/// What the outside FHIR validator said of a bundle: whether every resource
/// passed, and its report (a line per resource, "ok Type/id" or
/// "INVALID Type/id: why").
pub struct FhirReport {
    pub valid: bool,
    pub report: String,
}

/// Run the outside validator (`fhir.resources` < 7, PyPI, in the Python that
/// `FHIR_RESOURCES_PYTHON` names; `.ci/run` installs it) over a Bundle and
/// every resource in it (`fhir_validate.py` beside this crate). `None`, said
/// loudly, when it is missing off CI; under CI a missing validator fails.
pub fn validate_fhir(bundle: &serde_json::Value) -> Option<FhirReport> {
    let python = fhir_validator()?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    Some(validate_fhir_files(&python, &[file]))
}

/// The Python with the outside FHIR validator (see [`validate_fhir`]).
pub fn fhir_validator() -> Option<String> {
    match std::env::var("FHIR_RESOURCES_PYTHON") {
        Ok(p) if std::path::Path::new(&p).exists() => Some(p),
        _ if std::env::var("CI").is_ok() => {
            panic!("FHIR_RESOURCES_PYTHON missing: .ci/run must install fhir.resources")
        }
        _ => {
            eprintln!("SKIPPED: the outside FHIR validator (FHIR_RESOURCES_PYTHON)");
            None
        }
    }
}

/// Validate Bundle (`.json`) and Bulk Data (`.ndjson`) files with `python`.
pub fn validate_fhir_files(python: &str, files: &[std::path::PathBuf]) -> FhirReport {
    let out = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/fhir_validate.py"))
        .args(files)
        .output()
        .unwrap();
    FhirReport {
        valid: out.status.success(),
        report: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
