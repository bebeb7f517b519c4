//! Tests of signal correlation into incidents.

use std::borrow::Cow;

use super::*;
use crate::signal::SignalSource;
use crate::time::{HOUR_MS, Timestamp};

fn signal(user: &str, name: &'static str, score: f64, at_ms: i64) -> Signal {
    Signal {
        source: SignalSource::Detector,
        name: Cow::Borrowed(name),
        severity: Severity::from_score(score),
        score,
        at: Timestamp(1_793_577_600_000 + at_ms),
        event_id: None,
        user_id: user.to_owned(),
        ip: None,
        api_key_id: None,
        incident_type: None,
        evidence: serde_json::Map::new(),
        group: None,
    }
}

#[test]
fn signals_within_the_window_join_one_incident_and_escalate() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let first = engine
        .on_signal(&signal("u", "usage_spike", 0.5, 0))
        .unwrap()
        .clone();
    assert_eq!(
        (first.revision, first.severity, first.status),
        (1, Severity::Medium, IncidentStatus::Open)
    );
    let second = engine
        .on_signal(&signal("u", "novel_ip", 0.75, HOUR_MS / 2))
        .unwrap()
        .clone();
    assert_eq!(second.incident_id, first.incident_id);
    assert_eq!(second.revision, 2);
    assert_eq!(second.incident_type, IncidentType::ApiKeyCompromise);
    assert_eq!(second.severity, Severity::High);
    assert_eq!(second.status, IncidentStatus::Escalated);
}

#[test]
fn a_signal_after_the_window_opens_a_new_incident() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let first = engine
        .on_signal(&signal("u", "usage_spike", 0.5, 0))
        .unwrap()
        .incident_id
        .clone();
    let later = engine
        .on_signal(&signal("u", "usage_spike", 0.5, 2 * HOUR_MS))
        .unwrap()
        .clone();
    assert_ne!(later.incident_id, first);
    assert_eq!(later.revision, 1);
}

#[test]
fn repeats_of_a_known_finding_are_counted_without_a_revision() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    engine.on_signal(&signal("u", "rate_limit", 0.55, 0));
    assert!(
        engine
            .on_signal(&signal("u", "rate_limit", 0.55, 1_000))
            .is_none()
    );
    let stronger = engine
        .on_signal(&signal("u", "off_hours", 0.35, 2_000))
        .unwrap();
    assert_eq!(stronger.signals[0].count, 2);
    assert_eq!(stronger.last_seen, Timestamp(1_793_577_600_000 + 2_000));
}

#[test]
fn users_never_share_an_incident() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let a = engine
        .on_signal(&signal("a", "usage_spike", 0.5, 0))
        .unwrap()
        .incident_id
        .clone();
    let b = engine
        .on_signal(&signal("b", "usage_spike", 0.5, 0))
        .unwrap()
        .incident_id
        .clone();
    assert_ne!(a, b);
    assert_eq!(engine.open_count(), 2);
}

#[test]
fn ids_depend_only_on_the_first_signal() {
    let mut one = IncidentEngine::new(IncidentConfig::default());
    let mut other = IncidentEngine::new(IncidentConfig::default());
    other.on_signal(&signal("someone-else", "novel_ip", 0.75, 0));
    let a = one
        .on_signal(&signal("u", "usage_spike", 0.5, 5))
        .unwrap()
        .incident_id
        .clone();
    let b = other
        .on_signal(&signal("u", "usage_spike", 0.5, 5))
        .unwrap()
        .incident_id
        .clone();
    assert_eq!(a, b);
    assert!(a.starts_with("INC-20261102-"), "{a}");
}

#[test]
fn a_leaked_secret_makes_a_critical_key_compromise() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let mut leak = signal("u", "leaked_secret", 0.95, 0);
    leak.severity = Severity::Critical;
    leak.incident_type = Some(IncidentType::ApiKeyCompromise);
    leak.api_key_id = Some("ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e".to_owned());
    let incident = engine.on_signal(&leak).unwrap();
    assert_eq!(
        (incident.incident_type, incident.severity),
        (IncidentType::ApiKeyCompromise, Severity::Critical)
    );
    assert!(
        incident
            .entities
            .api_key_ids
            .iter()
            .all(|k| !k.contains("Zx81mQ0p"))
    );
}

#[test]
fn weak_signals_wait_until_their_combined_score_reaches_the_minimum() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    assert!(engine.on_signal(&signal("u", "novel_ip", 0.2, 0)).is_none());
    let published = engine
        .on_signal(&signal("u", "off_hours", 0.2, HOUR_MS / 4))
        .unwrap()
        .clone();
    assert_eq!(published.revision, 1);
    assert_eq!(published.status, IncidentStatus::Open);
    assert!(published.score >= IncidentConfig::default().min_score);
    let names: Vec<&str> = published.signals.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["novel_ip", "off_hours"]);
}

#[test]
fn a_weak_signal_alone_never_becomes_an_incident() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    assert!(engine.on_signal(&signal("u", "novel_ip", 0.2, 0)).is_none());
    assert!(
        engine
            .on_signal(&signal("u", "novel_ip", 0.2, 2 * HOUR_MS))
            .is_none()
    );
}
