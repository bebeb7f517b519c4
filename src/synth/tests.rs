//! Tests of the generator: determinism, the event contract, the attack
//! labels and the calibration of benign traffic against sound detectors.
//! Console activity and login attacks have files of their own.

#![allow(clippy::cast_precision_loss, reason = "statistics over small counts")]

mod accounts;
mod login_attacks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::population::UserState;
use super::*;

const SEED: u64 = 7;

fn run(cfg: &GenConfig) -> (Vec<u8>, GenSummary) {
    let mut out = Vec::new();
    let summary = generate(cfg, &mut out).expect("generation succeeds");
    (out, summary)
}

fn attacked_config() -> GenConfig {
    GenConfig {
        attacks: true,
        ..GenConfig::new(200, 21, SEED)
    }
}

/// One output line, with the fields the tests look at.
#[derive(Debug)]
struct Event {
    line: String,
    ts_ms: i64,
    kind: String,
    user_id: String,
    ip: Option<String>,
    key: Option<String>,
    tokens: u64,
    auth: Option<String>,
    success: bool,
    failure_reason: Option<String>,
    user_agent: String,
}

impl Event {
    fn parse(line: &str) -> Event {
        let v: Value = serde_json::from_str(line).expect("every line is JSON");
        let text = |field: &str| v.get(field).and_then(Value::as_str).map(str::to_owned);
        let timestamp = text("timestamp").expect("timestamp is a string");
        let ts_ms = DateTime::parse_from_rfc3339(&timestamp)
            .expect("RFC 3339")
            .timestamp_millis();
        Event {
            line: line.to_owned(),
            ts_ms,
            kind: text("event_type").expect("event_type is a string"),
            user_id: text("user_id").expect("user_id is a string"),
            ip: text("ip_address"),
            key: text("api_key_id"),
            tokens: v.get("tokens_used").and_then(Value::as_u64).unwrap_or(0),
            auth: text("auth_event_type"),
            success: v["success"].as_bool().expect("success is a bool"),
            failure_reason: v
                .pointer("/details/failure_reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            user_agent: text("user_agent").expect("user_agent is a string"),
        }
    }

    fn is_login(&self) -> bool {
        self.auth.as_deref() == Some("login")
    }

    fn is_failed_login(&self) -> bool {
        self.is_login() && !self.success
    }
}

struct Sample {
    summary: GenSummary,
    events: Vec<Event>,
    /// Positions in `events` by `user_id`.
    by_user: HashMap<String, Vec<usize>>,
    /// Personas by `user_id`.
    users: HashMap<String, UserState>,
    /// Victims of the kinds that attack one user.
    single_victims: HashSet<String>,
    /// Addresses login attacks come from.
    attack_ips: HashSet<String>,
}

impl Sample {
    fn label_of(&self, user_id: &str) -> Option<&AttackLabel> {
        self.summary.labels.iter().find(|l| l.user_id == user_id)
    }

    /// Users whose own traffic is benign, though login campaigns may try
    /// their accounts.
    fn benign_users(&self) -> impl Iterator<Item = &str> {
        self.users
            .keys()
            .map(String::as_str)
            .filter(|u| !self.single_victims.contains(*u))
    }

    fn events_of<'a>(&'a self, user_id: &str) -> impl Iterator<Item = &'a Event> + use<'a> {
        let positions = self.by_user.get(user_id).map_or(&[][..], Vec::as_slice);
        positions.iter().map(|&i| &self.events[i])
    }

    /// A user's events without the login attempts attackers make in their
    /// name.
    fn benign_events_of<'a>(&'a self, user_id: &str) -> impl Iterator<Item = &'a Event> + use<'a> {
        self.events_of(user_id).filter(|e| !self.is_login_attack(e))
    }

    fn is_login_attack(&self, e: &Event) -> bool {
        e.ip.as_ref().is_some_and(|ip| self.attack_ips.contains(ip))
    }

    /// Every event no attack made: the benign users' events, including
    /// logins under mistyped ids, without login attack attempts.
    fn benign_events(&self) -> impl Iterator<Item = &Event> {
        self.events
            .iter()
            .filter(|e| !self.single_victims.contains(&e.user_id) && !self.is_login_attack(e))
    }
}

