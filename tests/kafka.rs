//! The Kafka source against a real broker (started by `scripts/test.sh`,
//! which exports its address as `VIGIL_TEST_KAFKA_BROKERS`): the same
//! incidents as a file run, refused records on the dead-letter topic with
//! their reason, a clean stop on SIGTERM that loses and repeats nothing, and
//! redelivered events counted once.
#![cfg(feature = "kafka")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use vigil::synth::{GenConfig, generate};

/// The broker's address. Without one the tests fail, unless
/// `VIGIL_SKIP_KAFKA_TESTS=1` says to skip them on purpose (or the crate is
/// built with `--no-default-features`, which leaves them out).
fn brokers() -> Option<String> {
    if let Ok(brokers) = std::env::var("VIGIL_TEST_KAFKA_BROKERS") {
        return Some(brokers);
    }
    assert!(
        std::env::var("VIGIL_SKIP_KAFKA_TESTS").is_ok_and(|v| v == "1"),
        "VIGIL_TEST_KAFKA_BROKERS is unset: run scripts/test.sh, which starts a broker, \
         or set VIGIL_SKIP_KAFKA_TESTS=1"
    );
    eprintln!("skipped: VIGIL_SKIP_KAFKA_TESTS=1");
    None
}

/// A topic name no other test or earlier run uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

fn create_topic(brokers: &str, topic: &str, partitions: u32) {
    let status = Command::new("tansu")
        .args(["topic", "create", "--broker"])
        .arg(format!("tcp://{brokers}"))
        .args(["--partitions", &partitions.to_string(), topic])
        .stdout(Stdio::null())
        .status()
        .expect("the tansu command is installed by scripts/test.sh");
    assert!(status.success(), "creating topic {topic}");
}

fn vigil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    // Alert emails of the attacks go to a scratch folder, not the work tree.
    command.env(
        "VIGIL_EMAIL_OUTBOX_DIR",
        std::env::temp_dir().join("vigil-test-outbox"),
    );
    command
}

/// Fails the test with vigil's stderr unless the command exited 0.
fn assert_succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn produce(brokers: &str, topic: &str, file: &Path) {
    let output = vigil()
        .args(["produce", "--brokers", brokers, "--topic", topic, "--input"])
        .arg(file)
        .output()
        .unwrap();
    assert_succeeded(&output);
}

/// Topics of one test run.
struct Topics {
    events: String,
    dead_letters: String,
    incidents: String,
    group: String,
}

impl Topics {
    fn create(brokers: &str, name: &str, partitions: u32) -> Self {
        let topics = Self {
            events: unique(&format!("{name}-events")),
            dead_letters: unique(&format!("{name}-dlq")),
            incidents: unique(&format!("{name}-incidents")),
            group: unique(&format!("{name}-group")),
        };
        create_topic(brokers, &topics.events, partitions);
        create_topic(brokers, &topics.dead_letters, 1);
        create_topic(brokers, &topics.incidents, 1);
        topics
    }

    /// A `vigil.toml` reading these topics.
    fn config(&self, brokers: &str, dir: &Path) -> PathBuf {
        self.config_for(brokers, dir, &self.group, "")
    }

