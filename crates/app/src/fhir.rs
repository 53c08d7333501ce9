//! FHIR R4 (4.0.1) out: a patient's record as typed R4 resources
//! (`fhir::r4`, the `fhir` crate's model), each labelled as a 42 CFR Part 2
//! record, and the `$everything` bundle that carries them.
//!
//! The bundle leaves Carepath only as a disclosure: the same gate as every
//! other disclosure (`chart::grant_disclosure`: clinical staff of the
//! patient's program, a consent on file that permits the recipient and the
//! purpose, § 2.31), recorded in the accounting of disclosures (§ 2.25) and
//! the audit before it is handed over. § 2.11 counseling notes are never in
//! it. The mapping itself (`resources`) is pure: a scope and its entries in,
//! resources out.
//!
//! Sources: FHIR R4 4.0.1 resource definitions (hl7.org/fhir/R4); the Part 2
//! security labels of the HL7 DS4P IG (v3-ActCode `42CFRPart2`, v3-Confidentiality
//! `R`); the Part 2 consent pattern of DOMAIN-regulatory.md § 6.2; LOINC for
//! PHQ-9 (44261-6), GAD-7 (70274-6) and the vital signs of the FHIR vital
//! signs profile (85354-9 blood pressure panel with 8480-6 / 8462-4, 8867-4
//! heart rate, 9279-1 respiratory rate, 8310-5 body temperature, 59408-5
//! oxygen saturation).

use crate::access::{self, PatientScope};
use crate::chart::DisclosureInput;
use crate::error::{Error, Result};
use crate::kinds::{Body, Entry, Kind};
use crate::{App, Principal};
use carepath_domain::ids::PatientId;
use carepath_domain::program::ProgramKind;
use fhir::r4::choice::Primitive;
use fhir::r4::coded::Coded;
use fhir::r4::codes;
use fhir::r4::resources as r;
use fhir::r4::types as t;
use std::collections::HashMap;

const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// A disclosed bundle: the accounting entry's id and the `Bundle` as JSON.
#[derive(Debug, Clone)]
pub struct Everything {
    pub disclosure_id: String,
    pub bundle: serde_json::Value,
}

/// `Patient/{id}/$everything`: the patient's record as a FHIR R4 `searchset`
/// bundle, released to `i.recipient` for `i.purpose` under consent
/// `i.consent_id` (channel `fhir`), or refused (and the refusal audited).
pub async fn everything(
    app: &App,
    who: &Principal,
    id: PatientId,
    i: &DisclosureInput,
) -> Result<Everything> {
    let i = DisclosureInput {
        channel: "fhir".into(),
        ..i.clone()
    };
    let g = crate::chart::grant_disclosure(app, who, id, &i).await?;
    let values = record(app, &g.s, &g.entries, None).await?;
    let bundle = searchset(&g.d.id, g.s.now, values, None)?;
    crate::chart::record_disclosure(app, who, &g).await?;
    Ok(Everything {
        disclosure_id: g.d.id,
        bundle,
    })
}

/// The newest doses a bundle carries (about twelve years of daily dosing).
const MAX_DOSES: i64 = 5_000;

/// A patient's record as JSON resources: the chart's entries
/// ([`resources`]), the dosing orders and doses ([`dosing`]) and the
/// drug-test results ([`drug_tests`]) — the tables of the last two read only
/// when `kind` is none or a type they give.
async fn record(
    app: &App,
    sc: &PatientScope,
    entries: &[Entry],
    kind: Option<&str>,
) -> Result<Vec<serde_json::Value>> {
    let pid = sc.patient.id;
    let mut all = resources(sc, entries)?;
    let provenance_too = kind.is_none_or(|k| k == "Provenance");
    // Who recorded the resources that do not come from a chart entry.
    let mut recorded: HashMap<String, Recorded> = HashMap::new();
    if provenance_too || kind.is_some_and(|k| k.starts_with("Medication")) {
        let orders = app.store.orders(pid).await?;
        let doses = app.store.doses(pid, MAX_DOSES).await?;
        for o in &orders {
            recorded.insert(
                o.id.clone(),
                Recorded::new(&o.ordered_by_name, "ordered", o.ordered_at),
            );
        }
        for d in &doses {
            recorded.insert(
                d.id.clone(),
                Recorded::new(&d.nurse_name, "nurse", d.recorded_at),
            );
        }
        all.extend(dosing(&pid.to_string(), &orders, &doses));
    }
    if provenance_too || kind == Some("Observation") {
        let tests = app.store.drug_tests(pid).await?;
        let results = app.store.test_results(pid).await?;
        for x in &results {
            recorded.insert(
                x.id.clone(),
                Recorded::new(&x.by_name, "result", x.recorded_at),
            );
        }
        all.extend(drug_tests(&pid.to_string(), &tests, &results));
    }
    let mut out: Vec<serde_json::Value> = all
        .iter()
        .map(|r| serde_json::to_value(r).map_err(internal))
        .collect::<Result<_>>()?;
    if provenance_too {
        let prov = provenance(entries, &recorded, &out)?;
        if kind.is_some() {
            out.clear();
        }
        for p in prov {
            out.push(serde_json::to_value(p).map_err(internal)?);
        }
    }
    Ok(out)
}

/// Who recorded a resource the chart's entries do not hold (a dosing
/// order, a dose or bottle, a drug-test result), in what part, and when.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// "Name (part)".
    pub who: String,
    pub at: i64,
    /// An amendment's reason (chart entries only).
    pub amended: Option<String>,
}

