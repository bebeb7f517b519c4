//! Running the test cases rule files carry under `vigil: tests:`.
//!
//! Each case runs alone on fresh engines loaded with the whole set, through
//! the same decoding and the same shard and global stages as a live run, so
//! a passing case shows what production will do with those events.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::extension::{Expectation, TestCase, TestStep};
use super::fields::RuleEvent;
use super::load::{RuleKind, RuleMeta, RuleSet};
use super::stage::{RuleStage, StageKind};
use crate::event::{DecodeLimits, decode};
use crate::signal::Signal;
use crate::time::{LocalClock, SECOND_MS, Timestamp};

/// Test events start at 2026-01-05T10:00:00Z, a Monday morning.
const START_MS: i64 = 1_767_607_200_000;

/// The result of one test case (or of a rule that lacks tests).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome {
    /// The rule under test.
    pub rule_id: String,
    /// The file the rule came from.
    pub file: String,
    /// The case's name.
    pub case: String,
    /// Whether it passed.
    pub passed: bool,
    /// What happened, for the result line.
    pub detail: String,
}

/// Runs every test case of every rule in `set`. A rule that raises signals
/// of its own must have at least one `match` and one `no_match` case; a
/// rule without them is reported as a failure.
#[must_use]
pub fn run_rule_tests(set: &Arc<RuleSet>) -> Vec<CaseOutcome> {
    let mut outcomes = Vec::new();
    for meta in set.metas() {
        if let Some(missing) = missing_cases(set, meta) {
            outcomes.push(CaseOutcome {
                rule_id: meta.id.clone(),
                file: meta.file.clone(),
                case: "test coverage".to_owned(),
                passed: false,
                detail: missing,
            });
        }
        for case in &meta.tests {
            outcomes.push(run_case(set, meta, case));
        }
    }
    outcomes
}

/// What a signal-raising rule's tests lack, if anything.
fn missing_cases(set: &RuleSet, meta: &RuleMeta) -> Option<String> {
    let raises = meta.kind == RuleKind::Correlation || set.emits(&meta.id);
    if !raises {
        return None;
    }
    let has = |expect: Expectation| meta.tests.iter().any(|case| case.expect == expect);
    match (has(Expectation::Match), has(Expectation::NoMatch)) {
        (true, true) => None,
        (false, _) => Some("needs at least one case with `expect: match`".to_owned()),
        (true, false) => Some("needs at least one case with `expect: no_match`".to_owned()),
    }
}

fn run_case(set: &Arc<RuleSet>, meta: &RuleMeta, case: &TestCase) -> CaseOutcome {
    let outcome = |passed: bool, detail: String| CaseOutcome {
        rule_id: meta.id.clone(),
        file: meta.file.clone(),
        case: case.name.clone(),
        passed,
        detail,
    };
    let signals = match replay(set, &case.events) {
        Ok(signals) => signals,
        Err(problem) => return outcome(false, problem),
    };
    let fired = signals
        .iter()
        .filter(|s| s.name == meta.id.as_str())
        .count();
    match case.expect {
        Expectation::Match if fired > 0 => outcome(true, format!("fired {fired} time(s)")),
        Expectation::Match => outcome(false, "expected a match, the rule did not fire".to_owned()),
        Expectation::NoMatch if fired == 0 => outcome(true, "did not fire".to_owned()),
        Expectation::NoMatch => outcome(
            false,
            format!("expected no match, the rule fired {fired} time(s)"),
        ),
    }
}

/// Runs the case's events through fresh shard and global stages.
fn replay(set: &Arc<RuleSet>, steps: &[TestStep]) -> Result<Vec<Signal>, String> {
    let mut shard = RuleStage::with_set(StageKind::Shard, Arc::clone(set), 1);
    let mut global = RuleStage::with_set(StageKind::Global, Arc::clone(set), 1);
    let mut signals = Vec::new();
    for (index, record) in expand(steps)?.iter().enumerate() {
        let event = decode(record.as_bytes(), &DecodeLimits::default())
            .map_err(|reject| format!("event {}: {reject}", index + 1))?;
        let view = RuleEvent::new(&event, LocalClock::UTC.local(event.timestamp));
        if shard.inspect(&view, &mut signals) {
            global.inspect(&view, &mut signals);
        }
    }
    Ok(signals)
}

