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
