//! The collector: the single place where shard outputs meet. It folds
//! signals into incidents, writes incident revisions and dead letters, and
//! counts and logs what it sees.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::checkpoint::Checkpointer;
use super::dead_letter::DeadLetter;
use super::global::GlobalStage;
use super::latency::{Latency, LatencyWindow};
use super::progress::{Clock, Progress, Watermark};
use super::shard::ShardOutput;
use crate::event::RejectReason;
use crate::incident::{Incident, IncidentConfig, IncidentEngine};
use crate::metrics::Recorder;
use crate::respond::{ActionSummary, Command, Response};
use crate::signal::Signal;
use crate::state::{CollectorState, SourcePosition};
use crate::time::Timestamp;

/// Rejects logged one by one before logging turns to periodic summaries.
const REJECTS_LOGGED_IN_FULL: u64 = 10;
/// After that, one log line per this many rejects.
const REJECT_LOG_EVERY: u64 = 10_000;

/// A sink beyond the local files, such as Kafka topics: it receives every
/// dead letter and incident revision, and learns which input lines are
/// fully processed so it can acknowledge them to the source.
pub trait StreamSink: Send {
    /// A refused record.
    ///
    /// # Errors
    /// Returns a delivery error that must stop the run.
    fn dead_letter(&mut self, dead: &DeadLetter) -> io::Result<()>;

    /// A new incident revision.
    ///
    /// # Errors
    /// Returns a delivery error that must stop the run.
    fn incident(&mut self, incident: &Incident) -> io::Result<()>;

    /// Whether the source interleaves partitions, so cross-user rules must
    /// see events in event-time order up to [`StreamSink::watermark`]
    /// instead of in input order.
    fn tracks_event_time(&self) -> bool {
        false
    }

    /// The event time every partition had reached when input line `line`
    /// was read.
    fn watermark(&self, _line: u64) -> Option<Timestamp> {
        None
    }

    /// Every input line up to `line` has been processed and its outputs
    /// handed to the sinks.
    fn processed_through(&mut self, line: u64);

    /// Where the source stands once every processed line is accounted
    /// for: the next offset of each partition, saved with a snapshot.
    fn positions(&self) -> Vec<SourcePosition> {
        Vec::new()
    }

    /// The snapshot covering [`StreamSink::positions`] is on disk: the
    /// source may now commit them.
    fn commit_positions(&mut self) {}

    /// Waits until everything handed over so far is delivered; called
    /// before a snapshot, which must not cover outputs still in flight.
    ///
    /// # Errors
    /// Returns a delivery error.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The run is over: flush what is buffered.
    ///
    /// # Errors
    /// Returns the error of the final flush.
    fn finish(&mut self) -> io::Result<()>;
}

/// Where the collector writes.
#[derive(Default)]
pub struct CollectorSinks {
    /// Incident revisions as JSON lines.
    pub incidents: Option<Box<dyn Write + Send>>,
    /// Refused records as JSON lines.
    pub dead_letter: Option<Box<dyn Write + Send>>,
    /// Name of the input, written into dead letters.
    pub source: String,
    /// Topics or other streams that receive the same outputs.
    pub stream: Option<Box<dyn StreamSink>>,
    /// Prometheus counters to keep up to date.
    pub metrics: Option<Recorder>,
    /// The response system: audits revisions and plans their actions.
    pub response: Option<Response>,
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
    /// Time from the router sending a batch to the collector taking its
    /// results, in microseconds, one sample per non-empty batch.
    pub latency_us: Latency,
    /// What the response system did, when it ran.
    pub actions: Option<ActionSummary>,
    /// How long the end of the run waited for queued actions to finish.
    pub actions_wait: Duration,
}

/// Folds and writes shard outputs until every shard has hung up. With
/// rules, it also runs the global rule stage on what shards forward. With
/// a checkpointer, it starts from the restored state and writes a snapshot
/// at the end.
///
/// # Errors
/// Returns the first write error of a sink, or of the snapshot.
pub(super) fn collect(
    outputs: &Receiver<ShardOutput>,
    shards: usize,
    config: IncidentConfig,
    lateness_secs: u32,
    global: Option<GlobalStage>,
    sinks: CollectorSinks,
    checkpoint: Option<(Checkpointer, Option<CollectorState>)>,
) -> io::Result<CollectorStats> {
    let (checkpoint, restored) = checkpoint.map_or((None, None), |(c, r)| (Some(c), r));
    let mut collector = Collector {
        engine: IncidentEngine::new(config.clone()),
        stats: CollectorStats::default(),
        progress: Progress::new(shards),
        window: LatencyWindow::new(),
        watermark: Watermark::new(shards, lateness_secs),
        global,
        global_signals: Vec::new(),
        sinks,
        checkpoint,
    };
    if let Some(state) = restored {
        collector.restore(config, state)?;
    }
    let commands = collector
        .sinks
        .response
        .as_ref()
        .map_or_else(crossbeam_channel::never, |r| r.commands().clone());
    loop {
        crossbeam_channel::select! {
            recv(outputs) -> output => match output {
                Ok(output) => collector.take(output)?,
                Err(_) => break,
            },
            recv(commands) -> command => {
                if let Ok(command) = command {
                    collector.obey(command)?;
                }
            },
        }
    }
    collector.finish()
}

