//! Attested contributions (`AttestContribution`, what `coopledger import`
//! writes): only admins sign them, for a member who exists and is not
//! suspended, with the same checks as a member's own contribution; the
//! named member counts as the author for reviews and may retract it; the
//! attesting admin may amend or retract it (and not evaluate it); other
//! members dispute it by flagging it.
//!
//! To add a refusal built from [`Attested`] (alice attested bob's work at
//! sequence 4), add a row to [`ATTEST_REFUSALS`].

use coopledger::client::{attest_body, evaluate_body, suspend_body};
use coopledger::pb;
use tonic::Code;

use crate::common::*;

/// [`Coop`] plus one contribution of bob's that alice (the admin)
/// attested on his behalf, at sequence 4.
struct Attested {
    coop: Coop,
    attested: pb::Envelope,
}

impl Attested {
    async fn new() -> Attested {
        let mut coop = Coop::new().await;
        let attested = sign(
            &coop.alice,
            attest_body("bob", work(120, JAN_2020.0 + 7200), "history.csv row 2"),
        );
        let r = submit_new(&mut coop.client, &attested).await;
        assert_eq!(r.sequence, 4);
        Attested { coop, attested }
    }

    fn id(&self) -> Vec<u8> {
        id_of(&self.attested)
    }
}

impl Fixture for Attested {
    fn server(&self) -> &TestServer {
        &self.coop.server
    }
}

fn attest(by: &coopledger::client::Signer, member: &str, c: pb::Contribution) -> pb::Envelope {
    sign(by, attest_body(member, c, "history.csv row 9"))
}

