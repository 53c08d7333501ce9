//! The demo clinic: deterministic (fixed seed), seeded in seconds, realistic:
//! an opioid treatment program, a withdrawal-management (detox) unit and a
//! residential program; staff in every role; ~200 patients with ~90 days of
//! admissions, transfers and discharges.

use anyhow::Result;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_store::Store;
use carepath_store::programs::NewProgram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const SEED: u64 = 20_261_122;
pub const PASSWORD: &str = "demo-clinic-2026";
const DAY_US: i64 = 86_400 * 1_000_000;

pub struct Login {
    pub username: String,
    pub role: Role,
    pub totp_secret: Option<String>,
}

fn ev(action: &str) -> NewEvent {
    let mut e = NewEvent::new(action, Outcome::Success);
    e.username = Some("demo-seed".into());
    e.role = Some("operator".into());
    e
}

const FIRST_F: &[&str] = &[
    "Maria", "Ashley", "Jessica", "Brittany", "Amanda", "Samantha", "Tiffany", "Crystal",
    "Heather", "Destiny", "Rosa", "Keisha", "Megan", "Kayla", "Lupe", "Tara", "Danielle", "Nicole",
    "Aaliyah", "Erin",
];
const FIRST_M: &[&str] = &[
    "James", "Michael", "Tyler", "Jose", "Brandon", "Justin", "Cody", "Marcus", "Luis", "Dustin",
    "Kevin", "Anthony", "Travis", "DeShawn", "Ryan", "Carlos", "Jeremy", "Andre", "Shane", "Eric",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
];

