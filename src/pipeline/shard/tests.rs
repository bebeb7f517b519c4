//! Tests of the shard's user limit: the profiles idle longest go first, and
//! every eviction is counted.

use super::*;
use crate::config::Config;
use crate::pipeline::Pipeline;

fn shard_keeping(max_users: usize) -> Shard {
    let mut config = Config::default();
    config.profile.max_users = max_users;
    Shard::new(Pipeline::new(config, 1).unwrap().shard_settings())
}

fn event_of(user: &str, minute: u32) -> String {
    format!(
        r#"{{"timestamp":"2026-11-02T10:{minute:02}:00Z","event_type":"api_access","user_id":"{user}","ip_address":"198.51.100.7","tokens_used":10}}"#
    )
}

/// Processes an event of `user` at `minute`.
fn see(shard: &mut Shard, out: &mut ShardOutput, user: &str, minute: u32) {
    shard.process(event_of(user, minute).as_bytes(), 1, out);
}

#[test]
fn past_the_user_limit_the_profiles_idle_longest_are_evicted_and_counted() {
    let mut shard = shard_keeping(32);
    let mut out = ShardOutput::default();
    for minute in 0..32 {
        see(&mut shard, &mut out, &format!("u{minute}"), minute);
    }
    // The oldest users are active again, so they are no longer the idlest.
    for minute in 0..2 {
        see(&mut shard, &mut out, &format!("u{minute}"), 40 + minute);
    }
    assert_eq!((shard.users(), out.evicted), (32, 0));

    see(&mut shard, &mut out, "newcomer", 50);

    assert_eq!(out.evicted, 2, "a sixteenth of the limit goes at once");
    assert_eq!(shard.stats().evicted, 2);
    assert_eq!(shard.users(), 31);
    assert!(shard.profile("newcomer").is_some());
    let gone: Vec<_> = (0..32)
        .map(|m| format!("u{m}"))
        .filter(|user| shard.profile(user).is_none())
        .collect();
    assert_eq!(gone, ["u2", "u3"], "the two idle longest");
}

#[test]
fn a_known_user_at_the_limit_evicts_nobody() {
    let mut shard = shard_keeping(4);
    let mut out = ShardOutput::default();
    for minute in 0..4 {
        see(&mut shard, &mut out, &format!("u{minute}"), minute);
    }
    see(&mut shard, &mut out, "u0", 10);
    assert_eq!((shard.users(), out.evicted), (4, 0));
}
