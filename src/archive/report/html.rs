//! The report as one self-contained HTML page: tables and two charts
//! (incidents per day, incidents by severity) drawn as inline SVG, with
//! no script and nothing loaded from the network.

use std::fmt::Write as _;

use super::markdown::duration_text;
use super::{Count, Report};

/// Fill of the bars of the incidents-per-day chart.
pub const DAY_BAR_COLOUR: &str = "#1f77b4";

/// Fill of each severity's bar, lowest first.
pub const SEVERITY_COLOURS: [(&str, &str); 4] = [
    ("low", "#2ca02c"),
    ("medium", "#e6b800"),
    ("high", "#ff7f0e"),
    ("critical", "#d62728"),
];

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{margin-bottom:4px}table{border-collapse:collapse;margin:8px 0 20px}\
td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}td.n{text-align:right}\
.score{font-size:40px;font-weight:bold}.grid{display:flex;flex-wrap:wrap;gap:32px}\
svg text{font-family:sans-serif;font-size:12px;fill:#333}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn share(count: u64, max: u64) -> f64 {
    if max == 0 {
        0.0
    } else {
        count as f64 / max as f64
    }
}

/// A vertical bar chart of `counts`, each bar filled with `colour(i)`.
fn bar_chart(
    title: &str,
    counts: &[Count],
    width: f64,
    colour: impl Fn(usize) -> &'static str,
    label_every: usize,
) -> String {
    let height = 260.0;
    let (left, bottom, top) = (40.0, 40.0, 30.0);
    let plot_height = height - bottom - top;
    let max = counts.iter().map(|c| c.count).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss, reason = "a handful of bars")]
    let slot = (width - left - 10.0) / counts.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" aria-label=\"{}\"><text x=\"{left}\" y=\"18\" font-weight=\"bold\">{}</text>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\
         <text x=\"4\" y=\"{}\">{max}</text><text x=\"4\" y=\"{}\">0</text>",
        escape(title),
        escape(title),
        height - bottom,
        width - 10.0,
        height - bottom,
        top + 10.0,
        height - bottom
    );
    #[allow(clippy::cast_precision_loss, reason = "a handful of bars")]
    for (index, count) in counts.iter().enumerate() {
        let bar_height = plot_height * share(count.count, max);
        let x = left + slot * index as f64 + slot * 0.1;
        let y = height - bottom - bar_height;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_height:.1}\" \
             fill=\"{}\"><title>{}: {}</title></rect>",
            slot * 0.8,
            colour(index),
            escape(&count.name),
            count.count
        );
        if index % label_every.max(1) == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                height - bottom + 16.0,
                escape(&count.name)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn table(out: &mut String, heading: &str, counts: &[Count]) {
    let _ = write!(out, "<div><h3>{}</h3>", escape(heading));
    if counts.is_empty() {
        out.push_str("<p>None.</p></div>");
        return;
    }
    out.push_str("<table><tr><th>name</th><th>count</th></tr>");
    for count in counts {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&count.name),
            count.count
        );
    }
    out.push_str("</table></div>");
}

/// The report as an HTML page.
#[must_use]
pub fn render_html(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("Security report {} to {}", report.from, report.to);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1>\
         <p>Security score <span class=\"score\">{}</span>/100</p>",
        escape(&title),
        escape(&title),
        report.score
    );
    let _ = write!(
        out,
        "<p>{} events from {} active users; {} of {} authentications failed; {} incidents \
         ({} high or critical unresolved); {} resolved, mean time to resolve {}.</p>",
        report.events,
        report.active_users,
        report.failed_authentications,
        report.authentications,
        report.incidents,
        report.unresolved_serious,
        report.resolved,
        report
            .mean_time_to_resolve_secs
            .map_or_else(|| "n/a".to_owned(), duration_text)
    );
    out.push_str("<h2>Recommendations</h2><ul>");
    for advice in &report.recommendations {
        let _ = write!(out, "<li>{}</li>", escape(advice));
    }
    out.push_str("</ul><h2>Charts</h2><div class=\"grid\">");
    let days = report.incidents_per_day.len();
    out.push_str(&bar_chart(
        "Incidents per day",
        &report.incidents_per_day,
        1000.0,
        |_| DAY_BAR_COLOUR,
        days.div_ceil(8),
    ));
    out.push_str(&bar_chart(
        "Incidents by severity",
        &report.incidents_by_severity,
        420.0,
        |index| SEVERITY_COLOURS[index % SEVERITY_COLOURS.len()].1,
        1,
    ));
    out.push_str("</div><h2>Figures</h2><div class=\"grid\">");
    table(&mut out, "Events by type", &report.events_by_type);
    table(&mut out, "Incidents by type", &report.incidents_by_type);
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
    out.push_str(
        "</div><h3>Incidents by type and severity</h3><table><tr><th>type</th>\
                  <th>severity</th><th>count</th></tr>",
    );
    for row in &report.incidents_by_type_and_severity {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&row.incident_type),
            escape(&row.severity),
            row.count
        );
    }
    let parts = &report.score_parts;
    let _ = write!(
        out,
        "</table><h2>How the score is computed</h2><p>100 minus: failed logins {:.1} (the \
         failure percentage, at most 25), incidents {:.1} (10 × severity-weighted incidents per \
         active user: critical 10, high 5, medium 2, low 0.5; at most 40), unresolved {:.1} (20 \
         × share of high and critical incidents unresolved), failed actions {:.1} (15 × share \
         of action attempts that failed).</p></body></html>",
        parts.failed_logins, parts.incidents, parts.unresolved, parts.failed_actions
    );
    out
}
