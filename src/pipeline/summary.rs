//! The end-of-run summary: counts of everything a run saw and did.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::collector::CollectorStats;
use super::latency::Latency;
use super::reader::ReadStats;
use super::shard::Shard;
use crate::event::RejectReason;
use crate::incident::Incident;
use crate::respond::ActionSummary;

/// What one run read, found and wrote.
#[derive(Debug)]
pub struct RunSummary {
    /// Lines and bytes read.
    pub read: ReadStats,
    /// Events applied to profiles.
    pub events: u64,
    /// Events dropped as redeliveries of a recent `event_id`.
    pub duplicates: u64,
    /// Records refused, by reason.
    pub rejects: BTreeMap<RejectReason, u64>,
    /// Signals raised, by detector or rule id.
    pub signals: BTreeMap<String, u64>,
    /// Incident revisions written.
    pub revisions: u64,
    /// The latest revision of every incident, by id.
    pub incidents: BTreeMap<String, Incident>,
    /// Users with a profile at the end.
    pub users: u64,
    /// Profiles evicted to stay within `[profile] max_users`.
    pub evicted: u64,
    /// Users still in cold start at the end, by detector.
    pub cold_start_users: BTreeMap<&'static str, u64>,
    /// Evaluations skipped for cold start, by detector.
    pub cold_start_skips: BTreeMap<&'static str, u64>,
    /// Bytes of profile state at the end.
    pub state_bytes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The part of it spent after the input was analyzed, waiting for
    /// queued response actions to finish.
    pub actions_wait: Duration,
    /// Time from reading a batch to handing its outputs to the sinks.
    pub latency: Latency,
    /// What the response system did, when it ran.
    pub actions: Option<ActionSummary>,
}

impl RunSummary {
    pub(super) fn new(
        read: ReadStats,
        shards: &[Shard],
        collected: CollectorStats,
        elapsed: Duration,
    ) -> Self {
        let mut summary = Self {
            read,
            events: 0,
            duplicates: 0,
            rejects: collected.rejects,
            signals: collected.signals,
            revisions: collected.revisions,
            incidents: collected.incidents,
            latency: collected.latency_us,
            actions: collected.actions,
            actions_wait: collected.actions_wait,
            users: 0,
            evicted: 0,
            cold_start_users: BTreeMap::new(),
            cold_start_skips: BTreeMap::new(),
            state_bytes: 0,
            elapsed,
        };
        for shard in shards {
            let stats = shard.stats();
            summary.events += stats.events;
            summary.duplicates += stats.duplicates;
            summary.evicted += stats.evicted;
            summary.users += shard.users() as u64;
            summary.state_bytes += shard.state_bytes() as u64;
            add_counts(&mut summary.cold_start_skips, stats.cold_start_skips);
            add_counts(&mut summary.cold_start_users, shard.cold_start_users());
        }
        summary
    }

    /// Records refused in all.
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.rejects.values().sum()
    }

    /// Wall time spent analyzing the input: the run less the final wait
    /// for queued actions, which run beside the pipeline.
    #[must_use]
    pub fn analysis_time(&self) -> Duration {
        self.elapsed.saturating_sub(self.actions_wait)
    }

    /// Records analyzed per second of [`RunSummary::analysis_time`].
    #[must_use]
    pub fn events_per_second(&self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "a rate for display")]
        let records = self.read.records as f64;
        records / self.analysis_time().as_secs_f64().max(1e-9)
    }
}

fn add_counts(into: &mut BTreeMap<&'static str, u64>, from: BTreeMap<&'static str, u64>) {
    for (key, count) in from {
        *into.entry(key).or_default() += count;
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "records {}  events {}  duplicates {}  rejected {}  users {}  signals {}  \
             incidents {} ({} revisions)",
            self.read.records,
            self.events,
            self.duplicates,
            self.rejected(),
            self.users,
            self.signals.values().sum::<u64>(),
            self.incidents.len(),
            self.revisions,
        )?;
        for (reason, count) in &self.rejects {
            writeln!(f, "  rejected {reason}: {count}")?;
        }
        if self.evicted > 0 {
            writeln!(
                f,
                "  profiles evicted (idle longest, over [profile] max_users): {}",
                self.evicted
            )?;
        }
        for (name, count) in &self.signals {
            writeln!(f, "  signal {name}: {count}")?;
        }
        for (detector, users) in &self.cold_start_users {
            writeln!(f, "  cold start {detector}: {users} users")?;
        }
        if let Some(actions) = &self.actions {
            write_actions(f, actions)?;
        }
        #[allow(clippy::cast_precision_loss, reason = "a ratio for display")]
        let per_user = self.state_bytes as f64 / (self.users.max(1) as f64);
        if !self.latency.is_empty() {
            writeln!(
                f,
                "latency from read to outputs (per batch): p50 {:.2} ms  p99 {:.2} ms  \
                 p99.9 {:.2} ms",
                self.latency.quantile_ms(0.5),
                self.latency.quantile_ms(0.99),
                self.latency.quantile_ms(0.999),
            )?;
        }
        write!(
            f,
            "elapsed {:.2} s  {:.0} records/s  profile state {:.0} bytes/user",
            self.elapsed.as_secs_f64(),
            self.events_per_second(),
            per_user
        )?;
        if self.actions_wait >= Duration::from_millis(10) {
            write!(
                f,
                "  (analysis {:.2} s, then {:.2} s finishing queued actions)",
                self.analysis_time().as_secs_f64(),
                self.actions_wait.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

fn write_actions(f: &mut fmt::Formatter<'_>, actions: &ActionSummary) -> fmt::Result {
    let planned: u64 = actions.planned.values().sum();
    write!(f, "actions planned {planned}")?;
    for (status, count) in &actions.planned {
        write!(f, "  {status} {count}")?;
    }
    write!(f, "\nactions finished")?;
    for (outcome, count) in &actions.finished {
        write!(f, "  {outcome} {count}")?;
    }
    writeln!(f, "  still queued {}", actions.queued)?;
    if !actions.latency.is_empty() {
        writeln!(
            f,
            "action latency (per attempt): p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms",
            actions.latency.quantile_ms(0.5),
            actions.latency.quantile_ms(0.99),
            actions.latency.quantile_ms(0.999),
        )?;
    }
    Ok(())
}
