//! The ledger: which partition and offset each input line came from, until
//! the line is processed and its offset can be stored for commit.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::time::Timestamp;

/// Where a message was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The message's offset.
    pub offset: i64,
}

/// One line read and not yet settled.
#[derive(Debug, Clone)]
struct Entry {
    line: u64,
    position: Position,
    /// Event time every partition read so far had reached when the line
    /// was read.
    watermark: Option<Timestamp>,
}

/// Lines read but not yet processed, in line order. Shared by the source,
/// which appends, and the sink, which looks up dead letters and settles
/// processed lines.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<VecDeque<Entry>>>,
}

impl Ledger {
    /// Records that input line `line` is the message at `position`, read
    /// when every partition had delivered events up to `watermark`.
    pub fn push(&self, line: u64, position: Position, watermark: Option<Timestamp>) {
        self.lock().push_back(Entry {
            line,
            position,
            watermark,
        });
    }

    /// Where line `line` came from, while it is unsettled.
    #[must_use]
    pub fn position_of(&self, line: u64) -> Option<Position> {
        self.find(line, |entry| entry.position.clone())
    }

    /// The event-time watermark when line `line` was read, while it is
    /// unsettled.
    #[must_use]
    pub fn watermark_at(&self, line: u64) -> Option<Timestamp> {
        self.find(line, |entry| entry.watermark).flatten()
    }

    fn find<T>(&self, line: u64, read: impl FnOnce(&Entry) -> T) -> Option<T> {
        let entries = self.lock();
        let index = entries.binary_search_by_key(&line, |e| e.line).ok()?;
        Some(read(&entries[index]))
    }

    /// Removes every line up to `line`; returns, per topic and partition,
    /// the offset to commit next (one past the last settled message).
    #[must_use]
    pub fn settle_through(&self, line: u64) -> BTreeMap<(Arc<str>, i32), i64> {
        let mut entries = self.lock();
        let mut next = BTreeMap::new();
        while let Some(Entry { position, .. }) = entries.pop_front_if(|e| e.line <= line) {
            let slot = next
                .entry((position.topic, position.partition))
                .or_insert(0);
            *slot = position.offset.max(*slot - 1) + 1;
        }
        next
    }

    /// Forgets the unsettled lines of partitions taken away by a rebalance:
    /// their events will be delivered to the partition's next owner.
    pub fn forget_partitions(&self, revoked: &[(String, i32)]) {
        self.lock().retain(|Entry { position, .. }| {
            !revoked.iter().any(|(topic, partition)| {
                *topic == *position.topic && *partition == position.partition
            })
        });
    }

    /// Lines read and not yet settled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether every line read is settled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // A panic elsewhere cannot leave the queue half-updated: every
        // change is a single push, pop or retain.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: &Arc<str>, partition: i32, offset: i64) -> Position {
        Position {
            topic: Arc::clone(topic),
            partition,
            offset,
        }
    }

    #[test]
    fn settling_commits_one_past_the_last_processed_offset_per_partition() {
        let topic: Arc<str> = Arc::from("events");
        let ledger = Ledger::default();
        ledger.push(1, at(&topic, 0, 10), None);
        ledger.push(2, at(&topic, 1, 4), None);
        ledger.push(3, at(&topic, 0, 11), Some(Timestamp(7)));
        ledger.push(4, at(&topic, 1, 5), Some(Timestamp(9)));
        assert_eq!(ledger.watermark_at(3), Some(Timestamp(7)));

        let next = ledger.settle_through(3);

        assert_eq!(next[&(Arc::clone(&topic), 0)], 12);
        assert_eq!(next[&(Arc::clone(&topic), 1)], 5);
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger.position_of(4), Some(at(&topic, 1, 5)));
        assert_eq!(ledger.position_of(3), None, "settled lines are gone");
    }

    #[test]
    fn revoked_partitions_leave_the_ledger() {
        let topic: Arc<str> = Arc::from("events");
        let ledger = Ledger::default();
        ledger.push(1, at(&topic, 0, 1), None);
        ledger.push(2, at(&topic, 2, 1), None);
        ledger.forget_partitions(&[("events".to_owned(), 2)]);
        assert_eq!(ledger.len(), 1);
        assert!(ledger.settle_through(2).keys().all(|(_, p)| *p == 0));
    }
}
