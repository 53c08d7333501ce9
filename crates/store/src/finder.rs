//! The facility directory behind the treatment finder.

use crate::{Result, Store, Tx};
use carepath_finder::Facility;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    name2: Option<String>,
    street: String,
    city: String,
    state: String,
    zip: String,
    phone: Option<String>,
    latitude: f64,
    longitude: f64,
    codes: String,
    sources: String,
    updated_at: i64,
}

fn split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl Store {
    /// Every facility (to build the search index).
    pub async fn facilities(&self) -> Result<Vec<Facility>> {
        let rows: Vec<Row> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, name, name2, street, city, state, zip, phone, latitude, longitude, codes, sources, updated_at FROM facility ORDER BY id",
            )
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| Facility {
                id: r.id,
                name: r.name,
                name2: r.name2,
                street: r.street,
                city: r.city,
                state: r.state,
                zip: r.zip,
                phone: r.phone,
                latitude: r.latitude,
                longitude: r.longitude,
                codes: split(&r.codes),
                sources: split(&r.sources),
                live: None,
                updated: jiff::Timestamp::from_microsecond(r.updated_at)
                    .ok()
                    .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()),
            })
            .collect())
    }

    /// A fingerprint of the directory (count, last change) so servers notice imports.
    pub async fn facilities_version(&self) -> Result<(i64, i64)> {
        let v: (i64, Option<i64>) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM facility").fetch_one(c).await?
        });
        Ok((v.0, v.1.unwrap_or(0)))
    }
}

impl Tx {
    /// Remove directory listings by id (listings merged into another
    /// facility's place). The directory is public reference data, not
    /// patient data.
    pub async fn delete_facilities(&mut self, ids: &[String]) -> Result<u64> {
        let n = on_tx!(self, c => {
            let mut n = 0;
            for id in ids {
                n += sqlx::query("DELETE FROM facility WHERE id = $1")
                    .bind(id)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
            }
            n
        });
        Ok(n)
    }

    /// Insert or update facilities.
    pub async fn upsert_facilities(&mut self, fs: &[Facility]) -> Result<u64> {
        let now = self.now();
        let n = on_tx!(self, c => {
            for f in fs {
                sqlx::query(
                    "INSERT INTO facility (id, name, name2, street, city, state, zip, phone, latitude, longitude, codes, sources, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, name2 = excluded.name2, street = excluded.street, \
                     city = excluded.city, state = excluded.state, zip = excluded.zip, phone = excluded.phone, \
                     latitude = excluded.latitude, longitude = excluded.longitude, codes = excluded.codes, \
                     sources = excluded.sources, updated_at = excluded.updated_at",
                )
                .bind(&f.id)
                .bind(&f.name)
                .bind(&f.name2)
                .bind(&f.street)
                .bind(&f.city)
                .bind(&f.state)
                .bind(&f.zip)
                .bind(&f.phone)
                .bind(f.latitude)
                .bind(f.longitude)
                .bind(f.codes.join(" "))
                .bind(f.sources.join(" "))
                .bind(now)
                .execute(&mut *c)
                .await?;
            }
            fs.len() as u64
        });
        Ok(n)
    }
}
