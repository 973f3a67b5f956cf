//! Undecodable requests: bytes that are not the RPC's request message, a
//! message frame cut short, or no message at all are `InvalidArgument`
//! (spec/DECISIONS.md: a malformed request), for every RPC, unary and
//! server-streaming alike, and the server goes on serving. tonic itself
//! answers these with `Internal`; `server::status` rewrites exactly those.
//! The requests go out over plain HTTP/2 ([`raw_call`]), so the bytes are
//! really the ones on the wire.

use coopledger::client::contribution_body;
use coopledger::pb;
use prost::Message;
use tonic::Code;

use crate::common::*;

/// Every RPC of `coopledger.v1.Ledger`; the server-streaming ones (whose
/// errors could come in trailers) are ListEntries, Subscribe,
/// ComputeShares and Explain.
const METHODS: &[&str] = &[
    "GetServerInfo",
    "Submit",
    "SubmitBatch",
    "GetEntry",
    "ListEntries",
    "Subscribe",
    "GetMember",
    "ListMembers",
    "GetCheckpoint",
    "GetInclusionProof",
    "GetConsistencyProof",
    "ComputeShares",
    "Explain",
    "ListDistributions",
    "GetDistribution",
];

/// Message bytes no request type decodes, and what prost says of them.
const GARBAGE: &[(&[u8], &str)] = &[
    (&[0xff, 0xff, 0xff], "invalid varint"),
    (&[0x0f], "invalid wire type value: 7"),
    // Field 1000 (no request type has one), length-delimited, 127 bytes
    // long, 1 byte there.
    (&[0xc2, 0x3e, 0x7f, 0x01], "buffer underflow"),
];

/// The status of a raw call, which must be a trailers-only
/// `InvalidArgument` whose message contains `says`.
fn assert_invalid(reply: &RawReply, what: &str, says: &str) {
    let status = reply.status();
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{what}: {:?} {:?}",
        status.code(),
        status.message()
    );
    assert!(
        status.message().contains(says),
        "{what}: the message {:?} does not contain {says:?}",
        status.message()
    );
    assert!(
        reply.trailers_only(),
        "{what}: a request that does not decode is refused before any message (trailers-only): {reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_requests_are_invalid_argument_for_every_rpc() {
    let mut coop = Coop::new().await;
    let before = info(&mut coop.client).await;
    let addr = coop.server.addr();

    for method in METHODS {
        for (bytes, prost_says) in GARBAGE {
            let reply = raw_call(addr, method, frame(bytes)).await;
            let what = format!("{method} with {bytes:02x?}");
            assert_invalid(
                &reply,
                &what,
                "the request is not a valid protobuf encoding of this RPC's request message",
            );
            assert_invalid(&reply, &what, prost_says);
        }
        // The body ends inside the frame: its header promises 10 bytes.
        let mut cut = frame(&[0u8; 10]);
        cut.truncate(8);
        let reply = raw_call(addr, method, cut).await;
        assert_invalid(
            &reply,
            &format!("{method} with a cut-short frame"),
            "the request ends inside a gRPC message frame",
        );
        // No message at all.
        let reply = raw_call(addr, method, Vec::new()).await;
        assert_invalid(
            &reply,
            &format!("{method} with no message"),
            "the request carries no gRPC message",
        );
    }

    // A well-framed Submit whose envelope field is cut short: prost names
    // where it stopped.
    let mut request = pb::SubmitRequest {
        envelope: Some(sign(&coop.bob, contribution_body(work(30, JAN_2020.0)))),
    }
    .encode_to_vec();
    request.truncate(request.len() - 5);
    let reply = raw_call(addr, "Submit", frame(&request)).await;
    assert_invalid(&reply, "a cut-short Submit", "SubmitRequest.envelope");

    // A real request sent the same raw way is served (so the refusals above
    // were about the bytes), and the log did not move.
    let reply = raw_call(
        addr,
        "GetServerInfo",
        frame(&pb::GetServerInfoRequest::default().encode_to_vec()),
    )
    .await;
    assert_eq!(reply.status().code(), Code::Ok, "{reply:?}");
    assert!(
        !reply.body.is_empty(),
        "GetServerInfo answered with a message"
    );
    let after = info(&mut coop.client).await;
    assert_eq!(
        (after.log_size, after.root.clone()),
        (before.log_size, before.root.clone())
    );

    // The server still serves: reads, a stream, and a write.
    let listed = list(&mut coop.client, pb::ListEntriesRequest::default()).await;
    assert_eq!(listed.len() as u64, before.log_size);
    let (_, receipt) = log_contribution(&mut coop.client, &coop.bob, work(15, JAN_2020.0)).await;
    assert_eq!(receipt.sequence, before.log_size);
}
