//! `off_hours`: activity when the user is normally quiet.
//!
//! Both tests compare today with the user's completed days and fire once per
//! local day each, when today's count of suspicious requests reaches
//! `min_events`:
//! - the user's own quiet hours: hours of the day that, with the hour on
//!   either side, each hold under `quiet_hour_share` of the user's history
//!   (so a working day that runs a little long is not off hours);
//! - the fixed quiet window (02:00–06:00 local by default), for users whose
//!   history puts under `max_habitual_share` of their requests in it:
//!   requests in the window's hours the user does not habitually work (each
//!   under `habitual_hour_share` of their history) make up more than
//!   `window_share` of today. Night-shift workers and early risers are
//!   therefore not flagged for the hours they always work.

use serde_json::json;

use super::{Context, Detector, Finding, evidence, round};
use crate::profile::{Profile, hours_in};
use crate::signal::Severity;

/// Settings of `off_hours`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffHoursConfig {
    /// Whether the detector runs.
    pub enabled: bool,
    /// First hour of the fixed quiet window, local time (0–23).
    pub window_start_hour: u8,
    /// Hour the fixed quiet window ends, local time (0–23, exclusive).
    pub window_end_hour: u8,
    /// Share of today's requests inside the window that is suspicious.
    pub window_share: f64,
    /// The window test applies only to users whose history puts less than
    /// this share of their requests inside the window.
    pub max_habitual_share: f64,
    /// A window hour holding at least this share of the user's history is
    /// one they habitually work, and the window test ignores it.
    pub habitual_hour_share: f64,
    /// An hour of the day is one of the user's quiet hours when it and its
    /// neighbours each hold less than this share of their history.
    pub quiet_hour_share: f64,
    /// Suspicious requests needed in one local day before it fires.
    pub min_events: u16,
    /// Completed days of history needed before it judges a user.
    pub min_history_days: u8,
    /// Requests of history needed before it judges a user.
    pub min_history_events: u32,
}

impl Default for OffHoursConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_start_hour: 2,
            window_end_hour: 6,
            window_share: 0.3,
            max_habitual_share: 0.1,
            habitual_hour_share: 0.02,
            quiet_hour_share: 0.01,
            min_events: 15,
            min_history_days: 7,
            min_history_events: 100,
        }
    }
}

impl OffHoursConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, hour) in [
            ("window_start_hour", self.window_start_hour),
            ("window_end_hour", self.window_end_hour),
        ] {
            if hour > 23 {
                problems.push(format!(
                    "detectors.off_hours.{key} must be 0 to 23, not {hour}"
                ));
            }
        }
        for (key, share) in [
            ("window_share", self.window_share),
            ("max_habitual_share", self.max_habitual_share),
            ("habitual_hour_share", self.habitual_hour_share),
            ("quiet_hour_share", self.quiet_hour_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                problems.push(format!(
                    "detectors.off_hours.{key} must be between 0 and 1, not {share}"
                ));
            }
        }
        if self.min_events == 0 {
            problems.push("detectors.off_hours.min_events must be at least 1".to_owned());
        }
        problems
    }
}

/// The `off_hours` detector.
pub struct OffHours {
    config: OffHoursConfig,
}

impl OffHours {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: OffHoursConfig) -> Self {
        Self { config }
    }

    /// The window's hours this user does not habitually work.
    fn unhabitual_window_hours<'p>(&self, profile: &'p Profile) -> impl Iterator<Item = u8> + 'p {
        let threshold = self.config.habitual_hour_share;
        hours_in(self.config.window_start_hour, self.config.window_end_hour)
            .filter(move |&h| profile.hours.hour_share(h) < threshold)
    }

    fn is_quiet_hour(&self, profile: &Profile, hour: u8) -> bool {
        [23, 0, 1].iter().all(|&step| {
            profile.hours.hour_share((hour + step) % 24) < self.config.quiet_hour_share
        })
    }

    /// Fires when this event brings today's quiet-hour requests to `min_events`.
    fn own_quiet_hours(&self, profile: &Profile, hour: u8) -> Option<u32> {
        if !self.is_quiet_hour(profile, hour) {
            return None;
        }
        let today = profile.usage.today_hours();
        let quiet_today: u32 = (0..24)
            .filter(|&h| self.is_quiet_hour(profile, h))
            .map(|h| u32::from(today[usize::from(h)]))
            .sum();
        (quiet_today + 1 == u32::from(self.config.min_events)).then_some(quiet_today + 1)
    }

    /// Fires when this event brings today's unhabitual window requests to
    /// `min_events` and they make up an unusual share of today.
    fn quiet_window(&self, profile: &Profile, hour: u8) -> Option<(u32, f64)> {
        let (start, end) = (self.config.window_start_hour, self.config.window_end_hour);
        if profile.hours.window_share(start, end) >= self.config.max_habitual_share
            || !self.unhabitual_window_hours(profile).any(|h| h == hour)
        {
            return None;
        }
        let today = profile.usage.today_hours();
        let in_window: u32 = self
            .unhabitual_window_hours(profile)
            .map(|h| u32::from(today[usize::from(h)]))
            .sum::<u32>()
            + 1;
        let share = f64::from(in_window) / f64::from(profile.usage.today_total().requests + 1);
        let reached = in_window == u32::from(self.config.min_events);
        (reached && share > self.config.window_share).then_some((in_window, share))
    }
}

