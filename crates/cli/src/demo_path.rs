//! The demo clinic's clinical records: patients at every step of the path,
//! written through the same services as the staff pages and the API (so the
//! engine computes every score and recommendation), on the demo's clock, so
//! the charts, worklists and calendar look like a working program.

use crate::demo::Team;
use anyhow::Result;
use carepath_app::clock::{Clock, DAY_US, HOUR_US, ManualClock};
use carepath_app::kinds::Input;
use carepath_app::kinds::assessment::{AssessmentInput, Placement, SubstanceUse};
use carepath_app::kinds::discharge::{Aftercare, DischargeInput, FollowUpOutcome, Naloxone};
use carepath_app::kinds::flowsheet::{FlowsheetInput, Scale};
use carepath_app::kinds::medication::OrderInput;
use carepath_app::kinds::notes::{Intervention, NoteInput, Objective, PlanInput, Problem};
use carepath_app::model::Program;
use carepath_app::registration::{Contact, Profile};
use carepath_app::{App, Principal, access, chart, registration, work};
use carepath_clinical::consent::{Consent, Kind as ConsentKind};
use carepath_clinical::flowsheet::Vitals;
use carepath_clinical::level_of_care::Dimensions;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::parse_time_zone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn rfc(us: i64) -> String {
    carepath_app::fmt::rfc3339(us)
}

async fn patient_name(app: &App, who: &Principal, id: PatientId) -> Result<String> {
    let s = access::open(app, who, id, Permission::ReadDemographics, "demo.name").await?;
    Ok(s.patient.display_name())
}

/// The state-report items an intake coordinator asks: referral, schooling,
/// work, housing, race and ethnicity, payment; the person first asked for
/// treatment 1–13 days before `admitted`.
fn teds_intake(rng: &mut ChaCha8Rng, admitted: i64) -> carepath_clinical::teds::Intake {
    fn pick(rng: &mut ChaCha8Rng, codes: &[i16]) -> Option<i16> {
        Some(codes[rng.random_range(0..codes.len())])
    }
    let referral = pick(rng, &[1, 1, 1, 2, 3, 6, 7]);
    let employment = pick(rng, &[1, 2, 3, 3, 4]);
    let requested = jiff::Timestamp::from_microsecond(admitted - rng.random_range(1..14) * DAY_US)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .ok();
    carepath_clinical::teds::Intake {
        requested_on: requested,
        referral_source: referral,
        criminal_justice_referral: (referral == Some(7)).then_some(3),
        education: Some(rng.random_range(1..=5)),
        employment,
        not_in_labor_force: (employment == Some(4)).then(|| rng.random_range(1..=5)),
        living: pick(rng, &[1, 2, 3, 3]),
        marital: pick(rng, &[1, 1, 2, 3, 4]),
        race: pick(rng, &[4, 5, 5, 8, 6, -9]),
        ethnicity: pick(rng, &[4, 4, 4, 2, 1, 5]),
        income: Some(rng.random_range(1..=5)),
        insurance: pick(rng, &[2, 2, 1, 3, 4]),
        payment: pick(rng, &[4, 4, 2, 3, 1, 6]),
        arrests_30d: pick(rng, &[0, 0, 0, 1, 2]),
        self_help_30d: Some(rng.random_range(1..=5)),
    }
}

/// The intake assessment written an hour after an admission (the clock is
/// set to it, then left there): the substance history, the criteria, the
/// six dimensions and the state-report items.
#[allow(clippy::too_many_arguments)]
pub async fn intake(
    app: &App,
    clock: &ManualClock,
    team: &Team,
    rng: &mut ChaCha8Rng,
    pid: PatientId,
    program: ProgramId,
    admitted: i64,
    withdrawal: bool,
    pregnant: bool,
) -> Result<()> {
    clock.set(admitted + HOUR_US);
    let last_use = admitted - rng.random_range(6..20) * HOUR_US;
    let a = assessment(rng, last_use, withdrawal, pregnant);
    let who = team.intake.acting(program);
    let female = access::open(app, &who, pid, Permission::ReadDemographics, "demo.intake")
        .await?
        .patient
        .sex
        == "female";
    let a = AssessmentInput {
        teds: teds_intake(rng, admitted),
        // A woman is asked; "not applicable" is for men.
        pregnancy: if pregnant {
            a.pregnancy
        } else if female {
            "not_pregnant".into()
        } else {
            "not_applicable".into()
        },
        ..a
    };
    create(app, &who, pid, Input::Assessment(Box::new(a))).await?;
    Ok(())
}

