//! The audit log: an append-only JSON-lines file in which every record
//! carries the hash of the one before it, so that changing, removing or
//! reordering a record breaks the chain at that record.
//!
//! A record reads
//! `{"seq":7,"at":"…","kind":"action_attempt","data":{…},"prev":"<hex>","hash":"<hex>"}`.
//! `hash` is the SHA-256 of the line's exact bytes up to (not including)
//! `,"hash":`, and that prefix contains `prev`, the previous record's hash
//! (64 zeros for the first). Hashing bytes rather than a re-serialisation
//! keeps verification independent of how JSON maps order their keys.

mod verify;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use verify::{ChainBreak, VerifyError, verify_chain, verify_file};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// An incident was opened or changed; `data` is its full record.
    IncidentRevision,
    /// The playbook chose an action for an incident.
    ActionPlanned,
    /// One attempt at an action, with its outcome.
    ActionAttempt,
    /// An operator resolved an incident through the API.
    IncidentResolved,
    /// A silence was added or removed.
    SilenceChanged,
    /// An address was added to or removed from the blocklist by hand.
    BlocklistChanged,
    /// Expired archive partitions were removed.
    Retention,
    /// A user's data was erased.
    Erasure,
}

/// Why the audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file cannot be opened, read or written.
    #[error("audit log {path}")]
    Io {
        /// The audit log.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The last record of an existing file is not a chained record, so new
    /// records could not be linked to it.
    #[error("audit log {path}: its last line is not an audit record; run `vigil audit verify`")]
    Unreadable {
        /// The audit log.
        path: PathBuf,
    },
}

/// Called with each record line written (without its line break), for
/// copies such as the archive.
pub type LineObserver = Box<dyn Fn(&str) + Send>;

/// An open audit log, positioned after its last record.
pub struct AuditLog {
    path: PathBuf,
    out: BufWriter<File>,
    seq: u64,
    prev: String,
    /// The file's length after our last write: a different length means
    /// another writer (`vigil forget`, archive retention) appended, and the
    /// chain must continue from its record.
    len: u64,
    observer: Option<LineObserver>,
}

#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    seq: u64,
    at: String,
    kind: AuditKind,
    data: &'a T,
    prev: &'a str,
}

impl AuditLog {
    /// Opens (or creates) the log at `path` and continues its chain.
    ///
    /// # Errors
    /// The file cannot be opened, or its last line is not a record.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let io_error = |source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_error)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        let (seq, prev) = read_chain_end(&mut file, path)?;
        let len = file.metadata().map_err(io_error)?.len();
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
            seq,
            prev,
            len,
            observer: None,
        })
    }

    /// Hands every record written from now on to `observer` as well.
    pub fn observe(&mut self, observer: LineObserver) {
        self.observer = Some(observer);
    }

    /// The file this log writes.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far, including those of earlier runs.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.seq
    }

    /// Appends one record and hands it to the operating system.
    ///
    /// # Errors
    /// The record cannot be serialised or written.
    pub fn append<T: Serialize>(&mut self, kind: AuditKind, data: &T) -> Result<(), AuditError> {
        self.follow_other_writers()?;
        let body = Body {
            seq: self.seq + 1,
            at: wall_clock_now(),
            kind,
            data,
            prev: &self.prev,
        };
        let mut line = serde_json::to_vec(&body).map_err(|e| self.io_error(e.into()))?;
        line.pop();
        let hash = hex::encode(Sha256::digest(&line));
        line.extend_from_slice(b",\"hash\":\"");
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        self.out.write_all(&line).map_err(|e| self.io_error(e))?;
        self.out.flush().map_err(|e| self.io_error(e))?;
        self.seq += 1;
        self.prev = hash;
        self.len += line.len() as u64;
        if let Some(observer) = &self.observer {
            observer(std::str::from_utf8(&line[..line.len() - 1]).unwrap_or_default());
        }
        Ok(())
    }

    /// Forces written records to stable storage.
    ///
    /// # Errors
    /// The operating system reports a failed sync.
    pub fn sync(&mut self) -> Result<(), AuditError> {
        self.out.flush().map_err(|e| self.io_error(e))?;
        self.out.get_ref().sync_data().map_err(|e| self.io_error(e))
    }

    /// Continues the chain from the file's last record when another writer
    /// has appended since our last write.
    fn follow_other_writers(&mut self) -> Result<(), AuditError> {
        let len = self
            .out
            .get_ref()
            .metadata()
            .map_err(|e| self.io_error(e))?
            .len();
        if len != self.len {
            let path = self.path.clone();
            let (seq, prev) = read_chain_end(self.out.get_mut(), &path)?;
            (self.seq, self.prev, self.len) = (seq, prev, len);
        }
        Ok(())
    }

    fn io_error(&self, source: io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// The audit log's clock: records say when something was done, which is
/// wall-clock time, unlike the event time the detectors run on.
fn wall_clock_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The sequence number and hash of the file's last record.
fn read_chain_end(file: &mut File, path: &Path) -> Result<(u64, String), AuditError> {
    let line = last_line(file).map_err(|source| AuditError::Io {
        path: path.to_owned(),
        source,
    })?;
    match line {
        None => Ok((0, GENESIS.to_owned())),
        Some(line) => chain_end(&line).ok_or_else(|| AuditError::Unreadable {
            path: path.to_owned(),
        }),
    }
}

/// The sequence number and hash of a record line.
fn chain_end(line: &str) -> Option<(u64, String)> {
    #[derive(serde::Deserialize)]
    struct End {
        seq: u64,
        hash: String,
    }
    let end: End = serde_json::from_str(line).ok()?;
    (end.hash.len() == 64).then_some((end.seq, end.hash))
}

/// The file's last non-empty line, read from its tail.
fn last_line(file: &mut File) -> io::Result<Option<String>> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut start = len;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let trimmed = tail.iter().rposition(|b| !b.is_ascii_whitespace());
        if let Some(end) = trimmed {
            if let Some(newline) = tail[..end].iter().rposition(|&b| b == b'\n') {
                return Ok(Some(
                    String::from_utf8_lossy(&tail[newline + 1..=end]).into(),
                ));
            }
            if start == 0 {
                return Ok(Some(String::from_utf8_lossy(&tail[..=end]).into()));
            }
        } else if start == 0 {
            return Ok(None);
        }
        let read_from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; usize::try_from(start - read_from).unwrap_or(0)];
        file.seek(SeekFrom::Start(read_from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = read_from;
    }
}

#[cfg(test)]
mod tests;
