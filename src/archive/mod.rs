//! The archive: events, incident revisions, action attempts and audit
//! records kept as Parquet files partitioned by day, for hunting with SQL
//! (`vigil query`) and for reports (`vigil report`).
//!
//! Rows are built where the data already is: shards append the events
//! they decoded to per-shard Arrow builders, the collector's stream sink
//! appends incident revisions, and the response system hands over action
//! and audit rows through an [`ArchiveRecorder`]. Finished record batches
//! go to one writer thread, which owns the files. Nothing is archived
//! unless `[archive] path` is set; user ids can be replaced by keyed
//! pseudonyms; retention and erasure rewrite or remove whole files.

mod erase;
mod error;
mod events;
mod files;
mod incidents;
mod pseudonym;
mod query;
pub mod report;
mod retention;
mod rows;
mod schema;
mod words;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::config::ArchiveConfig;
use crate::pipeline::{StreamSink, TapFactory};

pub use erase::{ERASED, ErasureReport, Subject, TableErasure, erase};
pub use error::ArchiveError;
pub use events::{EventArchiver, EventRows};
pub use files::{day_of, partition_dir, partitions, table_dir, table_files};
pub use incidents::{IncidentArchiver, IncidentRows};
pub use pseudonym::{PSEUDONYM_KEY_VARIABLE, Pseudonymizer};
pub use query::{ArchiveQuery, QueryError, query_schema};
pub use retention::{PruneReport, Retention, audit, prune};
pub use rows::{ActionRow, AuditRow, action_batch, audit_batch};
pub use schema::{PARTITION_COLUMN, Table};
pub use writer::{Shipper, WriteStats};

use writer::Message;

/// The pseudonymizer `config` asks for, keyed from the environment.
///
/// # Errors
/// Pseudonyms are on but the key is missing or unreadable.
pub fn pseudonymizer(config: &ArchiveConfig) -> Result<Option<Pseudonymizer>, ArchiveError> {
    config
        .pseudonymize_users
        .then(Pseudonymizer::from_env)
        .transpose()
}

/// An archive being written by a run.
pub struct Archive {
    root: PathBuf,
    sender: Sender<Message>,
    thread: Option<writer::WriterThread>,
    pseudonymizer: Option<Pseudonymizer>,
}

impl Archive {
    /// Opens the archive `config` names, applies retention once (recorded
    /// in `audit_log` when given) and starts the writer thread.
    ///
    /// # Errors
    /// The pseudonym key is missing, or the folder cannot be created or
    /// pruned.
    pub fn open(config: &ArchiveConfig, audit_log: Option<&Path>) -> Result<Self, ArchiveError> {
        let pseudonymizer = pseudonymizer(config)?;
        let root = PathBuf::from(config.path.trim());
        std::fs::create_dir_all(&root).map_err(ArchiveError::io(&root))?;
        let mut retention = Retention::new(config.retention_days, audit_log.map(Path::to_owned));
        if let Some(retention) = retention.as_mut() {
            retention.apply(&root, &[])?;
        }
        let (sender, thread) = writer::spawn(root.clone(), retention)?;
        Ok(Self {
            root,
            sender,
            thread: Some(thread),
            pseudonymizer,
        })
    }

    /// The archive folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Taps that archive every event the shards accept.
    #[must_use]
    pub fn event_taps(&self) -> TapFactory {
        let shipper = self.shipper();
        let pseudonymizer = self.pseudonymizer.clone();
        Arc::new(move || {
            Box::new(EventArchiver::new(shipper.clone(), pseudonymizer.clone()))
                as Box<dyn crate::pipeline::EventTap>
        })
    }

    /// A stream sink that archives incident revisions and passes
    /// everything on to `inner`.
    #[must_use]
    pub fn incident_sink(&self, inner: Option<Box<dyn StreamSink>>) -> Box<dyn StreamSink> {
        Box::new(IncidentArchiver::new(
            self.shipper(),
            self.pseudonymizer.clone(),
            inner,
        ))
    }

    /// A handle through which action attempts and audit records are
    /// archived.
    #[must_use]
    pub fn recorder(&self) -> ArchiveRecorder {
        ArchiveRecorder {
            sender: self.sender.clone(),
            pseudonymizer: self.pseudonymizer.clone(),
        }
    }

    fn shipper(&self) -> Shipper {
        Shipper {
            sender: self.sender.clone(),
        }
    }

    /// Completes every file and stops the writer; call once everything
    /// that ships rows (the pipeline, the responder) has finished.
    ///
    /// # Errors
    /// The first failure of the writer.
    ///
    /// # Panics
    /// Never: the thread is only taken here and in `drop`.
    pub fn finish(mut self) -> Result<WriteStats, ArchiveError> {
        let _ = self.sender.send(Message::Finish);
        let thread = self.thread.take().expect("finish runs once");
        thread
            .join()
            .map_err(|_| ArchiveError::Internal("the writer thread panicked".to_owned()))?
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.sender.send(Message::Finish);
            let _ = thread.join();
        }
    }
}

/// Archives action attempts and audit records; cheap to clone, one per
/// component that produces them. Rows reach files in batches, completed
/// when the archive finishes (or after the writer's file age limit).
#[derive(Clone)]
pub struct ArchiveRecorder {
    sender: Sender<Message>,
    pseudonymizer: Option<Pseudonymizer>,
}

impl ArchiveRecorder {
    /// Archives one action attempt.
    pub fn action(&self, row: ActionRow) {
        let _ = self.sender.send(Message::Action(row));
    }

    /// Archives one audit record. With pseudonyms on, the user ids its
    /// data names are replaced by their pseudonyms (so the archived copy no
    /// longer matches the record's hash; the audit log itself keeps the
    /// chain).
    pub fn audit(&self, mut row: AuditRow) {
        if let Some(pseudonymizer) = &self.pseudonymizer
            && let Some(hidden) = pseudonymizer.hide_users_in_json(&row.data)
        {
            row.data = hidden;
        }
        let _ = self.sender.send(Message::Audit(row));
    }
}
