//! Correlation rules run over the detections of each event.
//!
//! This is rsigma's correlation engine (0.23) in behaviour: the same
//! compiled correlations, group keys, windows, thresholds, suppression,
//! reset after a match, chaining of one correlation into another and
//! eviction of expired windows, with results in the same order (the
//! correlations the event's detections feed, by detection and then by
//! correlation, followed by those fed by other correlations' matches). It
//! differs in cost only: `value_count` windows count their distinct values
//! as entries come and go ([`super::window`]) where rsigma's engine recounts
//! the whole window on every event, and contributing events are never
//! stored, since vigil's signals do not carry them. The tests run random
//! event streams through this and rsigma's engine side by side and require
//! the same matches, so a change in either shows.

use std::collections::HashSet;

use rsigma_eval::correlation::{WindowDecision, compile_correlation};
use rsigma_eval::event::{Event, EventValue};
use rsigma_eval::{
    CompiledCorrelation, CorrelationAction, CorrelationBody, CorrelationConfig, EvaluationResult,
    GroupKey, ResultBody, RuleHeader,
};
use rsigma_parser::{CorrelationRule, CorrelationType, SigmaRule, Timespan, WindowMode};
use rustc_hash::FxHashMap;

use super::window::Window;

#[cfg(test)]
mod tests;

/// Correlation-to-correlation steps followed after a match, as in rsigma;
/// it bounds the work a cycle of references can cause.
const MAX_CHAIN_DEPTH: usize = 10;

/// Windows keyed by group, one map per correlation.
type Groups<T> = Vec<FxHashMap<GroupKey, T>>;

/// Compiled correlations, their windows and their last matches.
#[derive(Debug)]
pub struct Correlator {
    plan: Plan,
    state: State,
}

/// The windows and last matches of every correlation, by group.
#[derive(Debug)]
struct State {
    windows: Groups<Window>,
    last_match: Groups<i64>,
}

/// What a correlator runs, fixed once built.
#[derive(Debug)]
struct Plan {
    correlations: Vec<CompiledCorrelation>,
    /// Each rule reference, as a correlation writes it, to the
    /// correlations (by index, ascending) that use it.
    referenced_by: FxHashMap<String, Vec<usize>>,
    /// Each detection rule's id to its name and to the correlations its
    /// matches feed.
    detections: FxHashMap<String, Feeds>,
    suppress: Option<u64>,
    action: CorrelationAction,
    max_group_entries: Option<usize>,
    max_windows: usize,
}

/// Where a detection rule's matches go.
#[derive(Debug)]
struct Feeds {
    name: Option<String>,
    correlations: Vec<usize>,
}

/// Windows and last matches taken from a correlator, by correlation id, to
/// be carried into its replacement.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CarriedState {
    windows: Vec<(String, GroupKey, Window)>,
    last_match: Vec<(String, GroupKey, i64)>,
}

impl CarriedState {
    /// Whether no window and no last match is carried.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.last_match.is_empty()
    }
}

impl Correlator {
    /// Compiles `correlations`, fed by `rules`, under `config`.
    ///
    /// A correlation that fails to compile is left out and logged; the
    /// loader compiles every correlation before a set is accepted.
    #[must_use]
    pub fn new(
        config: &CorrelationConfig,
        rules: &[&SigmaRule],
        correlations: &[&CorrelationRule],
    ) -> Self {
        let compiled: Vec<CompiledCorrelation> = correlations
            .iter()
            .filter_map(|rule| match compile_correlation(rule) {
                Ok(compiled) => Some(compiled),
                Err(error) => {
                    tracing::error!(%error, "Correlation failed to compile after validation");
                    None
                }
            })
            .collect();
        let defaults = engine_defaults(config, rules, correlations);
        let plan = Plan::new(compiled, rules, defaults, config);
        let count = plan.correlations.len();
        let state = State {
            windows: (0..count).map(|_| FxHashMap::default()).collect(),
            last_match: (0..count).map(|_| FxHashMap::default()).collect(),
        };
        Self { plan, state }
    }

