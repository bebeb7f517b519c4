//! Finds a record's top-level `user_id` without decoding it, so the router can
//! pick the owning shard while the (costly) full decode runs on that shard.
//! The same scan reads a record's `timestamp` for sources that track event
//! time per partition.
//!
//! The scan tracks only string and nesting state: a `user_id` key inside
//! `details` or inside a string value is never mistaken for the top-level one.
//! It returns the value's text, unescaped when it holds escapes, so two
//! spellings of one user id route alike; records it cannot read are routed by
//! their bytes and rejected by the decoder on whichever shard receives them.
//!
//! It also says which record a line of JSON-lines input holds, for every
//! reader and writer of such lines.

use std::borrow::Cow;

use crate::time::Timestamp;

const KEY: &[u8] = b"\"user_id\"";
const TIME_KEY: &[u8] = b"\"timestamp\"";
const ENVELOPE_KEY: &[u8] = b"\"event\"";

/// The record a line of JSON-lines input holds: the line without its line
/// end (`\n`, `\r\n`), or `None` when it is blank.
#[must_use]
pub fn record_of_line(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let record = line.strip_suffix(b"\r").unwrap_or(line);
    (!record.iter().all(u8::is_ascii_whitespace)).then_some(record)
}

/// The bytes that decide which shard owns a record: the text of its
/// top-level `user_id` string (for a signed envelope, the `user_id` of the
/// event inside), or the whole record when none is found.
#[must_use]
pub fn route_key(record: &[u8]) -> Cow<'_, [u8]> {
    let user_id =
        top_level_user_id(record).or_else(|| enveloped_event(record).and_then(top_level_user_id));
    match user_id {
        Some(raw) if raw.contains(&b'\\') => {
            unescape(raw).map_or(Cow::Borrowed(record), Cow::Owned)
        }
        Some(raw) => Cow::Borrowed(raw),
        None => Cow::Borrowed(record),
    }
}

fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted)
        .ok()
        .map(String::into_bytes)
}

/// The record's top-level `timestamp`, when it is there and valid RFC 3339.
#[must_use]
pub fn event_time(record: &[u8]) -> Option<Timestamp> {
    let raw = top_level_string(record, TIME_KEY)?;
    Timestamp::parse_rfc3339(std::str::from_utf8(raw).ok()?).ok()
}

fn top_level_user_id(record: &[u8]) -> Option<&[u8]> {
    top_level_string(record, KEY)
}

/// The text from the object under the top-level key `event` to the end of
/// the record; its own top level is the event's.
fn enveloped_event(record: &[u8]) -> Option<&[u8]> {
    top_level_value(record, ENVELOPE_KEY, object_after_key)
}

/// The raw text inside the top-level string under `key`.
fn top_level_string<'r>(record: &'r [u8], key: &[u8]) -> Option<&'r [u8]> {
    top_level_value(record, key, value_after_key)
}

/// What `read` makes of the value after the first top-level `key` (quotes
/// included) it accepts.
fn top_level_value<'r>(
    record: &'r [u8],
    key: &[u8],
    read: fn(&'r [u8], usize) -> Option<&'r [u8]>,
) -> Option<&'r [u8]> {
    let mut depth = 0_u32;
    let mut i = 0;
    while i < record.len() {
        match record[i] {
            b'"' => {
                let end = string_end(record, i)?;
                if depth == 1
                    && &record[i..=end] == key
                    && let Some(value) = read(record, end + 1)
                {
                    return Some(value);
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Index of the quote closing the string that opens at `start`; `None`
/// when the record ends first, even right after a backslash.
fn string_end(record: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        let offset = memchr::memchr2(b'"', b'\\', record.get(i..)?)?;
        i += offset;
        if record[i] == b'\\' {
            i += 2;
        } else {
            return Some(i);
        }
    }
}

/// The raw text inside the string that follows `: ` after a key, if the
/// key is followed by a colon and a string.
fn value_after_key(record: &[u8], from: usize) -> Option<&[u8]> {
    let mut i = skip_space(record, from);
    if record.get(i) != Some(&b':') {
        return None;
    }
    i = skip_space(record, i + 1);
    if record.get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(record, i)?;
    Some(&record[i + 1..end])
}

/// The record from the object that follows `: ` after a key, if the key
/// is followed by a colon and an object.
fn object_after_key(record: &[u8], from: usize) -> Option<&[u8]> {
    let mut i = skip_space(record, from);
    if record.get(i) != Some(&b':') {
        return None;
    }
    i = skip_space(record, i + 1);
    (record.get(i) == Some(&b'{')).then(|| &record[i..])
}

fn skip_space(record: &[u8], mut i: usize) -> usize {
    while matches!(record.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_top_level_timestamp_only() {
        let record = br#"{"details":{"timestamp":"2020-01-01T00:00:00Z"},"timestamp":"2026-11-02T09:00:00Z"}"#;
        let expected = Timestamp::parse_rfc3339("2026-11-02T09:00:00Z").unwrap();
        assert_eq!(event_time(record), Some(expected));
        assert_eq!(event_time(br#"{"timestamp":"yesterday"}"#), None);
    }

    #[test]
    fn a_signed_envelope_routes_by_the_user_id_of_its_event() {
        let record = br#"{"signed_at":1,"signature":"00","event":{"details":{"user_id":"x"},"user_id":"carol"}}"#;
        assert_eq!(route_key(record).as_ref(), b"carol");
    }

    #[test]
    fn a_line_holds_its_record_without_the_line_end_and_blank_lines_none() {
        assert_eq!(record_of_line(b"{\"a\":1}\r\n"), Some(&b"{\"a\":1}"[..]));
        assert_eq!(record_of_line(b"{}\n"), Some(&b"{}"[..]));
        assert_eq!(record_of_line(b"{}"), Some(&b"{}"[..]));
        assert_eq!(record_of_line(b" \t\r\n"), None);
        assert_eq!(record_of_line(b""), None);
    }

    #[test]
    fn finds_the_top_level_user_id() {
        let record = br#"{"timestamp":"x","user_id" : "alice","ip_address":"1.2.3.4"}"#;
        assert_eq!(route_key(record).as_ref(), b"alice");
    }

    #[test]
    fn ignores_user_id_nested_in_details_or_inside_strings() {
        let record =
            br#"{"details":{"user_id":"mallory"},"note":"\"user_id\":\"eve\"","user_id":"bob"}"#;
        assert_eq!(route_key(record).as_ref(), b"bob");
    }

    #[test]
    fn unreadable_records_route_by_their_bytes() {
        let record = br#"{"user_id": 42}"#;
        assert_eq!(route_key(record).as_ref(), record);
        assert_eq!(route_key(b"not json").as_ref(), b"not json");
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string_early() {
        let record = br#"{"a":"x\\","user_id":"carol\"s"}"#;
        assert_eq!(route_key(record).as_ref(), br#"carol"s"#);
    }

    #[test]
    fn a_record_cut_off_after_a_backslash_routes_by_its_bytes() {
        let record = br#"{"user_id":"alice\"#;
        assert_eq!(route_key(record).as_ref(), record);
        assert_eq!(event_time(br#"{"timestamp":"\"#), None);
    }

    #[test]
    fn escaped_and_plain_spellings_route_alike() {
        let escaped = br#"{"user_id":"\u0061lice"}"#;
        assert_eq!(route_key(escaped).as_ref(), b"alice");
    }
}
