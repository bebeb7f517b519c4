//! The collector: the single place where shard outputs meet. It folds
//! signals into incidents, writes incident revisions and dead letters, and
//! counts and logs what it sees.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crossbeam_channel::Receiver;

use super::dead_letter::DeadLetter;
use super::global::GlobalStage;
use super::shard::ShardOutput;
use crate::event::RejectReason;
use crate::incident::{Incident, IncidentConfig, IncidentEngine};
use crate::signal::Signal;

/// Rejects logged one by one before logging turns to periodic summaries.
const REJECTS_LOGGED_IN_FULL: u64 = 10;
/// After that, one log line per this many rejects.
const REJECT_LOG_EVERY: u64 = 10_000;

/// Where the collector writes.
pub struct CollectorSinks {
    /// Incident revisions as JSON lines.
    pub incidents: Option<Box<dyn Write + Send>>,
    /// Refused records as JSON lines.
    pub dead_letter: Option<Box<dyn Write + Send>>,
    /// Name of the input, written into dead letters.
    pub source: String,
}

/// What the collector saw.
#[derive(Debug, Default)]
pub struct CollectorStats {
    /// Records refused, by reason.
    pub rejects: BTreeMap<RejectReason, u64>,
    /// Signals raised, by detector or rule id.
    pub signals: BTreeMap<String, u64>,
    /// Incident revisions written.
    pub revisions: u64,
    /// The latest revision of every incident, by id.
    pub incidents: BTreeMap<String, Incident>,
}

/// Folds and writes shard outputs until every shard has hung up. With
/// rules, it also runs the global rule stage on what shards forward.
///
/// # Errors
/// Returns the first write error of a sink.
pub fn collect(
    outputs: &Receiver<ShardOutput>,
    config: IncidentConfig,
    mut global: Option<GlobalStage>,
    mut sinks: CollectorSinks,
) -> io::Result<CollectorStats> {
    let mut engine = IncidentEngine::new(config);
    let mut stats = CollectorStats::default();
    let mut global_signals = Vec::new();
    for mut output in outputs {
        for dead in &output.rejects {
            record_reject(&mut stats, dead, &mut sinks)?;
        }
        for signal in &output.signals {
            record_signal(&mut stats, &mut engine, signal, &mut sinks)?;
        }
        if let Some(global) = global.as_mut() {
            global.accept(&mut output, &mut global_signals);
        }
        for signal in global_signals.drain(..) {
            record_signal(&mut stats, &mut engine, &signal, &mut sinks)?;
        }
    }
    if let Some(global) = global.as_mut() {
        global.finish(&mut global_signals);
    }
    for signal in global_signals.drain(..) {
        record_signal(&mut stats, &mut engine, &signal, &mut sinks)?;
    }
    for sink in [&mut sinks.incidents, &mut sinks.dead_letter]
        .into_iter()
        .flatten()
    {
        sink.flush()?;
    }
    Ok(stats)
}

fn record_reject(
    stats: &mut CollectorStats,
    dead: &DeadLetter,
    sinks: &mut CollectorSinks,
) -> io::Result<()> {
    let count = stats.rejects.entry(dead.reject.reason).or_default();
    *count += 1;
    let total: u64 = stats.rejects.values().sum();
    if total <= REJECTS_LOGGED_IN_FULL {
        tracing::warn!(
            line = dead.line,
            reason = dead.reject.reason.as_str(),
            field = dead.reject.field.as_deref().unwrap_or(""),
            "Event rejected"
        );
    } else if total.is_multiple_of(REJECT_LOG_EVERY) {
        tracing::warn!(rejected = total, "Events keep being rejected");
    }
    match sinks.dead_letter.as_mut() {
        Some(sink) => dead.write_json(&sinks.source, sink.as_mut()),
        None => Ok(()),
    }
}

fn record_signal(
    stats: &mut CollectorStats,
    engine: &mut IncidentEngine,
    signal: &Signal,
    sinks: &mut CollectorSinks,
) -> io::Result<()> {
    *stats.signals.entry(signal.name.to_string()).or_default() += 1;
    let Some(incident) = engine.on_signal(signal) else {
        return Ok(());
    };
    stats.revisions += 1;
    if let Some(sink) = sinks.incidents.as_mut() {
        serde_json::to_writer(&mut *sink, incident)?;
        sink.write_all(b"\n")?;
    }
    stats
        .incidents
        .insert(incident.incident_id.clone(), incident.clone());
    Ok(())
}
