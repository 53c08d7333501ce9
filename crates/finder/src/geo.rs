//! Great-circle geometry. Distances use the haversine formula on a sphere of
//! mean Earth radius 3,958.8 miles (IUGG mean radius 6,371.0088 km).

pub const EARTH_RADIUS_MI: f64 = 3958.7613;

/// Great-circle distance in miles between two (lat, lon) points in degrees.
pub fn haversine_mi(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MI * a.sqrt().min(1.0).asin()
}

/// The point on the unit sphere for (lat, lon) in degrees. The straight-line
/// (chord) distance between two such points grows monotonically with their
/// great-circle distance, so an R-tree over these points answers radius and
/// nearest queries exactly.
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// The chord length on the unit sphere for a great-circle distance in miles.
pub fn chord_for_miles(miles: f64) -> f64 {
    2.0 * (miles / (2.0 * EARTH_RADIUS_MI))
        .min(std::f64::consts::FRAC_PI_2)
        .sin()
}

/// Whether a coordinate pair is a plausible position.
pub fn valid(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
        && !(lat == 0.0 && lon == 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distance() {
        // Baltimore (39.2904, -76.6122) to Philadelphia (39.9526, -75.1652): about 90 miles.
        let d = haversine_mi(39.2904, -76.6122, 39.9526, -75.1652);
        assert!((d - 89.9).abs() < 1.0, "{d}");
        assert_eq!(haversine_mi(10.0, 20.0, 10.0, 20.0), 0.0);
    }

    #[test]
    fn chord_is_monotone_with_distance() {
        let a = unit_vector(39.0, -76.0);
        let chord = |b: [f64; 3]| {
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        for miles in [1.0, 10.0, 100.0, 1000.0] {
            let lat2 = 39.0 + miles / 69.0;
            let d = haversine_mi(39.0, -76.0, lat2, -76.0);
            assert!((chord(unit_vector(lat2, -76.0)) - chord_for_miles(d)).abs() < 1e-9);
        }
    }
}