fn assessment(rng: &mut ChaCha8Rng, last_use: i64, wm: bool, pregnant: bool) -> AssessmentInput {
    let primary = if rng.random_bool(0.6) { 5 } else { 7 };
    let dsm5: Vec<String> = (1..=11)
        .filter(|_| rng.random_bool(0.75))
        .map(|k| format!("A{k}"))
        .collect();
    let d = |lo: u8, hi: u8, rng: &mut ChaCha8Rng| rng.random_range(lo..=hi);
    AssessmentInput {
        substances: vec![
            SubstanceUse {
                code: primary,
                route: if rng.random_bool(0.6) { 4 } else { 3 },
                frequency: 3,
                age_first_use: rng.random_range(15..28),
            },
            SubstanceUse {
                code: [13, 3, 2, 10][rng.random_range(0..4)],
                route: [1, 2, 1, 2][rng.random_range(0..4)],
                frequency: 2,
                age_first_use: rng.random_range(13..25),
            },
        ],
        last_opioid: Some(if primary == 5 { "heroin" } else { "fentanyl" }.into()),
        last_use_at: Some(rfc(last_use)),
        prior_treatment_episodes: rng.random_range(0..4),
        overdoses_lifetime: rng.random_range(0..3),
        overdose_past_year: rng.random_bool(0.3),
        dsm5,
        medically_supervised: false,
        dimensions: Dimensions {
            withdrawal: if wm { d(3, 3, rng) } else { d(1, 2, rng) },
            biomedical: d(0, 2, rng),
            emotional_behavioral: d(1, 2, rng),
            readiness: d(1, 3, rng),
            relapse: d(2, 3, rng),
            recovery_environment: d(1, 3, rng),
        },
        cows: None,
        complicated_withdrawal: false,
        medical_instability: false,
        psychiatric_instability: false,
        imminent_danger: false,
        on_medication: false,
        phq9: (0..9)
            .map(|i| if i == 8 { 0 } else { rng.random_range(0..3) })
            .collect(),
        gad7: (0..7).map(|_| rng.random_range(0..3)).collect(),
        suicide_question: Some(false),
        suicide_followup: Default::default(),
        pregnancy: if pregnant {
            "pregnant"
        } else {
            "not_applicable"
        }
        .into(),
        due_date: pregnant.then(|| "2027-04-02".into()),
        flags: if rng.random_bool(0.25) {
            vec!["co_occurring".into()]
        } else {
            vec![]
        },
        placement: Placement {
            accept: true,
            level: None,
            reason: String::new(),
        },
        teds: Default::default(),
    }
}

/// COWS items adding up to about `target`.
fn cows_items(target: u8, rng: &mut ChaCha8Rng) -> BTreeMap<String, u16> {
    let mut items = BTreeMap::new();
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
        items.insert((*name).to_string(), v as u16);
    }
    items
}

