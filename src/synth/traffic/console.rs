//! Console activity of a benign day: how a session signs in, the day's key
//! creations and revocations, and an administrator's admin calls.
//!
//! The promises rule files rely on to stay quiet on benign traffic:
//! - a session signs in with at most two failed logins (typos, a locked
//!   account) and one failed second factor, and sessions of a day are at
//!   least 20 minutes apart, so one user never fails five times within five
//!   minutes;
//! - a mistyped id fails once as `unknown_user` under an id no account has;
//! - any two key changes of a day are more than 30 minutes apart, so no user
//!   makes more than two within an hour;
//! - admin calls fall on weekdays, 09:00–18:00 local, inside sessions.
//!
//! Everything here draws from the day's console stream, not the API stream.

use rand::Rng;

use super::{DayWriter, MINUTE_MS, SECOND_MS, SHOW_KEY_TYPE_RATE, latency_ms};
use crate::synth::Clock;
use crate::synth::population::weighted_index;
use crate::synth::record::{AdminAction, Call, DetailRef, FailureReason, KeyRef, Record, Status};

const HOUR_MS: i64 = 60 * MINUTE_MS;

/// How a session's sign-in goes, with relative weights per session.
const SIGN_INS: [(SignIn, u32); 5] = [
    (SignIn::Clean, 9_600),
    (SignIn::Typos(1), 260),
    (SignIn::Typos(2), 80),
    (SignIn::MistypedId, 40),
    (SignIn::Locked, 20),
];
/// After two wrong passwords, the share of users who reset theirs.
const RESET_AFTER_TYPOS_SHARE: f64 = 0.3;
/// A wrong second factor, per sign-in of a user with one.
const MFA_FAILURE_RATE: f64 = 0.02;

/// A new key, per weekday.
const KEY_CREATE_RATE: f64 = 1.0 / 40.0;
/// Share of new keys revoked the day they are made (a key for a quick test).
const SAME_DAY_REVOKE_SHARE: f64 = 0.4;
/// Revocation of an older created key, per weekday while one is live.
const KEY_REVOKE_RATE: f64 = 1.0 / 15.0;
/// Least time between two key changes of a user: more than half an hour,
/// so three never fit in one hour.
const KEY_CHANGE_GAP_MS: i64 = 31 * MINUTE_MS;
/// Tries at finding a time for a key change before giving up for the day.
const KEY_CHANGE_TRIES: u32 = 8;

/// Admin calls of an administrator's weekday.
const ADMIN_CALLS_PER_DAY: std::ops::RangeInclusive<u32> = 2..=8;
/// Local business hours, in which administrators make admin calls.
const BUSINESS_HOURS: (i64, i64) = (9 * HOUR_MS, 18 * HOUR_MS);

/// The signed-in stretch of a session, where console calls can happen.
#[derive(Debug, Clone, Copy)]
pub(super) struct SignedIn {
    /// End of the sign-in.
    pub(super) from: i64,
    /// End of the session's calls.
    pub(super) to: i64,
    /// The session's address.
    pub(super) ip: u8,
}

/// The ways a sign-in goes before the successful login.
#[derive(Debug, Clone, Copy)]
enum SignIn {
    /// The right password at once.
    Clean,
    /// One or two wrong passwords first.
    Typos(u8),
    /// The id mistyped once.
    MistypedId,
    /// The account was locked: a password reset first.
    Locked,
}

