//! The storage conformance suite: every test runs as two tests, on SQLite
//! (`…::sqlite`) and, when `CAREPATH_TEST_POSTGRES_URL` is set, on a fresh
//! PostgreSQL database (`…::postgres`).

use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_store::{
    Backend, NewProgram, PatientSearch, PatientWrite, Store, StoreError, Tx, VerifyResult,
};
use carepath_testkit::{TestDb, both};

/// Now, for the store (which never reads the clock itself).
fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

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

/// The access path's permit, made directly (this suite tests the store below it).
fn w(p: PatientId) -> PatientWrite {
    PatientWrite::granted_by_access_path(p)
}

async fn tx(s: &Store) -> Tx {
    s.begin(now_us()).await.unwrap()
}

struct Fixture {
    a: ProgramId,
    b: ProgramId,
    nurse_a: UserId,
    nurse_b: UserId,
}

async fn fixture(s: &Store) -> Fixture {
    let mut t = tx(s).await;
    let org = t.create_organization("Test Org").await.unwrap();
    let mk = |name: &str, kind| NewProgram {
        name: name.into(),
        kind,
        address: "1 Main St".into(),
        timezone: "America/New_York".into(),
        hours: "Mon-Fri 06:00-14:00".into(),
    };
    let a = t
        .create_program(
            org.id,
            &mk("Alpha OTP", ProgramKind::OpioidTreatmentProgram),
        )
        .await
        .unwrap();
    let b = t
        .create_program(org.id, &mk("Beta Detox", ProgramKind::WithdrawalManagement))
        .await
        .unwrap();
    let nurse_a = t
        .create_user("nurse.a", "Nurse A", "$argon2id$fake")
        .await
        .unwrap();
    let nurse_b = t
        .create_user("nurse.b", "Nurse B", "$argon2id$fake")
        .await
        .unwrap();
    t.grant_role(nurse_a, a.id, Role::Nurse, None)
        .await
        .unwrap();
    t.grant_role(nurse_b, b.id, Role::Nurse, None)
        .await
        .unwrap();
    for action in [
        "org.create",
        "program.create",
        "program.create",
        "user.create",
        "user.create",
        "user.grant",
        "user.grant",
    ] {
        t.audit(ev(action));
    }
    t.commit().await.unwrap();
    Fixture {
        a: a.id,
        b: b.id,
        nurse_a,
        nurse_b,
    }
}

async fn patient(
    s: &Store,
    program: ProgramId,
    first: &str,
    serial: u32,
) -> carepath_store::Patient {
    let mut t = tx(s).await;
    let p = t
        .create_patient(
            program,
            &demo(first, "Diaz"),
            &mrn_from_serial(serial),
            None,
        )
        .await
        .unwrap();
    t.audit(ev("patient.create").patient(p.id));
    t.commit().await.unwrap();
    p
}

async fn assert_intact(s: &Store) -> u64 {
    match s.verify_audit_chain(|_| {}).await.unwrap() {
        VerifyResult::Intact { events, .. } => events,
        VerifyResult::Broken(e) => panic!("chain broken: {e}"),
    }
}

/// Run raw SQL past the store and classify the database's answer the way the
/// store does (by error code and constraint name).
async fn raw(db: &TestDb, sql: &str) -> Result<u64, StoreError> {
    db.exec_raw(sql).await.map_err(StoreError::from)
}

