//! Alert emails through a real SMTP server (aiosmtpd, started by
//! `scripts/test.sh`, which exports its port as `VIGIL_TEST_SMTP_PORT` and
//! the maildir it stores messages in as `VIGIL_TEST_SMTP_MAILDIR`): the
//! message arrives for every recipient with its subject, a plain-text and an
//! HTML part, a Message-ID derived from the idempotency key, and no secret
//! or personal value from the incident.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailparse::{MailHeaderMap, ParsedMail};
use serde_json::{Map, Value, json};
use vigil::email::{
    Audience, EmailConfig, Mailer, RenderedEmail, Throttle, ThrottlePolicy, TlsMode, render,
    render_digest,
};
use vigil::incident::{ActionRecord, Entities, Incident, IncidentStatus, IncidentType};
use vigil::signal::{Severity, SignalRecord, SignalSource};
use vigil::time::Timestamp;

const FULL_KEY: &str = "ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e";
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";

/// The server's port and maildir. Without them the tests fail, unless
/// `VIGIL_SKIP_SMTP_TESTS=1` says to skip them on purpose.
fn smtp_server() -> Option<(u16, PathBuf)> {
    if let Ok(port) = std::env::var("VIGIL_TEST_SMTP_PORT") {
        let port = port.parse().expect("VIGIL_TEST_SMTP_PORT is a port number");
        let maildir = std::env::var("VIGIL_TEST_SMTP_MAILDIR")
            .expect("VIGIL_TEST_SMTP_MAILDIR names the server's maildir (scripts/test.sh sets it)");
        return Some((port, PathBuf::from(maildir)));
    }
    assert!(
        std::env::var("VIGIL_SKIP_SMTP_TESTS").is_ok_and(|v| v == "1"),
        "VIGIL_TEST_SMTP_PORT is unset: run scripts/test.sh, which starts an SMTP server, \
         or set VIGIL_SKIP_SMTP_TESTS=1"
    );
    eprintln!("skipped: VIGIL_SKIP_SMTP_TESTS=1");
    None
}

fn mailer(port: u16) -> Mailer {
    let config = EmailConfig {
        from: "vigil <vigil@vigil.test>".to_owned(),
        smtp_host: "127.0.0.1".to_owned(),
        smtp_port: port,
        tls: TlsMode::None,
        timeout_secs: 10,
        ..EmailConfig::default()
    };
    Mailer::from_config(&config).expect("a plain SMTP mailer for loopback")
}

fn send(mailer: &Mailer, to: &[&str], email: &RenderedEmail, key: &str) {
    let to: Vec<String> = to.iter().map(|s| (*s).to_owned()).collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(mailer.send(&to, email, key))
        .expect("the server accepts the message");
}

/// A key no other test or earlier run uses.
fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}.{}-{nanos}", std::process::id())
}

