//! `rate_limit`: a key exceeds its per-second rate or its daily quota.
//!
//! Limits depend on the key's kind (agent or developer); anonymous calls
//! carry no key and are left to the gateway. Each window fires once, on the
//! first request over the limit.

use serde_json::json;

use super::{Context, Detector, Finding, evidence};
use crate::event::KeyType;
use crate::incident::IncidentType;
use crate::profile::Profile;
use crate::signal::Severity;

/// Settings of `rate_limit`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Requests per second allowed for an agent key.
    pub agent_per_second: u32,
    /// Requests per local day allowed for an agent key.
    pub agent_per_day: u32,
    /// Requests per second allowed for a developer key.
    pub developer_per_second: u32,
    /// Requests per local day allowed for a developer key.
    pub developer_per_day: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            agent_per_second: 10,
            agent_per_day: 5_000,
            developer_per_second: 5,
            developer_per_day: 1_000,
        }
    }
}

impl RateLimitConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        [
            ("agent_per_second", self.agent_per_second),
            ("agent_per_day", self.agent_per_day),
            ("developer_per_second", self.developer_per_second),
            ("developer_per_day", self.developer_per_day),
        ]
        .into_iter()
        .filter(|(_, limit)| *limit == 0)
        .map(|(key, _)| format!("detectors.rate_limit.{key} must be at least 1"))
        .collect()
    }

    fn limits(&self, key_type: KeyType) -> Option<(u32, u32)> {
        match key_type {
            KeyType::Agent => Some((self.agent_per_second, self.agent_per_day)),
            KeyType::Developer => Some((self.developer_per_second, self.developer_per_day)),
            KeyType::Anonymous => None,
        }
    }
}

/// The `rate_limit` detector.
pub struct RateLimit {
    config: RateLimitConfig,
}

impl RateLimit {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: RateLimitConfig) -> Self {
        Self { config }
    }
}

impl Detector for RateLimit {
    fn id(&self) -> &'static str {
        "rate_limit"
    }

    fn warmed_up(&self, _profile: &Profile) -> bool {
        true
    }

    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding> {
        let key_id = cx.event.api_key_id.as_deref()?;
        let (per_second, per_day) = self.config.limits(cx.event.key_type)?;
        let counter = cx.profile.keys.get(key_id);
        let second = cx.event.timestamp.epoch_second();
        let in_second = counter.map_or(0, |c| c.count_in_second(second)) + 1;
        let in_day = counter.map_or(0, |c| c.count_in_day(cx.local.day)) + 1;
        let (window, count, limit, score, incident_type) = if in_second == per_second + 1 {
            (
                "second",
                in_second,
                per_second,
                0.55,
                IncidentType::DdosAttack,
            )
        } else if in_day == per_day + 1 {
            ("day", in_day, per_day, 0.45, IncidentType::PolicyViolation)
        } else {
            return None;
        };
        let facts = evidence([
            ("api_key_id", json!(crate::redact::redact_secrets(key_id))),
            ("key_type", json!(cx.event.key_type.as_str())),
            ("window", json!(window)),
            ("count", json!(count)),
            ("limit", json!(limit)),
        ]);
        Some(Finding::new(Severity::Medium, score, facts).pointing_to(incident_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{Scenario, at_day, event};

    #[test]
    fn the_eleventh_agent_request_in_one_second_fires_once() {
        let detector = RateLimit::new(RateLimitConfig::default());
        let mut scenario = Scenario::new();
        let fired: Vec<_> = (0..30)
            .filter_map(|i| scenario.inspect(&detector, &event(at_day(0, 9).plus_ms(i * 30))))
            .collect();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].evidence["count"], 11);
        assert_eq!(fired[0].incident_type, Some(IncidentType::DdosAttack));
    }

    #[test]
    fn developer_keys_have_the_lower_limit() {
        let detector = RateLimit::new(RateLimitConfig::default());
        let mut scenario = Scenario::new();
        let first_fire = (0..10).find(|&i| {
            let mut e = event(at_day(0, 9).plus_ms(i * 50));
            e.api_key_id = Some("dk_dev00001".into());
            e.key_type = KeyType::Developer;
            scenario.inspect(&detector, &e).is_some()
        });
        assert_eq!(first_fire, Some(5));
    }

    #[test]
    fn the_daily_quota_fires_on_the_first_request_over_it() {
        let config = RateLimitConfig {
            agent_per_day: 50,
            ..RateLimitConfig::default()
        };
        let detector = RateLimit::new(config);
        let mut scenario = Scenario::new();
        let fired: Vec<_> = (0..80)
            .filter_map(|i| scenario.inspect(&detector, &event(at_day(0, 9).plus_ms(i * 2_000))))
            .collect();
        assert_eq!(fired.len(), 1);
        assert_eq!(
            (
                fired[0].evidence["window"].as_str(),
                fired[0].evidence["count"].as_u64()
            ),
            (Some("day"), Some(51))
        );
    }

    #[test]
    fn calls_spread_over_seconds_stay_silent() {
        let detector = RateLimit::new(RateLimitConfig::default());
        let mut scenario = Scenario::new();
        let fired = (0..100)
            .filter_map(|i| scenario.inspect(&detector, &event(at_day(0, 9).plus_ms(i * 200))))
            .count();
        assert_eq!(fired, 0);
    }
}
