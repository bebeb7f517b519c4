//! The blocklist the `block_ip` action fills: addresses with an expiry,
//! longer for repeat offenders, served by the HTTP API and written
//! atomically to a plain-text file (one address per line) for firewalls
//! and proxies. Expiry is wall-clock time: a block is an operational
//! measure, not a statement about event time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::persist::{read_json, write_atomically, write_json_atomically};
use super::settings::BlocklistConfig;
use super::suppress::Allowlist;

/// One blocked address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// The address.
    pub ip: IpAddr,
    /// When the block ends.
    pub until: DateTime<Utc>,
    /// When it was (last) blocked.
    pub since: DateTime<Utc>,
    /// Why: the incident id, or the operator's reason.
    pub reason: String,
    /// How many times it has been blocked; each repeat doubles the time.
    pub offences: u32,
}

/// Why an address was not blocked.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The address is in an allowlisted range.
    #[error("{0} is allowlisted and is never blocked")]
    Allowlisted(IpAddr),
    /// The blocklist file or state could not be written.
    #[error("blocklist file")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    blocks: BTreeMap<IpAddr, Block>,
    /// Offences of addresses whose block has expired, so a return is
    /// treated as a repeat.
    offences: BTreeMap<IpAddr, u32>,
}

/// The shared blocklist.
#[derive(Debug, Clone)]
pub struct Blocklist {
    state: Arc<Mutex<State>>,
    config: BlocklistConfig,
    allow: Allowlist,
    state_file: Option<PathBuf>,
}

