//! Why archiving, erasing or pruning failed, grouped by who must act.

use std::io;
use std::path::PathBuf;

use crate::audit::AuditError;
use crate::secret::SecretFileError;

/// A failure of the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The operator must supply the pseudonymisation key.
    #[error(
        "archive.pseudonymize_users is on, but neither VIGIL_ARCHIVE_PSEUDONYM_KEY nor \
         VIGIL_ARCHIVE_PSEUDONYM_KEY_FILE is set"
    )]
    MissingPseudonymKey,
    /// The operator must fix the key file the environment names.
    #[error(transparent)]
    PseudonymKeyFile(#[from] SecretFileError),
    /// The operator must check the disk: a file or folder cannot be
    /// created, read, renamed or removed.
    #[error("archive {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The operator must look at a damaged file: it is not readable
    /// Parquet, or cannot be written as such.
    #[error("archive file {path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet or Arrow error.
        message: String,
    },
    /// The operator must repair the audit log before erasures and
    /// retention can be recorded.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A bug: rows could not be put together as the schema says, or the
    /// writer thread stopped without saying why.
    #[error("archive internal error: {0}")]
    Internal(String),
}

impl ArchiveError {
    /// An I/O failure on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// A Parquet or Arrow failure on `path`.
    pub(crate) fn parquet<E: std::fmt::Display>(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(E) -> Self {
        let path = path.into();
        move |error| Self::Parquet {
            path,
            message: error.to_string(),
        }
    }
}
