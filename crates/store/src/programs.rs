//! Organization and programs (sites).

use crate::{Result, Store, Tx};
use carepath_domain::ids::{OrgId, ProgramId, UserId};
use carepath_domain::program::ProgramKind;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organization {
    #[sqlx(try_from = "String")]
    pub id: OrgId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Program {
    #[sqlx(try_from = "String")]
    pub id: ProgramId,
    #[sqlx(try_from = "String")]
    pub org_id: OrgId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: ProgramKind,
    pub address: String,
    /// IANA time zone name; the clinic day is computed in it.
    pub timezone: String,
    pub hours: String,
}

/// A new program; validated by the caller (time zone via `program::parse_time_zone`).
#[derive(Debug, Clone)]
pub struct NewProgram {
    pub name: String,
    pub kind: ProgramKind,
    pub address: String,
    pub timezone: String,
    pub hours: String,
}

const PROGRAM_COLS: &str = "id, org_id, name, kind, address, timezone, hours";

impl Tx {
    pub async fn create_organization(&mut self, name: &str) -> Result<Organization> {
        let id = OrgId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO organization (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id.to_string())
                .bind(name)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        Ok(Organization {
            id,
            name: name.to_string(),
        })
    }

    pub async fn create_program(&mut self, org: OrgId, p: &NewProgram) -> Result<Program> {
        self.changes_reference();
        let id = ProgramId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program (id, org_id, name, kind, address, timezone, hours, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id.to_string())
            .bind(org.to_string())
            .bind(&p.name)
            .bind(p.kind.as_str())
            .bind(&p.address)
            .bind(&p.timezone)
            .bind(&p.hours)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(Program {
            id,
            org_id: org,
            name: p.name.clone(),
            kind: p.kind,
            address: p.address.clone(),
            timezone: p.timezone.clone(),
            hours: p.hours.clone(),
        })
    }

    /// Set a program's protocol settings (the database checks the ranges).
    pub async fn set_program_protocol(
        &mut self,
        id: ProgramId,
        p: &ProgramProtocol,
        by: UserId,
    ) -> Result<()> {
        self.changes_reference();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program_protocol (program_id, cows_every_h, cows_severe_every_h, cows_severe_from, followup_every_days, followup_count, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (program_id) DO UPDATE SET cows_every_h = excluded.cows_every_h, cows_severe_every_h = excluded.cows_severe_every_h, \
                 cows_severe_from = excluded.cows_severe_from, followup_every_days = excluded.followup_every_days, \
                 followup_count = excluded.followup_count, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(id.to_string())
            .bind(p.cows_every_h as i64)
            .bind(p.cows_severe_every_h as i64)
            .bind(p.cows_severe_from as i64)
            .bind(p.followup_every_days as i64)
            .bind(p.followup_count as i64)
            .bind(now)
            .bind(by.to_string())
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Change a program's opening hours as it states them.
    pub async fn set_program_hours(&mut self, id: ProgramId, hours: &str) -> Result<()> {
        self.changes_reference();
        on_tx!(self, c => {
            sqlx::query("UPDATE program SET hours = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(hours)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }
}

impl Store {
    /// The organization, if one has been created.
    pub async fn organization(&self) -> Result<Option<Organization>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT id, name FROM organization ORDER BY created_at LIMIT 1")
                .fetch_optional(c)
                .await?
        }))
    }

    pub async fn list_programs(&self) -> Result<Vec<Program>> {
        let sql = format!("SELECT {PROGRAM_COLS} FROM program ORDER BY name");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await?
        }))
    }

    /// One program (cached: see `refcache`).
    pub async fn program(&self, id: ProgramId) -> Result<Program> {
        let key = format!("program:{id}");
        if let Some(p) = self.refs.get::<Program>(&key) {
            return Ok(p);
        }
        let g = self.refs.generation();
        let sql = format!("SELECT {PROGRAM_COLS} FROM program WHERE id = $1");
        let p: Program = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(c).await?
        });
        self.refs.put(key, g, p.clone());
        Ok(p)
    }

    /// A program's protocol settings, if it has its own.
    pub async fn program_protocol(&self, id: ProgramId) -> Result<Option<ProgramProtocol>> {
        let key = format!("protocol:{id}");
        if let Some(p) = self.refs.get::<Option<ProgramProtocol>>(&key) {
            return Ok(p);
        }
        let g = self.refs.generation();
        let p = self.program_protocol_uncached(id).await?;
        self.refs.put(key, g, p);
        Ok(p)
    }

    async fn program_protocol_uncached(&self, id: ProgramId) -> Result<Option<ProgramProtocol>> {
        let row: Option<(i64, i64, i64, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT cows_every_h, cows_severe_every_h, cows_severe_from, followup_every_days, followup_count \
                 FROM program_protocol WHERE program_id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(c)
            .await?
        });
        Ok(row.map(|(a, b, c, d, e)| ProgramProtocol {
            cows_every_h: a as u32,
            cows_severe_every_h: b as u32,
            cows_severe_from: c as u8,
            followup_every_days: d as u32,
            followup_count: e as u32,
        }))
    }
}

/// A program's own protocol settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgramProtocol {
    pub cows_every_h: u32,
    pub cows_severe_every_h: u32,
    pub cows_severe_from: u8,
    pub followup_every_days: u32,
    pub followup_count: u32,
}
