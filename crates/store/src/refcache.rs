//! A small cache of a program's reference data — the program row, its
//! protocol settings, its formulary and its closure days — which every
//! request at the dosing window reads and almost nothing writes.
//!
//! Users' roles are cached the same way (grants and revocations mark).
//!
//! Correctness rests on a generation counter: every unit of work that
//! writes reference data marks itself ([`crate::Tx::changes_reference`]),
//! and its commit bumps the generation. An entry is used only while the
//! generation it was read under is current, so in this process a reader
//! never sees reference data older than the last commit that changed it
//! (the generation is read *before* the database, so a write that lands
//! during the read invalidates what was read). Another process writing the
//! same PostgreSQL database is seen within [`TTL`].

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is trusted at most (changes made by other processes).
pub const TTL: Duration = Duration::from_secs(2);

type Entry = (u64, Instant, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub(crate) struct RefCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl RefCache {
    /// The generation now; read it before reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Reference data changed: every entry is stale.
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut m) = self.entries.lock() {
            m.clear();
        }
    }

    pub(crate) fn get<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        let generation = self.generation();
        let m = self.entries.lock().ok()?;
        let (g, at, v) = m.get(key)?;
        if *g != generation || at.elapsed() > TTL {
            return None;
        }
        v.downcast_ref::<T>().cloned()
    }

    /// Keep `v`, read under generation `g` (dropped if that is already past).
    pub(crate) fn put<T: Send + Sync + 'static>(&self, key: String, g: u64, v: T) {
        if g != self.generation() {
            return;
        }
        if let Ok(mut m) = self.entries.lock() {
            m.insert(key, (g, Instant::now(), Arc::new(v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_invalidates_and_a_stale_read_is_not_kept() {
        let c = RefCache::default();
        let g = c.generation();
        c.put("k".into(), g, 1u32);
        assert_eq!(c.get::<u32>("k"), Some(1));
        c.bump();
        assert_eq!(c.get::<u32>("k"), None);
        // Read under the old generation, stored after the bump: dropped.
        c.put("k".into(), g, 2u32);
        assert_eq!(c.get::<u32>("k"), None);
        assert_eq!(c.get::<String>("k"), None);
    }
}
