//! Rule texts and where things are in them: reading a rule folder, the
//! rule pack built into the binary, and line lookups for error messages.

use std::path::Path;

use super::load::{RuleProblem, rule_files};

/// One rule file's name and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    /// How the file is named in messages (its path, or `builtin:NAME`).
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// The shipped rule pack, compiled into the binary so `vigil demo` and a
/// `vigil run` without `--rules` work from any directory.
const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

impl RuleSource {
    /// Reads every rule file under `dir`, in path order.
    ///
    /// # Errors
    /// Returns a problem naming the folder or file that could not be read.
    pub fn read_dir(dir: &Path) -> Result<Vec<Self>, RuleProblem> {
        let unreadable = |file: &Path, error: std::io::Error| RuleProblem {
            file: file.display().to_string(),
            line: None,
            field: None,
            message: format!("cannot be read: {error}"),
        };
        let files = rule_files(dir).map_err(|e| unreadable(dir, e))?;
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
                Ok(Self {
                    name: path.display().to_string(),
                    text,
                })
            })
            .collect()
    }

    /// The rule pack shipped with vigil.
    #[must_use]
    pub fn builtin() -> Vec<Self> {
        BUILTIN
            .iter()
            .map(|(name, text)| Self {
                name: format!("builtin:{name}"),
                text: (*text).to_owned(),
            })
            .collect()
    }
}

/// A rule file's lines, split into YAML documents, for placing problems.
#[derive(Debug, Clone, Default)]
pub struct SourceText {
    lines: Vec<String>,
    /// Index of each document's first line.
    documents: Vec<usize>,
}

impl SourceText {
    /// Indexes `text`.
    #[must_use]
    pub fn new(text: &str) -> Self {
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut documents = vec![0];
        for (index, line) in lines.iter().enumerate() {
            if line.trim_end() == "---" && index > 0 {
                documents.push(index + 1);
            }
        }
        Self { lines, documents }
    }

    /// The 1-based line of `key: value` at the top level of any document.
    #[must_use]
    pub fn line_of_key_value(&self, key: &str, value: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|line| top_level_value(line, key).is_some_and(|v| v == value))
            .map(|index| index + 1)
    }

    /// The 1-based line of the rule's `id:`.
    #[must_use]
    pub fn line_of_id(&self, id: Option<&str>) -> Option<usize> {
        self.line_of_key_value("id", id?)
    }

    /// The 1-based line of top-level `key:` in the document holding the
    /// rule `id` (or in the first document when the id is unknown).
    #[must_use]
    pub fn line_of_key_in_doc(&self, id: Option<&str>, key: &str) -> Option<usize> {
        let anchor = self.line_of_id(id).map_or(0, |line| line - 1);
        let start = self
            .documents
            .iter()
            .rev()
            .find(|&&start| start <= anchor)
            .copied()
            .unwrap_or(0);
        let end = self
            .documents
            .iter()
            .find(|&&start| start > anchor)
            .copied()
            .unwrap_or(self.lines.len());
        (start..end)
            .find(|&index| top_level_value(&self.lines[index], key).is_some())
            .map(|index| index + 1)
    }

    /// The line a parser message points to: its `line N` text, else the
    /// line of the token it quotes.
    #[must_use]
    pub fn line_in_message(&self, message: &str) -> Option<usize> {
        let after = message.split("line ").nth(1);
        let digits: Option<String> =
            after.map(|a| a.chars().take_while(char::is_ascii_digit).collect());
        digits
            .and_then(|d| d.parse().ok())
            .or_else(|| self.line_of_quoted(message))
    }

    /// The first line holding the first `'…'`-quoted word of `message`, for
    /// parser messages that name the bad token but not its line (such as
    /// an unknown field modifier).
    fn line_of_quoted(&self, message: &str) -> Option<usize> {
        let token = message
            .split('\'')
            .nth(1)
            .filter(|t| !t.trim().is_empty())?;
        self.lines
            .iter()
            .position(|line| line.contains(token))
            .map(|index| index + 1)
    }
}

/// The value text of `key: value` when `line` is that key at top level.
fn top_level_value<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let rest = line.strip_prefix(key)?.strip_prefix(':')?;
    let value = rest.split(" #").next().unwrap_or(rest).trim();
    Some(value.trim_matches(|c| c == '"' || c == '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "title: Base\nid: base-rule\ndetection:\n  sel: {a: 1}\n---\n\
                        title: Corr\nid: 'corr-rule'\nvigil:\n  score: 2\n";

    #[test]
    fn messages_naming_a_token_point_at_its_line() {
        let text = SourceText::new("title: x\ndetection:\n  sel:\n    endpoint|contanes: /v1\n");
        assert_eq!(text.line_in_message("Unknown modifier 'contanes'"), Some(4));
        assert_eq!(text.line_in_message("error at line 2 column 1"), Some(2));
        assert_eq!(text.line_in_message("no position here"), None);
    }

    #[test]
    fn finds_ids_and_keys_per_document() {
        let text = SourceText::new(TEXT);
        assert_eq!(text.line_of_id(Some("base-rule")), Some(2));
        assert_eq!(text.line_of_id(Some("corr-rule")), Some(7));
        assert_eq!(text.line_of_key_in_doc(Some("corr-rule"), "vigil"), Some(8));
        assert_eq!(text.line_of_key_in_doc(Some("base-rule"), "vigil"), None);
        assert_eq!(
            text.line_of_key_in_doc(Some("base-rule"), "detection"),
            Some(3)
        );
    }

    #[test]
    fn reads_line_numbers_out_of_parser_messages() {
        let text = SourceText::new(TEXT);
        let message = "YAML parse error: mapping values are not allowed at line 12 column 5";
        assert_eq!(text.line_in_message(message), Some(12));
        assert_eq!(text.line_in_message("no position"), None);
    }

    #[test]
    fn the_builtin_pack_is_embedded() {
        let builtin = RuleSource::builtin();
        assert!(
            builtin
                .iter()
                .all(|source| source.name.starts_with("builtin:"))
        );
    }
}
