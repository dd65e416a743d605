//! A process-local cache of committed aggregates, so a batch reads from
//! PostgreSQL only what this process has not seen.
//!
//! Coherence: every apply transaction bumps the single row of
//! `apply_version` first (which is also what serializes batches across
//! processes). A transaction that finds the version its cache was filled at
//! knows nobody else wrote since; otherwise the cache is dropped. Only
//! committed state enters the cache, so a failed transaction leaves it as it
//! was. With one worker the cache stays warm; with several, each batch after
//! another process's starts cold — results are the same either way.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::domain::model::{Doc, Key};

/// Keys come from producers' ids: a keyed hash (DoS-resistant), but a fast one.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

struct Entry {
    doc: Option<Doc>,
    /// When it was last read or written, for eviction. Atomic only so that
    /// reads can go through `&self` while a batch borrows the cache; the
    /// cache is used by one batch at a time.
    used: AtomicU64,
}

pub struct DocCache {
    docs: HashMap<Key, Entry>,
    /// The `apply_version` the entries are valid for.
    version: Option<i64>,
    tick: AtomicU64,
    capacity: usize,
}

impl DocCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            docs: HashMap::default(),
            version: None,
            tick: AtomicU64::new(0),
            capacity,
        }
    }

    /// Keeps the entries if they were filled at `version`, drops them otherwise.
    pub fn validate(&mut self, version: i64) {
        if self.version != Some(version) {
            self.docs.clear();
            self.version = Some(version);
        }
    }

    /// Forgets everything (e.g. after a commit whose outcome is unknown).
    pub fn invalidate(&mut self) {
        self.docs.clear();
        self.version = None;
    }

    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, Relaxed) + 1
    }

    /// `Some(None)`: known not to exist; `None`: not cached.
    pub fn get(&self, key: &Key) -> Option<&Option<Doc>> {
        let entry = self.docs.get(key)?;
        entry.used.store(self.next_tick(), Relaxed);
        Some(&entry.doc)
    }

    /// Records the state a committed transaction left, valid at `version`.
    pub fn commit(&mut self, version: i64, docs: impl IntoIterator<Item = (Key, Option<Doc>)>) {
        self.version = Some(version);
        for (key, doc) in docs {
            let used = AtomicU64::new(self.next_tick());
            self.docs.insert(key, Entry { doc, used });
        }
        self.evict();
    }

    /// Drops entries a batch wrote ahead of its commit (and no longer holds).
    pub fn forget<'k>(&mut self, keys: impl IntoIterator<Item = &'k Key>) {
        for key in keys {
            self.docs.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Least recently used first, down to 90 % of the capacity, so eviction
    /// runs once per many batches rather than on every insert.
    fn evict(&mut self) {
        if self.docs.len() <= self.capacity {
            return;
        }
        let keep = self.capacity * 9 / 10;
        let mut ticks: Vec<u64> = self.docs.values().map(|e| e.used.load(Relaxed)).collect();
        let cut = ticks.len() - keep;
        let (_, threshold, _) = ticks.select_nth_unstable(cut);
        let threshold = *threshold;
        self.docs.retain(|_, e| e.used.load(Relaxed) >= threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Aggregate, Product};
    use crate::wire::values::ProductId;

    fn doc(id: &str) -> (Key, Option<Doc>) {
        let p = Product::new(ProductId::from(id));
        (p.key(), Some(p.into_doc()))
    }

    #[test]
    fn entries_live_only_as_long_as_the_version_matches() {
        let mut cache = DocCache::new(10);
        cache.commit(1, [doc("a")]);
        cache.validate(1);
        assert!(cache.get(&doc("a").0).is_some());
        cache.validate(2);
        assert!(cache.get(&doc("a").0).is_none(), "another process wrote in between");
    }

    #[test]
    fn the_least_recently_used_entries_are_evicted_beyond_the_capacity() {
        let mut cache = DocCache::new(10);
        cache.commit(1, (0..10).map(|i| doc(&format!("p{i}"))));
        assert!(cache.get(&doc("p0").0).is_some(), "touch p0");
        cache.commit(2, [doc("p10")]);
        assert_eq!(cache.len(), 9);
        assert!(cache.get(&doc("p0").0).is_some(), "recently used survives");
        assert!(cache.get(&doc("p1").0).is_none(), "least recently used goes");
    }
}
