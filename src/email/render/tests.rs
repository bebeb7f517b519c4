//! Tests of alert rendering: subjects, digests, advice, redaction, escaping.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::*;
use crate::incident::{ActionRecord, Entities, IncidentStatus, IncidentType};
use crate::signal::{SignalRecord, SignalSource};
use crate::time::Timestamp;

const FULL_KEY: &str = "ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e";
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn evidence(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("evidence is an object"),
    }
}

fn incident(id: &str, kind: IncidentType, severity: Severity) -> Incident {
    Incident {
        incident_id: id.to_owned(),
        revision: 2,
        status: IncidentStatus::Open,
        incident_type: kind,
        severity,
        score: 0.91,
        user_id: "alice".to_owned(),
        entities: Entities {
            ips: BTreeSet::from(["198.51.100.9".parse().unwrap()]),
            api_key_ids: BTreeSet::from(["ak_7f3c".to_owned()]),
        },
        first_seen: at("2026-12-03T02:14:05Z"),
        last_seen: at("2026-12-03T02:31:40Z"),
        signals: vec![SignalRecord {
            source: SignalSource::Detector,
            name: "novel_ip".to_owned(),
            severity: Severity::High,
            score: 0.8,
            at: at("2026-12-03T02:14:05Z"),
            event_id: Some("e-991".to_owned()),
            count: 1,
            evidence: evidence(json!({"ip": "198.51.100.9", "known_ips": 3})),
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

fn compromise() -> Incident {
    incident(
        "INC-20261203-00a1b2c3d4",
        IncidentType::ApiKeyCompromise,
        Severity::High,
    )
}

/// An incident whose user id, key ids, evidence and actions carry a full
/// key, an email address and a card number.
fn planted() -> Incident {
    let mut incident = compromise();
    incident.user_id = EMAIL.to_owned();
    incident.entities.api_key_ids.insert(FULL_KEY.to_owned());
    incident.signals.push(SignalRecord {
        source: SignalSource::Detector,
        name: "leaked_secret".to_owned(),
        severity: Severity::Critical,
        score: 0.95,
        at: at("2026-12-03T02:20:00Z"),
        event_id: None,
        count: 2,
        evidence: evidence(json!({
            "field": "details.prompt",
            "excerpt": format!("use {FULL_KEY} and mail {EMAIL}, pay with {CARD}"),
            "nested": {"card": CARD, "key": FULL_KEY, "owner": EMAIL},
        })),
    });
    incident.actions.push(ActionRecord {
        action: format!("notify {EMAIL}"),
        target: None,
        status: "failed".to_owned(),
        at: at("2026-12-03T02:20:01Z"),
        attempts: 3,
    });
    incident
}

fn all_parts(email: &RenderedEmail) -> [(&'static str, &str); 3] {
    [
        ("subject", &email.subject),
        ("text", &email.text),
        ("html", &email.html),
    ]
}

#[test]
fn a_single_incident_has_a_subject_naming_severity_type_user_and_id() {
    let email = render(&[&compromise()], Audience::SecurityTeam);
    assert_eq!(
        email.subject,
        "[vigil] HIGH api_key_compromise for user alice (INC-20261203-00a1b2c3d4)"
    );
}

#[test]
fn the_body_tells_what_happened_the_evidence_and_the_actions() {
    let email = render(&[&compromise()], Audience::SecurityTeam);
    for needle in [
        "What happened",
        "high (score 0.91)",
        "2026-12-03T02:14:05Z",
        "2026-12-03T02:31:40Z",
        "198.51.100.9",
        "ak_7f3c",
        "novel_ip (detector): high, score 0.80, seen 1 time",
        "known_ips: 3",
        "revoke_api_key: succeeded after 1 attempt",
        "What to do next",
    ] {
        assert!(email.text.contains(needle), "{needle:?} in\n{}", email.text);
    }
    for needle in ["novel_ip", "known_ips", "revoke_api_key", "198.51.100.9"] {
        assert!(email.html.contains(needle), "{needle:?} in\n{}", email.html);
    }
}

#[test]
fn advice_differs_for_the_user_and_the_team() {
    let incident = compromise();
    let user = render(&[&incident], Audience::User);
    let team = render(&[&incident], Audience::SecurityTeam);
    assert!(user.html.contains("Create a new API key"), "{}", user.html);
    assert!(
        user.html.contains("Check your applications"),
        "{}",
        user.html
    );
    assert!(
        team.html.contains("Confirm the key was revoked"),
        "{}",
        team.html
    );
    assert!(
        team.html.contains("Review the key&#39;s recent calls"),
        "{}",
        team.html
    );
    assert!(!team.html.contains("Create a new API key"), "{}", team.html);
}

#[test]
fn every_type_has_a_headline_and_advice_for_both_audiences() {
    for kind in IncidentType::ALL {
        for audience in [Audience::User, Audience::SecurityTeam] {
            assert!(!advice::headline(kind, audience).is_empty());
            let steps = advice::next_steps(kind, audience);
            assert!(steps.len() >= 2, "{kind:?} {audience:?}");
            let email = render(&[&incident("INC-1", kind, Severity::Medium)], audience);
            assert!(email.html.contains(&html::escape(steps[0])), "{kind:?}");
        }
    }
}

#[test]
fn several_incidents_make_a_digest_counted_by_severity() {
    let first = incident("INC-1", IncidentType::ApiKeyCompromise, Severity::High);
    let second = incident("INC-2", IncidentType::DdosAttack, Severity::Critical);
    let third = incident("INC-3", IncidentType::PolicyViolation, Severity::High);
    let email = render(&[&first, &second, &third], Audience::SecurityTeam);

    assert_eq!(email.subject, "[vigil] 3 incidents: 1 critical, 2 high");
    for id in ["INC-1", "INC-2", "INC-3"] {
        assert!(email.text.contains(id), "{id} in\n{}", email.text);
        assert!(email.html.contains(id), "{id}");
    }
    let critical = email.text.find("1 of 3: CRITICAL ddos_attack").unwrap();
    assert!(critical < email.text.find("2 of 3: HIGH").unwrap());
    assert!(email.text.contains("For ddos_attack:"), "{}", email.text);
    assert!(
        email.text.contains("For policy_violation:"),
        "{}",
        email.text
    );
}

#[test]
fn a_digest_counts_incidents_left_out() {
    let only = compromise();
    let email = render_digest(&[&only], 5, Audience::User);
    assert_eq!(email.subject, "[vigil] 6 incidents: 1 high and 5 more");
    assert!(
        email.text.contains("And 5 more incidents"),
        "{}",
        email.text
    );
    assert!(
        email.html.contains("And 5 more incidents"),
        "{}",
        email.html
    );
}

#[test]
fn keys_emails_and_card_numbers_never_appear() {
    let incident = planted();
    for audience in [Audience::User, Audience::SecurityTeam] {
        for email in [
            render(&[&incident], audience),
            render(&[&incident, &compromise()], audience),
        ] {
            for (part, body) in all_parts(&email) {
                for secret in [FULL_KEY, "Zx81mQ0pLr4TbY7w", "jane.doe", CARD, "4111"] {
                    assert!(!body.contains(secret), "{secret:?} in the {part}:\n{body}");
                }
            }
            assert!(email.text.contains("ak_l[REDACTED]"), "{}", email.text);
            assert!(email.text.contains("[email]@example.com"), "{}", email.text);
            assert!(email.text.contains("[card]"), "{}", email.text);
        }
    }
}

#[test]
fn html_escapes_values_and_text_keeps_them_on_one_line() {
    let mut incident = compromise();
    incident.user_id = "bob\r\nBcc: eve".to_owned();
    incident.signals[0].evidence.insert(
        "user_agent".to_owned(),
        Value::String("<script>alert(\"x\")</script> & more".to_owned()),
    );
    let email = render(&[&incident], Audience::SecurityTeam);

    assert!(!email.html.contains("<script>"), "{}", email.html);
    assert!(
        email
            .html
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"),
        "{}",
        email.html
    );
    assert!(!email.subject.contains(['\r', '\n']), "{:?}", email.subject);
    assert!(
        email.text.contains("User:       bob  Bcc: eve"),
        "{}",
        email.text
    );
}

#[test]
fn html_loads_nothing_from_elsewhere() {
    let email = render(&[&planted()], Audience::User);
    for needle in ["<link", "<img", "<script", "src=", "href=", "url("] {
        assert!(!email.html.contains(needle), "{needle} in\n{}", email.html);
    }
}

#[test]
fn an_incident_without_actions_says_so() {
    let mut incident = compromise();
    incident.actions.clear();
    let email = render(&[&incident], Audience::SecurityTeam);
    assert!(
        email
            .text
            .contains("Actions taken\n-------------\n  None yet.")
    );
}

#[test]
fn long_values_are_shortened() {
    let mut incident = compromise();
    incident.signals[0]
        .evidence
        .insert("path".to_owned(), Value::String("/a".repeat(500)));
    let email = render(&[&incident], Audience::SecurityTeam);
    assert!(!email.text.contains(&"/a".repeat(101)));
    assert!(email.text.contains(&format!("{}…", "/a".repeat(100))));
}
