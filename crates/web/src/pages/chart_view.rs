//! What the chart shows from the clinical record: registration details and
//! photo, special-population flags, the latest assessment with its placement
//! rules, the withdrawal flowsheet with its chart, orders and administrations,
//! notes with their versions and signatures, the treatment plan, consents,
//! discharge and follow-up calls. Built from the records the access path has
//! already allowed; the template only lays it out.

use crate::AppState;
use crate::auth::Principal;
use crate::chart::{self, holds_in};
use crate::error::AppError;
use crate::pages::forms::Panel;
use crate::views::fmt_time;
use carepath_domain::authz::Permission;
use carepath_domain::ids::PatientId;
use carepath_store::{Episode, Record};
use serde_json::Value;
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

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
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
    course: Option<&Value>,
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
        for (key, label, class) in [
            ("onset", "expected onset", "onset"),
            ("peak", "expected peak", "peak"),
        ] {
            if let (Some(a), Some(b)) = (ts(&s(&c[key][0])), ts(&s(&c[key][1]))) {
                windows_t.push((a, b, label.to_string(), class));
            }
        }
    }
    let first = points.iter().map(|p| p.0).min()?;
    let last = points.iter().map(|p| p.0).max()?;
    let mut t0 = first - chart::HOUR_US;
    let mut t1 = (last + 4 * chart::HOUR_US).max(now.min(last + 48 * chart::HOUR_US));
    for (a, b, _, _) in &windows_t {
        t0 = t0.min(*a);
        t1 = t1.max(*b);
    }
    // Keep the span readable: at most 5 days, ending at the newest point or window.
    t0 = t0.max(t1 - 5 * chart::DAY_US);
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

fn sections_text(body: &Value) -> Vec<(String, String)> {
    if body["private"] == Value::Bool(true) && body.get("sections").is_none() {
        return vec![(
            "Private counseling note".into(),
            "Its content is visible to its author and co-signer only (42 CFR § 2.11).".into(),
        )];
    }
    let template = body["template"].as_str().unwrap_or("DAP");
    let (_, secs) = chart::TEMPLATES
        .iter()
        .find(|(t, _)| *t == template)
        .unwrap_or(&chart::TEMPLATES[0]);
    secs.iter()
        .map(|(k, l)| (l.to_string(), s(&body["sections"][*k])))
        .collect()
}

