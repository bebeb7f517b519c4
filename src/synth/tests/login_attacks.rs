//! Tests of the login attacks rule files must catch: brute force, credential
//! stuffing and password spraying keep the shapes their labels promise.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use super::*;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

fn labels_of(s: &Sample, kind: AttackKind) -> Vec<&AttackLabel> {
    let labels: Vec<_> = s
        .summary
        .labels
        .iter()
        .filter(|l| l.attack == kind)
        .collect();
    assert!(!labels.is_empty(), "no {kind} injected");
    labels
}

/// Every event from the label's attacker address, in time order.
fn from_attacker<'s>(s: &'s Sample, label: &AttackLabel) -> Vec<&'s Event> {
    s.events
        .iter()
        .filter(|e| e.ip.is_some() && e.ip == label.ip)
        .collect()
}

/// The attacker address: public IPv4, outside private, shared and
/// documentation ranges.
fn attacker_ip(label: &AttackLabel) -> Ipv4Addr {
    let ip: IpAddr = label
        .ip
        .as_deref()
        .expect("attacker address")
        .parse()
        .expect("address");
    let IpAddr::V4(v4) = ip else {
        panic!("{ip}: attackers use IPv4");
    };
    let [a, b, c, _] = v4.octets();
    assert!(
        !v4.is_private() && !v4.is_loopback() && a != 0 && a < 224,
        "{v4}"
    );
    assert!(
        !(a == 100 && (64..128).contains(&b)),
        "{v4} is shared space"
    );
    let documentation = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    assert!(
        !documentation.contains(&[a, b, c]),
        "{v4} is a documentation range"
    );
    v4
}

/// Checks that no target used the attacker's address outside the attack.
fn address_is_new_to(s: &Sample, label: &AttackLabel, accounts: &[String]) {
    let (start, end) = (label.start.timestamp_millis(), label.end.timestamp_millis());
    for account in accounts {
        let reused = s
            .events_of(account)
            .any(|e| e.ip == label.ip && !(start..=end).contains(&e.ts_ms));
        assert!(
            !reused,
            "{account} used the attacker's address outside the attack"
        );
    }
}

fn span_ms(events: &[&Event]) -> i64 {
    events.last().expect("events").ts_ms - events[0].ts_ms
}

#[test]
fn a_brute_force_fails_15_to_40_times_on_one_account_in_2_to_10_minutes() {
    let s = sample();
    for label in labels_of(s, AttackKind::BruteForce) {
        attacker_ip(label);
        assert_eq!(label.targets, std::slice::from_ref(&label.user_id));
        let events = from_attacker(s, label);
        assert!(
            events
                .iter()
                .all(|e| e.user_id == label.user_id && e.is_login())
        );
        let failures = events.iter().filter(|e| !e.success).count();
        assert!((15..=40).contains(&failures), "{failures} failures");
        assert!(
            events
                .iter()
                .filter(|e| !e.success)
                .all(|e| e.failure_reason.as_deref() == Some("invalid_password")),
            "every guess is a wrong password"
        );
        let successes: Vec<_> = events.iter().filter(|e| e.success).collect();
        assert!(successes.len() <= 1);
        if let Some(success) = successes.first() {
            assert_eq!(
                success.ts_ms,
                events.last().expect("events").ts_ms,
                "success is last"
            );
        }
        let span = span_ms(&events);
        assert!(
            (2 * MINUTE_MS..=10 * MINUTE_MS).contains(&span),
            "{span} ms"
        );
        assert_eq!(events[0].ts_ms, label.start.timestamp_millis());
        assert_eq!(
            events.last().expect("events").ts_ms,
            label.end.timestamp_millis()
        );
        address_is_new_to(s, label, &label.targets);
    }
}

#[test]
fn credential_stuffing_tries_25_to_60_accounts_once_or_twice_within_10_minutes() {
    let s = sample();
    for label in labels_of(s, AttackKind::CredentialStuffing) {
        attacker_ip(label);
        let events = from_attacker(s, label);
        assert!(events.iter().all(|e| e.is_login()));
        let mut tries: BTreeMap<&str, u32> = BTreeMap::new();
        for e in &events {
            *tries.entry(&e.user_id).or_default() += 1;
        }
        assert!((25..=60).contains(&tries.len()), "{} accounts", tries.len());
        assert!(tries.values().all(|&n| (1..=2).contains(&n)));
        let accounts: HashSet<&str> = tries.keys().copied().collect();
        let targets: HashSet<&str> = label.targets.iter().map(String::as_str).collect();
        assert_eq!(accounts, targets, "the label lists every account tried");
        assert_eq!(label.targets.len(), targets.len(), "targets listed once");

        let unknown: Vec<&&str> = accounts
            .iter()
            .filter(|u| !s.users.contains_key(**u))
            .collect();
        assert!(!unknown.is_empty(), "some ids on the list have no account");
        assert!(
            unknown.len() * 2 < accounts.len(),
            "mostly existing accounts"
        );
        assert!(s.users.contains_key(&label.user_id));
        let first_known = label.targets.iter().find(|t| s.users.contains_key(*t));
        assert_eq!(first_known, Some(&label.user_id));
        for e in &events {
            let expected = if s.users.contains_key(&e.user_id) {
                "invalid_password"
            } else {
                "unknown_user"
            };
            if !e.success {
                assert_eq!(e.failure_reason.as_deref(), Some(expected), "{}", e.line);
            }
        }
        let successes = events.iter().filter(|e| e.success).count();
        assert!(successes <= 2, "{successes} accounts taken over");
        assert!(span_ms(&events) <= 10 * MINUTE_MS);
        let known: Vec<String> = label
            .targets
            .iter()
            .filter(|t| s.users.contains_key(*t))
            .cloned()
            .collect();
        address_is_new_to(s, label, &known);
    }
}

