//! Kafka: the consumer-group source, the dead-letter and incident topics,
//! and the producer behind `vigil produce`.
//!
//! The source feeds the same pipeline as a file: each message becomes one
//! input line, and a ledger remembers which partition and offset every
//! line came from. Offsets are stored for commit only once the collector
//! reports that every shard has processed the line (at-least-once), so a
//! crash replays unfinished events instead of losing them.

mod client;
mod ledger;
mod produce;
mod sink;
mod source;

pub use client::{KafkaSetupError, client_config};
pub use ledger::{Ledger, Position};
pub use produce::{ProduceError, ProduceStats, produce_lines};
pub use sink::TopicSink;
pub use source::{KafkaInput, SourceOptions, VigilConsumer, subscribe};
