//! Tests of benign console activity: the vocabulary of authentication, key
//! management and admin events, and the promises that keep login rules
//! quiet on benign traffic.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Timelike, Weekday};
use serde_json::Value;

use super::*;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Names of attack tools no benign client may carry.
const ATTACK_TOOLS: [&str; 10] = [
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "hydra",
    "gobuster",
    "dirbuster",
    "zgrab",
    "nuclei",
    "wfuzz",
];

/// Checks an `authentication` event against the vocabulary.
pub(super) fn check_authentication(v: &Value, line: &str) {
    let endpoint = match v["auth_event_type"].as_str() {
        Some("login") => "/v1/auth/login",
        Some("mfa_verify") => "/v1/auth/mfa",
        Some("password_reset") => "/v1/auth/password-reset",
        other => panic!("unexpected auth_event_type {other:?}: {line}"),
    };
    assert_eq!(v["endpoint"], endpoint, "{line}");
    assert!(v.get("tokens_used").is_none(), "{line}");
    assert!(v.get("api_key_id").is_none(), "{line}");
    let reason = v.pointer("/details/failure_reason").and_then(Value::as_str);
    if v["success"] == true {
        assert_eq!(v["status_code"], 200, "{line}");
        assert!(v.get("details").is_none(), "{line}");
        return;
    }
    let expected_status = match reason {
        Some("invalid_password" | "unknown_user" | "mfa_failed") => 401,
        Some("account_locked") => 423,
        other => panic!("unexpected failure_reason {other:?}: {line}"),
    };
    assert_eq!(v["status_code"], expected_status, "{line}");
    let on_mfa = v["auth_event_type"] == "mfa_verify";
    assert_eq!(on_mfa, reason == Some("mfa_failed"), "{line}");
}

/// Checks a `key_management` event against the vocabulary.
pub(super) fn check_key_management(v: &Value, line: &str) {
    let endpoint = match v["auth_event_type"].as_str() {
        Some("key_create") => "/v1/keys",
        Some("key_rotate") => "/v1/keys/rotate",
        Some("key_revoke") => "/v1/keys/revoke",
        other => panic!("unexpected auth_event_type {other:?}: {line}"),
    };
    assert_eq!(v["endpoint"], endpoint, "{line}");
    assert!(v["api_key_id"].is_string(), "the key concerned: {line}");
    assert!(v.get("tokens_used").is_none(), "{line}");
}

/// Checks an `admin` event against the vocabulary.
pub(super) fn check_admin(v: &Value, line: &str) {
    let action = v.pointer("/details/action").and_then(Value::as_str);
    let endpoint = match action {
        Some("user_update" | "role_grant") => "/v1/admin/users",
        Some("key_list") => "/v1/admin/keys",
        Some("billing_update") => "/v1/admin/billing",
        Some("export") => "/v1/admin/audit-log",
        other => panic!("unexpected action {other:?}: {line}"),
    };
    assert_eq!(v["endpoint"], endpoint, "{line}");
    assert!(v.get("auth_event_type").is_none(), "{line}");
    assert!(v.get("tokens_used").is_none(), "{line}");
}

/// The benign traffic of 400 users over two weeks, without attacks.
fn benign_run() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let (bytes, _) = run(&GenConfig::new(400, 14, SEED + 1));
        let text = String::from_utf8(bytes).expect("UTF-8");
        text.lines().map(Event::parse).collect()
    })
}

/// Both samples' benign events, each sample in time order.
fn benign_samples() -> [Vec<&'static Event>; 2] {
    [
        sample().benign_events().collect(),
        benign_run().iter().collect(),
    ]
}

#[test]
fn no_user_fails_five_logins_within_five_minutes() {
    for events in benign_samples() {
        let mut failures: HashMap<&str, Vec<i64>> = HashMap::new();
        for e in events.iter().filter(|e| e.is_failed_login()) {
            failures.entry(&e.user_id).or_default().push(e.ts_ms);
        }
        assert!(failures.len() > 10, "some typos are expected");
        for (user, times) in failures {
            for w in times.windows(5) {
                assert!(w[4] - w[0] >= 5 * MINUTE_MS, "{user}: 5 failed logins");
            }
        }
    }
}

#[test]
fn no_address_sees_five_users_fail_within_three_hours() {
    for events in benign_samples() {
        let mut by_ip: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for e in events.iter().filter(|e| e.is_failed_login()) {
            let ip = e.ip.as_deref().expect("address");
            by_ip.entry(ip).or_default().push((e.ts_ms, &e.user_id));
        }
        for (ip, failures) in by_ip {
            for (i, &(start, _)) in failures.iter().enumerate() {
                let users: HashSet<&str> = failures[i..]
                    .iter()
                    .take_while(|(t, _)| *t < start + 3 * HOUR_MS)
                    .map(|&(_, u)| u)
                    .collect();
                assert!(users.len() < 5, "{ip}: {} users failing", users.len());
            }
        }
    }
}

#[test]
fn benign_clients_never_name_an_attack_tool() {
    for events in benign_samples() {
        for e in events {
            let agent = e.user_agent.to_lowercase();
            assert!(
                ATTACK_TOOLS.iter().all(|tool| !agent.contains(tool)),
                "{}",
                e.line
            );
        }
    }
}

