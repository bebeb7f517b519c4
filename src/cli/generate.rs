//! `vigil gen`: synthetic events on stdout, attack labels to a file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use vigil::synth::{AttackLabel, GenConfig, generate};

use super::Failure;
use super::output::create_output;

/// Arguments of `vigil gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Users to simulate.
    #[arg(long, default_value_t = 100)]
    users: u32,
    /// Days of traffic.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Seed; the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject labelled attacks (needs at least 8 days).
    #[arg(long)]
    attacks: bool,
    /// Write the attack labels here as JSON lines.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// First day of traffic (UTC), e.g. 2026-11-02.
    #[arg(long)]
    start: Option<NaiveDate>,
}

/// Writes events to stdout and labels to `--labels`.
pub fn execute(args: &GenArgs) -> Result<(), Failure> {
    let mut config = GenConfig::new(args.users, args.days, args.seed);
    config.attacks = args.attacks;
    if let Some(start) = args.start {
        config.start = start;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let summary = generate(&config, &mut out).map_err(Failure::usage)?;
    out.flush().map_err(Failure::runtime)?;
    if let Some(path) = &args.labels {
        write_labels(path, &summary.labels).map_err(Failure::runtime)?;
    }
    tracing::info!(
        events = summary.events,
        attacks = summary.labels.len(),
        "Generated"
    );
    Ok(())
}

/// Writes labels as JSON lines.
pub fn write_labels(path: &PathBuf, labels: &[AttackLabel]) -> anyhow::Result<()> {
    let mut out = create_output(path)?;
    for label in labels {
        serde_json::to_writer(&mut out, label)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}
