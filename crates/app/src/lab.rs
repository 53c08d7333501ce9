//! The HL7 v2 laboratory interface: ORU^R01 result messages in (from a
//! file, the authenticated HTTP endpoint or the MLLP listener), an ACK out.
//!
//! Every message is stored exactly as received before it is answered. A
//! message is parsed with the `hl7-parser` crate, checked against the
//! profile Carepath needs (DOMAIN-regulatory § 7: MSH-9 `ORU^R01`, MSH-10
//! control id, MSH-11 processing id P, a PID with an MRN, name and date of
//! birth, OBR with OBX results coded in LOINC, OBX-11 status F, C or P),
//! and then either filed on the patient it names — matched by MRN *and*
//! family name and date of birth — or, when no patient or not exactly that
//! patient matches, put on the program's reconciliation queue for staff:
//! never dropped. A control id accepted once from a sender is answered
//! again without changing anything. A malformed message is answered AR
//! (the header cannot be trusted) or AE (the content is wrong), with an
//! ERR segment naming the problem, and changes nothing but the stored copy.
//!
//! ACK codes (HL7 table 0008): AA accepted, AE application error, AR
//! application reject; MSA-2 echoes MSH-10 (DOMAIN-regulatory § 7.4).

use crate::App;
use crate::access;
use crate::actor::Principal;
use crate::error::{Error, Result};
use carepath_clinical::drugtest as engine;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::drugtest::{LabMessage, NewDrugTest, NewLabMessage, NewResult};
use hl7_parser::Message;
use hl7_parser::builder::prelude::*;
use serde::Serialize;

/// How a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    File,
    Http,
    Mllp,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::File => "file",
            Channel::Http => "http",
            Channel::Mllp => "mllp",
        }
    }
}

/// What happened to a message, and the ACK that says so.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// AA, AE or AR.
    pub ack_code: String,
    /// filed, unmatched (on the reconciliation queue), duplicate (answered
    /// before; nothing changed) or rejected.
    pub status: String,
    pub control_id: String,
    /// The problem, for AE and AR.
    pub error: Option<String>,
    /// The stored message (none for a duplicate: the first copy stands).
    pub message_id: Option<String>,
    /// Results filed.
    pub results: usize,
    /// The ACK message (ER7, segments separated by carriage returns).
    pub ack: String,
}

/// One OBX, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub loinc: String,
    pub analyte: String,
    pub method: String,
    pub outcome: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub cutoff: Option<String>,
    pub status: String,
    pub observed_at: Option<jiff::Timestamp>,
}

/// One OBR with its results.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Placer order number (OBR-2.1): the specimen id a desk collection sent.
    pub placer: Option<String>,
    /// Filler order number (OBR-3.1): the lab's accession number.
    pub filler: Option<String>,
    pub collected_at: Option<jiff::Timestamp>,
    pub specimen: String,
    pub results: Vec<Obs>,
    pub notes: Vec<String>,
}

/// An ORU^R01 read into what Carepath files.
#[derive(Debug, Clone, PartialEq)]
pub struct Oru {
    pub sender: String,
    pub sender_app: String,
    pub sender_facility: String,
    pub control_id: String,
    pub message_type: String,
    pub mrn: Option<String>,
    pub family: String,
    pub given: String,
    /// YYYY-MM-DD.
    pub birth_date: Option<String>,
    pub orders: Vec<Order>,
}

/// Why a message cannot be filed: AR when the header cannot be trusted, AE
/// when the content is wrong; `location` is the segment and field (HL7
/// ERR-2 style, e.g. `OBX[2]-3`); `code` is HL7 table 0357.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub ack: &'static str,
    pub location: String,
    pub code: &'static str,
    pub message: String,
}

fn problem(
    ack: &'static str,
    location: impl Into<String>,
    code: &'static str,
    message: impl Into<String>,
) -> Problem {
    Problem {
        ack,
        location: location.into(),
        code,
        message: message.into(),
    }
}

/// The header fields an ACK needs, read as well as the message allows.
#[derive(Debug, Clone, Default)]
struct Header {
    sender_app: String,
    sender_facility: String,
    receiver_app: String,
    receiver_facility: String,
    control_id: String,
    message_type: String,
}

