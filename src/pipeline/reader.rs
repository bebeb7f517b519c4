//! The router: reads JSON lines and sends each record to the shard that
//! owns its user, in batches. It only finds the user id; decoding happens
//! on the shard, so reading never becomes the bottleneck.

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::batch::RecordBatch;
use crate::event::{record_of_line, route_key};
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

/// A read shorter than this means the input is not keeping up (a pipe or
/// terminal trickling events): partial batches are sent at once instead of
/// waiting to fill, so a slow stream is analyzed as it arrives.
const FULL_READ_BYTES: usize = 64 * 1024;

/// Records between progress ticks, which let the collector know how far
/// every shard has come even when some receive few records.
const TICK_RECORDS: u64 = 64 * 1024;

/// When the router pauses the pipeline for a snapshot, and how it learns
/// that the snapshot is written.
pub struct SnapshotPace {
    /// Time between two snapshots.
    pub every: Duration,
    /// Signalled by the collector once a snapshot is on disk.
    pub written: Receiver<()>,
}

/// Reads `input` to its end, routing records to `shards`. Emptied batches
/// come back through `recycled` and are reused. With `pace`, the router
/// regularly asks every shard for its state and waits until the snapshot
/// is written, so the snapshot covers exactly the lines read before.
///
/// Lines are cut straight out of the reader's buffer; only a line split
/// across two reads is copied first. Every shard regularly receives a
/// batch, empty if need be, stamped with the lines read so far; that is
/// how the collector orders what shards forward to the global rule stage.
///
/// # Errors
/// Returns the input's read error; records read before it were routed.
pub fn route_lines(
    mut input: impl BufRead,
    shards: &[Sender<RecordBatch>],
    recycled: &Receiver<RecordBatch>,
    progress: &AtomicU64,
    pace: Option<&SnapshotPace>,
) -> io::Result<ReadStats> {
    let mut router = Router::new(shards, recycled);
    let mut last_snapshot = Instant::now();
    let mut carry: Vec<u8> = Vec::new();
    while !router.stopped {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            if !carry.is_empty() {
                router.route(&carry);
            }
            break;
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            let line = &chunk[start..=end];
            if carry.is_empty() {
                router.route(line);
            } else {
                carry.extend_from_slice(line);
                router.route(&carry);
                carry.clear();
            }
            start = end + 1;
        }
        carry.extend_from_slice(&chunk[start..]);
        let read = chunk.len();
        input.consume(read);
        progress.fetch_add(read as u64, Ordering::Relaxed);
        if read < FULL_READ_BYTES || router.tick_due() {
            router.flush();
        }
        if let Some(pace) = pace
            && last_snapshot.elapsed() >= pace.every
        {
            router.snapshot(&pace.written);
            last_snapshot = Instant::now();
        }
    }
    Ok(router.finish())
}

/// Batches records per shard and sends full batches.
struct Router<'s> {
    shards: &'s [Sender<RecordBatch>],
    recycled: &'s Receiver<RecordBatch>,
    pending: Vec<RecordBatch>,
    stats: ReadStats,
    /// Set when a shard hung up: nothing more can be delivered.
    stopped: bool,
    /// Records routed at the last flush.
    flushed_at: u64,
}

impl<'s> Router<'s> {
    fn new(shards: &'s [Sender<RecordBatch>], recycled: &'s Receiver<RecordBatch>) -> Self {
        let pending = shards.iter().map(|_| RecordBatch::default()).collect();
        Self {
            shards,
            recycled,
            pending,
            stats: ReadStats::default(),
            stopped: false,
            flushed_at: 0,
        }
    }

    /// Routes one line, newline included.
    fn route(&mut self, line: &[u8]) {
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64;
        let Some(record) = record_of_line(line) else {
            return;
        };
        self.stats.records += 1;
        let shard = shard_of(&route_key(record), self.shards.len());
        self.pending[shard].push(record, self.stats.lines);
        if self.pending[shard].is_full() {
            self.send(shard);
        }
    }

    /// Sends shard `shard` its pending batch, stamped with the lines read.
    fn send(&mut self, shard: usize) {
        let fresh = self.recycled.try_recv().unwrap_or_default();
        let mut batch = std::mem::replace(&mut self.pending[shard], fresh);
        batch.through_line = self.stats.lines;
        if !batch.is_empty() {
            batch.sent_at = Some(std::time::Instant::now());
        }
        self.stopped |= self.shards[shard].send(batch).is_err();
    }

    fn tick_due(&self) -> bool {
        self.stats.records - self.flushed_at >= TICK_RECORDS
    }

    /// Sends every shard its pending batch, empty ones included.
    fn flush(&mut self) {
        for shard in 0..self.shards.len() {
            self.send(shard);
        }
        self.flushed_at = self.stats.records;
    }

    /// Sends every shard its pending batch marked for a snapshot, and waits
    /// until the collector has written it.
    fn snapshot(&mut self, written: &Receiver<()>) {
        for batch in &mut self.pending {
            batch.snapshot = true;
        }
        self.flush();
        self.stopped |= written.recv().is_err();
    }

    /// Sends the partly filled batches.
    fn finish(mut self) -> ReadStats {
        self.flush();
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    /// Routes `text` to one shard through a reader buffer of `capacity`
    /// bytes; returns the records and their line numbers.
    fn route_all(text: &str, capacity: usize) -> (Vec<(String, u64)>, ReadStats) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let (_, recycled) = crossbeam_channel::unbounded();
        let input = BufReader::with_capacity(capacity, text.as_bytes());
        let stats = route_lines(input, &[sender], &recycled, &AtomicU64::new(0), None).unwrap();
        let records = receiver
            .try_iter()
            .flat_map(|batch| {
                batch
                    .iter()
                    .map(|(r, line)| (String::from_utf8(r.to_vec()).unwrap(), line))
                    .collect::<Vec<_>>()
            })
            .collect();
        (records, stats)
    }

    #[test]
    fn lines_split_across_reads_arrive_whole() {
        let text = "{\"user_id\":\"a\"}\r\n\n  \n{\"user_id\":\"bb\"}\n{\"user_id\":\"c\"}";
        for capacity in [1, 3, 7, 64] {
            let (records, stats) = route_all(text, capacity);
            let expected = [
                ("{\"user_id\":\"a\"}", 1),
                ("{\"user_id\":\"bb\"}", 4),
                ("{\"user_id\":\"c\"}", 5),
            ];
            let expected: Vec<(String, u64)> =
                expected.iter().map(|&(r, l)| (r.to_owned(), l)).collect();
            assert_eq!(records, expected, "buffer of {capacity} bytes");
            assert_eq!(
                (stats.lines, stats.records, stats.bytes),
                (5, 3, text.len() as u64)
            );
        }
    }
}