    /// Feeds one event's detections (matches of the detection rules this
    /// correlator was built with) to the correlations that reference them,
    /// at `ts` (seconds), and returns the correlations that matched.
    pub fn feed(
        &mut self,
        event: &impl Event,
        detections: &[EvaluationResult],
        ts: i64,
    ) -> Vec<EvaluationResult> {
        let ts = ts.clamp(0, i64::MAX / 2);
        if self.state.window_count() >= self.plan.max_windows {
            self.evict_expired(ts);
        }
        let Self { plan, state } = self;
        let mut matched = Vec::new();
        for detection in detections {
            let Some(id) = detection.header.rule_id.as_deref() else {
                continue;
            };
            let Some(feeds) = plan.detections.get(id) else {
                continue;
            };
            let name = feeds.name.as_deref();
            for &index in &feeds.correlations {
                state.update(plan, index, event, ts, (id, name), &mut matched);
            }
        }
        let chained = state.chain(plan, &matched, ts);
        matched.extend(chained);
        matched
    }

    /// Drops what windows can no longer count at `now` (seconds): entries
    /// of sliding windows older than their timespan, tumbling and session
    /// windows gone stale, then, past the size limit, the stalest windows.
    pub fn evict_expired(&mut self, now: i64) {
        let Self { plan, state } = self;
        for (correlation, windows) in plan.correlations.iter().zip(&mut state.windows) {
            let timespan = correlation.timespan_secs.cast_signed();
            let staleness = match correlation.window_mode {
                WindowMode::Sliding => None,
                WindowMode::Tumbling => Some(timespan),
                WindowMode::Session => {
                    Some(correlation.gap_secs.map_or(timespan, u64::cast_signed))
                }
            };
            windows.retain(|_, window| {
                match staleness {
                    None => window.evict(now - timespan),
                    Some(limit) => {
                        if window
                            .latest_timestamp()
                            .is_some_and(|last| now - last > limit)
                        {
                            window.clear();
                        }
                    }
                }
                !window.is_empty()
            });
        }
        state.drop_stalest(plan.max_windows);
        for (index, matches) in state.last_match.iter_mut().enumerate() {
            let suppress = plan.suppress_of(index).unwrap_or(0).cast_signed();
            matches.retain(|_, at| now - *at < suppress);
        }
    }

    /// Takes the windows and last matches, for a correlator replacing this
    /// one after a reload.
    pub fn carry_out(&mut self) -> CarriedState {
        let mut carried = CarriedState::default();
        for (index, windows) in self.state.windows.iter_mut().enumerate() {
            let id = self.plan.stable_id(index);
            for (key, window) in windows.drain() {
                carried.windows.push((id.clone(), key, window));
            }
        }
        for (index, matches) in self.state.last_match.iter_mut().enumerate() {
            let id = self.plan.stable_id(index);
            for (key, at) in matches.drain() {
                carried.last_match.push((id.clone(), key, at));
            }
        }
        carried
    }

    /// A copy of the windows and last matches, for a snapshot; the
    /// correlator keeps running on its own.
    #[must_use]
    pub fn copy_state(&self) -> CarriedState {
        let mut copied = CarriedState::default();
        for (index, windows) in self.state.windows.iter().enumerate() {
            let id = self.plan.stable_id(index);
            for (key, window) in windows {
                copied
                    .windows
                    .push((id.clone(), key.clone(), window.clone()));
            }
        }
        for (index, matches) in self.state.last_match.iter().enumerate() {
            let id = self.plan.stable_id(index);
            for (key, at) in matches {
                copied.last_match.push((id.clone(), key.clone(), *at));
            }
        }
        copied
    }

    /// Takes over carried windows and last matches of correlations that
    /// are still here (same id), whatever else changed in them.
    pub fn carry_in(&mut self, carried: CarriedState) {
        let indices: FxHashMap<String, usize> = (0..self.plan.correlations.len())
            .map(|index| (self.plan.stable_id(index), index))
            .collect();
        for (id, key, window) in carried.windows {
            if let Some(&index) = indices.get(&id) {
                self.state.windows[index].insert(key, window);
            }
        }
        for (id, key, at) in carried.last_match {
            if let Some(&index) = indices.get(&id) {
                self.state.last_match[index].insert(key, at);
            }
        }
    }
}

