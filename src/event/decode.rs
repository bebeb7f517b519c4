//! Decoding and validation: raw bytes in, a typed [`Event`] or a [`Reject`]
//! naming the field and value at fault.
//!
//! The top-level object is walked once; each value is captured as raw JSON
//! text and converted by a field-specific parser, which is what lets every
//! error say which field held which value.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{Event, EventType, KeyType, Reject, RejectReason};
use crate::time::Timestamp;

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest accepted record, in bytes.
    pub max_event_bytes: usize,
    /// Largest number of top-level fields outside the contract.
    pub max_extra_fields: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 64 * 1024,
            max_extra_fields: 64,
        }
    }
}

/// Longest accepted `user_id`, in characters.
const MAX_USER_ID_CHARS: usize = 256;

/// Decodes and validates one record.
///
/// # Errors
/// Returns a [`Reject`] naming the reason, field and value when the record is
/// not a valid event.
pub fn decode<'a>(record: &'a [u8], limits: &DecodeLimits) -> Result<Event<'a>, Reject> {
    if record.len() > limits.max_event_bytes {
        let message = format!(
            "{} bytes exceeds the limit of {}",
            record.len(),
            limits.max_event_bytes
        );
        return Err(Reject::record(RejectReason::TooLarge, message));
    }
    let text = std::str::from_utf8(record)
        .map_err(|e| Reject::record(RejectReason::InvalidUtf8, e.to_string()))?;

    let mut failure = None;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let seed = EventSeed {
        limits,
        failure: &mut failure,
    };
    let decoded = seed.deserialize(&mut deserializer).and_then(|event| {
        deserializer.end()?;
        Ok(event)
    });
    decoded.map_err(|json_error| failure.unwrap_or_else(|| syntax_reject(&json_error)))
}

fn syntax_reject(error: &serde_json::Error) -> Reject {
    if error.classify() == serde_json::error::Category::Data {
        return Reject::record(RejectReason::NotAnObject, "an event must be a JSON object");
    }
    Reject::record(RejectReason::InvalidJson, error.to_string())
}

/// Carries the structured reject out of serde, whose own errors are strings.
struct EventSeed<'s> {
    limits: &'s DecodeLimits,
    failure: &'s mut Option<Reject>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Event<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Event<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let raw: &'de RawValue = map.next_value()?;
            if let Err(reject) = fields.take(key, raw, self.limits) {
                return Err(self.fail(reject));
            }
        }
        fields.finish().map_err(|reject| self.fail(reject))
    }
}

impl EventSeed<'_> {
    fn fail<E: de::Error>(self, reject: Reject) -> E {
        let message = reject.to_string();
        *self.failure = Some(reject);
        E::custom(message)
    }
}

/// The fields seen so far; each is set at most once.
#[derive(Default)]
struct Fields<'a> {
    timestamp: Option<Timestamp>,
    event_type: Option<EventType<'a>>,
    user_id: Option<Cow<'a, str>>,
    ip_address: Option<IpAddr>,
    event_id: Option<Cow<'a, str>>,
    api_key_id: Option<Cow<'a, str>>,
    key_type: Option<KeyType>,
    endpoint: Option<Cow<'a, str>>,
    success: Option<bool>,
    status_code: Option<u16>,
    tokens_used: Option<u64>,
    response_time_ms: Option<f64>,
    user_agent: Option<Cow<'a, str>>,
    auth_event_type: Option<Cow<'a, str>>,
    details: Option<&'a RawValue>,
    extra: Vec<(Cow<'a, str>, &'a RawValue)>,
    seen: u32,
}

/// Contract fields in a fixed order; the index is the bit in `Fields::seen`.
pub(crate) const CONTRACT_FIELDS: [&str; 15] = [
    "timestamp",
    "event_type",
    "user_id",
    "ip_address",
    "event_id",
    "api_key_id",
    "key_type",
    "endpoint",
    "success",
    "status_code",
    "tokens_used",
    "response_time_ms",
    "user_agent",
    "auth_event_type",
    "details",
];

