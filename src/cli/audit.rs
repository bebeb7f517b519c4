//! `vigil audit verify FILE`: checks an audit log's hash chain and names
//! the first record that breaks it.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Failure;
use vigil::audit::{VerifyError, verify_file};

/// Arguments of `vigil audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of an audit log; exits 1 at the first broken
    /// record.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

/// Runs `vigil audit`.
pub fn execute(args: &AuditArgs) -> Result<(), Failure> {
    match &args.command {
        AuditCommand::Verify { file } => match verify_file(file) {
            Ok(records) => {
                println!("{}: {records} records, chain intact", file.display());
                Ok(())
            }
            Err(error @ VerifyError::Broken { .. }) => Err(Failure::runtime(error)),
            Err(error @ VerifyError::Io { .. }) => Err(Failure::usage(error)),
        },
    }
}
