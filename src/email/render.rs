//! Alert emails for incidents: a subject, a plain-text body and an HTML body
//! saying what happened, the evidence, the actions taken and what to do next.
//!
//! One incident gives a single alert; several give a digest that lists them
//! all, most severe first. Every value that came from events, rules or
//! actions is redacted before it is written, and escaped in the HTML part.

mod advice;
mod html;
mod text;
mod view;

use crate::incident::Incident;
use crate::signal::Severity;

use view::IncidentView;

/// Who an email is written for; decides the wording and the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The user whose account the incidents concern.
    User,
    /// The people who respond to incidents.
    SecurityTeam,
}

/// A rendered email, ready for a [`super::Mailer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, without control characters.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body: inline styles only, no external resources.
    pub html: String,
}

/// Renders an alert for `incidents`: a single alert for one, a digest for
/// several.
#[must_use]
pub fn render(incidents: &[&Incident], audience: Audience) -> RenderedEmail {
    render_digest(incidents, 0, audience)
}

/// Renders an alert for `incidents` plus `not_listed` further incidents
/// that were left out to keep the email bounded (a throttled recipient's
/// queue overflowed); the digest counts them as "and N more".
#[must_use]
pub fn render_digest(
    incidents: &[&Incident],
    not_listed: u64,
    audience: Audience,
) -> RenderedEmail {
    let mut views: Vec<IncidentView> = incidents.iter().map(|i| IncidentView::of(i)).collect();
    views.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mail = Mail {
        views,
        not_listed,
        audience,
    };
    RenderedEmail {
        subject: mail.subject(),
        text: text::write(&mail),
        html: html::write(&mail),
    }
}

/// What both writers need: the cleaned incidents in display order.
struct Mail {
    views: Vec<IncidentView>,
    not_listed: u64,
    audience: Audience,
}

impl Mail {
    /// The incident when this is a single alert rather than a digest.
    fn single(&self) -> Option<&IncidentView> {
        match self.views.as_slice() {
            [only] if self.not_listed == 0 => Some(only),
            _ => None,
        }
    }

    fn total(&self) -> u64 {
        u64::try_from(self.views.len())
            .unwrap_or(u64::MAX)
            .saturating_add(self.not_listed)
    }

    fn subject(&self) -> String {
        if let Some(only) = self.single() {
            return format!("[vigil] {} ({})", only.title(), only.id);
        }
        if self.total() == 0 {
            return "[vigil] no incidents".to_owned();
        }
        let mut subject = format!(
            "[vigil] {}: {}",
            view::plural(self.total(), "incident", "incidents"),
            self.severity_counts()
        );
        if self.not_listed > 0 {
            put!(subject, " and {} more", self.not_listed);
        }
        subject
    }

    /// `1 critical, 2 high`, most severe first; counts listed incidents.
    fn severity_counts(&self) -> String {
        Severity::ALL
            .iter()
            .rev()
            .filter_map(|&severity| {
                let count = self.views.iter().filter(|v| v.severity == severity).count();
                (count > 0).then(|| format!("{count} {}", severity.as_str()))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The incident types present, in the contract's order, for the advice
    /// section of a digest.
    fn kinds(&self) -> Vec<crate::incident::IncidentType> {
        crate::incident::IncidentType::ALL
            .into_iter()
            .filter(|kind| self.views.iter().any(|v| v.kind == *kind))
            .collect()
    }

    fn greeting(&self) -> String {
        let count = view::plural(self.total(), "incident", "incidents");
        match (self.audience, self.single()) {
            (Audience::User, Some(_)) => {
                "vigil, the service's security monitor, noticed activity on your account \
                 that needs your attention."
                    .to_owned()
            }
            (Audience::User, None) => format!(
                "vigil, the service's security monitor, noticed activity on your account \
                 that needs your attention: {count} since its last message."
            ),
            (Audience::SecurityTeam, Some(only)) => {
                format!("vigil reports incident {} ({}).", only.id, only.status)
            }
            (Audience::SecurityTeam, None) => {
                format!("vigil reports {count} since its last message to this address.")
            }
        }
    }

    fn closing(&self) -> &'static str {
        match self.audience {
            Audience::User => {
                "This message was sent by vigil. If something here is unclear, contact \
                 your security team and quote the incident id."
            }
            Audience::SecurityTeam => {
                "This message was sent by vigil. The incident record and the audit log \
                 hold the full history of each incident."
            }
        }
    }
}

#[cfg(test)]
mod tests;
