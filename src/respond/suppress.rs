//! Suppression: allowlisted users and address ranges never trigger actions,
//! and silences mute one detector or rule for one user, key or address
//! until they expire. Silenced signals are counted but join no incident;
//! allowlisted incidents are recorded with their actions `suppressed`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::persist::{read_json, write_json_atomically};
use crate::signal::Signal;

/// Users and ranges whose incidents are answered by no action.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    nets: Vec<IpNet>,
    users: Vec<String>,
}

impl Allowlist {
    /// An allowlist of `nets` and `users`.
    #[must_use]
    pub fn new(nets: Vec<IpNet>, users: Vec<String>) -> Self {
        Self { nets, users }
    }

    /// Whether `ip` lies in an allowlisted range.
    #[must_use]
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether `user` is allowlisted.
    #[must_use]
    pub fn allows_user(&self, user: &str) -> bool {
        self.users.iter().any(|u| u == user)
    }
}

/// What a silence applies to: one detector or rule (or `*` for all) for
/// one user, key or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceMatch {
    /// The detector's or rule's id, or `*`.
    pub signal: String,
    /// The user it is muted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The key it is muted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The address it is muted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
}

impl SilenceMatch {
    /// Why the match is not acceptable: it must name a signal and exactly
    /// one of user, key or address, so a silence never mutes a detector
    /// for everyone.
    #[must_use]
    pub fn problem(&self) -> Option<&'static str> {
        let scopes = [
            self.user_id.is_some(),
            self.api_key_id.is_some(),
            self.ip.is_some(),
        ];
        if self.signal.trim().is_empty() {
            Some("name the detector or rule in \"signal\" (or \"*\")")
        } else if scopes.iter().filter(|s| **s).count() != 1 {
            Some("name exactly one of \"user_id\", \"api_key_id\" or \"ip\"")
        } else {
            None
        }
    }

    fn matches(&self, signal: &Signal) -> bool {
        if self.signal != "*" && self.signal != signal.name {
            return false;
        }
        if let Some(user) = &self.user_id {
            return *user == signal.user_id;
        }
        if let Some(key) = &self.api_key_id {
            return signal.api_key_id.as_ref() == Some(key);
        }
        self.ip.is_some() && self.ip == signal.ip
    }
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Its id, for removal.
    pub id: String,
    /// What it mutes.
    #[serde(rename = "match")]
    pub matcher: SilenceMatch,
    /// When it stops muting (wall clock).
    pub expires_at: DateTime<Utc>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// The role that added it.
    pub created_by: String,
    /// Why it was added.
    pub reason: String,
}

/// The silences in force, shared by the collector (which consults them)
/// and the HTTP API (which edits them), kept in `silences.json` in the
/// state folder when there is one.
#[derive(Debug, Clone, Default)]
pub struct Silences {
    inner: Arc<RwLock<Vec<Silence>>>,
    file: Option<PathBuf>,
}

impl Silences {
    /// Silences kept in `file` (loaded from it when it exists), or in
    /// memory only.
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn open(file: Option<PathBuf>) -> std::io::Result<Self> {
        let loaded = match &file {
            Some(path) => read_json(path)?.unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Self {
            inner: Arc::new(RwLock::new(loaded)),
            file,
        })
    }

    /// Whether a silence in force at `now` mutes `signal`.
    #[must_use]
    pub fn mutes(&self, signal: &Signal, now: DateTime<Utc>) -> bool {
        let silences = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !silences.is_empty()
            && silences
                .iter()
                .any(|s| s.expires_at > now && s.matcher.matches(signal))
    }

    /// Silences in force at `now`.
    #[must_use]
    pub fn active(&self, now: DateTime<Utc>) -> Vec<Silence> {
        let silences = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        silences
            .iter()
            .filter(|s| s.expires_at > now)
            .cloned()
            .collect()
    }