fn sig_text(r: &Record, kind: &str, tz: &jiff::tz::TimeZone) -> String {
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

pub async fn build(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    episodes: &[Episode],
    tz: &jiff::tz::TimeZone,
    clinical: bool,
    records: &[Record],
) -> Result<Sections, AppError> {
    let me = p.user_id.to_string();
    let now = carepath_store::now_us();
    let mut out = Sections {
        can_register: p.can(Permission::RegisterPatient),
        ..Default::default()
    };
    let (profile, _) = state.store.profile(id).await?;
    if let Some(d) = profile {
        for (k, l) in [
            ("gender_identity", "Gender identity"),
            ("pronouns", "Pronouns"),
            ("phone", "Phone"),
            ("language", "Language"),
            ("payer", "Payer"),
        ] {
            let mut val = s(&d[k]);
            if k == "payer" {
                val = crate::path_api::PAYERS
                    .iter()
                    .find(|(x, _)| *x == val)
                    .map(|(_, l)| l.to_string())
                    .unwrap_or(val);
            }
            if k == "language" && d["interpreter_needed"] == Value::Bool(true) {
                val.push_str(" (interpreter needed)");
            }
            if !val.is_empty() {
                out.profile.push((l.into(), val));
            }
        }
        // What each family contact may be told follows the family-involvement
        // consents (42 CFR § 2.31): without one, nothing about treatment.
        // Clinical users have the record loaded already; others fetch the consents alone.
        let fetched;
        let consents: &[Record] = if clinical {
            records
        } else {
            fetched = state
                .store
                .patient_records(id, &["consent", "consent_revocation"])
                .await?;
            &fetched
        };
        let family: Vec<(String, String)> = chart::consents_with_state(consents)
            .into_iter()
            .filter(|(c, rev)| c.body["kind"] == "family" && rev.is_none())
            .filter(|(c, _)| {
                c.body["expires_on"]
                    .as_str()
                    .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                    .is_none_or(|d| d >= jiff::Timestamp::now().to_zoned(tz.clone()).date())
            })
            .map(|(c, _)| {
                (
                    s(&c.body["recipient"]).to_lowercase(),
                    s(&c.body["information"]),
                )
            })
            .collect();
        for c in d["contacts"].as_array().into_iter().flatten() {
            let name = s(&c["name"]);
            let told = if s(&c["relationship"]) == "family" {
                match family
                    .iter()
                    .find(|(r, _)| r.contains(&name.to_lowercase()))
                {
                    Some((_, info)) => format!("; may be told: {info}"),
                    None => "; no family-involvement consent: share nothing about treatment".into(),
                }
            } else {
                String::new()
            };
            out.contacts.push(format!(
                "{} — {} — {}{}{told}",
                name,
                s(&c["relationship"]),
                s(&c["phone"]),
                if c["emergency"] == Value::Bool(true) {
                    " (emergency)"
                } else {
                    ""
                }
            ));
        }
    }
    out.has_photo = state.store.has_photo(id).await?;
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
        && home.is_none_or(|g| holds_in(p, g, Permission::WriteClinical));
    // Assessment: the newest current one.
    if let Some(a) = records
        .iter()
        .rev()
        .find(|r| r.kind == "assessment" && r.is_current())
    {
        out.assessment_when = fmt_time(a.occurred_at, tz);
        out.assessment_id = a.id.clone();
        out.assessment = crate::pages::path::assessment_panels(&a.body);
        out.placement = format!(
            "Placed: {}{}",
            s(&a.body["placement"]["level_label"]),
            a.body["placement"]["reason"]
                .as_str()
                .map(|r| format!(" — different from the recommendation because: {r}"))
                .unwrap_or_else(|| " (recommendation accepted)".into())
        );
        for f in a.body["flags"].as_array().into_iter().flatten() {
            if let Some((_, l)) = chart::FLAGS.iter().find(|(k, _)| Some(*k) == f.as_str()) {
                out.flags.push(l.to_string());
            }
        }
        if let Some(d) = a.body["due_date"].as_str() {
            out.flags.push(format!("Due date {d}"));
        }
    }
    // Flowsheet.
    let mut points = vec![];
    let mut last_due = None;
    for r in records
        .iter()
        .filter(|r| r.kind == "cows" || r.kind == "sows")
    {
        let total = r.body["score"]["total"].as_u64().unwrap_or(0) as u8;
        if r.kind == "cows" && r.is_current() {
            points.push((r.occurred_at, total));
            last_due = r.due_at;
        }
        out.flowsheet.push(FlowRow {
            id: r.id.clone(),
            when: fmt_time(r.occurred_at, tz),
            scale: r.kind.to_uppercase(),
            total: total.to_string(),
            band: {
                let l = s(&r.body["score"]["band_label"]);
                if l.is_empty() {
                    s(&r.body["score"]["band"])
                } else {
                    l
                }
            },
            vitals: r
                .body
                .get("vitals")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .map(|v| chart::vitals_text(&v))
                .unwrap_or_default(),
            author: r.author_name.clone(),
            late: r.late_entry,
            amended: !r.is_current(),
        });
    }
    let course = records
        .iter()
        .rev()
        .find(|r| r.kind == "assessment" && r.is_current())
        .map(|a| &a.body["course"])
        .filter(|c| !c.is_null());
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
    for o in records
        .iter()
        .filter(|r| r.kind == "order" && r.is_current())
    {
        let admins = records
            .iter()
            .filter(|r| r.kind == "administration" && r.ref_id.as_deref() == Some(&o.root_id))
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
            can_sign: !o.is_signed() && crate::pages::path::may_order(p, o.program_id),
            can_give: o.is_signed() && out.can_write,
            admins,
        });
    }
    out.show_withdrawal |= !out.orders.is_empty();
    // Notes grouped by record, newest first.
    let mut by_root: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == "note") {
        by_root.entry(r.root_id.clone()).or_default().push(r);
    }
    let goal_names = |refs: &Value| -> Vec<String> {
        refs.as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str())
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
        let earlier = versions
            .iter()
            .filter(|r| !r.is_current())
            .map(|r| Version {
                when: fmt_time(r.recorded_at, tz),
                author: r.author_name.clone(),
                text: sections_text(&r.body),
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
            heading: format!(
                "{} {} note",
                s(&cur.body["service"]),
                s(&cur.body["template"])
            ),
            when: fmt_time(cur.occurred_at, tz),
            author: format!("{} ({})", cur.author_name, cur.author_role),
            sections: sections_text(&cur.body),
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
            goals: goal_names(&cur.body["goal_refs"]),
        });
    }
    out.notes.sort_by(|a, b| b.when.cmp(&a.when));
    // Plan.
    if let Some(pl) = records
        .iter()
        .rev()
        .find(|r| r.kind == "plan" && r.is_current())
    {
        let versions = records.iter().filter(|r| r.root_id == pl.root_id).count();
        let problems = pl.body["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| ProblemView {
                problem: s(&x["problem"]),
                goal: s(&x["goal"]),
                measure: s(&x["measure"]),
                objectives: x["objectives"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| format!("{} (by {})", s(&o["text"]), s(&o["target_date"])))
                    .collect(),
                interventions: x["interventions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        format!(
                            "{} — {}",
                            chart::INTERVENTIONS
                                .iter()
                                .find(|(k, _)| Some(*k) == i["kind"].as_str())
                                .map(|(_, l)| *l)
                                .unwrap_or(""),
                            s(&i["responsible"])
                        )
                    })
                    .collect(),
                progress: s(&x["progress"]),
            })
            .collect();
        out.plan = Some(PlanView {
            id: pl.id.clone(),
            review_due: s(&pl.body["review_due"]),
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
            participated: pl.body["patient_participated"] == Value::Bool(true),
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
            kind: s(&c.body["kind"]),
        });
    }
    // Discharge and follow-ups.
    if let Some(d) = records.iter().rev().find(|r| r.kind == "discharge") {
        let mut lines = vec![];
        for (k, l) in [
            ("outpatient_therapy", "Outpatient therapy"),
            ("medication", "Medication"),
            ("support_groups", "Support groups"),
            ("sober_living", "Sober living"),
            ("housing_employment", "Housing and employment"),
        ] {
            let v = s(&d.body["aftercare"][k]);
            if !v.is_empty() {
                lines.push(format!("{l}: {v}"));
            }
        }
        let n = &d.body["naloxone"];
        lines.push(format!(
            "Naloxone: {}{}{}",
            if n["kit_given"] == Value::Bool(true) {
                "kit given"
            } else {
                "no kit"
            },
            if n["education_given"] == Value::Bool(true) {
                ", overdose education given"
            } else {
                ""
            },
            if s(&n["not_given_reason"]).is_empty() {
                String::new()
            } else {
                format!(" — {}", s(&n["not_given_reason"]))
            }
        ));
        out.discharge = Some(DischargeView {
            when: fmt_time(d.occurred_at, tz),
            summary: format!("{} — {}", d.summary, s(&d.body["summary"])),
            lines,
        });
    }
    for f in records.iter().filter(|r| r.kind == "followup") {
        let outcome = records
            .iter()
            .find(|r| r.kind == "followup_outcome" && r.ref_id.as_deref() == Some(&f.id))
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
        .filter(|r| r.kind == "attendance" && r.is_current())
        .take(10)
        .map(|r| format!("{} — {}", fmt_time(r.occurred_at, tz), r.summary))
        .collect();
    Ok(out)
}

/// Timeline entries from the record (current versions; amendments marked).
pub fn timeline(records: &[Record], tz: &jiff::tz::TimeZone) -> Vec<(i64, String, String, String)> {
    records
        .iter()
        .filter(|r| r.kind != "followup")
        .map(|r| {
            let what = match r.kind.as_str() {
                "assessment" => "Assessment",
                "cows" => "COWS",
                "sows" => "SOWS",
                "order" => "Order",
                "administration" => "Medication",
                "plan" => "Treatment plan",
                "note" => "Note",
                "consent" => "Consent",
                "consent_revocation" => "Consent revoked",
                "attendance" => "Attendance",
                "discharge" => "Discharge summary",
                "followup_outcome" => "Follow-up call",
                "enrollment" => "Group membership",
                _ => "Entry",
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
