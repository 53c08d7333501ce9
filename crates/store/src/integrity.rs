//! Integrity against insiders: the installation key (kept outside the
//! database), content digests of every clinical row carried in the keyed
//! audit chain, signed checkpoints of the chain head written outside the
//! database, and the verification that ties them together
//! ([`Store::verify_integrity`], `carepath audit verify`).
//!
//! What it proves: without the key, nobody with write access to the
//! database can edit, add, remove or reorder an audit event, cut the chain
//! short (the checkpoints remember how far it went), or change, add or
//! delete a clinical row (record versions, signatures, disclosures,
//! episodes, patients, registration details, photos) without verification
//! naming it. What it cannot prove: anything to someone who also holds the
//! key file — keep it where the database's administrators cannot write.

use crate::audit_log::{EVENT_COLS, EventRow};
use crate::{Result, Src, Store, StoreError, Tx};
use carepath_domain::audit::{
    AuditKey, ChainError, ChainVerifier, Checkpoint, KEYED, NewEvent, Outcome,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Clone, Copy)]
enum Ty {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
    OptBool,
    Bytes,
}

/// A table whose rows the chain vouches for.
struct Covered {
    table: &'static str,
    /// The row's key as an SQL expression (both dialects).
    key: &'static str,
    cols: &'static [(&'static str, Ty)],
}

use Ty::*;