const ATTEST_REFUSALS: &[RefusalCase<Attested>] = &[
    RefusalCase {
        name: "carol, not an admin, attests bob's work",
        build: |a| attest(&a.coop.carol, "bob", work(30, JAN_2020.0)),
        code: Code::PermissionDenied,
        message: "carol is not an admin; only admins attest contributions",
    },
    RefusalCase {
        name: "alice attests work of zed, not a member",
        build: |a| attest(&a.coop.alice, "zed", work(30, JAN_2020.0)),
        code: Code::NotFound,
        message: "attest_contribution.member: \"zed\" is not a member",
    },
    RefusalCase {
        name: "an attestation without a source",
        build: |a| sign(&a.coop.alice, attest_body("bob", work(30, JAN_2020.0), " ")),
        code: Code::InvalidArgument,
        message: "attest_contribution.source: must not be empty",
    },
    RefusalCase {
        name: "an attested contribution over the work limit",
        build: |a| attest(&a.coop.alice, "bob", work(u64::MAX, JAN_2020.0)),
        code: Code::InvalidArgument,
        message: "attest_contribution.contribution.quantity",
    },
    RefusalCase {
        name: "an attested contribution in the future",
        build: |a| attest(&a.coop.alice, "bob", work(30, now_ms() / 1000 + 86_400)),
        code: Code::InvalidArgument,
        message: "attest_contribution.contribution.at",
    },
    RefusalCase {
        name: "bob evaluates the work attested for him",
        build: |a| {
            let id = entry_id(&a.id());
            sign(
                &a.coop.bob,
                evaluate_body(&id, pb::Verdict::Approve, None, ""),
            )
        },
        code: Code::PermissionDenied,
        message: "cannot evaluate their own contribution",
    },
    RefusalCase {
        name: "alice evaluates the work she attested",
        build: |a| {
            let id = entry_id(&a.id());
            sign(
                &a.coop.alice,
                evaluate_body(&id, pb::Verdict::Approve, None, ""),
            )
        },
        code: Code::PermissionDenied,
        message: "alice attested contribution",
    },
    RefusalCase {
        name: "bob amends the work attested for him",
        build: |a| sign(&a.coop.bob, amend_body(&a.id(), work(10, JAN_2020.0))),
        code: Code::PermissionDenied,
        message: "attested by alice on bob's behalf: only alice can amend it",
    },
    RefusalCase {
        name: "carol retracts the work attested for bob",
        build: |a| sign(&a.coop.carol, retract_body(&a.id(), "not mine either")),
        code: Code::PermissionDenied,
        message: "only bob or alice can retract it",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_attestations_by_the_rules() {
    let mut a = Attested::new().await;
    refuse_all(&a, ATTEST_REFUSALS).await;

    // The near misses land: carol flags it (a member disputes it), alice
    // amends what she attested; it is bob's contribution in the state.
    let id = entry_id(&a.id());
    let flag = evaluate_body(&id, pb::Verdict::Flag, None, "I was there; it was 1h");
    submit_new(&mut a.coop.client, &sign(&a.coop.carol, flag)).await;
    assert_eq!(member(&mut a.coop.client, "bob").await.contributions, 2);
    assert_eq!(member(&mut a.coop.client, "alice").await.contributions, 0);
    let amend = amend_body(&a.id(), work(60, JAN_2020.0 + 7200));
    submit_new(&mut a.coop.client, &sign(&a.coop.alice, amend)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_named_can_disown_an_attestation() {
    let mut a = Attested::new().await;
    let retract = retract_body(&a.id(), "I did not do this");
    submit_new(&mut a.coop.client, &sign(&a.coop.bob, retract)).await;
    // Bob's own work is what he has left; the admin's count never moved.
    assert_eq!(member(&mut a.coop.client, "bob").await.contributions, 1);
    assert_eq!(member(&mut a.coop.client, "alice").await.contributions, 0);

    // The attesting admin may retract one too, and it is the member's
    // count that drops.
    let other = attest(&a.coop.alice, "carol", work(45, JAN_2020.0));
    submit_new(&mut a.coop.client, &other).await;
    assert_eq!(member(&mut a.coop.client, "carol").await.contributions, 1);
    let retract = retract_body(&id_of(&other), "wrong member");
    submit_new(&mut a.coop.client, &sign(&a.coop.alice, retract)).await;
    assert_eq!(member(&mut a.coop.client, "carol").await.contributions, 0);
    assert_eq!(member(&mut a.coop.client, "alice").await.contributions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_attested_for_a_suspended_member() {
    let mut a = Attested::new().await;
    let suspend = suspend_body("carol", "lost laptop");
    submit_new(&mut a.coop.client, &sign(&a.coop.alice, suspend)).await;
    let e = attest(&a.coop.alice, "carol", work(30, JAN_2020.0));
    a.coop
        .refuse(&e, Code::FailedPrecondition, "carol is suspended")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_see_an_attestation_as_about_the_member() {
    let mut a = Attested::new().await;
    let about_bob = list(
        &mut a.coop.client,
        pb::ListEntriesRequest {
            member: "bob".into(),
            kinds: vec![pb::EntryKind::AttestContribution as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(about_bob.len(), 1);
    assert_eq!(about_bob[0].id, a.id());
    let about_carol = list(
        &mut a.coop.client,
        pb::ListEntriesRequest {
            member: "carol".into(),
            kinds: vec![pb::EntryKind::AttestContribution as i32],
            ..Default::default()
        },
    )
    .await;
    assert!(about_carol.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_attested_into_a_distributed_period() {
    let mut a = Attested::new().await;
    let c = &mut a.coop;
    submit_new(&mut c.client, &sign(&c.alice, adopt_body(POLICY_JSON))).await;
    let grant = grant_body("alice", pb::Role::Treasurer);
    submit_new(&mut c.client, &sign(&c.alice, grant)).await;
    let jan = preview(&mut c.client, JAN_2020, Some(10_000)).await;
    let record = jan.record_to_sign(JAN_2020, 10_000).unwrap();
    submit_new(&mut c.client, &sign(&c.alice, distribution_body(record))).await;

    // The same rule as a member's own contribution: closed is closed.
    let late = attest(&c.alice, "bob", work(30, JAN_2020.0 + 86_400));
    c.refuse(
        &late,
        Code::FailedPrecondition,
        "attest_contribution.contribution.at: 2020-01-02T00:00:00Z falls in a period already distributed",
    )
    .await;
    // Nor may the admin who attested one in it change it any more.
    let amend = amend_body(&id_of(&a.attested), work(30, FEB_2020.0));
    c.refuse(
        &sign(&c.alice, amend),
        Code::FailedPrecondition,
        "already distributed",
    )
    .await;
    // February is open.
    submit_new(
        &mut c.client,
        &attest(&c.alice, "bob", work(30, FEB_2020.0)),
    )
    .await;
}
