//! `carepath backup` and `carepath restore`.
//!
//! File format (before optional age encryption):
//! `CAREPATH-BACKUP 2\n` + one JSON header line + the payload: an SQLite
//! database made with `VACUUM INTO`, or a `pg_dump --format=custom` archive.
//! The header names the kind, time, size and SHA-256 of the payload, the
//! installation (its key's public id) and the audit chain's head inside the
//! payload, and is sealed with HMAC-SHA256 under the installation key — so a
//! backup edited and re-checksummed, another installation's backup, or one
//! whose audit log was emptied is refused, each with its reason. Encryption
//! uses age, with a passphrase (`CAREPATH_BACKUP_PASSPHRASE`) or an X25519
//! recipient / identity file.
//!
//! Restore checks everything on a staged copy before touching the live
//! database: decryption, format, checksum, seal, installation, kind, SQLite's
//! integrity check, and the full verification (`audit verify`) of the staged
//! chain and clinical rows against the sealed head.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use carepath_app::clock::{Clock, SystemClock};
use carepath_domain::audit::{AuditKey, Checkpoint};
use carepath_store::integrity::{self, FindingKind};
use carepath_store::{Backend, Store};

fn now_us() -> i64 {
    SystemClock.now_us()
}
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"CAREPATH-BACKUP 2\n";
/// Backups from before they were sealed.
const MAGIC_V1: &[u8] = b"CAREPATH-BACKUP 1\n";

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (must not exist).
    pub file: PathBuf,
    /// Encrypt with the passphrase in CAREPATH_BACKUP_PASSPHRASE.
    #[arg(long)]
    pub passphrase: bool,
    /// Encrypt to this age recipient (age1…).
    #[arg(long)]
    pub recipient: Option<String>,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file.
    pub file: PathBuf,
    /// Decrypt with the passphrase in CAREPATH_BACKUP_PASSPHRASE.
    #[arg(long)]
    pub passphrase: bool,
    /// Decrypt with this age identity file.
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// Restore another installation's backup (moving it here): the key
    /// file of the installation that made it. It becomes this
    /// installation's key; this installation must not have one yet.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    kind: String,
    created: String,
    size: u64,
    sha256: String,
    /// The public id of the installation key that sealed the backup.
    installation: String,
    /// The audit chain's head inside the payload.
    head_seq: i64,
    head_hash: String,
    created_us: i64,
    /// HMAC-SHA256 of the fields above under the installation key.
    seal: String,
}

impl Header {
    fn parts(&self) -> Vec<Vec<u8>> {
        vec![
            self.kind.as_bytes().to_vec(),
            self.created.as_bytes().to_vec(),
            self.size.to_be_bytes().to_vec(),
            self.sha256.as_bytes().to_vec(),
            self.installation.as_bytes().to_vec(),
            self.head_seq.to_be_bytes().to_vec(),
            self.head_hash.as_bytes().to_vec(),
            self.created_us.to_be_bytes().to_vec(),
        ]
    }
    fn seal_with(&mut self, key: &AuditKey) {
        let p = self.parts();
        let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
        self.seal = key.sign("carepath-backup-v2", &refs);
    }
    fn sealed_by(&self, key: &AuditKey) -> bool {
        let p = self.parts();
        let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
        key.verify("carepath-backup-v2", &refs, &self.seal)
    }
}

fn passphrase() -> Result<age::secrecy::SecretString> {
    let p = std::env::var("CAREPATH_BACKUP_PASSPHRASE")
        .context("set CAREPATH_BACKUP_PASSPHRASE to the passphrase")?;
    if p.chars().count() < 12 {
        bail!("passphrase: use at least 12 characters");
    }
    Ok(age::secrecy::SecretString::from(p))
}