const COVERED: &[Covered] = &[
    Covered {
        table: "patient",
        key: "id",
        cols: &[
            ("id", Text),
            ("program_id", Text),
            ("mrn", Text),
            ("legal_first_name", Text),
            ("legal_last_name", Text),
            ("preferred_name", OptText),
            ("date_of_birth", Text),
            ("sex", Text),
            ("search_name", Text),
            ("created_at", Int),
            ("created_by", OptText),
        ],
    },
    Covered {
        table: "episode",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("level_of_care", Text),
            ("admitted_at", Int),
            ("discharged_at", OptInt),
            ("discharge_reason", OptText),
            ("created_at", Int),
            ("created_by", OptText),
        ],
    },
    Covered {
        table: "clinical_record",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("episode_id", OptText),
            ("kind", Text),
            ("body", Text),
            ("summary", Text),
            ("occurred_at", Int),
            ("recorded_at", Int),
            ("author_id", Text),
            ("author_name", Text),
            ("author_role", Text),
            ("amends", OptText),
            ("amend_reason", OptText),
            ("root_id", Text),
            ("ref_id", OptText),
            ("due_at", OptInt),
            ("sign_role", OptText),
            ("cosigner_id", OptText),
            ("late_entry", Bool),
        ],
    },
    Covered {
        table: "record_signature",
        key: "record_id || '/' || kind",
        cols: &[
            ("record_id", Text),
            ("kind", Text),
            ("signer_id", OptText),
            ("signer_name", Text),
            ("signer_role", Text),
            ("method", Text),
            ("drawing", OptText),
            ("signed_at", Int),
        ],
    },
    Covered {
        table: "disclosure",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("consent_id", Text),
            ("recipient", Text),
            ("purpose", Text),
            ("information", Text),
            ("channel", Text),
            ("notice", Text),
            ("disclosed_at", Int),
            ("disclosed_by", Text),
        ],
    },
    Covered {
        table: "patient_profile",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("body", Text),
            ("recorded_at", Int),
            ("recorded_by", OptText),
        ],
    },
    Covered {
        table: "patient_photo",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("content_type", Text),
            ("bytes", Bytes),
            ("recorded_at", Int),
            ("recorded_by", OptText),
        ],
    },
    Covered {
        table: "med_order",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("medication", Text),
            ("form", Text),
            ("phase", Text),
            ("dose_ug", Int),
            ("doses_per_day", Int),
            ("first_dose_ug", OptInt),
            ("starts_on", Text),
            ("ends_on", OptText),
            ("supersedes", OptText),
            ("engine_check", Text),
            ("override_reason", OptText),
            ("verbal", Bool),
            ("ordered_by", Text),
            ("ordered_by_name", Text),
            ("prescriber_id", Text),
            ("ordered_at", Int),
        ],
    },
    Covered {
        table: "med_order_signature",
        key: "order_id",
        cols: &[
            ("order_id", Text),
            ("signer_id", Text),
            ("signer_name", Text),
            ("signed_at", Int),
        ],
    },
    Covered {
        table: "dose",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("order_id", Text),
            ("clinic_day", Text),
            ("slot", Text),
            ("kind", Text),
            ("amount_ug", Int),
            ("product_id", Text),
            ("lot_id", Text),
            ("observed", Bool),
            ("given_at", Int),
            ("recorded_at", Int),
            ("nurse_id", Text),
            ("nurse_name", Text),
            ("late_entry", Bool),
            ("reason", OptText),
        ],
    },
    Covered {
        table: "stock_movement",
        key: "id",
        cols: &[
            ("id", Text),
            ("lot_id", Text),
            ("kind", Text),
            ("amount_ug", Int),
            ("dose_id", OptText),
            ("reason", OptText),
            ("witness_id", OptText),
            ("at_us", Int),
            ("by_user", Text),
        ],
    },
    Covered {
        table: "takehome_grant",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("decided_on", Text),
            ("days_in_treatment", Int),
            ("criteria", Text),
            ("policy", Text),
            ("doses_granted", Int),
            ("max_doses", Int),
            ("engine_result", Text),
            ("override_reason", OptText),
            ("suspended_reason", OptText),
            ("decided_by", Text),
            ("decided_by_name", Text),
            ("decided_at", Int),
        ],
    },
    Covered {
        table: "takehome_bottle",
        key: "dose_id",
        cols: &[
            ("dose_id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("grant_id", OptText),
            ("bottle_no", Int),
            ("take_on", Text),
            ("handed_out_on", Text),
            ("closure", Bool),
        ],
    },
    Covered {
        table: "bottle_event",
        key: "id",
        cols: &[
            ("id", Text),
            ("dose_id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("kind", Text),
            ("outcome", Text),
            ("note", OptText),
            ("at_us", Int),
            ("by_user", Text),
            ("by_name", Text),
        ],
    },
    Covered {
        table: "reconciliation",
        key: "id",
        cols: &[
            ("id", Text),
            ("program_id", Text),
            ("lot_id", Text),
            ("clinic_day", Text),
            ("opening_ug", Int),
            ("received_ug", Int),
            ("administered_ug", Int),
            ("dispensed_ug", Int),
            ("waste_ug", Int),
            ("adjusted_ug", Int),
            ("expected_ug", Int),
            ("counted_ug", Int),
            ("variance_ug", Int),
            ("note", OptText),
            ("counted_by", Text),
            ("counted_at", Int),
        ],
    },
    Covered {
        table: "reconciliation_signature",
        key: "reconciliation_id || '/' || signer_id",
        cols: &[
            ("reconciliation_id", Text),
            ("signer_id", Text),
            ("signer_name", Text),
            ("signed_at", Int),
        ],
    },
    Covered {
        table: "dosing_hold",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("kind", Text),
            ("reason", Text),
            ("clinic_day", Text),
            ("placed_by", Text),
            ("placed_by_name", Text),
            ("placed_at", Int),
        ],
    },
    Covered {
        table: "dosing_hold_release",
        key: "hold_id",
        cols: &[
            ("hold_id", Text),
            ("reason", Text),
            ("released_by", Text),
            ("released_by_name", Text),
            ("released_at", Int),
        ],
    },
    Covered {
        table: "overdose_event",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("occurred_at", Int),
            ("naloxone", Text),
            ("breathing_support", Text),
            ("vitals", Text),
            ("ems_called", Bool),
            ("transported", Bool),
            ("outcome", Text),
            ("note", OptText),
            ("recorded_by", Text),
            ("recorded_by_name", Text),
            ("recorded_at", Int),
        ],
    },
    Covered {
        table: "naloxone_kit",
        key: "id",
        cols: &[
            ("id", Text),
            ("program_id", Text),
            ("patient_id", OptText),
            ("recipient", Text),
            ("product", Text),
            ("quantity", Int),
            ("lot", OptText),
            ("education", Bool),
            ("handed_at", Int),
            ("by_user", Text),
            ("by_name", Text),
        ],
    },
    Covered {
        table: "random_test_day",
        key: "patient_id || '/' || program_id || '/' || test_day",
        cols: &[
            ("patient_id", Text),
            ("program_id", Text),
            ("admitted_on", Text),
            ("block", Int),
            ("test_day", Text),
            ("seed", Int),
            ("created_at", Int),
        ],
    },
    Covered {
        table: "lab_message",
        key: "id",
        cols: &[
            ("id", Text),
            ("program_id", Text),
            ("received_at", Int),
            ("channel", Text),
            ("sender", Text),
            ("control_id", Text),
            ("message_type", Text),
            ("raw", Text),
            ("ack_code", Text),
            ("status", Text),
            ("error", OptText),
            ("patient_id", OptText),
            ("received_by", Text),
        ],
    },
    Covered {
        table: "lab_message_match",
        key: "message_id",
        cols: &[
            ("message_id", Text),
            ("patient_id", Text),
            ("reason", Text),
            ("by_user", Text),
            ("by_name", Text),
            ("matched_at", Int),
        ],
    },
    Covered {
        table: "drug_test",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("collected_at", Int),
            ("specimen", Text),
            ("observed", Bool),
            ("temperature_in_range", OptBool),
            ("refused", Bool),
            ("random", Bool),
            ("specimen_id", OptText),
            ("note", OptText),
            ("lab_message_id", OptText),
            ("by_user", OptText),
            ("by_name", Text),
            ("recorded_at", Int),
        ],
    },
    Covered {
        table: "drug_test_result",
        key: "id",
        cols: &[
            ("id", Text),
            ("test_id", Text),
            ("patient_id", Text),
            ("analyte", Text),
            ("loinc", Text),
            ("method", Text),
            ("source", Text),
            ("outcome", Text),
            ("value", OptText),
            ("unit", OptText),
            ("cutoff", OptText),
            ("status", Text),
            ("lab_message_id", OptText),
            ("resulted_at", Int),
            ("recorded_at", Int),
            ("by_name", Text),
        ],
    },
    Covered {
        table: "drug_test_review",
        key: "id",
        cols: &[
            ("id", Text),
            ("test_id", Text),
            ("results_seen", Int),
            ("note", Text),
            ("by_user", Text),
            ("by_name", Text),
            ("reviewed_at", Int),
        ],
    },
    Covered {
        table: "cm_enrollment",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("funding_id", Text),
            ("kind", Text),
            ("preset", Text),
            ("schedule", Text),
            ("analytes", Text),
            ("attendance", Bool),
            ("activities", Bool),
            ("seed", Int),
            ("starts_at", Int),
            ("by_user", Text),
            ("by_name", Text),
            ("enrolled_at", Int),
        ],
    },
    Covered {
        table: "cm_enrollment_end",
        key: "enrollment_id",
        cols: &[
            ("enrollment_id", Text),
            ("reason", Text),
            ("by_user", Text),
            ("by_name", Text),
            ("ended_at", Int),
        ],
    },
    Covered {
        table: "cm_sample",
        key: "id",
        cols: &[
            ("id", Text),
            ("enrollment_id", Text),
            ("patient_id", Text),
            ("source", Text),
            ("evidence_id", Text),
            ("sample", Text),
            ("evidence_at", Int),
            ("recorded_at", Int),
        ],
    },
    Covered {
        table: "cm_earning",
        key: "sample_id",
        cols: &[
            ("sample_id", Text),
            ("enrollment_id", Text),
            ("patient_id", Text),
            ("funding_id", Text),
            ("earned_year", Text),
            ("amount_cents", Int),
            ("wanted_cents", Int),
            ("draw", OptText),
            ("detail", Text),
            ("by_name", Text),
            ("earned_at", Int),
        ],
    },
    Covered {
        table: "reward_item",
        key: "id",
        cols: &[
            ("id", Text),
            ("program_id", Text),
            ("name", Text),
            ("category", Text),
            ("cost_cents", Int),
            ("created_at", Int),
            ("by_user", Text),
        ],
    },
    Covered {
        table: "reward_stock",
        key: "id",
        cols: &[
            ("id", Text),
            ("item_id", Text),
            ("delta", Int),
            ("reason", Text),
            ("redemption_id", OptText),
            ("by_user", Text),
            ("at_us", Int),
        ],
    },
    Covered {
        table: "cm_redemption",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("item_id", Text),
            ("cost_cents", Int),
            ("requested_by", Text),
            ("by_name", Text),
            ("requested_at", Int),
        ],
    },
    Covered {
        table: "cm_redemption_outcome",
        key: "redemption_id",
        cols: &[
            ("redemption_id", Text),
            ("outcome", Text),
            ("note", OptText),
            ("by_user", Text),
            ("by_name", Text),
            ("at_us", Int),
        ],
    },
    Covered {
        table: "patient_report",
        key: "id",
        cols: &[
            ("id", Text),
            ("patient_id", Text),
            ("program_id", Text),
            ("sows_items", OptText),
            ("sows_total", OptInt),
            ("craving", Int),
            ("mood", Int),
            ("alert", Text),
            ("reported_at", Int),
        ],
    },
    Covered {
        table: "patient_report_ack",
        key: "report_id",
        cols: &[
            ("report_id", Text),
            ("by_user", Text),
            ("by_name", Text),
            ("note", Text),
            ("at_us", Int),
        ],
    },
];

