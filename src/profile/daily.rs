//! Daily usage: token and request totals per local day for the last 28 days
//! plus today's running totals and today's activity by hour.

use statrs::statistics::Statistics;

/// Completed days kept behind today.
pub const HISTORY_DAYS: usize = 28;
const SLOTS: usize = HISTORY_DAYS + 1;

/// Totals of one local day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayTotal {
    /// Tokens used (saturating).
    pub tokens: u32,
    /// Requests made (saturating).
    pub requests: u32,
}

/// Mean and standard deviation of the completed days, fixed for the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// Completed days the figures cover (days without activity included).
    pub days: u8,
    /// Mean tokens per day.
    pub mean_tokens: f32,
    /// Sample standard deviation of tokens per day.
    pub sd_tokens: f32,
    /// Mean requests per day.
    pub mean_requests: f32,
    /// Sample standard deviation of requests per day.
    pub sd_requests: f32,
}

/// The ring of daily totals; slot `day % 29` holds that day.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DailyUsage {
    slots: [DayTotal; SLOTS],
    today: i32,
    first_day: i32,
    today_hours: [u16; 24],
    baseline: Baseline,
}

impl DailyUsage {
    /// Usage of a user first seen on local day `day`.
    #[must_use]
    pub fn new(day: i32) -> Self {
        Self {
            slots: [DayTotal::default(); SLOTS],
            today: day,
            first_day: day,
            today_hours: [0; 24],
            baseline: Baseline::default(),
        }
    }

    /// The current local day (days since the epoch).
    #[must_use]
    pub fn today(&self) -> i32 {
        self.today
    }

    /// Today's running totals.
    #[must_use]
    pub fn today_total(&self) -> DayTotal {
        self.slots[slot(self.today)]
    }

    /// The totals of every day kept, oldest first, from the user's first
    /// day (or the start of the history) through today.
    pub fn days(&self) -> impl Iterator<Item = (i32, DayTotal)> + '_ {
        let span = i32::try_from(HISTORY_DAYS).unwrap_or(i32::MAX);
        let start = self.first_day.max(self.today - span);
        (start..=self.today).map(|day| (day, self.slots[slot(day)]))
    }

    /// Requests made today in each local hour.
    #[must_use]
    pub fn today_hours(&self) -> &[u16; 24] {
        &self.today_hours
    }

    /// The statistics of the completed days, as of the start of today.
    #[must_use]
    pub fn baseline(&self) -> Baseline {
        self.baseline
    }

    /// Moves today forward to `day`, clearing the days in between and
    /// recomputing the baseline. Earlier days leave it unchanged.
    pub fn roll_to(&mut self, day: i32) {
        if day <= self.today {
            return;
        }
        let gap = usize::try_from(day - self.today)
            .unwrap_or(SLOTS)
            .min(SLOTS);
        for step in 1..=i32::try_from(gap).unwrap_or(0) {
            self.slots[slot(self.today + step)] = DayTotal::default();
        }
        self.today = day;
        self.today_hours = [0; 24];
        self.baseline = self.compute_baseline();
    }

    /// Adds one request on local `day` at local `hour`. Today's figures and
    /// completed days inside the history are updated; older days are ignored.
    pub fn add(&mut self, day: i32, hour: u8, tokens: u64) {
        let age = self.today - day;
        if !(0..=i32::try_from(HISTORY_DAYS).unwrap_or(i32::MAX)).contains(&age)
            || day < self.first_day
        {
            return;
        }
        let total = &mut self.slots[slot(day)];
        total.tokens = total
            .tokens
            .saturating_add(u32::try_from(tokens).unwrap_or(u32::MAX));
        total.requests = total.requests.saturating_add(1);
        if age == 0 {
            let hour_count = &mut self.today_hours[usize::from(hour) % 24];
            *hour_count = hour_count.saturating_add(1);
        }
    }

    fn compute_baseline(&self) -> Baseline {
        let days = usize::try_from(self.today - self.first_day)
            .unwrap_or(0)
            .min(HISTORY_DAYS);
        if days == 0 {
            return Baseline::default();
        }
        let completed: Vec<DayTotal> = (1..=days)
            .map(|back| self.slots[slot(self.today - i32::try_from(back).unwrap_or(0))])
            .collect();
        let tokens = completed.iter().map(|d| f64::from(d.tokens));
        let requests = completed.iter().map(|d| f64::from(d.requests));
        let (mean_tokens, sd_tokens) = mean_and_sd(tokens);
        let (mean_requests, sd_requests) = mean_and_sd(requests);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "daily totals fit f32 precision needs"
        )]
        Baseline {
            days: u8::try_from(days).unwrap_or(u8::MAX),
            mean_tokens: mean_tokens as f32,
            sd_tokens: sd_tokens as f32,
            mean_requests: mean_requests as f32,
            sd_requests: sd_requests as f32,
        }
    }
}

fn mean_and_sd(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let mean = values.clone().mean();
    let sd = values.std_dev();
    (mean, if sd.is_nan() { 0.0 } else { sd })
}

fn slot(day: i32) -> usize {
    usize::try_from(day.rem_euclid(i32::try_from(SLOTS).unwrap_or(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_covers_completed_days_including_quiet_ones() {
        let mut usage = DailyUsage::new(100);
        usage.add(100, 9, 1_000);
        usage.roll_to(101);
        usage.add(101, 9, 3_000);
        usage.roll_to(103);
        let baseline = usage.baseline();
        assert_eq!(baseline.days, 3);
        assert!((baseline.mean_tokens - 4_000.0 / 3.0).abs() < 1e-3);
        assert!(baseline.sd_tokens > 0.0);
    }

    #[test]
    fn today_counts_reset_when_the_day_rolls() {
        let mut usage = DailyUsage::new(10);
        usage.add(10, 3, 5);
        assert_eq!(usage.today_hours()[3], 1);
        usage.roll_to(11);
        assert_eq!(usage.today_total(), DayTotal::default());
        assert_eq!(usage.today_hours()[3], 0);
    }

    #[test]
    fn late_events_land_on_their_own_day_and_ancient_ones_are_ignored() {
        let mut usage = DailyUsage::new(10);
        usage.roll_to(12);
        usage.add(11, 1, 7);
        usage.add(-50, 1, 7);
        usage.roll_to(13);
        assert!((usage.baseline().mean_tokens - 7.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_ring_forgets_days_older_than_the_history() {
        let mut usage = DailyUsage::new(0);
        usage.add(0, 0, 1_000_000);
        usage.roll_to(40);
        assert_eq!(usage.baseline().days, 28);
        assert!(usage.baseline().mean_tokens.abs() < f32::EPSILON);
    }
}