impl Recorded {
    pub fn new(name: &str, part: &str, at: i64) -> Recorded {
        Recorded {
            who: format!("{name} ({part})"),
            at,
            amended: None,
        }
    }
}

/// Who wrote each resource, when, and whether it was an amendment (with
/// its reason): one Provenance per resource that comes from a chart entry
/// (its id is the entry's, or the entry's with a suffix) or is named in
/// `recorded` (orders, doses, bottles, test results by their row's id).
/// Agent: the author as recorded (name and role); activity: v3-DataOperation
/// CREATE or UPDATE.
pub fn provenance(
    entries: &[Entry],
    recorded: &HashMap<String, Recorded>,
    resources: &[serde_json::Value],
) -> Result<Vec<r::Resource>> {
    let by_id: HashMap<&str, &Entry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out = vec![];
    for v in resources {
        let (Some(kind), Some(id)) = (v["resourceType"].as_str(), v["id"].as_str()) else {
            continue;
        };
        let entry = by_id.get(id).or_else(|| {
            id.get(..36)
                .filter(|_| id.as_bytes().get(36) == Some(&b'-'))
                .and_then(|root| by_id.get(root))
        });
        let e = match entry {
            Some(e) => Recorded {
                who: format!("{} ({})", e.author_name, e.author_role),
                at: e.recorded_at,
                amended: e
                    .amends
                    .as_ref()
                    .map(|_| e.amend_reason.clone().unwrap_or_default()),
            },
            None => match recorded.get(id) {
                Some(r) => r.clone(),
                None => continue,
            },
        };
        let update = e.amended.is_some();
        let mut p = r::Provenance::builder()
            .target(vec1::Vec1::new(reference(kind, id)))
            .recorded(t::Instant(instant(e.at)))
            .agent(vec1::Vec1::new(r::provenance::ProvenanceAgent {
                r#type: Some(concept(
                    "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                    "author",
                    Some("Author"),
                )),
                who: t::Reference {
                    display: Some(s(&e.who)),
                    ..Default::default()
                },
                ..Default::default()
            }))
            .build()
            .map_err(|e| Error::Internal(format!("FHIR Provenance: {e}")))?;
        p.id = Some(s(format!("prov-{id}")));
        p.meta = Some(part2_meta());
        p.activity = Some(if update {
            concept(
                "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                "UPDATE",
                Some("revise"),
            )
        } else {
            concept(
                "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                "CREATE",
                Some("create"),
            )
        });
        if let Some(why) = e.amended.as_deref().filter(|w| !w.is_empty()) {
            p.reason = vec![text(why)];
        }
        out.push(r::Resource::Provenance(Box::new(p)));
    }
    Ok(out)
}

