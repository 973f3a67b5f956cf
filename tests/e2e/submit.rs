//! Submit refusals about the envelope and its header: signatures, malformed
//! envelopes and entries, unknown authors, another network, the clock and
//! unknown enum values; and the genesis rules. Each refusal has its exact
//! code and leaves the log size and root as they were.
//!
//! To add a refusal of an envelope built from [`Coop`], add a row to
//! [`ENVELOPE_REFUSALS`].

use coopledger::client::{Signer, contribution_body, evaluate_body};
use coopledger::ledger::Limits;
use coopledger::pb::{self, entry::Body};
use prost::Message;
use tonic::Code;

use crate::common::*;
use crate::members::weak_keys;

/// Bob's 30 minutes of work in January 2020, signed now: the envelope most
/// rows break in one way.
fn good(c: &Coop) -> pb::Envelope {
    sign(&c.bob, contribution_body(work(30, JAN_2020.0)))
}

/// Bob's work, signed as raw bytes with a header in bob's name around
/// `nonce` and `body`.
fn raw_entry(c: &Coop, nonce: Vec<u8>, body: Option<Body>) -> pb::Envelope {
    let entry = pb::Entry {
        network_id: c.network.id.clone(),
        author: "bob".into(),
        created_at_ms: now_ms(),
        nonce,
        body,
    };
    sign_payload(&c.bob.key, entry.encode_to_vec())
}

/// Bob's work signed at `created_at_ms`.
fn signed_at(c: &Coop, created_at_ms: i64) -> pb::Envelope {
    c.bob
        .sign_at(contribution_body(work(30, JAN_2020.0)), created_at_ms)
        .expect("sign")
}

fn skew() -> i64 {
    Limits::default().max_clock_skew_ms as i64
}

