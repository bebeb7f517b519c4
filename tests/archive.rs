//! End-to-end tests of the archive: a generated run archived by `vigil
//! run`, then hunted with `vigil query`, erased with `vigil forget`,
//! pruned by retention, pseudonymised, and reported on.

#![cfg(feature = "archive")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn vigil(args: &[&str]) -> Output {
    vigil_with_env(args, &[])
}

fn vigil_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(VIGIL);
    command.args(args).env_remove("VIGIL_ARCHIVE_PSEUDONYM_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("vigil starts")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "vigil failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

/// A generated input archived by one `vigil run`, shared by the tests
/// that only read it.
struct Archived {
    dir: PathBuf,
    events: Vec<Value>,
    incidents: Vec<Value>,
}

impl Archived {
    fn archive(&self) -> PathBuf {
        self.dir.join("archive")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("vigil.toml")
    }
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    let text = format!(
        "[archive]\npath = \"{}\"\n{extra}\n[audit]\npath = \"{}\"\n",
        dir.join("archive").display(),
        dir.join("audit.jsonl").display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn generate(dir: &Path, users: &str, days: &str) -> PathBuf {
    let events = dir.join("events.jsonl");
    let out = vigil(&[
        "gen",
        "--users",
        users,
        "--days",
        days,
        "--seed",
        "3",
        "--attacks",
    ]);
    std::fs::write(&events, ok(&out)).unwrap();
    events
}

fn run_archive(dir: &Path, events: &Path, env: &[(&str, &str)]) {
    let config = dir.join("vigil.toml");
    let incidents = dir.join("incidents.jsonl");
    let out = vigil_with_env(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--input",
            events.to_str().unwrap(),
            "--incidents",
            incidents.to_str().unwrap(),
        ],
        env,
    );
    ok(&out);
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn archived() -> &'static Archived {
    static ARCHIVED: OnceLock<Archived> = OnceLock::new();
    ARCHIVED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        write_config(&dir, "");
        let events = generate(&dir, "50", "10");
        run_archive(&dir, &events, &[]);
        Archived {
            events: json_lines(&events),
            incidents: json_lines(&dir.join("incidents.jsonl")),
            dir,
        }
    })
}

/// A private copy of the shared archive, for tests that change it.
fn copy_of_archived() -> tempfile::TempDir {
    let source = archived();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&source.archive(), &dir.path().join("archive"));
    write_config(dir.path(), "");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `sql` with `--format json` and returns the rows.
fn query(config: &Path, sql: &str) -> Vec<Value> {
    let out = vigil(&[
        "query",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        sql,
    ]);
    ok(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            found.push(path);
        }
    }
    found
}

fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