fn text(m: &Message, f: Option<&hl7_parser::message::Field>) -> String {
    f.map(|f| f.display(&m.separators).to_string())
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn comp(m: &Message, f: Option<&hl7_parser::message::Field>, n: usize) -> String {
    f.and_then(|f| f.component(n))
        .map(|c| c.display(&m.separators).to_string())
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn header(m: &Message) -> Header {
    let Some(msh) = m.segment("MSH") else {
        return Header::default();
    };
    Header {
        sender_app: comp(m, msh.field(3), 1),
        sender_facility: comp(m, msh.field(4), 1),
        receiver_app: comp(m, msh.field(5), 1),
        receiver_facility: comp(m, msh.field(6), 1),
        control_id: text(m, msh.field(10)),
        message_type: format!("{}^{}", comp(m, msh.field(9), 1), comp(m, msh.field(9), 2)),
    }
}

/// An HL7 TS (YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ]) as an instant: with its
/// own offset when given, else in the program's time zone.
fn timestamp(
    raw: &str,
    tz: &jiff::tz::TimeZone,
) -> std::result::Result<Option<jiff::Timestamp>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let ts: hl7_parser::datetime::TimeStamp = raw
        .parse()
        .map_err(|e| format!("not an HL7 timestamp ({e})"))?;
    let (Some(month), Some(day)) = (ts.month, ts.day) else {
        return Err("a date needs year, month and day".into());
    };
    let dt = jiff::civil::DateTime::new(
        ts.year as i16,
        month as i8,
        day as i8,
        ts.hour.unwrap_or(0) as i8,
        ts.minute.unwrap_or(0) as i8,
        ts.second.unwrap_or(0) as i8,
        0,
    )
    .map_err(|e| e.to_string())?;
    let t = match ts.offset {
        Some(o) => {
            // The offset's sign is on the hours, lost when they are zero
            // (-0030): read it from the text.
            let negative = raw[8.min(raw.len())..].contains('-');
            let secs = (i32::from(o.hours.unsigned_abs()) * 3600 + i32::from(o.minutes) * 60)
                * if negative { -1 } else { 1 };
            let off = jiff::tz::Offset::from_seconds(secs).map_err(|e| e.to_string())?;
            off.to_timestamp(dt).map_err(|e| e.to_string())?
        }
        None => tz.to_timestamp(dt).map_err(|e| e.to_string())?,
    };
    Ok(Some(t))
}

/// The qualitative reading of an OBX: coded or text values first
/// (Detected / Not detected, Positive / Negative, SNOMED CT qualifiers),
/// then a number against the cut-off in OBX-7, then the abnormal flag.
fn outcome(
    value_code: &str,
    value_text: &str,
    value_type: &str,
    cutoff: &str,
    flag: &str,
) -> Option<&'static str> {
    let norm = |s: &str| s.trim().to_lowercase().replace(['-', '_'], " ");
    for v in [norm(value_code), norm(value_text)] {
        match v.as_str() {
            "260373001" | "10828004" | "detected" | "positive" | "pos" | "presumptive positive" => {
                return Some("positive");
            }
            "260415000" | "260385009" | "not detected" | "negative" | "neg" | "none detected" => {
                return Some("negative");
            }
            "419984006" | "inconclusive" | "indeterminate" | "invalid" => {
                return Some("inconclusive");
            }
            _ => {}
        }
    }
    if value_type == "NM" {
        let num = value_text.trim().parse::<f64>().ok();
        let cut = cutoff
            .trim()
            .trim_start_matches(['<', '>', '='])
            .trim()
            .parse::<f64>()
            .ok();
        if let (Some(n), Some(c)) = (num, cut) {
            return Some(if n >= c { "positive" } else { "negative" });
        }
    }
    match flag.trim().to_uppercase().as_str() {
        "A" | "AA" | "H" | "HH" | "POS" => Some("positive"),
        "N" | "NEG" => Some("negative"),
        _ => None,
    }
}

