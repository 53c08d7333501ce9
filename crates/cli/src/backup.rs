//! `carepath backup` and `carepath restore`.
//!
//! File format (before optional age encryption):
//! `CAREPATH-BACKUP 1\n` + one JSON header line (kind, created, size, SHA-256 of
//! the payload) + the payload: an SQLite database made with `VACUUM INTO`, or a
//! `pg_dump --format=custom` archive. Encryption uses age, with a passphrase
//! (`CAREPATH_BACKUP_PASSPHRASE`) or an X25519 recipient / identity file.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use carepath_app::clock::{Clock, SystemClock};
use carepath_store::{Backend, Store};

fn now_us() -> i64 {
    SystemClock.now_us()
}
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"CAREPATH-BACKUP 1\n";

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
}

#[derive(Serialize, Deserialize)]
struct Header {
    kind: String,
    created: String,
    size: u64,
    sha256: String,
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
    let header = Header {
        kind: kind.into(),
        created: SystemClock.now().to_string(),
        size: payload.len() as u64,
        sha256: hex::encode(Sha256::digest(&payload)),
    };
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
    std::fs::write(&part, &out)?;
    std::fs::rename(&part, &a.file)?;
    println!(
        "backup written: {} ({} bytes, {kind}, sha256 {})",
        a.file.display(),
        out.len(),
        header.sha256
    );
    Ok(())
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

/// Record the restore in the restored database's own audit chain.
async fn audit_restore(url: &str, header: &Header) -> Result<()> {
    let restored = Store::connect(url).await?;
    restored
        .audit(
            crate::operator_event("backup.restore").detail(format!(
                "restored backup taken {}, sha256 {}",
                header.created, header.sha256
            )),
            now_us(),
        )
        .await?;
    restored.close().await;
    Ok(())
}

pub async fn restore(cfg: &Config, a: &RestoreArgs) -> Result<()> {
    let (header, payload) = open_backup(a)?;
    let url = cfg.database_url()?;
    if url.starts_with("sqlite:") {
        if header.kind != "sqlite" {
            bail!(
                "this backup holds {}, but the configured database is SQLite",
                header.kind
            );
        }
        let target = PathBuf::from(
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:"),
        );
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let staged = dir.join("carepath.sqlite3.restoring");
        let _ = std::fs::remove_file(&staged);
        std::fs::write(&staged, &payload)?;
        // Check the staged copy fully before touching the live file.
        let check = async {
            let s = Store::connect(&format!("sqlite://{}", staged.display())).await?;
            s.sqlite_integrity_check().await?;
            let verdict = s.verify_audit_chain(|_| {}).await?;
            s.close().await;
            if let carepath_store::VerifyResult::Broken(e) = verdict {
                bail!("the backup's audit chain does not verify: {e}");
            }
            Ok::<(), anyhow::Error>(())
        };
        if let Err(e) = check.await {
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
        audit_restore(&url, &header).await?;
        println!(
            "restored {} into {} (backup taken {})",
            a.file.display(),
            target.display(),
            header.created
        );
    } else {
        if header.kind != "postgres-pg_dump" {
            bail!(
                "this backup holds {}, but the configured database is PostgreSQL",
                header.kind
            );
        }
        let tmp = tempfile::NamedTempFile::new()?;
        std::fs::write(tmp.path(), &payload)?;
        let st = tokio::process::Command::new("pg_restore")
            .args([
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--no-owner",
                "--exit-on-error",
                "-d",
            ])
            .arg(&url)
            .arg(tmp.path())
            .status()
            .await
            .context("running pg_restore")?;
        if !st.success() {
            bail!(
                "pg_restore failed ({st}); the single transaction was rolled back, nothing was changed"
            );
        }
        audit_restore(&url, &header).await?;
        println!(
            "restored {} into the PostgreSQL database (backup taken {})",
            a.file.display(),
            header.created
        );
    }
    Ok(())
}
