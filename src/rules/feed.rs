//! The current rule set, published to every stage of a run.
//!
//! Stages poll a version number (one atomic load per batch of records) and
//! take the new set only when it changed, so publishing a reloaded set never
//! stops or locks the hot path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::load::RuleSet;

/// A handle on the current rule set; clones share it.
#[derive(Clone, Debug)]
pub struct RuleFeed {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    version: AtomicU64,
    current: RwLock<Arc<RuleSet>>,
    reloads_applied: AtomicU64,
    reloads_refused: AtomicU64,
}

/// How reloads went during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// New sets published.
    pub applied: u64,
    /// Sets refused because of problems; the previous set kept running.
    pub refused: u64,
}

impl RuleFeed {
    /// A feed holding `set` as version 1.
    #[must_use]
    pub fn new(set: RuleSet) -> Self {
        Self {
            inner: Arc::new(Inner {
                version: AtomicU64::new(1),
                current: RwLock::new(Arc::new(set)),
                reloads_applied: AtomicU64::new(0),
                reloads_refused: AtomicU64::new(0),
            }),
        }
    }

    /// The version of the current set; it grows with every publication.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// The current set and its version.
    #[must_use]
    pub fn current(&self) -> (Arc<RuleSet>, u64) {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (Arc::clone(&guard), self.version())
    }

    /// Replaces the current set; stages pick it up at their next batch.
    pub fn publish(&self, set: RuleSet) {
        let mut guard = self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = Arc::new(set);
        self.inner.version.fetch_add(1, Ordering::AcqRel);
        self.inner.reloads_applied.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reload that was refused.
    pub fn record_refusal(&self) {
        self.inner.reloads_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Reload counts so far.
    #[must_use]
    pub fn reloads(&self) -> ReloadStats {
        ReloadStats {
            applied: self.inner.reloads_applied.load(Ordering::Relaxed),
            refused: self.inner.reloads_refused.load(Ordering::Relaxed),
        }
    }
}
