//! Fuzzes the Sigma rule loader: the input, when it is UTF-8, is the text
//! of one rule file given to `RuleSet::from_sources`.
//!
//! A refused file must come back with at least one problem, each naming
//! the file. A loaded set must hold sane metadata, and its own test cases
//! (the `vigil: tests:` of its rules) are run through the shard and global
//! stages as `vigil rules test` runs them, which puts the compiled rules in
//! front of events; sets whose cases add up to more events than a rule
//! test would sensibly hold are loaded but not run.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigil::rules::{RuleSet, RuleSource, TestStep, run_rule_tests};

/// The file name problems must carry.
const FILE: &str = "fuzz.yml";

/// Most test events run per input, so one input stays fast.
const MAX_TEST_EVENTS: u64 = 512;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = RuleSource {
        name: FILE.to_owned(),
        text: text.to_owned(),
    };

    match RuleSet::from_sources(std::slice::from_ref(&source)) {
        Ok(set) => check_set(Arc::new(set)),
        Err(errors) => {
            assert!(!errors.problems.is_empty(), "refused without a problem");
            for problem in &errors.problems {
                assert_eq!(problem.file, FILE, "{problem}");
                assert!(!problem.message.is_empty(), "{problem}");
            }
            let _ = errors.to_string();
        }
    }
});

fn check_set(set: Arc<RuleSet>) {
    assert_eq!(set.files(), 1);
    assert_eq!(set.metas().len(), set.len());
    for meta in set.metas() {
        assert!(!meta.id.trim().is_empty());
        assert_eq!(meta.file, FILE);
        assert!((0.0..=1.0).contains(&meta.score), "score {}", meta.score);
    }
    if test_events(&set) <= MAX_TEST_EVENTS {
        for outcome in run_rule_tests(&set) {
            assert!(!outcome.detail.is_empty());
        }
    }
}

/// How many events running every test case of the set would replay.
fn test_events(set: &RuleSet) -> u64 {
    let steps = set
        .metas()
        .into_iter()
        .flat_map(|meta| meta.tests.iter())
        .flat_map(|case| case.events.iter());
    steps
        .map(|step| match step {
            TestStep::Repeat { repeat, .. } => u64::from(*repeat),
            TestStep::Event(_) => 1,
            TestStep::Wait { .. } => 0,
        })
        .fold(0, u64::saturating_add)
}
