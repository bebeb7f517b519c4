//! The correlator against rsigma's correlation engine: the same rules and
//! the same random event streams (out-of-order events, stale groups,
//! periodic eviction, reloads) must give the same matches, in the same
//! order, with the same values.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rsigma_eval::event::JsonEvent;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, EvaluationResult};
use rsigma_parser::{SigmaCollection, parse_sigma_yaml};
use serde_json::{Value, json};

use super::Correlator;
use crate::rules::load::correlation_config;

/// Three detection rules (one with a name, one setting an engine-wide
/// suppression when `SUPPRESS` is kept) and correlations of every type,
/// window mode and option rsigma reads.
const RULES: &str = r#"
title: Kind a
id: det-a
name: rule_a
logsource: {product: test}
detection: {selection: {kind: a}, condition: selection}
---
title: Kind b
id: det-b
logsource: {product: test}
detection: {selection: {kind: b}, condition: selection}
---
title: Kind c
id: det-c
name: rule_c
SUPPRESS
logsource: {product: test}
detection: {selection: {kind: c}, condition: selection}
---
title: Sliding count
id: ec-sliding
correlation: {type: event_count, rules: [det-a], group-by: [user], timespan: 60s,
  condition: {gte: 3}}
---
title: Tumbling count
id: ec-tumbling
correlation: {type: event_count, rules: [det-b], group-by: [user], timespan: 120s,
  window: tumbling, condition: {gte: 2}}
---
title: Session count
id: ec-session
correlation: {type: event_count, rules: [rule_a, det-c], group-by: [user], timespan: 10m,
  window: session, gap: 90s, condition: {gte: 4}}
---
title: Addresses per user
id: vc-ip
name: vc_ip
correlation: {type: value_count, rules: [det-a, det-b], group-by: [user], timespan: 5m,
  condition: {field: ip, gte: 3}}
---
title: Users and amounts per address
id: vc-multi
correlation: {type: value_count, rules: [det-c], group-by: [ip], timespan: 5m,
  condition: {field: [user, n], gte: 3}}
---
title: Users per address, alerting, suppressed
id: vc-alert
rsigma.action: alert
rsigma.suppress: 30s
correlation: {type: value_count, rules: [det-b], group-by: [ip], timespan: 2m,
  condition: {field: user, gte: 2}}
---
title: Users per address, capped
id: vc-capped
rsigma.max_group_entries: "4"
correlation: {type: value_count, rules: [det-a], group-by: [ip], timespan: 10m,
  condition: {field: user, gte: 3}}
---
title: Addresses per user, session
id: vc-session
correlation: {type: value_count, rules: [det-b], group-by: [user], timespan: 5m,
  window: session, gap: 60s, condition: {field: ip, gte: 2}}
---
title: Addresses per user, session, capped
id: vc-session-capped
rsigma.max_group_entries: "2"
correlation: {type: value_count, rules: [det-a], group-by: [user], timespan: 10m,
  window: session, gap: 2m, condition: {field: ip, gte: 3}}
---
title: Addresses per user, tumbling
id: vc-tumbling
correlation: {type: value_count, rules: [det-c], group-by: [user], timespan: 3m,
  window: tumbling, condition: {field: ip, lte: 1}}
---
title: Missing field counted
id: vc-host
correlation: {type: value_count, rules: [det-b], group-by: [user], timespan: 5m,
  condition: {field: host, gte: 2}}
---
title: a then b
id: temporal
correlation: {type: temporal, rules: [det-a, det-b], group-by: [user], timespan: 2m}
---
title: a without c
id: temporal-expression
correlation: {type: temporal, rules: [rule_a, rule_c], group-by: [user], timespan: 2m,
  condition: "rule_a and not rule_c"}
---
title: c then many addresses
id: ordered
correlation: {type: temporal_ordered, rules: [det-c, vc_ip], group-by: [user],
  timespan: 10m}
---
title: Repeated sliding counts
id: ec-of-ec
correlation: {type: event_count, rules: [ec-sliding], group-by: [user], timespan: 30m,
  condition: {gte: 2}}
---
title: Sum
id: sum
correlation: {type: value_sum, rules: [det-a, det-c], group-by: [user], timespan: 5m,
  condition: {field: n, gte: 20}}
---
title: Average
id: avg
correlation: {type: value_avg, rules: [det-b], group-by: [ip], timespan: 5m,
  condition: {field: n, gte: 5}}
---
title: Percentile
id: pct
correlation: {type: value_percentile, rules: [det-a], group-by: [user], timespan: 5m,
  condition: {field: n, percentile: 90, gte: 7}}
---
title: Median
id: median
correlation: {type: value_median, rules: [det-c], group-by: [user], timespan: 5m,
  condition: {field: n, gte: 3}}
---
title: Aliased group
id: aliased
correlation:
  type: event_count
  rules: [det-a, det-b]
  group-by: [actor]
  aliases: {actor: {det-a: user, det-b: ip}}
  timespan: 3m
  condition: {gte: 3}
"#;

fn collection(suppress: bool) -> SigmaCollection {
    let line = if suppress { "rsigma.suppress: 20s" } else { "" };
    parse_sigma_yaml(&RULES.replace("SUPPRESS", line)).expect("test rules parse")
}

