//! What one connection may hold, and for how long.
//!
//! - **A cap:** at most `max_connections` open connections. One past it is
//!   closed as soon as it is accepted, so idle or hostile connections can
//!   never lock out everyone else without limit, and the clients already
//!   connected keep their service. Each accepted stream carries its slot
//!   and gives it back when the connection closes.
//! - **A handshake timeout:** a connection must send the HTTP/2 preface (or,
//!   over TLS, its handshake) within `handshake_timeout_secs`, or it is
//!   closed. A socket that connects and says nothing holds a slot for that
//!   long at most.
//! - **An idle timeout:** a connection with no request in flight for
//!   `idle_timeout_secs` is closed. HTTP/2 keepalive pings do not count as
//!   use (a healthy client answers them forever); a streaming call such as
//!   `Subscribe` is in flight for as long as it streams. gRPC clients
//!   reconnect on their next call, so closing an idle connection costs a
//!   member nothing but a handshake.
//!
//! The byte stream ([`Capped`]) enforces both timeouts, because it is what
//! hyper polls whenever it waits for the client; requests are counted by
//! [`track_requests`], a layer that finds the connection's [`Activity`]
//! through the connection info tonic puts on every request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// Bytes a plaintext HTTP/2 client sends before anything else (the
/// connection preface, RFC 9113 §3.4); a TLS ClientHello is longer. A
/// connection that has not sent this many bytes has not finished its
/// handshake.
const HANDSHAKE_BYTES: usize = 24;

/// How long a connection may take, and stay unused.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From accept to the handshake's bytes.
    pub handshake: Duration,
    /// With no request in flight.
    pub idle: Duration,
}

/// What a connection is doing, shared between its byte stream (which
/// closes it when idle) and the request layer (which counts its requests).
#[derive(Debug)]
pub struct Activity {
    /// The connection's clock origin: `last_use_ms` counts from here.
    since: Instant,
    /// Requests whose response has not yet been sent in full or dropped.
    in_flight: AtomicUsize,
    /// When a request last started or finished, in ms after `since`.
    last_use_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            since: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_use_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_use_ms.store(ms, Ordering::Release);
    }

    fn last_use(&self) -> Instant {
        self.since + Duration::from_millis(self.last_use_ms.load(Ordering::Acquire))
    }

    /// Counts one request in flight until the returned guard is dropped.
    fn begin(self: &Arc<Activity>) -> RequestInFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        RequestInFlight(self.clone())
    }
}

/// One request in flight on a connection; dropping it (the response sent
/// in full, or abandoned) marks the connection used now.
#[derive(Debug)]
pub struct RequestInFlight(Arc<Activity>);

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection information tonic attaches to each request: the TCP
/// addresses (as tonic's own `TcpConnectInfo`) and the connection's
/// [`Activity`].
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The peer's and our TCP addresses.
    tcp: TcpConnectInfo,
    activity: Arc<Activity>,
}

/// An accepted connection holding one of the cap's slots, closed when its
/// handshake or idle time runs out.
pub struct Capped {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    /// Bytes read so far, counted up to [`HANDSHAKE_BYTES`].
    received: usize,
    /// When to look again whether the connection is late or idle.
    check: Pin<Box<Sleep>>,
}

impl Capped {
    /// `Err` when the connection is to be closed now; otherwise arms the
    /// timer for the next look.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        while self.check.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if self.received < HANDSHAKE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no handshake within handshake_timeout_secs",
                ));
            }
            let next = if self.activity.in_flight.load(Ordering::Acquire) > 0 {
                now + self.timeouts.idle
            } else {
                let due = self.activity.last_use() + self.timeouts.idle;
                if due <= now {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no request within idle_timeout_secs",
                    ));
                }
                due
            };
            // Polled again at once by the loop, which registers the waker.
            self.check.as_mut().reset(next);
        }
        Ok(())
    }
}

impl Connected for Capped {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        PeerInfo {
            tcp: self.stream.connect_info(),
            activity: self.activity.clone(),
        }
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len() - before;
                if this.received < HANDSHAKE_BYTES {
                    this.received = this.received.saturating_add(read);
                    if this.received >= HANDSHAKE_BYTES {
                        // Handshake done: from now on the idle rule applies.
                        this.activity.touch();
                        let due = Instant::now() + this.timeouts.idle;
                        this.check.as_mut().reset(due);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // hyper keeps a read pending whenever it waits for the client,
            // so this is where a late or idle connection is noticed.
            Poll::Pending => match this.poll_deadline(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => {
                    tracing::debug!(peer = ?this.stream.peer_addr().ok(), "closing a connection: {e}");
                    Poll::Ready(Err(e))
                }
            },
        }
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The accepted connections of `incoming`, each with a slot and the
/// timeouts; one accepted while all `max` slots are taken is closed at once
/// (and logged).
pub fn capped(
    incoming: impl Stream<Item = std::io::Result<TcpStream>>,
    max: usize,
    timeouts: Timeouts,
) -> impl Stream<Item = std::io::Result<Capped>> {
    let slots = Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)));
    incoming.filter_map(move |accepted| match accepted {
        Err(e) => Some(Err(e)),
        Ok(stream) => match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(Ok(Capped {
                stream,
                _slot: slot,
                activity: Arc::new(Activity::new()),
                timeouts,
                received: 0,
                check: Box::pin(tokio::time::sleep(timeouts.handshake)),
            })),
            Err(_) => {
                tracing::warn!(
                    peer = ?stream.peer_addr().ok(),
                    "closing a connection: {max} are open (max_connections)"
                );
                None
            }
        },
    })
}

/// The connection a request came on, plaintext or TLS.
fn peer_of<B>(request: &http::Request<B>) -> Option<&PeerInfo> {
    let extensions = request.extensions();
    extensions.get::<PeerInfo>().or_else(|| {
        extensions
            .get::<TlsConnectInfo<PeerInfo>>()
            .map(|tls| tls.get_ref())
    })
}

/// Wraps a service so that each request counts as in flight on its
/// connection until its response body has been sent in full (or dropped):
/// what the idle timeout needs to tell a quiet connection from a busy one.
/// It also gives each request tonic's own `TcpConnectInfo`, so
/// `Request::remote_addr` works as with tonic's own listener.
pub fn track_requests<S>(inner: S) -> TrackRequests<S> {
    TrackRequests { inner }
}

/// The service [`track_requests`] returns.
#[derive(Clone, Debug)]
pub struct TrackRequests<S> {
    inner: S,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for TrackRequests<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let peer = peer_of(&request).cloned();
        let guard = peer.map(|peer| {
            let guard = peer.activity.begin();
            request.extensions_mut().insert(peer.tcp);
            guard
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let Some(guard) = guard else {
                return Ok(response);
            };
            // The guard lives as long as the body: a stream is in flight
            // until its last frame.
            Ok(response.map(|body| {
                tonic::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                    let _in_flight = &guard;
                    frame
                }))
            }))
        })
    }
}
