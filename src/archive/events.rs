//! Event rows: each shard appends the events it has already decoded to its
//! own Arrow builders and ships finished record batches to the writer
//! thread, so archiving never parses a record twice and takes no lock.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use super::pseudonym::Pseudonymizer;
use super::schema::Table;
use super::writer::Shipper;
use crate::event::Event;
use crate::pipeline::EventTap;

/// Rows a shard gathers before shipping a batch: large enough that the
/// writer's per-batch work is negligible, small enough to bound memory.
const SHIP_ROWS: usize = 64 * 1024;

/// A shard ships what it has after this long even when the batch is not
/// full, so a slow stream still reaches the archive.
const SHIP_AFTER: Duration = Duration::from_secs(30);

/// Pseudonyms remembered per shard; the cache is emptied when it grows
/// past this, which bounds memory with many users.
const PSEUDONYM_CACHE: usize = 100_000;

/// Pseudonyms a shard has already computed, by user id.
type PseudonymCache = FxHashMap<Box<str>, Box<str>>;

/// Column builders for the `events` table.
pub struct EventRows {
    timestamp: TimestampMillisecondBuilder,
    event_type: StringBuilder,
    user_id: StringBuilder,
    ip_address: StringBuilder,
    event_id: StringBuilder,
    api_key_id: StringBuilder,
    key_type: StringBuilder,
    endpoint: StringBuilder,
    success: BooleanBuilder,
    status_code: Int32Builder,
    tokens_used: Int64Builder,
    response_time_ms: Float64Builder,
    user_agent: StringBuilder,
    auth_event_type: StringBuilder,
    details: StringBuilder,
    extra: StringBuilder,
    rows: usize,
    pseudonyms: Option<(Pseudonymizer, PseudonymCache)>,
    scratch: String,
}

impl EventRows {
    /// Empty builders; user ids are replaced by pseudonyms when
    /// `pseudonymizer` is given.
    #[must_use]
    pub fn new(pseudonymizer: Option<Pseudonymizer>) -> Self {
        Self {
            timestamp: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            event_type: StringBuilder::new(),
            user_id: StringBuilder::new(),
            ip_address: StringBuilder::new(),
            event_id: StringBuilder::new(),
            api_key_id: StringBuilder::new(),
            key_type: StringBuilder::new(),
            endpoint: StringBuilder::new(),
            success: BooleanBuilder::new(),
            status_code: Int32Builder::new(),
            tokens_used: Int64Builder::new(),
            response_time_ms: Float64Builder::new(),
            user_agent: StringBuilder::new(),
            auth_event_type: StringBuilder::new(),
            details: StringBuilder::new(),
            extra: StringBuilder::new(),
            rows: 0,
            pseudonyms: pseudonymizer.map(|p| (p, FxHashMap::default())),
            scratch: String::new(),
        }
    }

    /// Rows appended since the last [`EventRows::finish`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event.
    pub fn push(&mut self, event: &Event<'_>) {
        self.timestamp.append_value(event.timestamp.0);
        self.event_type.append_value(event.event_type.as_str());
        match self.pseudonyms.as_mut() {
            Some((pseudonymizer, cache)) => {
                let user = event.user_id.as_ref();
                if !cache.contains_key(user) {
                    if cache.len() >= PSEUDONYM_CACHE {
                        cache.clear();
                    }
                    let pseudonym = pseudonymizer.pseudonym(user);
                    cache.insert(user.into(), pseudonym.into());
                }
                self.user_id.append_value(&cache[user]);
            }
            None => self.user_id.append_value(&event.user_id),
        }
        match event.ip_address {
            Some(ip) => {
                self.scratch.clear();
                push_ip(&mut self.scratch, ip);
                self.ip_address.append_value(&self.scratch);
            }
            None => self.ip_address.append_null(),
        }
        self.event_id.append_option(event.event_id.as_deref());
        self.api_key_id.append_option(event.api_key_id.as_deref());
        self.key_type.append_value(event.key_type.as_str());
        self.endpoint.append_option(event.endpoint.as_deref());
        self.success.append_value(event.success);
        self.status_code
            .append_option(event.status_code.map(i32::from));
        self.tokens_used
            .append_value(i64::try_from(event.tokens_used).unwrap_or(i64::MAX));
        self.response_time_ms.append_option(event.response_time_ms);
        self.user_agent.append_option(event.user_agent.as_deref());
        self.auth_event_type
            .append_option(event.auth_event_type.as_deref());
        self.details
            .append_option(event.details.map(serde_json::value::RawValue::get));
        self.push_extra(event);
        self.rows += 1;
    }