impl State {
    fn window_count(&self) -> usize {
        self.windows.iter().map(FxHashMap::len).sum()
    }

    /// Past `limit` windows, drops the windows whose newest entry is
    /// oldest until a tenth of the limit is free again.
    fn drop_stalest(&mut self, limit: usize) {
        let count = self.window_count();
        if count < limit {
            return;
        }
        tracing::warn!(
            windows = count,
            limit,
            "Correlation windows over their limit; dropping the stalest"
        );
        let mut by_age: Vec<(i64, usize, GroupKey)> = self
            .windows
            .iter()
            .enumerate()
            .flat_map(|(index, windows)| {
                windows.iter().map(move |(key, window)| {
                    let latest = window.latest_timestamp().unwrap_or(i64::MIN);
                    (latest, index, key.clone())
                })
            })
            .collect();
        by_age.sort_by_key(|(latest, _, _)| *latest);
        for (_, index, key) in by_age.into_iter().take(count - limit * 9 / 10) {
            self.windows[index].remove(&key);
            self.last_match[index].remove(&key);
        }
    }

    /// Adds one match of the detection rule known by `identity` (its id
    /// and name) to correlation `index`, appending the correlation's
    /// result when it matches.
    fn update(
        &mut self,
        plan: &Plan,
        index: usize,
        event: &impl Event,
        ts: i64,
        identity: (&str, Option<&str>),
        matched: &mut Vec<EvaluationResult>,
    ) {
        let correlation = &plan.correlations[index];
        let (id, name) = identity;
        let both = [id, name.unwrap_or_default()];
        let identities = if name.is_some() {
            &both[..]
        } else {
            &both[..1]
        };
        let rule_ref = identities
            .iter()
            .copied()
            .find(|known| correlation.rule_refs.iter().any(|r| r == known))
            .unwrap_or("");
        let key = GroupKey::extract(event, &correlation.group_by, identities);

        let window = window_for(&mut self.windows[index], &key, correlation.correlation_type);
        if window.open(ts, correlation) == WindowDecision::Discard {
            return;
        }
        match correlation.correlation_type {
            CorrelationType::EventCount => window.push_event_count(ts),
            CorrelationType::ValueCount => {
                let value = correlation
                    .condition
                    .field
                    .as_deref()
                    .and_then(|fields| distinct_value(event, fields));
                if let Some(value) = value {
                    window.push_value(ts, value);
                }
            }
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                window.push_temporal(ts, rule_ref);
            }
            CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
            | CorrelationType::ValueMedian => {
                if let Some(value) = numeric_value(event, correlation) {
                    window.push_numeric(ts, value);
                }
            }
        }
        let last_match = &mut self.last_match[index];
        conclude(plan, index, window, last_match, key, ts, matched);
    }

    /// Feeds correlation matches to the correlations that reference them,
    /// step by step, and returns what those matched in turn.
    fn chain(
        &mut self,
        plan: &Plan,
        matched: &[EvaluationResult],
        ts: i64,
    ) -> Vec<EvaluationResult> {
        let mut chained = Vec::new();
        let mut pending = matched.to_vec();
        let mut depth = 0;
        while !pending.is_empty() && depth < MAX_CHAIN_DEPTH {
            depth += 1;
            let mut next = Vec::new();
            for (index, pairs, fired_ref) in plan.chain_work(&pending) {
                let correlation = &plan.correlations[index];
                let key = GroupKey::from_pairs(&pairs, &correlation.group_by);
                let window =
                    window_for(&mut self.windows[index], &key, correlation.correlation_type);
                if window.open(ts, correlation) == WindowDecision::Discard {
                    continue;
                }
                match correlation.correlation_type {
                    CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                        window.push_temporal(ts, &fired_ref);
                    }
                    _ => window.push_event_count(ts),
                }
                let last_match = &mut self.last_match[index];
                conclude(plan, index, window, last_match, key, ts, &mut next);
            }
            chained.extend(next.iter().cloned());
            pending = next;
        }
        chained
    }
}

