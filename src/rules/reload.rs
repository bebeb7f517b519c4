//! Hot reload: watching the rules folder and SIGHUP, loading the new set
//! and publishing it, or refusing it and keeping the old one.
//!
//! The watcher polls a fingerprint of the folder (every rule file's path,
//! size and modification time) instead of relying on file-system events,
//! which editors, volume mounts and config-map updates deliver unevenly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::feed::RuleFeed;
use super::load::{RuleSet, rule_files};

/// Problems logged one by one when a reload is refused.
const PROBLEMS_LOGGED: usize = 20;
/// How often the stop flag is checked while waiting.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// A running watcher; dropping it stops the thread.
pub struct RuleWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RuleWatcher {
    /// Watches `dir` every `poll`, and reloads at once on SIGHUP.
    ///
    /// # Errors
    /// Returns the error of installing the SIGHUP handler or starting the
    /// thread.
    pub fn start(dir: PathBuf, feed: RuleFeed, poll: Duration) -> std::io::Result<Self> {
        let hangup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))?;
        let stop = Arc::new(AtomicBool::new(false));
        let watch = Watch {
            fingerprint: fingerprint(&dir),
            dir,
            feed,
            poll,
            hangup,
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name("vigil-rules".to_owned())
            .spawn(move || watch.run())?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for RuleWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A file's identity for change detection: path, size, modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

struct Watch {
    dir: PathBuf,
    feed: RuleFeed,
    poll: Duration,
    hangup: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    fingerprint: Fingerprint,
}

impl Watch {
    fn run(mut self) {
        while self.wait() {
            let signalled = self.hangup.swap(false, Ordering::Relaxed);
            let now = fingerprint(&self.dir);
            if signalled || now != self.fingerprint {
                self.fingerprint = now;
                let cause = if signalled { "sighup" } else { "change" };
                reload_once(&self.dir, &self.feed, cause);
            }
        }
    }

    /// Sleeps one poll interval, waking early on SIGHUP; false once stopped.
    fn wait(&self) -> bool {
        let mut waited = Duration::ZERO;
        while waited < self.poll {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            if self.hangup.load(Ordering::Relaxed) {
                return true;
            }
            std::thread::sleep(STOP_CHECK);
            waited += STOP_CHECK;
        }
        !self.stop.load(Ordering::Relaxed)
    }
}

fn fingerprint(dir: &Path) -> Fingerprint {
    let Ok(files) = rule_files(dir) else {
        return Vec::new();
    };
    files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, size, modified)
        })
        .collect()
}

/// Loads `dir` and publishes it, or logs why it was refused and keeps the
/// current set. Returns whether the new set was published.
pub fn reload_once(dir: &Path, feed: &RuleFeed, cause: &str) -> bool {
    match RuleSet::load_dir(dir) {
        Ok(set) => {
            tracing::info!(
                dir = %dir.display(),
                cause,
                files = set.files(),
                rules = set.len(),
                "Rules reloaded"
            );
            feed.publish(set);
            true
        }
        Err(errors) => {
            feed.record_refusal();
            tracing::warn!(
                dir = %dir.display(),
                cause,
                problems = errors.problems.len(),
                "Rule reload refused; the previous rules keep running"
            );
            for problem in errors.problems.iter().take(PROBLEMS_LOGGED) {
                tracing::warn!(problem = %problem, "Rule problem");
            }
            false
        }
    }
}
