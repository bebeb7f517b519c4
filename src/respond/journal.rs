//! The action journal: the persistent queue behind the delivery
//! guarantees. A planned action is appended (and synced) before the input
//! that caused it is acknowledged, and its final outcome is appended once
//! known; on start the actions planned but never finished are queued
//! again. Keys already journaled are never planned twice, so replaying
//! input after a restart repeats no action.
//!
//! The file (`actions.jsonl` in the state folder) is compacted on open:
//! unfinished jobs are kept whole, finished ones as their key and outcome
//! for `FINISHED_KEPT_DAYS`. Without a state folder the journal lives in
//! memory and guards one process only.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::job::Job;
use super::persist::write_atomically;

/// How long finished keys are remembered, in days.
const FINISHED_KEPT_DAYS: i64 = 30;

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    /// Its idempotency key.
    pub key: String,
    /// `succeeded`, `failed` or `recorded`.
    pub outcome: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it ended.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Entry {
    Planned(Box<Job>),
    Finished(Finished),
}

/// The journal, open for appending.
#[derive(Debug, Default)]
pub struct Journal {
    file: Option<(PathBuf, File)>,
    pending: HashMap<String, Job>,
    finished: HashMap<String, Finished>,
}

impl Journal {
    /// A journal in memory only.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Opens (and compacts) the journal at `path`.
    ///
    /// # Errors
    /// The file cannot be read or rewritten.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut journal = Self::default();
        if path.exists() {
            journal.replay(path)?;
        }
        journal.compact(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        journal.file = Some((path.to_owned(), file));
        Ok(journal)
    }

    /// Actions planned but not finished, oldest first.
    #[must_use]
    pub fn unfinished(&self) -> Vec<Job> {
        let mut jobs: Vec<Job> = self.pending.values().cloned().collect();
        jobs.sort_by(|a, b| a.planned_at.cmp(&b.planned_at).then(a.key.cmp(&b.key)));
        jobs
    }

    /// Whether an action with this key was ever planned.
    #[must_use]
    pub fn knows(&self, key: &str) -> bool {
        self.pending.contains_key(key) || self.finished.contains_key(key)
    }

    /// How an action ended, when it has.
    #[must_use]
    pub fn outcome(&self, key: &str) -> Option<&Finished> {
        self.finished.get(key)
    }

