//! The storage conformance suite: every test runs on SQLite and, when
//! `CAREPATH_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database.

use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_store::audit_log::VerifyResult;
use carepath_store::programs::NewProgram;
use carepath_store::testing::TestDb;
use carepath_store::{Backend, PatientSearch, Store, StoreError, now_us};

fn ev(action: &str) -> NewEvent {
    NewEvent::new(action, Outcome::Success)
}

fn demo(first: &str, last: &str) -> Demographics {
    Demographics {
        legal_first_name: first.into(),
        legal_last_name: last.into(),
        preferred_name: None,
        date_of_birth: jiff::civil::date(1988, 4, 12),
        sex: Sex::Female,
    }
}

struct Fixture {
    a: ProgramId,
    b: ProgramId,
    nurse_a: UserId,
    nurse_b: UserId,
}

async fn fixture(s: &Store) -> Fixture {
    let org = s
        .create_organization("Test Org", ev("org.create"))
        .await
        .unwrap();
    let mk = |name: &str, kind| NewProgram {
        name: name.into(),
        kind,
        address: "1 Main St".into(),
        timezone: "America/New_York".into(),
        hours: "Mon-Fri 06:00-14:00".into(),
    };
    let a = s
        .create_program(
            org.id,
            &mk("Alpha OTP", ProgramKind::OpioidTreatmentProgram),
            ev("program.create"),
        )
        .await
        .unwrap();
    let b = s
        .create_program(
            org.id,
            &mk("Beta Detox", ProgramKind::WithdrawalManagement),
            ev("program.create"),
        )
        .await
        .unwrap();
    let nurse_a = s
        .create_user("nurse.a", "Nurse A", "$argon2id$fake", ev("user.create"))
        .await
        .unwrap();
    let nurse_b = s
        .create_user("nurse.b", "Nurse B", "$argon2id$fake", ev("user.create"))
        .await
        .unwrap();
    s.grant_role(nurse_a.id, a.id, Role::Nurse, None, ev("user.grant"))
        .await
        .unwrap();
    s.grant_role(nurse_b.id, b.id, Role::Nurse, None, ev("user.grant"))
        .await
        .unwrap();
    Fixture {
        a: a.id,
        b: b.id,
        nurse_a: nurse_a.id,
        nurse_b: nurse_b.id,
    }
}

async fn assert_intact(s: &Store) -> u64 {
    match s.verify_audit_chain(|_| {}).await.unwrap() {
        VerifyResult::Intact { events } => events,
        VerifyResult::Broken(e) => panic!("chain broken: {e}"),
    }
}

#[tokio::test]
async fn tenancy_patients_are_visible_only_in_their_programs() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let p = s
            .create_patient(
                f.a,
                &demo("Ana", "Diaz"),
                &mrn_from_serial(1),
                None,
                ev("patient.create"),
            )
            .await
            .unwrap();
        let q = PatientSearch {
            name: Some("diaz".into()),
            limit: 20,
            ..Default::default()
        };
        let seen_a = s.search_patients(f.nurse_a, "nurse", &q).await.unwrap();
        assert_eq!(seen_a.len(), 1, "{:?}", db.backend());
        assert_eq!(seen_a[0].id, p.id);
        let seen_b = s.search_patients(f.nurse_b, "nurse", &q).await.unwrap();
        assert!(
            seen_b.is_empty(),
            "program B must not see program A's patient"
        );
        // Role filter: a nurse role does not count when only counselors may look.
        assert!(
            s.search_patients(f.nurse_a, "counselor", &q)
                .await
                .unwrap()
                .is_empty()
        );
        // An episode in program B makes the patient visible there too.
        s.admit(
            p.id,
            f.b,
            "withdrawal_management",
            now_us(),
            None,
            ev("episode.admit"),
        )
        .await
        .unwrap();
        assert_eq!(
            s.search_patients(f.nurse_b, "nurse", &q)
                .await
                .unwrap()
                .len(),
            1
        );
        let mut progs = s.patient_programs(p.id).await.unwrap();
        progs.sort();
        let mut want = vec![f.a, f.b];
        want.sort();
        assert_eq!(progs, want);
        // Search by DOB and by MRN.
        let by_mrn = PatientSearch {
            mrn: Some(p.mrn.clone()),
            limit: 5,
            ..Default::default()
        };
        assert_eq!(
            s.search_patients(f.nurse_a, "nurse", &by_mrn)
                .await
                .unwrap()
                .len(),
            1
        );
        let by_dob = PatientSearch {
            date_of_birth: Some("1988-04-12".into()),
            limit: 5,
            ..Default::default()
        };
        assert_eq!(
            s.search_patients(f.nurse_a, "nurse", &by_dob)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_intact(s).await;
    }
}

