//! Response actions end to end, through the `vigil` binary: key revocation
//! and the signed webhook against a real HTTP server on loopback (with
//! retries), exactly-once delivery across a restart, the blocklist's time
//! to live and allowlist, tamper detection in the audit log, and the roles
//! of the `/v1` API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const GATEWAY_TOKEN: &str = "gw-test-token";
const WEBHOOK_SECRET: &str = "hook-test-secret";
const VIEWER: &str = "viewer-test-token";
const RESPONDER: &str = "responder-test-token";
const ADMIN: &str = "admin-test-token";

/// A full key that leaks into an event: a critical key compromise.
const LEAKED: &str = "ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e";

fn vigil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .env("VIGIL_GATEWAY_TOKEN", GATEWAY_TOKEN)
        .env("VIGIL_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("VIGIL_API_VIEWER_TOKEN", VIEWER)
        .env("VIGIL_API_RESPONDER_TOKEN", RESPONDER)
        .env("VIGIL_API_ADMIN_TOKEN", ADMIN)
        .env("VIGIL_LOG", "warn");
    command
}

/// One request the test server received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// An HTTP server on loopback that records every request and answers
/// with the statuses of `script` in turn (then 200), each after `delay`.
#[derive(Clone)]
struct Target {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Target {
    fn start(script: Vec<u16>, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        let script = Arc::new(Mutex::new(script.into_iter()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (record, script) = (Arc::clone(&record), Arc::clone(&script));
                std::thread::spawn(move || serve_one(stream, &record, &script, delay));
            }
        });
        Self { port, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self, prefix: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn serve_one(
    stream: TcpStream,
    record: &Mutex<Vec<Received>>,
    script: &Mutex<std::vec::IntoIter<u16>>,
    delay: Duration,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    record.lock().unwrap().push(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    std::thread::sleep(delay);
    let status = script.lock().unwrap().next().unwrap_or(200);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// One JSON event line.
fn event(fields: &Value) -> String {
    let mut event = json!({
        "timestamp": "2026-11-02T09:00:00Z",
        "event_type": "api_access",
        "user_id": "alice",
        "ip_address": "198.51.100.7",
        "api_key_id": "ak_7f3c",
        "endpoint": "/v1/chat",
    });
    for (key, value) in fields.as_object().unwrap() {
        event[key] = value.clone();
    }
    format!("{event}\n")
}

/// Events in which `user`'s full key leaks: one critical key compromise.
fn leak_for(user: &str, key_id: &str, minute: u32) -> String {
    event(&json!({
        "user_id": user,
        "api_key_id": key_id,
        "timestamp": format!("2026-11-02T09:{minute:02}:00Z"),
        "details": {"prompt": format!("please debug my client, key {LEAKED}")},
    }))
}

/// Twelve refused logins for `user` from `ip` within two minutes: the
/// brute-force rule's unauthorized access.
fn brute_force(user: &str, ip: &str) -> String {
    (0..12)
        .map(|n| {
            event(&json!({
                "event_type": "authentication",
                "auth_event_type": "login",
                "success": false,
                "status_code": 401,
                "user_id": user,
                "ip_address": ip,
                "timestamp": format!("2026-11-02T10:00:{:02}Z", n * 5),
                "details": {"failure_reason": "invalid_password"},
            }))
        })
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `vigil.toml` with the state, audit log and email outbox in
    /// the temporary folder, `response` keys added to `[response]`, and
    /// `extra` sections.
    fn config(&self, response: &str, extra: &str) -> PathBuf {
        let email = format!(
            "outbox_dir = {:?}\nsecurity_team = [\"soc@example.com\"]",
            self.path("outbox").display().to_string()
        );
        self.config_with_email(response, &email, extra)
    }

    /// As [`Setup::config`], with `email` as the `[email]` keys.
    fn config_with_email(&self, response: &str, email: &str, extra: &str) -> PathBuf {
        let text = format!(
            "[state]\ndir = {state:?}\n\n[audit]\npath = {audit:?}\n\n[email]\n{email}\n\n\
             [response]\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\ndrain_secs = 20\n\
             {response}\n\n{extra}",
            state = self.path("state").display().to_string(),
            audit = self.path("audit.jsonl").display().to_string(),
        );
        let path = self.path("vigil.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn input(&self, text: &str) -> PathBuf {
        let path = self.path("events.jsonl");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn run_file(config: &Path, input: &Path) -> std::process::Output {
    let output = vigil()
        .args(["run", "--no-rules", "--incidents", "-", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vigil run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn attempts_of(audit: &[Value], action: &str) -> Vec<Value> {
    audit
        .iter()
        .filter(|r| r["kind"] == "action_attempt" && r["data"]["action"] == action)
        .map(|r| r["data"].clone())
        .collect()
}

#[test]
fn a_failing_gateway_is_retried_until_the_key_is_revoked_once() {
    let setup = Setup::new();
    let target = Target::start(vec![503, 503], Duration::ZERO);
    let config = setup.config(
        "",
        &format!(
            "[gateway]\nrevoke_url = {:?}\n",
            target.url("/admin/keys/{api_key_id}/revoke")
        ),
    );
    run_file(&config, &setup.input(&leak_for("alice", "ak_7f3c", 0)));

    let calls = target.requests("/admin/keys/");
    assert_eq!(calls.len(), 3, "two refusals, then success: {calls:?}");
    assert!(calls.iter().all(|c| c.path == "/admin/keys/ak_7f3c/revoke"));
    let keys: Vec<&String> = calls
        .iter()
        .map(|c| &c.headers["idempotency-key"])
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] == w[1]),
        "one idempotency key: {keys:?}"
    );
    assert_eq!(
        calls[0].headers["authorization"],
        format!("Bearer {GATEWAY_TOKEN}")
    );
    let attempts = attempts_of(&setup.audit(), "revoke_api_key");
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retrying", "retrying", "succeeded"]);
    assert!(
        !std::fs::read_to_string(setup.path("audit.jsonl"))
            .unwrap()
            .contains("Zx81mQ0p"),
        "the leaked key is redacted in the audit log"
    );
}

#[test]
fn the_webhook_is_signed_over_its_timestamp_and_body() {
    let setup = Setup::new();
    let target = Target::start(Vec::new(), Duration::ZERO);
    let config = setup.config("", &format!("[webhook]\nurl = {:?}\n", target.url("/hook")));
    run_file(&config, &setup.input(&leak_for("alice", "ak_7f3c", 0)));

    let hooks = target.requests("/hook");
    assert_eq!(
        hooks.len(),
        1,
        "the critical incident escalates once: {hooks:?}"
    );
    let hook = &hooks[0];
    let timestamp: i64 = hook.headers["x-vigil-timestamp"].parse().unwrap();
    let expected = vigil::respond::sign(WEBHOOK_SECRET, timestamp, hook.body.as_bytes());
    assert_eq!(hook.headers["x-vigil-signature"], expected);
    let forged = vigil::respond::sign("not-the-secret", timestamp, hook.body.as_bytes());
    assert_ne!(hook.headers["x-vigil-signature"], forged);
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["action"], "escalate");
    assert_eq!(body["incident"]["type"], "api_key_compromise");
    assert!(
        !hook.body.contains("Zx81mQ0p"),
        "no full key in the webhook"
    );
}

#[test]
fn a_restart_in_the_middle_of_pending_actions_runs_each_once() {
    let setup = Setup::new();
    let target = Target::start(Vec::new(), Duration::from_millis(700));
    let config = setup.config(
        "concurrency = 1",
        &format!(
            "[gateway]\nrevoke_url = {:?}\n",
            target.url("/admin/keys/{api_key_id}/revoke")
        ),
    );
    let users = ["ann", "bob", "cid", "dee", "eve"];
    let input: String = users
        .iter()
        .enumerate()
        .map(|(n, user)| leak_for(user, &format!("ak_{user}1"), u32::try_from(n).unwrap()))
        .collect();
    let input = setup.input(&input);

    let mut first = vigil()
        .args(["run", "--no-rules", "--incidents", "/dev/null", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), || {
        !target.requests("/admin").is_empty()
    });
    terminate(&first);
    assert!(first.wait().unwrap().success());
    let before = target.requests("/admin").len();
    assert!(
        before < users.len(),
        "the first run was stopped with actions pending"
    );

    run_file(&config, &input);
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for call in target.requests("/admin") {
        *per_key.entry(call.path).or_default() += 1;
    }
    assert_eq!(per_key.len(), users.len(), "every key revoked: {per_key:?}");
    assert!(per_key.values().all(|n| *n == 1), "none twice: {per_key:?}");
}

#[test]
fn the_blocklist_serves_an_attacker_until_its_ttl_and_never_an_allowlisted_address() {
    let setup = Setup::new();
    let config = setup.config(
        "allow_ips = [\"10.0.0.0/8\"]",
        "[blocklist]\nttl_secs = 3\nmax_ttl_secs = 3\n",
    );
    let (mut child, stdin, port) = serving(&config);
    let mut stdin = stdin;
    stdin
        .write_all(brute_force("victim", "203.0.113.50").as_bytes())
        .unwrap();
    stdin
        .write_all(brute_force("other", "10.1.2.3").as_bytes())
        .unwrap();
    stdin.flush().unwrap();

    let blocked = wait_for(Duration::from_secs(20), || {
        let (status, body) = request(port, "GET", "/v1/blocklist", Some(VIEWER), None)?;
        (status == 200 && body.contains("203.0.113.50")).then_some(body)
    });
    assert!(blocked.is_some(), "the attacker is blocked");
    let (_, json_list) =
        request(port, "GET", "/v1/blocklist?format=json", Some(VIEWER), None).unwrap();
    let list: Vec<Value> = serde_json::from_str(&json_list).unwrap();
    assert!(
        list.iter().all(|b| b["ip"] != "10.1.2.3"),
        "allowlisted: {list:?}"
    );
    let incidents = request(port, "GET", "/v1/incidents", Some(VIEWER), None)
        .unwrap()
        .1;
    assert!(
        incidents.contains("10.1.2.3"),
        "the allowlisted address's incident is recorded"
    );
    assert!(
        incidents.contains("\"suppressed\""),
        "its actions are suppressed"
    );

    let expired = wait_for(Duration::from_secs(10), || {
        let (_, body) = request(port, "GET", "/v1/blocklist", Some(VIEWER), None)?;
        (!body.contains("203.0.113.50")).then_some(())
    });
    assert!(expired.is_some(), "the block ends after its time to live");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn tampering_with_one_audit_record_is_reported_at_that_record() {
    let setup = Setup::new();
    let config = setup.config("", "");
    run_file(&config, &setup.input(&leak_for("alice", "ak_7f3c", 0)));
    let path = setup.path("audit.jsonl");
    let verify = || {
        vigil()
            .args(["audit", "verify"])
            .arg(&path)
            .output()
            .unwrap()
    };
    assert!(verify().status.success());

    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() >= 3, "revision, plans and attempts are audited");
    let target = lines
        .iter()
        .rposition(|line| line.contains("\"user_id\":\"alice\""))
        .expect("a revision names the user");
    assert!(target + 1 < lines.len(), "a record follows the altered one");
    lines[target] = lines[target].replacen("\"alice\"", "\"mallory\"", 1);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let output = verify();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&format!("line {}:", target + 1)),
        "{message}"
    );
}

#[test]
fn each_api_role_may_do_what_it_may_and_no_more() {
    let setup = Setup::new();
    let config = setup.config("", "");
    let (mut child, mut stdin, port) = serving(&config);
    stdin
        .write_all(leak_for("alice", "ak_7f3c", 0).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let id = wait_for(Duration::from_secs(20), || {
        let (_, body) = request(port, "GET", "/v1/incidents", Some(VIEWER), None)?;
        let list: Vec<Value> = serde_json::from_str(&body).ok()?;
        list.first()?["incident_id"].as_str().map(str::to_owned)
    })
    .expect("the leak opens an incident");

    let status = |method: &str, path: &str, token: Option<&str>, body: Option<&Value>| {
        request(port, method, path, token, body).map(|(status, _)| status)
    };
    for path in ["/v1/incidents", "/v1/blocklist", "/v1/silences"] {
        assert_eq!(
            status("GET", path, None, None),
            Some(401),
            "{path} without a token"
        );
        assert_eq!(
            status("GET", path, Some("wrong"), None),
            Some(401),
            "{path}"
        );
        assert_eq!(status("GET", path, Some(VIEWER), None), Some(200), "{path}");
    }
    let resolve = format!("/v1/incidents/{id}/resolve");
    assert_eq!(status("POST", &resolve, Some(VIEWER), None), Some(403));
    assert_eq!(status("POST", &resolve, Some(RESPONDER), None), Some(200));
    assert_eq!(
        status("POST", &resolve, Some(ADMIN), None),
        Some(409),
        "already resolved"
    );

    let silence = json!({
        "match": {"signal": "novel_ip", "user_id": "alice"},
        "duration_secs": 3600,
        "reason": "travelling"
    });
    assert_eq!(
        status("POST", "/v1/silences", Some(VIEWER), Some(&silence)),
        Some(403)
    );
    assert_eq!(
        status("POST", "/v1/silences", Some(RESPONDER), Some(&silence)),
        Some(201)
    );

    let block = json!({"ip": "192.0.2.77", "ttl_secs": 600, "reason": "seen in a phishing kit"});
    assert_eq!(
        status("POST", "/v1/blocklist", Some(RESPONDER), Some(&block)),
        Some(403)
    );
    assert_eq!(
        status("POST", "/v1/blocklist", Some(ADMIN), Some(&block)),
        Some(201)
    );
    assert_eq!(
        status("DELETE", "/v1/blocklist/192.0.2.77", Some(VIEWER), None),
        Some(403)
    );
    assert_eq!(
        status("DELETE", "/v1/blocklist/192.0.2.77", Some(RESPONDER), None),
        Some(204)
    );

    drop(stdin);
    assert!(child.wait().unwrap().success());
    let audit = setup.audit();
    let kinds: Vec<&str> = audit.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in ["incident_resolved", "silence_changed", "blocklist_changed"] {
        assert!(kinds.contains(&kind), "{kind} is audited: {kinds:?}");
    }
    let resolved = audit
        .iter()
        .find(|r| r["kind"] == "incident_resolved")
        .unwrap();
    assert_eq!(resolved["data"]["by"], "responder");
}

/// Starts `vigil run` on stdin with the API on a free port; stdin stays
/// open so the process keeps serving.
fn serving(config: &Path) -> (Child, ChildStdin, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = vigil()
        .args(["run", "--incidents", "/dev/null", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let up = wait_for(Duration::from_secs(20), || {
        request(port, "GET", "/healthz", None, None).map(|_| ())
    });
    assert!(up.is_some(), "vigil serves its API");
    (child, stdin, port)
}

/// One HTTP/1.0 request; the status and the body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn wait_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(found) = probe() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    assert!(
        wait_for(limit, || done().then_some(())).is_some(),
        "timed out"
    );
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_dry_run_records_what_would_be_done_and_does_nothing() {
    let setup = Setup::new();
    let target = Target::start(Vec::new(), Duration::ZERO);
    let config = setup.config(
        "",
        &format!(
            "[gateway]\nrevoke_url = {:?}\n\n[webhook]\nurl = {:?}\n",
            target.url("/admin/keys/{api_key_id}/revoke"),
            target.url("/hook")
        ),
    );
    let output = vigil()
        .args([
            "run",
            "--no-rules",
            "--dry-run",
            "--incidents",
            "-",
            "--config",
        ])
        .arg(&config)
        .arg("--input")
        .arg(setup.input(&leak_for("alice", "ak_7f3c", 0)))
        .output()
        .unwrap();
    assert!(output.status.success());

    assert!(target.requests("/").is_empty(), "nothing was called");
    assert!(!setup.path("outbox").exists(), "no email was written");
    let incidents = String::from_utf8(output.stdout).unwrap();
    let last: Value = serde_json::from_str(incidents.lines().last().unwrap()).unwrap();
    let actions = last["actions"].as_array().unwrap();
    assert!(
        actions.len() >= 3,
        "revoke, email, escalations: {actions:?}"
    );
    assert!(actions.iter().all(|a| a["status"] == "dry_run"));
    let audit = setup.audit();
    assert!(
        audit
            .iter()
            .any(|r| r["kind"] == "action_planned" && r["data"]["status"] == "dry_run")
    );
    assert!(attempts_of(&audit, "revoke_api_key").is_empty());
}

#[test]
fn a_silenced_detector_opens_no_incident_for_its_user_only() {
    let setup = Setup::new();
    let config = setup.config("", "");
    let (mut child, mut stdin, port) = serving(&config);
    let silence = json!({
        "match": {"signal": "leaked_secret", "user_id": "alice"},
        "duration_secs": 600,
        "reason": "a test key published on purpose"
    });
    let added = request(
        port,
        "POST",
        "/v1/silences",
        Some(RESPONDER),
        Some(&silence),
    );
    assert_eq!(added.map(|(status, _)| status), Some(201));
    stdin
        .write_all(leak_for("alice", "ak_alice1", 0).as_bytes())
        .unwrap();
    stdin
        .write_all(leak_for("bob", "ak_bob1", 1).as_bytes())
        .unwrap();
    stdin.flush().unwrap();

    let users = wait_for(Duration::from_secs(20), || {
        let (_, body) = request(port, "GET", "/v1/incidents", Some(VIEWER), None)?;
        let list: Vec<Value> = serde_json::from_str(&body).ok()?;
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|i| i["user_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
    });
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert_eq!(users, Some(vec!["bob".to_owned()]));
}

#[test]
fn a_bad_playbook_stops_the_run_naming_its_line_and_value() {
    let setup = Setup::new();
    let playbook = setup.path("playbook.toml");
    std::fs::write(
        &playbook,
        "[[respond]]\ntype = \"ddos_attack\"\nmin_severity = \"medium\"\nactions = [\"nuke_it\"]\n",
    )
    .unwrap();
    let config = setup.config(
        &format!("playbook = {:?}", playbook.display().to_string()),
        "",
    );
    let output = vigil()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(setup.input(""))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("playbook.toml"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    assert!(message.contains("nuke_it"), "{message}");
}

/// The SMTP server started by `scripts/test.sh` (aiosmtpd writing a
/// maildir): its port and maildir. Without one the test fails, unless
/// `VIGIL_SKIP_SMTP_TESTS=1` says to skip it on purpose.
fn smtp_server() -> Option<(u16, PathBuf)> {
    if let (Ok(port), Ok(maildir)) = (
        std::env::var("VIGIL_TEST_SMTP_PORT"),
        std::env::var("VIGIL_TEST_SMTP_MAILDIR"),
    ) {
        return Some((port.parse().unwrap(), PathBuf::from(maildir)));
    }
    assert!(
        std::env::var("VIGIL_SKIP_SMTP_TESTS").is_ok_and(|v| v == "1"),
        "VIGIL_TEST_SMTP_PORT is unset: run scripts/test.sh, which starts an SMTP server, \
         or set VIGIL_SKIP_SMTP_TESTS=1"
    );
    eprintln!("skipped: VIGIL_SKIP_SMTP_TESTS=1");
    None
}

/// Two weeks of ordinary use by `user`, then a burst from an unknown
/// address with a usage spike (a high key compromise), then the full key
/// leaking (critical).
fn key_theft(user: &str) -> String {
    let mut events = String::new();
    for day in 1..=14 {
        for n in 0..20 {
            events.push_str(&event(&json!({
                "user_id": user,
                "api_key_id": "ak_c1",
                "ip_address": "198.51.100.7",
                "tokens_used": 100 + n,
                "timestamp": format!("2026-11-{day:02}T10:{n:02}:00Z"),
            })));
        }
    }
    for n in 0..30 {
        events.push_str(&event(&json!({
            "user_id": user,
            "api_key_id": "ak_c1",
            "ip_address": "203.0.113.99",
            "tokens_used": 6_000,
            "timestamp": format!("2026-11-15T09:{n:02}:00Z"),
        })));
    }
    events.push_str(&event(&json!({
        "user_id": user,
        "api_key_id": "ak_c1",
        "ip_address": "203.0.113.99",
        "timestamp": "2026-11-15T09:40:00Z",
        "details": {"prompt": format!("use this key: {LEAKED} and my card 4111 1111 1111 1111")},
    })));
    events
}

/// Messages in `maildir` sent to `address`.
fn mail_to(maildir: &Path, address: &str) -> Vec<String> {
    let mut found = Vec::new();
    for folder in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let to = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                .unwrap_or_default()
                .to_owned();
            if to.contains(address) {
                found.push(text);
            }
        }
    }
    found
}

#[test]
fn a_key_theft_emails_the_user_once_and_the_security_team_once_at_critical() {
    let Some((port, maildir)) = smtp_server() else {
        return;
    };
    let setup = Setup::new();
    let user = format!("carol{}", std::process::id());
    let team = format!("soc-{}@security.example.org", std::process::id());
    let email = format!(
        "smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\n\
         from = \"vigil@example.com\"\nsecurity_team = [{team:?}]\n\
         user_address = \"{{user_id}}@example.com\"\ngather_secs = 1"
    );
    let config = setup.config_with_email("", &email, "");
    run_file(&config, &setup.input(&key_theft(&user)));

    let address = format!("{user}@example.com");
    let to_user = wait_for(Duration::from_secs(10), || {
        let mail = mail_to(&maildir, &address);
        (!mail.is_empty()).then_some(mail)
    })
    .expect("the user is emailed");
    let to_team = mail_to(&maildir, &team);
    assert_eq!(to_user.len(), 1, "exactly one email to the user");
    assert_eq!(to_team.len(), 1, "exactly one email to the security team");
    for message in to_user.iter().chain(&to_team) {
        let subject = message
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap_or_default();
        assert!(subject.contains("api_key_compromise"), "{subject}");
        assert!(
            !message.contains("Zx81mQ0p"),
            "a full key leaked into an email"
        );
        assert!(
            !message.contains("4111"),
            "a card number leaked into an email"
        );
    }
}
