//! The user's most recent event ids, so a redelivered event (the same
//! `event_id` read again after a restart or a rebalance) is recognised and
//! not counted twice.
//!
//! Ids are kept as 32-bit hashes in a small ring, allocated on the first
//! event that carries an id: users whose producer sends no ids pay nothing.
//! With 16 ids remembered, a new id is mistaken for a recent one about
//! once in 270 million events, which costs that one event.

use xxhash_rust::xxh3::xxh3_64;

/// A bounded memory of recent event ids.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RecentIds {
    hashes: Vec<u32>,
    /// Where the next hash goes once the ring is full.
    next: usize,
}

impl RecentIds {
    /// Whether `id` was seen among the last `capacity` ids.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.hashes.contains(&hash(id))
    }

    /// Remembers `id`, forgetting the oldest once `capacity` are held.
    pub fn insert(&mut self, id: &str, capacity: usize) {
        if capacity == 0 {
            return;
        }
        let hash = hash(id);
        if self.hashes.len() < capacity {
            if self.hashes.capacity() == 0 {
                self.hashes.reserve_exact(capacity);
            }
            self.hashes.push(hash);
            return;
        }
        self.next %= self.hashes.len();
        self.hashes[self.next] = hash;
        self.next += 1;
    }

    /// Heap bytes held.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * std::mem::size_of::<u32>()
    }
}

fn hash(id: &str) -> u32 {
    // The low half of a 64-bit hash is as well mixed as the whole.
    #[allow(clippy::cast_possible_truncation, reason = "keeping the low 32 bits")]
    let low = xxh3_64(id.as_bytes()) as u32;
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_recognised_until_it_ages_out() {
        let mut ids = RecentIds::default();
        ids.insert("e-1", 3);
        ids.insert("e-2", 3);
        assert!(ids.contains("e-1"));
        assert!(!ids.contains("e-9"));

        ids.insert("e-3", 3);
        ids.insert("e-4", 3);

        assert!(!ids.contains("e-1"), "the oldest id is forgotten first");
        assert!(ids.contains("e-2") && ids.contains("e-3") && ids.contains("e-4"));
    }

    #[test]
    fn users_without_ids_hold_no_memory() {
        let ids = RecentIds::default();
        assert_eq!(ids.heap_bytes(), 0);
        let mut disabled = RecentIds::default();
        disabled.insert("e-1", 0);
        assert!(!disabled.contains("e-1"));
    }
}
