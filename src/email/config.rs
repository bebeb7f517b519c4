//! The `[email]` section: who alert emails come from and go to, how they
//! leave (SMTP or an outbox folder) and how often one recipient may be
//! mailed. Credentials are never part of it; they come from the environment.

use serde::{Deserialize, Serialize};

use super::address::{AddressBook, parse_address, parse_mailbox};

/// `[email]`: alert emails for incidents. Without `smtp_host`, messages are
/// written as `.eml` files into `outbox_dir` instead of being sent. The SMTP
/// login comes from `VIGIL_SMTP_USERNAME` and `VIGIL_SMTP_PASSWORD` (or the
/// files their `…_FILE` variants name), never from this section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// The sender, an address or `Name <address>`.
    pub from: String,
    /// Addresses that receive every alert meant for the security team.
    pub security_team: Vec<String>,
    /// A user's address, with `{user_id}` replaced by the incident's user;
    /// empty to mail only the users listed in `user_directory`.
    pub user_address: String,
    /// A TOML file of `"user id" = "address"` lines, read at start; a user
    /// listed there is mailed at that address instead of `user_address`.
    /// Empty for none.
    pub user_directory: String,
    /// The SMTP server; empty writes `.eml` files into `outbox_dir`.
    pub smtp_host: String,
    /// The SMTP server's port (587 for submission with STARTTLS, 465 for
    /// implicit TLS, 25 or a test port for plain relays).
    pub smtp_port: u16,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// The folder `.eml` files go to while `smtp_host` is empty; created
    /// when missing.
    pub outbox_dir: String,
    /// How long one SMTP command may take before the attempt counts as a
    /// transient failure, in seconds.
    pub timeout_secs: u64,
    /// The least time between two emails to one recipient, in seconds;
    /// notices arriving sooner wait and go out together as one digest.
    pub min_interval_secs: u64,
    /// How long the first notice for a recipient waits for others to join
    /// it, in seconds, so incidents arriving together make one email.
    pub gather_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            from: "vigil@localhost".to_owned(),
            security_team: Vec::new(),
            user_address: "{user_id}@example.com".to_owned(),
            user_directory: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            tls: TlsMode::StartTls,
            outbox_dir: "outbox".to_owned(),
            timeout_secs: 10,
            min_interval_secs: 300,
            gather_secs: 2,
        }
    }
}

/// The placeholder `user_address` must contain.
pub const USER_ID_PLACEHOLDER: &str = "{user_id}";

impl EmailConfig {
    /// Whether messages go to an SMTP server rather than the outbox folder.
    #[must_use]
    pub fn uses_smtp(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    /// Every problem of the section, each naming `email.<key>` and the
    /// offending value.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(reason) = parse_mailbox(&self.from) {
            problems.push(format!("email.from: {:?} {reason}", self.from));
        }
        for (index, address) in self.security_team.iter().enumerate() {
            if let Err(reason) = parse_address(address) {
                problems.push(format!(
                    "email.security_team[{index}]: {address:?} {reason}"
                ));
            }
        }
        problems.extend(self.user_address_problem());
        if !self.user_directory.trim().is_empty()
            && let Err(found) = AddressBook::read_directory(self.user_directory.trim().as_ref())
        {
            problems.extend(
                found
                    .into_iter()
                    .map(|problem| format!("email.user_directory: {problem}")),
            );
        }
        problems.extend(self.transport_problems());
        problems
    }

    fn user_address_problem(&self) -> Option<String> {
        let template = self.user_address.trim();
        if template.is_empty() {
            return None;
        }
        if !template.contains(USER_ID_PLACEHOLDER) {
            return Some(format!(
                "email.user_address: {template:?} must contain {USER_ID_PLACEHOLDER} \
                 (or be empty to mail only the users of user_directory)"
            ));
        }
        let sample = template.replace(USER_ID_PLACEHOLDER, "user");
        parse_address(&sample).err().map(|reason| {
            format!(
                "email.user_address: {template:?} does not give an address ({sample:?} {reason})"
            )
        })
    }

    fn transport_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let host = self.smtp_host.trim();
        if self.uses_smtp() && (host.contains(char::is_whitespace) || host.contains('/')) {
            problems.push(format!(
                "email.smtp_host: {host:?} is not a host name or address"
            ));
        }
        if self.uses_smtp() && self.smtp_port == 0 {
            problems.push("email.smtp_port: 0 is not a port".to_owned());
        }
        if !self.uses_smtp() && self.outbox_dir.trim().is_empty() {
            problems
                .push("email.outbox_dir: must name a folder while smtp_host is empty".to_owned());
        }
        if self.timeout_secs == 0 {
            problems.push("email.timeout_secs: must be above 0".to_owned());
        }
        problems
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(try_from = "String", rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP, for a relay on the same host or a test server.
    None,
    /// Plain connection upgraded with STARTTLS, which is required: the
    /// message is never sent unencrypted.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl TlsMode {
    /// The configuration name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
}

