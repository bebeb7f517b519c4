//! Alert emails for incidents: rendering, recipients, throttling and
//! delivery.
//!
//! The responder decides who hears about an incident; this module turns
//! that into mail. [`AddressBook`] resolves the security team and a user's
//! address, [`Throttle`] holds notices so no recipient is mailed more often
//! than `[email] min_interval_secs` (what waits goes out as one digest),
//! [`render`] and [`render_digest`] write the subject and the text and HTML
//! bodies, and [`Mailer`] sends them over SMTP or writes them to the outbox
//! folder. Everything that came from events is redacted before it reaches a
//! message.

/// Appends formatted text to a `String`, where writing cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}

mod address;
mod config;
mod deliver;
mod error;
mod outbox;
mod render;
mod throttle;

pub use address::AddressBook;
pub use config::{EmailConfig, TlsMode, USER_ID_PLACEHOLDER};
pub use deliver::{Mailer, SMTP_PASSWORD_VAR, SMTP_USERNAME_VAR};
pub use error::{DeliveryError, EmailSetupError};
pub use render::{Audience, RenderedEmail, render, render_digest};
pub use throttle::{Batch, Throttle, ThrottlePolicy};
