//! The incident engine: folds signals about one entity into one open
//! incident while they keep arriving within the correlation window, and
//! carries each incident through its lifecycle: open, escalated when its
//! severity rises, resolved after a quiet correlation window (or by an
//! operator), and reopened when the entity's signals return within the
//! reopen window. The entity is the user, or for a rule correlated across
//! users (one address trying many accounts) the correlation's group.
//!
//! Risk accumulates before it alerts: a group of signals becomes a published
//! incident only once its combined score reaches `min_score`. Weak signals
//! (a new address inside a known /24, say) wait in the group and count
//! towards a later, stronger finding, but alone never page anyone.
//!
//! Everything it decides follows from the signals of one entity in their
//! order; it keeps no global counter and reads no clock. That is what makes
//! incident ids and contents independent of the shard count and of thread
//! timing: each user's signals come from one shard, in event order, and
//! each cross-user group's from the global rule stage, in input order.
//! Resolution by quiet is decided the same way: [`IncidentEngine::sweep`]
//! writes it early once event time has moved on, and a signal arriving
//! after the quiet window writes it first if no sweep has, so the revisions
//! are the same either way.

use rustc_hash::FxHashMap;

use super::{Entities, Incident, IncidentStatus, IncidentType, classify, combined_score};
use crate::redact::redact_secrets;
use crate::signal::{Severity, Signal, SignalRecord};
use crate::stable_hash::stable_hash;
use crate::time::{SECOND_MS, Timestamp, utc_date_compact};

/// Settings of the incident engine (`[incidents]` in `vigil.toml`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentConfig {
    /// Signals of one user this close (event time) to the incident's latest
    /// signal join it, in seconds. An incident that hears nothing for this
    /// long is resolved: this is also its quiet period.
    pub correlation_window_secs: u32,
    /// A signal for an entity whose incident was resolved less than this
    /// long ago (event time, from its latest signal) reopens that incident
    /// instead of opening another, in seconds; 0 always opens a new one.
    pub reopen_window_secs: u32,
    /// Distinct findings kept on one incident; more are counted, not listed.
    pub max_signals: usize,
    /// Addresses and keys listed on one incident.
    pub max_entities: usize,
    /// Combined score a group of signals needs before it is published as an
    /// incident (0–1).
    pub min_score: f64,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        Self {
            correlation_window_secs: 3_600,
            reopen_window_secs: 6 * 3_600,
            max_signals: 64,
            max_entities: 32,
            min_score: 0.3,
        }
    }
}

/// An incident and what the engine needs to extend it.
#[derive(serde::Serialize, serde::Deserialize)]
struct OpenIncident {
    incident: Incident,
    hints: Vec<IncidentType>,
    /// Whether a revision has been written; until then the group is below
    /// `min_score` and its revision stays 1.
    published: bool,
}

impl OpenIncident {
    fn resolved(&self) -> bool {
        self.incident.status == IncidentStatus::Resolved
    }
}

/// Correlates signals into incidents and keeps their lifecycle.
pub struct IncidentEngine {
    config: IncidentConfig,
    open: FxHashMap<String, OpenIncident>,
    /// Entity keys by incident id, for resolution by hand.
    ids: FxHashMap<String, String>,
}

impl IncidentEngine {
    /// An engine with no incidents.
    #[must_use]
    pub fn new(config: IncidentConfig) -> Self {
        Self {
            config,
            open: FxHashMap::default(),
            ids: FxHashMap::default(),
        }
    }

    /// Folds one signal in and hands `emit` every revision it causes: a
    /// new incident, a new kind of finding, a new address or key, a higher
    /// score, a reopening (and, when no sweep has yet, the resolution of
    /// the entity's quiet incident before it). A repeat of a known finding
    /// only updates counts and `last_seen`, which the next written revision
    /// carries.
    pub fn on_signal(&mut self, signal: &Signal, emit: &mut impl FnMut(&mut Incident)) {
        let key = signal.incident_key();
        let window_ms = self.window_ms();
        let reopen_ms = i64::from(self.config.reopen_window_secs) * SECOND_MS;
        let Some(open) = self.open.get_mut(key) else {
            self.open_new(signal, emit);
            return;
        };
        let last = open.incident.last_seen.0;
        if !open.resolved() && signal.at.0 <= last + window_ms {
            if extend(open, signal, &self.config) {
                emit(&mut open.incident);
            }
            return;
        }
        if open.published && !open.resolved() {
            resolve(open);
            emit(&mut open.incident);
        }
        if open.published && reopen_ms > 0 && signal.at.0 <= last + reopen_ms {
            reopen(open, signal, &self.config);
            emit(&mut open.incident);
            return;
        }
        self.open_new(signal, emit);
    }

