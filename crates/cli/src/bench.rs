//! `carepath bench finder`: the finder's speed on a fixed, seeded workload, with
//! PostgreSQL + PostGIS as the peer in the same run and the results checked
//! identical. Loopback only; bounded in count and time.

use anyhow::{Context, Result, bail};
use carepath_finder::import::Directory;
use carepath_finder::{Facility, Index, Query};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Directory holding the SAMHSA files (sud_facilities_geocoded.csv, methadone_facilities_2017.csv, otp_directory_geocoded.csv).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Number of queries.
    #[arg(long, default_value_t = 10_000)]
    pub queries: usize,
    /// Size of the synthetic national set.
    #[arg(long, default_value_t = 1_000_000)]
    pub synthetic: usize,
    /// HTTP requests at 64 concurrent connections.
    #[arg(long, default_value_t = 20_000)]
    pub http_requests: usize,
    /// PostgreSQL server URL for the PostGIS peer (a fresh database is created and dropped).
    #[arg(long)]
    pub postgis: Option<String>,
    /// Queries sent to PostGIS (per data set).
    #[arg(long, default_value_t = 2_000)]
    pub postgis_queries: usize,
}

const SEED: u64 = 20_261_122;
const FILTER_CODES: [&str; 8] = ["MD", "METH", "BU", "PI", "OTP", "SP", "NU", "MC"];

fn load_real(dir: &std::path::Path) -> Result<Vec<Facility>> {
    let mut d = Directory::new();
    for f in [
        "sud_facilities_geocoded.csv",
        "methadone_facilities_2017.csv",
        "otp_directory_geocoded.csv",
    ] {
        let bytes = std::fs::read(dir.join(f))
            .with_context(|| format!("reading {}", dir.join(f).display()))?;
        d.import(&bytes, None)
            .map_err(|e| anyhow::anyhow!("{f}: {e}"))?;
    }
    Ok(d.into_facilities())
}

/// A national synthetic set: positions drawn near real facilities (so density
/// follows where treatment is), codes drawn from the real code lists.
fn synthetic(real: &[Facility], n: usize) -> Vec<Facility> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 1);
    let coded: Vec<&Facility> = real.iter().filter(|f| !f.codes.is_empty()).collect();
    (0..n)
        .map(|i| {
            let base = &real[rng.random_range(0..real.len())];
            let codes = if rng.random_bool(0.4) {
                coded[rng.random_range(0..coded.len())].codes.clone()
            } else {
                vec![]
            };
            Facility {
                id: format!("s{i:07}"),
                name: format!("Synthetic {i}"),
                name2: None,
                street: String::new(),
                city: base.city.clone(),
                state: base.state.clone(),
                zip: base.zip.clone(),
                phone: None,
                latitude: (base.latitude + rng.random_range(-0.3..0.3)).clamp(-89.0, 89.0),
                longitude: base.longitude + rng.random_range(-0.3..0.3),
                codes,
                sources: vec![],
                live: None,
                updated: None,
            }
        })
        .collect()
}

/// Fixed, seeded queries: points near facilities (density-weighted), a radius
/// (5–100 miles or any) and 0–3 filters.
fn queries(real: &[Facility], n: usize) -> Vec<Query> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 2);
    (0..n)
        .map(|_| {
            let base = &real[rng.random_range(0..real.len())];
            let radius = [
                Some(5.0),
                Some(10.0),
                Some(25.0),
                Some(50.0),
                Some(100.0),
                None,
            ][rng.random_range(0..6)];
            let k = rng.random_range(0..=3);
            let mut codes: Vec<String> = (0..k)
                .map(|_| FILTER_CODES[rng.random_range(0..FILTER_CODES.len())].to_string())
                .collect();
            codes.sort();
            codes.dedup();
            Query {
                lat: base.latitude + rng.random_range(-0.2..0.2),
                lon: base.longitude + rng.random_range(-0.2..0.2),
                radius_mi: radius,
                codes,
                any_of: vec![],
                page: 1,
                page_size: 20,
            }
        })
        .collect()
}

pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

struct InProc {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn run_in_process(idx: &Index, qs: &[Query]) -> InProc {
    let mut times = Vec::with_capacity(qs.len());
    for q in qs {
        let t = Instant::now();
        let r = idx.search(q);
        std::hint::black_box(&r);
        times.push(t.elapsed());
    }
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    times.sort();
    InProc {
        p50: pct(&times, 0.5),
        p99: pct(&times, 0.99),
        mean,
    }
}

fn check_against_brute(idx: &Index, qs: &[Query], n: usize) -> Result<()> {
    for q in qs.iter().take(n) {
        let a = idx.search(q);
        let b = idx.search_brute(q);
        let ids = |r: &carepath_finder::SearchResult| {
            r.hits
                .iter()
                .map(|h| h.facility.id.clone())
                .collect::<Vec<_>>()
        };
        if a.total != b.total || ids(&a) != ids(&b) {
            bail!("index and brute force differ for {q:?}");
        }
    }
    Ok(())
}

/// What an HTTP run asks for.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    /// The finder API, one query per request.
    Search,
    /// `/healthz`: the HTTP stack alone, the ceiling for any route.
    Health,
}

async fn run_http(
    idx_facilities: Vec<Facility>,
    qs: &[Query],
    total: usize,
    connections: usize,
    load: Load,
) -> Result<(f64, Duration, Duration)> {
    // A real server on loopback over a throwaway SQLite database.
    let dir = tempfile::tempdir()?;
    let store = carepath_store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("bench.sqlite3").display()
    ))
    .await?;
    store.migrate().await?;
    let app = carepath_app::App::new(store.clone(), Default::default());
    carepath_app::finder::replace(
        &app,
        &carepath_app::Principal::system("bench"),
        idx_facilities,
    )
    .await?;
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    // Wait for readiness.
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let urls: Vec<String> = qs
        .iter()
        .map(|q| {
            if load == Load::Health {
                return format!("{base}/healthz");
            }
            let mut u = format!(
                "{base}/api/v1/facilities?near={},{}&page_size=20",
                q.lat, q.lon
            );
            if let Some(r) = q.radius_mi {
                u.push_str(&format!("&radius_mi={r}"));
            }
            if !q.codes.is_empty() {
                u.push_str(&format!("&codes={}", q.codes.join(",")));
            }
            u
        })
        .collect();
    let urls = std::sync::Arc::new(urls);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..connections {
        let (client, urls, next) = (client.clone(), urls.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                let r = client.get(&urls[i % urls.len()]).send().await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => return Err(anyhow::anyhow!("request {i} failed")),
                }
                times.push(t.elapsed());
            }
            Ok::<Vec<Duration>, anyhow::Error>(times)
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    all.sort();
    store.close().await;
    Ok((
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(&all, 0.5),
        pct(&all, 0.99),
    ))
}

/// Bytes on the wire of the public pages a phone loads, as HTML/JSON and
/// gzip-compressed (what a browser asks for).
async fn page_sizes(facilities: Vec<Facility>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = carepath_store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("sizes.sqlite3").display()
    ))
    .await?;
    store.migrate().await?;
    let app = carepath_app::App::new(store.clone(), Default::default());
    let id = facilities.first().map(|f| f.id.clone()).unwrap_or_default();
    carepath_app::finder::replace(&app, &carepath_app::Principal::system("bench"), facilities)
        .await?;
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app)).await?;
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("page sizes (bytes: as sent without compression / gzip):");
    for (label, path) in [
        ("finder form", "/find".to_string()),
        (
            "results, 10001, 25 miles",
            "/find?near=10001&radius=25".to_string(),
        ),
        (
            "results, 21201, 25 miles, 2 filters",
            "/find?near=21201&radius=25&f=methadone&f=buprenorphine".to_string(),
        ),
        ("facility page", format!("/find/facility/{id}")),
        (
            "API search, 20 results",
            "/api/v1/facilities?near=60601&radius_mi=25&page_size=20".to_string(),
        ),
        ("stylesheet", "/static/app.css".to_string()),
    ] {
        let mut sizes = vec![];
        for enc in ["identity", "gzip"] {
            let r = client
                .get(format!("{base}{path}"))
                .header("accept-encoding", enc)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("{path}: {}", r.status());
            }
            sizes.push(r.bytes().await?.len());
        }
        println!(
            "  {label:<38} {:>8} / {:>7}  ({:.0}% smaller)",
            sizes[0],
            sizes[1],
            100.0 * (1.0 - sizes[1] as f64 / sizes[0].max(1) as f64)
        );
    }
    store.close().await;
    Ok(())
}

