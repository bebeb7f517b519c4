//! Command-line definitions and dispatch to one module per command.

mod archive;
mod audit;
mod demo;
#[cfg(feature = "archive")]
mod forget;
mod generate;
mod output;
#[cfg(feature = "kafka")]
mod produce;
#[cfg(feature = "archive")]
mod query;
#[cfg(feature = "archive")]
mod report;
mod rules;
mod run;
mod sign;
mod state;

use std::path::Path;

use clap::{Parser, Subcommand};

/// vigil: a streaming security analyzer for API-key based services.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyze events from a file or stdin and write incidents.
    Run(run::RunArgs),
    /// Generate realistic synthetic events (JSON lines on stdout).
    Gen(generate::GenArgs),
    /// Generate traffic with attacks, analyze it and show what was found.
    Demo(demo::DemoArgs),
    /// Validate rule files or run their tests.
    Rules(rules::RulesArgs),
    /// Check the audit log.
    Audit(audit::AuditArgs),
    /// Publish JSON-lines events to a Kafka topic, keyed by `user_id`.
    #[cfg(feature = "kafka")]
    Produce(produce::ProduceArgs),
    /// Run SQL over the archive (tables events, incidents, actions, audit).
    #[cfg(feature = "archive")]
    Query(query::QueryArgs),
    /// Write a security report for a period from the archive.
    #[cfg(feature = "archive")]
    Report(report::ReportArgs),
    /// Erase a user's records from the archive and their profile from the
    /// state snapshot.
    #[cfg(feature = "archive")]
    Forget(forget::ForgetArgs),
    /// Sign JSON-lines events for a vigil that requires signatures.
    Sign(sign::SignArgs),
    /// Inspect the state snapshot (profiles).
    State(state::StateArgs),
    /// Maintain the archive (retention).
    #[cfg(feature = "archive")]
    Archive(archive::ArchiveArgs),
}

/// A failed command: what went wrong and the exit code it maps to.
pub struct Failure {
    /// The error, printed with its causes.
    pub error: anyhow::Error,
    /// 1 for runtime failures, 2 for bad usage or configuration.
    pub code: u8,
}

impl Failure {
    /// A runtime failure (exit code 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            code: 1,
        }
    }

    /// Bad usage or configuration (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            code: 2,
        }
    }
}

/// Runs the chosen command.
pub fn dispatch(args: Args) -> Result<(), Failure> {
    match args.command {
        Command::Run(run) => run::execute(&run),
        Command::Gen(generate) => generate::execute(&generate),
        Command::Demo(demo) => demo::execute(&demo),
        Command::Rules(rules) => rules::execute(&rules),
        Command::Audit(audit) => audit::execute(&audit),
        Command::State(state) => state::execute(&state),
        Command::Sign(sign) => sign::execute(&sign),
        #[cfg(feature = "kafka")]
        Command::Produce(produce) => produce::execute(&produce),
        #[cfg(feature = "archive")]
        Command::Query(query) => query::execute(&query),
        #[cfg(feature = "archive")]
        Command::Report(report) => report::execute(&report),
        #[cfg(feature = "archive")]
        Command::Forget(forget) => forget::execute(&forget),
        #[cfg(feature = "archive")]
        Command::Archive(archive) => archive::execute(&archive),
    }
}

/// Logs go to stderr; `VIGIL_LOG` sets the filter (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// A path argument where `-` means the standard stream.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}
