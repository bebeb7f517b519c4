//! Benign daily traffic of one user, and the usage ceilings that keep it
//! below a sound spike detector's threshold.
//!
//! A working day is one to three sessions inside the persona's shift, each
//! opened by a console sign-in (see `console`) and filled with tasks: short
//! bursts of API calls made by an agent, or single calls by a developer. Per
//! key, benign calls keep the benign rate limits (agent keys at most 4 in any
//! second, developer keys at most 1), and a user's events never share a
//! millisecond. API traffic draws from the day's stream and console activity
//! from a stream of its own, so the one does not shift the other.
//!
//! [`settle`] then drops benign calls that would lift a day's tokens or
//! requests above mean + 3σ of the user's previous days. Detectors differ in
//! what "previous days" means (a window of 7, 14 or 28 days or all of them;
//! calendar days or only active ones), so the ceiling is the lowest of those
//! readings. A day is a UTC day when the detector runs in UTC and the user's
//! local day when it knows each user's time zone, so a call is kept only if
//! both days stay under their ceilings.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

mod console;

use self::console::SignedIn;
use super::Clock;
use super::population::{Persona, UserState, weighted_index};
use super::record::{
    AgentRef, Call, DetailRef, EMBEDDING_MODEL, KeyRef, ROTATE_REASONS, Record, Status,
};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
/// Per-key rate window, with a margin so that moving an event by a
/// millisecond (to keep a user's timestamps distinct) cannot break a limit.
const RATE_WINDOW_MS: i64 = SECOND_MS + 20;

/// Spread of tokens per call around the persona's median.
pub(super) const TOKEN_SIGMA: f64 = 0.6;
const TOKENS_PER_CALL: (f64, f64) = (200.0, 3_000.0);
/// Day-to-day volume factor: lognormal spread, clamped to this range.
const DAY_FACTOR_SIGMA: f64 = 0.18;
const DAY_FACTOR_RANGE: (f64, f64) = (0.7, 1.4);

const KEY_ROTATION_RATE: f64 = 1.0 / 60.0;
const ERROR_RATE: f64 = 0.022;
const DETAIL_RATE: f64 = 0.35;
const EMBEDDING_DETAIL_RATE: f64 = 0.2;
const SHOW_KEY_TYPE_RATE: f64 = 0.5;
/// Calls per agent task (1–6), by relative weight.
const AGENT_TASK_SIZES: [u32; 6] = [30, 25, 18, 12, 9, 6];
const MEAN_TASK_CALLS: f64 = 2.6;
/// Error statuses of failed calls, by relative weight.
const ERRORS: [(Status, u32); 7] = [
    (Status::BadRequest, 30),
    (Status::Unauthorized, 5),
    (Status::NotFound, 10),
    (Status::TooManyRequests, 15),
    (Status::Internal, 20),
    (Status::BadGateway, 8),
    (Status::Unavailable, 12),
];

/// A spike is mean plus this many standard deviations of previous days.
const SPIKE_SIGMAS: f64 = 3.0;
/// Detectors stay silent with fewer previous days than this.
const MIN_PRIOR_DAYS: u32 = 3;
/// History windows (days) a detector may use; `usize::MAX` is all of it.
const HISTORY_WINDOWS: [usize; 4] = [7, 14, 28, usize::MAX];
/// Benign days stay this far under the lowest threshold, for rounding.
const CEILING_MARGIN: f64 = 0.98;

/// The earliest UTC day (relative to the start date) an event can fall on:
/// local day 0 east of Greenwich begins on the UTC day before.
const FIRST_UTC_DAY: i32 = -1;

/// How an event enters a day: benign events may be dropped to respect the
/// usage ceilings; attack events never are, and name the label (by index)
/// whose time span they extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Ordinary traffic, subject to the ceilings.
    Benign,
    /// Attack traffic that must not itself look like a spike (off-hours
    /// calls, leaked secrets): it counts against the ceiling, so benign
    /// traffic that day shrinks to make room.
    Counted(usize),
    /// Attack traffic meant to be a spike or a burst, or login attempts in
    /// the user's name; benign traffic is judged without it.
    Exempt(usize),
}

