//! Dead letters: refused records with their reason, kept whole so nothing
//! is lost and the producer can be fixed and the record replayed.

use std::io::{self, Write};

use serde::Serialize;

use crate::event::Reject;

/// A refused record.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Line of the input (1-based).
    pub line: u64,
    /// Why it was refused.
    pub reject: Reject,
    /// The record exactly as received.
    pub raw: Vec<u8>,
}

impl DeadLetter {
    /// A dead letter for `raw`, found at `line`.
    #[must_use]
    pub fn new(line: u64, reject: Reject, raw: &[u8]) -> Self {
        Self {
            line,
            reject,
            raw: raw.to_vec(),
        }
    }

    /// Writes the dead letter as one JSON line. The record is kept verbatim
    /// as `raw` when it is UTF-8, else as `raw_hex`, so it can be replayed.
    ///
    /// # Errors
    /// Returns the writer's error.
    pub fn write_json(&self, source: &str, out: &mut dyn Write) -> io::Result<()> {
        let text = std::str::from_utf8(&self.raw).ok();
        let line = Line {
            source,
            line: self.line,
            reason: self.reject.reason.as_str(),
            field: self.reject.field.as_deref(),
            value: self.reject.value.as_deref(),
            error: &self.reject.to_string(),
            raw: text,
            raw_hex: text.is_none().then(|| hex(&self.raw)),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")
    }
}

#[derive(Serialize)]
#[allow(
    clippy::struct_field_names,
    reason = "`line` is the input line number field of the record"
)]
struct Line<'a> {
    source: &'a str,
    line: u64,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_hex: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
            let _ = write!(text, "{b:02x}");
            text
        })
}
