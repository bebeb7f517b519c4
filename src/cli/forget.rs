//! `vigil forget --user ID`: erases a user's records from the archive and
//! their profile from the state snapshot, and records the erasure in the
//! audit log.
//!
//! A running vigil still holds the profile in memory and writes it into
//! its next snapshot; stop it first, or run the command again after it
//! stops.

use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vigil::archive::{ErasureReport, Subject, erase, pseudonymizer};
use vigil::audit::AuditKind;
use vigil::config::Config;
use vigil::state::StateStore;

use super::Failure;
use super::archive::{ArchiveLocation, non_empty_path};

/// Arguments of `vigil forget`.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The user id to erase (raw; its pseudonym is matched too when
    /// `[archive] pseudonymize_users` is on).
    #[arg(long)]
    user: String,
    #[command(flatten)]
    location: ArchiveLocation,
}

/// What the audit log keeps of an erasure: counts, and a digest of the id
/// rather than the id itself, so the log does not keep what was erased.
#[derive(Serialize)]
struct ErasureRecord<'a> {
    user_digest: String,
    archive: String,
    #[serde(flatten)]
    report: &'a ErasureReport,
    rows_removed: u64,
    profile_removed: bool,
}

/// Removes the user's profile from the snapshot in `[state] dir`, if there
/// is one; returns whether a profile was removed.
fn forget_profile(config: &Config, user: &str) -> Result<bool, Failure> {
    let Some(dir) = config.state.folder() else {
        return Ok(false);
    };
    let store = StateStore::at(dir);
    let Some(mut snapshot) = store.load().map_err(Failure::usage)? else {
        return Ok(false);
    };
    if !snapshot.forget_user(user) {
        println!("profile: none in {}", store.path().display());
        return Ok(false);
    }
    store.save(&snapshot).map_err(Failure::runtime)?;
    store.discard_previous().map_err(Failure::runtime)?;
    println!("profile: removed from {}", store.path().display());
    Ok(true)
}

/// Erases the user and prints what changed.
pub fn execute(args: &ForgetArgs) -> Result<(), Failure> {
    let user = args.user.trim();
    if user.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!("--user must not be empty")));
    }
    let (config, root) = args.location.resolve()?;
    let pseudonyms = pseudonymizer(&config.archive).map_err(Failure::usage)?;
    let pseudonym = pseudonyms.as_ref().map(|p| p.pseudonym(user));
    let profile_removed = forget_profile(&config, user)?;
    let report = if root.is_dir() {
        erase(&root, &Subject::new(user, pseudonym.clone())).map_err(Failure::runtime)?
    } else {
        ErasureReport::default()
    };
    for (table, counts) in &report.tables {
        println!(
            "{table}: {} rows removed, {} masked, {} files rewritten, {} files removed",
            counts.rows_removed, counts.rows_masked, counts.files_rewritten, counts.files_removed
        );
    }
    if let Some(path) = non_empty_path(&config.audit.path) {
        let record = ErasureRecord {
            user_digest: pseudonym.unwrap_or_else(|| hex::encode(Sha256::digest(user))),
            archive: root.display().to_string(),
            report: &report,
            rows_removed: report.rows_removed(),
            profile_removed,
        };
        vigil::archive::audit(&path, AuditKind::Erasure, &record).map_err(Failure::runtime)?;
        println!("erasure recorded in {}", path.display());
    }
    Ok(())
}
