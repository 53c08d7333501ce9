//! The audit-event model and its tamper-evident hash chain.
//!
//! HIPAA § 164.312(b) requires audit controls that record activity in systems
//! holding ePHI; 42 CFR § 2.24 (2024) gives patients an accounting of
//! disclosures. Events are append-only; each stores the SHA-256 of its
//! predecessor, so altering, removing or reordering any event breaks every hash
//! after it. The chain is verified by [`verify_chain`]; the store also keeps a
//! head row (last sequence number and hash) so truncating the tail is detected.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// What the caller supplies for a new event. No patient data belongs in
/// `detail`: identifiers only (the patient is referenced by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub program_id: Option<String>,
    pub patient_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

impl NewEvent {
    /// An event with only an action and outcome; fill the rest with the builders.
    pub fn new(action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            user_id: None,
            username: None,
            role: None,
            program_id: None,
            patient_id: None,
            action: action.into(),
            object_type: None,
            object_id: None,
            client_addr: None,
            outcome,
            detail: None,
        }
    }
    pub fn object(mut self, ty: &str, id: impl ToString) -> Self {
        self.object_type = Some(ty.to_string());
        self.object_id = Some(id.to_string());
        self
    }
    pub fn patient(mut self, id: impl ToString) -> Self {
        self.patient_id = Some(id.to_string());
        self
    }
    pub fn program(mut self, id: impl ToString) -> Self {
        self.program_id = Some(id.to_string());
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// An event as stored: sequence number, time (UTC microseconds), and chain hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub at_us: i64,
    #[serde(flatten)]
    pub event: NewEvent,
    pub prev_hash: String,
    pub hash: String,
}

fn put(h: &mut Sha256, field: Option<&str>) {
    // Length-prefixed, with a distinct marker for "absent", so no two different
    // events serialize to the same bytes.
    match field {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// The hash of an event given its predecessor's hash.
pub fn event_hash(seq: i64, id: &str, at_us: i64, e: &NewEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"carepath-audit-v1");
    h.update(seq.to_be_bytes());
    put(&mut h, Some(id));
    h.update(at_us.to_be_bytes());
    for f in [
        e.user_id.as_deref(),
        e.username.as_deref(),
        e.role.as_deref(),
        e.program_id.as_deref(),
        e.patient_id.as_deref(),
        Some(e.action.as_str()),
        e.object_type.as_deref(),
        e.object_id.as_deref(),
        e.client_addr.as_deref(),
        Some(e.outcome.as_str()),
        e.detail.as_deref(),
        Some(prev_hash),
    ] {
        put(&mut h, f);
    }
    hex::encode(h.finalize())
}

/// Why the chain failed verification, naming the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "audit event #{seq} (id {id}) has been altered: its stored hash does not match its contents"
    )]
    Altered { seq: i64, id: String },
    #[error(
        "audit event #{seq} (id {id}) does not follow #{prev_seq}: events are missing or reordered before it"
    )]
    Gap { seq: i64, id: String, prev_seq: i64 },
    #[error(
        "audit event #{seq} (id {id}) does not link to the event before it: an earlier event was altered, removed or reordered"
    )]
    Broken { seq: i64, id: String },
    #[error(
        "the audit chain ends at #{last_seq} but the chain head records #{head_seq}: events were removed from the end"
    )]
    Truncated { last_seq: i64, head_seq: i64 },
}

