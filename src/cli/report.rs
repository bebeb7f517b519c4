//! `vigil report --from DATE --to DATE`: a security report for a period,
//! built with SQL over the archive.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use vigil::archive::report::{Period, gather, render_html, render_markdown};
use vigil::archive::{ArchiveQuery, QueryError};

use super::Failure;
use super::archive::ArchiveLocation;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown.
    Markdown,
    /// One JSON object with every figure.
    Json,
    /// A self-contained HTML page with charts.
    Html,
}

/// Arguments of `vigil report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: NaiveDate,
    /// Last day, included (YYYY-MM-DD, UTC).
    #[arg(long)]
    to: NaiveDate,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    format: ReportFormat,
    /// Where to write the report (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    location: ArchiveLocation,
}

/// Gathers and writes the report.
pub fn execute(args: &ReportArgs) -> Result<(), Failure> {
    let period = Period::try_new(args.from, args.to)
        .map_err(|problem| Failure::usage(anyhow::anyhow!(problem)))?;
    let (_, root) = args.location.resolve()?;
    if !root.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no archive at {}: nothing has been archived there yet",
            root.display()
        )));
    }
    let query = ArchiveQuery::open(&root).map_err(Failure::runtime)?;
    let report = gather(&query, period).map_err(|error| match error {
        QueryError::BadQuery { .. } => Failure::runtime(anyhow::anyhow!(
            "the archive's tables do not have the columns the report needs: {error}"
        )),
        other => Failure::runtime(other),
    })?;
    let text = match args.format {
        ReportFormat::Markdown => render_markdown(&report),
        ReportFormat::Json => serde_json::to_string_pretty(&report).map_err(Failure::runtime)?,
        ReportFormat::Html => render_html(&report),
    };
    if let Some(path) = &args.out {
        return std::fs::write(path, text).map_err(|e| {
            Failure::runtime(anyhow::anyhow!("cannot write {}: {e}", path.display()))
        });
    }
    print!("{text}");
    Ok(())
}
