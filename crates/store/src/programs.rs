//! Organization and programs (sites).

use crate::{Result, Store, parse_id};
use carepath_domain::audit::NewEvent;
use carepath_domain::ids::{OrgId, ProgramId, UserId};
use carepath_domain::program::ProgramKind;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Program {
    pub id: ProgramId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: ProgramKind,
    pub address: String,
    /// IANA time zone name; the clinic day is computed in it.
    pub timezone: String,
    pub hours: String,
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    id: String,
    org_id: String,
    name: String,
    kind: String,
    address: String,
    timezone: String,
    hours: String,
}

impl TryFrom<ProgramRow> for Program {
    type Error = crate::StoreError;
    fn try_from(r: ProgramRow) -> Result<Self> {
        Ok(Program {
            id: parse_id(&r.id, "program.id")?,
            org_id: parse_id(&r.org_id, "program.org_id")?,
            kind: r
                .kind
                .parse()
                .map_err(|_| crate::StoreError::Corrupt("program.kind"))?,
            name: r.name,
            address: r.address,
            timezone: r.timezone,
            hours: r.hours,
        })
    }
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

impl Store {
    /// The organization, if one has been created.
    pub async fn organization(&self) -> Result<Option<Organization>> {
        let row: Option<(String, String)> = with_reader!(self, c => {
            sqlx::query_as("SELECT id, name FROM organization ORDER BY created_at LIMIT 1")
                .fetch_optional(c)
                .await?
        });
        row.map(|(id, name)| {
            Ok(Organization {
                id: parse_id(&id, "organization.id")?,
                name,
            })
        })
        .transpose()
    }

    pub async fn create_organization(&self, name: &str, ev: NewEvent) -> Result<Organization> {
        let id = OrgId::new();
        with_tx!(self, tx => {
            sqlx::query("INSERT INTO organization (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id.to_string())
                .bind(name)
                .bind(crate::now_us())
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, ev.object("organization", id));
        });
        Ok(Organization {
            id,
            name: name.to_string(),
        })
    }

    pub async fn create_program(
        &self,
        org: OrgId,
        p: &NewProgram,
        ev: NewEvent,
    ) -> Result<Program> {
        let id = ProgramId::new();
        with_tx!(self, tx => {
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
            .bind(crate::now_us())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("program", id).program(id));
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

    pub async fn list_programs(&self) -> Result<Vec<Program>> {
        let rows: Vec<ProgramRow> = with_reader!(self, c => {
            sqlx::query_as("SELECT id, org_id, name, kind, address, timezone, hours FROM program ORDER BY name")
                .fetch_all(c)
                .await?
        });
        rows.into_iter().map(Program::try_from).collect()
    }

    pub async fn program(&self, id: ProgramId) -> Result<Program> {
        let row: ProgramRow = with_reader!(self, c => {
            sqlx::query_as("SELECT id, org_id, name, kind, address, timezone, hours FROM program WHERE id = $1")
                .bind(id.to_string())
                .fetch_one(c)
                .await?
        });
        row.try_into()
    }

    /// A program's protocol settings, if it has its own.
    pub async fn program_protocol(&self, id: ProgramId) -> Result<Option<ProgramProtocol>> {
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

    /// Set a program's protocol settings (the database checks the ranges).
    pub async fn set_program_protocol(
        &self,
        id: ProgramId,
        p: &ProgramProtocol,
        by: UserId,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
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
            .bind(crate::now_us())
            .bind(by.to_string())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("program_protocol", id).program(id).detail(format!(
                "cows every {} h, every {} h from {}; follow-up every {} days x {}",
                p.cows_every_h, p.cows_severe_every_h, p.cows_severe_from, p.followup_every_days, p.followup_count
            )));
        });
        Ok(())
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
