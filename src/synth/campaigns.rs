//! Campaigns: one attacker address trying to sign in to many accounts.
//!
//! - Credential stuffing: 25–60 accounts from a leaked list, mostly ids of
//!   existing users and some ids no account has, one or two tries each,
//!   within at most ten minutes; nearly all fail, a couple may succeed.
//! - Password spraying: 12–30 existing accounts, one wrong password each,
//!   spread evenly over one to three hours, so no ten minutes hold many.
//!
//! A campaign is planned in full before any traffic is generated: each
//! attempt waits in its target's `incoming` list until the target's local
//! day holding it is simulated. Every attempt lies inside a local day that
//! every time zone simulates, after the first week of baseline, so none is
//! lost and output stays sorted. Each campaign has an attacker address of
//! its own, in a range no benign home uses, so it is new to every target.
//! There are one per thousand users of each kind, and at least one.

use std::net::{IpAddr, Ipv4Addr};

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::attacks::{ATTACKER_FIRST_OCTETS, LabelDraft};
use super::population::{MAX_EAST_OFFSET_MS, MAX_WEST_OFFSET_MS, UserState};
use super::record::{
    AgentRef, BROWSER_AGENTS, Call, DetailRef, FailureReason, GUESSING_AGENTS, KeyRef, Record,
    Status,
};
use super::traffic::{Candidate, Origin, floor_i64, i64_to_f64, latency_ms};
use super::{AttackKind, Clock, GenConfig};

/// The fewest accounts outside the single-victim kinds' victims that the
/// campaigns need: credential stuffing's 25 accounts, a majority of which
/// exist.
pub(super) const MIN_TARGETS: u32 = 13;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Accounts a credential stuffing tries.
const STUFFING_ACCOUNTS: std::ops::RangeInclusive<u32> = 25..=60;
/// The fewest ids no account has in a stuffing list.
const STUFFING_MIN_UNKNOWN: u32 = 2;
/// Share of stuffed accounts tried a second time (another password from the
/// list).
const STUFFING_RETRY_SHARE: f64 = 0.3;
/// The most accounts whose leaked password still works.
const STUFFING_MAX_SUCCESSES: usize = 2;
/// First to last attempt of a stuffing run.
const STUFFING_SPAN_MS: std::ops::RangeInclusive<i64> = 3 * MINUTE_MS..=9 * MINUTE_MS;
/// Accounts a password spraying tries.
const SPRAYING_ACCOUNTS: std::ops::RangeInclusive<u32> = 12..=30;
/// First to last attempt of a spraying run: 1–3 hours, a second inside each
/// end so that moving an event by a millisecond keeps the promise.
const SPRAYING_SPAN_MS: std::ops::RangeInclusive<i64> = HOUR_MS + 1_000..=3 * HOUR_MS - 1_000;

/// A login attempt an attacker makes in a target's name, waiting for the
/// target's day to be generated.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    /// When it is made.
    pub(super) ts_ms: i64,
    /// Index of the campaign's label.
    label: usize,
    /// The attacker's address.
    ip: Ipv4Addr,
    /// `None` when the password was right.
    failure: Option<FailureReason>,
    agent: AgentRef,
    latency_ms: u16,
}

/// Plans one credential stuffing and one password spraying per thousand
/// users (at least one of each) against accounts of `pool`, adding ids no
/// account has to `users` as needed, and their label drafts to `labels`.
pub(super) fn plan(
    cfg: &GenConfig,
    first_day: u32,
    pool: &[u32],
    rng: &mut ChaCha8Rng,
    users: &mut Vec<UserState>,
    labels: &mut Vec<LabelDraft>,
) {
    let clock = Clock::new(cfg.start);
    // The stretch of UTC time inside local days `first_day..cfg.days` of
    // every time zone.
    let window = (
        clock.local_midnight_ms(first_day, 0) + MAX_WEST_OFFSET_MS,
        clock.local_midnight_ms(cfg.days, 0) - MAX_EAST_OFFSET_MS,
    );
    let count = (cfg.users.saturating_add(500) / 1_000).max(1);
    let mut planner = Planner {
        seed: cfg.seed,
        window,
        pool,
        rng,
        users,
        taken: Vec::new(),
    };
    for _ in 0..count {
        let label = planner.credential_stuffing(labels.len());
        labels.push(label);
        let label = planner.password_spraying(labels.len());
        labels.push(label);
    }
    for user in planner.users.iter_mut() {
        user.incoming.sort_by_key(|a| a.ts_ms);
    }
}