/// The tables the chain vouches for.
pub fn covered_tables() -> impl Iterator<Item = &'static str> {
    COVERED.iter().map(|c| c.table)
}

fn covered(table: &str) -> Result<&'static Covered> {
    COVERED
        .iter()
        .find(|c| c.table == table)
        .ok_or_else(|| StoreError::Config(format!("{table} is not a covered table")))
}

fn select(c: &Covered) -> String {
    let cols: Vec<&str> = c.cols.iter().map(|(n, _)| *n).collect();
    format!(
        "SELECT {} AS row_key, {} FROM {}",
        c.key,
        cols.join(", "),
        c.table
    )
}

/// One row's key and content digest: SHA-256 over the table name and every
/// column, each length-prefixed with a marker for NULL.
fn digest_row<'r, R>(c: &Covered, row: &'r R) -> Result<(String, String)>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut h = Sha256::new();
    h.update(b"carepath-row-v1");
    h.update((c.table.len() as u64).to_be_bytes());
    h.update(c.table.as_bytes());
    let mut put = |v: Option<Vec<u8>>| match v {
        None => h.update([0u8]),
        Some(b) => {
            h.update([1u8]);
            h.update((b.len() as u64).to_be_bytes());
            h.update(&b);
        }
    };
    let key: String = row.try_get(0)?;
    for (i, (_, ty)) in c.cols.iter().enumerate() {
        let i = i + 1;
        let v: Option<Vec<u8>> = match ty {
            Text => Some(row.try_get::<String, _>(i)?.into_bytes()),
            OptText => row.try_get::<Option<String>, _>(i)?.map(String::into_bytes),
            Int => Some(row.try_get::<i64, _>(i)?.to_be_bytes().to_vec()),
            OptInt => row
                .try_get::<Option<i64>, _>(i)?
                .map(|n| n.to_be_bytes().to_vec()),
            Bool => Some(vec![u8::from(row.try_get::<bool, _>(i)?)]),
            OptBool => row
                .try_get::<Option<bool>, _>(i)?
                .map(|b| vec![u8::from(b)]),
            Bytes => Some(row.try_get::<Vec<u8>, _>(i)?),
        };
        put(v);
    }
    Ok((key, hex::encode(h.finalize())))
}