/// 200 users × 21 days with attacks, generated once for every test that
/// reads it.
fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let cfg = attacked_config();
        let (bytes, summary) = run(&cfg);
        let text = std::str::from_utf8(&bytes).expect("output is UTF-8");
        let events: Vec<Event> = text.lines().map(Event::parse).collect();
        let mut by_user: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            by_user.entry(e.user_id.clone()).or_default().push(i);
        }
        let users = (0..cfg.users)
            .map(|i| {
                let user = UserState::new(cfg.seed, i);
                (user.user_id(), user)
            })
            .collect();
        let single_victims = summary
            .labels
            .iter()
            .filter(|l| l.attack != AttackKind::CredentialStuffing)
            .filter(|l| l.attack != AttackKind::PasswordSpraying)
            .map(|l| l.user_id.clone())
            .collect();
        let attack_ips = summary
            .labels
            .iter()
            .filter(|l| l.attack.needs_rules())
            .filter_map(|l| l.ip.clone())
            .collect();
        Sample {
            summary,
            events,
            by_user,
            users,
            single_victims,
            attack_ips,
        }
    })
}

fn local_hour(user: &UserState, ts_ms: i64) -> i64 {
    (ts_ms + i64::from(user.persona.offset_min) * 60_000).rem_euclid(DAY_MS) / 3_600_000
}

#[test]
fn same_seed_gives_identical_bytes() {
    let cfg = GenConfig {
        attacks: true,
        ..GenConfig::new(60, 10, 99)
    };
    let (first, _) = run(&cfg);
    let (second, _) = run(&cfg);
    assert!(!first.is_empty());
    assert!(first == second, "two runs of one configuration differ");
}

#[test]
fn different_seed_gives_different_output() {
    let (first, _) = run(&GenConfig::new(20, 3, 1));
    let (second, _) = run(&GenConfig::new(20, 3, 2));
    assert_ne!(first, second);
}

#[test]
fn a_users_traffic_does_not_depend_on_how_many_users_there_are() {
    let (small, _) = run(&GenConfig::new(10, 9, SEED));
    let (large, _) = run(&GenConfig::new(25, 9, SEED));
    let small = String::from_utf8(small).expect("UTF-8");
    let large = String::from_utf8(large).expect("UTF-8");
    let ids: HashSet<String> = (0..10).map(|i| UserState::new(SEED, i).user_id()).collect();
    let of_small_population = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| ids.contains(&Event::parse(line).user_id))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(of_small_population(&small), of_small_population(&large));
}

#[test]
fn output_is_sorted_by_timestamp() {
    let s = sample();
    assert!(
        s.events.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms),
        "events out of order"
    );
}

#[test]
fn every_line_carries_the_contract_fields() {
    let s = sample();
    let user_id = Regex::new(r"^usr_[0-9a-f]{6}$").expect("regex");
    let mistyped_id = Regex::new(r"^usr_[0-9a-f]{5}$").expect("regex");
    let event_id = Regex::new(r"^evt_[0-9a-f]{16}$").expect("regex");
    let key_id = Regex::new(r"^(ak|dk)_[0-9a-f]{8}$").expect("regex");
    let timestamp = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").expect("regex");
    let mut ids = HashSet::new();
    let mut hidden_key_type = 0;
    let mut with_key = 0;
    assert_eq!(s.summary.events, s.events.len() as u64);
    for e in &s.events {
        let v: Value = serde_json::from_str(&e.line).expect("JSON");
        assert!(
            timestamp.is_match(v["timestamp"].as_str().expect("timestamp")),
            "{}",
            e.line
        );
        if e.failure_reason.as_deref() == Some("unknown_user") {
            assert!(mistyped_id.is_match(&e.user_id) || !s.users.contains_key(&e.user_id));
        } else {
            assert!(user_id.is_match(&e.user_id), "{}", e.line);
        }
        let id = v["event_id"].as_str().expect("event_id");
        assert!(event_id.is_match(id), "{}", e.line);
        assert!(ids.insert(id.to_owned()), "event id repeated: {}", e.line);
        let ip = e.ip.as_deref().expect("every event has an address");
        ip.parse::<IpAddr>().expect("ip_address is an address");
        let status = v["status_code"].as_u64().expect("status_code");
        assert_eq!(v["success"].as_bool(), Some(status < 400), "{}", e.line);
        match e.kind.as_str() {
            "api_access" => assert!(v["tokens_used"].is_u64(), "{}", e.line),
            "authentication" => accounts::check_authentication(&v, &e.line),
            "key_management" => accounts::check_key_management(&v, &e.line),
            "admin" => accounts::check_admin(&v, &e.line),
            other => panic!("unexpected event_type {other}"),
        }
        if let Some(key) = &e.key {
            with_key += 1;
            assert!(key_id.is_match(key), "{}", e.line);
            match v["key_type"].as_str() {
                None => hidden_key_type += 1,
                Some(kind) => assert_eq!(
                    kind,
                    if key.starts_with("ak_") {
                        "agent"
                    } else {
                        "developer"
                    }
                ),
            }
        }
        if let Some(details) = v.get("details") {
            assert!(details.is_object(), "{}", e.line);
        }
    }
    let hidden = f64::from(hidden_key_type) / f64::from(with_key);
    assert!(
        (0.4..0.6).contains(&hidden),
        "key_type omitted in {hidden:.2} of keyed events"
    );
}

