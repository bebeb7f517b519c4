//! Snapshots taken by a run. Periodically the router pauses, every shard
//! hands in a copy of its state with its output, and once all have, the
//! collector adds its own and writes the whole with the source positions it
//! covers, before those positions are committed; then the router goes on.
//! When the input ends, the shards hand in their final state and the
//! collector writes the last snapshot as it finishes.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use crossbeam_channel::Sender;

use crate::state::{CollectorState, ShardState, Snapshot, SourcePosition, StateStore};

/// What a run needs to keep snapshots.
pub struct Checkpoints {
    /// Where snapshots go.
    pub store: StateStore,
    /// The snapshot the run resumes from, if any.
    pub restored: Option<Snapshot>,
    /// Raised when the run is asked to stop (SIGINT, SIGTERM): its input has
    /// not really ended, so open incidents and held events stay as they are
    /// for the next run instead of being wrapped up.
    pub stop: Arc<AtomicBool>,
    /// Time between two snapshots while the run goes on; `None` takes one
    /// at the end only.
    pub every: Option<Duration>,
}

/// The collector's side: gathers shard states and writes snapshots.
pub(super) struct Checkpointer {
    store: StateStore,
    stop: Arc<AtomicBool>,
    source: String,
    /// Copies handed in for the periodic snapshot under way.
    parts: Vec<Option<ShardState>>,
    /// Final states handed in as shards stop.
    finals: Vec<Option<ShardState>>,
    /// Tells the router a periodic snapshot is written.
    written: Option<Sender<()>>,
}

impl Checkpointer {
    pub(super) fn new(
        store: StateStore,
        stop: Arc<AtomicBool>,
        shards: usize,
        written: Option<Sender<()>>,
    ) -> Self {
        Self {
            store,
            stop,
            source: String::new(),
            parts: (0..shards).map(|_| None).collect(),
            finals: (0..shards).map(|_| None).collect(),
            written,
        }
    }

    /// Names the input in the snapshot.
    pub(super) fn naming_source(mut self, source: &str) -> Self {
        source.clone_into(&mut self.source);
        self
    }

    /// Whether the run ends because it was asked to stop.
    pub(super) fn interrupted(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Keeps a shard's state: its last one when `ended`, else its copy for
    /// the periodic snapshot under way.
    pub(super) fn take_part(&mut self, shard: usize, state: ShardState, ended: bool) {
        let slots = if ended {
            &mut self.finals
        } else {
            &mut self.parts
        };
        if let Some(slot) = slots.get_mut(shard) {
            *slot = Some(state);
        }
    }

    /// Whether every shard has handed in its copy for a periodic snapshot.
    pub(super) fn periodic_due(&self) -> bool {
        self.parts.iter().all(Option::is_some)
    }

    /// Writes the periodic snapshot of the copies handed in and
    /// `collector`, covering `positions`, then lets the router go on.
    ///
    /// # Errors
    /// Returns the error of encoding or writing the file.
    pub(super) fn write_periodic(
        &mut self,
        collector: CollectorState,
        positions: Vec<SourcePosition>,
    ) -> io::Result<()> {
        let shards = self.parts.iter_mut().map(Option::take).collect();
        self.write(shards, collector, positions)?
            .log(self.store.path(), false);
        if let Some(written) = &self.written {
            let _ = written.send(());
        }
        Ok(())
    }

    /// Writes the final snapshot of the states shards handed in as they
    /// stopped, and `collector`, covering `positions`.
    ///
    /// # Errors
    /// Returns the error of encoding or writing the file.
    pub(super) fn write_final(
        mut self,
        collector: CollectorState,
        positions: Vec<SourcePosition>,
    ) -> io::Result<()> {
        let shards = self.finals.iter_mut().map(Option::take).collect();
        self.write(shards, collector, positions)?
            .log(self.store.path(), true);
        Ok(())
    }

    /// Writes one snapshot.
    fn write(
        &self,
        shards: Vec<Option<ShardState>>,
        collector: CollectorState,
        positions: Vec<SourcePosition>,
    ) -> io::Result<Written> {
        let started = Instant::now();
        let snapshot = Snapshot {
            taken_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            source: self.source.clone(),
            positions,
            shards: shards.into_iter().map(Option::unwrap_or_default).collect(),
            collector,
        };
        let bytes = self.store.save(&snapshot).map_err(io::Error::other)?;
        Ok(Written {
            users: snapshot.users(),
            bytes,
            millis: started.elapsed().as_millis(),
        })
    }
}

/// What writing a snapshot took.
struct Written {
    users: usize,
    bytes: usize,
    millis: u128,
}

impl Written {
    /// Logs the snapshot: at info level when the run ends, at debug level
    /// for the periodic ones.
    fn log(&self, path: &std::path::Path, at_end: bool) {
        let path = path.display();
        let (users, bytes, millis) = (self.users, self.bytes, self.millis);
        if at_end {
            tracing::info!(%path, users, bytes, millis, "State snapshot written");
        } else {
            tracing::debug!(%path, users, bytes, millis, "State snapshot written");
        }
    }
}
