//! The field view rules match against: a typed [`Event`] seen through
//! rsigma's `Event` trait, by the event contract's field names.
//!
//! Nothing is converted up front. Contract fields are read straight from
//! the typed event; `details` and unknown top-level fields stay raw JSON
//! until a rule asks for them, and are then parsed once per event. Two
//! derived fields give rules the user's local calendar: `vigil.local_hour`
//! (0–23) and `vigil.local_weekday` (1 = Monday … 7 = Sunday).

use std::borrow::Cow;
use std::cell::OnceCell;

use rsigma_eval::event::{Event as SigmaEvent, EventValue};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::event::{CONTRACT_FIELDS, Event};
use crate::time::LocalTime;

/// An event as rules see it.
pub struct RuleEvent<'e, 'a> {
    event: &'e Event<'a>,
    local: LocalTime,
    details: OnceCell<Option<Value>>,
    extra: OnceCell<Vec<Value>>,
    ip: OnceCell<Option<String>>,
    timestamp: OnceCell<String>,
}

impl<'e, 'a> RuleEvent<'e, 'a> {
    /// A view of `event`, whose local time is `local`.
    #[must_use]
    pub fn new(event: &'e Event<'a>, local: LocalTime) -> Self {
        Self {
            event,
            local,
            details: OnceCell::new(),
            extra: OnceCell::new(),
            ip: OnceCell::new(),
            timestamp: OnceCell::new(),
        }
    }

    /// The typed event behind the view.
    #[must_use]
    pub fn event(&self) -> &'e Event<'a> {
        self.event
    }

    fn details(&self) -> Option<&Value> {
        self.details
            .get_or_init(|| self.event.details.and_then(parse_raw))
            .as_ref()
    }

    fn extra_values(&self) -> &[Value] {
        self.extra.get_or_init(|| {
            self.event
                .extra
                .iter()
                .map(|(_, raw)| parse_raw(raw).unwrap_or(Value::Null))
                .collect()
        })
    }

    fn extra(&self, name: &str) -> Option<&Value> {
        let index = self.event.extra.iter().position(|(key, _)| key == name)?;
        self.extra_values().get(index)
    }

    fn ip_text(&self) -> Option<&str> {
        self.ip
            .get_or_init(|| self.event.ip_address.map(|ip| ip.to_string()))
            .as_deref()
    }

    fn timestamp_text(&self) -> &str {
        self.timestamp
            .get_or_init(|| self.event.timestamp.to_rfc3339())
    }

    /// A contract field by name; `None` when the event lacks it or the
    /// name is not a contract field.
    fn contract_field(&self, name: &str) -> Option<EventValue<'_>> {
        let event = self.event;
        match name {
            "timestamp" => Some(borrowed(self.timestamp_text())),
            "event_type" => Some(borrowed(event.event_type.as_str())),
            "user_id" => Some(borrowed(&event.user_id)),
            "ip_address" => self.ip_text().map(borrowed),
            "event_id" => text(event.event_id.as_ref()),
            "api_key_id" => text(event.api_key_id.as_ref()),
            "key_type" => Some(borrowed(event.key_type.as_str())),
            "endpoint" => text(event.endpoint.as_ref()),
            "success" => Some(EventValue::Bool(event.success)),
            "status_code" => event
                .status_code
                .map(|code| EventValue::Int(i64::from(code))),
            "tokens_used" => Some(EventValue::Int(
                i64::try_from(event.tokens_used).unwrap_or(i64::MAX),
            )),
            "response_time_ms" => event.response_time_ms.map(EventValue::Float),
            "user_agent" => text(event.user_agent.as_ref()),
            "auth_event_type" => text(event.auth_event_type.as_ref()),
            "details" => self.details().map(EventValue::from),
            _ => None,
        }
    }

    /// Whether the event has a contract field, without computing its value.
    fn has_contract_field(&self, name: &str) -> bool {
        let event = self.event;
        match name {
            "ip_address" => event.ip_address.is_some(),
            "event_id" => event.event_id.is_some(),
            "api_key_id" => event.api_key_id.is_some(),
            "endpoint" => event.endpoint.is_some(),
            "status_code" => event.status_code.is_some(),
            "response_time_ms" => event.response_time_ms.is_some(),
            "user_agent" => event.user_agent.is_some(),
            "auth_event_type" => event.auth_event_type.is_some(),
            "details" => event.details.is_some(),
            _ => CONTRACT_FIELDS.contains(&name),
        }
    }

    fn derived_field(&self, name: &str) -> Option<EventValue<'_>> {
        match name {
            "local_hour" => Some(EventValue::Int(i64::from(self.local.hour))),
            "local_weekday" => Some(EventValue::Int(i64::from(self.local.weekday) + 1)),
            _ => None,
        }
    }

    /// Every top-level field present, as JSON values.
    fn fields(&self) -> impl Iterator<Item = (&str, Option<EventValue<'_>>)> {
        let contract = CONTRACT_FIELDS
            .into_iter()
            .map(|name| (name, self.contract_field(name)));
        let extra = self
            .event
            .extra
            .iter()
            .zip(self.extra_values())
            .map(|((name, _), value)| (name.as_ref(), Some(EventValue::from(value))));
        contract.chain(extra)
    }
}

