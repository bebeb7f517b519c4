//! Response: turning incidents into audited actions.
//!
//! The collector hands every incident revision to [`Response`], which
//! audits it, plans the actions the playbook calls for (suppressed for
//! allowlisted users and ranges, recorded only in dry-run mode or when no
//! target is configured), journals them and queues them for the action
//! runner. The incident record carries each action as planned; the audit
//! log, the metrics and the HTTP API's board carry how it went.
//!
//! Delivery is at least once up to the journal and exactly once past it:
//! an action is journaled before the input that caused it is acknowledged,
//! its idempotency key (`<incident>/<action>/<target>`) is never planned
//! twice, and unfinished actions resume on the next start.

mod blocklist;
mod board;
mod executor;
mod http_targets;
mod job;
mod journal;
mod mail;
mod persist;
mod plan;
mod playbook;
mod settings;
mod suppress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

pub use blocklist::{Block, BlockError, Blocklist};
pub use board::{ActionState, Board, Filter};
pub use http_targets::{
    AttemptError, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, webhook_body,
};
pub use job::{Job, Target, job_key};
pub use journal::{Finished, Journal};
pub use plan::{PlanContext, Planned, Reach, plan};
pub use playbook::{ActionKind, Playbook, PlaybookError};
pub use settings::{BlocklistConfig, GatewayConfig, ResponseConfig, WebhookConfig, url_problem};
pub use suppress::{Allowlist, Silence, SilenceMatch, Silences};

pub use crate::audit::LineObserver;
use crate::audit::{AuditKind, AuditLog};
use crate::config::Config;
use crate::incident::Incident;
use crate::metrics::ActionMetrics;
use crate::pipeline::Latency;
use crate::secret::read_secret;
use crate::signal::Signal;
pub use executor::{Attempt, AttemptObserver};
use executor::{Runner, Shared, Tally};

