//! The plain-text body: headed sections, prose wrapped at 76 columns.

use super::view::{IncidentView, more_incidents, plural};
use super::{Mail, advice};

/// Where prose is wrapped.
const WIDTH: usize = 76;
/// What the line between the incidents of a digest is drawn with; `=`
/// would be escaped by quoted-printable encoding.
const RULE: &str = "*";

pub(super) fn write(mail: &Mail) -> String {
    let mut out = Text::default();
    out.prose(&mail.greeting(), "");
    out.blank();

    if let Some(only) = mail.single() {
        incident(&mut out, only, None, mail);
        out.heading("What to do next");
        steps(&mut out, only.kind, mail);
    } else {
        overview(&mut out, mail);
        for (index, view) in mail.views.iter().enumerate() {
            out.line(RULE.repeat(WIDTH));
            let place = format!("{} of {}", index + 1, mail.views.len());
            incident(&mut out, view, Some(&place), mail);
        }
        out.line(RULE.repeat(WIDTH));
        out.heading("What to do next");
        for kind in mail.kinds() {
            out.line(format!("For {}:", kind.as_str()));
            steps(&mut out, kind, mail);
        }
    }

    out.line("-- ");
    out.prose(mail.closing(), "");
    out.text
}

fn overview(out: &mut Text, mail: &Mail) {
    out.heading("Overview");
    for view in &mail.views {
        out.line(format!("  - {} ({})", view.title(), view.id));
    }
    if mail.not_listed > 0 {
        out.prose(
            &format!(
                "And {}, left out to keep this message short; the incident \
                 records hold them all.",
                more_incidents(mail.not_listed)
            ),
            "  ",
        );
    }
    out.blank();
}

/// Writes one incident; `place` (`2 of 5`) numbers it within a digest.
fn incident(out: &mut Text, view: &IncidentView, place: Option<&str>, mail: &Mail) {
    match place {
        Some(place) => out.line(format!("{place}: {}", view.title())),
        None => out.line(view.title()),
    }
    out.line(format!(
        "Incident {} ({}, revision {})",
        view.id, view.status, view.revision
    ));

    out.heading("What happened");
    out.prose(advice::headline(view.kind, mail.audience), "  ");
    out.blank();
    facts(out, view);

    out.heading("Evidence");
    evidence(out, view);

    out.heading("Actions taken");
    actions(out, view);
}

fn facts(out: &mut Text, view: &IncidentView) {
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
    for (label, value) in rows {
        out.line(format!("  {:<12}{value}", format!("{label}:")));
    }
}

fn evidence(out: &mut Text, view: &IncidentView) {
    if view.signals.is_empty() {
        out.line("  No signals recorded.");
    }
    for (index, signal) in view.signals.iter().enumerate() {
        out.line(format!(
            "  {}. {} ({}): {}, score {}, seen {}, first at {}",
            index + 1,
            signal.name,
            signal.source,
            signal.severity.as_str(),
            signal.score,
            plural(u64::from(signal.count), "time", "times"),
            signal.at
        ));
        for (key, value) in &signal.evidence {
            out.line(format!("       {key}: {value}"));
        }
        if signal.evidence_not_shown > 0 {
            out.line(format!(
                "       ({} more fields not shown)",
                signal.evidence_not_shown
            ));
        }
    }
    if view.signals_not_shown > 0 {
        out.line(format!(
            "  ({} more signals not shown)",
            view.signals_not_shown
        ));
    }
}

fn actions(out: &mut Text, view: &IncidentView) {
    if view.actions.is_empty() {
        out.line("  None yet.");
    }
    for action in &view.actions {
        out.line(format!(
            "  - {}: {} ({})",
            action.label, action.state, action.at
        ));
    }
}

fn steps(out: &mut Text, kind: crate::incident::IncidentType, mail: &Mail) {
    for (index, step) in advice::next_steps(kind, mail.audience).iter().enumerate() {
        let number = format!("  {}. ", index + 1);
        let indent = " ".repeat(number.len());
        let mut lines = wrap(step, WIDTH - indent.len()).into_iter();
        if let Some(first) = lines.next() {
            out.line(format!("{number}{first}"));
        }
        for rest in lines {
            out.line(format!("{indent}{rest}"));
        }
    }
    out.blank();
}

/// A body under construction.
#[derive(Default)]
struct Text {
    text: String,
}

impl Text {
    fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn heading(&mut self, title: &str) {
        if !self.text.ends_with("\n\n") {
            self.blank();
        }
        self.line(title);
        self.line("-".repeat(title.chars().count()));
    }

    fn prose(&mut self, text: &str, indent: &str) {
        for line in wrap(text, WIDTH - indent.len()) {
            self.line(format!("{indent}{line}"));
        }
    }
}

/// Words of `text` in lines of at most `width` characters (a longer word
/// gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let needed = current.chars().count() + 1 + word.chars().count();
        if !current.is_empty() && needed > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn prose_wraps_between_words() {
        let lines = wrap("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
        assert_eq!(wrap("unbreakableword", 4), ["unbreakableword"]);
    }
}
