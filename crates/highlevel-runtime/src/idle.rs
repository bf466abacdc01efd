//! Per-resource state (rate-limit budgets, refresh locks, cached sessions) is dropped once
//! idle, so a handle's memory follows the resources in use, not every resource it ever
//! called.
//!
//! Each map sweeps itself when it has doubled since its last sweep: the cost is amortized
//! over the insertions, and a map of resources in steady use is never swept twice in a row.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// How long a cached session may go unused before it is dropped (read again from the token
/// store on next use).
pub(crate) const IDLE_AFTER: Duration = Duration::from_secs(30);

/// The size under which a map is never swept.
const SMALLEST_SWEPT: usize = 1_024;

/// A map that drops entries `keep` refuses once it has doubled since the last sweep.
#[derive(Debug)]
pub(crate) struct SweptMap<K, V> {
    entries: HashMap<K, V>,
    sweep_at: usize,
}

impl<K, V> Default for SweptMap<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            sweep_at: SMALLEST_SWEPT,
        }
    }
}

impl<K: Eq + Hash, V> SweptMap<K, V> {
    pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.entries.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values()
    }

    /// The entry at `key`, made by `make` when absent; a new entry may first sweep out the
    /// entries `keep` says are idle (never the new one).
    pub(crate) fn entry_or_insert_with(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        keep: impl FnMut(&K, &mut V) -> bool,
    ) -> &mut V
    where
        K: Clone,
    {
        if !self.entries.contains_key(&key) {
            self.sweep_if_due(keep);
        }
        self.entries.entry(key).or_insert_with(make)
    }

    /// Inserts `value` at `key`, sweeping first when due.
    pub(crate) fn insert(&mut self, key: K, value: V, keep: impl FnMut(&K, &mut V) -> bool) {
        if !self.entries.contains_key(&key) {
            self.sweep_if_due(keep);
        }
        self.entries.insert(key, value);
    }

    fn sweep_if_due(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        if self.entries.len() < self.sweep_at {
            return;
        }
        self.entries.retain(keep);
        self.sweep_at = (self.entries.len() * 2).max(SMALLEST_SWEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_entries_go_when_the_map_doubles_and_busy_ones_stay() {
        let mut map = SweptMap::default();
        for i in 0..SMALLEST_SWEPT {
            map.insert(i, i % 2 == 0, |_, busy| *busy);
        }
        assert_eq!(map.len(), SMALLEST_SWEPT, "not swept before it is due");
        map.insert(SMALLEST_SWEPT, false, |_, busy| *busy);
        assert_eq!(map.len(), SMALLEST_SWEPT / 2 + 1, "the idle half went");
        assert_eq!(
            map.get(&SMALLEST_SWEPT),
            Some(&false),
            "never the new entry"
        );
        assert!(map.values().filter(|busy| **busy).count() == SMALLEST_SWEPT / 2);
        // The next sweep waits for the map to reach the smallest swept size again.
        for i in 0..SMALLEST_SWEPT / 2 - 1 {
            map.insert(10_000 + i, false, |_, busy| *busy);
        }
        assert_eq!(map.len(), SMALLEST_SWEPT);
        let value = map.entry_or_insert_with(99_999, || true, |_, busy| *busy);
        assert!(*value);
        assert_eq!(map.len(), SMALLEST_SWEPT / 2 + 1);
    }
}
