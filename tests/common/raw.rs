//! Raw gRPC calls over HTTP/2 (the `h2` crate, which tonic's transport is
//! built on): the request body goes out exactly as given, framing included,
//! so a test can send what no generated client would — bytes that are not a
//! protobuf message, a message frame cut short, no message at all — and see
//! where the answer's status came: in the response headers (a trailers-only
//! response) or in trailers after a body.

use std::net::SocketAddr;

use bytes::Bytes;
use tonic::{Code, Status};

use super::STEP_TIMEOUT;

/// What came back from a raw call.
#[derive(Debug)]
pub struct RawReply {
    /// The response headers (`grpc-status` is here in a trailers-only answer).
    pub headers: http::HeaderMap,
    /// The response body bytes (gRPC message frames).
    pub body: Vec<u8>,
    /// The trailers, if the response had any.
    pub trailers: Option<http::HeaderMap>,
}

impl RawReply {
    /// Whether the status came in the headers, with no body or trailers.
    pub fn trailers_only(&self) -> bool {
        self.headers.contains_key("grpc-status") && self.body.is_empty() && self.trailers.is_none()
    }

    /// The gRPC status: from the headers of a trailers-only response, else
    /// from the trailers.
    pub fn status(&self) -> Status {
        Status::from_header_map(&self.headers)
            .or_else(|| self.trailers.as_ref().and_then(Status::from_header_map))
            .unwrap_or_else(|| Status::new(Code::Unknown, "the reply carries no grpc-status"))
    }
}

/// One gRPC message frame: no compression, a big-endian u32 length, the bytes.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend((message.len() as u32).to_be_bytes());
    out.extend(message);
    out
}

/// Sends `body` as the whole request body of
/// `POST /coopledger.v1.Ledger/{method}` on a new HTTP/2 connection to
/// `addr`, and reads the whole answer, bounded in time.
pub async fn raw_call(addr: SocketAddr, method: &str, body: Vec<u8>) -> RawReply {
    tokio::time::timeout(STEP_TIMEOUT, call(addr, method, body))
        .await
        .expect("a raw call did not finish within the step timeout")
}

async fn call(addr: SocketAddr, method: &str, body: Vec<u8>) -> RawReply {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("the connection is ready");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/coopledger.v1.Ledger/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a request");
    let (response, mut send) = client
        .send_request(request, false)
        .expect("send the request headers");
    send.send_data(Bytes::from(body), true)
        .expect("send the request body");
    let response = response.await.expect("a response");
    let (parts, mut received) = response.into_parts();
    let mut body = Vec::new();
    while let Some(chunk) = received.data().await {
        let chunk = chunk.expect("a body chunk");
        let _ = received.flow_control().release_capacity(chunk.len());
        body.extend_from_slice(&chunk);
    }
    let trailers = received.trailers().await.expect("the trailers");
    RawReply {
        headers: parts.headers,
        body,
        trailers,
    }
}
