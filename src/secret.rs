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
    Ok(read_located_secret(variable)?.map(|secret| secret.value))
}

/// A secret and where it was found, so a caller that finds the value
/// unusable can say where it came from without showing it.
pub struct LocatedSecret {
    /// The secret itself; never logged.
    pub value: String,
    /// The variable or file it was read from.
    pub origin: SecretOrigin,
}

/// Where a secret was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// The variable held the value itself.
    Variable(String),
    /// The `…_FILE` variable named a file that held it.
    File {
        /// The `…_FILE` variable.
        variable: String,
        /// The file it names.
        path: PathBuf,
    },
}

impl std::fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Variable(variable) => write!(f, "{variable}"),
            Self::File { variable, path } => write!(f, "{variable} file {}", path.display()),
        }
    }
}

/// [`read_secret`] that also tells where the value came from.
///
/// # Errors
/// As [`read_secret`].
pub fn read_located_secret(variable: &str) -> Result<Option<LocatedSecret>, SecretFileError> {
    read_located_secret_from(variable, |name| std::env::var(name).ok())
}

/// [`read_located_secret`] with the environment given as a lookup, so it
/// can be tested without changing the process environment.
pub(crate) fn read_located_secret_from(
    variable: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<LocatedSecret>, SecretFileError> {
    if let Some(value) = env(variable) {
        let origin = SecretOrigin::Variable(variable.to_owned());
        return Ok(Some(LocatedSecret { value, origin }).filter(|s| !s.value.is_empty()));
    }
    let file_variable = format!("{variable}_FILE");
    let Some(path) = env(&file_variable) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let value = text.trim_end_matches(['\r', '\n']).to_owned();
            let origin = SecretOrigin::File {
                variable: file_variable,
                path,
            };
            Ok(Some(LocatedSecret { value, origin }).filter(|s| !s.value.is_empty()))
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
        let secret = read_located_secret_from("TOKEN", env).unwrap().unwrap();
        assert_eq!(secret.value, "value of TOKEN");
        assert_eq!(secret.origin, SecretOrigin::Variable("TOKEN".to_owned()));
    }

    #[test]
    fn a_file_variable_supplies_the_secret_without_its_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let env = only("TOKEN_FILE", path.display().to_string());
        let secret = read_located_secret_from("TOKEN", env).unwrap().unwrap();
        assert_eq!(secret.value, "s3cret");
        assert_eq!(
            secret.origin.to_string(),
            format!("TOKEN_FILE file {}", path.display())
        );
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_the_variable() {
        let env = only("TOKEN_FILE", "/nonexistent/vigil/secret".to_owned());
        let error = read_located_secret_from("TOKEN", env).err().unwrap();
        assert_eq!(error.variable, "TOKEN_FILE");
    }

    #[test]
    fn no_variable_means_no_secret() {
        assert!(
            read_located_secret_from("TOKEN", |_| None)
                .unwrap()
                .is_none()
        );
    }
}
