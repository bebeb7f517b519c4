//! Fuzzes event decoding: any bytes through `vigil::event::decode` with the
//! default limits, and through the router's scans of the raw record.
//!
//! Beyond "never panics", it checks what the decoder promises: an accepted
//! event holds only valid values, routes to the shard its user id names and
//! decodes to the same event once written back out as JSON; a refused
//! record gets a reason, a message and, where the reason concerns one
//! field, that field's name.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use vigil::event::{DecodeLimits, Event, Reject, RejectReason, decode, event_time, route_key};
use vigil::time::Timestamp;

fuzz_target!(|record: &[u8]| {
    let limits = DecodeLimits::default();
    let routed = route_key(record);
    let scanned_time = event_time(record);

    match decode(record, &limits) {
        Ok(event) => {
            check_values(&event, &limits);
            assert_eq!(
                routed.as_ref(),
                event.user_id.as_bytes(),
                "the router and the decoder disagree on the user"
            );
            if let Some(time) = scanned_time {
                assert_eq!(time, event.timestamp, "the router read another time");
            }
            check_round_trip(&event, &limits);
        }
        Err(reject) => check_reject(record, &reject, &limits),
    }
});

/// What every accepted event holds, whatever the record looked like.
fn check_values(event: &Event<'_>, limits: &DecodeLimits) {
    let user_chars = event.user_id.chars().count();
    assert!(
        (1..=256).contains(&user_chars),
        "user id of {user_chars} chars"
    );
    assert!(!event.event_type.as_str().is_empty());
    assert!(event.event_id.as_deref().is_none_or(|id| !id.is_empty()));
    assert!(event.api_key_id.as_deref().is_none_or(|id| !id.is_empty()));
    assert!(
        event
            .status_code
            .is_none_or(|code| (100..=599).contains(&code))
    );
    assert!(
        event
            .response_time_ms
            .is_none_or(|ms| ms.is_finite() && ms >= 0.0)
    );
    assert!(event.details.is_none_or(|raw| raw.get().starts_with('{')));
    assert!(event.extra.len() <= limits.max_extra_fields);

    let text = event.timestamp.to_rfc3339();
    assert_eq!(
        Timestamp::parse_rfc3339(&text).ok(),
        Some(event.timestamp),
        "the timestamp does not read back from {text}"
    );
}

/// Writes the event back out as one JSON object (every field explicit) and
/// decodes that: the result must be the same event.
fn check_round_trip(event: &Event<'_>, limits: &DecodeLimits) {
    let record = encode(event);
    let unlimited = DecodeLimits {
        max_event_bytes: usize::MAX,
        ..*limits
    };
    let again = match decode(record.as_bytes(), &unlimited) {
        Ok(again) => again,
        Err(reject) => panic!("the written-back event is refused ({reject}): {record}"),
    };
    assert_eq!(again.timestamp, event.timestamp);
    assert_eq!(again.event_type, event.event_type);
    assert_eq!(again.user_id, event.user_id);
    assert_eq!(again.ip_address, event.ip_address);
    assert_eq!(again.event_id, event.event_id);
    assert_eq!(again.api_key_id, event.api_key_id);
    assert_eq!(again.key_type, event.key_type);
    assert_eq!(again.endpoint, event.endpoint);
    assert_eq!(again.success, event.success);
    assert_eq!(again.status_code, event.status_code);
    assert_eq!(again.tokens_used, event.tokens_used);
    assert_eq!(
        again.response_time_ms.map(f64::to_bits),
        event.response_time_ms.map(f64::to_bits)
    );
    assert_eq!(again.user_agent, event.user_agent);
    assert_eq!(again.auth_event_type, event.auth_event_type);
    assert_eq!(
        again.details.map(|d| d.get()),
        event.details.map(|d| d.get())
    );
    let names = |e: &Event<'_>| -> Vec<(String, String)> {
        e.extra
            .iter()
            .map(|(name, raw)| (name.to_string(), raw.get().to_owned()))
            .collect()
    };
    assert_eq!(names(&again), names(event));
}

/// The event as a JSON object; raw fields are copied as they were.
fn encode(event: &Event<'_>) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| fields.push((json(name), value));
    put("timestamp", json(&event.timestamp.to_rfc3339()));
    put("event_type", json(event.event_type.as_str()));
    put("user_id", json(&event.user_id));
    if let Some(ip) = event.ip_address {
        put("ip_address", json(&ip.to_string()));
    }
    let texts = [
        ("event_id", &event.event_id),
        ("api_key_id", &event.api_key_id),
        ("endpoint", &event.endpoint),
        ("user_agent", &event.user_agent),
        ("auth_event_type", &event.auth_event_type),
    ];
    for (name, value) in texts {
        if let Some(value) = value {
            put(name, json(value));
        }
    }
    put("key_type", json(event.key_type.as_str()));
    put("success", event.success.to_string());
    if let Some(code) = event.status_code {
        put("status_code", code.to_string());
    }
    put("tokens_used", event.tokens_used.to_string());
    if let Some(ms) = event.response_time_ms {
        put("response_time_ms", format!("{ms:e}"));
    }
    if let Some(details) = event.details {
        put("details", details.get().to_owned());
    }
    for (name, raw) in &event.extra {
        fields.push((json(name), raw.get().to_owned()));
    }

    let mut record = String::from("{");
    for (index, (name, value)) in fields.iter().enumerate() {
        let comma = if index == 0 { "" } else { "," };
        let _ = write!(record, "{comma}{name}:{value}");
    }
    record.push('}');
    record
}

/// A string as a JSON string literal.
fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What every refusal carries, and which refusals a record's shape forces.
fn check_reject(record: &[u8], reject: &Reject, limits: &DecodeLimits) {
    assert!(!reject.message.is_empty(), "a reject without a message");
    assert_ne!(
        reject.reason,
        RejectReason::LateEvent,
        "lateness is not decoding's"
    );
    assert!(
        reject.to_string().starts_with(reject.reason.as_str()),
        "the reject's text does not lead with its reason: {reject}"
    );
    assert!(reject.value.is_none() || reject.field.is_some());

    let concerns_a_field = matches!(
        reject.reason,
        RejectReason::MissingField
            | RejectReason::DuplicateField
            | RejectReason::InvalidTimestamp
            | RejectReason::InvalidIpAddress
            | RejectReason::InvalidValue
    );
    assert!(!concerns_a_field || reject.field.is_some(), "{reject:?}");
    match reject.reason {
        RejectReason::InvalidTimestamp => assert_eq!(reject.field.as_deref(), Some("timestamp")),
        RejectReason::InvalidIpAddress => assert_eq!(reject.field.as_deref(), Some("ip_address")),
        _ => {}
    }

    if record.len() > limits.max_event_bytes {
        assert_eq!(reject.reason, RejectReason::TooLarge);
    } else if std::str::from_utf8(record).is_err() {
        assert_eq!(reject.reason, RejectReason::InvalidUtf8);
    }
}
