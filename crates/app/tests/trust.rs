//! Trust across programs and against insiders (issue 10), through the
//! services on SQLite and PostgreSQL: administration and audit are scoped to
//! programs, the second factor follows the role and moves only with the
//! password and a current code, credentials die together.

use carepath_app::auth::{self, Credential, EnrolInput};
use carepath_app::{Error, Principal, access, admin};
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{ProgramId, UserId};
use carepath_testkit::{PW, World, both, signed_in, system};

/// A new account with `role` in `program`, created by the operator.
async fn account(w: &World, name: &str, program: ProgramId, role: Role) -> UserId {
    admin::create_user(
        &w.app,
        &system(),
        &admin::NewUser {
            username: name.into(),
            display_name: name.into(),
            password: PW.into(),
            program_id: program.to_string(),
            role: role.as_str().into(),
        },
    )
    .await
    .unwrap();
    admin::user_by_username(&w.app, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, Error>, what: &str) {
    assert!(matches!(r, Err(Error::Forbidden(_))), "{what}: {r:?}");
}

/// An organization-wide administrator (needs the second factor).
async fn org_admin(w: &World) -> (UserId, Principal) {
    let id = account(w, "org.admin", w.a, Role::Nurse).await;
    admin::change_org_role(&w.app, &system(), id, "admin", true)
        .await
        .unwrap();
    admin::assign_second_factor(&w.app, &system(), id, carepath_testkit::SECRET)
        .await
        .unwrap();
    (id, signed_in(&w.app, "org.admin", true).await)
}

both!(administration_is_program_scoped, |db| {
    let w = World::new(db).await;
    let admin_a = w.principal(Role::Admin).await;
    let (admin_id, _) = w.user(Role::Admin);
    let nurse_b = account(&w, "nurse.b", w.b, Role::Nurse).await;
    let (nurse_a, _) = w.user(Role::Nurse);

    // Program A's administrator cannot act in program B…
    let in_b = admin::NewUser {
        username: "new.b".into(),
        display_name: "New B".into(),
        password: PW.into(),
        program_id: w.b.to_string(),
        role: "nurse".into(),
    };
    forbidden(
        admin::create_user(&w.app, &admin_a, &in_b).await,
        "create in B",
    );
    forbidden(
        admin::change_role(&w.app, &admin_a, admin_id, &w.b.to_string(), "nurse", true).await,
        "grant itself a role in B",
    );
    forbidden(
        admin::change_role(
            &w.app,
            &admin_a,
            nurse_b,
            &w.b.to_string(),
            "counselor",
            true,
        )
        .await,
        "grant in B",
    );
    forbidden(
        admin::set_disabled(&w.app, &admin_a, nurse_b, true).await,
        "disable B's nurse",
    );
    forbidden(
        admin::set_password(&w.app, &admin_a, "nurse.b", "a new long password 42").await,
        "reset B's nurse",
    );
    // …does not see B's staff…
    let listed = admin::users(&w.app, &admin_a).await.unwrap();
    assert!(listed.iter().all(|a| a.user.id != nurse_b));
    assert!(
        listed
            .iter()
            .flat_map(|a| &a.grants)
            .all(|g| g.program_id == w.a)
    );
    // …cannot grant the administrator role, nor touch the organization's administrator.
    let (org_id, org) = org_admin(&w).await;
    forbidden(
        admin::change_role(&w.app, &admin_a, nurse_a, &w.a.to_string(), "admin", true).await,
        "grant admin",
    );
    forbidden(
        admin::change_org_role(&w.app, &admin_a, org_id, "admin", false).await,
        "revoke the organization's administrator",
    );
    forbidden(
        admin::set_disabled(&w.app, &admin_a, org_id, true).await,
        "disable the organization's administrator",
    );
    forbidden(
        admin::create_program(
            &w.app,
            &admin_a,
            admin::organization(&w.app).await.unwrap().unwrap().id,
            &carepath_testkit::new_program("C"),
        )
        .await,
        "create a program",
    );
    // Within A it works as before.
    admin::change_role(
        &w.app,
        &admin_a,
        nurse_a,
        &w.a.to_string(),
        "counselor",
        true,
    )
    .await
    .unwrap();
    admin::set_disabled(&w.app, &admin_a, nurse_a, true)
        .await
        .unwrap();
    // The organization's administrator acts everywhere, but not on patients.
    admin::change_role(&w.app, &org, nurse_b, &w.b.to_string(), "counselor", true)
        .await
        .unwrap();
    admin::change_role(&w.app, &org, nurse_a, &w.a.to_string(), "admin", true)
        .await
        .unwrap();
    admin::create_program(
        &w.app,
        &org,
        admin::organization(&w.app).await.unwrap().unwrap().id,
        &carepath_testkit::new_program("C"),
    )
    .await
    .unwrap();
    assert!(
        access::open(&w.app, &org, w.patient_b, Permission::ReadDemographics, "t")
            .await
            .is_err()
    );

    // An administrator who grants themselves a clinical role is not silent:
    // the grant is its own action on the auditors' review list.
    admin::change_role(&w.app, &admin_a, admin_id, &w.a.to_string(), "nurse", true)
        .await
        .unwrap();
    let auditor = w.principal(Role::Auditor).await;
    let listed = admin::self_grants(&w.app, &auditor).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].event.action, admin::SELF_GRANT);
    assert_eq!(listed[0].event.user_id, Some(admin_id.to_string()));
});

