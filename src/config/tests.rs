//! Tests of configuration loading.

use std::io::Write;

use super::*;

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn no_file_gives_the_defaults() {
    assert_eq!(Config::load(None, no_env()).unwrap(), Config::default());
}

#[test]
fn file_values_override_defaults() {
    let file = write(
        "[profile]\ntime_zone = \"Europe/Berlin\"\n[detectors.rate_limit]\nagent_per_second = 20\n",
    );
    let config = Config::load(Some(file.path()), no_env()).unwrap();
    assert_eq!(config.profile.time_zone, "Europe/Berlin");
    assert_eq!(config.detectors.rate_limit.agent_per_second, 20);
    assert_eq!(config.detectors.rate_limit.agent_per_day, 5_000);
}

#[test]
fn environment_overrides_nested_keys_with_their_types() {
    let env = vec![
        (
            "VIGIL_DETECTORS_RATE_LIMIT_AGENT_PER_SECOND".to_owned(),
            "42".to_owned(),
        ),
        ("VIGIL_PROFILE_TIME_ZONE".to_owned(), "+05:30".to_owned()),
        (
            "VIGIL_SMTP_PASSWORD".to_owned(),
            "not a config key".to_owned(),
        ),
    ];
    let config = Config::load(None, env).unwrap();
    assert_eq!(config.detectors.rate_limit.agent_per_second, 42);
    assert_eq!(config.profile.time_zone, "+05:30");
}

#[test]
fn a_badly_typed_override_names_the_variable() {
    let env = vec![(
        "VIGIL_INCIDENTS_CORRELATION_WINDOW_SECS".to_owned(),
        "soon".to_owned(),
    )];
    let error = Config::load(None, env).unwrap_err();
    assert!(
        error.problems[0].contains("VIGIL_INCIDENTS_CORRELATION_WINDOW_SECS"),
        "{error}"
    );
}

#[test]
fn every_problem_is_reported_with_file_line_and_key() {
    let file = write(
        "# comment\n[profile]\ntime_zone = \"Mars/Base\"\n\n[detectors.usage_spike]\nsigmaa = 3\n\n[nonsense]\nx = 1\n",
    );
    let error = Config::load(Some(file.path()), no_env()).unwrap_err();
    let text = error.to_string();
    let path = file.path().display().to_string();
    assert!(text.contains(&format!("{path}:5: [detectors]")), "{text}");
    assert!(text.contains("sigmaa"), "{text}");
    assert!(text.contains(&format!("{path}:8: [nonsense]")), "{text}");
    assert!(text.contains("Mars/Base"), "{text}");
    assert_eq!(error.problems.len(), 3, "{text}");
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let file = write("[profile]\ntime_zone = \n");
    let error = Config::load(Some(file.path()), no_env()).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let error = Config::load(Some(Path::new("/nonexistent/vigil.toml")), no_env()).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/vigil.toml"));
}

#[test]
fn http_limits_of_zero_are_refused_naming_each_key() {
    let file = write(
        "[http]\nheader_timeout_ms = 0\nrequest_timeout_ms = 0\nidle_timeout_secs = 0\n\
         max_connections = 0\nmax_body_bytes = 0\n",
    );

    let error = Config::load(Some(file.path()), no_env()).unwrap_err();

    let text = error.to_string();
    for key in [
        "header_timeout_ms",
        "request_timeout_ms",
        "idle_timeout_secs",
        "max_connections",
        "max_body_bytes",
    ] {
        assert!(
            text.contains(&format!("http.{key}")),
            "{key} missing: {text}"
        );
    }
}

#[test]
fn the_tls_key_variable_is_no_configuration_key_but_the_certificate_is() {
    let env = vec![
        (
            "VIGIL_HTTP_TLS_KEY_FILE".to_owned(),
            "/run/secrets/vigil-key.pem".to_owned(),
        ),
        (
            "VIGIL_HTTP_TLS_CERT_FILE".to_owned(),
            "/etc/vigil/cert.pem".to_owned(),
        ),
    ];

    let config = Config::load(None, env).unwrap();

    assert_eq!(config.http.tls_cert_file, "/etc/vigil/cert.pem");
    let serialized = toml::to_string(&config).unwrap();
    assert!(!serialized.contains("vigil-key.pem"), "{serialized}");
}

#[test]
fn the_readme_configuration_example_is_valid_and_shows_the_http_defaults() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = write(&section[start..start + section[start..].find("```").unwrap()]);

    let config = Config::load(Some(example.path()), no_env()).unwrap();

    assert_eq!(config.http, HttpConfig::default());
}

#[test]
fn text_in_memory_parses_like_a_file_and_problems_name_its_origin() {
    let text = "[rules]\nreload_poll_secs = 5\n";
    let config = Config::parse(text, "(inline)", no_env()).unwrap();
    assert_eq!(config.rules.reload_poll_secs, 5);

    let error = Config::parse("\n[rules]\nreload = 5\n", "(inline)", no_env()).unwrap_err();
    assert!(error.to_string().contains("(inline):2: [rules]"), "{error}");
}