/// Incremental verifier, so a long log can be streamed page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
    pub checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Check the next event (events must be fed in `seq` order).
    pub fn push(&mut self, ev: &StoredEvent) -> Result<(), ChainError> {
        if ev.seq != self.last_seq + 1 {
            return Err(ChainError::Gap {
                seq: ev.seq,
                id: ev.id.clone(),
                prev_seq: self.last_seq,
            });
        }
        let recomputed = event_hash(ev.seq, &ev.id, ev.at_us, &ev.event, &ev.prev_hash);
        if recomputed != ev.hash {
            return Err(ChainError::Altered {
                seq: ev.seq,
                id: ev.id.clone(),
            });
        }
        if ev.prev_hash != self.last_hash {
            return Err(ChainError::Broken {
                seq: ev.seq,
                id: ev.id.clone(),
            });
        }
        self.last_seq = ev.seq;
        self.last_hash = ev.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// Compare the end of the chain with the recorded head.
    pub fn finish(&self, head: Option<(i64, &str)>) -> Result<(), ChainError> {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH));
        if head_seq != self.last_seq {
            return Err(ChainError::Truncated {
                last_seq: self.last_seq,
                head_seq,
            });
        }
        if head_hash != self.last_hash {
            return Err(ChainError::Altered {
                seq: self.last_seq,
                id: "(chain head)".into(),
            });
        }
        Ok(())
    }
}

/// Verify a whole chain held in memory.
pub fn verify_chain(events: &[StoredEvent], head: Option<(i64, &str)>) -> Result<u64, ChainError> {
    let mut v = ChainVerifier::default();
    for e in events {
        v.push(e)?;
    }
    v.finish(head)?;
    Ok(v.checked)
}

/// Build the next stored event after `(prev_seq, prev_hash)`.
pub fn seal(
    prev_seq: i64,
    prev_hash: &str,
    id: String,
    at_us: i64,
    event: NewEvent,
) -> StoredEvent {
    let seq = prev_seq + 1;
    let hash = event_hash(seq, &id, at_us, &event, prev_hash);
    StoredEvent {
        seq,
        id,
        at_us,
        event,
        prev_hash: prev_hash.to_string(),
        hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<StoredEvent> {
        let mut out: Vec<StoredEvent> = Vec::new();
        for i in 0..n {
            let (s, h) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.into()));
            let ev =
                NewEvent::new(format!("action.{i}"), Outcome::Success).patient(format!("p{i}"));
            out.push(seal(s, &h, format!("id{i}"), 1_000 + i as i64, ev));
        }
        out
    }

    fn head(c: &[StoredEvent]) -> Option<(i64, &str)> {
        c.last().map(|e| (e.seq, e.hash.as_str()))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&c, head(&c)).unwrap(), 5);
        assert_eq!(verify_chain(&[], None).unwrap(), 0);
    }

    #[test]
    fn alteration_names_the_entry() {
        let mut c = chain(5);
        let h = (c[4].seq, c[4].hash.clone());
        c[2].event.action.push('x');
        let err = verify_chain(&c, Some((h.0, &h.1))).unwrap_err();
        assert_eq!(
            err,
            ChainError::Altered {
                seq: 3,
                id: "id2".into()
            }
        );
        assert!(err.to_string().contains("#3"));
    }

    #[test]
    fn deletion_and_reordering_detected() {
        let c = chain(5);
        let h = (c[4].seq, c[4].hash.clone());
        let mut d = c.clone();
        d.remove(1);
        assert!(matches!(
            verify_chain(&d, Some((h.0, &h.1))),
            Err(ChainError::Gap { seq: 3, .. })
        ));
        let mut r = c.clone();
        r.swap(1, 2);
        assert!(verify_chain(&r, Some((h.0, &h.1))).is_err());
        let t = &c[..4];
        assert!(matches!(
            verify_chain(t, Some((h.0, &h.1))),
            Err(ChainError::Truncated { .. })
        ));
    }

    proptest! {
        /// Changing any single byte of any text field of any event is detected.
        #[test]
        fn any_single_change_is_detected(n in 1usize..12, which in 0usize..100, field in 0usize..4) {
            let mut c = chain(n);
            let hd = (c[n - 1].seq, c[n - 1].hash.clone());
            let i = which % n;
            match field {
                0 => c[i].event.action.push('!'),
                1 => c[i].event.patient_id = None,
                2 => c[i].at_us += 1,
                _ => c[i].event.outcome = Outcome::Denied,
            }
            prop_assert!(verify_chain(&c, Some((hd.0, &hd.1))).is_err());
        }
    }
}