both!(tenancy_patients_are_visible_only_in_their_programs, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let p = patient(s, f.a, "Ana", 1).await;
    let q = PatientSearch {
        name: Some("diaz".into()),
        limit: 20,
        ..Default::default()
    };
    let seen_a = s.search_patients(&[f.a], &q).await.unwrap();
    assert_eq!(seen_a.len(), 1);
    assert_eq!(seen_a[0].id, p.id);
    assert!(
        s.search_patients(&[f.b], &q).await.unwrap().is_empty(),
        "program B must not see program A's patient"
    );
    assert!(s.search_patients(&[], &q).await.unwrap().is_empty());
    // An episode in program B makes the patient visible there too.
    let mut t = tx(s).await;
    t.admit(&w(p.id), f.b, "withdrawal_management", now_us(), None)
        .await
        .unwrap();
    t.commit().await.unwrap();
    assert_eq!(s.search_patients(&[f.b], &q).await.unwrap().len(), 1);
    let mut progs = s.patient_programs(p.id).await.unwrap();
    progs.sort();
    let mut want = vec![f.a, f.b];
    want.sort();
    assert_eq!(progs, want);
    // Search by MRN and by date of birth.
    let by_mrn = PatientSearch {
        mrn: Some(p.mrn.clone()),
        limit: 5,
        ..Default::default()
    };
    assert_eq!(s.search_patients(&[f.a], &by_mrn).await.unwrap().len(), 1);
    let by_dob = PatientSearch {
        date_of_birth: Some("1988-04-12".into()),
        limit: 5,
        ..Default::default()
    };
    assert_eq!(s.search_patients(&[f.a], &by_dob).await.unwrap().len(), 1);
    assert_intact(s).await;
});

both!(mrn_conflict_writes_nothing, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let before = s.audit_count().await.unwrap();
    let mut t = tx(s).await;
    t.create_patient(f.a, &demo("A", "One"), "CP00000010", None)
        .await
        .unwrap();
    t.audit(ev("patient.create"));
    t.commit().await.unwrap();
    let mut t = tx(s).await;
    let err = t
        .create_patient(f.a, &demo("B", "Two"), "CP00000010", None)
        .await
        .unwrap_err();
    assert!(err.is_conflict("patient_mrn_key"), "{err:?}");
    drop(t);
    assert_eq!(s.patient_count().await.unwrap(), 1);
    assert_eq!(
        s.audit_count().await.unwrap(),
        before + 1,
        "the refused insert leaves no audit event"
    );
});

both!(a_unit_of_work_commits_whole_or_not_at_all, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let before = (
        s.patient_count().await.unwrap(),
        s.audit_count().await.unwrap(),
    );
    // Dropped without commit: nothing of it remains, not even its audit event.
    let mut t = tx(s).await;
    t.create_patient(f.a, &demo("Gone", "Away"), &mrn_from_serial(40), None)
        .await
        .unwrap();
    t.audit(ev("patient.create"));
    drop(t);
    assert_eq!(
        (
            s.patient_count().await.unwrap(),
            s.audit_count().await.unwrap()
        ),
        before
    );
    // Several statements and their events commit together.
    let mut t = tx(s).await;
    let p = t
        .create_patient(f.a, &demo("Kept", "Here"), &mrn_from_serial(41), None)
        .await
        .unwrap();
    t.admit(&w(p.id), f.a, "outpatient", now_us(), None)
        .await
        .unwrap();
    t.audit(ev("patient.create"));
    t.audit(ev("episode.admit"));
    t.commit().await.unwrap();
    assert_eq!(s.patient_count().await.unwrap(), before.0 + 1);
    assert_eq!(s.audit_count().await.unwrap(), before.1 + 2);
    assert_eq!(s.episodes(p.id).await.unwrap().len(), 1);
    // A write permit is for one patient only.
    let other = patient(s, f.a, "Other", 42).await;
    let mut t = tx(s).await;
    let r = t
        .append_record(&w(p.id), &note(other.id, f.a, f.nurse_a, "wrong patient"))
        .await;
    assert!(matches!(r, Err(StoreError::Refused(_))), "{r:?}");
    assert_intact(s).await;
});

