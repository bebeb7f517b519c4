//! Per-key request counters for the per-second rate and the daily quota.

/// Counters of one key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyCounter {
    /// The key's public id.
    pub key_id: Box<str>,
    /// The epoch second `in_second` counts.
    pub second: i64,
    /// Requests in that second.
    pub in_second: u32,
    /// The local day `in_day` counts.
    pub day: i32,
    /// Requests in that day.
    pub in_day: u32,
}

impl KeyCounter {
    /// Requests in `second` before this one.
    #[must_use]
    pub fn count_in_second(&self, second: i64) -> u32 {
        if self.second == second {
            self.in_second
        } else {
            0
        }
    }

    /// Requests on local `day` before this one.
    #[must_use]
    pub fn count_in_day(&self, day: i32) -> u32 {
        if self.day == day { self.in_day } else { 0 }
    }
}

/// The bounded set of a user's key counters, evicting the stalest key.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyUsage {
    counters: Vec<KeyCounter>,
}

impl KeyUsage {
    /// The counters of `key_id`, if it has been seen.
    #[must_use]
    pub fn get(&self, key_id: &str) -> Option<&KeyCounter> {
        self.counters.iter().find(|c| &*c.key_id == key_id)
    }

    /// Keys tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether no key is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Counts one request of `key_id` at `second` on local `day`. Events
    /// older than the current second or day do not move the counters back.
    pub fn record(&mut self, key_id: &str, second: i64, day: i32, capacity: usize) {
        let index = match self.counters.iter().position(|c| &*c.key_id == key_id) {
            Some(index) => index,
            None => self.insert(key_id, second, day, capacity),
        };
        let counter = &mut self.counters[index];
        if second > counter.second {
            counter.second = second;
            counter.in_second = 0;
        }
        if second == counter.second {
            counter.in_second = counter.in_second.saturating_add(1);
        }
        if day > counter.day {
            counter.day = day;
            counter.in_day = 0;
        }
        if day == counter.day {
            counter.in_day = counter.in_day.saturating_add(1);
        }
    }

    fn insert(&mut self, key_id: &str, second: i64, day: i32, capacity: usize) -> usize {
        if self.counters.len() >= capacity.max(1)
            && let Some(stalest) = (0..self.counters.len()).min_by_key(|&i| self.counters[i].second)
        {
            self.counters.swap_remove(stalest);
        }
        self.counters.reserve_exact(1);
        self.counters.push(KeyCounter {
            key_id: key_id.into(),
            second,
            in_second: 0,
            day,
            in_day: 0,
        });
        self.counters.len() - 1
    }

    /// Heap bytes held by key ids and the table.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.counters.capacity() * std::mem::size_of::<KeyCounter>()
            + self.counters.iter().map(|c| c.key_id.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_with_each_new_second_and_day() {
        let mut keys = KeyUsage::default();
        keys.record("ak_1", 100, 5, 4);
        keys.record("ak_1", 100, 5, 4);
        keys.record("ak_1", 101, 5, 4);
        let counter = keys.get("ak_1").unwrap();
        assert_eq!(
            (counter.count_in_second(101), counter.count_in_day(5)),
            (1, 3)
        );
        keys.record("ak_1", 90_000, 6, 4);
        assert_eq!(keys.get("ak_1").unwrap().count_in_day(6), 1);
    }

    #[test]
    fn late_events_do_not_reset_counters() {
        let mut keys = KeyUsage::default();
        keys.record("ak_1", 100, 5, 4);
        keys.record("ak_1", 99, 5, 4);
        let counter = keys.get("ak_1").unwrap();
        assert_eq!(
            (counter.count_in_second(100), counter.count_in_day(5)),
            (1, 2)
        );
    }

    #[test]
    fn the_stalest_key_is_evicted_at_capacity() {
        let mut keys = KeyUsage::default();
        keys.record("ak_old", 1, 0, 2);
        keys.record("ak_new", 5, 0, 2);
        keys.record("dk_third", 6, 0, 2);
        assert!(keys.get("ak_old").is_none());
        assert_eq!(keys.len(), 2);
    }
}