/// Why the response system could not start.
#[derive(Debug, thiserror::Error)]
pub enum ResponseSetupError {
    /// The playbook is unreadable or invalid.
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
    /// A secret file named by a `…_FILE` variable cannot be read.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretFileError),
    /// The state folder, journal, blocklist or silences cannot be used.
    #[error("response state in {path}")]
    State {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The audit log cannot be opened.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The email settings cannot be used.
    #[error(transparent)]
    Email(#[from] mail::MailSetupError),
    /// The HTTP client cannot be built.
    #[error("HTTP client")]
    Http(#[from] reqwest::Error),
    /// The runner thread cannot start.
    #[error("action runner")]
    Runner(#[source] std::io::Error),
}

/// Where copies of the response system's records go (the archive).
#[derive(Default)]
pub struct Copies {
    /// Every action attempt.
    pub attempts: Option<AttemptObserver>,
    /// Every audit record, as written.
    pub audit_lines: Option<LineObserver>,
}

/// The parts the HTTP API shares with the response system.
#[derive(Clone)]
pub struct ResponseHandles {
    /// Recent incidents with live action state.
    pub board: Board,
    /// Blocked addresses.
    pub blocklist: Blocklist,
    /// Silences in force.
    pub silences: Silences,
    /// The audit log, when configured.
    pub audit: Option<Arc<Mutex<AuditLog>>>,
    /// Requests for the collector (manual resolution).
    pub commands: crossbeam_channel::Sender<Command>,
}

/// A request the collector carries out between batches.
pub enum Command {
    /// Resolve an incident by hand; the reply is its new revision, or
    /// `None` when it is unknown or already resolved.
    Resolve {
        /// The incident.
        id: String,
        /// Who asked (a role, never a token).
        by: String,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<Option<Incident>>,
    },
}

/// The collector's side of the response system.
pub struct Response {
    playbook: Playbook,
    allow: Allowlist,
    dry_run: bool,
    reach: Reach,
    drain: Duration,
    journal: Arc<Mutex<Journal>>,
    runner: Runner,
    handles: ResponseHandles,
    commands: crossbeam_channel::Receiver<Command>,
    metrics: Option<ActionMetrics>,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    planned: BTreeMap<String, u64>,
}

/// What the response system did in one run.
#[derive(Debug, Default)]
pub struct ActionSummary {
    /// Actions planned, by the status they started in (`pending`,
    /// `suppressed`, `dry_run`, `recorded`).
    pub planned: BTreeMap<String, u64>,
    /// Actions finished, by outcome.
    pub finished: BTreeMap<&'static str, u64>,
    /// Actions still queued at exit (they resume on the next start).
    pub queued: usize,
    /// Duration of every attempt.
    pub latency: Latency,
}

impl Response {
    /// Sets up playbook, journal, blocklist, silences, audit log and the
    /// action runner from `config`, and queues the actions a previous run
    /// left unfinished.
    ///
    /// # Errors
    /// A part cannot be set up; the message names the file or setting.
    pub fn start(
        config: &Config,
        metrics: Option<ActionMetrics>,
        stop: Arc<AtomicBool>,
        copies: Copies,
    ) -> Result<Self, ResponseSetupError> {
        let settings = &config.response;
        let playbook = match settings.playbook.trim() {
            "" => Playbook::builtin(),
            path => Playbook::load(Path::new(path))?,
        };
        let state_dir = state_dir(config)?;
        let state_file = |name: &str| state_dir.as_ref().map(|dir| dir.join(name));
        let allow = Allowlist::new(settings.allowed_nets(), settings.allow_users.clone());
        let blocklist = Blocklist::open(
            config.blocklist.clone(),
            allow.clone(),
            state_file("blocklist.json"),
        )
        .map_err(state_error(state_file("blocklist.json")))?;
        let silences = Silences::open(state_file("silences.json"))
            .map_err(state_error(state_file("silences.json")))?;
        let journal = match state_file("actions.jsonl") {
            Some(path) => Journal::open(&path).map_err(state_error(Some(path)))?,
            None => Journal::in_memory(),
        };
        let unfinished = journal.unfinished();
        let journal = Arc::new(Mutex::new(journal));
        let audit = match config.audit.path.trim() {
            "" => None,
            path => {
                let mut log = AuditLog::open(Path::new(path))?;
                if let Some(observer) = copies.audit_lines {
                    log.observe(observer);
                }
                Some(Arc::new(Mutex::new(log)))
            }
        };
        let http = http_targets::HttpTargets::new(
            Duration::from_secs(settings.timeout_secs.max(1)),
            &config.gateway.revoke_url,
            read_secret("VIGIL_GATEWAY_TOKEN")?,
            &config.webhook.url,
            read_secret("VIGIL_WEBHOOK_SECRET")?,
        )?;
        let (sender, queue) = mail::setup(config)?;
        let board = Board::default();
        let tally = Arc::new(Mutex::new(Tally::default()));
        let reach = Reach {
            gateway: http.can_revoke(),
            webhook: http.has_webhook(),
            security_team: !config.email.security_team.is_empty(),
        };
        let shared = Shared {
            config: settings.clone(),
            http,
            blocklist: blocklist.clone(),
            journal: Arc::clone(&journal),
            audit: audit.clone(),
            board: board.clone(),
            metrics: metrics.clone(),
            mail: sender,
            tally: Arc::clone(&tally),
            on_attempt: copies.attempts,
        };
        let runner = Runner::start(shared, queue).map_err(ResponseSetupError::Runner)?;
        if !unfinished.is_empty() {
            tracing::info!(
                actions = unfinished.len(),
                "Resuming actions left unfinished"
            );
        }
        for job in unfinished {
            runner.submit(job);
        }
        let (command_tx, commands) = crossbeam_channel::unbounded();
        Ok(Self {
            playbook,
            allow,
            dry_run: settings.dry_run,
            reach,
            drain: Duration::from_secs(settings.drain_secs),
            journal,
            runner,
            handles: ResponseHandles {
                board,
                blocklist,
                silences,
                audit,
                commands: command_tx,
            },
            commands,
            metrics,
            stop,
            tally,
            planned: BTreeMap::new(),
        })
    }

    /// What the HTTP API needs.
    #[must_use]
    pub fn handles(&self) -> ResponseHandles {
        self.handles.clone()
    }

    /// Requests waiting for the collector.
    #[must_use]
    pub fn commands(&self) -> &crossbeam_channel::Receiver<Command> {
        &self.commands
    }

    /// Whether a silence mutes `signal` now; muted signals join no
    /// incident.
    #[must_use]
    pub fn mutes(&self, signal: &Signal) -> bool {
        let muted = self.handles.silences.mutes(signal, Utc::now());
        if muted && let Some(metrics) = &self.metrics {
            metrics.silenced();
        }
        muted
    }

    /// Audits a new revision, adds the actions it calls for to it, and
    /// journals and queues those that are to run.
    ///
    /// # Errors
    /// The journal cannot be written: the input must not be acknowledged.
    pub fn on_revision(&mut self, incident: &mut Incident) -> std::io::Result<()> {
        let context = PlanContext {
            playbook: &self.playbook,
            allow: &self.allow,
            dry_run: self.dry_run,
            reach: self.reach,
        };
        let planned = plan(incident, &context, Utc::now());
        let mut jobs = Vec::new();
        {
            let journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
            for step in &planned {
                *self.planned.entry(step.record.status.clone()).or_default() += 1;
                incident.actions.push(step.record.clone());
                if let Some(job) = &step.job
                    && !journal.knows(&job.key)
                {
                    jobs.push(job.clone());
                }
            }
        }
        self.audit_revision(incident, &planned);
        if !jobs.is_empty() {
            for job in &mut jobs {
                job.incident.clone_from(incident);
            }
            let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
            journal.plan(&jobs)?;
            if let Some(metrics) = &self.metrics {
                metrics.set_queued(journal.depth());
            }
        }
        self.handles.board.record(incident);
        for job in jobs {
            self.runner.submit(job);
        }
        Ok(())
    }

    /// Marks a manual resolution in the audit log.
    pub fn audit_resolution(&self, incident: &Incident, by: &str) {
        self.append_audit(
            AuditKind::IncidentResolved,
            &json!({"incident_id": incident.incident_id, "revision": incident.revision, "by": by}),
        );
    }

    /// Waits for queued actions (up to `[response] drain_secs`, less once
    /// a stop is requested), stops the runner and sums up the run.
    #[must_use]
    pub fn finish(self) -> ActionSummary {
        let depth = || {
            self.journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .depth()
        };
        let pending = depth();
        if pending > 0 {
            tracing::info!(actions = pending, "Waiting for queued actions");
        }
        self.runner.finish(self.drain, &self.stop);
        let queued = depth();
        if queued > 0 {
            tracing::warn!(actions = queued, "Actions left queued for the next start");
        }
        if let Some(log) = &self.handles.audit
            && let Err(e) = log.lock().unwrap_or_else(PoisonError::into_inner).sync()
        {
            tracing::error!(error = %e, "Audit log could not be synced");
        }
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        ActionSummary {
            planned: self.planned,
            finished: std::mem::take(&mut tally.outcomes),
            queued,
            latency: std::mem::take(&mut tally.latency),
        }
    }

    fn audit_revision(&self, incident: &Incident, planned: &[Planned]) {
        self.append_audit(AuditKind::IncidentRevision, incident);
        for step in planned {
            self.append_audit(
                AuditKind::ActionPlanned,
                &json!({
                    "key": step.key,
                    "incident_id": incident.incident_id,
                    "action": step.record.action,
                    "target": step.record.target,
                    "status": step.record.status,
                }),
            );
        }
    }

    fn append_audit<T: serde::Serialize>(&self, kind: AuditKind, data: &T) {
        if let Some(log) = &self.handles.audit {
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = log.append(kind, data) {
                tracing::error!(error = %e, "Audit log could not be written");
            }
        }
    }
}

/// The state folder, created when configured.
fn state_dir(config: &Config) -> Result<Option<PathBuf>, ResponseSetupError> {
    let Some(dir) = config.state.folder() else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir).map_err(|source| ResponseSetupError::State {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Some(dir.to_path_buf()))
}

fn state_error(path: Option<PathBuf>) -> impl FnOnce(std::io::Error) -> ResponseSetupError {
    move |source| ResponseSetupError::State {
        path: path.unwrap_or_default(),
        source,
    }
}
