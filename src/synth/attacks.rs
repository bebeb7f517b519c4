//! Attack injection: who is attacked, on which day, the attack's events and
//! what its label promises.
//!
//! Single-victim kinds have disjoint victim sets, 4% of users per kind (2%
//! for brute force) and at least one each; an off-hours victim is never a
//! night-shift persona. Campaigns on many accounts (see `campaigns`) target
//! users who are no single-victim kind's victim. Each attack falls in the
//! second half of the run, after at least a week of baseline.
//! Spikes are sized against the victim's own history: at least three times
//! the victim's largest UTC day so far, which exceeds mean + 3σ of any
//! reading of that history, so the detectors named in the label must fire.
//! Attack events draw from the victim's own attack stream, so the victim's
//! benign traffic is the same with or without attacks, except that benign
//! calls make room for attack calls that must not look like a spike.
//! Attackers connect from ranges no benign home uses, so an attacker's
//! address is always one its victims never used.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde_json::json;

use super::campaigns::{self, evenly};
use super::population::{UserState, mix64};
use super::record::{
    ATTACKER_AGENTS, AgentRef, Call, DetailRef, FailureReason, GUESSING_AGENTS, KeyRef, MODELS,
    Record, Status,
};
use super::traffic::{
    Candidate, Origin, api_call, floor_i64, i64_to_f64, latency_ms, round_u32, shift_window,
    u64_to_f64,
};
use super::{AttackKind, AttackLabel, Clock, DAY_MS, GenConfig, GenError};

/// Share of users attacked per detector-caught kind, in percent.
const VICTIM_PERCENT: u32 = 4;
/// Share of users whose password is brute-forced, in percent.
const BRUTE_FORCE_PERCENT: u32 = 2;
/// Failed logins of a brute force.
const BRUTE_FORCE_FAILURES: std::ops::RangeInclusive<u32> = 15..=40;
/// Share of brute forces that end in the right password.
const BRUTE_FORCE_SUCCESS_SHARE: f64 = 0.3;
/// First to last attempt of a brute force: 2–10 minutes, a second inside
/// each end so that moving an event by a millisecond keeps the promise.
const BRUTE_FORCE_SPAN_MS: std::ops::RangeInclusive<i64> =
    2 * MINUTE_MS + 1_000..=10 * MINUTE_MS - 1_000;
/// The earliest attack day: a week of baseline comes first.
const FIRST_ATTACK_DAY: u32 = 7;
/// First octets of attacker networks; no benign home uses them, so an
/// attacker's /16 is one the victim never used.
pub(super) const ATTACKER_FIRST_OCTETS: [u8; 10] = [5, 45, 89, 91, 103, 146, 162, 185, 193, 194];
/// A spike is at least this multiple of the victim's largest day so far.
const SPIKE_OVER_PEAK: f64 = 3.0;
/// Spread-out attacks keep consecutive calls this far apart at least, so
/// no second holds more than 3 calls.
const SLOW_CALL_GAP_MS: i64 = 345;
/// Attack windows keep this far inside the victim's shift.
const SHIFT_MARGIN_MS: i64 = 10 * MINUTE_MS;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LEN: usize = 32;
/// Zero-token calls a key thief makes before the spike.
const LOOK_AROUND_CALLS: u32 = 2;

/// The attack a single victim suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AttackPlan {
    /// What happens.
    pub(super) kind: AttackKind,
    /// The local day it happens on, counted from the start date.
    pub(super) day: u32,
    /// Index of its label in the run's label drafts.
    pub(super) label: usize,
}

/// A label in the making: filled in as the attack's events are generated
/// and settled.
#[derive(Debug, Clone)]
pub(super) struct LabelDraft {
    /// What happens.
    pub(super) kind: AttackKind,
    /// The victim, or a campaign's first targeted account that exists.
    pub(super) victim: u32,
    /// The key the attack used or leaked.
    pub(super) api_key_id: Option<String>,
    /// Where the attack's events come from.
    pub(super) ip: Option<String>,
    /// Every account the attack tries to sign in to, in the order tried;
    /// empty for attacks on a victim's keys.
    pub(super) targets: Vec<u32>,
    /// First and last timestamp of its events so far.
    span: Option<(i64, i64)>,
}

