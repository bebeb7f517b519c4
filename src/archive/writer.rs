//! The writer thread: the one place that touches archive files while a run
//! goes on. Shards and the collector ship finished record batches to it
//! through a bounded channel; it splits them by day, appends them to one
//! open file per table and day, and renames each file into place once it
//! is complete (at the end of the run, when it is full, or when it has been
//! open for a while, so a long run becomes queryable as it goes).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, TimestampMillisecondArray};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::ArchiveError;
use super::files::{PendingFile, date_of_day, partition_dir};
use super::retention::Retention;
use super::rows::{ActionRow, AuditRow, action_batch, audit_batch};
use super::schema::Table;
use crate::time::DAY_MS;

/// Batches queued for the writer before shards wait for it.
const QUEUE_BATCHES: usize = 16;

/// A file is completed once it holds this many rows.
const FILE_ROWS: u64 = 4 * 1024 * 1024;

/// A file is completed after being open this long, so long runs become
/// visible to queries without waiting for the end.
const FILE_OPEN_FOR: Duration = Duration::from_mins(10);

/// Files open at once; past this the least recently written is completed
/// (late events can touch old days, which should not keep files open).
const OPEN_FILES: usize = 8;

/// Action and audit rows gathered before they are written.
const RECORD_ROWS: usize = 1024;

/// How often the writer wakes without messages to complete old files and
/// apply retention.
const TICK: Duration = Duration::from_secs(1);

/// The writer thread, which returns what it wrote or its first failure.
pub(crate) type WriterThread = JoinHandle<Result<WriteStats, ArchiveError>>;

/// What the writer thread receives.
pub(crate) enum Message {
    /// Finished rows of a table.
    Rows(Table, RecordBatch),
    /// One action attempt.
    Action(ActionRow),
    /// One audit record.
    Audit(AuditRow),
    /// Complete every file and stop.
    Finish,
}

/// Ships finished batches to the writer thread. When the writer has
/// failed, batches are dropped; the failure is reported when the archive
/// finishes.
#[derive(Clone)]
pub struct Shipper {
    pub(crate) sender: Sender<Message>,
}

impl Shipper {
    /// Hands `batch` of `table` to the writer, waiting while its queue is
    /// full.
    pub fn rows(&self, table: Table, batch: RecordBatch) {
        let _ = self.sender.send(Message::Rows(table, batch));
    }
}

/// What the archive wrote during a run.
#[derive(Debug, Clone, Default)]
pub struct WriteStats {
    /// Rows written, by table name.
    pub rows: BTreeMap<&'static str, u64>,
    /// Files completed.
    pub files: u64,
}

impl std::fmt::Display for WriteStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("archive")?;
        for (table, rows) in &self.rows {
            write!(f, "  {table} {rows} rows")?;
        }
        write!(f, "  files {}", self.files)
    }
}

/// Starts the writer thread for the archive at `root`.
pub(crate) fn spawn(
    root: PathBuf,
    retention: Option<Retention>,
) -> Result<(Sender<Message>, WriterThread), ArchiveError> {
    let (sender, receiver) = bounded(QUEUE_BATCHES);
    let writer = Writer::new(root, retention);
    let thread = std::thread::Builder::new()
        .name("archive-writer".to_owned())
        .spawn(move || writer.run(&receiver))
        .map_err(|e| ArchiveError::Internal(format!("cannot start the writer thread: {e}")))?;
    Ok((sender, thread))
}

struct OpenFile {
    file: PendingFile,
    rows: u64,
    opened: Instant,
    written: Instant,
}

struct Writer {
    root: PathBuf,
    retention: Option<Retention>,
    open: HashMap<(Table, NaiveDate), OpenFile>,
    actions: Vec<ActionRow>,
    audit: Vec<AuditRow>,
    stats: WriteStats,
    run_id: String,
    files_started: u64,
}

