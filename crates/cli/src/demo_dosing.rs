//! The demo's opioid treatment program in full swing: a formulary, lots on
//! the shelf, methadone and buprenorphine-naloxone orders at every stage
//! (induction and titration, stable maintenance, a taper, a split dose for a
//! pregnant patient, patients who stopped coming), two weeks of doses, and
//! this morning's window half done; the last week's end-of-day counts
//! reconciled with two signatures; take-homes granted and bottles handed out
//! to stable patients; a staff training day ahead; an overdose reversed with
//! naloxone two days ago; this morning's queue at the window. Everything goes through the dosing
//! services, as the desk would, with the clock at each day's window.

use crate::demo::Team;
use anyhow::Result;
use carepath_app::clock::{DAY_US, ManualClock};
use carepath_app::dosing::{self, DoseInput, OrderInput, ProductInput, ReceiptInput};
use carepath_app::{App, Principal, stock, takehome, work};
use carepath_domain::ids::{PatientId, ProgramId};
use rand::Rng;

/// Days of dosing history before today.
const HISTORY_DAYS: i64 = 14;

enum Plan {
    /// Methadone at a steady dose.
    Stable { dose: f64 },
    /// Started at 30 mg `days` ago, +10 mg every 4 days up to 60.
    Induction { days: i64 },
    /// Stable, then stopped coming `gone` days ago.
    Missing { dose: f64, gone: i64 },
    /// Tapering: 10 % down 7 days ago.
    Taper { dose: f64 },
    /// Split for a pregnant patient: morning and afternoon.
    Split { first: f64, second: f64 },
    /// Buprenorphine-naloxone film, stable.
    Bup { dose: f64 },
    /// A long-acting injection (buprenorphine XR monthly or naltrexone
    /// XR), the last one `injected` days ago.
    Xr {
        medication: &'static str,
        injected: i64,
    },
}

fn order(med: &str, form: &str, phase: &str, dose: f64) -> OrderInput {
    OrderInput {
        medication: med.into(),
        form: form.into(),
        phase: phase.into(),
        dose_mg: dose,
        ..Default::default()
    }
}

const CARRIED: &str = "established dose carried over from the previous dosing record (verified with the patient's prior program)";