/// Adds the attempts in `user`'s name that fall before the end of local day
/// `day` to `day_events`.
pub(super) fn inject_due(
    clock: Clock,
    user: &mut UserState,
    day: u32,
    day_events: &mut Vec<Candidate>,
) {
    let day_end = clock.local_midnight_ms(day + 1, user.persona.offset_min);
    let due = user.incoming.partition_point(|a| a.ts_ms < day_end);
    if due == 0 {
        return;
    }
    let attempts: Vec<Attempt> = user.incoming.drain(..due).collect();
    for attempt in attempts {
        // A full address table drops the attempt; see `attacker_slot`.
        let Some(ip) = user.attacker_slot(IpAddr::V4(attempt.ip)) else {
            continue;
        };
        let (status, detail) = match attempt.failure {
            None => (Status::Ok, DetailRef::NONE),
            Some(reason) => (reason.status(), DetailRef::failure(reason)),
        };
        let rec = Record {
            ts_ms: attempt.ts_ms,
            user: user.index,
            tokens: 0,
            latency_ms: attempt.latency_ms,
            call: Call::Login,
            status,
            ip,
            key: KeyRef::NONE,
            agent: attempt.agent,
            detail,
        };
        day_events.push(Candidate {
            rec,
            origin: Origin::Exempt(attempt.label),
        });
    }
}

/// The `i`-th of `n` times spread evenly over `[start, end]`: the first at
/// `start`, the last at `end`, the others jittered by up to a quarter of
/// the gap, so times strictly increase.
pub(super) fn evenly(start: i64, end: i64, n: u32, i: u32, rng: &mut ChaCha8Rng) -> i64 {
    if n < 2 || i == 0 {
        return start;
    }
    if i + 1 == n {
        return end;
    }
    let gap = i64_to_f64(end - start) / f64::from(n - 1);
    let jitter = rng.gen_range(-0.25..0.25);
    start + floor_i64((f64::from(i) + jitter) * gap)
}

/// Campaign planning state shared by every campaign of a run.
struct Planner<'a> {
    seed: u64,
    /// Where campaign attempts may fall, in UTC milliseconds.
    window: (i64, i64),
    /// Accounts campaigns may target.
    pool: &'a [u32],
    rng: &'a mut ChaCha8Rng,
    users: &'a mut Vec<UserState>,
    /// Attacker addresses already given to a campaign.
    taken: Vec<Ipv4Addr>,
}

