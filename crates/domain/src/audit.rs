//! The audit-event model and its tamper-evident hash chain.
//!
//! HIPAA § 164.312(b) requires audit controls that record activity in systems
//! holding ePHI; 42 CFR § 2.24 (2024) gives patients an accounting of
//! disclosures. Events are append-only; each stores the SHA-256 of its
//! predecessor, so altering, removing or reordering any event breaks every hash
//! after it. The chain is verified by [`verify_chain`]; the store also keeps a
//! head row (last sequence number and hash) so truncating the tail is detected.
//!
//! **Keyed chain.** A plain hash chain only detects edits by someone who
//! cannot recompute it — and anyone with write access to the database can.
//! So each event is sealed with HMAC-SHA256 (RFC 2104) under the
//! installation's [`AuditKey`], which is kept outside the database. Keyed
//! hashes are written `k1:<hex>`; events from before an installation had a
//! key keep their SHA-256 (`<hex>`), and once the first keyed event appears
//! every later one must be keyed. Events also carry the content digests of
//! the clinical rows their change wrote (`digests`), so the chain proves the
//! clinical record too. Signed checkpoints of the head ([`Checkpoint`]),
//! written outside the database, catch a tail cut off and a head moved back.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a keyed (HMAC) event hash.
pub const KEYED: &str = "k1:";

/// The installation's secret for the audit chain, its checkpoints and its
/// backups: 256 random bits (NIST SP 800-107 § 5.3.4: an HMAC key at least
/// as long as the hash's security strength). Never stored in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id())
    }
}

impl AuditKey {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        AuditKey(b)
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s.trim()).ok()?;
        Some(AuditKey(v.try_into().ok()?))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// A public name for the key (the first 16 hex digits of its SHA-256):
    /// says which installation sealed a backup without revealing the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
    /// HMAC-SHA256 over length-prefixed `parts` under a domain label.
    pub fn sign(&self, label: &str, parts: &[&[u8]]) -> String {
        let mut m = self.mac();
        m.update(label.as_bytes());
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }
    /// Whether `mac` is [`AuditKey::sign`] of the same input (constant time).
    pub fn verify(&self, label: &str, parts: &[&[u8]], mac: &str) -> bool {
        let Ok(want) = hex::decode(mac) else {
            return false;
        };
        let mut m = self.mac();
        m.update(label.as_bytes());
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.verify_slice(&want).is_ok()
    }
}

/// A signed record of the chain head at a moment, kept outside the
/// database: the chain must still contain event `seq` with `hash`. A
/// restore checkpoint says the chain was put back to `seq` (from a backup)
/// then: checkpoints written before it beyond `seq` no longer apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at_us: i64,
    pub restore: bool,
    pub mac: String,
}

impl Checkpoint {
    fn label(restore: bool) -> &'static str {
        if restore {
            "carepath-restore-v1"
        } else {
            "carepath-checkpoint-v1"
        }
    }
    fn parts(seq: i64, hash: &str, at_us: i64) -> [Vec<u8>; 3] {
        [
            seq.to_be_bytes().to_vec(),
            hash.as_bytes().to_vec(),
            at_us.to_be_bytes().to_vec(),
        ]
    }
    fn signed(key: &AuditKey, seq: i64, hash: &str, at_us: i64, restore: bool) -> Self {
        let p = Self::parts(seq, hash, at_us);
        let mac = key.sign(Self::label(restore), &[&p[0], &p[1], &p[2]]);
        Checkpoint {
            seq,
            hash: hash.into(),
            at_us,
            restore,
            mac,
        }
    }
    pub fn new(key: &AuditKey, seq: i64, hash: &str, at_us: i64) -> Self {
        Self::signed(key, seq, hash, at_us, false)
    }
    /// The chain was restored to `(seq, hash)` at `at_us`.
    pub fn restored(key: &AuditKey, seq: i64, hash: &str, at_us: i64) -> Self {
        Self::signed(key, seq, hash, at_us, true)
    }
    pub fn is_signed_by(&self, key: &AuditKey) -> bool {
        let p = Self::parts(self.seq, &self.hash, self.at_us);
        key.verify(Self::label(self.restore), &[&p[0], &p[1], &p[2]], &self.mac)
    }
    /// One line of the checkpoint file.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            if self.restore { "r1" } else { "v1" },
            self.seq,
            self.hash,
            self.at_us,
            self.mac
        )
    }
    pub fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [v @ ("v1" | "r1"), seq, hash, at, mac] => Some(Checkpoint {
                seq: seq.parse().ok()?,
                hash: hash.to_string(),
                at_us: at.parse().ok()?,
                restore: *v == "r1",
                mac: mac.to_string(),
            }),
            _ => None,
        }
    }
}

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
    /// Content digests of the clinical rows this change wrote, as
    /// `table:key:sha256` separated by spaces (set by the store at commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digests: Option<String>,
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
            digests: None,
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

