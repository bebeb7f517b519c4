//! A drain-only consumer: reads a topic from the start with librdkafka and
//! discards every message, to measure what the broker can deliver. The
//! Kafka benchmark compares `vigil run` against it on the same topic.
//!
//! `cargo run --release --example kafka_drain -- BROKERS TOPIC EXPECTED`
//! prints `drained N messages in S s: R messages/s`, timed from the first
//! message to the last.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, brokers, topic, expected] = args.as_slice() else {
        eprintln!("usage: kafka_drain BROKERS TOPIC EXPECTED_MESSAGES");
        std::process::exit(2);
    };
    let expected: u64 = expected.parse().expect("EXPECTED_MESSAGES is a number");
    let group = format!("drain-{}", std::process::id());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("consumer settings are valid");
    consumer.subscribe(&[topic]).expect("subscription succeeds");

    let started = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut received = 0_u64;
    let mut bytes = 0_u64;
    while received < expected && started.elapsed() < Duration::from_mins(10) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
                received += 1;
                bytes += message.payload_len() as u64;
            }
            Some(Err(e)) => eprintln!("consumer error: {e}"),
            None => {}
        }
    }
    // From the first message to the last, so joining the group is not
    // counted; `vigil run` reports the same span.
    let seconds = first.map_or(0.0, |first| (last - first).as_secs_f64());
    #[allow(clippy::cast_precision_loss, reason = "a rate for display")]
    let rate = received as f64 / seconds;
    println!("drained {received} messages ({bytes} bytes) in {seconds:.2} s: {rate:.0} messages/s");
}
