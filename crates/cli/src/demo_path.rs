//! The demo clinic's clinical records: patients at every step of the path.
//! Built with the same record builders as the staff pages and the API (so the
//! engine computes every score and recommendation), written with historical
//! times so the charts, worklists and calendar look like a working program.

use anyhow::Result;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::ids::{PatientId, UserId};
use carepath_domain::program::parse_time_zone;
use carepath_store::{Author, CalendarSession, Episode, NewRecord, NewSignature, Program, Store};
use carepath_web::chart::{self, Ctx, DAY_US, HOUR_US};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

fn ev(action: &str) -> NewEvent {
    let mut e = NewEvent::new(action, Outcome::Success);
    e.username = Some("demo-seed".into());
    e.role = Some("operator".into());
    e
}

/// A staff member as the demo writes in their name.
#[derive(Clone)]
pub struct Staff {
    pub id: UserId,
    pub name: String,
    pub role: &'static str,
}

impl Staff {
    fn author(&self) -> Author {
        Author {
            id: self.id,
            name: self.name.clone(),
            role: self.role.into(),
        }
    }
    fn sig(&self) -> NewSignature {
        NewSignature {
            kind: "author",
            signer_id: Some(self.id),
            signer_name: self.name.clone(),
            signer_role: self.role.into(),
            method: "credential",
            drawing: None,
        }
    }
}

pub struct Team {
    pub prescriber: Staff,
    pub nurse_wm: Staff,
    pub counselor: Staff,
    pub intake: Staff,
}