impl LabelDraft {
    /// A draft knowing only the kind and the victim.
    pub(super) fn new(kind: AttackKind, victim: u32) -> LabelDraft {
        LabelDraft {
            kind,
            victim,
            api_key_id: None,
            ip: None,
            targets: Vec::new(),
            span: None,
        }
    }

    /// Widens the time span to hold an event at `ts_ms`.
    pub(super) fn widen(&mut self, ts_ms: i64) {
        self.span = Some(
            self.span
                .map_or((ts_ms, ts_ms), |(a, b)| (a.min(ts_ms), b.max(ts_ms))),
        );
    }

    /// The finished label, or `None` if no event of the attack was made.
    pub(super) fn finish(self, users: &[UserState]) -> Option<AttackLabel> {
        let (start, end) = self.span?;
        let at = |ms| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        Some(AttackLabel {
            attack: self.kind,
            user_id: users[self.victim as usize].user_id(),
            api_key_id: self.api_key_id,
            ip: self.ip,
            targets: self
                .targets
                .iter()
                .map(|&t| users[t as usize].user_id())
                .collect(),
            start: at(start),
            end: at(end),
            expected_signals: self
                .kind
                .expected_signals()
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }
}

/// What an injected attack turned out to use.
#[derive(Debug, Clone)]
pub(super) struct Injected {
    /// The key the attack used or leaked.
    pub(super) api_key_id: Option<String>,
    /// Where the attack's events came from.
    pub(super) ip: String,
}

/// `percent` of `users`, rounded, and at least one.
fn share_of(users: u32, percent: u32) -> u32 {
    ((users * percent + 50) / 100).max(1)
}

/// Chooses the victims, targets and attack days: records single-victim
/// plans in each victim and campaign attempts in each target, and returns
/// the label drafts the plans refer to.
pub(super) fn assign(
    cfg: &GenConfig,
    users: &mut Vec<UserState>,
) -> Result<Vec<LabelDraft>, GenError> {
    let per_kind = share_of(cfg.users, VICTIM_PERCENT);
    let brute_force = share_of(cfg.users, BRUTE_FORCE_PERCENT);
    let single_victims = per_kind * 5 + brute_force;
    let required = single_victims + campaigns::MIN_TARGETS;
    if cfg.users < required {
        return Err(GenError::TooFewUsers {
            users: cfg.users,
            required,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(cfg.seed ^ 0x7669_6374_696d));
    let mut order: Vec<usize> = (0..users.len()).collect();
    order.shuffle(&mut rng);
    let first_day = FIRST_ATTACK_DAY.max(cfg.days / 2);

    // Off-hours goes first: it is the only kind with an ineligible persona.
    // Kinds added later come last, so earlier kinds keep their victims.
    let kinds = [
        (AttackKind::OffHours, per_kind),
        (AttackKind::KeyTheft, per_kind),
        (AttackKind::RunawayUsage, per_kind),
        (AttackKind::RateAbuse, per_kind),
        (AttackKind::LeakedKey, per_kind),
        (AttackKind::BruteForce, brute_force),
    ];
    let mut labels = Vec::new();
    for (kind, wanted) in kinds {
        let mut chosen = 0;
        for &i in &order {
            if chosen == wanted {
                break;
            }
            let user = &mut users[i];
            if user.attack.is_some() || (kind == AttackKind::OffHours && user.persona.night_shift) {
                continue;
            }
            user.attack = Some(AttackPlan {
                kind,
                day: rng.gen_range(first_day..cfg.days),
                label: labels.len(),
            });
            let mut label = LabelDraft::new(kind, user.index);
            if kind == AttackKind::BruteForce {
                label.targets.push(user.index);
            }
            labels.push(label);
            chosen += 1;
        }
        if chosen < wanted {
            return Err(GenError::NoEligibleVictim {
                kind,
                users: cfg.users,
            });
        }
    }

    let pool: Vec<u32> = order
        .iter()
        .filter(|&&i| users[i].attack.is_none())
        .map(|&i| users[i].index)
        .collect();
    campaigns::plan(cfg, first_day, &pool, &mut rng, users, &mut labels);
    Ok(labels)
}

/// Adds the events of `user`'s attack to `day_events`, which already hold
/// the victim's benign events of that day.
pub(super) fn inject(
    clock: Clock,
    seed: u64,
    user: &mut UserState,
    plan: AttackPlan,
    day_events: &mut Vec<Candidate>,
) -> Injected {
    let mut rng = user.attack_rng(seed);
    let mut attack = Attack {
        clock,
        day: plan.day,
        label: plan.label,
        user,
        rng: &mut rng,
        out: day_events,
    };
    let (slot, ip) = match plan.kind {
        AttackKind::KeyTheft => attack.key_theft(),
        AttackKind::RunawayUsage => attack.runaway_usage(),
        AttackKind::OffHours => attack.off_hours(),
        AttackKind::RateAbuse => attack.rate_abuse(),
        AttackKind::LeakedKey => attack.leaked_key(),
        AttackKind::BruteForce => attack.brute_force(),
        // Campaigns arrive as attempts in their targets' names instead.
        AttackKind::CredentialStuffing | AttackKind::PasswordSpraying => {
            return Injected {
                api_key_id: None,
                ip: String::new(),
            };
        }
    };
    Injected {
        api_key_id: slot.map(|slot| attack.user.keys()[slot].id()),
        ip: attack.user.address(ip).to_string(),
    }
}

/// One attack being written: returns the key slot (if a key is involved)
/// and the address index used.
struct Attack<'a> {
    clock: Clock,
    day: u32,
    /// Index of the attack's label.
    label: usize,
    user: &'a mut UserState,
    rng: &'a mut ChaCha8Rng,
    out: &'a mut Vec<Candidate>,
}

impl Attack<'_> {
    /// The victim's agent key, from a /16 the victim never used, with a
    /// foreign client, for 1–3 hours of the victim's shift.
    fn key_theft(&mut self) -> (Option<usize>, u8) {
        let slot = self.rng.gen_range(0..self.user.agent_key_count());
        let ip = self.attacker_address();
        let agent = AgentRef::shared(self.rng.gen_range(ATTACKER_AGENTS));
        let len = self.rng.gen_range(60..=180) * MINUTE_MS;
        let (start, end) = self.window_in_shift(len);
        let multiple = self.rng.gen_range(6.0..9.0);
        let floor = self.rng.gen_range(400..=900);
        let (tokens, calls) = self.spike_size(start, multiple, floor);
        // A thief looks around first: two model listings, then the spike.
        let calls = calls.min(max_slow_calls(end - start) - LOOK_AROUND_CALLS);
        let weights = self.token_weights(calls, 0.35);
        let total = calls + LOOK_AROUND_CALLS;
        for i in 0..LOOK_AROUND_CALLS {
            let ts = stratified(start, end, total, i, self.rng);
            self.push(
                ts,
                Call::Models,
                0,
                slot,
                ip,
                agent,
                Origin::Exempt(self.label),
            );
        }
        for (i, share) in (LOOK_AROUND_CALLS..).zip(split_tokens(tokens, &weights)) {
            let call = if self.rng.gen_bool(0.35) {
                Call::Embeddings
            } else {
                Call::Chat
            };
            let ts = stratified(start, end, total, i, self.rng);
            self.push(ts, call, share, slot, ip, agent, Origin::Exempt(self.label));
        }
        (Some(slot), ip)
    }

    /// The victim's own agent stuck in a loop: 8–15 times a typical day's
    /// tokens in 2–4 hours, from a known address.
    fn runaway_usage(&mut self) -> (Option<usize>, u8) {
        let ip = self.user.established_address();
        let agent = self.user.persona.sdk[0];
        let len = self.rng.gen_range(120..=240) * MINUTE_MS;
        let (start, end) = self.window_in_shift(len);
        let multiple = self.rng.gen_range(8.0..15.0);
        let floor = self.rng.gen_range(300..=1_200);
        let (tokens, calls) = self.spike_size(start, multiple, floor);
        let calls = calls.min(max_slow_calls(end - start));
        let weights = self.token_weights(calls, 0.15);
        let call = if self.rng.gen_bool(0.4) {
            Call::AgentsRun
        } else {
            Call::Chat
        };
        for (i, share) in (0..).zip(split_tokens(tokens, &weights)) {
            let ts = stratified(start, end, calls, i, self.rng);
            self.push(ts, call, share, 0, ip, agent, Origin::Exempt(self.label));
        }
        (Some(0), ip)
    }

    /// 30–80 ordinary calls between 02:00 and 05:00 local, from a known
    /// address and key.
    fn off_hours(&mut self) -> (Option<usize>, u8) {
        let ip = self.user.established_address();
        let persona = self.user.persona;
        let midnight = self.clock.local_midnight_ms(self.day, persona.offset_min);
        let start = midnight + 2 * HOUR_MS + self.rng.gen_range(0..=120) * MINUTE_MS;
        let end = start + self.rng.gen_range(20..=60) * MINUTE_MS;
        let calls = self.rng.gen_range(30..=80);
        for i in 0..calls {
            let ts = stratified(start, end, calls, i, self.rng);
            let call = persona.mix.pick(self.rng);
            let rec = api_call(
                self.rng,
                &persona,
                self.user.index,
                ts,
                call,
                0,
                ip,
                persona.sdk[0],
            );
            self.out.push(Candidate {
                rec,
                origin: Origin::Counted(self.label),
            });
        }
        (Some(0), ip)
    }

    /// 20–40 calls a second for 30–90 seconds on the victim's agent key, from
    /// a known address; the gateway starts refusing some.
    fn rate_abuse(&mut self) -> (Option<usize>, u8) {
        let ip = self.user.established_address();
        let agent = self.user.persona.sdk[0];
        let rate: i64 = self.rng.gen_range(20..=40);
        let seconds: i64 = self.rng.gen_range(30..=90);
        let (start, _) = self.window_in_shift(seconds * 1_000);
        let gap = 1_000 / rate;
        for i in 0..rate * seconds {
            let ts = start + i * gap + self.rng.gen_range(-gap / 5..=gap / 5);
            let call = if self.rng.gen_bool(0.6) {
                Call::Embeddings
            } else {
                Call::Chat
            };
            let refused = i > rate * 5 && self.rng.gen_bool(0.3);
            let (status, tokens) = if refused {
                (Status::TooManyRequests, 0)
            } else {
                (Status::Ok, self.rng.gen_range(5..=60))
            };
            let rec = self.record(ts, call, status, tokens, 0, ip, agent);
            self.out.push(Candidate {
                rec,
                origin: Origin::Exempt(self.label),
            });
        }
        (Some(0), ip)
    }

    /// One to three calls whose prompt, logged headers or client string
    /// carry the full secret of one of the victim's keys.
    fn leaked_key(&mut self) -> (Option<usize>, u8) {
        let ip = self.user.established_address();
        let persona = self.user.persona;
        let slot = self.rng.gen_range(0..self.user.keys().len());
        let key = self.user.keys()[slot];
        let secret = format!("{}live_{}", key.prefix(), self.secret());
        let (open, close) = shift_window(self.clock, &persona, self.day);
        let (open, close) = (open + 30 * MINUTE_MS, close - 30 * MINUTE_MS);
        let count = self.rng.gen_range(1..=3);
        for i in 0..count {
            let ts = stratified(open, close, count, i, self.rng);
            let model = MODELS[persona.model];
            let mut agent = if slot == 0 {
                persona.sdk[0]
            } else {
                persona.sdk[1]
            };
            let mut detail = DetailRef::NONE;
            match self.rng.gen_range(0..3) {
                0 => {
                    let prompt = format!("here is my key {secret}, why do my calls fail with 401?");
                    let text = json!({"model": model, "prompt": prompt}).to_string();
                    detail = DetailRef::extra(self.user.add_extra(text));
                }
                1 => {
                    let header = format!("Bearer {secret}");
                    let text =
                        json!({"headers": {"authorization": header}, "model": model}).to_string();
                    detail = DetailRef::extra(self.user.add_extra(text));
                }
                _ => {
                    agent = AgentRef::extra(
                        self.user
                            .add_extra(format!("batch-client/0.3 (key={secret})")),
                    );
                }
            }
            let tokens = self.rng.gen_range(200..=1_500);
            let mut rec = self.record(ts, Call::Chat, Status::Ok, tokens, slot, ip, agent);
            rec.detail = detail;
            self.out.push(Candidate {
                rec,
                origin: Origin::Counted(self.label),
            });
        }
        (Some(slot), ip)
    }

    /// 15–40 wrong passwords for the victim within 2–10 minutes from an
    /// address the victim never used, at any hour; sometimes the last guess
    /// is right.
    fn brute_force(&mut self) -> (Option<usize>, u8) {
        let ip = self.attacker_address();
        let agent = AgentRef::shared(self.rng.gen_range(GUESSING_AGENTS));
        let failures = self.rng.gen_range(BRUTE_FORCE_FAILURES);
        let succeeds = self.rng.gen_bool(BRUTE_FORCE_SUCCESS_SHARE);
        let len = self.rng.gen_range(BRUTE_FORCE_SPAN_MS);
        let midnight = self
            .clock
            .local_midnight_ms(self.day, self.user.persona.offset_min);
        let start = midnight + self.rng.gen_range(MINUTE_MS..DAY_MS - MINUTE_MS - len);
        let attempts = failures + u32::from(succeeds);
        for i in 0..attempts {
            let ts = evenly(start, start + len, attempts, i, self.rng);
            let (status, detail) = if succeeds && i + 1 == attempts {
                (Status::Ok, DetailRef::NONE)
            } else {
                let reason = FailureReason::InvalidPassword;
                (reason.status(), DetailRef::failure(reason))
            };
            let rec = Record {
                key: KeyRef::NONE,
                detail,
                ..self.record(ts, Call::Login, status, 0, 0, ip, agent)
            };
            self.out.push(Candidate {
                rec,
                origin: Origin::Exempt(self.label),
            });
        }
        (None, ip)
    }

    /// Tokens and calls of a spike starting at `start`: at least `multiple`
    /// typical days and [`SPIKE_OVER_PEAK`] times the largest day so far,
    /// UTC or local.
    fn spike_size(&self, start: i64, multiple: f64, calls: u32) -> (u64, u32) {
        let clock = self.clock;
        let offset_min = self.user.persona.offset_min;
        let utc =
            self.user
                .usage
                .peak_before(|ts| clock.utc_day(ts), clock.utc_day(start), self.out);
        let local_day = |ts| clock.local_day(ts, offset_min);
        let local = self
            .user
            .local_usage
            .peak_before(local_day, local_day(start), self.out);
        let (peak_tokens, peak_requests) = (utc.0.max(local.0), utc.1.max(local.1));
        let typical = self.user.persona.typical_weekday_tokens() * multiple;
        let tokens = typical
            .max(u64_to_f64(peak_tokens) * SPIKE_OVER_PEAK)
            .ceil()
            + 1.0;
        let calls = calls.max(round_u32(f64::from(peak_requests) * SPIKE_OVER_PEAK) + 1);
        (super::traffic::floor_u64(tokens), calls)
    }

    /// `calls` relative token weights with lognormal spread `sigma`.
    fn token_weights(&mut self, calls: u32, sigma: f64) -> Vec<f64> {
        let spread = LogNormal::new(0.0, sigma).unwrap_or_else(|_| unreachable!());
        (0..calls).map(|_| spread.sample(self.rng)).collect()
    }

    /// A window of `len` inside the victim's shift that stays within one UTC
    /// day (so one day's total holds the whole spike); shorter when no part
    /// of the shift is that long.
    fn window_in_shift(&mut self, len: i64) -> (i64, i64) {
        let (open, close) = shift_window(self.clock, &self.user.persona, self.day);
        let (open, close) = (open + SHIFT_MARGIN_MS, close - SHIFT_MARGIN_MS);
        let midnight = self.clock.utc_day_start_ms(self.clock.utc_day(open) + 1);
        let parts = if midnight < close {
            [(open, midnight), (midnight, close)]
        } else {
            [(open, close); 2]
        };
        let slack = parts.map(|(a, b)| (b - a - len).max(0));
        let (a, b) = if slack[0] + slack[1] == 0 {
            let longest = if parts[0].1 - parts[0].0 >= parts[1].1 - parts[1].0 {
                parts[0]
            } else {
                parts[1]
            };
            return (longest.0, longest.0 + len.min(longest.1 - longest.0));
        } else if self.rng.gen_range(0..slack[0] + slack[1]) < slack[0] {
            parts[0]
        } else {
            parts[1]
        };
        let start = self.rng.gen_range(a..=b - len);
        (start, start + len)
    }

    /// A fresh address in an attacker range, added to the victim's table.
    fn attacker_address(&mut self) -> u8 {
        loop {
            let first = ATTACKER_FIRST_OCTETS[self.rng.gen_range(0..ATTACKER_FIRST_OCTETS.len())];
            let ip = Ipv4Addr::new(
                first,
                self.rng.r#gen(),
                self.rng.r#gen(),
                self.rng.gen_range(2..=250),
            );
            if !self.user.knows_v4_slash16(ip) {
                return self.user.add_address(IpAddr::V4(ip));
            }
        }
    }

    fn secret(&mut self) -> String {
        (0..SECRET_LEN)
            .map(|_| char::from(BASE62[self.rng.gen_range(0..BASE62.len())]))
            .collect()
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a record is built from this many independent parts"
    )]
    fn push(
        &mut self,
        ts: i64,
        call: Call,
        tokens: u32,
        slot: usize,
        ip: u8,
        agent: AgentRef,
        origin: Origin,
    ) {
        let rec = self.record(ts, call, Status::Ok, tokens, slot, ip, agent);
        self.out.push(Candidate { rec, origin });
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a record is built from this many independent parts"
    )]
    fn record(
        &mut self,
        ts_ms: i64,
        call: Call,
        status: Status,
        tokens: u32,
        slot: usize,
        ip: u8,
        agent: AgentRef,
    ) -> Record {
        Record {
            ts_ms,
            user: self.user.index,
            tokens,
            latency_ms: latency_ms(self.rng, call, status, tokens),
            call,
            status,
            ip,
            key: KeyRef::new(slot, self.rng.gen_bool(0.5)),
            agent,
            detail: DetailRef::NONE,
        }
    }
}

