//! The security event: the typed form of one input record.
//!
//! Strings borrow from the raw record whenever the JSON text holds them
//! without escapes, so decoding a typical event allocates nothing.

mod decode;
mod reject;
mod route;
pub mod signing;

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::value::RawValue;

use crate::time::Timestamp;

pub(crate) use decode::CONTRACT_FIELDS;
pub use decode::{DecodeLimits, decode};
pub use reject::{Reject, RejectReason};
pub use route::{event_time, record_of_line, route_key};

/// What kind of activity an event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType<'a> {
    /// A call to the API.
    ApiAccess,
    /// A login, MFA check or other authentication step.
    Authentication,
    /// The gateway refused a call because of its rate limit.
    RateLimit,
    /// A key was created, rotated or revoked.
    KeyManagement,
    /// An administrative action.
    Admin,
    /// Any other producer-defined type, kept verbatim.
    Other(Cow<'a, str>),
}

impl<'a> EventType<'a> {
    /// Maps the contract's names to variants; unknown names are kept.
    #[must_use]
    pub fn from_name(name: Cow<'a, str>) -> Self {
        match name.as_ref() {
            "api_access" => Self::ApiAccess,
            "authentication" => Self::Authentication,
            "rate_limit" => Self::RateLimit,
            "key_management" => Self::KeyManagement,
            "admin" => Self::Admin,
            _ => Self::Other(name),
        }
    }

    /// The contract name of this type.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::ApiAccess => "api_access",
            Self::Authentication => "authentication",
            Self::RateLimit => "rate_limit",
            Self::KeyManagement => "key_management",
            Self::Admin => "admin",
            Self::Other(name) => name,
        }
    }
}

/// The kind of API key an event was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// An agent key (`ak_…`).
    Agent,
    /// A developer key (`dk_…`).
    Developer,
    /// No key, or a key of no known kind.
    Anonymous,
}

impl KeyType {
    /// Derives the kind from a key id's prefix.
    #[must_use]
    pub fn from_key_id(key_id: Option<&str>) -> Self {
        match key_id {
            Some(id) if id.starts_with("ak_") => Self::Agent,
            Some(id) if id.starts_with("dk_") => Self::Developer,
            _ => Self::Anonymous,
        }
    }

    /// The contract name of this kind.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Developer => "developer",
            Self::Anonymous => "anonymous",
        }
    }
}

/// One decoded security event. Optional contract fields are `None` when the
/// record omits them; `success` and `tokens_used` take their defaults.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// When the event happened (event time).
    pub timestamp: Timestamp,
    /// What kind of activity this is.
    pub event_type: EventType<'a>,
    /// The account the event belongs to (1–256 characters).
    pub user_id: Cow<'a, str>,
    /// The client address.
    pub ip_address: Option<IpAddr>,
    /// The producer's id, used to drop redelivered duplicates.
    pub event_id: Option<Cow<'a, str>>,
    /// The key's public id; never the secret.
    pub api_key_id: Option<Cow<'a, str>>,
    /// The key's kind, given or derived from the key prefix.
    pub key_type: KeyType,
    /// The API path called.
    pub endpoint: Option<Cow<'a, str>>,
    /// Whether the call or step succeeded.
    pub success: bool,
    /// The HTTP status.
    pub status_code: Option<u16>,
    /// Tokens consumed by the call.
    pub tokens_used: u64,
    /// Latency in milliseconds.
    pub response_time_ms: Option<f64>,
    /// The client's user agent.
    pub user_agent: Option<Cow<'a, str>>,
    /// The authentication step, for `authentication` events.
    pub auth_event_type: Option<Cow<'a, str>>,
    /// Free-form details, kept as raw JSON and parsed only when a rule asks.
    pub details: Option<&'a RawValue>,
    /// Top-level fields outside the contract, kept for rules.
    pub extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl Event<'_> {
    /// Every free-text field of the event with its name, for scanners that
    /// look inside strings (secrets). Raw JSON fields are given as JSON text.
    pub fn text_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let named = [
            ("event_id", self.event_id.as_deref()),
            ("endpoint", self.endpoint.as_deref()),
            ("user_agent", self.user_agent.as_deref()),
            ("auth_event_type", self.auth_event_type.as_deref()),
            ("details", self.details.map(RawValue::get)),
        ];
        let extra = self
            .extra
            .iter()
            .map(|(name, raw)| (name.as_ref(), raw.get()));
        named
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .chain(extra)
    }
}
