//! Tests of the throttle: gathering, intervals, caps, and property tests
//! over random arrival patterns.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

const SECOND: i64 = 1_000;

fn policy(min_interval_ms: i64, gather_ms: i64, max_queued: usize) -> ThrottlePolicy {
    ThrottlePolicy {
        min_interval_ms,
        gather_ms,
        max_queued,
    }
}

fn standard() -> Throttle<u32> {
    Throttle::new(policy(300 * SECOND, 2 * SECOND, 200))
}

fn items_of(batches: &[Batch<u32>], recipient: &str) -> Vec<u32> {
    batches
        .iter()
        .filter(|b| b.recipient == recipient)
        .flat_map(|b| b.items.clone())
        .collect()
}

#[test]
fn a_first_notice_waits_the_gathering_time() {
    let mut throttle = standard();
    throttle.push("soc@example.com", 1, 10 * SECOND);
    assert_eq!(throttle.next_due(), Some(12 * SECOND));
    assert!(throttle.due(12 * SECOND - 1).is_empty());

    let batches = throttle.due(12 * SECOND);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].recipient, "soc@example.com");
    assert_eq!(batches[0].items, [1]);
    assert_eq!(throttle.next_due(), None);
}

#[test]
fn notices_arriving_together_become_one_digest() {
    let mut throttle = standard();
    throttle.push("soc@example.com", 1, 0);
    throttle.push("soc@example.com", 2, 500);
    throttle.push("soc@example.com", 3, 1_999);
    let batches = throttle.due(2 * SECOND);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].items, [1, 2, 3]);
}

#[test]
fn a_recently_mailed_recipient_waits_for_the_interval_then_gets_one_digest() {
    let mut throttle = standard();
    throttle.push("alice@example.com", 1, 0);
    assert_eq!(throttle.due(2 * SECOND).len(), 1);

    throttle.push("alice@example.com", 2, 60 * SECOND);
    throttle.push("alice@example.com", 3, 200 * SECOND);
    assert_eq!(throttle.next_due(), Some(302 * SECOND));
    assert!(throttle.due(302 * SECOND - 1).is_empty());

    let batches = throttle.due(302 * SECOND);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].items, [2, 3]);
}

#[test]
fn a_notice_after_the_interval_only_waits_the_gathering_time() {
    let mut throttle = standard();
    throttle.push("alice@example.com", 1, 0);
    throttle.due(2 * SECOND);
    throttle.push("alice@example.com", 2, 400 * SECOND);
    assert_eq!(throttle.next_due(), Some(402 * SECOND));
}

#[test]
fn recipients_are_throttled_independently() {
    let mut throttle = standard();
    throttle.push("alice@example.com", 1, 0);
    throttle.push("soc@example.com", 2, 0);
    throttle.due(2 * SECOND);

    throttle.push("bob@example.com", 3, 10 * SECOND);
    throttle.push("alice@example.com", 4, 10 * SECOND);
    let batches = throttle.due(12 * SECOND);
    assert_eq!(items_of(&batches, "bob@example.com"), [3]);
    assert!(items_of(&batches, "alice@example.com").is_empty());
}

#[test]
fn a_full_queue_counts_what_it_drops_and_starts_afresh() {
    let mut throttle = Throttle::new(policy(300 * SECOND, 2 * SECOND, 3));
    let kept: Vec<bool> = (0..5)
        .map(|i| throttle.push("soc@example.com", i, 0))
        .collect();
    assert_eq!(kept, [true, true, true, false, false]);
    assert_eq!(throttle.queued(), 3);

    let batches = throttle.due(2 * SECOND);
    assert_eq!(batches[0].items, [0, 1, 2]);
    assert_eq!(batches[0].dropped, 2);

    throttle.push("soc@example.com", 9, 10 * SECOND);
    let batches = throttle.due(302 * SECOND);
    assert_eq!(batches[0].items, [9]);
    assert_eq!(batches[0].dropped, 0);
}

#[test]
fn recipients_are_forgotten_once_their_interval_has_passed() {
    let mut throttle = standard();
    throttle.push("alice@example.com", 1, 0);
    throttle.due(2 * SECOND);
    assert_eq!(throttle.recipients(), 1);

    throttle.due(302 * SECOND - 1);
    assert_eq!(throttle.recipients(), 1);
    throttle.due(302 * SECOND);
    assert_eq!(throttle.recipients(), 0);
}

