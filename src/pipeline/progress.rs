//! How far the input has come: the input line every shard has passed, and
//! the event time up to which quiet incidents can be resolved.

use crate::time::{SECOND_MS, Timestamp};

/// Event time the watermark must advance between two sweeps of quiet
/// incidents, in milliseconds.
const SWEEP_EVERY_MS: i64 = 60 * SECOND_MS;

/// Whose event time decides how far the input has come.
#[derive(Debug, Clone, Copy)]
pub(super) enum Clock {
    /// The slowest shard's latest event.
    Shards,
    /// The source's own watermark (unknown until every partition has one).
    Source(Option<Timestamp>),
}

/// The event time every shard has reached, less the lateness allowance:
/// signals of events older than that are not expected any more, so
/// incidents quiet since before it can be resolved.
pub(super) struct Watermark {
    pub(super) latest: Vec<Option<Timestamp>>,
    margin_ms: i64,
    pub(super) swept: Option<Timestamp>,
}

impl Watermark {
    pub(super) fn new(shards: usize, lateness_secs: u32) -> Self {
        Self {
            latest: vec![None; shards.max(1)],
            margin_ms: i64::from(lateness_secs) * SECOND_MS,
            swept: None,
        }
    }

    /// Notes a shard's latest event time; returns the time to sweep up to
    /// when it has moved far enough since the last sweep. A source that
    /// interleaves partitions gives its own watermark (`source`: the time
    /// every partition had reached by the last fully processed input), which
    /// then takes the place of the shards' times: a lagging partition can
    /// still deliver older events to a shard that has seen newer ones.
    /// Once the input has ended, every event has arrived: the sweep time
    /// is the newest event time less the lateness. It is the same however
    /// the input was split into partitions or shards, so a replay resolves
    /// the same incidents by its end as the live stream did.
    pub(super) fn at_end(&self) -> Option<Timestamp> {
        let newest = self.latest.iter().flatten().max()?;
        Some(newest.plus_ms(-self.margin_ms))
    }

    /// Takes over the progress of a snapshot; per-shard times only when
    /// the shard count is the same.
    pub(super) fn restore(&mut self, latest: &[Option<Timestamp>], swept: Option<Timestamp>) {
        if latest.len() == self.latest.len() {
            self.latest.copy_from_slice(latest);
        }
        self.swept = swept;
    }

    pub(super) fn advance(
        &mut self,
        shard: usize,
        latest: Option<Timestamp>,
        source: Clock,
    ) -> Option<Timestamp> {
        let slot = self.latest.get_mut(shard)?;
        *slot = (*slot).max(latest);
        let reached = match source {
            Clock::Source(source) => source?,
            Clock::Shards => *self.latest.iter().flatten().min()?,
        };
        let low = reached.plus_ms(-self.margin_ms);
        let due = self
            .swept
            .is_none_or(|swept| low.0 >= swept.0 + SWEEP_EVERY_MS);
        due.then(|| {
            self.swept = Some(low);
            low
        })
    }
}

/// How far every shard has come: a line is fully processed once each shard
/// has reported a batch stamped at or past it.
pub(super) struct Progress {
    through: Vec<u64>,
    reported: u64,
    highest: u64,
}

impl Progress {
    pub(super) fn new(shards: usize) -> Self {
        Self {
            through: vec![0; shards.max(1)],
            reported: 0,
            highest: 0,
        }
    }

    /// Notes that `shard` is done through `line`; returns the new line up
    /// to which all shards are done, when it moved.
    pub(super) fn advance(&mut self, shard: usize, line: u64) -> Option<u64> {
        self.through[shard] = self.through[shard].max(line);
        self.highest = self.highest.max(line);
        let low = self.through.iter().copied().min().unwrap_or(0);
        (low > self.reported).then(|| {
            self.reported = low;
            low
        })
    }

    /// The line up to which every shard is done.
    pub(super) fn passed(&self) -> u64 {
        self.reported
    }

    /// Once every shard has hung up, everything read is processed.
    pub(super) fn all_done(&mut self) -> Option<u64> {
        (self.highest > self.reported).then(|| {
            self.reported = self.highest;
            self.highest
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Clock, Progress, Timestamp, Watermark};

    #[test]
    fn the_sweep_time_trails_the_slowest_shard_by_the_lateness() {
        let mut watermark = Watermark::new(2, 60);
        let first = watermark.advance(0, Some(Timestamp(600_000)), Clock::Shards);
        assert_eq!(
            first,
            Some(Timestamp(540_000)),
            "a shard without events is not waited for"
        );
        assert_eq!(
            watermark.advance(1, Some(Timestamp(500_000)), Clock::Shards),
            None
        );
        assert_eq!(
            watermark.advance(1, Some(Timestamp(700_000)), Clock::Shards),
            None,
            "the slowest shard has not moved a minute past the last sweep"
        );
        assert_eq!(
            watermark.advance(0, Some(Timestamp(800_000)), Clock::Shards),
            Some(Timestamp(640_000))
        );
    }

    #[test]
    fn a_partitioned_source_sets_the_sweep_time_by_its_slowest_partition() {
        let mut watermark = Watermark::new(1, 0);
        let due = watermark.advance(
            0,
            Some(Timestamp(900_000)),
            Clock::Source(Some(Timestamp(300_000))),
        );
        assert_eq!(due, Some(Timestamp(300_000)));
        let unknown = watermark.advance(0, Some(Timestamp(990_000)), Clock::Source(None));
        assert_eq!(unknown, None, "no sweep before every partition has a time");
    }

    #[test]
    fn a_line_is_done_only_once_every_shard_has_passed_it() {
        let mut progress = Progress::new(2);
        assert_eq!(
            progress.advance(0, 100),
            None,
            "shard 1 has reported nothing"
        );
        assert_eq!(progress.advance(1, 40), Some(40));
        assert_eq!(progress.advance(1, 150), Some(100));
        assert_eq!(progress.advance(0, 100), None, "nothing new is done");
        assert_eq!(
            progress.all_done(),
            Some(150),
            "the end covers every line read"
        );
        assert_eq!(progress.all_done(), None);
    }
}