    /// Resolves every published incident whose latest signal is more than a
    /// correlation window older than `watermark` (event time every input
    /// has reached), and forgets entities quiet for longer than the reopen
    /// window, so memory follows the active entities only.
    pub fn sweep(&mut self, watermark: Timestamp, emit: &mut impl FnMut(&mut Incident)) {
        let window_ms = self.window_ms();
        let keep_ms = window_ms.max(i64::from(self.config.reopen_window_secs) * SECOND_MS);
        let mut forgotten = Vec::new();
        for (key, open) in &mut self.open {
            let last = open.incident.last_seen.0;
            if open.published && !open.resolved() && last + window_ms < watermark.0 {
                resolve(open);
                emit(&mut open.incident);
            }
            if last + keep_ms < watermark.0 {
                forgotten.push(key.clone());
            }
        }
        for key in forgotten {
            if let Some(open) = self.open.remove(&key) {
                self.ids.remove(&open.incident.incident_id);
            }
        }
    }

    /// Resolves the incident `id` by hand. Returns false when the engine
    /// does not hold it (unknown, or forgotten after the reopen window) or
    /// it is already resolved.
    pub fn resolve(&mut self, id: &str, emit: &mut impl FnMut(&mut Incident)) -> bool {
        let Some(open) = self.ids.get(id).and_then(|key| self.open.get_mut(key)) else {
            return false;
        };
        if !open.published || open.resolved() {
            return false;
        }
        resolve(open);
        emit(&mut open.incident);
        true
    }

    /// The incidents the engine holds with their entity keys, as JSON, for
    /// a snapshot. Sorted by entity key, so the same state always saves the
    /// same way.
    ///
    /// # Errors
    /// Returns a serialization error (none is expected of these types).
    pub fn save(&self) -> serde_json::Result<String> {
        let mut saved: Vec<(&String, &OpenIncident)> = self.open.iter().collect();
        saved.sort_unstable_by_key(|(key, _)| *key);
        serde_json::to_string(&saved)
    }

    /// An engine holding the incidents of a [`IncidentEngine::save`].
    ///
    /// # Errors
    /// Returns the parse error of malformed saved state.
    pub fn restore(config: IncidentConfig, saved: &str) -> serde_json::Result<Self> {
        let incidents: Vec<(String, OpenIncident)> = serde_json::from_str(saved)?;
        let mut engine = Self::new(config);
        for (key, open) in incidents {
            engine
                .ids
                .insert(open.incident.incident_id.clone(), key.clone());
            engine.open.insert(key, open);
        }
        Ok(engine)
    }

    /// Incidents the engine holds (open, or resolved and still reopenable).
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    fn window_ms(&self) -> i64 {
        i64::from(self.config.correlation_window_secs) * SECOND_MS
    }

    fn open_new(&mut self, signal: &Signal, emit: &mut impl FnMut(&mut Incident)) {
        let key = signal.incident_key();
        let mut opened = open_incident(signal, &self.config);
        if opened.published {
            emit(&mut opened.incident);
        }
        if let Some(previous) = self.open.get(key) {
            self.ids.remove(&previous.incident.incident_id);
        }
        self.ids
            .insert(opened.incident.incident_id.clone(), key.to_owned());
        self.open.insert(key.to_owned(), opened);
    }
}

/// Marks an incident resolved, as a new revision.
fn resolve(open: &mut OpenIncident) {
    open.incident.status = IncidentStatus::Resolved;
    open.incident.revision += 1;
}

/// Brings a resolved incident back with the signal that returned.
fn reopen(open: &mut OpenIncident, signal: &Signal, config: &IncidentConfig) {
    fold(open, signal, config);
    open.incident.status = IncidentStatus::Open;
    open.incident.revision += 1;
}

