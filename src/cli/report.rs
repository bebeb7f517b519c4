//! `vigil report`: a security report for a period, from the archive.

use clap::Args;

use super::Failure;

/// Arguments of `vigil report`.
#[derive(Debug, Args)]
pub struct ReportArgs {}

/// Writes the report.
pub fn execute(_args: &ReportArgs) -> Result<(), Failure> {
    Ok(())
}
