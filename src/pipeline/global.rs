//! The global rule stage and the order it sees events in.
//!
//! Shards forward the few events that cross-user correlations build on.
//! They arrive from several threads in no fixed order, so the stage holds
//! them until every shard has reported progress past their input line, and
//! then runs them in line order. Every shard count thus feeds the stage the
//! same sequence, and its correlations fire identically.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::shard::{Forwarded, ShardOutput};
use crate::event::{DecodeLimits, decode};
use crate::rules::{RuleEvent, RuleFeed, RuleStage, StageKind};
use crate::signal::Signal;

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

/// The correlations not grouped by user, fed in input order.
pub struct GlobalStage {
    stage: RuleStage,
    feed: RuleFeed,
    progress: Vec<u64>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    limits: DecodeLimits,
}

impl GlobalStage {
    /// A stage for a run with `shards` shards.
    #[must_use]
    pub fn new(feed: &RuleFeed, shards: usize, limits: DecodeLimits) -> Self {
        Self {
            stage: RuleStage::new(StageKind::Global, feed),
            feed: feed.clone(),
            progress: vec![0; shards],
            waiting: BinaryHeap::new(),
            limits,
        }
    }

    /// Takes a shard's forwarded events and progress, and runs every event
    /// all shards have now passed; signals raised are appended.
    pub fn accept(&mut self, output: &mut ShardOutput, signals: &mut Vec<Signal>) {
        self.waiting
            .extend(output.forwarded.drain(..).map(|f| Reverse(Waiting(f))));
        if let Some(seen) = self.progress.get_mut(output.shard) {
            *seen = (*seen).max(output.through_line);
        }
        let passed = self.progress.iter().copied().min().unwrap_or(0);
        self.run_through(passed, signals);
    }

    /// Runs everything still waiting; for the end of the input.
    pub fn finish(&mut self, signals: &mut Vec<Signal>) {
        self.run_through(u64::MAX, signals);
    }

    /// Events held back for shards that have not caught up yet.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn run_through(&mut self, line: u64, signals: &mut Vec<Signal>) {
        if self.waiting.peek().is_none_or(|next| next.0.0.line > line) {
            return;
        }
        self.stage.refresh(&self.feed);
        while let Some(next) = self.waiting.peek()
            && next.0.0.line <= line
        {
            let Some(Reverse(Waiting(forwarded))) = self.waiting.pop() else {
                break;
            };
            self.run(&forwarded, signals);
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
