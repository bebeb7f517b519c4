//! The global rule stage and the order it sees events in.
//!
//! Shards forward the few events that cross-user correlations build on.
//! They arrive from several threads in no fixed order, so the stage holds
//! them until every shard has reported progress past their input line, and
//! then runs them in line order. Every shard count thus feeds the stage the
//! same sequence, and its correlations fire identically.
//!
//! A source that interleaves partitions (Kafka) delivers a user's events in
//! order but mixes users differently from run to run, and a backlog arrives
//! in per-partition chunks hours of event time apart. For such a source
//! the stage also waits for the event-time watermark (the least time every
//! partition has reached) and runs events in event-time order, ties broken
//! by the record's bytes, so the order no longer depends on how partitions
//! were interleaved.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::shard::Forwarded;
use crate::event::{DecodeLimits, decode, event_time};
use crate::rules::{RuleEvent, RuleFeed, RuleStage, StageKind, StageState};
use crate::signal::Signal;
use crate::time::Timestamp;

/// Forwarded events waiting for their turn, in line order.
struct Waiting(Forwarded);

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.0.line == other.0.line
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.line.cmp(&other.0.line)
    }
}

/// A forwarded event past the line gate, waiting for the watermark.
struct Timed {
    at: Timestamp,
    forwarded: Forwarded,
}

impl Timed {
    fn key(&self) -> (Timestamp, &[u8]) {
        (self.at, &self.forwarded.record)
    }
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Timed {}

impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// What the global stage holds between outputs, as saved in a snapshot:
/// its correlation windows and the forwarded events still waiting for
/// their turn.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GlobalState {
    /// Windows of the global correlations.
    pub rules: StageState,
    /// Events held back, in event-time order.
    pub held: Vec<Forwarded>,
}

/// The correlations not grouped by user, fed in input order.
pub struct GlobalStage {
    stage: RuleStage,
    feed: RuleFeed,
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// With event-time ordering: events past the line gate, by time.
    timed: Option<BinaryHeap<Reverse<Timed>>>,
    limits: DecodeLimits,
}

impl GlobalStage {
    /// A stage running `feed`'s global correlations.
    #[must_use]
    pub fn new(feed: &RuleFeed, limits: DecodeLimits) -> Self {
        Self {
            stage: RuleStage::new(StageKind::Global, feed),
            feed: feed.clone(),
            waiting: BinaryHeap::new(),
            timed: None,
            limits,
        }
    }

    /// The same stage, running events in event-time order up to the
    /// source's watermark, for sources that interleave partitions.
    #[must_use]
    pub fn ordered_by_event_time(mut self) -> Self {
        self.timed = Some(BinaryHeap::new());
        self
    }

    /// Takes a shard's forwarded events, and runs every event at or before
    /// line `passed`, which all shards have processed (and, when ordering
    /// by event time, every event no later than `watermark`); signals
    /// raised are appended.
    pub fn accept(
        &mut self,
        forwarded: &mut Vec<Forwarded>,
        passed: u64,
        watermark: Option<Timestamp>,
        signals: &mut Vec<Signal>,
    ) {
        self.waiting
            .extend(forwarded.drain(..).map(|f| Reverse(Waiting(f))));
        self.run_through(passed, watermark, signals);
    }

    /// Runs everything still waiting; for the end of the input.
    pub fn finish(&mut self, signals: &mut Vec<Signal>) {
        self.run_through(u64::MAX, Some(Timestamp(i64::MAX)), signals);
    }

    /// A copy of the stage's state, for a snapshot.
    #[must_use]
    pub fn save(&self) -> GlobalState {
        let mut held: Vec<Timed> = self
            .waiting
            .iter()
            .map(|Reverse(Waiting(f))| f)
            .chain(self.timed.iter().flatten().map(|Reverse(t)| &t.forwarded))
            .map(|forwarded| Timed {
                at: event_time(&forwarded.record).unwrap_or(Timestamp(i64::MIN)),
                forwarded: forwarded.clone(),
            })
            .collect();
        held.sort();
        GlobalState {
            rules: self.stage.save(),
            held: held.into_iter().map(|t| t.forwarded).collect(),
        }
    }

    /// Takes over a saved state. Held events come from an earlier run, so
    /// their input lines are behind every line of this one: they pass the
    /// line gate at once and wait only for the watermark.
    pub fn restore(&mut self, saved: GlobalState) {
        self.stage.restore(saved.rules);
        self.waiting
            .extend(saved.held.into_iter().map(|mut forwarded| {
                forwarded.line = 0;
                Reverse(Waiting(forwarded))
            }));
    }

    /// Events held back for shards or partitions that have not caught up.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.len() + self.timed.as_ref().map_or(0, BinaryHeap::len)
    }

    fn run_through(&mut self, line: u64, watermark: Option<Timestamp>, signals: &mut Vec<Signal>) {
        let mut due = Vec::new();
        while let Some(next) = self.waiting.peek()
            && next.0.0.line <= line
        {
            let Some(Reverse(Waiting(forwarded))) = self.waiting.pop() else {
                break;
            };
            due.push(forwarded);
        }
        if let Some(timed) = self.timed.as_mut() {
            timed.extend(due.drain(..).map(|forwarded| {
                let at = event_time(&forwarded.record).unwrap_or(Timestamp(i64::MIN));
                Reverse(Timed { at, forwarded })
            }));
            let watermark = watermark.unwrap_or(Timestamp(i64::MIN));
            while let Some(next) = timed.peek()
                && next.0.at <= watermark
            {
                let Some(Reverse(Timed { forwarded, .. })) = timed.pop() else {
                    break;
                };
                due.push(forwarded);
            }
        }
        if due.is_empty() {
            return;
        }
        self.stage.refresh(&self.feed);
        for forwarded in &due {
            self.run(forwarded, signals);
        }
    }

    fn run(&mut self, forwarded: &Forwarded, signals: &mut Vec<Signal>) {
        // The shard decoded this record already; it decodes the same here.
        let Ok(event) = decode(&forwarded.record, &self.limits) else {
            return;
        };
        let view = RuleEvent::new(&event, forwarded.local);
        self.stage.inspect(&view, signals);
    }
}
