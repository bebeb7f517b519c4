//! Record batches: many raw records in one buffer, so the router hands a
//! shard hundreds of records per channel message instead of one.

/// Raw records bound for one shard, with their input line numbers.
#[derive(Debug, Default)]
pub struct RecordBatch {
    data: Vec<u8>,
    records: Vec<(usize, usize, u64)>,
    /// Input lines read when the batch was sent: once its shard has
    /// processed it, every record of that shard up to this line is done.
    pub through_line: u64,
    /// When the router sent the batch, for the pipeline latency.
    pub sent_at: Option<std::time::Instant>,
    /// Asks the shard to hand its state to the collector once the batch is
    /// processed: the router has paused for a snapshot.
    pub snapshot: bool,
}

/// Records per batch before it is sent.
pub const BATCH_RECORDS: usize = 2048;
/// Bytes per batch before it is sent.
pub const BATCH_BYTES: usize = 1024 * 1024;

impl RecordBatch {
    /// Appends a record found at `line`.
    pub fn push(&mut self, record: &[u8], line: u64) {
        let start = self.data.len();
        self.data.extend_from_slice(record);
        self.records.push((start, self.data.len(), line));
    }

    /// Whether the batch is due to be sent.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.records.len() >= BATCH_RECORDS || self.data.len() >= BATCH_BYTES
    }

    /// Whether it holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in input order, with their line numbers.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.records
            .iter()
            .map(|&(start, end, line)| (&self.data[start..end], line))
    }

    /// Empties the batch, keeping its buffers for reuse.
    pub fn clear(&mut self) {
        self.data.clear();
        self.records.clear();
        self.through_line = 0;
        self.sent_at = None;
        self.snapshot = false;
    }
}
