//! HTML forms to the services' typed inputs, and back.
//!
//! Field names are the inputs' JSON paths (`vitals.hr`, `substances[0].code`,
//! `sections.data`; a repeated name is a list, e.g. checked `dsm5` boxes), so
//! an error the services name lands on its input. A form is read in four
//! generic steps: control fields (a button's `action`, a correction's
//! `reason`) are set aside; empty fields count as absent (an optional value
//! left blank, a row left empty); the rows left are numbered from 0 again;
//! and `serde_qs` deserializes the result straight into the typed input,
//! with `serde_path_to_error` naming the field at fault (translated back to
//! the row the person filled). Prefilling goes the other way: the input is
//! serialized and flattened into the same names.

use crate::error::AppError;
use crate::pages::forms::Values;
use carepath_domain::FieldError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` → its segments; `None` for a malformed name.
fn segments(name: &str) -> Option<Vec<Seg>> {
    let mut out = vec![];
    for part in name.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return None;
        }
        out.push(Seg::Key(key.to_string()));
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Seg::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

fn dotted(segs: &[Seg]) -> String {
    let mut s = String::new();
    for g in segs {
        match g {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn bracketed(segs: &[Seg]) -> String {
    let mut s = String::new();
    for g in segs {
        match g {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => s.push_str(&format!("[{k}]")),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Form fields as (name, value).
type Pairs = Vec<(String, String)>;

/// The form's pairs as the input sees them, and the way back from a
/// renumbered row to the row on the page: (new prefix, old prefix).
fn normalize(pairs: &[(String, String)], skip: &[&str]) -> (Pairs, Pairs) {
    let mut entries: Vec<(Vec<Seg>, String)> = pairs
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .filter(|(_, v)| !v.trim().is_empty())
        .filter_map(|(k, v)| segments(k).map(|s| (s, v.clone())))
        .collect();
    // Rows in ascending order (stable: repeated names keep their order).
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut numbering: HashMap<Vec<Seg>, HashMap<usize, usize>> = HashMap::new();
    let mut back: Vec<(String, String)> = vec![];
    let mut out = vec![];
    for (segs, v) in entries {
        let mut new: Vec<Seg> = vec![];
        let mut old: Vec<Seg> = vec![];
        for g in segs {
            match g {
                Seg::Index(i) => {
                    let rows = numbering.entry(new.clone()).or_default();
                    let n = rows.len();
                    let j = *rows.entry(i).or_insert(n);
                    new.push(Seg::Index(j));
                    old.push(Seg::Index(i));
                    if i != j {
                        let pair = (dotted(&new), dotted(&old));
                        if !back.contains(&pair) {
                            back.push(pair);
                        }
                    }
                }
                k => {
                    new.push(k.clone());
                    old.push(k);
                }
            }
        }
        out.push((bracketed(&new), v));
    }
    // Longest prefixes first, so nested rows translate before their parents.
    back.sort_by_key(|b| std::cmp::Reverse(b.0.len()));
    (out, back)
}

/// Translate a field path of the renumbered input back to the page's names.
fn original(field: &str, back: &[(String, String)]) -> String {
    let mut f = field.to_string();
    for (new, old) in back {
        if f == *new || f.starts_with(&format!("{new}.")) || f.starts_with(&format!("{new}[")) {
            f = format!("{old}{}", &f[new.len()..]);
            break;
        }
    }
    f
}

/// Read a submitted form into the typed input `T`. `skip` names the control
/// fields that are not part of the input.
pub fn parse<T: DeserializeOwned>(
    pairs: &[(String, String)],
    skip: &[&str],
) -> Result<T, AppError> {
    let (pairs, back) = normalize(pairs, skip);
    let query = serde_urlencoded::to_string(&pairs)
        .map_err(|e| AppError::Internal(format!("form: {e}")))?;
    let cfg = serde_qs::Config::new().max_depth(8).use_form_encoding(true);
    let de = serde_qs::Deserializer::with_config(cfg, query.as_bytes())
        .map_err(|e| AppError::invalid("body", e.to_string()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = match inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next())
        {
            Some(name) if path == "." || path.is_empty() => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." || path.is_empty() => "body".to_string(),
            None => path,
        };
        let message = if inner.starts_with("missing field") {
            "is required".to_string()
        } else if inner.starts_with("invalid digit")
            || inner.contains("expected u")
            || inner.contains("expected i")
            || inner.contains("expected f")
        {
            "must be a number".to_string()
        } else {
            inner
        };
        AppError::Invalid(vec![FieldError::new(original(&field, &back), message)])
    })
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
    }
}

/// The form values that show `input` (to prefill a form, e.g. a correction).
pub fn values<T: Serialize>(input: &T) -> Values {
    let mut out = vec![];
    if let Ok(v) = serde_json::to_value(input) {
        flatten("", &v, &mut out);
    }
    Values(out)
}

/// The `photo` part of a multipart upload (empty when missing).
pub async fn photo_part(
    mut mp: axum::extract::Multipart,
) -> Result<Vec<u8>, crate::error::AppError> {
    let mut data = None;
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some("photo") {
            data = field.bytes().await.ok();
        }
    }
    Ok(data.map(|b| b.to_vec()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Row {
        code: u8,
        route: u8,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Input {
        rows: Vec<Row>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        n: Option<u8>,
        #[serde(default)]
        items: BTreeMap<String, u16>,
        #[serde(default)]
        text: String,
    }

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_form_reads_straight_into_the_input() {
        let i: Input = parse(
            &p(&[
                ("rows[0].code", "5"),
                ("rows[0].route", "1"),
                ("rows[1].code", ""),
                ("rows[1].route", ""),
                ("rows[2].code", "7"),
                ("rows[2].route", "2"),
                ("tags", "A1"),
                ("tags", "A3"),
                ("flag", "true"),
                ("n", ""),
                ("items.pulse", "2"),
                ("text", "a & b = c"),
                ("action", "review"),
            ]),
            &["action"],
        )
        .unwrap();
        assert_eq!(
            i,
            Input {
                rows: vec![Row { code: 5, route: 1 }, Row { code: 7, route: 2 }],
                tags: vec!["A1".into(), "A3".into()],
                flag: true,
                n: None,
                items: [("pulse".to_string(), 2)].into(),
                text: "a & b = c".into(),
            }
        );
    }

    #[test]
    fn errors_name_the_field_on_the_page() {
        // The third row on the page is the second after the empty one is dropped.
        let e = parse::<Input>(
            &p(&[
                ("rows[0].code", "5"),
                ("rows[0].route", "1"),
                ("rows[2].code", "7"),
                ("rows[2].route", "x"),
            ]),
            &[],
        )
        .unwrap_err();
        let f = e.first_field().unwrap();
        assert_eq!(
            (f.field.as_ref(), f.message.as_str()),
            ("rows[2].route", "must be a number")
        );
        let e = parse::<Input>(&p(&[("rows[3].code", "5")]), &[]).unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "rows[3].route");
        let e = parse::<Input>(&p(&[("text", "x")]), &[]).unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "rows");
        let e = parse::<Input>(
            &p(&[
                ("rows[0].code", "1"),
                ("rows[0].route", "1"),
                ("bogus", "1"),
            ]),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "bogus");
    }

    #[test]
    fn an_input_prefills_the_same_names_and_reads_back() {
        let i = Input {
            rows: vec![Row { code: 5, route: 1 }],
            tags: vec!["A1".into()],
            flag: true,
            n: None,
            items: [("pulse".to_string(), 2)].into(),
            text: "x".into(),
        };
        let v = values(&i);
        assert_eq!(v.get("rows[0].code"), "5");
        assert_eq!(v.get("items.pulse"), "2");
        assert_eq!(v.all("tags"), vec!["A1".to_string()]);
        let back: Input = parse(&v.0, &[]).unwrap();
        assert_eq!(back, i);
    }
}
