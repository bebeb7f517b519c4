//! `vigil produce`: publish JSON lines to a Kafka topic, keyed by
//! `user_id`, so generated or recorded traffic can feed a live vigil.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Args;
use vigil::config::Config;

use super::Failure;
use super::output::open_input;

/// Arguments of `vigil produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to publish to.
    #[arg(long)]
    topic: String,
    /// JSON-lines events to publish; `-` for stdin.
    #[arg(long, default_value = "-")]
    input: PathBuf,
    /// Configuration file (TOML) whose `[kafka]` section names the brokers.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Bootstrap servers, overriding `[kafka] brokers`.
    #[arg(long)]
    brokers: Option<String>,
    /// Sign each message (headers `vigil-signed-at` and `vigil-signature`)
    /// with the key in `VIGIL_SIGNING_KEY` or the file `VIGIL_SIGNING_KEY_FILE`
    /// names.
    #[arg(long)]
    sign: bool,
    /// Publish at this many messages per second, evenly, instead of as
    /// fast as the brokers take them (for steady-load runs).
    #[arg(long)]
    rate: Option<NonZeroU32>,
}

/// Publishes the input and prints what was sent on stderr.
pub fn execute(args: &ProduceArgs) -> Result<(), Failure> {
    let mut config =
        Config::load_with_process_env(args.config.as_deref()).map_err(Failure::usage)?;
    if let Some(brokers) = &args.brokers {
        config.kafka.brokers.clone_from(brokers);
    }
    if !config.kafka.enabled() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no brokers: pass --brokers, set [kafka] brokers or VIGIL_KAFKA_BROKERS"
        )));
    }
    let signer = if args.sign {
        Some(super::sign::signing_key()?)
    } else {
        None
    };
    let input = open_input(&args.input).map_err(Failure::usage)?;
    let stats = vigil::kafka::produce_lines(
        &config.kafka,
        &args.topic,
        input,
        signer.as_ref(),
        args.rate,
    )
    .map_err(Failure::runtime)?;
    eprintln!(
        "published {} messages to {} ({} failed, {} blank lines skipped)",
        stats.messages, args.topic, stats.failed, stats.blank
    );
    if stats.failed > 0 {
        return Err(Failure::runtime(anyhow::anyhow!(
            "{} messages were not delivered",
            stats.failed
        )));
    }
    Ok(())
}
