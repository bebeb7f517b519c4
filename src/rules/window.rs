//! The window one correlation keeps for one group.
//!
//! Every correlation type keeps rsigma's own window state, except
//! `value_count`: rsigma recounts its distinct values by hashing every
//! entry of the window on every event, which makes a busy group (a key
//! calling the API thousands of times inside the timespan) cost time in
//! proportion to its traffic. [`DistinctWindow`] keeps the same entries in
//! the same order, evicted by the same rules, and counts each value as it
//! enters and leaves, so the distinct count is at hand.

use std::collections::VecDeque;

use rsigma_eval::correlation::{WindowDecision, apply_window_open};
use rsigma_eval::{CompiledCorrelation, WindowState};
use rsigma_parser::{CorrelationType, WindowMode};
use rustc_hash::FxHashMap;

/// The state of one (correlation, group) pair.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Window {
    /// rsigma's state, for every type but `value_count`.
    Kept(WindowState),
    /// A `value_count` window.
    Distinct(DistinctWindow),
}

impl Window {
    /// An empty window for a correlation of type `kind`.
    pub fn new_for(kind: CorrelationType) -> Self {
        match kind {
            CorrelationType::ValueCount => Self::Distinct(DistinctWindow::default()),
            other => Self::Kept(WindowState::new_for(other)),
        }
    }

    /// Prepares the window for an event at `ts`: slides, rolls over or
    /// restarts it as the correlation's window mode says.
    pub fn open(&mut self, ts: i64, correlation: &CompiledCorrelation) -> WindowDecision {
        let timespan = correlation.timespan_secs;
        match self {
            Self::Kept(state) => apply_window_open(
                state,
                ts,
                timespan,
                correlation.window_mode,
                correlation.gap_secs,
            ),
            Self::Distinct(window) => {
                window.open(ts, timespan, correlation.window_mode, correlation.gap_secs)
            }
        }
    }

    /// Records a match for an `event_count` window.
    pub fn push_event_count(&mut self, ts: i64) {
        if let Self::Kept(state) = self {
            state.push_event_count(ts);
        }
    }

    /// Records a value for a `value_count` window.
    pub fn push_value(&mut self, ts: i64, value: String) {
        match self {
            Self::Kept(state) => state.push_value_count(ts, value),
            Self::Distinct(window) => window.push(ts, value.into_boxed_str()),
        }
    }

    /// Records a hit of the rule referred to as `rule_ref`, for temporal
    /// windows.
    pub fn push_temporal(&mut self, ts: i64, rule_ref: &str) {
        if let Self::Kept(state) = self {
            state.push_temporal(ts, rule_ref);
        }
    }

    /// Records a number for the numeric aggregations.
    pub fn push_numeric(&mut self, ts: i64, value: f64) {
        if let Self::Kept(state) = self {
            state.push_numeric(ts, value);
        }
    }

    /// Keeps at most `cap` entries, dropping the oldest (all but the first
    /// when `preserve_front`).
    pub fn truncate_oldest(&mut self, cap: usize, preserve_front: bool) {
        match self {
            Self::Kept(state) => state.truncate_oldest(cap, preserve_front),
            Self::Distinct(window) => window.truncate_oldest(cap, preserve_front),
        }
    }

    /// The aggregated value when the correlation's condition holds.
    pub fn check(&self, correlation: &CompiledCorrelation) -> Option<f64> {
        match self {
            Self::Kept(state) => state.check_condition(
                &correlation.condition,
                correlation.correlation_type,
                &correlation.rule_refs,
                correlation.extended_expr.as_ref(),
            ),
            Self::Distinct(window) => {
                if correlation.correlation_type != CorrelationType::ValueCount {
                    return None;
                }
                let value = count_as_f64(window.distinct());
                correlation.condition.check(value).then_some(value)
            }
        }
    }

    /// Drops the entries before `cutoff`, from the oldest on.
    pub fn evict(&mut self, cutoff: i64) {
        match self {
            Self::Kept(state) => state.evict(cutoff),
            Self::Distinct(window) => window.evict(cutoff),
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        match self {
            Self::Kept(state) => state.clear(),
            Self::Distinct(window) => window.clear(),
        }
    }

    /// Whether the window holds no entry.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Kept(state) => state.is_empty(),
            Self::Distinct(window) => window.entries.is_empty(),
        }
    }

    /// The time of the newest entry.
    pub fn latest_timestamp(&self) -> Option<i64> {
        match self {
            Self::Kept(state) => state.latest_timestamp(),
            Self::Distinct(window) => window.latest(),
        }
    }
}