    /// Adds a silence; expired ones are dropped on the way.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn add(&self, silence: Silence) -> std::io::Result<()> {
        self.change(|silences| {
            silences.retain(|s| s.expires_at > silence.created_at);
            silences.push(silence);
            true
        })
    }

    /// Removes the silence `id`; returns whether it existed.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn remove(&self, id: &str) -> std::io::Result<bool> {
        let mut removed = false;
        self.change(|silences| {
            let before = silences.len();
            silences.retain(|s| s.id != id);
            removed = silences.len() < before;
            removed
        })?;
        Ok(removed)
    }

    fn change(&self, edit: impl FnOnce(&mut Vec<Silence>) -> bool) -> std::io::Result<()> {
        let mut silences = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if edit(&mut silences)
            && let Some(path) = &self.file
        {
            write_json_atomically(path, &*silences)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::signal::{Severity, SignalSource};
    use crate::time::Timestamp;

    fn signal(name: &'static str, user: &str, ip: &str) -> Signal {
        Signal {
            source: SignalSource::Detector,
            name: Cow::Borrowed(name),
            severity: Severity::High,
            score: 0.8,
            at: Timestamp(0),
            event_id: None,
            user_id: user.to_owned(),
            ip: ip.parse().ok(),
            api_key_id: Some("ak_1".to_owned()),
            incident_type: None,
            evidence: serde_json::Map::new(),
            group: None,
        }
    }

    fn silence(matcher: SilenceMatch, minutes: i64) -> Silence {
        let now = Utc::now();
        Silence {
            id: "s1".to_owned(),
            matcher,
            expires_at: now + chrono::Duration::minutes(minutes),
            created_at: now,
            created_by: "responder".to_owned(),
            reason: "maintenance".to_owned(),
        }
    }

    fn for_user(signal: &str, user: &str) -> SilenceMatch {
        SilenceMatch {
            signal: signal.to_owned(),
            user_id: Some(user.to_owned()),
            api_key_id: None,
            ip: None,
        }
    }

    #[test]
    fn a_silence_mutes_its_detector_for_its_user_only() {
        let silences = Silences::open(None).unwrap();
        silences
            .add(silence(for_user("novel_ip", "alice"), 60))
            .unwrap();
        let now = Utc::now();
        assert!(silences.mutes(&signal("novel_ip", "alice", "192.0.2.1"), now));
        assert!(!silences.mutes(&signal("novel_ip", "bob", "192.0.2.1"), now));
        assert!(!silences.mutes(&signal("usage_spike", "alice", "192.0.2.1"), now));
    }

    #[test]
    fn an_expired_silence_mutes_nothing() {
        let silences = Silences::open(None).unwrap();
        silences.add(silence(for_user("*", "alice"), -1)).unwrap();
        assert!(!silences.mutes(&signal("novel_ip", "alice", "192.0.2.1"), Utc::now()));
        assert!(silences.active(Utc::now()).is_empty());
    }

    #[test]
    fn an_address_silence_matches_the_signal_address() {
        let silences = Silences::open(None).unwrap();
        let matcher = SilenceMatch {
            signal: "*".to_owned(),
            user_id: None,
            api_key_id: None,
            ip: "198.51.100.9".parse().ok(),
        };
        silences.add(silence(matcher, 60)).unwrap();
        let now = Utc::now();
        assert!(silences.mutes(&signal("brute_force", "x", "198.51.100.9"), now));
        assert!(!silences.mutes(&signal("brute_force", "x", "198.51.100.10"), now));
    }

    #[test]
    fn silences_survive_a_restart_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("silences.json");
        let first = Silences::open(Some(file.clone())).unwrap();
        first
            .add(silence(for_user("off_hours", "carol"), 60))
            .unwrap();
        let again = Silences::open(Some(file)).unwrap();
        assert!(again.mutes(&signal("off_hours", "carol", "192.0.2.1"), Utc::now()));
        assert!(again.remove("s1").unwrap());
        assert!(!again.mutes(&signal("off_hours", "carol", "192.0.2.1"), Utc::now()));
    }

    #[test]
    fn a_match_must_name_one_scope() {
        let mut matcher = for_user("novel_ip", "alice");
        assert!(matcher.problem().is_none());
        matcher.ip = "192.0.2.1".parse().ok();
        assert!(matcher.problem().is_some());
        matcher.ip = None;
        matcher.user_id = None;
        assert!(matcher.problem().is_some());
    }

    #[test]
    fn allowlisted_ranges_and_users() {
        let allow = Allowlist::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            vec!["svc-monitor".to_owned()],
        );
        assert!(allow.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(!allow.allows_ip("11.1.2.3".parse().unwrap()));
        assert!(allow.allows_user("svc-monitor"));
        assert!(!allow.allows_user("alice"));
    }
}
