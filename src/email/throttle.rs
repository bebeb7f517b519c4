//! Per-recipient throttling of alert emails, with digests.
//!
//! A notice for a recipient who has not been mailed within the minimum
//! interval waits a short gathering time, so incidents arriving together
//! leave as one email. A notice for a recipient mailed more recently waits
//! until the interval has passed; everything queued meanwhile leaves as one
//! digest. Hence, per recipient, two batches are never released less than
//! the interval apart, and every queued item is released exactly once.
//!
//! Time is injected (milliseconds); the structure never reads a clock. Each
//! recipient's queue is capped: items beyond the cap are counted, not kept,
//! so a digest can say how many more there were. Memory grows with the
//! recipients that have items queued or were mailed within the interval;
//! others are forgotten.

use std::collections::{BTreeSet, HashMap};

/// How long notices wait, and how many one recipient may have queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// The least time between two batches for one recipient, in
    /// milliseconds.
    pub min_interval_ms: i64,
    /// How long the first notice for a recipient waits for others to join
    /// it, in milliseconds.
    pub gather_ms: i64,
    /// Items kept per recipient; further items are only counted.
    pub max_queued: usize,
}

impl ThrottlePolicy {
    /// The default cap on queued items per recipient.
    pub const DEFAULT_MAX_QUEUED: usize = 200;

    /// The policy of the `[email]` section, with the default cap.
    #[must_use]
    pub fn from_config(config: &super::EmailConfig) -> Self {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        Self {
            min_interval_ms: ms(config.min_interval_secs),
            gather_ms: ms(config.gather_secs),
            max_queued: Self::DEFAULT_MAX_QUEUED,
        }
    }
}

/// What one recipient is sent at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    /// The address.
    pub recipient: String,
    /// The queued items, oldest first.
    pub items: Vec<T>,
    /// Items pushed beyond the cap since the last batch, not kept.
    pub dropped: u64,
}

/// Queued notices per recipient, released no more often than the policy
/// allows.
#[derive(Debug, Clone)]
pub struct Throttle<T> {
    policy: ThrottlePolicy,
    recipients: HashMap<String, Recipient<T>>,
    /// Recipients with queued items, by when they are due.
    schedule: BTreeSet<(i64, String)>,
    /// Recipients with nothing queued, by when their last batch stops
    /// mattering; they are forgotten after that.
    idle: BTreeSet<(i64, String)>,
}

#[derive(Debug, Clone)]
struct Recipient<T> {
    /// When the last batch was released, if one was.
    last_sent_ms: Option<i64>,
    /// When the queued items are due; `None` while nothing is queued.
    due_ms: Option<i64>,
    items: Vec<T>,
    dropped: u64,
}

impl<T> Throttle<T> {
    /// An empty throttle.
    #[must_use]
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy: ThrottlePolicy {
                min_interval_ms: policy.min_interval_ms.max(0),
                gather_ms: policy.gather_ms.max(0),
                max_queued: policy.max_queued.max(1),
            },
            recipients: HashMap::new(),
            schedule: BTreeSet::new(),
            idle: BTreeSet::new(),
        }
    }

    /// Queues `item` for `recipient` at `now_ms`. Returns `false` when the
    /// recipient's queue is full and the item was only counted.
    pub fn push(&mut self, recipient: &str, item: T, now_ms: i64) -> bool {
        let policy = self.policy;
        let entry = self
            .recipients
            .entry(recipient.to_owned())
            .or_insert_with(|| Recipient {
                last_sent_ms: None,
                due_ms: None,
                items: Vec::new(),
                dropped: 0,
            });

        if entry.due_ms.is_none() {
            let gathered = now_ms.saturating_add(policy.gather_ms);
            let due = entry.last_sent_ms.map_or(gathered, |last| {
                gathered.max(last.saturating_add(policy.min_interval_ms))
            });
            entry.due_ms = Some(due);
            if let Some(last) = entry.last_sent_ms {
                let forget_at = last.saturating_add(policy.min_interval_ms);
                self.idle.remove(&(forget_at, recipient.to_owned()));
            }
            self.schedule.insert((due, recipient.to_owned()));
        }

        if entry.items.len() < policy.max_queued {
            entry.items.push(item);
            true
        } else {
            entry.dropped += 1;
            false
        }
    }

    /// Releases every batch due at `now_ms`, earliest first, and forgets
    /// recipients whose interval has passed with nothing queued.
    pub fn due(&mut self, now_ms: i64) -> Vec<Batch<T>> {
        self.forget_idle(now_ms);

        let mut batches = Vec::new();
        while let Some((due, _)) = self.schedule.first()
            && *due <= now_ms
        {
            let Some((_, recipient)) = self.schedule.pop_first() else {
                break;
            };
            let Some(entry) = self.recipients.get_mut(&recipient) else {
                continue;
            };
            entry.due_ms = None;
            entry.last_sent_ms = Some(now_ms);
            let forget_at = now_ms.saturating_add(self.policy.min_interval_ms);
            self.idle.insert((forget_at, recipient.clone()));
            batches.push(Batch {
                items: std::mem::take(&mut entry.items),
                dropped: std::mem::take(&mut entry.dropped),
                recipient,
            });
        }
        batches
    }

    /// When the next batch is due, so a caller can sleep until then;
    /// `None` while nothing is queued.
    #[must_use]
    pub fn next_due(&self) -> Option<i64> {
        self.schedule.first().map(|(due, _)| *due)
    }

    /// How many items are queued over all recipients.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.recipients.values().map(|r| r.items.len()).sum()
    }

    /// How many recipients the throttle remembers (queued or recently
    /// mailed).
    #[must_use]
    pub fn recipients(&self) -> usize {
        self.recipients.len()
    }

    fn forget_idle(&mut self, now_ms: i64) {
        while let Some((forget_at, _)) = self.idle.first()
            && *forget_at <= now_ms
        {
            let Some((_, recipient)) = self.idle.pop_first() else {
                break;
            };
            self.recipients.remove(&recipient);
        }
    }
}

#[cfg(test)]
mod tests;