both!(auditors_are_program_scoped, |db| {
    let w = World::new(db).await;
    let nurse_b = account(&w, "nurse.b", w.b, Role::Nurse).await;
    let _ = nurse_b;
    let nb = signed_in(&w.app, "nurse.b", false).await;
    access::open(
        &w.app,
        &nb,
        w.patient_b,
        Permission::ReadClinical,
        "patient.read",
    )
    .await
    .unwrap();
    // A nurse of A breaks the glass into B's patient.
    let nurse_a = w.principal(Role::Nurse).await;
    access::break_glass(
        &w.app,
        &nurse_a,
        w.patient_b,
        "unconscious in the lobby, needs history",
    )
    .await
    .unwrap();

    let filter = carepath_app::model::AuditFilter {
        limit: 1000,
        ..Default::default()
    };
    let auditor_a = w.principal(Role::Auditor).await;
    let (page, _) = admin::audit_events(&w.app, &auditor_a, &filter, "")
        .await
        .unwrap();
    let b = w.b.to_string();
    let pb = w.patient_b.to_string();
    assert!(!page.events.is_empty());
    assert!(
        page.events
            .iter()
            .all(|e| e.event.program_id.as_deref() != Some(b.as_str())
                && e.event.patient_id.as_deref() != Some(pb.as_str())),
        "program A's auditor sees nothing of program B"
    );
    assert!(
        admin::break_glass_grants(&w.app, &auditor_a)
            .await
            .unwrap()
            .is_empty(),
        "B's patient's emergency access is reviewed by B's auditors"
    );
    let grant = w.store().list_break_glass(10, None).await.unwrap()[0].id;
    let r = admin::review_break_glass(&w.app, &auditor_a, grant, "looked fine").await;
    assert!(matches!(r, Err(Error::NotFound)), "{r:?}");

    // B's auditor and an organization-wide auditor see it.
    account(&w, "auditor.b", w.b, Role::Auditor).await;
    let auditor_b = signed_in(&w.app, "auditor.b", false).await;
    let (page, _) = admin::audit_events(&w.app, &auditor_b, &filter, "")
        .await
        .unwrap();
    assert!(
        page.events
            .iter()
            .any(|e| e.event.patient_id.as_deref() == Some(pb.as_str()))
    );
    assert_eq!(
        admin::break_glass_grants(&w.app, &auditor_b)
            .await
            .unwrap()
            .len(),
        1
    );
    let org = account(&w, "auditor.org", w.b, Role::Nurse).await;
    admin::change_org_role(&w.app, &system(), org, "auditor", true)
        .await
        .unwrap();
    let org = signed_in(&w.app, "auditor.org", false).await;
    let (page, _) = admin::audit_events(&w.app, &org, &filter, "")
        .await
        .unwrap();
    assert!(
        page.events
            .iter()
            .any(|e| e.event.program_id.as_deref() == Some(b.as_str()))
    );
    admin::review_break_glass(&w.app, &org, grant, "reviewed with the unit")
        .await
        .unwrap();
});

