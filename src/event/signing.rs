//! Signed events: producers put an HMAC-SHA256 over each event and the time
//! they signed it, and vigil refuses records whose signature is missing,
//! wrong, or older than the replay window, so nobody without the key can
//! forge events (to trigger revocations) or replay old ones (to hide an
//! attack behind them).
//!
//! The signature covers `"{signed_at}.{event bytes}"`: the event's exact
//! bytes, `signed_at` in Unix seconds, the key from `VIGIL_SIGNING_KEY`. A
//! signed record travels in one of two forms:
//! - on Kafka, the message is the event itself and the headers
//!   [`SIGNED_AT_HEADER`] and [`SIGNATURE_HEADER`] carry the time and the
//!   lowercase hex signature; the source folds them into an envelope;
//! - in a JSON-lines file, each line is that envelope:
//!   `{"signed_at":1764800000,"signature":"…","event":{…}}`.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;

use super::{Reject, RejectReason};
use crate::secret::{SecretFileError, read_secret};

/// Kafka header carrying the hex HMAC-SHA256 of a message.
pub const SIGNATURE_HEADER: &str = "vigil-signature";
/// Kafka header carrying the Unix second the message was signed at.
pub const SIGNED_AT_HEADER: &str = "vigil-signed-at";
/// The replay window when the configuration names none: five minutes.
pub const DEFAULT_WINDOW: Duration = Duration::from_mins(5);

/// The variable holding the signing key; `VIGIL_SIGNING_KEY_FILE` may name
/// a file holding it instead.
pub const KEY_VARIABLE: &str = "VIGIL_SIGNING_KEY";

/// Length of a hex HMAC-SHA256.
const SIGNATURE_HEX_LEN: usize = 64;

/// The shared secret producers sign with. Its value is never printed.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
}

impl SigningKey {
    /// A key from the secret's bytes (any length).
    ///
    /// # Panics
    /// Never: HMAC takes keys of any length.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    /// The lowercase hex signature of `event` signed at `signed_at`.
    #[must_use]
    pub fn sign(&self, signed_at: i64, event: &[u8]) -> String {
        hex::encode(self.mac_of(signed_at, event).finalize().into_bytes())
    }

    fn mac_of(&self, signed_at: i64, event: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(signed_at.to_string().as_bytes());
        mac.update(b".");
        mac.update(event);
        mac
    }
}

/// The signing key from the environment ([`KEY_VARIABLE`] or its `…_FILE`
/// variant), `None` when neither is set.
///
/// # Errors
/// Names the `…_FILE` variable and its file when the file cannot be read.
pub fn key_from_environment() -> Result<Option<SigningKey>, SecretFileError> {
    Ok(read_secret(KEY_VARIABLE)?.map(|secret| SigningKey::new(secret.as_bytes())))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

/// Checks signed records against the key and the replay window.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: SigningKey,
    window_secs: i64,
}

/// A signed record's parts, each kept as its raw JSON text.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    signed_at: Option<&'a RawValue>,
    #[serde(borrow)]
    signature: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
}

impl Verifier {
    /// A verifier accepting signatures made within `window` of now, either
    /// way (producers' clocks may run a little ahead).
    #[must_use]
    pub fn new(key: SigningKey, window: Duration) -> Self {
        Self {
            key,
            window_secs: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// The event inside the signed `record`, once its signature matches
    /// and was made within the window around `now_secs` (Unix seconds).
    ///
    /// # Errors
    /// A [`Reject`] saying what is missing or wrong: `missing_signature`,
    /// `bad_signature` (malformed or not matching) or `stale_signature`
    /// (outside the window, as a replayed record is).
    pub fn open<'a>(&self, record: &'a [u8], now_secs: i64) -> Result<&'a [u8], Reject> {
        let envelope = parse_envelope(record)?;
        let (Some(signed_at), Some(signature), Some(event)) =
            (envelope.signed_at, envelope.signature, envelope.event)
        else {
            return Err(Reject::record(
                RejectReason::MissingSignature,
                "signing is required: send the event with the Kafka headers \
                 vigil-signed-at and vigil-signature, or as a line \
                 {\"signed_at\":…,\"signature\":\"…\",\"event\":{…}}",
            ));
        };
        let signed_at = parse_signed_at(signed_at)?;
        let signature = parse_signature(signature)?;
        let event = event.get().as_bytes();
        if self
            .key
            .mac_of(signed_at, event)
            .verify_slice(&signature)
            .is_err()
        {
            return Err(Reject::field(
                RejectReason::BadSignature,
                "signature",
                None,
                "does not match the event and its signing time",
            ));
        }
        self.check_window(signed_at, now_secs)?;
        Ok(event)
    }

