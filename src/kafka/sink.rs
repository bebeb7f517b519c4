//! Topic sinks: dead letters and incident revisions published to Kafka,
//! and processed offsets handed back to the consumer for commit.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::client::{KafkaSetupError, client_config};
use super::ledger::Ledger;
use super::source::{VigilConsumer, store_offsets};
use crate::config::KafkaConfig;
use crate::incident::Incident;
use crate::pipeline::{DeadLetter, StreamSink};
use crate::state::SourcePosition;
use crate::time::Timestamp;

/// How long the final flush waits for outstanding deliveries.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before retrying a send into a full local queue.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(5);

/// Counts deliveries the brokers refused after librdkafka's own retries.
#[derive(Default)]
pub struct DeliveryReport {
    failed: AtomicU64,
}

impl DeliveryReport {
    /// Deliveries that failed so far.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl ClientContext for DeliveryReport {}

impl ProducerContext for DeliveryReport {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, (): ()) {
        if let Err((e, message)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                topic = rdkafka::message::Message::topic(message),
                error = %e,
                "Message not delivered"
            );
        }
    }
}

/// An idempotent producer for vigil's output topics.
///
/// # Errors
/// Returns a setup error for bad settings.
pub fn output_producer(
    config: &KafkaConfig,
) -> Result<ThreadedProducer<DeliveryReport>, KafkaSetupError> {
    // A short linger keeps an incident's way to its topic short; batches
    // still form under load.
    let client = client_config(
        config,
        &[
            ("enable.idempotence", "true"),
            ("linger.ms", "1"),
            ("compression.type", "lz4"),
        ],
    )?;
    Ok(client.create_with_context(DeliveryReport::default())?)
}

/// Publishes outputs to the configured topics and commits the consumer's
/// processed offsets.
pub struct TopicSink {
    producer: ThreadedProducer<DeliveryReport>,
    consumer: Option<Arc<VigilConsumer>>,
    ledger: Ledger,
    dead_letter_topic: Option<String>,
    incidents_topic: Option<String>,
    buffer: Vec<u8>,
    /// The next offset of every partition processed so far (and of those a
    /// resumed snapshot covered).
    reached: BTreeMap<(Arc<str>, i32), i64>,
    /// Whether offsets are committed only once a snapshot covers them.
    commit_at_snapshots: bool,
}

impl TopicSink {
    /// A sink for the topics `config` names; `consumer` and `ledger` are
    /// the source's, when events come from Kafka.
    ///
    /// # Errors
    /// Returns a setup error for bad producer settings.
    pub fn new(
        config: &KafkaConfig,
        consumer: Option<Arc<VigilConsumer>>,
        ledger: Ledger,
    ) -> Result<Self, KafkaSetupError> {
        let topic = |name: &str| (!name.trim().is_empty()).then(|| name.trim().to_owned());
        Ok(Self {
            producer: output_producer(config)?,
            consumer,
            ledger,
            dead_letter_topic: topic(&config.dead_letter_topic),
            incidents_topic: topic(&config.incidents_topic),
            buffer: Vec::new(),
            reached: BTreeMap::new(),
            commit_at_snapshots: false,
        })
    }

    /// The same sink for a run that keeps state snapshots: offsets are
    /// committed only once a snapshot covers them, and the positions of the
    /// snapshot the run resumed from carry over to the next one.
    #[must_use]
    pub fn committing_at_snapshots(mut self, resumed: &[SourcePosition]) -> Self {
        self.commit_at_snapshots = true;
        for position in resumed {
            self.reached.insert(
                (Arc::from(position.topic.as_str()), position.partition),
                position.next_offset,
            );
        }
        self
    }

    /// Deliveries that failed so far.
    #[must_use]
    pub fn failed_deliveries(&self) -> u64 {
        self.producer.context().failed()
    }
}

impl StreamSink for TopicSink {
    fn dead_letter(&mut self, dead: &DeadLetter) -> io::Result<()> {
        let Some(topic) = &self.dead_letter_topic else {
            return Ok(());
        };
        let error = dead.reject.to_string();
        let mut headers = OwnedHeaders::new()
            .insert(header("reason", dead.reject.reason.as_str()))
            .insert(header("error", &error));
        if let Some(field) = &dead.reject.field {
            headers = headers.insert(header("field", field));
        }
        let position = self.ledger.position_of(dead.line);
        let (partition, offset);
        if let Some(position) = &position {
            partition = position.partition.to_string();
            offset = position.offset.to_string();
            headers = headers
                .insert(header("source_topic", &position.topic))
                .insert(header("source_partition", &partition))
                .insert(header("source_offset", &offset));
        }
        let record = BaseRecord::<(), [u8]>::to(topic)
            .payload(dead.raw.as_slice())
            .headers(headers);
        send(&self.producer, record)
            .map_err(|e| io::Error::other(format!("producing to {topic}: {e}")))
    }

    fn incident(&mut self, incident: &Incident) -> io::Result<()> {
        let Some(topic) = &self.incidents_topic else {
            return Ok(());
        };
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, incident)?;
        let record = BaseRecord::<str, [u8]>::to(topic)
            .key(incident.incident_id.as_str())
            .payload(self.buffer.as_slice());
        send(&self.producer, record)
            .map_err(|e| io::Error::other(format!("producing to {topic}: {e}")))
    }

    fn tracks_event_time(&self) -> bool {
        self.consumer.is_some()
    }

    fn watermark(&self, line: u64) -> Option<Timestamp> {
        self.ledger.watermark_at(line)
    }

    fn processed_through(&mut self, line: u64) {
        let next = self.ledger.settle_through(line);
        if let Some(consumer) = &self.consumer
            && !self.commit_at_snapshots
        {
            store_offsets(consumer, &next);
        }
        self.reached.extend(next);
    }

    fn positions(&self) -> Vec<SourcePosition> {
        self.reached
            .iter()
            .map(|((topic, partition), next)| SourcePosition {
                topic: topic.to_string(),
                partition: *partition,
                next_offset: *next,
            })
            .collect()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| io::Error::other(format!("flushing output topics: {e}")))
    }

    fn commit_positions(&mut self) {
        if let Some(consumer) = &self.consumer {
            store_offsets(consumer, &self.reached);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| io::Error::other(format!("flushing output topics: {e}")))?;
        if let Some(consumer) = &self.consumer
            && let Err(e) = consumer.commit_consumer_state(CommitMode::Sync)
        {
            // Nothing stored since the last commit is reported as an error.
            tracing::debug!(error = %e, "Final commit skipped");
        }
        let failed = self.failed_deliveries();
        if failed > 0 {
            return Err(io::Error::other(format!(
                "{failed} messages to output topics were not delivered"
            )));
        }
        Ok(())
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// Queues `record`, waiting while librdkafka's local queue is full.
pub(super) fn send<K, P>(
    producer: &ThreadedProducer<DeliveryReport>,
    mut record: BaseRecord<'_, K, P>,
) -> Result<(), KafkaError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(QUEUE_FULL_PAUSE);
            }
            Err((e, _)) => return Err(e),
        }
    }
}
