//! Scores a run's incidents against the labels of generated attacks:
//! which attacks were caught with the signals they should raise, and how
//! many incidents fell on benign traffic.
//!
//! An attack on one victim's keys (a label without targets) is caught when
//! the victim's incidents carry every expected signal inside the label's
//! span, with an hour of slack either side. A login attack (a label with
//! targets) concerns several accounts and one attacker address, and the
//! signal may land on an incident keyed by either: it is caught when one
//! incident that lists the attacker's address or belongs to a target
//! carries every expected signal inside the span. An incident is explained,
//! not a false positive, when it overlaps a label's span and concerns the
//! label's victim, one of its targets or (for login attacks) its attacker
//! address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::incident::Incident;
use crate::synth::{AttackKind, AttackLabel};
use crate::time::{HOUR_MS, Timestamp};

/// Slack around an attack's span within which its signals still count.
const SLACK_MS: i64 = HOUR_MS;

/// Detection results for one attack kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindScore {
    /// Attacks of this kind in the labels.
    pub labelled: usize,
    /// Those caught with every expected signal.
    pub detected: usize,
}

impl KindScore {
    /// Share detected, 1.0 when nothing was labelled.
    #[must_use]
    pub fn recall(&self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        if self.labelled == 0 {
            1.0
        } else {
            self.detected as f64 / self.labelled as f64
        }
    }
}

/// How a run did against the labels.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Results per attack kind.
    pub kinds: BTreeMap<AttackKind, KindScore>,
    /// Incidents that overlap no labelled attack they concern.
    pub false_positives: usize,
    /// The ids of those incidents.
    pub false_positive_ids: Vec<String>,
}

impl Evaluation {
    /// False-positive incidents per 1,000 benign user-days.
    #[must_use]
    pub fn false_positives_per_thousand(&self, benign_user_days: u64) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let rate = self.false_positives as f64 * 1_000.0 / benign_user_days.max(1) as f64;
        rate
    }
}

/// Matches incidents (latest revisions) to labels.
#[must_use]
pub fn evaluate<'i>(
    labels: &[AttackLabel],
    incidents: impl IntoIterator<Item = &'i Incident>,
) -> Evaluation {
    let incidents: Vec<&Incident> = incidents.into_iter().collect();
    let labels: Vec<Scope<'_>> = labels.iter().map(Scope::new).collect();
    let mut evaluation = Evaluation::default();
    for kind in AttackKind::ALL {
        evaluation.kinds.insert(kind, KindScore::default());
    }
    for label in &labels {
        let score = evaluation.kinds.entry(label.label.attack).or_default();
        score.labelled += 1;
        if label.caught(&incidents) {
            score.detected += 1;
        }
    }
    for incident in incidents {
        let explained = labels
            .iter()
            .any(|label| label.concerns(incident) && label.overlaps(incident));
        if !explained {
            evaluation.false_positives += 1;
            evaluation
                .false_positive_ids
                .push(incident.incident_id.clone());
        }
    }
    evaluation
}

/// A label with what incidents are matched against: its span with slack,
/// and for login attacks the attacker's address.
struct Scope<'l> {
    label: &'l AttackLabel,
    start: i64,
    end: i64,
    /// The attacker's address of a login attack; `None` for attacks on a
    /// victim's keys, whose `ip` may be the victim's own.
    attacker: Option<IpAddr>,
}

impl<'l> Scope<'l> {
    fn new(label: &'l AttackLabel) -> Self {
        let attacker = if label.targets.is_empty() {
            None
        } else {
            label.ip.as_deref().and_then(|ip| ip.parse().ok())
        };
        Scope {
            label,
            start: Timestamp::from(label.start).0 - SLACK_MS,
            end: Timestamp::from(label.end).0 + SLACK_MS,
            attacker,
        }
    }

    fn overlaps(&self, incident: &Incident) -> bool {
        incident.first_seen.0 <= self.end && incident.last_seen.0 >= self.start
    }

    /// Whether the incident is about this attack's victim, one of its
    /// targets or its attacker's address.
    fn concerns(&self, incident: &Incident) -> bool {
        let user = &incident.user_id;
        *user == self.label.user_id
            || self.label.targets.contains(user)
            || self
                .attacker
                .is_some_and(|ip| incident.entities.ips.contains(&ip))
    }

