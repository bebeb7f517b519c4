//! The snapshot file: a fixed header (magic, format version, length and
//! checksum of the payload) followed by the payload, written to a
//! temporary file, synced and renamed into place so a reader only ever sees
//! a complete snapshot.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use super::StateError;

/// The first bytes of every snapshot file.
const MAGIC: &[u8; 8] = b"vigilsnp";
/// The payload layout this vigil writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Magic, version, payload length, checksum.
const HEADER_BYTES: usize = 8 + 4 + 8 + 8;

/// Writes `payload` to `path` atomically: the previous file, if any, is
/// kept as `<path>.prev` until the new one is in place.
///
/// # Errors
/// Returns the file system's error, naming the file.
pub fn write_atomically(path: &Path, payload: &[u8]) -> Result<(), StateError> {
    let temporary = with_suffix(path, "tmp");
    let fail = |file: &Path| {
        let file = file.to_path_buf();
        move |e: io::Error| StateError::io(&file, &e)
    };
    let mut file = File::create(&temporary).map_err(fail(&temporary))?;
    file.write_all(&header(payload))
        .and_then(|()| file.write_all(payload))
        .and_then(|()| file.sync_all())
        .map_err(fail(&temporary))?;
    drop(file);
    if path.exists() {
        let previous = with_suffix(path, "prev");
        fs::rename(path, &previous).map_err(fail(path))?;
    }
    fs::rename(&temporary, path).map_err(fail(path))?;
    if let Some(dir) = path.parent() {
        // Makes the renames durable; not every platform can sync a folder.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Reads the payload of the snapshot at `path`, or of `<path>.prev` when
/// a crash came between the two renames of [`write_atomically`]; `None`
/// when neither exists.
///
/// # Errors
/// Returns a read error, or names what is wrong with the file.
pub fn read(path: &Path) -> Result<Option<(PathBuf, Vec<u8>)>, StateError> {
    let previous = with_suffix(path, "prev");
    let chosen = if path.exists() {
        path.to_path_buf()
    } else if previous.exists() {
        previous
    } else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    File::open(&chosen)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| StateError::io(&chosen, &e))?;
    let payload = check(&bytes).map_err(|problem| StateError::new(&chosen, problem))?;
    Ok(Some((chosen, payload.to_vec())))
}

/// Deletes `<path>.prev`, if it exists.
///
/// # Errors
/// Returns the file system's error, naming the file.
pub fn discard_previous(path: &Path) -> Result<(), StateError> {
    let previous = with_suffix(path, "prev");
    match fs::remove_file(&previous) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::io(&previous, &e)),
        _ => Ok(()),
    }
}

fn header(payload: &[u8]) -> [u8; HEADER_BYTES] {
    let mut header = [0; HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    header[20..28].copy_from_slice(&xxh3_64(payload).to_le_bytes());
    header
}

/// The payload of a well-formed file, or what is wrong with it.
fn check(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
        return Err("is not a vigil state snapshot (its header is missing)".into());
    }
    let field = |range: std::ops::Range<usize>| {
        let mut raw = [0; 8];
        raw[..range.len()].copy_from_slice(&bytes[range]);
        u64::from_le_bytes(raw)
    };
    let version = field(8..12);
    if version != u64::from(FORMAT_VERSION) {
        return Err(format!(
            "has snapshot format version {version}; this vigil reads version {FORMAT_VERSION}"
        ));
    }
    let length = field(12..20);
    let payload = &bytes[HEADER_BYTES..];
    if payload.len() as u64 != length {
        return Err(format!(
            "is truncated or padded: the header announces {length} bytes of state, the file holds {}",
            payload.len()
        ));
    }
    let (expected, found) = (field(20..28), xxh3_64(payload));
    if expected != found {
        return Err(format!(
            "fails its checksum (expected {expected:016x}, computed {found:016x}): the file is corrupt"
        ));
    }
    Ok(payload)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_payload_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();

        let (from, payload) = read(&path).unwrap().unwrap();

        assert_eq!(from, path);
        assert_eq!(payload, b"second");
        assert!(
            with_suffix(&path, "prev").exists(),
            "the previous file is kept"
        );
    }

    #[test]
    fn a_flipped_byte_is_named_as_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        write_atomically(&path, b"profiles and windows").unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        fs::write(&path, bytes).unwrap();

        let error = read(&path).unwrap_err().to_string();

        assert!(error.contains("snapshot.bin"), "{error}");
        assert!(error.contains("checksum"), "{error}");
    }

    #[test]
    fn a_truncated_file_and_a_foreign_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        write_atomically(&path, b"0123456789").unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("truncated"));

        fs::write(&path, b"{\"not\": \"a snapshot\"} and more bytes").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("not a vigil"));
    }

    #[test]
    fn a_crash_between_the_renames_leaves_the_previous_snapshot_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        write_atomically(&path, b"older").unwrap();
        fs::rename(&path, with_suffix(&path, "prev")).unwrap();

        let (from, payload) = read(&path).unwrap().unwrap();

        assert_eq!(from, with_suffix(&path, "prev"));
        assert_eq!(payload, b"older");
    }

    #[test]
    fn no_file_means_no_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("snapshot.bin")).unwrap().is_none());
    }
}