#[tokio::test]
async fn mrn_conflict_writes_nothing() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let before = s.audit_count().await.unwrap();
        s.create_patient(
            f.a,
            &demo("A", "One"),
            "CP00000010",
            None,
            ev("patient.create"),
        )
        .await
        .unwrap();
        let err = s
            .create_patient(
                f.a,
                &demo("B", "Two"),
                "CP00000010",
                None,
                ev("patient.create"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(s.patient_count().await.unwrap(), 1);
        assert_eq!(
            s.audit_count().await.unwrap(),
            before + 1,
            "the refused insert leaves no audit event"
        );
    }
}

#[tokio::test]
async fn clinical_records_are_append_only() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let p = s
            .create_patient(
                f.a,
                &demo("Ana", "Diaz"),
                &mrn_from_serial(2),
                None,
                ev("patient.create"),
            )
            .await
            .unwrap();
        let e = s
            .admit(
                p.id,
                f.a,
                "opioid_treatment_program",
                now_us() - 1000,
                None,
                ev("episode.admit"),
            )
            .await
            .unwrap();
        // One open episode per patient and program.
        let dup = s
            .admit(
                p.id,
                f.a,
                "opioid_treatment_program",
                now_us(),
                None,
                ev("episode.admit"),
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        s.discharge(e, now_us(), "completed", ev("episode.discharge"))
            .await
            .unwrap();
        // Discharge happens once.
        assert!(matches!(
            s.discharge(e, now_us(), "other", ev("episode.discharge"))
                .await,
            Err(StoreError::NotFound)
        ));
        // The database itself refuses deletes and edits.
        let del = s
            .execute_raw_for_tests(&format!("DELETE FROM patient WHERE id = '{}'", p.id))
            .await;
        assert!(matches!(del, Err(StoreError::Refused(_))), "{del:?}");
        let upd = s
            .execute_raw_for_tests(&format!(
                "UPDATE episode SET discharge_reason = 'x' WHERE id = '{e}'"
            ))
            .await;
        assert!(matches!(upd, Err(StoreError::Refused(_))), "{upd:?}");
        let aud = s
            .execute_raw_for_tests("UPDATE audit_event SET action = 'x' WHERE seq = 1")
            .await;
        assert!(matches!(aud, Err(StoreError::Refused(_))), "{aud:?}");
        let aud = s
            .execute_raw_for_tests("DELETE FROM audit_event WHERE seq = 1")
            .await;
        assert!(matches!(aud, Err(StoreError::Refused(_))), "{aud:?}");
        assert_eq!(s.episodes(p.id).await.unwrap().len(), 1);
        assert_intact(s).await;
    }
}