    /// Fields outside the contract, as one JSON object.
    fn push_extra(&mut self, event: &Event<'_>) {
        if event.extra.is_empty() {
            self.extra.append_null();
            return;
        }
        self.scratch.clear();
        self.scratch.push('{');
        for (index, (name, raw)) in event.extra.iter().enumerate() {
            if index > 0 {
                self.scratch.push(',');
            }
            let quoted = serde_json::to_string(name.as_ref()).unwrap_or_default();
            self.scratch.push_str(&quoted);
            self.scratch.push(':');
            self.scratch.push_str(raw.get());
        }
        self.scratch.push('}');
        self.extra.append_value(&self.scratch);
    }

    /// The rows appended so far as one batch; the builders start empty
    /// again.
    ///
    /// # Panics
    /// Never in practice: every column receives exactly one value per row.
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            std::sync::Arc::new(self.timestamp.finish()),
            std::sync::Arc::new(self.event_type.finish()),
            std::sync::Arc::new(self.user_id.finish()),
            std::sync::Arc::new(self.ip_address.finish()),
            std::sync::Arc::new(self.event_id.finish()),
            std::sync::Arc::new(self.api_key_id.finish()),
            std::sync::Arc::new(self.key_type.finish()),
            std::sync::Arc::new(self.endpoint.finish()),
            std::sync::Arc::new(self.success.finish()),
            std::sync::Arc::new(self.status_code.finish()),
            std::sync::Arc::new(self.tokens_used.finish()),
            std::sync::Arc::new(self.response_time_ms.finish()),
            std::sync::Arc::new(self.user_agent.finish()),
            std::sync::Arc::new(self.auth_event_type.finish()),
            std::sync::Arc::new(self.details.finish()),
            std::sync::Arc::new(self.extra.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(Table::Events.schema(), columns)
            .expect("event columns match the events schema")
    }
}

/// Appends `ip` in its usual text form. IPv4 addresses, nearly all of the
/// traffic, are written digit by digit: the formatting machinery would
/// cost more than the rest of the row.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    out.push('.');
                }
                push_octet(out, octet);
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn push_octet(out: &mut String, octet: u8) {
    if octet >= 100 {
        out.push(char::from(b'0' + octet / 100));
    }
    if octet >= 10 {
        out.push(char::from(b'0' + octet / 10 % 10));
    }
    out.push(char::from(b'0' + octet % 10));
}

/// A shard's archive tap: builds event rows and ships full batches.
pub struct EventArchiver {
    rows: EventRows,
    shipper: Shipper,
    last_shipped: Instant,
}

impl EventArchiver {
    /// A tap shipping through `shipper`.
    #[must_use]
    pub fn new(shipper: Shipper, pseudonymizer: Option<Pseudonymizer>) -> Self {
        Self {
            rows: EventRows::new(pseudonymizer),
            shipper,
            last_shipped: Instant::now(),
        }
    }

    fn ship(&mut self) {
        self.last_shipped = Instant::now();
        if self.rows.is_empty() {
            return;
        }
        self.shipper.rows(Table::Events, self.rows.finish());
    }
}

impl EventTap for EventArchiver {
    fn event(&mut self, event: &Event<'_>) {
        self.rows.push(event);
        if self.rows.len() >= SHIP_ROWS {
            self.ship();
        }
    }

    fn batch_done(&mut self) {
        if self.last_shipped.elapsed() >= SHIP_AFTER {
            self.ship();
        }
    }

    fn finish(&mut self) {
        self.ship();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_their_standard_text() {
        let samples = [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "198.51.100.7",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ];
        for sample in samples {
            let ip: IpAddr = sample.parse().unwrap();
            let mut text = String::new();
            push_ip(&mut text, ip);
            assert_eq!(text, ip.to_string());
        }
    }
}
