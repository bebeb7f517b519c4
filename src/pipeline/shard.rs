//! A shard worker: decodes the records routed to it, keeps the profiles of
//! the users it owns and runs the detectors. It shares nothing with other
//! shards, so the hot path takes no locks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::dead_letter::DeadLetter;
use crate::detect::{Context, DetectorSet, Finding};
use crate::event::signing::Verifier;
use crate::event::{DecodeLimits, Event, EventType, Reject, RejectReason, decode};
use crate::profile::{Profile, ProfileLimits};
use crate::rules::{RuleEvent, RuleFeed, RuleStage, StageKind};
use crate::signal::{Signal, SignalSource};
use crate::state::ShardState;
use crate::time::{LocalClock, LocalTime, SECOND_MS, Timestamp};

/// At the user limit, one eviction pass frees this share (1/n) of it.
const EVICTION_SHARE: usize = 16;

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
    /// Users this shard keeps a profile for at most; past it, the profiles
    /// idle longest are evicted.
    pub max_users: usize,
    /// Decoder bounds.
    pub decode_limits: DecodeLimits,
    /// Checks records' signatures, when signing is required.
    pub signing: Option<Arc<Verifier>>,
    /// How late (behind the user's latest event) an event may arrive, in seconds.
    pub lateness_secs: u32,
    /// The rules to run, when any are loaded.
    pub rules: Option<RuleFeed>,
    /// Makes each shard its tap, when something (the archive) wants every
    /// accepted event.
    pub taps: Option<TapFactory>,
    /// Whether each shard hands its state to the collector when the input
    /// ends, for a snapshot.
    pub snapshot: bool,
}

/// Receives every event a shard accepts (decoded, not a duplicate, not too
/// late), in the shard's order. Each shard owns its tap, so a tap needs no
/// locks; it is called on the hot path and must stay cheap.
pub trait EventTap: Send {
    /// One accepted event.
    fn event(&mut self, event: &Event<'_>);

    /// The shard finished a batch: a chance to hand on what is buffered
    /// when it has waited long enough.
    fn batch_done(&mut self) {}

    /// The shard is stopping: hand on everything buffered.
    fn finish(&mut self);
}

/// Makes one [`EventTap`] per shard.
pub type TapFactory = Arc<dyn Fn() -> Box<dyn EventTap> + Send + Sync>;

/// Findings and refusals of a run of records, handed to the collector.
#[derive(Debug, Default)]
pub struct ShardOutput {
    /// The shard that produced it.
    pub shard: usize,
    /// Every record of this shard up to this input line has been processed.
    pub through_line: u64,
    /// Signals raised, in event order.
    pub signals: Vec<Signal>,
    /// Records refused.
    pub rejects: Vec<DeadLetter>,
    /// Events the global rule stage must see, in input order.
    pub forwarded: Vec<Forwarded>,
    /// Events applied to profiles in this batch.
    pub processed: u64,
    /// Events dropped as redeliveries in this batch.
    pub duplicates: u64,
    /// Profiles evicted in this batch to stay within the user limit.
    pub evicted: u64,
    /// Failed authentication events in this batch.
    pub failed_authentications: u64,
    /// Users the shard holds after the batch.
    pub users: u64,
    /// When the batch left the router; `None` for an empty batch.
    pub sent_at: Option<std::time::Instant>,
    /// Users still in cold start, by detector; counted every few batches
    /// only, since counting visits every profile.
    pub cold_start_users: Option<BTreeMap<&'static str, u64>>,
    /// The latest event time applied in this batch.
    pub latest: Option<Timestamp>,
    /// A copy of the shard's whole state, for a snapshot.
    pub state: Option<Box<ShardState>>,
    /// Whether this is the shard's last output: its input has ended.
    pub ended: bool,
}

/// An event matching a detection rule that a cross-user correlation builds
/// on, passed on to the global rule stage.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Forwarded {
    /// Its input line, which orders the global stage.
    pub line: u64,
    /// The raw record, decoded again by the global stage.
    pub record: Box<[u8]>,
    /// The event's time in its user's calendar.
    pub local: LocalTime,
}

/// Counters a shard keeps while it works.
#[derive(Debug, Clone, Default)]
pub struct ShardStats {
    /// Events decoded and applied to a profile.
    pub events: u64,
    /// Events dropped because their `event_id` was seen recently.
    pub duplicates: u64,
    /// Authentication events that failed.
    pub failed_authentications: u64,
    /// Profiles evicted to stay within the user limit.
    pub evicted: u64,
    /// Evaluations skipped because the user was in cold start, by detector.
    pub cold_start_skips: BTreeMap<&'static str, u64>,
}

/// One shard's users and detectors.
pub struct Shard {
    settings: ShardSettings,
    rules: Option<RuleStage>,
    profiles: FxHashMap<Box<str>, Box<Profile>>,
    stats: ShardStats,
    cold_start_skips: Vec<u64>,
    tap: Option<Box<dyn EventTap>>,
    /// The wall clock (Unix seconds) signatures are checked against, read
    /// once per batch.
    now_secs: i64,
}

impl Shard {
    /// A shard that owns no users yet.
    #[must_use]
    pub fn new(settings: ShardSettings) -> Self {
        let detectors = settings.detectors.ids().len();
        let rules = settings
            .rules
            .as_ref()
            .map(|feed| RuleStage::new(StageKind::Shard, feed));
        let tap = settings.taps.as_ref().map(|make| make());
        Self {
            rules,
            tap,
            settings,
            profiles: FxHashMap::default(),
            stats: ShardStats::default(),
            cold_start_skips: vec![0; detectors],
            now_secs: 0,
        }
    }