impl Planner<'_> {
    fn credential_stuffing(&mut self, label: usize) -> LabelDraft {
        let pool = u32::try_from(self.pool.len()).unwrap_or(u32::MAX);
        // A majority of the list exists even when the pool is small.
        let accounts = self
            .rng
            .gen_range(STUFFING_ACCOUNTS)
            .min(2 * pool.saturating_sub(1) + 1);
        let unknown_min = STUFFING_MIN_UNKNOWN.max(accounts.saturating_sub(pool));
        let unknown = self
            .rng
            .gen_range(unknown_min..=unknown_min.max(accounts / 5));
        let known = accounts - unknown;
        let mut targets: Vec<u32> = self
            .pool
            .choose_multiple(self.rng, known as usize)
            .copied()
            .collect();
        let lucky = self.rng.gen_range(0..=STUFFING_MAX_SUCCESSES);
        let successes: Vec<u32> = targets.choose_multiple(self.rng, lucky).copied().collect();
        for _ in 0..unknown {
            targets.push(self.unregistered_user());
        }
        targets.shuffle(self.rng);

        let tries: Vec<u32> = targets
            .iter()
            .map(|_| 1 + u32::from(self.rng.gen_bool(STUFFING_RETRY_SHARE)))
            .collect();
        let total: u32 = tries.iter().sum();
        let len = self.rng.gen_range(STUFFING_SPAN_MS);
        let start = self.start(len);
        let ip = self.attacker_ip();
        let agent = AgentRef::shared(self.rng.gen_range(GUESSING_AGENTS));
        let mut i = 0;
        for (&target, &tries) in targets.iter().zip(&tries) {
            for attempt in 0..tries {
                let failure = if !self.users[target as usize].registered {
                    Some(FailureReason::UnknownUser)
                } else if attempt + 1 == tries && successes.contains(&target) {
                    None
                } else {
                    Some(FailureReason::InvalidPassword)
                };
                let ts_ms = evenly(start, start + len, total, i, self.rng);
                self.attempt(target, ts_ms, label, ip, failure, agent);
                i += 1;
            }
        }
        self.draft(AttackKind::CredentialStuffing, ip, targets)
    }

    fn password_spraying(&mut self, label: usize) -> LabelDraft {
        let pool = u32::try_from(self.pool.len()).unwrap_or(u32::MAX);
        let accounts = self.rng.gen_range(SPRAYING_ACCOUNTS).min(pool);
        let targets: Vec<u32> = self
            .pool
            .choose_multiple(self.rng, accounts as usize)
            .copied()
            .collect();
        let len = self.rng.gen_range(SPRAYING_SPAN_MS);
        let start = self.start(len);
        let ip = self.attacker_ip();
        // Sprayers go low and slow and pass for a browser.
        let agent = AgentRef::shared(self.rng.gen_range(BROWSER_AGENTS));
        for (i, &target) in (0..).zip(&targets) {
            let ts_ms = evenly(start, start + len, accounts, i, self.rng);
            let failure = Some(FailureReason::InvalidPassword);
            self.attempt(target, ts_ms, label, ip, failure, agent);
        }
        self.draft(AttackKind::PasswordSpraying, ip, targets)
    }

    /// The label draft of a campaign: its victim is the first account tried
    /// that exists.
    fn draft(&self, kind: AttackKind, ip: Ipv4Addr, targets: Vec<u32>) -> LabelDraft {
        let victim = targets
            .iter()
            .copied()
            .find(|&t| self.users[t as usize].registered)
            .unwrap_or(targets[0]);
        let mut draft = LabelDraft::new(kind, victim);
        draft.ip = Some(ip.to_string());
        draft.targets = targets;
        draft
    }

    /// A uniform start for a campaign of `len` inside the window.
    fn start(&mut self, len: i64) -> i64 {
        let (earliest, latest) = self.window;
        self.rng.gen_range(earliest..=(latest - len).max(earliest))
    }

    fn attempt(
        &mut self,
        target: u32,
        ts_ms: i64,
        label: usize,
        ip: Ipv4Addr,
        failure: Option<FailureReason>,
        agent: AgentRef,
    ) {
        let status = failure.map_or(Status::Ok, FailureReason::status);
        let latency_ms = latency_ms(self.rng, Call::Login, status, 0);
        self.users[target as usize].incoming.push(Attempt {
            ts_ms,
            label,
            ip,
            failure,
            agent,
            latency_ms,
        });
    }

    /// Adds an id no account has, past every user so far, and returns its
    /// index.
    fn unregistered_user(&mut self) -> u32 {
        let index = u32::try_from(self.users.len()).unwrap_or(u32::MAX);
        self.users.push(UserState::unregistered(self.seed, index));
        index
    }

    /// An attacker address no other campaign has.
    fn attacker_ip(&mut self) -> Ipv4Addr {
        loop {
            let first = ATTACKER_FIRST_OCTETS[self.rng.gen_range(0..ATTACKER_FIRST_OCTETS.len())];
            let ip = Ipv4Addr::new(
                first,
                self.rng.r#gen(),
                self.rng.r#gen(),
                self.rng.gen_range(2..=250),
            );
            if !self.taken.contains(&ip) {
                self.taken.push(ip);
                return ip;
            }
        }
    }
}