/// A match as the signals see it.
fn summary(result: &EvaluationResult) -> (Option<String>, String, Vec<(String, String)>, u64) {
    let body = result.as_correlation().expect("a correlation result");
    (
        result.header.rule_id.clone(),
        format!("{:?}/{}", body.correlation_type, body.timespan_secs),
        body.group_key.clone(),
        body.aggregated_value.to_bits(),
    )
}

fn random_event(rng: &mut ChaCha8Rng) -> Value {
    let users = ["u1", "u2", "u3"];
    let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
    let kinds = ["a", "b", "c"];
    let amounts = [json!(1), json!(2.5), json!(7), json!("12"), json!(0)];
    let mut event = json!({
        "user": users[rng.gen_range(0..users.len())],
        "ip": ips[rng.gen_range(0..ips.len())],
        "kind": kinds[rng.gen_range(0..kinds.len())],
        "n": amounts[rng.gen_range(0..amounts.len())].clone(),
    });
    if rng.gen_bool(0.5) {
        event["host"] = json!(format!("h{}", rng.gen_range(0..3)));
    }
    event
}

/// Seconds to the next event: mostly forward, sometimes far ahead,
/// sometimes back in time.
fn random_step(rng: &mut ChaCha8Rng) -> i64 {
    match rng.gen_range(0..20) {
        0 => -rng.gen_range(1..90),
        1 => rng.gen_range(600..5_000),
        2..=5 => 0,
        _ => rng.gen_range(1..40),
    }
}

/// Runs one random stream through both engines, comparing every event's
/// matches; returns how many matches there were.
fn compare(seed: u64, config: &CorrelationConfig, suppress: bool) -> usize {
    let rules = collection(suppress);
    let build_theirs = || {
        let mut engine = CorrelationEngine::new(config.clone());
        engine.add_collection(&rules).expect("test rules compile");
        engine
    };
    let build_ours = || {
        let detections: Vec<_> = rules.rules.iter().collect();
        let correlations: Vec<_> = rules.correlations.iter().collect();
        Correlator::new(config, &detections, &correlations)
    };
    let mut theirs = build_theirs();
    let mut ours = build_ours();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ts = 1_700_000_000_i64;
    let mut latest = ts;
    let mut matches = 0;
    for step in 0..1_500 {
        ts += random_step(&mut rng);
        latest = latest.max(ts);
        let record = random_event(&mut rng);
        let event = JsonEvent::borrow(&record);
        let detections = theirs.evaluate(&event);
        let got: Vec<_> = ours
            .feed(&event, &detections, ts)
            .iter()
            .map(summary)
            .collect();
        let expected: Vec<_> = theirs
            .process_with_detections(&event, detections, ts)
            .iter()
            .filter(|result| result.is_correlation())
            .map(summary)
            .collect();
        assert_eq!(got, expected, "seed {seed}, event {step}: {record}");
        matches += got.len();
        if step % 97 == 0 {
            theirs.evict_expired(latest);
            ours.evict_expired(latest);
        }
        if step % 401 == 400 {
            let snapshot = theirs.export_state();
            theirs = build_theirs();
            theirs.import_state(snapshot);
            let carried = ours.carry_out();
            ours = build_ours();
            ours.carry_in(carried);
        }
    }
    matches
}

#[test]
fn matches_rsigma_with_vigil_settings() {
    let matches: usize = (0..12)
        .map(|seed| compare(seed, &correlation_config(), false))
        .sum();
    assert!(
        matches > 1_000,
        "only {matches} matches: the streams test too little"
    );
}

#[test]
fn matches_rsigma_when_windows_keep_counting_after_a_match() {
    let matches: usize = (100..108)
        .map(|seed| compare(seed, &CorrelationConfig::default(), false))
        .sum();
    assert!(
        matches > 1_000,
        "only {matches} matches: the streams test too little"
    );
}

#[test]
fn matches_rsigma_with_a_suppression_set_by_a_detection_rule() {
    for seed in 200..206 {
        compare(seed, &correlation_config(), true);
        compare(seed, &CorrelationConfig::default(), true);
    }
}

#[test]
fn stalest_windows_go_first_past_the_limit() {
    let config = CorrelationConfig {
        max_state_entries: 10,
        ..correlation_config()
    };
    let rules = collection(false);
    let detections: Vec<_> = rules.rules.iter().collect();
    let correlations: Vec<_> = rules.correlations.iter().collect();
    let mut ours = Correlator::new(&config, &detections, &correlations);
    let mut engine = CorrelationEngine::new(config.clone());
    engine.add_collection(&rules).expect("test rules compile");
    for user in 0..12 {
        let record = json!({"user": format!("user-{user}"), "ip": "10.0.0.1", "kind": "b"});
        let event = JsonEvent::borrow(&record);
        ours.feed(&event, &engine.evaluate(&event), 1_000 + user);
    }
    ours.evict_expired(1_011);

    assert!(ours.state.window_count() <= 9);
    let newest = rsigma_eval::GroupKey(vec![Some("user-11".to_owned())]);
    let oldest = rsigma_eval::GroupKey(vec![Some("user-0".to_owned())]);
    let tumbling = ours
        .plan
        .correlations
        .iter()
        .position(|c| c.id.as_deref() == Some("ec-tumbling"))
        .expect("the tumbling correlation is loaded");
    assert!(ours.state.windows[tumbling].contains_key(&newest));
    assert!(!ours.state.windows[tumbling].contains_key(&oldest));
}