    /// Gets ready for the next batch: takes a newly published rule set, if
    /// there is one, and reads the clock signatures are checked against.
    pub fn begin_batch(&mut self) {
        if let (Some(stage), Some(feed)) = (self.rules.as_mut(), self.settings.rules.as_ref()) {
            stage.refresh(feed);
        }
        if self.settings.signing.is_some() {
            self.now_secs = chrono::Utc::now().timestamp();
        }
    }

    /// Processes one record found at `line` of the input.
    pub fn process(&mut self, record: &[u8], line: u64, out: &mut ShardOutput) {
        let payload = match &self.settings.signing {
            Some(verifier) => match verifier.open(record, self.now_secs) {
                Ok(payload) => payload,
                Err(reject) => return refuse(record, line, reject, out),
            },
            None => record,
        };
        let event = match decode(payload, &self.settings.decode_limits) {
            Ok(event) => event,
            Err(reject) => return refuse(record, line, reject, out),
        };
        match self.apply(&event, out) {
            Ok(Some(local)) => {
                out.latest = out.latest.max(Some(event.timestamp));
                if matches!(event.event_type, EventType::Authentication) && !event.success {
                    self.stats.failed_authentications += 1;
                    out.failed_authentications += 1;
                }
                if let Some(tap) = self.tap.as_mut() {
                    tap.event(&event);
                }
                self.run_rules(&event, local, payload, line, out);
            }
            Ok(None) => {
                self.stats.duplicates += 1;
                out.duplicates += 1;
            }
            Err(reject) => refuse(record, line, reject, out),
        }
    }

    fn run_rules(
        &mut self,
        event: &Event<'_>,
        local: LocalTime,
        record: &[u8],
        line: u64,
        out: &mut ShardOutput,
    ) {
        let Some(stage) = self.rules.as_mut() else {
            return;
        };
        let view = RuleEvent::new(event, local);
        if stage.inspect(&view, &mut out.signals) {
            out.forwarded.push(Forwarded {
                line,
                record: record.into(),
                local,
            });
        }
    }

    /// Before a profile is created for a new user at the shard's limit,
    /// evicts the profiles idle longest (by event time). A sixteenth of the
    /// limit goes at once, so a flood of new user ids costs one scan per
    /// many evictions rather than one per new user.
    fn make_room_for(&mut self, user_id: &str, out: &mut ShardOutput) {
        let limit = self.settings.max_users;
        if self.profiles.len() < limit || self.profiles.contains_key(user_id) {
            return;
        }
        let count = (limit / EVICTION_SHARE).clamp(1, self.profiles.len());
        let mut by_idleness: Vec<(Timestamp, &Box<str>)> = self
            .profiles
            .iter()
            .map(|(user, profile)| (profile.last_seen, user))
            .collect();
        by_idleness.select_nth_unstable_by_key(count - 1, |(last_seen, _)| *last_seen);
        let evicted: Vec<Box<str>> = by_idleness[..count]
            .iter()
            .map(|(_, user)| (*user).clone())
            .collect();
        for user in &evicted {
            self.profiles.remove(user);
        }
        self.stats.evicted += evicted.len() as u64;
        out.evicted += evicted.len() as u64;
        tracing::debug!(evicted = evicted.len(), limit, "Idle profiles evicted");
    }

    /// Applies the event to its user's profile and runs the detectors;
    /// `None` when the event's id is among the user's recent ones (the
    /// source delivered it again, and it was already counted).
    fn apply(
        &mut self,
        event: &Event<'_>,
        out: &mut ShardOutput,
    ) -> Result<Option<LocalTime>, Reject> {
        self.make_room_for(&event.user_id, out);
        let settings = &self.settings;
        let clock = user_clock(settings, &event.user_id);
        let local = clock.local(event.timestamp);
        let profile = profile_for(&mut self.profiles, &event.user_id, || {
            Profile::new(local, event.timestamp)
        });
        if event
            .event_id
            .as_deref()
            .is_some_and(|id| profile.recent_ids.contains(id))
        {
            return Ok(None);
        }
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
        out.processed += 1;
        Ok(Some(local))
    }

    /// Ends a batch for the tap.
    pub fn batch_done(&mut self) {
        if let Some(tap) = self.tap.as_mut() {
            tap.batch_done();
        }
    }

    /// Lets the tap hand on what it buffers; called once the input ends.
    pub fn finish_tap(&mut self) {
        if let Some(tap) = self.tap.as_mut() {
            tap.finish();
        }
    }

    /// A copy of the shard's users and windows, for a snapshot.
    #[must_use]
    pub fn save(&self) -> ShardState {
        let mut profiles: Vec<(Box<str>, Profile)> = self
            .profiles
            .iter()
            .map(|(user, profile)| (user.clone(), Profile::clone(profile)))
            .collect();
        profiles.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        ShardState {
            profiles,
            rules: self.rules.as_ref().map(RuleStage::save),
        }
    }

    /// Takes over saved users and windows (those of users this shard owns).
    pub fn restore(&mut self, state: ShardState) {
        self.profiles.reserve(state.profiles.len());
        for (user, profile) in state.profiles {
            self.profiles.insert(user, Box::new(profile));
        }
        if let (Some(stage), Some(saved)) = (self.rules.as_mut(), state.rules) {
            stage.restore(saved);
        }
    }

    /// The settings the shard runs with.
    #[must_use]
    pub fn settings(&self) -> &ShardSettings {
        &self.settings
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
        group: None,
    }
}

#[cfg(test)]
mod tests;
