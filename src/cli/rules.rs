//! `vigil rules check DIR` and `vigil rules test DIR`: validate rule files
//! and run the test events they carry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use vigil::config::RulesConfig;
use vigil::rules::{RuleErrors, RuleFeed, RuleSet, RuleSource, RuleWatcher, run_rule_tests};

use super::Failure;

/// Arguments of `vigil rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Validate every rule file; print every problem with file, line and
    /// field (exit code 2 if there is any).
    Check {
        /// The rules folder.
        dir: PathBuf,
    },
    /// Run each rule's test events; one pass/fail line per case (exit code
    /// 1 if any fails, 2 if the rules do not load).
    Test {
        /// The rules folder.
        dir: PathBuf,
    },
}

/// Runs the chosen subcommand.
pub fn execute(args: &RulesArgs) -> Result<(), Failure> {
    match &args.command {
        RulesCommand::Check { dir } => check(dir),
        RulesCommand::Test { dir } => test(dir),
    }
}

fn load(dir: &Path) -> Result<RuleSet, Failure> {
    RuleSet::load_dir(dir).map_err(|errors: RuleErrors| {
        for problem in &errors.problems {
            println!("{problem}");
        }
        Failure::usage(anyhow::anyhow!(
            "{}: {} problem(s) found",
            dir.display(),
            errors.problems.len()
        ))
    })
}

fn check(dir: &Path) -> Result<(), Failure> {
    let set = load(dir)?;
    println!(
        "{}: {} file(s), {} rule(s), no problems",
        dir.display(),
        set.files(),
        set.len()
    );
    Ok(())
}

fn test(dir: &Path) -> Result<(), Failure> {
    let set = Arc::new(load(dir)?);
    let outcomes = run_rule_tests(&set);
    for outcome in &outcomes {
        let mark = if outcome.passed { "PASS" } else { "FAIL" };
        println!(
            "{mark} {} — {}: {}",
            outcome.rule_id, outcome.case, outcome.detail
        );
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    if failed > 0 {
        return Err(Failure::runtime(anyhow::anyhow!(
            "{failed} rule test case(s) failed"
        )));
    }
    Ok(())
}

/// The rules a run uses and the watcher reloading them, if any.
pub struct ActiveRules {
    /// The feed shards read the current set from.
    pub feed: RuleFeed,
    /// Keeps the folder watched while it lives.
    pub _watcher: Option<RuleWatcher>,
}

/// Loads the rules a run asks for: the folder from `--rules` or
/// `[rules] dir`, watched for changes, or else the built-in pack; none when
/// rules are disabled.
///
/// # Errors
/// Bad usage when the rules do not load.
pub fn start_rules(
    config: &RulesConfig,
    dir: Option<&Path>,
    disabled: bool,
) -> Result<Option<ActiveRules>, Failure> {
    if disabled || !config.enabled {
        return Ok(None);
    }
    let dir = dir
        .map(Path::to_path_buf)
        .or_else(|| (!config.dir.is_empty()).then(|| PathBuf::from(&config.dir)));
    let Some(dir) = dir else {
        let set = RuleSet::from_sources(&RuleSource::builtin()).map_err(Failure::usage)?;
        tracing::info!(rules = set.len(), "Built-in rules loaded");
        return Ok(Some(ActiveRules {
            feed: RuleFeed::new(set),
            _watcher: None,
        }));
    };
    let set = RuleSet::load_dir(&dir).map_err(Failure::usage)?;
    tracing::info!(dir = %dir.display(), files = set.files(), rules = set.len(), "Rules loaded");
    let feed = RuleFeed::new(set);
    let poll = Duration::from_secs(config.reload_poll_secs);
    let watcher = RuleWatcher::start(dir, feed.clone(), poll).map_err(Failure::runtime)?;
    Ok(Some(ActiveRules {
        feed,
        _watcher: Some(watcher),
    }))
}
