//! `vigil run`: analyze events from a file or stdin.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use clap::Args;
use vigil::config::Config;
use vigil::pipeline::{CollectorSinks, Pipeline};

use super::Failure;
use super::output::{create_output, open_input};
use super::rules::start_rules;

/// Arguments of `vigil run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON-lines events to read; `-` for stdin.
    #[arg(long, default_value = "-")]
    input: PathBuf,
    /// Where incident revisions go as JSON lines; `-` for stdout.
    #[arg(long, default_value = "-")]
    incidents: PathBuf,
    /// Where refused records go as JSON lines, with their reasons.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Shard workers (default: the number of cores).
    #[arg(long)]
    shards: Option<usize>,
    /// Folder of Sigma rule files, reloaded when it changes or on SIGHUP
    /// (default: `[rules] dir`, else the rule pack built into vigil).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Run the built-in detectors only.
    #[arg(long, conflicts_with = "rules")]
    no_rules: bool,
}

/// Runs the pipeline over the input and prints the summary on stderr.
pub fn execute(args: &RunArgs) -> Result<(), Failure> {
    let config = Config::load_with_process_env(args.config.as_deref()).map_err(Failure::usage)?;
    let shards = args.shards.unwrap_or_else(default_shards);
    if shards == 0 {
        return Err(Failure::usage(anyhow::anyhow!(
            "--shards must be at least 1"
        )));
    }
    let rules = start_rules(&config.rules, args.rules.as_deref(), args.no_rules)?;
    let mut pipeline = Pipeline::new(config, shards).map_err(Failure::usage)?;
    if let Some(rules) = &rules {
        pipeline = pipeline.with_rules(rules.feed.clone());
    }
    let input = open_input(&args.input).map_err(Failure::usage)?;
    let sinks = CollectorSinks {
        incidents: Some(create_output(&args.incidents).map_err(Failure::usage)?),
        dead_letter: args
            .dead_letter
            .as_ref()
            .map(create_output)
            .transpose()
            .map_err(Failure::usage)?,
        source: args.input.display().to_string(),
    };
    tracing::info!(shards, input = %args.input.display(), "Run started");
    let summary = pipeline
        .run(input, sinks, &AtomicU64::new(0))
        .map_err(Failure::runtime)?;
    eprintln!("{summary}");
    if let Some(rules) = &rules {
        let reloads = rules.feed.reloads();
        eprintln!(
            "rules {}  reloads applied {}  refused {}",
            rules.feed.current().0.len(),
            reloads.applied,
            reloads.refused
        );
    }
    if let Some(peak) = peak_rss_bytes() {
        eprintln!(
            "peak RSS {:.1} MiB",
            f64::from(u32::try_from(peak / 1024).unwrap_or(u32::MAX)) / 1024.0
        );
    }
    if summary.rejected() > 0 && args.dead_letter.is_none() {
        eprintln!(
            "{} records were rejected; pass --dead-letter FILE to keep them",
            summary.rejected()
        );
    }
    Ok(())
}

/// One shard per core.
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The process's peak resident set size, where the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