impl<'a> Fields<'a> {
    fn take(
        &mut self,
        key: Cow<'a, str>,
        raw: &'a RawValue,
        limits: &DecodeLimits,
    ) -> Result<(), Reject> {
        let Some(index) = CONTRACT_FIELDS.iter().position(|name| *name == key) else {
            return self.take_extra(key, raw, limits);
        };
        self.mark_seen(index)?;
        let name = CONTRACT_FIELDS[index];
        if raw.get() == "null" {
            return required(name).map_or(Ok(()), Err);
        }
        match name {
            "timestamp" => self.timestamp = Some(timestamp(raw)?),
            "event_type" => self.event_type = Some(EventType::from_name(non_empty(name, raw)?)),
            "user_id" => self.user_id = Some(user_id(raw)?),
            "ip_address" => self.ip_address = Some(ip_address(raw)?),
            "event_id" => self.event_id = Some(non_empty(name, raw)?),
            "api_key_id" => self.api_key_id = Some(non_empty(name, raw)?),
            "key_type" => self.key_type = Some(key_type(raw)?),
            "endpoint" => self.endpoint = Some(string(name, raw)?),
            "success" => self.success = Some(boolean(name, raw)?),
            "status_code" => self.status_code = Some(status_code(raw)?),
            "tokens_used" => self.tokens_used = Some(count(name, raw)?),
            "response_time_ms" => self.response_time_ms = Some(non_negative(name, raw)?),
            "user_agent" => self.user_agent = Some(string(name, raw)?),
            "auth_event_type" => self.auth_event_type = Some(string(name, raw)?),
            _ => self.details = Some(object(name, raw)?),
        }
        Ok(())
    }

    fn mark_seen(&mut self, index: usize) -> Result<(), Reject> {
        let bit = 1 << index;
        if self.seen & bit != 0 {
            let name = CONTRACT_FIELDS[index];
            return Err(Reject::field(
                RejectReason::DuplicateField,
                name,
                None,
                "appears more than once",
            ));
        }
        self.seen |= bit;
        Ok(())
    }

    fn take_extra(
        &mut self,
        key: Cow<'a, str>,
        raw: &'a RawValue,
        limits: &DecodeLimits,
    ) -> Result<(), Reject> {
        if self.extra.iter().any(|(name, _)| *name == key) {
            return Err(Reject::field(
                RejectReason::DuplicateField,
                &key,
                None,
                "appears more than once",
            ));
        }
        if self.extra.len() >= limits.max_extra_fields {
            let message = format!(
                "more than {} fields outside the event contract",
                limits.max_extra_fields
            );
            return Err(Reject::field(RejectReason::TooLarge, &key, None, message));
        }
        self.extra.push((key, raw));
        Ok(())
    }

    fn finish(self) -> Result<Event<'a>, Reject> {
        let timestamp = self.timestamp.ok_or_else(|| missing("timestamp"))?;
        let event_type = self.event_type.ok_or_else(|| missing("event_type"))?;
        let user_id = self.user_id.ok_or_else(|| missing("user_id"))?;
        let key_type = self
            .key_type
            .unwrap_or_else(|| KeyType::from_key_id(self.api_key_id.as_deref()));
        Ok(Event {
            timestamp,
            event_type,
            user_id,
            ip_address: self.ip_address,
            event_id: self.event_id,
            api_key_id: self.api_key_id,
            key_type,
            endpoint: self.endpoint,
            success: self.success.unwrap_or(true),
            status_code: self.status_code,
            tokens_used: self.tokens_used.unwrap_or(0),
            response_time_ms: self.response_time_ms,
            user_agent: self.user_agent,
            auth_event_type: self.auth_event_type,
            details: self.details,
            extra: self.extra,
        })
    }
}

fn required(name: &str) -> Option<Reject> {
    matches!(name, "timestamp" | "event_type" | "user_id").then(|| {
        Reject::field(
            RejectReason::InvalidValue,
            name,
            Some("null"),
            "is required and may not be null",
        )
    })
}

