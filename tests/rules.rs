//! End-to-end tests of Sigma rules in the pipeline: the shipped rule pack
//! passes its own checks, cross-user correlations work with any shard
//! count, injected login attacks are each caught by their rule while benign
//! traffic fires none, and a running `vigil run` reloads its rules without
//! losing the old ones to a broken file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil::config::Config;
use vigil::evaluate::evaluate;
use vigil::pipeline::{CollectorSinks, Pipeline, RunSummary};
use vigil::rules::{RuleFeed, RuleSet, run_rule_tests};
use vigil::synth::{AttackKind, GenConfig, GenSummary, generate, user_time_zones};

fn shipped_rules() -> RuleSet {
    RuleSet::load_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules")
            .as_path(),
    )
    .unwrap_or_else(|errors| panic!("{errors}"))
}

#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `events` through detectors and `rules` on `shards` shards; returns
/// every incident revision written, as JSON lines.
fn run_with_rules(events: &str, rules: RuleSet, shards: usize) -> Vec<String> {
    let pipeline = Pipeline::new(Config::default(), shards)
        .unwrap()
        .with_rules(RuleFeed::new(rules));
    let written = SharedBuffer::default();
    let sinks = CollectorSinks {
        incidents: Some(Box::new(written.clone())),
        dead_letter: None,
        source: "test".to_owned(),
        stream: None,
        metrics: None,
        response: None,
    };
    pipeline
        .run(Cursor::new(events.to_owned()), sinks, &AtomicU64::new(0))
        .unwrap();
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

fn event(second: u32, user: &str, ip: &str, fields: &str) -> String {
    format!(
        r#"{{"timestamp":"2026-03-02T10:{:02}:{:02}Z","user_id":"{user}","ip_address":"{ip}",{fields}}}"#,
        second / 60,
        second % 60
    )
}

const FAILED_LOGIN: &str = r#""event_type":"authentication","auth_event_type":"login","success":false,"status_code":401,"endpoint":"/v1/auth/login","details":{"failure_reason":"invalid_password"}"#;
const API_CALL: &str = r#""event_type":"api_access","endpoint":"/v1/chat/completions","status_code":200,"tokens_used":300"#;

/// Forty users going about their work, and one address trying thirty of
/// their accounts within five minutes.
fn stuffing_traffic() -> String {
    let mut lines = Vec::new();
    for second in 0..600 {
        let user = format!("user-{:02}", second % 40);
        let ip = format!("198.51.100.{}", second % 40 + 1);
        lines.push(event(second, &user, &ip, API_CALL));
        if (100..400).contains(&second) && second % 10 == 0 {
            let victim = format!("user-{:02}", (second - 100) / 10);
            lines.push(event(second, &victim, "203.0.113.66", FAILED_LOGIN));
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn the_shipped_rule_pack_passes_its_own_tests() {
    let set = Arc::new(shipped_rules());
    assert!(set.len() >= 12, "the pack holds {} rules", set.len());
    let failures: Vec<String> = run_rule_tests(&set)
        .into_iter()
        .filter(|o| !o.passed)
        .map(|o| format!("{} — {}: {}", o.rule_id, o.case, o.detail))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn only_correlations_across_users_send_events_to_the_global_stage() {
    let set = shipped_rules();
    // Grouped by address: one address's attempts span many users' shards.
    assert!(set.forwards("vigil-failed-login"));
    // Grouped by key: a key belongs to one account, so its calls stay in
    // the user's shard instead of crossing to the single global thread.
    assert!(!set.forwards("vigil-token-consuming-call"));
}

#[test]
fn credential_stuffing_is_detected_with_one_two_and_four_shards() {
    let traffic = stuffing_traffic();
    let mut runs = Vec::new();
    for shards in [1, 2, 4] {
        let lines = run_with_rules(&traffic, shipped_rules(), shards);
        let stuffing = lines.iter().any(|line| {
            line.contains("\"vigil-credential-stuffing\"") && line.contains("203.0.113.66")
        });
        assert!(stuffing, "{shards} shard(s): {lines:#?}");
        runs.push(lines.into_iter().collect::<BTreeSet<String>>());
    }
    assert_eq!(runs[0], runs[1], "1 and 2 shards differ");
    assert_eq!(runs[0], runs[2], "1 and 4 shards differ");
}

const MARKER_RULE: &str = "title: Marker agent
id: test-marker-agent
status: test
logsource: {product: vigil, service: api_gateway}
detection:
  selection:
    user_agent|contains: marker-MARK
  condition: selection
level: high
vigil:
  incident_type: malware_detection
";

fn marker_rule(mark: &str) -> String {
    MARKER_RULE
        .replace("MARK", mark)
        .replace("test-marker-agent", &format!("test-marker-{mark}"))
}

/// Feeds lines to a running `vigil run` one by one, slowly.
fn send(stdin: &mut impl Write, lines: &[String]) {
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn marked_events(phase: &str, mark: &str, first_second: u32) -> Vec<String> {
    (0..3)
        .map(|i| {
            let fields = format!(r#"{API_CALL},"user_agent":"client marker-{mark}""#);
            event(
                first_second + i,
                &format!("{phase}-{i}"),
                "198.51.100.20",
                &fields,
            )
        })
        .collect()
}

#[test]
fn a_running_vigil_reloads_new_rules_and_keeps_old_ones_over_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("alpha.yml"), marker_rule("alpha")).unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[rules]\nreload_poll_secs = 1\n").unwrap();
    let incidents = dir.path().join("incidents.jsonl");

    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        // Alert emails of the attacks go to a scratch folder, not the work tree.
        .env(
            "VIGIL_EMAIL_OUTBOX_DIR",
            std::env::temp_dir().join("vigil-test-outbox"),
        )
        .args(["run", "--shards", "2", "--input", "-", "--config"])
        .arg(&config)
        .arg("--rules")
        .arg(&rules)
        .arg("--incidents")
        .arg(&incidents)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let settle = Duration::from_millis(2_500);

    // Before: only alpha exists, so beta-marked events raise nothing.
    send(&mut stdin, &marked_events("before", "beta", 0));
    std::thread::sleep(settle);
    std::fs::write(rules.join("beta.yml"), marker_rule("beta")).unwrap();
    std::thread::sleep(settle);

    // After the reload, beta matches.
    send(&mut stdin, &marked_events("after", "beta", 10));
    std::thread::sleep(settle);
    std::fs::write(rules.join("broken.yml"), "title: [unclosed\n").unwrap();
    std::thread::sleep(settle);

    // The broken file is refused; alpha and beta keep matching.
    send(&mut stdin, &marked_events("broken", "beta", 20));
    send(&mut stdin, &marked_events("broken", "alpha", 30));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Rule reload refused"), "{stderr}");
    assert!(stderr.contains("reloads applied 1  refused 1"), "{stderr}");

    let written = std::fs::read_to_string(&incidents).unwrap();
    let users_matched = |rule: &str| -> BTreeSet<String> {
        written
            .lines()
            .filter(|line| line.contains(&format!("\"{rule}\"")))
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["user_id"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let beta = users_matched("test-marker-beta");
    assert!(beta.iter().all(|u| !u.starts_with("before")), "{beta:?}");
    assert!(beta.iter().any(|u| u.starts_with("after")), "{beta:?}");
    assert!(beta.iter().any(|u| u.starts_with("broken")), "{beta:?}");
    let alpha = users_matched("test-marker-alpha");
    assert!(alpha.iter().any(|u| u.starts_with("broken")), "{alpha:?}");
}

#[test]
fn sighup_reloads_the_rules_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("alpha.yml"), marker_rule("alpha")).unwrap();
    let config = dir.path().join("vigil.toml");
    // Polling this slowly never notices the change by itself.
    std::fs::write(&config, "[rules]\nreload_poll_secs = 3600\n").unwrap();
    let incidents = dir.path().join("incidents.jsonl");

    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        // Alert emails of the attacks go to a scratch folder, not the work tree.
        .env(
            "VIGIL_EMAIL_OUTBOX_DIR",
            std::env::temp_dir().join("vigil-test-outbox"),
        )
        .args(["run", "--input", "-", "--config"])
        .arg(&config)
        .arg("--rules")
        .arg(&rules)
        .arg("--incidents")
        .arg(&incidents)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Give the watcher time to install its SIGHUP handler.
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(rules.join("gamma.yml"), marker_rule("gamma")).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(1_500));
    send(&mut stdin, &marked_events("hup", "gamma", 0));
    drop(stdin);

    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("reloads applied 1  refused 0"), "{stderr}");
    let written = std::fs::read_to_string(&incidents).unwrap();
    assert!(written.contains("\"test-marker-gamma\""), "{written}");
}

/// Runs generated traffic through detectors and the shipped rules, with
/// every generated user's own time zone configured.
fn run_generated(config: &GenConfig, shards: usize) -> (GenSummary, RunSummary) {
    let mut events = Vec::new();
    let generated = generate(config, &mut events).expect("generation succeeds");
    let mut settings = Config::default();
    settings.profile.user_time_zones = user_time_zones(config);
    let pipeline = Pipeline::new(settings, shards)
        .unwrap()
        .with_rules(RuleFeed::new(shipped_rules()));
    let sinks = CollectorSinks {
        incidents: None,
        dead_letter: None,
        source: "test".to_owned(),
        stream: None,
        metrics: None,
        response: None,
    };
    let summary = pipeline
        .run(Cursor::new(events), sinks, &AtomicU64::new(0))
        .unwrap();
    (generated, summary)
}

/// Signal counts of rules (the pack's ids all start with `vigil-`; detector
/// ids never do).
fn rule_signals(summary: &RunSummary) -> BTreeMap<&str, u64> {
    summary
        .signals
        .iter()
        .filter(|(name, _)| name.starts_with("vigil-"))
        .map(|(name, count)| (name.as_str(), *count))
        .collect()
}

#[test]
fn injected_login_attacks_are_each_caught_by_their_rule() {
    for seed in [11, 12] {
        let mut config = GenConfig::new(200, 21, seed);
        config.attacks = true;
        let (generated, summary) = run_generated(&config, 2);
        let evaluation = evaluate(&generated.labels, summary.incidents.values());
        for kind in AttackKind::RULE_KINDS {
            let score = &evaluation.kinds[&kind];
            assert!(score.labelled > 0, "seed {seed}: {kind:?} was not injected");
            assert_eq!(
                score.detected, score.labelled,
                "seed {seed}: {kind:?} caught {}/{}",
                score.detected, score.labelled
            );
        }
        let unexplained_rule_incidents: Vec<&str> = evaluation
            .false_positive_ids
            .iter()
            .filter(|id| {
                summary.incidents[id.as_str()]
                    .signals
                    .iter()
                    .any(|s| s.name.starts_with("vigil-"))
            })
            .map(String::as_str)
            .collect();
        assert!(
            unexplained_rule_incidents.is_empty(),
            "seed {seed}: rule incidents outside any attack: {unexplained_rule_incidents:?}"
        );
    }
}

#[test]
fn no_rule_fires_on_benign_background_traffic() {
    let config = GenConfig::new(300, 21, 7);
    let (_, summary) = run_generated(&config, 2);
    assert!(
        summary.events > 100_000,
        "too little traffic: {}",
        summary.events
    );
    let fired = rule_signals(&summary);
    assert!(fired.is_empty(), "rules fired on benign traffic: {fired:?}");
}