/// The collector's state between outputs.
struct Collector {
    engine: IncidentEngine,
    stats: CollectorStats,
    progress: Progress,
    window: LatencyWindow,
    watermark: Watermark,
    global: Option<GlobalStage>,
    global_signals: Vec<Signal>,
    sinks: CollectorSinks,
    checkpoint: Option<Checkpointer>,
}

impl Collector {
    /// Takes over the incidents, held events and event-time progress of a
    /// snapshot.
    fn restore(&mut self, config: IncidentConfig, state: CollectorState) -> io::Result<()> {
        self.engine = IncidentEngine::restore(config, &state.incidents).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the snapshot's incidents cannot be read: {e}"),
            )
        })?;
        if let (Some(global), Some(saved)) = (self.global.as_mut(), state.global) {
            global.restore(saved);
        }
        self.watermark.restore(&state.latest, state.swept);
        Ok(())
    }

    /// The collector's state, for a snapshot.
    fn save(&self) -> io::Result<CollectorState> {
        Ok(CollectorState {
            incidents: self.engine.save().map_err(io::Error::other)?,
            global: self.global.as_ref().map(GlobalStage::save),
            latest: self.watermark.latest.clone(),
            swept: self.watermark.swept,
        })
    }

    /// Folds one shard output in and writes what it caused.
    fn take(&mut self, mut output: ShardOutput) -> io::Result<()> {
        if let (Some(state), Some(checkpoint)) = (output.state.take(), self.checkpoint.as_mut()) {
            checkpoint.take_part(output.shard, *state, output.ended);
        }
        let revisions_before = self.stats.revisions;
        let rejected = !output.rejects.is_empty();
        let sinks = &mut self.sinks;
        if let Some(metrics) = sinks.metrics.as_mut() {
            metrics.shard_report(&output);
        }
        for dead in &output.rejects {
            record_reject(&mut self.stats, dead, sinks)?;
        }
        for signal in &output.signals {
            record_signal(&mut self.stats, &mut self.engine, signal, sinks)?;
        }
        let newly_done = self.progress.advance(output.shard, output.through_line);
        if let Some(global) = self.global.as_mut() {
            let passed = self.progress.passed();
            let watermark = sinks.stream.as_ref().and_then(|s| s.watermark(passed));
            global.accept(
                &mut output.forwarded,
                passed,
                watermark,
                &mut self.global_signals,
            );
        }
        for signal in self.global_signals.drain(..) {
            record_signal(&mut self.stats, &mut self.engine, &signal, sinks)?;
        }
        let clock = sinks
            .stream
            .as_ref()
            .filter(|s| s.tracks_event_time())
            .map_or(Clock::Shards, |s| {
                Clock::Source(s.watermark(self.progress.passed()))
            });
        if let Some(due) = self.watermark.advance(output.shard, output.latest, clock) {
            let mut result = Ok(());
            self.engine.sweep(due, &mut |incident| {
                if result.is_ok() {
                    result = write_revision(&mut self.stats, incident, sinks);
                }
            });
            result?;
        }
        if let (Some(line), Some(stream)) = (newly_done, sinks.stream.as_mut()) {
            stream.processed_through(line);
        }
        if let Some(sent) = output.sent_at {
            let latency = sent.elapsed();
            record_latency(&mut self.stats, latency, sinks);
            self.window.record(latency);
        }
        if self
            .checkpoint
            .as_ref()
            .is_some_and(Checkpointer::periodic_due)
        {
            self.write_periodic_snapshot()?;
        } else if rejected || self.stats.revisions != revisions_before {
            // Whoever tails the output files sees a batch's findings as soon
            // as it is folded in, not when a buffer happens to fill.
            self.flush_files()?;
        }
        Ok(())
    }

    /// Writes a snapshot while the router waits: every shard has handed in
    /// its state up to the same input line, and everything before it has
    /// been folded in. Outputs are flushed first, so nothing the snapshot
    /// covers can be lost with the process.
    fn write_periodic_snapshot(&mut self) -> io::Result<()> {
        let (state, positions) = self.snapshot_contents()?;
        if let Some(checkpoint) = self.checkpoint.as_mut() {
            checkpoint.write_periodic(state, positions)?;
        }
        self.commit_positions();
        Ok(())
    }

    /// The collector's state and the source positions it covers, once the
    /// output files are flushed and the stream sinks have delivered what
    /// they were handed.
    fn snapshot_contents(&mut self) -> io::Result<(CollectorState, Vec<SourcePosition>)> {
        self.flush_files()?;
        let positions = match self.sinks.stream.as_mut() {
            Some(stream) => {
                stream.flush()?;
                stream.positions()
            }
            None => Vec::new(),
        };
        Ok((self.save()?, positions))
    }

    /// A snapshot covering the positions is on disk: the source may commit.
    fn commit_positions(&mut self) {
        if let Some(stream) = self.sinks.stream.as_mut() {
            stream.commit_positions();
        }
    }

    fn flush_files(&mut self) -> io::Result<()> {
        let sinks = &mut self.sinks;
        for sink in [&mut sinks.incidents, &mut sinks.dead_letter]
            .into_iter()
            .flatten()
        {
            sink.flush()?;
        }
        Ok(())
    }

    /// Carries out a request from the HTTP API.
    fn obey(&mut self, command: Command) -> io::Result<()> {
        match command {
            Command::Resolve { id, by, reply } => {
                let sinks = &mut self.sinks;
                let mut result = Ok(());
                let mut resolved = None;
                self.engine.resolve(&id, &mut |incident| {
                    result = write_revision(&mut self.stats, incident, sinks);
                    resolved = Some(incident.clone());
                });
                if let (Some(incident), Some(response)) = (&resolved, sinks.response.as_ref()) {
                    response.audit_resolution(incident, &by);
                    tracing::info!(incident = %id, by = %by, "Incident resolved by hand");
                }
                let _ = reply.send(resolved);
                result
            }
        }
    }

    /// Runs the global stage to its end, flushes the sinks, writes the
    /// snapshot and waits for queued actions. A run asked to stop while
    /// keeping snapshots leaves open incidents and events waiting for the
    /// watermark as they are: the next run carries on with them.
    fn finish(mut self) -> io::Result<CollectorStats> {
        let interrupted = self
            .checkpoint
            .as_ref()
            .is_some_and(Checkpointer::interrupted);
        let sinks = &mut self.sinks;
        if let Some(global) = self.global.as_mut() {
            if interrupted {
                global.accept(&mut Vec::new(), u64::MAX, None, &mut self.global_signals);
            } else {
                global.finish(&mut self.global_signals);
            }
        }
        for signal in self.global_signals.drain(..) {
            record_signal(&mut self.stats, &mut self.engine, &signal, sinks)?;
        }
        if let Some(end) = self.watermark.at_end().filter(|_| !interrupted) {
            let mut result = Ok(());
            self.engine.sweep(end, &mut |incident| {
                if result.is_ok() {
                    result = write_revision(&mut self.stats, incident, sinks);
                }
            });
            result?;
        }
        self.flush_files()?;
        if let Some(stream) = self.sinks.stream.as_mut()
            && let Some(line) = self.progress.all_done()
        {
            stream.processed_through(line);
        }
        if let Some(checkpoint) = self.checkpoint.take() {
            let (state, positions) = self.snapshot_contents()?;
            checkpoint.write_final(state, positions)?;
            self.commit_positions();
        }
        let sinks = &mut self.sinks;
        if let Some(stream) = sinks.stream.as_mut() {
            stream.finish()?;
        }
        if let Some(response) = sinks.response.take() {
            let waiting = std::time::Instant::now();
            self.stats.actions = Some(response.finish());
            self.stats.actions_wait = waiting.elapsed();
        }
        Ok(self.stats)
    }
}

