//! Tamper drills: an insider with write access to the database (but not the
//! installation key) changes the audit chain or the clinical record in each
//! way we know of, bypassing the append-only triggers as they would; every
//! one is caught by the verification `carepath audit verify` runs, which
//! names what it found. One test per kind of tampering, on SQLite and on
//! PostgreSQL; and an untouched installation verifies clean.

use carepath_app::chart::{self, AdmitInput, DisclosureInput};
use carepath_app::kinds::{Input, Kind};
use carepath_app::registration;
use carepath_domain::audit::{AuditKey, Checkpoint, GENESIS_HASH, StoredEvent, event_hash};
use carepath_domain::authz::Role;
use carepath_store::integrity::{FindingKind, Report};
use carepath_store::{AuditFilter, Backend};
use carepath_testkit::{TestDb, World, system};

/// A small installation with a bit of everything the chain vouches for,
/// and a checkpoint of its head (as the server writes them).
struct Seeded {
    w: World,
    checkpoints: Vec<(usize, Option<Checkpoint>)>,
    cows: String,
    note: String,
    disclosure: String,
}

async fn seeded(db: TestDb) -> Seeded {
    let w = World::new(db).await;
    let sys = system();
    chart::admit(
        &w.app,
        &sys,
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let nurse = w.principal(Role::Nurse).await;
    let counselor = w.principal(Role::Counselor).await;
    let intake = w.principal(Role::Intake).await;
    let mut items = serde_json::Map::new();
    for (name, _) in carepath_clinical::cows::ITEMS.iter() {
        items.insert(name.to_string(), 1.into());
    }
    items.insert("pulse".into(), 2.into());
    items.insert("gooseflesh".into(), 3.into());
    let (cows, _) = chart::create(
        &w.app,
        &nurse,
        w.patient_a,
        &Input::from_json(
            Kind::Cows,
            serde_json::json!({"items": items, "vitals": {"hr": 96}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let note = Input::from_json(
        Kind::Note,
        serde_json::json!({"template": "DAP", "sections": {"data": "Came on time.", "assessment": "Engaged.", "plan": "Group on Monday."}}),
    )
    .unwrap();
    let note = chart::create_batch(&w.app, &counselor, w.patient_a, &[note], true)
        .await
        .unwrap()
        .remove(0)
        .0;
    let today = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let consent = Input::from_json(
        Kind::Consent,
        serde_json::json!({"kind": "disclosure", "recipient": "Dr. Lee, Harbor Clinic",
            "information": "diagnosis and treatment dates", "purpose": "coordination of care",
            "expires_on": today.checked_add(jiff::Span::new().days(30)).unwrap().to_string(),
            "signed_by": "Alpha Testcase", "signed_on": today.to_string()}),
    )
    .unwrap();
    let (consent, _) = chart::create(&w.app, &intake, w.patient_a, &consent)
        .await
        .unwrap();
    let d = chart::disclose(
        &w.app,
        &intake,
        w.patient_a,
        &DisclosureInput {
            consent_id: consent,
            recipient: "Dr. Lee, Harbor Clinic".into(),
            purpose: "coordination of care".into(),
            channel: "print".into(),
        },
    )
    .await
    .unwrap();
    registration::save_profile(
        &w.app,
        &w.principal(Role::FrontDesk).await,
        w.patient_a,
        &registration::Profile {
            phone: "410-555-0101".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let cp = w.store().checkpoint(now()).await.unwrap().unwrap();
    Seeded {
        checkpoints: vec![(1, Some(cp))],
        cows,
        note,
        disclosure: d.disclosure_id,
        w,
    }
}

fn now() -> i64 {
    carepath_app::clock::Clock::now_us(&carepath_app::clock::SystemClock)
}

impl Seeded {
    async fn verify(&self) -> Report {
        self.w
            .store()
            .verify_integrity(&self.checkpoints, |_| {})
            .await
            .unwrap()
    }

    /// Run SQL as an insider would: with the table's append-only triggers
    /// out of the way.
    async fn raw(&self, tables: &[&str], sql: &str) {
        let db = &self.w.db;
        match db.backend() {
            Backend::Sqlite => {
                let mut drop = String::new();
                for t in tables {
                    for name in sqlite_triggers(db, t).await {
                        drop.push_str(&format!("DROP TRIGGER {name}; "));
                    }
                }
                db.exec_raw(&format!("{drop}{sql}")).await.unwrap();
            }
            Backend::Postgres => {
                let mut s = String::new();
                for t in tables {
                    s.push_str(&format!("ALTER TABLE {t} DISABLE TRIGGER USER; "));
                }
                s.push_str(sql);
                for t in tables {
                    s.push_str(&format!("; ALTER TABLE {t} ENABLE TRIGGER USER"));
                }
                db.exec_raw(&s).await.unwrap();
            }
        }
    }

    /// Every stored event, oldest first.
    async fn events(&self) -> Vec<StoredEvent> {
        let mut v = self
            .w
            .store()
            .audit_events(&AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .events;
        v.reverse();
        v
    }

    /// Rewrite events from `from` on as an insider without the key would:
    /// recompute each plain SHA-256 link so the chain hangs together, and
    /// move the head.
    async fn rehash_from(&self, events: &mut [StoredEvent], from: usize) {
        let mut prev = if from == 0 {
            GENESIS_HASH.to_string()
        } else {
            events[from - 1].hash.clone()
        };
        let mut sql = String::new();
        for e in events[from..].iter_mut() {
            e.event.digests = None;
            e.prev_hash = prev.clone();
            e.hash = event_hash(e.seq, &e.id, e.at_us, &e.event, &prev);
            sql.push_str(&format!(
                "UPDATE audit_event SET prev_hash = '{}', hash = '{}', digests = NULL, detail = {} WHERE seq = {}; ",
                e.prev_hash,
                e.hash,
                e.event
                    .detail
                    .as_deref()
                    .map(|d| format!("'{}'", d.replace('\'', "''")))
                    .unwrap_or_else(|| "NULL".into()),
                e.seq
            ));
            prev = e.hash.clone();
        }
        let last = events.last().unwrap();
        sql.push_str(&format!(
            "UPDATE audit_head SET seq = {}, hash = '{}' WHERE id = 1",
            last.seq, last.hash
        ));
        self.raw(&["audit_event", "audit_head"], &sql).await;
    }
}

async fn sqlite_triggers(db: &TestDb, table: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1")
            .bind(table)
            .fetch_all(&mut c)
            .await
            .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

fn caught(r: &Report, kind: FindingKind) {
    assert!(
        r.has(kind),
        "expected a {kind:?} finding, got {:#?}",
        r.findings
    );
    for f in &r.findings {
        assert!(!f.message.is_empty());
    }
}

/// One tamper drill per kind, on both databases.
macro_rules! drill {
    ($name:ident, $kind:expr, |$s:ident| $body:block) => {
        carepath_testkit::both!($name, |db| {
            let $s = seeded(db).await;
            assert!($s.verify().await.intact(), "clean before tampering");
            $body
            let r = $s.verify().await;
            caught(&r, $kind);
        });
    };
}

carepath_testkit::both!(an_untouched_installation_verifies, |db| {
    let s = seeded(db).await;
    let r = s.verify().await;
    assert!(r.intact(), "{:#?}", r.findings);
    assert_eq!(r.keyed_from, Some(1));
    assert!(
        r.rows >= 8,
        "patients, episode, records, signature, disclosure, profile"
    );
});

// 1. An event's contents edited in place.
drill!(edit_an_event, FindingKind::Chain, |s| {
    s.raw(
        &["audit_event"],
        "UPDATE audit_event SET detail = 'nothing to see' WHERE seq = 5",
    )
    .await;
});

// 2. An event edited and the chain re-hashed after it (without the key).
drill!(edit_and_rehash, FindingKind::Chain, |s| {
    let mut ev = s.events().await;
    ev[4].event.detail = Some("rewritten".into());
    s.rehash_from(&mut ev, 4).await;
});

// 3. An event removed from the middle.
drill!(delete_an_event, FindingKind::Chain, |s| {
    s.raw(&["audit_event"], "DELETE FROM audit_event WHERE seq = 7")
        .await;
});

// 4. Two events swapped.
drill!(reorder_events, FindingKind::Chain, |s| {
    s.raw(
        &["audit_event"],
        "UPDATE audit_event SET seq = -1 WHERE seq = 8; UPDATE audit_event SET seq = 8 WHERE seq = 9; \
         UPDATE audit_event SET seq = 9 WHERE seq = -1",
    )
    .await;
});

// 5. The newest events cut off, head left alone.
drill!(truncate_the_tail, FindingKind::Chain, |s| {
    s.raw(&["audit_event"], "DELETE FROM audit_event WHERE seq > 10")
        .await;
});

// 6. The newest events cut off and the head moved back to match.
drill!(
    truncate_and_move_the_head_back,
    FindingKind::CheckpointLost,
    |s| {
        let ev = s.events().await;
        let keep = &ev[9];
        s.raw(
        &["audit_event", "audit_head"],
        &format!(
            "DELETE FROM audit_event WHERE seq > 10; UPDATE audit_head SET seq = 10, hash = '{}' WHERE id = 1",
            keep.hash
        ),
    )
    .await;
        let r = s.verify().await;
        assert!(
            !r.has(FindingKind::Chain),
            "the chain itself hangs together"
        );
    }
);

// 7. Every event deleted, the head reset.
drill!(delete_every_event, FindingKind::CheckpointLost, |s| {
    s.raw(
        &["audit_event", "audit_head"],
        &format!(
            "DELETE FROM audit_event; UPDATE audit_head SET seq = 0, hash = '{GENESIS_HASH}' WHERE id = 1"
        ),
    )
    .await;
    caught(&s.verify().await, FindingKind::Chain);
});

// 8. A forged event appended with a plain hash.
drill!(forge_an_appended_event, FindingKind::Chain, |s| {
    let mut ev = s.events().await;
    let mut forged = ev.last().unwrap().clone();
    forged.seq += 1;
    forged.id = uuid::Uuid::now_v7().to_string();
    forged.event.action = "patient.read".into();
    s.raw(
        &["audit_event"],
        &format!(
            "INSERT INTO audit_event (seq, id, at_us, action, outcome, prev_hash, hash) VALUES ({}, '{}', {}, 'patient.read', 'success', 'x', 'x')",
            forged.seq, forged.id, forged.at_us
        ),
    )
    .await;
    forged.event = carepath_domain::audit::NewEvent::new(
        "patient.read",
        carepath_domain::audit::Outcome::Success,
    );
    ev.push(forged);
    let n = ev.len();
    s.rehash_from(&mut ev, n - 1).await;
});

// 9. A forged event sealed with some other key (another installation's).
drill!(forge_with_another_key, FindingKind::Chain, |s| {
    let other = AuditKey::from_bytes([7; 32]);
    let ev = s.events().await;
    let last = ev.last().unwrap();
    let e = carepath_domain::audit::NewEvent::new(
        "patient.read",
        carepath_domain::audit::Outcome::Success,
    );
    let sealed = carepath_domain::audit::seal(
        last.seq,
        &last.hash,
        uuid::Uuid::now_v7().to_string(),
        last.at_us + 1,
        e,
        Some(&other),
    );
    s.raw(
        &["audit_event", "audit_head"],
        &format!(
            "INSERT INTO audit_event (seq, id, at_us, action, outcome, prev_hash, hash) VALUES ({}, '{}', {}, 'patient.read', 'success', '{}', '{}'); \
             UPDATE audit_head SET seq = {}, hash = '{}' WHERE id = 1",
            sealed.seq, sealed.id, sealed.at_us, sealed.prev_hash, sealed.hash, sealed.seq, sealed.hash
        ),
    )
    .await;
});

// 10. The head row edited.
drill!(edit_the_head, FindingKind::Chain, |s| {
    s.raw(
        &["audit_head"],
        "UPDATE audit_head SET hash = 'k1:00' WHERE id = 1",
    )
    .await;
});

// 11. The whole chain rewritten unkeyed from the start (a downgrade).
drill!(rewrite_the_chain_unkeyed, FindingKind::Chain, |s| {
    let mut ev = s.events().await;
    s.rehash_from(&mut ev, 0).await;
});

// 12. A checkpoint line edited (to hide a cut).
carepath_testkit::both!(edit_a_checkpoint, |db| {
    let mut s = seeded(db).await;
    if let Some(cp) = s.checkpoints[0].1.as_mut() {
        cp.seq -= 3;
    }
    caught(&s.verify().await, FindingKind::CheckpointForged);
});

// 13. A clinical record's content changed (a dose, a score).
drill!(edit_a_clinical_record, FindingKind::RowChanged, |s| {
    s.raw(
        &["clinical_record"],
        &format!(
            "UPDATE clinical_record SET summary = 'COWS 2 (mild)' WHERE id = '{}'",
            s.cows
        ),
    )
    .await;
});

// 14. A clinical record inserted outside Carepath.
drill!(insert_a_clinical_record, FindingKind::RowAdded, |s| {
    s.raw(
        &["clinical_record"],
        &format!(
            "INSERT INTO clinical_record (id, patient_id, program_id, episode_id, kind, body, summary, occurred_at, recorded_at, \
             author_id, author_name, author_role, amends, amend_reason, root_id, ref_id, due_at, sign_role, cosigner_id, late_entry) \
             SELECT '{id}', patient_id, program_id, episode_id, kind, body, 'COWS 0', occurred_at, recorded_at, author_id, author_name, \
             author_role, amends, amend_reason, '{id}', ref_id, due_at, sign_role, cosigner_id, late_entry FROM clinical_record WHERE id = '{}'",
            s.cows,
            id = uuid::Uuid::now_v7()
        ),
    )
    .await;
});

// 15. A clinical record deleted.
drill!(delete_a_clinical_record, FindingKind::RowMissing, |s| {
    s.raw(
        &["clinical_record"],
        &format!("DELETE FROM clinical_record WHERE id = '{}'", s.cows),
    )
    .await;
});

// 16. A signature changed (who signed).
drill!(edit_a_signature, FindingKind::RowChanged, |s| {
    s.raw(
        &["record_signature"],
        &format!(
            "UPDATE record_signature SET signer_name = 'Someone Else' WHERE record_id = '{}'",
            s.note
        ),
    )
    .await;
});

// 17. A signature forged (a co-signature nobody gave).
drill!(forge_a_signature, FindingKind::RowAdded, |s| {
    s.raw(
        &["record_signature"],
        &format!(
            "INSERT INTO record_signature (record_id, kind, signer_id, signer_name, signer_role, method, drawing, signed_at) \
             SELECT record_id, 'cosign', signer_id, 'Dr. Supervisor', 'prescriber', method, drawing, signed_at \
             FROM record_signature WHERE record_id = '{}'",
            s.note
        ),
    )
    .await;
});

// 18. A disclosure's recipient changed in the accounting of disclosures.
drill!(edit_a_disclosure, FindingKind::RowChanged, |s| {
    s.raw(
        &["disclosure"],
        &format!(
            "UPDATE disclosure SET recipient = 'Nobody' WHERE id = '{}'",
            s.disclosure
        ),
    )
    .await;
});

// 19. A disclosure removed from the accounting.
drill!(delete_a_disclosure, FindingKind::RowMissing, |s| {
    s.raw(
        &["disclosure"],
        &format!("DELETE FROM disclosure WHERE id = '{}'", s.disclosure),
    )
    .await;
});

// 20. A patient's date of birth changed.
drill!(edit_a_patient, FindingKind::RowChanged, |s| {
    s.raw(
        &["patient"],
        &format!(
            "UPDATE patient SET date_of_birth = '1970-01-01' WHERE id = '{}'",
            s.w.patient_a
        ),
    )
    .await;
});

// 21. An episode's admission moved.
drill!(edit_an_episode, FindingKind::RowChanged, |s| {
    s.raw(
        &["episode"],
        &format!(
            "UPDATE episode SET admitted_at = admitted_at - 86400000000 WHERE patient_id = '{}'",
            s.w.patient_a
        ),
    )
    .await;
});

// 22. Registration details changed (phone number).
drill!(edit_registration_details, FindingKind::RowChanged, |s| {
    s.raw(
        &["patient_profile"],
        "UPDATE patient_profile SET body = replace(body, '0101', '9999')",
    )
    .await;
});
