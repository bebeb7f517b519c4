//! `vigil.toml`: loading, environment overrides and validation.
//!
//! Every key is optional with a default. Unknown sections and keys are
//! errors. All problems are reported at once, each naming the file, the
//! line of its section, and the key. `VIGIL_<SECTION>_<KEY>` environment
//! variables override file values (for example `VIGIL_PROFILE_TIME_ZONE` or
//! `VIGIL_DETECTORS_RATE_LIMIT_AGENT_PER_SECOND`). Secrets never live here.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::detect::DetectorsConfig;
use crate::email::EmailConfig;
use crate::event::DecodeLimits;
use crate::http::Limits;
use crate::incident::IncidentConfig;
use crate::profile::ProfileLimits;
use crate::respond::{BlocklistConfig, GatewayConfig, ResponseConfig, WebhookConfig, url_problem};
use crate::time::LocalClock;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How input records are read.
    pub input: InputConfig,
    /// User profiles.
    pub profile: ProfileConfig,
    /// Built-in detectors.
    pub detectors: DetectorsConfig,
    /// Incident correlation.
    pub incidents: IncidentConfig,
    /// Sigma rule files.
    pub rules: RulesConfig,
    /// The Kafka source and topics; off while `brokers` is empty.
    pub kafka: KafkaConfig,
    /// The HTTP listener for metrics, health checks and the `/v1` API.
    pub http: HttpConfig,
    /// The hash-chained audit log.
    pub audit: AuditConfig,
    /// Where state that outlives the process is kept.
    pub state: StateConfig,
    /// Alert emails.
    pub email: EmailConfig,
    /// How incidents are answered: playbook, delivery, allowlists.
    pub response: ResponseConfig,
    /// The gateway endpoint that revokes keys.
    pub gateway: GatewayConfig,
    /// The webhook incidents are posted to.
    pub webhook: WebhookConfig,
    /// The blocklist the `block_ip` action fills.
    pub blocklist: BlocklistConfig,
    /// The Parquet archive of events, incidents, actions and audit records.
    pub archive: ArchiveConfig,
}

/// `[archive]`: events, incident revisions, action attempts and audit
/// records kept as Parquet files partitioned by day, for `vigil query` and
/// `vigil report`. Off while `path` is empty, so nothing personal is kept
/// unless asked for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// The archive folder; empty for no archive.
    pub path: String,
    /// Day partitions older than this many days are removed (at start and
    /// daily while running); 0 keeps everything.
    pub retention_days: u32,
    /// Replace user ids in the archive with a keyed HMAC-SHA256 pseudonym;
    /// the key comes from `VIGIL_ARCHIVE_PSEUDONYM_KEY` (or the file named
    /// by `VIGIL_ARCHIVE_PSEUDONYM_KEY_FILE`), never from this file.
    pub pseudonymize_users: bool,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            retention_days: 90,
            pseudonymize_users: false,
        }
    }
}

impl ArchiveConfig {
    /// Whether anything is archived.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.path.trim().is_empty()
    }
}

/// `[audit]`: where every incident revision and action attempt is recorded.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The JSON-lines audit log, hash-chained (`vigil audit verify` checks
    /// it); empty for no audit log.
    pub path: String,
}

/// `[state]`: a folder for what must survive a restart (profile snapshots,
/// the action queue, the blocklist, silences); empty keeps it in memory
/// only.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// The folder; created when missing.
    pub dir: String,
    /// Seconds between two snapshots of the profiles while a run goes on
    /// (one is always taken when it ends); 0 takes them at the end only.
    pub snapshot_interval_secs: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            snapshot_interval_secs: 60,
        }
    }
}

impl StateConfig {
    /// The folder, when one is configured.
    #[must_use]
    pub fn folder(&self) -> Option<&std::path::Path> {
        let dir = self.dir.trim();
        (!dir.is_empty()).then(|| std::path::Path::new(dir))
    }

    /// Time between two snapshots, if they are taken while a run goes on.
    #[must_use]
    pub fn snapshot_every(&self) -> Option<std::time::Duration> {
        (self.snapshot_interval_secs > 0)
            .then(|| std::time::Duration::from_secs(self.snapshot_interval_secs))
    }
}

