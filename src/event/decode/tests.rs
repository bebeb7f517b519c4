//! Tests of decoding and validation, one behaviour each.

use super::*;

fn decode_str(text: &str) -> Result<Event<'_>, Reject> {
    decode(text.as_bytes(), &DecodeLimits::default())
}

const MINIMAL: &str =
    r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"user123"}"#;

#[test]
fn minimal_event_takes_contract_defaults() {
    let event = decode_str(MINIMAL).unwrap();
    assert_eq!(event.user_id, "user123");
    assert_eq!(event.event_type, EventType::ApiAccess);
    assert!(event.success);
    assert_eq!(event.tokens_used, 0);
    assert_eq!(event.key_type, KeyType::Anonymous);
}

#[test]
fn full_event_decodes_every_field() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05.250+01:00","event_type":"authentication",
        "user_id":"u1","ip_address":"2001:db8::1","event_id":"e-1","api_key_id":"dk_9a",
        "endpoint":"/v1/chat","success":false,"status_code":401,"tokens_used":12,
        "response_time_ms":3.5,"user_agent":"curl/8","auth_event_type":"login",
        "details":{"mfa":{"method":"totp"}},"tenant":"acme"}"#;
    let event = decode_str(text).unwrap();
    assert_eq!(event.timestamp.to_rfc3339(), "2026-12-03T01:14:05.250Z");
    assert_eq!(event.ip_address, Some("2001:db8::1".parse().unwrap()));
    assert_eq!(event.key_type, KeyType::Developer);
    assert!(!event.success);
    assert_eq!(event.status_code, Some(401));
    assert_eq!(event.auth_event_type.as_deref(), Some("login"));
    assert_eq!(event.details.unwrap().get(), r#"{"mfa":{"method":"totp"}}"#);
    assert_eq!(event.extra.len(), 1);
    assert_eq!(event.extra[0].0, "tenant");
}

#[test]
fn plain_strings_are_borrowed_and_escaped_ones_unescaped() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"admin","user_id":"plain","user_agent":"say \"hi\""}"#;
    let event = decode_str(text).unwrap();
    assert!(matches!(event.user_id, Cow::Borrowed(_)));
    assert_eq!(event.user_agent.as_deref(), Some("say \"hi\""));
}

#[test]
fn key_type_is_derived_from_the_key_prefix_when_absent() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"u","api_key_id":"ak_7f3c"}"#;
    assert_eq!(decode_str(text).unwrap().key_type, KeyType::Agent);
}

#[test]
fn unknown_event_types_are_kept() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"billing","user_id":"u"}"#;
    assert_eq!(decode_str(text).unwrap().event_type.as_str(), "billing");
}

fn reject_of(text: &str) -> Reject {
    decode_str(text).expect_err("the record must be rejected")
}

#[test]
fn broken_json_is_rejected_as_invalid_json() {
    assert_eq!(
        reject_of(r#"{"timestamp": "#).reason,
        RejectReason::InvalidJson
    );
    assert_eq!(
        reject_of(&format!("{MINIMAL} trailing")).reason,
        RejectReason::InvalidJson
    );
}

#[test]
fn a_json_array_is_not_an_event() {
    assert_eq!(reject_of("[1,2]").reason, RejectReason::NotAnObject);
}

#[test]
fn each_missing_required_field_is_named() {
    for field in ["timestamp", "event_type", "user_id"] {
        let value: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        let mut object = value.as_object().unwrap().clone();
        object.remove(field);
        let text = serde_json::to_string(&object).unwrap();
        let reject = reject_of(&text);
        assert_eq!(reject.reason, RejectReason::MissingField);
        assert_eq!(reject.field.as_deref(), Some(field));
    }
}

#[test]
fn bad_timestamp_names_field_and_value() {
    let reject =
        reject_of(r#"{"timestamp":"2026-13-01 25:00","event_type":"api_access","user_id":"u"}"#);
    assert_eq!(reject.reason, RejectReason::InvalidTimestamp);
    assert_eq!(reject.field.as_deref(), Some("timestamp"));
    assert_eq!(reject.value.as_deref(), Some("\"2026-13-01 25:00\""));
    assert!(reject.to_string().contains("RFC 3339"), "{reject}");
}

#[test]
fn bad_ip_address_is_rejected() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"u","ip_address":"300.1.2.3"}"#;
    let reject = reject_of(text);
    assert_eq!(reject.reason, RejectReason::InvalidIpAddress);
    assert_eq!(reject.value.as_deref(), Some("\"300.1.2.3\""));
}

#[test]
fn negative_and_fractional_counts_are_rejected() {
    let base = r#""timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"u""#;
    let negative = reject_of(&format!(r#"{{{base},"tokens_used":-5}}"#));
    assert_eq!(
        (negative.reason, negative.field.as_deref()),
        (RejectReason::InvalidValue, Some("tokens_used"))
    );
    assert!(negative.message.contains("negative"));
    let fraction = reject_of(&format!(r#"{{{base},"tokens_used":1.5}}"#));
    assert!(fraction.message.contains("whole"));
    let latency = reject_of(&format!(r#"{{{base},"response_time_ms":-1}}"#));
    assert_eq!(latency.field.as_deref(), Some("response_time_ms"));
}

#[test]
fn user_id_length_is_bounded() {
    let long = "x".repeat(257);
    let text = format!(
        r#"{{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"{long}"}}"#
    );
    assert_eq!(reject_of(&text).field.as_deref(), Some("user_id"));
    let empty = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":""}"#;
    assert_eq!(reject_of(empty).reason, RejectReason::InvalidValue);
}

#[test]
fn wrong_types_are_rejected_with_the_field() {
    let base = r#""timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"u""#;
    for (field, value) in [
        ("success", "\"yes\""),
        ("status_code", "99"),
        ("key_type", "\"robot\""),
        ("details", "[1]"),
        ("endpoint", "7"),
    ] {
        let reject = reject_of(&format!(r#"{{{base},"{field}":{value}}}"#));
        assert_eq!(reject.field.as_deref(), Some(field), "{reject}");
    }
}

#[test]
fn duplicate_fields_are_rejected() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"a","user_id":"b"}"#;
    assert_eq!(reject_of(text).reason, RejectReason::DuplicateField);
}

#[test]
fn null_optional_fields_are_absent_and_null_required_fields_rejected() {
    let text = r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":"u","ip_address":null}"#;
    assert_eq!(decode_str(text).unwrap().ip_address, None);
    let null_user =
        r#"{"timestamp":"2026-12-03T02:14:05Z","event_type":"api_access","user_id":null}"#;
    assert_eq!(reject_of(null_user).field.as_deref(), Some("user_id"));
}

#[test]
fn oversized_records_and_invalid_utf8_are_rejected() {
    let limits = DecodeLimits {
        max_event_bytes: 16,
        ..DecodeLimits::default()
    };
    assert_eq!(
        decode(MINIMAL.as_bytes(), &limits).unwrap_err().reason,
        RejectReason::TooLarge
    );
    let bytes = b"{\"user_id\":\"\xff\"}";
    assert_eq!(
        decode(bytes, &DecodeLimits::default()).unwrap_err().reason,
        RejectReason::InvalidUtf8
    );
}

#[test]
fn values_in_rejects_have_secrets_redacted() {
    let text = r#"{"timestamp":"ak_live_0123456789abcdefghijABCDEFGHIJ","event_type":"api_access","user_id":"u"}"#;
    let reject = reject_of(text);
    assert!(!reject.value.unwrap().contains("0123456789abcdefghij"));
}
