//! End-to-end tests of the signed contribution log (issue 2, "Done when"):
//! a real server on 127.0.0.1 (port 0, temporary sled folder) and real tonic
//! clients over TCP. Nothing here calls into the server's internals.
//!
//! - every entry type lands and reads back as the exact signed bytes;
//! - every refusal has its exact code and leaves the log size and root as
//!   they were (`common::assert_refused`);
//! - resubmission is idempotent; a restart serves the same log and state;
//! - 32 concurrent clients land exactly once in one total order;
//! - Subscribe, health checking and reflection work.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use coopledger::client::{LedgerClient, Signer, allocate_body, contribution_body, evaluate_body};
use coopledger::ledger::Limits;
use coopledger::pb::{self, entry::Body};
use prost::Message;
use tonic::Code;

use common::*;

/// The whole test's budget for the concurrency test.
const CONCURRENCY_BUDGET: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// A scenario with every entry type
// ---------------------------------------------------------------------------

/// A log holding every entry type, with known sequence numbers:
///
/// | seq | entry                                              |
/// |-----|----------------------------------------------------|
/// |  0  | genesis by alice (founders alice, dave)            |
/// |  1  | alice admits bob                                   |
/// |  2  | alice admits carol                                 |
/// |  3  | bob rotates his key                                |
/// |  4  | alice grants treasurer to carol                    |
/// |  5  | dave grants admin to bob                           |
/// |  6  | alice revokes admin from bob                       |
/// |  7  | alice adopts a policy                              |
/// |  8  | bob logs 90 min of work, Jan 2020 (non-canonical)  |
/// |  9  | bob logs money, Jan 2020                           |
/// | 10  | carol logs an expense, Feb 2020                    |
/// | 11  | carol logs a resource with a rate, Feb 2020        |
/// | 12  | dave logs use, Jan 2020                            |
/// | 13  | bob amends #8 (still Jan 2020)                     |
/// | 14  | bob retracts #9                                    |
/// | 15  | carol approves #8, rating 80                       |
/// | 16  | alice flags #10, rating 20                         |
/// | 17  | alice allocates Jan 2020: bob 60, carol 40         |
/// | 18  | bob allocates Feb 2020: carol 50, dave 50          |
struct Scenario {
    network: Network,
    bob: Signer,
    bob_old: Signer,
    carol: Signer,
    /// The envelopes as submitted, indexed by sequence number.
    envelopes: Vec<pb::Envelope>,
    /// Their receipts, indexed by sequence number.
    receipts: Vec<pb::Receipt>,
}

const SCENARIO_SIZE: u64 = 19;

/// One step of the scenario: builds the next envelope from those before it.
type Step<'a> = Box<dyn Fn(&[pb::Envelope]) -> pb::Envelope + 'a>;

impl Scenario {
    async fn build(client: &mut LedgerClient) -> Scenario {
        let (jan, feb) = (JAN_2020.0, FEB_2020.0);
        let network = found_network(client, &["alice", "dave"]).await;
        let alice = network.founders[0].clone();
        let dave = network.founders[1].clone();
        let mut envelopes = vec![network.genesis.clone()];
        let mut receipts = vec![network.receipt.clone()];

        let bob_old = new_signer("bob", &network.id);
        let carol = new_signer("carol", &network.id);
        let bob = new_signer("bob", &network.id);

        // Non-canonical payload: the body first, then the header fields
        // (protobuf merges concatenated messages). A server that re-encoded
        // the entry would change these bytes.
        let design_work = {
            let fields = pb::Contribution {
                tags: vec!["design".into(), "review".into()],
                project: "website".into(),
                note: "wireframes for the shop".into(),
                evidence_url: "https://example.org/commit/1".into(),
                evidence_hash: blake3::hash(b"evidence").as_bytes().to_vec(),
                ..work(90, jan + 1000)
            };
            let body_part = pb::Entry {
                body: Some(contribution_body(fields)),
                ..Default::default()
            };
            let header_part = pb::Entry {
                network_id: network.id.clone(),
                author: "bob".into(),
                created_at_ms: now_ms(),
                nonce: coopledger::verify::new_nonce().expect("nonce"),
                body: None,
            };
            let mut payload = body_part.encode_to_vec();
            payload.extend(header_part.encode_to_vec());
            let decoded =
                pb::Entry::decode(payload.as_slice()).expect("the merged payload decodes");
            assert_ne!(
                decoded.encode_to_vec(),
                payload,
                "the payload must be non-canonical to prove anything"
            );
            sign_payload(&bob.key, payload)
        };

        let steps: Vec<Step<'_>> = vec![
            Box::new(|_| sign(&alice, admit_body("bob", &bob_old.public_key()))),
            Box::new(|_| sign(&alice, admit_body("carol", &carol.public_key()))),
            Box::new(|_| sign(&bob_old, rotate_body(&bob.public_key()))),
            Box::new(|_| sign(&alice, grant_body("carol", pb::Role::Treasurer))),
            Box::new(|_| sign(&dave, grant_body("bob", pb::Role::Admin))),
            Box::new(|_| sign(&alice, revoke_body("bob", pb::Role::Admin))),
            Box::new(|_| sign(&alice, adopt_body(POLICY_JSON))),
            Box::new(|_| design_work.clone()),
            Box::new(|_| {
                sign(
                    &bob,
                    contribution_body(contribution(pb::ContributionKind::Money, 2500, jan + 2000)),
                )
            }),
            Box::new(|_| {
                sign(
                    &carol,
                    contribution_body(contribution(pb::ContributionKind::Expense, 1250, feb + 100)),
                )
            }),
            Box::new(|_| {
                let fields = pb::Contribution {
                    rate: Some(500),
                    ..contribution(pb::ContributionKind::Resource, 3, feb + 200)
                };
                sign(&carol, contribution_body(fields))
            }),
            Box::new(|_| {
                sign(
                    &dave,
                    contribution_body(contribution(pb::ContributionKind::Use, 2, jan + 3000)),
                )
            }),
            Box::new(|e| {
                let fields = pb::Contribution {
                    tags: vec!["design".into()],
                    ..work(120, jan + 1500)
                };
                sign(&bob, amend_body(&id_of(&e[8]), fields))
            }),
            Box::new(|e| sign(&bob, retract_body(&id_of(&e[9]), "logged twice"))),
            Box::new(|e| {
                sign(
                    &carol,
                    evaluate_body(
                        &entry_id(&id_of(&e[8])),
                        pb::Verdict::Approve,
                        Some(80),
                        "good work",
                    ),
                )
            }),
            Box::new(|e| {
                sign(
                    &alice,
                    evaluate_body(
                        &entry_id(&id_of(&e[10])),
                        pb::Verdict::Flag,
                        Some(20),
                        "no receipt",
                    ),
                )
            }),
            Box::new(|_| {
                sign(
                    &alice,
                    allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 60), ("carol", 40)]),
                )
            }),
            Box::new(|_| {
                sign(
                    &bob,
                    allocate_body(FEB_2020.0, FEB_2020.1, &[("carol", 50), ("dave", 50)]),
                )
            }),
        ];
        for step in &steps {
            let envelope = step(&envelopes);
            let receipt = submit_new(client, &envelope).await;
            let expected = envelopes.len() as u64;
            assert_eq!(
                receipt.sequence, expected,
                "entries submitted one at a time land in order"
            );
            assert_eq!(
                receipt.log_size,
                expected + 1,
                "the receipt's log size is the size right after it"
            );
            if expected == 5 {
                // Between the grant (5) and the revoke (6) bob is an admin.
                assert_eq!(
                    member(client, "bob").await.roles,
                    vec![pb::Role::Admin as i32]
                );
            }
            envelopes.push(envelope);
            receipts.push(receipt);
        }
        assert_eq!(envelopes.len() as u64, SCENARIO_SIZE);
        drop(steps);
        Scenario {
            network,
            bob,
            bob_old,
            carol,
            envelopes,
            receipts,
        }
    }
}

