//! The Kafka source: a consumer-group member read as a stream of lines, so
//! the pipeline treats a topic exactly like a file.
//!
//! Polling is batched: one blocking poll waits for the first message, then
//! whatever librdkafka has already fetched is drained without waiting, up to
//! [`READ_BYTES`]. A read shorter than the router's full-read size makes it
//! send partial batches at once, so a trickle of events is analyzed as it
//! arrives while a backlog still moves in large batches.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedHeaders, Headers, Message};
use rdkafka::{ClientContext, TopicPartitionList};

use super::client::{KafkaSetupError, client_config};
use super::ledger::{Ledger, Position};
use crate::config::KafkaConfig;
use crate::event::event_time;
use crate::event::signing::{SIGNATURE_HEADER, SIGNED_AT_HEADER, Verifier, write_envelope};
use crate::metrics::Metrics;
use crate::state::SourcePosition;
use crate::time::Timestamp;

/// Bytes gathered per read before handing them to the router.
const READ_BYTES: usize = 256 * 1024;
/// How long one poll waits for the first message of a read.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// Extra wait for the first message when the run ends on idleness: the
/// group join and first fetch come before it.
const JOIN_GRACE: Duration = Duration::from_secs(15);

/// The event time a partition has reached.
struct PartitionTime {
    topic: Arc<str>,
    partition: i32,
    latest: Timestamp,
    /// When its latest message was read (wall clock, for idleness only).
    read_at: Instant,
}

/// The consumer type vigil runs.
pub type VigilConsumer = BaseConsumer<GroupContext>;

/// Reacts to partition revocation: commits what is processed and forgets
/// the rest, which the partition's next owner will read again.
pub struct GroupContext {
    ledger: Ledger,
    metrics: Option<Metrics>,
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        for (name, topic) in &statistics.topics {
            for partition in topic.partitions.values() {
                // librdkafka lists an internal partition -1 for messages
                // not yet assigned to one.
                if partition.partition >= 0 {
                    metrics.set_kafka_lag(name, partition.partition, partition.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(partitions) => {
                let revoked: Vec<(String, i32)> = partitions
                    .elements()
                    .iter()
                    .map(|p| (p.topic().to_owned(), p.partition()))
                    .collect();
                self.ledger.forget_partitions(&revoked);
                if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                    tracing::debug!(error = %e, "No offsets to commit before revocation");
                }
                tracing::info!(partitions = revoked.len(), "Partitions revoked");
            }
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = partitions.count(), "Partitions assigned");
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "Rebalance failed"),
        }
    }
}

/// When the source stops by itself.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// End the input once no message has arrived for this long (for
    /// replays and batch jobs); `None` runs until a stop is requested.
    pub idle_exit: Option<Duration>,
    /// How long a partition may deliver nothing before the watermark stops
    /// waiting for it (`[kafka] partition_idle_ms`).
    pub partition_idle: Duration,
    /// With signing required: the check of messages' signatures. Each
    /// message is then handed on as a signed envelope built from its
    /// headers, and only messages whose signature holds move the watermark.
    pub signing: Option<Verifier>,
}

/// Joins the consumer group and subscribes to the configured topics.
/// Offsets are stored by vigil once events are processed and committed by
/// librdkafka in the background and by vigil at shutdown.
///
/// # Errors
/// Returns a setup error for bad settings or an unreachable subscription.
pub fn subscribe(
    config: &KafkaConfig,
    ledger: &Ledger,
    metrics: Option<&Metrics>,
) -> Result<VigilConsumer, KafkaSetupError> {
    let commit_interval = config.commit_interval_ms.to_string();
    // Statistics carry the consumer lag; they are only asked for when
    // metrics are served.
    let stats_interval = if metrics.is_some() { "5000" } else { "0" };
    let client = client_config(
        config,
        &[
            ("statistics.interval.ms", stats_interval),
            ("group.id", &config.group_id),
            ("enable.auto.offset.store", "false"),
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", &commit_interval),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", "false"),
        ],
    )?;
    let consumer: VigilConsumer = client.create_with_context(GroupContext {
        ledger: ledger.clone(),
        metrics: metrics.cloned(),
    })?;
    let topics: Vec<&str> = config
        .topics
        .iter()
        .map(String::as_str)
        .filter(|t| !t.trim().is_empty())
        .collect();
    consumer.subscribe(&topics)?;
    Ok(consumer)
}

