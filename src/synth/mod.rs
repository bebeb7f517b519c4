//! Synthetic traffic for demos, tests and benchmarks: realistic API-gateway
//! security events, optionally with labelled attacks.
//!
//! The output is a pure function of [`GenConfig`]: the same configuration
//! gives byte-identical JSON lines, sorted by timestamp. A user's events
//! depend only on the seed and the user's index, not on how many users are
//! generated. Users are simulated one local day at a time; events wait as
//! compact records only until nothing still to be generated can sort before
//! them, so memory follows about one day of events, not the whole run.
//!
//! Benign personas are calibrated so that a sound detector stays quiet on
//! them (see `traffic`), and their console activity so that sound login
//! rules stay quiet too (see `traffic::console`). Each attack comes with an
//! [`AttackLabel`] naming the detectors or rules that must fire (see
//! `attacks` and `campaigns`).

mod attacks;
mod campaigns;
mod population;
mod record;
#[cfg(test)]
mod tests;
mod traffic;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use self::attacks::LabelDraft;
use self::population::{MAX_EAST_OFFSET_MS, UserState, mix64};
use self::record::{DetailRef, Record, TextSource, USER_AGENTS};
use self::traffic::Candidate;

const DAY_MS: i64 = 86_400_000;
/// Attacks come after a week of baseline, on a day of their own.
const MIN_ATTACK_DAYS: u32 = 8;
/// User ids are 6 hex digits.
const MAX_USERS: u32 = 1 << 24;
/// With attacks, ids past the population stand for accounts that do not
/// exist, so the population leaves half of the ids free.
const MAX_ATTACK_USERS: u32 = MAX_USERS / 2;
/// Event ids hold 40 bits of milliseconds from the start (about 34 years).
const MAX_DAYS: u32 = 3_650;
/// Years whose timestamps keep the four-digit RFC 3339 form.
const YEARS: RangeInclusive<i32> = 1_971..=9_000;
/// Output is handed to the writer in chunks of about this size.
const FLUSH_BYTES: usize = 256 * 1024;
const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 2) {
    Some(date) => date,
    None => panic!("2026-11-02 is a valid date"),
};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of users; each gets a persona of its own.
    pub users: u32,
    /// Number of consecutive days simulated for every user.
    pub days: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Whether to inject labelled attacks (needs at least 8 days).
    pub attacks: bool,
    /// The first simulated day, a date in each user's own time zone.
    pub start: NaiveDate,
}

impl GenConfig {
    /// Benign traffic only, starting on Monday 2026-11-02.
    #[must_use]
    pub fn new(users: u32, days: u32, seed: u64) -> Self {
        GenConfig {
            users,
            days,
            seed,
            attacks: false,
            start: DEFAULT_START,
        }
    }

    fn validate(&self) -> Result<(), GenError> {
        let max_users = if self.attacks {
            MAX_ATTACK_USERS
        } else {
            MAX_USERS
        };
        if self.users > max_users {
            return Err(GenError::TooManyUsers {
                users: self.users,
                max: max_users,
            });
        }
        if self.days > MAX_DAYS {
            return Err(GenError::TooManyDays {
                days: self.days,
                max: MAX_DAYS,
            });
        }
        if !YEARS.contains(&self.start.year()) {
            return Err(GenError::StartOutOfRange {
                start: self.start,
                min_year: *YEARS.start(),
                max_year: *YEARS.end(),
            });
        }
        if self.attacks && self.days < MIN_ATTACK_DAYS {
            return Err(GenError::TooFewDays {
                days: self.days,
                required: MIN_ATTACK_DAYS,
            });
        }
        Ok(())
    }
}

