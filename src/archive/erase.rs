//! Erasure: every archive file holding a user's records is rewritten
//! without them, atomically (a new file renamed over the old one), and a
//! file left with no rows is removed.
//!
//! A row belongs to the user when its `user_id` is the user's id or
//! pseudonym (events, incident revisions), when it is an action on one of
//! the user's incidents, or when it is an audit record mentioning the user
//! or one of those incidents. In the rows that remain, any text naming the
//! user as a whole word is replaced by `[erased]`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::ArchiveError;
use super::files::{read_file, table_files, write_file};
use super::retention::remove_stale_temporaries;
use super::schema::Table;
use super::words::{mentions, replace_word};

/// What replaces a user's id in text that stays.
pub const ERASED: &str = "[erased]";

/// Whom to erase: the raw id and, when the archive is pseudonymised,
/// the pseudonym that stands for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    ids: Vec<String>,
}

impl Subject {
    /// The user `user_id`, also known as `pseudonym` in the archive.
    #[must_use]
    pub fn new(user_id: &str, pseudonym: Option<String>) -> Self {
        let mut ids = vec![user_id.to_owned()];
        ids.extend(pseudonym);
        Self { ids }
    }

    fn is(&self, value: &str) -> bool {
        self.ids.iter().any(|id| id == value)
    }

    fn mentioned_in(&self, text: &str) -> bool {
        self.ids.iter().any(|id| mentions(text, id))
    }

    fn scrub(&self, text: &str) -> Option<String> {
        let mut changed: Option<String> = None;
        for id in &self.ids {
            let current = changed.as_deref().unwrap_or(text);
            if let Some(replaced) = replace_word(current, id, ERASED) {
                changed = Some(replaced);
            }
        }
        changed
    }
}

/// What erasure changed in one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableErasure {
    /// Files rewritten without the user's rows.
    pub files_rewritten: u64,
    /// Files removed because nothing else was in them.
    pub files_removed: u64,
    /// Rows removed.
    pub rows_removed: u64,
    /// Rows kept whose text named the user and was masked.
    pub rows_masked: u64,
}

/// What erasure changed, by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Per table name.
    pub tables: BTreeMap<&'static str, TableErasure>,
    /// Hidden files of interrupted runs removed along the way.
    pub stale_files_removed: u64,
}

impl ErasureReport {
    /// Rows removed from every table.
    #[must_use]
    pub fn rows_removed(&self) -> u64 {
        self.tables.values().map(|t| t.rows_removed).sum()
    }
}

/// Erases `subject` from the archive at `root`.
///
/// # Errors
/// A file cannot be read, written or removed; files handled before the
/// failure stay erased, the others are untouched.
pub fn erase(root: &Path, subject: &Subject) -> Result<ErasureReport, ArchiveError> {
    let mut report = ErasureReport::default();
    for table in Table::ALL {
        report.stale_files_removed += remove_stale_temporaries(root, table)?;
    }
    let incidents = incidents_of(root, subject)?;
    for table in Table::ALL {
        let mut counts = TableErasure::default();
        for path in table_files(root, table)? {
            erase_file(&path, table, subject, &incidents, &mut counts)?;
        }
        report.tables.insert(table.name(), counts);
    }
    Ok(report)
}

/// Ids of the incidents whose `user_id` is the subject.
fn incidents_of(root: &Path, subject: &Subject) -> Result<HashSet<String>, ArchiveError> {
    let mut ids = HashSet::new();
    for path in table_files(root, Table::Incidents)? {
        let (_, batches) = read_file(&path)?;
        for batch in &batches {
            let (Some(users), Some(incident_ids)) = (
                text_column(batch, "user_id"),
                text_column(batch, "incident_id"),
            ) else {
                continue;
            };
            for row in 0..batch.num_rows() {
                if users.is_valid(row) && subject.is(users.value(row)) {
                    ids.insert(incident_ids.value(row).to_owned());
                }
            }
        }
    }
    Ok(ids)
}

