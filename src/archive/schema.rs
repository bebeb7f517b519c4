//! The archive's four tables: their names, folders, Arrow schemas and the
//! column that decides a row's day partition.
//!
//! Columns follow the event and incident contracts, typed (times as UTC
//! millisecond timestamps, counts as integers) so SQL over them needs no
//! casts; nested parts of an incident are kept as JSON text.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The hive partition column every table is split by: the UTC day,
/// `YYYY-MM-DD`, of the table's time column.
pub const PARTITION_COLUMN: &str = "date";

/// One of the archive's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Every accepted event.
    Events,
    /// Every incident revision.
    Incidents,
    /// Every action attempt.
    Actions,
    /// Every audit record.
    Audit,
}

impl Table {
    /// Every table, in the order they are listed to users.
    pub const ALL: [Self; 4] = [Self::Events, Self::Incidents, Self::Actions, Self::Audit];

    /// The table's SQL name, which is also its folder under the archive.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Incidents => "incidents",
            Self::Actions => "actions",
            Self::Audit => "audit",
        }
    }

    /// The columns stored in the table's files (the partition column is
    /// not among them: it comes from the folder name).
    #[must_use]
    pub fn schema(self) -> SchemaRef {
        match self {
            Self::Events => Arc::clone(&EVENTS),
            Self::Incidents => Arc::clone(&INCIDENTS),
            Self::Actions => Arc::clone(&ACTIONS),
            Self::Audit => Arc::clone(&AUDIT),
        }
    }

    /// The timestamp column whose UTC day names a row's partition. An
    /// incident's revisions all fall on the day of its `first_seen`, so one
    /// partition holds its whole history.
    #[must_use]
    pub fn day_column(self) -> &'static str {
        match self {
            Self::Events => "timestamp",
            Self::Incidents => "first_seen",
            Self::Actions | Self::Audit => "at",
        }
    }
}

/// The type of every time column: milliseconds in UTC.
#[must_use]
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The type of list columns (signal names, addresses).
#[must_use]
pub fn text_list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("timestamp", time_type(), false),
        text("event_type", false),
        text("user_id", false),
        text("ip_address", true),
        text("event_id", true),
        text("api_key_id", true),
        text("key_type", false),
        text("endpoint", true),
        Field::new("success", DataType::Boolean, false),
        Field::new("status_code", DataType::Int32, true),
        Field::new("tokens_used", DataType::Int64, false),
        Field::new("response_time_ms", DataType::Float64, true),
        text("user_agent", true),
        text("auth_event_type", true),
        text("details", true),
        text("extra", true),
    ]))
});

static INCIDENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        text("incident_id", false),
        Field::new("revision", DataType::Int64, false),
        text("status", false),
        text("type", false),
        text("severity", false),
        Field::new("score", DataType::Float64, false),
        text("user_id", false),
        Field::new("first_seen", time_type(), false),
        Field::new("last_seen", time_type(), false),
        Field::new("signal_names", text_list_type(), false),
        Field::new("ips", text_list_type(), false),
        text("entities", false),
        text("signals", false),
        text("actions", false),
    ]))
});

static ACTIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("at", time_type(), false),
        text("incident_id", false),
        text("action", false),
        text("target", false),
        Field::new("attempt", DataType::Int64, false),
        text("outcome", false),
        text("error", true),
        Field::new("duration_ms", DataType::Float64, false),
        Field::new("dry_run", DataType::Boolean, false),
    ]))
});

static AUDIT: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("at", time_type(), false),
        text("kind", false),
        text("data", false),
        text("prev", false),
        text("hash", false),
    ]))
});