/// Read and check an ORU^R01. Pure but for the parse: `Err` names what is
/// wrong with the message (and whether to reject it or report an error).
pub fn read(raw: &str, tz: &jiff::tz::TimeZone) -> std::result::Result<Oru, Problem> {
    let m = Message::parse_with_lenient_newlines(raw.trim_matches(['\r', '\n', ' ']), true)
        .map_err(|e| problem("AR", "MSH", "100", format!("not an HL7 v2 message: {e}")))?;
    let Some(msh) = m.segments().next().filter(|s| s.name == "MSH") else {
        return Err(problem(
            "AR",
            "MSH",
            "100",
            "the message does not begin with MSH",
        ));
    };
    let h = header(&m);
    if h.control_id.is_empty() {
        return Err(problem(
            "AR",
            "MSH-10",
            "101",
            "MSH-10 (message control id) is empty",
        ));
    }
    if h.message_type != "ORU^R01" {
        return Err(problem(
            "AR",
            "MSH-9",
            "200",
            format!(
                "message type {} is not accepted here: send ORU^R01",
                h.message_type
            ),
        ));
    }
    let processing = comp(&m, msh.field(11), 1);
    if processing != "P" {
        return Err(problem(
            "AR",
            "MSH-11",
            "202",
            format!("processing id {processing:?}: only production (P) results are filed"),
        ));
    }
    let version = comp(&m, msh.field(12), 1);
    if !version.starts_with("2.") {
        return Err(problem(
            "AR",
            "MSH-12",
            "203",
            format!("version {version:?} is not HL7 v2"),
        ));
    }
    let Some(pid) = m.segment("PID") else {
        return Err(problem(
            "AE",
            "PID",
            "100",
            "no PID segment: the patient is not named",
        ));
    };
    let mut mrn = None;
    if let Some(f) = pid.field(3) {
        for r in f.repeats() {
            let id = r
                .component(1)
                .map(|c| c.display(&m.separators).to_string())
                .unwrap_or_default();
            let kind = r
                .component(5)
                .map(|c| c.raw_value().to_string())
                .unwrap_or_default();
            if !id.trim().is_empty() && (mrn.is_none() || kind == "MR") {
                mrn = Some(id.trim().to_string());
            }
        }
    }
    let family = comp(&m, pid.field(5), 1);
    let given = comp(&m, pid.field(5), 2);
    if family.is_empty() {
        return Err(problem(
            "AE",
            "PID-5",
            "101",
            "PID-5 (patient name) is empty",
        ));
    }
    let dob_raw = comp(&m, pid.field(7), 1);
    let birth_date = if dob_raw.is_empty() {
        None
    } else {
        let d: hl7_parser::datetime::Date = dob_raw
            .get(..8.min(dob_raw.len()))
            .unwrap_or_default()
            .parse()
            .map_err(|_| {
                problem(
                    "AE",
                    "PID-7",
                    "102",
                    format!("PID-7 {dob_raw:?} is not a date"),
                )
            })?;
        let (Some(mo), Some(da)) = (d.month, d.day) else {
            return Err(problem(
                "AE",
                "PID-7",
                "102",
                "PID-7 needs year, month and day",
            ));
        };
        Some(
            jiff::civil::Date::new(d.year as i16, mo as i8, da as i8)
                .map_err(|e| problem("AE", "PID-7", "102", format!("PID-7: {e}")))?
                .to_string(),
        )
    };
    let mut orders: Vec<Order> = vec![];
    let (mut obr_n, mut obx_n) = (0, 0);
    for seg in m.segments() {
        match seg.name {
            "OBR" => {
                obr_n += 1;
                let at = timestamp(&comp(&m, seg.field(7), 1), tz).map_err(|e| {
                    problem(
                        "AE",
                        format!("OBR[{obr_n}]-7"),
                        "102",
                        format!("OBR-7: {e}"),
                    )
                })?;
                let opt = |s: String| (!s.is_empty()).then_some(s);
                let specimen_text =
                    format!("{} {}", text(&m, seg.field(15)), comp(&m, seg.field(4), 2))
                        .to_lowercase();
                orders.push(Order {
                    placer: opt(comp(&m, seg.field(2), 1)),
                    filler: opt(comp(&m, seg.field(3), 1)),
                    collected_at: at,
                    specimen: if specimen_text.contains("oral") || specimen_text.contains("saliva")
                    {
                        "oral_fluid".into()
                    } else {
                        "urine".into()
                    },
                    results: vec![],
                    notes: vec![],
                });
            }
            "SPM" => {
                let kind = format!(
                    "{} {}",
                    comp(&m, seg.field(4), 1),
                    comp(&m, seg.field(4), 2)
                )
                .to_lowercase();
                if let Some(o) = orders.last_mut()
                    && (kind.contains("oral") || kind.contains("saliva") || kind.contains("orf"))
                {
                    o.specimen = "oral_fluid".into();
                }
            }
            "OBX" => {
                obx_n += 1;
                let loc = |f: usize| format!("OBX[{obx_n}]-{f}");
                let Some(order) = orders.last_mut() else {
                    return Err(problem("AE", loc(1), "100", "an OBX before any OBR"));
                };
                let value_type = comp(&m, seg.field(2), 1);
                let code = comp(&m, seg.field(3), 1);
                let system = comp(&m, seg.field(3), 3);
                if code.is_empty() {
                    return Err(problem(
                        "AE",
                        loc(3),
                        "101",
                        "OBX-3 (observation identifier) is empty",
                    ));
                }
                if !system.is_empty() && system != "LN" {
                    return Err(problem(
                        "AE",
                        loc(3),
                        "103",
                        format!("OBX-3 is coded in {system:?}: send LOINC (LN)"),
                    ));
                }
                let status = match comp(&m, seg.field(11), 1).as_str() {
                    "F" => "final",
                    "C" => "corrected",
                    "P" => "preliminary",
                    "" => {
                        return Err(problem(
                            "AE",
                            loc(11),
                            "101",
                            "OBX-11 (result status) is empty",
                        ));
                    }
                    other => {
                        return Err(problem(
                            "AE",
                            loc(11),
                            "103",
                            format!("OBX-11 status {other:?} is not filed: send F, C or P"),
                        ));
                    }
                };
                let value_code = comp(&m, seg.field(5), 1);
                let value_text = if value_type == "CWE" || value_type == "CE" {
                    comp(&m, seg.field(5), 2)
                } else {
                    text(&m, seg.field(5))
                };
                let cutoff = text(&m, seg.field(7));
                let flag = comp(&m, seg.field(8), 1);
                let out = outcome(&value_code, &value_text, &value_type, &cutoff, &flag).ok_or_else(|| {
                    problem(
                        "AE",
                        loc(5),
                        "102",
                        format!("OBX-5 value {:?} is neither detected nor not detected, and no cut-off or flag decides it", text(&m, seg.field(5))),
                    )
                })?;
                let (analyte, method) = match engine::analyte_for_loinc(&code) {
                    Some((a, m)) => (a.to_string(), m),
                    // A code the engine does not read (creatinine, pH …) is
                    // kept under its LOINC code and not interpreted.
                    None => (code.clone(), engine::Method::Screen),
                };
                let observed_at = timestamp(&comp(&m, seg.field(14), 1), tz)
                    .map_err(|e| problem("AE", loc(14), "102", format!("OBX-14: {e}")))?;
                let opt =
                    |s: String| (!s.is_empty()).then_some(s.chars().take(40).collect::<String>());
                order.results.push(Obs {
                    loinc: code,
                    analyte,
                    method: if method == engine::Method::Confirmation {
                        "confirmation"
                    } else {
                        "screen"
                    }
                    .into(),
                    outcome: out.into(),
                    value: opt(if value_type == "CWE" || value_type == "CE" {
                        value_text
                    } else {
                        text(&m, seg.field(5))
                    }),
                    unit: opt(comp(&m, seg.field(6), 1)),
                    cutoff: opt(cutoff),
                    status: status.into(),
                    observed_at,
                });
            }
            "NTE" => {
                let note = text(&m, seg.field(3));
                if let Some(o) = orders.last_mut()
                    && !note.is_empty()
                {
                    o.notes.push(note);
                }
            }
            _ => {}
        }
    }
    if orders.is_empty() {
        return Err(problem(
            "AE",
            "OBR",
            "100",
            "no OBR segment: nothing was ordered",
        ));
    }
    if orders.iter().all(|o| o.results.is_empty()) {
        return Err(problem(
            "AE",
            "OBX",
            "100",
            "no OBX segment: there are no results",
        ));
    }
    Ok(Oru {
        sender: format!("{}^{}", h.sender_app, h.sender_facility),
        sender_app: h.sender_app,
        sender_facility: h.sender_facility,
        control_id: h.control_id,
        message_type: h.message_type,
        mrn,
        family,
        given,
        birth_date,
        orders,
    })
}

