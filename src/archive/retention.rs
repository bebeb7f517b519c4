//! Retention: day partitions older than `retention_days` are removed,
//! whole folders at a time, and each removal is recorded in the audit log
//! with what it removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::ArchiveError;
use super::files::{file_rows, parquet_files, partitions, table_dir};
use super::schema::Table;
use crate::audit::{AuditKind, AuditLog};

/// How often a running archive checks for expired partitions.
const EVERY: Duration = Duration::from_hours(24);

/// A hidden file not written for this long was left by a run that
/// stopped before completing it; a live writer completes or touches its
/// files far more often.
pub const STALE_TEMPORARY: Duration = Duration::from_hours(1);

/// What one pass of retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Days before this one were expired.
    pub kept_from: String,
    /// The retention period applied.
    pub retention_days: u32,
    /// Day folders removed.
    pub partitions_removed: u64,
    /// Parquet files removed.
    pub files_removed: u64,
    /// Rows those files held.
    pub rows_removed: u64,
    /// Rows removed, by table.
    pub tables: BTreeMap<&'static str, u64>,
}

/// Removes the partitions of every table dated before `today` minus
/// `retention_days`, except the `(table, day)` pairs in `busy` (files
/// being written).
///
/// # Errors
/// A folder cannot be listed or removed, or a file's footer cannot be
/// read; partitions removed before the failure stay removed.
pub fn prune(
    root: &Path,
    retention_days: u32,
    today: NaiveDate,
    busy: &[(Table, NaiveDate)],
) -> Result<PruneReport, ArchiveError> {
    let kept_from = today - chrono::Days::new(u64::from(retention_days));
    let mut report = PruneReport {
        kept_from: kept_from.format("%Y-%m-%d").to_string(),
        retention_days,
        ..PruneReport::default()
    };
    for table in Table::ALL {
        for (day, dir) in partitions(root, table)? {
            if day >= kept_from || busy.contains(&(table, day)) {
                continue;
            }
            let files = parquet_files(&dir)?;
            let mut rows = 0;
            for file in &files {
                rows += file_rows(file)?;
            }
            std::fs::remove_dir_all(&dir).map_err(ArchiveError::io(&dir))?;
            report.partitions_removed += 1;
            report.files_removed += files.len() as u64;
            report.rows_removed += rows;
            *report.tables.entry(table.name()).or_default() += rows;
        }
    }
    Ok(report)
}

/// Appends `data` as a record of `kind` to the audit log at `path`.
///
/// # Errors
/// The log cannot be opened or written.
pub fn audit(path: &Path, kind: AuditKind, data: &impl Serialize) -> Result<(), ArchiveError> {
    let mut log = AuditLog::open(path)?;
    log.append(kind, data)?;
    log.sync()?;
    Ok(())
}

/// Removes hidden files of `table` left by runs that stopped before
/// completing them; returns how many.
///
/// # Errors
/// A folder cannot be listed or a file removed.
pub fn remove_stale_temporaries(root: &Path, table: Table) -> Result<u64, ArchiveError> {
    let mut removed = 0;
    if !table_dir(root, table).is_dir() {
        return Ok(0);
    }
    for (_, dir) in partitions(root, table)? {
        for entry in std::fs::read_dir(&dir).map_err(ArchiveError::io(&dir))? {
            let path = entry.map_err(ArchiveError::io(&dir))?.path();
            let hidden_temporary = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.to_ascii_lowercase().ends_with(".tmp"));
            if hidden_temporary && untouched_for(&path, STALE_TEMPORARY) {
                std::fs::remove_file(&path).map_err(ArchiveError::io(&path))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

fn untouched_for(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|idle| idle >= age)
}

/// Retention as a running archive applies it: at start, then daily.
#[derive(Debug, Clone)]
pub struct Retention {
    days: u32,
    audit_log: Option<PathBuf>,
    last: Option<Instant>,
}

impl Retention {
    /// Retention of `days` days, recorded in `audit_log` when given;
    /// `None` when `days` is 0 (keep everything).
    #[must_use]
    pub fn new(days: u32, audit_log: Option<PathBuf>) -> Option<Self> {
        (days > 0).then_some(Self {
            days,
            audit_log,
            last: None,
        })
    }

    /// Prunes now (UTC calendar) and records what was removed.
    ///
    /// # Errors
    /// As [`prune`], or the audit log cannot be written.
    pub fn apply(
        &mut self,
        root: &Path,
        busy: &[(Table, NaiveDate)],
    ) -> Result<PruneReport, ArchiveError> {
        self.last = Some(Instant::now());
        let report = prune(root, self.days, Utc::now().date_naive(), busy)?;
        if report.partitions_removed > 0 {
            tracing::info!(
                partitions = report.partitions_removed,
                files = report.files_removed,
                rows = report.rows_removed,
                kept_from = %report.kept_from,
                "Expired archive partitions removed"
            );
            if let Some(path) = &self.audit_log {
                audit(path, AuditKind::Retention, &report)?;
            }
        }
        Ok(report)
    }

    /// Prunes when a day has passed since the last time.
    ///
    /// # Errors
    /// As [`Retention::apply`].
    pub fn apply_when_due(
        &mut self,
        root: &Path,
        busy: &[(Table, NaiveDate)],
    ) -> Result<(), ArchiveError> {
        if self.last.is_some_and(|last| last.elapsed() < EVERY) {
            return Ok(());
        }
        self.apply(root, busy).map(|_| ())
    }
}