impl DayWriter<'_> {
    /// A session's sign-in from address `ip`, starting at `at`: maybe a
    /// failure or two, the successful login, and the second factor of users
    /// who have one.
    pub(super) fn sign_in(&mut self, at: i64, ip: u8) {
        let weights = SIGN_INS.map(|(_, w)| w);
        let mut t = at;
        match SIGN_INS[weighted_index(self.account, &weights)].0 {
            SignIn::Clean => {}
            SignIn::Typos(count) => {
                for _ in 0..count {
                    t = self.failed_login(t, ip, FailureReason::InvalidPassword)
                        + self.pause(5, 40);
                }
                if count == 2 && self.account.gen_bool(RESET_AFTER_TYPOS_SHARE) {
                    t = self.password_reset(t, ip);
                }
            }
            SignIn::MistypedId => {
                let detail = DetailRef::mistyped_user();
                t = self.console(t, Call::Login, Status::Unauthorized, ip, detail)
                    + self.pause(5, 30);
            }
            SignIn::Locked => {
                t = self.failed_login(t, ip, FailureReason::AccountLocked) + self.pause(20, 90);
                t = self.password_reset(t, ip);
            }
        }
        t = self.console(t, Call::Login, Status::Ok, ip, DetailRef::NONE) + self.pause(3, 30);
        if !self.user.persona.mfa {
            return;
        }
        if self.account.gen_bool(MFA_FAILURE_RATE) {
            t = self.failed(t, Call::MfaVerify, ip, FailureReason::MfaFailed) + self.pause(10, 45);
        }
        self.console(t, Call::MfaVerify, Status::Ok, ip, DetailRef::NONE);
    }

    /// Now and then a new key, some revoked the same day, and now and then
    /// the revocation of an older one. Created keys make no calls.
    ///
    /// Generated traffic never calls with a created key: its calls would
    /// need rate and usage bookkeeping of their own, so created keys show up
    /// in key management events only.
    pub(super) fn key_changes(&mut self, seed: u64) {
        if self.signed_in.is_empty() {
            return;
        }
        if let Some(slot) = self.user.oldest_live_created()
            && self.account.gen_bool(KEY_REVOKE_RATE)
            && let Some((t, ip)) = self.key_change_time(None)
        {
            self.user.revoke_created(slot);
            self.key_change(t, Call::KeyRevoke, slot, ip);
        }
        if !self.account.gen_bool(KEY_CREATE_RATE) {
            return;
        }
        let developer = self.account.gen_bool(0.5);
        let Some((created_at, ip)) = self.key_change_time(None) else {
            return;
        };
        let Some(slot) = self.user.create_key(seed, developer) else {
            return;
        };
        self.key_change(created_at, Call::KeyCreate, slot, ip);
        if self.account.gen_bool(SAME_DAY_REVOKE_SHARE)
            && let Some((t, ip)) = self.key_change_time(Some(created_at))
        {
            self.user.revoke_created(slot);
            self.key_change(t, Call::KeyRevoke, slot, ip);
        }
    }

    /// A handful of admin calls by an administrator, inside the day's
    /// sessions and the local business hours of local day `day`.
    pub(super) fn admin_calls(&mut self, clock: Clock, day: u32) {
        let persona = self.user.persona;
        if !persona.admin {
            return;
        }
        let midnight = clock.local_midnight_ms(day, persona.offset_min);
        // A second's margin: settling may move an event by a millisecond.
        let hours = (
            midnight + BUSINESS_HOURS.0,
            midnight + BUSINESS_HOURS.1 - SECOND_MS,
        );
        let weights = AdminAction::WEIGHTED.map(|(_, w)| w);
        for _ in 0..self.account.gen_range(ADMIN_CALLS_PER_DAY) {
            let Some((t, ip)) = self.time_signed_in(hours) else {
                return;
            };
            let action = AdminAction::WEIGHTED[weighted_index(self.account, &weights)].0;
            let rec = self.console_record(t, action.call(), Status::Ok, ip);
            self.push(Record {
                detail: DetailRef::admin(action),
                ..rec
            });
        }
    }

    fn failed_login(&mut self, at: i64, ip: u8, reason: FailureReason) -> i64 {
        self.failed(at, Call::Login, ip, reason)
    }

    fn failed(&mut self, at: i64, call: Call, ip: u8, reason: FailureReason) -> i64 {
        self.console(at, call, reason.status(), ip, DetailRef::failure(reason))
    }

    /// A password reset, then the pause before the next login.
    fn password_reset(&mut self, at: i64, ip: u8) -> i64 {
        self.console(at, Call::PasswordReset, Status::Ok, ip, DetailRef::NONE) + self.pause(60, 300)
    }

    /// A console event in session order at `at` or just after; returns its
    /// time.
    fn console(&mut self, at: i64, call: Call, status: Status, ip: u8, detail: DetailRef) -> i64 {
        let ts = self.place(at, usize::MAX, false);
        let rec = self.console_record(ts, call, status, ip);
        self.push(Record { detail, ..rec });
        ts
    }

    fn console_record(&mut self, ts_ms: i64, call: Call, status: Status, ip: u8) -> Record {
        Record {
            ts_ms,
            user: self.user.index,
            tokens: 0,
            latency_ms: latency_ms(self.account, call, status, 0),
            call,
            status,
            ip,
            key: KeyRef::NONE,
            agent: self.user.persona.browser,
            detail: DetailRef::NONE,
        }
    }

    /// A key creation or revocation of the created key in `slot`.
    fn key_change(&mut self, ts: i64, call: Call, slot: usize, ip: u8) {
        self.key_changes.push(ts);
        let rec = self.console_record(ts, call, Status::Ok, ip);
        let key = KeyRef::new(slot, self.account.gen_bool(SHOW_KEY_TYPE_RATE));
        self.push(Record { key, ..rec });
    }

    /// A signed-in time more than [`KEY_CHANGE_GAP_MS`] from the day's other
    /// key changes (and after `after` by as much, if given), if one is found.
    fn key_change_time(&mut self, after: Option<i64>) -> Option<(i64, u8)> {
        let lower = after.map_or(i64::MIN, |t| t + KEY_CHANGE_GAP_MS);
        for _ in 0..KEY_CHANGE_TRIES {
            let (t, ip) = self.time_signed_in((lower, i64::MAX))?;
            let clear = self
                .key_changes
                .iter()
                .all(|&other| (t - other).abs() > KEY_CHANGE_GAP_MS);
            if clear {
                return Some((t, ip));
            }
        }
        None
    }

    /// A uniform time within `[bounds.0, bounds.1)` during which the user is
    /// signed in, at least a minute after a sign-in, with the session's
    /// address.
    fn time_signed_in(&mut self, bounds: (i64, i64)) -> Option<(i64, u8)> {
        let clip = |s: &SignedIn| {
            let from = (s.from + MINUTE_MS).max(bounds.0);
            let to = s.to.min(bounds.1);
            (from < to).then_some((from, to, s.ip))
        };
        let total: i64 = self
            .signed_in
            .iter()
            .filter_map(clip)
            .map(|(from, to, _)| to - from)
            .sum();
        if total <= 0 {
            return None;
        }
        let mut pick = self.account.gen_range(0..total);
        for (from, to, ip) in self.signed_in.iter().filter_map(clip) {
            if pick < to - from {
                return Some((from + pick, ip));
            }
            pick -= to - from;
        }
        None
    }

    /// A pause of `min`..=`max` seconds.
    fn pause(&mut self, min: i64, max: i64) -> i64 {
        self.account.gen_range(min..=max) * SECOND_MS
    }
}
