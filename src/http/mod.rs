//! The HTTP listener: `/metrics` for Prometheus, `/healthz` (the process
//! is alive), `/readyz` (rules are loaded and the source is connected) and,
//! when the response system runs, the `/v1` API ([`api`]).
//!
//! It runs on a small tokio runtime of its own, on one thread, so serving
//! scrapes never competes with the pipeline's shard threads for locks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

pub mod api;
pub mod auth;

pub use api::ApiState;
pub use auth::{Role, Tokens};

/// Largest request body the API accepts, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

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

/// Binds `addr` and serves in a background thread.
///
/// # Errors
/// Returns the bind error (address in use, permission).
pub fn serve(addr: SocketAddr, state: HttpState) -> std::io::Result<HttpServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = state.api.clone();
    let mut app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    if let Some(api) = api {
        app = app.merge(api::routes(api));
    }
    let app = app.layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
    std::thread::Builder::new()
        .name("vigil-http".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => {
                        tracing::error!(error = %e, "HTTP listener could not start");
                        return;
                    }
                };
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "HTTP listener stopped");
                }
            });
        })?;
    tracing::info!(addr = %local_addr, "HTTP listener started");
    Ok(HttpServer { local_addr })
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