fn open_incident(signal: &Signal, config: &IncidentConfig) -> OpenIncident {
    let mut incident = Incident {
        incident_id: incident_id(signal),
        revision: 1,
        status: IncidentStatus::Open,
        incident_type: IncidentType::AnomalousUsage,
        severity: Severity::Low,
        score: 0.0,
        user_id: signal.user_id.clone(),
        entities: Entities::default(),
        first_seen: signal.at,
        last_seen: signal.at,
        signals: vec![SignalRecord::from(signal)],
        actions: Vec::new(),
    };
    add_entities(&mut incident.entities, signal, config.max_entities);
    let hints = signal.incident_type.into_iter().collect();
    let mut open = OpenIncident {
        incident,
        hints,
        published: false,
    };
    reassess(&mut open);
    open.published = open.incident.score >= config.min_score;
    open
}

/// Ids follow from the first signal only: `INC-<UTC date>-<10 hex digits>`.
fn incident_id(signal: &Signal) -> String {
    let key = signal.incident_key();
    let mut seed = Vec::with_capacity(key.len() + signal.name.len() + 9);
    seed.extend_from_slice(key.as_bytes());
    seed.push(0);
    seed.extend_from_slice(&signal.at.0.to_be_bytes());
    seed.extend_from_slice(signal.name.as_bytes());
    let digest = stable_hash(&seed) >> 24;
    format!("INC-{}-{digest:010x}", utc_date_compact(signal.at))
}

/// Applies a joining signal; returns whether a new revision is due.
fn extend(open: &mut OpenIncident, signal: &Signal, config: &IncidentConfig) -> bool {
    let before = open.incident.severity;
    if !fold(open, signal, config) {
        return false;
    }
    if !open.published {
        open.published = open.incident.score >= config.min_score;
        return open.published;
    }
    open.incident.revision += 1;
    if open.incident.severity > before {
        open.incident.status = IncidentStatus::Escalated;
    }
    true
}

/// Adds a signal's entities and finding to the incident and reassesses it
/// when something new arrived; returns whether anything changed that a
/// revision must carry.
fn fold(open: &mut OpenIncident, signal: &Signal, config: &IncidentConfig) -> bool {
    let incident = &mut open.incident;
    incident.last_seen = incident.last_seen.max(signal.at);
    let mut changed = add_entities(&mut incident.entities, signal, config.max_entities);
    let position = incident
        .signals
        .iter()
        .position(|s| s.name == signal.name && s.source == signal.source);
    let room = incident.signals.len() < config.max_signals;
    match position.map(|index| &mut incident.signals[index]) {
        Some(known) => {
            known.count = known.count.saturating_add(1);
            if signal.score > known.score {
                known.score = signal.score;
                known.severity = known.severity.max(signal.severity);
                known.evidence.clone_from(&signal.evidence);
                changed = true;
            }
        }
        None if room => {
            incident.signals.push(SignalRecord::from(signal));
            changed = true;
        }
        None => {}
    }
    if let Some(hint) = signal.incident_type.filter(|h| !open.hints.contains(h)) {
        open.hints.push(hint);
        changed = true;
    }
    if changed {
        reassess(open);
    }
    changed
}

fn reassess(open: &mut OpenIncident) {
    let incident = &mut open.incident;
    incident.score = combined_score(&incident.signals);
    incident.incident_type = classify(&incident.signals, &open.hints);
    let strongest = incident
        .signals
        .iter()
        .map(|s| s.severity)
        .max()
        .unwrap_or(Severity::Low);
    incident.severity = Severity::from_score(incident.score).max(strongest);
}

/// Adds the signal's address and key; returns whether either was new.
fn add_entities(entities: &mut Entities, signal: &Signal, max: usize) -> bool {
    let mut added = false;
    if let Some(ip) = signal.ip
        && entities.ips.len() < max
    {
        added |= entities.ips.insert(ip);
    }
    if let Some(key) = &signal.api_key_id
        && entities.api_key_ids.len() < max
    {
        added |= entities
            .api_key_ids
            .insert(redact_secrets(key).into_owned());
    }
    added
}

#[cfg(test)]
mod tests;
