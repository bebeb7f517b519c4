//! Fuzzes playbook parsing: the input, when it is UTF-8, is the text of a
//! playbook file given to `Playbook::parse`.
//!
//! A refused playbook's error must name its origin. An accepted one must
//! answer every incident type and severity with each action at most once,
//! in the stable order, and never ask for less as severity rises (an entry
//! applies from its `min_severity` up).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::incident::IncidentType;
use vigil::respond::Playbook;
use vigil::signal::Severity;

/// The origin errors must carry.
const ORIGIN: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Playbook::parse(text, ORIGIN) {
        Ok(playbook) => check_answers(&playbook),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains(ORIGIN), "{message}");
        }
    }
});

fn check_answers(playbook: &Playbook) {
    for incident_type in IncidentType::ALL {
        let mut previous = Vec::new();
        for severity in Severity::ALL {
            let actions = playbook.actions_for(incident_type, severity);
            assert!(
                actions.windows(2).all(|pair| pair[0] < pair[1]),
                "{actions:?} is not sorted and unique"
            );
            assert!(
                previous.iter().all(|action| actions.contains(action)),
                "{incident_type:?} at {severity:?} drops some of {previous:?}"
            );
            previous = actions;
        }
    }
}