impl Origin {
    /// The label an attack event belongs to.
    fn label(self) -> Option<usize> {
        match self {
            Origin::Benign => None,
            Origin::Counted(label) | Origin::Exempt(label) => Some(label),
        }
    }
}

/// An event of the day being generated, before [`settle`] decides on it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    /// The event.
    pub(super) rec: Record,
    /// Where it comes from.
    pub(super) origin: Origin,
}

/// What a detector would have summed for one UTC day.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    tokens: u64,
    requests: u32,
    exempt_requests: u32,
    exempt_tokens: u64,
}

/// The most a benign UTC day may reach.
#[derive(Debug, Clone, Copy)]
struct Ceiling {
    tokens: u64,
    requests: u32,
}

impl Ceiling {
    const UNLIMITED: Ceiling = Ceiling {
        tokens: u64::MAX,
        requests: u32::MAX,
    };
}

/// A user's usage by day (UTC days or the user's local days), as a spike
/// detector would see it.
#[derive(Debug, Clone, Default)]
pub(super) struct UsageHistory {
    buckets: Vec<Bucket>,
    first_active: Option<usize>,
}

impl UsageHistory {
    fn slot(day: i32) -> usize {
        debug_assert!(day >= FIRST_UTC_DAY, "event before the first UTC day");
        usize::try_from(day - FIRST_UTC_DAY).unwrap_or(0)
    }

    fn bucket(&self, day: i32) -> Bucket {
        self.buckets
            .get(Self::slot(day))
            .copied()
            .unwrap_or_default()
    }

    fn add(&mut self, day: i32, rec: &Record, exempt: bool) {
        let slot = Self::slot(day);
        if self.buckets.len() <= slot {
            self.buckets.resize(slot + 1, Bucket::default());
        }
        let bucket = &mut self.buckets[slot];
        bucket.tokens += u64::from(rec.tokens);
        bucket.requests += 1;
        if exempt {
            bucket.exempt_tokens += u64::from(rec.tokens);
            bucket.exempt_requests += 1;
        }
        self.first_active = Some(self.first_active.map_or(slot, |f| f.min(slot)));
    }

    /// The lowest mean + 3σ over every reading of the days before `day`;
    /// unlimited while no reading has enough days.
    fn ceiling(&self, day: i32) -> Ceiling {
        let mut ceiling = Ceiling::UNLIMITED;
        let Some(first) = self.first_active else {
            return ceiling;
        };
        let end = Self::slot(day);
        if end <= first {
            return ceiling;
        }
        for window in HISTORY_WINDOWS {
            let from = end - (end - first).min(window);
            for active_only in [false, true] {
                let days = (from..end)
                    .map(|i| self.buckets.get(i).copied().unwrap_or_default())
                    .filter(|b| !active_only || b.requests > 0);
                if let Some((tokens, requests)) = spike_thresholds(days) {
                    ceiling.tokens = ceiling.tokens.min(floor_u64(tokens * CEILING_MARGIN));
                    let requests = floor_u64(requests * CEILING_MARGIN);
                    ceiling.requests = ceiling
                        .requests
                        .min(u32::try_from(requests).unwrap_or(u32::MAX));
                }
            }
        }
        ceiling
    }

    /// Whether a benign `rec` still fits under `ceiling` on `day`, keeping
    /// room for `reserved` more events that are never dropped.
    fn fits(&self, day: i32, rec: &Record, ceiling: Ceiling, reserved: u32) -> bool {
        let b = self.bucket(day);
        let tokens = b.tokens - b.exempt_tokens + u64::from(rec.tokens);
        let requests = b.requests - b.exempt_requests + 1 + reserved;
        tokens <= ceiling.tokens && requests <= ceiling.requests
    }

