//! `usage_spike`: today's running token or request total rises above the
//! mean plus three standard deviations of the user's previous days.
//!
//! It fires on the event that makes the total cross, not at the end of the
//! day. The standard deviation is floored at a fraction of the mean, so a
//! user with near-constant usage does not alert on a trivial rise.

use serde_json::json;

use super::{Context, Detector, Finding, evidence, round};
use crate::profile::{Baseline, Profile};
use crate::signal::Severity;

/// Settings of `usage_spike`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSpikeConfig {
    /// Whether the detector runs.
    pub enabled: bool,
    /// How many standard deviations above the mean count as a spike.
    pub sigma: f64,
    /// Completed days of history needed before the detector judges a user.
    pub min_prior_days: u8,
    /// Floor of the standard deviation, as a fraction of the mean.
    pub min_sd_fraction: f64,
    /// Daily token totals below this never count as a spike.
    pub min_daily_tokens: u64,
    /// Daily request totals below this never count as a spike.
    pub min_daily_requests: u64,
}

impl Default for UsageSpikeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sigma: 3.0,
            min_prior_days: 3,
            min_sd_fraction: 0.1,
            min_daily_tokens: 1_000,
            min_daily_requests: 20,
        }
    }
}

impl UsageSpikeConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sigma.is_nan() || self.sigma <= 0.0 {
            problems.push(format!(
                "detectors.usage_spike.sigma must be above 0, not {}",
                self.sigma
            ));
        }
        if self.min_prior_days < 1 {
            problems.push("detectors.usage_spike.min_prior_days must be at least 1".to_owned());
        }
        if !(0.0..=10.0).contains(&self.min_sd_fraction) {
            problems.push(format!(
                "detectors.usage_spike.min_sd_fraction must be between 0 and 10, not {}",
                self.min_sd_fraction
            ));
        }
        problems
    }
}

/// The `usage_spike` detector.
pub struct UsageSpike {
    config: UsageSpikeConfig,
}

impl UsageSpike {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: UsageSpikeConfig) -> Self {
        Self { config }
    }

    /// The total above which a day counts as a spike.
    #[must_use]
    pub fn threshold(&self, mean: f64, sd: f64) -> f64 {
        mean + self.config.sigma * sd.max(self.config.min_sd_fraction * mean)
    }

    fn check(
        &self,
        metric: Metric,
        before: u64,
        added: u64,
        baseline: &Baseline,
    ) -> Option<Finding> {
        let (mean, sd, floor) = match metric {
            Metric::Tokens => (
                baseline.mean_tokens,
                baseline.sd_tokens,
                self.config.min_daily_tokens,
            ),
            Metric::Requests => (
                baseline.mean_requests,
                baseline.sd_requests,
                self.config.min_daily_requests,
            ),
        };
        let (mean, sd) = (f64::from(mean), f64::from(sd));
        let threshold = self.threshold(mean, sd);
        let after = before + added;
        #[allow(
            clippy::cast_precision_loss,
            reason = "daily totals are far below 2^52"
        )]
        let (before_f, after_f) = (before as f64, after as f64);
        let crossed = before_f <= threshold && after_f > threshold && after >= floor;
        if !crossed {
            return None;
        }
        let spread = sd.max(self.config.min_sd_fraction * mean).max(f64::EPSILON);
        let z = (after_f - mean) / spread;
        let score = 0.5 + 0.05 * (z - self.config.sigma).clamp(0.0, 3.0);
        let facts = evidence([
            ("metric", json!(metric.name())),
            ("today_total", json!(after)),
            ("mean", json!(round(mean, 1))),
            ("sd", json!(round(sd, 1))),
            ("threshold", json!(round(threshold, 1))),
            ("z", json!(round(z, 2))),
            ("prior_days", json!(baseline.days)),
        ]);
        Some(Finding::new(Severity::Medium, round(score, 3), facts))
    }
}

#[derive(Clone, Copy)]
enum Metric {
    Tokens,
    Requests,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::Requests => "requests",
        }
    }
}

