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
        response: None,
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
    let output = vigil()
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
    let output = vigil()
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

#[test]
fn a_tls_certificate_without_a_key_exits_with_code_two_naming_the_variable() {
    let output = vigil()
        .args(["run", "--input", "/dev/null", "--listen", "127.0.0.1:0"])
        .env("VIGIL_HTTP_TLS_CERT_FILE", "/etc/vigil/cert.pem")
        .env_remove("VIGIL_HTTP_TLS_KEY")
        .env_remove("VIGIL_HTTP_TLS_KEY_FILE")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VIGIL_HTTP_TLS_KEY_FILE"), "{stderr}");
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

/// `GET path` over plain HTTP/1.0 (so no server answers in chunks);
/// returns the status code and the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
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
    let mut events = input.events.clone();
    events.extend_from_slice(b"{broken\n");
    let (mut child, stdin) = serving_vigil(&events, port);
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
    let status = child.wait().unwrap();

    assert!(status.success());
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

/// Starts `vigil run` serving metrics on `port`, fed `events` on stdin,
/// which stays open so the process keeps running.
fn serving_vigil(events: &[u8], port: u16) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = vigil()
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
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(events).unwrap();
    stdin.flush().unwrap();
    (child, stdin)
}

/// The Prometheus server, or `None` when `VIGIL_SKIP_PROMETHEUS_TESTS=1`
/// says it is missing on purpose (`scripts/test.sh` installs it).
fn prometheus_binary() -> Option<&'static str> {
    let found = Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("prometheus");
    }
    assert!(
        std::env::var("VIGIL_SKIP_PROMETHEUS_TESTS").is_ok_and(|v| v == "1"),
        "the prometheus server is not installed: run scripts/test.sh, or set \
         VIGIL_SKIP_PROMETHEUS_TESTS=1"
    );
    None
}

fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// Runs an instant query; returns the number of series in the result, or
/// the error Prometheus gave.
fn promql(port: u16, expr: &str) -> Result<usize, String> {
    let path = format!("/api/v1/query?query={}", percent_encode(expr));
    let (status, body) = http_get(port, &path).ok_or("no answer")?;
    let answer: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if status != 200 || answer["status"] != "success" {
        return Err(format!("{status}: {body}"));
    }
    Ok(answer["data"]["result"].as_array().map_or(0, Vec::len))
}

/// Every `expr` of the dashboards' panels.
fn dashboard_queries() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/grafana/dashboards");
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let board: serde_json::Value = serde_json::from_str(&text).unwrap();
        for panel in board["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                queries.push(target["expr"].as_str().unwrap().to_owned());
            }
        }
    }
    queries
}

/// Every alert rule's name and `expr`.
fn alert_queries() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/prometheus/alerts.yml");
    let rules: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut alerts = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap().to_owned();
            alerts.push((name, rule["expr"].as_str().unwrap().to_owned()));
        }
    }
    alerts
}

#[test]
fn prometheus_scrapes_vigil_and_every_dashboard_and_alert_query_evaluates() {
    let Some(prometheus) = prometheus_binary() else {
        return;
    };
    // Generated attacks, and one broken record so rejects have a series.
    let mut events = generated(120, 10, 6).events;
    events.extend_from_slice(b"{broken\n");
    let vigil_port = free_port();
    let (mut vigil, stdin) = serving_vigil(&events, vigil_port);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: vigil\n    static_configs:\n\
             \x20     - targets: [\"127.0.0.1:{vigil_port}\"]\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let mut server = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Rates need two samples: wait for a few scrapes.
    let scraped = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        promql(
            prometheus_port,
            "count_over_time(up{job=\"vigil\"}[1m]) >= 4",
        ) == Ok(1)
    });
    let dashboards: Vec<(String, Result<usize, String>)> = dashboard_queries()
        .into_iter()
        .map(|q| (q.clone(), promql(prometheus_port, &q)))
        .collect();
    let alerts: Vec<(String, Result<usize, String>)> = alert_queries()
        .into_iter()
        .map(|(name, q)| (name, promql(prometheus_port, &q)))
        .collect();
    let _ = server.kill();
    let _ = server.wait();
    drop(stdin);
    let _ = vigil.wait();

    assert!(scraped, "Prometheus never scraped vigil four times");
    assert!(
        dashboards.len() >= 10,
        "the dashboards hold {} queries",
        dashboards.len()
    );
    for (query, result) in &dashboards {
        let series = result.as_ref().unwrap_or_else(|e| panic!("{query}: {e}"));
        // The consumer lag exists only with a Kafka source.
        if !query.contains("kafka") {
            assert!(*series > 0, "{query} returned no data");
        }
    }
    for (alert, result) in &alerts {
        let firing = result.as_ref().unwrap_or_else(|e| panic!("{alert}: {e}"));
        // The whole input is processed before the first scrape, so the
        // stream is quiet: only the no-events condition holds. Every other
        // condition (down, behind, rejecting, reload refused, slow) must
        // be empty on this healthy run.
        let expected = usize::from(alert == "VigilNoEvents");
        assert_eq!(*firing, expected, "{alert}: {firing} series");
    }
}

/// `vigil` with alert emails of attacks going to a scratch folder, not the
/// work tree.
fn vigil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.env(
        "VIGIL_EMAIL_OUTBOX_DIR",
        std::env::temp_dir().join("vigil-test-outbox"),
    );
    command
}