/// Bypass the append-only triggers (as an attacker with file or superuser
/// access could) and check that verification names the altered event.
async fn tamper(s: &Store, sql: &str) {
    match s.backend() {
        Backend::Sqlite => {
            s.execute_raw_for_tests(&format!(
                "DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete; {sql}"
            ))
            .await
            .unwrap();
        }
        Backend::Postgres => {
            s.execute_raw_for_tests(&format!(
                "ALTER TABLE audit_event DISABLE TRIGGER USER; {sql}; ALTER TABLE audit_event ENABLE TRIGGER USER"
            ))
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn audit_chain_detects_alteration_deletion_and_truncation() {
    for case in ["alter", "delete", "truncate", "reorder"] {
        for db in TestDb::all().await {
            let s = &db.store;
            fixture(s).await;
            let n = assert_intact(s).await;
            assert!(n >= 7);
            match case {
                "alter" => {
                    tamper(
                        s,
                        "UPDATE audit_event SET detail = 'grant admin' WHERE seq = 5",
                    )
                    .await
                }
                "delete" => tamper(s, "DELETE FROM audit_event WHERE seq = 3").await,
                "truncate" => tamper(s, &format!("DELETE FROM audit_event WHERE seq = {n}")).await,
                _ => tamper(s, "UPDATE audit_event SET at_us = at_us + 1 WHERE seq = 2").await,
            }
            let VerifyResult::Broken(e) = s.verify_audit_chain(|_| {}).await.unwrap() else {
                panic!("{case} not detected on {:?}", s.backend());
            };
            let msg = e.to_string();
            match case {
                "alter" => assert!(msg.contains("#5"), "{msg}"),
                "delete" => assert!(msg.contains("#4"), "{msg}"),
                "truncate" => assert!(msg.contains("removed from the end"), "{msg}"),
                _ => assert!(msg.contains("#2"), "{msg}"),
            }
        }
    }
}

#[tokio::test]
async fn concurrent_writers_never_fail_and_chain_stays_linear() {
    for db in TestDb::all().await {
        let s = db.store.clone();
        let f = fixture(&s).await;
        let before = s.audit_count().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let s = s.clone();
            let prog = if i % 2 == 0 { f.a } else { f.b };
            tasks.push(tokio::spawn(async move {
                let p = s
                    .create_patient(
                        prog,
                        &demo("Con", &format!("Current{i}")),
                        &mrn_from_serial(1000 + i),
                        None,
                        ev("patient.create"),
                    )
                    .await?;
                s.audit(ev("patient.read").patient(p.id)).await?;
                s.admit(
                    p.id,
                    prog,
                    "outpatient",
                    now_us(),
                    None,
                    ev("episode.admit"),
                )
                .await?;
                Ok::<PatientId, StoreError>(p.id)
            }));
        }
        for t in tasks {
            t.await
                .unwrap()
                .expect("no writer may fail (no SQLITE_BUSY, no serialization error)");
        }
        assert_eq!(s.patient_count().await.unwrap(), 64);
        assert_eq!(s.audit_count().await.unwrap(), before + 64 * 3);
        let n = assert_intact(&s).await;
        assert_eq!(n as i64, before + 192);
    }
}

#[tokio::test]
async fn second_factor_steps_and_recovery_codes_are_single_use() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        s.set_totp(
            f.nurse_a,
            "SECRETBASE32",
            100,
            &["h1".into(), "h2".into()],
            ev("mfa.enrol"),
        )
        .await
        .unwrap();
        assert!(s.user(f.nurse_a).await.unwrap().mfa_enrolled());
        assert!(
            !s.accept_totp_step(f.nurse_a, 100).await.unwrap(),
            "the enrolment step may not be reused"
        );
        assert!(s.accept_totp_step(f.nurse_a, 101).await.unwrap());
        assert!(
            !s.accept_totp_step(f.nurse_a, 101).await.unwrap(),
            "replay refused"
        );
        assert!(
            !s.accept_totp_step(f.nurse_a, 99).await.unwrap(),
            "older step refused"
        );
        assert!(s.use_recovery_code(f.nurse_a, "h1").await.unwrap());
        assert!(!s.use_recovery_code(f.nurse_a, "h1").await.unwrap());
        assert!(!s.use_recovery_code(f.nurse_a, "nope").await.unwrap());
        assert_eq!(s.unused_recovery_codes(f.nurse_a).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn lockout_sessions_and_tokens() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        for i in 1..=4 {
            let o = s
                .record_login_failure(f.nurse_a, 5, 60_000_000, ev("auth.login"))
                .await
                .unwrap();
            assert_eq!(o.failed_logins, i);
            assert!(o.locked_until.is_none());
        }
        let o = s
            .record_login_failure(f.nurse_a, 5, 60_000_000, ev("auth.login"))
            .await
            .unwrap();
        assert!(o.locked_until.unwrap() > now_us());
        s.clear_login_failures(f.nurse_a).await.unwrap();
        assert_eq!(s.user(f.nurse_a).await.unwrap().failed_logins, 0);

        // Sessions end on password change.
        s.create_session(
            "hash1",
            f.nurse_a,
            now_us() + 1_000_000,
            false,
            Some("127.0.0.1"),
        )
        .await
        .unwrap();
        assert!(
            s.session("hash1")
                .await
                .unwrap()
                .unwrap()
                .ended_at
                .is_none()
        );
        s.set_password(f.nurse_a, "$argon2id$new", ev("user.passwd"))
            .await
            .unwrap();
        assert!(
            s.session("hash1")
                .await
                .unwrap()
                .unwrap()
                .ended_at
                .is_some()
        );

        // Tokens: usable until revoked or expired; disabled users lose them.
        let t = s
            .create_api_token(
                f.nurse_a,
                "laptop",
                "th",
                &["read_demographics".into()],
                now_us() + 10_000_000,
                ev("token.create"),
            )
            .await
            .unwrap();
        assert_eq!(
            s.use_api_token("th", now_us())
                .await
                .unwrap()
                .unwrap()
                .scopes,
            vec!["read_demographics"]
        );
        assert!(
            s.use_api_token("th", now_us() + 20_000_000)
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        s.revoke_api_token(f.nurse_a, t, ev("token.revoke"))
            .await
            .unwrap();
        assert!(
            s.use_api_token("th", now_us()).await.unwrap().is_none(),
            "revoked"
        );
        assert!(matches!(
            s.revoke_api_token(f.nurse_b, t, ev("token.revoke")).await,
            Err(StoreError::NotFound)
        ));
        s.create_api_token(
            f.nurse_b,
            "cli",
            "th2",
            &[],
            now_us() + 10_000_000,
            ev("token.create"),
        )
        .await
        .unwrap();
        s.set_disabled(f.nurse_b, true, ev("user.disable"))
            .await
            .unwrap();
        assert!(s.use_api_token("th2", now_us()).await.unwrap().is_none());
        assert_intact(s).await;
    }
}

#[tokio::test]
async fn break_glass_and_census() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let p = s
            .create_patient(
                f.a,
                &demo("Ana", "Diaz"),
                &mrn_from_serial(3),
                None,
                ev("patient.create"),
            )
            .await
            .unwrap();
        let now = now_us();
        assert!(
            s.active_break_glass(f.nurse_b, p.id, now)
                .await
                .unwrap()
                .is_none()
        );
        let short = s
            .create_break_glass(f.nurse_b, p.id, "too short", 1, ev("x"))
            .await;
        assert!(short.is_err(), "a reason needs at least 10 characters");
        let g = s
            .create_break_glass(
                f.nurse_b,
                p.id,
                "unresponsive in lobby, need med list",
                3_600_000_000,
                ev("break_glass.open"),
            )
            .await
            .unwrap();
        assert_eq!(
            s.active_break_glass(f.nurse_b, p.id, now_us())
                .await
                .unwrap(),
            Some(g)
        );
        assert!(
            s.active_break_glass(f.nurse_b, p.id, now_us() + 4_000_000_000)
                .await
                .unwrap()
                .is_none(),
            "expires"
        );
        let list = s.list_break_glass(10).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].username, "nurse.b");
        s.review_break_glass(g, "auditor", "appropriate", ev("break_glass.review"))
            .await
            .unwrap();
        assert!(
            s.review_break_glass(g, "auditor", "again", ev("break_glass.review"))
                .await
                .is_err()
        );

        s.admit(
            p.id,
            f.a,
            "opioid_treatment_program",
            now - 5_000_000,
            None,
            ev("episode.admit"),
        )
        .await
        .unwrap();
        let c = s
            .census(f.nurse_a, "nurse", now - 10_000_000)
            .await
            .unwrap();
        assert_eq!(c.len(), 1, "nurse A sees only program A");
        assert_eq!((c[0].active, c[0].admissions, c[0].discharges), (1, 1, 0));
    }
}