/// After an entry went into `window`, the window of `key` for correlation
/// `index`: caps the window, checks the condition and, on a match that is
/// not suppressed, appends the result and applies the action.
fn conclude(
    plan: &Plan,
    index: usize,
    window: &mut Window,
    last_match: &mut FxHashMap<GroupKey, i64>,
    key: GroupKey,
    ts: i64,
    matched: &mut Vec<EvaluationResult>,
) {
    let correlation = &plan.correlations[index];
    if let Some(cap) = correlation.max_group_entries.or(plan.max_group_entries) {
        window.truncate_oldest(cap, correlation.window_mode == WindowMode::Session);
    }
    let Some(value) = window.check(correlation) else {
        return;
    };
    let suppressed = plan.suppress_of(index).is_some_and(|suppress| {
        last_match
            .get(&key)
            .is_some_and(|last| ts - last < suppress.cast_signed())
    });
    if suppressed {
        return;
    }
    if correlation.action.unwrap_or(plan.action) == CorrelationAction::Reset {
        window.clear();
    }
    matched.push(correlation_result(correlation, &key, value));
    last_match.insert(key, ts);
}

impl Plan {
    fn new(
        correlations: Vec<CompiledCorrelation>,
        rules: &[&SigmaRule],
        (suppress, action): (Option<u64>, CorrelationAction),
        config: &CorrelationConfig,
    ) -> Self {
        let mut referenced_by: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (index, correlation) in correlations.iter().enumerate() {
            for rule_ref in &correlation.rule_refs {
                referenced_by
                    .entry(rule_ref.clone())
                    .or_default()
                    .push(index);
            }
        }
        let mut detections = FxHashMap::default();
        for rule in rules {
            let Some(id) = rule.id.as_deref() else {
                continue;
            };
            if detections.contains_key(id) {
                continue;
            }
            let feeds = Feeds {
                name: rule.name.clone(),
                correlations: targets_of(&referenced_by, id, rule.name.as_deref()),
            };
            detections.insert(id.to_owned(), feeds);
        }
        Self {
            correlations,
            referenced_by,
            detections,
            suppress,
            action,
            max_group_entries: config.max_group_entries,
            max_windows: config.max_state_entries,
        }
    }

    fn suppress_of(&self, index: usize) -> Option<u64> {
        self.correlations[index].suppress_secs.or(self.suppress)
    }

    /// The correlation's id, else its name, else its title: what carries
    /// its windows across a reload.
    fn stable_id(&self, index: usize) -> String {
        let correlation = &self.correlations[index];
        correlation
            .id
            .clone()
            .or_else(|| correlation.name.clone())
            .unwrap_or_else(|| correlation.title.clone())
    }

    /// For each correlation match in `pending`, the correlations that
    /// reference it (by id or name): the correlation, the match's group
    /// and the reference used, each pair once.
    fn chain_work(&self, pending: &[EvaluationResult]) -> Vec<ChainStep> {
        let mut work = Vec::new();
        let mut seen = HashSet::new();
        for result in pending {
            let Some(body) = result.as_correlation() else {
                continue;
            };
            for key in self.lookup_keys(result) {
                let Some(indices) = self.referenced_by.get(&key) else {
                    continue;
                };
                for &index in indices {
                    if seen.insert((index, key.clone())) {
                        work.push((index, body.group_key.clone(), key.clone()));
                    }
                }
            }
        }
        work
    }

    /// The names a correlation match can be referred to by: its id and
    /// the correlation's name.
    fn lookup_keys(&self, result: &EvaluationResult) -> Vec<String> {
        let Some(id) = result.header.rule_id.as_deref() else {
            return Vec::new();
        };
        let mut keys = vec![id.to_owned()];
        let name = self
            .correlations
            .iter()
            .find(|c| c.id.as_deref() == Some(id))
            .and_then(|c| c.name.as_deref());
        if let Some(name) = name.filter(|name| *name != id) {
            keys.push(name.to_owned());
        }
        keys
    }
}

/// A correlation fed by another's match: the correlation, the match's
/// group, and the reference the correlation knows the match by.
type ChainStep = (usize, Vec<(String, String)>, String);

