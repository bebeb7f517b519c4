//! Signals: what a detector or rule emits when an event looks wrong.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::incident::IncidentType;
use crate::time::Timestamp;

/// How urgent a signal or incident is; ordered from `Low` to `Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth recording; no one needs to act.
    Low,
    /// Worth a look.
    Medium,
    /// Someone should act soon.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The contract name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// The severity a score in `[0, 1]` reads as.
    #[must_use]
    pub fn from_score(score: f64) -> Self {
        if score >= 0.9 {
            Self::Critical
        } else if score >= 0.7 {
            Self::High
        } else if score >= 0.4 {
            Self::Medium
        } else {
            Self::Low
        }
    }
}

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// A built-in statistical detector.
    Detector,
    /// A rule file.
    Rule,
}

/// One finding about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Detector or rule.
    pub source: SignalSource,
    /// The detector's id or the rule's id.
    pub name: Cow<'static, str>,
    /// How urgent this finding is on its own.
    pub severity: Severity,
    /// How strongly it suggests an attack, in `[0, 1]`.
    pub score: f64,
    /// The event time of the event that caused it.
    pub at: Timestamp,
    /// The producer's id of that event.
    pub event_id: Option<String>,
    /// The user the event belongs to.
    pub user_id: String,
    /// The event's client address.
    pub ip: Option<IpAddr>,
    /// The event's key id.
    pub api_key_id: Option<String>,
    /// The incident type this finding points to, when it points to one.
    pub incident_type: Option<IncidentType>,
    /// The numbers and values that made it fire; already redacted.
    pub evidence: Map<String, Value>,
    /// For a correlation grouped by something other than the user (an
    /// address, a key), that group, such as `ip_address=203.0.113.7`:
    /// such signals form incidents of the group rather than of the user.
    pub group: Option<String>,
}

impl Signal {
    /// What the incident engine groups this signal by: its correlation
    /// group when it has one, else its user.
    #[must_use]
    pub fn incident_key(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.user_id)
    }
}

/// The part of a signal written into an incident record.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SignalRecord {
    /// Detector or rule.
    pub source: SignalSource,
    /// The detector's or rule's id.
    pub name: String,
    /// Severity of the finding.
    pub severity: Severity,
    /// Score of the finding.
    pub score: f64,
    /// Event time of the (first) event that caused it.
    pub at: Timestamp,
    /// The producer's event id, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// How many times this finding repeated within the incident.
    pub count: u32,
    /// What made it fire.
    pub evidence: Map<String, Value>,
}

impl From<&Signal> for SignalRecord {
    fn from(signal: &Signal) -> Self {
        Self {
            source: signal.source,
            name: signal.name.to_string(),
            severity: signal.severity,
            score: signal.score,
            at: signal.at,
            event_id: signal.event_id.clone(),
            count: 1,
            evidence: signal.evidence.clone(),
        }
    }
}
