//! Fuzzes configuration parsing: the input, when it is UTF-8, is the text
//! of a `vigil.toml` given to `Config::parse`. Its lines of the form
//! `#$ NAME=VALUE` (TOML comments, so seeds stay valid files) are also
//! passed as environment variables, which exercises the `VIGIL_*`
//! overrides.
//!
//! A refused text must come back with at least one problem, none empty. An
//! accepted one must hold what validation promises (time zones that
//! resolve, bounded limits and scores) and parse the same way twice.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = environment(text);

    match Config::parse(text, "fuzz.toml", env.clone()) {
        Ok(config) => {
            assert!(config.profile.clocks().is_ok());
            assert!(config.input.max_event_bytes >= 64);
            assert!(config.rules.reload_poll_secs > 0);
            assert!(config.incidents.correlation_window_secs > 0);
            assert!((0.0..=1.0).contains(&config.incidents.min_score));
            let again = Config::parse(text, "fuzz.toml", env).expect("accepted once");
            assert_eq!(format!("{again:?}"), format!("{config:?}"));
        }
        Err(error) => {
            assert!(!error.problems.is_empty(), "refused without a problem");
            assert!(error.problems.iter().all(|p| !p.trim().is_empty()));
        }
    }
});

/// The `#$ NAME=VALUE` lines, as environment variables.
fn environment(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("#$ "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}