both!(clinical_records_are_append_only, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let p = patient(s, f.a, "Ana", 2).await;
    let mut t = tx(s).await;
    let e = t
        .admit(
            &w(p.id),
            f.a,
            "opioid_treatment_program",
            now_us() - 1000,
            None,
        )
        .await
        .unwrap();
    t.commit().await.unwrap();
    // One open episode per patient and program.
    let mut t = tx(s).await;
    let dup = t
        .admit(&w(p.id), f.a, "opioid_treatment_program", now_us(), None)
        .await;
    assert!(
        matches!(&dup, Err(e) if e.is_conflict("episode_one_open")),
        "{dup:?}"
    );
    drop(t);
    let mut t = tx(s).await;
    t.discharge(&w(p.id), e, now_us(), "completed")
        .await
        .unwrap();
    t.commit().await.unwrap();
    // Discharge happens once.
    let mut t = tx(s).await;
    let again = t.discharge(&w(p.id), e, now_us(), "other").await;
    assert!(
        matches!(&again, Err(e) if e.is_conflict("episode_discharged")),
        "{again:?}"
    );
    drop(t);
    // The database itself refuses deletes and edits (classified by code).
    let del = raw(&db, &format!("DELETE FROM patient WHERE id = '{}'", p.id)).await;
    assert!(matches!(del, Err(StoreError::Refused(_))), "{del:?}");
    let upd = raw(
        &db,
        &format!("UPDATE episode SET discharge_reason = 'x' WHERE id = '{e}'"),
    )
    .await;
    assert!(matches!(upd, Err(StoreError::Refused(_))), "{upd:?}");
    let aud = raw(&db, "UPDATE audit_event SET action = 'x' WHERE seq = 1").await;
    assert!(matches!(aud, Err(StoreError::Refused(_))), "{aud:?}");
    let aud = raw(&db, "DELETE FROM audit_event WHERE seq = 1").await;
    assert!(matches!(aud, Err(StoreError::Refused(_))), "{aud:?}");
    assert_eq!(s.episodes(p.id).await.unwrap().len(), 1);
    assert_intact(s).await;
});

/// Bypass the append-only triggers (as an attacker with file or superuser
/// access could) and check that verification names the altered event.
async fn tamper(db: &TestDb, sql: &str) {
    let sql = match db.backend() {
        Backend::Sqlite => {
            format!("DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete; {sql}")
        }
        Backend::Postgres => format!(
            "ALTER TABLE audit_event DISABLE TRIGGER USER; {sql}; ALTER TABLE audit_event ENABLE TRIGGER USER"
        ),
    };
    db.exec_raw(&sql).await.unwrap();
}

both!(
    audit_chain_detects_alteration_deletion_and_truncation,
    |db| {
        let s = &db.store;
        fixture(s).await;
        let n = assert_intact(s).await;
        assert!(n >= 7);
        // Each kind of tampering on a copy of the chain: the same events,
        // appended again after the first check, are what is changed.
        for (case, sql, want) in [
            (
                "alter",
                "UPDATE audit_event SET detail = 'grant admin' WHERE seq = 5".to_string(),
                "#5",
            ),
            (
                "reorder",
                "UPDATE audit_event SET at_us = at_us + 1 WHERE seq = 2".to_string(),
                "#2",
            ),
        ] {
            let fresh = TestDb::of(db.backend()).await.unwrap();
            fixture(&fresh.store).await;
            tamper(&fresh, &sql).await;
            let VerifyResult::Broken(e) = fresh.store.verify_audit_chain(|_| {}).await.unwrap()
            else {
                panic!("{case} not detected");
            };
            assert!(e.to_string().contains(want), "{case}: {e}");
        }
        let fresh = TestDb::of(db.backend()).await.unwrap();
        fixture(&fresh.store).await;
        tamper(&fresh, "DELETE FROM audit_event WHERE seq = 3").await;
        let VerifyResult::Broken(e) = fresh.store.verify_audit_chain(|_| {}).await.unwrap() else {
            panic!("deletion not detected");
        };
        assert!(e.to_string().contains("#4"), "{e}");
        tamper(&db, &format!("DELETE FROM audit_event WHERE seq = {n}")).await;
        let VerifyResult::Broken(e) = s.verify_audit_chain(|_| {}).await.unwrap() else {
            panic!("truncation not detected");
        };
        assert!(e.to_string().contains("removed from the end"), "{e}");
    }
);