/// The kinds of attack the generator injects.
///
/// The first five target one victim's keys and are caught by built-in
/// detectors; each such victim suffers one. The last three are login attacks
/// that rule files catch: a brute force has one victim of its own, while a
/// credential stuffing or a password spraying tries many accounts at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// A stolen agent key used from a network the victim never used, with a
    /// foreign client, for 1–3 hours and at least 6 typical days of tokens.
    KeyTheft,
    /// The victim's own agent looping: 8–15 typical days of tokens in 2–4
    /// hours, from a known address and key.
    RunawayUsage,
    /// 30–80 calls between 02:00 and 05:00 local from a known address and
    /// key, on an otherwise normal day of a day-shift user.
    OffHours,
    /// 20–40 calls a second for 30–90 seconds on one agent key.
    RateAbuse,
    /// One to three events carrying a full secret key in a prompt, a logged
    /// header or the user agent.
    LeakedKey,
    /// 15–40 wrong passwords for one account within 2–10 minutes from one
    /// address the victim never used; sometimes the last one is right.
    BruteForce,
    /// One address tries 25–60 accounts (mostly existing, some ids no
    /// account has) once or twice each within 10 minutes; nearly all fail.
    CredentialStuffing,
    /// One address tries one wrong password on each of 12–30 existing
    /// accounts, spread evenly over 1–3 hours.
    PasswordSpraying,
}

impl AttackKind {
    /// Every kind, in declaration order.
    pub const ALL: [AttackKind; 8] = [
        AttackKind::KeyTheft,
        AttackKind::RunawayUsage,
        AttackKind::OffHours,
        AttackKind::RateAbuse,
        AttackKind::LeakedKey,
        AttackKind::BruteForce,
        AttackKind::CredentialStuffing,
        AttackKind::PasswordSpraying,
    ];

    /// The kinds built-in detectors catch, with no rule files loaded.
    pub const DETECTOR_KINDS: [AttackKind; 5] = [
        AttackKind::KeyTheft,
        AttackKind::RunawayUsage,
        AttackKind::OffHours,
        AttackKind::RateAbuse,
        AttackKind::LeakedKey,
    ];

    /// The kinds only rule files catch.
    pub const RULE_KINDS: [AttackKind; 3] = [
        AttackKind::BruteForce,
        AttackKind::CredentialStuffing,
        AttackKind::PasswordSpraying,
    ];

    /// Whether catching this kind takes rule files: its expected signals are
    /// rule ids, not detector ids.
    #[must_use]
    pub fn needs_rules(self) -> bool {
        Self::RULE_KINDS.contains(&self)
    }

