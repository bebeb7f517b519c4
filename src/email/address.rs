//! Who receives alert emails: the security team's addresses, and each
//! user's address from the user directory or the `user_address` template.
//!
//! Every address handed out has been parsed as an email address, so a user
//! id can never smuggle a second recipient or a header into a message.

use std::collections::BTreeMap;
use std::path::Path;

use lettre::Address;
use lettre::message::Mailbox;

use super::EmailSetupError;
use super::config::{EmailConfig, USER_ID_PLACEHOLDER};

/// Resolves recipients for alert emails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    security_team: Vec<String>,
    template: Option<String>,
    directory: BTreeMap<String, String>,
}

impl AddressBook {
    /// The recipients `config` names, with the user directory read from
    /// its file.
    ///
    /// # Errors
    /// A security-team address that does not parse, or a user directory
    /// that cannot be read or holds something other than addresses.
    pub fn from_config(config: &EmailConfig) -> Result<Self, EmailSetupError> {
        let mut security_team = Vec::with_capacity(config.security_team.len());
        for (index, text) in config.security_team.iter().enumerate() {
            let address = parse_address(text).map_err(|reason| EmailSetupError::Address {
                key: format!("email.security_team[{index}]"),
                value: text.clone(),
                reason,
            })?;
            security_team.push(address.to_string());
        }

        let template = Some(config.user_address.trim())
            .filter(|template| !template.is_empty())
            .map(str::to_owned);

        let path = config.user_directory.trim();
        let directory = if path.is_empty() {
            BTreeMap::new()
        } else {
            Self::read_directory(Path::new(path)).map_err(|problems| {
                EmailSetupError::Directory {
                    path: path.into(),
                    problems,
                }
            })?
        };

        Ok(Self {
            security_team,
            template,
            directory,
        })
    }

    /// The security team's addresses, as configured.
    #[must_use]
    pub fn security_team(&self) -> &[String] {
        &self.security_team
    }

    /// The address of `user_id`: its directory entry, else the template
    /// filled in. `None` when the user is not listed and there is no
    /// template, or when the id holds characters other than letters,
    /// digits, `.`, `_`, `+` and `-` (such users need a directory entry),
    /// so an id can never change the domain or route of the address.
    #[must_use]
    pub fn user(&self, user_id: &str) -> Option<String> {
        if let Some(address) = self.directory.get(user_id) {
            return Some(address.clone());
        }
        let template = self.template.as_deref()?;
        if !is_plain_user_id(user_id) {
            return None;
        }
        let filled = template.replace(USER_ID_PLACEHOLDER, user_id);
        parse_address(&filled)
            .ok()
            .map(|address| address.to_string())
    }

    /// Reads a directory file: a TOML table of `"user id" = "address"`.
    ///
    /// # Errors
    /// Every problem found, each naming the file and the entry.
    pub(crate) fn read_directory(path: &Path) -> Result<BTreeMap<String, String>, Vec<String>> {
        let name = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{name}: cannot read: {e}")])?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| vec![format!("{name}: {}", one_line(&e.to_string()))])?;

        let mut directory = BTreeMap::new();
        let mut problems = Vec::new();
        for (user, value) in table {
            let Some(text) = value.as_str() else {
                problems.push(format!("{name}: {user:?} must map to an address string"));
                continue;
            };
            match parse_address(text) {
                Ok(address) => {
                    directory.insert(user, address.to_string());
                }
                Err(reason) => problems.push(format!("{name}: {user:?}: {text:?} {reason}")),
            }
        }
        if problems.is_empty() {
            Ok(directory)
        } else {
            Err(problems)
        }
    }
}

fn is_plain_user_id(user_id: &str) -> bool {
    !user_id.is_empty()
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a bare address such as `soc@example.com`.
///
/// # Errors
/// Says why the text is not an address, in words that follow the value.
pub(crate) fn parse_address(text: &str) -> Result<Address, String> {
    text.trim()
        .parse::<Address>()
        .map_err(|e| format!("is not an email address ({e})"))
}

/// Parses one mailbox, a bare address or `Name <address>`.
///
/// # Errors
/// Says why the text is not one mailbox, in words that follow the value.
pub(crate) fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    let mailbox = text
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("is not an email address ({e})"))?;
    if is_whole(&mailbox, text.trim()) {
        Ok(mailbox)
    } else {
        Err("is not a single email address".to_owned())
    }
}

/// Whether parsing consumed all of `text`: lettre's mailbox parser stops
/// after the first mailbox and ignores what follows it, so a list or
/// trailing words would otherwise pass as their first address.
fn is_whole(mailbox: &Mailbox, text: &str) -> bool {
    let address = mailbox.email.to_string();
    if text == address {
        return true;
    }
    let Some(name) = text.strip_suffix(&format!("<{address}>")) else {
        return false;
    };
    let name = name.trim().trim_matches('"');
    mailbox.name.as_deref().unwrap_or("") == name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(template: &str, directory: &[(&str, &str)]) -> AddressBook {
        AddressBook {
            security_team: vec!["soc@example.com".to_owned()],
            template: Some(template.to_owned()).filter(|t| !t.is_empty()),
            directory: directory
                .iter()
                .map(|(user, address)| ((*user).to_owned(), (*address).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_template_gives_a_users_address() {
        let book = book("{user_id}@corp.example", &[]);
        assert_eq!(book.user("alice").as_deref(), Some("alice@corp.example"));
    }

    #[test]
    fn a_directory_entry_wins_over_the_template() {
        let book = book(
            "{user_id}@corp.example",
            &[("alice", "a.smith@mail.example")],
        );
        assert_eq!(book.user("alice").as_deref(), Some("a.smith@mail.example"));
        assert_eq!(book.user("bob").as_deref(), Some("bob@corp.example"));
    }

    #[test]
    fn ids_that_could_reroute_mail_get_no_address_from_the_template() {
        let book = book("{user_id}@corp.example", &[]);
        for id in [
            "eve@evil.example",
            "a b",
            "x%evil.example",
            "",
            "a>,b@evil.example",
        ] {
            assert_eq!(book.user(id), None, "{id:?}");
        }
    }

    #[test]
    fn without_a_template_only_listed_users_have_addresses() {
        let book = book("", &[("alice", "alice@mail.example")]);
        assert_eq!(book.user("alice").as_deref(), Some("alice@mail.example"));
        assert_eq!(book.user("bob"), None);
    }

    #[test]
    fn a_directory_file_is_read_and_its_bad_entries_are_all_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "alice = \"alice@mail.example\"\n\"bob.b\" = \"bob@x.example\"\n",
        )
        .unwrap();
        let read = AddressBook::read_directory(&good).unwrap();
        assert_eq!(read["bob.b"], "bob@x.example");

        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            "alice = \"not an address\"\nbob = 3\ncarol = \"c@x.example\"\n",
        )
        .unwrap();
        let problems = AddressBook::read_directory(&bad).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("not an address"), "{problems:?}");
        assert!(problems[1].contains("bob"), "{problems:?}");
    }

    #[test]
    fn a_sender_may_carry_a_name_but_not_a_second_address() {
        assert!(parse_mailbox("vigil <vigil@example.com>").is_ok());
        assert!(parse_mailbox("vigil@localhost").is_ok());
        assert!(parse_mailbox("a@example.com, b@example.com").is_err());
        assert!(parse_mailbox("a@example.com trailing").is_err());
        assert!(parse_mailbox("x <a@example.com>, y <a@example.com>").is_err());
        assert!(parse_mailbox("nobody").is_err());
    }
}