/// The raw message in `maildir` whose Message-ID is `message_id`.
fn received(maildir: &Path, message_id: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir(maildir.join("new")).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let parsed = mailparse::parse_mail(&bytes).unwrap();
            if parsed.headers.get_first_value("Message-ID").as_deref() == Some(message_id) {
                return bytes;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no message {message_id} in {}",
            maildir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn header(parsed: &ParsedMail<'_>, name: &str) -> String {
    parsed
        .headers
        .get_first_value(name)
        .unwrap_or_else(|| panic!("header {name}"))
}

/// The decoded bodies of a multipart/alternative message, by MIME type.
fn bodies(parsed: &ParsedMail<'_>) -> (String, String) {
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let find = |mimetype: &str| {
        parsed
            .subparts
            .iter()
            .find(|part| part.ctype.mimetype == mimetype)
            .unwrap_or_else(|| panic!("a {mimetype} part"))
            .get_body()
            .unwrap()
    };
    (find("text/plain"), find("text/html"))
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn evidence(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("evidence is an object")
    };
    map
}

/// An incident whose evidence carries a full key, an email address and a
/// card number, as a leaked secret would.
fn leaked_key_incident(id: &str) -> Incident {
    Incident {
        incident_id: id.to_owned(),
        revision: 1,
        status: IncidentStatus::Open,
        incident_type: IncidentType::ApiKeyCompromise,
        severity: Severity::Critical,
        score: 0.95,
        user_id: "alice".to_owned(),
        entities: Entities {
            ips: BTreeSet::from(["198.51.100.9".parse().unwrap()]),
            api_key_ids: BTreeSet::from(["ak_7f3c".to_owned()]),
        },
        first_seen: at("2026-12-03T02:14:05Z"),
        last_seen: at("2026-12-03T02:14:05Z"),
        signals: vec![SignalRecord {
            source: SignalSource::Detector,
            name: "leaked_secret".to_owned(),
            severity: Severity::Critical,
            score: 0.95,
            at: at("2026-12-03T02:14:05Z"),
            event_id: Some("e-1".to_owned()),
            count: 1,
            evidence: evidence(json!({
                "field": "details.prompt",
                "excerpt": format!("key {FULL_KEY} owner {EMAIL} card {CARD} <b>bold</b>"),
            })),
        }],
        actions: vec![ActionRecord {
            action: "revoke_api_key".to_owned(),
            target: None,
            status: "succeeded".to_owned(),
            at: at("2026-12-03T02:14:06Z"),
            attempts: 1,
        }],
    }
}

fn assert_clean(part: &str, body: &str) {
    for secret in [FULL_KEY, "Zx81mQ0pLr4TbY7w", "jane.doe", CARD] {
        assert!(!body.contains(secret), "{secret:?} in the {part}:\n{body}");
    }
}

#[test]
fn an_alert_arrives_for_every_recipient_with_both_parts_and_no_secrets() {
    let Some((port, maildir)) = smtp_server() else {
        return;
    };
    let mailer = mailer(port);
    let incident = leaked_key_incident("INC-20261203-00a1b2c3d4");
    let email = render(&[&incident], Audience::SecurityTeam);
    let key = unique("INC-20261203-00a1b2c3d4.email_team");

    send(
        &mailer,
        &["soc@vigil.test", "oncall@vigil.test"],
        &email,
        &key,
    );

    let bytes = received(&maildir, &mailer.message_id_for(&key));
    let parsed = mailparse::parse_mail(&bytes).unwrap();
    assert_eq!(
        header(&parsed, "X-RcptTo"),
        "soc@vigil.test, oncall@vigil.test"
    );
    assert_eq!(header(&parsed, "To"), "soc@vigil.test, oncall@vigil.test");
    assert_eq!(header(&parsed, "X-MailFrom"), "vigil@vigil.test");
    assert_eq!(
        header(&parsed, "Subject"),
        "[vigil] CRITICAL api_key_compromise for user alice (INC-20261203-00a1b2c3d4)"
    );

    let (text, html) = bodies(&parsed);
    assert!(text.contains("leaked_secret (detector)"), "{text}");
    assert!(text.contains("Confirm the key was revoked"), "{text}");
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
    assert!(html.contains("ak_l[REDACTED]"), "{html}");
    assert_clean("raw message", &String::from_utf8_lossy(&bytes));
    assert_clean("text part", &text);
    assert_clean("html part", &html);
}

#[test]
fn throttled_notices_reach_the_user_as_one_digest() {
    let Some((port, maildir)) = smtp_server() else {
        return;
    };
    let first = leaked_key_incident("INC-20261203-0000000001");
    let mut second = leaked_key_incident("INC-20261203-0000000002");
    second.severity = Severity::High;
    second.incident_type = IncidentType::AnomalousUsage;

    let policy = ThrottlePolicy {
        min_interval_ms: 300_000,
        gather_ms: 2_000,
        max_queued: 200,
    };
    let mut throttle = Throttle::new(policy);
    throttle.push("alice@vigil.test", &first, 0);
    throttle.push("alice@vigil.test", &second, 1_500);
    let mut batches = throttle.due(throttle.next_due().unwrap());
    assert_eq!(batches.len(), 1);
    let batch = batches.remove(0);

    let email = render_digest(&batch.items, batch.dropped, Audience::User);
    let mailer = mailer(port);
    let key = unique("digest.alice");
    send(&mailer, &[batch.recipient.as_str()], &email, &key);

    let bytes = received(&maildir, &mailer.message_id_for(&key));
    let parsed = mailparse::parse_mail(&bytes).unwrap();
    assert_eq!(header(&parsed, "X-RcptTo"), "alice@vigil.test");
    assert_eq!(
        header(&parsed, "Subject"),
        "[vigil] 2 incidents: 1 critical, 1 high"
    );
    let (text, html) = bodies(&parsed);
    for body in [&text, &html] {
        assert!(body.contains("INC-20261203-0000000001"), "{body}");
        assert!(body.contains("INC-20261203-0000000002"), "{body}");
    }
    assert!(text.contains("Create a new API key"), "{text}");
    assert_clean("text part", &text);
    assert_clean("html part", &html);
}
