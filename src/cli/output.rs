//! Opening inputs and outputs named on the command line (`-` is stdio).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

use super::is_stdio;

/// Buffer size for inputs and outputs.
const BUFFER_BYTES: usize = 1 << 20;

/// Opens an input file, or stdin for `-`.
pub fn open_input(path: &PathBuf) -> anyhow::Result<Box<dyn BufRead + Send>> {
    if is_stdio(path) {
        return Ok(Box::new(BufReader::with_capacity(
            BUFFER_BYTES,
            io::stdin(),
        )));
    }
    let file = File::open(path).with_context(|| format!("cannot open input {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(BUFFER_BYTES, file)))
}

/// Creates an output file, or stdout for `-`.
pub fn create_output(path: &PathBuf) -> anyhow::Result<Box<dyn Write + Send>> {
    if is_stdio(path) {
        return Ok(Box::new(BufWriter::with_capacity(
            BUFFER_BYTES,
            io::stdout(),
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(BUFFER_BYTES, file)))
}

/// An input that ends early once `stop` is raised (by SIGINT or SIGTERM),
/// so a file or stdin run drains and exits cleanly instead of dying.
pub struct StopReader<R> {
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R> StopReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, stop: Arc<AtomicBool>) -> Self {
        Self { inner, stop }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl<R: BufRead> io::Read for StopReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stopped() {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for StopReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.stopped() {
            return Ok(&[]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}