/// The members the scenario leaves, sorted by handle.
fn scenario_members(s: &Scenario) -> Vec<pb::Member> {
    let key = |e: &pb::Envelope| e.public_key.clone();
    vec![
        pb::Member {
            handle: "alice".into(),
            public_key: s.network.founders[0].public_key().to_vec(),
            roles: vec![pb::Role::Admin as i32],
            admitted_at: 0,
            retired_keys: vec![],
            contributions: 0,
        },
        pb::Member {
            handle: "bob".into(),
            public_key: s.bob.public_key().to_vec(),
            roles: vec![],
            admitted_at: 1,
            retired_keys: vec![s.bob_old.public_key().to_vec()],
            // #8 stands (amended), #9 was retracted.
            contributions: 1,
        },
        pb::Member {
            handle: "carol".into(),
            public_key: key(&s.envelopes[10]),
            roles: vec![pb::Role::Treasurer as i32],
            admitted_at: 2,
            retired_keys: vec![],
            contributions: 2,
        },
        pb::Member {
            handle: "dave".into(),
            public_key: s.network.founders[1].public_key().to_vec(),
            roles: vec![pb::Role::Admin as i32],
            admitted_at: 0,
            retired_keys: vec![],
            contributions: 1,
        },
    ]
}

fn kind_of(e: &pb::LoggedEntry) -> pb::EntryKind {
    match e.entry.as_ref().and_then(|x| x.body.as_ref()) {
        Some(Body::Genesis(_)) => pb::EntryKind::Genesis,
        Some(Body::AdmitMember(_)) => pb::EntryKind::AdmitMember,
        Some(Body::RotateKey(_)) => pb::EntryKind::RotateKey,
        Some(Body::GrantRole(_)) => pb::EntryKind::GrantRole,
        Some(Body::RevokeRole(_)) => pb::EntryKind::RevokeRole,
        Some(Body::AdoptPolicy(_)) => pb::EntryKind::AdoptPolicy,
        Some(Body::LogContribution(_)) => pb::EntryKind::LogContribution,
        Some(Body::AmendContribution(_)) => pb::EntryKind::AmendContribution,
        Some(Body::RetractContribution(_)) => pb::EntryKind::RetractContribution,
        Some(Body::Evaluate(_)) => pb::EntryKind::Evaluate,
        Some(Body::Allocate(_)) => pb::EntryKind::Allocate,
        Some(Body::RecordDistribution(_)) => pb::EntryKind::RecordDistribution,
        Some(Body::VoidDistribution(_)) => pb::EntryKind::VoidDistribution,
        None => pb::EntryKind::Unspecified,
    }
}

// ---------------------------------------------------------------------------
// 1. Every entry type lands; reads return the signed bytes
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_type_lands_and_reads_back_byte_identical() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&mut client).await;

    let info = info(&mut client).await;
    assert_eq!(info.log_size, SCENARIO_SIZE);
    assert_eq!(
        info.root,
        s.receipts.last().expect("receipts").root,
        "the root is the last receipt's root"
    );
    assert_eq!(info.root.len(), 32);
    assert_eq!(info.network_id, s.network.id);
    assert_eq!(
        (
            info.network_name.as_str(),
            info.currency.as_str(),
            info.decimals
        ),
        ("Test Coop", "EUR", 2)
    );

    for (seq, submitted) in s.envelopes.iter().enumerate() {
        let seq = seq as u64;
        let by_seq = get_by_sequence(&mut client, seq).await;
        assert_eq!(by_seq.sequence, seq);
        assert_eq!(
            by_seq.id, s.receipts[seq as usize].id,
            "GetEntry's id is the receipt's id"
        );
        assert_eq!(by_seq.id, id_of(submitted));
        assert_eq!(
            by_seq.envelope.as_ref(),
            Some(submitted),
            "entry {seq}: the stored envelope is not the signed one"
        );
        let decoded = pb::Entry::decode(submitted.payload.as_slice()).expect("decode payload");
        assert_eq!(
            by_seq.entry.as_ref(),
            Some(&decoded),
            "entry {seq}: the decoded entry differs from the payload"
        );
        let by_id = get_by_id(&mut client, &by_seq.id).await;
        assert_eq!(
            by_id, by_seq,
            "entry {seq}: GetEntry by id and by sequence differ"
        );
    }

    let all = list(&mut client, pb::ListEntriesRequest::default()).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (0..SCENARIO_SIZE).collect::<Vec<_>>()
    );
    for e in &all {
        assert_eq!(
            e.envelope.as_ref(),
            Some(&s.envelopes[e.sequence as usize]),
            "ListEntries changed entry {}",
            e.sequence
        );
    }
    let kinds: BTreeSet<i32> = all.iter().map(|e| kind_of(e) as i32).collect();
    let every_kind: BTreeSet<i32> = (1..=11).collect();
    assert_eq!(kinds, every_kind, "the scenario covers every entry kind");
    let contribution_kinds: BTreeSet<i32> = all
        .iter()
        .filter_map(|e| match e.entry.as_ref()?.body.as_ref()? {
            Body::LogContribution(l) => l.contribution.as_ref().map(|c| c.kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        contribution_kinds,
        (1..=5).collect::<BTreeSet<i32>>(),
        "a contribution of every kind landed"
    );

    // Past the end, and an unknown id.
    let past = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Sequence(SCENARIO_SIZE)),
        })
        .await;
    assert_eq!(
        past.expect_err("no entry past the end").code(),
        Code::NotFound
    );
    assert_absent(&mut client, &[7u8; 32]).await;
    let bad_id = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(vec![1, 2, 3])),
        })
        .await;
    assert_eq!(
        bad_id.expect_err("a 3-byte id").code(),
        Code::InvalidArgument
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_reflect_roles_and_rotated_keys() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&mut client).await;
    let expected = scenario_members(&s);

    assert_eq!(
        members(&mut client).await,
        expected,
        "ListMembers, sorted by handle"
    );
    for m in &expected {
        assert_eq!(
            &member(&mut client, &m.handle).await,
            m,
            "GetMember {}",
            m.handle
        );
    }
    let bob = member(&mut client, "bob").await;
    assert_ne!(
        bob.public_key,
        s.bob_old.public_key().to_vec(),
        "the rotated-out key is no longer current"
    );

    let missing = client
        .get_member(pb::GetMemberRequest {
            handle: "zed".into(),
        })
        .await;
    assert_eq!(
        missing.expect_err("zed is not a member").code(),
        Code::NotFound
    );
    let bad = client
        .get_member(pb::GetMemberRequest {
            handle: "Not A Handle".into(),
        })
        .await;
    assert_eq!(bad.expect_err("bad handle").code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_entries_filters_return_exactly_the_right_sequences() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let _s = Scenario::build(&mut client).await;

    let period = |(start, end): (i64, i64)| Some(pb::Period { start, end });
    let now = now_ms() / 1000;
    let req =
        |member: &str, kinds: &[pb::EntryKind], p: Option<pb::Period>| pb::ListEntriesRequest {
            member: member.into(),
            kinds: kinds.iter().map(|k| *k as i32).collect(),
            period: p,
            ..Default::default()
        };
    use pb::EntryKind as K;
    let cases: Vec<(&str, pb::ListEntriesRequest, Vec<u64>)> = vec![
        (
            "everything",
            req("", &[], None),
            (0..SCENARIO_SIZE).collect(),
        ),
        (
            "kind log_contribution",
            req("", &[K::LogContribution], None),
            vec![8, 9, 10, 11, 12],
        ),
        (
            "kinds evaluate+allocate",
            req("", &[K::Evaluate, K::Allocate], None),
            vec![15, 16, 17, 18],
        ),
        ("kind genesis", req("", &[K::Genesis], None), vec![0]),
        (
            "kinds rotate+grant+revoke",
            req("", &[K::RotateKey, K::GrantRole, K::RevokeRole], None),
            vec![3, 4, 5, 6],
        ),
        (
            "kinds amend+retract+adopt",
            req(
                "",
                &[K::AmendContribution, K::RetractContribution, K::AdoptPolicy],
                None,
            ),
            vec![7, 13, 14],
        ),
        (
            "member alice",
            req("alice", &[], None),
            vec![0, 1, 2, 4, 6, 7, 16, 17],
        ),
        (
            "member bob",
            req("bob", &[], None),
            vec![1, 3, 5, 6, 8, 9, 13, 14, 15, 17, 18],
        ),
        (
            "member carol",
            req("carol", &[], None),
            vec![2, 4, 10, 11, 15, 16, 17, 18],
        ),
        ("member dave", req("dave", &[], None), vec![0, 5, 12, 18]),
        ("member not in the network", req("zed", &[], None), vec![]),
        (
            "period jan 2020",
            req("", &[], period(JAN_2020)),
            vec![8, 9, 12, 13, 14, 15, 17],
        ),
        (
            "period feb 2020",
            req("", &[], period(FEB_2020)),
            vec![10, 11, 16, 18],
        ),
        (
            "period 2019",
            req("", &[], period((1_546_300_800, 1_577_836_800))),
            vec![],
        ),
        (
            "period around now (by created_at)",
            req("", &[], period((now - 3600, now + 3600))),
            (0..=7).collect(),
        ),
        (
            "bob's contributions",
            req("bob", &[K::LogContribution], None),
            vec![8, 9],
        ),
        (
            "bob in jan 2020",
            req("bob", &[], period(JAN_2020)),
            vec![8, 9, 13, 14, 15, 17],
        ),
        (
            "carol in feb 2020",
            req("carol", &[], period(FEB_2020)),
            vec![10, 11, 16, 18],
        ),
        (
            "evaluations in feb 2020",
            req("", &[K::Evaluate], period(FEB_2020)),
            vec![16],
        ),
        (
            "dave's allocations",
            req("dave", &[K::Allocate], None),
            vec![18],
        ),
        (
            "from 5 to 10",
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 10,
                ..Default::default()
            },
            vec![5, 6, 7, 8, 9],
        ),
        (
            "bob from 5 to 10",
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 10,
                member: "bob".into(),
                ..Default::default()
            },
            vec![5, 6, 8, 9],
        ),
        (
            "from 17 to the end",
            pb::ListEntriesRequest {
                from_sequence: 17,
                ..Default::default()
            },
            vec![17, 18],
        ),
        (
            "limit 3",
            pb::ListEntriesRequest {
                limit: 3,
                ..Default::default()
            },
            vec![0, 1, 2],
        ),
        (
            "carol, limit 2",
            pb::ListEntriesRequest {
                limit: 2,
                member: "carol".into(),
                ..Default::default()
            },
            vec![2, 4],
        ),
        (
            "to past the end",
            pb::ListEntriesRequest {
                from_sequence: 16,
                to_sequence: 1000,
                ..Default::default()
            },
            vec![16, 17, 18],
        ),
    ];
    for (name, request, expected) in cases {
        assert_eq!(
            list_sequences(&mut client, request).await,
            expected,
            "ListEntries filter: {name}"
        );
    }

    // Bad filters are refused with the right code and change nothing.
    let before = info(&mut client).await;
    let bad: Vec<(pb::ListEntriesRequest, Code, &str)> = vec![
        (
            pb::ListEntriesRequest {
                kinds: vec![99],
                ..Default::default()
            },
            Code::InvalidArgument,
            "kinds",
        ),
        (
            req("Not A Handle", &[], None),
            Code::InvalidArgument,
            "member",
        ),
        (
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 2,
                ..Default::default()
            },
            Code::InvalidArgument,
            "from_sequence",
        ),
        (
            req("", &[], period((JAN_2020.1, JAN_2020.0))),
            Code::InvalidArgument,
            "period",
        ),
        (
            pb::ListEntriesRequest {
                limit: Limits::default().max_list_entries + 1,
                ..Default::default()
            },
            Code::ResourceExhausted,
            "limit",
        ),
    ];
    for (request, code, substring) in bad {
        let result = client.list_entries(request).await;
        assert_refused(&mut client, &before, result, code, substring).await;
    }
}

