//! The `vigil` command: parses arguments, sets up logging and dispatches.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::init_logging();
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("vigil: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}