/// Messages as JSON lines, one line per message, each entered in the ledger
/// under its line number.
pub struct KafkaInput {
    consumer: Arc<VigilConsumer>,
    ledger: Ledger,
    stop: Arc<AtomicBool>,
    options: SourceOptions,
    buffer: Vec<u8>,
    position: usize,
    lines: u64,
    last_message: Instant,
    first_message: Option<Instant>,
    ended: bool,
    /// Topic names interned once, so ledger entries share them.
    topics: Vec<Arc<str>>,
    /// The latest event time read from each partition, and when.
    partition_times: Vec<PartitionTime>,
    /// Per partition, the offset the state covers up to: earlier messages
    /// were read by this process or are held by the snapshot it resumed
    /// from. A message before it is delivered again (after a rebalance that
    /// gave the partition back, or because committed offsets lag behind the
    /// snapshot) and is skipped, since the state already holds it.
    covered: Vec<SourcePosition>,
    /// Messages skipped because the state already held them.
    skipped: u64,
}

impl KafkaInput {
    /// Reads `consumer` until `stop` is set (or the input idles out).
    #[must_use]
    pub fn new(
        consumer: Arc<VigilConsumer>,
        ledger: Ledger,
        stop: Arc<AtomicBool>,
        options: SourceOptions,
    ) -> Self {
        Self {
            consumer,
            ledger,
            stop,
            options,
            buffer: Vec::with_capacity(READ_BYTES + 64 * 1024),
            position: 0,
            lines: 0,
            last_message: Instant::now(),
            first_message: None,
            ended: false,
            topics: Vec::new(),
            partition_times: Vec::new(),
            covered: Vec::new(),
            skipped: 0,
        }
    }

    /// The same input resuming from a snapshot: messages before the
    /// snapshot's positions are skipped.
    #[must_use]
    pub fn resuming_from(mut self, positions: &[SourcePosition]) -> Self {
        self.covered = positions.to_vec();
        self
    }

    /// Whether the state does not hold the message at `position` yet; if
    /// so, notes that it will.
    fn newly_read(&mut self, position: &Position) -> bool {
        let next = position.offset + 1;
        let found = self
            .covered
            .iter_mut()
            .find(|p| p.partition == position.partition && *p.topic == *position.topic);
        match found {
            Some(covered) if position.offset < covered.next_offset => false,
            Some(covered) => {
                covered.next_offset = next;
                true
            }
            None => {
                self.covered.push(SourcePosition {
                    topic: position.topic.to_string(),
                    partition: position.partition,
                    next_offset: next,
                });
                true
            }
        }
    }

    /// Fills the buffer with the next messages; leaves it empty at the end
    /// of the input.
    fn refill(&mut self) {
        self.buffer.clear();
        self.position = 0;
        let mut wait = POLL_WAIT;
        let consumer = Arc::clone(&self.consumer);
        while self.buffer.len() < READ_BYTES {
            if self.stop.load(Ordering::Relaxed) || self.idled_out() {
                if self.buffer.is_empty() {
                    self.end();
                }
                return;
            }
            match consumer.poll(wait) {
                Some(Ok(message)) => {
                    let position = self.position_of(&message);
                    if !self.newly_read(&position) {
                        self.skipped += 1;
                        self.last_message = Instant::now();
                        continue;
                    }
                    if wait > Duration::ZERO {
                        // The first message of a read: the assignment is
                        // in place now, and may have changed since the last.
                        self.note_assignment(&consumer);
                    }
                    self.append(
                        message.payload().unwrap_or_default(),
                        message.headers(),
                        position,
                    );
                    wait = Duration::ZERO;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Kafka consumer error");
                    if !self.buffer.is_empty() {
                        return;
                    }
                }
                None if self.buffer.is_empty() => {}
                None => return,
            }
        }
    }

    /// Reports, once, how many messages were read and over what span (from
    /// the first message to the last, so joining the group and the final
    /// idle wait do not count).
    fn end(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let active_secs = self
            .first_message
            .map_or(0.0, |first| (self.last_message - first).as_secs_f64());
        tracing::info!(
            messages = self.lines,
            skipped = self.skipped,
            active_secs,
            "Kafka input ended"
        );
    }

