//! A rule stage: one compiled engine with its correlation windows, run
//! either inside a shard or as the single global stage.
//!
//! A shard stage evaluates every detection rule on every event it owns,
//! raises signals for standalone detections, keeps the windows of
//! correlations grouped by user, and reports whether the event must also
//! reach the global stage. The global stage sees only those events, in
//! input order, and keeps the windows of every other correlation (one
//! address across many users, one key), so they see every matching event
//! whatever the shard count.
//!
//! Detection rules are matched by rsigma's engine; correlations run in
//! vigil's [`Correlator`], which behaves as rsigma's correlation engine.
//! When the feed publishes a new set, the stage builds both anew and
//! carries over the windows of correlations whose ids are still present.

use std::sync::Arc;

use rsigma_eval::{Engine, EvaluationResult, compile_rule};

use super::correlate::{CarriedState, Correlator};
use super::feed::RuleFeed;
use super::fields::RuleEvent;
use super::load::{RuleSet, correlation_config};
use super::signals::rule_signal;
use crate::signal::Signal;
use crate::time::SECOND_MS;

/// Events between sweeps of expired correlation windows.
const EVICT_EVERY: u32 = 4_096;

/// Which part of the rule set a stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    /// Inside a shard: all detections, correlations grouped by user.
    Shard,
    /// The global stage: correlations grouped by anything else.
    Global,
}

/// What a stage keeps between events, as saved in a snapshot: the
/// correlation windows by correlation id, and how far event time has come.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StageState {
    /// Windows and last matches of the correlations.
    pub windows: CarriedState,
    /// The latest event time seen, in seconds.
    pub latest_secs: i64,
}

/// A compiled engine and its state.
pub struct RuleStage {
    kind: StageKind,
    set: Arc<RuleSet>,
    version: u64,
    detections: Engine,
    correlator: Correlator,
    latest_secs: i64,
    since_eviction: u32,
}

impl RuleStage {
    /// A stage running the feed's current set.
    #[must_use]
    pub fn new(kind: StageKind, feed: &RuleFeed) -> Self {
        let (set, version) = feed.current();
        Self::with_set(kind, set, version)
    }

    /// A stage running `set`, known as `version`.
    #[must_use]
    pub fn with_set(kind: StageKind, set: Arc<RuleSet>, version: u64) -> Self {
        let (detections, correlator) = build(kind, &set);
        Self {
            kind,
            set,
            version,
            detections,
            correlator,
            latest_secs: 0,
            since_eviction: 0,
        }
    }

    /// Takes the feed's set if it changed since this stage last looked,
    /// keeping the windows of correlations that are still there.
    pub fn refresh(&mut self, feed: &RuleFeed) {
        if feed.version() == self.version {
            return;
        }
        let (set, version) = feed.current();
        let carried = self.correlator.carry_out();
        let (detections, mut correlator) = build(self.kind, &set);
        correlator.carry_in(carried);
        self.detections = detections;
        self.correlator = correlator;
        self.set = set;
        self.version = version;
    }

    /// A copy of the stage's state, for a snapshot.
    #[must_use]
    pub fn save(&self) -> StageState {
        StageState {
            windows: self.correlator.copy_state(),
            latest_secs: self.latest_secs,
        }
    }

    /// Takes over a saved state: windows of correlations still in the set
    /// resume, the others are dropped.
    pub fn restore(&mut self, saved: StageState) {
        self.correlator.carry_in(saved.windows);
        self.latest_secs = self.latest_secs.max(saved.latest_secs);
    }

    /// The set this stage runs.
    #[must_use]
    pub fn set(&self) -> &Arc<RuleSet> {
        &self.set
    }

    /// Runs the rules on one event, appending the signals raised. Returns
    /// whether the event must also reach the global stage.
    pub fn inspect(&mut self, view: &RuleEvent<'_, '_>, signals: &mut Vec<Signal>) -> bool {
        let event = view.event();
        let secs = event.timestamp.0.div_euclid(SECOND_MS);
        self.sweep(secs);
        let detections = self.detections.evaluate(view);
        if detections.is_empty() {
            return false;
        }
        let mut forward = false;
        if self.kind == StageKind::Shard {
            for detection in &detections {
                let Some(id) = detection.header.rule_id.as_deref() else {
                    continue;
                };
                forward |= self.set.forwards(id);
                if self.set.emits(id) {
                    self.raise(detection, view, signals);
                }
            }
        }
        let correlates = match self.kind {
            StageKind::Shard => self.set.has_local_correlations(),
            StageKind::Global => true,
        };
        if correlates {
            for result in self.correlator.feed(view, &detections, secs) {
                self.raise(&result, view, signals);
            }
        }
        forward
    }

    fn raise(
        &self,
        result: &EvaluationResult,
        view: &RuleEvent<'_, '_>,
        signals: &mut Vec<Signal>,
    ) {
        let meta = result
            .header
            .rule_id
            .as_deref()
            .and_then(|id| self.set.meta(id));
        if let Some(meta) = meta {
            signals.push(rule_signal(meta, result, view.event()));
        }
    }

    /// Drops windows that can no longer fire, now and then, so state stays
    /// bounded by what recent event time can still reach.
    fn sweep(&mut self, secs: i64) {
        self.latest_secs = self.latest_secs.max(secs);
        self.since_eviction += 1;
        if self.since_eviction >= EVICT_EVERY {
            self.since_eviction = 0;
            self.correlator.evict_expired(self.latest_secs);
        }
    }
}

/// The detection engine and correlator of the part of `set` a stage of
/// `kind` runs. The detection rules are indexed in one batch, so each event
/// is matched only against the rules its fields can satisfy.
fn build(kind: StageKind, set: &RuleSet) -> (Engine, Correlator) {
    let part = match kind {
        StageKind::Shard => set.shard_part(),
        StageKind::Global => set.global_part(),
    };
    let compiled = part
        .rules
        .iter()
        .filter_map(|rule| match compile_rule(rule) {
            Ok(compiled) => Some(compiled),
            Err(error) => {
                tracing::error!(%error, "Rule failed to compile after validation");
                None
            }
        });
    let mut detections = Engine::new();
    detections.extend_compiled_rules(compiled);
    let correlator = Correlator::new(&correlation_config(), &part.rules, &part.correlations);
    (detections, correlator)
}
