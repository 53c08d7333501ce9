//! Configuration: built-in defaults, then a TOML file (`--config`), then
//! `CAREPATH_*` environment variables (nested keys with `__`, e.g.
//! `CAREPATH_WEB__IDLE_TIMEOUT_SECS=600`).

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Where the SQLite database and lock file live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `carepath.sqlite3` in `data_dir`.
    pub database_url: Option<String>,
    /// Address to listen on.
    pub listen: String,
    /// The installation key that seals the audit chain, its checkpoints and
    /// backups (created 0600 on first `migrate`/`serve`); default
    /// `data_dir/audit.key`. Keep it where the database's administrators
    /// cannot write (with PostgreSQL, off the database server).
    pub audit_key_file: Option<PathBuf>,
    /// Signed checkpoints of the audit chain's head; default
    /// `data_dir/audit-checkpoints`.
    pub audit_checkpoint_file: Option<PathBuf>,
    /// A second, append-only copy of every checkpoint (e.g. a WORM mount or
    /// another machine's share); none by default.
    pub audit_checkpoint_export: Option<PathBuf>,
    /// How often the server writes a checkpoint when the chain has grown.
    pub audit_checkpoint_secs: u64,
    /// The HL7 v2 lab interface over MLLP: listen here (e.g.
    /// `127.0.0.1:2575`; none by default) and file results in `lab.program`.
    pub lab: LabConfig,
    pub web: carepath_web::WebConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabConfig {
    pub mllp_listen: Option<String>,
    /// Program name or id the interface files results in.
    pub program: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./carepath-data"),
            database_url: None,
            listen: "127.0.0.1:8080".into(),
            audit_key_file: None,
            audit_checkpoint_file: None,
            audit_checkpoint_export: None,
            audit_checkpoint_secs: 10,
            lab: Default::default(),
            web: Default::default(),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut f = Figment::from(Serialized::defaults(Config::default()));
        if let Some(p) = file {
            if !p.exists() {
                anyhow::bail!("config: file {} does not exist", p.display());
            }
            f = f.merge(Toml::file(p));
        }
        f = f.merge(Env::prefixed("CAREPATH_").split("__").ignore(&[
            "config",
            "log",
            "new_password",
            "backup_passphrase",
        ]));
        let c: Config = f.extract().context("reading configuration")?;
        c.web
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        for p in &c.web.trusted_proxies {
            carepath_web::client::parse_proxy(p)
                .map_err(|e| anyhow::anyhow!("configuration: web.trusted_proxies: {e}"))?;
        }
        Ok(c)
    }

    pub fn database_url(&self) -> Result<String> {
        match &self.database_url {
            Some(u) => Ok(u.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("creating {}", self.data_dir.display()))?;
                Ok(format!(
                    "sqlite://{}",
                    self.data_dir.join("carepath.sqlite3").display()
                ))
            }
        }
    }

    /// Where the installation's own files live by default: the data
    /// directory, or beside an SQLite database named by URL alone.
    fn home(&self) -> PathBuf {
        match self.database_url.as_deref().and_then(|u| {
            u.strip_prefix("sqlite://")
                .or_else(|| u.strip_prefix("sqlite:"))
        }) {
            Some(p) => Path::new(p)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            None => self.data_dir.clone(),
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.home().join("audit.key"))
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.audit_checkpoint_file
            .clone()
            .unwrap_or_else(|| self.home().join("audit-checkpoints"))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url
            .as_deref()
            .is_none_or(|u| u.starts_with("sqlite:"))
    }

    /// Hold an exclusive lock on `data_dir/carepath.lock` while the server (or a
    /// restore) runs, so a restore cannot replace the file under a live server.
    pub fn lock_data_dir(&self) -> Result<Option<std::fs::File>> {
        if !self.is_sqlite() {
            return Ok(None);
        }
        std::fs::create_dir_all(&self.data_dir)?;
        let path = self.data_dir.join("carepath.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(_) => anyhow::bail!(
                "{} is locked: another Carepath process is using this data directory",
                path.display()
            ),
        }
    }
}
