//! Pseudonyms for user ids: a keyed HMAC-SHA256, so the same user gets the
//! same pseudonym in every file and every run under one key, and nobody
//! without the key can link a pseudonym back to an id by trying ids.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ArchiveError;
use super::words::replace_word;
use crate::secret::read_secret;

/// The environment variable holding the key (or, with `_FILE`, naming a
/// file that does).
pub const PSEUDONYM_KEY_VARIABLE: &str = "VIGIL_ARCHIVE_PSEUDONYM_KEY";

/// Bytes of the MAC kept in a pseudonym: 128 bits make collisions between
/// users practically impossible while keeping the text short.
const KEPT_BYTES: usize = 16;

/// Turns user ids into pseudonyms such as `psn_3f9c…` (32 hex digits).
#[derive(Clone)]
pub struct Pseudonymizer {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(key hidden)")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer keyed with `key`.
    ///
    /// # Panics
    /// Never: HMAC takes keys of any length.
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        Self {
            keyed: Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"),
        }
    }

    /// The pseudonymizer keyed from the environment.
    ///
    /// # Errors
    /// The key is not set, or its file cannot be read.
    pub fn from_env() -> Result<Self, ArchiveError> {
        let key = read_secret(PSEUDONYM_KEY_VARIABLE)?.ok_or(ArchiveError::MissingPseudonymKey)?;
        Ok(Self::new(key.as_bytes()))
    }

    /// The pseudonym of `user_id`.
    #[must_use]
    pub fn pseudonym(&self, user_id: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(user_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("psn_{}", hex::encode(&digest[..KEPT_BYTES]))
    }

    /// `json` with every user id it names (the value of any `user_id`
    /// field, at any depth) replaced by its pseudonym wherever it occurs
    /// as a whole word; `None` when it names none (or is not JSON).
    #[must_use]
    pub fn hide_users_in_json(&self, json: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let mut users = Vec::new();
        user_ids_in(&value, &mut users);
        users.sort_unstable();
        users.dedup();
        let mut text: Option<String> = None;
        for user in users {
            let current = text.as_deref().unwrap_or(json);
            if let Some(replaced) = replace_word(current, user, &self.pseudonym(user)) {
                text = Some(replaced);
            }
        }
        text
    }
}

/// Collects the values of `user_id` fields anywhere in `value`.
fn user_ids_in<'v>(value: &'v serde_json::Value, users: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                match field {
                    serde_json::Value::String(id) if name == "user_id" => users.push(id),
                    other => user_ids_in(other, users),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                user_ids_in(item, users);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_gives_one_stable_pseudonym_per_user() {
        let a = Pseudonymizer::new(b"key one");
        let again = Pseudonymizer::new(b"key one");
        assert_eq!(a.pseudonym("usr_1"), again.pseudonym("usr_1"));
        assert_ne!(a.pseudonym("usr_1"), a.pseudonym("usr_2"));
        assert_eq!(a.pseudonym("usr_1").len(), 4 + 2 * KEPT_BYTES);
    }

    #[test]
    fn another_key_gives_other_pseudonyms() {
        let a = Pseudonymizer::new(b"key one");
        let b = Pseudonymizer::new(b"key two");
        assert_ne!(a.pseudonym("usr_1"), b.pseudonym("usr_1"));
    }

    #[test]
    fn every_user_an_audit_record_names_is_replaced_wherever_it_occurs() {
        let p = Pseudonymizer::new(b"key");
        let record = r#"{"incident":{"user_id":"usr_7","signals":[{"user_id":"usr_8"}]},"note":"usr_7 and usr_8; usr_77 stays"}"#;

        let hidden = p.hide_users_in_json(record).unwrap();

        assert!(
            !hidden.contains("\"usr_7\"") && !hidden.contains("usr_8"),
            "{hidden}"
        );
        assert!(hidden.contains(&p.pseudonym("usr_7")) && hidden.contains(&p.pseudonym("usr_8")));
        assert!(hidden.contains("usr_77 stays"), "another id is left alone");
        assert_eq!(p.hide_users_in_json(r#"{"kind":"retention"}"#), None);
    }
}
