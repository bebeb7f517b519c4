//! The response sections of `vigil.toml`: `[response]` (playbook,
//! delivery, allowlists), `[gateway]` (key revocation), `[webhook]` and
//! `[blocklist]`. Their tokens and secrets come from the environment only:
//! `VIGIL_GATEWAY_TOKEN`, `VIGIL_WEBHOOK_SECRET` (or their `…_FILE`
//! variants).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `[response]`: how incidents are answered.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseConfig {
    /// Playbook file; empty for the playbook built into vigil.
    pub playbook: String,
    /// Record what would be done without doing it (`vigil run --dry-run`).
    pub dry_run: bool,
    /// Time one attempt may take, in seconds.
    pub timeout_secs: u64,
    /// Attempts before an action is given up as failed.
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; it doubles with each
    /// retry, with jitter.
    pub backoff_initial_ms: u64,
    /// Longest wait between retries, in milliseconds.
    pub backoff_max_ms: u64,
    /// Actions run at the same time.
    pub concurrency: usize,
    /// When the input ends, how long to wait for queued actions before
    /// exiting (they stay queued in `[state] dir` for the next run), in
    /// seconds.
    pub drain_secs: u64,
    /// Address ranges (CIDR) whose incidents never trigger actions and
    /// which are never blocked; their signals are still recorded.
    pub allow_ips: Vec<String>,
    /// Users whose incidents never trigger actions.
    pub allow_users: Vec<String>,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            playbook: String::new(),
            dry_run: false,
            timeout_secs: 10,
            max_attempts: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            concurrency: 8,
            drain_secs: 30,
            allow_ips: Vec::new(),
            allow_users: Vec::new(),
        }
    }
}

impl ResponseConfig {
    /// The allowlisted ranges; invalid entries are reported by validation.
    #[must_use]
    pub fn allowed_nets(&self) -> Vec<IpNet> {
        self.allow_ips.iter().filter_map(|t| parse_net(t)).collect()
    }

    /// Problems, each naming the key and the value.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for text in &self.allow_ips {
            if parse_net(text).is_none() {
                problems.push(format!(
                    "response.allow_ips: {text:?} is not an address or range such as 10.0.0.0/8"
                ));
            }
        }
        if self.max_attempts == 0 {
            problems.push("response.max_attempts must be at least 1".to_owned());
        }
        if self.timeout_secs == 0 {
            problems.push("response.timeout_secs must be above 0".to_owned());
        }
        if self.concurrency == 0 {
            problems.push("response.concurrency must be at least 1".to_owned());
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            problems.push(format!(
                "response.backoff_initial_ms ({}) must not exceed backoff_max_ms ({})",
                self.backoff_initial_ms, self.backoff_max_ms
            ));
        }
        problems
    }
}

/// A range in CIDR form, or a single address.
fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// `[gateway]`: the API gateway's admin endpoint that revokes keys. The
/// bearer token comes from `VIGIL_GATEWAY_TOKEN`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// URL called with `POST` to revoke a key; `{api_key_id}` is replaced
    /// by the key's id. Empty: revocations are recorded and audited only.
    pub revoke_url: String,
}

/// `[webhook]`: where incidents are posted, signed with HMAC-SHA256 over
/// `<timestamp>.<body>` with the key in `VIGIL_WEBHOOK_SECRET`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// URL receiving `POST`s; empty for none.
    pub url: String,
}

/// `[blocklist]`: addresses blocked by the `block_ip` action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlocklistConfig {
    /// File rewritten atomically with one blocked address per line, for
    /// firewalls and proxies; empty for none (the HTTP API serves it too).
    pub path: String,
    /// How long a first block lasts, in seconds; each repeat offence
    /// doubles it.
    pub ttl_secs: u64,
    /// The longest a block lasts, in seconds.
    pub max_ttl_secs: u64,
}

impl Default for BlocklistConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            ttl_secs: 3_600,
            max_ttl_secs: 7 * 24 * 3_600,
        }
    }
}

impl BlocklistConfig {
    /// Problems, each naming the key and the value.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.ttl_secs == 0 {
            problems.push("blocklist.ttl_secs must be above 0".to_owned());
        }
        if self.max_ttl_secs < self.ttl_secs {
            problems.push(format!(
                "blocklist.max_ttl_secs ({}) must be at least ttl_secs ({})",
                self.max_ttl_secs, self.ttl_secs
            ));
        }
        problems
    }
}

/// Checks that a configured URL is an `http` or `https` URL.
#[must_use]
pub fn url_problem(key: &str, url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.starts_with("http://") || url.starts_with("https://") {
        None
    } else {
        Some(format!("{key}: {url:?} is not an http:// or https:// URL"))
    }
}