    /// The serialised name, as in labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AttackKind::KeyTheft => "key_theft",
            AttackKind::RunawayUsage => "runaway_usage",
            AttackKind::OffHours => "off_hours",
            AttackKind::RateAbuse => "rate_abuse",
            AttackKind::LeakedKey => "leaked_key",
            AttackKind::BruteForce => "brute_force",
            AttackKind::CredentialStuffing => "credential_stuffing",
            AttackKind::PasswordSpraying => "password_spraying",
        }
    }

    /// Ids of the detectors or rules an attack of this kind must trigger.
    #[must_use]
    pub fn expected_signals(self) -> &'static [&'static str] {
        match self {
            AttackKind::KeyTheft => &["novel_ip", "usage_spike"],
            AttackKind::RunawayUsage => &["usage_spike"],
            AttackKind::OffHours => &["off_hours"],
            AttackKind::RateAbuse => &["rate_limit"],
            AttackKind::LeakedKey => &["leaked_secret"],
            AttackKind::BruteForce => &["vigil-brute-force-login"],
            AttackKind::CredentialStuffing => &["vigil-credential-stuffing"],
            AttackKind::PasswordSpraying => &["vigil-password-spraying"],
        }
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ground truth for one injected attack: what a detection pipeline should
/// find, for whom, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackLabel {
    /// What happened.
    pub attack: AttackKind,
    /// The victim's `user_id`; for an attack on many accounts, the first
    /// account tried that exists.
    pub user_id: String,
    /// The key the attack used or leaked.
    pub api_key_id: Option<String>,
    /// Where the attack's events came from: the attacker's address for a key
    /// theft and every login attack, the victim's own otherwise.
    pub ip: Option<String>,
    /// Every `user_id` a login attack tries to sign in to, in the order
    /// tried, including ids no account has; empty (and left out of the JSON)
    /// for attacks on a victim's keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Timestamp of the attack's first event.
    pub start: DateTime<Utc>,
    /// Timestamp of the attack's last event.
    pub end: DateTime<Utc>,
    /// Ids of the detectors that must fire, e.g. `["novel_ip","usage_spike"]`.
    pub expected_signals: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSummary {
    /// Lines written.
    pub events: u64,
    /// Users times days simulated.
    pub user_days: u64,
    /// One label per injected attack, ordered by start time.
    pub labels: Vec<AttackLabel>,
}

/// Why [`generate`] failed. `Io` comes from the output sink; every other
/// variant is a configuration the caller must change.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// Writing to the output failed (closed pipe, full disk).
    #[error("cannot write generated events: {0}")]
    Io(#[from] io::Error),
    /// Attacks need a week of baseline before them.
    #[error("attacks need days >= {required} (a week of baseline first), got days = {days}")]
    TooFewDays {
        /// The configured `days`.
        days: u32,
        /// The least `days` that allows attacks.
        required: u32,
    },
    /// Each attack kind needs victims of its own, and campaigns on many
    /// accounts need accounts outside those victims.
    #[error(
        "attacks need users >= {required} (victims for every kind and accounts for \
         login campaigns), got users = {users}"
    )]
    TooFewUsers {
        /// The configured `users`.
        users: u32,
        /// The least `users` that allows attacks.
        required: u32,
    },
    /// Every remaining candidate for this kind is ineligible (off-hours
    /// attacks need day-shift users).
    #[error("no eligible {kind} victim is left among users = {users}; use more users")]
    NoEligibleVictim {
        /// The kind that found no victim.
        kind: AttackKind,
        /// The configured `users`.
        users: u32,
    },
    /// More users than user ids (with attacks, half of the ids are kept
    /// for accounts that do not exist).
    #[error("users = {users} exceeds the generator's limit of {max}")]
    TooManyUsers {
        /// The configured `users`.
        users: u32,
        /// The largest supported `users`.
        max: u32,
    },
    /// More days than event ids can tell apart.
    #[error("days = {days} exceeds the generator's limit of {max}")]
    TooManyDays {
        /// The configured `days`.
        days: u32,
        /// The largest supported `days`.
        max: u32,
    },
    /// A start date whose timestamps would not have a four-digit year.
    #[error("start = {start} is outside the supported years {min_year}..={max_year}")]
    StartOutOfRange {
        /// The configured `start`.
        start: NaiveDate,
        /// The first supported year.
        min_year: i32,
        /// The last supported year.
        max_year: i32,
    },
}

/// Generates the events of `cfg` and writes them to `out` as JSON lines
/// sorted by timestamp (ties broken by user, deterministically).
///
/// `out` receives large chunks; wrap files and pipes in a `BufWriter` all the
/// same. The writer is flushed before returning.
///
/// # Errors
///
/// A [`GenError`] other than `Io` when the configuration is unusable (checked
/// before anything is written); `Io` when writing fails.
pub fn generate(cfg: &GenConfig, out: &mut dyn Write) -> Result<GenSummary, GenError> {
    cfg.validate()?;
    let clock = Clock::new(cfg.start);
    let mut users: Vec<UserState> = (0..cfg.users)
        .map(|i| UserState::new(cfg.seed, i))
        .collect();
    let mut drafts = if cfg.attacks {
        attacks::assign(cfg, &mut users)?
    } else {
        Vec::new()
    };

    let mut sink = JsonLines::new(out, cfg.seed, clock);
    let mut pending = Vec::new();
    let mut day_events = Vec::new();
    for day in 0..cfg.days {
        for user in &mut users {
            let mut day = UserDay {
                clock,
                seed: cfg.seed,
                day,
                labels: &mut drafts,
                day_events: &mut day_events,
                pending: &mut pending,
            };
            day.simulate(user);
        }
        // Later local days start at 00:00 local at the earliest, which is
        // never before this instant in any persona's time zone.
        let horizon = clock.local_midnight_ms(day + 1, 0) - MAX_EAST_OFFSET_MS;
        sink.write_before(&mut pending, Some(horizon), &users)?;
    }
    sink.write_before(&mut pending, None, &users)?;
    let events = sink.finish()?;

    let mut labels: Vec<AttackLabel> = drafts
        .into_iter()
        .filter_map(|draft| draft.finish(&users))
        .collect();
    labels.sort_by(|a, b| {
        (a.start, &a.user_id, a.attack.as_str()).cmp(&(b.start, &b.user_id, b.attack.as_str()))
    });
    Ok(GenSummary {
        events,
        user_days: u64::from(cfg.users) * u64::from(cfg.days),
        labels,
    })
}

