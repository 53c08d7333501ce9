//! The patient portal through its services, on SQLite and PostgreSQL:
//! invitation and joining (once, until it expires), sign-in with lockout,
//! a patient principal that reaches its own record and nothing else,
//! self-reports that alert staff until acknowledged, reward requests held
//! against the balance until staff decide, and the program's settings.

use carepath_app::chart::{self, AdmitInput};
use carepath_app::portal::{self, JoinInput, ReportInput};
use carepath_app::{App, Error, Principal, access, registration, work};
use carepath_domain::authz::{Permission, Role};
use carepath_testkit::{World, both, system};

const PW: &str = "correct horse battery staple";

async fn admitted(w: &World) {
    chart::admit(
        &w.app,
        &system(),
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
}

/// Invite `patient` (as a job) and join as `username`; the patient's
/// principal.
async fn join_as(w: &World, patient: carepath_domain::ids::PatientId, username: &str) -> Principal {
    let inv = portal::invite(&w.app, &system(), patient).await.unwrap();
    let token = portal::join(
        &w.app,
        &JoinInput {
            code: inv.code.to_lowercase(),
            username: username.into(),
            password: PW.into(),
            confirm: PW.into(),
            language: "es".into(),
        },
        Some("127.0.0.1"),
    )
    .await
    .unwrap();
    portal::resolve(&w.app, &token, None)
        .await
        .unwrap()
        .unwrap()
}

fn fields(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.iter().map(|f| f.field.to_string()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

both!(an_invitation_works_once_and_only_until_it_expires, |db| {
    let w = World::new(db).await;
    let app: &App = &w.app;
    let intake = w.principal(Role::Intake).await;
    let inv = portal::invite(app, &intake, w.patient_a).await.unwrap();
    assert_eq!(inv.code.len(), 14);
    let join = |code: String, username: &str| JoinInput {
        code,
        username: username.into(),
        password: PW.into(),
        confirm: PW.into(),
        language: "en".into(),
    };
    // Every bad field at once; nothing used up.
    let e = portal::join(
        app,
        &JoinInput {
            code: "short".into(),
            username: "A B".into(),
            password: "x".into(),
            confirm: "y".into(),
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), vec!["code", "username", "password"]);
    let ok = portal::join(app, &join(inv.code.clone(), "alpha.t"), None)
        .await
        .unwrap();
    let me = portal::resolve(app, &ok, None).await.unwrap().unwrap();
    assert!(matches!(me.kind, carepath_app::ActorKind::Patient(p) if p == w.patient_a));
    // Used once.
    let again = portal::join(app, &join(inv.code.clone(), "alpha.two"), None)
        .await
        .unwrap_err();
    assert_eq!(fields(&again), vec!["code"]);
    // A username already taken (another patient's account) is refused by name.
    let inv_b = portal::invite(app, &w.principal(Role::Nurse).await, w.patient_a)
        .await
        .unwrap();
    let taken = portal::join(app, &join(inv_b.code.clone(), "alpha.t"), None).await;
    assert!(taken.is_ok(), "the same patient may keep their username");
    // Staff without patient data (administrators) and staff outside the
    // patient's programs cannot invite.
    let admin = w.principal(Role::Admin).await;
    assert!(portal::invite(app, &admin, w.patient_a).await.is_err());
    let b_patient = portal::invite(app, &intake, w.patient_b).await.unwrap_err();
    assert!(matches!(b_patient, Error::NotFound), "{b_patient:?}");
    // Expired: a code made with a 1-hour life does not work 2 hours later.
    let mut s = carepath_testkit::settings();
    s.portal_invite_hours = 1;
    let clock = carepath_app::clock::ManualClock::from_system();
    let app2 = App::new(w.store().clone(), s).with_clock(std::sync::Arc::new(clock.clone()));
    let inv = portal::invite(&app2, &intake, w.patient_a).await.unwrap();
    clock.advance(2 * 3_600_000_000);
    let late = portal::join(&app2, &join(inv.code, "alpha.late"), None)
        .await
        .unwrap_err();
    assert_eq!(fields(&late), vec!["code"]);
});

both!(a_patient_reaches_their_own_record_and_nothing_else, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    let app = &w.app;
    let me = join_as(&w, w.patient_a, "alpha.t").await;
    // Another patient of the same program.
    let other = registration::register(
        app,
        &system(),
        &registration::Registration {
            program_id: w.a.to_string(),
            legal_first_name: "Charlie".into(),
            legal_last_name: "Other".into(),
            date_of_birth: "1985-03-04".into(),
            sex: "female".into(),
            confirm_new: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    for id in [other, w.patient_b] {
        for perm in [Permission::ReadDemographics, Permission::ReadClinical] {
            let e = access::open(app, &me, id, perm, "test")
                .await
                .err()
                .unwrap();
            assert!(matches!(e, Error::NotFound), "{e:?}");
        }
    }
    // Their own record: read, never write through the staff path.
    let s = access::open(app, &me, w.patient_a, Permission::ReadClinical, "t")
        .await
        .unwrap();
    assert!(s.writer().is_err());
    assert!(
        access::open(app, &me, w.patient_a, Permission::WriteClinical, "t")
            .await
            .is_err()
    );
    // Staff services refuse a patient principal.
    assert!(work::worklist(app, &me).await.unwrap().danger.is_empty());
    assert!(portal::invite(app, &me, w.patient_a).await.is_err());
    assert!(portal::reports(app, &me, other).await.is_err());
    let home = portal::home(app, &me).await.unwrap();
    assert_eq!(home.first_name, "Alpha");
    assert_eq!(home.language, "es");
    // Staff principals are not patients.
    let nurse = w.principal(Role::Nurse).await;
    assert!(portal::home(app, &nurse).await.is_err());
    assert!(
        portal::report(
            app,
            &nurse,
            &ReportInput {
                craving: Some(1),
                mood: Some(3),
                ..Default::default()
            }
        )
        .await
        .is_err()
    );
});

both!(sign_in_locks_after_repeated_failures, |db| {
    let w = World::new(db).await;
    let app = &w.app;
    join_as(&w, w.patient_a, "alpha.t").await;
    assert!(
        portal::sign_in(app, "ALPHA.T", PW.into(), None)
            .await
            .unwrap()
            .is_some_and(|s| !s.mfa_due)
    );
    for _ in 0..app.settings.max_failed_logins {
        assert!(
            portal::sign_in(app, "alpha.t", "wrong password!!".into(), None)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        portal::sign_in(app, "alpha.t", PW.into(), None)
            .await
            .unwrap()
            .is_none(),
        "locked"
    );
    // Staff turn the account off: its sessions end with it.
    let w2 = join_as(&w, w.patient_b, "bravo.t").await;
    let carepath_app::Via::Session { .. } = &w2.via else {
        panic!()
    };
    let admin_b = system();
    portal::disable(app, &admin_b, w.patient_b).await.unwrap();
    assert!(
        portal::sign_in(app, "bravo.t", PW.into(), None)
            .await
            .unwrap()
            .is_none()
    );
});

both!(
    a_severe_self_report_reaches_the_worklist_until_acknowledged,
    |db| {
        let w = World::new(db).await;
        admitted(&w).await;
        let app = &w.app;
        let me = join_as(&w, w.patient_a, "alpha.t").await;
        // Missing answers are named, nothing stored.
        let e = portal::report(
            app,
            &me,
            &ReportInput {
                sows: vec![1; 5],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(fields(&e), vec!["craving", "mood", "sows"]);
        let calm = portal::report(
            app,
            &me,
            &ReportInput {
                sows: vec![1; 16],
                craving: Some(2),
                mood: Some(4),
            },
        )
        .await
        .unwrap();
        assert!(!calm.alerted);
        assert_eq!(calm.sows_total, Some(16));
        let nurse = w.principal(Role::Nurse).await;
        assert!(
            work::worklist(app, &nurse)
                .await
                .unwrap()
                .self_reports
                .is_empty()
        );
        let bad = portal::report(
            app,
            &me,
            &ReportInput {
                sows: vec![2; 16],
                craving: Some(9),
                mood: Some(1),
            },
        )
        .await
        .unwrap();
        assert!(bad.alerted);
        let wl = work::worklist(app, &nurse).await.unwrap();
        assert_eq!(wl.self_reports.len(), 1);
        let item = &wl.self_reports[0];
        assert!(item.what.contains("SOWS 32"), "{}", item.what);
        assert!(item.what.contains("craving 9/10"));
        assert!(item.what.contains("mood very bad"));
        // The front desk does not see clinical worklists.
        let desk = w.principal(Role::FrontDesk).await;
        assert!(
            work::worklist(app, &desk)
                .await
                .unwrap()
                .self_reports
                .is_empty()
        );
        // Acknowledging needs a note and happens once.
        let e = portal::acknowledge(app, &nurse, &bad.id, " ")
            .await
            .unwrap_err();
        assert_eq!(fields(&e), vec!["note"]);
        portal::acknowledge(app, &nurse, &bad.id, "Called her; came in early")
            .await
            .unwrap();
        let twice = portal::acknowledge(app, &nurse, &bad.id, "again")
            .await
            .unwrap_err();
        assert!(matches!(twice, Error::Conflict(_)), "{twice:?}");
        assert!(
            work::worklist(app, &nurse)
                .await
                .unwrap()
                .self_reports
                .is_empty()
        );
        // The patient sees staff saw it; the chart lists both reports.
        let home = portal::home(app, &me).await.unwrap();
        assert_eq!(home.reports.len(), 2);
        assert!(home.reports[0].alerted && home.reports[0].seen);
        let on_chart = portal::reports(app, &nurse, w.patient_a).await.unwrap();
        assert_eq!(on_chart.len(), 2);
        assert_eq!(on_chart[0].ack_by.as_deref(), Some("u.nurse"));
        // Program settings move the alert points.
        let admin = w.principal(Role::Admin).await;
        let mut s = portal::settings(app, w.a).await.unwrap();
        s.craving_alert_from = 10;
        s.mood_alert_at_most = 0;
        s.sows_alert_from = 64;
        s.show_drug_tests = false;
        portal::save_settings(app, &admin, w.a, &s).await.unwrap();
        let quiet = portal::report(
            app,
            &me,
            &ReportInput {
                sows: vec![3; 16],
                craving: Some(9),
                mood: Some(1),
            },
        )
        .await
        .unwrap();
        assert!(!quiet.alerted);
        s.craving_alert_from = 0;
        let e = portal::save_settings(app, &admin, w.a, &s)
            .await
            .unwrap_err();
        assert_eq!(fields(&e), vec!["craving_alert_from"]);
        assert!(portal::save_settings(app, &nurse, w.a, &s).await.is_err());
    }
);

both!(
    a_reward_request_waits_against_the_balance_until_staff_decide,
    |db| {
        use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput};
        use carepath_app::drugtest::{self, CollectInput, ResultInput};
        let w = World::new(db).await;
        admitted(&w).await;
        let app = &w.app;
        let admin = w.principal(Role::Admin).await;
        let nurse = w.principal(Role::Nurse).await;
        let f = cm::add_funding(
            app,
            &admin,
            w.a,
            &FundingInput {
                name: "Grant".into(),
                annual_cap_cents: None,
                annual_budget_cents: 100_000,
            },
        )
        .await
        .unwrap();
        cm::enroll(
            app,
            &nurse,
            w.patient_a,
            &EnrollInput {
                kind: "voucher".into(),
                preset: "higgins".into(),
                analytes: vec!["fentanyl".into()],
                attendance: false,
                activities: false,
                funding_id: f.id,
            },
        )
        .await
        .unwrap();
        drugtest::collect(
            app,
            &nurse,
            w.patient_a,
            &CollectInput {
                specimen: "urine".into(),
                observed: true,
                temperature_in_range: Some(true),
                results: vec![ResultInput {
                    analyte: "fentanyl".into(),
                    outcome: "negative".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let cheap = cm::add_item(
            app,
            &admin,
            w.a,
            &ItemInput {
                name: "Bus pass (day)".into(),
                category: "transport".into(),
                cost_cents: 200,
                stock: 5,
            },
        )
        .await
        .unwrap();
        let dear = cm::add_item(
            app,
            &admin,
            w.a,
            &ItemInput {
                name: "Grocery card $50".into(),
                category: "grocery".into(),
                cost_cents: 5000,
                stock: 5,
            },
        )
        .await
        .unwrap();
        let me = join_as(&w, w.patient_a, "alpha.t").await;
        let home = portal::home(app, &me).await.unwrap();
        let pts = home.points.unwrap();
        assert_eq!(
            pts.balance_cents, 250,
            "Higgins: $2.50 for the first negative"
        );
        assert!(pts.rewards.iter().any(|r| r.id == cheap.id && r.affordable));
        assert!(pts.rewards.iter().any(|r| r.id == dear.id && !r.affordable));
        assert_eq!(home.tests.len(), 1);
        assert_eq!(home.tests[0].negatives, 1);
        // Too dear: the database refuses; nothing held.
        let e = portal::request_reward(app, &me, &dear.id)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Conflict(ref m) if m.contains("not enough")),
            "{e:?}"
        );
        // Another program's item is not found.
        let other = cm::add_item(
            app,
            &system(),
            w.b,
            &ItemInput {
                name: "Phone card".into(),
                category: "phone".into(),
                cost_cents: 100,
                stock: 1,
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            portal::request_reward(app, &me, &other.id)
                .await
                .unwrap_err(),
            Error::NotFound
        ));
        let req = portal::request_reward(app, &me, &cheap.id).await.unwrap();
        assert_eq!(req.state, "waiting");
        let pts = portal::home(app, &me).await.unwrap().points.unwrap();
        assert_eq!(pts.balance_cents, 50, "held against the balance");
        // Staff fulfil it at the desk.
        let l = cm::decide(app, &nurse, w.patient_a, &req.id, true, None)
            .await
            .unwrap();
        assert_eq!(l.balance_cents, 50);
        let pts = portal::home(app, &me).await.unwrap().points.unwrap();
        assert_eq!(pts.requests[0].state, "fulfilled");
        assert_eq!(
            l.redemptions[0].requested_by, "patient",
            "the ledger says who asked"
        );
    }
);

both!(a_patient_may_add_a_second_factor, |db| {
    let w = World::new(db).await;
    admitted(&w).await;
    let app = &w.app;
    let me = join_as(&w, w.patient_a, "alpha.t").await;
    assert!(me.mfa_done && !me.mfa_enrolled);
    let secret = portal::begin_factor(app, &me).await.unwrap();
    assert_eq!(
        portal::factor_state(app, &me).await.unwrap(),
        (false, Some(secret.clone()))
    );
    let totp = carepath_app::auth::totp(&secret, "alpha.t").unwrap();
    let e = portal::enable_factor(app, &me, "000000").await.unwrap_err();
    assert_eq!(fields(&e), vec!["code"]);
    portal::enable_factor(app, &me, &totp.generate_current().to_string())
        .await
        .unwrap();
    // Signing in now leaves the second factor due: nothing opens until then.
    let s = portal::sign_in(app, "alpha.t", PW.into(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(s.mfa_due);
    let pending = portal::resolve(app, &s.token, None).await.unwrap().unwrap();
    assert!(!pending.mfa_done);
    assert!(matches!(
        portal::home(app, &pending).await.unwrap_err(),
        Error::MfaPending
    ));
    // The code used to enable it cannot be used again (replay); a wrong
    // one is refused.
    assert!(
        portal::second_factor(app, &pending, &totp.generate_current().to_string())
            .await
            .unwrap()
            .is_none()
    );
    // The next time step works once, and the old session is replaced.
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let next = totp.generate(unix + 30).to_string();
    let clock = carepath_app::clock::ManualClock::from_system();
    clock.advance(30_000_000);
    let app2 = App::new(w.store().clone(), carepath_testkit::settings())
        .with_clock(std::sync::Arc::new(clock));
    let token = portal::second_factor(&app2, &pending, &next)
        .await
        .unwrap()
        .unwrap();
    assert!(
        portal::resolve(&app2, &s.token, None)
            .await
            .unwrap()
            .is_none()
    );
    let full = portal::resolve(&app2, &token, None).await.unwrap().unwrap();
    assert!(full.mfa_done && full.mfa_enrolled);
    assert!(portal::home(&app2, &full).await.is_ok());
    // Turning it off needs the password and a current code.
    let e = portal::disable_factor(&app2, &full, "wrong", "123456")
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["password", "code"]);
    // A new invitation (a lost phone) removes it.
    portal::invite(app, &system(), w.patient_a).await.unwrap();
    let inv = portal::invite(app, &system(), w.patient_a).await.unwrap();
    portal::join(
        app,
        &JoinInput {
            code: inv.code,
            username: "alpha.t".into(),
            password: PW.into(),
            confirm: PW.into(),
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap();
    let s = portal::sign_in(app, "alpha.t", PW.into(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(!s.mfa_due);
});

both!(
    a_family_member_sees_what_the_consent_shares_while_it_stands,
    |db| {
        use carepath_app::kinds::{Input, Kind};
        let w = World::new(db).await;
        admitted(&w).await;
        let app = &w.app;
        let nurse = w.principal(Role::Nurse).await;
        let today = jiff::Timestamp::now()
            .in_tz("America/Chicago")
            .unwrap()
            .date();
        let consent = |kind: &str, recipient: &str| {
            Input::from_json(
                Kind::Consent,
                serde_json::json!({"kind": kind, "recipient": recipient,
                "information": "upcoming appointments and how to help",
                "purpose": "family involvement in treatment",
                "expires_on": today.checked_add(jiff::Span::new().days(90)).unwrap().to_string(),
                "signed_by": "Alpha Testcase", "signed_on": today.to_string()}),
            )
            .unwrap()
        };
        let (family_consent, _) = chart::create(
            app,
            &nurse,
            w.patient_a,
            &consent("family", "Maria Testcase (mother)"),
        )
        .await
        .unwrap();
        let (other_consent, _) = chart::create(
            app,
            &nurse,
            w.patient_a,
            &consent("disclosure", "Dr. Lee, Harbor Clinic"),
        )
        .await
        .unwrap();
        // A group the patient is on (open group: everyone in care).
        work::schedule(
            app,
            &w.principal(Role::Counselor).await,
            w.a,
            &work::SeriesInput {
                kind: "group".into(),
                title: "Relapse prevention".into(),
                modality: "process".into(),
                start_date: today
                    .checked_add(jiff::Span::new().days(2))
                    .unwrap()
                    .to_string(),
                time: "10:00".into(),
                minutes: 60,
                weekdays: vec![],
                weeks: 1,
                location: "Room 2".into(),
            },
        )
        .await
        .unwrap();
        // Only a family consent in force; only clinical staff.
        let e = portal::invite_family(app, &nurse, w.patient_a, &other_consent, true)
            .await
            .unwrap_err();
        assert_eq!(fields(&e), vec!["consent"]);
        let desk = w.principal(Role::FrontDesk).await;
        assert!(
            portal::invite_family(app, &desk, w.patient_a, &family_consent, true)
                .await
                .is_err()
        );
        let state = portal::access_state(app, &nurse, w.patient_a)
            .await
            .unwrap();
        assert_eq!(state.family_consents.len(), 1);
        let inv = portal::invite_family(app, &nurse, w.patient_a, &family_consent, true)
            .await
            .unwrap();
        let token = portal::join(
            app,
            &JoinInput {
                code: inv.code,
                username: "maria.t".into(),
                password: PW.into(),
                confirm: PW.into(),
                language: "es".into(),
            },
            None,
        )
        .await
        .unwrap();
        let mom = portal::resolve(app, &token, None).await.unwrap().unwrap();
        assert!(matches!(mom.kind, carepath_app::ActorKind::Family { .. }));
        assert_eq!(mom.display_name, "Maria Testcase (mother)");
        let v = portal::family_view(app, &mom).await.unwrap();
        assert_eq!(v.first_name, "Alpha");
        assert_eq!(v.information, "upcoming appointments and how to help");
        let appts = v.appointments.unwrap();
        assert_eq!(appts.len(), 1);
        assert_eq!(appts[0].title, "Relapse prevention");
        // Nothing of the record: not the patient's view, not the access path.
        assert!(portal::home(app, &mom).await.is_err());
        assert!(
            portal::report(
                app,
                &mom,
                &ReportInput {
                    craving: Some(1),
                    mood: Some(3),
                    ..Default::default()
                }
            )
            .await
            .is_err()
        );
        for perm in [Permission::ReadDemographics, Permission::ReadClinical] {
            assert!(matches!(
                access::open(app, &mom, w.patient_a, perm, "t").await.err(),
                Some(Error::NotFound)
            ));
        }
        // The patient's own account is separate and unaffected.
        let me = join_as(&w, w.patient_a, "alpha.t").await;
        assert!(portal::home(app, &me).await.is_ok());
        let s = portal::sign_in(app, "maria.t", PW.into(), None)
            .await
            .unwrap()
            .unwrap();
        assert!(s.family && !s.mfa_due);
        // Revoking the consent closes the family view at once (audited).
        chart::revoke(
            app,
            &nurse,
            &family_consent,
            "Patient asked to stop sharing",
        )
        .await
        .unwrap();
        let e = portal::family_view(app, &mom).await.unwrap_err();
        assert!(
            matches!(e, Error::Forbidden(ref m) if m.contains("revoked")),
            "{e:?}"
        );
        let denied = w
            .store()
            .audit_events(&carepath_store::AuditFilter {
                patient_id: Some(w.patient_a.to_string()),
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap()
            .events
            .into_iter()
            .filter(|e| e.event.action == "family.view")
            .map(|e| e.event.outcome)
            .collect::<Vec<_>>();
        assert_eq!(
            denied,
            vec![
                carepath_domain::audit::Outcome::Denied,
                carepath_domain::audit::Outcome::Success
            ],
            "newest first: the refusal, then the view"
        );
        // Staff turn a family member's access off.
        let fam = portal::access_state(app, &nurse, w.patient_a)
            .await
            .unwrap()
            .family;
        assert_eq!(fam.len(), 1);
        portal::disable_family(app, &nurse, w.patient_a, &fam[0].id)
            .await
            .unwrap();
        assert!(portal::resolve(app, &token, None).await.unwrap().is_none());
    }
);
