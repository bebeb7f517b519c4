//! State snapshots: the profiles, correlation windows and open incidents a
//! run has built, saved with the source positions they cover, so a restart
//! resumes with its baselines instead of an empty memory.
//!
//! A snapshot is taken when a run ends (at the end of its input, or on
//! SIGINT or SIGTERM) into `[state] dir`. With Kafka, consumer offsets are
//! committed only after the snapshot that covers them is on disk, and a
//! restarted run skips what the snapshot already holds, so every event is
//! counted exactly once in a profile even after a crash: events after the
//! last snapshot are read again and applied to the state it saved.

pub mod arrays;
mod file;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::pipeline::GlobalState;
use crate::profile::Profile;
use crate::rules::StageState;
use crate::stable_hash::shard_of;
use crate::time::Timestamp;

pub use file::FORMAT_VERSION;

/// The snapshot's file name inside the state folder.
const SNAPSHOT_FILE: &str = "snapshot.bin";

/// Everything a run needs to continue where another stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was taken (wall clock, RFC 3339).
    pub taken_at: String,
    /// The input the state was built from, for display.
    pub source: String,
    /// With Kafka: the next offset to read in each partition.
    pub positions: Vec<SourcePosition>,
    /// Each shard's users and windows.
    pub shards: Vec<ShardState>,
    /// The incident engine and the global rule stage.
    pub collector: CollectorState,
}

/// The next offset to read in one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// One past the last message the state covers.
    pub next_offset: i64,
}

/// One shard's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShardState {
    /// Profiles by user id, sorted by user id.
    pub profiles: Vec<(Box<str>, Profile)>,
    /// The per-user correlation windows, when rules run.
    pub rules: Option<StageState>,
}

/// The collector's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CollectorState {
    /// The incidents the engine holds, as JSON (see
    /// [`crate::incident::IncidentEngine::save`]).
    pub incidents: String,
    /// The global rule stage, when rules run.
    pub global: Option<GlobalState>,
    /// The latest event time each shard had reached.
    pub latest: Vec<Option<Timestamp>>,
    /// The event time quiet incidents were last swept up to.
    pub swept: Option<Timestamp>,
}

impl Snapshot {
    /// Users held, over all shards.
    #[must_use]
    pub fn users(&self) -> usize {
        self.shards.iter().map(|s| s.profiles.len()).sum()
    }

    /// Every profile, sorted by user id.
    #[must_use]
    pub fn profiles(&self) -> Vec<(&str, &Profile)> {
        let mut all: Vec<(&str, &Profile)> = self
            .shards
            .iter()
            .flat_map(|s| s.profiles.iter().map(|(user, p)| (&**user, p)))
            .collect();
        all.sort_unstable_by_key(|(user, _)| *user);
        all
    }

    /// Removes `user_id`'s profile; returns whether there was one.
    pub fn forget_user(&mut self, user_id: &str) -> bool {
        let mut found = false;
        for shard in &mut self.shards {
            let before = shard.profiles.len();
            shard.profiles.retain(|(user, _)| &**user != user_id);
            found |= shard.profiles.len() != before;
        }
        found
    }

    /// The shard states for a run with `shards` workers. With the shard
    /// count the snapshot was taken with, each shard gets its own state
    /// back; with another, profiles move to the shard that now owns their
    /// user, and the per-user correlation windows start empty, since a
    /// window keyed by an API key does not name its user.
    #[must_use]
    pub fn shard_states(&mut self, shards: usize) -> Vec<ShardState> {
        let saved = std::mem::take(&mut self.shards);
        if saved.len() == shards {
            return saved;
        }
        let had_windows = saved
            .iter()
            .any(|s| s.rules.as_ref().is_some_and(|r| !r.windows.is_empty()));
        if had_windows {
            tracing::warn!(
                saved = saved.len(),
                now = shards,
                "The shard count changed since the snapshot; per-user correlation windows restart empty"
            );
        }
        let mut states: Vec<ShardState> = (0..shards).map(|_| ShardState::default()).collect();
        for (user, profile) in saved.into_iter().flat_map(|s| s.profiles) {
            let index = shard_of(user.as_bytes(), shards);
            states[index].profiles.push((user, profile));
        }
        states
    }
}

/// A state folder and the snapshot kept in it.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
}

impl StateStore {
    /// The store in `dir`, created when missing.
    ///
    /// # Errors
    /// Returns the error of creating the folder.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::io(dir, &e))?;
        Ok(Self::at(dir))
    }

    /// The store in `dir`, which is not created.
    #[must_use]
    pub fn at(dir: &Path) -> Self {
        Self {
            path: dir.join(SNAPSHOT_FILE),
        }
    }

    /// The snapshot file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest snapshot, if one was taken.
    ///
    /// # Errors
    /// Returns a read error, or names what is wrong with the file; a
    /// damaged snapshot is never skipped silently, since starting without
    /// it would lose every baseline.
    pub fn load(&self) -> Result<Option<Snapshot>, StateError> {
        let Some((from, payload)) = file::read(&self.path)? else {
            return Ok(None);
        };
        let snapshot = postcard::from_bytes(&payload)
            .map_err(|e| StateError::new(&from, format!("cannot be decoded: {e}")))?;
        Ok(Some(snapshot))
    }

    /// Deletes the previous snapshot kept beside the current one, so
    /// erased data does not linger in it.
    ///
    /// # Errors
    /// Returns the file system's error.
    pub fn discard_previous(&self) -> Result<(), StateError> {
        file::discard_previous(&self.path)
    }

    /// Saves `snapshot`, replacing the previous one atomically; returns the
    /// bytes written.
    ///
    /// # Errors
    /// Returns an encoding or file system error.
    pub fn save(&self, snapshot: &Snapshot) -> Result<usize, StateError> {
        let payload = postcard::to_stdvec(snapshot)
            .map_err(|e| StateError::new(&self.path, format!("cannot be encoded: {e}")))?;
        file::write_atomically(&self.path, &payload)?;
        Ok(payload.len())
    }
}

/// A snapshot that cannot be read or written.
#[derive(Debug)]
pub struct StateError {
    path: PathBuf,
    problem: String,
}

impl StateError {
    fn new(path: &Path, problem: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    fn io(path: &Path, error: &std::io::Error) -> Self {
        Self::new(path, error.to_string())
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "state snapshot {}: {}",
            self.path.display(),
            self.problem
        )
    }
}

impl std::error::Error for StateError {}

#[cfg(test)]
mod tests;
