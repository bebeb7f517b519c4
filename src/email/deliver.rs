//! Delivery of rendered alerts: over SMTP (lettre on tokio, STARTTLS or
//! implicit TLS through rustls, or plain SMTP for local relays), or as
//! `.eml` files in the outbox folder when no SMTP server is configured.
//!
//! Each message is multipart/alternative (plain text and HTML) and its
//! Message-ID derives from the caller's idempotency key, so a message sent
//! again after a crash can be recognised as the same one. Neither the
//! password nor a message body is ever logged.

use std::error::Error as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::address::{parse_address, parse_mailbox};
use super::config::{EmailConfig, TlsMode};
use super::render::RenderedEmail;
use super::{DeliveryError, EmailSetupError, outbox};
use crate::secret::read_secret;

/// The variable holding the SMTP user name (or `…_FILE` naming its file).
pub const SMTP_USERNAME_VAR: &str = "VIGIL_SMTP_USERNAME";
/// The variable holding the SMTP password (or `…_FILE` naming its file).
pub const SMTP_PASSWORD_VAR: &str = "VIGIL_SMTP_PASSWORD";

/// Sends rendered alerts from the configured sender.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    route: Route,
}

#[derive(Clone)]
enum Route {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        host: String,
        port: u16,
    },
    Outbox {
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = match &self.route {
            Route::Smtp { host, port, .. } => format!("smtp {host}:{port}"),
            Route::Outbox { dir } => format!("outbox {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.email.to_string())
            .field("route", &route)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `config`, with the SMTP login read from
    /// `VIGIL_SMTP_USERNAME` and `VIGIL_SMTP_PASSWORD` (or their `…_FILE`
    /// variants) when an SMTP server is configured.
    ///
    /// # Errors
    /// A sender that is not an address, a credential file that cannot be
    /// read, only one of user name and password set, a password that would
    /// travel unencrypted to another host, or TLS that cannot be set up.
    pub fn from_config(config: &EmailConfig) -> Result<Self, EmailSetupError> {
        let credentials = if config.uses_smtp() {
            smtp_credentials()?
        } else {
            None
        };
        Self::with_credentials(config, credentials)
    }

    fn with_credentials(
        config: &EmailConfig,
        credentials: Option<Credentials>,
    ) -> Result<Self, EmailSetupError> {
        let from = parse_mailbox(&config.from).map_err(|reason| EmailSetupError::Address {
            key: "email.from".to_owned(),
            value: config.from.clone(),
            reason,
        })?;
        let route = if config.uses_smtp() {
            smtp_route(config, credentials)?
        } else {
            Route::Outbox {
                dir: PathBuf::from(config.outbox_dir.trim()),
            }
        };
        Ok(Self { from, route })
    }

    /// Whether messages go to an SMTP server rather than the outbox.
    #[must_use]
    pub fn uses_smtp(&self) -> bool {
        matches!(self.route, Route::Smtp { .. })
    }

    /// The Message-ID header value a message with idempotency key `key`
    /// carries: `<token@sender-domain>`, the token being the key reduced to
    /// safe characters.
    #[must_use]
    pub fn message_id_for(&self, key: &str) -> String {
        format!("<{}@{}>", outbox::token(key), self.from.email.domain())
    }

    /// Builds the message `send` would deliver.
    ///
    /// # Errors
    /// No recipient, a recipient that is not an address, or a message
    /// lettre refuses to build.
    pub fn message(
        &self,
        to: &[String],
        email: &RenderedEmail,
        message_id: &str,
    ) -> Result<Message, DeliveryError> {
        if to.is_empty() {
            return Err(DeliveryError::NoRecipients {
                message_id: message_id.to_owned(),
            });
        }
        let subject: String = email
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(self.message_id_for(message_id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        for recipient in to {
            let address = parse_address(recipient).map_err(|reason| DeliveryError::BadAddress {
                address: recipient.clone(),
                reason,
            })?;
            builder = builder.to(Mailbox::new(None, address));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|source| DeliveryError::Build {
                message_id: message_id.to_owned(),
                source,
            })
    }

    /// Delivers `email` to `to`, with a Message-ID derived from
    /// `message_id` (an idempotency key such as `<incident id>.<action>`).
    ///
    /// # Errors
    /// See [`DeliveryError`]; [`DeliveryError::is_transient`] says whether
    /// a retry can help.
    pub async fn send(
        &self,
        to: &[String],
        email: &RenderedEmail,
        message_id: &str,
    ) -> Result<(), DeliveryError> {
        let message = self.message(to, email, message_id)?;
        match &self.route {
            Route::Smtp {
                transport,
                host,
                port,
            } => {
                transport
                    .send(message)
                    .await
                    .map_err(|e| classify(e, host, *port))?;
                tracing::debug!(message_id, recipients = to.len(), "Alert email sent");
            }
            Route::Outbox { dir } => {
                let dir = dir.clone();
                let key = message_id.to_owned();
                let bytes = message.formatted();
                let path = tokio::task::spawn_blocking(move || outbox::write(&dir, &key, &bytes))
                    .await
                    .map_err(|e| DeliveryError::Outbox {
                        path: PathBuf::new(),
                        source: std::io::Error::other(e),
                    })??;
                tracing::debug!(
                    message_id,
                    path = %path.display(),
                    "Alert email written to the outbox"
                );
            }
        }
        Ok(())
    }
}

/// The SMTP login from the environment: both parts or none.
fn smtp_credentials() -> Result<Option<Credentials>, EmailSetupError> {
    let username = read_secret(SMTP_USERNAME_VAR)?;
    let password = read_secret(SMTP_PASSWORD_VAR)?;
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(Credentials::new(username, password))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(EmailSetupError::IncompleteCredentials {
            present: SMTP_USERNAME_VAR,
            missing: SMTP_PASSWORD_VAR,
        }),
        (None, Some(_)) => Err(EmailSetupError::IncompleteCredentials {
            present: SMTP_PASSWORD_VAR,
            missing: SMTP_USERNAME_VAR,
        }),
    }
}

fn smtp_route(
    config: &EmailConfig,
    credentials: Option<Credentials>,
) -> Result<Route, EmailSetupError> {
    let host = config.smtp_host.trim().to_owned();
    if credentials.is_some() && config.tls == TlsMode::None && !is_loopback(&host) {
        return Err(EmailSetupError::PlaintextCredentials { host });
    }

    let tls_parameters = || {
        TlsParameters::builder(host.clone())
            .build_rustls()
            .map_err(|source| EmailSetupError::Tls {
                host: host.clone(),
                source,
            })
    };
    let tls = match config.tls {
        TlsMode::None => Tls::None,
        TlsMode::StartTls => Tls::Required(tls_parameters()?),
        TlsMode::Tls => Tls::Wrapper(tls_parameters()?),
    };

    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(config.smtp_port)
        .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))))
        .tls(tls);
    if let Some(credentials) = credentials {
        builder = builder.credentials(credentials);
    }
    Ok(Route::Smtp {
        transport: builder.build(),
        host,
        port: config.smtp_port,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sorts lettre's error into what the caller can do about it.
fn classify(error: lettre::transport::smtp::Error, host: &str, port: u16) -> DeliveryError {
    let host = host.to_owned();
    if let Some(code) = error.status() {
        let code = u16::from(code);
        let detail = error.source().map(ToString::to_string).unwrap_or_default();
        return if error.is_transient() {
            DeliveryError::Deferred { code, detail }
        } else {
            DeliveryError::Rejected { code, detail }
        };
    }
    if error.is_tls() {
        return DeliveryError::Tls {
            host,
            port,
            source: error,
        };
    }
    // lettre reports a server that closed the connection in the middle of
    // a reply as a response error reading "incomplete response"; that is a
    // broken connection, not a misunderstanding, so it is worth a retry.
    let closed = error
        .source()
        .is_some_and(|source| source.to_string() == "incomplete response");
    if (error.is_response() || error.is_client()) && !closed {
        return DeliveryError::Protocol {
            host,
            port,
            source: error,
        };
    }
    DeliveryError::Unreachable {
        host,
        port,
        source: error,
    }
}

#[cfg(test)]
mod tests;