const ENVELOPE_REFUSALS: &[RefusalCase<Coop>] = &[
    // The signature.
    RefusalCase {
        name: "a flipped signature bit",
        build: |c| {
            let mut e = good(c);
            e.signature[10] ^= 0x01;
            e
        },
        code: Code::Unauthenticated,
        message: "envelope.signature",
    },
    RefusalCase {
        name: "a tampered payload",
        build: |c| {
            let mut e = good(c);
            let last = e.payload.len() - 1;
            e.payload[last] ^= 0x01;
            e
        },
        code: Code::Unauthenticated,
        message: "envelope.signature",
    },
    RefusalCase {
        name: "bob's payload and signature under carol's key",
        build: |c| {
            let mut e = good(c);
            e.public_key = c.carol.public_key().to_vec();
            e
        },
        code: Code::Unauthenticated,
        message: "envelope.signature",
    },
    // A malformed envelope or entry.
    RefusalCase {
        name: "a JSON payload type",
        build: |c| {
            let mut e = good(c);
            e.payload_type = "application/json".into();
            e
        },
        code: Code::InvalidArgument,
        message: "payload_type",
    },
    RefusalCase {
        name: "a 31-byte public key",
        build: |c| {
            let mut e = good(c);
            e.public_key.pop();
            e
        },
        code: Code::InvalidArgument,
        message: "envelope.public_key",
    },
    RefusalCase {
        name: "a 63-byte signature",
        build: |c| {
            let mut e = good(c);
            e.signature.pop();
            e
        },
        code: Code::InvalidArgument,
        message: "envelope.signature",
    },
    RefusalCase {
        name: "correctly signed bytes that are not an Entry",
        build: |c| sign_payload(&c.bob.key, vec![0xff, 0xff, 0xff]),
        code: Code::InvalidArgument,
        message: "envelope.payload",
    },
    RefusalCase {
        name: "an 8-byte nonce",
        build: |c| raw_entry(c, vec![1; 8], Some(contribution_body(work(1, JAN_2020.0)))),
        code: Code::InvalidArgument,
        message: "entry.nonce",
    },
    RefusalCase {
        name: "no body",
        build: |c| raw_entry(c, vec![1; 16], None),
        code: Code::InvalidArgument,
        message: "entry.body",
    },
    RefusalCase {
        name: "a 16-byte network id",
        build: |c| {
            let short = Signer::new("bob", c.bob.key.clone(), &c.network.id[..16]);
            sign(&short, contribution_body(work(1, JAN_2020.0)))
        },
        code: Code::InvalidArgument,
        message: "entry.network_id",
    },
    RefusalCase {
        name: "a policy that is not JSON",
        build: |c| {
            let body = Body::AdoptPolicy(pb::AdoptPolicy {
                policy_json: b"{not json".to_vec(),
            });
            sign(&c.alice, body)
        },
        code: Code::InvalidArgument,
        message: "policy_json",
    },
    // The author.
    RefusalCase {
        name: "mallory, who is not a member",
        build: |c| {
            let mallory = new_signer("mallory", &c.network.id);
            sign(&mallory, contribution_body(work(30, JAN_2020.0)))
        },
        code: Code::Unauthenticated,
        message: "not a member",
    },
    RefusalCase {
        name: "bob's handle with carol's (valid, known) key",
        build: |c| {
            let bob_as_carol = Signer::new("bob", c.carol.key.clone(), &c.network.id);
            sign(&bob_as_carol, contribution_body(work(30, JAN_2020.0)))
        },
        code: Code::Unauthenticated,
        message: "not bob's key",
    },
    RefusalCase {
        name: "an entry for another network id",
        build: |c| {
            let elsewhere = Signer::new(
                "bob",
                c.bob.key.clone(),
                blake3::hash(b"another network").as_bytes(),
            );
            sign(&elsewhere, contribution_body(work(30, JAN_2020.0)))
        },
        code: Code::FailedPrecondition,
        message: "network",
    },
    // The clock.
    RefusalCase {
        name: "created a minute before the skew window",
        build: |c| signed_at(c, now_ms() - skew() - 60_000),
        code: Code::InvalidArgument,
        message: "created_at_ms",
    },
    RefusalCase {
        name: "created a minute after the skew window",
        build: |c| signed_at(c, now_ms() + skew() + 60_000),
        code: Code::InvalidArgument,
        message: "created_at_ms",
    },
    RefusalCase {
        name: "created at 0",
        build: |c| signed_at(c, 0),
        code: Code::InvalidArgument,
        message: "created_at_ms",
    },
    RefusalCase {
        name: "a contribution dated tomorrow",
        build: |c| {
            let future_at = now_ms() / 1000 + 86_400;
            sign(&c.bob, contribution_body(work(30, future_at)))
        },
        code: Code::InvalidArgument,
        message: "in the future",
    },
    // Unknown enum values.
    RefusalCase {
        name: "contribution kind 9",
        build: |c| {
            let fields = pb::Contribution {
                kind: 9,
                ..work(30, JAN_2020.0)
            };
            sign(&c.bob, contribution_body(fields))
        },
        code: Code::InvalidArgument,
        message: "kind",
    },
    RefusalCase {
        name: "contribution kind 0",
        build: |c| {
            let fields = pb::Contribution {
                kind: 0,
                ..work(30, JAN_2020.0)
            };
            sign(&c.bob, contribution_body(fields))
        },
        code: Code::InvalidArgument,
        message: "kind",
    },
    RefusalCase {
        name: "verdict 7",
        build: |c| {
            let body = Body::Evaluate(pb::Evaluate {
                contribution_id: c.bob_work_id(),
                verdict: 7,
                rating: None,
                note: String::new(),
            });
            sign(&c.carol, body)
        },
        code: Code::InvalidArgument,
        message: "verdict",
    },
    RefusalCase {
        name: "role 5",
        build: |c| {
            let body = Body::GrantRole(pb::GrantRole {
                member: "bob".into(),
                role: 5,
            });
            sign(&c.alice, body)
        },
        code: Code::InvalidArgument,
        message: "role",
    },
    RefusalCase {
        name: "role 0",
        build: |c| {
            let body = Body::GrantRole(pb::GrantRole {
                member: "bob".into(),
                role: 0,
            });
            sign(&c.alice, body)
        },
        code: Code::InvalidArgument,
        message: "role",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_envelopes_and_headers() {
    let mut coop = Coop::new().await;
    refuse_all(&coop, ENVELOPE_REFUSALS).await;

    // Requests without an envelope or a key.
    let before = info(&mut coop.client).await;
    let result = coop
        .client
        .submit(pb::SubmitRequest { envelope: None })
        .await;
    assert_refused(
        &mut coop.client,
        &before,
        result,
        Code::InvalidArgument,
        "envelope",
    )
    .await;
    let result = coop
        .client
        .get_entry(pb::GetEntryRequest { key: None })
        .await;
    assert_refused(
        &mut coop.client,
        &before,
        result,
        Code::InvalidArgument,
        "key",
    )
    .await;

    // The refusals were about what each row broke: the untouched envelope
    // lands, and so does one created within the skew.
    let e = good(&coop);
    submit_new(&mut coop.client, &e).await;
    let e = signed_at(&coop, now_ms() - skew() / 2);
    submit_new(&mut coop.client, &e).await;
    // The rows' enum fields are known once valid.
    let e = sign(
        &coop.carol,
        evaluate_body(
            &entry_id(&coop.bob_work_id()),
            pb::Verdict::Approve,
            None,
            "",
        ),
    );
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_real_entry_of_another_network() {
    // (A made-up network id is a row of ENVELOPE_REFUSALS.)
    let mut coop = Coop::new().await;
    // A real entry of a real other network (another server's log).
    let other = TestServer::start().await;
    let mut other_client = other.client().await;
    let other_net = found_network(&mut other_client, &["bob"]).await;
    let e = sign(
        &other_net.founders[0],
        contribution_body(work(30, JAN_2020.0)),
    );
    submit_new(&mut other_client, &e).await;
    coop.refuse(&e, Code::FailedPrecondition, "network").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_second_genesis() {
    let mut coop = Coop::new().await;
    let alice_pre = Signer::new("alice", coop.alice.key.clone(), &[]);
    let body = genesis_for(&mut coop.client, std::slice::from_ref(&alice_pre)).await;
    let e = sign(&alice_pre, body);
    coop.refuse(&e, Code::AlreadyExists, "genesis").await;
    // Resubmitting the original genesis is a duplicate, not a second network.
    let r = submit(&mut coop.client, &coop.network.genesis.clone()).await;
    assert!(r.duplicate && r.sequence == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_rules_on_a_fresh_server() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let empty = info(&mut client).await;
    assert_eq!(empty.log_size, 0);
    assert!(empty.network_id.is_empty(), "no network before genesis");

    let alice = new_signer("alice", &[]);
    // Nothing but a genesis can come first.
    let early = sign(
        &Signer::new("alice", alice.key.clone(), &[1u8; 32]),
        contribution_body(work(5, JAN_2020.0)),
    );
    submit_refused(&mut client, &early, Code::FailedPrecondition, "genesis").await;
    // A genesis must name this server's log key.
    let founders = vec![("alice".to_string(), alice.public_key())];
    let e = sign(
        &alice,
        coopledger::client::genesis_body("Coop", "EUR", 2, &founders, &[3u8; 32]),
    );
    submit_refused(&mut client, &e, Code::FailedPrecondition, "log_public_key").await;
    // A genesis signed by someone who is not a founder.
    let mallory = new_signer("mallory", &[]);
    let e = sign(
        &mallory,
        genesis_for(&mut client, std::slice::from_ref(&alice)).await,
    );
    submit_refused(&mut client, &e, Code::PermissionDenied, "founders").await;

    // A founder with a weak key; a genesis signed with a key that is not the founder's.
    let mut weak = vec![
        ("alice".to_string(), alice.public_key()),
        ("bob".to_string(), weak_keys()[0]),
    ];
    let log_key = info(&mut client).await.log_public_key;
    let e = sign(
        &alice,
        coopledger::client::genesis_body("Coop", "EUR", 2, &weak, &log_key),
    );
    submit_refused(&mut client, &e, Code::InvalidArgument, "weak").await;
    weak.truncate(1);
    let impostor = Signer::new("alice", new_key(), &[]);
    let e = sign(
        &impostor,
        coopledger::client::genesis_body("Coop", "EUR", 2, &weak, &log_key),
    );
    submit_refused(&mut client, &e, Code::Unauthenticated, "founder").await;

    let net = found_network(&mut client, &["alice"]).await;
    assert_eq!(net.receipt.sequence, 0);
    assert_eq!(net.receipt.id, net.id);
    assert_eq!(info(&mut client).await.network_id, net.id);
}
