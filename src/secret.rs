//! Secrets from the environment: a variable holds the value itself, or its
//! `…_FILE` variant names a file that does (for container secrets). Values
//! are never logged and never read from configuration files.

use std::path::PathBuf;

/// A `…_FILE` variable names a file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {variable} file {path}")]
pub struct SecretFileError {
    /// The variable.
    pub variable: String,
    /// The file it names.
    pub path: PathBuf,
    /// Why reading failed.
    pub source: std::io::Error,
}

/// The secret in `variable`, or in the file `<variable>_FILE` names, with
/// a trailing line break removed. `None` when neither is set or the value
/// is empty.
///
/// # Errors
/// Names the `…_FILE` variable and the file when it cannot be read.
pub fn read_secret(variable: &str) -> Result<Option<String>, SecretFileError> {
    read_secret_from(variable, |name| std::env::var(name).ok())
}

/// [`read_secret`] with the environment given as a lookup, so it can be
/// tested without changing the process environment.
fn read_secret_from(
    variable: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, SecretFileError> {
    if let Some(value) = env(variable) {
        return Ok(Some(value).filter(|v| !v.is_empty()));
    }
    let file_variable = format!("{variable}_FILE");
    let Some(path) = env(&file_variable) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let value = text.trim_end_matches(['\r', '\n']).to_owned();
            Ok(Some(value).filter(|v| !v.is_empty()))
        }
        Err(source) => Err(SecretFileError {
            variable: file_variable,
            path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(name: &'static str, value: String) -> impl Fn(&str) -> Option<String> {
        move |asked| (asked == name).then(|| value.clone())
    }

    #[test]
    fn the_variable_itself_wins() {
        let env = |name: &str| Some(format!("value of {name}"));
        let secret = read_secret_from("TOKEN", env).unwrap();
        assert_eq!(secret.as_deref(), Some("value of TOKEN"));
    }

    #[test]
    fn a_file_variable_supplies_the_secret_without_its_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let env = only("TOKEN_FILE", path.display().to_string());
        assert_eq!(
            read_secret_from("TOKEN", env).unwrap().as_deref(),
            Some("s3cret")
        );
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_the_variable() {
        let env = only("TOKEN_FILE", "/nonexistent/vigil/secret".to_owned());
        let error = read_secret_from("TOKEN", env).unwrap_err();
        assert_eq!(error.variable, "TOKEN_FILE");
    }

    #[test]
    fn no_variable_means_no_secret() {
        assert!(read_secret_from("TOKEN", |_| None).unwrap().is_none());
    }
}