both!(concurrent_writers_never_fail_and_chain_stays_linear, |db| {
    let s = db.store.clone();
    let f = fixture(&s).await;
    let before = s.audit_count().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let s = s.clone();
        let prog = if i % 2 == 0 { f.a } else { f.b };
        tasks.push(tokio::spawn(async move {
            let mut t = s.begin(now_us()).await?;
            let p = t
                .create_patient(
                    prog,
                    &demo("Con", &format!("Current{i}")),
                    &mrn_from_serial(1000 + i),
                    None,
                )
                .await?;
            t.audit(ev("patient.create").patient(p.id));
            t.commit().await?;
            s.audit(ev("patient.read").patient(p.id), now_us()).await?;
            let mut t = s.begin(now_us()).await?;
            t.admit(
                &PatientWrite::granted_by_access_path(p.id),
                prog,
                "outpatient",
                now_us(),
                None,
            )
            .await?;
            t.audit(ev("episode.admit").patient(p.id));
            t.commit().await?;
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
});

both!(a_lock_serializes_check_then_write, |db| {
    // Two units of work read a count and write count+1 under the same lock:
    // the second waits for the first, so the counts never repeat.
    let s = db.store.clone();
    let f = fixture(&s).await;
    let p = patient(&s, f.a, "Lock", 50).await;
    let mut tasks = vec![];
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = s.begin(now_us()).await?;
            t.lock("counter").await?;
            let n = t.records_referring("counter").await?.len();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let mut r = note(p.id, f.a, f.nurse_a, &format!("n={n}"));
            r.ref_id = Some("counter".into());
            t.append_record(&PatientWrite::granted_by_access_path(p.id), &r)
                .await?;
            t.commit().await?;
            Ok::<usize, StoreError>(n)
        }));
    }
    let mut seen = vec![];
    for t in tasks {
        seen.push(t.await.unwrap().unwrap());
    }
    seen.sort();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
});

both!(
    second_factor_steps_and_recovery_codes_are_single_use,
    |db| {
        let s = &db.store;
        let f = fixture(s).await;
        let mut t = tx(s).await;
        t.set_totp(f.nurse_a, "SECRETBASE32", 100, &["h1".into(), "h2".into()])
            .await
            .unwrap();
        t.commit().await.unwrap();
        assert!(s.user(f.nurse_a).await.unwrap().mfa_enrolled());
        let step = |n: i64| async move {
            let mut t = tx(s).await;
            let ok = t.accept_totp_step(f.nurse_a, n).await.unwrap();
            t.commit().await.unwrap();
            ok
        };
        assert!(!step(100).await, "the enrolment step may not be reused");
        assert!(step(101).await);
        assert!(!step(101).await, "replay refused");
        assert!(!step(99).await, "older step refused");
        let code = |h: &'static str| async move {
            let mut t = tx(s).await;
            let ok = t.use_recovery_code(f.nurse_a, h).await.unwrap();
            t.commit().await.unwrap();
            ok
        };
        assert!(code("h1").await);
        assert!(!code("h1").await);
        assert!(!code("nope").await);
        assert_eq!(s.unused_recovery_codes(f.nurse_a).await.unwrap(), 1);
    }
);

