//! The action runner: a thread with its own small async runtime that runs
//! queued actions with a timeout per attempt, retries transient failures
//! with exponential backoff and jitter, and records every attempt (audit
//! log, metrics, board) and every final outcome (journal). Ingestion only
//! queues work here, so a slow or failing target never stalls it.
//!
//! On shutdown no new attempt starts; attempts in flight finish; actions
//! waiting for a retry or for their email stay unfinished in the journal
//! and run on the next start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::blocklist::{BlockError, Blocklist};
use super::board::{ActionState, Board};
use super::http_targets::{AttemptError, HttpTargets};
use super::job::{Job, Target};
use super::journal::{Finished, Journal};
use super::mail::{MailBatch, MailQueue, MailSender};
use super::playbook::ActionKind;
use super::settings::ResponseConfig;
use crate::audit::{AuditKind, AuditLog};
use crate::metrics::ActionMetrics;
use crate::pipeline::Latency;

/// How often the runner looks at due emails and expired blocks.
const TICK: Duration = Duration::from_millis(250);

/// Everything attempts need, shared by the runner's tasks.
pub struct Shared {
    /// Delivery settings.
    pub config: ResponseConfig,
    /// Gateway and webhook.
    pub http: HttpTargets,
    /// The blocklist `block_ip` fills.
    pub blocklist: Blocklist,
    /// Planned and finished actions.
    pub journal: Arc<Mutex<Journal>>,
    /// The audit log, when configured.
    pub audit: Option<Arc<Mutex<AuditLog>>>,
    /// What the API shows.
    pub board: Board,
    /// Counters and durations, when metrics are served.
    pub metrics: Option<ActionMetrics>,
    /// Sends alert emails.
    pub mail: MailSender,
    /// Outcomes and attempt durations, for the run's summary and logs.
    pub tally: Arc<Mutex<Tally>>,
    /// Called with every attempt, for copies such as the archive.
    pub on_attempt: Option<AttemptObserver>,
}

/// One action attempt, as handed to an [`AttemptObserver`].
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The job attempted.
    pub job: &'a Job,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `succeeded`, `retrying` or `failed`.
    pub outcome: &'static str,
    /// Why it failed, when it did.
    pub error: Option<&'a str>,
    /// How long it took.
    pub took: Duration,
}

/// Receives every action attempt.
pub type AttemptObserver = Arc<dyn Fn(&Attempt<'_>) + Send + Sync>;

/// Action outcomes and attempt durations of this run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Final outcomes, by outcome.
    pub outcomes: std::collections::BTreeMap<&'static str, u64>,
    /// Every attempt's duration.
    pub latency: Latency,
    /// Attempt durations since the last periodic log line.
    window: Latency,
    window_started: Option<Instant>,
}

impl Tally {
    fn attempt(&mut self, took: Duration) {
        self.latency.record(took);
        self.window.record(took);
        self.window_started.get_or_insert_with(Instant::now);
    }

    /// Logs the last minute's attempt latency once a minute.
    fn log_window(&mut self) {
        let Some(started) = self.window_started else {
            return;
        };
        if started.elapsed() < Duration::from_mins(1) {
            return;
        }
        tracing::info!(
            attempts = self.window.len(),
            p50_ms = self.window.quantile_ms(0.5),
            p99_ms = self.window.quantile_ms(0.99),
            p999_ms = self.window.quantile_ms(0.999),
            "Action latency over the last minute"
        );
        self.window = Latency::default();
        self.window_started = None;
    }
}

/// A handle on the running action runner.
pub struct Runner {
    jobs: mpsc::UnboundedSender<Job>,
    stopping: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Runner {
    /// Starts the runner thread with `mail` for email actions.
    ///
    /// # Errors
    /// The runtime or thread cannot be created.
    pub fn start(shared: Shared, mail: MailQueue) -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let (stopping, stop_seen) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("vigil-actions".to_owned())
            .spawn(move || runtime.block_on(run(Arc::new(shared), mail, receiver, stop_seen)))?;
        Ok(Self {
            jobs,
            stopping,
            thread,
        })
    }

    /// Queues a journaled job.
    pub fn submit(&self, job: Job) {
        // The runner only stops after `finish`, which consumes the handle.
        let _ = self.jobs.send(job);
    }