// ---------------------------------------------------------------------------
// 2. Refusals: exact code, log size and root unchanged
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_bad_signature() {
    let mut coop = Coop::new().await;
    let good = sign(&coop.bob, contribution_body(work(30, JAN_2020.0)));

    let mut flipped = good.clone();
    flipped.signature[10] ^= 0x01;
    coop.refuse(&flipped, Code::Unauthenticated, "envelope.signature")
        .await;

    let mut tampered = good.clone();
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 0x01;
    coop.refuse(&tampered, Code::Unauthenticated, "envelope.signature")
        .await;

    // Bob's payload and signature presented under carol's key.
    let mut other_key = good.clone();
    other_key.public_key = coop.carol.public_key().to_vec();
    coop.refuse(&other_key, Code::Unauthenticated, "envelope.signature")
        .await;

    // The untouched envelope lands: the refusals were about the signature.
    submit_new(&mut coop.client, &good).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_malformed_envelope_or_entry() {
    let mut coop = Coop::new().await;
    let good = sign(&coop.bob, contribution_body(work(30, JAN_2020.0)));

    let mut wrong_type = good.clone();
    wrong_type.payload_type = "application/json".into();
    coop.refuse(&wrong_type, Code::InvalidArgument, "payload_type")
        .await;
    let mut short_key = good.clone();
    short_key.public_key.pop();
    coop.refuse(&short_key, Code::InvalidArgument, "envelope.public_key")
        .await;
    let mut short_sig = good.clone();
    short_sig.signature.pop();
    coop.refuse(&short_sig, Code::InvalidArgument, "envelope.signature")
        .await;

    // Correctly signed bytes that are not an Entry.
    let garbage = sign_payload(&coop.bob.key, vec![0xff, 0xff, 0xff]);
    coop.refuse(&garbage, Code::InvalidArgument, "envelope.payload")
        .await;
    // Entries with a bad header or no body.
    let network_id = coop.network.id.clone();
    let entry = |nonce: Vec<u8>, body: Option<Body>| pb::Entry {
        network_id: network_id.clone(),
        author: "bob".into(),
        created_at_ms: now_ms(),
        nonce,
        body,
    };
    let e = sign_payload(
        &coop.bob.key,
        entry(vec![1; 8], Some(contribution_body(work(1, JAN_2020.0)))).encode_to_vec(),
    );
    coop.refuse(&e, Code::InvalidArgument, "entry.nonce").await;
    let e = sign_payload(&coop.bob.key, entry(vec![1; 16], None).encode_to_vec());
    coop.refuse(&e, Code::InvalidArgument, "entry.body").await;
    let short_net = Signer::new("bob", coop.bob.key.clone(), &coop.network.id[..16]);
    let e = sign(&short_net, contribution_body(work(1, JAN_2020.0)));
    coop.refuse(&e, Code::InvalidArgument, "entry.network_id")
        .await;
    let e = sign(
        &coop.alice,
        Body::AdoptPolicy(pb::AdoptPolicy {
            policy_json: b"{not json".to_vec(),
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "policy_json").await;

    // A request without an envelope.
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

    submit_new(&mut coop.client, &good).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_an_unknown_author() {
    let mut coop = Coop::new().await;
    let mallory = new_signer("mallory", &coop.network.id);
    let e = sign(&mallory, contribution_body(work(30, JAN_2020.0)));
    coop.refuse(&e, Code::Unauthenticated, "not a member").await;

    // A member's handle with another member's (valid, known) key.
    let bob_as_carol = Signer::new("bob", coop.carol.key.clone(), &coop.network.id);
    let e = sign(&bob_as_carol, contribution_body(work(30, JAN_2020.0)));
    coop.refuse(&e, Code::Unauthenticated, "not bob's key")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_rotated_out_key() {
    let mut coop = Coop::new().await;
    let old = coop.bob.clone();
    let new = new_signer("bob", &coop.network.id);
    submit_new(
        &mut coop.client,
        &sign(&old, rotate_body(&new.public_key())),
    )
    .await;

    let e = sign(&old, contribution_body(work(30, JAN_2020.0)));
    coop.refuse(&e, Code::Unauthenticated, "rotated out").await;
    let e = sign(&old, rotate_body(&new_key().verifying_key().to_bytes()));
    coop.refuse(&e, Code::Unauthenticated, "rotated out").await;

    submit_new(
        &mut coop.client,
        &sign(&new, contribution_body(work(30, JAN_2020.0))),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_admin_actions_by_a_non_admin() {
    let mut coop = Coop::new().await;
    let bob = coop.bob.clone();
    let dave = new_signer("dave", &coop.network.id);
    let e = sign(&bob, admit_body("dave", &dave.public_key()));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    let e = sign(&bob, grant_body("bob", pb::Role::Admin));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    let e = sign(&bob, grant_body("carol", pb::Role::Treasurer));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    let e = sign(&bob, revoke_body("alice", pb::Role::Admin));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    let e = sign(&bob, adopt_body(POLICY_JSON));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;

    // A treasurer is not an admin either.
    let alice = coop.alice.clone();
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("carol", pb::Role::Treasurer)),
    )
    .await;
    let e = sign(&coop.carol, admit_body("dave", &dave.public_key()));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;

    assert!(member(&mut coop.client, "bob").await.roles.is_empty());
    assert_eq!(
        member(&mut coop.client, "carol").await.roles,
        vec![pb::Role::Treasurer as i32]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_and_revoked_roles_change_what_a_member_may_do() {
    let mut coop = Coop::new().await;
    let (alice, bob) = (coop.alice.clone(), coop.bob.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Admin)),
    )
    .await;
    let (dave, _) = admit(&mut coop.client, &bob, "dave").await;
    assert_eq!(
        member(&mut coop.client, "dave").await.public_key,
        dave.public_key().to_vec()
    );

    let e = sign(&alice, grant_body("bob", pb::Role::Admin));
    coop.refuse(&e, Code::AlreadyExists, "already holds").await;
    let e = sign(&alice, revoke_body("carol", pb::Role::Treasurer));
    coop.refuse(&e, Code::NotFound, "does not hold").await;

    submit_new(
        &mut coop.client,
        &sign(&alice, revoke_body("bob", pb::Role::Admin)),
    )
    .await;
    let erin = new_signer("erin", &coop.network.id);
    let e = sign(&bob, admit_body("erin", &erin.public_key()));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    let e = sign(&alice, revoke_body("alice", pb::Role::Admin));
    coop.refuse(&e, Code::FailedPrecondition, "last admin")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_amending_or_retracting_another_members_contribution() {
    let mut coop = Coop::new().await;
    let id = coop.bob_work_id();
    let e = sign(&coop.carol, amend_body(&id, work(10, JAN_2020.0)));
    coop.refuse(&e, Code::PermissionDenied, "only bob can amend")
        .await;
    let e = sign(&coop.carol, retract_body(&id, "not yours"));
    coop.refuse(&e, Code::PermissionDenied, "only bob can retract")
        .await;
    // Not even an admin.
    let e = sign(&coop.alice, retract_body(&id, "admin says no"));
    coop.refuse(&e, Code::PermissionDenied, "only bob can retract")
        .await;

    // The contributor can.
    let e = sign(&coop.bob, amend_body(&id, work(75, JAN_2020.0 + 60)));
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_evaluating_ones_own_contribution() {
    let mut coop = Coop::new().await;
    let id = entry_id(&coop.bob_work_id());
    let e = sign(
        &coop.bob,
        evaluate_body(&id, pb::Verdict::Approve, Some(100), "great, if I say so"),
    );
    coop.refuse(&e, Code::PermissionDenied, "own contribution")
        .await;
    let e = sign(
        &coop.carol,
        evaluate_body(&id, pb::Verdict::Approve, Some(90), ""),
    );
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_allocating_to_oneself() {
    let mut coop = Coop::new().await;
    let e = sign(
        &coop.bob,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("carol", 50), ("bob", 50)]),
    );
    coop.refuse(&e, Code::PermissionDenied, "allocate to themselves")
        .await;
    let e = sign(
        &coop.bob,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 100)]),
    );
    coop.refuse(&e, Code::PermissionDenied, "allocate to themselves")
        .await;
    let e = sign(
        &coop.bob,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("carol", 50), ("alice", 50)]),
    );
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_references_to_what_does_not_exist() {
    let mut coop = Coop::new().await;
    let unknown = entry_id(&[9u8; 32]);
    let e = sign(
        &coop.carol,
        evaluate_body(&unknown, pb::Verdict::Approve, None, ""),
    );
    coop.refuse(&e, Code::NotFound, "no contribution").await;
    // An entry that exists but is not a contribution.
    let genesis = entry_id(&coop.network.id);
    let e = sign(
        &coop.carol,
        evaluate_body(&genesis, pb::Verdict::Flag, None, ""),
    );
    coop.refuse(&e, Code::NotFound, "no contribution").await;
    let e = sign(&coop.bob, amend_body(&[9u8; 32], work(5, JAN_2020.0)));
    coop.refuse(&e, Code::NotFound, "no contribution").await;
    let e = sign(
        &coop.bob,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("carol", 50), ("zed", 50)]),
    );
    coop.refuse(&e, Code::NotFound, "zed").await;
    let e = sign(&coop.alice, grant_body("zed", pb::Role::Treasurer));
    coop.refuse(&e, Code::NotFound, "zed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_taken_handle_or_key() {
    let mut coop = Coop::new().await;
    let e = sign(
        &coop.alice,
        admit_body("bob", &new_key().verifying_key().to_bytes()),
    );
    coop.refuse(&e, Code::AlreadyExists, "already a member")
        .await;
    let e = sign(
        &coop.alice,
        admit_body("alice", &new_key().verifying_key().to_bytes()),
    );
    coop.refuse(&e, Code::AlreadyExists, "already a member")
        .await;
    // A key serves one member.
    let e = sign(&coop.alice, admit_body("dave", &coop.bob.public_key()));
    coop.refuse(&e, Code::AlreadyExists, "already belongs")
        .await;
    assert_eq!(members(&mut coop.client).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_acting_on_a_retracted_contribution() {
    let mut coop = Coop::new().await;
    let id = coop.bob_work_id();
    submit_new(
        &mut coop.client,
        &sign(&coop.bob, retract_body(&id, "duplicate")),
    )
    .await;
    assert_eq!(member(&mut coop.client, "bob").await.contributions, 0);

    let e = sign(
        &coop.carol,
        evaluate_body(&entry_id(&id), pb::Verdict::Approve, Some(50), ""),
    );
    coop.refuse(&e, Code::FailedPrecondition, "retracted").await;
    let e = sign(&coop.bob, amend_body(&id, work(10, JAN_2020.0)));
    coop.refuse(&e, Code::FailedPrecondition, "retracted").await;
    let e = sign(&coop.bob, retract_body(&id, "again"));
    coop.refuse(&e, Code::FailedPrecondition, "retracted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_an_entry_for_another_network() {
    let mut coop = Coop::new().await;
    let elsewhere = Signer::new(
        "bob",
        coop.bob.key.clone(),
        blake3::hash(b"another network").as_bytes(),
    );
    let e = sign(&elsewhere, contribution_body(work(30, JAN_2020.0)));
    coop.refuse(&e, Code::FailedPrecondition, "network").await;

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

/// Small-order ed25519 points (the identity and the point of order 2),
/// which `verify_strict` users must refuse as member keys.
fn weak_keys() -> Vec<[u8; 32]> {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    vec![identity, order_two]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_weak_key_at_admission_and_rotation() {
    let mut coop = Coop::new().await;
    for weak in weak_keys() {
        let e = sign(&coop.alice, admit_body("dave", &weak));
        coop.refuse(&e, Code::InvalidArgument, "admit_member.public_key")
            .await;
        let e = sign(&coop.bob, rotate_body(&weak));
        coop.refuse(&e, Code::InvalidArgument, "rotate_key.new_public_key")
            .await;
    }
    let e = sign(&coop.alice, admit_body("dave", &weak_keys()[0]));
    coop.refuse(&e, Code::InvalidArgument, "weak").await;
    let e = sign(&coop.alice, admit_body("dave", &[7u8; 31]));
    coop.refuse(&e, Code::InvalidArgument, "32-byte").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_an_allocation_not_summing_to_100() {
    let mut coop = Coop::new().await;
    let e = sign(
        &coop.alice,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 60), ("carol", 30)]),
    );
    coop.refuse(&e, Code::InvalidArgument, "sum to 100").await;
    let e = sign(
        &coop.alice,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 60), ("carol", 50)]),
    );
    coop.refuse(&e, Code::InvalidArgument, "sum to 100").await;
    let e = sign(&coop.alice, allocate_body(JAN_2020.0, JAN_2020.1, &[]));
    coop.refuse(&e, Code::InvalidArgument, "sum to 100").await;
    let e = sign(
        &coop.alice,
        allocate_body(JAN_2020.1, JAN_2020.0, &[("bob", 100)]),
    );
    coop.refuse(&e, Code::InvalidArgument, "allocate.period")
        .await;
    let e = sign(
        &coop.alice,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 60), ("carol", 40)]),
    );
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_rating_over_100() {
    let mut coop = Coop::new().await;
    let id = entry_id(&coop.bob_work_id());
    let e = sign(
        &coop.carol,
        evaluate_body(&id, pb::Verdict::Approve, Some(101), ""),
    );
    coop.refuse(&e, Code::InvalidArgument, "evaluate.rating")
        .await;
    let e = sign(
        &coop.carol,
        evaluate_body(&id, pb::Verdict::Flag, Some(u32::MAX), ""),
    );
    coop.refuse(&e, Code::InvalidArgument, "evaluate.rating")
        .await;
    let e = sign(
        &coop.carol,
        evaluate_body(&id, pb::Verdict::Approve, Some(100), ""),
    );
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_unknown_enum_values() {
    let mut coop = Coop::new().await;
    let e = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            kind: 9,
            ..work(30, JAN_2020.0)
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "kind").await;
    let e = sign(
        &coop.bob,
        contribution_body(pb::Contribution {
            kind: 0,
            ..work(30, JAN_2020.0)
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "kind").await;
    let id = entry_id(&coop.bob_work_id());
    let e = sign(
        &coop.carol,
        Body::Evaluate(pb::Evaluate {
            contribution_id: id.0.to_vec(),
            verdict: 7,
            rating: None,
            note: String::new(),
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "verdict").await;
    let e = sign(
        &coop.alice,
        Body::GrantRole(pb::GrantRole {
            member: "bob".into(),
            role: 5,
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "role").await;
    let e = sign(
        &coop.alice,
        Body::GrantRole(pb::GrantRole {
            member: "bob".into(),
            role: 0,
        }),
    );
    coop.refuse(&e, Code::InvalidArgument, "role").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_handle_syntax() {
    let mut coop = Coop::new().await;
    let long = "a".repeat(65);
    for handle in ["Bob", "-bob", "bo b", "", "bob!", "ève", long.as_str()] {
        let key = new_key().verifying_key().to_bytes();
        let e = sign(&coop.alice, admit_body(handle, &key));
        coop.refuse(&e, Code::InvalidArgument, "admit_member.handle")
            .await;
    }
    let e = sign(
        &coop.bob,
        allocate_body(JAN_2020.0, JAN_2020.1, &[("Carol", 100)]),
    );
    coop.refuse(&e, Code::InvalidArgument, "allocate.shares[0].member")
        .await;
    // The longest valid handle is accepted.
    let edge = format!("d{}", "a".repeat(63));
    let (_, r) = admit(&mut coop.client, &coop.alice, &edge).await;
    assert_eq!(
        member(&mut coop.client, &edge).await.admitted_at,
        r.sequence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_created_at_far_from_the_server_clock() {
    let mut coop = Coop::new().await;
    let skew = Limits::default().max_clock_skew_ms as i64;
    let body = || contribution_body(work(30, JAN_2020.0));
    let e = coop
        .bob
        .sign_at(body(), now_ms() - skew - 60_000)
        .expect("sign");
    coop.refuse(&e, Code::InvalidArgument, "created_at_ms")
        .await;
    let e = coop
        .bob
        .sign_at(body(), now_ms() + skew + 60_000)
        .expect("sign");
    coop.refuse(&e, Code::InvalidArgument, "created_at_ms")
        .await;
    let e = coop.bob.sign_at(body(), 0).expect("sign");
    coop.refuse(&e, Code::InvalidArgument, "created_at_ms")
        .await;
    // A contribution dated in the future is refused too.
    let future_at = now_ms() / 1000 + 86_400;
    let e = sign(&coop.bob, contribution_body(work(30, future_at)));
    coop.refuse(&e, Code::InvalidArgument, "in the future")
        .await;
    // Within the skew is fine.
    let e = coop.bob.sign_at(body(), now_ms() - skew / 2).expect("sign");
    submit_new(&mut coop.client, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_over_limit_tags_and_strings() {
    let limits = Limits {
        max_tags: 2,
        max_string_bytes: 16,
        max_note_bytes: 32,
        ..Limits::default()
    };
    let mut coop = Coop::with_limits(limits).await;
    let bob = coop.bob.clone();
    let with = |c: pb::Contribution| sign(&bob, contribution_body(c));
    let base = work(30, JAN_2020.0);

    let e = with(pb::Contribution {
        tags: vec!["a".into(), "b".into(), "c".into()],
        ..base.clone()
    });
    coop.refuse(&e, Code::ResourceExhausted, "tags").await;
    let e = with(pb::Contribution {
        project: "p".repeat(17),
        ..base.clone()
    });
    coop.refuse(&e, Code::InvalidArgument, "project").await;
    let e = with(pb::Contribution {
        tags: vec!["t".repeat(17)],
        ..base.clone()
    });
    coop.refuse(&e, Code::InvalidArgument, "tags[0]").await;
    let e = with(pb::Contribution {
        note: "n".repeat(33),
        ..base.clone()
    });
    coop.refuse(&e, Code::InvalidArgument, "note").await;
    let e = sign(
        &coop.carol,
        evaluate_body(
            &entry_id(&coop.bob_work_id()),
            pb::Verdict::Approve,
            None,
            &"n".repeat(33),
        ),
    );
    coop.refuse(&e, Code::InvalidArgument, "evaluate.note")
        .await;

    // Exactly at every limit lands.
    let e = with(pb::Contribution {
        tags: vec!["t".repeat(16), "u".into()],
        project: "p".repeat(16),
        note: "n".repeat(32),
        ..base
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
async fn refuses_a_whole_batch_whose_third_envelope_is_bad() {
    let mut coop = Coop::new().await;
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());
    let dave = new_signer("dave", &coop.network.id);
    let admit_dave = sign(&alice, admit_body("dave", &dave.public_key()));
    let dave_work = sign(&dave, contribution_body(work(45, JAN_2020.0)));
    let grant = sign(&alice, grant_body("dave", pb::Role::Treasurer));

    // Bad at verification (signature).
    let mut forged = sign(
        &carol,
        evaluate_body(
            &entry_id(&coop.bob_work_id()),
            pb::Verdict::Approve,
            None,
            "",
        ),
    );
    forged.signature[0] ^= 0x80;
    let batch = vec![admit_dave.clone(), dave_work.clone(), forged, grant.clone()];
    batch_refused(
        &mut coop.client,
        &batch,
        Code::Unauthenticated,
        "envelopes[2]",
    )
    .await;

    // Bad at the rules, depending on the earlier entries of the same batch:
    // dave, admitted in envelope 0, evaluates his own work of envelope 1.
    let own = sign(
        &dave,
        evaluate_body(
            &entry_id(&id_of(&dave_work)),
            pb::Verdict::Approve,
            None,
            "",
        ),
    );
    let batch = vec![admit_dave.clone(), dave_work.clone(), own, grant.clone()];
    let status = batch_refused(
        &mut coop.client,
        &batch,
        Code::PermissionDenied,
        "envelopes[2]",
    )
    .await;
    assert!(
        status.message().contains("own contribution"),
        "{:?}",
        status.message()
    );

    // Bad at the rules: a handle taken by envelope 0 of the same batch.
    let again = sign(
        &alice,
        admit_body("dave", &new_key().verifying_key().to_bytes()),
    );
    let batch = vec![admit_dave.clone(), dave_work.clone(), again, grant.clone()];
    batch_refused(
        &mut coop.client,
        &batch,
        Code::AlreadyExists,
        "envelopes[2]",
    )
    .await;

    // Nothing of those batches stuck in the state: dave is not a member, and
    // the same first two envelopes now land where the batch would have put them.
    let missing = coop
        .client
        .get_member(pb::GetMemberRequest {
            handle: "dave".into(),
        })
        .await;
    assert_eq!(
        missing.expect_err("dave was never admitted").code(),
        Code::NotFound
    );
    let receipts = submit_batch(&mut coop.client, &[admit_dave, dave_work, grant]).await;
    assert_eq!(
        receipts.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert!(receipts.iter().all(|r| !r.duplicate && r.log_size == 7));

    // A batch holding a duplicate and a bad envelope: still nothing lands.
    let x = sign(&bob, contribution_body(work(7, JAN_2020.0)));
    let self_alloc = sign(&bob, allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 100)]));
    let batch = vec![x.clone(), x.clone(), self_alloc];
    batch_refused(
        &mut coop.client,
        &batch,
        Code::PermissionDenied,
        "envelopes[2]",
    )
    .await;
    assert_eq!(submit_new(&mut coop.client, &x).await.sequence, 7);

    // A large batch (verified in parallel chunks) names the right envelope.
    let mut big: Vec<_> = (0..70)
        .map(|i| sign(&bob, contribution_body(work(i + 1, JAN_2020.0))))
        .collect();
    big[66].signature[5] ^= 0x01;
    batch_refused(
        &mut coop.client,
        &big,
        Code::Unauthenticated,
        "envelopes[66]",
    )
    .await;
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

// ---------------------------------------------------------------------------
// 3. Idempotency
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmitting_an_envelope_returns_the_first_receipt() {
    let mut coop = Coop::new().await;
    let first = get_by_sequence(&mut coop.client, 3).await;
    let before = info(&mut coop.client).await;

    let again = submit(&mut coop.client, &coop.bob_work.clone()).await;
    assert!(again.duplicate, "a resubmission is marked duplicate");
    assert_eq!(
        (again.sequence, again.id.clone()),
        (3, first.id.clone()),
        "the first receipt's sequence and id"
    );
    assert_eq!(
        (again.log_size, again.root.clone()),
        (before.log_size, before.root.clone())
    );
    let after = info(&mut coop.client).await;
    assert_eq!(
        (after.log_size, after.root),
        (before.log_size, before.root.clone()),
        "a duplicate writes nothing"
    );

    let genesis = submit(&mut coop.client, &coop.network.genesis.clone()).await;
    assert!(genesis.duplicate && genesis.sequence == 0 && genesis.id == coop.network.id);

    // The same body signed again (new nonce) is a new entry.
    let twin = sign(&coop.bob, contribution_body(work(60, JAN_2020.0 + 3600)));
    assert_eq!(submit_new(&mut coop.client, &twin).await.sequence, 4);

    // Still the first receipt after the author rotated away the signing key.
    let new_bob = new_signer("bob", &coop.network.id);
    submit_new(
        &mut coop.client,
        &sign(&coop.bob, rotate_body(&new_bob.public_key())),
    )
    .await;
    let late = submit(&mut coop.client, &coop.bob_work.clone()).await;
    assert!(
        late.duplicate && late.sequence == 3,
        "duplicate after rotation: {late:?}"
    );
    assert_eq!(info(&mut coop.client).await.log_size, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_inside_a_batch_return_the_first_receipt() {
    let mut coop = Coop::new().await;
    let a = sign(&coop.bob, contribution_body(work(1, JAN_2020.0)));
    let b = sign(&coop.carol, contribution_body(work(2, JAN_2020.0)));
    let receipts = submit_batch(&mut coop.client, &[a.clone(), b.clone(), a.clone()]).await;
    let got: Vec<_> = receipts.iter().map(|r| (r.sequence, r.duplicate)).collect();
    assert_eq!(got, vec![(4, false), (5, false), (4, true)]);
    assert_eq!(receipts[2].id, id_of(&a));
    assert_eq!(info(&mut coop.client).await.log_size, 6);

    // The whole batch again: all duplicates, nothing written.
    let before = info(&mut coop.client).await;
    let receipts = submit_batch(&mut coop.client, &[a.clone(), b.clone(), a.clone()]).await;
    let got: Vec<_> = receipts.iter().map(|r| (r.sequence, r.duplicate)).collect();
    assert_eq!(got, vec![(4, true), (5, true), (4, true)]);
    let after = info(&mut coop.client).await;
    assert_eq!((after.log_size, after.root), (before.log_size, before.root));

    // A batch mixing an old entry with a new one.
    let c = sign(&coop.bob, contribution_body(work(3, JAN_2020.0)));
    let receipts = submit_batch(&mut coop.client, &[coop.bob_work.clone(), c]).await;
    let got: Vec<_> = receipts.iter().map(|r| (r.sequence, r.duplicate)).collect();
    assert_eq!(got, vec![(3, true), (6, false)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_after_the_clock_window_is_still_the_first_receipt() {
    // A client retrying late (after a lost answer) must get the first
    // receipt, not a clock-skew refusal.
    let mut coop = Coop::with_limits(Limits {
        max_clock_skew_ms: 1500,
        ..Limits::default()
    })
    .await;
    let e = sign(&coop.bob, contribution_body(work(5, JAN_2020.0)));
    let first = submit_new(&mut coop.client, &e).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = submit(&mut coop.client, &e).await;
    assert!(again.duplicate, "{again:?}");
    assert_eq!((again.sequence, again.id), (first.sequence, first.id));
    // While a new entry with that old created_at is refused.
    let stale = coop
        .bob
        .sign_at(contribution_body(work(5, JAN_2020.0)), now_ms() - 2500)
        .expect("sign");
    coop.refuse(&stale, Code::InvalidArgument, "created_at_ms")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resubmissions_land_once() {
    let coop = Coop::new().await;
    let e = sign(&coop.bob, contribution_body(work(15, JAN_2020.0)));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = coop.server.client().await;
        let e = e.clone();
        tasks.push(tokio::spawn(async move { submit(&mut client, &e).await }));
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.expect("task"));
    }
    assert_eq!(
        receipts.iter().filter(|r| !r.duplicate).count(),
        1,
        "exactly one submission wrote: {receipts:?}"
    );
    assert!(
        receipts
            .iter()
            .all(|r| r.sequence == 4 && r.id == id_of(&e))
    );
    let mut client = coop.server.client().await;
    assert_eq!(info(&mut client).await.log_size, 5);
}

// ---------------------------------------------------------------------------
// 4. Restart
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_same_log_and_state_and_keeps_accepting() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&mut client).await;
    let info_before = info(&mut client).await;
    let entries_before = list(&mut client, pb::ListEntriesRequest::default()).await;
    let members_before = members(&mut client).await;
    assert_eq!(members_before, scenario_members(&s));

    // The old client stays open across the stop, as a real one would.
    server.restart().await;
    let mut client = server.client().await;

    let info_after = info(&mut client).await;
    assert_eq!(
        info_after, info_before,
        "server info (log key, network, size, root, limits) after restart"
    );
    let entries_after = list(&mut client, pb::ListEntriesRequest::default()).await;
    assert_eq!(entries_after, entries_before, "the entries after restart");
    for (seq, submitted) in s.envelopes.iter().enumerate() {
        let e = get_by_id(&mut client, &id_of(submitted)).await;
        assert_eq!(e.sequence, seq as u64);
        assert_eq!(
            e.envelope.as_ref(),
            Some(submitted),
            "entry {seq} is byte-identical after restart"
        );
    }
    assert_eq!(
        members(&mut client).await,
        members_before,
        "members, keys and roles after restart"
    );
    for m in &members_before {
        assert_eq!(&member(&mut client, &m.handle).await, m);
    }
    assert_eq!(
        list_sequences(
            &mut client,
            pb::ListEntriesRequest {
                member: "bob".into(),
                ..Default::default()
            }
        )
        .await,
        vec![1, 3, 5, 6, 8, 9, 13, 14, 15, 17, 18],
        "filters work on the replayed state"
    );

    // Idempotency survives the restart; rules too.
    let dup = submit(&mut client, &s.envelopes[8]).await;
    assert!(dup.duplicate && dup.sequence == 8, "{dup:?}");
    let stale = sign(&s.bob_old, contribution_body(work(5, JAN_2020.0)));
    submit_refused(&mut client, &stale, Code::Unauthenticated, "rotated out").await;
    let retracted = sign(
        &s.carol,
        evaluate_body(
            &entry_id(&id_of(&s.envelopes[9])),
            pb::Verdict::Approve,
            None,
            "",
        ),
    );
    submit_refused(
        &mut client,
        &retracted,
        Code::FailedPrecondition,
        "retracted",
    )
    .await;

    // It keeps accepting, at the next sequence number.
    let (_, r) = log_contribution(&mut client, &s.bob, work(30, FEB_2020.0)).await;
    assert_eq!(r.sequence, SCENARIO_SIZE);
    assert_ne!(r.root, info_before.root);
    let receipts = submit_batch(
        &mut client,
        &[
            sign(&s.carol, contribution_body(work(20, FEB_2020.0))),
            sign(&s.bob, contribution_body(work(25, FEB_2020.0))),
        ],
    )
    .await;
    assert_eq!(
        receipts.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        vec![SCENARIO_SIZE + 1, SCENARIO_SIZE + 2]
    );
    let grown = info(&mut client).await;

    // And a second restart keeps what the first server added.
    server.restart().await;
    let mut client = server.client().await;
    let again = info(&mut client).await;
    assert_eq!(
        (again.log_size, again.root.clone()),
        (SCENARIO_SIZE + 3, grown.root.clone())
    );
    assert_eq!(member(&mut client, "bob").await.contributions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_open_subscriptions_and_the_folder_reopens() {
    let mut coop = Coop::new().await;
    let mut follower = coop.server.client().await;
    let mut stream = follower
        .subscribe(pb::SubscribeRequest { from_sequence: 0 })
        .await
        .expect("Subscribe")
        .into_inner();
    for seq in 0..4 {
        assert_eq!(next_entry(&mut stream).await.sequence, seq);
    }
    let before = info(&mut coop.client).await;
    // stop() is bounded by the step timeout: an open stream must not keep it waiting.
    coop.server.restart().await;
    let end = tokio::time::timeout(STEP_TIMEOUT, stream.message())
        .await
        .expect("the subscription did not end on stop");
    assert!(
        matches!(end, Ok(None) | Err(_)),
        "no entry after the stop: {end:?}"
    );

    let mut client = coop.server.client().await;
    let after = info(&mut client).await;
    assert_eq!((after.log_size, after.root), (before.log_size, before.root));
    let (_, r) = log_contribution(&mut client, &coop.carol, work(10, JAN_2020.0)).await;
    assert_eq!(r.sequence, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_limits_across_a_restart_keeps_the_log_readable() {
    // Limits are the operator's configuration of what is accepted from now
    // on; entries accepted under the old limits are still the log.
    let mut coop = Coop::new().await;
    let fields = pb::Contribution {
        tags: vec!["design".into(), "review".into(), "ops".into()],
        project: "a-rather-long-project".into(),
        ..work(30, JAN_2020.0)
    };
    let (old, _) = log_contribution(&mut coop.client, &coop.bob, fields.clone()).await;
    let before = info(&mut coop.client).await;

    let tighter = Limits {
        max_tags: 2,
        max_string_bytes: 16,
        ..Limits::default()
    };
    coop.server.restart_with(tighter).await;
    let mut client = coop.server.client().await;
    let after = info(&mut client).await;
    assert_eq!((after.log_size, after.root), (before.log_size, before.root));
    assert_eq!(get_by_sequence(&mut client, 4).await.envelope, Some(old));
    // New entries are held to the new limits.
    let e = sign(&coop.bob, contribution_body(fields));
    submit_refused(&mut client, &e, Code::ResourceExhausted, "tags").await;
}

// ---------------------------------------------------------------------------
// 5. Concurrency
// ---------------------------------------------------------------------------

const CLIENTS: usize = 32;
const PER_CLIENT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_clients_land_exactly_once_in_one_total_order() {
    let server = TestServer::start().await;
    // Setting up and signing 3200 entries (slow in a debug build on a busy
    // machine) has its own budget, so the one for the submissions is not
    // spent on signing.
    let (signed, setup) = tokio::time::timeout(CONCURRENCY_BUDGET, prepare_clients(&server))
        .await
        .expect("setting up the 32 clients did not finish within the time budget");
    tokio::time::timeout(
        CONCURRENCY_BUDGET,
        concurrent_clients(&server, signed, setup),
    )
    .await
    .expect("32 clients x 100 entries did not finish within the time budget");
}

/// Founds a network, admits 32 members in one batch, and signs each
/// member's 100 contributions. Returns them and the log size after setup.
async fn prepare_clients(server: &TestServer) -> (Vec<(String, Vec<pb::Envelope>)>, u64) {
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = network.founders[0].clone();
    let signers: Vec<Signer> = (0..CLIENTS)
        .map(|i| new_signer(&format!("m{i:02}"), &network.id))
        .collect();
    let admits: Vec<_> = signers
        .iter()
        .map(|s| sign(&alice, admit_body(&s.handle, &s.public_key())))
        .collect();
    submit_batch(&mut client, &admits).await;
    let setup = info(&mut client).await.log_size;
    assert_eq!(setup, 1 + CLIENTS as u64);

    let mut signing = Vec::new();
    for signer in signers {
        signing.push(tokio::task::spawn_blocking(move || {
            let envelopes = (0..PER_CLIENT)
                .map(|i| {
                    let fields = pb::Contribution {
                        note: format!("{} #{i}", signer.handle),
                        ..work(i as u64 + 1, JAN_2020.0)
                    };
                    sign(&signer, contribution_body(fields))
                })
                .collect();
            (signer.handle, envelopes)
        }));
    }
    let mut signed = Vec::new();
    for t in signing {
        signed.push(t.await.expect("a signing task panicked"));
    }
    (signed, setup)
}

async fn concurrent_clients(
    server: &TestServer,
    signed: Vec<(String, Vec<pb::Envelope>)>,
    setup: u64,
) {
    let mut client = server.client().await;
    // Each task: its own connection, 100 Submits one after another.
    let mut tasks = Vec::new();
    for (handle, envelopes) in signed {
        let channel = server.channel().await;
        tasks.push(tokio::spawn(async move {
            let mut client = LedgerClient::new(channel);
            let mut landed = Vec::with_capacity(PER_CLIENT);
            for e in &envelopes {
                let r = submit_new(&mut client, e).await;
                landed.push((r.sequence, r.id));
            }
            (handle, landed)
        }));
    }
    let mut by_client: BTreeMap<String, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
    for t in tasks {
        let (handle, landed) = t.await.expect("a client task panicked");
        by_client.insert(handle, landed);
    }

    // 3200 distinct sequence numbers, contiguous after the setup entries.
    let total = (CLIENTS * PER_CLIENT) as u64;
    let sequences: BTreeSet<u64> = by_client.values().flatten().map(|(s, _)| *s).collect();
    assert_eq!(
        sequences.len() as u64,
        total,
        "every entry got its own sequence number"
    );
    assert_eq!(
        sequences.iter().copied().collect::<Vec<_>>(),
        (setup..setup + total).collect::<Vec<_>>()
    );
    let ids: BTreeSet<&Vec<u8>> = by_client.values().flatten().map(|(_, id)| id).collect();
    assert_eq!(ids.len() as u64, total, "every entry has a distinct id");
    let info = info(&mut client).await;
    assert_eq!(
        info.log_size,
        setup + total,
        "nothing landed twice and nothing extra landed"
    );

    // One total order, holding each client's entries in its submission order,
    // every id at its receipt's sequence.
    let all = list(&mut client, pb::ListEntriesRequest::default()).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (0..setup + total).collect::<Vec<_>>()
    );
    let at: HashMap<u64, &pb::LoggedEntry> = all.iter().map(|e| (e.sequence, e)).collect();
    let mut seen_per_author: HashMap<String, Vec<String>> = HashMap::new();
    for e in &all[setup as usize..] {
        let entry = e.entry.as_ref().expect("decoded entry");
        let note = match entry.body.as_ref() {
            Some(Body::LogContribution(l)) => l.contribution.as_ref().expect("fields").note.clone(),
            other => panic!("unexpected entry at {}: {other:?}", e.sequence),
        };
        seen_per_author
            .entry(entry.author.clone())
            .or_default()
            .push(note);
    }
    for (handle, landed) in &by_client {
        assert!(
            landed.windows(2).all(|w| w[0].0 < w[1].0),
            "{handle}'s receipts are in submission order"
        );
        for (seq, id) in landed {
            assert_eq!(
                &at[seq].id, id,
                "{handle}: the id at sequence {seq} is not the receipt's id"
            );
        }
        let expected: Vec<String> = (0..PER_CLIENT).map(|i| format!("{handle} #{i}")).collect();
        assert_eq!(
            seen_per_author.get(handle),
            Some(&expected),
            "{handle}'s entries in the log, in order"
        );
    }

    // And GetEntry by id finds each at its receipt's sequence (a sample per client).
    for landed in by_client.values() {
        for (seq, id) in landed.iter().step_by(25) {
            assert_eq!(get_by_id(&mut client, id).await.sequence, *seq);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_in_a_busy_group_do_not_disturb_accepted_entries() {
    tokio::time::timeout(CONCURRENCY_BUDGET, mixed_clients())
        .await
        .expect("mixed clients did not finish in time");
}

/// 8 clients (bob and carol, 4 connections each) alternate entries the
/// sequencer accepts with entries it refuses (allocating to oneself), so
/// refusals share group commits with accepted entries.
async fn mixed_clients() {
    const MIXED_CLIENTS: usize = 8;
    const EACH: usize = 20;
    let mut coop = Coop::new().await;
    let setup = info(&mut coop.client).await.log_size;
    let mut tasks = Vec::new();
    for c in 0..MIXED_CLIENTS {
        let signer = if c % 2 == 0 {
            coop.bob.clone()
        } else {
            coop.carol.clone()
        };
        let mut client = coop.server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut landed = Vec::new();
            let mut refused = Vec::new();
            for i in 0..EACH {
                if i % 2 == 0 {
                    let fields = pb::Contribution {
                        note: format!("c{c} #{i}"),
                        ..work(1, JAN_2020.0)
                    };
                    let r =
                        submit_new(&mut client, &sign(&signer, contribution_body(fields))).await;
                    landed.push(r.sequence);
                } else {
                    let share = [(signer.handle.as_str(), 100)];
                    let e = sign(&signer, allocate_body(JAN_2020.0, JAN_2020.1, &share));
                    let status = client
                        .submit(pb::SubmitRequest {
                            envelope: Some(e.clone()),
                        })
                        .await
                        .expect_err("allocating to oneself is refused");
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{}",
                        status.message()
                    );
                    refused.push(id_of(&e));
                }
            }
            (c, landed, refused)
        }));
    }
    let mut all_landed = BTreeSet::new();
    let mut all_refused = Vec::new();
    for t in tasks {
        let (c, landed, refused) = t.await.expect("a client task panicked");
        assert!(
            landed.windows(2).all(|w| w[0] < w[1]),
            "client {c}'s entries land in its order"
        );
        all_landed.extend(landed);
        all_refused.extend(refused);
    }
    let accepted = (MIXED_CLIENTS * EACH / 2) as u64;
    assert_eq!(
        all_landed.into_iter().collect::<Vec<_>>(),
        (setup..setup + accepted).collect::<Vec<_>>()
    );
    assert_eq!(
        info(&mut coop.client).await.log_size,
        setup + accepted,
        "only the accepted entries were written"
    );
    for id in &all_refused {
        assert_absent(&mut coop.client, id).await;
    }
    let kinds = list(
        &mut coop.client,
        pb::ListEntriesRequest {
            from_sequence: setup,
            ..Default::default()
        },
    )
    .await;
    assert!(
        kinds
            .iter()
            .all(|e| kind_of(e) == pb::EntryKind::LogContribution),
        "no allocation was written"
    );
}

// ---------------------------------------------------------------------------
// 6. Subscribe
// ---------------------------------------------------------------------------

async fn next_entry(stream: &mut tonic::Streaming<pb::LoggedEntry>) -> pb::LoggedEntry {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("no entry arrived on the subscription in time")
        .expect("the subscription failed")
        .expect("the subscription ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_replays_the_backlog_then_follows_in_order() {
    let mut coop = Coop::new().await;
    let mut follower = coop.server.client().await;
    let mut stream = follower
        .subscribe(pb::SubscribeRequest { from_sequence: 0 })
        .await
        .expect("Subscribe")
        .into_inner();
    for seq in 0..4 {
        let e = next_entry(&mut stream).await;
        assert_eq!(
            e,
            get_by_sequence(&mut coop.client, seq).await,
            "backlog entry {seq}"
        );
    }

    let one = sign(&coop.bob, contribution_body(work(11, JAN_2020.0)));
    let r = submit_new(&mut coop.client, &one).await;
    let e = next_entry(&mut stream).await;
    assert_eq!(
        (e.sequence, e.id.clone(), e.envelope.as_ref()),
        (r.sequence, r.id.clone(), Some(&one))
    );

    let batch: Vec<_> = (0..3)
        .map(|i| sign(&coop.carol, contribution_body(work(20 + i, JAN_2020.0))))
        .collect();
    submit_batch(&mut coop.client, &batch).await;
    for (i, submitted) in batch.iter().enumerate() {
        let e = next_entry(&mut stream).await;
        assert_eq!(e.sequence, 5 + i as u64);
        assert_eq!(e.envelope.as_ref(), Some(submitted));
    }
    // A refused entry is never streamed: the next message is the next entry that lands.
    let mut bad = sign(&coop.bob, contribution_body(work(1, JAN_2020.0)));
    bad.signature[3] ^= 1;
    coop.refuse(&bad, Code::Unauthenticated, "signature").await;
    let good = sign(&coop.bob, contribution_body(work(2, JAN_2020.0)));
    submit_new(&mut coop.client, &good).await;
    let e = next_entry(&mut stream).await;
    assert_eq!((e.sequence, e.envelope.as_ref()), (8, Some(&good)));

    // From a sequence beyond the log: waits for it, then starts there.
    let mut ahead = follower
        .subscribe(pb::SubscribeRequest { from_sequence: 10 })
        .await
        .expect("Subscribe")
        .into_inner();
    let more: Vec<_> = (0..3)
        .map(|i| sign(&coop.bob, contribution_body(work(30 + i, JAN_2020.0))))
        .collect();
    submit_batch(&mut coop.client, &more).await;
    let e = next_entry(&mut ahead).await;
    assert_eq!((e.sequence, e.envelope.as_ref()), (10, Some(&more[1])));
    let e = next_entry(&mut ahead).await;
    assert_eq!(e.sequence, 11);
    for seq in 9..12 {
        assert_eq!(
            next_entry(&mut stream).await.sequence,
            seq,
            "the first subscriber keeps following"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_enforces_max_subscribers() {
    let coop = Coop::with_limits(Limits {
        max_subscribers: 2,
        ..Limits::default()
    })
    .await;
    let mut c1 = coop.server.client().await;
    let mut c2 = coop.server.client().await;
    let mut c3 = coop.server.client().await;
    let mut s1 = c1
        .subscribe(pb::SubscribeRequest { from_sequence: 0 })
        .await
        .expect("first")
        .into_inner();
    let mut s2 = c2
        .subscribe(pb::SubscribeRequest { from_sequence: 0 })
        .await
        .expect("second")
        .into_inner();
    assert_eq!(next_entry(&mut s1).await.sequence, 0);
    assert_eq!(next_entry(&mut s2).await.sequence, 0);

    let mut probe = coop.server.client().await;
    let before = info(&mut probe).await;
    let third = c3
        .subscribe(pb::SubscribeRequest { from_sequence: 0 })
        .await;
    assert_refused(
        &mut probe,
        &before,
        third,
        Code::ResourceExhausted,
        "max_subscribers",
    )
    .await;

    // Closing one frees its place (the server notices the cancelled stream).
    drop(s1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut s3 = loop {
        match c3
            .subscribe(pb::SubscribeRequest { from_sequence: 0 })
            .await
        {
            Ok(s) => break s.into_inner(),
            Err(s)
                if s.code() == Code::ResourceExhausted
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!(
                "a closed subscription's place was not freed: {:?}: {}",
                s.code(),
                s.message()
            ),
        }
    };
    assert_eq!(next_entry(&mut s3).await.sequence, 0);
    assert_eq!(
        next_entry(&mut s2).await.sequence,
        1,
        "the other subscriber is unaffected"
    );
}

// ---------------------------------------------------------------------------
// 7. Health and reflection
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_reports_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "coopledger.v1.Ledger"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("Check({service:?}): {s}"))
            .into_inner();
        assert_eq!(
            r.status,
            ServingStatus::Serving as i32,
            "service {service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await;
    assert_eq!(unknown.expect_err("unknown service").code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_ledger_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let ask = |m: MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m),
    };
    let requests = vec![
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            "coopledger.v1.Ledger".into(),
        )),
    ];
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    let names: Vec<String> = match next_answer(&mut answers).await.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("expected a service list, got {other:?}"),
    };
    assert!(
        names.iter().any(|n| n == "coopledger.v1.Ledger"),
        "services: {names:?}"
    );
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "services: {names:?}"
    );

    let files = match next_answer(&mut answers).await.message_response {
        Some(MessageResponse::FileDescriptorResponse(f)) => f.file_descriptor_proto,
        other => panic!("expected file descriptors, got {other:?}"),
    };
    let contains = |needle: &[u8]| {
        files
            .iter()
            .any(|f| f.windows(needle.len()).any(|w| w == needle))
    };
    assert!(
        contains(b"coopledger/v1/ledger.proto"),
        "the descriptor of ledger.proto is served"
    );
    assert!(
        contains(b"SubmitBatch"),
        "the descriptor names the service's methods"
    );
}

async fn next_answer(
    answers: &mut tonic::Streaming<tonic_reflection::pb::v1::ServerReflectionResponse>,
) -> tonic_reflection::pb::v1::ServerReflectionResponse {
    tokio::time::timeout(STEP_TIMEOUT, answers.message())
        .await
        .expect("reflection answer in time")
        .expect("reflection stream")
        .expect("a reflection answer")
}
