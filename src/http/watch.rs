//! The deadline one HTTP connection must meet next: its request's headers
//! within the header timeout, or its next request within the idle timeout.
//!
//! hyper's own header timeout starts as soon as a connection waits for a
//! request, so on a kept-alive connection it also bounds the idle wait and
//! the two limits could not differ. The watch keeps them apart: a
//! connection is in one [`Phase`] at a time, the socket reports arriving
//! bytes ([`Watched`]), the service reports when a request starts and when
//! its response is ready, and [`Watch::expired`] resolves once the current
//! phase's deadline passes. While a request is handled there is no deadline
//! here: the request timeout bounds the handler instead.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Which limit a connection failed to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// A request's headers (or the TLS handshake) did not arrive in time.
    Header,
    /// No new request came while the connection was kept alive.
    Idle,
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A request's head is arriving; it must be complete by `until`.
    Head { until: Instant },
    /// A request is being handled.
    Handling,
    /// The last response is handed to hyper; the next request must start
    /// by `until`, which also bounds how long the client may take to read
    /// that response.
    Idle { until: Instant },
}

/// One connection's phase, shared by its socket, its service and the task
/// that enforces its deadlines.
pub(super) struct Watch {
    phase: Mutex<Phase>,
    changed: Notify,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Watch {
    /// A watch for a connection accepted now: its first request's headers
    /// are due within `header_timeout`.
    pub(super) fn start(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Head {
                until: Instant::now() + header_timeout,
            }),
            changed: Notify::new(),
            header_timeout,
            idle_timeout,
        })
    }

    /// Bytes arrived. On an idle connection they begin a request, whose
    /// headers are due within the header timeout from now.
    pub(super) fn bytes_arrived(&self) {
        let header_timeout = self.header_timeout;
        self.update(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Head {
                until: Instant::now() + header_timeout,
            }),
            Phase::Head { .. } | Phase::Handling => None,
        });
    }

    /// A request's headers are complete and its handler runs.
    pub(super) fn request_started(&self) {
        self.update(|_| Some(Phase::Handling));
    }

    /// A response is ready; the connection now waits for the next request.
    pub(super) fn response_ready(&self) {
        let idle_timeout = self.idle_timeout;
        self.update(|_| {
            Some(Phase::Idle {
                until: Instant::now() + idle_timeout,
            })
        });
    }

    /// Resolves once the current phase's deadline has passed, telling
    /// which one; never while a request is handled.
    pub(super) async fn expired(&self) -> Expiry {
        loop {
            match self.deadline() {
                Some((until, _)) if Instant::now() < until => self.wait_until(until).await,
                Some((_, expiry)) => return expiry,
                None => self.changed.notified().await,
            }
        }
    }

    /// Sleeps until `until` or until the phase changes, whichever is first.
    async fn wait_until(&self, until: Instant) {
        tokio::select! {
            () = tokio::time::sleep_until(until) => {}
            () = self.changed.notified() => {}
        }
    }

    fn deadline(&self) -> Option<(Instant, Expiry)> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Head { until } => Some((until, Expiry::Header)),
            Phase::Idle { until } => Some((until, Expiry::Idle)),
            Phase::Handling => None,
        }
    }

    /// Moves to the phase `next` gives, if any, and wakes the enforcing
    /// task so it can take up the new deadline. The wake-up is stored when
    /// nobody waits, so none is lost between reading a phase and sleeping.
    fn update(&self, next: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = next(*phase) {
            *phase = next;
            drop(phase);
            self.changed.notify_one();
        }
    }
}

/// A socket that tells its connection's [`Watch`] when bytes arrive.
pub(super) struct Watched<T> {
    inner: T,
    watch: Arc<Watch>,
}

impl<T> Watched<T> {
    pub(super) fn new(inner: T, watch: Arc<Watch>) -> Self {
        Self { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_mins(1);

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_must_send_its_headers_within_the_header_timeout() {
        let watch = Watch::start(HEADER, IDLE);
        let opened = Instant::now();

        assert_eq!(watch.expired().await, Expiry::Header);
        assert!(opened.elapsed() >= HEADER && opened.elapsed() < IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_waits_the_idle_timeout_for_its_next_request() {
        let watch = Watch::start(HEADER, IDLE);
        watch.request_started();
        watch.response_ready();
        let answered = Instant::now();

        assert_eq!(watch.expired().await, Expiry::Idle);
        assert!(answered.elapsed() >= IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_of_a_next_request_starts_its_header_timeout() {
        let watch = Watch::start(HEADER, IDLE);
        watch.request_started();
        watch.response_ready();
        tokio::time::advance(Duration::from_secs(30)).await;
        watch.bytes_arrived();
        let began = Instant::now();

        assert_eq!(watch.expired().await, Expiry::Header);
        assert!(began.elapsed() >= HEADER && began.elapsed() < IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_handled_has_no_deadline_here() {
        let watch = Watch::start(HEADER, IDLE);
        watch.request_started();

        let waited = tokio::time::timeout(IDLE * 10, watch.expired()).await;

        assert!(
            waited.is_err(),
            "the watch expired while a request was handled"
        );
    }
}
