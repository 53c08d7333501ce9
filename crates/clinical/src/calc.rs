//! One entry point for every calculator, shared by `carepath calc` and
//! `POST /api/v1/calc/{name}` so both answer identically.

use crate::InputError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Calculator names (a contract used by outside checks).
pub const NAMES: [&str; 17] = [
    "cows",
    "sows",
    "oud-diagnosis",
    "level-of-care",
    "withdrawal-course",
    "methadone-order",
    "missed-doses",
    "buprenorphine-order",
    "naltrexone-start",
    "comfort-med",
    "take-home",
    "cm-ledger",
    "cm-draw",
    "drug-test",
    "phq-9",
    "gad-7",
    "naloxone-at-discharge",
];

/// What a calculator may need from outside: the current time (RFC 3339),
/// filled into inputs that omit `now`.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub now: Option<String>,
}

/// A calculator failed: unknown name or invalid input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    #[error("unknown calculator {0:?}")]
    UnknownCalculator(String),
    #[error("{0}")]
    Invalid(InputError),
}

impl CalcError {
    /// The JSON error body: `{"error": {"code", "field", "message"}}`.
    pub fn to_json(&self) -> Value {
        match self {
            CalcError::UnknownCalculator(n) => {
                serde_json::json!({"error": {"code": "unknown_calculator", "field": "name", "message": format!("unknown calculator {n:?}; expected one of {}", NAMES.join(", "))}})
            }
            CalcError::Invalid(e) => {
                serde_json::json!({"error": {"code": "invalid", "field": e.field, "message": e.message}})
            }
        }
    }
}

fn parse<T: DeserializeOwned>(v: Value) -> Result<T, CalcError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names unknown/missing fields in its message; lift them into the path.
        let field = if path == "." || path.is_empty() {
            inner
                .split('`')
                .nth(1)
                .map(str::to_string)
                .unwrap_or_else(|| "input".into())
        } else if inner.starts_with("missing field") {
            match inner.split('`').nth(1) {
                Some(f) => format!("{path}.{f}"),
                None => path,
            }
        } else {
            path
        };
        CalcError::Invalid(InputError::new(field, inner))
    })
}

fn out<T: Serialize>(r: crate::Result<T>) -> Result<Value, CalcError> {
    let v = r.map_err(CalcError::Invalid)?;
    Ok(serde_json::to_value(v).expect("results serialize"))
}

/// Run calculator `name` on a JSON input.
pub fn run(name: &str, mut input: Value, ctx: &Context) -> Result<Value, CalcError> {
    if !input.is_object() {
        return Err(CalcError::Invalid(InputError::new(
            "input",
            "must be a JSON object",
        )));
    }
    match name {
        "cows" => out(crate::cows::score(&parse(input)?)),
        "sows" => out(crate::sows::score(&parse(input)?)),
        "oud-diagnosis" => out(crate::oud::diagnose(&parse(input)?)),
        "level-of-care" => out(crate::level_of_care::recommend(&parse(input)?)),
        "withdrawal-course" => {
            if input.get("now").is_none_or(Value::is_null)
                && let Some(now) = &ctx.now
            {
                input["now"] = Value::String(now.clone());
            }
            out(crate::course::course(&parse(input)?))
        }
        "methadone-order" => {
            if let Some(t) = input.get("taper").cloned() {
                if input.as_object().is_some_and(|o| o.len() > 1) {
                    return Err(CalcError::Invalid(InputError::new(
                        "taper",
                        "a taper request stands alone: send only {\"taper\": {...}}",
                    )));
                }
                let t: crate::methadone::TaperInput = parse(t).map_err(|e| match e {
                    CalcError::Invalid(i) => {
                        CalcError::Invalid(InputError::new(format!("taper.{}", i.field), i.message))
                    }
                    other => other,
                })?;
                let (steps, alerts) = crate::methadone::taper(&t).map_err(|e| {
                    CalcError::Invalid(InputError::new(format!("taper.{}", e.field), e.message))
                })?;
                return Ok(
                    serde_json::json!({"taper": steps, "alerts": alerts, "citation": crate::methadone::LABEL_TAPER}),
                );
            }
            out(crate::methadone::check_order(&parse(input)?))
        }
        "missed-doses" => out(crate::methadone::missed(&parse(input)?)),
        "buprenorphine-order" => out(crate::buprenorphine::check(&parse(input)?)),
        "naltrexone-start" => out(crate::naltrexone::start(&parse(input)?)),
        "comfort-med" => out(crate::comfort::check(&parse(input)?)),
        "take-home" => out(crate::takehome::evaluate(&parse(input)?)),
        "cm-ledger" => out(crate::cm::ledger(&parse(input)?)),
        "cm-draw" => out(crate::cm::draw(&parse(input)?)),
        "drug-test" => out(crate::drugtest::interpret(&parse(input)?)),
        "phq-9" => {
            let i: ScreenInput = parse(input)?;
            out(crate::screens::phq9(&i.items))
        }
        "gad-7" => {
            let i: ScreenInput = parse(input)?;
            out(crate::screens::gad7(&i.items))
        }
        "naloxone-at-discharge" => Ok(serde_json::to_value(crate::discharge::naloxone_required(
            &parse(input)?,
        ))
        .expect("serializable")),
        other => Err(CalcError::UnknownCalculator(other.to_string())),
    }
}

/// Input of the PHQ-9 and GAD-7 calculators: the answers, 0–3 each.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenInput {
    items: Vec<u8>,
}

/// The worked examples of `docs/calculators.md`: (calculator, input, expected
/// output subset). Used by the tests of the engine, the CLI and the API.
pub fn documented_examples() -> Vec<(String, Value, Value)> {
    let doc = include_str!("../../../docs/calculators.md");
    let mut out = vec![];
    let mut current = String::new();
    let mut pending: Option<Value> = None;
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.trim().to_string();
        } else if line.starts_with("```json input") || line.starts_with("```json output") {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            let v: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("bad JSON in the {current} example: {e}"));
            if line.contains("input") {
                pending = Some(v);
            } else if let Some(input) = pending.take() {
                out.push((current.clone(), input, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_fields() {
        let ctx = Context::default();
        let e = run("take-home", json!({"policy": "federal-2024"}), &ctx).unwrap_err();
        assert_eq!(e.to_json()["error"]["field"], "medication");
        let e = run("cows", json!({"items": {"pulse": 1}, "extra": 1}), &ctx).unwrap_err();
        assert_eq!(e.to_json()["error"]["field"], "extra");
        let e = run("oud-diagnosis", json!({"criteria": "A1"}), &ctx).unwrap_err();
        assert_eq!(e.to_json()["error"]["field"], "criteria");
        let e = run(
            "cm-ledger",
            json!({"preset": "higgins", "results": ["negative", "maybe"]}),
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e.to_json()["error"]["field"], "results[1]");
        assert!(matches!(
            run("nope", json!({}), &ctx),
            Err(CalcError::UnknownCalculator(_))
        ));
        assert!(run("cows", json!([1]), &ctx).is_err());
    }

    #[test]
    fn now_is_filled_from_context() {
        let ctx = Context {
            now: Some("2026-11-22T12:00:00Z".into()),
        };
        let o = run(
            "withdrawal-course",
            json!({"opioid": "heroin", "last_use": "2026-11-22T00:00:00Z"}),
            &ctx,
        )
        .unwrap();
        assert_eq!(o["hours_since_last_use"], 12.0);
    }
}