/// The ACK for a message: MSH with sender and receiver swapped, MSA with
/// the code and the echoed control id, and an ERR naming the problem.
pub fn ack(raw: &str, code: &str, problem: Option<&Problem>, now: jiff::Timestamp) -> String {
    let h = Message::parse_with_lenient_newlines(raw.trim_matches(['\r', '\n', ' ']), true)
        .map(|m| header(&m))
        .unwrap_or_default();
    let stamp = now.strftime("%Y%m%d%H%M%S+0000").to_string();
    let mut msg = MessageBuilder::new(Separators::default()).with_segment(
        SegmentBuilder::new("MSH")
            .with_field_value(
                3,
                if h.receiver_app.is_empty() {
                    "CAREPATH".to_string()
                } else {
                    h.receiver_app.clone()
                },
            )
            .with_field_value(4, h.receiver_facility.clone())
            .with_field_value(5, h.sender_app.clone())
            .with_field_value(6, h.sender_facility.clone())
            .with_field_value(7, stamp)
            .with_field(
                9,
                FieldBuilder::default()
                    .with_component_value(1, "ACK")
                    .with_component_value(2, "R01")
                    .with_component_value(3, "ACK"),
            )
            .with_field_value(10, format!("ACK{}", uuid::Uuid::now_v7().simple()))
            .with_field_value(11, "P")
            .with_field_value(12, "2.5.1"),
    );
    let mut msa = SegmentBuilder::new("MSA")
        .with_field_value(1, code)
        .with_field_value(2, h.control_id.clone());
    if let Some(p) = problem {
        msa = msa.with_field_value(3, p.message.clone());
    }
    msg = msg.with_segment(msa);
    if let Some(p) = problem {
        msg = msg.with_segment(
            SegmentBuilder::new("ERR")
                .with_field_value(2, p.location.clone())
                .with_field(
                    3,
                    FieldBuilder::default()
                        .with_component_value(1, p.code)
                        .with_component_value(2, error_text(p.code))
                        .with_component_value(3, "HL70357"),
                )
                .with_field_value(4, "E")
                .with_field_value(8, p.message.clone()),
        );
    }
    msg.to_string()
}

/// HL7 table 0357 (message error condition codes) used here.
fn error_text(code: &str) -> &'static str {
    match code {
        "100" => "Segment sequence error",
        "101" => "Required field missing",
        "102" => "Data type error",
        "103" => "Table value not found",
        "200" => "Unsupported message type",
        "202" => "Unsupported processing id",
        "203" => "Unsupported version id",
        "204" => "Unknown key identifier",
        _ => "Application internal error",
    }
}

/// Who may feed a program's lab interface: the system (CLI, MLLP
/// listener) or staff writing clinical records in that program (the HTTP
/// endpoint's interface account).
fn may_receive(who: &Principal, program: ProgramId) -> bool {
    who.is_system() || who.holds_in(program, Permission::WriteClinical)
}