impl Writer {
    fn new(root: PathBuf, retention: Option<Retention>) -> Self {
        let run_id = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"),
            std::process::id()
        );
        Self {
            root,
            retention,
            open: HashMap::new(),
            actions: Vec::new(),
            audit: Vec::new(),
            stats: WriteStats::default(),
            run_id,
            files_started: 0,
        }
    }

    /// Writes until told to finish. After a failure it keeps draining the
    /// queue, so shards never block on a dead writer, and reports the
    /// first failure at the end.
    fn run(mut self, messages: &Receiver<Message>) -> Result<WriteStats, ArchiveError> {
        let mut failure: Option<ArchiveError> = None;
        loop {
            let step = match messages.recv_timeout(TICK) {
                Ok(Message::Finish) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(message) if failure.is_none() => self.take(message),
                Err(RecvTimeoutError::Timeout) if failure.is_none() => self.tick(),
                Ok(_) | Err(RecvTimeoutError::Timeout) => Ok(()),
            };
            if let Err(error) = step {
                tracing::error!(error = %error, "Archive writing failed; later rows are dropped");
                failure = Some(error);
            }
        }
        let closed = self.close_all();
        match failure {
            Some(error) => Err(error),
            None => closed.map(|()| self.stats),
        }
    }

    fn take(&mut self, message: Message) -> Result<(), ArchiveError> {
        match message {
            Message::Rows(table, batch) => self.write(table, &batch),
            Message::Action(row) => {
                self.actions.push(row);
                if self.actions.len() >= RECORD_ROWS {
                    self.write_records()?;
                }
                Ok(())
            }
            Message::Audit(row) => {
                self.audit.push(row);
                if self.audit.len() >= RECORD_ROWS {
                    self.write_records()?;
                }
                Ok(())
            }
            Message::Finish => Ok(()),
        }
    }

    /// Periodic work: pending records, files open too long, retention.
    fn tick(&mut self) -> Result<(), ArchiveError> {
        self.write_records()?;
        let expired: Vec<_> = self
            .open
            .iter()
            .filter(|(_, open)| open.opened.elapsed() >= FILE_OPEN_FOR)
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            self.complete(key)?;
        }
        let open_days: Vec<_> = self.open.keys().copied().collect();
        if let Some(retention) = self.retention.as_mut() {
            retention.apply_when_due(&self.root, &open_days)?;
        }
        Ok(())
    }

    fn write_records(&mut self) -> Result<(), ArchiveError> {
        if !self.actions.is_empty() {
            let batch = action_batch(&self.actions);
            self.actions.clear();
            self.write(Table::Actions, &batch)?;
        }
        if !self.audit.is_empty() {
            let batch = audit_batch(&self.audit);
            self.audit.clear();
            self.write(Table::Audit, &batch)?;
        }
        Ok(())
    }

    /// Splits `batch` by day and appends each part to its day's file.
    fn write(&mut self, table: Table, batch: &RecordBatch) -> Result<(), ArchiveError> {
        for (day, part) in split_by_day(table, batch)? {
            self.append(table, day, &part)?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        table: Table,
        day: NaiveDate,
        part: &RecordBatch,
    ) -> Result<(), ArchiveError> {
        let key = (table, day);
        if !self.open.contains_key(&key) {
            self.make_room()?;
            let file = self.start_file(table, day)?;
            self.open.insert(key, file);
        }
        let open = self.open.get_mut(&key).expect("the file was just opened");
        open.file.write(part)?;
        open.rows += part.num_rows() as u64;
        open.written = Instant::now();
        *self.stats.rows.entry(table.name()).or_default() += part.num_rows() as u64;
        if open.rows >= FILE_ROWS {
            self.complete(key)?;
        }
        Ok(())
    }

    fn start_file(&mut self, table: Table, day: NaiveDate) -> Result<OpenFile, ArchiveError> {
        self.files_started += 1;
        let name = format!("part-{}-{:05}.parquet", self.run_id, self.files_started);
        let dest = partition_dir(&self.root, table, day).join(name);
        let now = Instant::now();
        Ok(OpenFile {
            file: PendingFile::create(dest, table.schema())?,
            rows: 0,
            opened: now,
            written: now,
        })
    }

    /// Completes the least recently written file when too many are open.
    fn make_room(&mut self) -> Result<(), ArchiveError> {
        if self.open.len() < OPEN_FILES {
            return Ok(());
        }
        let stalest = self
            .open
            .iter()
            .min_by_key(|(_, open)| open.written)
            .map(|(key, _)| *key);
        match stalest {
            Some(key) => self.complete(key),
            None => Ok(()),
        }
    }

    fn complete(&mut self, key: (Table, NaiveDate)) -> Result<(), ArchiveError> {
        if let Some(open) = self.open.remove(&key) {
            open.file.complete()?;
            self.stats.files += 1;
        }
        Ok(())
    }

    /// Writes pending records and completes every file, reporting the
    /// first failure but trying them all.
    fn close_all(&mut self) -> Result<(), ArchiveError> {
        let mut result = self.write_records();
        let keys: Vec<_> = self.open.keys().copied().collect();
        for key in keys {
            let completed = self.complete(key);
            if result.is_ok() {
                result = completed;
            }
        }
        result
    }
}

