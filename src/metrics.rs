//! Prometheus metrics: one registry per process, handles resolved once.
//!
//! Names follow `vigil_<subsystem>_<name>_<unit>`. Labels are bounded: a
//! source name, a reject reason, a detector or rule id, an incident type and
//! severity, a reload outcome; never a user id, key or address. The
//! collector thread is the only writer of per-event counters, so the
//! handles it caches need no locking beyond the counters' own atomics.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::event::RejectReason;
use crate::incident::{Incident, IncidentType};
use crate::pipeline::ShardOutput;
use crate::respond::ActionKind;
use crate::signal::{Signal, SignalSource};

/// Every metric vigil exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    events: IntCounterVec,
    rejected: IntCounterVec,
    duplicates: IntCounter,
    signals: IntCounterVec,
    incidents_opened: IntCounterVec,
    incident_revisions: IntCounter,
    tracked_users: IntGauge,
    rule_reloads: IntCounterVec,
    pipeline_latency: Histogram,
    kafka_lag: IntGaugeVec,
    failed_authentications: IntCounter,
    rate_limit_violations: IntCounter,
    suspicious_patterns: IntCounter,
    key_compromises: IntCounter,
    cold_start_users: IntGaugeVec,
    action_attempts: IntCounterVec,
    action_duration: HistogramVec,
    outbox_depth: IntGauge,
    signals_silenced: IntCounter,
    profiles_evicted: IntCounter,
    http_connections_refused: IntCounter,
    http_header_timeouts: IntCounter,
}

/// Metric names as exported, for documentation and tests.
pub const METRIC_NAMES: [&str; 22] = [
    "vigil_events_processed_total",
    "vigil_events_rejected_total",
    "vigil_events_duplicate_total",
    "vigil_signals_raised_total",
    "vigil_incidents_opened_total",
    "vigil_incident_revisions_total",
    "vigil_profiles_tracked_users",
    "vigil_rules_reloads_total",
    "vigil_pipeline_latency_seconds",
    "vigil_kafka_consumer_lag_messages",
    "vigil_security_failed_authentications_total",
    "vigil_security_rate_limit_violations_total",
    "vigil_security_suspicious_patterns_total",
    "vigil_security_key_compromises_total",
    "vigil_profiles_cold_start_users",
    "vigil_actions_attempts_total",
    "vigil_actions_duration_seconds",
    "vigil_actions_outbox_depth",
    "vigil_signals_silenced_total",
    "vigil_profiles_evicted_total",
    "vigil_http_connections_refused_total",
    "vigil_http_header_timeouts_total",
];

/// Action outcomes counted per attempt.
pub const ACTION_OUTCOMES: [&str; 3] = ["succeeded", "retrying", "failed"];