/// The correlations referencing a rule by `id` or `name`, ascending, each
/// once.
fn targets_of(
    referenced_by: &FxHashMap<String, Vec<usize>>,
    id: &str,
    name: Option<&str>,
) -> Vec<usize> {
    let mut targets: Vec<usize> = [Some(id), name]
        .into_iter()
        .flatten()
        .filter_map(|reference| referenced_by.get(reference))
        .flatten()
        .copied()
        .collect();
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// The engine-wide suppression and action: the configured ones, unless a
/// rule's `rsigma.suppress` (when none is configured) or `rsigma.action`
/// (while the action is `alert`) says otherwise, the first such rule in
/// load order winning, detection rules before correlations.
fn engine_defaults(
    config: &CorrelationConfig,
    rules: &[&SigmaRule],
    correlations: &[&CorrelationRule],
) -> (Option<u64>, CorrelationAction) {
    let mut suppress = config.suppress;
    let mut action = config.action_on_match;
    let attributes = rules
        .iter()
        .map(|rule| &rule.custom_attributes)
        .chain(correlations.iter().map(|rule| &rule.custom_attributes));
    for attributes in attributes {
        let text = |name: &str| attributes.get(name).and_then(yaml_serde::Value::as_str);
        if suppress.is_none()
            && let Some(timespan) = text("rsigma.suppress").and_then(|t| Timespan::parse(t).ok())
        {
            suppress = Some(timespan.seconds);
        }
        if action == CorrelationAction::Alert
            && let Some(chosen) = text("rsigma.action").and_then(|a| a.parse().ok())
        {
            action = chosen;
        }
    }
    (suppress, action)
}

/// The window of `key`, created empty when the group is new.
fn window_for<'w>(
    windows: &'w mut FxHashMap<GroupKey, Window>,
    key: &GroupKey,
    kind: CorrelationType,
) -> &'w mut Window {
    if !windows.contains_key(key) {
        windows.insert(key.clone(), Window::new_for(kind));
    }
    windows.get_mut(key).expect("the window was just inserted")
}

/// The value a `value_count` correlation counts: the fields' values, as
/// text, joined by the unit separator; `None` when one is missing or is a
/// list or an object.
fn distinct_value(event: &impl Event, fields: &[String]) -> Option<String> {
    if let [field] = fields {
        return distinct_text(&event.get_field(field)?);
    }
    let parts = fields
        .iter()
        .map(|field| distinct_text(&event.get_field(field)?))
        .collect::<Option<Vec<String>>>()?;
    Some(parts.join("\u{1f}"))
}

fn distinct_text(value: &EventValue<'_>) -> Option<String> {
    match value {
        EventValue::Str(text) => Some(text.to_string()),
        EventValue::Int(number) => Some(number.to_string()),
        EventValue::Float(number) => Some(number.to_string()),
        EventValue::Bool(flag) => Some(flag.to_string()),
        EventValue::Null => Some("null".to_owned()),
        EventValue::Array(_) | EventValue::Map(_) => None,
    }
}

/// The number a numeric aggregation adds up: its field's value, when it
/// reads as a number.
fn numeric_value(event: &impl Event, correlation: &CompiledCorrelation) -> Option<f64> {
    let field = correlation.condition.field.as_ref()?.first()?;
    event.get_field(field)?.as_f64()
}

fn correlation_result(
    correlation: &CompiledCorrelation,
    key: &GroupKey,
    value: f64,
) -> EvaluationResult {
    EvaluationResult {
        header: RuleHeader {
            rule_title: correlation.title.clone(),
            rule_id: correlation.id.clone(),
            level: correlation.level,
            tags: correlation.tags.clone(),
            custom_attributes: correlation.custom_attributes.clone(),
            enrichments: None,
        },
        body: ResultBody::Correlation(CorrelationBody {
            correlation_type: correlation.correlation_type,
            group_key: key.to_pairs(&correlation.group_by),
            aggregated_value: value,
            timespan_secs: correlation.timespan_secs,
            events: None,
            event_refs: None,
        }),
    }
}
