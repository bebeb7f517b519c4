//! Why alert email could not be set up or delivered, grouped by who must act:
//! setup errors need an operator; delivery errors say whether a retry can
//! help. Messages never carry a password, a message body or a full address.

use std::io;
use std::path::PathBuf;

use crate::redact::redact_text;
use crate::secret::SecretFileError;

/// The mailer or the address book could not be built from the configuration
/// and environment; an operator must fix them.
#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    /// A configured address does not parse.
    #[error("{key}: {value:?} {reason}")]
    Address {
        /// The key, such as `email.from`.
        key: String,
        /// The configured text.
        value: String,
        /// Why it is not an address.
        reason: String,
    },
    /// The user directory cannot be read or holds bad entries.
    #[error("email.user_directory: {}", problems.join("; "))]
    Directory {
        /// The file.
        path: PathBuf,
        /// Every problem, each naming the file and the entry.
        problems: Vec<String>,
    },
    /// A `…_FILE` credential variable names a file that cannot be read.
    #[error(transparent)]
    Credentials(#[from] SecretFileError),
    /// Only one of the SMTP user name and password is set.
    #[error("{missing} is not set while {present} is: set both or neither")]
    IncompleteCredentials {
        /// The variable that is set.
        present: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// Credentials would travel unencrypted to a server off this host.
    #[error(
        "email.tls: \"none\" would send the SMTP password to {host} unencrypted; \
         use \"starttls\" or \"tls\", or a relay on this host"
    )]
    PlaintextCredentials {
        /// The configured SMTP host.
        host: String,
    },
    /// The TLS settings for the SMTP host could not be built.
    #[error("email.smtp_host: TLS setup for {host} failed")]
    Tls {
        /// The configured SMTP host.
        host: String,
        /// lettre's reason.
        source: lettre::transport::smtp::Error,
    },
}

/// One delivery attempt failed. [`DeliveryError::is_transient`] tells the
/// caller whether retrying the same message later can succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message had no recipient.
    #[error("no recipient for message {message_id}")]
    NoRecipients {
        /// The message's idempotency key.
        message_id: String,
    },
    /// A recipient is not an email address.
    #[error("recipient {} {reason}", redact_text(address))]
    BadAddress {
        /// The recipient as given.
        address: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The message could not be assembled.
    #[error("message {message_id} could not be built")]
    Build {
        /// The message's idempotency key.
        message_id: String,
        /// lettre's reason.
        source: lettre::error::Error,
    },
    /// The server answered with a 4xx reply: try again later.
    #[error("SMTP server deferred the message ({code}): {}", redact_text(detail))]
    Deferred {
        /// The reply code.
        code: u16,
        /// The server's words, personal data masked.
        detail: String,
    },
    /// The server answered with a 5xx reply: this message will not be
    /// accepted as it is.
    #[error("SMTP server rejected the message ({code}): {}", redact_text(detail))]
    Rejected {
        /// The reply code.
        code: u16,
        /// The server's words, personal data masked.
        detail: String,
    },
    /// The server could not be reached or the connection broke or timed
    /// out.
    #[error("SMTP server {host}:{port} unreachable")]
    Unreachable {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// lettre's reason.
        source: lettre::transport::smtp::Error,
    },
    /// The TLS handshake failed (certificate, protocol): the configuration
    /// or the server must change before a retry can help.
    #[error("TLS with SMTP server {host}:{port} failed")]
    Tls {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// lettre's reason.
        source: lettre::transport::smtp::Error,
    },
    /// The server said something the client did not understand.
    #[error("SMTP conversation with {host}:{port} failed")]
    Protocol {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// lettre's reason.
        source: lettre::transport::smtp::Error,
    },
    /// The `.eml` file could not be written.
    #[error("cannot write {path}")]
    Outbox {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

impl DeliveryError {
    /// Whether the same message may succeed if sent again later: a refused
    /// or timed-out connection, a 4xx reply, or an outbox write that failed
    /// for a reason other than permissions. Bad addresses, 5xx replies, TLS
    /// failures and protocol errors are permanent.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Deferred { .. } | Self::Unreachable { .. } => true,
            Self::Outbox { source, .. } => !matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ),
            Self::NoRecipients { .. }
            | Self::BadAddress { .. }
            | Self::Build { .. }
            | Self::Rejected { .. }
            | Self::Tls { .. }
            | Self::Protocol { .. } => false,
        }
    }
}