    /// Notes the event time `payload` reached on its partition; returns the
    /// watermark, the least such time over the partitions read so far.
    /// Each partition is in event-time order (producers key by user and
    /// send in order), so no event older than the watermark is still to
    /// come, except late ones.
    ///
    /// A partition that has delivered nothing for the partition idle time no
    /// longer holds the watermark back, so one quiet partition does not
    /// stall cross-user rules; its next event may then arrive late.
    fn advance_watermark(
        &mut self,
        position: &Position,
        payload: Option<&[u8]>,
    ) -> Option<Timestamp> {
        let now = self.last_message;
        if let Some(at) = payload.and_then(event_time) {
            let found = self
                .partition_times
                .iter_mut()
                .find(|p| p.partition == position.partition && *p.topic == *position.topic);
            match found {
                Some(entry) => {
                    entry.latest = entry.latest.max(at);
                    entry.read_at = now;
                }
                None => self.partition_times.push(PartitionTime {
                    topic: Arc::clone(&position.topic),
                    partition: position.partition,
                    latest: at,
                    read_at: now,
                }),
            }
        }
        self.partition_times
            .iter()
            .filter(|p| now.duration_since(p.read_at) < self.options.partition_idle)
            .map(|p| p.latest)
            .min()
    }

    /// Enters assigned partitions that have delivered nothing yet, so the
    /// watermark waits for them (up to the partition idle time) instead of
    /// running ahead of their events.
    fn note_assignment(&mut self, consumer: &VigilConsumer) {
        let Ok(assigned) = consumer.assignment() else {
            return;
        };
        let now = Instant::now();
        for element in assigned.elements() {
            let known = self
                .partition_times
                .iter()
                .any(|p| p.partition == element.partition() && *p.topic == *element.topic());
            if !known {
                let topic = self.intern(element.topic());
                self.partition_times.push(PartitionTime {
                    topic,
                    partition: element.partition(),
                    latest: Timestamp(i64::MIN),
                    read_at: now,
                });
            }
        }
    }

    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(topic) = self.topics.iter().find(|t| ***t == *name) {
            return Arc::clone(topic);
        }
        let topic: Arc<str> = Arc::from(name);
        self.topics.push(Arc::clone(&topic));
        topic
    }

    /// Whether the input has been quiet for the idle limit; before the
    /// first message, joining the group may take a while, so the limit is
    /// longer by [`JOIN_GRACE`].
    fn idled_out(&self) -> bool {
        let Some(idle) = self.options.idle_exit else {
            return false;
        };
        let limit = if self.first_message.is_some() {
            idle
        } else {
            idle + JOIN_GRACE
        };
        self.last_message.elapsed() >= limit
    }

    fn position_of(&mut self, message: &impl Message) -> Position {
        Position {
            topic: self.intern(message.topic()),
            partition: message.partition(),
            offset: message.offset(),
        }
    }

    /// Appends one message as one line. Line breaks inside a message (a
    /// pretty-printed JSON object) become spaces, which JSON reads as
    /// whitespace, so the message stays one record.
    fn append(&mut self, payload: &[u8], headers: Option<&BorrowedHeaders>, position: Position) {
        let start = self.buffer.len();
        let trusted = if let Some(verifier) = &self.options.signing {
            let (signed_at, signature) = signature_headers(headers);
            write_envelope(&mut self.buffer, payload, signed_at, signature);
            let now = chrono::Utc::now().timestamp();
            verifier.open(&self.buffer[start..], now).is_ok()
        } else {
            self.buffer.extend_from_slice(payload);
            true
        };
        for byte in &mut self.buffer[start..] {
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
        self.buffer.push(b'\n');
        self.lines += 1;
        self.last_message = Instant::now();
        self.first_message.get_or_insert(self.last_message);
        let watermark = self.advance_watermark(&position, trusted.then_some(payload));
        self.ledger.push(self.lines, position, watermark);
    }
}

impl Read for KafkaInput {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for KafkaInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.position >= self.buffer.len() {
            self.refill();
        }
        Ok(&self.buffer[self.position..])
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.buffer.len());
    }
}

/// The signing time and signature a message's headers carry, when they do.
fn signature_headers(headers: Option<&BorrowedHeaders>) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut signed_at, mut signature) = (None, None);
    for header in headers.into_iter().flat_map(Headers::iter) {
        match header.key {
            SIGNED_AT_HEADER => signed_at = header.value,
            SIGNATURE_HEADER => signature = header.value,
            _ => {}
        }
    }
    (signed_at, signature)
}

/// Stores `next` offsets (one past the last processed message) for the
/// background commit.
pub(super) fn store_offsets(
    consumer: &VigilConsumer,
    next: &std::collections::BTreeMap<(Arc<str>, i32), i64>,
) {
    if next.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        if let Err(e) =
            list.add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset))
        {
            tracing::warn!(error = %e, "Offset not stored");
        }
    }
    if let Err(e) = consumer.store_offsets(&list) {
        // A partition revoked meanwhile refuses the store; its next owner
        // reads the unconfirmed events again.
        tracing::debug!(error = %e, "Offsets not stored");
    }
}