#[test]
fn event_counts_by_type_match_the_input() {
    let archived = archived();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for event in &archived.events {
        *expected.entry(text(event, "event_type")).or_default() += 1;
    }
    let rows = query(
        &archived.config(),
        "SELECT event_type, count(*) AS n FROM events GROUP BY event_type",
    );
    let found: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| (text(r, "event_type"), r["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn the_addresses_of_one_user_match_the_input() {
    let archived = archived();
    let user = text(&archived.events[0], "user_id");
    let expected: BTreeSet<String> = archived
        .events
        .iter()
        .filter(|e| text(e, "user_id") == user)
        .filter_map(|e| e["ip_address"].as_str().map(str::to_owned))
        .collect();
    let sql = format!(
        "SELECT DISTINCT ip_address FROM events WHERE user_id = '{user}' AND ip_address IS NOT NULL"
    );
    let found: BTreeSet<String> = query(&archived.config(), &sql)
        .iter()
        .map(|r| text(r, "ip_address"))
        .collect();
    assert!(expected.len() > 1, "the user has several addresses");
    assert_eq!(found, expected);
}

#[test]
fn the_incidents_of_one_day_match_the_incidents_output() {
    let archived = archived();
    let mut by_day: BTreeMap<String, BTreeSet<(String, u64)>> = BTreeMap::new();
    for incident in &archived.incidents {
        let day = text(incident, "first_seen")[..10].to_owned();
        let revision = (
            text(incident, "incident_id"),
            incident["revision"].as_u64().unwrap(),
        );
        by_day.entry(day).or_default().insert(revision);
    }
    let (day, expected) = by_day
        .iter()
        .max_by_key(|(_, revisions)| revisions.len())
        .expect("the run raised incidents");
    let sql = format!("SELECT incident_id, revision FROM incidents WHERE date = '{day}'");
    let found: BTreeSet<(String, u64)> = query(&archived.config(), &sql)
        .iter()
        .map(|r| (text(r, "incident_id"), r["revision"].as_u64().unwrap()))
        .collect();
    assert_eq!(&found, expected);
}

#[test]
fn bad_sql_exits_2_and_names_the_problem() {
    let archived = archived();
    let config = archived.config();
    let out = vigil(&[
        "query",
        "--config",
        config.to_str().unwrap(),
        "SELECT colour FROM events",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(
        stderr.contains("event_type"),
        "lists the columns that exist: {stderr}"
    );

    let out = vigil(&["query", "--config", config.to_str().unwrap(), "SELEC 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SELEC"));
}

#[test]
fn a_date_filter_reads_only_that_days_partition() {
    let dir = copy_of_archived();
    let config = dir.path().join("vigil.toml");
    let days: Vec<String> = query(&config, "SELECT DISTINCT date FROM events ORDER BY date")
        .iter()
        .map(|r| text(r, "date"))
        .collect();
    assert!(days.len() > 3);
    let day = &days[2];
    let expected = query(
        &config,
        &format!("SELECT count(*) AS n FROM events WHERE date = '{day}'"),
    );

    let plan = query(
        &config,
        &format!("EXPLAIN SELECT count(*) FROM events WHERE date = '{day}' AND success"),
    );
    let plan_text = plan.iter().map(|r| text(r, "plan")).collect::<String>();
    assert!(plan_text.contains(&format!("date={day}")), "{plan_text}");
    for other in days.iter().filter(|d| *d != day) {
        assert!(
            !plan_text.contains(&format!("date={other}")),
            "{other} is scanned: {plan_text}"
        );
    }

    // Ruin every other day's files: the filtered query must not notice.
    for file in parquet_files(&dir.path().join("archive/events")) {
        if !file.to_string_lossy().contains(&format!("date={day}")) {
            std::fs::write(&file, b"not parquet").unwrap();
        }
    }
    let after = query(
        &config,
        &format!("SELECT count(*) AS n FROM events WHERE date = '{day}'"),
    );
    assert_eq!(after, expected);
    let unfiltered = vigil(&[
        "query",
        "--config",
        config.to_str().unwrap(),
        "SELECT count(*) FROM events WHERE success",
    ]);
    assert!(
        !unfiltered.status.success(),
        "other days' files are read without the filter"
    );
}

#[test]
fn forget_removes_every_trace_of_a_user_and_is_audited() {
    let dir = copy_of_archived();
    let config = dir.path().join("vigil.toml");
    let archive = dir.path().join("archive");
    let user = "usr_568cfc";
    let counts = |config: &Path| -> BTreeMap<String, u64> {
        query(
            config,
            "SELECT user_id, count(*) AS n FROM events GROUP BY user_id",
        )
        .iter()
        .map(|r| (text(r, "user_id"), r["n"].as_u64().unwrap()))
        .collect()
    };
    let before = counts(&config);
    assert!(before.contains_key(user), "the generated input has {user}");
    let incidents_before = query(
        &config,
        &format!("SELECT incident_id FROM incidents WHERE user_id = '{user}'"),
    );
    assert!(
        !incidents_before.is_empty(),
        "{user} has incidents to erase"
    );

    let out = ok(&vigil(&[
        "forget",
        "--user",
        user,
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(out.contains("events:"), "{out}");

    for file in parquet_files(&archive) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains_bytes(&bytes, user),
            "{} still names {user}",
            file.display()
        );
    }
    let mut after = counts(&config);
    assert_eq!(after.remove(user), None);
    let mut expected = before.clone();
    expected.remove(user);
    assert_eq!(after, expected, "other users' events are intact");
    let left = query(
        &config,
        &format!("SELECT count(*) AS n FROM incidents WHERE user_id = '{user}'"),
    );
    assert_eq!(left[0]["n"], 0);

    let audit_log = dir.path().join("audit.jsonl");
    let log = std::fs::read_to_string(&audit_log).unwrap();
    assert!(log.contains("\"kind\":\"erasure\""), "{log}");
    assert!(
        !log.contains(user),
        "the audit record keeps a digest, not the id"
    );
    ok(&vigil(&["audit", "verify", audit_log.to_str().unwrap()]));
}

#[test]
fn retention_removes_partitions_older_than_the_period() {
    let dir = copy_of_archived();
    let archive = dir.path().join("archive/events");
    let newest = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let old = today - chrono::Days::new(100);
    let recent = today - chrono::Days::new(10);
    let old_dir = archive.join(format!("date={}", old.format("%Y-%m-%d")));
    let recent_dir = archive.join(format!("date={}", recent.format("%Y-%m-%d")));
    copy_dir(&newest, &old_dir);
    copy_dir(&newest, &recent_dir);
    let config = write_config(dir.path(), "retention_days = 90");

    let out = ok(&vigil(&[
        "archive",
        "prune",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(out.contains("removed 1 partitions"), "{out}");
    assert!(!old_dir.exists(), "a partition past the period is removed");
    assert!(recent_dir.exists(), "a partition within the period stays");

    let audit_log = dir.path().join("audit.jsonl");
    let log = std::fs::read_to_string(&audit_log).unwrap();
    assert!(log.contains("\"kind\":\"retention\""), "{log}");
    ok(&vigil(&["audit", "verify", audit_log.to_str().unwrap()]));
}

#[test]
fn a_pseudonymised_archive_holds_no_user_id_and_keeps_pseudonyms_across_runs() {
    let key = [("VIGIL_ARCHIVE_PSEUDONYM_KEY", "test key, not a secret")];
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let events = generate(first.path(), "20", "9");
    let mut users = BTreeSet::new();
    for event in json_lines(&events) {
        users.insert(text(&event, "user_id"));
    }
    for dir in [&first, &second] {
        write_config(dir.path(), "pseudonymize_users = true");
        run_archive(dir.path(), &events, &key);
    }
    for file in parquet_files(&first.path().join("archive")) {
        let bytes = std::fs::read(&file).unwrap();
        for user in &users {
            assert!(
                !contains_bytes(&bytes, user),
                "{} names {user}",
                file.display()
            );
        }
    }
    let sql = "SELECT DISTINCT user_id FROM events ORDER BY user_id";
    let pseudonyms = |dir: &Path| -> Vec<String> {
        query(&dir.join("vigil.toml"), sql)
            .iter()
            .map(|r| text(r, "user_id"))
            .collect()
    };
    let once = pseudonyms(first.path());
    assert_eq!(once.len(), users.len());
    assert!(once.iter().all(|p| p.starts_with("psn_")));
    assert_eq!(once, pseudonyms(second.path()), "same key, same pseudonyms");

    let without_key = vigil(&[
        "run",
        "--config",
        first.path().join("vigil.toml").to_str().unwrap(),
        "--input",
        events.to_str().unwrap(),
        "--incidents",
        "/dev/null",
    ]);
    assert_eq!(
        without_key.status.code(),
        Some(2),
        "no key is a configuration error"
    );
}

#[test]
fn action_and_audit_rows_are_written_and_queryable() {
    use vigil::archive::{ActionRow, Archive, ArchiveQuery, AuditRow};
    use vigil::audit::{AuditKind, AuditLog};
    use vigil::config::ArchiveConfig;

    let dir = tempfile::tempdir().unwrap();
    let config = ArchiveConfig {
        path: dir.path().join("archive").display().to_string(),
        retention_days: 0,
        pseudonymize_users: false,
    };
    let mut log = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
    log.append(
        AuditKind::ActionAttempt,
        &serde_json::json!({"action": "block_ip"}),
    )
    .unwrap();
    log.append(
        AuditKind::ActionAttempt,
        &serde_json::json!({"action": "email"}),
    )
    .unwrap();
    drop(log);
    let lines = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();

    let archive = Archive::open(&config, None).unwrap();
    let recorder = archive.recorder();
    let at = chrono::Utc::now();
    for (attempt, outcome) in [(1, "retrying"), (2, "failed"), (3, "succeeded")] {
        recorder.action(ActionRow {
            at,
            incident_id: "INC-1".to_owned(),
            action: "revoke_api_key".to_owned(),
            target: "ak_7f3c".to_owned(),
            attempt,
            outcome: outcome.to_owned(),
            error: (outcome != "succeeded").then(|| "gateway timed out".to_owned()),
            duration_ms: 12.5,
            dry_run: false,
        });
    }
    for line in lines.lines() {
        recorder.audit(AuditRow::from_line(line).expect("an audit record"));
    }
    archive.finish().unwrap();

    let query = ArchiveQuery::open(&dir.path().join("archive")).unwrap();
    let batches = query
        .sql("SELECT outcome, attempt, error FROM actions ORDER BY attempt")
        .unwrap();
    let printed = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(
        printed.contains("retrying") && printed.contains("succeeded"),
        "{printed}"
    );
    assert!(printed.contains("gateway timed out"), "{printed}");
    let batches = query
        .sql("SELECT seq, kind, data FROM audit ORDER BY seq")
        .unwrap();
    let printed = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(
        printed.contains("action_attempt") && printed.contains("block_ip"),
        "{printed}"
    );
    assert_eq!(
        batches
            .iter()
            .map(arrow::array::RecordBatch::num_rows)
            .sum::<usize>(),
        2
    );
}

/// A month of generated traffic with attacks, archived, with the attack
/// kinds its labels name.
struct Month {
    dir: PathBuf,
    kinds: BTreeSet<String>,
    from: String,
    to: String,
}

fn month() -> &'static Month {
    static MONTH: OnceLock<Month> = OnceLock::new();
    MONTH.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        write_config(&dir, "");
        let events = dir.join("events.jsonl");
        let labels = dir.join("labels.jsonl");
        let out = vigil(&[
            "gen",
            "--users",
            "100",
            "--days",
            "30",
            "--seed",
            "5",
            "--attacks",
            "--labels",
            labels.to_str().unwrap(),
        ]);
        std::fs::write(&events, ok(&out)).unwrap();
        run_archive(&dir, &events, &[]);
        let kinds = json_lines(&labels)
            .iter()
            .map(|label| text(label, "attack"))
            .collect();
        let days: BTreeSet<String> = json_lines(&events)
            .iter()
            .map(|e| text(e, "timestamp")[..10].to_owned())
            .collect();
        Month {
            dir,
            kinds,
            from: days.first().unwrap().clone(),
            to: days.last().unwrap().clone(),
        }
    })
}

/// Where each injected attack kind shows in a report: the incident type
/// or the detector or rule that catches it.
fn evidence_of(kind: &str) -> &'static str {
    match kind {
        "key_theft" => "api_key_compromise",
        "runaway_usage" => "usage_spike",
        "off_hours" => "off_hours",
        "rate_abuse" => "ddos_attack",
        "leaked_key" => "leaked_secret",
        "brute_force" => "vigil-brute-force-login",
        "credential_stuffing" => "vigil-credential-stuffing",
        "password_spraying" => "vigil-password-spraying",
        other => panic!("no expectation for attack kind {other}"),
    }
}

#[test]
fn the_report_of_a_month_names_the_injected_attacks() {
    let month = month();
    let config = month.dir.join("vigil.toml");
    let out = ok(&vigil(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--from",
        &month.from,
        "--to",
        &month.to,
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&out).unwrap();
    let mut named: BTreeSet<String> = BTreeSet::new();
    for list in ["incidents_by_type", "top_signals"] {
        for entry in report[list].as_array().unwrap() {
            named.insert(text(entry, "name"));
        }
    }
    assert!(
        month.kinds.len() >= 6,
        "the month has most attack kinds: {:?}",
        month.kinds
    );
    for kind in &month.kinds {
        let evidence = evidence_of(kind);
        assert!(
            named.contains(evidence),
            "{kind}: {evidence} missing from {named:?}"
        );
    }
    let score = report["score"].as_u64().unwrap();
    assert!(score <= 100);
    assert!(!report["recommendations"].as_array().unwrap().is_empty());
    let per_day = report["incidents_per_day"].as_array().unwrap();
    assert!(per_day.len() >= 30, "every day of the month is listed");
    let markdown = ok(&vigil(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--from",
        &month.from,
        "--to",
        &month.to,
    ]));
    assert!(markdown.contains("# Security report") && markdown.contains("api_key_compromise"));
}

/// Counts pixels within a small distance of `colour`.
fn pixels_near(image: &[u8], channels: usize, colour: (u8, u8, u8)) -> usize {
    image
        .chunks_exact(channels)
        .filter(|p| {
            p[0].abs_diff(colour.0) <= 12
                && p[1].abs_diff(colour.1) <= 12
                && p[2].abs_diff(colour.2) <= 12
        })
        .count()
}

fn hex_colour(hex: &str) -> (u8, u8, u8) {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    (byte(1), byte(3), byte(5))
}

#[test]
fn the_html_report_renders_its_charts_in_a_browser() {
    let browser = Path::new("/usr/bin/chromium");
    if !browser.exists() {
        assert!(
            std::env::var("VIGIL_SKIP_BROWSER_TESTS").as_deref() == Ok("1"),
            "Chromium is missing (apt-get install -y chromium); set VIGIL_SKIP_BROWSER_TESTS=1 \
             to skip this test"
        );
        return;
    }
    let month = month();
    let config = month.dir.join("vigil.toml");
    let page = month.dir.join("report.html");
    ok(&vigil(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--from",
        &month.from,
        "--to",
        &month.to,
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(
        !html.contains("https://") && !html.contains("src="),
        "no network resources"
    );

    let profile = tempfile::tempdir().unwrap();
    let shot = month.dir.join("report.png");
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600",
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("chromium starts");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut image = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut image).unwrap();
    let channels = info.color_type.samples();
    let image = &image[..info.buffer_size()];
    let day_bars = pixels_near(
        image,
        channels,
        hex_colour(vigil::archive::report::DAY_BAR_COLOUR),
    );
    assert!(
        day_bars > 2_000,
        "incidents-per-day chart shows {day_bars} bar pixels"
    );
    let mut severities = 0;
    let mut severity_pixels = 0;
    for (name, colour) in vigil::archive::report::SEVERITY_COLOURS {
        let found = pixels_near(image, channels, hex_colour(colour));
        if found > 100 {
            severities += 1;
        }
        severity_pixels += found;
        eprintln!("{name}: {found} pixels");
    }
    assert!(
        severities >= 3,
        "severity chart shows {severities} coloured bars"
    );
    assert!(
        severity_pixels > 5_000,
        "severity chart shows {severity_pixels} bar pixels"
    );
}
