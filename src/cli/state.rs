//! `vigil state show`: what a state snapshot holds, user by user, for
//! operators asking what vigil has learnt of an account.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use serde::Serialize;
use vigil::config::Config;
use vigil::profile::Profile;
use vigil::state::{Snapshot, StateStore};

use super::Failure;

/// Arguments of `vigil state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Print the snapshot's profiles as JSON lines (one per user, sorted by
    /// user id) and a summary on stderr.
    Show(ShowArgs),
}

/// Arguments of `vigil state show`.
#[derive(Debug, Args)]
struct ShowArgs {
    /// Configuration file (TOML) whose `[state] dir` holds the snapshot.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The state folder (overrides `[state] dir`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Only this user.
    #[arg(long)]
    user: Option<String>,
}

/// One user's profile as printed.
#[derive(Serialize)]
struct ProfileView<'a> {
    user_id: &'a str,
    events: u32,
    last_seen: String,
    /// The user's local day the profile has reached.
    today: String,
    /// Days with activity, oldest first.
    days: Vec<DayView>,
    known_ips: usize,
    api_keys: usize,
}

#[derive(Serialize)]
struct DayView {
    date: String,
    tokens: u32,
    requests: u32,
}

/// Runs `vigil state`.
pub fn execute(args: &StateArgs) -> Result<(), Failure> {
    match &args.command {
        StateCommand::Show(show) => execute_show(show),
    }
}

fn execute_show(args: &ShowArgs) -> Result<(), Failure> {
    let dir = state_dir(args.config.as_deref(), args.dir.as_deref())?;
    let store = StateStore::at(&dir);
    let snapshot = store.load().map_err(Failure::usage)?.ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "no state snapshot in {}: a run with [state] dir writes one when it ends",
            dir.display()
        ))
    })?;
    eprintln!("{}", summary(&store, &snapshot));
    let mut out = std::io::stdout().lock();
    for (user, profile) in snapshot.profiles() {
        if args.user.as_deref().is_some_and(|wanted| wanted != user) {
            continue;
        }
        serde_json::to_writer(&mut out, &view(user, profile)).map_err(Failure::runtime)?;
        writeln!(out).map_err(Failure::runtime)?;
    }
    Ok(())
}

/// The state folder: `--dir`, else `[state] dir` of the configuration.
fn state_dir(config: Option<&Path>, dir: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = dir {
        return Ok(dir.to_path_buf());
    }
    let config = Config::load_with_process_env(config).map_err(Failure::usage)?;
    config.state.folder().map(Path::to_path_buf).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "no state folder: pass --dir DIR, or --config FILE with [state] dir"
        ))
    })
}

fn summary(store: &StateStore, snapshot: &Snapshot) -> String {
    let positions: Vec<String> = snapshot
        .positions
        .iter()
        .map(|p| format!("{}/{}@{}", p.topic, p.partition, p.next_offset))
        .collect();
    let text = format!(
        "{}: taken {} from {}, {} users over {} shards",
        store.path().display(),
        snapshot.taken_at,
        if snapshot.source.is_empty() {
            "an unnamed input"
        } else {
            &snapshot.source
        },
        snapshot.users(),
        snapshot.shards.len()
    );
    if positions.is_empty() {
        text
    } else {
        format!("{text}, positions {}", positions.join(" "))
    }
}

fn view<'a>(user: &'a str, profile: &Profile) -> ProfileView<'a> {
    let days = profile
        .usage
        .days()
        .filter(|(_, total)| total.requests > 0 || total.tokens > 0)
        .map(|(day, total)| DayView {
            date: date_of(day),
            tokens: total.tokens,
            requests: total.requests,
        })
        .collect();
    ProfileView {
        user_id: user,
        events: profile.events,
        last_seen: profile.last_seen.to_rfc3339(),
        today: date_of(profile.usage.today()),
        days,
        known_ips: profile.ips.len(),
        api_keys: profile.keys.len(),
    }
}

/// The calendar date of a local day number (days since 1970-01-01).
fn date_of(day: i32) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let date = if day >= 0 {
        epoch.checked_add_days(Days::new(u64::from(day.unsigned_abs())))
    } else {
        epoch.checked_sub_days(Days::new(u64::from(day.unsigned_abs())))
    };
    date.map_or_else(|| day.to_string(), |d| d.to_string())
}
