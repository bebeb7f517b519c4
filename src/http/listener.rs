//! The HTTP listener's accept loop: at most `max_connections` connections
//! at once (more are closed as soon as they are accepted), each served as
//! HTTP/1.1 by hyper, optionally behind TLS, and closed when its client is
//! too slow to send headers or stays idle too long.
//!
//! Refusing at the cap, rather than leaving connections waiting in the
//! kernel's backlog, keeps the listener's memory and file descriptors
//! bounded and tells the client at once; Prometheus simply tries again at
//! its next scrape.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

use super::tls::ServerTls;
use super::watch::{Expiry, Watch, Watched};
use crate::metrics::HttpMetrics;

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say), so it does not spin while the cause lasts.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Shortest time between two warnings about refused connections or failed
/// accepts; the counters carry the full numbers.
const WARN_EVERY: Duration = Duration::from_mins(1);

/// The listener's timeouts and limits (`[http]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a request's headers: from the connection's opening for
    /// its first request (TLS handshake included), from the first byte for
    /// later ones.
    pub header_timeout: Duration,
    /// Time from a request's headers to its response; past it, 503.
    pub request_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// What every connection task needs.
pub(super) struct Shared {
    pub(super) app: Router,
    pub(super) limits: Limits,
    pub(super) tls: Option<ServerTls>,
    pub(super) metrics: HttpMetrics,
}

/// How a connection ended.
enum Ending {
    /// The client closed it, or hyper finished it after an error.
    Served(Result<(), hyper::Error>),
    /// A deadline passed.
    TimedOut(Expiry),
    /// The TLS handshake failed.
    Handshake(std::io::Error),
}

/// Accepts connections on `listener` until the process ends.
pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let mut failures = Throttle::default();
    let mut refusals = Throttle::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                accept_failed(&e, &mut failures).await;
                continue;
            }
        };
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(connection(stream, Arc::clone(&shared), slot));
            }
            Err(_) => refuse(stream, &shared, &mut refusals),
        }
    }
}

async fn accept_failed(error: &std::io::Error, warnings: &mut Throttle) {
    if warnings.allows() {
        tracing::warn!(error = %error, "HTTP listener could not accept a connection");
    }
    tokio::time::sleep(ACCEPT_RETRY).await;
}

/// Closes a connection over the cap at once, unread.
fn refuse(stream: TcpStream, shared: &Shared, warnings: &mut Throttle) {
    drop(stream);
    shared.metrics.connection_refused();
    if warnings.allows() {
        tracing::warn!(
            max_connections = shared.limits.max_connections,
            "HTTP connection refused: max_connections are being served"
        );
    }
}

/// Serves one connection until it ends or misses a deadline; the slot is
/// freed when this returns.
async fn connection(stream: TcpStream, shared: Arc<Shared>, _slot: OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let limits = shared.limits;
    let watch = Watch::start(limits.header_timeout, limits.idle_timeout);
    let socket = Watched::new(stream, Arc::clone(&watch));

    let ending = tokio::select! {
        expiry = watch.expired() => Ending::TimedOut(expiry),
        ending = handshake_and_serve(socket, &shared, &watch) => ending,
    };

    record(&ending, &shared.metrics);
}

/// The TLS handshake when HTTPS is on, then HTTP over the connection.
async fn handshake_and_serve(
    socket: Watched<TcpStream>,
    shared: &Shared,
    watch: &Arc<Watch>,
) -> Ending {
    let Some(tls) = &shared.tls else {
        return serve_http(socket, shared, watch).await;
    };
    match tls.acceptor().accept(socket).await {
        Ok(stream) => serve_http(stream, shared, watch).await,
        Err(e) => Ending::Handshake(e),
    }
}

/// HTTP/1.1 over `io`, with the router behind a service that keeps the
/// watch informed of each request's start and response.
async fn serve_http<I>(io: I, shared: &Shared, watch: &Arc<Watch>) -> Ending
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let watch = Arc::clone(watch);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        watch.request_started();
        let response = app.clone().call(request);
        let watch = Arc::clone(&watch);
        async move {
            let response = response.await;
            watch.response_ready();
            response
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        // The watch enforces the header timeout; hyper's own would also
        // cut idle kept-alive connections at the header timeout.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .await;
    Ending::Served(served)
}

/// Logs how a connection ended, at debug level (one line per connection,
/// without the client's address), and counts header timeouts, the mark of
/// a slow-headers attack.
fn record(ending: &Ending, metrics: &HttpMetrics) {
    match ending {
        Ending::Served(Ok(())) => {}
        Ending::Served(Err(e)) => {
            tracing::debug!(error = %e, "HTTP connection ended with an error");
        }
        Ending::TimedOut(Expiry::Header) => {
            metrics.header_timed_out();
            tracing::debug!("HTTP connection closed: headers too slow");
        }
        Ending::TimedOut(Expiry::Idle) => {
            tracing::debug!("HTTP connection closed: idle");
        }
        Ending::Handshake(e) => {
            tracing::debug!(error = %e, "HTTP connection closed: TLS handshake failed");
        }
    }
}

/// Lets a warning through at most once per [`WARN_EVERY`].
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    fn allows(&mut self) -> bool {
        let now = Instant::now();
        let allowed = self.last.is_none_or(|last| now - last >= WARN_EVERY);
        if allowed {
            self.last = Some(now);
        }
        allowed
    }
}