#[tokio::test]
async fn audit_filters() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let p = s
            .create_patient(
                f.a,
                &demo("Ana", "Diaz"),
                &mrn_from_serial(4),
                None,
                ev("patient.create"),
            )
            .await
            .unwrap();
        let mut e = ev("patient.read").patient(p.id);
        e.username = Some("nurse.a".into());
        e.user_id = Some(f.nurse_a.to_string());
        s.audit(e).await.unwrap();
        let page = s
            .audit_events(&carepath_store::AuditFilter {
                user: Some("nurse.a".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        let page = s
            .audit_events(&carepath_store::AuditFilter {
                patient_id: Some(p.id.to_string()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.events.len(), 2);
        let page = s
            .audit_events(&carepath_store::AuditFilter {
                action: Some("user.".into()),
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.events.len(), 2);
        assert!(page.next_before.is_some());
        let older = s
            .audit_events(&carepath_store::AuditFilter {
                action: Some("user.".into()),
                limit: 10,
                before_seq: page.next_before,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(older.events.len(), 2, "4 user.* events in all");
    }
}

#[tokio::test]
async fn sqlite_snapshot_is_consistent() {
    let db = TestDb::sqlite().await;
    let s = &db.store;
    fixture(s).await;
    let dest =
        std::env::temp_dir().join(format!("cp-snap-{}.sqlite3", uuid::Uuid::now_v7().simple()));
    s.sqlite_snapshot(&dest).await.unwrap();
    let copy = Store::connect(&format!("sqlite://{}", dest.display()))
        .await
        .unwrap();
    copy.sqlite_integrity_check().await.unwrap();
    assert_eq!(
        copy.audit_count().await.unwrap(),
        s.audit_count().await.unwrap()
    );
    copy.close().await;
    let _ = std::fs::remove_file(&dest);
}

#[tokio::test]
async fn facility_directory_round_trips_and_versions() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = |id: &str, codes: &[&str]| carepath_finder::Facility {
            id: id.into(),
            name: format!("Clinic {id}"),
            name2: None,
            street: "1 Main St".into(),
            city: "Dover".into(),
            state: "DE".into(),
            zip: "19901".into(),
            phone: Some("(302) 555-0100".into()),
            latitude: 39.158168,
            longitude: -75.524368,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            sources: vec!["samhsa-csv".into()],
            live: None,
        };
        assert_eq!(s.facilities_version().await.unwrap().0, 0);
        s.upsert_facilities(&[f("a", &["METH", "MD"]), f("b", &[])], ev("finder.import"))
            .await
            .unwrap();
        let v1 = s.facilities_version().await.unwrap();
        assert_eq!(v1.0, 2);
        let all = s.facilities().await.unwrap();
        assert_eq!(all[0], f("a", &["METH", "MD"]));
        assert!(all[1].codes.is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        s.upsert_facilities(&[f("a", &["METH", "MD", "SP"])], ev("finder.import"))
            .await
            .unwrap();
        let v2 = s.facilities_version().await.unwrap();
        assert_eq!(v2.0, 2);
        assert!(v2.1 > v1.1);
        assert_eq!(s.facilities().await.unwrap()[0].codes.len(), 3);
    }
}

#[tokio::test]
async fn referrals_queue_and_listings() {
    use carepath_store::referrals::{Listing, NewReferral};
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let l = Listing {
            latitude: 39.74,
            longitude: -75.55,
            phone: "(302) 555-0142".into(),
            codes: vec!["OTP".into(), "MD".into()],
            accepting_new_patients: true,
            open_beds: None,
            waitlist_days: Some(0),
            same_day_medication: true,
            last_verified_at: now_us(),
        };
        s.set_program_listing(f.a, &l, None, ev("listing.update"))
            .await
            .unwrap();
        let v1 = s.listings_version().await.unwrap();
        s.set_program_listing(
            f.a,
            &Listing {
                accepting_new_patients: false,
                last_verified_at: now_us() + 1,
                ..l.clone()
            },
            None,
            ev("listing.update"),
        )
        .await
        .unwrap();
        let all = s.program_listings().await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(!all[0].1.accepting_new_patients);
        assert_ne!(s.listings_version().await.unwrap(), v1);

        let r = NewReferral {
            name: "Sam".into(),
            phone: "302-555-0100".into(),
            best_time: "evenings".into(),
            note: None,
            language: "en".into(),
        };
        let id = s
            .create_referral(f.a, &r, ev("referral.create"))
            .await
            .unwrap();
        assert_eq!(
            s.referrals(&[f.b], false).await.unwrap().len(),
            0,
            "program B sees none"
        );
        assert_eq!(s.referrals(&[f.a], false).await.unwrap()[0].status, "new");
        s.claim_referral(&id, "intake.a", ev("referral.claim"))
            .await
            .unwrap();
        assert!(
            matches!(
                s.claim_referral(&id, "intake.b", ev("referral.claim"))
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "first claimer wins"
        );
        s.close_referral(&id, "registered", ev("referral.close"))
            .await
            .unwrap();
        assert!(s.referrals(&[f.a], false).await.unwrap().is_empty());
        assert_eq!(
            s.referrals(&[f.a], true).await.unwrap()[0]
                .outcome
                .as_deref(),
            Some("registered")
        );
        let del = s.execute_raw_for_tests("DELETE FROM referral").await;
        assert!(matches!(del, Err(StoreError::Refused(_))), "{del:?}");
        assert_intact(s).await;
    }
}

fn note(p: PatientId, program: ProgramId, by: UserId, text: &str) -> carepath_store::NewRecord {
    carepath_store::NewRecord::new(
        p,
        program,
        "note",
        serde_json::json!({ "text": text }),
        text.into(),
        now_us(),
        carepath_store::Author {
            id: by,
            name: "Nurse A".into(),
            role: "nurse".into(),
        },
    )
}

#[tokio::test]
async fn records_amend_in_one_line_and_are_never_changed() {
    for db in TestDb::all().await {
        let s = &db.store;
        let f = fixture(s).await;
        let p = s
            .create_patient(
                f.a,
                &demo("Rae", "Lin"),
                &mrn_from_serial(7),
                None,
                ev("patient.create"),
            )
            .await
            .unwrap();
        let v1 = s
            .append_record(&note(p.id, f.a, f.nurse_a, "first"), ev("record.create"))
            .await
            .unwrap();
        let sig = carepath_store::NewSignature {
            kind: "author",
            signer_id: Some(f.nurse_a),
            signer_name: "Nurse A".into(),
            signer_role: "nurse".into(),
            method: "credential",
            drawing: None,
        };
        s.sign_record(&v1, &sig, ev("record.sign")).await.unwrap();
        assert!(matches!(
            s.sign_record(&v1, &sig, ev("record.sign")).await,
            Err(StoreError::Conflict(_))
        ));
        // Two amendments of the same version race: exactly one wins.
        let n2 = note(p.id, f.a, f.nurse_a, "second");
        let n3 = note(p.id, f.a, f.nurse_a, "third");
        let (a, b) = tokio::join!(
            s.amend_record(&v1, &n2, "dose was misread", ev("record.amend")),
            s.amend_record(&v1, &n3, "another correction", ev("record.amend"))
        );
        assert!(a.is_ok() != b.is_ok(), "{:?} / {:?}", a, b);
        let all = s.patient_records(p.id, &["note"]).await.unwrap();
        assert_eq!(all.len(), 2, "both versions kept, the loser wrote nothing");
        let old = all.iter().find(|r| r.id == v1).unwrap();
        assert!(!old.is_current() && old.is_signed());
        let new = all.iter().find(|r| r.id != v1).unwrap();
        assert_eq!(new.root_id, v1);
        assert!(new.is_current() && !new.is_signed());
        // A reason is required by the database too.
        assert!(
            s.amend_record(&new.id, &n2, "", ev("record.amend"))
                .await
                .is_err()
        );
        // A follow-up call gets one outcome, even when two people save at once.
        let mut call = note(p.id, f.a, f.nurse_a, "call");
        call.kind = "followup".into();
        let call_id = s.append_record(&call, ev("record.create")).await.unwrap();
        let mut outcome = note(p.id, f.a, f.nurse_a, "reached");
        outcome.kind = "followup_outcome".into();
        outcome.ref_id = Some(call_id.clone());
        let (x, y) = tokio::join!(
            s.append_record(&outcome, ev("record.create")),
            s.append_record(&outcome, ev("record.create"))
        );
        assert!(x.is_ok() != y.is_ok(), "{x:?} / {y:?}");
        assert!(matches!(x.err().or(y.err()), Some(StoreError::Conflict(_))));
        // Neither updates nor deletes are possible.
        assert!(matches!(
            s.execute_raw_for_tests(&format!(
                "UPDATE clinical_record SET summary = 'x' WHERE id = '{v1}'"
            ))
            .await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            s.execute_raw_for_tests(&format!("DELETE FROM clinical_record WHERE id = '{v1}'"))
                .await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            s.execute_raw_for_tests(&format!(
                "DELETE FROM record_signature WHERE record_id = '{v1}'"
            ))
            .await,
            Err(StoreError::Refused(_))
        ));
        assert_intact(s).await;
    }
}