/// `[http]`: where `/metrics`, `/healthz`, `/readyz` and the `/v1` API are
/// served, and how the listener protects itself from slow or too many
/// clients. The TLS private key never lives here: it comes from
/// `VIGIL_HTTP_TLS_KEY_FILE` (or `VIGIL_HTTP_TLS_KEY`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port` to listen on, such as `127.0.0.1:9898`; empty for no
    /// listener (`vigil run --listen` overrides it).
    pub listen: String,
    /// PEM file with the certificate chain, leaf first; set, the listener
    /// serves HTTPS only. Empty serves plain HTTP.
    pub tls_cert_file: String,
    /// How long a client has to send a request's headers, in milliseconds:
    /// from the connection's opening (TLS handshake included) for its first
    /// request, from the first byte for later ones. A client that is slower
    /// is disconnected, so trickled headers cannot hold a connection.
    pub header_timeout_ms: u64,
    /// How long one request may take from its headers to its response,
    /// reading the body included, in milliseconds; past it the client gets
    /// 503.
    pub request_timeout_ms: u64,
    /// How long a kept-alive connection may wait for its next request, in
    /// seconds, before it is closed.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more are closed as soon as they are
    /// accepted, and counted in `vigil_http_connections_refused_total`.
    pub max_connections: usize,
    /// Largest request body, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: String::new(),
            tls_cert_file: String::new(),
            header_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            idle_timeout_secs: 60,
            max_connections: 256,
            max_body_bytes: 64 * 1024,
        }
    }
}

impl HttpConfig {
    /// The listener's timeouts and limits.
    #[must_use]
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
            max_body_bytes: self.max_body_bytes,
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let listen = self.listen.trim();
        if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "http.listen: {listen:?} is not an address such as 127.0.0.1:9898"
            ));
        }
        for (key, value) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if value == 0 {
                problems.push(format!("http.{key} must be above 0"));
            }
        }
        if self.max_connections == 0 {
            problems.push("http.max_connections must be at least 1".to_owned());
        }
        if self.max_body_bytes == 0 {
            problems.push("http.max_body_bytes must be at least 1".to_owned());
        }
        problems
    }
}

/// `[kafka]`: read events from a consumer group and publish dead letters
/// and incidents to topics. Credentials never live here: SASL passwords and
/// TLS key passwords come from `VIGIL_KAFKA_SASL_PASSWORD` and
/// `VIGIL_KAFKA_SSL_KEY_PASSWORD` (or the files their `…_FILE` variants
/// name).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port` separated by commas; empty turns the
    /// Kafka source off.
    pub brokers: String,
    /// Topics to consume events from.
    pub topics: Vec<String>,
    /// Consumer group; every vigil process of one deployment shares it.
    pub group_id: String,
    /// Topic for refused records (raw bytes, reason in headers); empty for
    /// none.
    pub dead_letter_topic: String,
    /// Topic for incident revisions, keyed by incident id; empty for none.
    pub incidents_topic: String,
    /// How often processed offsets are committed, in milliseconds.
    pub commit_interval_ms: u64,
    /// How long an assigned partition may deliver nothing before it stops
    /// holding back the event-time watermark (cross-user rules and the
    /// resolution of quiet incidents), in milliseconds. Longer makes
    /// results independent of how the broker interleaves partitions under
    /// load; shorter keeps one quiet partition from delaying them.
    pub partition_idle_ms: u64,
    /// librdkafka properties passed through unchanged (TLS, SASL
    /// mechanism, fetch tuning). Password properties are refused here.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: String::new(),
            topics: vec!["security-events".to_owned()],
            group_id: "vigil".to_owned(),
            dead_letter_topic: "security-events-dlq".to_owned(),
            incidents_topic: "security-incidents".to_owned(),
            commit_interval_ms: 1_000,
            partition_idle_ms: 2_000,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Whether events come from Kafka.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.brokers.trim().is_empty()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.enabled() && self.topics.iter().all(|t| t.trim().is_empty()) {
            problems.push("kafka.topics: name at least one topic to consume".to_owned());
        }
        if self.enabled() && self.group_id.trim().is_empty() {
            problems.push("kafka.group_id: must not be empty".to_owned());
        }
        for key in self.properties.keys() {
            if key.contains("password")
                || key.contains("secret")
                || key == "sasl.oauthbearer.config"
            {
                problems.push(format!(
                    "kafka.properties.\"{key}\": secrets are not read from the configuration \
                     file; set VIGIL_KAFKA_SASL_PASSWORD or VIGIL_KAFKA_SSL_KEY_PASSWORD \
                     (or their _FILE variants) instead"
                ));
            }
        }
        problems
    }
}