#[test]
fn every_attack_kind_is_labelled_for_users_that_exist() {
    let s = sample();
    for kind in AttackKind::ALL {
        let labels: Vec<_> = s
            .summary
            .labels
            .iter()
            .filter(|l| l.attack == kind)
            .collect();
        let expected = match kind {
            AttackKind::BruteForce => 4,
            AttackKind::CredentialStuffing | AttackKind::PasswordSpraying => 1,
            _ => 8,
        };
        assert_eq!(labels.len(), expected, "{kind}: share of 200 users");
        for label in labels {
            assert!(
                s.users.contains_key(&label.user_id),
                "{kind}: unknown victim"
            );
            assert!(label.start <= label.end);
            assert_eq!(label.expected_signals, kind.expected_signals());
            let start = label.start.timestamp_millis();
            let end = label.end.timestamp_millis();
            let accounts: Vec<&String> = if label.targets.is_empty() {
                vec![&label.user_id]
            } else {
                label.targets.iter().collect()
            };
            let at = |t: i64| {
                accounts
                    .iter()
                    .any(|u| s.events_of(u).any(|e| e.ts_ms == t))
            };
            assert!(
                at(start) && at(end),
                "{kind}: label span does not match its events"
            );
        }
    }
    let (campaigns, single): (Vec<&AttackLabel>, Vec<&AttackLabel>) =
        s.summary.labels.iter().partition(|l| {
            matches!(
                l.attack,
                AttackKind::CredentialStuffing | AttackKind::PasswordSpraying
            )
        });
    let victims: HashSet<&String> = single.iter().map(|l| &l.user_id).collect();
    assert_eq!(victims.len(), single.len(), "victim sets overlap");
    for label in campaigns {
        assert!(
            label.targets.iter().all(|t| !victims.contains(t)),
            "{}: a campaign targets another attack's victim",
            label.attack
        );
    }
}

#[test]
fn attacks_need_a_week_of_baseline() {
    let cfg = GenConfig {
        attacks: true,
        ..GenConfig::new(100, 7, SEED)
    };
    let err = generate(&cfg, &mut Vec::new()).expect_err("7 days are too few");
    assert!(
        matches!(
            err,
            GenError::TooFewDays {
                days: 7,
                required: 8
            }
        ),
        "{err}"
    );
    let cfg = GenConfig {
        attacks: true,
        ..GenConfig::new(4, 8, SEED)
    };
    let err = generate(&cfg, &mut Vec::new()).expect_err("4 users are too few");
    // One victim for each of six single-victim kinds, and 13 accounts for
    // the campaigns.
    assert!(
        matches!(
            err,
            GenError::TooFewUsers {
                users: 4,
                required: 19
            }
        ),
        "{err}"
    );
}

#[test]
fn only_leaked_key_events_carry_a_full_key() {
    let full_key = Regex::new(r"(ak|dk)_[A-Za-z0-9_]{24,}").expect("regex");
    let (benign, _) = run(&GenConfig::new(200, 10, SEED));
    let benign = String::from_utf8(benign).expect("UTF-8");
    assert!(benign.lines().all(|line| !full_key.is_match(line)));
    assert!(!benign.contains("Bearer") && !benign.contains("sk-"));

    let s = sample();
    let mut leaks = 0;
    for e in s.events.iter().filter(|e| full_key.is_match(&e.line)) {
        let label = s.label_of(&e.user_id).expect("leaking user is a victim");
        assert_eq!(label.attack, AttackKind::LeakedKey, "{}", e.line);
        let secret = full_key.find(&e.line).expect("match").as_str();
        let key_id = label.api_key_id.as_deref().expect("leaked key named");
        assert_eq!(
            &secret[..3],
            &key_id[..3],
            "the secret belongs to the labelled key"
        );
        leaks += 1;
    }
    assert!(leaks >= 8, "every leaked_key victim leaks at least once");
}

