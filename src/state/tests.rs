//! Snapshots round-trip every part of the state and place users on the
//! shard that owns them.

use super::*;
use crate::config::Config;
use crate::pipeline::{Pipeline, Shard, ShardOutput};

/// A shard that has processed a few days of events of three users.
fn busy_shard() -> Shard {
    let settings = Pipeline::new(Config::default(), 1)
        .unwrap()
        .shard_settings();
    let mut shard = Shard::new(settings);
    let mut out = ShardOutput::default();
    let mut line = 0;
    for day in 1..=5 {
        for (user, ip) in [
            ("ana", "198.51.100.7"),
            ("bo", "203.0.113.9"),
            ("cy", "2001:db8::1"),
        ] {
            line += 1;
            let record = format!(
                r#"{{"timestamp":"2026-11-0{day}T10:00:00Z","event_type":"api_access","user_id":"{user}","ip_address":"{ip}","api_key_id":"ak_{user}1","tokens_used":{},"event_id":"e-{line}"}}"#,
                100 * day
            );
            shard.process(record.as_bytes(), line, &mut out);
        }
    }
    assert_eq!(shard.users(), 3);
    shard
}

fn encoded(state: &ShardState) -> Vec<u8> {
    postcard::to_stdvec(state).unwrap()
}

#[test]
fn a_saved_snapshot_loads_back_with_every_profile_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path()).unwrap();
    let shard = busy_shard();
    let snapshot = Snapshot {
        taken_at: "2026-12-04T10:00:00.000Z".into(),
        source: "events.jsonl".into(),
        positions: vec![SourcePosition {
            topic: "security-events".into(),
            partition: 2,
            next_offset: 41,
        }],
        shards: vec![shard.save()],
        collector: CollectorState {
            incidents: "[]".into(),
            latest: vec![Some(Timestamp(1_000))],
            ..CollectorState::default()
        },
    };

    store.save(&snapshot).unwrap();
    let loaded = store.load().unwrap().expect("a snapshot was saved");

    assert_eq!(loaded.positions, snapshot.positions);
    assert_eq!(loaded.users(), 3);
    assert_eq!(encoded(&loaded.shards[0]), encoded(&snapshot.shards[0]));
    let ana = loaded.profiles()[0].1;
    assert_eq!(ana.usage.days().map(|(_, t)| t.tokens).sum::<u32>(), 1_500);
    assert_eq!(ana.ips.len(), 1);
    assert!(ana.recent_ids.contains("e-13"), "recent event ids survive");
}

#[test]
fn a_restored_shard_goes_on_as_if_it_had_never_stopped() {
    let original = busy_shard();
    let settings = Pipeline::new(Config::default(), 1)
        .unwrap()
        .shard_settings();
    let mut restored = Shard::new(settings);

    restored.restore(original.save());

    assert_eq!(encoded(&restored.save()), encoded(&original.save()));
}

#[test]
fn with_another_shard_count_each_user_moves_to_the_shard_that_owns_it() {
    let mut snapshot = Snapshot {
        shards: vec![busy_shard().save()],
        ..Snapshot::default()
    };

    let states = snapshot.shard_states(4);

    assert_eq!(states.len(), 4);
    let placed: usize = states.iter().map(|s| s.profiles.len()).sum();
    assert_eq!(placed, 3, "no user is lost or doubled");
    for (index, state) in states.iter().enumerate() {
        for (user, _) in &state.profiles {
            assert_eq!(shard_of(user.as_bytes(), 4), index, "{user}");
        }
    }
}

#[test]
fn forgetting_a_user_removes_only_their_profile() {
    let mut snapshot = Snapshot {
        shards: vec![busy_shard().save()],
        ..Snapshot::default()
    };

    assert!(snapshot.forget_user("bo"));
    assert!(!snapshot.forget_user("bo"), "already gone");

    let users: Vec<&str> = snapshot.profiles().iter().map(|(u, _)| *u).collect();
    assert_eq!(users, ["ana", "cy"]);
}

#[test]
fn an_undecodable_payload_is_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path()).unwrap();
    file::write_atomically(store.path(), &[0xff; 3]).unwrap();

    let error = store.load().unwrap_err().to_string();

    assert!(error.contains("snapshot.bin"), "{error}");
    assert!(error.contains("cannot be decoded"), "{error}");
}