#[test]
fn failed_logins_are_typos_followed_by_a_successful_login() {
    let s = sample();
    let mut typos = 0;
    let mut mistyped_ids = 0;
    for e in s.benign_events().filter(|e| e.is_failed_login()) {
        let reason = e.failure_reason.as_deref().expect("failure_reason");
        // A mistyped id is the owner's id one digit short.
        let owner = if reason == "unknown_user" {
            assert!(!s.users.contains_key(&e.user_id), "{}", e.line);
            mistyped_ids += 1;
            s.users
                .keys()
                .find(|id| id.starts_with(&e.user_id))
                .expect("a mistyped id is a prefix of the owner's")
        } else {
            typos += 1;
            &e.user_id
        };
        let signed_in = s.events_of(owner).any(|x| {
            x.is_login()
                && x.success
                && x.ip == e.ip
                && (e.ts_ms..e.ts_ms + 10 * MINUTE_MS).contains(&x.ts_ms)
        });
        assert!(signed_in, "no login follows {}", e.line);
    }
    let logins = s
        .benign_events()
        .filter(|e| e.is_login() && e.success)
        .count();
    assert!(typos > 0 && mistyped_ids > 0);
    let share = f64::from(typos) / logins as f64;
    assert!(share < 0.1, "{share:.3} of logins have typos");
}

#[test]
fn users_with_a_second_factor_confirm_every_login() {
    let s = sample();
    let mut with_mfa = 0;
    for user_id in s.benign_users() {
        let events: Vec<&Event> = s.benign_events_of(user_id).collect();
        let logins = events.iter().filter(|e| e.is_login() && e.success).count();
        let confirmed = events
            .iter()
            .filter(|e| e.auth.as_deref() == Some("mfa_verify") && e.success)
            .count();
        if s.users[user_id].persona.mfa {
            with_mfa += 1;
            assert_eq!(logins, confirmed, "{user_id}");
        } else {
            assert_eq!(confirmed, 0, "{user_id}");
        }
        for (i, e) in events.iter().enumerate() {
            if e.auth.as_deref() == Some("mfa_verify") && !e.success {
                let next = events.get(i + 1).expect("a retry follows");
                assert_eq!(next.auth.as_deref(), Some("mfa_verify"));
                assert!(next.success && next.ts_ms - e.ts_ms < 2 * MINUTE_MS);
            }
        }
    }
    assert!((40..=130).contains(&with_mfa), "{with_mfa} users with MFA");
}

#[test]
fn key_changes_stay_at_two_an_hour_and_revoke_only_created_keys() {
    let s = sample();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for user_id in s.users.keys() {
        let changes: Vec<&Event> = s
            .events_of(user_id)
            .filter(|e| e.kind == "key_management")
            .collect();
        for w in changes.windows(3) {
            assert!(
                w[2].ts_ms - w[0].ts_ms > HOUR_MS,
                "{user_id}: 3 key changes in an hour"
            );
        }
        let mut created = HashSet::new();
        for e in &changes {
            let action = e.auth.as_deref().expect("auth_event_type");
            *counts.entry(action).or_default() += 1;
            let key = e.key.as_deref().expect("api_key_id");
            match action {
                "key_create" => assert!(created.insert(key), "{key} created twice"),
                "key_revoke" => assert!(created.remove(key), "{key} revoked, never created"),
                _ => {}
            }
        }
        let api_keys: HashSet<&str> = s
            .events_of(user_id)
            .filter(|e| e.kind == "api_access")
            .filter_map(|e| e.key.as_deref())
            .collect();
        assert!(
            changes
                .iter()
                .filter(|e| e.auth.as_deref() == Some("key_create"))
                .all(|e| !api_keys.contains(e.key.as_deref().unwrap_or_default())),
            "{user_id}: a created key made calls"
        );
    }
    for action in ["key_create", "key_rotate", "key_revoke"] {
        assert!(
            counts.get(action).copied().unwrap_or(0) > 0,
            "no {action}: {counts:?}"
        );
    }
}

#[test]
fn admin_calls_fall_in_local_business_hours_on_weekdays() {
    let s = sample();
    let mut admins = HashSet::new();
    let mut per_day: HashMap<(&str, i64), u32> = HashMap::new();
    for e in s.events.iter().filter(|e| e.kind == "admin") {
        let user = &s.users[&e.user_id];
        assert!(user.persona.admin, "{}", e.line);
        let offset_ms = i64::from(user.persona.offset_min) * MINUTE_MS;
        let local = DateTime::from_timestamp_millis(e.ts_ms + offset_ms)
            .expect("time")
            .naive_utc();
        assert!((9..18).contains(&local.hour()), "{local} local: {}", e.line);
        assert!(
            !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
            "{local} local: {}",
            e.line
        );
        admins.insert(e.user_id.as_str());
        let day = (e.ts_ms + offset_ms).div_euclid(DAY_MS);
        *per_day.entry((&e.user_id, day)).or_default() += 1;
    }
    assert!(
        (4..=20).contains(&admins.len()),
        "{} of 200 users are admins",
        admins.len()
    );
    assert!(
        per_day.values().all(|&n| n <= 8),
        "more than a handful a day"
    );
}