    /// Whether incidents carry every expected signal inside the span: the
    /// victim's incidents together for attacks on keys, one incident that
    /// concerns the attack for login attacks.
    fn caught(&self, incidents: &[&Incident]) -> bool {
        if self.label.targets.is_empty() {
            let victims = incidents
                .iter()
                .filter(|incident| incident.user_id == self.label.user_id);
            self.carries_expected(victims)
        } else {
            incidents
                .iter()
                .filter(|incident| self.concerns(incident))
                .any(|incident| self.carries_expected([incident]))
        }
    }

    fn carries_expected<'a>(&self, incidents: impl IntoIterator<Item = &'a &'a Incident>) -> bool {
        let seen: BTreeSet<&str> = incidents
            .into_iter()
            .flat_map(|incident| incident.signals.iter())
            .filter(|signal| (self.start..=self.end).contains(&signal.at.0))
            .map(|signal| signal.name.as_str())
            .collect();
        self.label
            .expected_signals
            .iter()
            .all(|expected| seen.contains(expected.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::Map;

    use super::*;
    use crate::incident::{Entities, IncidentStatus, IncidentType};
    use crate::signal::{Severity, SignalRecord, SignalSource};

    const ATTACKER: &str = "185.20.30.40";
    /// 2026-11-10T03:00:00Z.
    const START_MS: i64 = 1_794_279_600_000;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("valid time")
    }

    fn stuffing_label() -> AttackLabel {
        AttackLabel {
            attack: AttackKind::CredentialStuffing,
            user_id: "usr_000001".to_owned(),
            api_key_id: None,
            ip: Some(ATTACKER.to_owned()),
            targets: vec![
                "usr_000001".to_owned(),
                "usr_000002".to_owned(),
                "usr_0003".to_owned(),
            ],
            start: at(START_MS),
            end: at(START_MS + 8 * 60_000),
            expected_signals: vec!["vigil-credential-stuffing".to_owned()],
        }
    }

    fn key_theft_label() -> AttackLabel {
        AttackLabel {
            attack: AttackKind::KeyTheft,
            user_id: "usr_000009".to_owned(),
            api_key_id: Some("ak_00000009".to_owned()),
            ip: Some(ATTACKER.to_owned()),
            targets: Vec::new(),
            start: at(START_MS),
            end: at(START_MS + HOUR_MS),
            expected_signals: vec!["novel_ip".to_owned(), "usage_spike".to_owned()],
        }
    }

    fn incident(id: &str, user_id: &str, ips: &[&str], signals: &[(&str, i64)]) -> Incident {
        let signals: Vec<SignalRecord> = signals
            .iter()
            .map(|&(name, ms)| SignalRecord {
                source: SignalSource::Rule,
                name: name.to_owned(),
                severity: Severity::High,
                score: 0.8,
                at: Timestamp(ms),
                event_id: None,
                count: 1,
                evidence: Map::new(),
            })
            .collect();
        let first = signals.iter().map(|s| s.at.0).min().unwrap_or(START_MS);
        let last = signals.iter().map(|s| s.at.0).max().unwrap_or(START_MS);
        Incident {
            incident_id: id.to_owned(),
            revision: 1,
            status: IncidentStatus::Open,
            incident_type: IncidentType::UnauthorizedAccess,
            severity: Severity::High,
            score: 0.8,
            user_id: user_id.to_owned(),
            entities: Entities {
                ips: ips.iter().map(|ip| ip.parse().expect("address")).collect(),
                api_key_ids: BTreeSet::new(),
            },
            first_seen: Timestamp(first),
            last_seen: Timestamp(last),
            signals,
            actions: Vec::new(),
        }
    }

    fn stuffing_score(incidents: &[Incident]) -> (KindScore, usize) {
        let evaluation = evaluate(&[stuffing_label()], incidents);
        let score = evaluation.kinds[&AttackKind::CredentialStuffing].clone();
        (score, evaluation.false_positives)
    }

    #[test]
    fn a_login_attack_is_caught_by_an_incident_on_the_attacker_address() {
        let signal = ("vigil-credential-stuffing", START_MS + 5 * 60_000);
        let on_ip = incident("INC-1", "usr_ffffff", &[ATTACKER], &[signal]);
        let (score, false_positives) = stuffing_score(&[on_ip]);
        assert_eq!(score.detected, 1);
        assert_eq!(false_positives, 0);
    }

    #[test]
    fn a_login_attack_is_caught_by_an_incident_of_any_target() {
        let signal = ("vigil-credential-stuffing", START_MS + 60_000);
        // A target that is not the label's first victim, and no address.
        let on_target = incident("INC-2", "usr_0003", &[], &[signal]);
        let (score, false_positives) = stuffing_score(&[on_target]);
        assert_eq!(score.detected, 1);
        assert_eq!(false_positives, 0);
    }

    #[test]
    fn a_login_attack_is_missed_by_unrelated_incidents_or_late_signals() {
        let right = "vigil-credential-stuffing";
        let elsewhere = incident("INC-3", "usr_abcdef", &["24.1.2.3"], &[(right, START_MS)]);
        let late = START_MS + 8 * 60_000 + SLACK_MS + 1;
        let too_late = incident("INC-4", "usr_000002", &[ATTACKER], &[(right, late)]);
        let wrong_signal = incident(
            "INC-5",
            "usr_000001",
            &[ATTACKER],
            &[("vigil-password-spraying", START_MS)],
        );
        let (score, false_positives) = stuffing_score(&[elsewhere, too_late, wrong_signal]);
        assert_eq!(score.detected, 0);
        // The unrelated incident and the one outside the span are
        // unexplained; the wrong rule on a target still overlaps the attack.
        assert_eq!(false_positives, 2);
    }

    #[test]
    fn a_login_attack_needs_one_incident_with_every_expected_signal() {
        let mut label = stuffing_label();
        label.expected_signals = vec!["a".to_owned(), "b".to_owned()];
        let half = incident("INC-6", "usr_000001", &[], &[("a", START_MS)]);
        let other_half = incident("INC-7", "usr_000002", &[], &[("b", START_MS)]);
        let evaluation = evaluate(std::slice::from_ref(&label), [&half, &other_half]);
        assert_eq!(
            evaluation.kinds[&AttackKind::CredentialStuffing].detected,
            0
        );
        let both = incident(
            "INC-8",
            "usr_000002",
            &[],
            &[("a", START_MS), ("b", START_MS)],
        );
        let evaluation = evaluate(&[label], [&both]);
        assert_eq!(
            evaluation.kinds[&AttackKind::CredentialStuffing].detected,
            1
        );
    }

    #[test]
    fn attacks_on_keys_still_match_by_victim_only() {
        let label = key_theft_label();
        let signals = [("novel_ip", START_MS), ("usage_spike", START_MS + 60_000)];
        // The attacker's address alone does not tie an incident to a key
        // theft: its label names the victim.
        let other_user = incident("INC-9", "usr_000001", &[ATTACKER], &signals);
        let evaluation = evaluate(std::slice::from_ref(&label), [&other_user]);
        assert_eq!(evaluation.kinds[&AttackKind::KeyTheft].detected, 0);
        assert_eq!(evaluation.false_positives, 1);

        // Signals spread over two of the victim's incidents still count.
        let first = incident("INC-10", "usr_000009", &[], &signals[..1]);
        let second = incident("INC-11", "usr_000009", &[], &signals[1..]);
        let evaluation = evaluate(&[label], [&first, &second]);
        assert_eq!(evaluation.kinds[&AttackKind::KeyTheft].detected, 1);
        assert_eq!(evaluation.false_positives, 0);
    }

    #[test]
    fn every_kind_is_scored_even_when_not_labelled() {
        let evaluation = evaluate(&[], std::iter::empty());
        assert_eq!(evaluation.kinds.len(), AttackKind::ALL.len());
        assert!(
            evaluation
                .kinds
                .values()
                .all(|k| (k.recall() - 1.0).abs() < f64::EPSILON)
        );
    }
}
