//! The router: reads JSON lines and sends each record to the shard that
//! owns its user, in batches. It only finds the user id; decoding happens
//! on the shard, so reading never becomes the bottleneck.

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};

use super::batch::RecordBatch;
use crate::event::route_key;
use crate::stable_hash::shard_of;

/// What the router saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadStats {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Non-blank records routed.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Reads `input` to its end, routing records to `shards`. Emptied batches
/// come back through `recycled` and are reused.
///
/// # Errors
/// Returns the input's read error; records read before it were routed.
pub fn route_lines(
    mut input: impl BufRead,
    shards: &[Sender<RecordBatch>],
    recycled: &Receiver<RecordBatch>,
    progress: &AtomicU64,
) -> io::Result<ReadStats> {
    let mut pending: Vec<RecordBatch> = shards.iter().map(|_| RecordBatch::default()).collect();
    let mut stats = ReadStats::default();
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        let read = input.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        stats.lines += 1;
        stats.bytes += read as u64;
        progress.fetch_add(read as u64, Ordering::Relaxed);
        let record = trim_line_end(&line);
        if record.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stats.records += 1;
        let shard = shard_of(&route_key(record), shards.len());
        pending[shard].push(record, stats.lines);
        if pending[shard].is_full() {
            let fresh = recycled.try_recv().unwrap_or_default();
            let full = std::mem::replace(&mut pending[shard], fresh);
            if shards[shard].send(full).is_err() {
                break;
            }
        }
    }
    for (batch, shard) in pending.into_iter().zip(shards) {
        if !batch.is_empty() {
            let _ = shard.send(batch);
        }
    }
    Ok(stats)
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
