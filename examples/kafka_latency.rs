//! Latency from produce to incident: publishes events at a steady rate to
//! the events topic, every `EVERY`-th one carrying a leaked key (which
//! vigil turns into an incident at once), and reads the incidents topic,
//! timing each incident against the moment its event was sent. Run it while
//! `vigil run` consumes the events topic.
//!
//! For comparison it also reads the events topic itself and times the same
//! events there: the broker's own produce-to-consume latency, which bounds
//! what vigil can reach from below.
//!
//! With `-` for the incidents topic, incidents are read from standard input
//! instead (`vigil run --incidents -`, or a FIFO): the time from producing
//! an event to vigil writing its incident, without the second trip through
//! the broker that a reader of the incidents topic adds.
//!
//! `cargo run --release --example kafka_latency -- BROKERS EVENTS INCIDENTS RATE SECONDS`
//! prints the p50, p99, p99.9 and maximum latency in milliseconds of both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// One event in this many leaks a key.
const EVERY: u64 = 20;
/// A key in the shape of a real agent key (not a live credential).
const LEAKED: &str = "ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e";

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, brokers, events, incidents, rate, seconds] = args.as_slice() else {
        eprintln!("usage: kafka_latency BROKERS EVENTS_TOPIC INCIDENTS_TOPIC RATE SECONDS");
        std::process::exit(2);
    };
    let rate: u64 = rate.parse().expect("RATE is events per second");
    let seconds: u64 = seconds.parse().expect("SECONDS is a number");
    let sent: Sent = Arc::default();
    let from_stdin = incidents == "-";
    let reader = (!from_stdin).then(|| subscribe(brokers, incidents));
    let echo = subscribe(brokers, events);
    if from_stdin {
        // vigil joins its group once the output it writes to is open,
        // which is now; let it take its partitions before events flow.
        std::thread::sleep(Duration::from_secs(3));
    }
    let echo_sent: Sent = Arc::default();

    let producer_sent = [Arc::clone(&sent), Arc::clone(&echo_sent)];
    let (brokers_p, events_p) = (brokers.clone(), events.clone());
    let producing =
        std::thread::spawn(move || publish(&brokers_p, &events_p, rate, seconds, &producer_sent));
    let run_for = Duration::from_secs(seconds + 5);
    let broker = std::thread::spawn(move || collect(&echo, &echo_sent, run_for, EchoOf::Event));
    let histogram = match &reader {
        Some(reader) => collect(reader, &sent, run_for, EchoOf::Incident),
        None => collect_stdin(&sent, run_for),
    };
    let broker = broker.join().expect("echo thread");
    let published = producing.join().expect("producer thread");
    report("broker alone (produce to consume)", &broker);

    let what = if from_stdin {
        "produce to incident written by vigil"
    } else {
        "produce to incident read from its topic"
    };
    report(
        &format!("vigil ({what}), {published} events at {rate}/s"),
        &histogram,
    );
}

/// Times incidents read as JSON lines from standard input for `run_for`.
/// The reading thread is left behind when the time is up: standard input
/// stays open as long as vigil runs.
fn collect_stdin(sent: &Sent, run_for: Duration) -> Histogram<u64> {
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new(3).expect("valid precision"),
    ));
    let (shared, sent) = (Arc::clone(&histogram), Arc::clone(sent));
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            let arrived = Instant::now();
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            time_signals(&value, arrived, &sent, &mut shared.lock().unwrap());
        }
    });
    std::thread::sleep(run_for);
    histogram.lock().unwrap().clone()
}

/// Records, for each signal of `incident` naming a timed event, the time
/// from sending that event to `arrived`.
fn time_signals(
    incident: &serde_json::Value,
    arrived: Instant,
    sent: &Sent,
    histogram: &mut Histogram<u64>,
) {
    let mut sent = sent.lock().unwrap();
    for signal in incident["signals"].as_array().into_iter().flatten() {
        let Some(id) = signal["event_id"].as_str() else {
            continue;
        };
        if let Some(at) = sent.remove(id) {
            let micros = u64::try_from((arrived - at).as_micros()).unwrap_or(u64::MAX);
            let _ = histogram.record(micros.max(1));
        }
    }
}