/// The keyed hash of an event (`k1:` + HMAC-SHA256), covering every field
/// including the clinical digests.
pub fn event_mac(
    key: &AuditKey,
    seq: i64,
    id: &str,
    at_us: i64,
    e: &NewEvent,
    prev_hash: &str,
) -> String {
    let seq_b = seq.to_be_bytes();
    let at_b = at_us.to_be_bytes();
    let opt = |v: Option<&str>| -> Vec<u8> {
        match v {
            None => vec![0],
            Some(s) => [&[1u8][..], s.as_bytes()].concat(),
        }
    };
    let fields = [
        opt(e.user_id.as_deref()),
        opt(e.username.as_deref()),
        opt(e.role.as_deref()),
        opt(e.program_id.as_deref()),
        opt(e.patient_id.as_deref()),
        opt(Some(e.action.as_str())),
        opt(e.object_type.as_deref()),
        opt(e.object_id.as_deref()),
        opt(e.client_addr.as_deref()),
        opt(Some(e.outcome.as_str())),
        opt(e.detail.as_deref()),
        opt(e.digests.as_deref()),
        opt(Some(prev_hash)),
    ];
    let mut parts: Vec<&[u8]> = vec![&seq_b, id.as_bytes(), &at_b];
    parts.extend(fields.iter().map(|f| f.as_slice()));
    format!("{KEYED}{}", key.sign("carepath-audit-v2", &parts))
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
    #[error(
        "audit event #{seq} (id {id}) is not sealed with this installation's key: it was forged or re-hashed outside Carepath"
    )]
    NotKeyed { seq: i64, id: String },
    #[error(
        "the audit chain was never sealed with this installation's key: it was rewritten, replaced or emptied"
    )]
    NeverKeyed,
}

/// Incremental verifier, so a long log can be streamed page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
    pub checked: u64,
    key: Option<AuditKey>,
    /// The first keyed event's sequence number, once seen.
    pub keyed_from: Option<i64>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
            key: None,
            keyed_from: None,
        }
    }
}

impl ChainVerifier {
    /// A verifier that checks keyed events with `key` and requires that the
    /// chain was keyed (every event after the first keyed one, keyed).
    pub fn keyed(key: AuditKey) -> Self {
        ChainVerifier {
            key: Some(key),
            ..Default::default()
        }
    }