/// Every generated user's time zone by `user_id`, as a fixed UTC offset such
/// as `-08:00`.
///
/// Personas keep one offset all run (no daylight saving) and live their
/// whole day in it: working hours, quiet nights, administrators' business
/// hours. Passing this map as `profile.user_time_zones` lets local-time
/// detectors and rules see each user's own calendar instead of UTC's.
#[must_use]
pub fn user_time_zones(cfg: &GenConfig) -> BTreeMap<String, String> {
    (0..cfg.users.min(MAX_USERS))
        .map(|i| {
            let user = UserState::new(cfg.seed, i);
            let offset = user.persona.offset_min;
            let sign = if offset < 0 { '-' } else { '+' };
            let (hours, minutes) = (offset.unsigned_abs() / 60, offset.unsigned_abs() % 60);
            (user.user_id(), format!("{sign}{hours:02}:{minutes:02}"))
        })
        .collect()
}

/// One local day of the run, simulated user by user into `pending`.
struct UserDay<'a> {
    clock: Clock,
    seed: u64,
    day: u32,
    /// The run's label drafts, widened by each attack event.
    labels: &'a mut [LabelDraft],
    /// Scratch space for one user's day.
    day_events: &'a mut Vec<Candidate>,
    pending: &'a mut Vec<Record>,
}

impl UserDay<'_> {
    /// Generates the day of `user`: benign traffic if the account exists,
    /// attempts made in the user's name, and the user's own attack if it
    /// falls on this day.
    fn simulate(&mut self, user: &mut UserState) {
        self.day_events.clear();
        let attack = user.attack.filter(|plan| plan.day == self.day);
        if user.registered {
            let mut rng = user.day_rng(self.seed, self.day);
            let stable_addresses = attack.is_some();
            let (clock, seed, day) = (self.clock, self.seed, self.day);
            traffic::plan_day(
                clock,
                seed,
                user,
                day,
                stable_addresses,
                &mut rng,
                self.day_events,
            );
        }
        campaigns::inject_due(self.clock, user, self.day, self.day_events);
        if let Some(plan) = attack {
            let found = attacks::inject(self.clock, self.seed, user, plan, self.day_events);
            let label = &mut self.labels[plan.label];
            label.api_key_id = found.api_key_id;
            label.ip = Some(found.ip);
        }
        let labels = &mut *self.labels;
        traffic::settle(
            self.clock,
            user,
            self.day_events,
            self.pending,
            |label, ts| {
                labels[label].widen(ts);
            },
        );
    }
}

/// Calendar arithmetic of a run, in UTC milliseconds.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// 00:00 UTC of the start date.
    start_ms: i64,
    /// Weekday of the start date, Monday = 0.
    start_weekday: u32,
}

impl Clock {
    fn new(start: NaiveDate) -> Clock {
        Clock {
            start_ms: start.and_time(NaiveTime::MIN).and_utc().timestamp_millis(),
            start_weekday: start.weekday().num_days_from_monday(),
        }
    }

    /// Local midnight starting day `day` in a zone `offset_min` east of UTC.
    fn local_midnight_ms(self, day: u32, offset_min: i16) -> i64 {
        self.start_ms + i64::from(day) * DAY_MS - i64::from(offset_min) * 60_000
    }

    /// The UTC day (counted from the start date) holding `ts_ms`.
    fn utc_day(self, ts_ms: i64) -> i32 {
        i32::try_from((ts_ms - self.start_ms).div_euclid(DAY_MS)).unwrap_or(i32::MAX)
    }

    /// The local calendar day (counted from the start date) holding `ts_ms`
    /// in a zone `offset_min` east of UTC.
    fn local_day(self, ts_ms: i64, offset_min: i16) -> i32 {
        self.utc_day(ts_ms + i64::from(offset_min) * 60_000)
    }

