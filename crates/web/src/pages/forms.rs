//! One form page for every clinical form: fields are described in Rust (name,
//! label, kind, options) and rendered by `form.html` with labels, hints, the
//! error next to the field it names, and values kept after a failed submit.
//! Field names follow the API's JSON paths (`vitals.hr`, `substances[0].code`)
//! so an error from the services lands on the right input; [`crate::form`]
//! reads a submitted form straight into the typed input. Every invalid field
//! is shown at once, each next to its input and in the summary.

use crate::views::{Nav, render};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_domain::FieldError;
use std::str::FromStr;

/// Submitted form values (repeated names kept in order).
#[derive(Debug, Clone, Default)]
pub struct Values(pub Vec<(String, String)>);

impl Values {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    /// Every value of a repeated name (`name`, or `name[0]`, `name[1]`…).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| {
                k == name
                    || k.strip_prefix(name).is_some_and(|r| {
                        r.starts_with('[')
                            && r.ends_with(']')
                            && r[1..r.len() - 1].chars().all(|c| c.is_ascii_digit())
                    })
            })
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
    pub fn set(&mut self, name: &str, v: impl Into<String>) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), v.into()));
    }
    pub fn push(&mut self, name: &str, v: impl Into<String>) {
        self.0.push((name.to_string(), v.into()));
    }
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
    /// A checkbox: present and "true"/"on"/"yes".
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), "true" | "on" | "yes" | "1")
    }
    /// A number, or `None` when empty or not a number (live previews only:
    /// submitted forms are read with [`crate::form::parse`]).
    pub fn num<T: FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).trim().parse().ok()
    }
}

pub struct Field {
    pub name: String,
    pub label: String,
    /// text, area, number, date, datetime, time, select, radio, check, checks, heading, note, warn, row, endrow, hidden, tel, email
    pub kind: &'static str,
    pub value: String,
    pub values: Vec<String>,
    pub options: Vec<(String, String)>,
    pub hint: String,
    pub error: Option<String>,
    pub required: bool,
    pub step: String,
}

impl Field {
    pub fn checked(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }
    pub fn id(&self) -> String {
        format!("f-{}", self.name.replace(['.', '[', ']'], "-"))
    }
}

/// Builds the list of fields, taking each value from `values` and each
/// field's error from `errs`.
pub struct Builder<'a> {
    pub fields: Vec<Field>,
    values: &'a Values,
    errs: &'a [FieldError],
}

/// Whether an error about `field` belongs to the input named `name` of `kind`.
fn names(field: &str, name: &str, kind: &str) -> bool {
    !name.is_empty()
        && (field == name || ((kind == "checks" || kind == "radio") && field.starts_with(name)))
}

