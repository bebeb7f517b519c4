//! vigil: a streaming security analyzer for API-key based services.
//!
//! Events flow from a source through decoding, a shard router and shard
//! workers (profiles, detectors) into the incident engine. Each stage lives in
//! its own module; `pipeline` wires them together.

#[cfg(feature = "archive")]
pub mod archive;
pub mod audit;
pub mod config;
pub mod detect;
pub mod email;
pub mod evaluate;
pub mod event;
pub mod http;
pub mod incident;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod profile;
pub mod redact;
pub mod respond;
pub mod rules;
pub mod secret;
pub mod signal;
pub mod stable_hash;
pub mod state;
pub mod synth;
pub mod time;
