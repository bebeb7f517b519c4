//! `leaked_secret`: a full API key or another credential appears inside an
//! event: in a prompt, a header copied into `details`, a user agent, or a
//! producer that put the secret where the key id belongs.

use serde_json::json;

use super::{Context, Detector, Finding, evidence};
use crate::incident::IncidentType;
use crate::profile::Profile;
use crate::redact::find_secret;
use crate::signal::Severity;

/// Settings of `leaked_secret`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakedSecretConfig {
    /// Whether the detector runs.
    pub enabled: bool,
}

impl Default for LeakedSecretConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The `leaked_secret` detector.
pub struct LeakedSecret {
    _config: LeakedSecretConfig,
}

impl LeakedSecret {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: LeakedSecretConfig) -> Self {
        Self { _config: config }
    }
}

impl Detector for LeakedSecret {
    fn id(&self) -> &'static str {
        "leaked_secret"
    }

    fn warmed_up(&self, _profile: &Profile) -> bool {
        true
    }

    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding> {
        let key_field = cx.event.api_key_id.as_deref().map(|id| ("api_key_id", id));
        let (field, found) = key_field
            .into_iter()
            .chain(cx.event.text_fields())
            .find_map(|(field, text)| find_secret(text).map(|found| (field, found)))?;
        let facts = evidence([
            ("field", json!(field)),
            ("kind", json!(found.kind)),
            ("match", json!(found.masked)),
        ]);
        Some(
            Finding::new(Severity::Critical, 0.95, facts)
                .pointing_to(IncidentType::ApiKeyCompromise),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{Scenario, at_day, event};
    use crate::event::{DecodeLimits, decode};

    const KEY: &str = "ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e";

    #[test]
    fn a_full_key_in_details_fires_critical_without_revealing_it() {
        let record = format!(
            r#"{{"timestamp":"2026-11-02T09:00:00Z","event_type":"api_access","user_id":"u","details":{{"prompt":"use {KEY}"}}}}"#
        );
        let event = decode(record.as_bytes(), &DecodeLimits::default()).unwrap();
        let finding = Scenario::new()
            .inspect(&LeakedSecret::new(LeakedSecretConfig::default()), &event)
            .unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.evidence["field"], "details");
        assert_eq!(finding.evidence["kind"], "agent_key");
        assert!(
            !serde_json::to_string(&finding.evidence)
                .unwrap()
                .contains("Zx81mQ0p")
        );
    }

    #[test]
    fn a_secret_in_the_key_id_field_is_caught() {
        let mut e = event(at_day(0, 9));
        e.api_key_id = Some(KEY.into());
        let finding = Scenario::new()
            .inspect(&LeakedSecret::new(LeakedSecretConfig::default()), &e)
            .unwrap();
        assert_eq!(finding.evidence["field"], "api_key_id");
    }

    #[test]
    fn ordinary_events_are_clean() {
        let e = event(at_day(0, 9));
        assert!(
            Scenario::new()
                .inspect(&LeakedSecret::new(LeakedSecretConfig::default()), &e)
                .is_none()
        );
    }
}