impl SigmaEvent for RuleEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(value) = self.contract_field(path) {
            return Some(value);
        }
        if let Some(rest) = path.strip_prefix("vigil.") {
            return self.derived_field(rest);
        }
        if let Some(rest) = path.strip_prefix("details.") {
            return lookup(self.details()?, rest).map(EventValue::from);
        }
        if let Some(value) = self.extra(path) {
            return Some(EventValue::from(value));
        }
        let (root, rest) = path.split_once('.')?;
        lookup(self.extra(root)?, rest).map(EventValue::from)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut found = false;
        self.visit_string_values(&mut |text| found = found || pred(text));
        found
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        self.visit_string_values(&mut |text| out.push(Cow::Owned(text.to_owned())));
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for (_, value) in self.fields() {
            if let Some(value) = value {
                visit_strings(&value, visit);
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        for (name, value) in self.fields() {
            if let Some(value) = value {
                object.insert(name.to_owned(), value.to_json());
            }
        }
        Value::Object(object)
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for name in CONTRACT_FIELDS {
            if self.has_contract_field(name) {
                visit(name);
            }
        }
        for (name, _) in &self.event.extra {
            visit(name);
        }
        visit("vigil");
        true
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        let mut keys = Vec::new();
        self.visit_top_level_keys(&mut |key| keys.push(Cow::Owned(key.to_owned())));
        Some(keys)
    }
}

fn text<'v>(value: Option<&'v Cow<'_, str>>) -> Option<EventValue<'v>> {
    value.map(|text| borrowed(text))
}

fn borrowed(text: &str) -> EventValue<'_> {
    EventValue::Str(Cow::Borrowed(text))
}

/// Follows a dotted path through nested objects; a numeric step indexes
/// an array.
fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |value, step| match value {
        Value::Object(map) => map.get(step),
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

fn parse_raw(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

fn visit_strings(value: &EventValue<'_>, visit: &mut dyn FnMut(&str)) {
    match value {
        EventValue::Str(text) => visit(text),
        EventValue::Array(items) => items.iter().for_each(|item| visit_strings(item, visit)),
        EventValue::Map(entries) => entries
            .iter()
            .for_each(|(_, item)| visit_strings(item, visit)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DecodeLimits, decode};
    use crate::time::LocalClock;

    fn with_event(record: &str, check: impl FnOnce(&RuleEvent<'_, '_>)) {
        let event = decode(record.as_bytes(), &DecodeLimits::default()).unwrap();
        let local = LocalClock::UTC.local(event.timestamp);
        check(&RuleEvent::new(&event, local));
    }

    const RECORD: &str = r#"{"timestamp":"2026-01-10T23:15:00Z","event_type":"authentication",
        "user_id":"alice","ip_address":"203.0.113.9","api_key_id":"dk_1234","status_code":401,
        "details":{"failure_reason":"invalid_password","geo":{"country":"NZ"}},
        "tenant":{"plan":"pro"}}"#;

    #[test]
    fn contract_fields_read_by_their_names() {
        with_event(RECORD, |event| {
            assert_eq!(event.get_field("user_id"), Some(borrowed("alice")));
            assert_eq!(event.get_field("ip_address"), Some(borrowed("203.0.113.9")));
            assert_eq!(event.get_field("status_code"), Some(EventValue::Int(401)));
            assert_eq!(event.get_field("key_type"), Some(borrowed("developer")));
            assert_eq!(event.get_field("success"), Some(EventValue::Bool(true)));
            assert_eq!(event.get_field("tokens_used"), Some(EventValue::Int(0)));
            assert_eq!(event.get_field("endpoint"), None);
        });
    }

    #[test]
    fn nested_details_and_unknown_fields_resolve_by_path() {
        with_event(RECORD, |event| {
            assert_eq!(
                event.get_field("details.failure_reason"),
                Some(borrowed("invalid_password"))
            );
            assert_eq!(event.get_field("details.geo.country"), Some(borrowed("NZ")));
            assert_eq!(event.get_field("tenant.plan"), Some(borrowed("pro")));
            assert_eq!(event.get_field("details.missing"), None);
        });
    }

    #[test]
    fn derived_local_calendar_fields() {
        with_event(RECORD, |event| {
            assert_eq!(
                event.get_field("vigil.local_hour"),
                Some(EventValue::Int(23))
            );
            // 2026-01-10 is a Saturday.
            assert_eq!(
                event.get_field("vigil.local_weekday"),
                Some(EventValue::Int(6))
            );
        });
    }

    #[test]
    fn keyword_search_sees_nested_strings() {
        with_event(RECORD, |event| {
            assert!(event.any_string_value(&|text| text == "NZ"));
            assert!(event.any_string_value(&|text| text == "pro"));
            assert!(!event.any_string_value(&|text| text == "absent"));
        });
    }
}
