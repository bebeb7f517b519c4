//! `vigil demo`: generated traffic with attacks through the whole pipeline,
//! shown as a table a person reads at a glance.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use vigil::config::Config;
use vigil::evaluate::evaluate;
use vigil::incident::{Incident, IncidentType};
use vigil::pipeline::{CollectorSinks, Pipeline, RunSummary};
use vigil::respond::{Copies, Response};
use vigil::rules::{RuleFeed, RuleSet, RuleSource};
use vigil::signal::Severity;
use vigil::synth::{GenConfig, GenSummary, generate, user_time_zones};

use super::Failure;
use super::generate::write_labels;
use super::output::create_output;
use super::run::default_shards;

/// Arguments of `vigil demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Users to simulate.
    #[arg(long, default_value_t = 300)]
    users: u32,
    /// Days of traffic.
    #[arg(long, default_value_t = 21)]
    days: u32,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Folder for the outputs (incidents, labels).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Example incidents to print in full.
    #[arg(long, default_value_t = 3)]
    examples: usize,
}

/// Generates, analyzes and reports.
pub fn execute(args: &DemoArgs) -> Result<(), Failure> {
    let mut config = GenConfig::new(args.users, args.days, args.seed);
    config.attacks = true;
    eprintln!(
        "Generating {} users × {} days of API traffic with injected attacks…",
        args.users, args.days
    );
    let mut events = Vec::new();
    let generated = generate(&config, &mut events).map_err(Failure::usage)?;

    let mut analysis = Config::default();
    analysis.profile.user_time_zones = user_time_zones(&config);
    respond_locally(&mut analysis, &args.out);
    let summary = analyze(analysis, events, &args.out).map_err(Failure::runtime)?;
    write_labels(&args.out.join("labels.jsonl"), &generated.labels).map_err(Failure::runtime)?;

    print_report(args, &generated, &summary);
    Ok(())
}

/// Response actions stay in the output folder: emails as `.eml` files in
/// `outbox/`, the blocklist in `blocklist.txt`, every revision and action in
/// the hash-chained `audit.jsonl`. Revocations are recorded only, as no
/// gateway is configured.
fn respond_locally(config: &mut Config, out: &Path) {
    let path = |name: &str| out.join(name).display().to_string();
    config.email.outbox_dir = path("outbox");
    config.email.security_team = vec!["soc@example.com".to_owned()];
    config.blocklist.path = path("blocklist.txt");
    config.audit.path = path("audit.jsonl");
    config.response.drain_secs = 10;
}

/// Runs the events through detectors and the built-in rule pack, with each
/// generated user's own time zone configured as an operator would.
fn analyze(config: Config, events: Vec<u8>, out: &Path) -> anyhow::Result<RunSummary> {
    let rules = RuleSet::from_sources(&RuleSource::builtin())?;
    reset_outputs(out)?;
    let response = Response::start(
        &config,
        None,
        Arc::new(AtomicBool::new(false)),
        Copies::default(),
    )?;
    let pipeline = Pipeline::new(config, default_shards())?.with_rules(RuleFeed::new(rules));
    let total = events.len() as u64;
    let sinks = CollectorSinks {
        incidents: Some(create_output(&out.join("incidents.jsonl"))?),
        dead_letter: Some(create_output(&out.join("dead-letter.jsonl"))?),
        source: "demo".to_owned(),
        stream: None,
        metrics: None,
        response: Some(response),
    };
    let progress = AtomicU64::new(0);
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} analyzing [{bar:40}] {bytes}/{total_bytes} ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let summary = std::thread::scope(|scope| {
        let run = scope.spawn(|| pipeline.run(Cursor::new(events), sinks, &progress));
        while !run.is_finished() {
            bar.set_position(progress.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        run.join().expect("pipeline thread panicked")
    })?;
    bar.finish_and_clear();
    Ok(summary)
}

fn print_report(args: &DemoArgs, generated: &GenSummary, summary: &RunSummary) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nvigil demo: {} events from {} users over {} days, analyzed in {:.1} s ({:.0} events/s)\n",
        summary.events,
        args.users,
        args.days,
        summary.analysis_time().as_secs_f64(),
        summary.events_per_second()
    );
    let _ = write_incident_table(&mut out, summary.incidents.values());
    let evaluation = evaluate(&generated.labels, summary.incidents.values());
    let _ = writeln!(
        out,
        "\nInjected attacks caught (with the signals they should raise):"
    );
    for (kind, score) in &evaluation.kinds {
        let _ = writeln!(
            out,
            "  {:<20} {:>3}/{:<3} {:>5.1}%",
            kind.as_str(),
            score.detected,
            score.labelled,
            score.recall() * 100.0
        );
    }
    let benign_days = generated
        .user_days
        .saturating_sub(generated.labels.len() as u64);
    let _ = writeln!(
        out,
        "  incidents on benign traffic: {} ({:.2} per 1,000 benign user-days)",
        evaluation.false_positives,
        evaluation.false_positives_per_thousand(benign_days)
    );
    let _ = write_examples(&mut out, summary.incidents.values(), args.examples);
    let _ = writeln!(
        out,
        "\nOutputs in {}: incidents.jsonl (every revision), labels.jsonl, dead-letter.jsonl,\n\
         audit.jsonl (every revision and action, hash-chained), blocklist.txt, outbox/ (alert emails)",
        args.out.display()
    );
    if let Some(actions) = &summary.actions {
        let planned: Vec<String> = actions
            .planned
            .iter()
            .map(|(status, count)| format!("{count} {status}"))
            .collect();
        let _ = writeln!(out, "Response actions: {}", planned.join(", "));
    }
}