/// A configuration in `dir` keeping its state in `dir/state`.
fn stateful_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("vigil.toml");
    let text = format!("[state]\ndir = \"{}\"\n", dir.join("state").display());
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `vigil run` on `input` with `config`; returns the incident lines.
fn run_with_state(config: &std::path::Path, input: &[u8]) -> Vec<String> {
    let dir = config.parent().unwrap();
    let file = dir.join(format!("input-{}.jsonl", input.len()));
    std::fs::write(&file, input).unwrap();
    let output = vigil()
        .args(["run", "--shards", "2", "--incidents", "-", "--config"])
        .arg(config)
        .arg("--input")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn profiles_in(config: &std::path::Path) -> String {
    let output = vigil()
        .args(["state", "show", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The last revision of every incident, by id.
fn final_revisions(lines: &[String]) -> std::collections::BTreeMap<String, String> {
    let mut last = std::collections::BTreeMap::<String, (u64, String)>::new();
    for line in lines {
        let incident: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = incident["incident_id"].as_str().unwrap().to_owned();
        let revision = incident["revision"].as_u64().unwrap();
        if last.get(&id).is_none_or(|(seen, _)| revision > *seen) {
            last.insert(id, (revision, line.clone()));
        }
    }
    last.into_iter().map(|(id, (_, line))| (id, line)).collect()
}

#[test]
fn two_runs_joined_by_a_snapshot_learn_what_one_run_over_both_inputs_learns() {
    let generated = generated(60, 12, 21);
    let text = String::from_utf8(generated.events).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (head, tail) = lines.split_at(lines.len() / 2);
    let joined = |part: &[&str]| part.iter().flat_map(|l| [*l, "\n"]).collect::<String>();
    let (whole_dir, split_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (whole, split) = (
        stateful_config(whole_dir.path()),
        stateful_config(split_dir.path()),
    );

    let once = run_with_state(&whole, text.as_bytes());
    let mut twice = run_with_state(&split, joined(head).as_bytes());
    let users_after_first = profiles_in(&split).lines().count();
    twice.extend(run_with_state(&split, joined(tail).as_bytes()));

    let profiles = profiles_in(&whole);
    assert!(users_after_first > 0 && profiles.lines().count() >= users_after_first);
    assert_eq!(
        profiles_in(&split),
        profiles,
        "the second run continued the first one's baselines"
    );
    assert!(!once.is_empty(), "the attacks must produce incidents");
    assert_eq!(final_revisions(&twice), final_revisions(&once));
}

#[test]
fn a_damaged_snapshot_stops_the_run_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    run_with_state(&config, generated(20, 8, 1).events.as_slice());
    let snapshot = dir.path().join("state").join("snapshot.bin");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snapshot, bytes).unwrap();

    let output = vigil()
        .args(["run", "--input", "/dev/null", "--config"])
        .arg(&config)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("snapshot.bin") && stderr.contains("checksum"),
        "{stderr}"
    );
}

/// `vigil sign` of `lines` with `key`, signed at `signed_at` (now if `None`).
fn signed(lines: &[String], key: &str, signed_at: Option<i64>) -> Vec<String> {
    let mut command = vigil();
    command
        .arg("sign")
        .env("VIGIL_SIGNING_KEY", key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    if let Some(at) = signed_at {
        command.args(["--signed-at", &at.to_string()]);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn with_signing_required_signed_events_pass_and_forged_or_replayed_ones_are_refused() {
    const KEY: &str = "test-signing-key-7f3c";
    let user = |name: &str| GOOD.replace("alice", name);
    let genuine = signed(&[user("alice"), user("bob")], KEY, None);
    let forged = signed(&[user("carol")], "guessed-key", None);
    let hour_ago = chrono::Utc::now().timestamp() - 3_600;
    let replayed = signed(&[user("dave")], KEY, Some(hour_ago));
    let tampered = genuine[0].replace(r#""tokens_used":10"#, r#""tokens_used":99999"#);
    let lines = [
        genuine[0].clone(),
        forged[0].clone(),
        replayed[0].clone(),
        user("eve"),
        tampered,
        genuine[1].clone(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("signed.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let dead = dir.path().join("dead.jsonl");

    let output = vigil()
        .args(["run", "--input"])
        .arg(&input)
        .args(["--incidents", "-", "--dead-letter"])
        .arg(&dead)
        .env("VIGIL_INPUT_REQUIRE_SIGNATURE", "true")
        .env("VIGIL_SIGNING_KEY", KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("events 2 "),
        "the two genuine events pass: {stderr}"
    );

    let letters = std::fs::read_to_string(&dead).unwrap();
    assert!(
        !letters.contains(KEY) && !stderr.contains(KEY),
        "the key leaked"
    );
    let mut found: Vec<(u64, String)> = letters
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort_unstable();
    let expected = [
        (2, "bad_signature"),
        (3, "stale_signature"),
        (4, "missing_signature"),
        (5, "bad_signature"),
    ];
    assert_eq!(
        found,
        expected.map(|(line, reason)| (line, reason.to_owned()))
    );
}

#[test]
fn requiring_signatures_without_a_key_is_a_usage_error_naming_the_variable() {
    let (_dir, input) = bad_input_file();
    let output = vigil()
        .args(["run", "--input"])
        .arg(&input)
        .env("VIGIL_INPUT_REQUIRE_SIGNATURE", "true")
        .env_remove("VIGIL_SIGNING_KEY")
        .env_remove("VIGIL_SIGNING_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VIGIL_SIGNING_KEY"), "{stderr}");
}
