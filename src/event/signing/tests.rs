//! Tests of signed records: what passes, and the reason each forgery or
//! replay is refused with.

use super::*;

const EVENT: &str =
    r#"{"timestamp":"2026-12-03T10:00:00Z","event_type":"api_access","user_id":"u1"}"#;
const NOW: i64 = 1_764_756_000;
const SECRET: &[u8] = b"shared secret";

fn verifier() -> Verifier {
    Verifier::new(SigningKey::new(SECRET), DEFAULT_WINDOW)
}

fn signed(event: &str, signed_at: i64) -> Vec<u8> {
    let signature = SigningKey::new(SECRET).sign(signed_at, event.as_bytes());
    envelope(event.as_bytes(), signed_at, &signature)
}

fn reason(result: Result<&[u8], Reject>) -> RejectReason {
    result.expect_err("the record must be refused").reason
}

#[test]
fn a_correctly_signed_event_opens_to_its_exact_bytes() {
    let line = signed(EVENT, NOW - 10);
    assert_eq!(verifier().open(&line, NOW).unwrap(), EVENT.as_bytes());
}

#[test]
fn a_signature_made_with_another_key_is_refused() {
    let forged = SigningKey::new(b"guessed").sign(NOW, EVENT.as_bytes());
    let line = envelope(EVENT.as_bytes(), NOW, &forged);
    assert_eq!(
        reason(verifier().open(&line, NOW)),
        RejectReason::BadSignature
    );
}

#[test]
fn an_event_changed_after_signing_is_refused() {
    let line = signed(EVENT, NOW);
    let tampered = String::from_utf8(line).unwrap().replace("\"u1\"", "\"u2\"");
    assert_eq!(
        reason(verifier().open(tampered.as_bytes(), NOW)),
        RejectReason::BadSignature
    );
}

#[test]
fn a_changed_signing_time_breaks_the_signature() {
    let signature = SigningKey::new(SECRET).sign(NOW - 3_600, EVENT.as_bytes());
    let line = envelope(EVENT.as_bytes(), NOW, &signature);
    assert_eq!(
        reason(verifier().open(&line, NOW)),
        RejectReason::BadSignature
    );
}

#[test]
fn a_replay_after_the_window_is_refused_as_stale_with_its_age() {
    let line = signed(EVENT, NOW - 301);
    let reject = verifier().open(&line, NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::StaleSignature);
    assert!(reject.message.contains("signed 301 s ago"), "{reject}");
    assert!(verifier().open(&signed(EVENT, NOW - 300), NOW).is_ok());
}

#[test]
fn a_signature_dated_beyond_the_window_ahead_is_refused() {
    let reject = verifier().open(&signed(EVENT, NOW + 400), NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::StaleSignature);
    assert!(reject.message.contains("in the future"), "{reject}");
}

#[test]
fn an_unsigned_event_is_refused_as_missing_its_signature() {
    let reject = verifier().open(EVENT.as_bytes(), NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::MissingSignature);
}

#[test]
fn malformed_signature_fields_are_named() {
    let short = format!(r#"{{"signed_at":{NOW},"signature":"abc","event":{EVENT}}}"#);
    let reject = verifier().open(short.as_bytes(), NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::BadSignature);
    assert_eq!(reject.field.as_deref(), Some("signature"));

    let signature = "0".repeat(64);
    let bad_time = format!(r#"{{"signed_at":"soon","signature":"{signature}","event":{EVENT}}}"#);
    let reject = verifier().open(bad_time.as_bytes(), NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::BadSignature);
    assert_eq!(reject.field.as_deref(), Some("signed_at"));
}

#[test]
fn header_values_become_an_envelope_that_verifies() {
    let signature = SigningKey::new(SECRET).sign(NOW, EVENT.as_bytes());
    let mut line = Vec::new();
    write_envelope(
        &mut line,
        EVENT.as_bytes(),
        Some(NOW.to_string().as_bytes()),
        Some(signature.as_bytes()),
    );
    assert_eq!(verifier().open(&line, NOW).unwrap(), EVENT.as_bytes());
}

#[test]
fn hostile_header_values_are_escaped_and_refused_not_injected() {
    let mut line = Vec::new();
    write_envelope(
        &mut line,
        EVENT.as_bytes(),
        Some(br#"1","event":{"user_id":"x"}"#),
        None,
    );
    let reject = verifier().open(&line, NOW).unwrap_err();
    assert_eq!(reject.reason, RejectReason::MissingSignature);
}

#[test]
fn the_key_is_not_shown_in_debug_output() {
    let shown = format!("{:?}", verifier());
    assert!(!shown.contains("shared secret"), "{shown}");
}