/// Window counts stay far below 2^52, where `f64` is exact.
#[allow(clippy::cast_precision_loss, reason = "counts stay far below 2^52")]
fn count_as_f64(count: usize) -> f64 {
    count as f64
}

/// The entries of a `value_count` window in arrival order, with how many
/// times each value occurs among them.
///
/// Entries leave from the front only, exactly as from rsigma's window, so
/// an out-of-order entry holds back the ones behind it the same way.
///
/// Only the entries are saved in a snapshot; the counts follow from them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<(i64, Box<str>)>", into = "Vec<(i64, Box<str>)>")]
pub struct DistinctWindow {
    entries: VecDeque<(i64, Box<str>)>,
    occurrences: FxHashMap<Box<str>, u32>,
}

impl DistinctWindow {
    /// Number of distinct values among the entries.
    pub fn distinct(&self) -> usize {
        self.occurrences.len()
    }

    fn push(&mut self, ts: i64, value: Box<str>) {
        if let Some(count) = self.occurrences.get_mut(&value) {
            *count += 1;
        } else {
            self.occurrences.insert(value.clone(), 1);
        }
        self.entries.push_back((ts, value));
    }

    fn pop_front(&mut self) -> Option<(i64, Box<str>)> {
        let (ts, value) = self.entries.pop_front()?;
        if let Some(count) = self.occurrences.get_mut(&value) {
            *count -= 1;
            if *count == 0 {
                self.occurrences.remove(&value);
            }
        }
        Some((ts, value))
    }

    fn evict(&mut self, cutoff: i64) {
        while self.entries.front().is_some_and(|(ts, _)| *ts < cutoff) {
            self.pop_front();
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.occurrences.clear();
    }

    fn latest(&self) -> Option<i64> {
        self.entries.back().map(|(ts, _)| *ts)
    }

    fn earliest(&self) -> Option<i64> {
        self.entries.front().map(|(ts, _)| *ts)
    }

    fn truncate_oldest(&mut self, cap: usize, preserve_front: bool) {
        let cap = cap.max(1);
        if self.entries.len() <= cap {
            return;
        }
        let anchor = if preserve_front {
            self.pop_front()
        } else {
            None
        };
        let keep = if anchor.is_some() { cap - 1 } else { cap };
        while self.entries.len() > keep {
            self.pop_front();
        }
        if let Some((ts, value)) = anchor {
            *self.occurrences.entry(value.clone()).or_insert(0) += 1;
            self.entries.push_front((ts, value));
        }
    }

    /// The window maintenance rsigma's `apply_window_open` performs, on
    /// this window's entries.
    fn open(
        &mut self,
        ts: i64,
        timespan_secs: u64,
        mode: WindowMode,
        gap_secs: Option<u64>,
    ) -> WindowDecision {
        let timespan = timespan_secs.cast_signed();
        match mode {
            WindowMode::Sliding => {
                self.evict(ts - timespan);
                WindowDecision::Extend
            }
            WindowMode::Tumbling => {
                if timespan <= 0 {
                    return WindowDecision::Extend;
                }
                let bucket = |at: i64| at - at.rem_euclid(timespan);
                match self.latest() {
                    Some(last) if bucket(ts) > bucket(last) => {
                        self.clear();
                        WindowDecision::Reset
                    }
                    Some(last) if bucket(ts) < bucket(last) => WindowDecision::Discard,
                    _ => WindowDecision::Extend,
                }
            }
            WindowMode::Session => {
                let gap = gap_secs.unwrap_or(timespan_secs).cast_signed();
                let expired = match (self.earliest(), self.latest()) {
                    (Some(start), Some(last)) => {
                        ts - last > gap || (timespan > 0 && ts - start > timespan)
                    }
                    _ => false,
                };
                if expired {
                    self.clear();
                    WindowDecision::Reset
                } else {
                    WindowDecision::Extend
                }
            }
        }
    }
}

impl From<Vec<(i64, Box<str>)>> for DistinctWindow {
    fn from(entries: Vec<(i64, Box<str>)>) -> Self {
        let mut window = Self::default();
        for (ts, value) in entries {
            window.push(ts, value);
        }
        window
    }
}

impl From<DistinctWindow> for Vec<(i64, Box<str>)> {
    fn from(window: DistinctWindow) -> Self {
        window.entries.into()
    }
}
