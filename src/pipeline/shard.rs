//! A shard worker: decodes the records routed to it, keeps the profiles of
//! the users it owns and runs the detectors. It shares nothing with other
//! shards, so the hot path takes no locks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::dead_letter::DeadLetter;
use crate::detect::{Context, DetectorSet, Finding};
use crate::event::{DecodeLimits, Event, Reject, RejectReason, decode};
use crate::profile::{Profile, ProfileLimits};
use crate::signal::{Signal, SignalSource};
use crate::time::{LocalClock, SECOND_MS};

/// What a shard needs to know, shared by all shards of a run.
#[derive(Clone)]
pub struct ShardSettings {
    /// The detectors to run.
    pub detectors: Arc<DetectorSet>,
    /// The default local clock of users.
    pub clock: LocalClock,
    /// Users whose clock differs from the default.
    pub user_clocks: Arc<BTreeMap<String, LocalClock>>,
    /// Profile bounds.
    pub limits: ProfileLimits,
    /// Decoder bounds.
    pub decode_limits: DecodeLimits,
    /// How late (behind the user's latest event) an event may arrive, in seconds.
    pub lateness_secs: u32,
}

/// Findings and refusals of a run of records, handed to the collector.
#[derive(Debug, Default)]
pub struct ShardOutput {
    /// Signals raised, in event order.
    pub signals: Vec<Signal>,
    /// Records refused.
    pub rejects: Vec<DeadLetter>,
}

impl ShardOutput {
    /// Whether there is nothing to hand over.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.signals.is_empty() && self.rejects.is_empty()
    }
}

/// Counters a shard keeps while it works.
#[derive(Debug, Clone, Default)]
pub struct ShardStats {
    /// Events decoded and applied to a profile.
    pub events: u64,
    /// Evaluations skipped because the user was in cold start, by detector.
    pub cold_start_skips: BTreeMap<&'static str, u64>,
}

/// One shard's users and detectors.
pub struct Shard {
    settings: ShardSettings,
    profiles: FxHashMap<Box<str>, Box<Profile>>,
    stats: ShardStats,
    cold_start_skips: Vec<u64>,
}

impl Shard {
    /// A shard that owns no users yet.
    #[must_use]
    pub fn new(settings: ShardSettings) -> Self {
        let detectors = settings.detectors.ids().len();
        Self {
            settings,
            profiles: FxHashMap::default(),
            stats: ShardStats::default(),
            cold_start_skips: vec![0; detectors],
        }
    }

    /// Processes one record found at `line` of the input.
    pub fn process(&mut self, record: &[u8], line: u64, out: &mut ShardOutput) {
        let event = match decode(record, &self.settings.decode_limits) {
            Ok(event) => event,
            Err(reject) => return refuse(record, line, reject, out),
        };
        if let Err(reject) = self.apply(&event, out) {
            refuse(record, line, reject, out);
        }
    }

    fn apply(&mut self, event: &Event<'_>, out: &mut ShardOutput) -> Result<(), Reject> {
        let settings = &self.settings;
        let clock = user_clock(settings, &event.user_id);
        let local = clock.local(event.timestamp);
        let profile = profile_for(&mut self.profiles, &event.user_id, || {
            Profile::new(local, event.timestamp)
        });
        check_lateness(profile, event, settings.lateness_secs)?;
        profile.advance(local);

        for (index, detector) in settings.detectors.iter().enumerate() {
            if !detector.warmed_up(profile) {
                self.cold_start_skips[index] += 1;
                continue;
            }
            let cx = Context {
                event,
                local,
                profile,
            };
            if let Some(finding) = detector.inspect(&cx) {
                out.signals.push(signal(detector.id(), finding, event));
            }
        }

        profile.record(event, local, &settings.limits);
        self.stats.events += 1;
        Ok(())
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> ShardStats {
        let mut stats = self.stats.clone();
        for (id, skips) in self
            .settings
            .detectors
            .ids()
            .into_iter()
            .zip(&self.cold_start_skips)
        {
            stats.cold_start_skips.insert(id, *skips);
        }
        stats
    }

    /// Users this shard holds a profile for.
    #[must_use]
    pub fn users(&self) -> usize {
        self.profiles.len()
    }

    /// The profile of `user_id`, if this shard owns one.
    #[must_use]
    pub fn profile(&self, user_id: &str) -> Option<&Profile> {
        self.profiles.get(user_id).map(AsRef::as_ref)
    }

    /// Users still in cold start, by detector.
    #[must_use]
    pub fn cold_start_users(&self) -> BTreeMap<&'static str, u64> {
        self.settings
            .detectors
            .iter()
            .map(|d| {
                (
                    d.id(),
                    self.profiles.values().filter(|p| !d.warmed_up(p)).count() as u64,
                )
            })
            .collect()
    }

    /// Bytes of profile state held: the map's slots (one control byte and
    /// one entry each), the user ids and the boxed profiles.
    #[must_use]
    pub fn state_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Box<str>, Box<Profile>)>() + 1;
        let table = self.profiles.capacity() * slot;
        let owned: usize = self
            .profiles
            .iter()
            .map(|(user, p)| user.len() + p.state_bytes())
            .sum();
        table + owned
    }
}

fn refuse(record: &[u8], line: u64, reject: Reject, out: &mut ShardOutput) {
    out.rejects.push(DeadLetter::new(line, reject, record));
}

fn user_clock(settings: &ShardSettings, user_id: &str) -> LocalClock {
    if settings.user_clocks.is_empty() {
        return settings.clock;
    }
    settings
        .user_clocks
        .get(user_id)
        .copied()
        .unwrap_or(settings.clock)
}

/// The user's profile, created on first sight. Profiles are boxed so the
/// map's spare slots cost a pointer each, not a whole profile.
fn profile_for<'p>(
    profiles: &'p mut FxHashMap<Box<str>, Box<Profile>>,
    user_id: &str,
    new: impl FnOnce() -> Profile,
) -> &'p mut Profile {
    if !profiles.contains_key(user_id) {
        profiles.insert(user_id.into(), Box::new(new()));
    }
    profiles.get_mut(user_id).expect("profile was just ensured")
}

fn check_lateness(profile: &Profile, event: &Event<'_>, lateness_secs: u32) -> Result<(), Reject> {
    let oldest = profile.last_seen.0 - i64::from(lateness_secs) * SECOND_MS;
    if event.timestamp.0 >= oldest {
        return Ok(());
    }
    let message = format!(
        "is more than {lateness_secs} s older than the user's latest event ({})",
        profile.last_seen.to_rfc3339()
    );
    let value = event.timestamp.to_rfc3339();
    Err(Reject::field(
        RejectReason::LateEvent,
        "timestamp",
        Some(&value),
        message,
    ))
}

fn signal(detector: &'static str, finding: Finding, event: &Event<'_>) -> Signal {
    Signal {
        source: SignalSource::Detector,
        name: Cow::Borrowed(detector),
        severity: finding.severity,
        score: finding.score,
        at: event.timestamp,
        event_id: event.event_id.as_deref().map(str::to_owned),
        user_id: event.user_id.to_string(),
        ip: event.ip_address,
        api_key_id: event.api_key_id.as_deref().map(str::to_owned),
        incident_type: finding.incident_type,
        evidence: finding.evidence,
    }
}
