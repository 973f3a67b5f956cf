//! The scenario most read and restart tests share: a log holding every
//! entry type at known sequence numbers ([`Scenario`]), the members it
//! leaves, and the kind of a logged entry.

use coopledger::client::{
    LedgerClient, Signer, allocate_body, attest_body, contribution_body, evaluate_body,
};
use coopledger::pb::{self, entry::Body};
use prost::Message;
use tonic::Code;

use crate::common::*;

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
/// |  8  | bob logs 90 min of work, Jan 2020 (non-canonical,  |
/// |     | stored under the old rules: see below)             |
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
/// | 19  | dave (admin) attests 45 min of carol's work, Feb   |
/// |     | 2020, from a spreadsheet (`coopledger import`)     |
///
/// Entry 8's payload is not in canonical protobuf form (its header fields
/// follow its body). `Submit` refuses that now, so the scenario checks the
/// refusal and then stores the entry as a server did before the rule
/// ([`TestServer::store_under_old_rules`]): every test built on the
/// scenario also proves that a log holding such an entry stays readable,
/// byte for byte, across restarts and snapshots.
pub(crate) struct Scenario {
    pub(crate) network: Network,
    pub(crate) bob: Signer,
    pub(crate) bob_old: Signer,
    pub(crate) carol: Signer,
    /// The envelopes as submitted, indexed by sequence number.
    pub(crate) envelopes: Vec<pb::Envelope>,
    /// Their receipts, indexed by sequence number.
    pub(crate) receipts: Vec<pb::Receipt>,
}

pub(crate) const SCENARIO_SIZE: u64 = 20;

/// One step of the scenario: builds the next envelope from those before it.
type Step<'a> = Box<dyn Fn(&[pb::Envelope]) -> pb::Envelope + 'a>;

impl Scenario {
    pub(crate) async fn build(server: &TestServer, client: &mut LedgerClient) -> Scenario {
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
        // the entry would change these bytes; one that reads old logs must
        // serve them as signed.
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
            Box::new(|_| {
                let body = attest_body("carol", work(45, feb + 300), "history.csv row 2");
                sign(&dave, body)
            }),
        ];
        for step in &steps {
            let envelope = step(&envelopes);
            let expected = envelopes.len() as u64;
            let receipt = if expected == 8 {
                submit_refused(
                    client,
                    &envelope,
                    Code::InvalidArgument,
                    "fields out of order in entry",
                )
                .await;
                server.store_under_old_rules(&envelope).await
            } else {
                submit_new(client, &envelope).await
            };
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
pub(crate) fn scenario_members(s: &Scenario) -> Vec<pb::Member> {
    let key = |e: &pb::Envelope| e.public_key.clone();
    vec![
        pb::Member {
            handle: "alice".into(),
            public_key: s.network.founders[0].public_key().to_vec(),
            roles: vec![pb::Role::Admin as i32],
            admitted_at: 0,
            retired_keys: vec![],
            contributions: 0,
            suspended_at: None,
        },
        pb::Member {
            handle: "bob".into(),
            public_key: s.bob.public_key().to_vec(),
            roles: vec![],
            admitted_at: 1,
            retired_keys: vec![s.bob_old.public_key().to_vec()],
            // #8 stands (amended), #9 was retracted.
            contributions: 1,
            suspended_at: None,
        },
        pb::Member {
            handle: "carol".into(),
            public_key: key(&s.envelopes[10]),
            roles: vec![pb::Role::Treasurer as i32],
            admitted_at: 2,
            retired_keys: vec![],
            // Two logged, one attested by dave.
            contributions: 3,
            suspended_at: None,
        },
        pb::Member {
            handle: "dave".into(),
            public_key: s.network.founders[1].public_key().to_vec(),
            roles: vec![pb::Role::Admin as i32],
            admitted_at: 0,
            retired_keys: vec![],
            contributions: 1,
            suspended_at: None,
        },
    ]
}

pub(crate) fn kind_of(e: &pb::LoggedEntry) -> pb::EntryKind {
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
        Some(Body::SuspendMember(_)) => pb::EntryKind::SuspendMember,
        Some(Body::ReinstateMember(_)) => pb::EntryKind::ReinstateMember,
        Some(Body::ResetKey(_)) => pb::EntryKind::ResetKey,
        Some(Body::AttestContribution(_)) => pb::EntryKind::AttestContribution,
        None => pb::EntryKind::Unspecified,
    }
}
