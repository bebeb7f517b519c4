//! `vigil run`: analyze events from Kafka, a file or stdin.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Args;
use vigil::config::Config;
use vigil::event::signing::{self, Verifier};
use vigil::http::{ApiState, HttpState, ServerTls, Tokens, serve};
use vigil::metrics::Metrics;
use vigil::pipeline::{Checkpoints, CollectorSinks, Pipeline, RunSummary, StreamSink};
use vigil::respond::Response;
use vigil::state::{SourcePosition, StateStore};

use super::Failure;
use super::archive::RunArchive;
use super::output::{StopReader, create_output, open_input};
use super::rules::{ActiveRules, start_rules};

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
    /// Serve `/metrics`, `/healthz` and `/readyz` on this address
    /// (default: `[http] listen`; none when both are empty).
    #[arg(long)]
    listen: Option<String>,
    /// With Kafka: stop once no event has arrived for this many seconds
    /// (for replays and batch jobs). Without it, vigil runs until SIGINT or
    /// SIGTERM.
    #[arg(long)]
    idle_exit_secs: Option<f64>,
    /// Record the actions the playbook calls for without carrying them out.
    #[arg(long)]
    dry_run: bool,
}

/// Where events come from, and the topics that receive outputs with them.
struct Source {
    input: Box<dyn BufRead + Send>,
    name: String,
    /// `kafka`, `stdin` or `file`: the bounded label of metrics.
    kind: &'static str,
    stream: Option<Box<dyn StreamSink>>,
}

/// Runs the pipeline over the input and prints the summary on stderr.
pub fn execute(args: &RunArgs) -> Result<(), Failure> {
    let mut config =
        Config::load_with_process_env(args.config.as_deref()).map_err(Failure::usage)?;
    config.response.dry_run |= args.dry_run;
    let shards = args.shards.unwrap_or_else(default_shards);
    if shards == 0 {
        return Err(Failure::usage(anyhow::anyhow!(
            "--shards must be at least 1"
        )));
    }
    let verifier = signature_check(&config)?;
    let stop = stop_on_signals()?;
    let rules = start_rules(&config.rules, args.rules.as_deref(), args.no_rules)?;
    let metrics = wants_listener(&config, args).then(Metrics::new);
    let archive = RunArchive::start(&config)?;
    let response = Response::start(
        &config,
        metrics.as_ref().map(Metrics::actions),
        Arc::clone(&stop),
        archive.copies(),
    )
    .map_err(Failure::usage)?;
    let observed = start_http(&config, args, rules.as_ref(), metrics, &response)?;
    let checkpoints = open_state(&config, &stop)?;
    let resumed = checkpoints
        .as_ref()
        .map(|c| c.restored.as_ref().map_or(&[][..], |s| &s.positions[..]));
    let source = open_source(
        &config,
        args,
        observed.as_ref().map(|o| &o.metrics),
        &stop,
        resumed,
        verifier.as_ref(),
    )?;
    let mut pipeline = Pipeline::new(config, shards).map_err(Failure::usage)?;
    if let Some(checkpoints) = checkpoints {
        pipeline = pipeline.with_checkpoints(checkpoints);
    }
    if let Some(rules) = &rules {
        pipeline = pipeline.with_rules(rules.feed.clone());
    }
    if let Some(verifier) = verifier {
        pipeline = pipeline.with_signing(verifier);
    }
    let (pipeline, stream) = archive.attach(pipeline, source.stream);
    let sinks = CollectorSinks {
        incidents: Some(create_output(&args.incidents).map_err(Failure::usage)?),
        dead_letter: args
            .dead_letter
            .as_ref()
            .map(create_output)
            .transpose()
            .map_err(Failure::usage)?,
        source: source.name.clone(),
        stream,
        metrics: observed.as_ref().map(|o| o.metrics.recorder(source.kind)),
        response: Some(response),
    };
    tracing::info!(shards, input = %source.name, "Run started");
    if let Some(observed) = &observed {
        observed.ready.store(true, Ordering::Relaxed);
    }
    let summary = pipeline
        .run(source.input, sinks, &AtomicU64::new(0))
        .map_err(Failure::runtime)?;
    archive.finish()?;
    print_summary(args, &summary, rules.as_ref());
    Ok(())
}

/// The signature check `[input] require_signature` asks for, with the key
/// from the environment.
fn signature_check(config: &Config) -> Result<Option<Verifier>, Failure> {
    if !config.input.require_signature {
        return Ok(None);
    }
    let key = signing::key_from_environment()
        .map_err(Failure::usage)?
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "input.require_signature is set, but neither {0} nor {0}_FILE holds the signing key",
                signing::KEY_VARIABLE
            ))
        })?;
    let window = std::time::Duration::from_secs(config.input.signature_window_secs);
    Ok(Some(Verifier::new(key, window)))
}

/// The state folder's snapshot store and the snapshot to resume from, when
/// `[state] dir` is set.
fn open_state(config: &Config, stop: &Arc<AtomicBool>) -> Result<Option<Checkpoints>, Failure> {
    let Some(dir) = config.state.folder() else {
        return Ok(None);
    };
    let store = StateStore::open(dir).map_err(Failure::runtime)?;
    let restored = store.load().map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "{e}; move it aside to start with empty profiles"
        ))
    })?;
    if let Some(snapshot) = &restored {
        tracing::info!(
            users = snapshot.users(),
            taken_at = %snapshot.taken_at,
            "Resuming from the state snapshot"
        );
    } else {
        tracing::info!(dir = %dir.display(), "No state snapshot yet; starting with empty profiles");
    }
    Ok(Some(Checkpoints {
        store,
        restored,
        stop: Arc::clone(stop),
        every: config.state.snapshot_every(),
    }))
}

