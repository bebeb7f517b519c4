//! The playbook: which response actions an incident of a given type gets
//! once it reaches a given severity. It is a TOML file of `[[respond]]`
//! entries; the default ships in `playbooks/default.toml` and is built in.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::incident::IncidentType;
use crate::signal::Severity;

/// The playbook built into vigil.
pub const BUILTIN: &str = include_str!("../../playbooks/default.toml");

/// A response step the playbook can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Revoke each key involved through the gateway's admin API.
    RevokeApiKey,
    /// Put each address involved on the blocklist.
    BlockIp,
    /// Email the account owner.
    EmailUser,
    /// Alert the security team by email, and by webhook when one is set.
    Escalate,
    /// Post the incident to the webhook.
    Webhook,
}

impl ActionKind {
    /// Every kind, in the order actions of one revision are planned.
    pub const ALL: [Self; 5] = [
        Self::RevokeApiKey,
        Self::BlockIp,
        Self::EmailUser,
        Self::Escalate,
        Self::Webhook,
    ];

    /// The name used in playbooks, records and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RevokeApiKey => "revoke_api_key",
            Self::BlockIp => "block_ip",
            Self::EmailUser => "email_user",
            Self::Escalate => "escalate",
            Self::Webhook => "webhook",
        }
    }
}

/// Which incidents an entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeMatch {
    Any,
    Only(IncidentType),
}

impl<'de> Deserialize<'de> for TypeMatch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "*" {
            return Ok(Self::Any);
        }
        IncidentType::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .map(Self::Only)
            .ok_or_else(|| {
                let known: Vec<&str> = IncidentType::ALL.iter().map(|t| t.as_str()).collect();
                serde::de::Error::custom(format!(
                    "unknown incident type {text:?}; expected \"*\" or one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// One `[[respond]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(rename = "type")]
    incident_type: TypeMatch,
    min_severity: Severity,
    actions: Vec<ActionKind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    respond: Vec<Entry>,
}

/// Why a playbook was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// The file cannot be read.
    #[error("playbook {path}")]
    Unreadable {
        /// The playbook file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not a valid playbook; the message names the line, the
    /// field and the value.
    #[error("playbook {origin}: {message}")]
    Invalid {
        /// The file, or `(built in)`.
        origin: String,
        /// What is wrong, and where.
        message: String,
    },
}

/// The map from incident type and severity to actions.
#[derive(Debug, Clone)]
pub struct Playbook {
    entries: Vec<Entry>,
}

impl Playbook {
    /// The playbook built into vigil.
    ///
    /// # Panics
    /// Never: the built-in playbook is checked by the tests.
    #[must_use]
    pub fn builtin() -> Self {
        Self::parse(BUILTIN, "(built in)").expect("the built-in playbook is valid")
    }

    /// Reads and validates the playbook at `path`.
    ///
    /// # Errors
    /// The file cannot be read or is not a valid playbook.
    pub fn load(path: &Path) -> Result<Self, PlaybookError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlaybookError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Validates playbook text; `origin` names it in errors.
    ///
    /// # Errors
    /// The text is not a valid playbook.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PlaybookError> {
        let invalid = |message: String| PlaybookError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| invalid(describe(&e, text)))?;
        if let Some(index) = file.respond.iter().position(|e| e.actions.is_empty()) {
            return Err(invalid(format!(
                "[[respond]] entry {} has no actions; list at least one of {}",
                index + 1,
                action_names()
            )));
        }
        Ok(Self {
            entries: file.respond,
        })
    }

    /// The actions an incident of `incident_type` at `severity` calls for,
    /// each once, in a stable order.
    #[must_use]
    pub fn actions_for(&self, incident_type: IncidentType, severity: Severity) -> Vec<ActionKind> {
        let mut actions: Vec<ActionKind> = self
            .entries
            .iter()
            .filter(|entry| severity >= entry.min_severity)
            .filter(|entry| match entry.incident_type {
                TypeMatch::Any => true,
                TypeMatch::Only(t) => t == incident_type,
            })
            .flat_map(|entry| entry.actions.iter().copied())
            .collect();
        actions.sort_unstable();
        actions.dedup();
        actions
    }

    /// Entries in the playbook.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry asks for anything.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn action_names() -> String {
    ActionKind::ALL
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// toml's message with the line and column of the offending value.
fn describe(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let line = text[..span.start].matches('\n').count() + 1;
            let value = text[span.clone()].trim();
            format!("line {line}: {message} (at `{value}`)")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_playbook_follows_the_usual_procedures() {
        let playbook = Playbook::builtin();
        let compromise = |s| playbook.actions_for(IncidentType::ApiKeyCompromise, s);
        assert!(compromise(Severity::Low).is_empty());
        assert_eq!(compromise(Severity::Medium), [ActionKind::RevokeApiKey]);
        assert_eq!(
            compromise(Severity::High),
            [ActionKind::RevokeApiKey, ActionKind::EmailUser]
        );
        assert_eq!(
            compromise(Severity::Critical),
            [
                ActionKind::RevokeApiKey,
                ActionKind::EmailUser,
                ActionKind::Escalate
            ]
        );
        let access = |s| playbook.actions_for(IncidentType::UnauthorizedAccess, s);
        assert_eq!(access(Severity::Medium), [ActionKind::BlockIp]);
        assert_eq!(
            access(Severity::High),
            [ActionKind::BlockIp, ActionKind::Escalate]
        );
        let flood = playbook.actions_for(IncidentType::DdosAttack, Severity::Medium);
        assert_eq!(flood, [ActionKind::BlockIp]);
        let policy = playbook.actions_for(IncidentType::PolicyViolation, Severity::Critical);
        assert_eq!(policy, [ActionKind::Escalate]);
    }

    #[test]
    fn an_unknown_action_is_named_with_its_line() {
        let text =
            "[[respond]]\ntype = \"ddos_attack\"\nmin_severity = \"low\"\nactions = [\"block\"]\n";
        let error = Playbook::parse(text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("p.toml"), "{error}");
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("block"), "{error}");
    }

    #[test]
    fn an_unknown_type_lists_the_known_ones() {
        let text =
            "[[respond]]\ntype = \"phishing\"\nmin_severity = \"low\"\nactions = [\"block_ip\"]\n";
        let error = Playbook::parse(text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("phishing"), "{error}");
        assert!(error.contains("api_key_compromise"), "{error}");
    }

    #[test]
    fn unknown_keys_and_empty_action_lists_are_refused() {
        let misspelt = "[[respond]]\ntype = \"*\"\nmin_sev = \"low\"\nactions = [\"escalate\"]\n";
        let error = Playbook::parse(misspelt, "p.toml").unwrap_err().to_string();
        assert!(error.contains("min_sev"), "{error}");
        let empty = "[[respond]]\ntype = \"*\"\nmin_severity = \"low\"\nactions = []\n";
        let error = Playbook::parse(empty, "p.toml").unwrap_err().to_string();
        assert!(error.contains("no actions"), "{error}");
    }
}