/// `[rules]`: which Sigma rules run beside the detectors.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Whether rules run at all.
    pub enabled: bool,
    /// Folder of rule files, watched for changes; empty for the rule pack
    /// built into vigil.
    pub dir: String,
    /// How often the folder is checked for changes, in seconds.
    pub reload_poll_secs: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: String::new(),
            reload_poll_secs: 2,
        }
    }
}

/// `[input]`: limits on input records.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Largest accepted record, in bytes.
    pub max_event_bytes: usize,
    /// Largest number of top-level fields outside the event contract.
    pub max_extra_fields: usize,
    /// Refuse every record that is not signed with the key in
    /// `VIGIL_SIGNING_KEY` (HMAC-SHA256, see [`crate::event::signing`]).
    pub require_signature: bool,
    /// How far a signature's time may lie from the clock, either way, in
    /// seconds; older signatures are refused as replays.
    pub signature_window_secs: u64,
}

impl Default for InputConfig {
    fn default() -> Self {
        let limits = DecodeLimits::default();
        Self {
            max_event_bytes: limits.max_event_bytes,
            max_extra_fields: limits.max_extra_fields,
            require_signature: false,
            signature_window_secs: crate::event::signing::DEFAULT_WINDOW.as_secs(),
        }
    }
}

impl InputConfig {
    /// The decoder's limits.
    #[must_use]
    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_event_bytes: self.max_event_bytes,
            max_extra_fields: self.max_extra_fields,
        }
    }
}

/// `[profile]`: how users' profiles are kept.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// Time zone of users' local calendars: `UTC`, an IANA name, or an
    /// offset such as `+05:30`.
    pub time_zone: String,
    /// Per-user time zones that override `time_zone`.
    pub user_time_zones: BTreeMap<String, String>,
    /// How far behind a user's latest event an event may arrive and still
    /// be accepted, in seconds.
    pub lateness_secs: u32,
    /// Addresses remembered per user.
    pub max_ips_per_user: usize,
    /// Keys counted per user.
    pub max_keys_per_user: usize,
    /// Users with a profile in memory at most (over all shards); past it,
    /// the profiles idle longest are evicted and counted.
    pub max_users: usize,
    /// Event ids remembered per user, so an event delivered twice (same
    /// `event_id`, after a restart or rebalance) counts once; 0 turns the
    /// check off.
    pub recent_event_ids: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        let limits = ProfileLimits::default();
        Self {
            time_zone: "UTC".to_owned(),
            user_time_zones: BTreeMap::new(),
            lateness_secs: 3_600,
            max_ips_per_user: limits.max_ips_per_user,
            max_keys_per_user: limits.max_keys_per_user,
            max_users: 1_000_000,
            recent_event_ids: limits.recent_event_ids,
        }
    }
}

impl ProfileConfig {
    /// The limits profiles keep.
    #[must_use]
    pub fn limits(&self) -> ProfileLimits {
        ProfileLimits {
            max_ips_per_user: self.max_ips_per_user,
            max_keys_per_user: self.max_keys_per_user,
            recent_event_ids: self.recent_event_ids,
        }
    }

