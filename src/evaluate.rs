//! Scores a run's incidents against the labels of generated attacks:
//! which attacks were caught with the signals they should raise, and how
//! many incidents fell on benign traffic.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Incidents that overlap no labelled attack of their user.
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
    let mut evaluation = Evaluation::default();
    for kind in AttackKind::ALL {
        evaluation.kinds.insert(kind, KindScore::default());
    }
    for label in labels {
        let score = evaluation.kinds.entry(label.attack).or_default();
        score.labelled += 1;
        if caught(label, &incidents) {
            score.detected += 1;
        }
    }
    for incident in incidents {
        let explained = labels
            .iter()
            .any(|label| label.user_id == incident.user_id && overlaps(label, incident));
        if !explained {
            evaluation.false_positives += 1;
            evaluation
                .false_positive_ids
                .push(incident.incident_id.clone());
        }
    }
    evaluation
}

fn span(label: &AttackLabel) -> (i64, i64) {
    let start = Timestamp::from(label.start).0 - SLACK_MS;
    let end = Timestamp::from(label.end).0 + SLACK_MS;
    (start, end)
}

fn overlaps(label: &AttackLabel, incident: &Incident) -> bool {
    let (start, end) = span(label);
    incident.first_seen.0 <= end && incident.last_seen.0 >= start
}

/// Whether the user's incidents carry every expected signal inside the span.
fn caught(label: &AttackLabel, incidents: &[&Incident]) -> bool {
    let (start, end) = span(label);
    let seen: BTreeSet<&str> = incidents
        .iter()
        .filter(|incident| incident.user_id == label.user_id)
        .flat_map(|incident| incident.signals.iter())
        .filter(|signal| (start..=end).contains(&signal.at.0))
        .map(|signal| signal.name.as_str())
        .collect();
    label
        .expected_signals
        .iter()
        .all(|expected| seen.contains(expected.as_str()))
}