    /// 00:00 UTC of UTC day `day`.
    fn utc_day_start_ms(self, day: i32) -> i64 {
        self.start_ms + i64::from(day) * DAY_MS
    }

    /// Whether local day `day` is a Saturday or a Sunday.
    fn is_weekend(self, day: u32) -> bool {
        (self.start_weekday + day % 7) % 7 >= 5
    }
}

/// The JSON-lines writer: sorts waiting records and serialises those that
/// are due, without building a JSON tree per event.
struct JsonLines<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    id_key: u64,
    id_base_ms: i64,
    details: Vec<Option<String>>,
    /// The UTC day whose `YYYY-MM-DDT` prefix is cached.
    date: (i64, [u8; 11]),
    written: u64,
    /// Timestamp of the last line written.
    last_ms: i64,
}

impl<'w> JsonLines<'w> {
    fn new(out: &'w mut dyn Write, seed: u64, clock: Clock) -> Self {
        JsonLines {
            out,
            buf: Vec::with_capacity(FLUSH_BYTES + 4096),
            id_key: mix64(seed ^ 0x6576_656e_7473),
            // Two days before the start: below the earliest possible event.
            id_base_ms: clock.start_ms - 2 * DAY_MS,
            details: DetailRef::shared_table(),
            date: (i64::MIN, [0; 11]),
            written: 0,
            last_ms: i64::MIN,
        }
    }

