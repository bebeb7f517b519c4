//! `vigil sign`: turns JSON-lines events into signed envelopes, for
//! producers that write files and for trying out `require_signature`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use vigil::event::record_of_line;
use vigil::event::signing::{self, SigningKey, envelope};

use super::Failure;
use super::output::{create_output, open_input};

/// Arguments of `vigil sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// JSON-lines events to sign; `-` for stdin.
    #[arg(long, default_value = "-")]
    input: PathBuf,
    /// Where the signed lines go; `-` for stdout.
    #[arg(long, default_value = "-")]
    output: PathBuf,
    /// Signing time in Unix seconds (default: now).
    #[arg(long)]
    signed_at: Option<i64>,
}

/// The signing key from `VIGIL_SIGNING_KEY` or `VIGIL_SIGNING_KEY_FILE`.
pub fn signing_key() -> Result<SigningKey, Failure> {
    signing::key_from_environment()
        .map_err(Failure::usage)?
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no signing key: set {0} or {0}_FILE",
                signing::KEY_VARIABLE
            ))
        })
}

/// Writes each non-blank input line as a signed envelope.
pub fn execute(args: &SignArgs) -> Result<(), Failure> {
    let key = signing_key()?;
    let signed_at = args
        .signed_at
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let input = open_input(&args.input).map_err(Failure::usage)?;
    let mut output = create_output(&args.output).map_err(Failure::usage)?;
    sign_lines(input, &mut output, &key, signed_at)
        .with_context(|| format!("signing {}", args.input.display()))
        .map_err(Failure::runtime)
}

fn sign_lines(
    input: impl BufRead,
    output: &mut impl Write,
    key: &SigningKey,
    signed_at: i64,
) -> anyhow::Result<()> {
    for line in input.split(b'\n') {
        let line = line?;
        let Some(event) = record_of_line(&line) else {
            continue;
        };
        let signature = key.sign(signed_at, event);
        output.write_all(&envelope(event, signed_at, &signature))?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}
