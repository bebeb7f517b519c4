//! The archive from the command line: attaching it to `vigil run`, and
//! `vigil archive prune`, which applies retention without a run.

#[cfg(feature = "archive")]
use std::path::{Path, PathBuf};

#[cfg(feature = "archive")]
use clap::{Args, Subcommand};
use vigil::config::Config;
use vigil::pipeline::{Pipeline, StreamSink};
use vigil::respond::Copies;
#[cfg(feature = "archive")]
use {
    std::sync::Arc,
    vigil::archive::{ActionRow, AuditRow},
    vigil::respond::{Attempt, AttemptObserver, LineObserver},
};

use super::Failure;

/// The archive a run writes, when `[archive] path` is set.
#[cfg(feature = "archive")]
pub struct RunArchive(Option<vigil::archive::Archive>);

/// Without the `archive` feature a run never archives.
#[cfg(not(feature = "archive"))]
pub struct RunArchive;

impl RunArchive {
    /// Opens the configured archive (applying retention once) and starts
    /// its writer.
    #[cfg(feature = "archive")]
    pub fn start(config: &Config) -> Result<Self, Failure> {
        if !config.archive.enabled() {
            return Ok(Self(None));
        }
        let audit_log = non_empty_path(&config.audit.path);
        let archive = vigil::archive::Archive::open(&config.archive, audit_log.as_deref())
            .map_err(|error| match error {
                vigil::archive::ArchiveError::MissingPseudonymKey
                | vigil::archive::ArchiveError::PseudonymKeyFile(_) => Failure::usage(error),
                other => Failure::runtime(other),
            })?;
        tracing::info!(path = %archive.root().display(), "Archiving to Parquet");
        Ok(Self(Some(archive)))
    }

    /// Refuses an `[archive]` section this build cannot honour.
    #[cfg(not(feature = "archive"))]
    pub fn start(config: &Config) -> Result<Self, Failure> {
        if config.archive.enabled() {
            return Err(Failure::usage(anyhow::anyhow!(
                "archive.path is set, but this vigil was built without the `archive` feature"
            )));
        }
        Ok(Self)
    }

    /// Has the pipeline's shards archive their events and wraps the
    /// stream sink so incident revisions are archived too.
    #[cfg(feature = "archive")]
    pub fn attach(
        &self,
        pipeline: Pipeline,
        stream: Option<Box<dyn StreamSink>>,
    ) -> (Pipeline, Option<Box<dyn StreamSink>>) {
        match &self.0 {
            Some(archive) => (
                pipeline.with_event_taps(archive.event_taps()),
                Some(archive.incident_sink(stream)),
            ),
            None => (pipeline, stream),
        }
    }

    /// Nothing to attach without the archive.
    #[cfg(not(feature = "archive"))]
    #[allow(clippy::unused_self, reason = "mirrors the archive build's method")]
    pub fn attach(
        &self,
        pipeline: Pipeline,
        stream: Option<Box<dyn StreamSink>>,
    ) -> (Pipeline, Option<Box<dyn StreamSink>>) {
        (pipeline, stream)
    }

