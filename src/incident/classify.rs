//! How an incident's signals decide its type and score.
//!
//! The score combines the strongest score of each distinct finding as
//! independent evidence (`1 − Π(1 − sᵢ)`), so two medium findings read
//! stronger than one, and repeats of one finding add nothing. The type is
//! the most serious reading the findings support.

use super::IncidentType;
use crate::signal::SignalRecord;

/// The combined score of distinct findings, rounded to three decimals.
#[must_use]
pub fn combined_score(signals: &[SignalRecord]) -> f64 {
    let miss: f64 = signals
        .iter()
        .map(|s| 1.0 - s.score.clamp(0.0, 1.0))
        .product();
    ((1.0 - miss) * 1_000.0).round() / 1_000.0
}

/// The incident type that the findings and their type hints support.
///
/// A stolen-key pattern (a new address together with a usage spike or
/// off-hours use) reads as a key compromise; otherwise the most serious hint
/// wins, and findings without one read as anomalous usage.
#[must_use]
pub fn classify(signals: &[SignalRecord], hints: &[IncidentType]) -> IncidentType {
    let has = |name: &str| signals.iter().any(|s| s.name == name);
    if has("novel_ip") && (has("usage_spike") || has("off_hours")) {
        return IncidentType::ApiKeyCompromise;
    }
    hints
        .iter()
        .copied()
        .min_by_key(|t| seriousness_rank(*t))
        .unwrap_or(IncidentType::AnomalousUsage)
}

/// Lower is more serious.
fn seriousness_rank(incident_type: IncidentType) -> u8 {
    match incident_type {
        IncidentType::ApiKeyCompromise => 0,
        IncidentType::DataBreach => 1,
        IncidentType::MalwareDetection => 2,
        IncidentType::UnauthorizedAccess => 3,
        IncidentType::DdosAttack => 4,
        IncidentType::PolicyViolation => 5,
        IncidentType::AnomalousUsage => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Severity, SignalSource};
    use crate::time::Timestamp;

    fn record(name: &str, score: f64) -> SignalRecord {
        SignalRecord {
            source: SignalSource::Detector,
            name: name.to_owned(),
            severity: Severity::from_score(score),
            score,
            at: Timestamp(0),
            event_id: None,
            count: 1,
            evidence: serde_json::Map::new(),
        }
    }

    #[test]
    fn independent_findings_strengthen_each_other() {
        let score = combined_score(&[record("novel_ip", 0.75), record("usage_spike", 0.5)]);
        assert!((score - 0.875).abs() < 1e-9);
    }

    #[test]
    fn novel_ip_with_a_spike_is_a_key_compromise() {
        let signals = [record("novel_ip", 0.75), record("usage_spike", 0.5)];
        assert_eq!(classify(&signals, &[]), IncidentType::ApiKeyCompromise);
    }

    #[test]
    fn the_most_serious_hint_wins() {
        let signals = [record("rate_limit", 0.55), record("leaked_secret", 0.95)];
        let hints = [IncidentType::DdosAttack, IncidentType::ApiKeyCompromise];
        assert_eq!(classify(&signals, &hints), IncidentType::ApiKeyCompromise);
    }

    #[test]
    fn findings_without_hints_are_anomalous_usage() {
        assert_eq!(
            classify(&[record("usage_spike", 0.5)], &[]),
            IncidentType::AnomalousUsage
        );
    }
}