/// Seed the demo organization unless it exists; return the logins to print.
pub async fn seed(store: &Store) -> Result<Vec<Login>> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let staff: Vec<(&str, &str, Role, &[usize])> = vec![
        ("admin", "Avery Admin", Role::Admin, &[0, 1, 2]),
        (
            "dr.okafor",
            "Dr. Ngozi Okafor",
            Role::Prescriber,
            &[0, 1, 2],
        ),
        ("nurse.rivera", "Luis Rivera, RN", Role::Nurse, &[0]),
        ("nurse.chen", "Mei Chen, RN", Role::Nurse, &[1, 2]),
        (
            "counselor.james",
            "Tanya James, LCADC",
            Role::Counselor,
            &[0, 2],
        ),
        ("intake.patel", "Ravi Patel", Role::Intake, &[0, 1, 2]),
        ("frontdesk.lee", "Jordan Lee", Role::FrontDesk, &[0]),
        ("auditor.kim", "Sun-hee Kim", Role::Auditor, &[0, 1, 2]),
    ];
    // Deterministic TOTP secrets for the roles that require a second factor.
    let secret_for = |name: &str| {
        let mut r = ChaCha8Rng::seed_from_u64(
            SEED ^ name.len() as u64 ^ name.bytes().map(u64::from).sum::<u64>(),
        );
        let mut b = [0u8; 20];
        r.fill(&mut b);
        totp_rs::Secret::new_stack(b).to_base32()
    };
    let logins: Vec<Login> = staff
        .iter()
        .map(|(u, _, r, _)| Login {
            username: u.to_string(),
            role: *r,
            totp_secret: r.mfa_required_by_default().then(|| secret_for(u)),
        })
        .collect();
    if store.organization().await?.is_some() {
        println!("Reopened the existing demo organization.");
        return Ok(logins);
    }
    let pb = indicatif::ProgressBar::new(200 + staff.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("seeding demo clinic {bar:40} {pos}/{len} {msg}")
            .expect("template"),
    );
    let org = store
        .create_organization("Riverside Recovery Services", ev("org.create"))
        .await?;
    let specs = [
        NewProgram {
            name: "Riverside Opioid Treatment Program".into(),
            kind: ProgramKind::OpioidTreatmentProgram,
            address: "410 Water Street, Wilmington, DE 19801".into(),
            timezone: "America/New_York".into(),
            hours: "Dosing Mon–Fri 05:30–13:00, Sat–Sun 07:00–10:00".into(),
        },
        NewProgram {
            name: "Harbor House Withdrawal Management".into(),
            kind: ProgramKind::WithdrawalManagement,
            address: "22 Harbor Road, New Castle, DE 19720".into(),
            timezone: "America/New_York".into(),
            hours: "Admissions 24 hours, 7 days".into(),
        },
        NewProgram {
            name: "Harbor House Residential".into(),
            kind: ProgramKind::Residential,
            address: "24 Harbor Road, New Castle, DE 19720".into(),
            timezone: "America/New_York".into(),
            hours: "Residential, 24 hours; visiting Sat–Sun 13:00–17:00".into(),
        },
    ];
    let mut programs = vec![];
    for s in &specs {
        programs.push(
            store
                .create_program(org.id, s, ev("program.create"))
                .await?,
        );
    }
    let hash = carepath_web::auth::hash_password(PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut users = std::collections::HashMap::new();
    for (login, (username, name, role, progs)) in logins.iter().zip(&staff) {
        let u = store
            .create_user(username, name, &hash, ev("user.create"))
            .await?;
        users.insert(*username, (u.id, name.to_string()));
        for i in progs.iter() {
            store
                .grant_role(u.id, programs[*i].id, *role, None, ev("user.grant"))
                .await?;
        }
        if let Some(secret) = &login.totp_secret {
            store
                .set_totp(u.id, secret, 0, &[], ev("auth.mfa_enrol"))
                .await?;
        }
        pb.inc(1);
    }
    let now = carepath_store::now_us();
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    for i in 0..200u32 {
        let sex = if rng.random_bool(0.42) {
            Sex::Female
        } else {
            Sex::Male
        };
        let first = if sex == Sex::Female {
            FIRST_F[rng.random_range(0..FIRST_F.len())]
        } else {
            FIRST_M[rng.random_range(0..FIRST_M.len())]
        };
        let last = LAST[rng.random_range(0..LAST.len())];
        let age_days = rng.random_range(19 * 365..64 * 365);
        let dob = today
            .checked_sub(jiff::Span::new().days(age_days))
            .unwrap_or(today);
        let d = Demographics {
            legal_first_name: first.into(),
            legal_last_name: last.into(),
            preferred_name: nickname(first)
                .filter(|_| rng.random_bool(0.3))
                .map(str::to_string),
            date_of_birth: dob,
            sex,
        };
        // 55% start at the OTP, 45% in detox (most of those step down to residential).
        let at_otp = rng.random_bool(0.55);
        let home = if at_otp { &programs[0] } else { &programs[1] };
        let admitted = now - rng.random_range(0..90) * DAY_US - rng.random_range(0..DAY_US);
        // Registered at the intake visit, shortly before admission.
        let registered = admitted - rng.random_range(1..4 * 3600) * 1_000_000;
        let p = store
            .create_patient_at(
                home.id,
                &d,
                &mrn_from_serial(100_000 + i * 37),
                None,
                registered,
                ev("patient.create"),
            )
            .await?;
        if at_otp {
            let e = store
                .admit(
                    p.id,
                    home.id,
                    ProgramKind::OpioidTreatmentProgram.as_str(),
                    admitted,
                    None,
                    ev("episode.admit"),
                )
                .await?;
            if rng.random_bool(0.15) {
                let out = (admitted + rng.random_range(14..80) * DAY_US).min(now);
                let reason = [
                    "completed",
                    "left_against_advice",
                    "transferred",
                    "terminated_by_facility",
                ][rng.random_range(0..4)];
                store
                    .discharge(e, out, reason, ev("episode.discharge"))
                    .await?;
            }
        } else {
            let e = store
                .admit(
                    p.id,
                    home.id,
                    ProgramKind::WithdrawalManagement.as_str(),
                    admitted,
                    None,
                    ev("episode.admit"),
                )
                .await?;
            let out = admitted + rng.random_range(4..9) * DAY_US;
            if out < now {
                let completed = rng.random_bool(0.8);
                store
                    .discharge(
                        e,
                        out,
                        if completed {
                            "completed"
                        } else {
                            "left_against_advice"
                        },
                        ev("episode.discharge"),
                    )
                    .await?;
                if completed && rng.random_bool(0.7) {
                    let r = store
                        .admit(
                            p.id,
                            programs[2].id,
                            ProgramKind::Residential.as_str(),
                            out,
                            None,
                            ev("episode.admit"),
                        )
                        .await?;
                    let stay = [30, 60, 90][rng.random_range(0..3)] * DAY_US;
                    if out + stay < now {
                        store
                            .discharge(r, out + stay, "completed", ev("episode.discharge"))
                            .await?;
                    }
                }
            }
        }
        pb.inc(1);
    }
    // Finder listings with live information, and a few call-back requests waiting.
    let listings = [
        (
            39.7391,
            -75.5398,
            "(302) 555-0140",
            "OTP METH BU NU OP OMB MD MC PI SS SP NOE ADLT",
            true,
            None,
            Some(0),
            true,
        ),
        (
            39.6621,
            -75.5663,
            "(302) 555-0160",
            "DT RD BU CLND MD PI NP SP PW NOE ADLT",
            true,
            Some(3),
            Some(1),
            true,
        ),
        (
            39.6624,
            -75.5660,
            "(302) 555-0161",
            "RES RS RL MD PI SS CO PW NOE ACC ADLT",
            false,
            Some(0),
            Some(12),
            false,
        ),
    ];
    for (p, (lat, lon, phone, codes, accepting, beds, wait, same_day)) in
        programs.iter().zip(listings)
    {
        let l = carepath_store::referrals::Listing {
            latitude: lat,
            longitude: lon,
            phone: phone.into(),
            codes: codes.split_whitespace().map(str::to_string).collect(),
            accepting_new_patients: accepting,
            open_beds: beds,
            waitlist_days: wait,
            same_day_medication: same_day,
            last_verified_at: now - rng.random_range(0..3) * DAY_US,
        };
        store
            .set_program_listing(p.id, &l, None, ev("listing.update"))
            .await?;
    }
    for (k, (name, phone, when, lang)) in [
        ("Jamie", "(302) 555-0111", "mornings", "en"),
        ("Luz", "(302) 555-0122", "después de las 5", "es"),
        ("Chris", "(302) 555-0133", "any time", "en"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = carepath_store::referrals::NewReferral {
            name: name.into(),
            phone: phone.into(),
            best_time: when.into(),
            note: None,
            language: lang.into(),
        };
        store
            .create_referral(programs[k % 2].id, &r, ev("referral.create"))
            .await?;
    }
    let who = |u: &str, role: &'static str| crate::demo_path::Staff {
        id: users[u].0,
        name: users[u].1.clone(),
        role,
    };
    let team = crate::demo_path::Team {
        prescriber: who("dr.okafor", "prescriber"),
        nurse_wm: who("nurse.chen", "nurse"),
        counselor: who("counselor.james", "counselor"),
        intake: who("intake.patel", "intake"),
    };
    pb.set_message("clinical records");
    let seeded = crate::demo_path::seed(store, &programs, &team, SEED).await?;
    pb.finish_with_message(format!("done ({} clinical records)", seeded.records));
    Ok(logins)
}