impl Blocklist {
    /// A blocklist with `config`'s times and file, never blocking what
    /// `allow` lists, and kept in `state_file` across restarts.
    ///
    /// # Errors
    /// The state file exists but cannot be read.
    pub fn open(
        config: BlocklistConfig,
        allow: Allowlist,
        state_file: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let state = match &state_file {
            Some(path) => read_json(path)?.unwrap_or_default(),
            None => State::default(),
        };
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
            config,
            allow,
            state_file,
        })
    }

    /// Blocks `ip` from `now`, for the base time doubled per earlier
    /// offence, up to the maximum.
    ///
    /// # Errors
    /// The address is allowlisted, or the files cannot be written.
    pub fn block(&self, ip: IpAddr, reason: &str, now: DateTime<Utc>) -> Result<Block, BlockError> {
        self.block_for(ip, reason, now, None)
    }

    /// Blocks `ip` for `ttl_secs` (or the repeat-offender time when `None`).
    ///
    /// # Errors
    /// The address is allowlisted, or the files cannot be written.
    pub fn block_for(
        &self,
        ip: IpAddr,
        reason: &str,
        now: DateTime<Utc>,
        ttl_secs: Option<u64>,
    ) -> Result<Block, BlockError> {
        if self.allow.allows_ip(ip) {
            return Err(BlockError::Allowlisted(ip));
        }
        let mut state = self.lock();
        let offences = state.offences.get(&ip).copied().unwrap_or(0) + 1;
        let secs = ttl_secs.unwrap_or_else(|| self.ttl_for(offences));
        let until =
            now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000));
        let until = state
            .blocks
            .get(&ip)
            .map_or(until, |current| current.until.max(until));
        let block = Block {
            ip,
            until,
            since: now,
            reason: reason.to_owned(),
            offences,
        };
        state.offences.insert(ip, offences);
        state.blocks.insert(ip, block.clone());
        self.save(&state, now)?;
        Ok(block)
    }

    /// Lifts the block on `ip`; returns whether there was one.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn unblock(&self, ip: IpAddr, now: DateTime<Utc>) -> std::io::Result<bool> {
        let mut state = self.lock();
        let removed = state.blocks.remove(&ip).is_some();
        if removed {
            self.save(&state, now)?;
        }
        Ok(removed)
    }

    /// Blocks in force at `now`, by address.
    #[must_use]
    pub fn active(&self, now: DateTime<Utc>) -> Vec<Block> {
        self.lock()
            .blocks
            .values()
            .filter(|b| b.until > now)
            .cloned()
            .collect()
    }

    /// Drops blocks that have ended and rewrites the files when any did;
    /// returns how many ended.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn expire(&self, now: DateTime<Utc>) -> std::io::Result<usize> {
        let mut state = self.lock();
        let before = state.blocks.len();
        state.blocks.retain(|_, b| b.until > now);
        let ended = before - state.blocks.len();
        if ended > 0 {
            self.save(&state, now)?;
        }
        Ok(ended)
    }

    /// The blocklist as text: a comment line, then one address per line.
    #[must_use]
    pub fn render_text(&self, now: DateTime<Utc>) -> String {
        render_text(&self.lock(), now)
    }

    fn ttl_for(&self, offences: u32) -> u64 {
        let doublings = offences.saturating_sub(1).min(32);
        self.config
            .ttl_secs
            .saturating_mul(1 << doublings)
            .min(self.config.max_ttl_secs)
    }

    fn save(&self, state: &State, now: DateTime<Utc>) -> std::io::Result<()> {
        if !self.config.path.is_empty() {
            let text = render_text(state, now);
            write_atomically(std::path::Path::new(&self.config.path), text.as_bytes())?;
        }
        if let Some(path) = &self.state_file {
            write_json_atomically(path, state)?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn render_text(state: &State, now: DateTime<Utc>) -> String {
    let mut text = format!(
        "# vigil blocklist, {}\n",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for block in state.blocks.values().filter(|b| b.until > now) {
        text.push_str(&block.ip.to_string());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocklist(path: &str) -> Blocklist {
        let config = BlocklistConfig {
            path: path.to_owned(),
            ttl_secs: 60,
            max_ttl_secs: 200,
        };
        let allow = Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()], Vec::new());
        Blocklist::open(config, allow, None).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_block_lasts_its_time_to_live() {
        let list = blocklist("");
        let now = Utc::now();
        list.block(ip("198.51.100.9"), "INC-1", now).unwrap();
        assert_eq!(list.active(now).len(), 1);
        let later = now + chrono::Duration::seconds(61);
        assert!(list.active(later).is_empty());
        assert_eq!(list.expire(later).unwrap(), 1);
    }

    #[test]
    fn repeat_offenders_are_blocked_longer_up_to_the_maximum() {
        let list = blocklist("");
        let now = Utc::now();
        let times: Vec<i64> = (0..4)
            .map(|n| {
                let at = now + chrono::Duration::seconds(n * 1_000);
                let block = list.block(ip("198.51.100.9"), "INC", at).unwrap();
                (block.until - at).num_seconds()
            })
            .collect();
        assert_eq!(times, [60, 120, 200, 200]);
    }

    #[test]
    fn an_allowlisted_address_is_never_blocked() {
        let list = blocklist("");
        let error = list.block(ip("10.1.2.3"), "INC-1", Utc::now()).unwrap_err();
        assert!(matches!(error, BlockError::Allowlisted(_)));
        assert!(list.active(Utc::now()).is_empty());
    }

    #[test]
    fn the_file_lists_blocked_addresses_and_follows_unblocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocklist.txt");
        let list = blocklist(path.to_str().unwrap());
        let now = Utc::now();
        list.block(ip("198.51.100.9"), "INC-1", now).unwrap();
        list.block(ip("2001:db8::1"), "INC-2", now).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["198.51.100.9", "2001:db8::1"]);
        assert!(list.unblock(ip("198.51.100.9"), now).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("198.51.100.9"));
    }

    #[test]
    fn blocks_survive_a_restart_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("blocklist.json");
        let open = || {
            Blocklist::open(
                BlocklistConfig::default(),
                Allowlist::default(),
                Some(state.clone()),
            )
            .unwrap()
        };
        let now = Utc::now();
        open().block(ip("203.0.113.5"), "INC-1", now).unwrap();
        let again = open();
        assert_eq!(again.active(now)[0].ip, ip("203.0.113.5"));
        let repeat = again.block(ip("203.0.113.5"), "INC-2", now).unwrap();
        assert_eq!(repeat.offences, 2);
    }
}