    /// Actions waiting to run or being retried.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.pending.len()
    }

    /// Records newly planned jobs and syncs them to disk.
    ///
    /// # Errors
    /// The journal cannot be written; the caller must not acknowledge the
    /// input that planned them.
    pub fn plan(&mut self, jobs: &[Job]) -> std::io::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        if let Some((_, file)) = &mut self.file {
            let mut bytes = Vec::new();
            for job in jobs {
                serde_json::to_writer(&mut bytes, &Entry::Planned(Box::new(job.clone())))?;
                bytes.push(b'\n');
            }
            file.write_all(&bytes)?;
            file.sync_data()?;
        }
        for job in jobs {
            self.pending.insert(job.key.clone(), job.clone());
        }
        Ok(())
    }

    /// Records how an action ended.
    ///
    /// # Errors
    /// The journal cannot be written.
    pub fn finish(&mut self, finished: Finished) -> std::io::Result<()> {
        if let Some((_, file)) = &mut self.file {
            let mut bytes = serde_json::to_vec(&Entry::Finished(finished.clone()))?;
            bytes.push(b'\n');
            file.write_all(&bytes)?;
            file.sync_data()?;
        }
        self.pending.remove(&finished.key);
        self.finished.insert(finished.key.clone(), finished);
        Ok(())
    }

    fn replay(&mut self, path: &Path) -> std::io::Result<()> {
        let reader = BufReader::new(File::open(path)?);
        for (index, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(&line) {
                Ok(Entry::Planned(job)) => {
                    if !self.finished.contains_key(&job.key) {
                        self.pending.insert(job.key.clone(), *job);
                    }
                }
                Ok(Entry::Finished(done)) => {
                    self.pending.remove(&done.key);
                    self.finished.insert(done.key.clone(), done);
                }
                // A crash can cut the last line short; anything else is
                // kept out of the queue but reported.
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    line = index + 1,
                    error = %e,
                    "Unreadable action journal entry skipped"
                ),
            }
        }
        Ok(())
    }

    fn compact(&mut self, path: &Path) -> std::io::Result<()> {
        let horizon = Utc::now() - chrono::Duration::days(FINISHED_KEPT_DAYS);
        self.finished.retain(|_, done| done.at > horizon);
        let mut bytes = Vec::new();
        for done in self.finished.values() {
            serde_json::to_writer(&mut bytes, &Entry::Finished(done.clone()))?;
            bytes.push(b'\n');
        }
        for job in self.unfinished() {
            serde_json::to_writer(&mut bytes, &Entry::Planned(Box::new(job)))?;
            bytes.push(b'\n');
        }
        write_atomically(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::incident::{Entities, Incident, IncidentStatus, IncidentType};
    use crate::respond::job::{Target, job_key};
    use crate::respond::playbook::ActionKind;
    use crate::signal::Severity;
    use crate::time::Timestamp;

    fn job(id: &str, key_id: &str) -> Job {
        let incident = Incident {
            incident_id: id.to_owned(),
            revision: 1,
            status: IncidentStatus::Open,
            incident_type: IncidentType::ApiKeyCompromise,
            severity: Severity::High,
            score: 0.8,
            user_id: "alice".to_owned(),
            entities: Entities {
                ips: BTreeSet::new(),
                api_key_ids: BTreeSet::from([key_id.to_owned()]),
            },
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            signals: Vec::new(),
            actions: Vec::new(),
        };
        let target = Target::ApiKey(key_id.to_owned());
        Job {
            key: job_key(id, ActionKind::RevokeApiKey, &target),
            action: ActionKind::RevokeApiKey,
            target,
            incident,
            planned_at: Utc::now(),
        }
    }

    fn done(key: &str) -> Finished {
        Finished {
            key: key.to_owned(),
            outcome: "succeeded".to_owned(),
            attempts: 1,
            at: Utc::now(),
        }
    }

    #[test]
    fn unfinished_jobs_come_back_after_a_restart_and_finished_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.jsonl");
        let (a, b) = (job("INC-1", "ak_a"), job("INC-2", "ak_b"));
        {
            let mut journal = Journal::open(&path).unwrap();
            journal.plan(&[a.clone(), b.clone()]).unwrap();
            journal.finish(done(&a.key)).unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.unfinished(), std::slice::from_ref(&b));
        assert!(journal.knows(&a.key) && journal.knows(&b.key));
        assert_eq!(journal.outcome(&a.key).unwrap().outcome, "succeeded");
        assert_eq!(journal.depth(), 1);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.jsonl");
        let a = job("INC-1", "ak_a");
        Journal::open(&path)
            .unwrap()
            .plan(std::slice::from_ref(&a))
            .unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"finished\":{\"key\":\"INC-1/rev");
        std::fs::write(&path, text).unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.unfinished(), [a]);
    }

    #[test]
    fn compaction_keeps_what_matters_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.jsonl");
        let (a, b) = (job("INC-1", "ak_a"), job("INC-2", "ak_b"));
        {
            let mut journal = Journal::open(&path).unwrap();
            journal.plan(&[a.clone(), b.clone()]).unwrap();
            journal.finish(done(&a.key)).unwrap();
        }
        Journal::open(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "one finished key, one planned job");
        assert_eq!(text.matches("\"planned\"").count(), 1);
    }

    #[test]
    fn a_memory_journal_still_remembers_keys() {
        let mut journal = Journal::in_memory();
        let a = job("INC-1", "ak_a");
        journal.plan(std::slice::from_ref(&a)).unwrap();
        assert!(journal.knows(&a.key));
        journal.finish(done(&a.key)).unwrap();
        assert!(journal.knows(&a.key));
        assert_eq!(journal.depth(), 0);
    }
}