    /// The default clock and the per-user clocks.
    ///
    /// # Errors
    /// Names the first zone that does not resolve (validation reports all).
    pub fn clocks(&self) -> Result<(LocalClock, BTreeMap<String, LocalClock>), String> {
        let default = LocalClock::from_name(&self.time_zone)?;
        let users = self
            .user_time_zones
            .iter()
            .map(|(user, zone)| LocalClock::from_name(zone).map(|clock| (user.clone(), clock)))
            .collect::<Result<_, _>>()?;
        Ok((default, users))
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = LocalClock::from_name(&self.time_zone) {
            problems.push(format!("profile.time_zone: {e}"));
        }
        for (user, zone) in &self.user_time_zones {
            if let Err(e) = LocalClock::from_name(zone) {
                problems.push(format!("profile.user_time_zones.{user}: {e}"));
            }
        }
        if self.max_ips_per_user == 0 || self.max_keys_per_user == 0 {
            problems.push(
                "profile.max_ips_per_user and max_keys_per_user must be at least 1".to_owned(),
            );
        }
        problems
    }
}

/// Why a configuration was refused: every problem found, in order.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", problems.join("\n  "))]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl Config {
    /// Loads `path` (or the defaults when `None`) and applies `VIGIL_*`
    /// overrides from `env`.
    ///
    /// # Errors
    /// Returns every problem found: unreadable file, bad TOML, unknown
    /// sections or keys, wrong types, out-of-range values, bad overrides.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let source = Source::read(path)?;
        source.into_config(env)
    }

    /// Parses configuration text that is already in memory and applies
    /// `VIGIL_*` overrides from `env`; `origin` names the text in problems
    /// (a path, or something like `(inline)`). Touches neither the file
    /// system nor the process environment, which is what lets tests and
    /// fuzzers feed it any text.
    ///
    /// # Errors
    /// As [`Config::load`], except that there is no file to be unreadable.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let source = Source {
            name: origin.to_owned(),
            text: text.to_owned(),
        };
        source.into_config(env)
    }

    /// Loads with the process environment.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with_process_env(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(path, std::env::vars())
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = self.profile.problems();
        problems.extend(self.detectors.problems());
        problems.extend(self.kafka.problems());
        problems.extend(self.email.problems());
        problems.extend(self.response.problems());
        problems.extend(self.blocklist.problems());
        problems.extend(url_problem("gateway.revoke_url", &self.gateway.revoke_url));
        problems.extend(url_problem("webhook.url", &self.webhook.url));
        problems.extend(self.http.problems());
        if self.input.max_event_bytes < 64 {
            problems.push("input.max_event_bytes must be at least 64".to_owned());
        }
        if self.profile.max_users == 0 {
            problems.push("profile.max_users must be above 0".to_owned());
        }
        if self.input.signature_window_secs == 0 {
            problems.push("input.signature_window_secs must be above 0".to_owned());
        }
        if self.rules.reload_poll_secs == 0 {
            problems.push("rules.reload_poll_secs must be above 0".to_owned());
        }
        if self.incidents.correlation_window_secs == 0 {
            problems.push("incidents.correlation_window_secs must be above 0".to_owned());
        }
        if !(0.0..=1.0).contains(&self.incidents.min_score) {
            problems.push(format!(
                "incidents.min_score must be between 0 and 1, not {}",
                self.incidents.min_score
            ));
        }
        problems
    }
}

/// The configuration text and the name it goes by in problems.
struct Source {
    name: String,
    text: String,
}