impl<'a> Builder<'a> {
    pub fn new(values: &'a Values, errs: &'a [FieldError]) -> Self {
        Builder {
            fields: vec![],
            values,
            errs,
        }
    }
    fn add(&mut self, name: &str, label: &str, kind: &'static str) -> &mut Field {
        let error = self
            .errs
            .iter()
            .filter(|e| names(&e.field, name, kind))
            .map(|e| e.message.clone())
            .reduce(|a, b| format!("{a}; {b}"));
        self.fields.push(Field {
            name: name.into(),
            label: label.into(),
            kind,
            value: self.values.get(name).to_string(),
            values: self.values.all(name),
            options: vec![],
            hint: String::new(),
            error,
            required: false,
            step: String::new(),
        });
        self.fields.last_mut().expect("just pushed")
    }
    pub fn text(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "text")
    }
    pub fn tel(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "tel")
    }
    pub fn area(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "area")
    }
    pub fn number(&mut self, name: &str, label: &str, step: &str) -> &mut Field {
        let f = self.add(name, label, "number");
        f.step = step.into();
        f
    }
    pub fn date(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "date")
    }
    pub fn datetime(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "datetime")
    }
    pub fn time(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "time")
    }
    pub fn hidden(&mut self, name: &str) -> &mut Field {
        self.add(name, "", "hidden")
    }
    pub fn select<K: ToString, L: ToString>(
        &mut self,
        name: &str,
        label: &str,
        opts: impl IntoIterator<Item = (K, L)>,
    ) -> &mut Field {
        let f = self.add(name, label, "select");
        f.options = opts
            .into_iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect();
        f
    }
    pub fn radio<K: ToString, L: ToString>(
        &mut self,
        name: &str,
        label: &str,
        opts: impl IntoIterator<Item = (K, L)>,
    ) -> &mut Field {
        let f = self.add(name, label, "radio");
        f.options = opts
            .into_iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect();
        f
    }
    pub fn check(&mut self, name: &str, label: &str) -> &mut Field {
        self.add(name, label, "check")
    }
    pub fn checks<K: ToString, L: ToString>(
        &mut self,
        name: &str,
        label: &str,
        opts: impl IntoIterator<Item = (K, L)>,
    ) -> &mut Field {
        let f = self.add(name, label, "checks");
        f.options = opts
            .into_iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect();
        f
    }
    pub fn heading(&mut self, label: &str) -> &mut Field {
        self.add("", label, "heading")
    }
    pub fn note(&mut self, text: &str) -> &mut Field {
        self.add("", text, "note")
    }
    /// A note that must not be missed (e.g. a required safety step).
    pub fn warn(&mut self, text: &str) -> &mut Field {
        self.add("", text, "warn")
    }
    /// Lay the following fields side by side (until [`Builder::end_row`]).
    pub fn row(&mut self) {
        self.add("", "", "row");
    }
    pub fn end_row(&mut self) {
        self.add("", "", "endrow");
    }
}

impl Field {
    pub fn hint(&mut self, h: &str) -> &mut Self {
        self.hint = h.into();
        self
    }
    pub fn required(&mut self) -> &mut Self {
        self.required = true;
        self
    }
}

/// A block of read-only facts shown above a form (e.g. the recommendation).
pub struct Panel {
    pub title: String,
    pub lines: Vec<String>,
    pub tone: &'static str,
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub nav: Nav,
    pub title: String,
    pub back: Option<(String, String)>,
    pub intro: String,
    /// Related links shown under the intro: (href, label).
    pub links: Vec<(String, String)>,
    /// The summary of every error: (message, id of the input it belongs to).
    pub errors: Vec<(String, String)>,
    pub panels: Vec<Panel>,
    pub action: String,
    pub fields: Vec<Field>,
    pub submit: String,
    /// Extra submit buttons: (name, value, label).
    pub buttons: Vec<(String, String, String)>,
    /// htmx live preview: POST target returning a fragment for `#preview`.
    pub preview: Option<String>,
    pub multipart: bool,
    /// The patient this form writes about: their bar (name, birth date,
    /// MRN, allergies) stays on screen above the form.
    pub patient_id: Option<carepath_domain::ids::PatientId>,
    pub bar: Option<carepath_app::registration::Banner>,
    /// The form offers "Save draft" (set by [`FormPage::show`]).
    pub draftable: bool,
    /// What was typed earlier came back from a draft: says when and why.
    pub restored: Option<String>,
}

impl FormPage {
    pub fn new(
        p: &carepath_app::Principal,
        title: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        FormPage {
            nav: Nav::for_principal(p),
            title: title.into(),
            back: None,
            intro: String::new(),
            links: vec![],
            errors: vec![],
            panels: vec![],
            action: action.into(),
            fields: vec![],
            submit: "Save".into(),
            buttons: vec![],
            preview: None,
            multipart: false,
            patient_id: None,
            bar: None,
            draftable: false,
            restored: None,
        }
    }

