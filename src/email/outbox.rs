//! The outbox folder: messages written as `.eml` files when no SMTP server
//! is configured. A file appears whole or not at all (written under a
//! temporary name in the same folder, then renamed), and its name comes
//! from the message's idempotency key, so writing the same message again
//! after a crash replaces the file instead of adding a second one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::DeliveryError;
use crate::stable_hash::stable_hash;

/// Characters of a key kept in file names and Message-IDs.
const MAX_TOKEN_CHARS: usize = 120;

/// Tells apart temporary files of concurrent writes in one process.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// `key` reduced to letters, digits, `-`, `_` and single inner dots, safe
/// both as a file name and as the left part of a Message-ID. A key that had
/// to change gets a hash of the original appended, so two keys never share
/// a token.
pub(crate) fn token(key: &str) -> String {
    let mut token = String::with_capacity(key.len().min(MAX_TOKEN_CHARS));
    for c in key.chars().take(MAX_TOKEN_CHARS) {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_')
            || (c == '.' && !token.is_empty() && !token.ends_with('.'));
        token.push(if keep { c } else { '_' });
    }
    if token.ends_with('.') {
        token.pop();
        token.push('_');
    }
    if token != key || token.is_empty() {
        put!(token, "-{:016x}", stable_hash(key.as_bytes()));
    }
    token
}

/// Writes `bytes` as `<token>.eml` into `dir`, creating the folder when
/// missing; returns the file's path.
///
/// # Errors
/// The folder cannot be created, or the file cannot be written or renamed.
pub(crate) fn write(dir: &Path, key: &str, bytes: &[u8]) -> Result<PathBuf, DeliveryError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source: io::Error| DeliveryError::Outbox { path, source }
    };
    fs::create_dir_all(dir).map_err(failed(dir))?;

    let name = token(key);
    let path = dir.join(format!("{name}.eml"));
    let temporary = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));

    let written = write_synced(&temporary, bytes).and_then(|()| fs::rename(&temporary, &path));
    if let Err(source) = written {
        // The temporary file is useless once the write failed; a failure to
        // remove it changes nothing for the caller.
        let _ = fs::remove_file(&temporary);
        return Err(failed(&path)(source));
    }
    Ok(path)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_their_own_token() {
        assert_eq!(
            token("INC-20261203-00a1b2c3d4.email_team"),
            "INC-20261203-00a1b2c3d4.email_team"
        );
    }

    #[test]
    fn unsafe_keys_are_replaced_and_keep_apart() {
        let slash = token("../etc/passwd");
        assert!(!slash.contains('/') && !slash.starts_with('.'), "{slash}");
        assert!(!token("a b<c>@d").contains([' ', '<', '>', '@']));
        assert_ne!(token("a/b"), token("a_b"));
        assert_ne!(token(""), "");
        assert!(!token("trailing.").ends_with('.'));
    }

    #[test]
    fn a_rewrite_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "INC-1.email", b"first").unwrap();
        let second = write(dir.path(), "INC-1.email", b"second").unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read(&second).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["INC-1.email.eml"]);
    }
}