    /// The largest tokens and requests of any day before `day`, counting
    /// the `pending` events of the day being generated (whose days `day_of`
    /// tells) as if all were kept.
    pub(super) fn peak_before(
        &self,
        day_of: impl Fn(i64) -> i32,
        day: i32,
        pending: &[Candidate],
    ) -> (u64, u32) {
        let mut peak = (0, 0);
        let end = Self::slot(day);
        let mut totals = self.buckets[..end.min(self.buckets.len())].to_vec();
        totals.resize(end, Bucket::default());
        for c in pending {
            let slot = Self::slot(day_of(c.rec.ts_ms));
            if let Some(b) = totals.get_mut(slot) {
                b.tokens += u64::from(c.rec.tokens);
                b.requests += 1;
            }
        }
        for b in totals {
            peak = (peak.0.max(b.tokens), peak.1.max(b.requests));
        }
        peak
    }
}

/// Mean + 3σ (population σ, the lower of the two usual estimates) of tokens
/// and requests over `days`, or `None` with fewer than three days.
fn spike_thresholds(days: impl Iterator<Item = Bucket>) -> Option<(f64, f64)> {
    let mut n = 0u32;
    let (mut t, mut tt, mut r, mut rr) = (0.0, 0.0, 0.0, 0.0);
    for b in days {
        let tokens = u64_to_f64(b.tokens);
        let requests = f64::from(b.requests);
        n += 1;
        t += tokens;
        tt += tokens * tokens;
        r += requests;
        rr += requests * requests;
    }
    if n < MIN_PRIOR_DAYS {
        return None;
    }
    let n = f64::from(n);
    let threshold = |sum: f64, squares: f64| {
        let mean = sum / n;
        mean + SPIKE_SIGMAS * (squares / n - mean * mean).max(0.0).sqrt()
    };
    Some((threshold(t, tt), threshold(r, rr)))
}

/// Orders the day's events, keeps a user's timestamps distinct, applies the
/// ceilings to benign events and records what survives in the history.
///
/// Calls `attack_event(label, timestamp)` for every attack event, with its
/// final timestamp.
pub(super) fn settle(
    clock: Clock,
    user: &mut UserState,
    day_events: &mut [Candidate],
    out: &mut Vec<Record>,
    mut attack_event: impl FnMut(usize, i64),
) {
    // Stable: at equal times benign events, generated first, stay first.
    day_events.sort_by_key(|c| c.rec.ts_ms);
    for i in 1..day_events.len() {
        let previous = day_events[i - 1].rec.ts_ms;
        if day_events[i].rec.ts_ms <= previous {
            day_events[i].rec.ts_ms = previous + 1;
        }
    }

    let offset_min = user.persona.offset_min;
    let local_day = |ts: i64| clock.local_day(ts, offset_min);
    for c in day_events.iter() {
        let Some(label) = c.origin.label() else {
            continue;
        };
        let ts = c.rec.ts_ms;
        let exempt = matches!(c.origin, Origin::Exempt(_));
        user.usage.add(clock.utc_day(ts), &c.rec, exempt);
        user.local_usage.add(local_day(ts), &c.rec, exempt);
        attack_event(label, ts);
    }

    let mut utc = DayBudget::new();
    let mut local = DayBudget::new();
    for i in 0..day_events.len() {
        let c = day_events[i];
        if c.origin != Origin::Benign {
            out.push(c.rec);
            continue;
        }
        let (day, lday) = (clock.utc_day(c.rec.ts_ms), local_day(c.rec.ts_ms));
        utc.enter(day, &user.usage, |ts| clock.utc_day(ts), &day_events[i..]);
        local.enter(lday, &user.local_usage, local_day, &day_events[i..]);
        let keep = if c.rec.call.is_api() {
            utc.fits(&user.usage, &c.rec) && local.fits(&user.local_usage, &c.rec)
        } else {
            utc.reserved = utc.reserved.saturating_sub(1);
            local.reserved = local.reserved.saturating_sub(1);
            true
        };
        if keep {
            user.usage.add(day, &c.rec, false);
            user.local_usage.add(lday, &c.rec, false);
            out.push(c.rec);
        }
    }
}

