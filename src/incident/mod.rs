//! Incidents: signals about one entity folded into one record with a type,
//! a score and a severity. The record is the output contract of vigil.

mod classify;
mod engine;

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use crate::signal::{Severity, SignalRecord};
use crate::time::Timestamp;

pub use classify::{classify, combined_score};
pub use engine::{IncidentConfig, IncidentEngine};

/// What an incident is judged to be.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentType {
    /// Someone other than the owner is using a key, or a key leaked.
    ApiKeyCompromise,
    /// Access that should not have succeeded or been tried.
    UnauthorizedAccess,
    /// A flood of calls.
    DdosAttack,
    /// Data leaving where it should not.
    DataBreach,
    /// Known-malicious tooling or payloads.
    MalwareDetection,
    /// Use against policy (quota, hours, endpoints).
    PolicyViolation,
    /// Unusual usage without a clearer explanation.
    AnomalousUsage,
}

impl IncidentType {
    /// Every type, in a stable order for reports.
    pub const ALL: [Self; 7] = [
        Self::ApiKeyCompromise,
        Self::UnauthorizedAccess,
        Self::DdosAttack,
        Self::DataBreach,
        Self::MalwareDetection,
        Self::PolicyViolation,
        Self::AnomalousUsage,
    ];

    /// The contract name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKeyCompromise => "api_key_compromise",
            Self::UnauthorizedAccess => "unauthorized_access",
            Self::DdosAttack => "ddos_attack",
            Self::DataBreach => "data_breach",
            Self::MalwareDetection => "malware_detection",
            Self::PolicyViolation => "policy_violation",
            Self::AnomalousUsage => "anomalous_usage",
        }
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// New and unresolved.
    Open,
    /// Its severity rose after it opened.
    Escalated,
    /// Closed.
    Resolved,
}

/// The addresses and keys involved in an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Entities {
    /// Client addresses seen in its signals.
    pub ips: BTreeSet<IpAddr>,
    /// Key ids seen in its signals.
    pub api_key_ids: BTreeSet<String>,
}

/// An action the playbook chose for an incident, as recorded on it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ActionRecord {
    /// The action's name, such as `revoke_api_key`.
    pub action: String,
    /// What it acts on: the key id, the address or the recipient kind
    /// (`user`, `security_team`, `webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `pending` (queued), `succeeded`, `failed`, `suppressed` (allowlisted
    /// or silenced: never run), `dry_run` (recorded, not run) or `recorded`
    /// (no target is configured: audited only).
    pub status: String,
    /// When it last changed.
    pub at: Timestamp,
    /// How many attempts were made.
    pub attempts: u32,
}

/// One incident's full state; each change is written as a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Incident {
    /// Stable id: the same input always gives the same id.
    pub incident_id: String,
    /// Grows by one with each written change.
    pub revision: u32,
    /// Where it stands.
    pub status: IncidentStatus,
    /// What it is judged to be.
    #[serde(rename = "type")]
    pub incident_type: IncidentType,
    /// Follows from the score.
    pub severity: Severity,
    /// The signals' scores combined, in `[0, 1]`.
    pub score: f64,
    /// The user it concerns.
    pub user_id: String,
    /// Addresses and keys involved.
    pub entities: Entities,
    /// Event time of its first signal.
    pub first_seen: Timestamp,
    /// Event time of its latest signal.
    pub last_seen: Timestamp,
    /// Its signals, one entry per distinct finding.
    pub signals: Vec<SignalRecord>,
    /// Response actions taken.
    pub actions: Vec<ActionRecord>,
}