/// Latency buckets, in seconds: from half a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// Registers `metric` in `registry` and hands it back.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: Result<M, prometheus::Error>,
) -> M {
    let metric = metric.expect("metric definitions are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Metrics {
    /// A fresh registry with every metric registered.
    ///
    /// # Panics
    /// Never in practice: the names and labels are constant and valid.
    #[must_use]
    #[allow(
        clippy::too_many_lines,
        reason = "one declaration per metric, read as a list"
    )]
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |index: usize, help: &str| {
            registered(&registry, IntCounter::new(METRIC_NAMES[index], help))
        };
        let counter_vec = |index: usize, help: &str, labels: &[&str]| {
            let opts = Opts::new(METRIC_NAMES[index], help);
            registered(&registry, IntCounterVec::new(opts, labels))
        };
        let latency_opts = HistogramOpts::new(
            METRIC_NAMES[8],
            "Time from reading a batch of events to handing its signals and incidents to \
             the sinks.",
        )
        .buckets(LATENCY_BUCKETS.to_vec());
        let lag_opts = Opts::new(
            METRIC_NAMES[9],
            "Messages between the consumer's position and the partition's end, by topic and \
             partition (Kafka source only).",
        );
        Self {
            events: counter_vec(
                0,
                "Events decoded and applied to profiles, by source.",
                &["source"],
            ),
            rejected: counter_vec(
                1,
                "Records refused and sent to the dead-letter sink, by reason.",
                &["reason"],
            ),
            duplicates: counter(
                2,
                "Events dropped because their event_id was seen recently (redeliveries).",
            ),
            signals: counter_vec(
                3,
                "Signals raised, by source (detector or rule) and detector or rule id.",
                &["source", "name"],
            ),
            incidents_opened: counter_vec(
                4,
                "Incidents opened, by type and severity at opening.",
                &["type", "severity"],
            ),
            incident_revisions: counter(5, "Incident revisions written."),
            tracked_users: registered(
                &registry,
                IntGauge::new(METRIC_NAMES[6], "Users with a profile in memory."),
            ),
            rule_reloads: counter_vec(
                7,
                "Rule set reloads, by outcome (applied or refused).",
                &["outcome"],
            ),
            pipeline_latency: registered(&registry, Histogram::with_opts(latency_opts)),
            kafka_lag: registered(
                &registry,
                IntGaugeVec::new(lag_opts, &["topic", "partition"]),
            ),
            failed_authentications: counter(
                10,
                "Authentication events (logins, MFA checks) that failed.",
            ),
            rate_limit_violations: counter(
                11,
                "Keys caught over their per-second rate or daily quota by the rate_limit \
                 detector.",
            ),
            suspicious_patterns: counter(12, "Rule matches: suspicious patterns in the events."),
            key_compromises: counter(13, "Incidents opened as an API key compromise."),
            cold_start_users: registered(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        METRIC_NAMES[14],
                        "Users whose history is still too short for a detector, by detector.",
                    ),
                    &["detector"],
                ),
            ),
            action_attempts: counter_vec(
                15,
                "Action attempts, by action and outcome (succeeded, retrying, failed).",
                &["action", "outcome"],
            ),
            action_duration: registered(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        METRIC_NAMES[16],
                        "Time one action attempt took, by action.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["action"],
                ),
            ),
            outbox_depth: registered(
                &registry,
                IntGauge::new(
                    METRIC_NAMES[17],
                    "Actions planned and not yet finished (queued, in flight or waiting to retry).",
                ),
            ),
            signals_silenced: counter(18, "Signals muted by a silence; they join no incident."),
            profiles_evicted: counter(
                19,
                "Profiles evicted, idle longest first, to stay within [profile] max_users.",
            ),
            http_connections_refused: counter(
                20,
                "HTTP connections closed on arrival because max_connections were being served.",
            ),
            http_header_timeouts: counter(
                21,
                "HTTP connections closed because a request's headers (or the TLS handshake) \
                 did not arrive within header_timeout_ms.",
            ),
            registry,
        }
    }

    /// Handles for the action runner, with every action and outcome
    /// exported from the start.
    #[must_use]
    pub fn actions(&self) -> ActionMetrics {
        let mut attempts = HashMap::new();
        let mut durations = HashMap::new();
        for action in ActionKind::ALL {
            for outcome in ACTION_OUTCOMES {
                let counter = self
                    .action_attempts
                    .with_label_values(&[action.as_str(), outcome]);
                attempts.insert((action.as_str(), outcome), counter);
            }
            let histogram = self.action_duration.with_label_values(&[action.as_str()]);
            durations.insert(action.as_str(), histogram);
        }
        ActionMetrics {
            attempts: Arc::new(attempts),
            durations: Arc::new(durations),
            outbox_depth: self.outbox_depth.clone(),
            silenced: self.signals_silenced.clone(),
        }
    }

    /// Handles for the HTTP listener.
    #[must_use]
    pub fn http(&self) -> HttpMetrics {
        HttpMetrics {
            connections_refused: self.http_connections_refused.clone(),
            header_timeouts: self.http_header_timeouts.clone(),
        }
    }

    /// Sets the consumer lag of one partition; a negative lag (unknown to
    /// librdkafka yet) is left out.
    pub fn set_kafka_lag(&self, topic: &str, partition: i32, lag: i64) {
        if lag >= 0 {
            self.kafka_lag
                .with_label_values(&[topic, &partition.to_string()])
                .set(lag);
        }
    }

    /// The metrics in Prometheus' text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on a malformed family, which the
        // constant definitions above rule out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Counter handles for one run, resolved once and cached.
    #[must_use]
    pub fn recorder(&self, source: &str) -> Recorder {
        Recorder {
            metrics: self.clone(),
            events: self.events.with_label_values(&[source]),
            rejected: HashMap::new(),
            signals: HashMap::new(),
            incidents: HashMap::new(),
            users: Vec::new(),
            cold_start: Vec::new(),
        }
    }

    /// Brings the reload counters up to the feed's totals.
    pub fn observe_reloads(&self, applied: u64, refused: u64) {
        for (outcome, total) in [("applied", applied), ("refused", refused)] {
            let counter = self.rule_reloads.with_label_values(&[outcome]);
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The collector's view of the metrics: cached handles per label value.
pub struct Recorder {
    metrics: Metrics,
    events: IntCounter,
    rejected: HashMap<RejectReason, IntCounter>,
    signals: HashMap<String, IntCounter>,
    incidents: HashMap<(String, String), IntCounter>,
    /// Users per shard at its latest report.
    users: Vec<u64>,
    /// Cold-start users per shard and detector at its latest count.
    cold_start: Vec<BTreeMap<&'static str, u64>>,
}

impl Recorder {
    /// A shard's report on one batch: events processed, dropped as
    /// duplicates and failed logins, and the users it now holds.
    pub fn shard_report(&mut self, output: &ShardOutput) {
        self.events.inc_by(output.processed);
        self.metrics.duplicates.inc_by(output.duplicates);
        self.metrics.profiles_evicted.inc_by(output.evicted);
        self.metrics
            .failed_authentications
            .inc_by(output.failed_authentications);
        let shard = output.shard;
        if self.users.len() <= shard {
            self.users.resize(shard + 1, 0);
        }
        self.users[shard] = output.users;
        let total: u64 = self.users.iter().sum();
        self.metrics
            .tracked_users
            .set(i64::try_from(total).unwrap_or(i64::MAX));
        if let Some(counts) = &output.cold_start_users {
            self.cold_start_report(shard, counts);
        }
    }

    fn cold_start_report(&mut self, shard: usize, counts: &BTreeMap<&'static str, u64>) {
        if self.cold_start.len() <= shard {
            self.cold_start.resize(shard + 1, BTreeMap::new());
        }
        self.cold_start[shard].clone_from(counts);
        for detector in counts.keys() {
            let total: u64 = self
                .cold_start
                .iter()
                .filter_map(|per_shard| per_shard.get(detector))
                .sum();
            self.metrics
                .cold_start_users
                .with_label_values(&[detector])
                .set(i64::try_from(total).unwrap_or(i64::MAX));
        }
    }

    /// How long a batch took from the router to the collector.
    pub fn batch_latency(&self, latency: std::time::Duration) {
        self.metrics.pipeline_latency.observe(latency.as_secs_f64());
    }

    /// A refused record.
    pub fn rejected(&mut self, reason: RejectReason) {
        let rejected = &self.metrics.rejected;
        self.rejected
            .entry(reason)
            .or_insert_with(|| rejected.with_label_values(&[reason.as_str()]))
            .inc();
    }

    /// A signal raised.
    pub fn signal(&mut self, signal: &Signal) {
        match signal.source {
            SignalSource::Rule => self.metrics.suspicious_patterns.inc(),
            SignalSource::Detector if signal.name == "rate_limit" => {
                self.metrics.rate_limit_violations.inc();
            }
            SignalSource::Detector => {}
        }
        if let Some(counter) = self.signals.get(signal.name.as_ref()) {
            counter.inc();
            return;
        }
        let source = match signal.source {
            SignalSource::Detector => "detector",
            SignalSource::Rule => "rule",
        };
        let counter = self
            .metrics
            .signals
            .with_label_values(&[source, signal.name.as_ref()]);
        counter.inc();
        self.signals.insert(signal.name.to_string(), counter);
    }

    /// An incident revision written.
    pub fn incident(&mut self, incident: &Incident) {
        self.metrics.incident_revisions.inc();
        if incident.revision != 1 {
            return;
        }
        if incident.incident_type == IncidentType::ApiKeyCompromise {
            self.metrics.key_compromises.inc();
        }
        let key = (
            incident.incident_type.as_str().to_owned(),
            incident.severity.as_str().to_owned(),
        );
        let opened = &self.metrics.incidents_opened;
        self.incidents
            .entry(key)
            .or_insert_with_key(|(kind, severity)| opened.with_label_values(&[kind, severity]))
            .inc();
    }
}

/// The action runner's handles, resolved once per action and outcome.
#[derive(Clone)]
pub struct ActionMetrics {
    attempts: Arc<HashMap<(&'static str, &'static str), IntCounter>>,
    durations: Arc<HashMap<&'static str, Histogram>>,
    outbox_depth: IntGauge,
    silenced: IntCounter,
}

impl ActionMetrics {
    /// One attempt of `action` with its `outcome` and duration.
    pub fn attempt(&self, action: &'static str, outcome: &'static str, took: std::time::Duration) {
        if let Some(counter) = self.attempts.get(&(action, outcome)) {
            counter.inc();
        }
        if let Some(histogram) = self.durations.get(action) {
            histogram.observe(took.as_secs_f64());
        }
    }

    /// Actions planned and not yet finished.
    pub fn set_queued(&self, depth: usize) {
        self.outbox_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A signal muted by a silence.
    pub fn silenced(&self) {
        self.silenced.inc();
    }
}

/// The HTTP listener's handles.
#[derive(Clone)]
pub struct HttpMetrics {
    connections_refused: IntCounter,
    header_timeouts: IntCounter,
}

impl HttpMetrics {
    /// A connection closed on arrival because the listener was full.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// A connection closed because its headers came too slowly.
    pub fn header_timed_out(&self) {
        self.header_timeouts.inc();
    }
}
