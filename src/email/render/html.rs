//! The HTML body: simple markup with inline styles (mail clients drop style
//! sheets) and no external resources. Every value is escaped, including the
//! ones already redacted.

use super::view::{IncidentView, more_incidents, plural};
use super::{Mail, advice};
use crate::incident::IncidentType;
use crate::signal::Severity;

const BODY: &str = "margin:0;padding:16px;background:#f4f5f7;\
                    font-family:Arial,Helvetica,sans-serif;color:#1f2328;";
const CARD: &str = "max-width:720px;margin:0 auto;background:#ffffff;\
                    border:1px solid #d0d7de;border-radius:6px;padding:20px;";
const SECTION: &str = "border-top:1px solid #d0d7de;margin-top:20px;padding-top:12px;";
const H2: &str = "font-size:18px;margin:0 0 4px 0;";
const H3: &str = "font-size:15px;margin:16px 0 6px 0;";
const MUTED: &str = "color:#57606a;font-size:13px;margin:0;";
const CELL_LABEL: &str = "padding:2px 12px 2px 0;color:#57606a;vertical-align:top;";
const CELL: &str = "padding:2px 0;vertical-align:top;";
const CODE: &str = "font-family:Consolas,Menlo,monospace;font-size:13px;";

pub(super) fn write(mail: &Mail) -> String {
    let mut out = String::with_capacity(8 * 1024);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    out.push_str(&escape(&mail.subject()));
    out.push_str("</title></head>\n");
    put!(out, "<body style=\"{BODY}\">\n<div style=\"{CARD}\">\n");
    put!(
        out,
        "<p style=\"margin:0 0 12px 0;\">{}</p>\n",
        escape(&mail.greeting())
    );

    if let Some(only) = mail.single() {
        incident(&mut out, only, mail);
        heading(&mut out, "What to do next");
        steps(&mut out, only.kind, mail);
    } else {
        overview(&mut out, mail);
        for view in &mail.views {
            incident(&mut out, view, mail);
        }
        put!(out, "<div style=\"{SECTION}\">\n");
        heading(&mut out, "What to do next");
        for kind in mail.kinds() {
            put!(
                out,
                "<p style=\"margin:8px 0 0 0;\">For <span style=\"{CODE}\">{}</span>:</p>\n",
                kind.as_str()
            );
            steps(&mut out, kind, mail);
        }
        out.push_str("</div>\n");
    }

    put!(
        out,
        "<p style=\"{MUTED}margin-top:20px;\">{}</p>\n",
        escape(mail.closing())
    );
    out.push_str("</div>\n</body></html>\n");
    out
}

fn overview(out: &mut String, mail: &Mail) {
    heading(out, "Overview");
    out.push_str("<ul style=\"margin:0;padding-left:20px;\">\n");
    for view in &mail.views {
        put!(
            out,
            "<li>{} {} for user {} <span style=\"{MUTED}\">({})</span></li>\n",
            badge(view.severity),
            escape(view.kind.as_str()),
            escape(&view.user),
            escape(&view.id)
        );
    }
    out.push_str("</ul>\n");
    if mail.not_listed > 0 {
        put!(
            out,
            "<p style=\"margin:8px 0 0 0;\">And {}, left out to keep this message \
             short; the incident records hold them all.</p>\n",
            more_incidents(mail.not_listed)
        );
    }
}

fn incident(out: &mut String, view: &IncidentView, mail: &Mail) {
    put!(out, "<div style=\"{SECTION}\">\n");
    put!(
        out,
        "<h2 style=\"{H2}\">{} {} for user {}</h2>\n",
        badge(view.severity),
        escape(view.kind.as_str()),
        escape(&view.user)
    );
    put!(
        out,
        "<p style=\"{MUTED}\">Incident <span style=\"{CODE}\">{}</span> ({}, revision {})</p>\n",
        escape(&view.id),
        view.status,
        view.revision
    );

    heading(out, "What happened");
    put!(
        out,
        "<p style=\"margin:0 0 8px 0;\">{}</p>\n",
        escape(advice::headline(view.kind, mail.audience))
    );
    facts(out, view);

    heading(out, "Evidence");
    evidence(out, view);

    heading(out, "Actions taken");
    actions(out, view);
    out.push_str("</div>\n");
}

