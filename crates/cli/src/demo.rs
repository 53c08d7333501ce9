//! The demo clinic: deterministic (fixed seed), realistic: an opioid
//! treatment program, a withdrawal-management (detox) unit and a residential
//! program; staff in every role; ~200 patients with ~90 days of admissions,
//! step-downs and discharges. Everything is written through the application's
//! services by a system actor (`system:demo`, writing in the name of the
//! staff member each entry belongs to) on a clock set to when it happened.

use anyhow::Result;
use carepath_app::clock::{Clock, DAY_US, HOUR_US, ManualClock};
use carepath_app::{App, Principal, admin, chart, intake, registration};
use carepath_domain::authz::Role;
use carepath_domain::ids::{ProgramId, UserId};
use carepath_domain::program::ProgramKind;
use carepath_store::NewProgram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const SEED: u64 = 20_261_122;
pub const PASSWORD: &str = "demo-clinic-2026";
/// The demo patient's portal account (same password).
pub const PORTAL_USER: &str = "portal.demo";

pub struct Login {
    pub username: String,
    pub role: Role,
    pub totp_secret: Option<String>,
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

/// A staff member the demo writes in the name of.
#[derive(Clone)]
pub struct Staff {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

impl Staff {
    /// The demo's system actor writing as this staff member in `program`.
    pub fn acting(&self, program: ProgramId) -> Principal {
        Principal::system_for("demo", self.id, &self.name, self.role, program)
    }
}

pub struct Team {
    pub prescriber: Staff,
    pub nurse_wm: Staff,
    pub nurse_otp: Staff,
    pub counselor: Staff,
    pub intake: Staff,
}

/// Seed the demo organization unless it exists; return the logins to print.
/// `clock` is the application's clock: the demo moves it through the last
/// 90 days and leaves it at the present.
pub async fn seed(app: &App, clock: &ManualClock, secrets: &std::path::Path) -> Result<Vec<Login>> {
    let today_us = clock.now_us();
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
    // Fresh TOTP secrets for this installation (never the same two demos),
    // kept beside the demo database (owner-only) so a reopened demo can
    // print them again.
    let saved: std::collections::HashMap<String, String> = std::fs::read_to_string(secrets)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .collect();
    let exists = admin::organization(app).await?.is_some();
    let logins: Vec<Login> = staff
        .iter()
        .map(|(u, _, r, _)| Login {
            username: u.to_string(),
            role: *r,
            totp_secret: r.mfa_required_by_default().then(|| {
                saved
                    .get(*u)
                    .cloned()
                    .unwrap_or_else(carepath_app::auth::new_totp_secret)
            }),
        })
        .collect();
    if exists {
        println!("Reopened the existing demo organization.");
        return Ok(logins);
    }
    let lines: String = logins
        .iter()
        .filter_map(|l| {
            l.totp_secret
                .as_ref()
                .map(|s| format!("{}\t{s}\n", l.username))
        })
        .collect();
    let _ = std::fs::remove_file(secrets);
    carepath_store::integrity::write_private(secrets, lines.as_bytes(), true)?;
    let sys = Principal::system("demo");
    let pb = indicatif::ProgressBar::new(200 + staff.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("seeding demo clinic {bar:40} {pos}/{len} {msg}")
            .expect("template"),
    );
    let start = today_us - 100 * DAY_US;
    clock.set(start);
    let org = admin::create_organization(app, &sys, "Riverside Recovery Services").await?;
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
        programs.push(admin::create_program(app, &sys, org.id, s).await?);
    }
    let mut users = std::collections::HashMap::new();
    for (login, (username, name, role, progs)) in logins.iter().zip(&staff) {
        admin::create_user(
            app,
            &sys,
            &admin::NewUser {
                username: username.to_string(),
                display_name: name.to_string(),
                password: PASSWORD.into(),
                program_id: programs[progs[0]].id.to_string(),
                role: role.as_str().into(),
            },
        )
        .await?;
        let u = admin::user_by_username(app, username)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{username} was not created"))?;
        for i in progs.iter().skip(1) {
            admin::change_role(
                app,
                &sys,
                u.id,
                &programs[*i].id.to_string(),
                role.as_str(),
                true,
            )
            .await?;
        }
        if let Some(secret) = &login.totp_secret {
            admin::assign_second_factor(app, &sys, u.id, secret).await?;
        }
        users.insert(
            *username,
            Staff {
                id: u.id,
                name: name.to_string(),
                role: *role,
            },
        );
        pb.inc(1);
    }
    // The administrator and the auditor work organization-wide (creating
    // programs, granting the administrator role, reading every program's
    // audit trail); the program roles above stay for the program pages.
    admin::change_org_role(app, &sys, users["admin"].id, "admin", true).await?;
    admin::change_org_role(app, &sys, users["auditor.kim"].id, "auditor", true).await?;
    let team = Team {
        prescriber: users["dr.okafor"].clone(),
        nurse_wm: users["nurse.chen"].clone(),
        nurse_otp: users["nurse.rivera"].clone(),
        counselor: users["counselor.james"].clone(),
        intake: users["intake.patel"].clone(),
    };
    let (otp, wm, res) = (programs[0].id, programs[1].id, programs[2].id);
    let today = jiff::Timestamp::from_microsecond(today_us)?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let mut discharged = vec![];
    for i in 0..200u32 {
        let sex = if rng.random_bool(0.42) {
            "female"
        } else {
            "male"
        };
        let first = if sex == "female" {
            FIRST_F[rng.random_range(0..FIRST_F.len())]
        } else {
            FIRST_M[rng.random_range(0..FIRST_M.len())]
        };
        let last = LAST[rng.random_range(0..LAST.len())];
        let age_days = rng.random_range(19 * 365..64 * 365);
        let dob = today
            .checked_sub(jiff::Span::new().days(age_days))
            .unwrap_or(today);
        // 55% start at the OTP, 45% in detox (most of those step down to
        // residential); every 25th arrived in detox in the last three days,
        // so the unit always has patients in withdrawal.
        let recent_detox = i % 25 == 3;
        let at_otp = !recent_detox && rng.random_bool(0.55);
        let home = if at_otp { otp } else { wm };
        let admitted = if recent_detox {
            today_us - rng.random_range(2..72) * HOUR_US
        } else {
            today_us - rng.random_range(0..90) * DAY_US - rng.random_range(0..DAY_US)
        };
        // Registered at the intake visit, shortly before admission. Every
        // other person first asked for a call back one to five days before
        // (through the finder), and is registered from that request: the
        // outcomes dashboard times the way from the call to the first dose.
        let registered = admitted - rng.random_range(1..4 * 3600) * 1_000_000;
        let referral_id = if i % 2 == 0 {
            let back = (1 + i64::from(i % 5)) * DAY_US + i64::from(i % 7) * HOUR_US;
            clock.set(registered - back);
            Some(
                carepath_app::intake::request_callback(
                    app,
                    home,
                    &carepath_app::model::NewReferral {
                        name: format!("{first} {last}"),
                        phone: format!("(302) 555-{:04}", 1000 + i),
                        best_time: "mornings".into(),
                        note: None,
                        language: "en".into(),
                    },
                    None,
                )
                .await?,
            )
        } else {
            None
        };
        clock.set(registered);
        let intake_acts = team.intake.acting(home);
        let p = registration::register(
            app,
            &intake_acts,
            &registration::Registration {
                program_id: home.to_string(),
                legal_first_name: first.into(),
                legal_last_name: last.into(),
                preferred_name: nickname(first)
                    .filter(|_| rng.random_bool(0.3))
                    .map(str::to_string),
                date_of_birth: dob.to_string(),
                sex: sex.into(),
                confirm_new: true,
                referral_id,
                ..Default::default()
            },
        )
        .await?;
        clock.set(admitted);
        let level = if at_otp {
            ProgramKind::OpioidTreatmentProgram
        } else {
            ProgramKind::WithdrawalManagement
        };
        chart::admit(
            app,
            &intake_acts,
            p.id,
            &chart::AdmitInput {
                program_id: home.to_string(),
                level_of_care: level.as_str().into(),
            },
        )
        .await?;
        let pregnant = sex == "female" && !at_otp && rng.random_bool(0.08);
        crate::demo_path::intake(
            app, clock, &team, &mut rng, p.id, home, admitted, !at_otp, pregnant,
        )
        .await?;
        if at_otp {
            let left = rng.random_bool(0.15);
            let out = (admitted + rng.random_range(14..80) * DAY_US).min(today_us - DAY_US);
            // (Someone admitted in the last two days has not left yet.)
            if left && out > admitted + DAY_US {
                let reason = [1u8, 2, 4, 3][rng.random_range(0..4)];
                discharged.push((p.id, home, out, reason, false));
            }
        } else {
            let out = admitted + rng.random_range(4..9) * DAY_US;
            if out < today_us {
                let completed = rng.random_bool(0.8);
                let step_down = completed && rng.random_bool(0.7);
                discharged.push((p.id, wm, out, if completed { 1 } else { 2 }, step_down));
                if step_down {
                    let stay = [30, 60, 90][rng.random_range(0..3)] * DAY_US;
                    if out + stay < today_us {
                        discharged.push((p.id, res, out + stay, 1, false));
                    }
                }
            }
        }
        pb.inc(1);
    }
    // Discharges (and step-downs to residential) in the order they happened
    // for each patient, each with its summary, aftercare and follow-up calls.
    let mut outcomes_due = vec![];
    for (pid, program, at, reason, step_down) in discharged {
        clock.set(at);
        let ids =
            crate::demo_path::discharge(app, &team, &mut rng, pid, program, reason, step_down)
                .await?;
        outcomes_due.push((pid, program, ids));
        if step_down {
            clock.set(at + 30 * 60_000_000);
            chart::admit(
                app,
                &team.intake.acting(res),
                pid,
                &chart::AdmitInput {
                    program_id: res.to_string(),
                    level_of_care: ProgramKind::Residential.as_str().into(),
                },
            )
            .await?;
            crate::demo_path::intake(
                app,
                clock,
                &team,
                &mut rng,
                pid,
                res,
                at + 30 * 60_000_000,
                false,
                false,
            )
            .await?;
        }
    }
    pb.set_message("clinical records");
    let mut n =
        crate::demo_path::followup_outcomes(app, clock, &team, &mut rng, &outcomes_due, today_us)
            .await?;
    clock.set(today_us);
    // Finder listings with live information, and a few call-back requests waiting.
    let listings = [
        (
            "39.7391",
            "-75.5398",
            "(302) 555-0140",
            "OTP METH BU NU OP OMB MD MC PI SS SP NOE ADLT",
            true,
            "",
            "0",
            true,
        ),
        (
            "39.6621",
            "-75.5663",
            "(302) 555-0160",
            "DT RD BU CLND MD PI NP SP PW NOE ADLT",
            true,
            "3",
            "1",
            true,
        ),
        (
            "39.6624",
            "-75.5660",
            "(302) 555-0161",
            "RES RS RL MD PI SS CO PW NOE ACC ADLT",
            false,
            "0",
            "12",
            false,
        ),
    ];
    for (p, (lat, lon, phone, codes, accepting, beds, wait, same_day)) in
        programs.iter().zip(listings)
    {
        let yes = |b: bool| b.then(|| "true".to_string());
        intake::set_listing(
            app,
            &sys,
            p.id,
            &intake::ListingInput {
                latitude: lat.into(),
                longitude: lon.into(),
                phone: phone.into(),
                codes: codes.into(),
                accepting: yes(accepting),
                open_beds: beds.into(),
                waitlist_days: wait.into(),
                same_day: yes(same_day),
                hours: None,
            },
        )
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
        intake::request_callback(
            app,
            programs[k % 2].id,
            &carepath_app::model::NewReferral {
                name: name.into(),
                phone: phone.into(),
                best_time: when.into(),
                note: None,
                language: lang.into(),
            },
            None,
        )
        .await?;
    }
    n += crate::demo_path::seed(app, clock, &programs, &team, SEED).await?;
    pb.set_message("the dosing window");
    let otp_tz = carepath_domain::program::parse_time_zone(&programs[0].timezone)?;
    n += crate::demo_dosing::seed(app, clock, &team, otp, &otp_tz, &mut rng, today_us).await?;
    clock.set(today_us);
    pb.finish_with_message(format!("done ({n} clinical records)"));
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
    println!(
        "Patient portal (a patient's own view, on a phone): http://{listen}/portal — username {PORTAL_USER}, the same password."
    );
    println!("Stop with Ctrl-C; run the same command again to reopen the same clinic.");
}
