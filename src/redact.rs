//! Secret and personal-data patterns, and their redaction in every output.
//!
//! One place knows what a secret looks like: the `leaked_secret` detector
//! finds secrets with [`find_secret`], and every output path masks them with
//! [`redact_secrets`] or [`redact_text`], so a detector can never reveal what
//! it found.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// Full API keys and common third-party credentials. Public key ids
/// (`ak_7f3c`) are short and do not match; full keys are long.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:ak|dk)_[A-Za-z0-9_]{24,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{36,}",
        r"|\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"|\b[sr]k_live_[A-Za-z0-9]{16,}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ))
    .expect("secret pattern compiles")
});

thread_local! {
    /// Each thread's own handle on [`SECRET`]: a clone has its own matching
    /// cache, so shards scanning every event never contend for one.
    static SECRET_HERE: Regex = SECRET.clone();
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b").expect("email pattern")
});

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}\b")
        .expect("phone pattern")
});

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("card pattern"));

/// What kind of secret a match is, for evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A full vigil-gateway agent key.
    AgentKey,
    /// A full vigil-gateway developer key.
    DeveloperKey,
    /// An AWS access key id.
    AwsAccessKey,
    /// A GitHub token.
    GithubToken,
    /// A Slack token.
    SlackToken,
    /// A payment provider's live secret key.
    PaymentKey,
    /// A PEM private key block.
    PrivateKey,
    /// A JSON Web Token.
    Jwt,
}

/// A secret found inside a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMatch {
    /// What was found.
    pub kind: SecretKind,
    /// The match with everything past its first characters masked.
    pub masked: String,
}

/// Finds the first secret inside `text`.
#[must_use]
pub fn find_secret(text: &str) -> Option<SecretMatch> {
    let found = SECRET_HERE.with(|secret| secret.find(text))?;
    let secret = found.as_str();
    Some(SecretMatch {
        kind: classify(secret),
        masked: mask(secret),
    })
}

fn classify(secret: &str) -> SecretKind {
    match secret.as_bytes() {
        [b'a', b'k', b'_', ..] => SecretKind::AgentKey,
        [b'd', b'k', b'_', ..] => SecretKind::DeveloperKey,
        [b'A', b'K', b'I', b'A', ..] => SecretKind::AwsAccessKey,
        [b'g', b'h', ..] => SecretKind::GithubToken,
        [b'x', b'o', b'x', ..] => SecretKind::SlackToken,
        [b'-', ..] => SecretKind::PrivateKey,
        [b'e', b'y', b'J', ..] => SecretKind::Jwt,
        _ => SecretKind::PaymentKey,
    }
}

/// Characters of a secret left visible, enough to tell its kind.
const VISIBLE_PREFIX: usize = 4;

fn mask(secret: &str) -> String {
    let visible: String = secret.chars().take(VISIBLE_PREFIX).collect();
    format!("{visible}[REDACTED]")
}

/// Masks every secret in `text`; borrows when there is none.
#[must_use]
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    SECRET.replace_all(text, |caps: &regex::Captures<'_>| mask(&caps[0]))
}

/// Masks secrets and personal data (emails, phone numbers, card numbers)
/// in free text bound for an output.
#[must_use]
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let step = redact_secrets(text);
    let step = replace_owned(step, &EMAIL, |caps| {
        format!("[email]@{}", domain_of(&caps[0]))
    });
    let step = replace_owned(step, &PHONE, |_| "[phone]".to_owned());
    replace_owned(step, &CARD, |caps| {
        if luhn_valid(&caps[0]) {
            "[card]".to_owned()
        } else {
            caps[0].to_owned()
        }
    })
}

fn replace_owned<'t>(
    text: Cow<'t, str>,
    pattern: &Regex,
    with: impl Fn(&regex::Captures<'_>) -> String,
) -> Cow<'t, str> {
    match text {
        Cow::Borrowed(borrowed) => pattern.replace_all(borrowed, |c: &regex::Captures<'_>| with(c)),
        Cow::Owned(owned) => Cow::Owned(
            pattern
                .replace_all(&owned, |c: &regex::Captures<'_>| with(c))
                .into_owned(),
        ),
    }
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, domain)| domain)
}

fn luhn_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_keys_are_found_and_key_ids_are_not() {
        let found = find_secret("my key is ak_live_Zx81mQ0pLr4TbY7wVn2cKd9fHs3jGa6e ok").unwrap();
        assert_eq!(found.kind, SecretKind::AgentKey);
        assert_eq!(found.masked, "ak_l[REDACTED]");
        assert!(find_secret("called with ak_7f3c and dk_0a1b2c3d").is_none());
    }

    #[test]
    fn third_party_credentials_are_found() {
        assert_eq!(
            find_secret("AKIAIOSFODNN7EXAMPLE").unwrap().kind,
            SecretKind::AwsAccessKey
        );
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIE";
        assert_eq!(find_secret(pem).unwrap().kind, SecretKind::PrivateKey);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N";
        assert_eq!(find_secret(jwt).unwrap().kind, SecretKind::Jwt);
    }

    #[test]
    fn redaction_masks_secrets_and_personal_data() {
        let text = "Bearer dk_live_Q2w3E4r5T6y7U8i9O0p1A2s3D4f5 from jane.doe@example.com \
                    call +1 415 555 0100 card 4111 1111 1111 1111";
        let clean = redact_text(text);
        assert!(!clean.contains("Q2w3E4r5"), "{clean}");
        assert!(!clean.contains("jane.doe"), "{clean}");
        assert!(clean.contains("[email]@example.com"), "{clean}");
        assert!(clean.contains("[phone]"), "{clean}");
        assert!(clean.contains("[card]"), "{clean}");
    }

    #[test]
    fn text_without_secrets_is_borrowed_unchanged() {
        assert!(matches!(
            redact_text("GET /v1/models 200"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn digit_runs_that_fail_luhn_are_kept() {
        assert_eq!(redact_text("order 1234567890123"), "order 1234567890123");
    }
}