/// Discharge a patient from `program` now (the demo's clock) with a summary,
/// aftercare and naloxone documentation; a step-down to residential care
/// schedules no follow-up calls. Returns the ids of the follow-up calls.
pub async fn discharge(
    app: &App,
    team: &Team,
    rng: &mut ChaCha8Rng,
    pid: PatientId,
    program: ProgramId,
    reason: u8,
    step_down: bool,
) -> Result<Vec<String>> {
    let completed = reason == 1;
    let input = DischargeInput {
        reason,
        summary: if completed {
            "Completed the episode of care; COWS below 5 for 24 hours; stable vital signs.".into()
        } else {
            "Left before completing care; offered re-admission and harm-reduction supplies.".into()
        },
        aftercare: Aftercare {
            outpatient_therapy: if step_down {
                "Residential care at Harbor House".into()
            } else {
                "Intensive outpatient, Harbor House, Mon/Wed/Fri 09:00".into()
            },
            medication: if rng.random_bool(0.5) {
                "Extended-release naltrexone, monthly at Riverside OTP".into()
            } else {
                String::new()
            },
            support_groups: "Narcotics Anonymous, St. Paul's, Tuesdays 19:00".into(),
            sober_living: if rng.random_bool(0.4) {
                "Oxford House New Castle (bed confirmed)".into()
            } else {
                String::new()
            },
            housing_employment: String::new(),
        },
        naloxone: Naloxone {
            education_given: true,
            kit_given: completed || rng.random_bool(0.6),
            not_given_reason: if completed {
                String::new()
            } else {
                "left before the kit could be given".into()
            },
        },
        taper_completed: false,
        continuing_agonist: false,
        followup_every_days: Some(7),
        followup_count: Some(if step_down { 0 } else { 12 }),
        // The last interview's state-report items; someone who left without
        // one is "unknown" on each, not unasked.
        teds: Some(if completed {
            carepath_clinical::teds::Discharge {
                frequencies: vec![1, [1, 2][rng.random_range(0..2)]],
                employment: Some([1, 2, 3, 4][rng.random_range(0..4)]),
                not_in_labor_force: Some(rng.random_range(1..=5)),
                living: Some([2, 3][rng.random_range(0..2)]),
                arrests_30d: Some(0),
                self_help_30d: Some(rng.random_range(2..=4)),
            }
        } else {
            carepath_clinical::teds::Discharge {
                frequencies: vec![-9, -9],
                employment: Some(-9),
                not_in_labor_force: None,
                living: Some(-9),
                arrests_30d: Some(-9),
                self_help_30d: Some(-9),
            }
        }),
    };
    let ids = chart::discharge(app, &team.nurse_wm.acting(program), pid, &input).await?;
    Ok(ids.into_iter().skip(1).collect())
}