fn record_latency(stats: &mut CollectorStats, latency: Duration, sinks: &mut CollectorSinks) {
    stats.latency_us.record(latency);
    if let Some(metrics) = sinks.metrics.as_ref() {
        metrics.batch_latency(latency);
    }
}

fn record_reject(
    stats: &mut CollectorStats,
    dead: &DeadLetter,
    sinks: &mut CollectorSinks,
) -> io::Result<()> {
    let count = stats.rejects.entry(dead.reject.reason).or_default();
    *count += 1;
    if let Some(metrics) = sinks.metrics.as_mut() {
        metrics.rejected(dead.reject.reason);
    }
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
    if let Some(stream) = sinks.stream.as_mut() {
        stream.dead_letter(dead)?;
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
    if let Some(metrics) = sinks.metrics.as_mut() {
        metrics.signal(signal);
    }
    if sinks.response.as_ref().is_some_and(|r| r.mutes(signal)) {
        return Ok(());
    }
    let mut result = Ok(());
    engine.on_signal(signal, &mut |incident| {
        if result.is_ok() {
            result = write_revision(stats, incident, sinks);
        }
    });
    result
}

/// Writes one incident revision to every sink.
fn write_revision(
    stats: &mut CollectorStats,
    incident: &mut Incident,
    sinks: &mut CollectorSinks,
) -> io::Result<()> {
    stats.revisions += 1;
    if let Some(response) = sinks.response.as_mut() {
        response.on_revision(incident)?;
    }
    if let Some(metrics) = sinks.metrics.as_mut() {
        metrics.incident(incident);
    }
    if let Some(sink) = sinks.incidents.as_mut() {
        serde_json::to_writer(&mut *sink, incident)?;
        sink.write_all(b"\n")?;
    }
    if let Some(stream) = sinks.stream.as_mut() {
        stream.incident(incident)?;
    }
    stats
        .incidents
        .insert(incident.incident_id.clone(), incident.clone());
    Ok(())
}
