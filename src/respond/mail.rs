//! Email actions: `email_user` and the email half of `escalate`. Jobs wait
//! per recipient in a throttle, so a recipient gets at most one message per
//! `[email] min_interval_secs` and incidents arriving together go out as
//! one digest; each message is sent (or written to the outbox) by the
//! email module.

use std::sync::Arc;

use super::http_targets::AttemptError;
use super::job::{Job, Target};
use crate::config::Config;
use crate::email::{
    AddressBook, Audience, Mailer, Throttle, ThrottlePolicy, render, render_digest,
};
use crate::incident::Incident;

pub use crate::email::EmailSetupError as MailSetupError;

/// The throttle key of the security team, which is mailed as one.
const SECURITY_TEAM: &str = "security-team";

/// One message to send: its recipients and the jobs it answers.
#[derive(Debug, Clone)]
pub struct MailBatch {
    /// Addresses.
    pub to: Vec<String>,
    /// Who reads it.
    pub audience: Audience,
    /// The actions it carries out, one per incident.
    pub jobs: Vec<Job>,
    /// Incidents left out of a digest because the queue was full.
    pub dropped: u64,
}

impl MailBatch {
    /// The Message-ID seed: the first job's key, plus the count for a
    /// digest, so a resend of the same batch is recognisable.
    fn message_key(&self) -> String {
        match self.jobs.as_slice() {
            [one] => one.key.clone(),
            [first, ..] => format!("{}+{}", first.key, self.jobs.len() - 1),
            [] => "empty".to_owned(),
        }
    }
}

/// Sends batches through the configured mailer.
#[derive(Clone)]
pub struct MailSender {
    mailer: Arc<Mailer>,
}

impl MailSender {
    /// Renders and sends one batch.
    ///
    /// # Errors
    /// How the attempt failed; transient failures are retried.
    pub async fn send(&self, batch: &MailBatch) -> Result<(), AttemptError> {
        if batch.to.is_empty() {
            return Err(AttemptError::Permanent(
                "no address for the recipient".to_owned(),
            ));
        }
        let incidents: Vec<&Incident> = batch.jobs.iter().map(|job| &job.incident).collect();
        let email = if incidents.len() > 1 || batch.dropped > 0 {
            render_digest(&incidents, batch.dropped, batch.audience)
        } else {
            render(&incidents, batch.audience)
        };
        self.mailer
            .send(&batch.to, &email, &batch.message_key())
            .await
            .map_err(|e| {
                if e.is_transient() {
                    AttemptError::Transient(e.to_string())
                } else {
                    AttemptError::Permanent(e.to_string())
                }
            })
    }
}

/// Email jobs waiting for their recipient's next message.
pub struct MailQueue {
    addresses: AddressBook,
    throttle: Throttle<Job>,
}

impl MailQueue {
    /// Queues an email job at `now_ms` (wall clock). Returns false when
    /// the recipient's queue is full: the job is then only counted in the
    /// next digest ("and N more").
    pub fn push(&mut self, job: Job, now_ms: i64) -> bool {
        let recipient = match job.target {
            Target::SecurityTeam => SECURITY_TEAM.to_owned(),
            _ => job.incident.user_id.clone(),
        };
        self.throttle.push(&recipient, job, now_ms)
    }

    /// Messages due at `now_ms`.
    pub fn due(&mut self, now_ms: i64) -> Vec<MailBatch> {
        self.throttle
            .due(now_ms)
            .into_iter()
            .map(|batch| {
                let (to, audience) = if batch.recipient == SECURITY_TEAM {
                    (
                        self.addresses.security_team().to_vec(),
                        Audience::SecurityTeam,
                    )
                } else {
                    let to = self.addresses.user(&batch.recipient).into_iter().collect();
                    (to, Audience::User)
                };
                MailBatch {
                    to,
                    audience,
                    jobs: batch.items,
                    dropped: batch.dropped,
                }
            })
            .collect()
    }

    /// Whether no job waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.throttle.queued() == 0
    }
}

/// The sender and the queue for `config`'s `[email]` section.
///
/// # Errors
/// The mailer cannot be set up (bad address, unreadable credentials).
pub fn setup(config: &Config) -> Result<(MailSender, MailQueue), MailSetupError> {
    let mailer = Mailer::from_config(&config.email)?;
    let addresses = AddressBook::from_config(&config.email)?;
    let throttle = Throttle::new(ThrottlePolicy::from_config(&config.email));
    Ok((
        MailSender {
            mailer: Arc::new(mailer),
        },
        MailQueue {
            addresses,
            throttle,
        },
    ))
}