/// Digests of the given rows of one table, read from `src`.
async fn digests_of(
    src: Src<'_>,
    c: &'static Covered,
    keys: &[String],
) -> Result<Vec<(String, String)>> {
    let sql = format!(
        "{} WHERE {} IN ({})",
        select(c),
        c.key,
        crate::placeholders(1, keys.len())
    );
    with_src!(src, conn => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in keys {
            q = q.bind(k);
        }
        let rows = q.fetch_all(conn).await?;
        rows.iter().map(|r| digest_row(c, r)).collect()
    })
}

/// Digests (`table`, key, sha256) of the rows a unit of work wrote, read in it.
pub(crate) async fn digests_in(
    tx: &mut Tx,
    touched: &[(&'static str, String)],
) -> Result<Vec<(&'static str, String, String)>> {
    let mut by_table: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (t, k) in touched {
        let v = by_table.entry(t).or_default();
        if !v.contains(k) {
            v.push(k.clone());
        }
    }
    let mut out = vec![];
    for (t, keys) in by_table {
        let c = covered(t)?;
        for chunk in keys.chunks(200) {
            for (k, d) in digests_of(Src::Tx(&mut *tx), c, chunk).await? {
                out.push((c.table, k, d));
            }
        }
    }
    Ok(out)
}

fn token(table: &str, key: &str, digest: &str) -> String {
    format!("{table}:{key}:{digest}")
}

/// Put each digest on the event about its row (object id = the row key, or
/// the record a signature belongs to); the rest on the unit's last event,
/// or on an event of their own when the unit audited nothing.
pub(crate) fn attach(events: &mut Vec<NewEvent>, digests: Vec<(&'static str, String, String)>) {
    let mut rest = vec![];
    for (table, key, d) in digests {
        let owner = events.iter_mut().find(|e| {
            e.object_id
                .as_deref()
                .is_some_and(|o| key == o || key.starts_with(&format!("{o}/")))
        });
        let t = token(table, &key, &d);
        match owner {
            Some(e) => push_token(e, t),
            None => rest.push(t),
        }
    }
    if rest.is_empty() {
        return;
    }
    if events.is_empty() {
        events.push(NewEvent::new("store.write", Outcome::Success));
    }
    let last = events.last_mut().expect("one event at least");
    for t in rest {
        push_token(last, t);
    }
}

fn push_token(e: &mut NewEvent, t: String) {
    e.digests = Some(match e.digests.take() {
        Some(d) => format!("{d} {t}"),
        None => t,
    });
}

/// Parse an event's digests into `(table, key) → digest`.
fn read_tokens(s: &str, into: &mut HashMap<(String, String), String>) {
    for t in s.split_whitespace() {
        let mut it = t.splitn(3, ':');
        if let (Some(table), Some(key), Some(d)) = (it.next(), it.next(), it.next()) {
            into.insert((table.to_string(), key.to_string()), d.to_string());
        }
    }
}

/// Read the installation key from `path`, or create one there (mode 0600)
/// when `create` and the file does not exist. Returns the key and whether it
/// was created.
pub fn load_or_create_key(path: &Path, create: bool) -> Result<(AuditKey, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let hex = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .find_map(|l| {
                    l.strip_prefix("key")
                        .map(|r| r.trim_start_matches([' ', '=']))
                })
                .map(|v| v.trim().trim_matches('"').to_string())
                .unwrap_or_default();
            let key = AuditKey::from_hex(&hex).ok_or_else(|| {
                StoreError::Config(format!(
                    "{}: not a Carepath installation key (expected `key = \"<64 hex digits>\"`)",
                    path.display()
                ))
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            use rand::RngCore;
            let mut b = [0u8; 32];
            rand::rng().fill_bytes(&mut b);
            let key = AuditKey::from_bytes(b);
            write_key(path, &key)?;
            Ok((key, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Config(format!(
            "no installation key at {}: it is created by `carepath migrate` or `serve`; \
             restore it from where you keep it to verify this installation",
            path.display()
        ))),
        Err(e) => Err(io(path)(e)),
    }
}

/// Write `key` to a new file at `path` (mode 0600; refuses to overwrite).
pub fn write_key(path: &Path, key: &AuditKey) -> Result<()> {
    let text = format!(
        "# Carepath installation key ({}).\n\
         # It seals the audit chain, its checkpoints and backups. Keep it outside\n\
         # the database and its backups, readable only by the Carepath service;\n\
         # without it `carepath audit verify` cannot prove the record intact.\n\
         key = \"{}\"\n",
        key.id(),
        key.to_hex()
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(path))?;
    }
    write_private(path, text.as_bytes(), true)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Config(format!("{}: {e}", path.display()))
}

/// Write (create new, or append) a file readable by its owner only, synced.
pub fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    if create_new {
        o.write(true).create_new(true);
    } else {
        o.append(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_data().map_err(io(path))?;
    Ok(())
}

/// Append a checkpoint line to the checkpoint file (and to `export`, an
/// append-only copy elsewhere, when configured).
pub fn append_checkpoint(path: &Path, export: Option<&Path>, cp: &Checkpoint) -> Result<()> {
    let line = format!("{}\n", cp.line());
    write_private(path, line.as_bytes(), false)?;
    if let Some(x) = export {
        write_private(x, line.as_bytes(), false)?;
    }
    Ok(())
}

/// The checkpoint file's lines: (line number, the checkpoint or `None`
/// when the line is not one). A missing file has none.
pub fn read_checkpoints(path: &Path) -> Result<Vec<(usize, Option<Checkpoint>)>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, Checkpoint::parse(l)))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(io(path)(e)),
    }
}

/// What verification found wrong, by kind (each with a sentence naming it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// The chain itself: an event altered, missing, reordered, forged, or
    /// the head not matching.
    Chain,
    /// A checkpoint names an event the chain no longer holds.
    CheckpointLost,
    /// A checkpoint line is not signed by this installation's key.
    CheckpointForged,
    /// A clinical row differs from the content its audit event sealed.
    RowChanged,
    /// A clinical row no audit event wrote.
    RowAdded,
    /// A clinical row an audit event wrote is gone.
    RowMissing,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: FindingKind,
    pub message: String,
}

