//! The HTTP listener: `/metrics` for Prometheus, `/healthz` (the process
//! is alive), `/readyz` (rules are loaded and the source is connected) and,
//! when the response system runs, the `/v1` API ([`api`]).
//!
//! It runs on a small tokio runtime of its own, on one thread, so serving
//! scrapes never competes with the pipeline's shard threads for locks.
//! Every request is bounded: its headers by a timeout, its handling by
//! another (503 past it), its body by a size (413 past it); idle
//! connections are closed and at most `max_connections` are served at once
//! ([`listener`]). With a certificate and key it serves HTTPS only
//! ([`tls`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::Metrics;
use listener::Shared;

pub mod api;
pub mod auth;
mod listener;
pub mod tls;
mod watch;

#[cfg(test)]
mod tests;

pub use api::ApiState;
pub use auth::{Role, Tokens};
pub use listener::Limits;
pub use tls::{ServerTls, TlsError};

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    /// The registry served at `/metrics`.
    pub metrics: Metrics,
    /// Set once the run is ready to take events.
    pub ready: Arc<AtomicBool>,
    /// Called before each scrape to bring sampled values up to date.
    pub refresh: Arc<dyn Fn(&Metrics) + Send + Sync>,
    /// The `/v1` API, when the response system runs.
    pub api: Option<ApiState>,
}

/// A running listener; it stops with the process.
pub struct HttpServer {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
}

/// Binds `addr` and serves in a background thread, within `limits`, and
/// over TLS only when `tls` is given.
///
/// # Errors
/// Returns the bind error (address in use, permission).
pub fn serve(
    addr: SocketAddr,
    limits: Limits,
    tls: Option<ServerTls>,
    state: HttpState,
) -> std::io::Result<HttpServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let https = tls.is_some();
    let shared = Arc::new(Shared {
        metrics: state.metrics.http(),
        app: router(state, &limits),
        limits,
        tls,
    });
    std::thread::Builder::new()
        .name("vigil-http".to_owned())
        .spawn(move || runtime.block_on(run(listener, shared)))?;
    tracing::info!(addr = %local_addr, https, "HTTP listener started");
    Ok(HttpServer { local_addr })
}

/// Every route, with the request timeout and the body limit around them.
fn router(state: HttpState, limits: &Limits) -> Router {
    let api = state.api.clone();
    let mut app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    if let Some(api) = api {
        app = app.merge(api::routes(api));
    }
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits.request_timeout);
    // One limit for every body: tower-http's answers 413 from the
    // Content-Length alone and cuts bodies sent in chunks off at the same
    // size, so axum's own limit for extractors is turned off rather than
    // kept as a second number.
    app.layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(timeout)
}

async fn run(listener: std::net::TcpListener, shared: Arc<Shared>) {
    match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener::accept_loop(listener, shared).await,
        Err(e) => tracing::error!(error = %e, "HTTP listener could not start"),
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (state.refresh)(&state.metrics);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}
