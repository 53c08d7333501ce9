//! What the chart shows from the clinical record: registration details and
//! photo, special-population flags, the latest assessment with its placement
//! rules, the withdrawal flowsheet with its chart, orders and administrations,
//! notes with their versions and signatures, the treatment plan, consents,
//! discharge and follow-up calls. Built from the records the access path has
//! already allowed; the template only lays it out.

use crate::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::pages::forms::Panel;
use crate::views::fmt_time;
use carepath_app::access::{PatientScope, current};
use carepath_app::chart;
use carepath_app::clock::{DAY_US, HOUR_US};
use carepath_app::kinds::flowsheet::vitals_text;
use carepath_app::kinds::notes::{INTERVENTIONS, NoteBody};
use carepath_app::kinds::{Body, Entry, Kind, assessment};
use carepath_app::registration::{self, Telling};
use carepath_domain::authz::Permission;
use std::collections::BTreeMap;

pub struct Svg {
    pub w: i32,
    pub h: i32,
    pub left: i32,
    pub right: i32,
    pub bands: Vec<(i32, i32, &'static str, &'static str)>,
    pub line: String,
    pub dots: Vec<(i32, i32, u8, String)>,
    pub windows: Vec<(i32, i32, String, &'static str)>,
    pub ticks: Vec<(i32, String)>,
    pub y_ticks: Vec<(i32, u8)>,
    pub desc: String,
}

pub struct FlowRow {
    pub id: String,
    pub when: String,
    pub scale: String,
    pub total: String,
    pub band: String,
    pub vitals: String,
    pub author: String,
    pub late: bool,
    pub amended: bool,
}

pub struct OrderView {
    pub id: String,
    pub summary: String,
    pub status: String,
    pub signed: bool,
    pub can_sign: bool,
    pub can_give: bool,
    pub admins: Vec<String>,
    /// What limits the next dose (holds, interval, daily amount), read
    /// before giving it.
    pub limits: Vec<String>,
}

pub struct Version {
    pub when: String,
    pub author: String,
    pub text: Vec<(String, String)>,
    pub signed: String,
    pub replaced_because: String,
}

pub struct NoteView {
    pub id: String,
    pub heading: String,
    pub when: String,
    pub author: String,
    pub sections: Vec<(String, String)>,
    pub signed: String,
    pub cosign: String,
    pub late: bool,
    pub amend_reason: String,
    pub can_sign: bool,
    pub can_cosign: bool,
    pub can_amend: bool,
    pub earlier: Vec<Version>,
    pub goals: Vec<String>,
}

pub struct ProblemView {
    pub problem: String,
    pub goal: String,
    pub measure: String,
    pub objectives: Vec<String>,
    pub interventions: Vec<String>,
    pub progress: String,
}

pub struct PlanView {
    pub id: String,
    pub review_due: String,
    pub review_overdue: bool,
    pub problems: Vec<ProblemView>,
    pub author: String,
    pub signed: String,
    pub patient_signed: String,
    pub drawing: String,
    pub can_sign: bool,
    pub versions: usize,
    pub participated: bool,
}

pub struct ConsentView {
    pub id: String,
    pub summary: String,
    pub revoked: String,
    pub kind: String,
}

pub struct FollowView {
    pub id: String,
    pub due: String,
    pub summary: String,
    pub outcome: String,
    pub overdue: bool,
}

pub struct DischargeView {
    pub when: String,
    pub summary: String,
    pub lines: Vec<String>,
}

#[derive(Default)]
pub struct Sections {
    pub can_write: bool,
    pub can_register: bool,
    pub error: Option<String>,
    /// The section (anchor) of the form the error belongs to.
    pub error_at: String,
    /// The allergy answer in words and its tone (alert / warn / ok), and
    /// the listed allergies (to edit them).
    pub allergies: (String, &'static str),
    pub allergy_list: Vec<String>,
    pub no_known_allergies: bool,
    pub profile: Vec<(String, String)>,
    pub contacts: Vec<String>,
    pub has_photo: bool,
    pub flags: Vec<String>,
    pub episode: String,
    pub assessment_when: String,
    pub assessment_id: String,
    pub assessment: Vec<Panel>,
    pub placement: String,
    pub flowsheet: Vec<FlowRow>,
    /// Withdrawal entries with dangerous readings no prescriber has signed:
    /// (record id, summary, whether this user may sign it).
    pub danger: Vec<(String, String, bool)>,
    pub svg: Option<Svg>,
    pub next_due: String,
    pub overdue: bool,
    pub orders: Vec<OrderView>,
    pub notes: Vec<NoteView>,
    pub plan: Option<PlanView>,
    pub consents: Vec<ConsentView>,
    pub discharge: Option<DischargeView>,
    pub followups: Vec<FollowView>,
    pub attendance: Vec<String>,
    /// Show the withdrawal flowsheet and comfort-medication sections (in
    /// withdrawal management now, or entries exist).
    pub show_withdrawal: bool,
}

fn ts(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

/// The withdrawal chart: COWS scores over time, severity bands shaded, the
/// expected course (onset and peak windows from the engine) overlaid.
pub fn cows_svg(
    points: &[(i64, u8)],
    course: Option<&carepath_clinical::course::Output>,
    now: i64,
    tz: &jiff::tz::TimeZone,
) -> Option<Svg> {
    if points.is_empty() {
        return None;
    }
    let (w, h, left, right, top, bottom) = (640, 260, 44, 12, 10, 34);
    let pw = (w - left - right) as f64;
    let ph = (h - top - bottom) as f64;
    let mut windows_t = vec![];
    if let Some(c) = course {
        for (w, label, class) in [
            (&c.onset, "expected onset", "onset"),
            (&c.peak, "expected peak", "peak"),
        ] {
            if let (Some(a), Some(b)) = (ts(&w[0]), ts(&w[1])) {
                windows_t.push((a, b, label.to_string(), class));
            }
        }
    }
    let first = points.iter().map(|p| p.0).min()?;
    let last = points.iter().map(|p| p.0).max()?;
    let mut t0 = first - HOUR_US;
    let mut t1 = (last + 4 * HOUR_US).max(now.min(last + 48 * HOUR_US));
    for (a, b, _, _) in &windows_t {
        t0 = t0.min(*a);
        t1 = t1.max(*b);
    }
    // Keep the span readable: at most 5 days, ending at the newest point or window.
    t0 = t0.max(t1 - 5 * DAY_US);
    let span = (t1 - t0).max(1) as f64;
    let x = |t: i64| left + (((t - t0) as f64 / span) * pw).round() as i32;
    let y = |v: f64| top + (((48.0 - v) / 48.0) * ph).round() as i32;
    let bands = [
        (0.0, 4.0, "b0", "below mild"),
        (5.0, 12.0, "b1", "mild"),
        (13.0, 24.0, "b2", "moderate"),
        (25.0, 36.0, "b3", "moderately severe"),
        (37.0, 48.0, "b4", "severe"),
    ]
    .iter()
    .map(|(lo, hi, c, l)| {
        let y_top = y(*hi + if *hi < 48.0 { 0.5 } else { 0.0 });
        let y_bot = y(*lo - if *lo > 0.0 { 0.5 } else { 0.0 });
        (y_top, y_bot - y_top, *c, *l)
    })
    .collect();
    let mut pts: Vec<&(i64, u8)> = points.iter().filter(|p| p.0 >= t0).collect();
    pts.sort_by_key(|p| p.0);
    let line = pts
        .iter()
        .map(|(t, v)| format!("{},{}", x(*t), y(*v as f64)))
        .collect::<Vec<_>>()
        .join(" ");
    let dots = pts
        .iter()
        .map(|(t, v)| (x(*t), y(*v as f64), *v, fmt_time(*t, tz)))
        .collect();
    let windows = windows_t
        .into_iter()
        .map(|(a, b, l, c)| {
            let xa = x(a.max(t0));
            (xa, (x(b.min(t1)) - xa).max(2), l, c)
        })
        .collect();
    let ticks = (0..=4)
        .map(|k| {
            let t = t0 + ((t1 - t0) as f64 * k as f64 / 4.0) as i64;
            let label = jiff::Timestamp::from_microsecond(t)
                .map(|t| t.to_zoned(tz.clone()).strftime("%a %H:%M").to_string())
                .unwrap_or_default();
            (x(t), label)
        })
        .collect();
    let y_ticks = [0u8, 12, 24, 36, 48]
        .iter()
        .map(|v| (y(*v as f64), *v))
        .collect();
    let desc = format!(
        "{} COWS scores from {} to {}; latest {}.",
        pts.len(),
        fmt_time(pts.first().map(|p| p.0).unwrap_or(first), tz),
        fmt_time(last, tz),
        pts.last().map(|p| p.1).unwrap_or(0)
    );
    Some(Svg {
        w,
        h,
        left,
        right,
        bands,
        line,
        dots,
        windows,
        ticks,
        y_ticks,
        desc,
    })
}

fn sections_text(e: &Entry, n: &NoteBody) -> Vec<(String, String)> {
    if e.withheld {
        return vec![(
            "Private counseling note".into(),
            "Its content is visible to its author and co-signer only (42 CFR § 2.11).".into(),
        )];
    }
    n.labelled()
}

fn sig_text(r: &Entry, kind: &str, tz: &jiff::tz::TimeZone) -> String {
    r.signature(kind)
        .map(|g| {
            format!(
                "{} ({}), {}",
                g.signer_name,
                g.signer_role,
                fmt_time(g.signed_at, tz)
            )
        })
        .unwrap_or_default()
}

fn payer_label(k: &str) -> String {
    registration::PAYERS
        .iter()
        .find(|(x, _)| *x == k)
        .map(|(_, l)| l.to_string())
        .unwrap_or(k.to_string())
}

pub async fn build(
    state: &AppState,
    p: &Principal,
    scope: &PatientScope,
    tz: &jiff::tz::TimeZone,
    clinical: bool,
    records: &[Entry],
) -> Result<Sections, AppError> {
    let me = p.user_id.to_string();
    let now = state.app.now_us();
    let episodes = &scope.episodes;
    let mut out = Sections {
        can_register: p.can(Permission::RegisterPatient),
        ..Default::default()
    };
    let profile = registration::profile_of(scope, &state.app)
        .await?
        .unwrap_or_default();
    let bar_text = match profile.allergy_state() {
        registration::Allergies::NotRecorded => ("Not recorded — ask".to_string(), "warn"),
        registration::Allergies::NoneKnown => ("No known allergies".to_string(), "ok"),
        registration::Allergies::Listed(v) => (v.join("; "), "alert"),
    };
    out.allergies = bar_text;
    out.allergy_list = profile.allergies.clone();
    out.no_known_allergies = profile.no_known_allergies;
    if let Some((d, contacts)) = registration::contacts(scope, &state.app).await? {
        let language = if d.interpreter_needed && !d.language.is_empty() {
            format!("{} (interpreter needed)", d.language)
        } else {
            d.language.clone()
        };
        for (l, val) in [
            ("Gender identity", d.gender_identity.clone()),
            ("Pronouns", d.pronouns.clone()),
            ("Phone", d.phone.clone()),
            ("Language", language),
            ("Payer", payer_label(&d.payer)),
        ] {
            if !val.is_empty() {
                out.profile.push((l.into(), val));
            }
        }
        // What each family contact may be told follows the family-involvement
        // consents (42 CFR § 2.31): without one, nothing about treatment.
        for (c, telling) in contacts {
            let told = match telling {
                Telling::NotFamily => String::new(),
                Telling::Consent(info) => format!("; may be told: {info}"),
                Telling::NoConsent => {
                    "; no family-involvement consent: share nothing about treatment".into()
                }
            };
            out.contacts.push(format!(
                "{} — {} — {}{}{told}",
                c.name,
                c.relationship,
                c.phone,
                if c.emergency { " (emergency)" } else { "" }
            ));
        }
    }
    out.has_photo = scope.has_photo(&state.app).await?;
    if let Some(e) = episodes.iter().find(|e| e.discharged_at.is_none()) {
        out.episode = format!(
            "{} since {}",
            e.level_of_care
                .parse::<carepath_domain::program::ProgramKind>()
                .map(|k| k.label())
                .unwrap_or("—"),
            fmt_time(e.admitted_at, tz)
        );
    }
    if !clinical {
        return Ok(out);
    }
    let home = episodes
        .iter()
        .find(|e| e.discharged_at.is_none())
        .map(|e| e.program_id);
    out.can_write = p.can(Permission::WriteClinical)
        && home.is_none_or(|g| p.holds_in(g, Permission::WriteClinical));
    // Assessment: the newest current one.
    let latest_assessment = current(records, Kind::Assessment)
        .last()
        .and_then(|e| match &e.body {
            Body::Assessment(a) => Some((e, a)),
            _ => None,
        });
    if let Some((e, a)) = latest_assessment {
        out.assessment_when = fmt_time(e.occurred_at, tz);
        out.assessment_id = e.id.clone();
        out.assessment = crate::pages::path::assessment_panels(a);
        out.placement = format!(
            "Placed: {}{}",
            a.placement.level_label,
            a.placement
                .reason
                .as_ref()
                .map(|r| format!(" — different from the recommendation because: {r}"))
                .unwrap_or_else(|| " (recommendation accepted)".into())
        );
        for f in &a.flags {
            if let Some((_, l)) = assessment::FLAGS.iter().find(|(k, _)| k == f) {
                out.flags.push(l.to_string());
            }
        }
        if let Some(d) = &a.due_date {
            out.flags.push(format!("Due date {d}"));
        }
    }
    // Flowsheet.
    let mut points = vec![];
    let mut last_due = None;
    for r in records {
        let (total, band, vitals) = match &r.body {
            Body::Cows(b) => (b.score.total, b.score.band_label.clone(), &b.vitals),
            Body::Sows(b) => (
                b.score.total,
                b.score.band.clone().unwrap_or_default(),
                &b.vitals,
            ),
            _ => continue,
        };
        if r.kind == Kind::Cows && r.is_current() {
            points.push((r.occurred_at, total));
            last_due = r.due_at;
        }
        if r.is_current() && r.rec.sign_role.is_some() && !r.is_signed() {
            out.danger.push((
                r.id.clone(),
                r.summary.clone(),
                p.holds_in(r.program_id, Permission::OrderMedication),
            ));
        }
        out.flowsheet.push(FlowRow {
            id: r.id.clone(),
            when: fmt_time(r.occurred_at, tz),
            scale: r.kind.as_str().to_uppercase(),
            total: total.to_string(),
            band,
            vitals: vitals_text(vitals),
            author: r.author_name.clone(),
            late: r.late_entry,
            amended: !r.is_current(),
        });
    }
    let course = latest_assessment.and_then(|(_, a)| a.course.as_ref());
    out.svg = cows_svg(&points, course, now, tz);
    out.flowsheet.reverse();
    let open_wm = episodes
        .iter()
        .any(|e| e.discharged_at.is_none() && e.level_of_care == "withdrawal_management");
    if open_wm {
        let due = last_due.unwrap_or_else(|| {
            episodes
                .iter()
                .find(|e| e.discharged_at.is_none())
                .map(|e| e.admitted_at)
                .unwrap_or(now)
        });
        out.next_due = fmt_time(due, tz);
        out.overdue = due < now;
    }
    out.show_withdrawal = open_wm || !out.flowsheet.is_empty();
    // Orders with their administrations.
    for o in current(records, Kind::Order) {
        let under: Vec<&Entry> = records
            .iter()
            .filter(|r| r.kind == Kind::Administration && r.ref_id.as_deref() == Some(&o.root_id))
            .collect();
        let given: Vec<(i64, f64)> = under
            .iter()
            .filter(|r| r.is_current())
            .filter_map(|r| match &r.body {
                carepath_app::kinds::Body::Administration(a) if a.given => {
                    Some((r.occurred_at, a.dose_mg))
                }
                _ => None,
            })
            .collect();
        let limits = match &o.body {
            carepath_app::kinds::Body::Order(b) => {
                carepath_app::kinds::medication::limits_text(b, &given, now, |t| fmt_time(t, tz))
            }
            _ => vec![],
        };
        let admins = under
            .iter()
            .map(|r| {
                format!(
                    "{} — {} ({})",
                    fmt_time(r.occurred_at, tz),
                    r.summary,
                    r.author_name
                )
            })
            .collect();
        out.orders.push(OrderView {
            id: o.id.clone(),
            summary: o.summary.clone(),
            status: if o.is_signed() {
                format!("Signed by {}", sig_text(o, "author", tz))
            } else {
                format!(
                    "Entered by {} — waiting for a prescriber's signature",
                    o.author_name
                )
            },
            signed: o.is_signed(),
            can_sign: !o.is_signed() && p.holds_in(o.program_id, Permission::OrderMedication),
            can_give: o.is_signed() && out.can_write,
            admins,
            limits,
        });
    }
    out.show_withdrawal |= !out.orders.is_empty();
    // Notes grouped by record, newest first.
    let mut by_root: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == Kind::Note) {
        by_root.entry(r.root_id.clone()).or_default().push(r);
    }
    let goal_names = |refs: &[String]| -> Vec<String> {
        refs.iter()
            .map(|g| {
                format!(
                    "Plan goal {}",
                    g.rsplit('#')
                        .next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .map(|n| n + 1)
                        .unwrap_or(0)
                )
            })
            .collect()
    };
    for (_, mut versions) in by_root {
        versions.sort_by_key(|r| r.recorded_at);
        let Some(cur) = versions.iter().find(|r| r.is_current()).copied() else {
            continue;
        };
        let Some(cn) = cur.note() else {
            continue;
        };
        let earlier = versions
            .iter()
            .filter(|r| !r.is_current())
            .filter_map(|r| r.note().map(|n| (r, n)))
            .map(|(r, n)| Version {
                when: fmt_time(r.recorded_at, tz),
                author: r.author_name.clone(),
                text: sections_text(r, n),
                signed: sig_text(r, "author", tz),
                replaced_because: versions
                    .iter()
                    .find(|n| n.amends.as_deref() == Some(&r.id))
                    .and_then(|n| n.amend_reason.clone())
                    .unwrap_or_default(),
            })
            .collect();
        out.notes.push(NoteView {
            id: cur.id.clone(),
            heading: format!("{} {} note", cn.service, cn.template),
            when: fmt_time(cur.occurred_at, tz),
            author: format!("{} ({})", cur.author_name, cur.author_role),
            sections: sections_text(cur, cn),
            signed: sig_text(cur, "author", tz),
            cosign: if cur.cosigner_id.is_some() {
                let t = sig_text(cur, "cosign", tz);
                if t.is_empty() {
                    "waiting for co-signature".into()
                } else {
                    t
                }
            } else {
                String::new()
            },
            late: cur.late_entry,
            amend_reason: cur.amend_reason.clone().unwrap_or_default(),
            can_sign: cur.author_id == me && !cur.is_signed(),
            can_cosign: cur.cosigner_id.as_deref() == Some(&me)
                && cur.is_signed()
                && cur.awaits_cosign(),
            can_amend: cur.author_id == me,
            earlier,
            goals: goal_names(&cn.goal_refs),
        });
    }
    out.notes.sort_by(|a, b| b.when.cmp(&a.when));
    // Plan.
    if let Some((pl, b)) = current(records, Kind::Plan)
        .last()
        .and_then(|e| match &e.body {
            Body::Plan(b) => Some((e, b)),
            _ => None,
        })
    {
        let versions = records.iter().filter(|r| r.root_id == pl.root_id).count();
        let problems = b
            .problems
            .iter()
            .map(|x| ProblemView {
                problem: x.problem.clone(),
                goal: x.goal.clone(),
                measure: x.measure.clone(),
                objectives: x
                    .objectives
                    .iter()
                    .map(|o| format!("{} (by {})", o.text, o.target_date))
                    .collect(),
                interventions: x
                    .interventions
                    .iter()
                    .map(|i| {
                        format!(
                            "{} — {}",
                            INTERVENTIONS
                                .iter()
                                .find(|(k, _)| *k == i.kind)
                                .map(|(_, l)| *l)
                                .unwrap_or(""),
                            i.responsible
                        )
                    })
                    .collect(),
                progress: x.progress.clone(),
            })
            .collect();
        out.plan = Some(PlanView {
            id: pl.id.clone(),
            review_due: b.review_due.clone(),
            review_overdue: pl.due_at.is_some_and(|d| d < now),
            problems,
            author: pl.author_name.clone(),
            signed: sig_text(pl, "author", tz),
            patient_signed: pl
                .signature("patient")
                .map(|g| {
                    format!(
                        "{} ({}), {}",
                        g.signer_name,
                        g.method,
                        fmt_time(g.signed_at, tz)
                    )
                })
                .unwrap_or_default(),
            drawing: pl
                .signature("patient")
                .and_then(|g| g.drawing.clone())
                .unwrap_or_default(),
            can_sign: pl.author_id == me && !pl.is_signed(),
            versions,
            participated: b.patient_participated,
        });
    }
    // Consents.
    for (c, rev) in chart::consents_with_state(records) {
        out.consents.push(ConsentView {
            id: c.id.clone(),
            summary: c.summary.clone(),
            revoked: rev
                .map(|r| {
                    format!(
                        "Revoked {} ({})",
                        fmt_time(r.occurred_at, tz),
                        r.author_name
                    )
                })
                .unwrap_or_default(),
            kind: match &c.body {
                Body::Consent(b) => b.consent.kind.as_str().to_string(),
                _ => String::new(),
            },
        });
    }
    // Discharge and follow-ups.
    if let Some((d, b)) = records.iter().rev().find_map(|r| match &r.body {
        Body::Discharge(b) => Some((r, b)),
        _ => None,
    }) {
        let a = &b.aftercare;
        let mut lines: Vec<String> = [
            ("Outpatient therapy", &a.outpatient_therapy),
            ("Medication", &a.medication),
            ("Support groups", &a.support_groups),
            ("Sober living", &a.sober_living),
            ("Housing and employment", &a.housing_employment),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(l, v)| format!("{l}: {v}"))
        .collect();
        let n = &b.naloxone;
        lines.push(format!(
            "Naloxone: {}{}{}",
            if n.kit_given { "kit given" } else { "no kit" },
            if n.education_given {
                ", overdose education given"
            } else {
                ""
            },
            if n.not_given_reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", n.not_given_reason)
            }
        ));
        out.discharge = Some(DischargeView {
            when: fmt_time(d.occurred_at, tz),
            summary: format!("{} — {}", d.summary, b.summary),
            lines,
        });
    }
    for f in records.iter().filter(|r| r.kind == Kind::Followup) {
        let outcome = records
            .iter()
            .find(|r| r.kind == Kind::FollowupOutcome && r.ref_id.as_deref() == Some(&f.id))
            .map(|r| format!("{} ({})", r.summary, r.author_name))
            .unwrap_or_default();
        out.followups.push(FollowView {
            id: f.id.clone(),
            due: f
                .due_at
                .and_then(|d| jiff::Timestamp::from_microsecond(d).ok())
                .map(|t| t.to_zoned(tz.clone()).date().to_string())
                .unwrap_or_default(),
            summary: f.summary.clone(),
            overdue: outcome.is_empty() && f.due_at.is_some_and(|d| d < now),
            outcome,
        });
    }
    out.attendance = records
        .iter()
        .rev()
        .filter(|r| r.kind == Kind::Attendance && r.is_current())
        .take(10)
        .map(|r| format!("{} — {}", fmt_time(r.occurred_at, tz), r.summary))
        .collect();
    Ok(out)
}

/// Timeline entries from the record (every version; amendments marked).
pub fn timeline(records: &[Entry], tz: &jiff::tz::TimeZone) -> Vec<(i64, String, String, String)> {
    records
        .iter()
        .filter(|r| r.kind != Kind::Followup)
        .map(|r| {
            let what = match r.kind {
                Kind::Discharge => "Discharge summary",
                Kind::Enrollment => "Group membership",
                k => k.label(),
            };
            let mut detail = r.summary.clone();
            if r.amends.is_some() {
                detail.push_str(&format!(
                    " — amended by {}: {}",
                    r.author_name,
                    r.amend_reason.clone().unwrap_or_default()
                ));
            }
            if !r.is_current() {
                detail.push_str(" (superseded)");
            }
            if r.late_entry {
                detail.push_str(" — LATE ENTRY");
            }
            (
                r.occurred_at,
                fmt_time(r.occurred_at, tz),
                what.to_string(),
                detail,
            )
        })
        .collect()
}
