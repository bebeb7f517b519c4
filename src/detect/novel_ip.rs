//! `novel_ip`: an established user calls from an address never seen for
//! them. An address inside a known /24 (IPv4) or /48 (IPv6) is weak
//! evidence (providers reassign hosts all the time); one outside is strong,
//! and when every address of the last 24 hours is new as well, the whole
//! footprint has moved to unknown networks and the finding escalates.

use serde_json::json;

use super::{Context, Detector, Finding, evidence};
use crate::profile::{Familiarity, Profile};
use crate::signal::Severity;

/// Settings of `novel_ip`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NovelIpConfig {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Events a user needs before a new address means anything.
    pub min_baseline_events: u32,
    /// Completed days of history a user needs before a new address means
    /// anything: the first days show only part of their usual networks.
    pub min_history_days: u8,
    /// The window in which an entirely new footprint escalates, in seconds.
    pub recent_window_secs: u32,
}

impl Default for NovelIpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_baseline_events: 10,
            min_history_days: 7,
            recent_window_secs: 86_400,
        }
    }
}

impl NovelIpConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        if self.recent_window_secs == 0 {
            return vec!["detectors.novel_ip.recent_window_secs must be above 0".to_owned()];
        }
        Vec::new()
    }
}

/// The `novel_ip` detector.
pub struct NovelIp {
    config: NovelIpConfig,
}

impl NovelIp {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: NovelIpConfig) -> Self {
        Self { config }
    }
}

impl Detector for NovelIp {
    fn id(&self) -> &'static str {
        "novel_ip"
    }

    fn warmed_up(&self, profile: &Profile) -> bool {
        profile.events >= self.config.min_baseline_events
            && profile.history_days() >= self.config.min_history_days
            && !profile.ips.is_empty()
    }

    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding> {
        let ip = cx.event.ip_address?;
        let familiarity = cx.profile.ips.familiarity(ip);
        let all_new = cx
            .profile
            .ips
            .recent_all_new(cx.event.timestamp, self.config.recent_window_secs);
        let (severity, score, label) = match (familiarity, all_new) {
            (Familiarity::Known, _) => return None,
            (Familiarity::New, true) => (Severity::Critical, 0.92, "all_recent_new"),
            (Familiarity::New, false) => (Severity::High, 0.75, "new_network"),
            (Familiarity::SamePrefix, _) => (Severity::Low, 0.2, "known_prefix"),
        };
        let facts = evidence([
            ("ip", json!(ip.to_string())),
            ("familiarity", json!(label)),
            ("known_ips", json!(cx.profile.ips.len())),
        ]);
        Some(Finding::new(severity, score, facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{Scenario, at_day, event};

    fn established_user() -> Scenario {
        let mut scenario = Scenario::new();
        for day in 0..9 {
            for i in 0..5 {
                scenario.record(&event(at_day(day, 9).plus_ms(i * 1_000)));
            }
        }
        scenario
    }

    fn from_ip(day: usize, ip: &str) -> crate::event::Event<'static> {
        let mut e = event(at_day(day, 10));
        e.ip_address = Some(ip.parse().unwrap());
        e
    }

    #[test]
    fn a_new_network_is_high_and_a_known_prefix_low() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = established_user();
        let outside = scenario
            .inspect(&detector, &from_ip(8, "203.0.113.50"))
            .unwrap();
        assert_eq!(
            (outside.severity, outside.evidence["familiarity"].as_str()),
            (Severity::High, Some("new_network"))
        );
        let inside = scenario
            .inspect(&detector, &from_ip(8, "192.0.2.77"))
            .unwrap();
        assert_eq!(inside.severity, Severity::Low);
        assert_eq!(inside.evidence["known_ips"], 2);
    }

    #[test]
    fn each_address_fires_only_on_first_sight() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = established_user();
        assert!(
            scenario
                .inspect(&detector, &from_ip(8, "203.0.113.50"))
                .is_some()
        );
        assert!(
            scenario
                .inspect(&detector, &from_ip(8, "203.0.113.50"))
                .is_none()
        );
    }

    #[test]
    fn an_entirely_new_footprint_escalates_to_critical() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = established_user();
        scenario.record(&from_ip(11, "203.0.113.50"));
        let finding = scenario
            .inspect(&detector, &from_ip(11, "198.51.100.3"))
            .unwrap();
        assert_eq!(finding.severity, Severity::Critical);
    }

    #[test]
    fn a_reassigned_host_in_a_known_prefix_stays_low_after_a_quiet_day() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = established_user();
        let finding = scenario
            .inspect(&detector, &from_ip(11, "192.0.2.77"))
            .unwrap();
        assert_eq!(finding.severity, Severity::Low);
    }

    #[test]
    fn a_week_of_history_is_needed_before_judging() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = Scenario::new();
        for day in 0..3 {
            for i in 0..20 {
                scenario.record(&event(at_day(day, 9).plus_ms(i * 1_000)));
            }
        }
        assert!(!detector.warmed_up(scenario.profile_at(at_day(3, 10))));
    }

    #[test]
    fn users_without_a_baseline_are_not_judged() {
        let detector = NovelIp::new(NovelIpConfig::default());
        let mut scenario = Scenario::new();
        scenario.record(&event(at_day(0, 9)));
        assert!(!detector.warmed_up(scenario.profile_at(at_day(0, 10))));
    }
}