/// The ceiling of the day being settled under one reading of days.
struct DayBudget {
    day: i32,
    ceiling: Ceiling,
    /// Benign console events still ahead on this day.
    reserved: u32,
}

impl DayBudget {
    fn new() -> Self {
        DayBudget {
            day: i32::MIN,
            ceiling: Ceiling::UNLIMITED,
            reserved: 0,
        }
    }

    /// Moves to `day` when an event of a new day comes up: `ahead` are the
    /// day's events from that one on, whose days `day_of` tells.
    fn enter(
        &mut self,
        day: i32,
        history: &UsageHistory,
        day_of: impl Fn(i64) -> i32,
        ahead: &[Candidate],
    ) {
        if day == self.day {
            return;
        }
        self.day = day;
        self.ceiling = history.ceiling(day);
        self.reserved = unmetered_ahead(day_of, day, ahead);
    }

    fn fits(&self, history: &UsageHistory, rec: &Record) -> bool {
        history.fits(self.day, rec, self.ceiling, self.reserved)
    }
}

/// Benign console events among `events` that fall on `day`: they are never
/// dropped, so calls must leave room for them.
fn unmetered_ahead(day_of: impl Fn(i64) -> i32, day: i32, events: &[Candidate]) -> u32 {
    let count = events
        .iter()
        .take_while(|c| day_of(c.rec.ts_ms) == day)
        .filter(|c| c.origin == Origin::Benign && !c.rec.call.is_api())
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The persona's nominal shift on local day `day`, as UTC milliseconds.
pub(super) fn shift_window(clock: Clock, persona: &Persona, day: u32) -> (i64, i64) {
    let open = clock.local_midnight_ms(day, persona.offset_min)
        + i64::from(persona.shift_start_min) * MINUTE_MS;
    (open, open + i64::from(persona.shift_len_min) * MINUTE_MS)
}

/// Generates the benign events of `user`'s local day `day` into `out`.
///
/// With `stable_addresses` the user's homes do not move that day (an attack
/// day, whose "known address" must really be known).
pub(super) fn plan_day(
    clock: Clock,
    seed: u64,
    user: &mut UserState,
    day: u32,
    stable_addresses: bool,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Candidate>,
) {
    if !stable_addresses {
        user.evolve_addresses(rng);
    }
    let persona = user.persona;
    let weekend = clock.is_weekend(day);
    let share = if weekend { persona.weekend_share } else { 1.0 };
    if share <= 0.0 {
        return;
    }

    let factor = LogNormal::new(0.0, DAY_FACTOR_SIGMA).map_or(1.0, |d| d.sample(rng));
    let factor = factor.clamp(DAY_FACTOR_RANGE.0, DAY_FACTOR_RANGE.1);
    let calls = round_u32(persona.weekday_requests * factor * share).max(1);
    let (open, close) = shift_window(clock, &persona, day);
    let sessions = if weekend {
        weekend_session(open, close, rng)
    } else {
        work_sessions(open, close, calls, rng)
    };
    let mut account = user.account_rng(seed, day);
    let rotate_in = (!weekend && account.gen_bool(KEY_ROTATION_RATE))
        .then(|| account.gen_range(0..sessions.len()));

    let mut writer = DayWriter::new(user, rng, &mut account, out);
    let total_ms: i64 = sessions.iter().map(|(s, e)| e - s).sum();
    let mut left = calls;
    for (i, &(start, end)) in sessions.iter().enumerate() {
        let share = if i + 1 == sessions.len() {
            left
        } else {
            round_u32(f64::from(calls) * i64_to_f64(end - start) / i64_to_f64(total_ms)).min(left)
        };
        left -= share;
        if share > 0 {
            writer.session(start, end, share, rotate_in == Some(i));
        }
    }
    if !weekend {
        writer.key_changes(seed);
        writer.admin_calls(clock, day);
    }
}

/// One to three working sessions covering the shift, split by breaks.
fn work_sessions(open: i64, close: i64, calls: u32, rng: &mut ChaCha8Rng) -> Vec<(i64, i64)> {
    let start = open + rng.gen_range(0..=20) * MINUTE_MS;
    let end = close - rng.gen_range(5..=20) * MINUTE_MS;
    let count: i64 = match calls {
        0..30 => 1,
        30..150 => 2,
        _ => 3,
    };
    let mut sessions = Vec::with_capacity(3);
    let mut cursor = start;
    for i in 1..count {
        let centre = start + (end - start) * i / count + rng.gen_range(-30..=30) * MINUTE_MS;
        let half_break = rng.gen_range(10..=30) * MINUTE_MS;
        sessions.push((cursor, centre - half_break));
        cursor = centre + half_break;
    }
    sessions.push((cursor, end));
    sessions
}

/// A single weekend session of one to three hours inside the shift.
fn weekend_session(open: i64, close: i64, rng: &mut ChaCha8Rng) -> Vec<(i64, i64)> {
    let open = open + 10 * MINUTE_MS;
    let close = close - 10 * MINUTE_MS;
    let len = (rng.gen_range(60..=180) * MINUTE_MS).min(close - open);
    let start = open + rng.gen_range(0..=close - open - len);
    vec![(start, start + len)]
}

/// Writes one user's day, keeping per-key rate spacing.
struct DayWriter<'a> {
    user: &'a mut UserState,
    /// API traffic's stream.
    rng: &'a mut ChaCha8Rng,
    /// Console activity's stream.
    account: &'a mut ChaCha8Rng,
    out: &'a mut Vec<Candidate>,
    /// Last event time of the sessions, so their timestamps strictly increase.
    last: i64,
    /// The four latest call times of each key slot, oldest first.
    recent: [[i64; 4]; 3],
    agent_gap: LogNormal<f64>,
    developer_gap: LogNormal<f64>,
    /// The signed-in stretch of each session so far.
    signed_in: Vec<SignedIn>,
    /// Times of the day's key changes (rotations, creations, revocations).
    key_changes: Vec<i64>,
}

