//! End-to-end tests of the pipeline on generated and hand-written input:
//! detection quality against labelled attacks, determinism across shard
//! counts, bad input handling and the output contracts.

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use vigil::config::Config;
use vigil::evaluate::evaluate;
use vigil::pipeline::{CollectorSinks, Pipeline, RunSummary};
use vigil::synth::{AttackKind, GenConfig, GenSummary, generate};

struct Generated {
    events: Vec<u8>,
    summary: GenSummary,
}

fn generated(users: u32, days: u32, seed: u64) -> Generated {
    let mut config = GenConfig::new(users, days, seed);
    config.attacks = true;
    let mut events = Vec::new();
    let summary = generate(&config, &mut events).expect("generation succeeds");
    Generated { events, summary }
}

/// Runs the pipeline in memory; returns the summary and every incident line written.
fn run(events: &[u8], shards: usize) -> (RunSummary, Vec<String>) {
    let pipeline = Pipeline::new(Config::default(), shards).unwrap();
    let written = SharedBuffer::default();
    let sinks = CollectorSinks {
        incidents: Some(Box::new(written.clone())),
        dead_letter: None,
        source: "test".to_owned(),
        stream: None,
        metrics: None,
    };
    let summary = pipeline
        .run(Cursor::new(events), sinks, &AtomicU64::new(0))
        .unwrap();
    let text = String::from_utf8(written.take()).unwrap();
    (summary, text.lines().map(str::to_owned).collect())
}

#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn generated_attacks_are_detected_with_few_false_positives() {
    let input = generated(200, 21, 11);
    let (summary, _) = run(&input.events, 2);
    assert_eq!(summary.rejected(), 0, "generated events must all be valid");
    let evaluation = evaluate(&input.summary.labels, summary.incidents.values());
    for kind in AttackKind::DETECTOR_KINDS {
        let score = &evaluation.kinds[&kind];
        assert!(score.labelled > 0, "{kind:?} was not injected");
        assert!(
            score.recall() >= 0.9,
            "{kind:?}: {}/{} detected",
            score.detected,
            score.labelled
        );
    }
    let attacked_days = input.summary.labels.len() as u64;
    let benign_days = input.summary.user_days - attacked_days;
    let rate = evaluation.false_positives_per_thousand(benign_days);
    assert!(
        rate <= 1.0,
        "{} incidents on benign traffic over {benign_days} user-days: {:?}",
        evaluation.false_positives,
        evaluation.false_positive_ids
    );
}

#[test]
fn one_shard_and_four_shards_give_identical_incidents() {
    let input = generated(120, 12, 5);
    let (_, one) = run(&input.events, 1);
    let (_, four) = run(&input.events, 4);
    assert!(!one.is_empty(), "the attacks must produce incidents");
    let one: BTreeSet<String> = one.into_iter().collect();
    let four: BTreeSet<String> = four.into_iter().collect();
    assert_eq!(one, four);
}

const GOOD: &str = r#"{"timestamp":"2026-11-02T09:00:00Z","event_type":"api_access","user_id":"alice","ip_address":"198.51.100.7","tokens_used":10}"#;

fn bad_input_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        GOOD.to_owned(),
        r#"{"timestamp":"2026-11-02T09:00:01Z","event_type":"api_access","user_id":"#.to_owned(),
        GOOD.replace("alice", "bob"),
        r#"{"timestamp":"2026-11-02T09:00:02Z","event_type":"api_access"}"#.to_owned(),
        GOOD.replace("198.51.100.7", "198.51.100.700"),
        GOOD.replace("2026-11-02T09:00:00Z", "02/11/2026 09:00"),
        String::new(),
        GOOD.replace("alice", "carol"),
    ];
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (dir, path)
}

