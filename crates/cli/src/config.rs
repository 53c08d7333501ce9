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
    pub web: carepath_web::WebConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./carepath-data"),
            database_url: None,
            listen: "127.0.0.1:8080".into(),
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
        f.extract().context("reading configuration")
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