both!(lockout_sessions_and_tokens, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    for i in 1..=5 {
        let mut t = tx(s).await;
        let o = t
            .record_login_failure(f.nurse_a, 5, 60_000_000)
            .await
            .unwrap();
        t.audit(ev("auth.login"));
        t.commit().await.unwrap();
        assert_eq!(o.failed_logins, i);
        assert_eq!(o.locked_until.is_some(), i == 5);
    }
    let mut t = tx(s).await;
    t.clear_login_failures(f.nurse_a).await.unwrap();
    // Sessions end on password change.
    t.create_session(
        "hash1",
        f.nurse_a,
        now_us() + 1_000_000,
        false,
        Some("127.0.0.1"),
    )
    .await
    .unwrap();
    t.commit().await.unwrap();
    assert_eq!(s.user(f.nurse_a).await.unwrap().failed_logins, 0);
    assert!(
        s.session("hash1")
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_none()
    );
    let mut t = tx(s).await;
    t.set_password(f.nurse_a, "$argon2id$new").await.unwrap();
    t.commit().await.unwrap();
    assert!(
        s.session("hash1")
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_some()
    );

    // Tokens: usable until revoked or expired; disabled users lose them.
    let mut t = tx(s).await;
    let tok = t
        .create_api_token(
            f.nurse_a,
            "laptop",
            "th",
            &["read_demographics".into()],
            now_us() + 10_000_000,
        )
        .await
        .unwrap();
    t.commit().await.unwrap();
    let use_at = |hash: &'static str, at: i64| async move {
        let mut t = s.begin(at).await.unwrap();
        let r = t.use_api_token(hash).await.unwrap();
        t.commit().await.unwrap();
        r
    };
    assert_eq!(
        use_at("th", now_us()).await.unwrap().scopes.0,
        vec!["read_demographics"]
    );
    assert!(
        use_at("th", now_us() + 20_000_000).await.is_none(),
        "expired"
    );
    let mut t = tx(s).await;
    t.revoke_api_token(f.nurse_a, tok).await.unwrap();
    t.commit().await.unwrap();
    assert!(use_at("th", now_us()).await.is_none(), "revoked");
    let mut t = tx(s).await;
    assert!(matches!(
        t.revoke_api_token(f.nurse_b, tok).await,
        Err(StoreError::NotFound)
    ));
    drop(t);
    let mut t = tx(s).await;
    t.create_api_token(f.nurse_b, "cli", "th2", &[], now_us() + 10_000_000)
        .await
        .unwrap();
    t.set_disabled(f.nurse_b, true).await.unwrap();
    t.commit().await.unwrap();
    assert!(use_at("th2", now_us()).await.is_none());
    assert_intact(s).await;
});

both!(break_glass_and_census, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let p = patient(s, f.a, "Ana", 3).await;
    let now = now_us();
    assert!(
        s.active_break_glass(f.nurse_b, p.id, now)
            .await
            .unwrap()
            .is_none()
    );
    let mut t = tx(s).await;
    let short = t.create_break_glass(f.nurse_b, p.id, "too short", 1).await;
    assert!(
        matches!(short, Err(StoreError::Refused(_))),
        "a reason needs at least 10 characters (CHECK): {short:?}"
    );
    drop(t);
    let mut t = tx(s).await;
    let g = t
        .create_break_glass(
            f.nurse_b,
            p.id,
            "unresponsive in lobby, need med list",
            3_600_000_000,
        )
        .await
        .unwrap();
    t.commit().await.unwrap();
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
    let list = s.list_break_glass(10, None).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].username, "nurse.b");
    let mut t = tx(s).await;
    t.review_break_glass(g, "auditor", "appropriate")
        .await
        .unwrap();
    t.commit().await.unwrap();
    let mut t = tx(s).await;
    assert!(t.review_break_glass(g, "auditor", "again").await.is_err());
    drop(t);
    let mut t = tx(s).await;
    t.admit(
        &w(p.id),
        f.a,
        "opioid_treatment_program",
        now - 5_000_000,
        None,
    )
    .await
    .unwrap();
    t.commit().await.unwrap();
    let c = s.census(&[f.a], now - 10_000_000).await.unwrap();
    assert_eq!(c.len(), 1, "only the programs asked for");
    assert_eq!((c[0].active, c[0].admissions, c[0].discharges), (1, 1, 0));
    assert!(s.census(&[], now).await.unwrap().is_empty());
});

both!(audit_filters, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let p = patient(s, f.a, "Ana", 4).await;
    let mut e = ev("patient.read").patient(p.id);
    e.username = Some("nurse.a".into());
    e.user_id = Some(f.nurse_a.to_string());
    s.audit(e, now_us()).await.unwrap();
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
});

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

