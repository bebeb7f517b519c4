//! HTTPS for the listener: the certificate chain comes from
//! `[http] tls_cert_file`, the private key from `VIGIL_HTTP_TLS_KEY_FILE`
//! (or `VIGIL_HTTP_TLS_KEY`), never from the configuration file. Both or
//! neither must be set; with both, the listener speaks TLS only.
//!
//! rustls runs on the ring provider, as for lettre and reqwest. Errors name
//! the file or variable at fault but never show the key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::secret::{LocatedSecret, SecretFileError, SecretOrigin, read_located_secret_from};

/// The variable holding the private key's PEM; its `…_FILE` variant names
/// a file holding it.
pub const KEY_VARIABLE: &str = "VIGIL_HTTP_TLS_KEY";

/// Why HTTPS could not be set up; every case is the operator's to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate is configured but no key.
    #[error(
        "http.tls_cert_file is set but no private key is: set {KEY_VARIABLE}_FILE to the \
         key's PEM file"
    )]
    KeyMissing,
    /// A key is given but no certificate.
    #[error(
        "a TLS private key is given ({KEY_VARIABLE}_FILE or {KEY_VARIABLE}) but \
         http.tls_cert_file is not set: set it to the PEM file with the certificate chain"
    )]
    CertificateMissing,
    /// The certificate file cannot be read.
    #[error("cannot read http.tls_cert_file {path}")]
    CertificateUnreadable {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The certificate file is not PEM, or holds no certificate.
    #[error("http.tls_cert_file {path} holds no usable PEM certificate: {reason}")]
    CertificateInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key's file cannot be read.
    #[error(transparent)]
    KeyUnreadable(#[from] SecretFileError),
    /// The key is not a PEM private key. The parser's own message is left
    /// out, as it could quote the key.
    #[error("{origin} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    KeyInvalid {
        /// Where the key came from.
        origin: SecretOrigin,
    },
    /// rustls refused the pair, for example a key that does not belong to
    /// the certificate.
    #[error("the key from {origin} cannot serve http.tls_cert_file {path}")]
    Refused {
        /// Where the key came from.
        origin: SecretOrigin,
        /// The certificate file.
        path: PathBuf,
        /// rustls' reason (boxed: it is large and rare).
        source: Box<rustls::Error>,
    },
}