/// PostGIS peer: same data, GiST index on geography, ST_DWithin + the same
/// filters, ordered by distance, same page size; on a sphere of the same
/// radius so distances are comparable.
async fn run_postgis(
    admin_url: &str,
    facilities: &[Facility],
    qs: &[Query],
    idx: &Index,
    label: &str,
) -> Result<(InProc, usize, usize)> {
    use sqlx::Connection;
    let name = format!("carepath_bench_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let url = carepath_store::postgres_url_for(admin_url, &name);
    let result = async {
        let mut c = sqlx::PgConnection::connect(&url).await?;
        sqlx::raw_sql("CREATE EXTENSION postgis").execute(&mut c).await.context("CREATE EXTENSION postgis (install postgresql-15-postgis-3)")?;
        sqlx::raw_sql("CREATE TABLE f (id text PRIMARY KEY, codes text[] NOT NULL, geog geography(Point, 4326) NOT NULL, tier smallint NOT NULL)").execute(&mut c).await?;
        eprintln!("  loading {} facilities into PostGIS ({label})…", facilities.len());
        for chunk in facilities.chunks(5000) {
            let ids: Vec<String> = chunk.iter().map(|f| f.id.clone()).collect();
            let lons: Vec<f64> = chunk.iter().map(|f| f.longitude).collect();
            let lats: Vec<f64> = chunk.iter().map(|f| f.latitude).collect();
            let codes: Vec<String> = chunk.iter().map(|f| format!("{{{}}}", f.codes.join(","))).collect();
            let tiers: Vec<i16> = chunk.iter().map(|f| carepath_finder::index::rank(f) as i16).collect();
            sqlx::query("INSERT INTO f SELECT id, c::text[], ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, tier FROM UNNEST($1::text[], $2::float8[], $3::float8[], $4::text[], $5::int2[]) AS t(id, lon, lat, c, tier)")
                .bind(ids)
                .bind(lons)
                .bind(lats)
                .bind(codes)
                .bind(tiers)
                .execute(&mut c)
                .await?;
        }
        sqlx::raw_sql("CREATE INDEX f_geog ON f USING gist (geog); CREATE INDEX f_codes ON f USING gin (codes); ANALYZE f").execute(&mut c).await?;
        let mut times = vec![];
        let (mut same, mut differ) = (0, 0);
        for q in qs {
            let t = Instant::now();
            // Sphere distance (use_spheroid = false) in metres; miles × 1609.344.
            let radius_m = q.radius_mi.map(|r| r * 1609.344);
            let pt = "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography";
            let ring = carepath_finder::index::RING_MI;
            let filter = format!("($3::float8 IS NULL OR ST_DWithin(geog, {pt}, $3, false)) AND codes @> $4::text[]");
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id FROM f WHERE {filter} ORDER BY floor(ST_Distance(geog, {pt}, false) / 1609.344 / {ring}), tier, ST_Distance(geog, {pt}, false), id LIMIT 20")))
                .bind(q.lon)
                .bind(q.lat)
                .bind(radius_m)
                .bind(&q.codes)
                .fetch_all(&mut c)
                .await?;
            let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM f WHERE {filter}")))
                .bind(q.lon)
                .bind(q.lat)
                .bind(radius_m)
                .bind(&q.codes)
                .fetch_one(&mut c)
                .await?;
            times.push(t.elapsed());
            let ours = idx.search(q);
            let ours_ids: Vec<&str> = ours.hits.iter().map(|h| h.facility.id.as_str()).collect();
            let theirs: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
            if ours.total as i64 == total && ours_ids == theirs {
                same += 1;
            } else {
                differ += 1;
            }
        }
        let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
        times.sort();
        Ok::<_, anyhow::Error>((InProc { p50: pct(&times, 0.5), p99: pct(&times, 0.99), mean }, same, differ))
    }
    .await;
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    result
}

pub async fn finder(a: &BenchArgs) -> Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "carepath bench finder — {cores} cores; seed {SEED}; {} queries",
        a.queries
    );
    let real = load_real(&a.data)?;
    let qs = queries(&real, a.queries);
    let t = Instant::now();
    let real_idx = Index::new(real.clone());
    println!(
        "real directory: {} facilities, index built in {:.0} ms",
        real.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    check_against_brute(&real_idx, &qs, 1_000)?;
    println!("  1,000 queries checked identical to a brute-force haversine scan");
    let r = run_in_process(&real_idx, &qs);
    println!(
        "  in-process: p50 {}  p99 {}  mean {}",
        us(r.p50),
        us(r.p99),
        us(r.mean)
    );
    let synth = synthetic(&real, a.synthetic);
    let t = Instant::now();
    let big_idx = Index::new(synth.clone());
    println!(
        "synthetic national set: {} facilities, index built in {:.0} ms",
        synth.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    check_against_brute(&big_idx, &qs, 100)?;
    println!("  100 queries checked identical to a brute-force scan");
    let b = run_in_process(&big_idx, &qs);
    println!(
        "  in-process: p50 {}  p99 {}  mean {}",
        us(b.p50),
        us(b.p99),
        us(b.mean)
    );
    // At 64 connections (the figure) and at one connection per core,
    // where latency is not queueing behind other requests; at 64 also
    // `/healthz` on the same server build, so the ratio says whether the
    // search or the HTTP stack is the limit.
    let mut search64 = 0.0;
    for (connections, load) in [
        (64, Load::Search),
        (64, Load::Health),
        (cores, Load::Search),
    ] {
        let (rps, h50, h99) =
            run_http(real.clone(), &qs, a.http_requests, connections, load).await?;
        let what = match load {
            Load::Search => "finder API",
            Load::Health => "/healthz",
        };
        println!(
            "HTTP {what} (real set, {connections} concurrent connections, {} requests): {:.0} requests/s, p50 {}, p99 {}",
            a.http_requests,
            rps,
            us(h50),
            us(h99)
        );
        match (connections, load) {
            (64, Load::Search) => search64 = rps,
            (64, Load::Health) => println!(
                "  finder / healthz at 64 connections: {:.2}× (goal ≥ 0.8×)",
                search64 / rps.max(1e-9)
            ),
            _ => {}
        }
    }
    page_sizes(real.clone()).await?;
    if let Some(pg) = &a.postgis {
        let n = a.postgis_queries.min(qs.len());
        for (label, facs, idx) in [("real", &real, &real_idx), ("synthetic", &synth, &big_idx)] {
            let (p, same, differ) = run_postgis(pg, facs, &qs[..n], idx, label).await?;
            // Our per-query time on the same subset, for a like-for-like ratio.
            let mine = run_in_process(idx, &qs[..n]);
            println!(
                "PostGIS peer ({label}, {n} queries, each = page + total count): p50 {}  p99 {}  mean {}; Carepath mean {} → {:.0}× faster (mean), {:.0}× (p50); results identical for {same}/{n}, differing {differ}",
                us(p.p50),
                us(p.p99),
                us(p.mean),
                us(mine.mean),
                p.mean.as_secs_f64() / mine.mean.as_secs_f64().max(1e-9),
                p.p50.as_secs_f64() / mine.p50.as_secs_f64().max(1e-9),
            );
        }
    }
    Ok(())
}