both!(facility_directory_round_trips_and_versions, |db| {
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
        updated: None,
    };
    assert_eq!(s.facilities_version().await.unwrap().0, 0);
    let t0 = now_us();
    let mut t = s.begin(t0).await.unwrap();
    t.upsert_facilities(&[f("a", &["METH", "MD"]), f("b", &[])])
        .await
        .unwrap();
    t.commit().await.unwrap();
    let v1 = s.facilities_version().await.unwrap();
    assert_eq!(v1.0, 2);
    let all = s.facilities().await.unwrap();
    // The day of the import comes back with each listing (its age).
    let day = jiff::Timestamp::from_microsecond(t0)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    assert_eq!(all[0].updated.as_deref(), Some(day.as_str()));
    assert_eq!(
        all[0],
        carepath_finder::Facility {
            updated: Some(day),
            ..f("a", &["METH", "MD"])
        }
    );
    assert!(all[1].codes.is_empty());
    let mut t = s.begin(t0 + 1000).await.unwrap();
    t.upsert_facilities(&[f("a", &["METH", "MD", "SP"])])
        .await
        .unwrap();
    t.commit().await.unwrap();
    let v2 = s.facilities_version().await.unwrap();
    assert_eq!(v2.0, 2);
    assert!(v2.1 > v1.1);
    assert_eq!(s.facilities().await.unwrap()[0].codes.len(), 3);
    // A listing merged into another place's is removed.
    let mut t = s.begin(t0 + 2000).await.unwrap();
    assert_eq!(t.delete_facilities(&["b".to_string()]).await.unwrap(), 1);
    t.commit().await.unwrap();
    let ids: Vec<String> = s
        .facilities()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, vec!["a"]);
});

both!(referrals_queue_and_listings, |db| {
    use carepath_store::{Listing, NewReferral};
    let s = &db.store;
    let f = fixture(s).await;
    let l = Listing {
        latitude: 39.74,
        longitude: -75.55,
        phone: "(302) 555-0142".into(),
        codes: carepath_store::referrals::Codes(vec!["OTP".into(), "MD".into()]),
        accepting_new_patients: true,
        open_beds: None,
        waitlist_days: Some(0),
        same_day_medication: true,
        last_verified_at: now_us(),
    };
    let mut t = tx(s).await;
    t.set_program_listing(f.a, &l, None).await.unwrap();
    t.commit().await.unwrap();
    let v1 = s.listings_version().await.unwrap();
    let mut t = tx(s).await;
    t.set_program_listing(
        f.a,
        &Listing {
            accepting_new_patients: false,
            last_verified_at: now_us() + 1,
            ..l.clone()
        },
        None,
    )
    .await
    .unwrap();
    t.commit().await.unwrap();
    let all = s.program_listings().await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(!all[0].1.accepting_new_patients);
    assert_eq!(all[0].1.codes.0, vec!["OTP", "MD"]);
    assert_ne!(s.listings_version().await.unwrap(), v1);

    let r = NewReferral {
        name: "Sam".into(),
        phone: "302-555-0100".into(),
        best_time: "evenings".into(),
        note: None,
        language: "en".into(),
    };
    let mut t = tx(s).await;
    let id = t.create_referral(f.a, &r).await.unwrap();
    t.commit().await.unwrap();
    assert!(
        s.referrals(&[f.b], false).await.unwrap().is_empty(),
        "program B sees none"
    );
    assert_eq!(s.referrals(&[f.a], false).await.unwrap()[0].status, "new");
    let mut t = tx(s).await;
    t.claim_referral(&id, "intake.a").await.unwrap();
    t.commit().await.unwrap();
    let mut t = tx(s).await;
    let second = t.claim_referral(&id, "intake.b").await;
    assert!(
        matches!(&second, Err(e) if e.is_conflict("referral_not_new")),
        "first claimer wins: {second:?}"
    );
    drop(t);
    let mut t = tx(s).await;
    t.close_referral(&id, "registered", None).await.unwrap();
    t.commit().await.unwrap();
    assert!(s.referrals(&[f.a], false).await.unwrap().is_empty());
    assert_eq!(
        s.referrals(&[f.a], true).await.unwrap()[0]
            .outcome
            .as_deref(),
        Some("registered")
    );
    let del = raw(&db, "DELETE FROM referral").await;
    assert!(matches!(del, Err(StoreError::Refused(_))), "{del:?}");
    assert_intact(s).await;
});