/// A `searchset` Bundle of `values` (each entry's search mode `mode`, when
/// given), labelled like its contents.
fn searchset(
    id: &str,
    now: i64,
    values: Vec<serde_json::Value>,
    mode: Option<codes::SearchEntryMode>,
) -> Result<serde_json::Value> {
    let bundle = r::Bundle {
        id: Some(s(id)),
        meta: Some(part2_meta()),
        r#type: Coded::Known(codes::BundleType::Searchset),
        timestamp: Some(t::Instant(instant(now))),
        total: Some(t::UnsignedInt(values.len() as u32)),
        entry: values
            .into_iter()
            .map(|v| r::bundle::BundleEntry {
                resource: Some(v),
                search: mode.clone().map(|m| r::bundle::BundleEntrySearch {
                    mode: Some(Coded::Known(m)),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    serde_json::to_value(r::Resource::Bundle(Box::new(bundle))).map_err(internal)
}

/// Medication for opioid use disorder: each dosing order as a
/// MedicationRequest (a superseded order `stopped`, an unsigned verbal one
/// `draft`, the order it replaced as `priorPrescription`), each dose given at
/// the window as a MedicationAdministration and each take-home bottle as a
/// MedicationDispense (DOMAIN-regulatory.md § 6.1), under the order.
pub fn dosing(
    pid: &str,
    orders: &[carepath_store::dosing::MedOrder],
    doses: &[carepath_store::dosing::Dose],
) -> Vec<r::Resource> {
    let mut out = vec![];
    let med = |o: Option<&carepath_store::dosing::MedOrder>, fallback: &str| {
        text(
            &o.map(|o| format!("{} ({})", o.medication, o.form))
                .unwrap_or_else(|| fallback.to_string()),
        )
    };
    for o in orders {
        out.push(r::Resource::MedicationRequest(Box::new(
            r::MedicationRequest {
                id: Some(s(&o.id)),
                meta: Some(part2_meta()),
                status: Coded::Known(if o.superseded_by.is_some() {
                    codes::MedicationrequestStatus::Stopped
                } else if !o.is_signed() {
                    codes::MedicationrequestStatus::Draft
                } else {
                    codes::MedicationrequestStatus::Active
                }),
                intent: Coded::Known(codes::MedicationrequestIntent::Order),
                medication: Some(
                    r::medication_request::MedicationRequestMedication::CodeableConcept(Box::new(
                        med(Some(o), ""),
                    )),
                ),
                subject: reference("Patient", pid),
                authored_on: Some(t::DateTime(instant(o.ordered_at))),
                requester: Some(t::Reference {
                    display: Some(s(o.signer_name.as_deref().unwrap_or(&o.ordered_by_name))),
                    ..Default::default()
                }),
                reason_code: vec![concept(
                    ICD10CM,
                    "F11.20",
                    Some("Opioid dependence, uncomplicated"),
                )],
                dosage_instruction: vec![t::Dosage {
                    text: Some(s(crate::dosing::order_summary(o))),
                    ..Default::default()
                }],
                prior_prescription: o
                    .supersedes
                    .as_ref()
                    .map(|p| reference("MedicationRequest", p)),
                ..Default::default()
            },
        )));
    }
    for d in doses {
        let order = orders.iter().find(|o| o.id == d.order_id);
        let amount = mg(d.amount_ug as f64 / 1000.0);
        if d.kind == "take_home" {
            out.push(r::Resource::MedicationDispense(Box::new(
                r::MedicationDispense {
                    id: Some(s(&d.id)),
                    meta: Some(part2_meta()),
                    status: Coded::Known(codes::MedicationdispenseStatus::Completed),
                    medication: Some(
                        r::medication_dispense::MedicationDispenseMedication::CodeableConcept(
                            Box::new(med(order, &d.product_id)),
                        ),
                    ),
                    subject: Some(reference("Patient", pid)),
                    authorizing_prescription: vec![reference("MedicationRequest", &d.order_id)],
                    r#type: Some(text("take-home dose")),
                    quantity: Some(amount),
                    days_supply: Some(quantity(1.0, "day", "d")),
                    when_handed_over: Some(t::DateTime(instant(d.given_at))),
                    note: vec![t::Annotation {
                        text: t::Markdown(format!(
                            "To be taken on {}; lot {}",
                            d.clinic_day, d.lot_id
                        )),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )));
        } else {
            out.push(r::Resource::MedicationAdministration(Box::new(
                r::MedicationAdministration {
                    id: Some(s(&d.id)),
                    meta: Some(part2_meta()),
                    status: Coded::Known(codes::MedicationAdminStatus::Completed),
                    medication: Some(
                        r::medication_administration::MedicationAdministrationMedication::CodeableConcept(
                            Box::new(med(order, &d.product_id)),
                        ),
                    ),
                    subject: reference("Patient", pid),
                    effective: Some(
                        r::medication_administration::MedicationAdministrationEffective::DateTime(
                            Primitive::new(t::DateTime(instant(d.given_at))),
                        ),
                    ),
                    performer: vec![r::medication_administration::MedicationAdministrationPerformer {
                        actor: t::Reference {
                            display: Some(s(&d.nurse_name)),
                            ..Default::default()
                        },
                        ..Default::default()
                    }],
                    request: Some(reference("MedicationRequest", &d.order_id)),
                    note: d
                        .reason
                        .iter()
                        .map(|why| t::Annotation {
                            text: t::Markdown(why.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    dosage: Some(r::medication_administration::MedicationAdministrationDosage {
                        text: Some(s(if d.observed {
                            "observed ingestion at the dosing window"
                        } else {
                            "given at the dosing window"
                        })),
                        dose: Some(amount),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )));
        }
    }
    out
}

/// Drug-test results as laboratory Observations: the analyte's LOINC code
/// (screen or confirmation, as the result was filed), positive / negative
/// / inconclusive as the value (SNOMED CT 10828004 / 260385009 / 419984006),
/// the value and cutoff where the lab sent them, `preliminary`, `final` or
/// `corrected` as it stands; effective when the specimen was collected.
pub fn drug_tests(
    pid: &str,
    tests: &[carepath_store::drugtest::DrugTest],
    results: &[carepath_store::drugtest::TestResult],
) -> Vec<r::Resource> {
    results
        .iter()
        .filter_map(|x| {
            let test = tests.iter().find(|t| t.id == x.test_id)?;
            let (snomed, word) = match x.outcome.as_str() {
                "positive" => ("10828004", "Positive"),
                "negative" => ("260385009", "Negative"),
                _ => ("419984006", "Inconclusive"),
            };
            let code = if x.loinc.is_empty() {
                text(&x.analyte)
            } else {
                t::CodeableConcept {
                    coding: vec![coding(LOINC, &x.loinc, None)],
                    text: Some(s(format!("{} ({})", x.analyte, x.method))),
                    ..Default::default()
                }
            };
            let mut o = r::Observation {
                id: Some(s(&x.id)),
                meta: Some(part2_meta()),
                status: Coded::Known(match x.status.as_str() {
                    "preliminary" => codes::ObservationStatus::Preliminary,
                    "corrected" => codes::ObservationStatus::Corrected,
                    _ => codes::ObservationStatus::Final,
                }),
                category: vec![concept(OBS_CATEGORY, "laboratory", None)],
                code,
                subject: Some(reference("Patient", pid)),
                effective: Some(r::observation::ObservationEffective::DateTime(
                    Primitive::new(t::DateTime(instant(test.collected_at))),
                )),
                issued: Some(t::Instant(instant(x.resulted_at))),
                value: Some(r::observation::ObservationValue::CodeableConcept(Box::new(
                    concept("http://snomed.info/sct", snomed, Some(word)),
                ))),
                ..Default::default()
            };
            let detail: Vec<String> = [
                x.value.as_ref().map(|v| {
                    format!(
                        "value {v}{}",
                        x.unit
                            .as_deref()
                            .map(|u| format!(" {u}"))
                            .unwrap_or_default()
                    )
                }),
                x.cutoff.as_ref().map(|c| format!("cutoff {c}")),
                Some(format!(
                    "specimen {}{}",
                    test.specimen,
                    if test.observed {
                        ", observed collection"
                    } else {
                        ""
                    }
                )),
            ]
            .into_iter()
            .flatten()
            .collect();
            o.note = vec![t::Annotation {
                text: t::Markdown(detail.join("; ")),
                ..Default::default()
            }];
            Some(r::Resource::Observation(Box::new(o)))
        })
        .collect()
}

fn internal(e: serde_json::Error) -> Error {
    Error::Internal(format!("FHIR serialization: {e}"))
}

/// The patient's record as R4 resources: Patient, EpisodeOfCare (one per
/// admission), Condition (the current assessment's diagnoses), Observation
/// (COWS and SOWS totals, PHQ-9 and GAD-7 totals, vital signs), Consent
/// (every consent, revoked ones `inactive`), MedicationRequest (comfort
/// orders), MedicationAdministration (their doses given or held), and each
/// treatment plan as a CarePlan with its Goals. Counseling notes are not
/// among them.
pub fn resources(sc: &PatientScope, entries: &[Entry]) -> Result<Vec<r::Resource>> {
    let p = &sc.patient;
    let pid = p.id.to_string();
    let subject = || reference("Patient", &pid);
    let mut out = vec![r::Resource::Patient(Box::new(r::Patient {
        id: Some(s(&pid)),
        meta: Some(part2_meta()),
        identifier: vec![t::Identifier {
            system: Some(t::Uri(format!("urn:carepath:program:{}:mrn", p.program_id))),
            value: Some(s(&p.mrn)),
            ..Default::default()
        }],
        active: Some(t::Boolean(true)),
        name: vec![t::HumanName {
            family: Some(s(&p.legal_last_name)),
            given: vec![s(&p.legal_first_name)].into(),
            ..Default::default()
        }],
        gender: Some(Coded::Known(match p.sex.as_str() {
            "female" => codes::AdministrativeGender::Female,
            "male" => codes::AdministrativeGender::Male,
            "other" | "intersex" | "nonbinary" => codes::AdministrativeGender::Other,
            _ => codes::AdministrativeGender::Unknown,
        })),
        birth_date: Some(t::Date(p.date_of_birth.clone())),
        ..Default::default()
    }))];
    let diagnosis = access::current(entries, Kind::Assessment)
        .last()
        .and_then(|e| match &e.body {
            Body::Assessment(a) => Some((e, a)),
            _ => None,
        });
    let conditions: Vec<String> = diagnosis
        .map(|(e, a)| {
            a.diagnosis
                .codes
                .iter()
                .enumerate()
                .map(|(n, _)| format!("{}-dx{n}", e.root_id))
                .collect()
        })
        .unwrap_or_default();
    for ep in &sc.episodes {
        let level = ep.level_of_care.parse::<ProgramKind>().ok();
        out.push(r::Resource::EpisodeOfCare(Box::new(r::EpisodeOfCare {
            id: Some(s(ep.id.to_string())),
            meta: Some(part2_meta()),
            status: Coded::Known(if ep.discharged_at.is_some() {
                codes::EpisodeOfCareStatus::Finished
            } else {
                codes::EpisodeOfCareStatus::Active
            }),
            r#type: vec![t::CodeableConcept {
                text: Some(s(level.map(|k| k.label()).unwrap_or(&ep.level_of_care))),
                ..Default::default()
            }],
            diagnosis: conditions
                .iter()
                .map(|c| r::episode_of_care::EpisodeOfCareDiagnosis {
                    condition: reference("Condition", c),
                    ..Default::default()
                })
                .collect(),
            patient: reference("Patient", &pid),
            period: Some(t::Period {
                start: Some(t::DateTime(instant(ep.admitted_at))),
                end: ep.discharged_at.map(|d| t::DateTime(instant(d))),
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    if let Some((e, a)) = diagnosis {
        for (code, id) in a.diagnosis.codes.iter().zip(&conditions) {
            out.push(r::Resource::Condition(Box::new(r::Condition {
                id: Some(s(id)),
                meta: Some(part2_meta()),
                clinical_status: Some(concept(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "active",
                    None,
                )),
                verification_status: Some(concept(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed",
                    None,
                )),
                category: vec![concept(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "problem-list-item",
                    None,
                )],
                code: Some(concept(ICD10CM, &code.code, Some(&code.title))),
                subject: subject(),
                recorded_date: Some(t::DateTime(instant(e.occurred_at))),
                ..Default::default()
            })));
        }
    }
    for e in entries.iter().filter(|e| e.is_current()) {
        match &e.body {
            Body::Assessment(a) => {
                for (suffix, code, name, r) in [
                    ("phq9", "44261-6", "PHQ-9 total score", a.phq9.as_ref()),
                    ("gad7", "70274-6", "GAD-7 total score", a.gad7.as_ref()),
                ] {
                    if let Some(r) = r {
                        out.push(score(e, suffix, &pid, concept(LOINC, code, Some(name)), r.total, "survey"));
                    }
                }
            }
            Body::Cows(b) => {
                out.push(score(e, "cows", &pid, text("COWS total score (Clinical Opiate Withdrawal Scale)"), b.score.total, "survey"));
                out.extend(vitals(e, &pid, &b.vitals));
            }
            Body::Sows(b) => {
                out.push(score(e, "sows", &pid, text("SOWS total score (Subjective Opiate Withdrawal Scale)"), b.score.total, "survey"));
                out.extend(vitals(e, &pid, &b.vitals));
            }
            Body::Order(o) => out.push(r::Resource::MedicationRequest(Box::new(r::MedicationRequest {
                id: Some(s(&e.id)),
                meta: Some(part2_meta()),
                status: Coded::Known(codes::MedicationrequestStatus::Active),
                intent: Coded::Known(codes::MedicationrequestIntent::Order),
                medication: Some(r::medication_request::MedicationRequestMedication::CodeableConcept(Box::new(text(&o.medication)))),
                subject: subject(),
                authored_on: Some(t::DateTime(instant(e.occurred_at))),
                requester: Some(t::Reference {
                    display: Some(s(&e.author_name)),
                    ..Default::default()
                }),
                reason_code: vec![text(&o.indication)],
                dosage_instruction: vec![t::Dosage {
                    text: Some(s(&e.summary)),
                    ..Default::default()
                }],
                ..Default::default()
            }))),
            Body::Administration(d) => out.push(r::Resource::MedicationAdministration(Box::new(r::MedicationAdministration {
                id: Some(s(&e.id)),
                meta: Some(part2_meta()),
                status: Coded::Known(if d.given {
                    codes::MedicationAdminStatus::Completed
                } else {
                    codes::MedicationAdminStatus::NotDone
                }),
                status_reason: if d.given { vec![] } else { vec![text(&d.hold_reason)] },
                medication: Some(r::medication_administration::MedicationAdministrationMedication::CodeableConcept(Box::new(text(&d.medication)))),
                subject: subject(),
                effective: Some(r::medication_administration::MedicationAdministrationEffective::DateTime(Primitive::new(t::DateTime(instant(e.occurred_at))))),
                request: entries
                    .iter()
                    .find(|o| o.root_id == d.order_id || o.id == d.order_id)
                    .and_then(|o| entries.iter().find(|c| c.root_id == o.root_id && c.is_current()))
                    .map(|o| reference("MedicationRequest", &o.id)),
                dosage: Some(r::medication_administration::MedicationAdministrationDosage {
                    dose: Some(mg(d.dose_mg)),
                    ..Default::default()
                }),
                ..Default::default()
            }))),
            Body::Plan(plan) => out.extend(care_plan(e, &pid, plan)),
            Body::Consent(c) => {
                let revoked = entries.iter().any(|r| {
                    r.kind == Kind::ConsentRevocation && r.ref_id.as_deref() == Some(&e.root_id)
                });
                out.push(consent(e, &pid, &c.consent, revoked)?);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A treatment plan as a CarePlan (its problems' goals referenced, the
/// objectives and interventions as its notes, the next review as the end of
/// its period) and one Goal per problem (the goal, how it is measured, the
/// objectives' target dates, the progress noted).
fn care_plan(e: &Entry, pid: &str, plan: &crate::kinds::notes::PlanBody) -> Vec<r::Resource> {
    let mut out = vec![];
    let mut goals = vec![];
    let mut notes = vec![];
    for (n, p) in plan.problems.iter().enumerate() {
        let id = format!("{}-goal{n}", e.id);
        let mut lines = vec![
            format!("Problem: {}", p.problem),
            format!("Measured by: {}", p.measure),
        ];
        lines.extend(
            p.objectives
                .iter()
                .map(|o| format!("Objective: {} (by {})", o.text, o.target_date)),
        );
        if !p.progress.trim().is_empty() {
            lines.push(format!("Progress: {}", p.progress));
        }
        out.push(r::Resource::Goal(Box::new(r::Goal {
            id: Some(s(&id)),
            meta: Some(part2_meta()),
            lifecycle_status: Coded::Known(codes::GoalStatus::Active),
            description: text(&p.goal),
            subject: reference("Patient", pid),
            note: vec![t::Annotation {
                text: t::Markdown(lines.join("\n")),
                ..Default::default()
            }],
            ..Default::default()
        })));
        goals.push(reference("Goal", &id));
        for i in &p.interventions {
            notes.push(t::Annotation {
                text: t::Markdown(format!(
                    "Intervention for \"{}\": {}{} — {}",
                    p.problem,
                    i.kind,
                    if i.detail.trim().is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", i.detail)
                    },
                    i.responsible
                )),
                ..Default::default()
            });
        }
    }
    out.push(r::Resource::CarePlan(Box::new(r::CarePlan {
        id: Some(s(&e.id)),
        meta: Some(part2_meta()),
        status: Coded::Known(codes::RequestStatus::Active),
        intent: t::Code("plan".into()),
        title: Some(s("Treatment plan")),
        description: Some(s(format!(
            "Person-centered treatment plan{}; next review {}",
            if plan.patient_participated {
                ", made with the patient"
            } else {
                ""
            },
            plan.review_due
        ))),
        subject: reference("Patient", pid),
        period: Some(t::Period {
            start: Some(t::DateTime(instant(e.occurred_at))),
            end: Some(t::DateTime(plan.review_due.clone())),
            ..Default::default()
        }),
        created: Some(t::DateTime(instant(e.occurred_at))),
        author: Some(t::Reference {
            display: Some(s(&e.author_name)),
            ..Default::default()
        }),
        goal: goals,
        note: notes,
        ..Default::default()
    })));
    out
}

fn s(v: impl Into<String>) -> t::String {
    t::String(v.into())
}

/// RFC 3339 in UTC (an R4 `instant`, also a valid `dateTime`).
fn instant(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .round(jiff::Unit::Second)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

fn reference<T>(kind: &str, id: &str) -> t::Reference<T> {
    t::Reference {
        reference: Some(s(format!("{kind}/{id}"))),
        ..Default::default()
    }
}

fn coding(system: &str, code: &str, display: Option<&str>) -> t::Coding {
    t::Coding {
        system: Some(t::Uri(system.into())),
        code: Some(t::Code(code.into())),
        display: display.map(s),
        ..Default::default()
    }
}

fn concept(system: &str, code: &str, display: Option<&str>) -> t::CodeableConcept {
    t::CodeableConcept {
        coding: vec![coding(system, code, display)],
        ..Default::default()
    }
}

fn text(v: &str) -> t::CodeableConcept {
    t::CodeableConcept {
        text: Some(s(v)),
        ..Default::default()
    }
}

/// Every resource here comes from a Part 2 program's record: labelled so
/// (42CFRPart2 policy, restricted confidentiality) for whoever receives it.
fn part2_meta() -> t::Meta {
    t::Meta {
        security: vec![
            coding(ACT_CODE, "42CFRPart2", Some("42 CFR Part2")),
            coding(CONFIDENTIALITY, "R", Some("restricted")),
        ],
        ..Default::default()
    }
}

fn quantity(value: f64, unit: &str, code: &str) -> t::Quantity {
    t::Quantity {
        value: t::Decimal::new(format!("{value}")).ok(),
        unit: Some(s(unit)),
        system: Some(t::Uri(UCUM.into())),
        code: Some(t::Code(code.into())),
        ..Default::default()
    }
}

fn mg(v: f64) -> t::Quantity {
    quantity(v, "mg", "mg")
}

fn observation(
    e: &Entry,
    suffix: &str,
    pid: &str,
    code: t::CodeableConcept,
    category: &str,
) -> r::Observation {
    r::Observation {
        id: Some(s(format!("{}-{suffix}", e.id))),
        meta: Some(part2_meta()),
        status: Coded::Known(if e.amends.is_some() {
            codes::ObservationStatus::Amended
        } else {
            codes::ObservationStatus::Final
        }),
        category: vec![concept(OBS_CATEGORY, category, None)],
        code,
        subject: Some(reference("Patient", pid)),
        effective: Some(r::observation::ObservationEffective::DateTime(
            Primitive::new(t::DateTime(instant(e.occurred_at))),
        )),
        ..Default::default()
    }
}

fn score(
    e: &Entry,
    suffix: &str,
    pid: &str,
    code: t::CodeableConcept,
    total: u8,
    category: &str,
) -> r::Resource {
    let mut o = observation(e, suffix, pid, code, category);
    o.value = Some(r::observation::ObservationValue::Integer(Primitive::new(
        t::Integer(i32::from(total)),
    )));
    r::Resource::Observation(Box::new(o))
}

/// The vital signs of a flowsheet entry, one Observation each (blood
/// pressure as a panel with its two components).
fn vitals(e: &Entry, pid: &str, v: &carepath_clinical::flowsheet::Vitals) -> Vec<r::Resource> {
    let mut out = vec![];
    let single = |suffix: &str, code: &str, name: &str, q: t::Quantity| {
        let mut o = observation(
            e,
            suffix,
            pid,
            concept(LOINC, code, Some(name)),
            "vital-signs",
        );
        o.value = Some(r::observation::ObservationValue::Quantity(Box::new(q)));
        r::Resource::Observation(Box::new(o))
    };
    if let (Some(sbp), Some(dbp)) = (v.sbp, v.dbp) {
        let mut o = observation(
            e,
            "bp",
            pid,
            concept(LOINC, "85354-9", Some("Blood pressure panel")),
            "vital-signs",
        );
        o.component = [
            ("8480-6", "Systolic blood pressure", sbp),
            ("8462-4", "Diastolic blood pressure", dbp),
        ]
        .into_iter()
        .map(|(code, name, val)| r::observation::ObservationComponent {
            code: concept(LOINC, code, Some(name)),
            value: Some(r::observation::ObservationComponentValue::Quantity(
                Box::new(quantity(f64::from(val), "mmHg", "mm[Hg]")),
            )),
            ..Default::default()
        })
        .collect();
        out.push(r::Resource::Observation(Box::new(o)));
    }
    if let Some(hr) = v.hr {
        out.push(single(
            "hr",
            "8867-4",
            "Heart rate",
            quantity(f64::from(hr), "beats/minute", "/min"),
        ));
    }
    if let Some(rr) = v.rr {
        out.push(single(
            "rr",
            "9279-1",
            "Respiratory rate",
            quantity(f64::from(rr), "breaths/minute", "/min"),
        ));
    }
    if let Some(tc) = v.temp_c {
        out.push(single(
            "temp",
            "8310-5",
            "Body temperature",
            quantity(tc, "C", "Cel"),
        ));
    }
    if let Some(o2) = v.spo2 {
        out.push(single(
            "spo2",
            "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry",
            quantity(f64::from(o2), "%", "%"),
        ));
    }
    out
}

/// A consent as the Part 2 pattern of FHIR Consent (R4): scope
/// patient-privacy, the § 2.31 policy, a permit provision naming the
/// recipient and the purpose, ending on the expiry date; revoked → inactive.
fn consent(
    e: &Entry,
    pid: &str,
    c: &carepath_clinical::consent::Consent,
    revoked: bool,
) -> Result<r::Resource> {
    use carepath_clinical::consent::Kind as CK;
    let (scope, scope_label) = match c.kind {
        CK::Treatment => ("treatment", "Treatment"),
        _ => ("patient-privacy", "Privacy Consent"),
    };
    let purpose = match c.kind {
        CK::Tpo => vec![
            coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "TREAT",
                Some("treatment"),
            ),
            coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "HPAYMT",
                Some("healthcare payment"),
            ),
            coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "HOPERAT",
                Some("healthcare operations"),
            ),
        ],
        _ => vec![],
    };
    let category = vec1::Vec1::new(concept(LOINC, "59284-0", Some("Consent Document")));
    let mut out = r::Consent::builder()
        .status(Coded::Known(if revoked {
            codes::ConsentStateCodes::Inactive
        } else {
            codes::ConsentStateCodes::Active
        }))
        .scope(concept(
            "http://terminology.hl7.org/CodeSystem/consentscope",
            scope,
            Some(scope_label),
        ))
        .category(category)
        .build()
        .map_err(|e| Error::Internal(format!("FHIR Consent: {e}")))?;
    out.id = Some(s(&e.id));
    out.meta = Some(part2_meta());
    out.patient = Some(reference("Patient", pid));
    out.date_time = Some(t::DateTime(c.signed_on.clone()));
    out.policy = vec![r::consent::ConsentPolicy {
        uri: Some(t::Uri(
            "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2/subpart-C/section-2.31".into(),
        )),
        ..Default::default()
    }];
    out.provision = Some(r::consent::ConsentProvision {
        r#type: Some(Coded::Known(codes::ConsentProvisionType::Permit)),
        period: c.expires_on.as_ref().map(|end| t::Period {
            start: Some(t::DateTime(c.signed_on.clone())),
            end: Some(t::DateTime(end.clone())),
            ..Default::default()
        }),
        actor: if c.recipient.trim().is_empty() {
            vec![]
        } else {
            vec![r::consent::ConsentProvisionActor {
                role: concept(
                    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "IRCP",
                    Some("information recipient"),
                ),
                reference: t::Reference {
                    display: Some(s(&c.recipient)),
                    ..Default::default()
                },
                ..Default::default()
            }]
        },
        action: vec![concept(
            "http://terminology.hl7.org/CodeSystem/consentaction",
            "disclose",
            Some("Disclose"),
        )],
        security_label: vec![coding(ACT_CODE, "42CFRPart2", Some("42 CFR Part2"))],
        purpose,
        code: if c.information.trim().is_empty() {
            vec![]
        } else {
            vec![text(&c.information)]
        },
        ..Default::default()
    });
    Ok(r::Resource::Consent(Box::new(out)))
}

/// Resource types the search answers (`GET /fhir/r4/{type}`).
pub const SEARCHABLE: &[&str] = &[
    "Patient",
    "EpisodeOfCare",
    "Condition",
    "Observation",
    "Consent",
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationDispense",
    "Provenance",
];

/// One `date` search parameter: a prefix (`eq` when none) and a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParam {
    pub prefix: String,
    pub day: jiff::civil::Date,
}

impl std::str::FromStr for DateParam {
    type Err = Error;
    fn from_str(v: &str) -> Result<DateParam> {
        let (prefix, rest) = match v.get(..2) {
            Some(p @ ("eq" | "ne" | "lt" | "gt" | "le" | "ge")) => (p, &v[2..]),
            _ => ("eq", v),
        };
        let day = rest.get(..10).unwrap_or(rest).parse().map_err(|_| {
            Error::invalid(
                "date",
                "a day as YYYY-MM-DD, optionally after ge, gt, le, lt, eq or ne",
            )
        })?;
        Ok(DateParam {
            prefix: prefix.into(),
            day,
        })
    }
}

impl DateParam {
    fn admits(&self, day: jiff::civil::Date) -> bool {
        match self.prefix.as_str() {
            "ge" => day >= self.day,
            "gt" => day > self.day,
            "le" => day <= self.day,
            "lt" => day < self.day,
            "ne" => day != self.day,
            _ => day == self.day,
        }
    }
}

/// The day a resource is about (what `date` searches): when it was
/// observed, given, handed over, ordered, recorded, signed or began.
fn day_of(v: &serde_json::Value) -> Option<jiff::civil::Date> {
    let s = [
        &v["effectiveDateTime"],
        &v["whenHandedOver"],
        &v["authoredOn"],
        &v["recordedDate"],
        &v["dateTime"],
        &v["period"]["start"],
        &v["recorded"],
    ]
    .into_iter()
    .find_map(|x| x.as_str())?;
    s.get(..10)?.parse().ok()
}

/// `GET /fhir/r4/{type}?patient=…&date=…`: the patient's resources of one
/// type as a `searchset` bundle, for staff of the patient's program with
/// clinical access — a read inside the program, audited as every chart
/// read is (`access::open`), not a disclosure (those go through
/// [`everything`]). `date` parameters (all must hold) narrow by the day a
/// resource is about; a resource without one never matches a date.
pub async fn search(
    app: &App,
    who: &Principal,
    patient: PatientId,
    kind: &str,
    dates: &[DateParam],
) -> Result<serde_json::Value> {
    if !SEARCHABLE.contains(&kind) {
        return Err(Error::NotFound);
    }
    let sc = access::open(
        app,
        who,
        patient,
        carepath_domain::authz::Permission::ReadClinical,
        "fhir.search",
    )
    .await?;
    let entries = sc.entries(app, &[]).await?;
    let matches = record(app, &sc, &entries, Some(kind))
        .await?
        .into_iter()
        .filter(|v| v["resourceType"] == kind)
        .filter(|v| {
            dates.is_empty() || day_of(v).is_some_and(|d| dates.iter().all(|p| p.admits(d)))
        })
        .collect();
    searchset(
        &uuid::Uuid::now_v7().to_string(),
        sc.now,
        matches,
        Some(codes::SearchEntryMode::Match),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_parameters_read_as_fhir_writes_them() {
        let d = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
        let p: DateParam = "ge2026-11-01".parse().unwrap();
        assert_eq!((p.prefix.as_str(), p.day), ("ge", d("2026-11-01")));
        assert!(
            p.admits(d("2026-11-01")) && p.admits(d("2026-12-01")) && !p.admits(d("2026-10-31"))
        );
        let p: DateParam = "2026-11-05".parse().unwrap();
        assert!(p.admits(d("2026-11-05")) && !p.admits(d("2026-11-06")));
        let p: DateParam = "lt2026-11-05T00:00:00Z".parse().unwrap();
        assert!(p.admits(d("2026-11-04")) && !p.admits(d("2026-11-05")));
        assert!("yesterday".parse::<DateParam>().is_err());
        assert!("ge".parse::<DateParam>().is_err());
        let obs = serde_json::json!({"effectiveDateTime": "2026-11-05T10:00:00Z"});
        assert_eq!(day_of(&obs), Some(d("2026-11-05")));
        let ep = serde_json::json!({"period": {"start": "2026-10-01T00:00:00Z"}});
        assert_eq!(day_of(&ep), Some(d("2026-10-01")));
        assert_eq!(day_of(&serde_json::json!({"id": "x"})), None);
    }
}

/// The staff member a bulk export is made by (the accounting of
/// disclosures names who disclosed): `username`, enabled, holding a role
/// with clinical write access in `program`.
pub async fn acting_as(
    app: &App,
    tool: &str,
    username: &str,
    program: carepath_domain::ids::ProgramId,
) -> Result<Principal> {
    let user = crate::admin::user_by_username(app, username)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            Error::invalid("as", format!("no active staff account named {username:?}"))
        })?;
    let role = app
        .store
        .grants(user.id)
        .await?
        .into_iter()
        .filter(|g| g.program_id == program)
        .map(|g| g.role)
        .find(|r| {
            carepath_domain::authz::role_allows(
                *r,
                carepath_domain::authz::Permission::WriteClinical,
            )
        })
        .ok_or_else(|| {
            Error::invalid(
                "as",
                format!(
                    "{username} is not clinical staff of that program: disclosures are made by them"
                ),
            )
        })?;
    Ok(Principal::system_for(
        tool,
        user.id,
        &user.display_name,
        role,
        program,
    ))
}

/// What a bulk export released and what it left out.
#[derive(Debug, Clone, Default)]
pub struct Bulk {
    /// Resources by type, each a JSON object (one NDJSON line each).
    pub by_type: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    /// Patients released (each a disclosure in their accounting).
    pub patients: usize,
    /// Patients left out: (patient id, why).
    pub left_out: Vec<(String, String)>,
}

/// A bulk export of a program to one recipient for one purpose (the FHIR
/// Bulk Data shape: NDJSON per resource type). Each patient in care in the
/// program within the last two years goes only under a consent of theirs
/// that permits that recipient and purpose (the first current one that
/// does), through the same gate as [`everything`] and recorded in their
/// accounting of disclosures (channel `fhir-bulk`); the others are left out
/// and named. Counseling notes never go.
pub async fn bulk(
    app: &App,
    who: &Principal,
    program: carepath_domain::ids::ProgramId,
    recipient: &str,
    purpose: &str,
) -> Result<Bulk> {
    let since = app.now_us() - 730 * crate::clock::DAY_US;
    let mut patients: Vec<PatientId> = app
        .store
        .program_episodes(program, since)
        .await?
        .into_iter()
        .map(|e| e.patient_id)
        .collect();
    patients.sort_by_key(|p| p.to_string());
    patients.dedup();
    let mut out = Bulk::default();
    for pid in patients {
        // The consents on file that would permit this disclosure.
        let sc = access::open(
            app,
            who,
            pid,
            carepath_domain::authz::Permission::ReadClinical,
            "fhir.bulk.consents",
        )
        .await?;
        let entries = sc
            .entries(app, &[Kind::Consent, Kind::ConsentRevocation])
            .await?;
        let standing = |revoked: bool| carepath_clinical::consent::Standing {
            revoked,
            treatment_ended: sc.episodes.iter().all(|e| e.discharged_at.is_some()),
            today: sc.today(),
        };
        let request = carepath_clinical::consent::Request {
            recipient: recipient.into(),
            purpose: purpose.into(),
        };
        let consent = crate::chart::consents_with_state(&entries)
            .into_iter()
            .find_map(|(c, rev)| match &c.body {
                Body::Consent(b)
                    if carepath_clinical::consent::permits(
                        &b.consent,
                        standing(rev.is_some()),
                        &request,
                    )
                    .is_ok() =>
                {
                    Some(c.id.clone())
                }
                _ => None,
            });
        let Some(consent_id) = consent else {
            out.left_out.push((
                pid.to_string(),
                "no consent on file permits this recipient and purpose".into(),
            ));
            continue;
        };
        let i = DisclosureInput {
            consent_id,
            recipient: recipient.into(),
            purpose: purpose.into(),
            channel: "fhir-bulk".into(),
        };
        let g = crate::chart::grant_disclosure(app, who, pid, &i).await?;
        let values = record(app, &g.s, &g.entries, None).await?;
        crate::chart::record_disclosure(app, who, &g).await?;
        for v in values {
            let kind = v["resourceType"].as_str().unwrap_or("Resource").to_string();
            out.by_type.entry(kind).or_default().push(v);
        }
        out.patients += 1;
    }
    Ok(out)
}