    /// Observers that copy action attempts and audit records into the
    /// archive.
    #[cfg(feature = "archive")]
    pub fn copies(&self) -> Copies {
        let Some(archive) = &self.0 else {
            return Copies::default();
        };
        let (actions, audit) = (archive.recorder(), archive.recorder());
        let attempts: AttemptObserver = Arc::new(move |attempt: &Attempt<'_>| {
            actions.action(ActionRow {
                at: chrono::Utc::now(),
                incident_id: attempt.job.incident.incident_id.clone(),
                action: attempt.job.action.as_str().to_owned(),
                target: attempt.job.target.label(),
                attempt: attempt.attempt,
                outcome: attempt.outcome.to_owned(),
                error: attempt.error.map(str::to_owned),
                duration_ms: attempt.took.as_secs_f64() * 1_000.0,
                dry_run: false,
            });
        });
        let audit_lines: LineObserver = Box::new(move |line: &str| {
            if let Some(row) = AuditRow::from_line(line) {
                audit.audit(row);
            }
        });
        Copies {
            attempts: Some(attempts),
            audit_lines: Some(audit_lines),
        }
    }

    /// Nothing is copied without the archive.
    #[cfg(not(feature = "archive"))]
    #[allow(clippy::unused_self, reason = "mirrors the archive build's method")]
    pub fn copies(&self) -> Copies {
        Copies::default()
    }

    /// Completes the archive's files and prints what was written.
    #[cfg(feature = "archive")]
    pub fn finish(self) -> Result<(), Failure> {
        if let Some(archive) = self.0 {
            let stats = archive.finish().map_err(Failure::runtime)?;
            eprintln!("{stats}");
        }
        Ok(())
    }

    /// Nothing to finish without the archive.
    #[cfg(not(feature = "archive"))]
    #[allow(
        clippy::unnecessary_wraps,
        clippy::unused_self,
        reason = "mirrors the archive build's method"
    )]
    pub fn finish(self) -> Result<(), Failure> {
        Ok(())
    }
}

/// A configured path, `None` when empty.
#[cfg(feature = "archive")]
pub fn non_empty_path(text: &str) -> Option<PathBuf> {
    let text = text.trim();
    (!text.is_empty()).then(|| PathBuf::from(text))
}

#[cfg(feature = "archive")]
/// Where the archive is: `--archive`, else `[archive] path`.
pub fn archive_root(config: &Config, flag: Option<&Path>) -> Result<PathBuf, Failure> {
    flag.map(Path::to_owned)
        .or_else(|| non_empty_path(&config.archive.path))
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no archive: pass --archive DIR, or --config FILE with [archive] path"
            ))
        })
}

#[cfg(feature = "archive")]
/// Where to find the archive, shared by the commands that read it.
#[derive(Debug, Args)]
pub struct ArchiveLocation {
    /// Configuration file (TOML) whose `[archive] path` names the archive.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The archive folder (overrides `[archive] path`).
    #[arg(long)]
    pub archive: Option<PathBuf>,
}

#[cfg(feature = "archive")]
impl ArchiveLocation {
    /// The configuration and the archive folder.
    pub fn resolve(&self) -> Result<(Config, PathBuf), Failure> {
        let config =
            Config::load_with_process_env(self.config.as_deref()).map_err(Failure::usage)?;
        let root = archive_root(&config, self.archive.as_deref())?;
        Ok((config, root))
    }
}

#[cfg(feature = "archive")]
/// Arguments of `vigil archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    command: ArchiveCommand,
}

#[cfg(feature = "archive")]
#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Remove day partitions older than `[archive] retention_days` (or
    /// `--retention-days`), recording the removal in the audit log.
    Prune {
        #[command(flatten)]
        location: ArchiveLocation,
        /// Days to keep (overrides `[archive] retention_days`; 0 keeps
        /// everything).
        #[arg(long)]
        retention_days: Option<u32>,
    },
}

/// Runs `vigil archive`.
#[cfg(feature = "archive")]
pub fn execute(args: &ArchiveArgs) -> Result<(), Failure> {
    use vigil::archive::Retention;

    let ArchiveCommand::Prune {
        location,
        retention_days,
    } = &args.command;
    let (config, root) = location.resolve()?;
    let days = retention_days.unwrap_or(config.archive.retention_days);
    let Some(mut retention) = Retention::new(days, non_empty_path(&config.audit.path)) else {
        println!("retention is 0 days: nothing is removed");
        return Ok(());
    };
    let report = retention.apply(&root, &[]).map_err(Failure::runtime)?;
    println!(
        "kept from {}: removed {} partitions, {} files, {} rows",
        report.kept_from, report.partitions_removed, report.files_removed, report.rows_removed
    );
    Ok(())
}
