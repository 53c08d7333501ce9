//! Contingency management and the rewards store through their services, on
//! SQLite and PostgreSQL: vouchers posting themselves from drug tests and
//! attendance, once per sample; prize draws at the desk that replay from
//! the seed; the annual cap and a balance that never goes below zero, in
//! the service and in the database; a non-cash catalog with stock.

use carepath_app::chart::{self, AdmitInput};
use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput};
use carepath_app::drugtest::{self, CollectInput, ResultInput};
use carepath_app::{App, Error, Principal, work};
use carepath_domain::authz::Role;
use carepath_testkit::{World, both, system};

struct Clinic {
    w: World,
    app: App,
    nurse: Principal,
    admin: Principal,
}

async fn clinic(db: carepath_testkit::TestDb) -> Clinic {
    let w = World::new(db).await;
    let app = w.app.clone();
    chart::admit(
        &app,
        &system(),
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
    let nurse = carepath_testkit::signed_in(&app, w.user(Role::Nurse).1, false).await;
    let admin = w.principal(Role::Admin).await;
    Clinic {
        w,
        app,
        nurse,
        admin,
    }
}

fn fields(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.iter().map(|f| f.field.to_string()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

async fn cup(c: &Clinic, fentanyl: &str) {
    drugtest::collect(
        &c.app,
        &c.nurse,
        c.w.patient_a,
        &CollectInput {
            specimen: "urine".into(),
            observed: true,
            temperature_in_range: Some(true),
            results: vec![
                ResultInput {
                    analyte: "fentanyl".into(),
                    outcome: fentanyl.into(),
                    ..Default::default()
                },
                ResultInput {
                    analyte: "6_mam".into(),
                    outcome: "negative".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

both!(
    vouchers_once_per_sample_and_a_balance_never_negative,
    |db| {
        let c = clinic(db).await;
        let (app, pid) = (&c.app, c.w.patient_a);
        let f = cm::add_funding(
            app,
            &c.admin,
            c.w.a,
            &FundingInput {
                name: "State opioid response grant".into(),
                annual_cap_cents: None,
                annual_budget_cents: 3_000_000,
            },
        )
        .await
        .unwrap();
        assert_eq!(f.annual_cap_cents, 75_000, "the SAMHSA default");
        let bad = cm::enroll(
            app,
            &c.nurse,
            pid,
            &EnrollInput {
                kind: "voucher".into(),
                preset: "higgins".into(),
                analytes: vec!["methadone".into()],
                attendance: false,
                activities: false,
                funding_id: f.id.clone(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(fields(&bad), vec!["analytes[0]", "analytes"]);
        let input = EnrollInput {
            kind: "voucher".into(),
            preset: "higgins".into(),
            analytes: vec!["fentanyl".into(), "19321-9".into()],
            attendance: true,
            activities: false,
            funding_id: f.id.clone(),
        };
        let e = cm::enroll(app, &c.nurse, pid, &input).await.unwrap();
        assert_eq!(e.analytes, "fentanyl,6_mam");
        assert!(matches!(
            cm::enroll(app, &c.nurse, pid, &input).await,
            Err(Error::Conflict(_))
        ));
        // Three negative cups: $2.50, $3.75, $5.00 + $10 bonus (Higgins).
        for _ in 0..3 {
            cup(&c, "negative").await;
        }
        let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
        let earned: Vec<i64> = l.enrollments[0]
            .lines
            .iter()
            .rev()
            .map(|x| x.sample.amount_cents.unwrap())
            .collect();
        assert_eq!(earned, vec![250, 375, 1_500]);
        assert_eq!(l.balance_cents, 2_125);
        // Posting again changes nothing; the database refuses a second sample
        // for the same evidence.
        assert_eq!(cm::sync(app, pid).await.unwrap(), 0);
        let again = c
        .w
        .db
        .exec_raw(
            "INSERT INTO cm_sample (id, enrollment_id, patient_id, source, evidence_id, sample, evidence_at, recorded_at) \
             SELECT 'dup', enrollment_id, patient_id, source, evidence_id, sample, evidence_at, recorded_at FROM cm_sample LIMIT 1",
        )
        .await;
        assert!(again.is_err(), "a sample counted twice");
        // A positive resets: nothing earned.
        cup(&c, "positive").await;
        let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
        assert_eq!(l.enrollments[0].lines[0].sample.sample, "positive");
        assert_eq!(l.enrollments[0].lines[0].sample.amount_cents, Some(0));
        // The director's outcomes: four tests this month, three negative;
        // the vouchers earned against a twelfth of the annual budget.
        let o = carepath_app::dashboard::outcomes(app, &c.nurse, Some(c.w.a))
            .await
            .unwrap();
        let m = o[0].months.last().unwrap();
        assert_eq!(
            (m.tests, m.tests_negative, m.tests_pending, m.tests_refused),
            (4, 3, 0, 0),
            "{m:?}"
        );
        assert_eq!(m.negative_rate(), Some(0.75));
        assert_eq!((m.cm_earned_cents, m.cm_budget_cents), (2_125, 250_000));
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let w = carepath_app::dashboard::Window::last_months(app.now_us(), &tz, 1);
        let store = c.w.store();
        assert_eq!(
            store.dashboard_tests(c.w.a, &w.months).await.unwrap(),
            store
                .dashboard_tests_from_rows(c.w.a, &w.months)
                .await
                .unwrap(),
            "the rollup says what the results say"
        );
        // Attendance counts too: present at a session after enrolment.
        let tomorrow = jiff::Timestamp::from_microsecond(app.now_us() + 86_400_000_000)
            .unwrap()
            .in_tz("America/Chicago")
            .unwrap()
            .date();
        let counselor = c.w.principal(Role::Counselor).await;
        let sessions = work::schedule(
            app,
            &counselor,
            c.w.a,
            &work::SeriesInput {
                kind: "group".into(),
                title: "Relapse prevention".into(),
                modality: "cbt".into(),
                start_date: tomorrow.to_string(),
                time: "10:00".into(),
                minutes: 60,
                weekdays: vec![],
                weeks: 1,
                location: String::new(),
            },
        )
        .await
        .unwrap();
        work::enroll(app, &counselor, &sessions[0], &pid.to_string(), true)
            .await
            .unwrap();
        work::attendance(
            app,
            &counselor,
            &sessions[0],
            &work::AttendanceInput {
                entries: vec![work::AttendanceEntry {
                    patient_id: pid.to_string(),
                    status: "present".into(),
                }],
            },
        )
        .await
        .unwrap();
        let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
        assert_eq!(l.enrollments[0].lines[0].sample.source, "attendance");
        assert_eq!(l.enrollments[0].lines[0].sample.amount_cents, Some(250));
        assert_eq!(l.balance_cents, 2_375);
        // The ledger is the engine's replay of the same samples.
        let replay = carepath_clinical::cm::ledger(&carepath_clinical::cm::LedgerInput {
            schedule: None,
            preset: Some("higgins".into()),
            results: l.enrollments[0]
                .lines
                .iter()
                .rev()
                .map(|x| serde_json::from_value(serde_json::json!(x.sample.sample)).unwrap())
                .collect(),
            cap: None,
            earned_before: None,
        })
        .unwrap();
        let ours: Vec<i64> = l.enrollments[0]
            .lines
            .iter()
            .rev()
            .map(|x| x.sample.amount_cents.unwrap())
            .collect();
        let engine: Vec<i64> = replay.entries.iter().map(|e| e.earned_cents).collect();
        assert_eq!(ours, engine);
        // Racing postings for one sample record one: a cup waiting for the lab,
        // its result and two syncs at once.
        let pending = drugtest::collect(
            app,
            &c.nurse,
            pid,
            &CollectInput {
                specimen: "urine".into(),
                specimen_id: Some("RACE-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let neg = [ResultInput {
            analyte: "fentanyl".into(),
            outcome: "negative".into(),
            ..Default::default()
        }];
        let (a, b, d) = tokio::join!(
            drugtest::add_results(app, &c.nurse, pid, &pending.test.id, &neg),
            cm::sync(app, pid),
            cm::sync(app, pid)
        );
        a.unwrap();
        let _ = (b, d);
        cm::sync(app, pid).await.unwrap();
        let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
        let n = l.enrollments[0]
            .lines
            .iter()
            .filter(|x| x.sample.evidence_id == pending.test.id)
            .count();
        assert_eq!(n, 1, "one sample for one test");
        assert_eq!(l.balance_cents, 2_375 + 375);

        // The catalog: non-cash only; stock and balance hold.
        let cash = cm::add_item(
            app,
            &c.admin,
            c.w.a,
            &ItemInput {
                name: "Cash envelope".into(),
                category: "grocery".into(),
                cost_cents: 500,
                stock: 1,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(fields(&cash), vec!["name"]);
        let bus = cm::add_item(
            app,
            &c.admin,
            c.w.a,
            &ItemInput {
                name: "Bus pass, 7 days".into(),
                category: "transport".into(),
                cost_cents: 2_000,
                stock: 1,
            },
        )
        .await
        .unwrap();
        let kit = cm::add_item(
            app,
            &c.admin,
            c.w.a,
            &ItemInput {
                name: "Hygiene kit".into(),
                category: "hygiene".into(),
                cost_cents: 800,
                stock: 5,
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            cm::add_item(app, &c.nurse, c.w.a, &ItemInput::default()).await,
            Err(Error::NotFound)
        ));
        let l = cm::redeem(app, &c.nurse, pid, &bus.id).await.unwrap();
        assert_eq!(l.balance_cents, 750);
        assert_eq!(l.redemptions[0].outcome.as_deref(), Some("fulfilled"));
        let out = cm::redeem(app, &c.nurse, pid, &bus.id).await.unwrap_err();
        assert!(
            matches!(out, Error::Conflict(ref m) if m.contains("out of stock")),
            "{out:?}"
        );
        let poor = cm::redeem(app, &c.nurse, pid, &kit.id).await.unwrap_err();
        assert!(
            matches!(poor, Error::Conflict(ref m) if m.contains("not enough")),
            "{poor:?}"
        );
        let v = carepath_app::admin::verify_integrity(app, &[], |_| {})
            .await
            .unwrap();
        assert!(v.intact(), "{v:?}");
        // The database holds the balance and the stock even past the service.
        let neg = c
        .w
        .db
        .exec_raw(&format!(
            "INSERT INTO cm_redemption (id, patient_id, program_id, item_id, cost_cents, requested_by, by_name, requested_at) \
             VALUES ('x', '{pid}', '{}', '{}', 100000, 'staff', 'x', 1)",
            c.w.a, kit.id
        ))
        .await;
        assert!(neg.is_err(), "the balance went below zero");
        c.w.db
        .exec_raw(&format!(
            "INSERT INTO cm_redemption (id, patient_id, program_id, item_id, cost_cents, requested_by, by_name, requested_at) \
             VALUES ('x2', '{pid}', '{}', '{}', 750, 'staff', 'x', 1)",
            c.w.a, kit.id
        ))
        .await
        .unwrap();
        let stock = c
        .w
        .db
        .exec_raw(&format!(
            "INSERT INTO reward_stock (id, item_id, delta, reason, by_user, at_us) VALUES ('y', '{}', -6, 'x', 'x', 1)",
            kit.id
        ))
        .await;
        assert!(stock.is_err(), "stock went below zero");
        c.w.db
        .exec_raw(&format!(
            "INSERT INTO reward_stock (id, item_id, delta, reason, by_user, at_us) VALUES ('y2', '{}', -5, 'x', 'x', 1)",
            kit.id
        ))
        .await
        .unwrap();
        // The report: this month's earnings and the item handed over.
        let r = cm::report(app, &c.nurse, c.w.a).await.unwrap();
        assert_eq!(r.earned_cents, 2_750);
        assert_eq!(r.redeemed_cents, 2_000);
        assert_eq!(r.months.len(), 12);
        assert_eq!(r.patients[0].2, 2_750);
        assert_eq!(r.months[11].budget_cents, 250_000);
    }
);

both!(prize_draws_replay_and_the_annual_cap, |db| {
    let c = clinic(db).await;
    let (app, pid) = (&c.app, c.w.patient_a);
    let f = cm::add_funding(
        app,
        &c.admin,
        c.w.a,
        &FundingInput {
            name: "Small foundation".into(),
            annual_cap_cents: Some(2_500),
            annual_budget_cents: 0,
        },
    )
    .await
    .unwrap();
    cm::enroll(
        app,
        &c.nurse,
        pid,
        &EnrollInput {
            kind: "prize".into(),
            preset: "petry_500".into(),
            analytes: vec!["fentanyl".into()],
            attendance: false,
            activities: false,
            funding_id: f.id.clone(),
        },
    )
    .await
    .unwrap();
    for _ in 0..8 {
        cup(&c, "negative").await;
    }
    let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
    let lines = &l.enrollments[0].lines;
    assert_eq!(lines.len(), 8);
    assert!(lines.iter().all(|x| x.draw_due), "drawn only at the desk");
    assert_eq!(l.balance_cents, 0);
    // Draw each at the desk, oldest first; a second draw is refused.
    let ids: Vec<String> = lines.iter().rev().map(|x| x.sample.id.clone()).collect();
    for id in &ids {
        cm::draw(app, &c.nurse, pid, id).await.unwrap();
    }
    assert!(matches!(
        cm::draw(app, &c.nurse, pid, &ids[0]).await,
        Err(Error::Conflict(_))
    ));
    let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
    assert!(l.earned_cents <= 2_500, "the cap: {}", l.earned_cents);
    // Each draw replays from the seed and the sample's index.
    let e = &l.enrollments[0].enrollment;
    let seq: Vec<carepath_clinical::cm::Sample> = vec![carepath_clinical::cm::Sample::Negative; 8];
    let replay = carepath_clinical::cm::draw(&carepath_clinical::cm::DrawInput {
        bowl: None,
        preset: Some("petry_500".into()),
        results: seq,
        seed: e.seed as u64,
        draws: None,
        cap: None,
        earned_before: None,
    })
    .unwrap();
    for (k, line) in l.enrollments[0].lines.iter().rev().enumerate() {
        let d: serde_json::Value =
            serde_json::from_str(line.sample.draw.as_deref().unwrap()).unwrap();
        assert_eq!(d["stream"], k);
        let slips: Vec<String> = serde_json::from_value(d["slips"].clone()).unwrap();
        assert_eq!(slips, replay.entries[k].slips, "sample {k}");
    }
    // The database refuses an earning past the cap whatever writes it (and
    // takes the same row within the cap).
    c.w.db
        .exec_raw(
            "INSERT INTO cm_sample (id, enrollment_id, patient_id, source, evidence_id, sample, evidence_at, recorded_at) \
             SELECT 'extra', enrollment_id, patient_id, source, 'extra-evidence', sample, evidence_at, recorded_at FROM cm_sample LIMIT 1",
        )
        .await
        .unwrap();
    let earning = |amount: i64| {
        format!(
            "INSERT INTO cm_earning (sample_id, enrollment_id, patient_id, funding_id, earned_year, amount_cents, wanted_cents, detail, by_name, earned_at) \
             SELECT 'extra', enrollment_id, patient_id, '{}', (SELECT earned_year FROM cm_earning LIMIT 1), {amount}, {amount}, 'x', 'x', 1 \
             FROM cm_sample WHERE id = 'extra'",
            f.id
        )
    };
    let room = 2_500 - l.earned_cents;
    assert!(
        c.w.db.exec_raw(&earning(room + 1)).await.is_err(),
        "an earning past the annual cap"
    );
    c.w.db.exec_raw(&earning(room)).await.unwrap();
});

both!(plan_activities_count_as_their_own_target, |db| {
    let c = clinic(db).await;
    let (app, pid) = (&c.app, c.w.patient_a);
    let f = cm::add_funding(
        app,
        &c.admin,
        c.w.a,
        &FundingInput {
            name: "Program funds".into(),
            annual_cap_cents: None,
            annual_budget_cents: 0,
        },
    )
    .await
    .unwrap();
    cm::enroll(
        app,
        &c.nurse,
        pid,
        &EnrollInput {
            kind: "voucher".into(),
            preset: "higgins".into(),
            analytes: vec![],
            attendance: false,
            activities: true,
            funding_id: f.id,
        },
    )
    .await
    .unwrap();
    let tomorrow = jiff::Timestamp::from_microsecond(app.now_us() + 86_400_000_000)
        .unwrap()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let counselor = c.w.principal(Role::Counselor).await;
    for (kind, title, modality) in [
        ("group", "Relapse prevention", "cbt"),
        ("activity", "Morning yoga", "yoga"),
    ] {
        let sessions = work::schedule(
            app,
            &counselor,
            c.w.a,
            &work::SeriesInput {
                kind: kind.into(),
                title: title.into(),
                modality: modality.into(),
                start_date: tomorrow.to_string(),
                time: "10:00".into(),
                minutes: 60,
                weekdays: vec![],
                weeks: 1,
                location: String::new(),
            },
        )
        .await
        .unwrap();
        work::enroll(app, &counselor, &sessions[0], &pid.to_string(), true)
            .await
            .unwrap();
        work::attendance(
            app,
            &counselor,
            &sessions[0],
            &work::AttendanceInput {
                entries: vec![work::AttendanceEntry {
                    patient_id: pid.to_string(),
                    status: "present".into(),
                }],
            },
        )
        .await
        .unwrap();
    }
    // A drug test does not count (no analyte targets); the group does not
    // count (attendance is not a target); the yoga session does.
    cup(&c, "negative").await;
    let l = cm::ledger(app, &c.nurse, pid).await.unwrap();
    let lines = &l.enrollments[0].lines;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].sample.source, "attendance");
    assert_eq!(l.balance_cents, 250);
});