fn facts(out: &mut String, view: &IncidentView) {
    let rows = [
        ("Type", view.kind.as_str().to_owned()),
        (
            "Severity",
            format!("{} (score {})", view.severity.as_str(), view.score),
        ),
        ("User", view.user.clone()),
        ("First seen", view.first_seen.clone()),
        ("Last seen", view.last_seen.clone()),
        ("Addresses", view.ips.joined()),
        ("Key ids", view.key_ids.joined()),
    ];
    table(
        out,
        rows.iter().map(|(label, value)| (*label, value.as_str())),
    );
}

fn evidence(out: &mut String, view: &IncidentView) {
    if view.signals.is_empty() {
        out.push_str("<p style=\"margin:0;\">No signals recorded.</p>\n");
        return;
    }
    out.push_str("<ol style=\"margin:0;padding-left:20px;\">\n");
    for signal in &view.signals {
        put!(
            out,
            "<li style=\"margin-bottom:8px;\"><span style=\"{CODE}\"><strong>{}</strong></span> \
             ({}): {}, score {}, seen {}, first at {}\n",
            escape(&signal.name),
            signal.source,
            signal.severity.as_str(),
            escape(&signal.score),
            plural(u64::from(signal.count), "time", "times"),
            escape(&signal.at)
        );
        table(
            out,
            signal
                .evidence
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        if signal.evidence_not_shown > 0 {
            put!(
                out,
                "<p style=\"{MUTED}\">({} more fields not shown)</p>\n",
                signal.evidence_not_shown
            );
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
    if view.signals_not_shown > 0 {
        put!(
            out,
            "<p style=\"{MUTED}\">({} more signals not shown)</p>\n",
            view.signals_not_shown
        );
    }
}

fn actions(out: &mut String, view: &IncidentView) {
    if view.actions.is_empty() {
        out.push_str("<p style=\"margin:0;\">None yet.</p>\n");
        return;
    }
    out.push_str("<ul style=\"margin:0;padding-left:20px;\">\n");
    for action in &view.actions {
        put!(
            out,
            "<li><span style=\"{CODE}\">{}</span>: {} ({})</li>\n",
            escape(&action.label),
            escape(&action.state),
            escape(&action.at)
        );
    }
    out.push_str("</ul>\n");
}

fn steps(out: &mut String, kind: IncidentType, mail: &Mail) {
    out.push_str("<ol style=\"margin:4px 0 0 0;padding-left:20px;\">\n");
    for step in advice::next_steps(kind, mail.audience) {
        put!(
            out,
            "<li style=\"margin-bottom:4px;\">{}</li>\n",
            escape(step)
        );
    }
    out.push_str("</ol>\n");
}

fn heading(out: &mut String, title: &str) {
    put!(out, "<h3 style=\"{H3}\">{}</h3>\n", escape(title));
}

fn table<'a>(out: &mut String, rows: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push_str("<table style=\"border-collapse:collapse;font-size:14px;\">\n");
    for (label, value) in rows {
        put!(
            out,
            "<tr><td style=\"{CELL_LABEL}\">{}</td><td style=\"{CELL}\">{}</td></tr>\n",
            escape(label),
            escape(value)
        );
    }
    out.push_str("</table>\n");
}

fn badge(severity: Severity) -> String {
    let colour = match severity {
        Severity::Critical => "#a40e26",
        Severity::High => "#bc4c00",
        Severity::Medium => "#7d4e00",
        Severity::Low => "#1a7f37",
    };
    format!(
        "<span style=\"display:inline-block;padding:1px 6px;border-radius:4px;\
         background:{colour};color:#ffffff;font-size:12px;font-weight:bold;\">{}</span>",
        severity.as_str().to_ascii_uppercase()
    )
}

/// `text` with the characters that mean something in HTML escaped.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
