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

/// Protobuf wire bytes written by hand, for payloads no standard encoder
/// writes: a varint, a field key, a length-delimited field.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn key(number: u64, wire_type: u64) -> Vec<u8> {
    varint(number << 3 | wire_type)
}

fn len_field(number: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = key(number, 2);
    out.extend(varint(bytes.len() as u64));
    out.extend(bytes);
    out
}

/// Bob's header (this network, "bob", now, a fresh nonce) around `body`:
/// an entry every check accepts.
fn bob_entry(c: &Coop, body: Option<Body>) -> pb::Entry {
    pb::Entry {
        network_id: c.network.id.clone(),
        author: "bob".into(),
        created_at_ms: now_ms(),
        nonce: coopledger::verify::new_nonce().expect("nonce"),
        body,
    }
}

/// Bob's 30 minutes of work in January 2020, as an entry.
fn bob_work_entry(c: &Coop) -> pb::Entry {
    bob_entry(c, Some(contribution_body(work(30, JAN_2020.0))))
}

/// Payloads that decode to an entry every check accepts, signed by bob,
/// whose bytes are not that entry's standard encoding: each must be
/// refused for its form alone. (Their standard encodings land: see
/// `each_non_canonical_payload_lands_in_standard_form`.)
mod non_canonical {
    use super::*;

    /// Bob's work, then a second body: a retraction of bob's work
    /// (`field 18`). prost keeps the last body, another decoder may keep
    /// the first.
    pub(super) fn two_bodies(c: &Coop) -> Vec<u8> {
        let mut payload = bob_work_entry(c).encode_to_vec();
        let retract = pb::RetractContribution {
            contribution_id: c.bob_work_id(),
            reason: "hidden".into(),
        };
        payload.extend(len_field(18, &retract.encode_to_vec()));
        payload
    }

    /// Bob's work with a whole second entry hidden in unknown field 99.
    pub(super) fn unknown_field(c: &Coop) -> Vec<u8> {
        let mut payload = bob_work_entry(c).encode_to_vec();
        let hidden = bob_entry(c, Some(contribution_body(work(6000, JAN_2020.0))));
        payload.extend(len_field(99, &hidden.encode_to_vec()));
        payload
    }

    /// Bob's work with unknown field 42 inside the contribution.
    pub(super) fn unknown_field_in_body(c: &Coop) -> Vec<u8> {
        let mut contribution = work(30, JAN_2020.0).encode_to_vec();
        contribution.extend(len_field(42, b"x"));
        let log = len_field(1, &contribution);
        let mut payload = bob_entry(c, None).encode_to_vec();
        payload.extend(len_field(16, &log));
        payload
    }

    /// The body first, then the header fields.
    pub(super) fn header_after_body(c: &Coop) -> Vec<u8> {
        let entry = bob_work_entry(c);
        let body = pb::Entry {
            body: entry.body.clone(),
            ..Default::default()
        };
        let header = pb::Entry {
            body: None,
            ..entry
        };
        let mut payload = body.encode_to_vec();
        payload.extend(header.encode_to_vec());
        payload
    }

