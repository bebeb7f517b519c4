//! librdkafka client settings from `[kafka]`, with credentials read from
//! the environment only.

use rdkafka::ClientConfig;

use crate::config::KafkaConfig;
use crate::secret::{SecretFileError, read_secret};

/// Credentials vigil passes to librdkafka, by the variable that holds them.
/// Each may instead name a file through `<VARIABLE>_FILE`.
const SECRETS: [(&str, &str); 2] = [
    ("VIGIL_KAFKA_SASL_PASSWORD", "sasl.password"),
    ("VIGIL_KAFKA_SSL_KEY_PASSWORD", "ssl.key.password"),
];

/// Why a Kafka client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// A `…_FILE` variable names a file that cannot be read.
    #[error(transparent)]
    SecretFile(#[from] SecretFileError),
    /// librdkafka refused the settings.
    #[error("kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
}

/// Client settings: the brokers, vigil's `defaults` for this client, the
/// configured pass-through properties (which win over the defaults) and the
/// credentials from the environment.
///
/// # Errors
/// Names a secret file that cannot be read.
pub fn client_config(
    config: &KafkaConfig,
    defaults: &[(&str, &str)],
) -> Result<ClientConfig, KafkaSetupError> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", config.brokers.trim());
    for (key, value) in defaults {
        client.set(*key, *value);
    }
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    for (variable, property) in SECRETS {
        if let Some(secret) = read_secret(variable)? {
            client.set(property, secret);
        }
    }
    Ok(client)
}