fn write_incident_table<'i>(
    out: &mut impl Write,
    incidents: impl Iterator<Item = &'i Incident>,
) -> std::io::Result<()> {
    let mut counts: BTreeMap<IncidentType, [usize; 4]> = BTreeMap::new();
    for incident in incidents {
        counts.entry(incident.incident_type).or_default()[incident.severity as usize] += 1;
    }
    writeln!(
        out,
        "{:<22}{:>8}{:>8}{:>8}{:>10}{:>8}",
        "incident type", "low", "medium", "high", "critical", "total"
    )?;
    let mut totals = [0_usize; 4];
    for (incident_type, row) in &counts {
        for (total, count) in totals.iter_mut().zip(row) {
            *total += count;
        }
        write_row(out, incident_type.as_str(), row)?;
    }
    writeln!(out, "{}", "-".repeat(64))?;
    write_row(out, "all", &totals)
}

fn write_row(out: &mut impl Write, name: &str, row: &[usize; 4]) -> std::io::Result<()> {
    let sum: usize = row.iter().sum();
    writeln!(
        out,
        "{name:<22}{:>8}{:>8}{:>8}{:>10}{sum:>8}",
        row[0], row[1], row[2], row[3]
    )
}

/// Prints the most severe incidents, one per type, in full.
fn write_examples<'i>(
    out: &mut impl Write,
    incidents: impl Iterator<Item = &'i Incident>,
    count: usize,
) -> std::io::Result<()> {
    let mut best: BTreeMap<IncidentType, &Incident> = BTreeMap::new();
    for incident in incidents {
        let slot = best.entry(incident.incident_type).or_insert(incident);
        if (incident.severity, incident.signals.len()) > (slot.severity, slot.signals.len()) {
            *slot = incident;
        }
    }
    let mut examples: Vec<&Incident> = best.into_values().collect();
    examples.sort_by_key(|i| std::cmp::Reverse((i.severity, i.signals.len())));
    for incident in examples.into_iter().take(count) {
        writeln!(
            out,
            "\nExample {} ({} {}):",
            incident.incident_id,
            severity_word(incident.severity),
            incident.incident_type.as_str()
        )?;
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(incident).unwrap_or_default()
        )?;
    }
    Ok(())
}

fn severity_word(severity: Severity) -> &'static str {
    severity.as_str()
}

/// Clears what an earlier demo left that this one appends to or adds to.
fn reset_outputs(out: &Path) -> anyhow::Result<()> {
    for name in ["audit.jsonl", "blocklist.txt"] {
        match std::fs::remove_file(out.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    match std::fs::remove_dir_all(out.join("outbox")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