/// Receive one message for `program`: store it, file or queue it, answer.
pub async fn receive(
    app: &App,
    who: &Principal,
    program: ProgramId,
    channel: Channel,
    raw: &str,
) -> Result<Receipt> {
    if !may_receive(who, program) {
        return Err(Error::NotFound);
    }
    let prog = app.store.program(program).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let now = app.now();
    let oru = match read(raw, &tz) {
        Ok(o) => o,
        Err(p) => return reject(app, who, program, channel, raw, p, now).await,
    };
    if let Some(first) = app
        .store
        .accepted_lab_message(program, &oru.sender, &oru.control_id)
        .await?
    {
        app.audit(
            who.event("lab.duplicate", Outcome::Success)
                .object("lab_message", &first.id)
                .program(program)
                .detail(format!(
                    "control id repeated; first answered {}",
                    first.ack_code
                )),
        )
        .await?;
        return Ok(Receipt {
            ack_code: first.ack_code.clone(),
            status: "duplicate".into(),
            control_id: oru.control_id.clone(),
            error: None,
            message_id: None,
            results: 0,
            ack: ack(raw, &first.ack_code, None, now),
        });
    }
    let matched = match_patient(app, program, &oru).await?;
    let new = NewLabMessage {
        program_id: program,
        channel: channel.as_str().into(),
        sender: oru.sender.clone(),
        control_id: oru.control_id.clone(),
        message_type: oru.message_type.clone(),
        raw: raw.to_string(),
        ack_code: "AA".into(),
        status: if matched.is_ok() {
            "filed"
        } else {
            "unmatched"
        }
        .into(),
        error: matched.as_ref().err().cloned(),
        patient_id: matched.as_ref().ok().copied(),
        received_by: who.username.clone(),
    };
    // A matched message is filed through the patient's access path.
    let target = match &matched {
        Ok(pid) => {
            let s = access::open(app, who, *pid, Permission::WriteClinical, "lab.file").await?;
            Some((*pid, s.writer()?))
        }
        Err(_) => None,
    };
    let mut tx = app.begin().await?;
    let id = match tx.add_lab_message(&new).await {
        // The same message arrived at the same moment and was accepted
        // first: answer as a duplicate.
        Err(carepath_store::StoreError::Conflict(c)) if c == "lab_message_once" => {
            drop(tx);
            return Box::pin(receive(app, who, program, channel, raw)).await;
        }
        other => other?,
    };
    let results = match (&target, &matched) {
        (Some((pid, w)), _) => {
            let n = file(&mut tx, w, *pid, program, &oru, &id, now).await?;
            tx.audit(
                who.event("lab.file", Outcome::Success)
                    .object("lab_message", &id)
                    .patient(*pid)
                    .program(program)
                    .detail(format!("results={n} channel={}", channel.as_str())),
            );
            n
        }
        (None, why) => {
            tx.audit(
                who.event("lab.unmatched", Outcome::Success)
                    .object("lab_message", &id)
                    .program(program)
                    .detail(why.clone().err().unwrap_or_default()),
            );
            0
        }
    };
    tx.commit().await?;
    if let Some((pid, _)) = target {
        crate::cm::after_evidence(app, pid).await;
    }
    Ok(Receipt {
        ack_code: "AA".into(),
        status: if results > 0 { "filed" } else { "unmatched" }.into(),
        control_id: oru.control_id.clone(),
        error: None,
        message_id: Some(id),
        results,
        ack: ack(raw, "AA", None, now),
    })
}

async fn reject(
    app: &App,
    who: &Principal,
    program: ProgramId,
    channel: Channel,
    raw: &str,
    p: Problem,
    now: jiff::Timestamp,
) -> Result<Receipt> {
    let h = Message::parse_with_lenient_newlines(raw.trim_matches(['\r', '\n', ' ']), true)
        .map(|m| header(&m))
        .unwrap_or_default();
    let text = format!("{}: {}", p.location, p.message);
    let mut tx = app.begin().await?;
    let id = tx
        .add_lab_message(&NewLabMessage {
            program_id: program,
            channel: channel.as_str().into(),
            sender: format!("{}^{}", h.sender_app, h.sender_facility),
            control_id: h.control_id.clone(),
            message_type: h.message_type.clone(),
            raw: raw.to_string(),
            ack_code: p.ack.into(),
            status: "rejected".into(),
            error: Some(text.clone()),
            patient_id: None,
            received_by: who.username.clone(),
        })
        .await?;
    tx.audit(
        who.event("lab.reject", Outcome::Failure)
            .object("lab_message", &id)
            .program(program)
            .detail(format!("{} {}", p.ack, p.location)),
    );
    tx.commit().await?;
    Ok(Receipt {
        ack_code: p.ack.into(),
        status: "rejected".into(),
        control_id: h.control_id,
        error: Some(text),
        message_id: Some(id),
        results: 0,
        ack: ack(raw, p.ack, Some(&p), now),
    })
}

