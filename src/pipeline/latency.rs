//! Latency distributions of the pipeline: kept for the run summary and
//! logged once a minute while events flow.

use std::time::Duration;

/// A latency distribution with p50, p99 and p99.9 at three significant
/// digits.
#[derive(Debug)]
pub struct Latency(hdrhistogram::Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        // From 1 µs to 10 minutes; longer waits count as 10 minutes.
        Self(
            hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("the bounds and precision are valid"),
        )
    }
}

impl Latency {
    /// Adds one sample.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.max(1));
    }

    /// Samples recorded.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latency at `quantile` (0.0–1.0), in milliseconds.
    #[must_use]
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "a latency for display")]
        let ms = self.0.value_at_quantile(quantile) as f64 / 1_000.0;
        ms
    }
}

/// Latency of the last minute, logged once a minute while events flow.
pub(super) struct LatencyWindow {
    latency: Latency,
    started: std::time::Instant,
}

impl LatencyWindow {
    /// How often the window is logged and restarted.
    const PERIOD: Duration = Duration::from_mins(1);

    pub(super) fn new() -> Self {
        Self {
            latency: Latency::default(),
            started: std::time::Instant::now(),
        }
    }

    pub(super) fn record(&mut self, latency: Duration) {
        self.latency.record(latency);
        if self.started.elapsed() >= Self::PERIOD {
            tracing::info!(
                batches = self.latency.len(),
                p50_ms = self.latency.quantile_ms(0.5),
                p99_ms = self.latency.quantile_ms(0.99),
                p999_ms = self.latency.quantile_ms(0.999),
                "Pipeline latency over the last minute"
            );
            *self = Self::new();
        }
    }
}
