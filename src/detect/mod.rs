//! Built-in statistical detectors, behind one trait.
//!
//! A detector compares one event with its user's profile as it stood before
//! the event, and may return a [`Finding`]. Detectors hold only their
//! configuration; all per-user state lives in the profile, so a shard can run
//! them without locks and a replay gives the same findings.

mod leaked_secret;
mod novel_ip;
mod off_hours;
mod rate_limit;
mod usage_spike;

use serde_json::{Map, Value};

use crate::event::Event;
use crate::incident::IncidentType;
use crate::profile::Profile;
use crate::signal::Severity;
use crate::time::LocalTime;

pub use leaked_secret::{LeakedSecret, LeakedSecretConfig};
pub use novel_ip::{NovelIp, NovelIpConfig};
pub use off_hours::{OffHours, OffHoursConfig};
pub use rate_limit::{RateLimit, RateLimitConfig};
pub use usage_spike::{UsageSpike, UsageSpikeConfig};

/// What a detector sees: the event, its local time and the user's profile
/// before the event was recorded.
#[derive(Clone, Copy)]
pub struct Context<'c, 'a> {
    /// The event under inspection.
    pub event: &'c Event<'a>,
    /// The event's time in the user's local calendar.
    pub local: LocalTime,
    /// The user's profile, not yet including this event.
    pub profile: &'c Profile,
}

/// A detector's verdict on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// How urgent it is.
    pub severity: Severity,
    /// How strongly it suggests an attack, in `[0, 1]`.
    pub score: f64,
    /// The incident type it points to on its own, if any.
    pub incident_type: Option<IncidentType>,
    /// The numbers that made it fire, already free of secrets.
    pub evidence: Map<String, Value>,
}

impl Finding {
    /// A finding with no type hint.
    #[must_use]
    pub fn new(severity: Severity, score: f64, evidence: Map<String, Value>) -> Self {
        Self {
            severity,
            score,
            incident_type: None,
            evidence,
        }
    }

    /// The same finding pointing to an incident type.
    #[must_use]
    pub fn pointing_to(mut self, incident_type: IncidentType) -> Self {
        self.incident_type = Some(incident_type);
        self
    }
}

/// A built-in detector.
pub trait Detector: Send + Sync {
    /// The id written in signals, such as `usage_spike`.
    fn id(&self) -> &'static str;

    /// Whether the profile holds enough history for this detector to judge;
    /// until it does, the detector stays silent for that user.
    fn warmed_up(&self, profile: &Profile) -> bool;

    /// Inspects one event.
    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding>;
}

/// Settings of every built-in detector (`[detectors.*]` in `vigil.toml`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// `usage_spike`.
    pub usage_spike: UsageSpikeConfig,
    /// `off_hours`.
    pub off_hours: OffHoursConfig,
    /// `novel_ip`.
    pub novel_ip: NovelIpConfig,
    /// `rate_limit`.
    pub rate_limit: RateLimitConfig,
    /// `leaked_secret`.
    pub leaked_secret: LeakedSecretConfig,
}

impl DetectorsConfig {
    /// Problems with the settings, each naming its key.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.usage_spike.problems();
        problems.extend(self.off_hours.problems());
        problems.extend(self.novel_ip.problems());
        problems.extend(self.rate_limit.problems());
        problems
    }
}

/// The enabled detectors, in a fixed order.
pub struct DetectorSet {
    detectors: Vec<Box<dyn Detector>>,
}

impl DetectorSet {
    /// Builds the enabled detectors from their settings.
    #[must_use]
    pub fn from_config(config: &DetectorsConfig) -> Self {
        let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
        if config.usage_spike.enabled {
            detectors.push(Box::new(UsageSpike::new(config.usage_spike.clone())));
        }
        if config.off_hours.enabled {
            detectors.push(Box::new(OffHours::new(config.off_hours.clone())));
        }
        if config.novel_ip.enabled {
            detectors.push(Box::new(NovelIp::new(config.novel_ip.clone())));
        }
        if config.rate_limit.enabled {
            detectors.push(Box::new(RateLimit::new(config.rate_limit.clone())));
        }
        if config.leaked_secret.enabled {
            detectors.push(Box::new(LeakedSecret::new(config.leaked_secret.clone())));
        }
        Self { detectors }
    }

    /// The detectors, in evaluation order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Detector> {
        self.detectors.iter().map(AsRef::as_ref)
    }

    /// The ids of the enabled detectors.
    #[must_use]
    pub fn ids(&self) -> Vec<&'static str> {
        self.iter().map(Detector::id).collect()
    }
}

/// Builds an evidence map from `(key, value)` pairs.
#[must_use]
pub fn evidence<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Rounds a figure for evidence, so records stay readable and stable.
#[must_use]
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
pub(crate) mod testing;
