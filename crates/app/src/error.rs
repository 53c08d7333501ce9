//! The application's errors: what went wrong, with no HTTP status. The web
//! crate maps them to pages or JSON; the CLI to messages and exit codes.

use carepath_domain::FieldError;
use carepath_store::StoreError;

/// A registered patient who may be the same person as a new registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub id: String,
    pub name: String,
    pub date_of_birth: String,
    pub mrn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not signed in.
    #[error("sign in first")]
    Unauthenticated,
    /// The session ended for inactivity or reached its lifetime.
    #[error("the session ended; sign in again")]
    SessionExpired,
    /// Signed in with a password, but the second factor is due.
    #[error("complete the second sign-in step first")]
    MfaPending,
    #[error("{0}")]
    Forbidden(String),
    /// The patient is outside the user's programs; the user may request
    /// emergency (break-the-glass) access.
    #[error("this patient is outside your programs; emergency access must be requested")]
    OutsideYourPrograms,
    /// No such thing, or not the caller's to see (existence is not revealed).
    #[error("no such record, or it is not yours to see")]
    NotFound,
    /// Input that cannot be accepted: every field at fault, each with why.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The request conflicts with the record as it stands (says what).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Registration stopped: these patients may be the same person.
    #[error("may already be registered")]
    PossibleDuplicates(Vec<Duplicate>),
    /// A fault (logged without patient data, never shown).
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(
        field: impl Into<std::borrow::Cow<'static, str>>,
        msg: impl Into<String>,
    ) -> Error {
        Error::Invalid(vec![FieldError::new(field, msg)])
    }
    /// The first field at fault, if this is invalid input.
    pub fn first_field(&self) -> Option<&FieldError> {
        match self {
            Error::Invalid(v) => v.first(),
            _ => None,
        }
    }
}

/// What a named constraint of the schema means, in words for people.
pub fn conflict_message(constraint: &str) -> String {
    match constraint {
        "patient_mrn_key" => "that medical record number is taken".into(),
        "episode_one_open" => "the patient already has an open episode in that program".into(),
        "episode_discharged" => "the episode is already discharged".into(),
        "clinical_record_one_amendment" => {
            "this version was already amended; amend the current version".into()
        }
        "clinical_record_one_answer" => "this was already answered".into(),
        "clinical_record_one_mark" => "attendance was already taken".into(),
        "record_signature_pkey" => "this record already has that signature".into(),
        "staff_user_username_key" => "that username is taken".into(),
        "referral_not_new" => "someone else already claimed that request".into(),
        "referral_closed" => "that request is already closed".into(),
        "drug_test_specimen" => "that specimen id is already on a test of this program".into(),
        "lab_message_match_pkey" => "that lab message was already matched".into(),
        other => format!("the change conflicts with the record as it stands ({other})"),
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(c) => Error::Conflict(conflict_message(&c)),
            StoreError::Refused(m) => Error::Conflict(format!("refused: {m}")),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<carepath_clinical::InputError> for Error {
    fn from(e: carepath_clinical::InputError) -> Self {
        Error::invalid(e.field, e.message)
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(vec![e])
    }
}

/// Collects every invalid field of an input before answering.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }
    /// Note a problem with `field`.
    pub fn add(
        &mut self,
        field: impl Into<std::borrow::Cow<'static, str>>,
        msg: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, msg));
    }
    /// Note `r`'s error, if any, and keep its value.
    pub fn take<T, E: Into<Error>>(&mut self, r: std::result::Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                match e.into() {
                    Error::Invalid(v) => self.0.extend(v),
                    other => self.0.push(FieldError::new("body", other.to_string())),
                }
                None
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was noted, else every problem at once.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// Parse JSON into a typed input, naming the field at fault.
pub fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is reported at its parent; name the field itself.
        let field = match inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next())
        {
            Some(name) if path == "." || path.is_empty() => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." || path.is_empty() => "body".to_string(),
            None => path,
        };
        Error::invalid(field, inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        a: u8,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        list: Vec<Inner>,
        n: u8,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = from_json::<Outer>(serde_json::json!({"list": [{"a": 1}, {"a": 300}], "n": 1}))
            .unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "list[1].a");
        let e = from_json::<Outer>(serde_json::json!({"list": [{}], "n": 1})).unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "list[0].a");
        let e = from_json::<Outer>(serde_json::json!({"list": []})).unwrap_err();
        assert_eq!(e.first_field().unwrap().field, "n");
    }

    #[test]
    fn problems_collect_every_field() {
        let mut p = Problems::new();
        p.add("a", "x");
        let _: Option<u8> = p.take(Err::<u8, Error>(Error::invalid("b", "y")));
        match p.finish() {
            Err(Error::Invalid(v)) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn constraints_read_as_what_they_mean() {
        let e: Error = StoreError::Conflict("episode_one_open".into()).into();
        assert_eq!(
            e,
            Error::Conflict("the patient already has an open episode in that program".into())
        );
    }
}