#[test]
fn benign_keys_stay_within_benign_rate_limits() {
    let s = sample();
    let mut by_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for user in s.benign_users() {
        for e in s.benign_events_of(user) {
            if let Some(key) = &e.key {
                by_key.entry(key).or_default().push(e.ts_ms);
            }
        }
    }
    assert!(by_key.len() > 200);
    for (key, times) in by_key {
        let developer = key.starts_with("dk_");
        // At most 4 (agent) or 1 (developer) calls in any one-second window.
        let per_second = if developer { 1 } else { 4 };
        for w in times.windows(per_second + 1) {
            assert!(
                w[per_second] - w[0] >= 1_000,
                "{key}: {} calls within a second",
                w.len()
            );
        }
        let mut per_day: HashMap<i64, u32> = HashMap::new();
        for t in &times {
            *per_day.entry(t.div_euclid(DAY_MS)).or_default() += 1;
        }
        let limit = if developer { 600 } else { 2_500 };
        assert!(per_day.values().all(|&n| n < limit), "{key}: daily quota");
    }
}

/// Daily totals of `events` by UTC day, from the first active day on.
fn utc_days<'a>(events: impl Iterator<Item = &'a Event>) -> Vec<(u64, u64)> {
    daily_totals(events, 0)
}

/// Daily totals of `events` by day in a zone `offset_ms` east of UTC, from
/// the first active day on.
fn daily_totals<'a>(events: impl Iterator<Item = &'a Event>, offset_ms: i64) -> Vec<(u64, u64)> {
    let mut days: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for e in events {
        let day = days
            .entry((e.ts_ms + offset_ms).div_euclid(DAY_MS))
            .or_default();
        day.0 += e.tokens;
        day.1 += 1;
    }
    let (Some(first), Some(last)) = (days.keys().next().copied(), days.keys().last().copied())
    else {
        return Vec::new();
    };
    (first..=last)
        .map(|d| days.get(&d).copied().unwrap_or_default())
        .collect()
}

fn mean_plus_3_sample_sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    mean + 3.0 * var.sqrt()
}

#[test]
fn benign_days_stay_below_mean_plus_three_sigma_of_previous_days() {
    let s = sample();
    let mut judged = 0;
    let readings = s.benign_users().flat_map(|user| {
        // A detector reads days in UTC or in the user's own time zone.
        let offset_ms = i64::from(s.users[user].persona.offset_min) * 60_000;
        [0, offset_ms].map(|offset| (user, daily_totals(s.benign_events_of(user), offset)))
    });
    for (user, days) in readings {
        for today in 3..days.len() {
            for active_only in [false, true] {
                let prior: Vec<_> = days[..today]
                    .iter()
                    .filter(|d| !active_only || d.1 > 0)
                    .copied()
                    .collect();
                if prior.len() < 3 {
                    continue;
                }
                let tokens: Vec<f64> = prior.iter().map(|d| d.0 as f64).collect();
                let requests: Vec<f64> = prior.iter().map(|d| d.1 as f64).collect();
                let (t, r) = (days[today].0 as f64, days[today].1 as f64);
                assert!(
                    t <= mean_plus_3_sample_sd(&tokens),
                    "{user} day {today}: token spike"
                );
                assert!(
                    r <= mean_plus_3_sample_sd(&requests),
                    "{user} day {today}: request spike"
                );
                judged += 1;
            }
        }
    }
    assert!(judged > 1_000);
}

#[test]
fn spikes_exceed_mean_plus_three_sigma_of_previous_days() {
    let s = sample();
    let spikes = s
        .summary
        .labels
        .iter()
        .filter(|l| l.expected_signals.iter().any(|x| x == "usage_spike"));
    for label in spikes {
        let days = utc_days(s.events_of(&label.user_id));
        let first = s
            .events_of(&label.user_id)
            .next()
            .expect("victim has events")
            .ts_ms
            .div_euclid(DAY_MS);
        let today = usize::try_from(label.start.timestamp_millis().div_euclid(DAY_MS) - first)
            .expect("after");
        let tokens: Vec<f64> = days[..today].iter().map(|d| d.0 as f64).collect();
        assert!(
            days[today].0 as f64 > mean_plus_3_sample_sd(&tokens),
            "{}: no spike",
            label.user_id
        );
        let typical = s.users[&label.user_id].persona.typical_weekday_tokens();
        let attack_tokens: u64 = s
            .events_of(&label.user_id)
            .filter(|e| {
                e.ts_ms >= label.start.timestamp_millis() && e.ts_ms <= label.end.timestamp_millis()
            })
            .filter(|e| e.key == label.api_key_id)
            .map(|e| e.tokens)
            .sum();
        assert!(
            attack_tokens as f64 >= 6.0 * typical,
            "{}: spike below 6 typical days",
            label.user_id
        );
    }
}

