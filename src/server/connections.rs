//! The connection cap: at most `max_connections` open connections. One
//! past it is closed as soon as it is accepted, so idle or hostile
//! connections can never lock out everyone else without limit, and the
//! clients already connected keep their service. Each accepted stream
//! carries its slot and gives it back when the connection closes.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted connection holding one of the cap's slots.
pub struct Capped {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl Connected for Capped {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
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

/// The accepted connections of `incoming`, each with a slot; one accepted
/// while all `max` slots are taken is closed at once (and logged).
pub fn capped(
    incoming: impl Stream<Item = std::io::Result<TcpStream>>,
    max: usize,
) -> impl Stream<Item = std::io::Result<Capped>> {
    let slots = Arc::new(Semaphore::new(max));
    incoming.filter_map(move |accepted| match accepted {
        Err(e) => Some(Err(e)),
        Ok(stream) => match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(Ok(Capped {
                stream,
                _slot: slot,
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