fn note(p: PatientId, program: ProgramId, by: UserId, text: &str) -> carepath_store::NewRecord {
    carepath_store::NewRecord {
        patient_id: p,
        program_id: program,
        episode_id: None,
        kind: "note".into(),
        body: serde_json::json!({ "text": text }).to_string(),
        summary: text.into(),
        occurred_at: now_us(),
        author: carepath_store::Author {
            id: by,
            name: "Nurse A".into(),
            role: "nurse".into(),
        },
        ref_id: None,
        due_at: None,
        sign_role: None,
        cosigner_id: None,
        late_entry: false,
    }
}

both!(records_amend_in_one_line_and_are_never_changed, |db| {
    let s = &db.store;
    let f = fixture(s).await;
    let p = patient(s, f.a, "Rae", 7).await;
    let wp = w(p.id);
    let mut t = tx(s).await;
    let v1 = t
        .append_record(&wp, &note(p.id, f.a, f.nurse_a, "first"))
        .await
        .unwrap();
    t.audit(ev("record.create"));
    t.commit().await.unwrap();
    let sig = carepath_store::NewSignature {
        kind: "author",
        signer_id: Some(f.nurse_a),
        signer_name: "Nurse A".into(),
        signer_role: "nurse".into(),
        method: "credential",
        drawing: None,
    };
    let mut t = tx(s).await;
    t.sign_record(&wp, &v1, &sig).await.unwrap();
    t.commit().await.unwrap();
    let mut t = tx(s).await;
    let again = t.sign_record(&wp, &v1, &sig).await;
    assert!(
        matches!(&again, Err(e) if e.is_conflict("record_signature_pkey")),
        "{again:?}"
    );
    drop(t);
    // A signature is only for a record of the permitted patient.
    let other = patient(s, f.a, "Other", 8).await;
    let mut t = tx(s).await;
    assert!(matches!(
        t.sign_record(&w(other.id), &v1, &sig).await,
        Err(StoreError::NotFound)
    ));
    drop(t);
    // Two amendments of the same version race: exactly one wins.
    let amend = |text: &'static str, reason: &'static str| {
        let s = s.clone();
        let v1 = v1.clone();
        async move {
            let mut t = s.begin(now_us()).await?;
            let id = t
                .amend_record(&w(p.id), &v1, &note(p.id, f.a, f.nurse_a, text), reason)
                .await?;
            t.commit().await?;
            Ok::<String, StoreError>(id)
        }
    };
    let (a, b) = tokio::join!(
        amend("second", "dose was misread"),
        amend("third", "another correction")
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} / {b:?}");
    assert!(
        a.as_ref()
            .err()
            .or(b.as_ref().err())
            .unwrap()
            .is_conflict("clinical_record_one_amendment"),
        "{a:?} / {b:?}"
    );
    let all = s.patient_records(p.id, &["note"]).await.unwrap();
    assert_eq!(all.len(), 2, "both versions kept, the loser wrote nothing");
    let old = all.iter().find(|r| r.id == v1).unwrap();
    assert!(!old.is_current() && old.is_signed());
    let new = all.iter().find(|r| r.id != v1).unwrap();
    assert_eq!(new.root_id, v1);
    assert!(new.is_current() && !new.is_signed());
    // A reason is required by the database too (CHECK).
    let mut t = tx(s).await;
    let no_reason = t
        .amend_record(&wp, &new.id, &note(p.id, f.a, f.nurse_a, "x"), "")
        .await;
    assert!(
        matches!(no_reason, Err(StoreError::Refused(_))),
        "{no_reason:?}"
    );
    drop(t);
    // A follow-up call gets one outcome, even when two people save at once.
    let mut call = note(p.id, f.a, f.nurse_a, "call");
    call.kind = "followup".into();
    let mut t = tx(s).await;
    let call_id = t.append_record(&wp, &call).await.unwrap();
    t.commit().await.unwrap();
    let mut outcome = note(p.id, f.a, f.nurse_a, "reached");
    outcome.kind = "followup_outcome".into();
    outcome.ref_id = Some(call_id.clone());
    let save = |o: carepath_store::NewRecord| {
        let s = s.clone();
        async move {
            let mut t = s.begin(now_us()).await?;
            let id = t.append_record(&w(p.id), &o).await?;
            t.commit().await?;
            Ok::<String, StoreError>(id)
        }
    };
    let (x, y) = tokio::join!(save(outcome.clone()), save(outcome.clone()));
    assert!(x.is_ok() != y.is_ok(), "{x:?} / {y:?}");
    assert!(
        x.err()
            .or(y.err())
            .unwrap()
            .is_conflict("clinical_record_one_answer")
    );
    // Neither updates nor deletes are possible.
    for sql in [
        format!("UPDATE clinical_record SET summary = 'x' WHERE id = '{v1}'"),
        format!("DELETE FROM clinical_record WHERE id = '{v1}'"),
        format!("DELETE FROM record_signature WHERE record_id = '{v1}'"),
    ] {
        assert!(
            matches!(raw(&db, &sql).await, Err(StoreError::Refused(_))),
            "{sql}"
        );
    }
    assert_intact(s).await;
});