impl<'a> DayWriter<'a> {
    fn new(
        user: &'a mut UserState,
        rng: &'a mut ChaCha8Rng,
        account: &'a mut ChaCha8Rng,
        out: &'a mut Vec<Candidate>,
    ) -> Self {
        DayWriter {
            user,
            rng,
            account,
            out,
            last: i64::MIN / 4,
            recent: [[i64::MIN / 4; 4]; 3],
            // Infallible: finite mean, positive spread.
            agent_gap: LogNormal::new(2_500f64.ln(), 0.9).unwrap_or_else(|_| unreachable!()),
            developer_gap: LogNormal::new(20_000f64.ln(), 0.8).unwrap_or_else(|_| unreachable!()),
            signed_in: Vec::new(),
            key_changes: Vec::new(),
        }
    }

    /// A sign-in, then `calls` calls in tasks spread over `[start, end)`.
    fn session(&mut self, start: i64, end: i64, calls: u32, rotate: bool) {
        let ip = self.user.session_address(self.rng);
        let at = start + self.rng.gen_range(0..MINUTE_MS);
        self.sign_in(at, ip);

        let mut cursor = self.last + self.rng.gen_range(2..=30) * SECOND_MS;
        let tasks_end = (end - 3 * MINUTE_MS).max(cursor + MINUTE_MS);
        self.signed_in.push(SignedIn {
            from: self.last,
            to: tasks_end,
            ip,
        });
        let tasks = (round_u32(f64::from(calls) / MEAN_TASK_CALLS)).clamp(1, calls);
        let rotate_at = rotate.then(|| self.rng.gen_range(0..tasks));
        let mut left = calls;
        for i in 0..tasks {
            // The next of `remaining` sorted uniform times in [cursor, tasks_end).
            let remaining = f64::from(tasks - i);
            let u: f64 = self.rng.gen_range(0.0..1.0);
            cursor += floor_i64(i64_to_f64(tasks_end - cursor) * (1.0 - u.powf(1.0 / remaining)));
            if rotate_at == Some(i) {
                self.rotate_key(cursor, ip);
            }
            let size = if i + 1 == tasks {
                left
            } else {
                self.task_size().min(left - (tasks - i - 1))
            };
            left -= size;
            self.task(cursor, size, ip);
        }
    }

