//! Rows of the `actions` and `audit` tables, which the response system
//! hands to the archive one at a time through an [`ArchiveRecorder`].
//!
//! [`ArchiveRecorder`]: super::ArchiveRecorder

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::schema::Table;

/// One attempt at a response action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    /// When the attempt ended (wall clock).
    pub at: DateTime<Utc>,
    /// The incident it answers.
    pub incident_id: String,
    /// The action, such as `revoke_api_key`.
    pub action: String,
    /// What it acted on, already redacted (a key id, an address).
    pub target: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `succeeded`, `failed`, `retrying`, `dry_run` or `suppressed`.
    pub outcome: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: f64,
    /// Whether it was only logged (dry-run mode).
    pub dry_run: bool,
}

/// One record of the audit log, as the log wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Its position in the chain, from 1.
    pub seq: u64,
    /// When it was written (wall clock).
    pub at: DateTime<Utc>,
    /// What it records, such as `action_attempt`.
    pub kind: String,
    /// Its data, as JSON text.
    pub data: String,
    /// The previous record's hash.
    pub prev: String,
    /// This record's hash.
    pub hash: String,
}

impl AuditRow {
    /// Reads one line of the audit log; `None` when it is not a record.
    #[must_use]
    pub fn from_line(line: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            seq: u64,
            at: DateTime<Utc>,
            kind: String,
            #[serde(borrow)]
            data: &'a RawValue,
            prev: String,
            hash: String,
        }
        let line: Line<'_> = serde_json::from_str(line).ok()?;
        Some(Self {
            seq: line.seq,
            at: line.at,
            kind: line.kind,
            data: line.data.get().to_owned(),
            prev: line.prev,
            hash: line.hash,
        })
    }
}

fn time_builder(capacity: usize) -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

/// The `actions` table's batch for `rows`.
///
/// # Panics
/// Never in practice: every column receives one value per row.
#[must_use]
pub fn action_batch(rows: &[ActionRow]) -> RecordBatch {
    let mut at = time_builder(rows.len());
    let mut incident_id = StringBuilder::new();
    let mut action = StringBuilder::new();
    let mut target = StringBuilder::new();
    let mut attempt = Int64Builder::with_capacity(rows.len());
    let mut outcome = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut duration_ms = Float64Builder::with_capacity(rows.len());
    let mut dry_run = BooleanBuilder::with_capacity(rows.len());
    for row in rows {
        at.append_value(row.at.timestamp_millis());
        incident_id.append_value(&row.incident_id);
        action.append_value(&row.action);
        target.append_value(&row.target);
        attempt.append_value(i64::from(row.attempt));
        outcome.append_value(&row.outcome);
        error.append_option(row.error.as_deref());
        duration_ms.append_value(row.duration_ms);
        dry_run.append_value(row.dry_run);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(at.finish()),
        Arc::new(incident_id.finish()),
        Arc::new(action.finish()),
        Arc::new(target.finish()),
        Arc::new(attempt.finish()),
        Arc::new(outcome.finish()),
        Arc::new(error.finish()),
        Arc::new(duration_ms.finish()),
        Arc::new(dry_run.finish()),
    ];
    RecordBatch::try_new(Table::Actions.schema(), columns)
        .expect("action columns match the actions schema")
}

/// The `audit` table's batch for `rows`.
///
/// # Panics
/// Never in practice: every column receives one value per row.
#[must_use]
pub fn audit_batch(rows: &[AuditRow]) -> RecordBatch {
    let mut seq = Int64Builder::with_capacity(rows.len());
    let mut at = time_builder(rows.len());
    let mut kind = StringBuilder::new();
    let mut data = StringBuilder::new();
    let mut prev = StringBuilder::new();
    let mut hash = StringBuilder::new();
    for row in rows {
        seq.append_value(i64::try_from(row.seq).unwrap_or(i64::MAX));
        at.append_value(row.at.timestamp_millis());
        kind.append_value(&row.kind);
        data.append_value(&row.data);
        prev.append_value(&row.prev);
        hash.append_value(&row.hash);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(seq.finish()),
        Arc::new(at.finish()),
        Arc::new(kind.finish()),
        Arc::new(data.finish()),
        Arc::new(prev.finish()),
        Arc::new(hash.finish()),
    ];
    RecordBatch::try_new(Table::Audit.schema(), columns)
        .expect("audit columns match the audit schema")
}