    /// Check the next event (events must be fed in `seq` order).
    pub fn push(&mut self, ev: &StoredEvent) -> Result<(), ChainError> {
        if ev.seq != self.last_seq + 1 {
            return Err(ChainError::Gap {
                seq: ev.seq,
                id: ev.id.clone(),
                prev_seq: self.last_seq,
            });
        }
        let altered = || ChainError::Altered {
            seq: ev.seq,
            id: ev.id.clone(),
        };
        let not_keyed = || ChainError::NotKeyed {
            seq: ev.seq,
            id: ev.id.clone(),
        };
        if ev.hash.starts_with(KEYED) {
            let Some(key) = &self.key else {
                // Without the key a keyed event cannot be checked: only its links.
                if ev.prev_hash != self.last_hash {
                    return Err(ChainError::Broken {
                        seq: ev.seq,
                        id: ev.id.clone(),
                    });
                }
                self.last_seq = ev.seq;
                self.last_hash = ev.hash.clone();
                self.checked += 1;
                return Ok(());
            };
            if event_mac(key, ev.seq, &ev.id, ev.at_us, &ev.event, &ev.prev_hash) != ev.hash {
                return Err(if self.keyed_from.is_some() {
                    altered()
                } else {
                    not_keyed()
                });
            }
            self.keyed_from.get_or_insert(ev.seq);
        } else {
            if self.key.is_some() && self.keyed_from.is_some() {
                return Err(not_keyed());
            }
            if ev.event.digests.is_some()
                || event_hash(ev.seq, &ev.id, ev.at_us, &ev.event, &ev.prev_hash) != ev.hash
            {
                return Err(altered());
            }
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

    /// The last event verified: (sequence number, hash).
    pub fn last(&self) -> (i64, &str) {
        (self.last_seq, &self.last_hash)
    }

    /// Compare the end of the chain with the recorded head.
    pub fn finish(&self, head: Option<(i64, &str)>) -> Result<(), ChainError> {
        if self.key.is_some() && self.keyed_from.is_none() {
            return Err(ChainError::NeverKeyed);
        }
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

/// Build the next stored event after `(prev_seq, prev_hash)`, keyed when
/// the installation has a key.
pub fn seal(
    prev_seq: i64,
    prev_hash: &str,
    id: String,
    at_us: i64,
    event: NewEvent,
    key: Option<&AuditKey>,
) -> StoredEvent {
    let seq = prev_seq + 1;
    let hash = match key {
        Some(k) => event_mac(k, seq, &id, at_us, &event, prev_hash),
        None => event_hash(seq, &id, at_us, &event, prev_hash),
    };
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
            out.push(seal(s, &h, format!("id{i}"), 1_000 + i as i64, ev, None));
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

    fn keyed_chain(n: usize, key: &AuditKey) -> Vec<StoredEvent> {
        let mut out: Vec<StoredEvent> = Vec::new();
        for i in 0..n {
            let (s, h) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.into()));
            let ev = NewEvent::new(format!("a{i}"), Outcome::Success);
            out.push(seal(s, &h, format!("id{i}"), i as i64, ev, Some(key)));
        }
        out
    }

    fn verify_keyed(c: &[StoredEvent], key: &AuditKey) -> Result<u64, ChainError> {
        let mut v = ChainVerifier::keyed(key.clone());
        for e in c {
            v.push(e)?;
        }
        v.finish(c.last().map(|e| (e.seq, e.hash.as_str())))?;
        Ok(v.checked)
    }

    #[test]
    fn a_keyed_chain_resists_rehashing_without_the_key() {
        let key = AuditKey::from_bytes([1; 32]);
        let c = keyed_chain(6, &key);
        assert_eq!(verify_keyed(&c, &key).unwrap(), 6);
        // The insider edits event 3 and re-seals the rest as plain hashes.
        let mut t = c.clone();
        t[2].event.action = "forged".into();
        for i in 2..t.len() {
            let prev = t[i - 1].hash.clone();
            t[i].prev_hash = prev.clone();
            t[i].hash = event_hash(t[i].seq, &t[i].id, t[i].at_us, &t[i].event, &prev);
        }
        assert!(matches!(
            verify_keyed(&t, &key),
            Err(ChainError::NotKeyed { seq: 3, .. })
        ));
        // A whole chain rewritten without a key was never keyed.
        let plain = chain(6);
        assert_eq!(verify_keyed(&plain, &key), Err(ChainError::NeverKeyed));
        // Another installation's key does not verify.
        let other = AuditKey::from_bytes([2; 32]);
        assert!(verify_keyed(&c, &other).is_err());
        // Digests are sealed too.
        let mut d = c.clone();
        d[1].event.digests = Some("clinical_record:x:00".into());
        assert!(verify_keyed(&d, &key).is_err());
    }

    #[test]
    fn checkpoints_are_signed_and_round_trip() {
        let key = AuditKey::from_bytes([3; 32]);
        let cp = Checkpoint::new(&key, 42, "k1:abc", 1_000);
        let back = Checkpoint::parse(&cp.line()).unwrap();
        assert_eq!(back, cp);
        assert!(back.is_signed_by(&key));
        assert!(!back.is_signed_by(&AuditKey::from_bytes([4; 32])));
        let mut moved = back.clone();
        moved.seq = 41;
        assert!(!moved.is_signed_by(&key));
        // A checkpoint cannot be passed off as a restore mark.
        let mut mark = back;
        mark.restore = true;
        assert!(!mark.is_signed_by(&key));
        let r = Checkpoint::restored(&key, 42, "k1:abc", 2_000);
        assert!(Checkpoint::parse(&r.line()).unwrap().is_signed_by(&key));
        assert_eq!(key.id().len(), 16);
        assert_eq!(AuditKey::from_hex(&key.to_hex()), Some(key));
    }

    proptest! {
        /// Any single change to a keyed event is detected with the key.
        #[test]
        fn any_change_to_a_keyed_event_is_detected(n in 1usize..10, which in 0usize..100, field in 0usize..4) {
            let key = AuditKey::from_bytes([9; 32]);
            let mut c = keyed_chain(n, &key);
            let i = which % n;
            match field {
                0 => c[i].event.action.push('!'),
                1 => c[i].event.patient_id = Some("p".into()),
                2 => c[i].at_us += 1,
                _ => c[i].event.detail = Some("x".into()),
            }
            prop_assert!(verify_keyed(&c, &key).is_err());
        }

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