    /// Sorts `pending` and writes every record before `horizon` (all of them
    /// without one), removing them.
    fn write_before(
        &mut self,
        pending: &mut Vec<Record>,
        horizon: Option<i64>,
        users: &[UserState],
    ) -> io::Result<()> {
        pending.sort_unstable_by_key(|r| (r.ts_ms, r.user));
        debug_assert!(
            pending.first().is_none_or(|r| r.ts_ms >= self.last_ms),
            "an event was generated after later events were written"
        );
        let due = horizon.map_or(pending.len(), |h| pending.partition_point(|r| r.ts_ms < h));
        for rec in &pending[..due] {
            self.line(rec, &users[rec.user as usize]);
            if self.buf.len() >= FLUSH_BYTES {
                self.out.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        self.written += due as u64;
        if let Some(last) = pending[..due].last() {
            self.last_ms = last.ts_ms;
        }
        pending.drain(..due);
        Ok(())
    }

    fn finish(self) -> io::Result<u64> {
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.written)
    }

    /// `evt_` + 16 hex digits: a keyed bijection of (user, millisecond), and
    /// a user's events have distinct milliseconds, so ids never repeat.
    fn event_id(&self, rec: &Record) -> u64 {
        let offset = u64::try_from(rec.ts_ms - self.id_base_ms).unwrap_or(0) & ((1 << 40) - 1);
        mix64(((u64::from(rec.user) << 40) | offset) ^ self.id_key)
    }

    fn line(&mut self, rec: &Record, user: &UserState) {
        let event_id = self.event_id(rec);
        self.buf.extend_from_slice(b"{\"timestamp\":\"");
        self.timestamp(rec.ts_ms);
        let buf = &mut self.buf;
        buf.extend_from_slice(b"\",\"event_type\":\"");
        buf.extend_from_slice(rec.call.event_type().as_bytes());
        buf.extend_from_slice(b"\",\"user_id\":\"usr_");
        if rec.detail.is_mistyped_user() {
            // One digit short: an id no account has.
            push_hex(buf, u64::from(user.public_id >> 4), 5);
        } else {
            push_hex(buf, u64::from(user.public_id), 6);
        }
        buf.extend_from_slice(b"\",\"ip_address\":\"");
        push_ip(buf, user.address(rec.ip));
        buf.extend_from_slice(b"\",\"event_id\":\"evt_");
        push_hex(buf, event_id, 16);
        buf.push(b'"');
        if let Some(slot) = rec.key.slot() {
            let key = user.key(slot);
            buf.extend_from_slice(b",\"api_key_id\":\"");
            buf.extend_from_slice(key.prefix().as_bytes());
            push_hex(buf, u64::from(key.number), 8);
            buf.push(b'"');
            if rec.key.shows_type() {
                buf.extend_from_slice(b",\"key_type\":\"");
                buf.extend_from_slice(key.key_type().as_bytes());
                buf.push(b'"');
            }
        }
        buf.extend_from_slice(b",\"endpoint\":\"");
        buf.extend_from_slice(rec.call.endpoint().as_bytes());
        buf.extend_from_slice(if rec.status.success() {
            b"\",\"success\":true,\"status_code\":"
        } else {
            b"\",\"success\":false,\"status_code\":"
        });
        push_u64(buf, u64::from(rec.status.code()));
        if rec.call.is_api() {
            buf.extend_from_slice(b",\"tokens_used\":");
            push_u64(buf, u64::from(rec.tokens));
        }
        buf.extend_from_slice(b",\"response_time_ms\":");
        push_u64(buf, u64::from(rec.latency_ms));
        buf.extend_from_slice(b",\"user_agent\":");
        match rec.agent.source() {
            TextSource::Shared(i) => push_json_str(buf, USER_AGENTS[i]),
            TextSource::Extra(i) => push_json_str(buf, &user.extras[i]),
        }
        if let Some(auth) = rec.call.auth_event_type() {
            buf.extend_from_slice(b",\"auth_event_type\":\"");
            buf.extend_from_slice(auth.as_bytes());
            buf.push(b'"');
        }
        let details = match rec.detail.source() {
            None => None,
            Some(TextSource::Shared(i)) => self.details[i].as_deref(),
            Some(TextSource::Extra(i)) => Some(&*user.extras[i]),
        };
        if let Some(json) = details {
            buf.extend_from_slice(b",\"details\":");
            buf.extend_from_slice(json.as_bytes());
        }
        buf.extend_from_slice(b"}\n");
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-02T09:14:05.123Z`.
    fn timestamp(&mut self, ts_ms: i64) {
        let day = ts_ms.div_euclid(DAY_MS);
        if self.date.0 != day {
            self.date = (day, date_prefix(day));
        }
        self.buf.extend_from_slice(&self.date.1);
        let ms = ts_ms.rem_euclid(DAY_MS);
        let buf = &mut self.buf;
        push_padded(buf, ms / 3_600_000, 2);
        buf.push(b':');
        push_padded(buf, ms / 60_000 % 60, 2);
        buf.push(b':');
        push_padded(buf, ms / 1_000 % 60, 2);
        buf.push(b'.');
        push_padded(buf, ms % 1_000, 3);
        buf.push(b'Z');
    }
}

/// `YYYY-MM-DDT` of a UTC day counted from the epoch.
fn date_prefix(day: i64) -> [u8; 11] {
    let date = DateTime::<Utc>::from_timestamp_millis(day * DAY_MS)
        .unwrap_or_default()
        .date_naive();
    let mut text = [0; 11];
    let mut v = Vec::with_capacity(11);
    push_padded(&mut v, i64::from(date.year()), 4);
    v.push(b'-');
    push_padded(&mut v, i64::from(date.month()), 2);
    v.push(b'-');
    push_padded(&mut v, i64::from(date.day()), 2);
    v.push(b'T');
    text.copy_from_slice(&v);
    text
}

fn push_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                push_u64(buf, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => buf.extend_from_slice(v6.to_string().as_bytes()),
    }
}

/// The lowest `digits` hex digits of `value`, lower case.
fn push_hex(buf: &mut Vec<u8>, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        buf.push(HEX[((value >> (4 * i)) & 0xf) as usize]);
    }
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "a decimal digit fits in a byte"
)]
fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// A non-negative `value` in exactly `width` digits, zero-padded.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a decimal digit fits in a byte"
)]
fn push_padded(buf: &mut Vec<u8>, value: i64, width: u32) {
    for i in (0..width).rev() {
        buf.push(b'0' + (value / 10i64.pow(i) % 10) as u8);
    }
}

/// `text` as a JSON string, quotes included.
fn push_json_str(buf: &mut Vec<u8>, text: &str) {
    buf.push(b'"');
    for &byte in text.as_bytes() {
        match byte {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            0..0x20 => {
                buf.extend_from_slice(b"\\u00");
                push_hex(buf, u64::from(byte), 2);
            }
            _ => buf.push(byte),
        }
    }
    buf.push(b'"');
}
