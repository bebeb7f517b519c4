//! The actions that call out over HTTP: key revocation at the gateway's
//! admin endpoint and the signed webhook. Every request carries the
//! action's idempotency key, so a receiver can recognise a retry.

use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::job::Job;
use crate::redact::redact_secrets;

/// Header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header carrying the Unix time (seconds) the webhook was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Vigil-Timestamp";
/// Header carrying `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "X-Vigil-Signature";

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// A timeout, a refused connection, a 5xx, 408 or 429: retry.
    #[error("{0}")]
    Transient(String),
    /// Any other refusal (a 4xx, a bad address): do not retry.
    #[error("{0}")]
    Permanent(String),
}

impl AttemptError {
    /// Whether a retry may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// An HTTP client with the response timeout and credentials.
#[derive(Clone)]
pub struct HttpTargets {
    client: reqwest::Client,
    revoke_url: String,
    gateway_token: Option<String>,
    webhook_url: String,
    webhook_secret: Option<String>,
}

impl HttpTargets {
    /// A client for the configured targets.
    ///
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(
        timeout: Duration,
        revoke_url: &str,
        gateway_token: Option<String>,
        webhook_url: &str,
        webhook_secret: Option<String>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            revoke_url: revoke_url.trim().to_owned(),
            gateway_token,
            webhook_url: webhook_url.trim().to_owned(),
            webhook_secret,
        })
    }

    /// Whether a gateway endpoint is configured.
    #[must_use]
    pub fn can_revoke(&self) -> bool {
        !self.revoke_url.is_empty()
    }

    /// Whether a webhook is configured.
    #[must_use]
    pub fn has_webhook(&self) -> bool {
        !self.webhook_url.is_empty()
    }

    /// Asks the gateway to revoke `key`.
    ///
    /// # Errors
    /// How the attempt failed.
    pub async fn revoke(&self, job: &Job, key: &str) -> Result<(), AttemptError> {
        let url = self.revoke_url.replace("{api_key_id}", &encode_path(key));
        let body = json!({
            "api_key_id": key,
            "incident_id": job.incident.incident_id,
            "reason": format!(
                "{} ({})",
                job.incident.incident_type.as_str(),
                job.incident.severity.as_str()
            ),
        });
        let mut request = self
            .client
            .post(&url)
            .header(IDEMPOTENCY_HEADER, &job.key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(token) = &self.gateway_token {
            request = request.bearer_auth(token);
        }
        send(request).await
    }

    /// Posts the incident to the webhook, signed.
    ///
    /// # Errors
    /// How the attempt failed.
    pub async fn post_webhook(&self, job: &Job, now_secs: i64) -> Result<(), AttemptError> {
        let body = webhook_body(job);
        let mut request = self
            .client
            .post(&self.webhook_url)
            .header(IDEMPOTENCY_HEADER, &job.key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, now_secs.to_string());
        if let Some(secret) = &self.webhook_secret {
            request = request.header(SIGNATURE_HEADER, sign(secret, now_secs, body.as_bytes()));
        }
        send(request.body(body)).await
    }
}

/// The webhook's JSON body: the action and the incident, redacted.
#[must_use]
pub fn webhook_body(job: &Job) -> String {
    let body = json!({
        "action": job.action.as_str(),
        "idempotency_key": job.key,
        "incident": job.incident,
    });
    redact_secrets(&body.to_string()).into_owned()
}

/// `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`.
///
/// # Panics
/// Never: HMAC accepts keys of any length.
#[must_use]
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn send(request: reqwest::RequestBuilder) -> Result<(), AttemptError> {
    let response = request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        AttemptError::Transient(what.to_owned())
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = format!("HTTP {}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(AttemptError::Transient(message))
    } else {
        Err(AttemptError::Permanent(message))
    }
}

/// Percent-encodes what is not safe in a URL path segment.
fn encode_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = sign("secret", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256="));
        assert_eq!(a.len(), "sha256=".len() + 64);
        assert_ne!(a, sign("secret", 1_700_000_001, b"{}"));
        assert_ne!(a, sign("secret", 1_700_000_000, b"{ }"));
        assert_ne!(a, sign("other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path("ak_7f3c"), "ak_7f3c");
        assert_eq!(encode_path("a/b c"), "a%2Fb%20c");
    }
}