both!(the_second_factor_moves_only_with_password_and_code, |db| {
    let w = World::new(db).await;
    // The server chooses the secret; the first enrolment needs a code from it.
    let nurse = w.principal(Role::Nurse).await;
    let secret = auth::begin_enrolment(&w.app, &nurse).await.unwrap();
    assert!(secret.len() >= 32, "at least 160 bits");
    let code = |s: &str| auth::totp(s, "x").unwrap().generate_current().to_string();
    let bad = auth::enrol(
        &w.app,
        &nurse,
        &EnrolInput {
            code: "000000".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
    let enrolled = auth::enrol(
        &w.app,
        &nurse,
        &EnrolInput {
            code: code(&secret),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let done = auth::resolve(&w.app, Credential::Session(&enrolled.session_token), None)
        .await
        .unwrap()
        .unwrap();
    assert!(done.mfa_done && done.mfa_enrolled);
    // Replacing it: the password and a current code from the old factor.
    let next = auth::begin_enrolment(&w.app, &done).await.unwrap();
    let r = auth::enrol(
        &w.app,
        &done,
        &EnrolInput {
            code: code(&next),
            password: "not the password at all".into(),
            current_code: "123456".into(),
        },
    )
    .await;
    match r {
        Err(Error::Invalid(f)) => {
            let fields: Vec<String> = f.iter().map(|e| e.field.to_string()).collect();
            assert_eq!(fields, ["password", "current_code"]);
        }
        other => panic!("{other:?}"),
    }
    let still = w.store().user(done.user_id).await.unwrap();
    assert_eq!(still.totp_secret.as_deref(), Some(secret.as_str()));
    // With both, a minute later (a new time step for the old factor), it moves.
    use carepath_app::clock::{Clock, ManualClock, SystemClock};
    let later = ManualClock::at(SystemClock.now_us() + 60_000_000);
    let app2 = w.app.clone().with_clock(std::sync::Arc::new(later.clone()));
    let at = |s: &str| {
        auth::totp(s, "x")
            .unwrap()
            .generate((later.now_us() / 1_000_000) as u64)
            .to_string()
    };
    let next = auth::begin_enrolment(&app2, &done).await.unwrap();
    auth::enrol(
        &app2,
        &done,
        &EnrolInput {
            code: at(&next),
            password: PW.into(),
            current_code: at(&secret),
        },
    )
    .await
    .unwrap();
    let moved = w.store().user(done.user_id).await.unwrap();
    assert_eq!(moved.totp_secret.as_deref(), Some(next.as_str()));
    // A session whose second factor is still due cannot start a replacement.
    let (_, name) = w.user(Role::Nurse);
    let pending = signed_in(&w.app, name, false).await;
    assert!(!pending.mfa_done);
    assert!(matches!(
        auth::begin_enrolment(&w.app, &pending).await,
        Err(Error::MfaPending)
    ));
});

both!(credentials_die_together, |db| {
    let w = World::new(db).await;
    let nurse = w.principal(Role::Nurse).await;
    let token = auth::issue_token(
        &w.app,
        &nurse,
        "script",
        &["read_clinical".into(), "manage_own_tokens".into()],
        30,
    )
    .await
    .unwrap();
    let by_token = auth::resolve(&w.app, Credential::Bearer(&token), None)
        .await
        .unwrap()
        .unwrap();
    // A token cannot mint tokens.
    forbidden(
        auth::issue_token(&w.app, &by_token, "more", &["read_clinical".into()], 365).await,
        "token from token",
    );
    // A password reset ends sessions and tokens alike.
    let (_, name) = w.user(Role::Nurse);
    admin::set_password(&w.app, &system(), name, "a brand new passphrase 7")
        .await
        .unwrap();
    let r = auth::resolve(&w.app, Credential::Bearer(&token), None).await;
    assert!(matches!(r, Err(Error::Unauthenticated)), "{r:?}");
});