impl Source {
    fn read(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self {
                name: "(defaults)".to_owned(),
                text: String::new(),
            });
        };
        std::fs::read_to_string(path)
            .map(|text| Self {
                name: path.display().to_string(),
                text,
            })
            .map_err(|e| ConfigError {
                problems: vec![format!("{}: cannot read: {e}", path.display())],
            })
    }

    /// Parses the text, applies the overrides and validates the result.
    fn into_config(
        self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = self.parse()?;
        let mut problems = apply_env(&mut table, env);
        let config = build_sections(&self, &table, &mut problems);
        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    fn parse(&self) -> Result<Table, ConfigError> {
        self.text.parse::<Table>().map_err(|e| ConfigError {
            problems: vec![format!("{}: {}", self.name, e.to_string().trim_end())],
        })
    }

    /// The 1-based line where `section` starts, if the file has it.
    fn section_line(&self, section: &str) -> Option<usize> {
        let header = format!("[{section}");
        let dotted = format!("{section}.");
        self.text
            .lines()
            .position(|line| {
                let line = line.trim_start();
                line.starts_with(&header)
                    || line.starts_with(&dotted)
                    || line.starts_with(&format!("{section} "))
            })
            .map(|index| index + 1)
    }

    fn locate(&self, section: &str) -> String {
        match self.section_line(section) {
            Some(line) => format!("{}:{line}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Deserializes each section on its own, so one bad section does not hide
/// the problems of the others.
fn build_sections(source: &Source, table: &Table, problems: &mut Vec<String>) -> Config {
    let mut config = Config::default();
    for (section, value) in table {
        let mut single = Table::new();
        single.insert(section.clone(), value.clone());
        match Config::deserialize(Value::Table(single)) {
            Ok(parsed) => merge_section(&mut config, parsed, section),
            Err(e) => problems.push(format!(
                "{}: [{section}] {}",
                source.locate(section),
                one_line(&e.to_string())
            )),
        }
    }
    config
}

fn merge_section(config: &mut Config, parsed: Config, section: &str) {
    match section {
        "input" => config.input = parsed.input,
        "profile" => config.profile = parsed.profile,
        "detectors" => config.detectors = parsed.detectors,
        "incidents" => config.incidents = parsed.incidents,
        "rules" => config.rules = parsed.rules,
        "kafka" => config.kafka = parsed.kafka,
        "http" => config.http = parsed.http,
        "audit" => config.audit = parsed.audit,
        "state" => config.state = parsed.state,
        "email" => config.email = parsed.email,
        "response" => config.response = parsed.response,
        "gateway" => config.gateway = parsed.gateway,
        "webhook" => config.webhook = parsed.webhook,
        "blocklist" => config.blocklist = parsed.blocklist,
        "archive" => config.archive = parsed.archive,
        _ => {}
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies `VIGIL_*` variables whose name resolves to a known key; the type
/// of the default value decides how the text is read.
fn apply_env(table: &mut Table, env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let known = Value::try_from(Config::default()).unwrap_or(Value::Table(Table::new()));
    let mut problems = Vec::new();
    let mut vars: Vec<_> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("VIGIL_"))
        .collect();
    vars.sort();
    for (name, text) in vars {
        let rest = name["VIGIL_".len()..].to_ascii_lowercase();
        let Some(path) = resolve_path(&known, &rest) else {
            continue;
        };
        let default = lookup(&known, &path);
        match typed_value(default, &text) {
            Ok(value) => set_path(table, &path, value),
            Err(expected) => problems.push(format!("{name}: expected {expected}, got {text:?}")),
        }
    }
    problems
}

/// Splits `profile_time_zone` into `["profile", "time_zone"]` by walking the
/// tree of known keys.
fn resolve_path(known: &Value, rest: &str) -> Option<Vec<String>> {
    let Value::Table(table) = known else {
        return None;
    };
    for (key, value) in table {
        if rest == key && !value.is_table() {
            return Some(vec![key.clone()]);
        }
        if let Some(tail) = rest
            .strip_prefix(key.as_str())
            .and_then(|t| t.strip_prefix('_'))
            && let Some(mut path) = resolve_path(value, tail)
        {
            path.insert(0, key.clone());
            return Some(path);
        }
    }
    None
}

fn lookup<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, key| value.get(key))
}

fn typed_value(default: Option<&Value>, text: &str) -> Result<Value, &'static str> {
    match default {
        Some(Value::Integer(_)) => text
            .trim()
            .parse()
            .map(Value::Integer)
            .map_err(|_| "an integer"),
        Some(Value::Float(_)) => text
            .trim()
            .parse()
            .map(Value::Float)
            .map_err(|_| "a number"),
        Some(Value::Boolean(_)) => text
            .trim()
            .parse()
            .map(Value::Boolean)
            .map_err(|_| "true or false"),
        Some(Value::Array(_)) => Ok(Value::Array(
            text.split(',')
                .map(|item| Value::String(item.trim().to_owned()))
                .collect(),
        )),
        _ => Ok(Value::String(text.to_owned())),
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert(last.clone(), value);
}

#[cfg(test)]
mod tests;
