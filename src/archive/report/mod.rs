//! The security report: figures for a period gathered with SQL over the
//! archive, a score and recommendations derived from them, rendered as
//! Markdown, JSON or self-contained HTML with inline SVG charts.

mod figures;
mod html;
mod markdown;
mod score;

use chrono::NaiveDate;
use serde::Serialize;

pub use figures::gather;
pub use html::{DAY_BAR_COLOUR, SEVERITY_COLOURS, render_html};
pub use markdown::render_markdown;
pub use score::{ScoreParts, recommendations, score};

/// The days a report covers, both included (UTC calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Period {
    /// The period from `from` to `to`.
    ///
    /// # Errors
    /// Names the problem when `to` is before `from`.
    pub fn try_new(from: NaiveDate, to: NaiveDate) -> Result<Self, String> {
        if to < from {
            return Err(format!("--to {to} is before --from {from}"));
        }
        Ok(Self { from, to })
    }

    /// Every day of the period, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(move |day| *day <= self.to)
    }
}

/// A name and how often it occurred.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    /// What was counted.
    pub name: String,
    /// How many.
    pub count: u64,
}

/// Incidents of one type and severity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeSeverity {
    /// The incident type.
    #[serde(rename = "type")]
    pub incident_type: String,
    /// The severity.
    pub severity: String,
    /// How many incidents.
    pub count: u64,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day covered.
    pub from: String,
    /// Last day covered.
    pub to: String,
    /// Events archived in the period.
    pub events: u64,
    /// Distinct users with events.
    pub active_users: u64,
    /// Events by `event_type`, most frequent first.
    pub events_by_type: Vec<Count>,
    /// Authentication events.
    pub authentications: u64,
    /// Authentication events that failed.
    pub failed_authentications: u64,
    /// Users with the most failed authentications.
    pub top_failed_login_users: Vec<Count>,
    /// Incidents first seen in the period (each counted once, at its
    /// latest revision).
    pub incidents: u64,
    /// Incidents by type.
    pub incidents_by_type: Vec<Count>,
    /// Incidents by severity, lowest first, every severity listed.
    pub incidents_by_severity: Vec<Count>,
    /// Incidents by type and severity.
    pub incidents_by_type_and_severity: Vec<TypeSeverity>,
    /// Incidents per day, every day of the period listed.
    pub incidents_per_day: Vec<Count>,
    /// High and critical incidents whose latest revision is not resolved.
    pub unresolved_serious: u64,
    /// Incidents with a resolved revision.
    pub resolved: u64,
    /// Mean time from an incident's first signal to its resolved revision,
    /// in seconds; `None` when none was resolved.
    pub mean_time_to_resolve_secs: Option<f64>,
    /// Action attempts by outcome.
    pub actions_by_outcome: Vec<Count>,
    /// Users with the most incidents.
    pub top_users: Vec<Count>,
    /// Addresses involved in the most incidents.
    pub top_ips: Vec<Count>,
    /// Every detector and rule behind the period's incidents, with how
    /// many incidents each contributed to, most first.
    pub top_signals: Vec<Count>,
    /// 0–100; see [`score`].
    pub score: u32,
    /// What the score's deductions were.
    pub score_parts: ScoreParts,
    /// What to do, derived from the figures.
    pub recommendations: Vec<String>,
}

impl Report {
    /// How many of `name` in `counts`.
    #[must_use]
    pub fn count_of(counts: &[Count], name: &str) -> u64 {
        counts
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.count)
            .sum()
    }
}