#[test]
fn benign_activity_stays_in_each_personas_hours() {
    let s = sample();
    for user_id in s.benign_users() {
        let user = &s.users[user_id];
        let p = user.persona;
        let first = i64::from(p.shift_start_min) / 60;
        let last = (i64::from(p.shift_start_min) + i64::from(p.shift_len_min) - 1) / 60;
        for e in s.benign_events_of(user_id) {
            let hour = local_hour(user, e.ts_ms);
            let in_shift = (first..=last).contains(&hour) || (first..=last).contains(&(hour + 24));
            assert!(
                in_shift,
                "{user_id}: activity at {hour}:00 local outside {first}..={last}"
            );
            if !p.night_shift {
                assert!(
                    !(1..6).contains(&hour),
                    "{user_id}: day user active at {hour}:00 local"
                );
            }
        }
    }
}

#[test]
fn attacks_have_the_promised_shape() {
    let s = sample();
    for label in &s.summary.labels {
        let user = &s.users[&label.user_id];
        let (start, end) = (label.start.timestamp_millis(), label.end.timestamp_millis());
        let span: Vec<&Event> = s
            .events_of(&label.user_id)
            .filter(|e| {
                e.ts_ms >= start && e.ts_ms <= end && e.ip == label.ip && e.key == label.api_key_id
            })
            .collect();
        let max_per_second = span
            .iter()
            .enumerate()
            .map(|(i, e)| {
                span[i..]
                    .iter()
                    .take_while(|x| x.ts_ms < e.ts_ms + 1_000)
                    .count()
            })
            .max()
            .unwrap_or(0);
        match label.attack {
            AttackKind::KeyTheft => {
                let ip = label.ip.as_deref().expect("attacker address");
                let slash16 = |ip: &str| ip.split('.').take(2).collect::<Vec<_>>().join(".");
                let before: Vec<_> = s
                    .events_of(&label.user_id)
                    .filter(|e| e.ts_ms < start)
                    .collect();
                assert!(before.len() >= 10, "an established user");
                let seen = before.iter().filter_map(|e| e.ip.as_deref());
                assert!(
                    seen.clone().all(|x| slash16(x) != slash16(ip)),
                    "attacker /16 was known"
                );
                assert!(
                    (1..=3).contains(&max_per_second),
                    "{max_per_second} calls a second"
                );
                assert!(end - start <= 3 * 3_600_000 + 60_000);
            }
            AttackKind::RunawayUsage => {
                // The victim's own benign calls on that key may share a second.
                assert!(
                    (1..=3 + 4).contains(&max_per_second),
                    "{max_per_second} calls a second"
                );
                assert!(end - start <= 4 * 3_600_000 + 60_000);
            }
            AttackKind::OffHours => {
                assert!(
                    (30..=80).contains(&span.len()),
                    "{} off-hours calls",
                    span.len()
                );
                assert!(
                    span.iter()
                        .all(|e| (2..5).contains(&local_hour(user, e.ts_ms)))
                );
            }
            AttackKind::RateAbuse => {
                assert!(max_per_second >= 20, "{max_per_second} calls a second");
            }
            AttackKind::LeakedKey => {
                let leaks = span.iter().filter(|e| e.line.contains("_live_")).count();
                assert!((1..=3).contains(&leaks), "{leaks} leaking events");
            }
            // Login attacks have tests of their own.
            AttackKind::BruteForce
            | AttackKind::CredentialStuffing
            | AttackKind::PasswordSpraying => {}
        }
    }
}

#[test]
fn benign_addresses_are_public_and_stable() {
    let s = sample();
    let mut novel_networks = 0;
    let mut user_days = 0;
    for user_id in s.benign_users() {
        let mut known: HashSet<String> = HashSet::new();
        let mut days: HashSet<i64> = HashSet::new();
        for e in s.benign_events_of(user_id) {
            days.insert(e.ts_ms.div_euclid(DAY_MS));
            let ip: IpAddr = e.ip.as_deref().expect("address").parse().expect("valid");
            if let IpAddr::V4(v4) = ip {
                let [a, b, ..] = v4.octets();
                assert!(
                    !v4.is_private() && !v4.is_loopback() && a != 0 && a < 224,
                    "{v4}"
                );
                assert!(
                    !(a == 100 && (64..128).contains(&b)),
                    "{v4} is shared address space"
                );
            }
            let network = match ip {
                IpAddr::V4(v4) => format!("{:?}", &v4.octets()[..3]),
                IpAddr::V6(v6) => format!("{:?}", &v6.segments()[..4]),
            };
            known.insert(network);
        }
        novel_networks += known.len().saturating_sub(3);
        user_days += days.len();
    }
    assert!(
        novel_networks * 1_000 <= user_days,
        "{novel_networks} new networks in {user_days} user-days"
    );
}
