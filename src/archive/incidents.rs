//! Incident rows: every revision the collector writes is also appended to
//! the `incidents` table, through a stream sink that wraps whatever other
//! stream sink (Kafka topics) the run has.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;

use super::pseudonym::Pseudonymizer;
use super::schema::Table;
use super::words::replace_word;
use super::writer::Shipper;
use crate::incident::{Incident, IncidentStatus};
use crate::pipeline::{DeadLetter, StreamSink};
use crate::state::SourcePosition;
use crate::time::Timestamp;

/// Revisions gathered before a batch is shipped to the writer.
const SHIP_ROWS: usize = 4096;

/// Revisions are shipped after this long even when fewer are waiting.
const SHIP_AFTER: Duration = Duration::from_secs(30);

/// Column builders for the `incidents` table.
pub struct IncidentRows {
    incident_id: StringBuilder,
    revision: Int64Builder,
    status: StringBuilder,
    incident_type: StringBuilder,
    severity: StringBuilder,
    score: Float64Builder,
    user_id: StringBuilder,
    first_seen: TimestampMillisecondBuilder,
    last_seen: TimestampMillisecondBuilder,
    signal_names: ListBuilder<StringBuilder>,
    ips: ListBuilder<StringBuilder>,
    entities: StringBuilder,
    signals: StringBuilder,
    actions: StringBuilder,
    rows: usize,
    pseudonymizer: Option<Pseudonymizer>,
}

/// The contract name of a status.
#[must_use]
pub fn status_name(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Open => "open",
        IncidentStatus::Escalated => "escalated",
        IncidentStatus::Resolved => "resolved",
    }
}

impl IncidentRows {
    /// Empty builders; user ids become pseudonyms when `pseudonymizer` is
    /// given, in the `user_id` column and inside the JSON columns.
    #[must_use]
    pub fn new(pseudonymizer: Option<Pseudonymizer>) -> Self {
        let time = || TimestampMillisecondBuilder::new().with_timezone("UTC");
        Self {
            incident_id: StringBuilder::new(),
            revision: Int64Builder::new(),
            status: StringBuilder::new(),
            incident_type: StringBuilder::new(),
            severity: StringBuilder::new(),
            score: Float64Builder::new(),
            user_id: StringBuilder::new(),
            first_seen: time(),
            last_seen: time(),
            signal_names: ListBuilder::new(StringBuilder::new()),
            ips: ListBuilder::new(StringBuilder::new()),
            entities: StringBuilder::new(),
            signals: StringBuilder::new(),
            actions: StringBuilder::new(),
            rows: 0,
            pseudonymizer,
        }
    }

    /// Revisions waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no revision is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one revision.
    pub fn push(&mut self, incident: &Incident) {
        let pseudonym = self
            .pseudonymizer
            .as_ref()
            .map(|p| p.pseudonym(&incident.user_id));
        let hide = |json: String| match &pseudonym {
            Some(pseudonym) => replace_word(&json, &incident.user_id, pseudonym).unwrap_or(json),
            None => json,
        };
        self.incident_id.append_value(&incident.incident_id);
        self.revision.append_value(i64::from(incident.revision));
        self.status.append_value(status_name(incident.status));
        self.incident_type
            .append_value(incident.incident_type.as_str());
        self.severity.append_value(incident.severity.as_str());
        self.score.append_value(incident.score);
        self.user_id
            .append_value(pseudonym.as_deref().unwrap_or(&incident.user_id));
        self.first_seen.append_value(incident.first_seen.0);
        self.last_seen.append_value(incident.last_seen.0);
        for signal in &incident.signals {
            self.signal_names.values().append_value(&signal.name);
        }
        self.signal_names.append(true);
        for ip in &incident.entities.ips {
            self.ips.values().append_value(ip.to_string());
        }
        self.ips.append(true);
        self.entities
            .append_value(hide(to_json(&incident.entities)));
        self.signals.append_value(hide(to_json(&incident.signals)));
        self.actions.append_value(hide(to_json(&incident.actions)));
        self.rows += 1;
    }

    /// The waiting revisions as one batch; the builders start empty again.
    ///
    /// # Panics
    /// Never in practice: every column receives one value per row.
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.incident_id.finish()),
            Arc::new(self.revision.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.incident_type.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.score.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.first_seen.finish()),
            Arc::new(self.last_seen.finish()),
            Arc::new(self.signal_names.finish()),
            Arc::new(self.ips.finish()),
            Arc::new(self.entities.finish()),
            Arc::new(self.signals.finish()),
            Arc::new(self.actions.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(Table::Incidents.schema(), columns)
            .expect("incident columns match the incidents schema")
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// A stream sink that archives incident revisions and passes everything
/// on to the sink it wraps (Kafka topics, when the run has them).
pub struct IncidentArchiver {
    rows: IncidentRows,
    shipper: Shipper,
    inner: Option<Box<dyn StreamSink>>,
    last_shipped: Instant,
}

impl IncidentArchiver {
    /// Archives through `shipper`, wrapping `inner`.
    #[must_use]
    pub fn new(
        shipper: Shipper,
        pseudonymizer: Option<Pseudonymizer>,
        inner: Option<Box<dyn StreamSink>>,
    ) -> Self {
        Self {
            rows: IncidentRows::new(pseudonymizer),
            shipper,
            inner,
            last_shipped: Instant::now(),
        }
    }

    fn ship(&mut self) {
        self.last_shipped = Instant::now();
        if !self.rows.is_empty() {
            self.shipper.rows(Table::Incidents, self.rows.finish());
        }
    }
}

impl StreamSink for IncidentArchiver {
    fn dead_letter(&mut self, dead: &DeadLetter) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(inner) => inner.dead_letter(dead),
            None => Ok(()),
        }
    }

    fn incident(&mut self, incident: &Incident) -> io::Result<()> {
        self.rows.push(incident);
        if self.rows.len() >= SHIP_ROWS {
            self.ship();
        }
        match self.inner.as_mut() {
            Some(inner) => inner.incident(incident),
            None => Ok(()),
        }
    }

    fn tracks_event_time(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.tracks_event_time())
    }

    fn watermark(&self, line: u64) -> Option<Timestamp> {
        self.inner.as_ref().and_then(|i| i.watermark(line))
    }

    fn processed_through(&mut self, line: u64) {
        if self.last_shipped.elapsed() >= SHIP_AFTER {
            self.ship();
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.processed_through(line);
        }
    }

    fn positions(&self) -> Vec<SourcePosition> {
        self.inner.as_ref().map_or_else(Vec::new, |i| i.positions())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(inner) => inner.flush(),
            None => Ok(()),
        }
    }

    fn commit_positions(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.commit_positions();
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.ship();
        match self.inner.as_mut() {
            Some(inner) => inner.finish(),
            None => Ok(()),
        }
    }
}
