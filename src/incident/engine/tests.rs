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

/// Folds `signal` in; returns the last revision it caused.
fn last(engine: &mut IncidentEngine, signal: &Signal) -> Option<Incident> {
    let mut written = None;
    engine.on_signal(signal, &mut |incident| written = Some(incident.clone()));
    written
}

/// Folds `signal` in; returns every revision it caused.
fn all(engine: &mut IncidentEngine, signal: &Signal) -> Vec<Incident> {
    let mut written = Vec::new();
    engine.on_signal(signal, &mut |incident| written.push(incident.clone()));
    written
}

#[test]
fn signals_within_the_window_join_one_incident_and_escalate() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let first = last(&mut engine, &signal("u", "usage_spike", 0.5, 0))
        .unwrap()
        .clone();
    assert_eq!(
        (first.revision, first.severity, first.status),
        (1, Severity::Medium, IncidentStatus::Open)
    );
    let second = last(&mut engine, &signal("u", "novel_ip", 0.75, HOUR_MS / 2))
        .unwrap()
        .clone();
    assert_eq!(second.incident_id, first.incident_id);
    assert_eq!(second.revision, 2);
    assert_eq!(second.incident_type, IncidentType::ApiKeyCompromise);
    assert_eq!(second.severity, Severity::High);
    assert_eq!(second.status, IncidentStatus::Escalated);
}

#[test]
fn with_reopening_off_a_signal_after_the_window_opens_a_new_incident() {
    let mut engine = IncidentEngine::new(IncidentConfig {
        reopen_window_secs: 0,
        ..IncidentConfig::default()
    });
    let first = last(&mut engine, &signal("u", "usage_spike", 0.5, 0))
        .unwrap()
        .incident_id
        .clone();
    let later = last(&mut engine, &signal("u", "usage_spike", 0.5, 2 * HOUR_MS))
        .unwrap()
        .clone();
    assert_ne!(later.incident_id, first);
    assert_eq!(later.revision, 1);
}

#[test]
fn repeats_of_a_known_finding_are_counted_without_a_revision() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    last(&mut engine, &signal("u", "rate_limit", 0.55, 0));
    assert!(last(&mut engine, &signal("u", "rate_limit", 0.55, 1_000)).is_none());
    let stronger = last(&mut engine, &signal("u", "off_hours", 0.35, 2_000)).unwrap();
    assert_eq!(stronger.signals[0].count, 2);
    assert_eq!(stronger.last_seen, Timestamp(1_793_577_600_000 + 2_000));
}

#[test]
fn users_never_share_an_incident() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let a = last(&mut engine, &signal("a", "usage_spike", 0.5, 0))
        .unwrap()
        .incident_id
        .clone();
    let b = last(&mut engine, &signal("b", "usage_spike", 0.5, 0))
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
    last(&mut other, &signal("someone-else", "novel_ip", 0.75, 0));
    let a = last(&mut one, &signal("u", "usage_spike", 0.5, 5))
        .unwrap()
        .incident_id
        .clone();
    let b = last(&mut other, &signal("u", "usage_spike", 0.5, 5))
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
    let incident = last(&mut engine, &leak).unwrap();
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
    assert!(last(&mut engine, &signal("u", "novel_ip", 0.2, 0)).is_none());
    let published = last(&mut engine, &signal("u", "off_hours", 0.2, HOUR_MS / 4))
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
    assert!(last(&mut engine, &signal("u", "novel_ip", 0.2, 0)).is_none());
    assert!(last(&mut engine, &signal("u", "novel_ip", 0.2, 2 * HOUR_MS)).is_none());
}

#[test]
fn a_quiet_incident_is_resolved_by_the_sweep_and_reopened_by_a_return() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let opened = last(&mut engine, &signal("u", "usage_spike", 0.5, 0)).unwrap();
    let mut swept = Vec::new();
    engine.sweep(Timestamp(1_793_577_600_000 + HOUR_MS / 2), &mut |i| {
        swept.push(i.clone());
    });
    assert!(swept.is_empty(), "half a window of quiet resolves nothing");
    engine.sweep(Timestamp(1_793_577_600_000 + 2 * HOUR_MS), &mut |i| {
        swept.push(i.clone());
    });
    assert_eq!(swept.len(), 1);
    assert_eq!(
        (swept[0].status, swept[0].revision),
        (IncidentStatus::Resolved, 2)
    );
    let back = all(&mut engine, &signal("u", "novel_ip", 0.75, 3 * HOUR_MS));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].incident_id, opened.incident_id);
    assert_eq!(
        (back[0].status, back[0].revision),
        (IncidentStatus::Open, 3)
    );
}

#[test]
fn without_a_sweep_the_return_writes_the_same_revisions() {
    let mut swept = IncidentEngine::new(IncidentConfig::default());
    let mut lazy = IncidentEngine::new(IncidentConfig::default());
    let mut from_sweep = Vec::new();
    for engine in [&mut swept, &mut lazy] {
        last(engine, &signal("u", "usage_spike", 0.5, 0));
    }
    swept.sweep(Timestamp(1_793_577_600_000 + 2 * HOUR_MS), &mut |i| {
        from_sweep.push(i.clone());
    });
    from_sweep.extend(all(&mut swept, &signal("u", "novel_ip", 0.75, 3 * HOUR_MS)));
    let from_signal = all(&mut lazy, &signal("u", "novel_ip", 0.75, 3 * HOUR_MS));
    assert_eq!(from_sweep, from_signal);
    assert_eq!(from_signal.len(), 2, "the resolution, then the reopening");
}

#[test]
fn a_return_after_the_reopen_window_opens_a_new_incident() {
    let config = IncidentConfig::default();
    let reopen_ms = i64::from(config.reopen_window_secs) * 1_000;
    let mut engine = IncidentEngine::new(config);
    let first = last(&mut engine, &signal("u", "usage_spike", 0.5, 0)).unwrap();
    let back = all(
        &mut engine,
        &signal("u", "usage_spike", 0.5, reopen_ms + HOUR_MS),
    );
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].status, IncidentStatus::Resolved);
    assert_eq!(back[0].incident_id, first.incident_id);
    assert_ne!(back[1].incident_id, first.incident_id);
    assert_eq!(back[1].revision, 1);
}

#[test]
fn an_operator_resolves_an_open_incident_once() {
    let mut engine = IncidentEngine::new(IncidentConfig::default());
    let opened = last(&mut engine, &signal("u", "usage_spike", 0.5, 0)).unwrap();
    let mut written = Vec::new();
    assert!(engine.resolve(&opened.incident_id, &mut |i| written.push(i.clone())));
    assert!(!engine.resolve(&opened.incident_id, &mut |i| written.push(i.clone())));
    assert!(!engine.resolve("INC-unknown", &mut |i| written.push(i.clone())));
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].status, IncidentStatus::Resolved);
}

#[test]
fn the_sweep_forgets_entities_quiet_beyond_the_reopen_window() {
    let config = IncidentConfig::default();
    let reopen_ms = i64::from(config.reopen_window_secs) * 1_000;
    let mut engine = IncidentEngine::new(config);
    last(&mut engine, &signal("u", "usage_spike", 0.5, 0));
    last(&mut engine, &signal("w", "novel_ip", 0.2, 0));
    engine.sweep(
        Timestamp(1_793_577_600_000 + reopen_ms + HOUR_MS),
        &mut |_| {},
    );
    assert_eq!(engine.open_count(), 0);
}