fn rfc(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

async fn ctx(
    store: &Store,
    program: &Program,
    patient: PatientId,
    ep: Option<&Episode>,
    who: &Staff,
) -> Result<Ctx> {
    Ok(Ctx {
        patient: store.patient(patient).await?,
        program: program.clone(),
        tz: parse_time_zone(&program.timezone)?,
        episode: ep.cloned(),
        episodes: store.episodes(patient).await?,
        author: who.author(),
        protocol: carepath_clinical::flowsheet::Protocol::default(),
        followup: (7, 12),
    })
}

async fn put(store: &Store, mut r: NewRecord, at: i64) -> Result<String> {
    r.late_entry = false;
    Ok(store
        .append_records_at(
            std::slice::from_ref(&r),
            at,
            ev(&format!("{}.create", r.kind)),
        )
        .await?
        .remove(0))
}

/// Append a record that happened, and was written, at `at`.
async fn put_at(store: &Store, mut r: NewRecord, at: i64) -> Result<String> {
    r.occurred_at = at;
    put(store, r, at).await
}

async fn sign(store: &Store, id: &str, who: &Staff, at: i64) -> Result<()> {
    store
        .sign_record_at(id, &who.sig(), at, ev("record.sign"))
        .await?;
    Ok(())
}

fn app_err(e: carepath_web::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

fn assessment(rng: &mut ChaCha8Rng, last_use: i64, wm: bool, pregnant: bool) -> serde_json::Value {
    let primary = if rng.random_bool(0.6) { 5 } else { 7 };
    let criteria: Vec<String> = (1..=11)
        .filter(|_| rng.random_bool(0.75))
        .map(|k| format!("A{k}"))
        .collect();
    let d = |lo: u8, hi: u8, rng: &mut ChaCha8Rng| rng.random_range(lo..=hi);
    json!({
        "substances": [
            {"code": primary, "route": if rng.random_bool(0.6) { 4 } else { 3 }, "frequency": 3, "age_first_use": rng.random_range(15..28)},
            {"code": ([13, 3, 2, 10])[rng.random_range(0..4)], "route": ([1, 2, 1, 2])[rng.random_range(0..4)], "frequency": 2, "age_first_use": rng.random_range(13..25)}
        ],
        "last_opioid": if primary == 5 { "heroin" } else { "fentanyl" },
        "last_use_at": rfc(last_use),
        "prior_treatment_episodes": rng.random_range(0..4),
        "overdoses_lifetime": rng.random_range(0..3),
        "overdose_past_year": rng.random_bool(0.3),
        "dsm5": criteria,
        "dimensions": {
            "withdrawal": if wm { d(3, 3, rng) } else { d(1, 2, rng) },
            "biomedical": d(0, 2, rng), "emotional_behavioral": d(1, 2, rng), "readiness": d(1, 3, rng),
            "relapse": d(2, 3, rng), "recovery_environment": d(1, 3, rng)
        },
        "phq9": (0..9).map(|i| if i == 8 { 0 } else { rng.random_range(0..3) }).collect::<Vec<u8>>(),
        "gad7": (0..7).map(|_| rng.random_range(0..3)).collect::<Vec<u8>>(),
        "pregnancy": if pregnant { "pregnant" } else { "not_applicable" },
        "due_date": if pregnant { Some("2027-04-02") } else { None },
        "flags": if rng.random_bool(0.25) { vec!["co_occurring"] } else { vec![] },
        "placement": {"accept": true}
    })
}

/// COWS items adding up to about `target`.
fn cows_items(target: u8, rng: &mut ChaCha8Rng) -> serde_json::Value {
    let mut items = serde_json::Map::new();
    let mut left = target as i32;
    for (name, allowed) in carepath_clinical::cows::ITEMS.iter() {
        let share = (left / 3).max(0);
        let v = allowed
            .iter()
            .rev()
            .find(|a| (**a as i32) <= share.max(if rng.random_bool(0.5) { 1 } else { 0 }))
            .copied()
            .unwrap_or(0);
        left -= v as i32;
        items.insert((*name).into(), json!(v));
    }
    serde_json::Value::Object(items)
}

pub struct Seeded {
    pub records: usize,
}

pub async fn seed(store: &Store, programs: &[Program], team: &Team, seed: u64) -> Result<Seeded> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a7);
    let now = carepath_store::now_us();
    let (otp, wm, res) = (&programs[0], &programs[1], &programs[2]);
    let mut n = 0usize;

    // Withdrawal management: everyone in the unit has an assessment, orders and a flowsheet.
    let open_wm = store.open_episodes(wm.id).await?;
    for (k, e) in open_wm.iter().enumerate() {
        let c = ctx(store, wm, e.patient_id, Some(e), &team.nurse_wm).await?;
        let last_use = e.admitted_at - rng.random_range(6..20) * HOUR_US;
        let a: chart::AssessmentInput =
            serde_json::from_value(assessment(&mut rng, last_use, true, k == 1))?;
        let mut r = chart::build_assessment(&c, &a).map_err(app_err)?;
        r.occurred_at = e.admitted_at + HOUR_US;
        put(store, r, e.admitted_at + HOUR_US).await?;
        n += 1;
        // Scores rise to a peak around 36–72 h after last use, then settle; the
        // first patient's check is overdue (last entry over 4 hours ago).
        let stop = if k == 0 {
            now - 6 * HOUR_US
        } else {
            now - rng.random_range(0..3) * HOUR_US
        };
        let mut t = e.admitted_at + HOUR_US;
        while t < stop {
            let h = (t - last_use) as f64 / HOUR_US as f64;
            // Short-acting opioids: onset within a day, peak around 36–48 h, mostly over by day 5.
            let peak = 4.0 + 22.0 * (-(h - 42.0).powi(2) / 800.0).exp();
            let target = (peak * (0.8 + 0.4 * rng.random::<f64>())).clamp(1.0, 40.0) as u8;
            let input: chart::FlowsheetInput = serde_json::from_value(json!({
                "items": cows_items(target, &mut rng),
                "vitals": {"sbp": rng.random_range(112..150), "dbp": rng.random_range(70..92), "hr": rng.random_range(72..112),
                           "temp_c": 36.6 + rng.random_range(0..12) as f64 / 10.0, "spo2": rng.random_range(95..100), "rr": rng.random_range(14..20)},
                "observed_at": rfc(t),
            }))?;
            let r = chart::build_flowsheet(&c, &input).map_err(app_err)?;
            let step = r.due_at.unwrap_or(t + 4 * HOUR_US) - t;
            put(store, r, t + 5 * 60_000_000).await?;
            n += 1;
            t += step;
        }
        let oc = ctx(store, wm, e.patient_id, Some(e), &team.prescriber).await?;
        let o: chart::OrderInput = serde_json::from_value(
            json!({"medication": "clonidine", "dose_mg": 0.1, "every_h": 6, "prn": true, "indication": "autonomic withdrawal symptoms"}),
        )?;
        let id = put(
            store,
            chart::build_order(&oc, &o).map_err(app_err)?,
            e.admitted_at + 2 * HOUR_US,
        )
        .await?;
        sign(store, &id, &team.prescriber, e.admitted_at + 2 * HOUR_US).await?;
        n += 1;
        if k % 3 == 2 {
            // A telephone order entered by the nurse, waiting for the prescriber's signature.
            let o: chart::OrderInput = serde_json::from_value(
                json!({"medication": "loperamide", "dose_mg": 4, "every_h": 4, "prn": true, "indication": "diarrhea"}),
            )?;
            put(
                store,
                chart::build_order(&c, &o).map_err(app_err)?,
                now - 2 * HOUR_US,
            )
            .await?;
            n += 1;
        }
    }

    // Residential: plans, group notes (signed, unsigned, amended), attendance.
    let tz = parse_time_zone(&res.timezone)?;
    let today = carepath_domain::program::clinic_day(jiff::Timestamp::now(), &tz);
    let mut sessions = vec![];
    // One series per recurring group, so membership carries from week to week.
    let mut series: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for d in -14..14i64 {
        let day = today.checked_add(jiff::Span::new().days(d))?;
        let wd = day.weekday().to_monday_one_offset();
        let mut add = |hh: i8,
                       title: &str,
                       kind: &str,
                       modality: &str,
                       minutes: i64,
                       program: &Program|
         -> Result<()> {
            let at = day
                .at(hh, 0, 0, 0)
                .to_zoned(tz.clone())?
                .timestamp()
                .as_microsecond();
            sessions.push(CalendarSession {
                id: uuid::Uuid::now_v7().to_string(),
                program_id: program.id,
                kind: kind.into(),
                title: title.into(),
                modality: modality.into(),
                starts_at: at,
                minutes,
                leader_id: Some(team.counselor.id.to_string()),
                location: if program.id == res.id {
                    "Group room A".into()
                } else {
                    "Counseling room 2".into()
                },
                series_id: Some(
                    series
                        .entry(format!("{}{title}", program.id))
                        .or_insert_with(|| uuid::Uuid::now_v7().to_string())
                        .clone(),
                ),
            });
            Ok(())
        };
        if wd <= 5 {
            add(9, "Morning process group", "group", "process", 90, res)?;
            add(
                11,
                "Relapse prevention",
                "group",
                "relapse_prevention",
                60,
                res,
            )?;
            add(
                14,
                [
                    "Yoga",
                    "Art therapy",
                    "Nutrition",
                    "Dance and movement",
                    "SMART Recovery",
                ][wd as usize - 1],
                "activity",
                ["yoga", "art", "nutrition", "dance", "smart_recovery"][wd as usize - 1],
                60,
                res,
            )?;
        }
        if wd == 6 {
            add(
                13,
                "Family session block",
                "family",
                "family_therapy",
                120,
                res,
            )?;
        }
        if wd == 2 || wd == 4 {
            add(
                10,
                "Medication-assisted recovery group",
                "group",
                "psychoeducation",
                60,
                otp,
            )?;
        }
    }
    store
        .create_sessions(&sessions, team.counselor.id, ev("session.create"))
        .await?;
    // The OTP's recovery group is a closed group of eight.
    if let Some(group) = sessions.iter().find(|s| s.program_id == otp.id) {
        for e in store.open_episodes(otp.id).await?.iter().take(8) {
            let at = now - 20 * DAY_US;
            let r = carepath_web::work::enrollment_record(
                group,
                e.patient_id,
                true,
                team.counselor.author(),
                at,
            );
            put(store, r, at).await?;
            n += 1;
        }
    }
    let open_res = store.open_episodes(res.id).await?;
    for (k, e) in open_res.iter().enumerate() {
        let c = ctx(store, res, e.patient_id, Some(e), &team.counselor).await?;
        let review = if k % 4 == 0 {
            today.checked_add(jiff::Span::new().days(3))?
        } else {
            today.checked_add(jiff::Span::new().days(20 + k as i64 % 10))?
        };
        let plan: chart::PlanInput = serde_json::from_value(json!({
            "problems": [
                {"problem": "Daily heroin use with overdose history", "goal": "No opioid use for 30 consecutive days", "measure": "Weekly urine drug screens negative for opioids",
                 "objectives": [{"text": "Identify three personal triggers and a coping plan for each", "target_date": today.checked_add(jiff::Span::new().days(10))?.to_string()},
                                {"text": "Attend SMART Recovery twice a week", "target_date": today.checked_add(jiff::Span::new().days(21))?.to_string()}],
                 "interventions": [{"kind": "cbt", "detail": "", "responsible": "Tanya James, LCADC"}, {"kind": "smart_recovery", "detail": "", "responsible": "Tanya James, LCADC"}, {"kind": "medication", "detail": "", "responsible": "Dr. Ngozi Okafor"}],
                 "progress": ""},
                {"problem": "No stable housing after discharge", "goal": "Move into sober living on discharge", "measure": "Bed confirmed before discharge",
                 "objectives": [{"text": "Apply to two sober-living homes", "target_date": today.checked_add(jiff::Span::new().days(14))?.to_string()}],
                 "interventions": [{"kind": "case_management", "detail": "", "responsible": "Ravi Patel"}], "progress": ""}
            ],
            "review_due": review.to_string(),
            "patient_participated": true
        }))?;
        let mut r = chart::build_plan(&c, &plan).map_err(app_err)?;
        r.occurred_at = e.admitted_at + DAY_US;
        let at = (e.admitted_at + DAY_US).min(now);
        let pid = put(store, r, at).await?;
        sign(store, &pid, &team.counselor, at).await?;
        if k % 3 != 1 {
            store
                .sign_record_at(
                    &pid,
                    &NewSignature {
                        kind: "patient",
                        signer_id: None,
                        signer_name: c.patient.display_name(),
                        signer_role: "patient".into(),
                        method: "typed",
                        drawing: None,
                    },
                    at,
                    ev("record.sign"),
                )
                .await?;
        }
        n += 1;
        // Attendance at the past two weeks' groups and a few notes.
        for s in sessions
            .iter()
            .filter(|s| s.program_id == res.id && s.starts_at < now && s.starts_at > e.admitted_at)
        {
            let status = if rng.random_bool(0.85) {
                "present"
            } else if rng.random_bool(0.5) {
                "late"
            } else {
                "absent"
            };
            let r = carepath_web::work::attendance_record(
                s,
                e.patient_id,
                status,
                team.counselor.author(),
            );
            put(store, r, s.starts_at + s.minutes * 60_000_000).await?;
            n += 1;
        }
        let group = sessions.iter().rev().find(|s| {
            s.program_id == res.id && s.starts_at < now - 2 * HOUR_US && s.modality == "process"
        });
        if let Some(s) = group.filter(|s| s.starts_at > e.admitted_at) {
            let input: chart::NoteInput = serde_json::from_value(json!({
                "template": (["DAP", "BIRP", "SOAP"])[k % 3], "service": "group", "session_id": s.id, "occurred_at": rfc(s.starts_at),
                "goal_refs": [format!("{pid}#0")],
                // One note a supervisor still has to co-sign (a trainee's).
                "cosigner_id": if k == 1 { Some(team.prescriber.id.to_string()) } else { None },
                "sections": match k % 3 {
                    0 => json!({"data": "Shared about cravings after a family phone call; listened to peers.", "assessment": "Engaged, insight improving; craving 6/10.", "plan": "Continue group; practise urge surfing before calls."}),
                    1 => json!({"behavior": "Arrived on time, quiet at first, then spoke about sleep.", "intervention": "CBT thought record on 'I can't sleep without using'.", "response": "Completed the record with support.", "plan": "Bring a thought record to Thursday's group."}),
                    _ => json!({"subjective": "Reports restless legs at night, mood 'better'.", "objective": "Alert, engaged, good hygiene.", "assessment": "Early recovery, residual withdrawal symptoms.", "plan": "Nursing to review sleep; continue group."}),
                },
            }))?;
            let mut r = chart::build_note(&c, &input).map_err(app_err)?;
            r.late_entry = false;
            let at = s.starts_at + (s.minutes + 30) * 60_000_000;
            let id = put(store, r.clone(), at).await?;
            n += 1;
            if k % 4 != 3 {
                sign(store, &id, &team.counselor, at).await?;
            }
            if k % 5 == 0 {
                // An amendment: both versions stay in the record.
                let mut body = r.body.clone();
                if let Some(obj) = body["sections"].as_object_mut()
                    && let Some((_, v)) = obj.iter_mut().next()
                {
                    *v = json!(format!(
                        "{} (Corrected: the call was with her sister, not her mother.)",
                        v.as_str().unwrap_or("")
                    ));
                }
                let mut a = r.clone();
                a.body = body;
                store
                    .amend_record(&id, &a, "wrong family member named", ev("record.amend"))
                    .await?;
                n += 1;
            }
        }
    }

    // Opioid treatment program: consents for everyone in care; a disclosure; assessments.
    let open_otp = store.open_episodes(otp.id).await?;
    for (k, e) in open_otp.iter().enumerate().take(40) {
        let c = ctx(store, otp, e.patient_id, Some(e), &team.intake).await?;
        let signed = jiff::Timestamp::from_microsecond(e.admitted_at)?
            .to_zoned(tz.clone())
            .date();
        for consent in [
            json!({"kind": "treatment", "signed_by": c.patient.display_name(), "signed_on": signed.to_string()}),
            json!({"kind": "tpo", "recipient": "my treating providers and health plan", "information": "all SUD treatment records, including medication and drug test results",
                   "purpose": "treatment, payment and health care operations", "expiry_event": "none", "signed_by": c.patient.display_name(), "signed_on": signed.to_string()}),
        ] {
            let i: carepath_clinical::consent::Consent = serde_json::from_value(consent)?;
            put_at(
                store,
                chart::build_consent(&c, &i).map_err(app_err)?,
                e.admitted_at,
            )
            .await?;
            n += 1;
        }
        if k < 12 {
            let mut a = assessment(&mut rng, e.admitted_at - 14 * HOUR_US, false, false);
            // The patient chose methadone maintenance: the placement records why.
            a["placement"] = json!({"accept": false, "level": "opioid_treatment_program",
                "reason": "patient chose methadone maintenance with weekly counseling at the OTP"});
            let a: chart::AssessmentInput = serde_json::from_value(a)?;
            let mut r = chart::build_assessment(&c, &a).map_err(app_err)?;
            r.occurred_at = e.admitted_at;
            put(store, r, e.admitted_at).await?;
            n += 1;
        }
        if k == 0 {
            let i: carepath_clinical::consent::Consent = serde_json::from_value(json!({
                "kind": "disclosure", "recipient": "Dr. Ana Lopez, Eastside Primary Care", "information": "diagnosis, methadone dose and last three drug tests (SUD treatment information)",
                "purpose": "coordination of care", "expires_on": today.checked_add(jiff::Span::new().days(180))?.to_string(), "signed_by": c.patient.display_name(), "signed_on": signed.to_string()}))?;
            let cid = put_at(
                store,
                chart::build_consent(&c, &i).map_err(app_err)?,
                e.admitted_at,
            )
            .await?;
            store
                .record_disclosure(
                    &carepath_store::Disclosure {
                        id: uuid::Uuid::now_v7().to_string(),
                        patient_id: e.patient_id.to_string(),
                        program_id: otp.id.to_string(),
                        consent_id: cid,
                        recipient: "Dr. Ana Lopez, Eastside Primary Care".into(),
                        purpose: "coordination of care".into(),
                        information: "diagnosis, methadone dose and last three drug tests (SUD treatment information)".into(),
                        channel: "fax".into(),
                        notice: carepath_clinical::consent::REDISCLOSURE_NOTICE.into(),
                        disclosed_at: (e.admitted_at + 3 * DAY_US).min(now),
                        disclosed_by: team.intake.id.to_string(),
                    },
                    ev("disclosure.make"),
                )
                .await?;
            n += 2;
        }
    }

    // Aftercare: discharges from withdrawal management in the last 12 weeks get
    // a discharge summary and weekly calls; past calls have outcomes.
    for p in [wm, res] {
        for pid in store
            .patient_ids_discharged_since(p.id, now - 84 * DAY_US)
            .await?
            .into_iter()
            .take(25)
        {
            let eps = store.episodes(pid).await?;
            let Some(ep) = eps
                .iter()
                .find(|x| x.program_id == p.id && x.discharged_at.is_some())
            else {
                continue;
            };
            let at = ep.discharged_at.unwrap_or(now);
            let c = ctx(store, p, pid, Some(ep), &team.nurse_wm).await?;
            let completed = ep.discharge_reason.as_deref() == Some("completed");
            let reason = match ep.discharge_reason.as_deref() {
                Some("completed") => 1,
                Some("left_against_advice") => 2,
                Some("terminated_by_facility") => 3,
                Some("transferred") => 4,
                _ => 7,
            };
            let input: chart::DischargeInput = serde_json::from_value(json!({
                "reason": reason,
                "summary": if completed { "Completed withdrawal management; COWS below 5 for 24 hours; stable vital signs." } else { "Left before completing care; offered re-admission and harm-reduction supplies." },
                "aftercare": {"outpatient_therapy": "Intensive outpatient, Harbor House, Mon/Wed/Fri 09:00", "medication": if rng.random_bool(0.5) { "Extended-release naltrexone, monthly at Riverside OTP" } else { "" },
                              "support_groups": "Narcotics Anonymous, St. Paul's, Tuesdays 19:00", "sober_living": if rng.random_bool(0.4) { "Oxford House New Castle (bed confirmed)" } else { "" }},
                "naloxone": {"education_given": true, "kit_given": completed || rng.random_bool(0.6), "not_given_reason": if completed { "" } else { "left before the kit could be given" }},
                "followup_every_days": 7, "followup_count": 12
            }))?;
            let Ok((_, records)) = chart::build_discharge(&c, ep, &input, at) else {
                continue;
            };
            let ids = store
                .append_records_at(&records, at, ev("discharge.history"))
                .await?;
            n += ids.len();
            for (id, r) in ids.iter().zip(&records).skip(1) {
                let due = r.due_at.unwrap_or(now);
                if due > now - DAY_US {
                    continue; // today's and future calls stay on the worklist
                }
                let reached = rng.random_bool(0.7);
                let o = json!({"reached": reached, "using": if reached { Some(rng.random_bool(0.3)) } else { None }, "in_treatment": if reached { Some(rng.random_bool(0.7)) } else { None }, "needs_reengagement": false, "note": ""});
                let mut rec = c.record(
                    "followup_outcome",
                    o.clone(),
                    if reached {
                        "Follow-up call: reached".into()
                    } else {
                        "Follow-up call: not reached".into()
                    },
                    due + 2 * HOUR_US,
                );
                rec.program_id = p.id;
                rec.ref_id = Some(id.clone());
                put(store, rec, due + 2 * HOUR_US).await?;
                n += 1;
            }
        }
    }
    // Registration details for everyone in care: phone, language, payer, a contact;
    // every fifth has a family-involvement consent for that contact.
    let payers = [
        "medicaid",
        "medicaid",
        "medicaid",
        "uninsured",
        "private",
        "medicare",
        "state_funded",
        "sliding_fee",
    ];
    let family = [
        "Rosa", "Denise", "Carl", "Maya", "Terrence", "Luz", "Gail", "Sam",
    ];
    for g in [otp, wm, res] {
        for (k, e) in store.open_episodes(g.id).await?.iter().enumerate() {
            let contact = format!(
                "{} {}",
                family[k % family.len()],
                store.patient(e.patient_id).await?.legal_last_name
            );
            let spanish = k % 9 == 4;
            let profile = json!({
                "phone": format!("(302) 555-{:04}", 1000 + (k * 37 + g.name.len()) % 9000),
                "language": if spanish { "Spanish" } else { "English" },
                "interpreter_needed": spanish,
                "payer": payers[k % payers.len()],
                "gender_identity": "",
                "contacts": [{"name": contact, "relationship": if k % 3 == 0 { "emergency" } else { "family" },
                              "phone": format!("(302) 555-{:04}", 2000 + k % 7000), "emergency": true}],
            });
            store
                .add_profile(e.patient_id, &profile, team.intake.id, ev("profile.update"))
                .await?;
            n += 1;
            if k % 5 == 1 {
                let c = ctx(store, g, e.patient_id, Some(e), &team.intake).await?;
                let signed = jiff::Timestamp::from_microsecond(e.admitted_at)?
                    .to_zoned(tz.clone())
                    .date();
                let i: carepath_clinical::consent::Consent = serde_json::from_value(json!({
                    "kind": "family", "recipient": contact, "information": "attendance and appointment times; not test results",
                    "purpose": "family involvement in treatment", "expiry_event": "end of treatment",
                    "signed_by": c.patient.display_name(), "signed_on": signed.to_string()}))?;
                put_at(
                    store,
                    chart::build_consent(&c, &i).map_err(app_err)?,
                    e.admitted_at,
                )
                .await?;
                n += 1;
            }
        }
    }
    Ok(Seeded { records: n })
}
