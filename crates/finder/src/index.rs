//! The in-memory search index: an R-tree over points on the unit sphere
//! (chord distance is monotone in great-circle distance, so radius and
//! nearest-first queries are exact), interned service codes for filters, and
//! offline geocoding of `near` (ZIP code centroid, city centroid, or lat,lon).
//! Results are identical to a brute-force haversine scan (tested).

use crate::geo::{chord_for_miles, haversine_mi, unit_vector};
use crate::model::{Facility, normalize};
use rstar::{RTree, primitives::GeomWithData};
use std::collections::HashMap;
use std::sync::OnceLock;

type Point = GeomWithData<[f64; 3], u32>;

/// A search.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub lat: f64,
    pub lon: f64,
    /// None: any distance.
    pub radius_mi: Option<f64>,
    /// All of these codes are required.
    pub codes: Vec<String>,
    /// Each group needs at least one of its codes (e.g. any methadone code).
    pub any_of: Vec<Vec<String>>,
    /// 1-based.
    pub page: usize,
    pub page_size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub facility: &'a Facility,
    pub distance_mi: f64,
    /// Where the facility sits in [`Index::facilities`].
    pub position: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult<'a> {
    pub total: usize,
    pub hits: Vec<Hit<'a>>,
}

pub struct Index {
    facilities: Vec<Facility>,
    tree: RTree<Point>,
    /// Code → facility indexes having it (sorted).
    postings: HashMap<String, Vec<u32>>,
    by_id: HashMap<String, u32>,
    cities: HashMap<(String, String), (f64, f64)>,
    /// The 128 most common codes as bits, and each facility's bits: filter
    /// tests become one AND instead of binary searches.
    bits: HashMap<String, u32>,
    masks: Vec<u128>,
    /// Facilities whose listing names no service at all: a filter cannot
    /// say they lack a service, only that nobody said (shown apart).
    unlisted: Vec<u32>,
    /// Each facility's rank at equal distance (see [`rank`]).
    tiers: Vec<u8>,
}

/// Results within the same whole mile count as "at equal distance": there a
/// program that runs Carepath (live information) comes first, then a
/// listing with a number to call, then a bare listing. Farther rings still
/// come after nearer ones, so a nearer program is never buried.
pub const RING_MI: f64 = 1.0;

/// The tier of a facility within its ring: 0 live, 1 a phone, 2 neither.
pub fn rank(f: &Facility) -> u8 {
    if f.live.is_some() {
        0
    } else if !f.phones().is_empty() {
        1
    } else {
        2
    }
}

/// The order of results: ring, tier, exact distance, id.
fn order(a: (f64, u8, &str), b: (f64, u8, &str)) -> std::cmp::Ordering {
    let ring = |d: f64| (d / RING_MI).floor();
    ring(a.0)
        .total_cmp(&ring(b.0))
        .then(a.1.cmp(&b.1))
        .then(a.0.total_cmp(&b.0))
        .then_with(|| a.2.cmp(b.2))
}

/// The squared chord (with rounding room) of the end of `d`'s ring.
fn ring_end_chord2(d: f64) -> f64 {
    let end = ((d / RING_MI).floor() + 1.0) * RING_MI;
    (chord_for_miles(end) * (1.0 + 1e-9)).powi(2) + 1e-18
}

/// A compiled filter: bits for common codes, posting lists for the rest.
struct Filter<'a> {
    all_mask: u128,
    all_rest: Vec<&'a Vec<u32>>,
    groups: Vec<(u128, Vec<&'a Vec<u32>>)>,
}

/// The ZIP centroids (Census 2021 ZCTA gazetteer).
fn zips() -> &'static HashMap<String, (f64, f64)> {
    static Z: OnceLock<HashMap<String, (f64, f64)>> = OnceLock::new();
    Z.get_or_init(|| {
        include_str!("../data/zcta-2021.csv")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut p = l.split(',');
                let (z, la, lo) = (p.next()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
                Some((z.to_string(), (la, lo)))
            })
            .collect()
    })
}

