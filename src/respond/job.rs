//! A planned action: what to do, to what, for which incident, and the key
//! that makes doing it twice impossible.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::playbook::ActionKind;
use crate::incident::Incident;

/// What an action acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A key, by its public id.
    ApiKey(String),
    /// A client address.
    Ip(IpAddr),
    /// The account owner.
    User,
    /// The security team.
    SecurityTeam,
    /// The configured webhook.
    Webhook,
}

impl Target {
    /// How the target reads in incident records, logs and the audit log.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::ApiKey(key) => key.clone(),
            Self::Ip(ip) => ip.to_string(),
            Self::User => "user".to_owned(),
            Self::SecurityTeam => "security_team".to_owned(),
            Self::Webhook => "webhook".to_owned(),
        }
    }
}

/// One action to run, as queued and journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `<incident id>/<action>/<target>`: the idempotency key. An action
    /// with a key already journaled is never queued again.
    pub key: String,
    /// What to do.
    pub action: ActionKind,
    /// To what.
    pub target: Target,
    /// The incident as it stood when the action was planned.
    pub incident: Incident,
    /// When it was planned (wall clock).
    pub planned_at: DateTime<Utc>,
}

/// The idempotency key of `action` on `target` for incident `id`.
#[must_use]
pub fn job_key(id: &str, action: ActionKind, target: &Target) -> String {
    format!("{id}/{}/{}", action.as_str(), target.label())
}
