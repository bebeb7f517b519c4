//! The pipeline: source → router → shard workers → collector.
//!
//! One router thread reads records and sends each to the shard owning its
//! user (a stable hash of `user_id`); each shard thread decodes, updates its
//! users' profiles and runs the detectors; the calling thread collects
//! signals into incidents and writes the outputs. Channels are bounded, so a
//! slow stage slows the reader instead of growing memory.

mod batch;
mod checkpoint;
mod collector;
mod dead_letter;
mod global;
mod latency;
mod progress;
mod reader;
mod shard;
mod summary;

use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::config::{Config, ConfigError};
use crate::detect::DetectorSet;
use crate::event::signing::Verifier;
use crate::rules::RuleFeed;
use crate::state::{CollectorState, ShardState};
use checkpoint::Checkpointer;

pub use batch::RecordBatch;
pub use checkpoint::Checkpoints;
pub use collector::{CollectorSinks, CollectorStats, StreamSink};
pub use dead_letter::DeadLetter;
pub use global::{GlobalStage, GlobalState};
pub use latency::Latency;
pub use reader::{ReadStats, SnapshotPace};
pub use shard::{EventTap, Forwarded, Shard, ShardOutput, ShardSettings, ShardStats, TapFactory};
pub use summary::RunSummary;

/// Batches between two counts of a shard's cold-start users.
const COLD_START_EVERY_BATCHES: u64 = 64;

/// Batches queued per shard before the router waits.
const QUEUE_BATCHES: usize = 8;

/// A configured pipeline, ready to run over an input.
pub struct Pipeline {
    settings: ShardSettings,
    config: Config,
    shards: usize,
    checkpoints: std::sync::Mutex<Option<Checkpoints>>,
}

impl Pipeline {
    /// Builds the pipeline from a validated configuration.
    ///
    /// # Errors
    /// Returns a configuration error when a time zone does not resolve.
    pub fn new(config: Config, shards: usize) -> Result<Self, ConfigError> {
        let (clock, user_clocks) = config.profile.clocks().map_err(|problem| ConfigError {
            problems: vec![problem],
        })?;
        let settings = ShardSettings {
            detectors: Arc::new(DetectorSet::from_config(&config.detectors)),
            clock,
            user_clocks: Arc::new(user_clocks),
            limits: config.profile.limits(),
            max_users: config.profile.max_users.div_ceil(shards.max(1)),
            decode_limits: config.input.limits(),
            signing: None,
            lateness_secs: config.profile.lateness_secs,
            rules: None,
            taps: None,
            snapshot: false,
        };
        Ok(Self {
            settings,
            config,
            shards: shards.max(1),
            checkpoints: std::sync::Mutex::new(None),
        })
    }

    /// The same pipeline resuming from `checkpoints.restored` (when there
    /// is one) and writing a snapshot to `checkpoints.store` when its run
    /// ends.
    #[must_use]
    pub fn with_checkpoints(mut self, checkpoints: Checkpoints) -> Self {
        self.settings.snapshot = true;
        self.checkpoints = std::sync::Mutex::new(Some(checkpoints));
        self
    }

    /// The same pipeline refusing records whose signature `verifier` does
    /// not accept.
    #[must_use]
    pub fn with_signing(mut self, verifier: Verifier) -> Self {
        self.settings.signing = Some(Arc::new(verifier));
        self
    }

    /// The same pipeline running the rules of `feed` beside the detectors.
    #[must_use]
    pub fn with_rules(mut self, feed: RuleFeed) -> Self {
        self.settings.rules = Some(feed);
        self
    }

    /// The same pipeline handing every accepted event to a tap per shard.
    #[must_use]
    pub fn with_event_taps(mut self, taps: TapFactory) -> Self {
        self.settings.taps = Some(taps);
        self
    }

    /// Settings each shard runs with, for callers that drive a shard directly.
    #[must_use]
    pub fn shard_settings(&self) -> ShardSettings {
        self.settings.clone()
    }