/// Why `near` could not be placed on the map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GeocodeError(pub String);

impl Index {
    pub fn new(facilities: Vec<Facility>) -> Index {
        let tree = RTree::bulk_load(
            facilities
                .iter()
                .enumerate()
                .map(|(i, f)| GeomWithData::new(unit_vector(f.latitude, f.longitude), i as u32))
                .collect(),
        );
        let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_id = HashMap::new();
        let mut sums: HashMap<(String, String), (f64, f64, f64)> = HashMap::new();
        for (i, f) in facilities.iter().enumerate() {
            for c in &f.codes {
                postings.entry(c.clone()).or_default().push(i as u32);
            }
            by_id.insert(f.id.clone(), i as u32);
            let e = sums
                .entry((normalize(&f.city), f.state.to_uppercase()))
                .or_insert((0.0, 0.0, 0.0));
            e.0 += f.latitude;
            e.1 += f.longitude;
            e.2 += 1.0;
        }
        let cities = sums
            .into_iter()
            .map(|(k, (a, b, n))| (k, (a / n, b / n)))
            .collect();
        let mut by_freq: Vec<(&String, usize)> =
            postings.iter().map(|(c, p)| (c, p.len())).collect();
        by_freq.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let bits: HashMap<String, u32> = by_freq
            .iter()
            .take(128)
            .enumerate()
            .map(|(b, (c, _))| ((*c).clone(), b as u32))
            .collect();
        let masks = facilities
            .iter()
            .map(|f| {
                f.codes
                    .iter()
                    .filter_map(|c| bits.get(c))
                    .fold(0u128, |m, b| m | (1u128 << b))
            })
            .collect();
        let unlisted = facilities
            .iter()
            .enumerate()
            .filter(|(_, f)| f.codes.is_empty())
            .map(|(i, _)| i as u32)
            .collect();
        let tiers = facilities.iter().map(rank).collect();
        Index {
            facilities,
            tree,
            postings,
            by_id,
            cities,
            bits,
            masks,
            unlisted,
            tiers,
        }
    }