    fn task_size(&mut self) -> u32 {
        let index = weighted_index(self.rng, &AGENT_TASK_SIZES);
        u32::try_from(index).unwrap_or(0) + 1
    }

    /// A burst of `size` calls by one key, starting at `start`.
    fn task(&mut self, start: i64, size: u32, ip: u8) {
        let persona = self.user.persona;
        let developer = self
            .user
            .developer_slot()
            .filter(|_| self.rng.gen_bool(persona.developer_share));
        let (slot, agent) = match developer {
            Some(slot) => (slot, persona.sdk[1]),
            None if self.user.agent_key_count() == 2 && self.rng.gen_bool(0.3) => {
                (1, persona.sdk[1])
            }
            None => (0, persona.sdk[0]),
        };
        let mut want = start;
        for j in 0..size {
            if j > 0 {
                let gap = if developer.is_some() {
                    &self.developer_gap
                } else {
                    &self.agent_gap
                };
                want += floor_i64(gap.sample(self.rng).clamp(300.0, 180_000.0));
            }
            let ts = self.place(want, slot, developer.is_some());
            let mut call = persona.mix.pick(self.rng);
            // The agent API is reserved for agent keys: developers testing
            // with their own key chat instead.
            if developer.is_some() && call == Call::AgentsRun {
                call = Call::Chat;
            }
            let rec = api_call(
                self.rng,
                &persona,
                self.user.index,
                ts,
                call,
                slot,
                ip,
                agent,
            );
            self.push(rec);
            want = ts;
        }
    }

    /// Rotates one of the user's keys at `at` or just after: inline with the
    /// calls, because the rotation counts against the key's rate limit.
    fn rotate_key(&mut self, at: i64, ip: u8) {
        let slot = self.account.gen_range(0..self.user.keys().len());
        let developer = self.user.keys()[slot].developer;
        let ts = self.place(at, slot, developer);
        let reason = self.account.gen_range(0..ROTATE_REASONS.len());
        let rec = Record {
            ts_ms: ts,
            user: self.user.index,
            tokens: 0,
            latency_ms: u16::try_from(self.account.gen_range(80..=300)).unwrap_or(u16::MAX),
            call: Call::KeyRotate,
            status: Status::Ok,
            ip,
            key: KeyRef::new(slot, self.account.gen_bool(SHOW_KEY_TYPE_RATE)),
            agent: self.user.persona.browser,
            detail: DetailRef::rotate_reason(reason),
        };
        self.key_changes.push(ts);
        self.push(rec);
    }

    /// The earliest time at or after `want` that keeps the day's timestamps
    /// increasing and key `slot` within its rate limit (`usize::MAX`: no key).
    fn place(&mut self, want: i64, slot: usize, developer: bool) -> i64 {
        let mut t = want.max(self.last + 1);
        if let Some(recent) = self.recent.get_mut(slot) {
            // Agent keys: the oldest of the last four; developer keys: the latest.
            let bound = if developer { recent[3] } else { recent[0] };
            t = t.max(bound + RATE_WINDOW_MS);
            recent.rotate_left(1);
            recent[3] = t;
        }
        self.last = t;
        t
    }

    fn push(&mut self, rec: Record) {
        self.out.push(Candidate {
            rec,
            origin: Origin::Benign,
        });
    }
}

/// One API call by `persona` with the key in `slot`, outcome drawn at random.
#[allow(
    clippy::too_many_arguments,
    reason = "a record is built from this many independent parts"
)]
pub(super) fn api_call(
    rng: &mut ChaCha8Rng,
    persona: &Persona,
    user: u32,
    ts_ms: i64,
    call: Call,
    slot: usize,
    ip: u8,
    agent: AgentRef,
) -> Record {
    let status = draw_status(rng);
    let tokens = if status.success() && call.uses_tokens() {
        draw_tokens(rng, persona.token_median)
    } else {
        0
    };
    Record {
        ts_ms,
        user,
        tokens,
        latency_ms: latency_ms(rng, call, status, tokens),
        call,
        status,
        ip,
        key: KeyRef::new(slot, rng.gen_bool(SHOW_KEY_TYPE_RATE)),
        agent,
        detail: draw_detail(rng, persona, call),
    }
}

