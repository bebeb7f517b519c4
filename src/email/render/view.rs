//! The facts of an incident as they may appear in an email: every string
//! that came from events, rules or actions is redacted (full keys, emails,
//! phone and card numbers masked), stripped of control characters and
//! shortened here, once, so the text and HTML writers cannot leak anything
//! by forgetting a step. The HTML writer still escapes what it prints.

use serde_json::Value;

use crate::incident::{Incident, IncidentStatus, IncidentType};
use crate::redact::redact_text;
use crate::signal::{Severity, SignalSource};

/// Longest value shown for one field, in characters.
const MAX_VALUE_CHARS: usize = 200;
/// Signals shown per incident; the rest are counted.
pub(super) const MAX_SIGNALS: usize = 20;
/// Evidence fields shown per signal; the rest are counted.
pub(super) const MAX_EVIDENCE_FIELDS: usize = 20;
/// Addresses or key ids listed per incident; the rest are counted.
const MAX_ENTITIES: usize = 20;

/// One incident, cleaned for an email.
pub(super) struct IncidentView {
    pub id: String,
    pub kind: IncidentType,
    pub severity: Severity,
    pub status: &'static str,
    pub revision: u32,
    pub score: String,
    pub user: String,
    pub first_seen: String,
    pub last_seen: String,
    pub ips: Listed,
    pub key_ids: Listed,
    pub signals: Vec<SignalView>,
    pub signals_not_shown: usize,
    pub actions: Vec<ActionView>,
}

/// A list shown up to a limit, with the number left out.
pub(super) struct Listed {
    pub shown: Vec<String>,
    pub not_shown: usize,
}

impl Listed {
    fn of(items: impl ExactSizeIterator<Item = String>) -> Self {
        let total = items.len();
        let shown: Vec<String> = items.take(MAX_ENTITIES).collect();
        Self {
            not_shown: total - shown.len(),
            shown,
        }
    }

    /// The items joined by commas, `none` when empty.
    pub fn joined(&self) -> String {
        if self.shown.is_empty() {
            return "none".to_owned();
        }
        let mut text = self.shown.join(", ");
        if self.not_shown > 0 {
            put!(text, " and {} more", self.not_shown);
        }
        text
    }
}

/// One signal of an incident.
pub(super) struct SignalView {
    pub name: String,
    pub source: &'static str,
    pub severity: Severity,
    pub score: String,
    pub at: String,
    pub count: u32,
    pub evidence: Vec<(String, String)>,
    pub evidence_not_shown: usize,
}

/// One action taken for an incident.
pub(super) struct ActionView {
    pub at: String,
    /// The action with its target, such as `revoke_api_key ak_7f3c`.
    pub label: String,
    /// Where it stands, in words: `queued`, `succeeded after 2 attempts`.
    pub state: String,
}

/// An action's state as a reader understands it.
fn state_words(status: &str, attempts: u32) -> String {
    let tries = if attempts == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{attempts} attempts")
    };
    match status {
        "pending" => "queued".to_owned(),
        "recorded" => "recorded only (nothing is configured to carry it out)".to_owned(),
        "suppressed" => "suppressed (allowlisted or silenced)".to_owned(),
        "dry_run" => "dry run: recorded, not carried out".to_owned(),
        "succeeded" | "failed" => format!("{status} after {tries}"),
        other => other.to_owned(),
    }
}

impl IncidentView {
    pub(super) fn of(incident: &Incident) -> Self {
        let signals: Vec<SignalView> = incident
            .signals
            .iter()
            .take(MAX_SIGNALS)
            .map(SignalView::of)
            .collect();
        Self {
            id: clean(&incident.incident_id),
            kind: incident.incident_type,
            severity: incident.severity,
            status: status_name(incident.status),
            revision: incident.revision,
            score: format!("{:.2}", incident.score),
            user: clean(&incident.user_id),
            first_seen: incident.first_seen.to_rfc3339(),
            last_seen: incident.last_seen.to_rfc3339(),
            ips: Listed::of(incident.entities.ips.iter().map(ToString::to_string)),
            key_ids: Listed::of(incident.entities.api_key_ids.iter().map(|id| clean(id))),
            signals_not_shown: incident.signals.len() - signals.len(),
            signals,
            actions: incident
                .actions
                .iter()
                .map(|action| ActionView {
                    at: action.at.to_rfc3339(),
                    label: match &action.target {
                        Some(target) => format!("{} {}", clean(&action.action), clean(target)),
                        None => clean(&action.action),
                    },
                    state: state_words(&action.status, action.attempts),
                })
                .collect(),
        }
    }

    /// `HIGH api_key_compromise for user alice`.
    pub(super) fn title(&self) -> String {
        format!(
            "{} {} for user {}",
            self.severity.as_str().to_ascii_uppercase(),
            self.kind.as_str(),
            shorten(&self.user, 64)
        )
    }
}

impl SignalView {
    fn of(signal: &crate::signal::SignalRecord) -> Self {
        let evidence: Vec<(String, String)> = signal
            .evidence
            .iter()
            .take(MAX_EVIDENCE_FIELDS)
            .map(|(key, value)| (clean(key), clean_value(value)))
            .collect();
        Self {
            name: clean(&signal.name),
            source: match signal.source {
                SignalSource::Detector => "detector",
                SignalSource::Rule => "rule",
            },
            severity: signal.severity,
            score: format!("{:.2}", signal.score),
            at: signal.at.to_rfc3339(),
            count: signal.count,
            evidence_not_shown: signal.evidence.len() - evidence.len(),
            evidence,
        }
    }
}

fn status_name(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Open => "open",
        IncidentStatus::Escalated => "escalated",
        IncidentStatus::Resolved => "resolved",
    }
}

/// Text from outside vigil made safe for a message: redacted, on one line,
/// at most [`MAX_VALUE_CHARS`] long.
pub(super) fn clean(text: &str) -> String {
    let redacted = redact_text(text);
    let one_line: String = redacted
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    shorten(one_line.trim(), MAX_VALUE_CHARS)
}

fn clean_value(value: &Value) -> String {
    match value {
        Value::String(text) => clean(text),
        other => clean(&other.to_string()),
    }
}

/// `text` cut to `max` characters, marked with an ellipsis when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// `1 time`, `3 times`.
pub(super) fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

/// `1 more incident`, `5 more incidents`.
pub(super) fn more_incidents(count: u64) -> String {
    if count == 1 {
        "1 more incident".to_owned()
    } else {
        format!("{count} more incidents")
    }
}