    /// Compile the query's code filters; None when a required code is unknown (no match).
    fn filter<'a>(&'a self, q: &Query) -> Option<Filter<'a>> {
        let mut f = Filter {
            all_mask: 0,
            all_rest: vec![],
            groups: vec![],
        };
        for c in &q.codes {
            match (self.bits.get(c), self.postings.get(c)) {
                (Some(b), _) => f.all_mask |= 1u128 << b,
                (None, Some(p)) => f.all_rest.push(p),
                (None, None) => return None,
            }
        }
        for g in &q.any_of {
            let (mut m, mut rest) = (0u128, vec![]);
            for c in g {
                match (self.bits.get(c), self.postings.get(c)) {
                    (Some(b), _) => m |= 1u128 << b,
                    (None, Some(p)) => rest.push(p),
                    (None, None) => {}
                }
            }
            if m == 0 && rest.is_empty() {
                return None;
            }
            f.groups.push((m, rest));
        }
        Some(f)
    }

    fn passes(&self, f: &Filter, i: u32) -> bool {
        let m = self.masks[i as usize];
        m & f.all_mask == f.all_mask
            && f.all_rest.iter().all(|p| p.binary_search(&i).is_ok())
            && f.groups
                .iter()
                .all(|(gm, rest)| m & gm != 0 || rest.iter().any(|p| p.binary_search(&i).is_ok()))
    }

    pub fn len(&self) -> usize {
        self.facilities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.facilities.is_empty()
    }

    pub fn facilities(&self) -> &[Facility] {
        &self.facilities
    }

    /// Where facility `id` sits in [`Index::facilities`].
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).map(|i| *i as usize)
    }

    pub fn get(&self, id: &str) -> Option<&Facility> {
        self.by_id.get(id).map(|i| &self.facilities[*i as usize])
    }

    /// Place `near` — a ZIP code (`21201` or `21201-1234`), `City, ST`, or `lat,lon`.
    pub fn geocode(&self, near: &str) -> Result<(f64, f64), GeocodeError> {
        let s = near.trim();
        if let Some((a, b)) = s.split_once(',') {
            if let (Ok(la), Ok(lo)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                return if crate::geo::valid(la, lo) {
                    Ok((la, lo))
                } else {
                    Err(GeocodeError(format!(
                        "{s:?} is not a valid latitude,longitude"
                    )))
                };
            }
            let (city, st) = (normalize(a), b.trim().to_uppercase());
            return self
                .cities
                .get(&(city, st.clone()))
                .copied()
                .ok_or_else(|| {
                    GeocodeError(format!(
                        "no treatment listing in a city called {:?}, {st}; try a ZIP code",
                        a.trim()
                    ))
                });
        }
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.len() == 5 && (s.len() == 5 || (s.len() == 10 && s.as_bytes()[5] == b'-')) {
            return zips().get(&digits).copied().ok_or_else(|| {
                GeocodeError(format!("ZIP code {digits} is not in the Census ZIP list"))
            });
        }
        if !digits.is_empty() {
            return Err(GeocodeError(format!(
                "{s:?} is not a ZIP code: use 5 digits, e.g. 21201"
            )));
        }
        // "Baltimore MD": a city and a two-letter state without the comma.
        if let Some((city, st)) = s.rsplit_once(char::is_whitespace)
            && st.len() == 2
            && st.chars().all(|c| c.is_ascii_alphabetic())
            && let Some(p) = self.cities.get(&(normalize(city), st.to_ascii_uppercase()))
        {
            return Ok(*p);
        }
        // A bare city name: where it names one place, that place; where
        // several states have it, ask which.
        let name = normalize(s);
        let mut states: Vec<(&str, (f64, f64))> = self
            .cities
            .iter()
            .filter(|((c, _), _)| *c == name)
            .map(|((_, st), p)| (st.as_str(), *p))
            .collect();
        states.sort_by(|a, b| a.0.cmp(b.0));
        match states.as_slice() {
            [(_, p)] => Ok(*p),
            [] => Err(GeocodeError(format!(
                "no treatment listing in a place called {s:?}: try a ZIP code, \"City, ST\" or \"latitude,longitude\""
            ))),
            many => {
                let city = title_case(s);
                Err(GeocodeError(format!(
                    "{city} is in more than one state ({}): add the state, e.g. \"{city}, {}\"",
                    many.iter()
                        .map(|(st, _)| *st)
                        .collect::<Vec<_>>()
                        .join(", "),
                    many[0].0
                )))
            }
        }
    }

    /// Facilities within the query's distance whose listing names no
    /// services, nearest first (ties by id), at most `limit`: what a
    /// filtered search cannot rule out. Empty when the query has no filter
    /// (they are among the results then).
    pub fn unlisted(&self, q: &Query, limit: usize) -> Vec<Hit<'_>> {
        if q.codes.is_empty() && q.any_of.is_empty() {
            return vec![];
        }
        let mut v: Vec<(f64, u32)> = self
            .unlisted
            .iter()
            .map(|i| {
                let f = &self.facilities[*i as usize];
                (haversine_mi(q.lat, q.lon, f.latitude, f.longitude), *i)
            })
            .filter(|(d, _)| q.radius_mi.is_none_or(|r| *d <= r))
            .collect();
        v.sort_by(|a, b| {
            a.0.total_cmp(&b.0).then_with(|| {
                self.facilities[a.1 as usize]
                    .id
                    .cmp(&self.facilities[b.1 as usize].id)
            })
        });
        v.into_iter()
            .take(limit)
            .map(|(d, i)| Hit {
                facility: &self.facilities[i as usize],
                distance_mi: d,
                position: i,
            })
            .collect()
    }

    /// Search: nearest first by whole-mile rings, within a ring reachable
    /// listings first (see [`RING_MI`]), paginated, with the total count.
    pub fn search(&self, q: &Query) -> SearchResult<'_> {
        let Some(filter) = self.filter(q) else {
            return SearchResult {
                total: 0,
                hits: vec![],
            };
        };
        let unfiltered =
            filter.all_mask == 0 && filter.all_rest.is_empty() && filter.groups.is_empty();
        let ok = |i: u32| unfiltered || self.passes(&filter, i);
        let origin = unit_vector(q.lat, q.lon);
        let page_size = q.page_size.max(1);
        let skip = (q.page.max(1) - 1) * page_size;
        let need = skip + page_size;
        let dist = |i: u32| {
            let f = &self.facilities[i as usize];
            haversine_mi(q.lat, q.lon, f.latitude, f.longitude)
        };
        let chord2 = |p: &[f64; 3]| {
            (p[0] - origin[0]).powi(2) + (p[1] - origin[1]).powi(2) + (p[2] - origin[2]).powi(2)
        };
        let key = |d: f64, i: u32| {
            (
                d,
                self.tiers[i as usize],
                self.facilities[i as usize].id.as_str(),
            )
        };
        // Candidates as (squared chord, index); chord order is great-circle order.
        let (total, mut top): (usize, Vec<(f64, u32)>) = match q.radius_mi {
            Some(r) => {
                let c = chord_for_miles(r);
                let (lo2, hi) = ((c * (1.0 - 1e-9)).powi(2), c * (1.0 + 1e-9) + 1e-12);
                // Clearly inside by chord, or settled by the exact haversine test at the edge.
                let inside: Vec<(f64, u32)> = self
                    .tree
                    .locate_within_distance(origin, hi * hi)
                    .filter(|p| ok(p.data))
                    .map(|p| (chord2(p.geom()), p.data))
                    .filter(|(c2, i)| *c2 <= lo2 || dist(*i) <= r)
                    .collect();
                (inside.len(), inside)
            }
            None => {
                let total = if unfiltered {
                    self.facilities.len()
                } else {
                    (0..self.facilities.len() as u32).filter(|i| ok(*i)).count()
                };
                // Nearest first until the ring of the last result needed is
                // complete (a farther listing in that ring may rank above).
                let mut v = vec![];
                let mut cut: Option<f64> = None;
                for p in self.tree.nearest_neighbor_iter(&origin) {
                    if !ok(p.data) {
                        continue;
                    }
                    let c2 = chord2(p.geom());
                    if cut.is_some_and(|c| c2 > c) {
                        break;
                    }
                    v.push((c2, p.data));
                    if v.len() == need {
                        cut = Some(ring_end_chord2(dist(p.data)));
                    }
                }
                (total, v)
            }
        };
        // Keep the first `need` by chord and the rest of the last one's ring,
        // then order exactly.
        if top.len() > need {
            top.select_nth_unstable_by(need - 1, |a, b| a.0.total_cmp(&b.0));
            let cut = ring_end_chord2(dist(top[need - 1].1));
            top.retain(|(c2, _)| *c2 <= cut);
        }
        let mut exact: Vec<(f64, u32)> = top.into_iter().map(|(_, i)| (dist(i), i)).collect();
        exact.sort_by(|a, b| order(key(a.0, a.1), key(b.0, b.1)));
        let hits = exact
            .into_iter()
            .skip(skip)
            .take(page_size)
            .map(|(d, i)| Hit {
                facility: &self.facilities[i as usize],
                distance_mi: d,
                position: i,
            })
            .collect();
        SearchResult { total, hits }
    }

    /// The same search by scanning every facility (the reference for tests and benchmarks).
    pub fn search_brute(&self, q: &Query) -> SearchResult<'_> {
        // Each facility's tier read from its listing here (not the index's
        // table), once, before sorting.
        let mut v: Vec<(f64, u8, &Facility, u32)> = self
            .facilities
            .iter()
            .zip(0u32..)
            .filter(|(f, _)| q.codes.iter().all(|c| f.codes.binary_search(c).is_ok()))
            .filter(|(f, _)| {
                q.any_of
                    .iter()
                    .all(|g| g.iter().any(|c| f.codes.binary_search(c).is_ok()))
            })
            .map(|(f, i)| (haversine_mi(q.lat, q.lon, f.latitude, f.longitude), f, i))
            .filter(|(d, _, _)| q.radius_mi.is_none_or(|r| *d <= r))
            .map(|(d, f, i)| (d, rank(f), f, i))
            .collect();
        v.sort_by(|a, b| order((a.0, a.1, &a.2.id), (b.0, b.1, &b.2.id)));
        let page_size = q.page_size.max(1);
        let total = v.len();
        let hits = v
            .into_iter()
            .skip((q.page.max(1) - 1) * page_size)
            .take(page_size)
            .map(|(d, _, f, i)| Hit {
                facility: f,
                distance_mi: d,
                position: i,
            })
            .collect();
        SearchResult { total, hits }
    }
}