fn draw_status(rng: &mut ChaCha8Rng) -> Status {
    if rng.gen_bool(1.0 - ERROR_RATE) {
        return Status::Ok;
    }
    ERRORS[weighted_index(rng, &ERRORS.map(|(_, w)| w))].0
}

fn draw_tokens(rng: &mut ChaCha8Rng, median: f64) -> u32 {
    let tokens = LogNormal::new(median.ln(), TOKEN_SIGMA).map_or(median, |d| d.sample(rng));
    round_u32(tokens.clamp(TOKENS_PER_CALL.0, TOKENS_PER_CALL.1))
}

/// A plausible `response_time_ms`: generation time grows with tokens.
pub(super) fn latency_ms(rng: &mut ChaCha8Rng, call: Call, status: Status, tokens: u32) -> u16 {
    let tokens = f64::from(tokens);
    let jitter: f64 = rng.gen_range(0.7..1.4);
    let ms = match (status.code(), call) {
        (400..500, _) => rng.gen_range(5.0..60.0),
        (500.., _) => rng.gen_range(50.0..5_000.0),
        (_, Call::Chat) => 250.0 + tokens * 0.8 * jitter,
        (_, Call::AgentsRun) => 900.0 + tokens * 1.6 * jitter,
        (_, Call::Embeddings) => 30.0 + tokens * 0.05 * jitter,
        (_, Call::Models) => rng.gen_range(15.0..80.0),
        (_, Call::Files) => rng.gen_range(40.0..400.0),
        // Console calls: authentication, key management, admin.
        (_, _) => rng.gen_range(80.0..700.0),
    };
    u16::try_from(round_u32(ms.min(60_000.0))).unwrap_or(u16::MAX)
}

fn draw_detail(rng: &mut ChaCha8Rng, persona: &Persona, call: Call) -> DetailRef {
    let (rate, model) = match call {
        Call::Chat | Call::AgentsRun => {
            let preferred = rng.gen_bool(0.8);
            (
                DETAIL_RATE,
                if preferred {
                    persona.model
                } else {
                    rng.gen_range(0..EMBEDDING_MODEL)
                },
            )
        }
        Call::Embeddings => (EMBEDDING_DETAIL_RATE, EMBEDDING_MODEL),
        _ => return DetailRef::NONE,
    };
    if !rng.gen_bool(rate) {
        return DetailRef::NONE;
    }
    let region = rng.gen_bool(0.6).then_some(persona.region);
    DetailRef::model(model, region)
}

/// `x` rounded to the nearest `u32`, saturating at the ends.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped first"
)]
pub(super) fn round_u32(x: f64) -> u32 {
    x.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// `x` rounded down to a `u64`, saturating at the ends.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped first"
)]
pub(super) fn floor_u64(x: f64) -> u64 {
    x.floor().clamp(0.0, u64_to_f64(u64::MAX)) as u64
}

/// `x` rounded down to an `i64`, saturating at the ends.
#[allow(
    clippy::cast_possible_truncation,
    reason = "saturating by definition of `as`"
)]
pub(super) fn floor_i64(x: f64) -> i64 {
    x.floor() as i64
}

/// `x` as a float; exact below 2^53, which every count here is.
#[allow(
    clippy::cast_precision_loss,
    reason = "counts and times stay below 2^53"
)]
pub(super) fn u64_to_f64(x: u64) -> f64 {
    x as f64
}

/// `x` as a float; exact below 2^53, which every duration here is.
#[allow(clippy::cast_precision_loss, reason = "durations stay below 2^53")]
pub(super) fn i64_to_f64(x: i64) -> f64 {
    x as f64
}