/// Past this many runs of days in one batch, the batch is split by
/// filtering instead of slicing, so interleaved days do not make many tiny
/// writes.
const MAX_DAY_RUNS: usize = 16;

/// The rows of `batch` grouped by the UTC day of the table's day column.
/// Rows arrive nearly in time order, so a batch is usually one day or a few
/// runs of days, each taken as a zero-copy slice; days that interleave more
/// than that are gathered by a filter per day.
fn split_by_day(
    table: Table,
    batch: &RecordBatch,
) -> Result<Vec<(NaiveDate, RecordBatch)>, ArchiveError> {
    let column = batch
        .column_by_name(table.day_column())
        .and_then(|c| c.as_any().downcast_ref::<TimestampMillisecondArray>())
        .ok_or_else(|| {
            ArchiveError::Internal(format!(
                "{} rows lack their {} column",
                table.name(),
                table.day_column()
            ))
        })?;
    let days: Vec<i64> = column
        .values()
        .iter()
        .map(|&ms| ms.div_euclid(DAY_MS))
        .collect();
    let runs = day_runs(&days);
    if runs.len() <= MAX_DAY_RUNS {
        return Ok(runs
            .into_iter()
            .map(|(day, start, len)| (date_of_day(day), batch.slice(start, len)))
            .collect());
    }
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
        .into_iter()
        .map(|day| {
            let mask: BooleanArray = days.iter().map(|&d| Some(d == day)).collect();
            filter_record_batch(batch, &mask)
                .map(|part| (date_of_day(day), part))
                .map_err(|e| ArchiveError::Internal(e.to_string()))
        })
        .collect()
}

/// Maximal runs of one day: (day, first row, rows).
fn day_runs(days: &[i64]) -> Vec<(i64, usize, usize)> {
    let mut runs: Vec<(i64, usize, usize)> = Vec::new();
    for (row, &day) in days.iter().enumerate() {
        match runs.last_mut() {
            Some((last, _, len)) if *last == day => *len += 1,
            _ => runs.push((day, row, 1)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    /// A batch of the events table's day column (and a row number) at the
    /// given days.
    fn batch_on_days(days: &[i64]) -> RecordBatch {
        let stamps: Vec<i64> = days.iter().map(|d| d * DAY_MS + 3_600_000).collect();
        let rows: Vec<i64> = (0..).take(days.len()).collect();
        let schema = Schema::new(vec![
            Field::new(
                Table::Events.day_column(),
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("row", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(TimestampMillisecondArray::from(stamps)),
                Arc::new(Int64Array::from(rows)),
            ],
        )
        .unwrap()
    }

    fn rows_by_day(parts: &[(NaiveDate, RecordBatch)]) -> Vec<(String, Vec<i64>)> {
        parts
            .iter()
            .map(|(day, part)| {
                let rows = part
                    .column(1)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec();
                (day.to_string(), rows)
            })
            .collect()
    }

    #[test]
    fn runs_of_days_become_slices_in_order() {
        let day = 20_400; // 2025-11-08
        let parts = split_by_day(Table::Events, &batch_on_days(&[day, day, day + 1, day])).unwrap();
        assert_eq!(
            rows_by_day(&parts),
            [
                ("2025-11-08".to_owned(), vec![0, 1]),
                ("2025-11-09".to_owned(), vec![2]),
                ("2025-11-08".to_owned(), vec![3]),
            ]
        );
    }

    #[test]
    fn interleaved_days_are_gathered_one_part_per_day() {
        let days: Vec<i64> = (0..40).map(|i| 20_400 + i % 2).collect();
        let parts = split_by_day(Table::Events, &batch_on_days(&days)).unwrap();
        let found = rows_by_day(&parts);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, (0..40).step_by(2).collect::<Vec<i64>>());
        assert_eq!(found[1].1, (1..40).step_by(2).collect::<Vec<i64>>());
    }
}
