//! A user's rolling profile: the compact state detectors compare each new
//! event against. It is owned by exactly one shard and never shared.

mod daily;
mod hours;
mod ips;
mod keys;
mod recent_ids;

use crate::event::Event;
use crate::time::{LocalTime, Timestamp, weekday_of};

pub use daily::{Baseline, DailyUsage, DayTotal, HISTORY_DAYS};
pub use hours::{ActivityHours, hours_in};
pub use ips::{Familiarity, IpSighting, KnownIps, epoch_seconds, same_prefix};
pub use keys::{KeyCounter, KeyUsage};
pub use recent_ids::RecentIds;

/// Bounds on what one profile may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileLimits {
    /// Addresses remembered per user; the least recently seen is evicted.
    pub max_ips_per_user: usize,
    /// Keys counted per user; the least recently used is evicted.
    pub max_keys_per_user: usize,
    /// Event ids remembered per user to drop redelivered events; 0 turns
    /// the check off.
    pub recent_event_ids: usize,
}

impl Default for ProfileLimits {
    fn default() -> Self {
        Self {
            max_ips_per_user: 32,
            max_keys_per_user: 8,
            recent_event_ids: 16,
        }
    }
}

/// One user's rolling state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Daily token and request totals.
    pub usage: DailyUsage,
    /// When in the week the user is active.
    pub hours: ActivityHours,
    /// Addresses the user called from.
    pub ips: KnownIps,
    /// Per-key rate and quota counters.
    pub keys: KeyUsage,
    /// Recent event ids, to recognise redelivered events.
    pub recent_ids: RecentIds,
    /// Events recorded (saturating).
    pub events: u32,
    /// The latest event time recorded.
    pub last_seen: Timestamp,
}

impl Profile {
    /// An empty profile whose first day is `local.day`.
    #[must_use]
    pub fn new(local: LocalTime, at: Timestamp) -> Self {
        Self {
            usage: DailyUsage::new(local.day),
            hours: ActivityHours::default(),
            ips: KnownIps::default(),
            keys: KeyUsage::default(),
            recent_ids: RecentIds::default(),
            events: 0,
            last_seen: at,
        }
    }

    /// Moves the profile's calendar to the event's local day, so detectors
    /// compare against a baseline of completed days. Call before detectors.
    pub fn advance(&mut self, local: LocalTime) {
        let today = self.usage.today();
        if local.day > today {
            self.hours
                .add_day(weekday_of(today), self.usage.today_hours());
        }
        self.usage.roll_to(local.day);
    }

    /// Adds the event to the profile. Call after detectors, which compare the
    /// event against the state before it.
    pub fn record(&mut self, event: &Event<'_>, local: LocalTime, limits: &ProfileLimits) {
        self.usage.add(local.day, local.hour, event.tokens_used);
        if local.day < self.usage.today() {
            self.hours.add(local.hour_of_week());
        }
        if let Some(ip) = event.ip_address {
            self.ips
                .record(ip, event.timestamp, limits.max_ips_per_user);
        }
        if let Some(key_id) = event.api_key_id.as_deref() {
            let second = event.timestamp.epoch_second();
            self.keys
                .record(key_id, second, local.day, limits.max_keys_per_user);
        }
        if let Some(id) = event.event_id.as_deref() {
            self.recent_ids.insert(id, limits.recent_event_ids);
        }
        self.events = self.events.saturating_add(1);
        self.last_seen = self.last_seen.max(event.timestamp);
    }

    /// Completed days of history behind today, at most [`HISTORY_DAYS`].
    #[must_use]
    pub fn history_days(&self) -> u8 {
        self.usage.baseline().days
    }

    /// Bytes this profile occupies: its inline size plus what it holds on
    /// the heap (not counting the map entry that owns it).
    #[must_use]
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.ips.heap_bytes()
            + self.keys.heap_bytes()
            + self.recent_ids.heap_bytes()
    }
}