#[test]
fn a_late_caller_measures_the_interval_from_the_actual_release() {
    let mut throttle = standard();
    throttle.push("alice@example.com", 1, 0);
    throttle.due(50 * SECOND);
    throttle.push("alice@example.com", 2, 60 * SECOND);
    assert_eq!(throttle.next_due(), Some(350 * SECOND));
}

/// One step of a random scenario.
#[derive(Debug, Clone)]
enum Step {
    /// Advance the clock, then push the next item for a recipient.
    Push { recipient: usize, after_ms: i64 },
    /// Advance the clock, then release what is due.
    Due { after_ms: i64 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..4usize, 0..90_000i64)
            .prop_map(|(recipient, after_ms)| Step::Push { recipient, after_ms }),
        1 => (0..400_000i64).prop_map(|after_ms| Step::Due { after_ms }),
    ];
    prop::collection::vec(step, 1..120)
}

/// A release seen by the scenario driver.
struct Release {
    recipient: String,
    at: i64,
    items: Vec<u32>,
}

fn release(throttle: &mut Throttle<u32>, at: i64, releases: &mut Vec<Release>) {
    for batch in throttle.due(at) {
        releases.push(Release {
            recipient: batch.recipient,
            at,
            items: batch.items,
        });
    }
}

/// Runs `steps`, releasing batches either whenever a `Due` step says so
/// (`punctual == false`) or also exactly at every `next_due` (a caller
/// that sleeps until then), and finally flushes everything.
fn run(
    policy: ThrottlePolicy,
    steps: &[Step],
    punctual: bool,
) -> (Vec<Release>, HashMap<u32, i64>) {
    let mut throttle = Throttle::new(policy);
    let mut releases = Vec::new();
    let mut pushed = HashMap::new();
    let mut now = 0;
    let mut next_item = 0;

    for step in steps {
        let (after_ms, push) = match step {
            Step::Push {
                recipient,
                after_ms,
            } => (*after_ms, Some(*recipient)),
            Step::Due { after_ms } => (*after_ms, None),
        };
        let target = now + after_ms;
        while punctual && let Some(due) = throttle.next_due().filter(|due| *due <= target) {
            release(&mut throttle, due, &mut releases);
        }
        now = target;
        match push {
            Some(recipient) => {
                throttle.push(&format!("r{recipient}@example.com"), next_item, now);
                pushed.insert(next_item, now);
                next_item += 1;
            }
            None => release(&mut throttle, now, &mut releases),
        }
    }
    while let Some(due) = throttle.next_due() {
        release(&mut throttle, due.max(now), &mut releases);
    }
    (releases, pushed)
}

fn arbitrary_policy() -> impl Strategy<Value = ThrottlePolicy> {
    (0..600_000i64, 0..10_000i64).prop_map(|(interval, gather)| policy(interval, gather, 10_000))
}

proptest! {
    #[test]
    fn every_item_is_released_exactly_once_in_push_order(
        policy in arbitrary_policy(),
        steps in steps(),
        punctual in any::<bool>(),
    ) {
        let (releases, pushed) = run(policy, &steps, punctual);
        let mut seen: Vec<u32> = releases.iter().flat_map(|r| r.items.clone()).collect();
        for release in &releases {
            prop_assert!(release.items.windows(2).all(|w| w[0] < w[1]));
        }
        seen.sort_unstable();
        let mut expected: Vec<u32> = pushed.keys().copied().collect();
        expected.sort_unstable();
        prop_assert_eq!(seen, expected);
    }

    #[test]
    fn no_recipient_is_mailed_more_often_than_the_interval(
        policy in arbitrary_policy(),
        steps in steps(),
        punctual in any::<bool>(),
    ) {
        let (releases, _) = run(policy, &steps, punctual);
        let mut last: HashMap<&str, i64> = HashMap::new();
        for release in &releases {
            prop_assert!(!release.items.is_empty());
            if let Some(previous) = last.insert(&release.recipient, release.at) {
                prop_assert!(
                    release.at - previous >= policy.min_interval_ms,
                    "{} mailed at {} and {}", release.recipient, previous, release.at
                );
            }
        }
    }

    #[test]
    fn batches_gather_and_a_punctual_caller_is_never_late(
        policy in arbitrary_policy(),
        steps in steps(),
    ) {
        let (releases, pushed) = run(policy, &steps, true);
        let longest_wait = policy.min_interval_ms.max(policy.gather_ms);
        for release in &releases {
            let first_push = release.items.iter().map(|item| pushed[item]).min().unwrap();
            prop_assert!(release.at >= first_push + policy.gather_ms);
            for item in &release.items {
                prop_assert!(release.at <= pushed[item] + longest_wait);
            }
        }
    }
}