// Concurrent units of work (SQLite: group-committed into shared
// transactions): every acknowledged unit is there, every failed or abandoned
// one left no trace, and the audit chain is one unbroken line.
both!(concurrent_units_commit_alone_or_not_at_all, |db| {
    let s = db.store.clone();
    let f = fixture(&s).await;
    let before = assert_intact(&s).await;
    // Serial 1 is taken up front, so units that reuse it conflict.
    let taken = patient(&s, f.a, "Taken", 1).await;
    let mut tasks = vec![];
    for i in 2..202u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = s.begin(now_us()).await.unwrap();
            let serial = if i % 7 == 0 { 1 } else { i };
            let created = t
                .create_patient(f.a, &demo("Unit", "Diaz"), &mrn_from_serial(serial), None)
                .await;
            let p = match created {
                Ok(p) => p,
                // Dropped after a failed statement: rolled back.
                Err(StoreError::Conflict(_)) => return (i, false),
                Err(e) => panic!("unit {i}: {e}"),
            };
            t.audit(ev("patient.create").patient(p.id));
            if i % 5 == 0 {
                // Abandoned after writing (an early return): rolled back.
                tokio::task::yield_now().await;
                drop(t);
                return (i, false);
            }
            t.commit().await.unwrap();
            (i, true)
        }));
    }
    let mut committed = vec![];
    for t in tasks {
        let (i, ok) = t.await.unwrap();
        if ok {
            committed.push(i);
        }
    }
    let expected: Vec<u32> = (2..202u32).filter(|i| i % 7 != 0 && i % 5 != 0).collect();
    assert_eq!(committed.len(), expected.len());
    let found = s
        .search_patients(
            &[f.a],
            &PatientSearch {
                name: Some("Unit".into()),
                date_of_birth: None,
                mrn: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    let mut mrns: Vec<String> = found.iter().map(|p| p.mrn.clone()).collect();
    mrns.sort();
    let mut want: Vec<String> = expected.iter().map(|i| mrn_from_serial(*i)).collect();
    want.sort();
    assert_eq!(mrns, want, "exactly the acknowledged units are stored");
    assert_eq!(s.patient(taken.id).await.unwrap().mrn, mrn_from_serial(1));
    // One audit event per acknowledged unit (plus the fixture's and Taken's).
    assert_eq!(assert_intact(&s).await, before + 1 + expected.len() as u64);
    if let Some((commits, units)) = s.group_commit_stats() {
        assert!(units >= expected.len() as u64, "{units} units counted");
        eprintln!("group commit: {commits} commits for {units} units");
        assert!(commits < units, "{commits} commits for {units} units");
    }
});
