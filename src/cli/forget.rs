//! `vigil forget --user ID`: erases a user's records from the archive and
//! records the erasure in the audit log.
//!
//! Profiles live only in memory, so the archive is the only place a
//! user's data outlives a run; a running vigil forgets a user's profile
//! when it restarts.

use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vigil::archive::{ErasureReport, Subject, erase, pseudonymizer};
use vigil::audit::AuditKind;

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
        };
        vigil::archive::audit(&path, AuditKind::Erasure, &record).map_err(Failure::runtime)?;
        println!("erasure recorded in {}", path.display());
    }
    Ok(())
}