fn report(what: &str, histogram: &Histogram<u64>) {
    #[allow(clippy::cast_precision_loss, reason = "latencies for display")]
    let ms = |us: u64| us as f64 / 1_000.0;
    println!(
        "{what}: timed {}  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
        histogram.len(),
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.value_at_quantile(0.999)),
        ms(histogram.max()),
    );
}

/// What a collected message is: an event read back from its own topic, or
/// an incident naming events in its signals.
#[derive(Clone, Copy)]
enum EchoOf {
    Event,
    Incident,
}

fn subscribe(brokers: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("latency-{}", std::process::id()))
        .set("auto.offset.reset", "latest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("consumer settings are valid");
    consumer.subscribe(&[topic]).expect("subscription succeeds");
    // Join the group before anything is produced, so no incident is missed.
    let joined = Instant::now();
    while consumer.assignment().map_or(0, |a| a.count()) == 0
        && joined.elapsed() < Duration::from_secs(30)
    {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    consumer
}

/// Sends `rate` events a second for `seconds`, paced in 1 ms steps.
fn publish(brokers: &str, topic: &str, rate: u64, seconds: u64, sent: &[Sent; 2]) -> u64 {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .create()
        .expect("producer settings are valid");
    let started = Instant::now();
    let total = rate * seconds;
    for i in 0..total {
        let due = started + Duration::from_micros(i * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (id, user, line) = event(i);
        if i.is_multiple_of(EVERY) {
            let now = Instant::now();
            for times in sent {
                times.lock().unwrap().insert(id.clone(), now);
            }
        }
        let record = BaseRecord::to(topic).key(&user).payload(&line);
        if let Err((e, _)) = producer.send(record) {
            eprintln!("send failed: {e}");
        }
    }
    let _ = producer.flush(Duration::from_secs(10));
    total
}

/// Event `i`: an ordinary call, or a leaked key for every `EVERY`-th.
fn event(i: u64) -> (String, String, String) {
    let id = format!("lat-{}-{i}", std::process::id());
    // Each leak comes from a user of its own, so it opens an incident of
    // its own instead of joining the previous one.
    let user = if i.is_multiple_of(EVERY) {
        format!("leaker-{i}")
    } else {
        format!("user-{}", i % 500)
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let details = if i.is_multiple_of(EVERY) {
        format!(r#","details":{{"prompt":"my key is {LEAKED}"}}"#)
    } else {
        String::new()
    };
    let line = format!(
        r#"{{"timestamp":"{now}","event_id":"{id}","event_type":"api_access","user_id":"{user}","ip_address":"198.51.100.{}","endpoint":"/v1/chat/completions","tokens_used":120{details}}}"#,
        i % 200 + 1
    );
    (id, user, line)
}

/// Reads messages for `run_for`, timing each that names a timed event.
fn collect(consumer: &BaseConsumer, sent: &Sent, run_for: Duration, of: EchoOf) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).expect("valid precision");
    let started = Instant::now();
    while started.elapsed() < run_for {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let arrived = Instant::now();
        let Some(payload) = message.payload() else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
            continue;
        };
        let named = match of {
            EchoOf::Event => vec![value],
            EchoOf::Incident => value["signals"].as_array().cloned().unwrap_or_default(),
        };
        let mut sent = sent.lock().unwrap();
        for item in named {
            let Some(id) = item["event_id"].as_str() else {
                continue;
            };
            if let Some(at) = sent.remove(id) {
                let micros = u64::try_from((arrived - at).as_micros()).unwrap_or(u64::MAX);
                let _ = histogram.record(micros.max(1));
            }
        }
    }
    histogram
}