    /// Render, with the patient's bar when the form is about a patient.
    pub async fn show(mut self, state: &crate::AppState, p: &carepath_app::Principal) -> Response {
        if let Some(id) = self.patient_id {
            match carepath_app::registration::banner(&state.app, p, id).await {
                Ok(b) => self.bar = Some(b),
                Err(e) => return crate::error::HtmlError(e).into_response(),
            }
        }
        // No lost work: what this person typed and did not save comes back
        // (never over a form being shown again with its errors).
        self.draftable = !self.multipart
            && crate::auth::safe_next(&self.action)
            && crate::routes::page_at(&self.action);
        if self.draftable && self.errors.is_empty() {
            match carepath_app::drafts::find(&state.app, p, &self.action).await {
                Ok(Some(d)) => self.restore(&d, state.app.now_us()),
                Ok(None) => {}
                Err(e) => return crate::error::HtmlError(e).into_response(),
            }
        }
        self.respond()
    }

    /// Fill the form from a draft and say where it came from.
    fn restore(&mut self, d: &carepath_app::drafts::Draft, now_us: i64) {
        let v = Values(serde_urlencoded::from_str(&d.body).unwrap_or_default());
        for f in self.fields.iter_mut().filter(|f| {
            !f.name.is_empty() && !matches!(f.kind, "hidden" | "heading" | "note" | "warn")
        }) {
            f.value = v.get(&f.name).to_string();
            f.values = v.all(&f.name);
        }
        let minutes = ((now_us - d.saved_at) / 60_000_000).max(0);
        let ago = match minutes {
            0 => "just now".to_string(),
            1 => "1 minute ago".to_string(),
            m if m < 120 => format!("{m} minutes ago"),
            m if m < 48 * 60 => format!("{} hours ago", m / 60),
            m => format!("{} days ago", m / (24 * 60)),
        };
        self.restored = Some(if d.reason == "signed_out" {
            format!(
                "What you typed before you were signed out ({ago}) is back in the form. Nothing was saved yet: check it and save."
            )
        } else {
            format!(
                "Your draft, saved {ago}, is in the form. It is not part of the record until you save the form."
            )
        });
    }
    /// Every error: next to its input (done by the builder) and in the summary.
    pub fn with_errors(mut self, errs: &[FieldError]) -> Self {
        for e in errs {
            let id = self
                .fields
                .iter()
                .find(|f| names(&e.field, &f.name, f.kind))
                .map(|f| f.id())
                .unwrap_or_default();
            let message = if id.is_empty() {
                // No input carries this name: show the field path in the summary.
                format!("{}: {}", e.field, e.message)
            } else {
                e.message.clone()
            };
            self.errors.push((message, id));
        }
        self
    }
    pub fn respond(self) -> Response {
        let status = if !self.errors.is_empty() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        (status, render(&self)).into_response()
    }
}

#[derive(serde::Deserialize)]
pub struct DraftPath {
    pub path: String,
}

/// `POST /drafts?path=…`: keep what was typed into the form at `path` as the
/// signed-in person's draft, and open the form again (with the draft in it).
pub async fn save_draft(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    p: crate::auth::Principal,
    axum::extract::Query(q): axum::extract::Query<DraftPath>,
    body: String,
) -> crate::error::HtmlResult<Response> {
    if !crate::auth::safe_next(&q.path) {
        return Err(carepath_app::Error::invalid("path", "not a form of this server").into());
    }
    carepath_app::drafts::save(&state.app, &p, &q.path, &body).await?;
    Ok(axum::response::Redirect::to(&q.path).into_response())
}

/// `POST /drafts/discard` (`path=…`): drop the draft and show the empty form.
pub async fn discard_draft(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    p: crate::auth::Principal,
    axum::Form(q): axum::Form<DraftPath>,
) -> crate::error::HtmlResult<Response> {
    if !crate::auth::safe_next(&q.path) {
        return Err(carepath_app::Error::invalid("path", "not a form of this server").into());
    }
    carepath_app::drafts::discard(&state.app, &p, &q.path).await?;
    Ok(axum::response::Redirect::to(&q.path).into_response())
}