/// The patient a message names: the MRN's patient in this program whose
/// family name and date of birth also agree. Otherwise why not (for the
/// reconciliation queue).
async fn match_patient(
    app: &App,
    program: ProgramId,
    oru: &Oru,
) -> Result<std::result::Result<PatientId, String>> {
    let Some(mrn) = &oru.mrn else {
        return Ok(Err("no MRN in PID-3".into()));
    };
    let found = app
        .store
        .search_patients(
            &[program],
            &carepath_store::patients::PatientSearch {
                mrn: Some(mrn.clone()),
                limit: 2,
                ..Default::default()
            },
        )
        .await?;
    let Some(p) = found.first() else {
        return Ok(Err(format!("no patient of this program has MRN {mrn}")));
    };
    let same_name = p.legal_last_name.trim().to_lowercase() == oru.family.trim().to_lowercase();
    let same_dob = oru.birth_date.as_deref() == Some(p.date_of_birth.as_str());
    Ok(match (same_name, same_dob) {
        (true, true) => Ok(p.id),
        (false, true) => Err("the MRN's patient has another family name".into()),
        (true, false) => Err("the MRN's patient has another date of birth".into()),
        (false, false) => Err("the MRN's patient has another name and date of birth".into()),
    })
}

/// File a read message's results on a patient (inside the caller's unit
/// of work): each OBR's results attach to the desk's collection with the
/// same specimen id, else to a new test the laboratory reported.
async fn file(
    tx: &mut carepath_store::Tx,
    w: &carepath_store::PatientWrite,
    patient: PatientId,
    program: ProgramId,
    oru: &Oru,
    message_id: &str,
    now: jiff::Timestamp,
) -> Result<usize> {
    let mut n = 0;
    let lab = format!(
        "Laboratory ({})",
        oru.sender_facility.chars().take(40).collect::<String>()
    );
    for o in &oru.orders {
        if o.results.is_empty() {
            continue;
        }
        let mut test = None;
        for key in [&o.placer, &o.filler].into_iter().flatten() {
            if let Some(t) = tx.test_by_specimen(program, key).await?
                && t.patient_id == patient
            {
                test = Some(t);
                break;
            }
        }
        let test = match test {
            Some(t) => t,
            None => {
                let collected = o.collected_at.unwrap_or(now).as_microsecond();
                let specimen_id = o.filler.clone().or_else(|| o.placer.clone());
                // An accession number already used by another patient's
                // test stays off this one.
                let specimen_id = match &specimen_id {
                    Some(k) if tx.test_by_specimen(program, k).await?.is_some() => None,
                    other => other.clone(),
                };
                let id = tx
                    .add_drug_test(
                        w,
                        &NewDrugTest {
                            patient_id: patient,
                            program_id: program,
                            collected_at: collected,
                            specimen: o.specimen.clone(),
                            observed: false,
                            temperature_in_range: None,
                            refused: false,
                            random: false,
                            specimen_id,
                            note: (!o.notes.is_empty())
                                .then(|| o.notes.join(" ").chars().take(500).collect()),
                            lab_message_id: Some(message_id.to_string()),
                            by: None,
                            by_name: lab.clone(),
                        },
                    )
                    .await?;
                tx.drug_test_in_tx(&id)
                    .await?
                    .ok_or_else(|| Error::Internal("test just written".into()))?
            }
        };
        let results: Vec<NewResult> = o
            .results
            .iter()
            .map(|r| NewResult {
                analyte: r.analyte.clone(),
                loinc: r.loinc.clone(),
                method: r.method.clone(),
                source: "laboratory".into(),
                outcome: r.outcome.clone(),
                value: r.value.clone(),
                unit: r.unit.clone(),
                cutoff: r.cutoff.clone(),
                status: r.status.clone(),
                lab_message_id: Some(message_id.to_string()),
                resulted_at: r.observed_at.unwrap_or(now).as_microsecond(),
                by_name: lab.clone(),
            })
            .collect();
        tx.add_results(w, &test, &results).await?;
        n += results.len();
    }
    Ok(n)
}

/// A message on the reconciliation queue, with what it says about the
/// patient (read from the stored copy).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Waiting {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub message: LabMessage,
    pub mrn: Option<String>,
    pub name: String,
    pub birth_date: Option<String>,
    pub results: usize,
    /// Patients of the program with this family name and date of birth.
    pub candidates: Vec<(String, String, String)>,
}