/// A loaded certificate chain and key, ready to accept TLS connections.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// HTTPS settings from `cert_file` (`[http] tls_cert_file`) and the key
    /// in the process environment; `None` when neither is set.
    ///
    /// # Errors
    /// One is set without the other, or a file cannot be read or used.
    pub fn from_env(cert_file: &str) -> Result<Option<Self>, TlsError> {
        Self::from_lookup(cert_file, |name| std::env::var(name).ok())
    }

    /// [`ServerTls::from_env`] with the environment given as a lookup. A
    /// missing half is reported before the key is read, so the message
    /// names what to add rather than a file that could not be read.
    pub(crate) fn from_lookup(
        cert_file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TlsError> {
        let cert_file = cert_file.trim();
        if cert_file.is_empty() {
            if key_is_set(&env) {
                return Err(TlsError::CertificateMissing);
            }
            return Ok(None);
        }
        let Some(key) = read_located_secret_from(KEY_VARIABLE, &env)? else {
            return Err(TlsError::KeyMissing);
        };
        Self::load(Path::new(cert_file), &key).map(Some)
    }

    /// Reads the chain in `cert_file` and pairs it with `key`.
    ///
    /// # Errors
    /// The file cannot be read, either part is not PEM, or rustls refuses
    /// the pair.
    pub fn load(cert_file: &Path, key: &LocatedSecret) -> Result<Self, TlsError> {
        let chain = read_chain(cert_file)?;
        let key_der = parse_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let refused = |source| TlsError::Refused {
            origin: key.origin.clone(),
            path: cert_file.to_owned(),
            source: Box::new(source),
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(refused)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// What performs the handshake on an accepted connection.
    pub(super) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// Whether the key variable or its `…_FILE` variant is set.
fn key_is_set(env: impl Fn(&str) -> Option<String>) -> bool {
    [KEY_VARIABLE.to_owned(), format!("{KEY_VARIABLE}_FILE")]
        .iter()
        .any(|name| env(name).is_some_and(|value| !value.is_empty()))
}

/// Every certificate in the PEM file at `path`, leaf first.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::CertificateUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: String| TlsError::CertificateInvalid {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid("no CERTIFICATE section".to_owned()));
    }
    Ok(chain)
}

fn parse_key(key: &LocatedSecret) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(key.value.as_bytes()).map_err(|_| TlsError::KeyInvalid {
        origin: key.origin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, as PEM.
    fn issued() -> (String, String) {
        let issued = rcgen::generate_simple_self_signed(vec!["vigil.test".to_owned()]).unwrap();
        (issued.cert.pem(), issued.signing_key.serialize_pem())
    }

    /// A lookup that knows only `VIGIL_HTTP_TLS_KEY_FILE`, naming `path`.
    fn key_file_env(path: &Path) -> impl Fn(&str) -> Option<String> {
        let path = path.display().to_string();
        move |name| (name == "VIGIL_HTTP_TLS_KEY_FILE").then(|| path.clone())
    }

    /// What loading `cert` with the key in `key` says, from files written
    /// to `dir`; their paths come back for the messages.
    fn load(
        dir: &Path,
        cert: &str,
        key: &str,
    ) -> (Result<Option<ServerTls>, TlsError>, PathBuf, PathBuf) {
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        let result =
            ServerTls::from_lookup(&cert_file.display().to_string(), key_file_env(&key_file));
        (result, cert_file, key_file)
    }

    #[test]
    fn neither_certificate_nor_key_means_plain_http() {
        let tls = ServerTls::from_lookup("", |_| None).unwrap();

        assert!(tls.is_none());
    }

    #[test]
    fn a_certificate_and_its_key_make_tls_settings() {
        let (cert, key) = issued();

        let dir = tempfile::tempdir().unwrap();

        let (result, _, _) = load(dir.path(), &cert, &key);

        assert!(result.unwrap().is_some());
    }

    #[test]
    fn a_certificate_without_a_key_is_a_configuration_error_naming_the_variable() {
        let error = ServerTls::from_lookup("cert.pem", |_| None).unwrap_err();

        assert!(matches!(error, TlsError::KeyMissing), "{error}");
        assert!(
            error.to_string().contains("VIGIL_HTTP_TLS_KEY_FILE"),
            "{error}"
        );
    }

    #[test]
    fn a_key_without_a_certificate_is_a_configuration_error_naming_the_setting() {
        let error = ServerTls::from_lookup("", key_file_env(Path::new("key.pem"))).unwrap_err();

        assert!(matches!(error, TlsError::CertificateMissing), "{error}");
        assert!(error.to_string().contains("http.tls_cert_file"), "{error}");
    }

    #[test]
    fn an_unreadable_key_file_is_named() {
        let env = key_file_env(Path::new("/nonexistent/vigil/key.pem"));

        let error = ServerTls::from_lookup("cert.pem", env).unwrap_err();

        let text = error.to_string();
        assert!(text.contains("/nonexistent/vigil/key.pem"), "{text}");
        assert!(text.contains("VIGIL_HTTP_TLS_KEY_FILE"), "{text}");
    }

    #[test]
    fn an_unreadable_certificate_file_is_named() {
        let (_, key) = issued();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, key).unwrap();

        let error = ServerTls::from_lookup("/nonexistent/vigil/cert.pem", key_file_env(&key_file))
            .unwrap_err();

        assert!(
            matches!(error, TlsError::CertificateUnreadable { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("/nonexistent/vigil/cert.pem"),
            "{error}"
        );
    }

    #[test]
    fn a_certificate_file_without_pem_is_named() {
        let (_, key) = issued();
        let dir = tempfile::tempdir().unwrap();

        let (result, cert_file, _) = load(dir.path(), "not a certificate\n", &key);

        let error = result.unwrap_err();
        assert!(
            matches!(error, TlsError::CertificateInvalid { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains(&cert_file.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn a_key_file_without_a_pem_key_is_named_but_not_quoted() {
        let (cert, _) = issued();
        let key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n";
        let dir = tempfile::tempdir().unwrap();

        let (result, _, key_file) = load(dir.path(), &cert, key);

        let text = result.unwrap_err().to_string();
        assert!(text.contains(&key_file.display().to_string()), "{text}");
        assert!(!text.contains("c2VjcmV0"), "the key leaked into: {text}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let (cert, _) = issued();
        let (_, other_key) = issued();
        let dir = tempfile::tempdir().unwrap();

        let (result, cert_file, _) = load(dir.path(), &cert, &other_key);

        let error = result.unwrap_err();
        assert!(matches!(error, TlsError::Refused { .. }), "{error}");
        assert!(
            error.to_string().contains(&cert_file.display().to_string()),
            "{error}"
        );
    }
}