#[test]
fn bad_lines_go_to_the_dead_letter_file_and_good_ones_are_processed() {
    let (dir, input) = bad_input_file();
    let dead = dir.path().join("dead.jsonl");
    let incidents = dir.path().join("incidents.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--shards", "2", "--input"])
        .arg(&input)
        .arg("--incidents")
        .arg(&incidents)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("events 3 "),
        "all good lines processed: {stderr}"
    );

    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut found: Vec<(u64, &str, Option<&str>)> = letters
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["reason"].as_str().unwrap(),
                l["field"].as_str(),
            )
        })
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        vec![
            (2, "invalid_json", None),
            (4, "missing_field", Some("user_id")),
            (5, "invalid_ip_address", Some("ip_address")),
            (6, "invalid_timestamp", Some("timestamp")),
        ]
    );
    let raw_of_line_5 = letters.iter().find(|l| l["line"] == 5).unwrap()["raw"]
        .as_str()
        .unwrap();
    assert_eq!(
        raw_of_line_5,
        GOOD.replace("198.51.100.7", "198.51.100.700")
    );
}

#[test]
fn a_bad_configuration_exits_with_code_two_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[detectors.rate_limit]\nagent_per_secnd = 5\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--input", "/dev/null", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("vigil.toml:1") && stderr.contains("agent_per_secnd"),
        "{stderr}"
    );
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn generated_events_validate_against_the_event_schema() {
    let validator = schema("security-event.schema.json");
    let input = generated(20, 10, 3);
    for line in String::from_utf8(input.events).unwrap().lines().step_by(7) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(validator.is_valid(&event), "{line}");
    }
    let bad: serde_json::Value =
        serde_json::from_str(&GOOD.replace("198.51.100.7", "198.51.100.700")).unwrap();
    assert!(
        !validator.is_valid(&bad),
        "the schema must reject what the decoder rejects"
    );
}

#[test]
fn produced_incidents_validate_against_the_incident_schema() {
    let validator = schema("incident.schema.json");
    let input = generated(60, 12, 9);
    let (_, lines) = run(&input.events, 2);
    assert!(!lines.is_empty());
    for line in &lines {
        let incident: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&incident)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?} in {line}");
    }
}

#[test]
fn no_output_reveals_a_leaked_key() {
    let input = generated(100, 10, 4);
    let (_, lines) = run(&input.events, 2);
    let leaked = regex::Regex::new(r"(ak|dk)_live_[A-Za-z0-9]{8,}").unwrap();
    assert!(
        lines.iter().any(|l| l.contains("leaked_secret")),
        "a leak must be found"
    );
    for line in &lines {
        assert!(!leaked.is_match(line), "secret in output: {line}");
    }
}

/// A free port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.1; returns the status code and the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// The value of the sample `series` (name and labels as exported).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn a_running_vigil_serves_its_metrics_and_health() {
    let input = generated(60, 8, 4);
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "run",
            "--input",
            "-",
            "--incidents",
            "/dev/null",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&input.events).unwrap();
    stdin.write_all(b"{broken\n").unwrap();
    stdin.flush().unwrap();
    let expected = input.summary.events;

    // Stdin stays open: vigil keeps running while it is scraped.
    let mut metrics = String::new();
    for _ in 0..200 {
        if let Some((200, body)) = http_get(port, "/metrics") {
            metrics = body;
            let processed = sample(&metrics, "vigil_events_processed_total{source=\"stdin\"}");
            #[allow(clippy::cast_precision_loss, reason = "a small count")]
            if processed == Some(expected as f64) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let health = http_get(port, "/healthz");
    let ready = http_get(port, "/readyz");
    drop(stdin);
    let output = child.wait_with_output().unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(health.map(|(status, _)| status), Some(200));
    assert_eq!(ready.map(|(status, _)| status), Some(200));
    #[allow(clippy::cast_precision_loss, reason = "a small count")]
    let expected = Some(expected as f64);
    assert_eq!(
        sample(&metrics, "vigil_events_processed_total{source=\"stdin\"}"),
        expected
    );
    assert_eq!(
        sample(
            &metrics,
            "vigil_events_rejected_total{reason=\"invalid_json\"}"
        ),
        Some(1.0)
    );
    // The consumer lag exists only with a Kafka source.
    for name in vigil::metrics::METRIC_NAMES
        .into_iter()
        .filter(|name| !name.contains("kafka"))
    {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "{name} is not exported"
        );
    }
    assert!(
        metrics.contains("vigil_incidents_opened_total{"),
        "the attacks open incidents"
    );
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("usr_"),
            "a user id leaked into a label: {line}"
        );
    }
}