/// The program's messages waiting for a match; audited (they name people).
pub async fn queue(app: &App, who: &Principal, program: ProgramId) -> Result<Vec<Waiting>> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let msgs = app.store.lab_messages(program, true, 200).await?;
    let mut out = vec![];
    for m in msgs {
        let Ok(oru) = read(&m.raw, &tz) else { continue };
        let candidates = match &oru.birth_date {
            Some(dob) => app
                .store
                .search_patients(
                    &[program],
                    &carepath_store::patients::PatientSearch {
                        name: Some(oru.family.clone()),
                        date_of_birth: Some(dob.clone()),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await?
                .into_iter()
                .map(|p| (p.id.to_string(), p.display_name(), p.mrn.clone()))
                .collect(),
            None => vec![],
        };
        out.push(Waiting {
            mrn: oru.mrn.clone(),
            name: format!("{}, {}", oru.family, oru.given),
            birth_date: oru.birth_date.clone(),
            results: oru.orders.iter().map(|o| o.results.len()).sum(),
            candidates,
            message: m,
        });
    }
    app.audit(
        who.event("lab.queue", Outcome::Success)
            .program(program)
            .detail(format!("waiting={}", out.len())),
    )
    .await?;
    Ok(out)
}

/// Staff match a waiting message to a patient of its program (once, with
/// a reason); its results are filed on that patient.
pub async fn resolve(
    app: &App,
    who: &Principal,
    message_id: &str,
    patient: PatientId,
    reason: &str,
) -> Result<usize> {
    let m = app.store.lab_message(message_id).await?;
    if !who.holds_in(m.program_id, Permission::WriteClinical) {
        return Err(Error::NotFound);
    }
    if m.status != "unmatched" {
        return Err(Error::Conflict(
            "only a message waiting for a match can be matched".into(),
        ));
    }
    if m.matched_at.is_some() {
        return Err(Error::Conflict(
            "that lab message was already matched".into(),
        ));
    }
    let reason = reason.trim();
    if reason.chars().count() < 3 {
        return Err(Error::invalid(
            "reason",
            "say how the patient was identified (at least 3 characters)",
        ));
    }
    let s = access::open(app, who, patient, Permission::WriteClinical, "lab.match").await?;
    let programs = app.store.patient_programs(patient).await?;
    if !programs.contains(&m.program_id) {
        return Err(Error::invalid(
            "patient_id",
            "the patient is not in the message's program",
        ));
    }
    let oru = read(&m.raw, &s.tz).map_err(|p| Error::Internal(p.message))?;
    let w = s.writer()?;
    let mut tx = app.begin().await?;
    tx.match_lab_message(&w, &m.id, patient, reason, who.user_id, &who.display_name)
        .await?;
    let n = file(&mut tx, &w, patient, m.program_id, &oru, &m.id, app.now()).await?;
    tx.audit(
        who.event("lab.match", Outcome::Success)
            .object("lab_message", &m.id)
            .patient(patient)
            .program(m.program_id)
            .detail(format!("results={n}")),
    );
    tx.commit().await?;
    crate::cm::after_evidence(app, patient).await;
    Ok(n)
}

/// A program's recent messages (for the interface log page), each with
/// when it was received in the program's time zone; audited.
pub async fn log(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<Vec<(LabMessage, String)>> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let v: Vec<(LabMessage, String)> = app
        .store
        .lab_messages(program, false, 100)
        .await?
        .into_iter()
        .map(|m| {
            let at = crate::fmt::time(m.received_at, &tz);
            (m, at)
        })
        .collect();
    app.audit(
        who.event("lab.log", Outcome::Success)
            .program(program)
            .detail(format!("messages={}", v.len())),
    )
    .await?;
    Ok(v)
}

/// Split an MLLP byte stream's frames: `<VT>` message `<FS><CR>`. Returns
/// the complete messages and the bytes left over for the next read.
pub fn mllp_frames(buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut out = vec![];
    let mut used = 0;
    let mut i = 0;
    while i < buf.len() {
        let Some(start) = buf[i..].iter().position(|b| *b == 0x0b).map(|p| p + i) else {
            used = buf.len();
            break;
        };
        let Some(end) = buf[start + 1..]
            .windows(2)
            .position(|w| w == [0x1c, 0x0d])
            .map(|p| p + start + 1)
        else {
            used = start;
            break;
        };
        out.push(buf[start + 1..end].to_vec());
        i = end + 2;
        used = i;
    }
    (out, used)
}

/// Wrap a message in an MLLP frame.
pub fn mllp_frame(msg: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(msg.len() + 3);
    v.push(0x0b);
    v.extend_from_slice(msg.as_bytes());
    v.extend_from_slice(&[0x1c, 0x0d]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DOMAIN-regulatory § 7.3's example (synthetic; validated with hl7apy).
    pub const EXAMPLE: &str = "MSH|^~\\&|TOXLAB|ACMELAB^05D0000000^CLIA|OTPEHR|RIVERSIDE_OTP|20260305143000-0500||ORU^R01^ORU_R01|LAB20260305-0001|P|2.5.1|||AL|NE\r\
PID|1||MRN12345^^^RIVERSIDE_OTP^MR||DOE^JANE^Q||19850214|F\r\
ORC|RE|ORD778899^OTPEHR|SPEC-445566^TOXLAB\r\
OBR|1|ORD778899^OTPEHR|SPEC-445566^TOXLAB|URDS^Urine drug screen panel^L|||20260304091500-0500|||||||||1234567890^SMITH^ANN^^^^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI||||||20260305142500-0500|||F\r\
OBX|1|CWE|3773-9^Methadone [Presence] in Urine^LN||260373001^Detected^SCT||Not detected|A|||F|||20260304091500-0500\r\
OBX|2|CWE|3414-0^Buprenorphine [Presence] in Urine^LN||260415000^Not detected^SCT||Not detected|N|||F|||20260304091500-0500\r\
OBX|3|CWE|11235-9^Fentanyl [Presence] in Urine^LN||260373001^Detected^SCT||Not detected|A|||F|||20260304091500-0500\r\
NTE|1|L|Screening result; confirm by LC-MS/MS if clinically indicated. Cutoff 1 ng/mL \\T\\ see lab manual.";

    #[test]
    fn reads_the_reference_example() {
        let o = read(EXAMPLE, &jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(o.control_id, "LAB20260305-0001");
        assert_eq!(o.sender, "TOXLAB^ACMELAB");
        assert_eq!(o.mrn.as_deref(), Some("MRN12345"));
        assert_eq!((o.family.as_str(), o.given.as_str()), ("DOE", "JANE"));
        assert_eq!(o.birth_date.as_deref(), Some("1985-02-14"));
        let ord = &o.orders[0];
        assert_eq!(ord.placer.as_deref(), Some("ORD778899"));
        assert_eq!(ord.filler.as_deref(), Some("SPEC-445566"));
        assert_eq!(
            ord.collected_at.unwrap().to_string(),
            "2026-03-04T14:15:00Z"
        );
        let r: Vec<(&str, &str)> = ord
            .results
            .iter()
            .map(|r| (r.analyte.as_str(), r.outcome.as_str()))
            .collect();
        assert_eq!(
            r,
            vec![
                ("methadone", "positive"),
                ("buprenorphine", "negative"),
                ("fentanyl", "positive")
            ]
        );
        // escapes decoded: \T\ is &
        assert!(ord.notes[0].contains("1 ng/mL & see"));
    }

    #[test]
    fn problems_are_named() {
        let tz = jiff::tz::TimeZone::UTC;
        let e = read("hello", &tz).unwrap_err();
        assert_eq!(e.ack, "AR");
        let adt = EXAMPLE.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01");
        assert_eq!(read(&adt, &tz).unwrap_err().location, "MSH-9");
        let training = EXAMPLE.replace("|P|2.5.1", "|T|2.5.1");
        assert_eq!(read(&training, &tz).unwrap_err().location, "MSH-11");
        let no_status = EXAMPLE.replace("Not detected|N|||F|", "Not detected|N||||");
        let e = read(&no_status, &tz).unwrap_err();
        assert_eq!((e.ack, e.location.as_str()), ("AE", "OBX[2]-11"));
        let snomed = EXAMPLE.replace("3414-0^Buprenorphine [Presence] in Urine^LN", "123^Bup^SCT");
        assert_eq!(read(&snomed, &tz).unwrap_err().location, "OBX[2]-3");
        let no_pid: String = EXAMPLE
            .split('\r')
            .filter(|s| !s.starts_with("PID"))
            .collect::<Vec<_>>()
            .join("\r");
        assert_eq!(read(&no_pid, &tz).unwrap_err().location, "PID");
        let odd = EXAMPLE.replace(
            "260373001^Detected^SCT||Not detected|A",
            "XYZ^Maybe^L||Not detected|",
        );
        assert_eq!(read(&odd, &tz).unwrap_err().location, "OBX[1]-5");
    }

    #[test]
    fn ack_echoes_the_control_id() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let a = ack(EXAMPLE, "AA", None, now);
        let m = Message::parse(&a).unwrap();
        assert_eq!(
            m.segment("MSA").unwrap().field(1).unwrap().raw_value(),
            "AA"
        );
        assert_eq!(
            m.segment("MSA").unwrap().field(2).unwrap().raw_value(),
            "LAB20260305-0001"
        );
        let msh = m.segment("MSH").unwrap();
        assert_eq!(msh.field(5).unwrap().raw_value(), "TOXLAB");
        assert_eq!(msh.field(9).unwrap().raw_value(), "ACK^R01^ACK");
        let p = problem("AE", "OBX[2]-11", "101", "OBX-11 | empty");
        let e = ack(EXAMPLE, "AE", Some(&p), now);
        let m = Message::parse(&e).unwrap();
        let err = m.segment("ERR").unwrap();
        assert_eq!(err.field(2).unwrap().raw_value(), "OBX[2]-11");
        assert_eq!(
            err.field(8).unwrap().display(&m.separators).to_string(),
            "OBX-11 | empty"
        );
    }

    #[test]
    fn quantitative_and_flags() {
        assert_eq!(outcome("", "850", "NM", "300", ""), Some("positive"));
        assert_eq!(outcome("", "120", "NM", "<300", ""), Some("negative"));
        assert_eq!(outcome("", "", "ST", "", "A"), Some("positive"));
        assert_eq!(outcome("", "Negative", "ST", "", "A"), Some("negative"));
        assert_eq!(outcome("", "?", "ST", "", ""), None);
    }

    #[test]
    fn mllp_framing() {
        let mut buf = mllp_frame("MSH|a");
        buf.extend(mllp_frame("MSH|b"));
        buf.extend_from_slice(&[0x0b, b'M']);
        let (msgs, used) = mllp_frames(&buf);
        assert_eq!(msgs, vec![b"MSH|a".to_vec(), b"MSH|b".to_vec()]);
        assert_eq!(&buf[used..], &[0x0b, b'M']);
    }
}