    /// Stops taking jobs, waits up to `drain` for queued ones (less when
    /// `stop` is raised), then lets attempts in flight finish and returns.
    pub fn finish(self, drain: Duration, stop: &AtomicBool) {
        drop(self.jobs);
        let deadline = Instant::now() + drain;
        while !self.thread.is_finished() {
            if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                let _ = self.stopping.send(true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.thread.join();
    }
}

async fn run(
    shared: Arc<Shared>,
    mut mail: MailQueue,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stopping: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut open = true;
    let mut tick = tokio::time::interval(TICK);
    loop {
        if *stopping.borrow() || (!open && tasks.is_empty() && mail.is_empty()) {
            break;
        }
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some(job) => accept(&shared, &mut mail, &mut tasks, &permits, &stopping, job),
                None => open = false,
            },
            _ = tick.tick() => {
                on_tick(&shared, &mut mail, &mut tasks, &permits, &stopping);
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {},
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Routes a job: emails wait in the mail queue for their digest, the rest
/// start at once.
fn accept(
    shared: &Arc<Shared>,
    mail: &mut MailQueue,
    tasks: &mut JoinSet<()>,
    permits: &Arc<Semaphore>,
    stopping: &watch::Receiver<bool>,
    job: Job,
) {
    if is_email(&job) {
        let summary = job.clone();
        if !mail.push(job, Utc::now().timestamp_millis()) {
            finish(shared, &summary, "summarised", 0);
        }
        return;
    }
    let work = Work::One(job);
    tasks.spawn(with_retries(
        Arc::clone(shared),
        work,
        Arc::clone(permits),
        stopping.clone(),
    ));
}

fn on_tick(
    shared: &Arc<Shared>,
    mail: &mut MailQueue,
    tasks: &mut JoinSet<()>,
    permits: &Arc<Semaphore>,
    stopping: &watch::Receiver<bool>,
) {
    let now = Utc::now();
    for batch in mail.due(now.timestamp_millis()) {
        let work = Work::Mail(batch);
        tasks.spawn(with_retries(
            Arc::clone(shared),
            work,
            Arc::clone(permits),
            stopping.clone(),
        ));
    }
    shared
        .tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .log_window();
    if let Err(e) = shared.blocklist.expire(now) {
        tracing::error!(error = %e, "Blocklist file could not be rewritten");
    }
}

fn is_email(job: &Job) -> bool {
    matches!(
        (job.action, &job.target),
        (ActionKind::EmailUser, _) | (ActionKind::Escalate, Target::SecurityTeam)
    )
}

/// One unit of work with its retries: a single job, or one email that
/// carries several jobs (a digest).
enum Work {
    One(Job),
    Mail(MailBatch),
}

impl Work {
    fn jobs(&self) -> &[Job] {
        match self {
            Self::One(job) => std::slice::from_ref(job),
            Self::Mail(batch) => &batch.jobs,
        }
    }

    async fn attempt(&self, shared: &Shared) -> Result<(), AttemptError> {
        match self {
            Self::One(job) => perform(shared, job).await,
            Self::Mail(batch) => shared.mail.send(batch).await,
        }
    }
}

/// Does the action once.
async fn perform(shared: &Shared, job: &Job) -> Result<(), AttemptError> {
    match (&job.action, &job.target) {
        (ActionKind::RevokeApiKey, Target::ApiKey(key)) => shared.http.revoke(job, key).await,
        (ActionKind::BlockIp, Target::Ip(ip)) => shared
            .blocklist
            .block(*ip, &job.incident.incident_id, Utc::now())
            .map(|_| ())
            .map_err(|e| match e {
                BlockError::Allowlisted(_) => AttemptError::Permanent(e.to_string()),
                BlockError::Io(io) => AttemptError::Transient(format!("blocklist file: {io}")),
            }),
        (ActionKind::Webhook | ActionKind::Escalate, Target::Webhook) => {
            shared.http.post_webhook(job, Utc::now().timestamp()).await
        }
        (action, target) => Err(AttemptError::Permanent(format!(
            "{} cannot act on {}",
            action.as_str(),
            target.label()
        ))),
    }
}

/// Runs `work` until it succeeds, fails for good, runs out of attempts or
/// the runner stops (then it stays unfinished in the journal).
async fn with_retries(
    shared: Arc<Shared>,
    work: Work,
    permits: Arc<Semaphore>,
    mut stopping: watch::Receiver<bool>,
) {
    let max = shared.config.max_attempts.max(1);
    let timeout = Duration::from_secs(shared.config.timeout_secs.max(1));
    for attempt in 1..=max {
        if *stopping.borrow() {
            return;
        }
        let Ok(permit) = permits.acquire().await else {
            return;
        };
        if *stopping.borrow() {
            return;
        }
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, work.attempt(&shared)).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::Transient("timed out".to_owned())),
        };
        drop(permit);
        let last = result.is_ok()
            || attempt == max
            || !result.as_ref().is_err_and(AttemptError::is_transient);
        for job in work.jobs() {
            record_attempt(&shared, job, attempt, &result, started.elapsed(), last);
        }
        if last {
            let outcome = if result.is_ok() {
                "succeeded"
            } else {
                "failed"
            };
            for job in work.jobs() {
                finish(&shared, job, outcome, attempt);
            }
            return;
        }
        let wait = backoff(&shared.config, attempt);
        tokio::select! {
            () = tokio::time::sleep(wait) => {},
            _ = stopping.changed() => return,
        }
    }
}

/// Exponential backoff with equal jitter: half the doubled wait, plus a
/// random share of the other half.
fn backoff(config: &ResponseConfig, attempt: u32) -> Duration {
    let doubled = config
        .backoff_initial_ms
        .saturating_mul(1 << attempt.saturating_sub(1).min(20))
        .min(config.backoff_max_ms);
    let half = doubled / 2;
    Duration::from_millis(half + rand::thread_rng().gen_range(0..=half))
}

fn record_attempt(
    shared: &Shared,
    job: &Job,
    attempt: u32,
    result: &Result<(), AttemptError>,
    took: Duration,
    last: bool,
) {
    let outcome = match result {
        Ok(()) => "succeeded",
        Err(_) if !last => "retrying",
        Err(_) => "failed",
    };
    let error = result.as_ref().err().map(ToString::to_string);
    shared
        .tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .attempt(took);
    if let Some(metrics) = &shared.metrics {
        metrics.attempt(job.action.as_str(), outcome, took);
    }
    if let Some(reason) = &error {
        tracing::warn!(
            action = job.action.as_str(),
            incident = %job.incident.incident_id,
            attempt,
            outcome,
            reason = %reason,
            "Action attempt failed"
        );
    } else {
        tracing::debug!(
            action = job.action.as_str(),
            incident = %job.incident.incident_id,
            attempt,
            "Action succeeded"
        );
    }
    if let Some(observe) = &shared.on_attempt {
        observe(&Attempt {
            job,
            attempt,
            outcome,
            error: error.as_deref(),
            took,
        });
    }
    shared.board.action(
        &job.key,
        ActionState {
            status: outcome.to_owned(),
            attempts: attempt,
            at: Utc::now(),
        },
    );
    audit(
        shared,
        AuditKind::ActionAttempt,
        &json!({
            "key": job.key,
            "incident_id": job.incident.incident_id,
            "action": job.action.as_str(),
            "target": job.target.label(),
            "attempt": attempt,
            "outcome": outcome,
            "error": error,
            "duration_ms": took.as_secs_f64() * 1_000.0,
        }),
    );
}

fn finish(shared: &Shared, job: &Job, outcome: &'static str, attempts: u32) {
    *shared
        .tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .outcomes
        .entry(outcome)
        .or_default() += 1;
    let finished = Finished {
        key: job.key.clone(),
        outcome: outcome.to_owned(),
        attempts,
        at: Utc::now(),
    };
    let mut journal = shared
        .journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Err(e) = journal.finish(finished) {
        tracing::error!(error = %e, action = job.action.as_str(), "Action journal could not be written");
    }
    if let Some(metrics) = &shared.metrics {
        metrics.set_queued(journal.depth());
    }
}

/// Appends to the audit log, when there is one; a failure is logged, as
/// the action itself has already happened.
pub fn audit(shared: &Shared, kind: AuditKind, data: &serde_json::Value) {
    if let Some(log) = &shared.audit {
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = log.append(kind, data) {
            tracing::error!(error = %e, "Audit log could not be written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let config = ResponseConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1_000,
            ..ResponseConfig::default()
        };
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1_000),
            (9, 1_000),
        ] {
            for _ in 0..20 {
                let wait = backoff(&config, attempt).as_millis();
                assert!(
                    (full / 2..=full).contains(&wait),
                    "attempt {attempt}: {wait} ms outside [{}, {full}]",
                    full / 2
                );
            }
        }
    }
}