/// The result of [`Store::verify_integrity`].
#[derive(Debug, Clone)]
pub struct Report {
    pub events: u64,
    pub head: (i64, String),
    /// The first keyed event (`None`: the chain is not keyed).
    pub keyed_from: Option<i64>,
    pub rows: u64,
    pub checkpoints: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
    pub fn has(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }
}

impl Store {
    /// Seal events with `key` from now on.
    pub fn with_key(mut self, key: AuditKey) -> Store {
        self.key = Some(std::sync::Arc::new(key));
        self
    }

    pub fn key(&self) -> Option<&AuditKey> {
        self.key.as_deref()
    }

    /// Start the keyed chain if this installation's key has not sealed an
    /// event yet: an `audit.keyed` event, then `audit.baseline` events
    /// carrying the digests of every clinical row already stored (so rows
    /// from before the key are covered too). One unit of work. Returns
    /// whether it started now.
    pub async fn ensure_keyed(&self, now: i64) -> Result<bool> {
        let Some(key) = self.key.clone() else {
            return Ok(false);
        };
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM audit_event WHERE hash LIKE 'k1:%'")
                .fetch_one(c)
                .await?
        });
        if n > 0 {
            return Ok(false);
        }
        let mut tx = self.begin(now).await?;
        let mut tokens = vec![];
        for c in COVERED {
            let mut after = String::new();
            loop {
                let sql = format!(
                    "{} WHERE {} > $1 ORDER BY {} LIMIT 2000",
                    select(c),
                    c.key,
                    c.key
                );
                let page: Vec<(String, String)> = with_src!(Src::Tx(&mut tx), conn => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&after).fetch_all(conn).await?;
                    rows.iter().map(|r| digest_row(c, r)).collect::<Result<Vec<_>>>()?
                });
                let Some(last) = page.last() else { break };
                after = last.0.clone();
                tokens.extend(page.iter().map(|(k, d)| token(c.table, k, d)));
            }
        }
        tx.audit(
            NewEvent::new("audit.keyed", Outcome::Success).detail(format!(
                "sealed with installation key {}; {} existing clinical rows follow",
                key.id(),
                tokens.len()
            )),
        );
        for chunk in tokens.chunks(500) {
            let mut e = NewEvent::new("audit.baseline", Outcome::Success)
                .detail(format!("{} rows", chunk.len()));
            e.digests = Some(chunk.join(" "));
            tx.audit(e);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A signed checkpoint of the chain head now (`None` without a key).
    pub async fn checkpoint(&self, now: i64) -> Result<Option<Checkpoint>> {
        let Some(key) = self.key.as_deref() else {
            return Ok(None);
        };
        let (seq, hash) = self.audit_head().await?;
        Ok(Some(Checkpoint::new(key, seq, &hash, now)))
    }

    /// Verify everything the installation key vouches for: the chain (keyed
    /// from its first keyed event, every later event keyed), its head, the
    /// checkpoints written outside the database (each signed, each still in
    /// the chain), and every clinical row against the digest its audit
    /// event sealed. Names each problem found.
    pub async fn verify_integrity(
        &self,
        checkpoints: &[(usize, Option<Checkpoint>)],
        mut progress: impl FnMut(u64),
    ) -> Result<Report> {
        let head = self.audit_head().await?;
        let mut v = match self.key.as_deref() {
            Some(k) => ChainVerifier::keyed(k.clone()),
            None => ChainVerifier::default(),
        };
        let mut findings = vec![];
        let mut seals: HashMap<(String, String), String> = HashMap::new();
        // Checkpoints: signature first; a restore line sets aside the
        // earlier checkpoints beyond the point restored to; then, while
        // walking, each remaining one must match the chain.
        let mut wanted: BTreeMap<i64, Vec<(usize, Checkpoint)>> = BTreeMap::new();
        for (line, cp) in checkpoints {
            match (cp, self.key.as_deref()) {
                (Some(cp), Some(k)) if cp.is_signed_by(k) => {
                    if cp.restore {
                        let _ = wanted.split_off(&(cp.seq + 1));
                    }
                    wanted.entry(cp.seq).or_default().push((*line, cp.clone()))
                }
                _ => findings.push(Finding {
                    kind: FindingKind::CheckpointForged,
                    message: format!(
                        "checkpoint line {line} is not signed by this installation's key: the checkpoint file was edited"
                    ),
                }),
            }
        }
        let mut chain_ok = true;
        let mut after = 0i64;
        let sql =
            format!("SELECT {EVENT_COLS} FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT 5000");
        'walk: loop {
            let rows: Vec<EventRow> = with_reader!(self, c => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(after).fetch_all(c).await?
            });
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let ev = r.into_event();
                after = ev.seq;
                if let Err(e) = v.push(&ev) {
                    findings.push(chain(e));
                    chain_ok = false;
                    break 'walk;
                }
                if let Some(d) = &ev.event.digests {
                    read_tokens(d, &mut seals);
                }
                if let Some(cps) = wanted.remove(&ev.seq) {
                    for (line, cp) in cps {
                        if cp.hash != ev.hash {
                            findings.push(lost(line, &cp, "holds a different event there"));
                        }
                    }
                }
            }
            progress(v.checked);
        }
        // Walked to the end: checkpoints beyond it were cut off, whether or
        // not the end matches the head.
        let walked = chain_ok;
        if chain_ok && let Err(e) = v.finish(Some((head.0, &head.1))) {
            findings.push(chain(e));
            chain_ok = false;
        }
        if walked {
            for (_, cps) in wanted {
                for (line, cp) in cps {
                    findings.push(lost(line, &cp, "ends before it"));
                }
            }
        }
        let mut rows = 0u64;
        if chain_ok && v.keyed_from.is_some() {
            let mut changed = vec![];
            let mut added = vec![];
            for c in COVERED {
                let mut after = String::new();
                loop {
                    let sql = format!(
                        "{} WHERE {} > $1 ORDER BY {} LIMIT 2000",
                        select(c),
                        c.key,
                        c.key
                    );
                    let page: Vec<(String, String)> = with_reader!(self, conn => {
                        let rs = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&after).fetch_all(conn).await?;
                        rs.iter().map(|r| digest_row(c, r)).collect::<Result<Vec<_>>>()?
                    });
                    let Some(last) = page.last() else { break };
                    after = last.0.clone();
                    for (k, d) in page {
                        rows += 1;
                        match seals.remove(&(c.table.to_string(), k.clone())) {
                            Some(sealed) if sealed == d => {}
                            Some(_) => changed.push(format!("{} {k}", c.table)),
                            None => added.push(format!("{} {k}", c.table)),
                        }
                    }
                }
            }
            let missing: Vec<String> = seals.keys().map(|(t, k)| format!("{t} {k}")).collect();
            for (kind, list, what) in [
                (
                    FindingKind::RowChanged,
                    changed,
                    "changed outside Carepath (content differs from what its audit event sealed)",
                ),
                (
                    FindingKind::RowAdded,
                    added,
                    "added outside Carepath (no audit event wrote them)",
                ),
                (
                    FindingKind::RowMissing,
                    missing,
                    "deleted outside Carepath (their audit events wrote them)",
                ),
            ] {
                if !list.is_empty() {
                    let mut list = list;
                    list.sort();
                    let shown: Vec<&str> = list.iter().take(10).map(String::as_str).collect();
                    findings.push(Finding {
                        kind,
                        message: format!(
                            "{} clinical row(s) {what}: {}{}",
                            list.len(),
                            shown.join(", "),
                            if list.len() > 10 { ", …" } else { "" }
                        ),
                    });
                }
            }
        }
        Ok(Report {
            events: v.checked,
            head,
            keyed_from: v.keyed_from,
            rows,
            checkpoints: checkpoints.len(),
            findings,
        })
    }

    /// Whether any event is sealed with a key (the chain is keyed).
    pub async fn chain_is_keyed(&self) -> Result<bool> {
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM audit_event WHERE hash LIKE '{KEYED}%'"
            )))
            .fetch_one(c)
            .await?
        });
        Ok(n > 0)
    }
}

fn chain(e: ChainError) -> Finding {
    Finding {
        kind: FindingKind::Chain,
        message: e.to_string(),
    }
}

fn lost(line: usize, cp: &Checkpoint, how: &str) -> Finding {
    let when = jiff::Timestamp::from_microsecond(cp.at_us)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Finding {
        kind: FindingKind::CheckpointLost,
        message: format!(
            "checkpoint line {line} ({when}) saw the chain reach #{} but the chain now {how}: events were removed or replaced after it",
            cp.seq
        ),
    }
}