    /// Runs `input` to its end. `progress` counts bytes read, for displays.
    /// With checkpoints, the first run resumes from the restored snapshot
    /// and every run writes one at its end.
    ///
    /// # Errors
    /// Returns a read error of the input or a write error of a sink.
    ///
    /// # Panics
    /// Re-raises a panic of a router or shard thread.
    pub fn run(
        &self,
        input: impl BufRead + Send,
        sinks: CollectorSinks,
        progress: &AtomicU64,
    ) -> io::Result<RunSummary> {
        let started = Instant::now();
        let (batch_senders, batch_receivers): (Vec<_>, Vec<_>) = (0..self.shards)
            .map(|_| bounded::<RecordBatch>(QUEUE_BATCHES))
            .unzip();
        let (recycle_tx, recycle_rx) = bounded::<RecordBatch>(self.shards * QUEUE_BATCHES * 2);
        let (output_tx, output_rx) = bounded::<ShardOutput>(self.shards * QUEUE_BATCHES * 4);
        let Resumption {
            mut shard_states,
            checkpoint,
            pace,
        } = self.take_checkpoints(&sinks.source);

        std::thread::scope(|scope| {
            let router = scope.spawn(move || {
                reader::route_lines(input, &batch_senders, &recycle_rx, progress, pace.as_ref())
            });
            let workers: Vec<_> = batch_receivers
                .into_iter()
                .enumerate()
                .map(|(index, batches)| {
                    let (settings, outputs, recycle) =
                        (self.settings.clone(), output_tx.clone(), recycle_tx.clone());
                    let mut shard = Shard::new(settings);
                    if let Some(state) = shard_states.get_mut(index) {
                        shard.restore(std::mem::take(state));
                    }
                    scope.spawn(move || work(index, shard, &batches, &outputs, &recycle))
                })
                .collect();
            drop(output_tx);

            let global = self.settings.rules.as_ref().map(|feed| {
                let stage = GlobalStage::new(feed, self.settings.decode_limits);
                if sinks.stream.as_ref().is_some_and(|s| s.tracks_event_time()) {
                    stage.ordered_by_event_time()
                } else {
                    stage
                }
            });
            let collected = collector::collect(
                &output_rx,
                self.shards,
                self.config.incidents.clone(),
                self.config.profile.lateness_secs,
                global,
                sinks,
                checkpoint,
            );
            drop(output_rx);
            let shards: Vec<Shard> = workers
                .into_iter()
                .map(|w| w.join().expect("shard thread panicked"))
                .collect();
            let read = router.join().expect("router thread panicked")?;
            Ok(RunSummary::new(
                read,
                &shards,
                collected?,
                started.elapsed(),
            ))
        })
    }
}

/// What a run starts from and how it keeps snapshots.
#[derive(Default)]
struct Resumption {
    /// Each shard's restored state (empty without a snapshot).
    shard_states: Vec<ShardState>,
    /// The collector's checkpointer and restored state.
    checkpoint: Option<(Checkpointer, Option<CollectorState>)>,
    /// When the router pauses for periodic snapshots.
    pace: Option<SnapshotPace>,
}

impl Pipeline {
    /// The restored states and the snapshot machinery, taken from the
    /// checkpoints (once: a second run starts afresh).
    fn take_checkpoints(&self, source: &str) -> Resumption {
        let taken = self
            .checkpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(Checkpoints {
            store,
            restored,
            stop,
            every,
        }) = taken
        else {
            return Resumption::default();
        };
        let (signal, pace) = match every {
            Some(every) => {
                let (signal, written) = bounded(1);
                (Some(signal), Some(SnapshotPace { every, written }))
            }
            None => (None, None),
        };
        let checkpointer =
            Checkpointer::new(store, stop, self.shards, signal).naming_source(source);
        let (shard_states, collector) = match restored {
            Some(mut snapshot) => (snapshot.shard_states(self.shards), Some(snapshot.collector)),
            None => (Vec::new(), None),
        };
        Resumption {
            shard_states,
            checkpoint: Some((checkpointer, collector)),
            pace,
        }
    }
}

/// A shard thread: processes batches until the router hangs up. After each
/// batch it reports how far it has come, with what it found.
fn work(
    index: usize,
    mut shard: Shard,
    batches: &Receiver<RecordBatch>,
    outputs: &Sender<ShardOutput>,
    recycle: &Sender<RecordBatch>,
) -> Shard {
    for (done, mut batch) in (0_u64..).zip(batches) {
        shard.begin_batch();
        let mut output = ShardOutput {
            shard: index,
            through_line: batch.through_line,
            sent_at: batch.sent_at,
            ..ShardOutput::default()
        };
        for (record, line) in batch.iter() {
            shard.process(record, line, &mut output);
        }
        shard.batch_done();
        if batch.snapshot {
            output.state = Some(Box::new(shard.save()));
        }
        output.users = shard.users() as u64;
        if done.is_multiple_of(COLD_START_EVERY_BATCHES) {
            output.cold_start_users = Some(shard.cold_start_users());
        }
        if outputs.send(output).is_err() {
            break;
        }
        batch.clear();
        let _ = recycle.try_send(batch);
    }
    shard.finish_tap();
    if shard.settings().snapshot {
        let output = ShardOutput {
            shard: index,
            users: shard.users() as u64,
            state: Some(Box::new(shard.save())),
            ended: true,
            ..ShardOutput::default()
        };
        let _ = outputs.send(output);
    }
    shard
}