fn erase_file(
    path: &Path,
    table: Table,
    subject: &Subject,
    incidents: &HashSet<String>,
    counts: &mut TableErasure,
) -> Result<(), ArchiveError> {
    let (schema, batches) = read_file(path)?;
    let mut kept = Vec::with_capacity(batches.len());
    let mut changed = false;
    let mut rows_left = 0;
    for batch in &batches {
        let keep = keep_mask(table, batch, subject, incidents);
        let removed = keep.false_count() as u64;
        let filtered = if removed == 0 {
            batch.clone()
        } else {
            filter_record_batch(batch, &keep).map_err(ArchiveError::parquet(path))?
        };
        let (masked, masked_rows) =
            mask_text(&filtered, subject).map_err(ArchiveError::parquet(path))?;
        counts.rows_removed += removed;
        counts.rows_masked += masked_rows;
        changed |= removed > 0 || masked_rows > 0;
        rows_left += masked.num_rows();
        kept.push(masked);
    }
    if !changed {
        return Ok(());
    }
    if rows_left == 0 {
        std::fs::remove_file(path).map_err(ArchiveError::io(path))?;
        counts.files_removed += 1;
        if let Some(dir) = path.parent() {
            // Only succeeds when the day folder is now empty.
            let _ = std::fs::remove_dir(dir);
        }
    } else {
        write_file(path, schema, &kept)?;
        counts.files_rewritten += 1;
    }
    Ok(())
}

/// True for the rows that do not belong to the subject.
fn keep_mask(
    table: Table,
    batch: &RecordBatch,
    subject: &Subject,
    incidents: &HashSet<String>,
) -> BooleanArray {
    let belongs: Box<dyn Fn(usize) -> bool + '_> = match table {
        Table::Events | Table::Incidents => match text_column(batch, "user_id") {
            Some(users) => Box::new(move |row| users.is_valid(row) && subject.is(users.value(row))),
            None => Box::new(|_| false),
        },
        Table::Actions => match text_column(batch, "incident_id") {
            Some(ids) => {
                Box::new(move |row| ids.is_valid(row) && incidents.contains(ids.value(row)))
            }
            None => Box::new(|_| false),
        },
        Table::Audit => match text_column(batch, "data") {
            Some(data) => Box::new(move |row| {
                data.is_valid(row) && {
                    let text = data.value(row);
                    subject.mentioned_in(text)
                        || incidents.iter().any(|id| text.contains(id.as_str()))
                }
            }),
            None => Box::new(|_| false),
        },
    };
    (0..batch.num_rows())
        .map(|row| Some(!belongs(row)))
        .collect()
}

/// `batch` with the subject's id masked in every text cell; also returns
/// how many rows changed.
fn mask_text(
    batch: &RecordBatch,
    subject: &Subject,
) -> Result<(RecordBatch, u64), arrow::error::ArrowError> {
    let mut touched = vec![false; batch.num_rows()];
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        let Some(text) = column
            .as_any()
            .downcast_ref::<StringArray>()
            .filter(|_| column.data_type() == &DataType::Utf8)
        else {
            columns.push(Arc::clone(column));
            continue;
        };
        if !text
            .iter()
            .flatten()
            .any(|value| subject.mentioned_in(value))
        {
            columns.push(Arc::clone(column));
            continue;
        }
        let values: StringArray = text
            .iter()
            .enumerate()
            .map(|(row, value)| {
                let value = value?;
                Some(match subject.scrub(value) {
                    Some(masked) => {
                        touched[row] = true;
                        masked
                    }
                    None => value.to_owned(),
                })
            })
            .collect();
        columns.push(Arc::new(values));
    }
    let masked_rows = touched.iter().filter(|&&t| t).count() as u64;
    Ok((RecordBatch::try_new(batch.schema(), columns)?, masked_rows))
}

fn text_column<'b>(batch: &'b RecordBatch, name: &str) -> Option<&'b StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
}
