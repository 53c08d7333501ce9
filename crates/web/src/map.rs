//! The offline map: U.S. state outlines (lower 48; us-atlas 3.0.1, Census
//! cartographic boundaries, vendored by `scripts/vendor-map.sh`) served as one
//! cacheable SVG, and result maps drawn over it in the same equirectangular
//! projection. No tile server, no third-party request.

use std::sync::OnceLock;

pub const WIDTH: f64 = 570.0;
pub const HEIGHT: f64 = 315.0;

/// Project (lat, lon) to map coordinates (must match scripts/vendor-map.sh).
pub fn project(lat: f64, lon: f64) -> (f64, f64) {
    ((lon + 125.0) * 0.8 * 12.0, (50.0 - lat) * 12.0)
}

/// The states as one SVG document.
pub fn states_svg() -> &'static str {
    static SVG: OnceLock<String> = OnceLock::new();
    SVG.get_or_init(|| {
        let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\"><g fill=\"#eef1f4\" stroke=\"#8a96a3\" stroke-width=\"0.4\">");
        for line in include_str!("../assets/map/us-states.svgpath").lines() {
            if let Some((name, path)) = line.split_once('\t') {
                s.push_str(&format!("<path d=\"{path}\"><title>{name}</title></path>"));
            }
        }
        s.push_str("</g></svg>");
        s
    })
}

/// A point on a result map.
pub struct Pin {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub number: usize,
}

/// The view box around the search point and results (at least ~2° wide), as
/// "x y w h", and a marker radius that stays readable at that zoom.
pub fn view_box(center: (f64, f64), pins: &[Pin]) -> (String, f64) {
    let (mut x0, mut y0, mut x1, mut y1) = (center.0, center.1, center.0, center.1);
    for p in pins {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    let pad = 2.0;
    let (mut w, mut h) = (x1 - x0 + 2.0 * pad, y1 - y0 + 2.0 * pad);
    // Keep the map's aspect ratio and a sensible minimum size.
    let min_w = 40.0;
    w = w.max(min_w).max(h * WIDTH / HEIGHT);
    h = w * HEIGHT / WIDTH;
    let cx = (x0 + x1) / 2.0;
    let cy = (y0 + y1) / 2.0;
    (
        format!("{:.1} {:.1} {:.1} {:.1}", cx - w / 2.0, cy - h / 2.0, w, h),
        w / 90.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_and_assets() {
        let (x, y) = project(39.29, -76.61);
        assert!((0.0..WIDTH).contains(&x) && (0.0..HEIGHT).contains(&y));
        assert!(
            states_svg().matches("<path").count() >= 49,
            "48 states and DC"
        );
        let (vb, r) = view_box((x, y), &[]);
        assert_eq!(vb.split(' ').count(), 4);
        assert!(r > 0.0);
    }
}