fn nickname(first: &str) -> Option<&'static str> {
    Some(match first {
        "Michael" => "Mike",
        "Anthony" => "Tony",
        "Jessica" => "Jess",
        "Samantha" => "Sam",
        "Nicole" => "Nikki",
        "Danielle" => "Dani",
        "Jeremy" => "Jay",
        "Brandon" => "Bran",
        "Guadalupe" | "Lupe" => "Lupita",
        "Tiffany" => "Tiff",
        _ => return None,
    })
}

pub fn print_logins(listen: &str, logins: &[Login]) {
    println!();
    println!("Carepath demo clinic: http://{listen}/");
    println!("Every account's password: {PASSWORD}");
    println!(
        "{:<18} {:<20} second factor (TOTP secret, RFC 6238 SHA-1/6 digits/30 s)",
        "username", "role"
    );
    for l in logins {
        println!(
            "{:<18} {:<20} {}",
            l.username,
            l.role.label(),
            l.totp_secret.as_deref().unwrap_or("—")
        );
    }
    println!(
        "Compute a code with e.g. `oathtool --totp -b SECRET`, or scan the secret into an authenticator app."
    );
    println!(
        "Public treatment finder: http://{listen}/find (the demo's three programs; add the national"
    );
    println!("SAMHSA directory with `carepath finder import FILE` for each file in shared/data/).");
    println!("Stop with Ctrl-C; run the same command again to reopen the same clinic.");
}
