//! Why a record was refused: a bounded set of reasons plus the detail a
//! person needs to fix the producer (field, offending value, explanation).

use std::fmt;

/// The bounded set of reasons a record can be refused for. These are the
/// label values of the rejected-events counter, so never add a variant that
/// carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The record is not UTF-8.
    InvalidUtf8,
    /// The record is not valid JSON.
    InvalidJson,
    /// The record is JSON but not an object.
    NotAnObject,
    /// A required field is absent.
    MissingField,
    /// A field appears twice.
    DuplicateField,
    /// `timestamp` is not an RFC 3339 time.
    InvalidTimestamp,
    /// `ip_address` is not an IPv4 or IPv6 address.
    InvalidIpAddress,
    /// Another field has a value of the wrong type or range.
    InvalidValue,
    /// The record is larger than the configured limit.
    TooLarge,
    /// The event is older than the accepted lateness for its user.
    LateEvent,
    /// Signing is required and the record carries no signature.
    MissingSignature,
    /// The signature is malformed or does not match the record.
    BadSignature,
    /// The signature's time lies outside the accepted window (a replay).
    StaleSignature,
}

impl RejectReason {
    /// Every reason, in a stable order for reports.
    pub const ALL: [Self; 13] = [
        Self::InvalidUtf8,
        Self::InvalidJson,
        Self::NotAnObject,
        Self::MissingField,
        Self::DuplicateField,
        Self::InvalidTimestamp,
        Self::InvalidIpAddress,
        Self::InvalidValue,
        Self::TooLarge,
        Self::LateEvent,
        Self::MissingSignature,
        Self::BadSignature,
        Self::StaleSignature,
    ];

    /// The `snake_case` name used in dead-letter records and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingField => "missing_field",
            Self::DuplicateField => "duplicate_field",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::InvalidIpAddress => "invalid_ip_address",
            Self::InvalidValue => "invalid_value",
            Self::TooLarge => "too_large",
            Self::LateEvent => "late_event",
            Self::MissingSignature => "missing_signature",
            Self::BadSignature => "bad_signature",
            Self::StaleSignature => "stale_signature",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused record's explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Reject {
    /// The bounded reason.
    pub reason: RejectReason,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// The offending value as it appeared (shortened), when there is one.
    pub value: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

/// Longest value excerpt kept in a reject, in characters.
const VALUE_EXCERPT_CHARS: usize = 80;

impl Reject {
    /// A reject that concerns the whole record.
    pub fn record(reason: RejectReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            field: None,
            value: None,
            message: message.into(),
        }
    }

    /// A reject that concerns one field and its value.
    pub fn field(
        reason: RejectReason,
        field: &str,
        value: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            reason,
            field: Some(field.to_owned()),
            value: value.map(excerpt),
            message: message.into(),
        }
    }

    fn describe(&self) -> String {
        match (&self.field, &self.value) {
            (Some(field), Some(value)) => {
                format!(
                    "{}: field `{field}` value {value}: {}",
                    self.reason, self.message
                )
            }
            (Some(field), None) => format!("{}: field `{field}`: {}", self.reason, self.message),
            _ => format!("{}: {}", self.reason, self.message),
        }
    }
}

fn excerpt(value: &str) -> String {
    let redacted = crate::redact::redact_secrets(value);
    if redacted.chars().count() <= VALUE_EXCERPT_CHARS {
        return redacted.into_owned();
    }
    let mut short: String = redacted.chars().take(VALUE_EXCERPT_CHARS).collect();
    short.push('…');
    short
}
