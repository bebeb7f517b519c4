//! The security score and the recommendations, both derived from the
//! report's figures alone.
//!
//! The score starts at 100 and loses points in four parts, each capped:
//!
//! | part | deduction | cap |
//! |---|---|---|
//! | failed logins | the percentage of authentications that failed | 25 |
//! | incidents | 10 × (10·critical + 5·high + 2·medium + 0.5·low) ÷ active users | 40 |
//! | unresolved | 20 × the share of high and critical incidents not resolved | 20 |
//! | actions | 15 × the share of action attempts that failed | 15 |
//!
//! The result is rounded and kept within 0–100.

use serde::Serialize;

use super::{Count, Report};

/// What each part of the score deducted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScoreParts {
    /// For failed authentications.
    pub failed_logins: f64,
    /// For incidents, weighted by severity, per active user.
    pub incidents: f64,
    /// For high and critical incidents left unresolved.
    pub unresolved: f64,
    /// For failed action attempts.
    pub failed_actions: f64,
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The score (0–100, higher is better) and its deductions.
#[must_use]
pub fn score(report: &Report) -> (u32, ScoreParts) {
    let severity = |name: &str| Report::count_of(&report.incidents_by_severity, name);
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let weighted = 10.0 * severity("critical") as f64
        + 5.0 * severity("high") as f64
        + 2.0 * severity("medium") as f64
        + 0.5 * severity("low") as f64;
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let users = report.active_users.max(1) as f64;
    let serious = severity("high") + severity("critical");
    let attempts: u64 = report.actions_by_outcome.iter().map(|c| c.count).sum();
    let failed_actions = Report::count_of(&report.actions_by_outcome, "failed");
    let parts = ScoreParts {
        failed_logins: (100.0 * ratio(report.failed_authentications, report.authentications))
            .min(25.0),
        incidents: (10.0 * weighted / users).min(40.0),
        unresolved: 20.0 * ratio(report.unresolved_serious, serious),
        failed_actions: 15.0 * ratio(failed_actions, attempts),
    };
    let total = parts.failed_logins + parts.incidents + parts.unresolved + parts.failed_actions;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0–100 first"
    )]
    let value = (100.0 - total).clamp(0.0, 100.0).round() as u32;
    (value, parts)
}

fn mentions_any(signals: &[Count], words: &[&str]) -> Option<u64> {
    let found: u64 = signals
        .iter()
        .filter(|s| words.iter().any(|w| s.name.contains(w)))
        .map(|s| s.count)
        .sum();
    (found > 0).then_some(found)
}

