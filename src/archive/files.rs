//! The archive's layout on disk and the file operations every part shares.
//!
//! `<root>/<table>/date=YYYY-MM-DD/part-<run>-<n>.parquet`. A file is
//! written under a hidden `.tmp` name in its folder and renamed into place
//! once complete, so readers never see half a file; a rewrite (erasure)
//! replaces a file the same way.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnPath;

use super::ArchiveError;
use super::schema::{PARTITION_COLUMN, Table};
use crate::time::DAY_MS;

/// Rows per row group: large groups compress well and let a scan skip
/// whole groups by their statistics.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;

/// Days from 0001-01-01 (chrono's day count) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The UTC day of a millisecond timestamp.
#[must_use]
pub fn day_of(ms: i64) -> NaiveDate {
    date_of_day(ms.div_euclid(DAY_MS))
}

/// The date of a day counted from 1970-01-01.
#[must_use]
pub fn date_of_day(day: i64) -> NaiveDate {
    i32::try_from(day.saturating_add(EPOCH_DAYS_FROM_CE))
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or_default()
}

/// The folder of `table`.
#[must_use]
pub fn table_dir(root: &Path, table: Table) -> PathBuf {
    root.join(table.name())
}

/// The folder of one day of `table`.
#[must_use]
pub fn partition_dir(root: &Path, table: Table, day: NaiveDate) -> PathBuf {
    table_dir(root, table).join(format!("{PARTITION_COLUMN}={}", day.format("%Y-%m-%d")))
}

/// The day partitions of `table`, oldest first; folders that are not
/// partitions are ignored.
///
/// # Errors
/// The table's folder exists but cannot be listed.
pub fn partitions(root: &Path, table: Table) -> Result<Vec<(NaiveDate, PathBuf)>, ArchiveError> {
    let dir = table_dir(root, table);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{PARTITION_COLUMN}=");
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ArchiveError::io(&dir))?;
        let name = entry.file_name();
        let Some(day) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if entry.path().is_dir() {
            found.push((day, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The complete Parquet files of a partition folder, by name.
///
/// # Errors
/// The folder cannot be listed.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ArchiveError::io(dir))? {
        let path = entry.map_err(ArchiveError::io(dir))?.path();
        let visible = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.') && n.ends_with(".parquet"));
        if visible {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every complete Parquet file of `table`.
///
/// # Errors
/// A folder cannot be listed.
pub fn table_files(root: &Path, table: Table) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut files = Vec::new();
    for (_, dir) in partitions(root, table)? {
        files.extend(parquet_files(&dir)?);
    }
    Ok(files)
}

/// The hidden name a file is written under before it is complete.
#[must_use]
pub fn temporary_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp"))
}

/// Columns with few distinct values (types, outcomes, endpoints, agents),
/// the only ones worth a dictionary. For the others, user ids and addresses
/// included, hashing every value into a dictionary cost the writer more
/// time than it saved space after Snappy.
const DICTIONARY_COLUMNS: [&str; 11] = [
    "event_type",
    "key_type",
    "endpoint",
    "user_agent",
    "auth_event_type",
    "status",
    "type",
    "severity",
    "action",
    "outcome",
    "kind",
];

/// Free-text columns nobody narrows by range: their minimum and maximum
/// would cost a comparison per value and never let a query skip a row
/// group.
const UNRANGED_COLUMNS: [&str; 10] = [
    "event_id",
    "user_agent",
    "details",
    "extra",
    "entities",
    "signals",
    "actions",
    "data",
    "hash",
    "prev",
];

/// How every archive file is written: Snappy (fast, so the writer thread
/// keeps up with the pipeline), statistics per column chunk (what
/// pruning reads) except for free text, and dictionaries only where values
/// repeat a lot.
#[must_use]
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_enabled(false)
        .set_created_by(format!("vigil {}", env!("CARGO_PKG_VERSION")));
    for few in DICTIONARY_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(few), true);
    }
    for text in UNRANGED_COLUMNS {
        builder =
            builder.set_column_statistics_enabled(ColumnPath::from(text), EnabledStatistics::None);
    }
    builder.build()
}

/// An open writer on a file's hidden name.
pub struct PendingFile {
    writer: ArrowWriter<File>,
    temporary: PathBuf,
    dest: PathBuf,
}

impl PendingFile {
    /// Starts writing `dest` (under its hidden name), creating its folder.
    ///
    /// # Errors
    /// The folder or file cannot be created.
    pub fn create(dest: PathBuf, schema: SchemaRef) -> Result<Self, ArchiveError> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(ArchiveError::io(dir))?;
        }
        let temporary = temporary_path(&dest);
        let file = File::create(&temporary).map_err(ArchiveError::io(&temporary))?;
        let writer = ArrowWriter::try_new(file, schema, Some(writer_properties()))
            .map_err(ArchiveError::parquet(&temporary))?;
        Ok(Self {
            writer,
            temporary,
            dest,
        })
    }

    /// Appends rows.
    ///
    /// # Errors
    /// Encoding or writing failed.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArchiveError> {
        self.writer
            .write(batch)
            .map_err(ArchiveError::parquet(&self.temporary))
    }

    /// Finishes the file, syncs it and renames it into place.
    ///
    /// # Errors
    /// Finishing, syncing or renaming failed; the hidden file stays.
    pub fn complete(self) -> Result<PathBuf, ArchiveError> {
        let file = self
            .writer
            .into_inner()
            .map_err(ArchiveError::parquet(&self.temporary))?;
        file.sync_all().map_err(ArchiveError::io(&self.temporary))?;
        std::fs::rename(&self.temporary, &self.dest).map_err(ArchiveError::io(&self.dest))?;
        Ok(self.dest)
    }
}

/// Writes `batches` as the whole of `dest`, replacing it atomically.
///
/// # Errors
/// Writing or renaming failed; `dest` is then unchanged.
pub fn write_file(
    dest: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ArchiveError> {
    let mut pending = PendingFile::create(dest.to_owned(), schema)?;
    for batch in batches {
        pending.write(batch)?;
    }
    pending.complete().map(|_| ())
}

/// Every row of a file, in order, with the file's own schema.
///
/// # Errors
/// The file cannot be opened or is not readable Parquet.
pub fn read_file(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::io(path))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(ArchiveError::parquet(path))?;
    let schema = Arc::clone(builder.schema());
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(ArchiveError::parquet(path))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(ArchiveError::parquet(path))?;
    Ok((schema, batches))
}

/// Rows in a file, from its footer alone.
///
/// # Errors
/// The file cannot be opened or is not readable Parquet.
pub fn file_rows(path: &Path) -> Result<u64, ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::io(path))?;
    let reader = SerializedFileReader::new(file).map_err(ArchiveError::parquet(path))?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_columns_of_few_values_get_a_dictionary() {
        let properties = writer_properties();
        let dictionary = |column: &str| properties.dictionary_enabled(&ColumnPath::from(column));

        assert!(dictionary("event_type"));
        assert!(dictionary("severity"));
        assert!(!dictionary("user_id"));
        assert!(!dictionary("event_id"));
        assert!(!dictionary("timestamp"));
    }

    #[test]
    fn time_columns_keep_statistics_for_pruning_and_free_text_has_none() {
        let properties = writer_properties();
        let statistics = |column: &str| properties.statistics_enabled(&ColumnPath::from(column));

        assert_eq!(statistics("timestamp"), EnabledStatistics::Chunk);
        assert_eq!(statistics("at"), EnabledStatistics::Chunk);
        assert_eq!(statistics("details"), EnabledStatistics::None);
        assert_eq!(statistics("event_id"), EnabledStatistics::None);
    }
}
