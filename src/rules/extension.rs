//! The `vigil:` key of a rule document: what a match means for incidents
//! (type and score) and the test events that prove the rule works.
//!
//! ```yaml
//! vigil:
//!   incident_type: unauthorized_access
//!   score: 0.7
//!   tests:
//!     - name: ten failed logins in two minutes
//!       expect: match
//!       events:
//!         - repeat: 10
//!           every_secs: 12
//!           event: {event_type: authentication, success: false, user_id: alice}
//! ```

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::incident::IncidentType;

/// The parsed `vigil:` mapping.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VigilExtension {
    /// The incident type a match points to.
    pub incident_type: Option<IncidentType>,
    /// What one match contributes to an incident's score, in `[0, 1]`.
    pub score: Option<f64>,
    /// Events that must and must not make the rule fire.
    #[serde(default)]
    pub tests: Vec<TestCase>,
}

/// One rule test: a sequence of events and whether the rule must fire.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows, printed on its result line.
    pub name: String,
    /// Whether the rule must fire on these events.
    pub expect: Expectation,
    /// The events, in order.
    pub events: Vec<TestStep>,
}

/// The outcome a test case demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// The rule raises at least one signal.
    Match,
    /// The rule raises no signal.
    NoMatch,
}

/// One step of a test case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TestStep {
    /// The same event several times; `{n}` in its strings becomes the
    /// repetition's index (0, 1, …).
    Repeat {
        /// How many times.
        repeat: u32,
        /// Seconds between repetitions (default 1).
        #[serde(default = "one_second")]
        every_secs: u64,
        /// The event's fields.
        event: Map<String, Value>,
    },
    /// Advances the test clock.
    Wait {
        /// Seconds to advance.
        wait_secs: u64,
    },
    /// One event's fields.
    Event(Map<String, Value>),
}

fn one_second() -> u64 {
    1
}

impl VigilExtension {
    /// Parses the `vigil:` value of a rule document.
    ///
    /// # Errors
    /// Returns a message naming the offending key or value.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let extension = Self::deserialize(value).map_err(|e| e.to_string())?;
        if let Some(score) = extension.score
            && !(0.0..=1.0).contains(&score)
        {
            return Err(format!("score must lie in 0..1, got {score}"));
        }
        for case in &extension.tests {
            if case.events.is_empty() {
                return Err(format!("test {:?} has no events", case.name));
            }
        }
        Ok(extension)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_type_score_and_every_kind_of_step() {
        let value = json!({
            "incident_type": "ddos_attack",
            "score": 0.6,
            "tests": [{
                "name": "flood",
                "expect": "match",
                "events": [
                    {"user_id": "a"},
                    {"wait_secs": 30},
                    {"repeat": 3, "every_secs": 2, "event": {"user_id": "u{n}"}}
                ]
            }]
        });
        let extension = VigilExtension::parse(&value).unwrap();
        assert_eq!(extension.incident_type, Some(IncidentType::DdosAttack));
        let steps = &extension.tests[0].events;
        assert!(matches!(steps[0], TestStep::Event(_)));
        assert_eq!(steps[1], TestStep::Wait { wait_secs: 30 });
        assert!(matches!(
            steps[2],
            TestStep::Repeat {
                repeat: 3,
                every_secs: 2,
                ..
            }
        ));
    }

    #[test]
    fn unknown_keys_and_bad_scores_are_refused() {
        let unknown = VigilExtension::parse(&json!({"scor": 0.5})).unwrap_err();
        assert!(unknown.contains("scor"), "{unknown}");
        let bad = VigilExtension::parse(&json!({"score": 1.5})).unwrap_err();
        assert!(bad.contains("1.5"), "{bad}");
        let kind = VigilExtension::parse(&json!({"incident_type": "theft"})).unwrap_err();
        assert!(kind.contains("theft"), "{kind}");
    }
}
