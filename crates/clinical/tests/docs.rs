//! Every worked example in docs/calculators.md is a test: the result must
//! contain the output shown (objects: the keys shown; arrays: same length,
//! element by element).

use carepath_clinical::calc::{Context, documented_examples, run};
use serde_json::Value;

fn contains(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, v) in e {
                let av = a.get(k).ok_or_else(|| format!("{path}.{k} missing"))?;
                contains(av, v, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                return Err(format!("{path}: {} items, expected {}", a.len(), e.len()));
            }
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                contains(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(a), Value::Number(e)) if a.as_f64() == e.as_f64() => Ok(()),
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{path}: got {a}, expected {e}")),
    }
}

#[test]
fn documented_examples_hold() {
    let ex = documented_examples();
    let names: std::collections::BTreeSet<&str> = ex.iter().map(|e| e.0.as_str()).collect();
    for n in carepath_clinical::calc::NAMES {
        assert!(
            names.contains(n),
            "docs/calculators.md has no example for {n}"
        );
    }
    let ctx = Context {
        now: Some("2026-11-22T12:00:00Z".into()),
    };
    for (name, input, expected) in ex {
        let got = run(&name, input.clone(), &ctx)
            .unwrap_or_else(|e| panic!("{name} example failed: {e}"));
        if let Err(why) = contains(&got, &expected, &name) {
            panic!("{name} example: {why}\nfull result: {got:#}");
        }
    }
}