/// Turns the steps into JSON records with defaults and timestamps filled.
fn expand(steps: &[TestStep]) -> Result<Vec<String>, String> {
    let mut clock = Timestamp(START_MS);
    let mut records = Vec::new();
    for step in steps {
        match step {
            TestStep::Wait { wait_secs } => clock = clock.plus_ms(secs_ms(*wait_secs)),
            TestStep::Event(fields) => {
                records.push(record(fields, None, &mut clock)?);
                clock = clock.plus_ms(SECOND_MS);
            }
            TestStep::Repeat {
                repeat,
                every_secs,
                event,
            } => {
                for n in 0..*repeat {
                    records.push(record(event, Some(n), &mut clock)?);
                    clock = clock.plus_ms(secs_ms(*every_secs));
                }
            }
        }
    }
    Ok(records)
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / SECOND_MS) * SECOND_MS
}

/// One event: its fields with `{n}` replaced, defaults added, and the test
/// clock as its timestamp unless it names one (which then sets the clock).
fn record(
    fields: &Map<String, Value>,
    n: Option<u32>,
    clock: &mut Timestamp,
) -> Result<String, String> {
    let mut event: Map<String, Value> = fields
        .iter()
        .map(|(key, value)| (key.clone(), substitute(value, n)))
        .collect();
    match event.get("timestamp").and_then(Value::as_str) {
        Some(text) => {
            *clock = Timestamp::parse_rfc3339(text)
                .map_err(|e| format!("timestamp {text:?} is not RFC 3339: {e}"))?;
        }
        None => {
            event.insert("timestamp".to_owned(), Value::String(clock.to_rfc3339()));
        }
    }
    let defaults = [
        ("user_id", "test-user"),
        ("event_type", "api_access"),
        ("ip_address", "198.51.100.10"),
    ];
    for (key, value) in defaults {
        event
            .entry(key)
            .or_insert_with(|| Value::String(value.to_owned()));
    }
    serde_json::to_string(&event).map_err(|e| e.to_string())
}

/// Replaces `{n}` in every string with the repetition index.
fn substitute(value: &Value, n: Option<u32>) -> Value {
    let Some(n) = n else {
        return value.clone();
    };
    match value {
        Value::String(text) => Value::String(text.replace("{n}", &n.to_string())),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, Some(n))).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, Some(n))))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSource;

    const RULES: &str = r"
title: Failed login
id: t-failed-login
logsource: {product: vigil, service: api_gateway}
detection:
  selection:
    event_type: authentication
    success: false
  condition: selection
level: low
---
title: Many failed logins
id: t-brute-force
correlation:
  type: event_count
  rules: [t-failed-login]
  group-by: [user_id]
  timespan: 5m
  condition: {gte: 3}
level: high
vigil:
  incident_type: unauthorized_access
  tests:
    - name: three failures in a minute
      expect: match
      events:
        - repeat: 3
          every_secs: 20
          event: {event_type: authentication, success: false}
    - name: three failures spread over an hour
      expect: no_match
      events:
        - repeat: 3
          every_secs: 1200
          event: {event_type: authentication, success: false}
    - name: this case is wrong on purpose
      expect: match
      events:
        - {event_type: authentication, success: true}
";

    fn set() -> Arc<RuleSet> {
        let source = RuleSource {
            name: "test.yml".to_owned(),
            text: RULES.to_owned(),
        };
        Arc::new(RuleSet::from_sources(&[source]).unwrap())
    }

    #[test]
    fn cases_pass_and_fail_on_what_the_rule_does() {
        let outcomes = run_rule_tests(&set());
        let passed: Vec<(&str, bool)> = outcomes
            .iter()
            .map(|o| (o.case.as_str(), o.passed))
            .collect();
        assert_eq!(
            passed,
            [
                ("three failures in a minute", true),
                ("three failures spread over an hour", true),
                ("this case is wrong on purpose", false),
            ]
        );
    }

    #[test]
    fn repeats_substitute_the_index_and_advance_the_clock() {
        let steps = vec![
            TestStep::Repeat {
                repeat: 2,
                every_secs: 60,
                event: serde_json::from_str(r#"{"user_id":"u{n}"}"#).unwrap(),
            },
            TestStep::Wait { wait_secs: 10 },
            TestStep::Event(Map::new()),
        ];
        let records: Vec<Value> = expand(&steps)
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
        assert_eq!(records[0]["user_id"], "u0");
        assert_eq!(records[1]["user_id"], "u1");
        assert_eq!(records[2]["user_id"], "test-user");
        assert_eq!(records[0]["timestamp"], "2026-01-05T10:00:00Z");
        assert_eq!(records[1]["timestamp"], "2026-01-05T10:01:00Z");
        assert_eq!(records[2]["timestamp"], "2026-01-05T10:02:10Z");
    }
}