/// Outcomes for the follow-up calls already due (today's and later stay on
/// the worklist). Returns how many records were written.
pub async fn followup_outcomes(
    app: &App,
    clock: &ManualClock,
    team: &Team,
    rng: &mut ChaCha8Rng,
    due: &[(PatientId, ProgramId, Vec<String>)],
    today: i64,
) -> Result<usize> {
    let mut n = 0;
    for (_, program, calls) in due {
        let who = team.intake.acting(*program);
        for id in calls {
            let f =
                access::open_for_record(app, &who, id, Permission::ReadClinical, "demo.followup")
                    .await?
                    .1;
            let due_at = f.due_at.unwrap_or(today);
            if due_at > today - DAY_US {
                continue;
            }
            clock.set(due_at + 2 * HOUR_US);
            let reached = rng.random_bool(0.7);
            chart::followup_outcome(
                app,
                &who,
                id,
                &FollowUpOutcome {
                    reached,
                    using: reached.then(|| rng.random_bool(0.3)),
                    in_treatment: reached.then(|| rng.random_bool(0.7)),
                    needs_reengagement: false,
                    note: String::new(),
                },
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn create(app: &App, who: &Principal, id: PatientId, input: Input) -> Result<String> {
    Ok(chart::create(app, who, id, &input).await?.0)
}

/// A weekly series at `hh:00` on `weekdays` for four weeks from `start`.
#[allow(clippy::too_many_arguments)]
async fn series(
    app: &App,
    who: &Principal,
    program: ProgramId,
    start: jiff::civil::Date,
    hh: i8,
    title: &str,
    kind: &str,
    modality: &str,
    minutes: i64,
    weekdays: Vec<u8>,
    location: &str,
) -> Result<()> {
    work::schedule(
        app,
        who,
        program,
        &work::SeriesInput {
            kind: kind.into(),
            title: title.into(),
            modality: modality.into(),
            start_date: start.to_string(),
            time: format!("{hh:02}:00"),
            minutes,
            weekdays,
            weeks: 4,
            location: location.into(),
        },
    )
    .await?;
    Ok(())
}

/// Seed the clinical records; returns how many were written.
pub async fn seed(
    app: &App,
    clock: &ManualClock,
    programs: &[Program],
    team: &Team,
    seed: u64,
) -> Result<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a7);
    let now = clock.now_us();
    let (otp, wm, res) = (&programs[0], &programs[1], &programs[2]);
    let mut n = 0usize;
    let nurse = team.nurse_wm.acting(wm.id);
    let prescriber = team.prescriber.acting(wm.id);

    // Withdrawal management: everyone in the unit has an assessment, orders and a flowsheet.
    let open_wm = work::in_care(app, &nurse, wm.id).await?;
    for (k, e) in open_wm.iter().enumerate() {
        // The intake assessment was written an hour after the admission;
        // scores follow the time since a last use about that long before.
        let last_use = e.admitted_at - rng.random_range(6..20) * HOUR_US;
        clock.set(e.admitted_at + HOUR_US);
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
            let input = FlowsheetInput {
                scale: Some(Scale::Cows),
                items: cows_items(target, &mut rng),
                sows: vec![],
                vitals: Vitals {
                    sbp: Some(rng.random_range(112..150)),
                    dbp: Some(rng.random_range(70..92)),
                    hr: Some(rng.random_range(72..112)),
                    temp_c: Some(36.6 + rng.random_range(0..12) as f64 / 10.0),
                    spo2: Some(rng.random_range(95..100)),
                    rr: Some(rng.random_range(14..20)),
                },
                observed_at: Some(rfc(t)),
            };
            clock.set(t + 5 * 60_000_000);
            let (_, body) =
                chart::create(app, &nurse, e.patient_id, &Input::Flowsheet(input)).await?;
            let total = match body {
                carepath_app::kinds::Body::Cows(b) => b.score.total,
                _ => 0,
            };
            let p = &carepath_app::Settings::default().cows_protocol;
            t = carepath_clinical::flowsheet::next_due(p, t, total);
            n += 1;
        }
        clock.set(e.admitted_at + 2 * HOUR_US);
        create(
            app,
            &prescriber,
            e.patient_id,
            Input::Order(OrderInput {
                medication: "clonidine".into(),
                dose_mg: 0.1,
                every_h: 6.0,
                prn: true,
                indication: "autonomic withdrawal symptoms".into(),
                holds: None,
            }),
        )
        .await?;
        n += 1;
        if k % 3 == 2 {
            // A telephone order entered by the nurse, waiting for the prescriber's signature.
            clock.set(now - 2 * HOUR_US);
            create(
                app,
                &nurse,
                e.patient_id,
                Input::Order(OrderInput {
                    medication: "loperamide".into(),
                    dose_mg: 4.0,
                    every_h: 4.0,
                    prn: true,
                    indication: "diarrhea".into(),
                    holds: None,
                }),
            )
            .await?;
            n += 1;
        }
    }

    // The calendar: four weeks of groups and activities from two weeks ago.
    let tz = parse_time_zone(&res.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz);
    let start = today.checked_sub(jiff::Span::new().days(14))?;
    let counselor_res = team.counselor.acting(res.id);
    let counselor_otp = team.counselor.acting(otp.id);
    clock.set(now - 15 * DAY_US);
    let room = "Group room A";
    series(
        app,
        &counselor_res,
        res.id,
        start,
        9,
        "Morning process group",
        "group",
        "process",
        90,
        vec![1, 2, 3, 4, 5],
        room,
    )
    .await?;
    series(
        app,
        &counselor_res,
        res.id,
        start,
        11,
        "Relapse prevention",
        "group",
        "relapse_prevention",
        60,
        vec![1, 2, 3, 4, 5],
        room,
    )
    .await?;
    for (wd, title, modality) in [
        (1, "Yoga", "yoga"),
        (2, "Art therapy", "art"),
        (3, "Nutrition", "nutrition"),
        (4, "Dance and movement", "dance"),
        (5, "SMART Recovery", "smart_recovery"),
    ] {
        series(
            app,
            &counselor_res,
            res.id,
            start,
            14,
            title,
            "activity",
            modality,
            60,
            vec![wd],
            room,
        )
        .await?;
    }
    series(
        app,
        &counselor_res,
        res.id,
        start,
        13,
        "Family session block",
        "family",
        "family_therapy",
        120,
        vec![6],
        room,
    )
    .await?;
    series(
        app,
        &counselor_otp,
        otp.id,
        start,
        10,
        "Medication-assisted recovery group",
        "group",
        "psychoeducation",
        60,
        vec![2, 4],
        "Counseling room 2",
    )
    .await?;
    let (from, to) = (now - 15 * DAY_US, now + 15 * DAY_US);
    let res_sessions = work::sessions(app, &counselor_res, res.id, from, to).await?;
    let otp_sessions = work::sessions(app, &counselor_otp, otp.id, from, to).await?;
    // The OTP's recovery group is a closed group of eight.
    if let Some(group) = otp_sessions.first() {
        clock.set(now - 20 * DAY_US);
        for e in work::in_care(app, &counselor_otp, otp.id)
            .await?
            .iter()
            .take(8)
        {
            work::enroll(
                app,
                &counselor_otp,
                &group.id,
                &e.patient_id.to_string(),
                true,
            )
            .await?;
            n += 1;
        }
    }

    // Residential: plans, group notes (signed, unsigned, amended), attendance.
    let open_res = work::in_care(app, &counselor_res, res.id).await?;
    for (k, e) in open_res.iter().enumerate() {
        let review = if k % 4 == 0 {
            today.checked_add(jiff::Span::new().days(3))?
        } else {
            today.checked_add(jiff::Span::new().days(20 + k as i64 % 10))?
        };
        let days = |d: i64| -> Result<String> {
            Ok(today.checked_add(jiff::Span::new().days(d))?.to_string())
        };
        let iv = |kind: &str, who: &str| Intervention {
            kind: kind.into(),
            detail: String::new(),
            responsible: who.into(),
        };
        let plan = PlanInput {
            problems: vec![
                Problem {
                    problem: "Daily heroin use with overdose history".into(),
                    goal: "No opioid use for 30 consecutive days".into(),
                    measure: "Weekly urine drug screens negative for opioids".into(),
                    objectives: vec![
                        Objective {
                            text: "Identify three personal triggers and a coping plan for each"
                                .into(),
                            target_date: days(10)?,
                        },
                        Objective {
                            text: "Attend SMART Recovery twice a week".into(),
                            target_date: days(21)?,
                        },
                    ],
                    interventions: vec![
                        iv("cbt", "Tanya James, LCADC"),
                        iv("smart_recovery", "Tanya James, LCADC"),
                        iv("medication", "Dr. Ngozi Okafor"),
                    ],
                    progress: String::new(),
                },
                Problem {
                    problem: "No stable housing after discharge".into(),
                    goal: "Move into sober living on discharge".into(),
                    measure: "Bed confirmed before discharge".into(),
                    objectives: vec![Objective {
                        text: "Apply to two sober-living homes".into(),
                        target_date: days(14)?,
                    }],
                    interventions: vec![iv("case_management", "Ravi Patel")],
                    progress: String::new(),
                },
            ],
            review_due: review.to_string(),
            patient_participated: true,
        };
        clock.set((e.admitted_at + DAY_US).min(now));
        let pid = create(app, &counselor_res, e.patient_id, Input::Plan(plan)).await?;
        chart::sign(app, &counselor_res, &pid, &Default::default()).await?;
        if k % 3 != 1 {
            let name = patient_name(app, &counselor_res, e.patient_id).await?;
            chart::sign(
                app,
                &counselor_res,
                &pid,
                &chart::SignInput {
                    as_: Some("patient".into()),
                    typed_name: name,
                    drawing: String::new(),
                },
            )
            .await?;
        }
        n += 1;
        // Attendance at the past two weeks' groups.
        for s in res_sessions
            .iter()
            .filter(|s| s.starts_at < now && s.starts_at > e.admitted_at)
        {
            let status = if rng.random_bool(0.85) {
                "present"
            } else if rng.random_bool(0.5) {
                "late"
            } else {
                "absent"
            };
            clock.set(s.starts_at + s.minutes * 60_000_000);
            n += work::attendance(
                app,
                &counselor_res,
                &s.id,
                &work::AttendanceInput {
                    entries: vec![work::AttendanceEntry {
                        patient_id: e.patient_id.to_string(),
                        status: status.into(),
                    }],
                },
            )
            .await?;
        }
        let group = res_sessions
            .iter()
            .rev()
            .find(|s| s.starts_at < now - 2 * HOUR_US && s.modality == "process");
        if let Some(s) = group.filter(|s| s.starts_at > e.admitted_at) {
            let template = ["DAP", "BIRP", "SOAP"][k % 3];
            let sections: &[(&str, &str)] = match k % 3 {
                0 => &[
                    (
                        "data",
                        "Shared about cravings after a family phone call; listened to peers.",
                    ),
                    ("assessment", "Engaged, insight improving; craving 6/10."),
                    (
                        "plan",
                        "Continue group; practise urge surfing before calls.",
                    ),
                ],
                1 => &[
                    (
                        "behavior",
                        "Arrived on time, quiet at first, then spoke about sleep.",
                    ),
                    (
                        "intervention",
                        "CBT thought record on 'I can't sleep without using'.",
                    ),
                    ("response", "Completed the record with support."),
                    ("plan", "Bring a thought record to Thursday's group."),
                ],
                _ => &[
                    (
                        "subjective",
                        "Reports restless legs at night, mood 'better'.",
                    ),
                    ("objective", "Alert, engaged, good hygiene."),
                    (
                        "assessment",
                        "Early recovery, residual withdrawal symptoms.",
                    ),
                    ("plan", "Nursing to review sleep; continue group."),
                ],
            };
            let sections: BTreeMap<String, String> = sections
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            let mut note = NoteInput {
                template: template.into(),
                sections,
                service: "group".into(),
                occurred_at: Some(rfc(s.starts_at)),
                session_id: Some(s.id.clone()),
                goal_refs: vec![format!("{pid}#0")],
                // One note a supervisor still has to co-sign (a trainee's).
                cosigner_id: (k == 1).then(|| team.prescriber.id.to_string()),
                private: false,
            };
            clock.set(s.starts_at + (s.minutes + 30) * 60_000_000);
            let id = create(app, &counselor_res, e.patient_id, Input::Note(note.clone())).await?;
            n += 1;
            if k % 4 != 3 {
                chart::sign(app, &counselor_res, &id, &Default::default()).await?;
            }
            if k % 5 == 0 {
                // An amendment: both versions stay in the record.
                if let Some((_, v)) = note.sections.iter_mut().next() {
                    v.push_str(" (Corrected: the call was with her sister, not her mother.)");
                }
                chart::amend(
                    app,
                    &counselor_res,
                    &id,
                    "wrong family member named",
                    &Input::Note(note),
                )
                .await?;
                n += 1;
            }
        }
    }

    // Opioid treatment program: consents for everyone in care; a disclosure; assessments.
    let intake_otp = team.intake.acting(otp.id);
    let open_otp = work::in_care(app, &intake_otp, otp.id).await?;
    for (k, e) in open_otp.iter().enumerate().take(40) {
        clock.set(e.admitted_at + 10 * 60_000_000);
        let name = patient_name(app, &intake_otp, e.patient_id).await?;
        let signed = jiff::Timestamp::from_microsecond(e.admitted_at)?
            .to_zoned(tz.clone())
            .date()
            .to_string();
        let consent = |kind,
                       recipient: &str,
                       information: &str,
                       purpose: &str,
                       expires_on: Option<String>,
                       expiry_event: Option<&str>| Consent {
            kind,
            recipient: recipient.into(),
            information: information.into(),
            purpose: purpose.into(),
            expires_on,
            expiry_event: expiry_event.map(str::to_string),
            signed_by: name.clone(),
            signed_on: signed.clone(),
        };
        create(
            app,
            &intake_otp,
            e.patient_id,
            Input::Consent(consent(ConsentKind::Treatment, "", "", "", None, None)),
        )
        .await?;
        create(
            app,
            &intake_otp,
            e.patient_id,
            Input::Consent(consent(
                ConsentKind::Tpo,
                "my treating providers and health plan",
                "all SUD treatment records, including medication and drug test results",
                "treatment, payment and health care operations",
                None,
                Some("none"),
            )),
        )
        .await?;
        n += 2;
        if k < 12 {
            let mut a = assessment(&mut rng, e.admitted_at - 14 * HOUR_US, false, false);
            // The patient chose methadone maintenance: the placement records why.
            a.placement = Placement {
                accept: false,
                level: Some("opioid_treatment_program".into()),
                reason: "patient chose methadone maintenance with weekly counseling at the OTP"
                    .into(),
            };
            create(
                app,
                &intake_otp,
                e.patient_id,
                Input::Assessment(Box::new(a)),
            )
            .await?;
            n += 1;
        }
        if k == 0 {
            let recipient = "Dr. Ana Lopez, Eastside Primary Care";
            let cid = create(
                app,
                &intake_otp,
                e.patient_id,
                Input::Consent(consent(
                    ConsentKind::Disclosure,
                    recipient,
                    "diagnosis, methadone dose and last three drug tests (SUD treatment information)",
                    "coordination of care",
                    Some(today.checked_add(jiff::Span::new().days(180))?.to_string()),
                    None,
                )),
            )
            .await?;
            clock.set((e.admitted_at + 3 * DAY_US).min(now));
            chart::disclose(
                app,
                &intake_otp,
                e.patient_id,
                &chart::DisclosureInput {
                    consent_id: cid,
                    recipient: recipient.into(),
                    purpose: "coordination of care".into(),
                    channel: "fax".into(),
                },
            )
            .await?;
            n += 2;
        }
    }

    // Withdrawal management and residential: the first fifteen in care in
    // each have signed the treatment and TPO consents (the rest not yet).
    for g in [wm, res] {
        let acting = team.intake.acting(g.id);
        for e in work::in_care(app, &acting, g.id).await?.iter().take(15) {
            clock.set(e.admitted_at + 15 * 60_000_000);
            let name = patient_name(app, &acting, e.patient_id).await?;
            let signed = jiff::Timestamp::from_microsecond(e.admitted_at)?
                .to_zoned(tz.clone())
                .date()
                .to_string();
            for (kind, recipient, information, purpose, event) in [
                (ConsentKind::Treatment, "", "", "", None),
                (
                    ConsentKind::Tpo,
                    "my treating providers and health plan",
                    "all SUD treatment records, including medication and drug test results",
                    "treatment, payment and health care operations",
                    Some("none"),
                ),
            ] {
                let c = Consent {
                    kind,
                    recipient: recipient.into(),
                    information: information.into(),
                    purpose: purpose.into(),
                    expires_on: None,
                    expiry_event: event.map(str::to_string),
                    signed_by: name.clone(),
                    signed_on: signed.clone(),
                };
                create(app, &acting, e.patient_id, Input::Consent(c)).await?;
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
        let who: Principal = team.intake.acting(g.id);
        for (k, e) in work::in_care(app, &who, g.id).await?.iter().enumerate() {
            clock.set(e.admitted_at + 20 * 60_000_000);
            let s = access::open(
                app,
                &who,
                e.patient_id,
                Permission::ReadDemographics,
                "demo.profile",
            )
            .await?;
            let contact = format!("{} {}", family[k % family.len()], s.patient.legal_last_name);
            let spanish = k % 9 == 4;
            registration::save_profile(
                app,
                &who,
                e.patient_id,
                &Profile {
                    phone: format!("(302) 555-{:04}", 1000 + (k * 37 + g.name.len()) % 9000),
                    language: if spanish { "Spanish" } else { "English" }.into(),
                    interpreter_needed: spanish,
                    payer: payers[k % payers.len()].into(),
                    contacts: vec![Contact {
                        name: contact.clone(),
                        relationship: if k % 3 == 0 { "emergency" } else { "family" }.into(),
                        phone: format!("(302) 555-{:04}", 2000 + k % 7000),
                        emergency: true,
                    }],
                    ..Default::default()
                },
            )
            .await?;
            n += 1;
            if k % 5 == 1 {
                let signed = jiff::Timestamp::from_microsecond(e.admitted_at)?
                    .to_zoned(tz.clone())
                    .date()
                    .to_string();
                create(
                    app,
                    &who,
                    e.patient_id,
                    Input::Consent(Consent {
                        kind: ConsentKind::Family,
                        recipient: contact,
                        information: "attendance and appointment times; not test results".into(),
                        purpose: "family involvement in treatment".into(),
                        expires_on: None,
                        expiry_event: Some("end of treatment".into()),
                        signed_by: s.patient.display_name(),
                        signed_on: signed,
                    }),
                )
                .await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