/// Seed the OTP's dosing; returns how many doses were recorded.
pub async fn seed(
    app: &App,
    clock: &ManualClock,
    team: &Team,
    otp: ProgramId,
    tz: &jiff::tz::TimeZone,
    rng: &mut impl Rng,
    today_us: i64,
) -> Result<usize> {
    let sys = Principal::system("demo");
    let prescriber = team.prescriber.acting(otp);
    let nurse = team.nurse_otp.acting(otp);
    let at = |days_ago: i64, minutes: i64| -> Result<i64> {
        let day = carepath_domain::program::clinic_day(
            jiff::Timestamp::from_microsecond(today_us - days_ago * DAY_US)?,
            tz,
        );
        let morning = day.at(6, 0, 0, 0).to_zoned(tz.clone())?.timestamp();
        Ok(morning.as_microsecond() + minutes * 60_000_000)
    };
    // The formulary and stock arrived before the oldest injection below.
    clock.set(at(40, 0)?);
    let methadone = dosing::add_product(
        app,
        &sys,
        otp,
        &ProductInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            name: "Methadone HCl oral concentrate 10 mg/mL".into(),
            strength_mg: 10.0,
        },
    )
    .await?;
    let mut xr_products = vec![];
    for (medication, form, name, strength) in [
        (
            "buprenorphine",
            "injection_xr",
            "Buprenorphine extended-release injection 300 mg/1.5 mL",
            300.0,
        ),
        (
            "naltrexone",
            "injection_xr",
            "Naltrexone extended-release injectable suspension 380 mg",
            380.0,
        ),
    ] {
        xr_products.push(
            dosing::add_product(
                app,
                &sys,
                otp,
                &ProductInput {
                    medication: medication.into(),
                    form: form.into(),
                    name: name.into(),
                    strength_mg: strength,
                },
            )
            .await?,
        );
    }
    let film = dosing::add_product(
        app,
        &sys,
        otp,
        &ProductInput {
            medication: "buprenorphine_naloxone".into(),
            form: "sublingual_film".into(),
            name: "Buprenorphine-naloxone 8 mg/2 mg sublingual film".into(),
            strength_mg: 8.0,
        },
    )
    .await?;
    for (product, lot, amount, expires) in [
        (&methadone, "MT-2611-A", 40_000.0, "2027-10-31"),
        (&methadone, "MT-2611-B", 60_000.0, "2027-11-30"),
        (&film, "BN-2610-07", 6_000.0, "2027-06-30"),
        (&xr_products[0], "BX-2609-3", 3_000.0, "2027-03-31"),
        (&xr_products[1], "NX-2608-1", 3_800.0, "2027-02-28"),
    ] {
        dosing::receive(
            app,
            &nurse,
            otp,
            &ReceiptInput {
                product_id: product.clone(),
                lot: lot.into(),
                expires_on: Some(expires.into()),
                amount_mg: amount,
            },
        )
        .await?;
    }
    // Who is in care at the OTP now, and their plan.
    let episodes = work::in_care(app, &sys, otp).await?;
    let mut plans: Vec<(PatientId, Plan)> = vec![];
    let mut split_done = false;
    for e in &episodes {
        let r: f64 = rng.random();
        let stable = (rng.random_range(6..=12) * 10) as f64;
        let plan = if !split_done && r < 0.05 {
            split_done = true;
            Plan::Split {
                first: 50.0,
                second: 40.0,
            }
        } else if r < 0.20 {
            // (An induction cannot have begun before the admission.)
            Plan::Induction {
                days: rng
                    .random_range(2..=HISTORY_DAYS)
                    .min((today_us - e.admitted_at).max(0) / DAY_US),
            }
        } else if r < 0.28 {
            Plan::Missing {
                dose: stable,
                gone: rng.random_range(3..=6),
            }
        } else if r < 0.33 {
            Plan::Taper { dose: stable }
        } else if r < 0.55 {
            Plan::Bup {
                dose: [8.0, 12.0, 16.0, 16.0, 24.0][rng.random_range(0..5)],
            }
        } else {
            Plan::Stable { dose: stable }
        };
        plans.push((e.patient_id, plan));
    }
    // Three patients on long-acting injections: buprenorphine XR given 9
    // days ago (the next not yet allowed) and 27 days ago (due), naltrexone
    // XR 36 days ago (late: the panel warns of lost tolerance).
    let mut xr = [
        ("buprenorphine", 9),
        ("buprenorphine", 27),
        ("naltrexone", 36),
    ]
    .into_iter();
    let mut next = xr.next();
    for ((_, plan), e) in plans.iter_mut().zip(&episodes) {
        if let Some((medication, injected)) = next
            && matches!(plan, Plan::Bup { .. })
            && e.admitted_at < today_us - (injected + 1) * DAY_US
        {
            next = xr.next();
            *plan = Plan::Xr {
                medication,
                injected,
            };
        }
    }
    // When each was admitted: nothing is ordered or given before that.
    let admitted: Vec<i64> = episodes.iter().map(|e| e.admitted_at).collect();
    // Orders written when each plan began (the clock at that day), or at
    // the admission when that came later.
    for (k, (pid, plan)) in plans.iter().enumerate() {
        let start = match plan {
            Plan::Induction { days } => *days,
            Plan::Xr { injected, .. } => *injected,
            _ => HISTORY_DAYS,
        };
        clock.set(at(start, k as i64 % 50)?.max(admitted[k] + 5 * 60_000_000));
        let first = match plan {
            Plan::Stable { dose } | Plan::Missing { dose, .. } | Plan::Taper { dose } => {
                OrderInput {
                    days_on_medication: Some(rng.random_range(60..900)),
                    ..order("methadone", "oral_liquid", "maintenance", *dose)
                }
            }
            Plan::Induction { .. } => order("methadone", "oral_liquid", "induction", 30.0),
            Plan::Split { first, second } => OrderInput {
                split: true,
                first_dose_mg: Some(*first),
                days_on_medication: Some(400),
                ..order("methadone", "oral_liquid", "maintenance", first + second)
            },
            Plan::Bup { dose } => OrderInput {
                days_on_medication: Some(rng.random_range(30..600)),
                override_reason: (*dose > 24.0).then(|| CARRIED.to_string()),
                ..order(
                    "buprenorphine_naloxone",
                    "sublingual_film",
                    "maintenance",
                    *dose,
                )
            },
            Plan::Xr {
                medication: "naltrexone",
                injected,
            } => {
                let opioid_free_since = carepath_domain::program::clinic_day(
                    jiff::Timestamp::from_microsecond(today_us - (injected + 21) * DAY_US)?,
                    tz,
                );
                OrderInput {
                    last_opioid: Some("heroin".into()),
                    last_opioid_use: Some(opioid_free_since.to_string()),
                    urine_opioid_negative: Some(true),
                    naloxone_challenge: Some("negative".into()),
                    ..order("naltrexone", "injection_xr", "maintenance", 380.0)
                }
            }
            Plan::Xr { .. } => OrderInput {
                days_on_medication: Some(rng.random_range(30..300)),
                ..order("buprenorphine", "injection_xr", "maintenance", 300.0)
            },
        };
        dosing::create_order(app, &prescriber, *pid, &first).await?;
        // The injection is given the day it is ordered.
        if matches!(plan, Plan::Xr { .. }) {
            dosing::record_dose(app, &nurse, *pid, &DoseInput::default()).await?;
        }
    }
    // The window, day by day: titrations and the taper on their days, then
    // everyone who comes is dosed; today only the first half of the line.
    let mut doses = 0;
    for days_ago in (0..=HISTORY_DAYS).rev() {
        for (k, (pid, plan)) in plans.iter().enumerate() {
            let minute = (k as i64 * 7) % 400;
            clock.set(at(days_ago, minute)?);
            match plan {
                Plan::Induction { days } => {
                    let day_n = days - days_ago;
                    if day_n > 0 && day_n % 4 == 0 && day_n / 4 <= 3 {
                        let dose = 30.0 + 10.0 * (day_n / 4) as f64;
                        dosing::create_order(
                            app,
                            &prescriber,
                            *pid,
                            &order("methadone", "oral_liquid", "titration", dose),
                        )
                        .await?;
                    }
                    if day_n < 0 {
                        continue;
                    }
                }
                Plan::Taper { dose } if days_ago == 7 && at(7, 0)? > admitted[k] => {
                    let lower = (dose * 0.92 / 5.0).round() * 5.0;
                    dosing::create_order(
                        app,
                        &prescriber,
                        *pid,
                        &order("methadone", "oral_liquid", "taper", lower),
                    )
                    .await?;
                }
                Plan::Missing { gone, .. } if days_ago < *gone => continue,
                // No daily dose: the injection was given when ordered.
                Plan::Xr { .. } => continue,
                _ => {}
            }
            // Today the line is half way through; now and then someone misses a day.
            if days_ago == 0 && k % 2 == 1 {
                continue;
            }
            if days_ago > 0 && rng.random_bool(0.03) {
                continue;
            }
            // Not yet admitted that morning.
            if at(days_ago, minute)? < admitted[k] {
                continue;
            }
            let visits = if matches!(plan, Plan::Split { .. }) && days_ago > 0 {
                2
            } else {
                1
            };
            for v in 0..visits {
                if v == 1 {
                    clock.set(at(days_ago, 480)?);
                }
                match dosing::record_dose(app, &nurse, *pid, &DoseInput::default()).await {
                    Ok(_) => doses += 1,
                    // A missed-dose hold the engine puts on: the prescriber sees them first.
                    Err(carepath_app::Error::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // The last week's end-of-day counts: the OTP nurse counts every lot
        // and signs, the prescriber co-signs.
        if (1..=7).contains(&days_ago) {
            clock.set(at(days_ago, 600)?);
            reconcile_day(app, &nurse, &prescriber, otp).await?;
        }
    }
    // This morning a nurse took a telephone order that waits for the
    // prescriber's signature.
    if let Some((pid, _)) = plans.iter().find(|(_, p)| matches!(p, Plan::Stable { .. })) {
        clock.set(at(0, 30)?);
        let panel = dosing::panel(app, &nurse, *pid).await?;
        if let Some(o) = panel.order {
            let now = o.dose_ug as f64 / 1000.0;
            dosing::create_order(
                app,
                &nurse,
                *pid,
                &OrderInput {
                    verbal_from: Some(team.prescriber.id.to_string()),
                    ..order("methadone", "oral_liquid", "maintenance", now + 5.0)
                },
            )
            .await
            .ok();
        }
    }
    // Take-homes: stable patients already dosed this morning, decided by
    // the prescriber within the policy's ceiling, their bottles handed out;
    // a staff training day later this week closes the clinic.
    clock.set(at(0, 200)?);
    let training = carepath_domain::program::clinic_day(
        jiff::Timestamp::from_microsecond(today_us + 3 * DAY_US)?,
        tz,
    );
    takehome::add_closure(app, &sys, otp, &training.to_string(), "Staff training day").await?;
    let mut granted = 0;
    for (k, (pid, plan)) in plans.iter().enumerate() {
        if granted >= 8 || k % 2 == 1 || !matches!(plan, Plan::Stable { .. }) {
            continue;
        }
        let e = takehome::eligibility(app, &prescriber, *pid).await?;
        let doses = e.ceiling.ceiling.min(3);
        if doses == 0 {
            continue;
        }
        let criteria = e.criteria.iter().map(|c| (c.clone(), true)).collect();
        takehome::assess(
            app,
            &prescriber,
            *pid,
            &takehome::AssessInput {
                criteria,
                doses_granted: doses,
                ..Default::default()
            },
        )
        .await?;
        match takehome::dispense(app, &nurse, *pid).await {
            Ok(_) | Err(carepath_app::Error::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        granted += 1;
    }
    // An overdose in the parking lot two days ago, reversed with naloxone
    // by staff: the prescriber's review and overdose education are on the
    // worklist.
    if let Some((pid, _)) = plans
        .iter()
        .find(|(_, p)| matches!(p, Plan::Induction { .. }))
    {
        let when = at(2, 150)?;
        clock.set(when + 20 * 60_000_000);
        let local = |us: i64| -> Result<String> {
            Ok(jiff::Timestamp::from_microsecond(us)?
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string())
        };
        carepath_app::overdose::record(
            app,
            &nurse,
            *pid,
            &carepath_app::overdose::OverdoseInput {
                occurred_at: local(when)?,
                naloxone: vec![
                    carepath_app::overdose::NaloxoneDose {
                        product: "Naloxone nasal spray 4 mg".into(),
                        dose_mg: 4.0,
                        route: "intranasal".into(),
                        at: local(when + 2 * 60_000_000)?,
                    },
                    carepath_app::overdose::NaloxoneDose {
                        product: "Naloxone nasal spray 4 mg".into(),
                        dose_mg: 4.0,
                        route: "intranasal".into(),
                        at: local(when + 5 * 60_000_000)?,
                    },
                ],
                breathing_support: "rescue_breathing".into(),
                vitals: "RR 6 → 14, SpO2 84 % → 96 %, pulse 58".into(),
                ems_called: true,
                transported: false,
                outcome: "refused_transport".into(),
                note: Some(
                    "Found unresponsive in the parking lot after a missed day; used fentanyl."
                        .into(),
                ),
            },
        )
        .await?;
    }
    drug_tests(app, clock, &nurse, otp, &plans, &at).await?;
    // This morning's queue: a few of those not yet dosed have arrived, one
    // is at window 1.
    clock.set(at(0, 210)?);
    let mut arrived = 0;
    for (k, (pid, plan)) in plans.iter().enumerate() {
        if arrived >= 6 || k % 2 == 0 || matches!(plan, Plan::Missing { .. }) {
            continue;
        }
        if carepath_app::window::arrive(app, &nurse, *pid)
            .await
            .is_ok()
        {
            arrived += 1;
        }
    }
    if arrived > 0 {
        carepath_app::window::call_next(app, &nurse, otp, "1").await?;
    }
    clock.set(today_us);
    Ok(doses)
}

/// Drug tests: observed cups for the stable patients (as expected), a
/// fentanyl-positive cup after the overdose (on the prescriber's worklist),
/// the laboratory's HL7 results — one filed, one waiting in the inbox for a
/// person to match — and today's random list drawn.
async fn drug_tests(
    app: &App,
    clock: &ManualClock,
    nurse: &Principal,
    otp: ProgramId,
    plans: &[(PatientId, Plan)],
    at: &impl Fn(i64, i64) -> Result<i64>,
) -> Result<()> {
    use carepath_app::drugtest::{self, CollectInput, ResultInput};
    let r = |a: &str, o: &str| ResultInput {
        analyte: a.into(),
        outcome: o.into(),
        ..Default::default()
    };
    // Contingency management: a grant, a catalog with stock, and three
    // patients enrolled two months ago (two on vouchers, one on prize draws).
    use carepath_app::cm;
    clock.set(at(60, 0)?);
    let sys = Principal::system("demo");
    let funding = cm::add_funding(
        app,
        &sys,
        otp,
        &cm::FundingInput {
            name: "State opioid response grant".into(),
            annual_cap_cents: None,
            annual_budget_cents: 6_000_000,
        },
    )
    .await?;
    let mut items = vec![];
    for (name, category, cost, stock) in [
        ("Bus pass, 7 days", "transport", 1_500, 20),
        ("Grocery card $10", "grocery", 1_000, 30),
        ("Pharmacy card $5", "pharmacy", 500, 30),
        ("Hygiene kit", "hygiene", 800, 15),
        ("Gym day pass", "fitness", 700, 10),
        ("Phone minutes, 100", "phone", 1_000, 25),
        ("Winter hat and gloves", "clothing", 1_200, 10),
    ] {
        items.push(
            cm::add_item(
                app,
                &sys,
                otp,
                &cm::ItemInput {
                    name: name.into(),
                    category: category.into(),
                    cost_cents: cost,
                    stock,
                },
            )
            .await?,
        );
    }
    let mut enrolled = vec![];
    let mut n = 0;
    for (k, (pid, plan)) in plans.iter().enumerate() {
        let (agonist, metabolite) = match plan {
            Plan::Stable { .. } | Plan::Taper { .. } | Plan::Split { .. } => ("methadone", "eddp"),
            Plan::Bup { .. } => ("buprenorphine", "norbuprenorphine"),
            _ => continue,
        };
        if n >= 8 {
            break;
        }
        n += 1;
        if enrolled.len() < 3 {
            clock.set(at(60, 30 + k as i64)?);
            cm::enroll(
                app,
                nurse,
                *pid,
                &cm::EnrollInput {
                    kind: if enrolled.len() == 2 {
                        "prize"
                    } else {
                        "voucher"
                    }
                    .into(),
                    preset: if enrolled.len() == 2 {
                        "petry_500"
                    } else {
                        "higgins"
                    }
                    .into(),
                    analytes: vec!["fentanyl".into(), "6_mam".into(), "benzoylecgonine".into()],
                    attendance: false,
                    activities: false,
                    funding_id: funding.id.clone(),
                },
            )
            .await?;
            enrolled.push(*pid);
        }
        // Two months of tests: every two weeks, and one in the last days.
        for (j, days_ago) in [56, 42, 28, 14, 3 + k as i64 % 9].into_iter().enumerate() {
            clock.set(at(days_ago, 20 + k as i64)?);
            // One cocaine-positive cup in the middle of the record.
            let coke = if n == 2 && j == 2 {
                "positive"
            } else {
                "negative"
            };
            drugtest::collect(
                app,
                nurse,
                *pid,
                &CollectInput {
                    specimen: "urine".into(),
                    observed: (k + j) % 3 == 0,
                    temperature_in_range: Some(true),
                    specimen_id: Some(format!("RV-{:05}", 1000 + k * 10 + j)),
                    results: vec![
                        r(agonist, "positive"),
                        r(metabolite, "positive"),
                        r("fentanyl", "negative"),
                        r("6_mam", "negative"),
                        r("benzoylecgonine", coke),
                    ],
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    // The prize patient drew at the desk each time; the voucher patients
    // spent some of theirs.
    clock.set(at(2, 30)?);
    for pid in &enrolled {
        let l = cm::ledger(app, nurse, *pid).await?;
        for line in l.enrollments.iter().flat_map(|e| e.lines.iter()).rev() {
            if line.draw_due {
                cm::draw(app, nurse, *pid, &line.sample.id).await?;
            }
        }
        let l = cm::ledger(app, nurse, *pid).await?;
        if let Some(it) = items.iter().find(|i| i.cost_cents <= l.balance_cents) {
            cm::redeem(app, nurse, *pid, &it.id).await?;
        }
    }
    // The first voucher patient uses the patient portal: joined a week
    // ago, asked for a reward yesterday, and checked in this morning with
    // strong craving (on the worklist until someone calls).
    if let Some(pid) = enrolled.first() {
        clock.set(at(7, 45)?);
        let inv = carepath_app::portal::invite(app, nurse, *pid).await?;
        let token = carepath_app::portal::join(
            app,
            &carepath_app::portal::JoinInput {
                code: inv.code,
                username: crate::demo::PORTAL_USER.into(),
                password: crate::demo::PASSWORD.into(),
                confirm: crate::demo::PASSWORD.into(),
                language: "en".into(),
            },
            None,
        )
        .await?;
        let me = carepath_app::portal::resolve(app, &token, None)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo portal session"))?;
        clock.set(at(1, 200)?);
        let l = cm::ledger(app, nurse, *pid).await?;
        if let Some(it) = items.iter().find(|i| i.cost_cents <= l.balance_cents) {
            carepath_app::portal::request_reward(app, &me, &it.id).await?;
        }
        clock.set(at(0, 30)?);
        carepath_app::portal::report(
            app,
            &me,
            &carepath_app::portal::ReportInput {
                sows: vec![],
                craving: Some(8),
                mood: Some(2),
            },
        )
        .await?;
    }
    let after_overdose = plans
        .iter()
        .find(|(_, p)| matches!(p, Plan::Induction { .. }))
        .map(|x| x.0);
    if let Some(pid) = after_overdose {
        clock.set(at(1, 15)?);
        drugtest::collect(
            app,
            nurse,
            pid,
            &CollectInput {
                specimen: "urine".into(),
                observed: true,
                temperature_in_range: Some(true),
                specimen_id: Some("RV-20001".into()),
                results: vec![
                    r("methadone", "positive"),
                    r("eddp", "positive"),
                    r("fentanyl", "positive"),
                    r("6_mam", "negative"),
                ],
                note: Some("Sent to the laboratory for confirmation.".into()),
                ..Default::default()
            },
        )
        .await?;
    }
    // The laboratory's results this morning, over the HL7 interface.
    clock.set(at(0, 60)?);
    let lab = Principal::system("demo lab interface");
    let stable: Vec<PatientId> = plans
        .iter()
        .filter(|(_, p)| matches!(p, Plan::Stable { .. }))
        .map(|x| x.0)
        .take(2)
        .collect();
    for (k, pid) in after_overdose.iter().chain(stable.iter()).enumerate() {
        let p = carepath_app::access::open(
            app,
            &lab,
            *pid,
            carepath_domain::authz::Permission::ReadDemographics,
            "demo.lab_message",
        )
        .await?
        .patient;
        // The second message carries a birth date the lab typed wrong: it
        // waits in the inbox for a person.
        let dob = if k == 2 {
            "19010101".to_string()
        } else {
            p.date_of_birth.replace('-', "")
        };
        let placer = if k == 0 { "RV-20001" } else { "" };
        let collected = jiff::Timestamp::from_microsecond(at(1, 180)?)?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y%m%d%H%M+0000")
            .to_string();
        let obx = if k == 0 {
            "OBX|1|NM|58381-5^Fentanyl [Mass/volume] in Urine by Confirmatory method^LN||38|ng/mL|1||||F\r\
             OBX|2|NM|58383-1^Norfentanyl [Mass/volume] in Urine by Confirmatory method^LN||212|ng/mL|1||||F"
        } else {
            "OBX|1|CWE|3773-9^Methadone [Presence] in Urine^LN||260373001^Detected^SCT|||A|||F\r\
             OBX|2|CWE|41858-2^EDDP [Presence] in Urine^LN||260373001^Detected^SCT|||A|||F\r\
             OBX|3|CWE|11235-9^Fentanyl [Presence] in Urine^LN||260415000^Not detected^SCT|||N|||F"
        };
        let msg = format!(
            "MSH|^~\\&|TOXLAB|ACME REFERENCE LAB|CAREPATH|RIVERSIDE|20261201070000||ORU^R01^ORU_R01|DEMO-{k}|P|2.5.1\r\
             PID|1||{}^^^CAREPATH^MR||{}^{}||{dob}\r\
             OBR|1|{placer}|ACC-DEMO-{k}|URDS^Urine drug screen panel^L|||{collected}||||||||||||||||||F\r{obx}",
            p.mrn, p.legal_last_name, p.legal_first_name
        );
        carepath_app::lab::receive(app, &lab, otp, carepath_app::lab::Channel::Mllp, &msg).await?;
    }
    drugtest::random_today(app, nurse, otp).await?;
    Ok(())
}

/// Count every lot as the records expect it and sign; a second person co-signs.
async fn reconcile_day(
    app: &App,
    counter: &Principal,
    cosigner: &Principal,
    otp: ProgramId,
) -> Result<()> {
    let day = stock::stock_day(app, counter, otp, None).await?;
    let counts = day
        .lots
        .iter()
        .map(|l| stock::CountInput {
            lot_id: l.lot.id.clone(),
            counted_mg: l.expected_ug as f64 / 1000.0,
        })
        .collect();
    let recs = stock::reconcile(
        app,
        counter,
        otp,
        &stock::ReconcileInput {
            day: None,
            counts,
            note: None,
        },
    )
    .await?;
    for r in recs {
        stock::cosign(app, cosigner, &r.id).await?;
    }
    Ok(())
}