impl Detector for UsageSpike {
    fn id(&self) -> &'static str {
        "usage_spike"
    }

    fn warmed_up(&self, profile: &Profile) -> bool {
        profile.history_days() >= self.config.min_prior_days
    }

    fn inspect(&self, cx: &Context<'_, '_>) -> Option<Finding> {
        let baseline = cx.profile.usage.baseline();
        let today = cx.profile.usage.today_total();
        self.check(
            Metric::Tokens,
            u64::from(today.tokens),
            cx.event.tokens_used,
            &baseline,
        )
        .or_else(|| self.check(Metric::Requests, u64::from(today.requests), 1, &baseline))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::detect::testing::{Scenario, at_day, event};

    const EVENTS_PER_DAY: u64 = 20;

    /// Feeds each day's total in 20 equal events, then today's total the same
    /// way, and returns what fired today.
    fn run_days(totals: &[u64], today_tokens: u64) -> Vec<Finding> {
        let detector = UsageSpike::new(UsageSpikeConfig::default());
        let mut scenario = Scenario::new();
        for (day, &tokens) in totals.iter().enumerate() {
            for step in 0..EVENTS_PER_DAY {
                scenario.record(&day_event(day, step, tokens));
            }
        }
        (0..EVENTS_PER_DAY)
            .filter_map(|step| {
                scenario.inspect(&detector, &day_event(totals.len(), step, today_tokens))
            })
            .collect()
    }

    fn day_event(day: usize, step: u64, total: u64) -> crate::event::Event<'static> {
        let mut e = event(at_day(day, 9).plus_ms(i64::try_from(step).unwrap() * 60_000));
        e.tokens_used = total / EVENTS_PER_DAY + u64::from(step < total % EVENTS_PER_DAY);
        e
    }

    #[test]
    fn fires_once_when_today_crosses_the_threshold() {
        let findings = run_days(&[10_000, 12_000, 11_000, 9_000], 60_000);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].evidence["metric"], "tokens");
        assert_eq!(findings[0].severity, Severity::Medium);
    }

    #[test]
    fn fires_as_soon_as_the_running_total_crosses() {
        let detector = UsageSpike::new(UsageSpikeConfig::default());
        let mut scenario = Scenario::new();
        for day in 0..4 {
            for step in 0..EVENTS_PER_DAY {
                scenario.record(&day_event(day, step, 10_000));
            }
        }
        let mut first = event(at_day(4, 0));
        first.tokens_used = 100;
        assert!(scenario.inspect(&detector, &first).is_none());
        let mut burst = event(at_day(4, 1));
        burst.tokens_used = 50_000;
        let finding = scenario
            .inspect(&detector, &burst)
            .expect("the crossing event fires");
        assert_eq!(finding.evidence["today_total"], 50_100);
    }

    #[test]
    fn silent_with_fewer_than_three_prior_days() {
        let detector = UsageSpike::new(UsageSpikeConfig::default());
        let mut scenario = Scenario::new();
        scenario.record(&event(at_day(0, 12)));
        scenario.record(&event(at_day(1, 12)));
        assert!(!detector.warmed_up(scenario.profile_at(at_day(2, 1))));
        assert!(detector.warmed_up(scenario.profile_at(at_day(3, 1))));
    }

    proptest! {
        #[test]
        fn no_spike_on_a_constant_series(level in 1_000_u64..1_000_000, days in 3_usize..20) {
            let totals = vec![level; days];
            prop_assert!(run_days(&totals, level).is_empty());
        }

        #[test]
        fn mean_plus_four_sigma_always_fires(
            totals in prop::collection::vec(5_000_u64..50_000, 3..20),
        ) {
            #[allow(clippy::cast_precision_loss)]
            let values: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
            #[allow(clippy::cast_precision_loss)]
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let spread = var.sqrt().max(0.1 * mean);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let today = (mean + 4.0 * spread).ceil() as u64 + EVENTS_PER_DAY;
            let findings = run_days(&totals, today);
            prop_assert!(findings.iter().any(|f| f.evidence["metric"] == "tokens"));
        }
    }
}