    /// A configuration in its own folder of `dir`, for consumer group
    /// `group`, with `extra` appended (other sections). A member killed
    /// without leaving the group keeps its partitions until its session
    /// times out, so the session is short for the restart tests; and the
    /// watermark waits for every partition, so when quiet incidents are
    /// resolved does not depend on how the broker interleaves partitions.
    fn config_for(&self, brokers: &str, dir: &Path, group: &str, extra: &str) -> PathBuf {
        let folder = dir.join(group);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("vigil.toml");
        let text = format!(
            "{extra}\n[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"{}\"]\ngroup_id = \"{group}\"\n\
             dead_letter_topic = \"{}\"\nincidents_topic = \"{}\"\ncommit_interval_ms = 200\npartition_idle_ms = 60000\n\
             [kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\
             \"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
            self.events, self.dead_letters, self.incidents
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn run_args(config: &Path, idle_exit_secs: u32) -> Vec<String> {
    vec![
        "run".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
        "--incidents".to_owned(),
        "/dev/null".to_owned(),
        "--shards".to_owned(),
        "2".to_owned(),
        "--idle-exit-secs".to_owned(),
        idle_exit_secs.to_string(),
    ]
}

/// Runs vigil on the topics until the input idles; returns its output.
fn run_until_idle(config: &Path) -> Output {
    let output = vigil().args(run_args(config, 5)).output().unwrap();
    assert_succeeded(&output);
    output
}

/// A number from the run summary on stderr, such as `events 1234`.
fn summary_count(output: &Output, name: &str) -> u64 {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("records "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    words[at + 1].parse().unwrap()
}

/// Incident revisions a run wrote, from its summary's
/// `incidents N (M revisions)`.
fn revisions_written(output: &Output) -> usize {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let words: Vec<&str> = stderr.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "revisions)")
        .unwrap_or_else(|| panic!("no revision count in {stderr}"));
    words[at - 1].trim_start_matches('(').parse().unwrap()
}

/// Every message of `topic`, read from the start until `expected` arrived
/// or nothing more came for a few seconds.
/// A message read back: its payload and its headers.
type Received = (Vec<u8>, Vec<(String, String)>);

fn read_topic(brokers: &str, topic: &str, expected: usize) -> Vec<Received> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut messages = Vec::new();
    let mut last = Instant::now();
    while messages.len() < expected && last.elapsed() < Duration::from_secs(8) {
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = result.unwrap();
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        let value = header
                            .value
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        (header.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        messages.push((message.payload().unwrap_or_default().to_vec(), headers));
        last = Instant::now();
    }
    messages
}

/// Generated traffic with attacks, written to a file.
fn generated_file(dir: &Path, users: u32, days: u32) -> PathBuf {
    let mut config = GenConfig::new(users, days, 3);
    config.attacks = true;
    let mut events = Vec::new();
    generate(&config, &mut events).unwrap();
    let path = dir.join("events.jsonl");
    std::fs::write(&path, events).unwrap();
    path
}

fn lines_of(text: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn incidents_from_a_partitioned_topic_equal_those_of_the_file() {
    let Some(brokers) = brokers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = generated_file(dir.path(), 80, 10);
    let topics = Topics::create(&brokers, "equal", 3);
    produce(&brokers, &topics.events, &events);

    let from_file = vigil()
        .args(["run", "--shards", "2", "--incidents", "-", "--input"])
        .arg(&events)
        .output()
        .unwrap();
    assert_succeeded(&from_file);
    let expected = lines_of(&from_file.stdout);
    assert!(!expected.is_empty(), "the attacks must produce incidents");

    let run = run_until_idle(&topics.config(&brokers, dir.path()));
    // Cross-user campaigns may be written as a different number of
    // revisions (see split_by_scope), so read what this run wrote.
    let written = revisions_written(&run);
    let published = read_topic(&brokers, &topics.incidents, written);
    assert_eq!(published.len(), written, "every revision reached the topic");
    let published: BTreeSet<String> = published
        .iter()
        .map(|(payload, _)| String::from_utf8_lossy(payload).into_owned())
        .collect();

    let total = lines_of(&std::fs::read(&events).unwrap()).len() as u64;
    assert_eq!(summary_count(&run, "records"), total);
    let (file_users, file_groups) = split_by_scope(&expected);
    let (topic_users, topic_groups) = split_by_scope(&published);
    assert!(
        !file_groups.is_empty(),
        "the attacks include cross-user campaigns"
    );
    assert_same(&file_users, &topic_users);
    assert_eq!(
        file_groups, topic_groups,
        "cross-user correlations fired for other groups"
    );
}

/// Splits incident revisions into those built from per-user evidence only,
/// which must match exactly, and the (rule, group) pairs of correlations
/// grouped across users (by address or key). Those are evaluated in arrival
/// order, and partitions interleave differently from the file, so the event
/// that completes the threshold (and so the incident's user) may differ; the
/// campaigns found must not.
fn split_by_scope(revisions: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut per_user = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for line in revisions {
        let incident: serde_json::Value = serde_json::from_str(line).unwrap();
        let cross_user: Vec<String> = incident["signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|signal| {
                let group = signal["evidence"]["group"].as_object()?;
                (!group.contains_key("user_id")).then(|| {
                    format!(
                        "{} {}",
                        signal["name"],
                        serde_json::Value::from(group.clone())
                    )
                })
            })
            .collect();
        if cross_user.is_empty() {
            per_user.insert(line.clone());
        } else {
            groups.extend(cross_user);
        }
    }
    (per_user, groups)
}

fn assert_same(expected: &BTreeSet<String>, published: &BTreeSet<String>) {
    let missing: Vec<&String> = expected.difference(published).take(3).collect();
    let extra: Vec<&String> = published.difference(expected).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} revisions from the file, {} from the topic\nmissing: {missing:#?}\nextra: {extra:#?}",
        expected.len(),
        published.len()
    );
}

#[test]
fn malformed_messages_go_to_the_dead_letter_topic_with_their_reason() {
    let Some(brokers) = brokers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::create(&brokers, "dlq", 2);
    let good = |i: u32| {
        format!(
            r#"{{"timestamp":"2026-11-02T09:00:{:02}Z","event_type":"api_access","user_id":"user-{i}","ip_address":"198.51.100.7","tokens_used":10}}"#,
            i % 60
        )
    };
    let mut lines: Vec<String> = (0..20).map(good).collect();
    lines.insert(5, "{not json".to_owned());
    lines.insert(
        10,
        r#"{"timestamp":"2026-11-02T09:00:00Z","event_type":"api_access"}"#.to_owned(),
    );
    lines.insert(15, r#"{"timestamp":"2026-11-02T09:00:00Z","event_type":"api_access","user_id":"u","ip_address":"999.1.1.1"}"#.to_owned());
    let file = dir.path().join("events.jsonl");
    let mut out = std::fs::File::create(&file).unwrap();
    for line in &lines {
        writeln!(out, "{line}").unwrap();
    }
    drop(out);
    produce(&brokers, &topics.events, &file);

    let run = run_until_idle(&topics.config(&brokers, dir.path()));
    let dead = read_topic(&brokers, &topics.dead_letters, 3);

    assert_eq!(
        summary_count(&run, "events"),
        20,
        "every good event is processed"
    );
    assert_eq!(summary_count(&run, "rejected"), 3);
    assert_eq!(dead.len(), 3);
    let reasons: BTreeSet<&str> = dead
        .iter()
        .map(|(_, headers)| {
            headers
                .iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v.as_str())
                .expect("every dead letter names its reason")
        })
        .collect();
    assert_eq!(reasons.len(), 3, "three different reasons: {reasons:?}");
    for (payload, headers) in &dead {
        let payload = String::from_utf8_lossy(payload);
        assert!(
            lines.contains(&payload.to_string()),
            "raw record kept: {payload}"
        );
        for key in ["source_topic", "source_partition", "source_offset", "error"] {
            assert!(
                headers.iter().any(|(k, _)| k == key),
                "{key} missing: {headers:?}"
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `vigil_events_processed_total` as a running vigil serves it on `port`;
/// 0 while it cannot be read yet.
fn events_processed(port: u16) -> u64 {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let mut response = String::new();
    let sent = stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    if sent
        .and_then(|()| stream.read_to_string(&mut response))
        .is_err()
    {
        return 0;
    }
    response
        .lines()
        .filter(|line| line.starts_with("vigil_events_processed_total"))
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

fn stop_with_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_run_stopped_by_sigterm_resumes_without_losing_or_repeating_events() {
    let Some(brokers) = brokers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = generated_file(dir.path(), 150, 10);
    let total = lines_of(&std::fs::read(&events).unwrap()).len() as u64;
    let topics = Topics::create(&brokers, "resume", 3);
    produce(&brokers, &topics.events, &events);
    let config = topics.config(&brokers, dir.path());

    let port = free_port();
    let first = vigil()
        .args(run_args(&config, 60))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = stop_once_under_way(first, port);
    let second = run_until_idle(&config);

    assert_split_between(&first, &second, total);
    assert_eq!(summary_count(&second, "duplicates"), 0);
}

/// Stops the run with SIGTERM as soon as it is under way (joining the
/// group takes a varying time, so a fixed pause could stop it before the
/// first event); returns its output once it exited successfully.
fn stop_once_under_way(run: Child, port: u16) -> Output {
    let started = Instant::now();
    while events_processed(port) == 0 && started.elapsed() < Duration::from_mins(1) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_with_sigterm(&run);
    let output = run.wait_with_output().unwrap();
    assert_succeeded(&output);
    output
}

/// The first run stopped mid-stream, and the two runs processed every
/// event exactly once between them.
fn assert_split_between(first: &Output, second: &Output, total: u64) {
    let (before, after) = (
        summary_count(first, "events"),
        summary_count(second, "events"),
    );
    assert!(
        before > 0 && before < total,
        "stopped mid-stream: {before} of {total}"
    );
    assert_eq!(before + after, total, "every event processed exactly once");
}

#[test]
fn redelivered_events_are_counted_once() {
    let Some(brokers) = brokers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = generated_file(dir.path(), 40, 8);
    let total = lines_of(&std::fs::read(&events).unwrap()).len() as u64;
    let topics = Topics::create(&brokers, "redelivery", 2);
    // Every event twice in a row, as a producer retrying an unacknowledged
    // send delivers it.
    let text = String::from_utf8(std::fs::read(&events).unwrap()).unwrap();
    let doubled: String = text.lines().flat_map(|l| [l, "\n", l, "\n"]).collect();
    let doubled_file = dir.path().join("doubled.jsonl");
    std::fs::write(&doubled_file, doubled).unwrap();
    produce(&brokers, &topics.events, &doubled_file);

    let run = run_until_idle(&topics.config(&brokers, dir.path()));

    assert_eq!(summary_count(&run, "records"), 2 * total);
    assert_eq!(summary_count(&run, "events"), total);
    assert_eq!(summary_count(&run, "duplicates"), total);
}

/// A run of `config` writing its incidents to `incidents`, with the state
/// folder the configuration names.
fn stateful_run(config: &Path, incidents: &Path, idle_exit_secs: u32) -> Command {
    let mut command = vigil();
    command
        .args(["run", "--shards", "2", "--idle-exit-secs"])
        .arg(idle_exit_secs.to_string())
        .arg("--config")
        .arg(config)
        .arg("--incidents")
        .arg(incidents);
    command
}

/// `vigil state show` of a state folder: one JSON line per user.
fn profiles_in(state: &Path) -> String {
    let output = vigil()
        .args(["state", "show", "--dir"])
        .arg(state)
        .output()
        .unwrap();
    assert_succeeded(&output);
    String::from_utf8(output.stdout).unwrap()
}

/// Every user's usage totals, addresses and keys are the same in both
/// state folders; names the first users that differ.
fn assert_same_profiles(resumed: &Path, uninterrupted: &Path) {
    let (resumed, uninterrupted) = (profiles_in(resumed), profiles_in(uninterrupted));
    let (resumed, uninterrupted) = (
        lines_of(resumed.as_bytes()),
        lines_of(uninterrupted.as_bytes()),
    );
    assert!(!uninterrupted.is_empty());
    let differing: Vec<&String> = resumed
        .symmetric_difference(&uninterrupted)
        .take(4)
        .collect();
    assert!(
        differing.is_empty(),
        "{} users after the restart, {} in one run; differing: {differing:#?}",
        resumed.len(),
        uninterrupted.len()
    );
}

/// The last revision of every incident in the files, as JSON lines. A
/// process killed mid-write may leave its last line unfinished; that line
/// (without its newline) is left out, the restarted run writes it again.
fn final_revisions(files: &[&Path]) -> BTreeSet<String> {
    let mut last: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for file in files {
        let text = std::fs::read(file).unwrap();
        let complete = match text.iter().rposition(|b| *b == b'\n') {
            Some(end) => &text[..=end],
            None => &[][..],
        };
        for line in lines_of(complete) {
            let incident: serde_json::Value = serde_json::from_str(&line).unwrap();
            let id = incident["incident_id"].as_str().unwrap().to_owned();
            let revision = incident["revision"].as_u64().unwrap();
            if last.get(&id).is_none_or(|(seen, _)| revision > *seen) {
                last.insert(id, (revision, line));
            }
        }
    }
    last.into_values().map(|(_, line)| line).collect()
}

/// A generated attack stream on a topic of three partitions, and an
/// uninterrupted run over it that keeps its state: what a restarted run
/// must end up equal to.
struct RestartCase {
    dir: tempfile::TempDir,
    brokers: String,
    topics: Topics,
    total: u64,
    snapshot_secs: u64,
    reference: PathBuf,
    whole_state: PathBuf,
}

impl RestartCase {
    fn prepare(brokers: String, name: &str, snapshot_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let events = generated_file(dir.path(), 150, 10);
        let total = lines_of(&std::fs::read(&events).unwrap()).len() as u64;
        let topics = Topics::create(&brokers, name, 3);
        produce(&brokers, &topics.events, &events);
        let mut case = Self {
            reference: dir.path().join("reference.jsonl"),
            dir,
            brokers,
            topics,
            total,
            snapshot_secs,
            whole_state: PathBuf::new(),
        };
        let (config, state) = case.stateful_config("whole");
        let output = stateful_run(&config, &case.reference, 10).output().unwrap();
        assert_succeeded(&output);
        assert_eq!(
            summary_count(&output, "records"),
            total,
            "the uninterrupted run read everything"
        );
        case.whole_state = state;
        case
    }

    /// A configuration with a consumer group and a state folder of its
    /// own; returns it and the state folder.
    fn stateful_config(&self, name: &str) -> (PathBuf, PathBuf) {
        let group = unique(name);
        let state = self.dir.path().join(&group).join("state");
        let section = format!(
            "[state]\ndir = \"{}\"\nsnapshot_interval_secs = {}\n",
            state.display(),
            self.snapshot_secs
        );
        let config = self
            .topics
            .config_for(&self.brokers, self.dir.path(), &group, &section);
        (config, state)
    }

    /// Where a run writes its incidents.
    fn output(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.jsonl"))
    }

    /// The restarted run's state and incidents (over all its outputs)
    /// equal the uninterrupted run's; returns the latter's incidents built
    /// from per-user evidence.
    fn assert_same_as_uninterrupted(&self, state: &Path, outputs: &[&Path]) -> BTreeSet<String> {
        assert_same_profiles(state, &self.whole_state);
        let expected = final_revisions(&[&self.reference]);
        assert!(!expected.is_empty(), "the attacks must produce incidents");
        let resumed = final_revisions(outputs);
        let (whole_users, whole_groups) = split_by_scope(&expected);
        let (resumed_users, resumed_groups) = split_by_scope(&resumed);
        assert_same(&whole_users, &resumed_users);
        assert_eq!(whole_groups, resumed_groups);
        whole_users
    }
}

/// Starts a run that serves its metrics, so the test can see how far
/// it has come; returns it and the port.
fn start_observed(config: &Path, incidents: &Path) -> (Child, u16) {
    let port = free_port();
    let child = stateful_run(config, incidents, 60)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, port)
}

fn run_to_idle(config: &Path, incidents: &Path) -> Output {
    let output = stateful_run(config, incidents, 10).output().unwrap();
    assert_succeeded(&output);
    output
}

#[test]
fn with_snapshots_a_run_stopped_by_sigterm_ends_like_an_uninterrupted_run() {
    let Some(brokers) = brokers() else { return };
    let case = RestartCase::prepare(brokers, "snapshots", 60);
    let (config, state) = case.stateful_config("halves");
    let (first_out, second_out) = (case.output("first"), case.output("second"));

    let (first, port) = start_observed(&config, &first_out);
    let first = stop_once_under_way(first, port);
    let second = run_to_idle(&config, &second_out);

    assert_split_between(&first, &second, case.total);
    case.assert_same_as_uninterrupted(&state, &[&first_out, &second_out]);
}

/// The idempotency keys of the actions a state folder's journal planned,
/// and of those it finished, each with how often.
fn journaled_actions(state: &Path) -> (BTreeMap<String, u32>, BTreeMap<String, u32>) {
    let (mut planned, mut finished) = (BTreeMap::new(), BTreeMap::new());
    let journal = std::fs::read_to_string(state.join("actions.jsonl")).unwrap_or_default();
    for line in journal.lines().filter(|l| l.ends_with('}')) {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        for (kind, counts) in [("planned", &mut planned), ("finished", &mut finished)] {
            if let Some(key) = record[kind]["key"].as_str() {
                *counts.entry(key.to_owned()).or_insert(0) += 1;
            }
        }
    }
    (planned, finished)
}

#[test]
fn after_sigkill_a_restart_from_the_last_snapshot_loses_nothing_and_repeats_nothing() {
    let Some(brokers) = brokers() else { return };
    let case = RestartCase::prepare(brokers, "crash", 1);
    let (config, state) = case.stateful_config("crashed");
    let (first_out, second_out) = (case.output("first"), case.output("second"));

    let (mut first, port) = start_observed(&config, &first_out);
    // A random point past the first snapshot and before the end.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let kill_after = case.total / 4 + u64::from(nanos) % (case.total / 2);
    let snapshot = state.join("snapshot.bin");
    let started = Instant::now();
    while (events_processed(port) < kill_after || !snapshot.exists())
        && started.elapsed() < Duration::from_mins(2)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(snapshot.exists(), "a snapshot was taken before the kill");
    run_to_idle(&config, &second_out);

    let whole_users = case.assert_same_as_uninterrupted(&state, &[&first_out, &second_out]);
    assert_actions_called_once(&state, &case.whole_state, &whole_users);
}

/// The actions a recovered run called for are those of an uninterrupted
/// run (for per-user incidents), each queued and carried out once.
fn assert_actions_called_once(
    recovered: &Path,
    uninterrupted: &Path,
    whole_users: &BTreeSet<String>,
) {
    let (planned, finished) = journaled_actions(recovered);
    let (reference_planned, reference_finished) = journaled_actions(uninterrupted);
    // Incidents of cross-user campaigns may carry another id (see
    // split_by_scope); the actions of per-user incidents must match.
    let per_user_ids: BTreeSet<String> = whole_users
        .iter()
        .map(|line| {
            let incident: serde_json::Value = serde_json::from_str(line).unwrap();
            incident["incident_id"].as_str().unwrap().to_owned()
        })
        .collect();
    // A restart compacts the journal: a finished action keeps only its
    // outcome, so what was called for is what was planned or finished.
    let per_user_actions = |planned: &BTreeMap<String, u32>, finished: &BTreeMap<String, u32>| {
        planned
            .keys()
            .chain(finished.keys())
            .filter(|key| {
                key.split('/')
                    .next()
                    .is_some_and(|id| per_user_ids.contains(id))
            })
            .cloned()
            .collect::<BTreeSet<String>>()
    };
    let expected_actions = per_user_actions(&reference_planned, &reference_finished);
    assert!(!expected_actions.is_empty());
    assert_eq!(
        per_user_actions(&planned, &finished),
        expected_actions,
        "the same actions were called for"
    );
    assert!(
        planned.values().all(|n| *n == 1),
        "an action was queued twice"
    );
    assert!(
        finished.values().all(|n| *n == 1),
        "an action was carried out twice"
    );
}

/// Publishes `payload` to `topic` keyed by `key`, with `headers`.
fn publish_with_headers(
    brokers: &str,
    topic: &str,
    key: &str,
    payload: &str,
    headers: &[(&str, &str)],
) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let mut owned = OwnedHeaders::new();
    for (name, value) in headers {
        owned = owned.insert(Header {
            key: name,
            value: Some(value.as_bytes()),
        });
    }
    let record = BaseRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(owned);
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// The `reason` header of the dead letter holding `user`'s event.
fn dead_letter_reason(dead: &[Received], user: &str) -> String {
    let (_, headers) = dead
        .iter()
        .find(|(payload, _)| {
            String::from_utf8_lossy(payload).contains(&format!(r#""user_id":"{user}""#))
        })
        .unwrap_or_else(|| panic!("no dead letter for {user}"));
    headers
        .iter()
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.clone())
        .expect("every dead letter names its reason")
}

#[test]
fn with_signing_required_forged_and_replayed_messages_are_refused_and_signed_ones_pass() {
    use vigil::event::signing::{SIGNATURE_HEADER, SIGNED_AT_HEADER, SigningKey};

    const KEY: &str = "kafka-signing-key-31d9";
    let Some(brokers) = brokers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics::create(&brokers, "signed", 2);
    let event = |user: &str, second: u32| {
        format!(
            r#"{{"timestamp":"2026-11-02T09:00:{second:02}Z","event_type":"api_access","user_id":"{user}","ip_address":"198.51.100.7","tokens_used":10}}"#
        )
    };
    let genuine: Vec<String> = (0..10).map(|i| event(&format!("user-{i}"), i)).collect();
    let file = dir.path().join("genuine.jsonl");
    std::fs::write(&file, genuine.join("\n") + "\n").unwrap();
    let output = vigil()
        .args([
            "produce",
            "--sign",
            "--brokers",
            &brokers,
            "--topic",
            &topics.events,
            "--input",
        ])
        .arg(&file)
        .env("VIGIL_SIGNING_KEY", KEY)
        .output()
        .unwrap();
    assert_succeeded(&output);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .cast_signed();
    let forged = event("mallory", 30);
    let forged_signature = SigningKey::new(b"guessed").sign(now, forged.as_bytes());
    let now_text = now.to_string();
    publish_with_headers(
        &brokers,
        &topics.events,
        "mallory",
        &forged,
        &[
            (SIGNED_AT_HEADER, &now_text),
            (SIGNATURE_HEADER, &forged_signature),
        ],
    );
    let replayed = event("user-3", 40);
    let old = now - 600;
    let old_signature = SigningKey::new(KEY.as_bytes()).sign(old, replayed.as_bytes());
    publish_with_headers(
        &brokers,
        &topics.events,
        "user-3",
        &replayed,
        &[
            (SIGNED_AT_HEADER, &old.to_string()),
            (SIGNATURE_HEADER, &old_signature),
        ],
    );
    publish_with_headers(&brokers, &topics.events, "eve", &event("eve", 50), &[]);

    let config = topics.config_for(
        &brokers,
        dir.path(),
        &topics.group,
        "[input]\nrequire_signature = true\n",
    );
    let run = vigil()
        .args(run_args(&config, 5))
        .env("VIGIL_SIGNING_KEY", KEY)
        .output()
        .unwrap();
    assert_succeeded(&run);
    assert_eq!(
        summary_count(&run, "events"),
        10,
        "every signed event passes"
    );
    assert_eq!(summary_count(&run, "rejected"), 3);

    let dead = read_topic(&brokers, &topics.dead_letters, 3);
    let reason_of = |user: &str| dead_letter_reason(&dead, user);
    assert_eq!(reason_of("mallory"), "bad_signature");
    assert_eq!(reason_of("user-3"), "stale_signature");
    assert_eq!(reason_of("eve"), "missing_signature");
}