pub async fn backup(store: &Store, cfg: &Config, a: &BackupArgs) -> Result<()> {
    if a.file.exists() {
        bail!("{} exists; choose a new file name", a.file.display());
    }
    let tmp = tempfile::Builder::new().prefix("carepath-snap").tempdir()?;
    let snap = tmp.path().join("snapshot");
    // A backup exports every record: audit it first, so the event is inside
    // the snapshot and survives a restore.
    store
        .audit(
            crate::operator_event("backup.export")
                .detail(format!("backup to {}", a.file.display())),
            now_us(),
        )
        .await?;
    let kind = match store.backend() {
        Backend::Sqlite => {
            store.sqlite_snapshot(&snap).await?;
            "sqlite"
        }
        Backend::Postgres => {
            let url = cfg.database_url()?;
            let st = tokio::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&snap)
                .arg(&url)
                .status()
                .await
                .context("running pg_dump (install the PostgreSQL client tools)")?;
            if !st.success() {
                bail!("pg_dump failed ({st})");
            }
            "postgres-pg_dump"
        }
    };
    let payload = std::fs::read(&snap)?;
    let key = store
        .key()
        .context("the installation key is needed to seal a backup")?;
    // The head inside the snapshot: read from the snapshot itself.
    let (head_seq, head_hash) = snapshot_head(store, cfg, &snap).await?;
    let mut header = Header {
        kind: kind.into(),
        created: SystemClock.now().to_string(),
        size: payload.len() as u64,
        sha256: hex::encode(Sha256::digest(&payload)),
        installation: key.id(),
        head_seq,
        head_hash,
        created_us: now_us(),
        seal: String::new(),
    };
    header.seal_with(key);
    let mut plain = MAGIC.to_vec();
    plain.extend(serde_json::to_vec(&header)?);
    plain.push(b'\n');
    plain.extend(&payload);
    let out = if a.passphrase || a.recipient.is_some() {
        let recipient: Box<dyn age::Recipient + Send> = if let Some(r) = &a.recipient {
            Box::new(
                r.parse::<age::x25519::Recipient>()
                    .map_err(|e| anyhow::anyhow!("recipient: {e}"))?,
            )
        } else {
            Box::new(age::scrypt::Recipient::new(passphrase()?))
        };
        let enc = age::Encryptor::with_recipients(std::iter::once(
            recipient.as_ref() as &dyn age::Recipient
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = vec![];
        let mut w = enc.wrap_output(&mut out)?;
        w.write_all(&plain)?;
        w.finish()?;
        out
    } else {
        plain
    };
    let part = a.file.with_extension("partial");
    let _ = std::fs::remove_file(&part);
    integrity::write_private(&part, &out, true)?;
    std::fs::rename(&part, &a.file)?;
    println!(
        "backup written: {} ({} bytes, {kind}, sha256 {})",
        a.file.display(),
        out.len(),
        header.sha256
    );
    Ok(())
}

/// The audit head inside a fresh snapshot (SQLite: the snapshot file;
/// PostgreSQL: the database, read after `pg_dump` — nothing is appended to
/// the chain between the dump and this read but by another process, which
/// the restore's full verification would then reject).
async fn snapshot_head(store: &Store, _cfg: &Config, snap: &Path) -> Result<(i64, String)> {
    match store.backend() {
        Backend::Sqlite => {
            let s = Store::connect(&format!("sqlite://{}", snap.display())).await?;
            let h = s.audit_head().await?;
            s.close().await;
            Ok(h)
        }
        Backend::Postgres => Ok(store.audit_head().await?),
    }
}

/// Decrypt (if needed) and validate a backup; returns (header, payload).
fn open_backup(a: &RestoreArgs) -> Result<(Header, Vec<u8>)> {
    let raw = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let plain = if raw.starts_with(b"age-encryption.org/v1") {
        let dec = age::Decryptor::new(&raw[..])
            .map_err(|e| anyhow::anyhow!("the backup is damaged: {e}"))?;
        let mut r = if let Some(id_path) = &a.identity {
            let ids = age::IdentityFile::from_file(id_path.display().to_string())
                .with_context(|| format!("reading identity {}", id_path.display()))?
                .into_identities()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            dec.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        } else if a.passphrase {
            let id = age::scrypt::Identity::new(passphrase()?);
            dec.decrypt(std::iter::once(&id as &dyn age::Identity))
        } else {
            bail!("the backup is encrypted: pass --passphrase (with CAREPATH_BACKUP_PASSPHRASE) or --identity FILE");
        }
        .map_err(|_| anyhow::anyhow!("cannot decrypt the backup: wrong passphrase or identity"))?;
        let mut v = vec![];
        r.read_to_end(&mut v).map_err(|_| {
            anyhow::anyhow!("the encrypted backup is corrupt (authentication failed)")
        })?;
        v
    } else {
        raw
    };
    if plain.starts_with(MAGIC_V1) {
        bail!(
            "{} is a backup from before backups were sealed (format 1): it cannot prove which \
             installation made it or that it was not altered, so it is not restored",
            a.file.display()
        );
    }
    let Some(rest) = plain.strip_prefix(MAGIC) else {
        bail!("{} is not a Carepath backup", a.file.display());
    };
    let nl = rest
        .iter()
        .position(|b| *b == b'\n')
        .context("the backup header is damaged")?;
    let header: Header =
        serde_json::from_slice(&rest[..nl]).context("the backup header is damaged")?;
    let payload = rest[nl + 1..].to_vec();
    if payload.len() as u64 != header.size || hex::encode(Sha256::digest(&payload)) != header.sha256
    {
        bail!("the backup is corrupt: its checksum does not match (nothing was changed)");
    }
    Ok((header, payload))
}

/// The installation key to check a backup with: this installation's, or
/// (`--key`) the key of the installation the backup comes from. Refuses
/// another installation's backup unless its key is given.
fn restore_key(cfg: &Config, a: &RestoreArgs, header: &Header) -> Result<(AuditKey, bool)> {
    let own = integrity::load_or_create_key(&cfg.key_path(), false)
        .ok()
        .map(|(k, _)| k);
    let (key, adopt) = match (&a.key, own) {
        (Some(path), own) => {
            let (k, _) = integrity::load_or_create_key(path, false)?;
            if let Some(own) = own
                && own != k
            {
                bail!(
                    "this installation has its own key ({}, at {}); to move installation {} here, \
                     move that file away first",
                    own.id(),
                    cfg.key_path().display(),
                    k.id()
                );
            }
            (k, true)
        }
        (None, Some(own)) => (own, false),
        (None, None) => bail!(
            "no installation key at {}: to restore onto a new machine, pass --key with the \
             key file of the installation that made the backup",
            cfg.key_path().display()
        ),
    };
    if header.installation != key.id() {
        bail!(
            "this backup was made by installation {}, not by this one ({}): it is refused. \
             To move that installation here, restore with --key and its key file",
            header.installation,
            key.id()
        );
    }
    if !header.sealed_by(&key) {
        bail!(
            "the backup's seal does not verify with installation key {}: the backup was altered \
             or forged (nothing was changed)",
            key.id()
        );
    }
    Ok((key, adopt))
}

/// Verify a staged database fully with `key`, requiring the chain to reach
/// the head the backup's seal recorded.
async fn check_staged(url: &str, key: &AuditKey, header: &Header) -> Result<()> {
    let s = Store::connect(url).await?.with_key(key.clone());
    if s.backend() == Backend::Sqlite {
        s.sqlite_integrity_check().await?;
    }
    let sealed = Checkpoint::new(key, header.head_seq, &header.head_hash, header.created_us);
    let report = s.verify_integrity(&[(0, Some(sealed))], |_| {}).await?;
    s.close().await;
    if !report.intact() {
        let what: Vec<String> = report
            .findings
            .iter()
            .map(|f| match f.kind {
                FindingKind::CheckpointLost => format!(
                    "its audit chain does not reach the head sealed in the backup (#{}): events were removed",
                    header.head_seq
                ),
                _ => f.message.clone(),
            })
            .collect();
        bail!("the backup does not verify: {}", what.join("; "));
    }
    Ok(())
}

/// Record the restore in the restored database's own audit chain and in the
/// checkpoint file (checkpoints past the restored head no longer apply).
async fn after_restore(cfg: &Config, url: &str, key: &AuditKey, header: &Header) -> Result<()> {
    let restored = Store::connect(url).await?.with_key(key.clone());
    let mark = Checkpoint::restored(key, header.head_seq, &header.head_hash, now_us());
    integrity::append_checkpoint(
        &cfg.checkpoint_path(),
        cfg.audit_checkpoint_export.as_deref(),
        &mark,
    )?;
    restored
        .audit(
            crate::operator_event("backup.restore").detail(format!(
                "restored backup taken {} (audit head #{}), sha256 {}",
                header.created, header.head_seq, header.sha256
            )),
            now_us(),
        )
        .await?;
    if let Some(cp) = restored.checkpoint(now_us()).await? {
        integrity::append_checkpoint(
            &cfg.checkpoint_path(),
            cfg.audit_checkpoint_export.as_deref(),
            &cp,
        )?;
    }
    restored.close().await;
    Ok(())
}

pub async fn restore(cfg: &Config, a: &RestoreArgs) -> Result<()> {
    let (header, payload) = open_backup(a)?;
    let url = cfg.database_url()?;
    let sqlite = url.starts_with("sqlite:");
    match (sqlite, header.kind.as_str()) {
        (true, "sqlite") | (false, "postgres-pg_dump") => {}
        (true, k) => bail!("this backup holds {k}, but the configured database is SQLite"),
        (false, k) => bail!("this backup holds {k}, but the configured database is PostgreSQL"),
    }
    let (key, adopt) = restore_key(cfg, a, &header)?;
    if sqlite {
        let target = PathBuf::from(
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:"),
        );
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)?;
        let staged = dir.join("carepath.sqlite3.restoring");
        let _ = std::fs::remove_file(&staged);
        integrity::write_private(&staged, &payload, true)?;
        // Check the staged copy fully before touching the live file.
        if let Err(e) = check_staged(&format!("sqlite://{}", staged.display()), &key, &header).await
        {
            let _ = std::fs::remove_file(&staged);
            let _ = std::fs::remove_file(dir.join("carepath.sqlite3.restoring-wal"));
            let _ = std::fs::remove_file(dir.join("carepath.sqlite3.restoring-shm"));
            return Err(
                e.context("the backup is not a sound Carepath database (nothing was changed)")
            );
        }
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", target.display()));
            let _ = std::fs::remove_file(format!("{}{ext}", staged.display()));
        }
        std::fs::rename(&staged, &target)?;
    } else {
        // Stage into a scratch database on the same server, verify it, then
        // restore into the configured one in a single transaction.
        let tmp = tempfile::NamedTempFile::new()?;
        std::fs::write(tmp.path(), &payload)?;
        let scratch = format!("carepath_restore_{}", uuid::Uuid::now_v7().simple());
        let scratch_url = carepath_store::postgres_url_for(&url, &scratch);
        run_sql(&url, &format!("CREATE DATABASE {scratch}"))
            .await
            .context(
                "staging the restore needs permission to create a scratch database (CREATEDB)",
            )?;
        let staged = async {
            pg_restore(&scratch_url, tmp.path(), false).await?;
            check_staged(&scratch_url, &key, &header).await
        }
        .await;
        let _ = run_sql(
            &url,
            &format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"),
        )
        .await;
        staged.context("the backup is not a sound Carepath database (nothing was changed)")?;
        pg_restore(&url, tmp.path(), true).await?;
    }
    if adopt && !cfg.key_path().exists() {
        integrity::write_key(&cfg.key_path(), &key)?;
        println!(
            "installation key {} written to {}",
            key.id(),
            cfg.key_path().display()
        );
    }
    after_restore(cfg, &url, &key, &header).await?;
    println!(
        "restored {} (backup taken {}, audit head #{}, installation {})",
        a.file.display(),
        header.created,
        header.head_seq,
        header.installation
    );
    Ok(())
}

async fn run_sql(url: &str, sql: &str) -> Result<()> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await?;
    c.close().await?;
    Ok(())
}

async fn pg_restore(url: &str, file: &Path, clean: bool) -> Result<()> {
    let mut cmd = tokio::process::Command::new("pg_restore");
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    let st = cmd
        .args([
            "--single-transaction",
            "--no-owner",
            "--exit-on-error",
            "-d",
        ])
        .arg(url)
        .arg(file)
        .status()
        .await
        .context("running pg_restore")?;
    if !st.success() {
        bail!(
            "pg_restore failed ({st}); the single transaction was rolled back, nothing was changed"
        );
    }
    Ok(())
}
