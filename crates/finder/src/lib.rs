//! The treatment finder's core: the facility model (SAMHSA service codes),
//! import of the SAMHSA directory files, offline geocoding, and an in-memory
//! spatial index whose results equal a brute-force great-circle scan.
//! No database and no network: callers persist and serve.

pub mod codes;
pub mod geo;
pub mod import;
pub mod index;
pub mod model;
pub mod selfscreen;

pub use index::{Index, Query, SearchResult};
pub use model::Facility;