/// "springfield" → "Springfield", for an example in a message.
fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    const POOL: [&str; 6] = ["METH", "BU", "MD", "PI", "SP", "PW"];

    fn synthetic(n: usize, seed: u64) -> Vec<Facility> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let mut codes: Vec<String> = POOL
                    .iter()
                    .filter(|_| rng.random_bool(0.4))
                    .map(|s| s.to_string())
                    .collect();
                codes.sort();
                Facility {
                    id: format!("{i:08}"),
                    name: format!("Facility {i}"),
                    name2: None,
                    street: format!("{i} Main St"),
                    city: ["Baltimore", "Towson", "Dover"][i % 3].into(),
                    state: ["MD", "MD", "DE"][i % 3].into(),
                    zip: "21201".into(),
                    phone: (i % 3 == 0).then(|| "(410) 555-0100".to_string()),
                    // A dense cluster plus nationwide spread; some exact duplicates of position.
                    latitude: if i % 7 == 0 {
                        39.29
                    } else {
                        rng.random_range(25.0..49.0)
                    },
                    longitude: if i % 7 == 0 {
                        -76.61
                    } else {
                        rng.random_range(-124.0..-67.0)
                    },
                    codes,
                    sources: vec![],
                    live: None,
                    updated: None,
                }
            })
            .collect()
    }

    #[test]
    fn reachable_listings_come_first_at_equal_distance() {
        let mut fs = synthetic(3, 4);
        for (i, f) in fs.iter_mut().enumerate() {
            f.latitude = 39.29 + 0.001 * i as f64;
            f.longitude = -76.61;
            f.codes = vec!["METH".into()];
        }
        fs[0].phone = None;
        fs[1].phone = None;
        fs[2].phone = Some("(410)555-0100x7".into());
        // A fourth, two miles away, with a phone: after the nearer ring.
        let mut far = fs[2].clone();
        far.id = "far".into();
        far.latitude = 39.32;
        fs.push(far);
        let idx = Index::new(fs);
        let q = Query {
            lat: 39.29,
            lon: -76.61,
            radius_mi: None,
            codes: vec![],
            any_of: vec![],
            page: 1,
            page_size: 10,
        };
        let order = ids(&idx.search(&q));
        assert_eq!(order, vec!["00000002", "00000000", "00000001", "far"]);
        assert_eq!(order, ids(&idx.search_brute(&q)));
    }

    fn ids(r: &SearchResult) -> Vec<String> {
        r.hits.iter().map(|h| h.facility.id.clone()).collect()
    }

    #[test]
    fn geocoding() {
        let idx = Index::new(synthetic(30, 1));
        let (la, lo) = idx.geocode("21201").unwrap();
        assert!(
            (la - 39.29).abs() < 0.05 && (lo + 76.62).abs() < 0.05,
            "{la},{lo}"
        );
        assert_eq!(
            idx.geocode("21201-1234").unwrap(),
            idx.geocode("21201").unwrap()
        );
        assert!(idx.geocode("baltimore, md").is_ok());
        assert!(idx.geocode("Springfield, ZZ").is_err());
        assert_eq!(idx.geocode("39.3, -76.6").unwrap(), (39.3, -76.6));
        assert!(idx.geocode("99999").is_err());
        assert!(idx.geocode("91.0,0").is_err());
        assert!(idx.geocode("hello").is_err());
        // The ways people type a place.
        let baltimore = idx.geocode("Baltimore, MD").unwrap();
        assert_eq!(idx.geocode("baltimore").unwrap(), baltimore);
        assert_eq!(idx.geocode("Baltimore MD").unwrap(), baltimore);
        assert_eq!(idx.geocode("  BALTIMORE md ").unwrap(), baltimore);
        assert!(idx.geocode("Towson").is_ok());
        let e = idx.geocode("2120").unwrap_err().0;
        assert!(e.contains("5 digits"), "{e}");
        let e = idx.geocode("Nowhere Special").unwrap_err().0;
        assert!(e.contains("ZIP code"), "{e}");
    }

    #[test]
    fn listings_without_services_are_shown_apart_from_filtered_results() {
        let mut fs = synthetic(40, 3);
        for f in fs.iter_mut().take(10) {
            f.codes.clear();
        }
        let without = fs.iter().filter(|f| f.codes.is_empty()).count();
        assert!(without >= 10);
        let idx = Index::new(fs);
        let (lat, lon) = (39.29, -76.61);
        let mut q = Query {
            lat,
            lon,
            radius_mi: None,
            codes: vec!["METH".into()],
            any_of: vec![],
            page: 1,
            page_size: 100,
        };
        let matched = idx.search(&q);
        let apart = idx.unlisted(&q, 100);
        assert_eq!(apart.len(), without);
        assert!(apart.iter().all(|h| h.facility.codes.is_empty()));
        assert!(
            apart
                .windows(2)
                .all(|w| w[0].distance_mi <= w[1].distance_mi),
            "nearest first"
        );
        assert!(
            matched.hits.iter().all(|h| !h.facility.codes.is_empty()),
            "never among the matches"
        );
        assert_eq!(idx.unlisted(&q, 3).len(), 3);
        q.radius_mi = Some(1.0);
        assert!(idx.unlisted(&q, 100).iter().all(|h| h.distance_mi <= 1.0));
        q.codes.clear();
        assert!(
            idx.unlisted(&q, 100).is_empty(),
            "no filter: they are results"
        );
    }

    #[test]
    fn a_city_in_several_states_asks_which() {
        let mut fs = synthetic(6, 2);
        fs[3].city = "Springfield".into();
        fs[3].state = "IL".into();
        fs[4].city = "Springfield".into();
        fs[4].state = "MA".into();
        let idx = Index::new(fs);
        let e = idx.geocode("springfield").unwrap_err().0;
        assert!(e.contains("IL, MA") && e.contains("Springfield, IL"), "{e}");
        assert!(idx.geocode("Springfield MA").is_ok());
        assert!(idx.geocode("Springfield, IL").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn index_equals_brute_force(seed in 0u64..1000, lat in 25.0f64..49.0, lon in -124.0f64..-67.0,
            radius in proptest::option::of(prop_oneof![Just(5.0), Just(25.0), Just(100.0), 1.0f64..3000.0]),
            ncodes in 0usize..3, page in 1usize..4, page_size in 1usize..30) {
            let idx = Index::new(synthetic(600, seed));
            let codes: Vec<String> = POOL.iter().take(ncodes).map(|s| s.to_string()).collect();
            let any_of = if seed % 3 == 0 { vec![vec!["BU".to_string(), "SP".to_string()]] } else { vec![] };
            let q = Query { lat, lon, radius_mi: radius, codes, any_of, page, page_size };
            let a = idx.search(&q);
            let b = idx.search_brute(&q);
            prop_assert_eq!(a.total, b.total);
            prop_assert_eq!(ids(&a), ids(&b));
        }
    }

    #[test]
    fn cluster_ties_are_stable() {
        let idx = Index::new(synthetic(700, 9));
        let q = Query {
            lat: 39.29,
            lon: -76.61,
            radius_mi: None,
            codes: vec![],
            any_of: vec![],
            page: 2,
            page_size: 10,
        };
        assert_eq!(ids(&idx.search(&q)), ids(&idx.search_brute(&q)));
        let q = Query {
            codes: vec!["NOPE".into()],
            ..q
        };
        assert_eq!(idx.search(&q).total, 0);
    }
}
