//! The hour-of-week activity histogram: when in the week a user is usually
//! active, in their local time. It holds completed days only, so today's
//! activity, however unusual, is judged against the habits before it.

/// Request counts per local hour of the week (Monday 00:00 is slot 0).
/// Counts halve together when one would overflow, so the shape is kept and
/// old habits fade.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ActivityHours {
    #[serde(with = "crate::state::arrays")]
    slots: [u16; 168],
    total: u32,
}

impl Default for ActivityHours {
    fn default() -> Self {
        Self {
            slots: [0; 168],
            total: 0,
        }
    }
}

impl ActivityHours {
    /// Counts one request in `hour_of_week`.
    pub fn add(&mut self, hour_of_week: usize) {
        self.add_count(hour_of_week, 1);
    }

    /// Counts `count` requests in `hour_of_week`.
    pub fn add_count(&mut self, hour_of_week: usize, count: u16) {
        let index = hour_of_week % 168;
        if self.slots[index].checked_add(count).is_none() {
            self.halve();
        }
        self.slots[index] = self.slots[index].saturating_add(count);
        self.total = self.slots.iter().map(|&c| u32::from(c)).sum();
    }

    /// Folds a completed day's requests per local hour into the weekday's
    /// slots.
    pub fn add_day(&mut self, weekday: u8, hours: &[u16; 24]) {
        let base = usize::from(weekday % 7) * 24;
        for (hour, &count) in hours.iter().enumerate() {
            if count > 0 {
                self.add_count(base + hour, count);
            }
        }
    }

    fn halve(&mut self) {
        for count in &mut self.slots {
            *count /= 2;
        }
        self.total = self.slots.iter().map(|&c| u32::from(c)).sum();
    }

    /// Requests counted in all.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Requests counted in local hour `hour` (0–23) over all weekdays.
    #[must_use]
    pub fn hour_of_day(&self, hour: u8) -> u32 {
        let hour = usize::from(hour % 24);
        (0..7)
            .map(|day| u32::from(self.slots[day * 24 + hour]))
            .sum()
    }

    /// Share of all requests that fell in local hour `hour`.
    #[must_use]
    pub fn hour_share(&self, hour: u8) -> f64 {
        share(self.hour_of_day(hour), self.total)
    }

    /// Share of all requests in the local hours `[start, end)`, wrapping at
    /// midnight when `start > end`.
    #[must_use]
    pub fn window_share(&self, start: u8, end: u8) -> f64 {
        let count: u32 = hours_in(start, end).map(|h| self.hour_of_day(h)).sum();
        share(count, self.total)
    }

    /// Requests counted in one hour-of-week slot.
    #[must_use]
    pub fn slot(&self, hour_of_week: usize) -> u16 {
        self.slots[hour_of_week % 168]
    }
}

/// The hours of `[start, end)`, wrapping at midnight.
pub fn hours_in(start: u8, end: u8) -> impl Iterator<Item = u8> {
    let len = (end + 24 - start) % 24;
    (0..len).map(move |i| (start + i) % 24)
}

fn share(part: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_of_day_sums_across_weekdays() {
        let mut hours = ActivityHours::default();
        hours.add(9);
        hours.add(24 + 9);
        hours.add(10);
        assert_eq!(hours.hour_of_day(9), 2);
        assert!((hours.hour_share(9) - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn windows_wrap_at_midnight() {
        assert_eq!(hours_in(22, 2).collect::<Vec<_>>(), vec![22, 23, 0, 1]);
        assert_eq!(hours_in(2, 6).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
    }

    #[test]
    fn saturation_halves_and_keeps_the_shape() {
        let mut hours = ActivityHours::default();
        for _ in 0..u32::from(u16::MAX) {
            hours.add(5);
        }
        hours.add(6);
        hours.add(5);
        assert_eq!(hours.slot(5), u16::MAX / 2 + 1);
        assert_eq!(
            hours.total(),
            u32::from(hours.slot(5)) + u32::from(hours.slot(6))
        );
    }
}