    fn check_window(&self, signed_at: i64, now_secs: i64) -> Result<(), Reject> {
        let age = now_secs.saturating_sub(signed_at);
        if age.unsigned_abs() <= self.window_secs.unsigned_abs() {
            return Ok(());
        }
        let when = if age > 0 {
            format!("signed {age} s ago")
        } else {
            format!("signed {} s in the future", age.unsigned_abs())
        };
        Err(Reject::field(
            RejectReason::StaleSignature,
            "signed_at",
            Some(&signed_at.to_string()),
            format!("{when}, outside the {} s replay window", self.window_secs),
        ))
    }
}

fn parse_envelope(record: &[u8]) -> Result<Envelope<'_>, Reject> {
    let starts_as_object = record
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_as_object {
        return Err(Reject::record(
            RejectReason::NotAnObject,
            "a signed record must be a JSON object",
        ));
    }
    serde_json::from_slice(record).map_err(|e| {
        if e.is_data() {
            Reject::record(
                RejectReason::BadSignature,
                format!("malformed signed envelope: {e}"),
            )
        } else {
            Reject::record(RejectReason::InvalidJson, e.to_string())
        }
    })
}

/// `signed_at` as Unix seconds: a JSON integer, or the same digits quoted
/// (Kafka headers arrive as text).
fn parse_signed_at(raw: &RawValue) -> Result<i64, Reject> {
    let text = raw.get();
    let digits = unquoted(text).unwrap_or(text);
    digits.parse::<i64>().map_err(|_| {
        Reject::field(
            RejectReason::BadSignature,
            "signed_at",
            Some(text),
            "must be the signing time in whole Unix seconds",
        )
    })
}

fn parse_signature(raw: &RawValue) -> Result<[u8; 32], Reject> {
    let text = raw.get();
    let bad = || {
        Reject::field(
            RejectReason::BadSignature,
            "signature",
            Some(text),
            "must be the HMAC-SHA256 as 64 hex digits",
        )
    };
    let hex_text = unquoted(text)
        .filter(|t| t.len() == SIGNATURE_HEX_LEN)
        .ok_or_else(bad)?;
    let mut signature = [0_u8; 32];
    hex::decode_to_slice(hex_text, &mut signature).map_err(|_| bad())?;
    Ok(signature)
}

/// The text between a JSON string's quotes, `None` for other values.
fn unquoted(text: &str) -> Option<&str> {
    text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
}

/// The JSON-lines form of a signed event.
#[must_use]
pub fn envelope(event: &[u8], signed_at: i64, signature: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(event.len() + 128);
    write_envelope(
        &mut line,
        event,
        Some(signed_at.to_string().as_bytes()),
        Some(signature.as_bytes()),
    );
    line
}

/// Appends the envelope of `event` to `out`, with whichever of the
/// signing time and signature are known (as received in Kafka headers; a
/// missing one is left out, so the record is refused with that reason).
/// Header values are written as JSON strings, escaped, whatever they hold.
pub fn write_envelope(
    out: &mut Vec<u8>,
    event: &[u8],
    signed_at: Option<&[u8]>,
    signature: Option<&[u8]>,
) {
    out.push(b'{');
    for (name, value) in [("signed_at", signed_at), ("signature", signature)] {
        if let Some(value) = value {
            write_string(out, name.as_bytes());
            out.push(b':');
            write_string(out, value);
            out.push(b',');
        }
    }
    write_string(out, b"event");
    out.push(b':');
    out.extend_from_slice(event);
    out.push(b'}');
}

fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    serde_json::to_writer(&mut *out, text.as_ref()).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests;
