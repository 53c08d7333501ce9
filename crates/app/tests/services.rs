//! The services called directly (no HTTP, no browser), each on SQLite and on
//! PostgreSQL: the defects the application layer fixed stay fixed.

use carepath_app::access;
use carepath_app::admin;
use carepath_app::chart::{self, AdmitInput};
use carepath_app::kinds::Input;
use carepath_app::kinds::medication::{AdministrationInput, OrderInput};
use carepath_app::work::{self, AttendanceEntry, AttendanceInput, SeriesInput};
use carepath_app::{Error, auth};
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::PatientId;
use carepath_testkit::{World, both};

async fn admitted(w: &World) {
    chart::admit(
        &w.app,
        &carepath_testkit::system(),
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
}

fn field(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.iter().map(|f| f.field.to_string()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

both!(concurrent_comfort_doses_give_one, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    let prescriber = w.principal(Role::Prescriber).await;
    let nurse = w.principal(Role::Nurse).await;
    // A signed clonidine order (the prescriber's own order is signed as written).
    let (order, _) = chart::create(
        &w.app,
        &prescriber,
        w.patient_a,
        &Input::Order(OrderInput {
            medication: "clonidine".into(),
            dose_mg: 0.1,
            every_h: 6.0,
            prn: true,
            indication: "withdrawal".into(),
            holds: None,
        }),
    )
    .await
    .unwrap();
    // Eight nurses press "given" at once. Alone, each dose passes the
    // order's checks; together they would exceed the interval and the daily
    // maximum. Exactly one is given; the others are refused by the check.
    let dose = Input::Administration(AdministrationInput {
        order_id: order.clone(),
        sbp: 124,
        dbp: 80,
        hr: 76,
        given: true,
        hold_reason: String::new(),
    });
    let mut handles = vec![];
    for _ in 0..8 {
        let (app, nurse, dose, pid) = (w.app.clone(), nurse.clone(), dose.clone(), w.patient_a);
        handles.push(tokio::spawn(async move {
            chart::create(&app, &nurse, pid, &dose).await
        }));
    }
    let mut given = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => given += 1,
            Err(e) => assert_eq!(field(&e), ["given"], "{e}"),
        }
    }
    assert_eq!(given, 1, "exactly one of eight concurrent doses is given");
    let s = access::open(&w.app, &nurse, w.patient_a, Permission::ReadClinical, "t")
        .await
        .unwrap();
    let doses = s
        .entries(&w.app, &[carepath_app::kinds::Kind::Administration])
        .await
        .unwrap();
    assert_eq!(doses.len(), 1);
});

both!(group_writes_pass_the_patient_access_path, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    let counselor = w.principal(Role::Counselor).await;
    let today = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let sessions = work::schedule(
        &w.app,
        &counselor,
        w.a,
        &SeriesInput {
            kind: "group".into(),
            title: "Relapse prevention".into(),
            modality: "cbt".into(),
            start_date: today.to_string(),
            time: "10:00".into(),
            minutes: 60,
            weekdays: vec![],
            weeks: 1,
            location: String::new(),
        },
    )
    .await
    .unwrap();
    let sid = &sessions[0];
    work::enroll(&w.app, &counselor, sid, &w.patient_a.to_string(), true)
        .await
        .unwrap();
    // Removing a patient of another program writes nothing into their record
    // and reveals nothing: the same answer as for an id that does not exist.
    let before = w
        .store()
        .patient_records(w.patient_b, &[])
        .await
        .unwrap()
        .len();
    let foreign = work::enroll(&w.app, &counselor, sid, &w.patient_b.to_string(), false)
        .await
        .unwrap_err();
    let random = PatientId::new().to_string();
    let unknown = work::enroll(&w.app, &counselor, sid, &random, false)
        .await
        .unwrap_err();
    assert!(matches!(foreign, Error::NotFound), "{foreign:?}");
    assert!(matches!(unknown, Error::NotFound), "{unknown:?}");
    let after = w
        .store()
        .patient_records(w.patient_b, &[])
        .await
        .unwrap()
        .len();
    assert_eq!(before, after, "nothing written into program B's patient");
    let garbage = work::enroll(&w.app, &counselor, sid, "not-an-id", false)
        .await
        .unwrap_err();
    assert_eq!(field(&garbage), ["patient_id"]);

    // Attendance is all or nothing: one bad entry, nothing stored, and every
    // bad entry named.
    let batch = AttendanceInput {
        entries: vec![
            AttendanceEntry {
                patient_id: w.patient_a.to_string(),
                status: "present".into(),
            },
            AttendanceEntry {
                patient_id: w.patient_b.to_string(),
                status: "present".into(),
            },
            AttendanceEntry {
                patient_id: w.patient_a.to_string(),
                status: "sleeping".into(),
            },
        ],
    };
    let e = work::attendance(&w.app, &counselor, sid, &batch)
        .await
        .unwrap_err();
    assert_eq!(field(&e), ["entries[1].patient_id", "entries[2].status"]);
    let marks = w
        .store()
        .patient_records(w.patient_a, &["attendance"])
        .await
        .unwrap();
    assert!(marks.is_empty(), "a refused batch stores nothing");
    let ok = AttendanceInput {
        entries: batch.entries[..1].to_vec(),
    };
    assert_eq!(
        work::attendance(&w.app, &counselor, sid, &ok)
            .await
            .unwrap(),
        1
    );
    // The same mark again writes nothing new.
    assert_eq!(
        work::attendance(&w.app, &counselor, sid, &ok)
            .await
            .unwrap(),
        0
    );
});

both!(the_second_factor_follows_the_role, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    // A nurse signs in with a password alone (nurses need no second factor).
    let (nurse_id, nurse_name) = w.user(Role::Nurse);
    let signed = auth::sign_in(&w.app, nurse_name, carepath_testkit::PW.into(), None)
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("nurse signs in"));
    let cred = || auth::Credential::Session(&signed.token);
    let p = auth::resolve(&w.app, cred(), None).await.unwrap().unwrap();
    assert!(p.mfa_done, "a nurse's session needs no second factor");
    // Later the nurse is also made a prescriber (by the administrator). The
    // same session now waits for the second factor before anything clinical.
    let admin = w.principal(Role::Admin).await;
    admin::change_role(
        &w.app,
        &admin,
        nurse_id,
        &w.a.to_string(),
        "prescriber",
        true,
    )
    .await
    .unwrap();
    let p = auth::resolve(&w.app, cred(), None).await.unwrap().unwrap();
    assert!(!p.mfa_done, "granted prescriber: the second factor is due");
    let e = access::open(&w.app, &p, w.patient_a, Permission::ReadClinical, "t").await;
    assert!(
        matches!(e, Err(Error::MfaPending)),
        "the chart waits for the second factor"
    );
});

both!(a_system_actor_says_so_in_the_audit_trail, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    let auditor = w.principal(Role::Auditor).await;
    let (page, _) = admin::audit_events(
        &w.app,
        &auditor,
        &carepath_app::model::AuditFilter {
            action: Some("episode.admit".into()),
            limit: 10,
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();
    let e = &page.events.first().expect("the admission is audited").event;
    assert_eq!(e.username.as_deref(), Some("system:test"), "{e:?}");
    assert_eq!(e.role.as_deref(), Some("system"), "{e:?}");
    assert_eq!(e.user_id, None, "a system job acts in nobody's name");
});