fn missing(name: &str) -> Reject {
    Reject::field(RejectReason::MissingField, name, None, "is required")
}

fn invalid(name: &str, raw: &RawValue, message: &str) -> Reject {
    Reject::field(RejectReason::InvalidValue, name, Some(raw.get()), message)
}

/// A JSON string's contents, borrowed when it holds no escapes.
fn string<'a>(name: &str, raw: &'a RawValue) -> Result<Cow<'a, str>, Reject> {
    let text = raw.get();
    let inner = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or_else(|| invalid(name, raw, "must be a string"))?;
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|_| invalid(name, raw, "must be a string"))
}

fn non_empty<'a>(name: &str, raw: &'a RawValue) -> Result<Cow<'a, str>, Reject> {
    let value = string(name, raw)?;
    if value.is_empty() {
        return Err(invalid(name, raw, "must not be empty"));
    }
    Ok(value)
}

fn timestamp(raw: &RawValue) -> Result<Timestamp, Reject> {
    let text = string("timestamp", raw)?;
    Timestamp::parse_rfc3339(&text).map_err(|e| {
        let message = format!("is not an RFC 3339 time ({e})");
        Reject::field(
            RejectReason::InvalidTimestamp,
            "timestamp",
            Some(raw.get()),
            message,
        )
    })
}

fn user_id(raw: &RawValue) -> Result<Cow<'_, str>, Reject> {
    let value = string("user_id", raw)?;
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_USER_ID_CHARS {
        let message = format!("must be 1 to {MAX_USER_ID_CHARS} characters long, not {chars}");
        return Err(invalid("user_id", raw, &message));
    }
    Ok(value)
}

fn ip_address(raw: &RawValue) -> Result<IpAddr, Reject> {
    let text = string("ip_address", raw)?;
    text.parse().map_err(|_| {
        let message = "is not an IPv4 or IPv6 address";
        Reject::field(
            RejectReason::InvalidIpAddress,
            "ip_address",
            Some(raw.get()),
            message,
        )
    })
}

fn key_type(raw: &RawValue) -> Result<KeyType, Reject> {
    match string("key_type", raw)?.as_ref() {
        "agent" => Ok(KeyType::Agent),
        "developer" => Ok(KeyType::Developer),
        "anonymous" => Ok(KeyType::Anonymous),
        _ => Err(invalid(
            "key_type",
            raw,
            "must be agent, developer or anonymous",
        )),
    }
}

fn boolean(name: &str, raw: &RawValue) -> Result<bool, Reject> {
    match raw.get() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, raw, "must be true or false")),
    }
}

fn status_code(raw: &RawValue) -> Result<u16, Reject> {
    let code = count("status_code", raw)?;
    u16::try_from(code)
        .ok()
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(|| invalid("status_code", raw, "must be an HTTP status from 100 to 599"))
}

fn count(name: &str, raw: &RawValue) -> Result<u64, Reject> {
    let text = raw.get();
    if let Ok(value) = text.parse::<u64>() {
        return Ok(value);
    }
    let message = match text.parse::<f64>() {
        Ok(value) if value < 0.0 => "must not be negative",
        Ok(_) => "must be a whole number",
        Err(_) => "must be a non-negative whole number",
    };
    Err(invalid(name, raw, message))
}

fn non_negative(name: &str, raw: &RawValue) -> Result<f64, Reject> {
    match raw.get().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        Ok(_) => Err(invalid(name, raw, "must not be negative")),
        Err(_) => Err(invalid(name, raw, "must be a non-negative number")),
    }
}

fn object<'a>(name: &str, raw: &'a RawValue) -> Result<&'a RawValue, Reject> {
    if raw.get().starts_with('{') {
        Ok(raw)
    } else {
        Err(invalid(name, raw, "must be a JSON object"))
    }
}

/// A map key, borrowed from the input when it holds no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(value.to_owned())))
    }
}

#[cfg(test)]
mod tests;