    /// `created_at_ms` as a varint padded with a trailing zero group.
    pub(super) fn padded_varint(c: &Coop) -> Vec<u8> {
        let entry = bob_work_entry(c);
        let mut payload = pb::Entry {
            network_id: entry.network_id.clone(),
            author: entry.author.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        payload.extend(key(3, 0));
        let mut padded = varint(entry.created_at_ms as u64);
        if let Some(last) = padded.last_mut() {
            *last |= 0x80;
        }
        padded.push(0x00);
        payload.extend(padded);
        payload.extend(
            pb::Entry {
                nonce: entry.nonce,
                body: entry.body,
                ..Default::default()
            }
            .encode_to_vec(),
        );
        payload
    }

    /// The author written twice (prost keeps the last).
    pub(super) fn author_twice(c: &Coop) -> Vec<u8> {
        let entry = bob_work_entry(c);
        let mut payload = pb::Entry {
            network_id: entry.network_id.clone(),
            author: "bob".into(),
            ..Default::default()
        }
        .encode_to_vec();
        payload.extend(len_field(2, b"bob"));
        payload.extend(
            pb::Entry {
                network_id: Vec::new(),
                author: String::new(),
                ..entry
            }
            .encode_to_vec(),
        );
        payload
    }

    /// An empty project written out (proto3 leaves defaults out), in its
    /// place between quantity (2) and at (6).
    pub(super) fn default_written(c: &Coop) -> Vec<u8> {
        let fields = work(30, JAN_2020.0);
        let mut contribution = pb::Contribution {
            at: 0,
            ..fields.clone()
        }
        .encode_to_vec();
        contribution.extend(len_field(5, b""));
        contribution.extend(key(6, 0));
        contribution.extend(varint(fields.at as u64));
        let log = len_field(1, &contribution);
        let mut payload = bob_entry(c, None).encode_to_vec();
        payload.extend(len_field(16, &log));
        payload
    }

    /// Every builder above; the two-body one last (its standard encoding is
    /// a retraction of bob's work).
    pub(super) const ALL: &[fn(&Coop) -> Vec<u8>] = &[
        unknown_field,
        unknown_field_in_body,
        header_after_body,
        padded_varint,
        author_twice,
        default_written,
        two_bodies,
    ];
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
    // One meaning per signed byte: well signed, every field acceptable,
    // but not the entry's standard encoding.
    RefusalCase {
        name: "two bodies",
        build: |c| sign_payload(&c.bob.key, non_canonical::two_bodies(c)),
        code: Code::InvalidArgument,
        message: "envelope.payload: not in canonical protobuf form (more than one body in entry: \
                  field 16 (log_contribution), then field 18 (retract_contribution))",
    },
    RefusalCase {
        name: "a second entry hidden in an unknown field",
        build: |c| sign_payload(&c.bob.key, non_canonical::unknown_field(c)),
        code: Code::InvalidArgument,
        message: "(unknown field 99 in entry)",
    },
    RefusalCase {
        name: "an unknown field inside the body",
        build: |c| sign_payload(&c.bob.key, non_canonical::unknown_field_in_body(c)),
        code: Code::InvalidArgument,
        message: "(unknown field 42 in entry.log_contribution.contribution)",
    },
    RefusalCase {
        name: "the header after the body",
        build: |c| sign_payload(&c.bob.key, non_canonical::header_after_body(c)),
        code: Code::InvalidArgument,
        message: "(fields out of order in entry: field 1 (network_id) after field 16 \
                  (log_contribution) (fields go in field-number order))",
    },
    RefusalCase {
        name: "a padded varint",
        build: |c| sign_payload(&c.bob.key, non_canonical::padded_varint(c)),
        code: Code::InvalidArgument,
        message: "(non-minimal varint in field 3 (created_at_ms) in entry)",
    },
    RefusalCase {
        name: "the author twice",
        build: |c| sign_payload(&c.bob.key, non_canonical::author_twice(c)),
        code: Code::InvalidArgument,
        message: "(field 2 (author) appears twice in entry)",
    },
    RefusalCase {
        name: "an empty project written out",
        build: |c| sign_payload(&c.bob.key, non_canonical::default_written(c)),
        code: Code::InvalidArgument,
        message: "(field 5 (project) in entry.log_contribution.contribution is written with its \
                  default value, which the standard encoding leaves out)",
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
    RefusalCase {
        name: "a policy with both max_flags and flag_rule weighted_majority",
        build: |c| {
            let body = Body::AdoptPolicy(pb::AdoptPolicy {
                policy_json: br#"{"validation": {"min_approvals": 1, "max_flags": 0,
                    "flag_rule": "weighted_majority"}, "buckets": []}"#
                    .to_vec(),
            });
            sign(&c.alice, body)
        },
        code: Code::InvalidArgument,
        // Both fields named, as the scoring core's reader words it.
        message: "max_flags and flag_rule weighted_majority exclude each other",
    },
    RefusalCase {
        name: "a policy whose allocation bucket names a non-member participant",
        build: |c| {
            let body = Body::AdoptPolicy(pb::AdoptPolicy {
                policy_json: br#"{"buckets": [{"type": "allocation", "percent_ppm": 1000000,
                    "mechanism": "give", "participants": ["alice", "bob", "carl"]}]}"#
                    .to_vec(),
            });
            sign(&c.alice, body)
        },
        // As pretrusted is refused: the field, the name, the closest member.
        code: Code::NotFound,
        message: "adopt_policy.policy_json: buckets[0].participants[2]: \"carl\" is not a member (did you mean carol?)",
    },
    RefusalCase {
        name: "a policy with an impartial bucket for two participants",
        build: |c| {
            let body = Body::AdoptPolicy(pb::AdoptPolicy {
                policy_json: br#"{"buckets": [{"type": "allocation", "percent_ppm": 1000000,
                    "mechanism": "impartial", "participants": ["alice", "bob"]}]}"#
                    .to_vec(),
            });
            sign(&c.alice, body)
        },
        code: Code::InvalidArgument,
        message: "adopt_policy.policy_json: buckets[0].participants: impartial division needs at least three participants; it names 2",
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
async fn each_non_canonical_payload_lands_in_standard_form() {
    // The rows of ENVELOPE_REFUSALS that break only the form: the same
    // entry, re-encoded and signed again, is accepted, so the refusal was
    // about the bytes and nothing else. Every refusal message also tells
    // the author what to do.
    let mut coop = Coop::new().await;
    for build in non_canonical::ALL {
        let payload = build(&coop);
        let refused = sign_payload(&coop.bob.key, payload.clone());
        let status = coop
            .refuse(
                &refused,
                Code::InvalidArgument,
                "not in canonical protobuf form",
            )
            .await;
        assert!(
            status.message().ends_with(
                "; re-encode the entry with a standard protobuf encoder and sign those bytes"
            ),
            "{}",
            status.message()
        );
        let entry = pb::Entry::decode(payload.as_slice()).expect("the payload decodes");
        let standard = sign_payload(&coop.bob.key, entry.encode_to_vec());
        submit_new(&mut coop.client, &standard).await;
    }

    // In a batch, the refusal names the envelope and nothing lands.
    let batch = [
        good(&coop),
        sign_payload(&coop.bob.key, non_canonical::unknown_field(&coop)),
    ];
    let status = batch_refused(
        &mut coop.client,
        &batch,
        Code::InvalidArgument,
        "envelopes[1]: envelope.payload: not in canonical protobuf form (unknown field 99 in entry)",
    )
    .await;
    assert!(status.message().starts_with("envelopes[1]"));
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
