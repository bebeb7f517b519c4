//! Finding a user id inside free text as a whole word, so erasing or
//! pseudonymising `usr_42` leaves `usr_421` alone.

/// Whether `c` can continue an id, so a match next to it is only part of a
/// longer id.
fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Byte offsets where `id` occurs in `text` as a whole word.
fn whole_word_matches<'t>(text: &'t str, id: &'t str) -> impl Iterator<Item = usize> + 't {
    let bytes = text.as_bytes();
    let starts_word = !id.is_empty() && is_id_char(id.as_bytes()[0]);
    let ends_word = id.as_bytes().last().is_some_and(|&c| is_id_char(c));
    memchr::memmem::find_iter(bytes, id.as_bytes()).filter(move |&at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + id.len()).copied();
        let glued_before = starts_word && before.is_some_and(is_id_char);
        let glued_after = ends_word && after.is_some_and(is_id_char);
        !glued_before && !glued_after
    })
}

/// Whether `text` mentions `id` as a whole word.
#[must_use]
pub fn mentions(text: &str, id: &str) -> bool {
    !id.is_empty() && whole_word_matches(text, id).next().is_some()
}

/// `text` with every whole-word `id` replaced by `with`; `None` when `id`
/// does not occur, so callers can keep the original without copying.
#[must_use]
pub fn replace_word(text: &str, id: &str, with: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    for at in whole_word_matches(text, id) {
        if at < copied {
            continue;
        }
        out.push_str(&text[copied..at]);
        out.push_str(with);
        copied = at + id.len();
    }
    if copied == 0 && out.is_empty() {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_ids_are_replaced() {
        let text = r#"{"user":"usr_42","other":"usr_421","mail":"usr_42@example.com"}"#;
        let replaced = replace_word(text, "usr_42", "[erased]").unwrap();
        assert_eq!(
            replaced,
            r#"{"user":"[erased]","other":"usr_421","mail":"[erased]@example.com"}"#
        );
        assert!(replace_word("usr_421 only", "usr_42", "x").is_none());
        assert!(mentions("by usr_42.", "usr_42"));
        assert!(!mentions("xusr_42", "usr_42"));
    }
}
