//! The report as Markdown, for reading in a terminal or a repository.

use std::fmt::Write as _;

use super::{Count, Report};

/// Formats seconds as hours and minutes.
#[must_use]
pub fn duration_text(secs: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a non-negative duration for display"
    )]
    let minutes = (secs.max(0.0) / 60.0).round() as u64;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

fn table(out: &mut String, heading: &str, counts: &[Count]) {
    let _ = writeln!(out, "\n### {heading}\n");
    if counts.is_empty() {
        out.push_str("None.\n");
        return;
    }
    out.push_str("| name | count |\n|---|---:|\n");
    for count in counts {
        let _ = writeln!(
            out,
            "| {} | {} |",
            count.name.replace('|', "\\|"),
            count.count
        );
    }
}

/// The report as Markdown.
#[must_use]
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Security report {} to {}\n\nSecurity score: **{}/100**\n",
        report.from, report.to, report.score
    );
    let _ = writeln!(
        out,
        "- events: {} from {} active users\n- failed authentications: {} of {}\n\
         - incidents: {} ({} high or critical unresolved)\n- resolved: {}, mean time to \
         resolve: {}",
        report.events,
        report.active_users,
        report.failed_authentications,
        report.authentications,
        report.incidents,
        report.unresolved_serious,
        report.resolved,
        report
            .mean_time_to_resolve_secs
            .map_or_else(|| "n/a (none resolved)".to_owned(), duration_text),
    );
    out.push_str("\n## Recommendations\n\n");
    for advice in &report.recommendations {
        let _ = writeln!(out, "- {advice}");
    }
    out.push_str("\n## Figures\n");
    table(&mut out, "Events by type", &report.events_by_type);
    table(&mut out, "Incidents by type", &report.incidents_by_type);
    table(
        &mut out,
        "Incidents by severity",
        &report.incidents_by_severity,
    );
    out.push_str("\n### Incidents by type and severity\n\n");
    if report.incidents_by_type_and_severity.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| type | severity | count |\n|---|---|---:|\n");
        for row in &report.incidents_by_type_and_severity {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                row.incident_type, row.severity, row.count
            );
        }
    }
    table(&mut out, "Incidents per day", &report.incidents_per_day);
    table(
        &mut out,
        "Action attempts by outcome",
        &report.actions_by_outcome,
    );
    table(&mut out, "Users with the most incidents", &report.top_users);
    table(
        &mut out,
        "Users with the most failed authentications",
        &report.top_failed_login_users,
    );
    table(&mut out, "Addresses in the most incidents", &report.top_ips);
    table(
        &mut out,
        "Detectors and rules behind incidents",
        &report.top_signals,
    );
    let parts = &report.score_parts;
    let _ = writeln!(
        out,
        "\n## How the score is computed\n\n100 minus: failed logins {:.1} (the failure \
         percentage, at most 25), incidents {:.1} (10 × severity-weighted incidents per \
         active user, critical 10, high 5, medium 2, low 0.5; at most 40), unresolved {:.1} \
         (20 × share of high and critical incidents unresolved), failed actions {:.1} (15 × \
         share of action attempts that failed).",
        parts.failed_logins, parts.incidents, parts.unresolved, parts.failed_actions
    );
    out
}