/// A flag raised by SIGINT or SIGTERM: the source stops reading, queued
/// work drains, and the run exits 0.
fn stop_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(Failure::runtime)?;
    }
    Ok(stop)
}

fn print_summary(args: &RunArgs, summary: &RunSummary, rules: Option<&ActiveRules>) {
    eprintln!("{summary}");
    if let Some(rules) = rules {
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
}

/// The metrics registry and readiness flag a running listener serves.
struct Observed {
    metrics: Metrics,
    ready: Arc<AtomicBool>,
}

/// Whether `--listen` or `[http] listen` names an address.
fn wants_listener(config: &Config, args: &RunArgs) -> bool {
    !args
        .listen
        .as_deref()
        .unwrap_or(&config.http.listen)
        .trim()
        .is_empty()
}

/// Starts the HTTP listener (metrics, health, the `/v1` API) when
/// `--listen` or `[http] listen` names an address.
fn start_http(
    config: &Config,
    args: &RunArgs,
    rules: Option<&ActiveRules>,
    metrics: Option<Metrics>,
    response: &Response,
) -> Result<Option<Observed>, Failure> {
    let Some(metrics) = metrics else {
        return Ok(None);
    };
    let listen = args.listen.as_deref().unwrap_or(&config.http.listen).trim();
    let addr: std::net::SocketAddr = listen.parse().map_err(|_| {
        Failure::usage(anyhow::anyhow!(
            "--listen {listen:?} is not an address such as 127.0.0.1:9898"
        ))
    })?;
    let ready = Arc::new(AtomicBool::new(false));
    let feed = rules.map(|r| r.feed.clone());
    let refresh = move |metrics: &Metrics| {
        if let Some(feed) = &feed {
            let reloads = feed.reloads();
            metrics.observe_reloads(reloads.applied, reloads.refused);
        }
    };
    let tls = ServerTls::from_env(&config.http.tls_cert_file).map_err(Failure::usage)?;
    let tokens = Tokens::from_env().map_err(Failure::usage)?;
    if !tokens.any() {
        tracing::warn!(
            "No API token is set (VIGIL_API_VIEWER_TOKEN, …); the /v1 API refuses every request"
        );
    }
    let state = HttpState {
        metrics: metrics.clone(),
        ready: Arc::clone(&ready),
        refresh: Arc::new(refresh),
        api: Some(ApiState {
            response: response.handles(),
            tokens,
        }),
    };
    serve(addr, config.http.limits(), tls, state)
        .map_err(|e| Failure::runtime(anyhow::anyhow!("cannot listen on {addr}: {e}")))?;
    Ok(Some(Observed { metrics, ready }))
}

/// The Kafka consumer group when `[kafka]` names brokers, else `--input`.
/// `resumed` is set when snapshots are kept: the positions the restored
/// snapshot covers (none without one).
fn open_source(
    config: &Config,
    args: &RunArgs,
    metrics: Option<&Metrics>,
    stop: &Arc<AtomicBool>,
    resumed: Option<&[SourcePosition]>,
    verifier: Option<&Verifier>,
) -> Result<Source, Failure> {
    if config.kafka.enabled() {
        return open_kafka(config, args, metrics, stop, resumed, verifier);
    }
    let input = open_input(&args.input).map_err(Failure::usage)?;
    Ok(Source {
        input: Box::new(StopReader::new(input, Arc::clone(stop))),
        name: args.input.display().to_string(),
        kind: if super::is_stdio(&args.input) {
            "stdin"
        } else {
            "file"
        },
        stream: None,
    })
}

#[cfg(feature = "kafka")]
fn open_kafka(
    config: &Config,
    args: &RunArgs,
    metrics: Option<&Metrics>,
    stop: &Arc<AtomicBool>,
    resumed: Option<&[SourcePosition]>,
    verifier: Option<&Verifier>,
) -> Result<Source, Failure> {
    use vigil::kafka::{KafkaInput, Ledger, TopicSink, subscribe};

    let stop = Arc::clone(stop);
    let ledger = Ledger::default();
    let consumer = Arc::new(subscribe(&config.kafka, &ledger, metrics).map_err(Failure::usage)?);
    let mut sink = TopicSink::new(&config.kafka, Some(Arc::clone(&consumer)), ledger.clone())
        .map_err(Failure::usage)?;
    let mut input = KafkaInput::new(
        consumer,
        ledger,
        stop,
        options_of(config, args, verifier.cloned()),
    );
    if let Some(positions) = resumed {
        sink = sink.committing_at_snapshots(positions);
        input = input.resuming_from(positions);
    }
    Ok(Source {
        input: Box::new(input),
        name: format!("kafka:{}", config.kafka.topics.join(",")),
        kind: "kafka",
        stream: Some(Box::new(sink)),
    })
}

/// When the Kafka input ends by itself.
#[cfg(feature = "kafka")]
fn options_of(
    config: &Config,
    args: &RunArgs,
    signing: Option<Verifier>,
) -> vigil::kafka::SourceOptions {
    vigil::kafka::SourceOptions {
        idle_exit: args
            .idle_exit_secs
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map(std::time::Duration::from_secs_f64),
        partition_idle: std::time::Duration::from_millis(config.kafka.partition_idle_ms),
        signing,
    }
}

#[cfg(not(feature = "kafka"))]
fn open_kafka(
    _config: &Config,
    _args: &RunArgs,
    _metrics: Option<&Metrics>,
    _stop: &Arc<AtomicBool>,
    _resumed: Option<&[SourcePosition]>,
    _verifier: Option<&Verifier>,
) -> Result<Source, Failure> {
    Err(Failure::usage(anyhow::anyhow!(
        "[kafka] names brokers, but this vigil was built without the `kafka` feature"
    )))
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