/// Advice that follows from the figures, most pressing first.
#[must_use]
pub fn recommendations(report: &Report) -> Vec<String> {
    let mut advice = Vec::new();
    let incidents = |kind: &str| Report::count_of(&report.incidents_by_type, kind);
    let failure_rate = ratio(report.failed_authentications, report.authentications);
    let login_attacks = mentions_any(
        &report.top_signals,
        &["brute", "stuffing", "spray", "failed-password", "mfa"],
    );
    if report.unresolved_serious > 0 {
        advice.push(format!(
            "Triage the {} high or critical incidents still unresolved.",
            report.unresolved_serious
        ));
    }
    if failure_rate >= 0.05 || login_attacks.is_some() || incidents("unauthorized_access") > 0 {
        advice.push(format!(
            "{} of {} authentications failed ({:.1}%){}: enforce an account lockout policy \
             (for example 10 failures in 5 minutes) and require MFA for every account.",
            report.failed_authentications,
            report.authentications,
            100.0 * failure_rate,
            login_attacks.map_or(String::new(), |n| format!(
                ", and login attacks were behind {n} incidents"
            )),
        ));
    }
    if incidents("api_key_compromise") > 0 {
        advice.push(format!(
            "{} API key compromises: shorten key lifetimes, rotate keys automatically, \
             and bind keys to known networks.",
            incidents("api_key_compromise")
        ));
    }
    if let Some(leaks) = mentions_any(&report.top_signals, &["leaked_secret"]) {
        advice.push(format!(
            "Secrets appeared in requests ({leaks} incidents): scan client code and logs \
             for keys and revoke every exposed key."
        ));
    }
    let floods = incidents("ddos_attack");
    if floods > 0 || mentions_any(&report.top_signals, &["rate_limit"]).is_some() {
        advice.push(format!(
            "Rate-limit floods ({floods} incidents): tighten per-key rate limits and daily \
             quotas, and block abusive addresses at the gateway."
        ));
    }
    if incidents("policy_violation") > 0 {
        advice.push(format!(
            "{} policy violations: review quotas and restrict administrative actions to \
             working hours.",
            incidents("policy_violation")
        ));
    }
    let failed_actions = Report::count_of(&report.actions_by_outcome, "failed");
    if failed_actions > 0 {
        advice.push(format!(
            "{failed_actions} response actions failed: check the responder's integrations \
             (gateway API, mail, webhooks)."
        ));
    }
    if advice.is_empty() {
        advice.push("No figure calls for a change; keep monitoring.".to_owned());
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> Vec<Count> {
        pairs
            .iter()
            .map(|&(name, count)| Count {
                name: name.to_owned(),
                count,
            })
            .collect()
    }

    fn quiet_report() -> Report {
        Report {
            from: "2026-11-01".to_owned(),
            to: "2026-11-30".to_owned(),
            events: 10_000,
            active_users: 100,
            events_by_type: counts(&[("api_access", 9_000), ("authentication", 1_000)]),
            authentications: 1_000,
            failed_authentications: 10,
            top_failed_login_users: Vec::new(),
            incidents: 0,
            incidents_by_type: Vec::new(),
            incidents_by_severity: counts(&[
                ("low", 0),
                ("medium", 0),
                ("high", 0),
                ("critical", 0),
            ]),
            incidents_by_type_and_severity: Vec::new(),
            incidents_per_day: Vec::new(),
            unresolved_serious: 0,
            resolved: 0,
            mean_time_to_resolve_secs: None,
            actions_by_outcome: Vec::new(),
            top_users: Vec::new(),
            top_ips: Vec::new(),
            top_signals: Vec::new(),
            score: 0,
            score_parts: ScoreParts::default(),
            recommendations: Vec::new(),
        }
    }

    #[test]
    fn a_quiet_period_scores_high_and_needs_no_change() {
        let report = quiet_report();
        let (value, parts) = score(&report);
        assert_eq!(
            value, 99,
            "only the 1% failed logins are deducted: {parts:?}"
        );
        assert_eq!(
            recommendations(&report),
            vec!["No figure calls for a change; keep monitoring.".to_owned()]
        );
    }

    #[test]
    fn each_part_follows_the_documented_formula() {
        let mut report = quiet_report();
        report.failed_authentications = 100;
        report.incidents_by_severity =
            counts(&[("low", 2), ("medium", 5), ("high", 4), ("critical", 1)]);
        report.incidents_by_type = counts(&[("api_key_compromise", 1), ("ddos_attack", 2)]);
        report.unresolved_serious = 1;
        report.actions_by_outcome = counts(&[("succeeded", 3), ("failed", 1)]);
        let (value, parts) = score(&report);
        assert!((parts.failed_logins - 10.0).abs() < 1e-9);
        // 10 × (10 + 20 + 10 + 1) / 100 users
        assert!((parts.incidents - 4.1).abs() < 1e-9);
        assert!((parts.unresolved - 4.0).abs() < 1e-9);
        assert!((parts.failed_actions - 3.75).abs() < 1e-9);
        assert_eq!(value, 78);
        let advice = recommendations(&report).join("\n");
        assert!(
            advice.contains("lockout") && advice.contains("MFA"),
            "{advice}"
        );
        assert!(advice.contains("key lifetimes"), "{advice}");
        assert!(advice.contains("quotas"), "{advice}");
    }
}
