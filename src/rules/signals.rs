//! Turning rsigma's match results into vigil signals, with evidence an
//! analyst can read and nothing secret or personal in it.

use std::borrow::Cow;

use rsigma_eval::{CorrelationBody, DetectionBody, EvaluationResult};
use serde_json::{Map, Value, json};

use super::load::RuleMeta;
use crate::event::Event;
use crate::redact::redact_text;
use crate::signal::{Signal, SignalSource};

/// Matched field values longer than this are cut in evidence.
const MAX_EVIDENCE_CHARS: usize = 200;

/// The signal a rule result raises for `event`, the event that matched or
/// completed it.
#[must_use]
pub fn rule_signal(meta: &RuleMeta, result: &EvaluationResult, event: &Event<'_>) -> Signal {
    let (evidence, group) = match (result.as_detection(), result.as_correlation()) {
        (Some(detection), _) => (detection_evidence(meta, detection), None),
        (None, Some(correlation)) => correlation_evidence(meta, correlation),
        (None, None) => (Map::new(), None),
    };
    Signal {
        source: SignalSource::Rule,
        name: Cow::Owned(meta.id.clone()),
        severity: meta.severity,
        score: meta.score,
        at: event.timestamp,
        event_id: event.event_id.as_deref().map(str::to_owned),
        user_id: event.user_id.to_string(),
        ip: event.ip_address,
        api_key_id: event.api_key_id.as_deref().map(str::to_owned),
        incident_type: meta.incident_type,
        evidence,
        group,
    }
}

fn detection_evidence(meta: &RuleMeta, detection: &DetectionBody) -> Map<String, Value> {
    let matched: Map<String, Value> = detection
        .matched_fields
        .iter()
        .map(|field| (field.field.clone(), redacted(&field.value)))
        .collect();
    let mut evidence = Map::new();
    evidence.insert("title".to_owned(), json!(meta.title));
    evidence.insert("matched".to_owned(), Value::Object(matched));
    evidence
}

/// The evidence of a correlation and, when it is grouped by something
/// other than the user, its group key (`field=value,…`).
fn correlation_evidence(
    meta: &RuleMeta,
    correlation: &CorrelationBody,
) -> (Map<String, Value>, Option<String>) {
    let group: Map<String, Value> = correlation
        .group_key
        .iter()
        .map(|(field, value)| (field.clone(), redacted(&json!(value))))
        .collect();
    let by_user = correlation
        .group_key
        .iter()
        .any(|(field, _)| field == "user_id");
    let key = (!by_user).then(|| {
        let parts: Vec<String> = correlation
            .group_key
            .iter()
            .map(|(field, value)| format!("{field}={value}"))
            .collect();
        format!("{}:{}", meta.id, parts.join(","))
    });
    let kind = serde_json::to_value(correlation.correlation_type).unwrap_or(Value::Null);
    let mut evidence = Map::new();
    evidence.insert("title".to_owned(), json!(meta.title));
    evidence.insert("correlation".to_owned(), kind);
    evidence.insert("value".to_owned(), json!(correlation.aggregated_value));
    evidence.insert("window_secs".to_owned(), json!(correlation.timespan_secs));
    evidence.insert("group".to_owned(), Value::Object(group));
    (evidence, key)
}

/// A matched value fit for an output: strings masked and cut short.
fn redacted(value: &Value) -> Value {
    match value {
        Value::String(text) => {
            let masked = redact_text(text);
            let cut: String = masked.chars().take(MAX_EVIDENCE_CHARS).collect();
            Value::String(cut)
        }
        other => other.clone(),
    }
}