/// The `i`-th of `n` times spread evenly over `[start, end)`, each jittered
/// inside its own stretch: times increase and never crowd together.
fn stratified(start: i64, end: i64, n: u32, i: u32, rng: &mut ChaCha8Rng) -> i64 {
    let stretch = i64_to_f64(end - start) / f64::from(n.max(1));
    let offset = (f64::from(i) + rng.gen_range(0.2..0.8)) * stretch;
    start + floor_i64(offset)
}

/// How many calls fit in `len` with [`stratified`] times while consecutive
/// calls stay [`SLOW_CALL_GAP_MS`] apart (its jitter keeps 40% of a stretch).
fn max_slow_calls(len: i64) -> u32 {
    let calls = len * 2 / (5 * SLOW_CALL_GAP_MS);
    u32::try_from(calls)
        .unwrap_or(u32::MAX)
        .max(LOOK_AROUND_CALLS + 1)
}

/// Splits `total` tokens in proportion to `weights`, exactly.
fn split_tokens(total: u64, weights: &[f64]) -> Vec<u32> {
    let sum: f64 = weights.iter().sum();
    let mut shares: Vec<u32> = weights
        .iter()
        .map(|w| round_u32((u64_to_f64(total) * w / sum).floor()))
        .collect();
    let given: u64 = shares.iter().map(|&s| u64::from(s)).sum();
    if let Some(last) = shares.last_mut() {
        *last = last.saturating_add(u32::try_from(total.saturating_sub(given)).unwrap_or(u32::MAX));
    }
    shares
}
