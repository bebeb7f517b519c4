//! Publishing JSON lines to a topic, keyed by `user_id` so each user's
//! events stay in one partition and so in one consumer.

use std::io::{self, BufRead};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};

use super::client::KafkaSetupError;
use super::sink::{output_producer, send};
use crate::config::KafkaConfig;
use crate::event::signing::{SIGNATURE_HEADER, SIGNED_AT_HEADER, SigningKey};
use crate::event::{record_of_line, route_key};

/// How long the final flush waits for outstanding deliveries.
const FLUSH_TIMEOUT: Duration = Duration::from_mins(1);

/// What a publishing run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProduceStats {
    /// Messages published.
    pub messages: u64,
    /// Blank lines skipped.
    pub blank: u64,
    /// Messages the brokers refused.
    pub failed: u64,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The producer could not be set up.
    #[error(transparent)]
    Setup(#[from] KafkaSetupError),
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Read(#[from] io::Error),
    /// librdkafka refused a message or the final flush timed out.
    #[error("producing to {topic}: {source}")]
    Produce {
        /// The topic.
        topic: String,
        /// What librdkafka said.
        source: rdkafka::error::KafkaError,
    },
}

/// Publishes every non-blank line of `input` to `topic`, keyed by the
/// line's `user_id` (lines without one are published unkeyed, so the
/// consumer can refuse them with a reason). With `signer`, each message
/// carries its signature and signing time (now) in headers. With `rate`,
/// messages leave at that many per second, evenly, instead of as fast as
/// the producer takes them.
///
/// # Errors
/// Returns setup, read or produce errors.
pub fn produce_lines(
    config: &KafkaConfig,
    topic: &str,
    input: impl BufRead,
    signer: Option<&SigningKey>,
    rate: Option<NonZeroU32>,
) -> Result<ProduceStats, ProduceError> {
    let producer = output_producer(config)?;
    let mut stats = ProduceStats::default();
    let pace = rate.map(Pace::new);
    for line in input.split(b'\n') {
        let line = line?;
        let Some(record) = record_of_line(&line) else {
            stats.blank += 1;
            continue;
        };
        // `route_key` falls back to the whole record when it finds no
        // `user_id`; such a record goes unkeyed.
        let key = route_key(record);
        let mut message = BaseRecord::<[u8], [u8]>::to(topic).payload(record);
        if key.len() < record.len() {
            message = message.key(key.as_ref());
        }
        if let Some(pace) = &pace {
            pace.wait_turn(stats.messages);
        }
        if let Some(signer) = signer {
            message = message.headers(signature_headers(signer, record));
        }
        send(&producer, message).map_err(|source| ProduceError::Produce {
            topic: topic.to_owned(),
            source,
        })?;
        stats.messages += 1;
    }
    producer
        .flush(FLUSH_TIMEOUT)
        .map_err(|source| ProduceError::Produce {
            topic: topic.to_owned(),
            source,
        })?;
    stats.failed = producer.context().failed();
    Ok(stats)
}

/// A steady publishing rate: message `n` may leave `n / rate` seconds
/// after the first, so a slow moment is made up for rather than lost.
struct Pace {
    start: Instant,
    rate: NonZeroU32,
}

impl Pace {
    fn new(rate: NonZeroU32) -> Self {
        Self {
            start: Instant::now(),
            rate,
        }
    }

    /// Sleeps until message number `sent` (counting from 0) is due.
    fn wait_turn(&self, sent: u64) {
        let nanos = u128::from(sent) * 1_000_000_000 / u128::from(self.rate.get());
        let due = self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// Headers signing `record` as of now.
fn signature_headers(signer: &SigningKey, record: &[u8]) -> OwnedHeaders {
    let signed_at = chrono::Utc::now().timestamp();
    let signature = signer.sign(signed_at, record);
    OwnedHeaders::new_with_capacity(2)
        .insert(Header {
            key: SIGNED_AT_HEADER,
            value: Some(signed_at.to_string().as_bytes()),
        })
        .insert(Header {
            key: SIGNATURE_HEADER,
            value: Some(signature.as_bytes()),
        })
}
