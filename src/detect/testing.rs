//! Test helpers: synthetic events and a one-user profile to run detectors on.

use std::borrow::Cow;

use super::{Context, Detector, Finding};
use crate::event::{Event, EventType, KeyType};
use crate::profile::{Profile, ProfileLimits};
use crate::time::{DAY_MS, HOUR_MS, LocalClock, Timestamp};

/// 2026-11-02T00:00:00Z, a Monday.
const BASE: i64 = 1_793_577_600_000;

/// Event time on day `day` after the base Monday, at `hour` UTC.
pub fn at_day(day: usize, hour: u32) -> Timestamp {
    let day = i64::try_from(day).unwrap();
    Timestamp(BASE + day * DAY_MS + i64::from(hour) * HOUR_MS)
}

/// A plain `api_access` event of user `u` from 192.0.2.10 with key `ak_test0001`.
pub fn event(at: Timestamp) -> Event<'static> {
    Event {
        timestamp: at,
        event_type: EventType::ApiAccess,
        user_id: Cow::Borrowed("u"),
        ip_address: Some("192.0.2.10".parse().unwrap()),
        event_id: None,
        api_key_id: Some(Cow::Borrowed("ak_test0001")),
        key_type: KeyType::Agent,
        endpoint: Some(Cow::Borrowed("/v1/chat/completions")),
        success: true,
        status_code: Some(200),
        tokens_used: 0,
        response_time_ms: None,
        user_agent: None,
        auth_event_type: None,
        details: None,
        extra: Vec::new(),
    }
}

/// One user's profile, fed event by event.
pub struct Scenario {
    profile: Option<Profile>,
    clock: LocalClock,
    limits: ProfileLimits,
}

impl Scenario {
    /// A user with no history, on the UTC clock.
    pub fn new() -> Self {
        Self {
            profile: None,
            clock: LocalClock::UTC,
            limits: ProfileLimits::default(),
        }
    }

    fn advanced(&mut self, at: Timestamp) -> &mut Profile {
        let local = self.clock.local(at);
        let profile = self.profile.get_or_insert_with(|| Profile::new(local, at));
        profile.advance(local);
        profile
    }

    /// Records an event without inspecting it.
    pub fn record(&mut self, event: &Event<'_>) {
        let local = self.clock.local(event.timestamp);
        let limits = self.limits;
        self.advanced(event.timestamp).record(event, local, &limits);
    }

    /// The profile as a detector would see it at `at`.
    pub fn profile_at(&mut self, at: Timestamp) -> &Profile {
        self.advanced(at)
    }

    /// Runs `detector` on the event (when warmed up), then records it.
    pub fn inspect(&mut self, detector: &dyn Detector, event: &Event<'_>) -> Option<Finding> {
        let local = self.clock.local(event.timestamp);
        let profile = self.advanced(event.timestamp);
        let finding = if detector.warmed_up(profile) {
            detector.inspect(&Context {
                event,
                local,
                profile,
            })
        } else {
            None
        };
        self.record(event);
        finding
    }
}