impl TryFrom<String> for TlsMode {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.trim() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            other => Err(format!(
                "email.tls: {other:?} is not one of \"none\", \"starttls\", \"tls\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::config::Config;

    use super::*;

    fn load(text: &str) -> Result<Config, crate::config::ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        Config::load(Some(file.path()), Vec::new())
    }

    #[test]
    fn a_full_section_loads() {
        let config = load(
            "[email]\nfrom = \"vigil <vigil@example.com>\"\nsecurity_team = [\"soc@example.com\"]\n\
             user_address = \"{user_id}@example.com\"\nsmtp_host = \"127.0.0.1\"\n\
             smtp_port = 2525\ntls = \"none\"\noutbox_dir = \"outbox\"\ntimeout_secs = 5\n\
             min_interval_secs = 600\ngather_secs = 1\n",
        )
        .unwrap();
        assert_eq!(config.email.tls, TlsMode::None);
        assert_eq!(config.email.smtp_port, 2525);
        assert_eq!(config.email.security_team, ["soc@example.com"]);
        assert!(config.email.uses_smtp());
    }

    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("## Alert emails").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let config = load(example).unwrap();
        assert_eq!(config.email.smtp_host, "smtp.example.com");
        assert_eq!(config.email.security_team, ["soc@example.com"]);
    }

    #[test]
    fn defaults_send_nothing_over_smtp() {
        let config = EmailConfig::default();
        assert!(!config.uses_smtp());
        assert_eq!(config.tls, TlsMode::StartTls);
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }

    #[test]
    fn bad_addresses_are_all_reported_with_key_and_value() {
        let error = load(
            "[email]\nfrom = \"nobody\"\nsecurity_team = [\"soc@example.com\", \"not an address\"]\n\
             user_address = \"{user_id}@\"\n",
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("email.from: \"nobody\""), "{text}");
        assert!(
            text.contains("email.security_team[1]: \"not an address\""),
            "{text}"
        );
        assert!(
            text.contains("email.user_address: \"{user_id}@\""),
            "{text}"
        );
        assert_eq!(error.problems.len(), 3, "{text}");
    }

    #[test]
    fn a_template_without_the_placeholder_is_refused() {
        let error = load("[email]\nuser_address = \"alerts@example.com\"\n").unwrap_err();
        assert!(
            error.to_string().contains("must contain {user_id}"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_tls_mode_names_the_key_and_value() {
        let error = load("[email]\ntls = \"ssl\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("email.tls: \"ssl\""), "{text}");
    }

    #[test]
    fn a_missing_user_directory_is_reported() {
        let error =
            load("[email]\nuser_directory = \"/nonexistent/vigil/users.toml\"\n").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("email.user_directory: /nonexistent/vigil/users.toml: cannot read"),
            "{text}"
        );
    }

    #[test]
    fn environment_variables_override_the_section() {
        let env = vec![
            (
                "VIGIL_EMAIL_SMTP_HOST".to_owned(),
                "mail.example.com".to_owned(),
            ),
            ("VIGIL_EMAIL_SMTP_PORT".to_owned(), "465".to_owned()),
            ("VIGIL_EMAIL_TLS".to_owned(), "tls".to_owned()),
            (
                "VIGIL_EMAIL_SECURITY_TEAM".to_owned(),
                "a@example.com, b@example.com".to_owned(),
            ),
        ];
        let config = Config::load(None, env).unwrap();
        assert_eq!(config.email.smtp_host, "mail.example.com");
        assert_eq!(config.email.smtp_port, 465);
        assert_eq!(config.email.tls, TlsMode::Tls);
        assert_eq!(
            config.email.security_team,
            ["a@example.com", "b@example.com"]
        );
    }
}
