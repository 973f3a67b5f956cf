//! The operator's limits: tags and strings over their limits, a batch over
//! `max_batch_entries`, a message over `max_message_bytes` (mapped to
//! ResourceExhausted even when the server answers before reading it), and
//! a payload over `max_payload_bytes`; exactly at every limit lands.
//!
//! To add a refusal under the [`tight`] limits, add a row to [`LIMIT_REFUSALS`].

use coopledger::client::{contribution_body, evaluate_body};
use coopledger::ledger::Limits;
use coopledger::pb;
use tonic::Code;

use crate::common::*;

/// Small limits for tags, strings and notes: 2 tags, 16-byte strings,
/// 32-byte notes.
fn tight() -> Limits {
    Limits {
        max_tags: 2,
        max_string_bytes: 16,
        max_note_bytes: 32,
        ..Limits::default()
    }
}

/// Bob's work with `fields` on top of 30 minutes in January 2020.
fn bob_logs(c: &Coop, fields: impl FnOnce(&mut pb::Contribution)) -> pb::Envelope {
    let mut base = work(30, JAN_2020.0);
    fields(&mut base);
    sign(&c.bob, contribution_body(base))
}

const LIMIT_REFUSALS: &[RefusalCase<Coop>] = &[
    RefusalCase {
        name: "three tags",
        build: |c| bob_logs(c, |f| f.tags = vec!["a".into(), "b".into(), "c".into()]),
        code: Code::ResourceExhausted,
        message: "tags",
    },
    RefusalCase {
        name: "a 17-byte project",
        build: |c| bob_logs(c, |f| f.project = "p".repeat(17)),
        code: Code::InvalidArgument,
        message: "project",
    },
    RefusalCase {
        name: "a 17-byte tag",
        build: |c| bob_logs(c, |f| f.tags = vec!["t".repeat(17)]),
        code: Code::InvalidArgument,
        message: "tags[0]",
    },
    RefusalCase {
        name: "a 33-byte note",
        build: |c| bob_logs(c, |f| f.note = "n".repeat(33)),
        code: Code::InvalidArgument,
        message: "note",
    },
    RefusalCase {
        name: "a 33-byte evaluation note",
        build: |c| {
            let body = evaluate_body(
                &entry_id(&c.bob_work_id()),
                pb::Verdict::Approve,
                None,
                &"n".repeat(33),
            );
            sign(&c.carol, body)
        },
        code: Code::InvalidArgument,
        message: "evaluate.note",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_over_limit_tags_and_strings() {
    let mut coop = Coop::with_limits(tight()).await;
    refuse_all(&coop, LIMIT_REFUSALS).await;

    // Exactly at every limit lands.
    let e = bob_logs(&coop, |f| {
        f.tags = vec!["t".repeat(16), "u".into()];
        f.project = "p".repeat(16);
        f.note = "n".repeat(32);
    });
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_batch_over_max_batch_entries() {
    let mut coop = Coop::with_limits(Limits {
        max_batch_entries: 4,
        ..Limits::default()
    })
    .await;
    let batch: Vec<_> = (0..5)
        .map(|i| sign(&coop.bob, contribution_body(work(10 + i, JAN_2020.0))))
        .collect();
    batch_refused(
        &mut coop.client,
        &batch,
        Code::ResourceExhausted,
        "batch limit",
    )
    .await;
    batch_refused(&mut coop.client, &[], Code::InvalidArgument, "empty").await;
    let receipts = submit_batch(&mut coop.client, &batch[..4]).await;
    assert_eq!(
        receipts.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_an_over_size_message_to_resource_exhausted() {
    let mut coop = Coop::with_limits(Limits {
        max_message_bytes: 4096,
        ..Limits::default()
    })
    .await;
    // A note longer than max_note_bytes too: if the message reached the
    // handler the answer would be InvalidArgument, not ResourceExhausted.
    let e = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            note: "x".repeat(6000),
            ..work(30, JAN_2020.0)
        }),
    );
    let status = coop.refuse(&e, Code::ResourceExhausted, "too large").await;
    assert!(
        status.message().contains("4096"),
        "the message names the limit: {:?}",
        status.message()
    );

    let batch: Vec<_> = (0..40)
        .map(|i| {
            sign(
                &coop.bob,
                contribution_body(pb::Contribution {
                    note: "y".repeat(100),
                    ..work(i, JAN_2020.0)
                }),
            )
        })
        .collect();
    batch_refused(
        &mut coop.client,
        &batch,
        Code::ResourceExhausted,
        "too large",
    )
    .await;

    // Far over the limit and over the HTTP/2 flow-control window: the server
    // answers before it has read the body; the code must still be mapped.
    let huge = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            note: "z".repeat(1 << 20),
            ..work(30, JAN_2020.0)
        }),
    );
    coop.refuse(&huge, Code::ResourceExhausted, "too large")
        .await;

    // The server still serves normal requests afterwards.
    let e = sign(&coop.bob, contribution_body(work(30, JAN_2020.0)));
    assert_eq!(submit_new(&mut coop.client, &e).await.sequence, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_payload_over_max_payload_bytes() {
    let mut coop = Coop::with_limits(Limits {
        max_payload_bytes: 512,
        ..Limits::default()
    })
    .await;
    let e = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            note: "x".repeat(600),
            ..work(30, JAN_2020.0)
        }),
    );
    coop.refuse(&e, Code::ResourceExhausted, "envelope.payload")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_over_max_payload_bytes_and_previews_past_their_limit_are_refused() {
    let mut c = Coop::with_limits(Limits {
        max_payload_bytes: 2048,
        max_concurrent_previews: 1,
        ..Limits::default()
    })
    .await;
    let draft = |bytes: usize| pb::ComputeSharesRequest {
        period: Some(pb::Period {
            start: JAN_2020.0,
            end: JAN_2020.1,
        }),
        income: Some(1000),
        draft_policy_json: vec![b' '; bytes],
        ..Default::default()
    };
    // Over the limit: refused before any work, naming it.
    let Err(over) = coopledger::client::fetch_preview(&mut c.client, draft(2049)).await else {
        panic!("an over-size draft")
    };
    let coopledger::client::FetchError::Status(status) = over else {
        panic!("{over}")
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("max_payload_bytes"), "{status:?}");
    // At the limit: read as a policy (and refused as one: it is blank).
    let Err(at) = coopledger::client::fetch_preview(&mut c.client, draft(2048)).await else {
        panic!("a blank draft")
    };
    let coopledger::client::FetchError::Status(status) = at else {
        panic!("{at}")
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // No preview slot at all: every preview and explanation is refused.
    c.server
        .restart_with(Limits {
            max_concurrent_previews: 0,
            ..Limits::default()
        })
        .await;
    let mut client = c.server.client().await;
    let Err(refused) = coopledger::client::fetch_preview(&mut client, draft(0)).await else {
        panic!("no slot")
    };
    let coopledger::client::FetchError::Status(status) = refused else {
        panic!("{refused}")
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("max_concurrent_previews"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_connections_are_closed_and_a_freed_slot_serves_again() {
    let server = TestServer::with_limits(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let addr = server.url().trim_start_matches("http://").to_string();
    // Two idle connections take every slot.
    let idle = [
        tokio::net::TcpStream::connect(&addr).await.unwrap(),
        tokio::net::TcpStream::connect(&addr).await.unwrap(),
    ];
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let third = tokio::time::timeout(STEP_TIMEOUT, async {
        let mut client = coopledger::client::LedgerClient::connect(server.url())
            .await
            .map_err(|e| e.to_string())?;
        client
            .get_server_info(pb::GetServerInfoRequest {})
            .await
            .map_err(|s| s.to_string())
    })
    .await
    .expect("the refusal is prompt");
    assert!(
        third.is_err(),
        "a third connection was served past max_connections = 2"
    );
    // One closes: the next client is served.
    drop(idle);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut client = server.client().await;
    info(&mut client).await;
}
