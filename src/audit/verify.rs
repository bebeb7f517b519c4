//! Checking an audit log's chain: every record must hash to its `hash`,
//! link to the previous record's hash and carry the next sequence number.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::GENESIS;

/// The first record at which the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ChainBreak {
    /// Its line number, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a log did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file cannot be read.
    #[error("audit log {path}")]
    Io {
        /// The audit log.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The chain is broken.
    #[error("audit log {path}: chain broken at {brk}")]
    Broken {
        /// The audit log.
        path: PathBuf,
        /// Where and why.
        brk: ChainBreak,
    },
}

/// Checks the log at `path`; returns how many records it holds.
///
/// # Errors
/// The file cannot be read, or names the first broken record.
pub fn verify_file(path: &Path) -> Result<u64, VerifyError> {
    let file = std::fs::File::open(path).map_err(|source| VerifyError::Io {
        path: path.to_owned(),
        source,
    })?;
    match verify_chain(BufReader::new(file)) {
        Ok(Ok(records)) => Ok(records),
        Ok(Err(brk)) => Err(VerifyError::Broken {
            path: path.to_owned(),
            brk,
        }),
        Err(source) => Err(VerifyError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Checks the records `reader` yields; the outer error is a read failure,
/// the inner one the first broken record.
///
/// # Errors
/// Reading fails.
pub fn verify_chain(reader: impl BufRead) -> io::Result<Result<u64, ChainBreak>> {
    let mut prev = GENESIS.to_owned();
    let mut records = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match check_record(&line, &prev, records + 1) {
            Ok(hash) => prev = hash,
            Err(reason) => {
                return Ok(Err(ChainBreak {
                    line: number,
                    reason,
                }));
            }
        }
        records += 1;
    }
    Ok(Ok(records))
}

/// Checks one record against the chain so far; returns its hash.
fn check_record(line: &str, prev: &str, seq: u64) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Linked {
        seq: u64,
        prev: String,
        hash: String,
    }
    let linked: Linked =
        serde_json::from_str(line).map_err(|e| format!("not an audit record: {e}"))?;
    let marker = line
        .rfind(",\"hash\":")
        .ok_or_else(|| "no \"hash\" field at the end of the record".to_owned())?;
    let actual = hex::encode(Sha256::digest(&line.as_bytes()[..marker]));
    if actual != linked.hash {
        return Err(format!(
            "record seq {} was altered: its content hashes to {actual}, not to its \"hash\"",
            linked.seq
        ));
    }
    if linked.prev != prev {
        return Err(format!(
            "record seq {} does not follow the record before it (\"prev\" is {}, expected {prev}); \
             a record was removed, inserted or reordered",
            linked.seq, linked.prev
        ));
    }
    if linked.seq != seq {
        return Err(format!(
            "sequence number {} where {seq} was expected",
            linked.seq
        ));
    }
    Ok(linked.hash)
}
