//! What a connection may hold and for how long: a socket that never sends
//! its HTTP/2 preface is closed after `handshake_timeout_secs`; a
//! connection with no request in flight is closed after
//! `idle_timeout_secs`, while one streaming `Subscribe` is not; a client
//! whose idle connection was closed is served again on its next call; and
//! an answer larger than `max_message_bytes` is `ResourceExhausted` with a
//! message saying what to do, for unary and streaming calls alike.

use std::time::{Duration, Instant};

use coopledger::client::contribution_body;
use coopledger::ledger::Limits;
use coopledger::pb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_stream::StreamExt as _;
use tonic::Code;

use crate::common::*;

/// The HTTP/2 client connection preface (RFC 9113 §3.4) and an empty
/// SETTINGS frame: a finished handshake, from a client that then says
/// nothing.
const PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads from `stream` until the server closes it (EOF or reset), and
/// returns how long after `since` that happened; panics if it stays open
/// for [`STEP_TIMEOUT`].
async fn closed_after(stream: &mut tokio::net::TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(STEP_TIMEOUT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection within the step timeout")
}

/// Whether `stream` is still open after `wait` (the server's frames, such
/// as its SETTINGS, are read and ignored).
async fn open_after(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_err()
}

fn addr(server: &TestServer) -> String {
    server.url().trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_sends_its_handshake_is_closed() {
    let server = TestServer::with_limits(Limits {
        handshake_timeout_secs: 1,
        ..Limits::default()
    })
    .await;
    let start = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    // Only part of the preface: still not a handshake.
    silent.write_all(b"PRI * HTTP/2.0").await.unwrap();
    let mut shaken = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    shaken.write_all(PREFACE_AND_SETTINGS).await.unwrap();

    let closed = closed_after(&mut silent, start).await;
    assert!(
        closed >= Duration::from_millis(900),
        "closed before handshake_timeout_secs = 1: {closed:?}"
    );
    // The one that finished its handshake is held to the idle timeout
    // (300 s) instead, so it is still open.
    assert!(
        open_after(&mut shaken, Duration::from_millis(500)).await,
        "a connection that sent its preface was closed by the handshake timeout"
    );
    let mut client = server.client().await;
    info(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_a_streaming_one_is_not_and_clients_reconnect() {
    let mut coop = Coop::with_limits(Limits {
        idle_timeout_secs: 1,
        ..Limits::default()
    })
    .await;
    let start = Instant::now();
    let mut quiet = tokio::net::TcpStream::connect(addr(&coop.server))
        .await
        .unwrap();
    quiet.write_all(PREFACE_AND_SETTINGS).await.unwrap();

    // A Subscribe stream is in flight: its connection stays open while
    // nothing happens on it for longer than the idle timeout.
    let mut follower = coop.server.client().await;
    let mut stream = follower
        .subscribe(pb::SubscribeRequest { from_sequence: 4 })
        .await
        .expect("subscribe")
        .into_inner();

    let closed = closed_after(&mut quiet, start).await;
    assert!(
        closed >= Duration::from_millis(900),
        "an idle connection was closed before idle_timeout_secs = 1: {closed:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let e = sign(&coop.bob, contribution_body(work(30, JAN_2020.0)));
    // The Coop's client has been idle for over a second: its connection was
    // closed, and the call reconnects.
    let receipt = submit_new(&mut coop.client, &e).await;
    let next = tokio::time::timeout(STEP_TIMEOUT, stream.next())
        .await
        .expect("the stream delivers within the step timeout")
        .expect("the stream is still open")
        .expect("an entry, not an error");
    assert_eq!(next.sequence, receipt.sequence);
    assert_eq!(next.envelope.as_ref(), Some(&e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_max_message_bytes_is_resource_exhausted() {
    let mut coop = Coop::new().await;
    let long = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            note: "n".repeat(4000),
            ..work(30, JAN_2020.0)
        }),
    );
    let receipt = submit_new(&mut coop.client, &long).await;
    // The limit is lowered after the fact: requests still fit, the stored
    // entry's answer does not.
    coop.server
        .restart_with(Limits {
            max_message_bytes: 2048,
            ..Limits::default()
        })
        .await;
    let mut client = coop.server.client().await;

    let status = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Sequence(receipt.sequence)),
        })
        .await
        .expect_err("an over-size answer was sent");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    for words in ["answer is too large", "max_message_bytes", "2048"] {
        assert!(status.message().contains(words), "{words}: {status:?}");
    }

    let mut stream = client
        .list_entries(pb::ListEntriesRequest {
            from_sequence: receipt.sequence - 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let first = stream.next().await.expect("an item");
    assert_eq!(
        first.expect("the small entry").sequence,
        receipt.sequence - 1
    );
    let status = stream
        .next()
        .await
        .expect("an item")
        .expect_err("an over-size entry was streamed");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("answer is too large"),
        "{status:?}"
    );

    // Smaller answers are still served.
    assert_eq!(get_by_sequence(&mut client, 0).await.sequence, 0);
}
