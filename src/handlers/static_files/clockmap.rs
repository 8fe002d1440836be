//! A bounded, sharded map with CLOCK eviction: the storage under the static responder's caches.
//!
//! Keys are strings, values are cheap to clone (`Arc`s). The map is split into [`SHARDS`]
//! shards, each behind its own `std::sync::RwLock`, so lookups from several runtime threads
//! take read locks on different shards and never wait on a single global mutex. Each shard
//! holds at most `max_bytes / SHARDS` bytes (weights given by the caller) and
//! `max_entries / SHARDS` entries; inserting past either evicts with CLOCK (second chance):
//! a hit sets an entry's reference bit (one relaxed atomic store, under the read lock), the
//! hand clears set bits and evicts the first entry found clear. O(1) amortised, no list to
//! reorder on a hit (which LRU would need, with a write lock).

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Shards per map (16): enough that two to a few dozen runtime threads rarely meet on one
/// lock, few enough that the per-shard byte budget still holds the largest cached file.
pub(super) const SHARDS: usize = 16;

/// A bounded string-keyed map with CLOCK eviction, sharded by key hash.
pub(super) struct ClockMap<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    /// Byte budget of one shard.
    shard_bytes: usize,
    /// Entry budget of one shard.
    shard_entries: usize,
}

struct Shard<V> {
    /// foldhash, seeded per map at random: a client cannot choose paths that collide, and
    /// it costs a tenth of SipHash on a short path.
    index: HashMap<String, usize, RandomState>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
}

struct Slot<V> {
    key: String,
    value: V,
    weight: usize,
    referenced: AtomicBool,
}

impl<V: Clone> ClockMap<V> {
    /// A map holding at most `max_bytes` of weight and `max_entries` entries in all (each
    /// shard gets an equal share, at least one entry).
    pub(super) fn new(max_bytes: usize, max_entries: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                RwLock::new(Shard {
                    index: HashMap::default(),
                    slots: Vec::new(),
                    free: Vec::new(),
                    hand: 0,
                    bytes: 0,
                })
            })
            .collect();
        ClockMap {
            shards,
            shard_bytes: max_bytes / SHARDS,
            shard_entries: (max_entries / SHARDS).max(1),
        }
    }

    /// The shard for `key`, picked by FNV-1a: cheap, where the shard's own map hashes the key
    /// again with a seeded hash. A client crafting paths into one shard only makes them share
    /// a lock; each shard's map stays resistant to collisions.
    fn shard(&self, key: &str) -> &RwLock<Shard<V>> {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// The value under `key`, marking it recently used.
    pub(super) fn get(&self, key: &str) -> Option<V> {
        let shard = read(self.shard(key));
        let &at = shard.index.get(key)?;
        let slot = shard.slots[at].as_ref()?;
        // Store only when clear: a hot entry's cache line is then only read by hits.
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(slot.value.clone())
    }

    /// Put `value` under `key` with `weight` bytes, evicting others as needed. Returns false
    /// (and stores nothing, removing any old value) when `weight` exceeds one shard's budget.
    pub(super) fn insert(&self, key: String, value: V, weight: usize) -> bool {
        let mut shard = write(self.shard(&key));
        if let Some(at) = shard.index.remove(&key) {
            shard.release(at);
        }
        if weight > self.shard_bytes {
            return false;
        }
        while shard.bytes + weight > self.shard_bytes || shard.index.len() >= self.shard_entries {
            if !shard.evict_one() {
                break;
            }
        }
        let slot = Slot {
            key: key.clone(),
            value,
            weight,
            // New entries start unreferenced: a one-off request (a scan, a 404 flood) is the
            // first to go, and a second hit earns the second chance.
            referenced: AtomicBool::new(false),
        };
        let at = match shard.free.pop() {
            Some(at) => {
                shard.slots[at] = Some(slot);
                at
            }
            None => {
                shard.slots.push(Some(slot));
                shard.slots.len() - 1
            }
        };
        shard.bytes += weight;
        shard.index.insert(key, at);
        true
    }

    /// Remove `key` if present.
    pub(super) fn remove(&self, key: &str) {
        let mut shard = write(self.shard(key));
        if let Some(at) = shard.index.remove(key) {
            shard.release(at);
        }
    }

    /// Total weight held, over all shards.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| read(s).bytes).sum()
    }

    /// Entries held, over all shards.
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).index.len()).sum()
    }
}

impl<V> Shard<V> {
    /// Free slot `at` (already removed from the index).
    fn release(&mut self, at: usize) {
        if let Some(slot) = self.slots[at].take() {
            self.bytes -= slot.weight;
            self.free.push(at);
        }
    }

    /// Advance the hand to the first unreferenced entry, clearing bits on the way, and evict
    /// it. At most two sweeps: the first clears every bit. False when the shard is empty.
    fn evict_one(&mut self) -> bool {
        let n = self.slots.len();
        for _ in 0..2 * n {
            let at = self.hand;
            self.hand = (self.hand + 1) % n;
            let Some(slot) = &self.slots[at] else {
                continue;
            };
            if slot.referenced.swap(false, Ordering::Relaxed) {
                continue;
            }
            let key = slot.key.clone();
            self.index.remove(&key);
            self.release(at);
            return true;
        }
        false
    }
}

/// A poisoned lock only means another thread panicked mid-update of a cache: the map's
/// invariants hold between statements, so keep serving.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::{ClockMap, SHARDS};

    #[test]
    fn byte_cap_holds_under_many_inserts() {
        let map: ClockMap<u32> = ClockMap::new(SHARDS * 1000, 1_000_000);
        for i in 0..10_000u32 {
            map.insert(format!("k{i}"), i, 100);
            assert!(map.bytes() <= SHARDS * 1000);
        }
        assert!(map.len() <= SHARDS * 10);
        assert!(map.len() >= SHARDS * 5, "shards are used, not emptied");
    }

    #[test]
    fn entry_cap_holds() {
        let map: ClockMap<u32> = ClockMap::new(usize::MAX / 2, SHARDS * 4);
        for i in 0..1000u32 {
            map.insert(format!("k{i}"), i, 1);
        }
        assert!(map.len() <= SHARDS * 4);
    }

    #[test]
    fn referenced_entries_get_a_second_chance() {
        // One shard's worth of budget per shard: 4 entries of weight 1.
        let map: ClockMap<u32> = ClockMap::new(usize::MAX / 2, SHARDS * 4);
        map.insert("hot".into(), 0, 1);
        for i in 0..1000u32 {
            assert_eq!(map.get("hot"), Some(0), "after {i} inserts");
            map.insert(format!("cold{i}"), i, 1);
        }
    }

    #[test]
    fn too_heavy_is_refused_and_replacing_updates_weight() {
        let map: ClockMap<u32> = ClockMap::new(SHARDS * 100, 100);
        assert!(!map.insert("big".into(), 1, 101));
        assert_eq!(map.get("big"), None);
        assert!(map.insert("k".into(), 1, 60));
        assert!(map.insert("k".into(), 2, 40));
        assert_eq!(map.get("k"), Some(2));
        assert_eq!(map.bytes(), 40);
        map.remove("k");
        assert_eq!((map.bytes(), map.len()), (0, 0));
    }
}