impl Detector for OffHours {
    fn id(&self) -> &'static str {
        "off_hours"
    }

    fn warmed_up(&self, profile: &Profile) -> bool {
        profile.history_days() >= self.config.min_history_days
            && profile.hours.total() >= self.config.min_history_events
    }

    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding> {
        let hour = cx.local.hour;
        let own = self.own_quiet_hours(cx.profile, hour);
        let window = self.quiet_window(cx.profile, hour);
        if own.is_none() && window.is_none() {
            return None;
        }
        let (start, end) = (self.config.window_start_hour, self.config.window_end_hour);
        let mut facts = evidence([
            ("local_hour", json!(hour)),
            (
                "hour_share",
                json!(round(cx.profile.hours.hour_share(hour), 4)),
            ),
            ("window", json!(format!("{start:02}:00-{end:02}:00"))),
            (
                "habitual_window_share",
                json!(round(cx.profile.hours.window_share(start, end), 4)),
            ),
        ]);
        if let Some(count) = own {
            facts.insert("quiet_hour_events_today".into(), json!(count));
        }
        if let Some((count, share)) = window {
            facts.insert("window_events_today".into(), json!(count));
            facts.insert("window_share_today".into(), json!(round(share, 3)));
        }
        let score = if own.is_some() && window.is_some() {
            0.45
        } else {
            0.35
        };
        Some(Finding::new(Severity::Low, score, facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{Scenario, at_day, event};
    use crate::event::Event;

    /// Fourteen days of office hours (09:00–17:00 UTC, 10 requests an hour).
    fn office_worker() -> Scenario {
        let mut scenario = Scenario::new();
        for day in 0..14 {
            for hour in 9..17 {
                for minute in 0..10 {
                    scenario.record(&event(at_day(day, hour).plus_ms(minute * 60_000)));
                }
            }
        }
        scenario
    }

    fn night_burst(day: usize, hour: u32, count: i64) -> Vec<Event<'static>> {
        (0..count)
            .map(|i| event(at_day(day, hour).plus_ms(i * 60_000)))
            .collect()
    }

    fn findings(scenario: &mut Scenario, events: &[Event<'static>]) -> Vec<Finding> {
        let detector = OffHours::new(OffHoursConfig::default());
        events
            .iter()
            .filter_map(|e| scenario.inspect(&detector, e))
            .collect()
    }

    #[test]
    fn a_burst_at_three_in_the_morning_fires_once() {
        let mut scenario = office_worker();
        let found = findings(&mut scenario, &night_burst(14, 3, 40));
        assert_eq!(found.len(), 1, "{found:?}");
        let minimum = OffHoursConfig::default().min_events;
        assert_eq!(found[0].evidence["quiet_hour_events_today"], minimum);
        assert_eq!(found[0].evidence["window_events_today"], minimum);
    }

    #[test]
    fn early_risers_are_not_flagged_for_the_hour_they_start_work() {
        let mut scenario = Scenario::new();
        for day in 0..14 {
            for hour in 5..13 {
                for minute in 0..10 {
                    scenario.record(&event(at_day(day, hour).plus_ms(minute * 60_000)));
                }
            }
        }
        assert!(findings(&mut scenario, &night_burst(14, 5, 40)).is_empty());
    }

    #[test]
    fn a_few_late_requests_stay_below_the_minimum() {
        let mut scenario = office_worker();
        assert!(findings(&mut scenario, &night_burst(14, 22, 5)).is_empty());
    }

    #[test]
    fn an_hour_next_to_the_working_day_is_not_quiet() {
        let mut scenario = office_worker();
        assert!(findings(&mut scenario, &night_burst(14, 17, 40)).is_empty());
    }

    #[test]
    fn usual_hours_never_fire() {
        let mut scenario = office_worker();
        assert!(findings(&mut scenario, &night_burst(14, 10, 60)).is_empty());
    }

    #[test]
    fn night_shift_users_are_not_flagged_for_the_night_window() {
        let mut scenario = Scenario::new();
        for day in 0..14 {
            for hour in [0, 1, 2, 3, 4, 5, 22, 23] {
                for minute in 0..10 {
                    scenario.record(&event(at_day(day, hour).plus_ms(minute * 60_000)));
                }
            }
        }
        assert!(findings(&mut scenario, &night_burst(14, 3, 40)).is_empty());
    }

    #[test]
    fn new_users_are_not_judged() {
        let detector = OffHours::new(OffHoursConfig::default());
        let mut scenario = Scenario::new();
        scenario.record(&event(at_day(0, 10)));
        assert!(!detector.warmed_up(scenario.profile_at(at_day(1, 3))));
    }
}