#[test]
fn password_spraying_fails_once_on_12_to_30_accounts_over_1_to_3_hours() {
    let s = sample();
    for label in labels_of(s, AttackKind::PasswordSpraying) {
        attacker_ip(label);
        let events = from_attacker(s, label);
        let accounts: HashSet<&str> = events.iter().map(|e| e.user_id.as_str()).collect();
        assert_eq!(accounts.len(), events.len(), "one try per account");
        assert!(
            (12..=30).contains(&accounts.len()),
            "{} accounts",
            accounts.len()
        );
        assert!(
            accounts.iter().all(|a| s.users.contains_key(*a)),
            "existing accounts"
        );
        assert_eq!(
            accounts,
            label
                .targets
                .iter()
                .map(String::as_str)
                .collect::<HashSet<_>>()
        );
        assert!(events.iter().all(
            |e| e.is_failed_login() && e.failure_reason.as_deref() == Some("invalid_password")
        ));
        let span = span_ms(&events);
        assert!((HOUR_MS..=3 * HOUR_MS).contains(&span), "{span} ms");
        // Evenly spread: no ten minutes hold more than a few accounts.
        for (i, e) in events.iter().enumerate() {
            let burst = events[i..]
                .iter()
                .take_while(|x| x.ts_ms < e.ts_ms + 10 * MINUTE_MS)
                .count();
            assert!(burst <= 10, "{burst} accounts within 10 minutes");
        }
        address_is_new_to(s, label, &label.targets);
    }
}

#[test]
fn login_attacks_come_after_a_week_of_baseline() {
    let s = sample();
    let start = GenConfig::new(1, 1, 0)
        .start
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    for label in s.summary.labels.iter().filter(|l| l.attack.needs_rules()) {
        assert!(
            label.start >= start + chrono::Duration::days(7),
            "{}: {}",
            label.attack,
            label.start
        );
    }
}

#[test]
fn small_populations_still_get_every_login_attack() {
    for (users, days) in [(20, 10), (120, 12)] {
        let cfg = GenConfig {
            attacks: true,
            ..GenConfig::new(users, days, SEED)
        };
        let (_, summary) = run(&cfg);
        for kind in AttackKind::ALL {
            let labels: Vec<_> = summary.labels.iter().filter(|l| l.attack == kind).collect();
            assert!(!labels.is_empty(), "{users} users: no {kind}");
            for label in labels {
                let accounts = label.targets.len();
                match kind {
                    AttackKind::CredentialStuffing => assert!(accounts >= 25),
                    AttackKind::PasswordSpraying => assert!(accounts >= 12),
                    AttackKind::BruteForce => assert_eq!(accounts, 1),
                    _ => assert_eq!(accounts, 0),
                }
            }
        }
    }
}

#[test]
fn labels_list_targets_only_for_login_attacks() {
    let s = sample();
    for label in &s.summary.labels {
        let json = serde_json::to_string(label).expect("serialises");
        assert_eq!(
            json.contains("\"targets\""),
            label.attack.needs_rules(),
            "{json}"
        );
        let back: AttackLabel = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(&back, label);
    }
}

#[test]
fn kinds_split_into_detector_kinds_and_rule_kinds() {
    let detector: HashSet<_> = AttackKind::DETECTOR_KINDS.into_iter().collect();
    let rule: HashSet<_> = AttackKind::RULE_KINDS.into_iter().collect();
    assert!(detector.is_disjoint(&rule));
    assert_eq!(detector.len() + rule.len(), AttackKind::ALL.len());
    for kind in AttackKind::ALL {
        assert_eq!(kind.needs_rules(), rule.contains(&kind), "{kind}");
        let rule_ids = kind
            .expected_signals()
            .iter()
            .all(|s| s.starts_with("vigil-"));
        assert_eq!(rule_ids, kind.needs_rules(), "{kind}");
    }
}

#[test]
fn attacked_runs_are_deterministic_in_labels_too() {
    let cfg = GenConfig {
        attacks: true,
        ..GenConfig::new(60, 10, 99)
    };
    let (first_bytes, first) = run(&cfg);
    let (second_bytes, second) = run(&cfg);
    assert!(first_bytes == second_bytes);
    assert_eq!(first.labels, second.labels);
}
