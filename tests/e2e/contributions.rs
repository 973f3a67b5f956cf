//! Refusals of contribution, evaluation and allocation entries: acting on
//! another member's contribution, evaluating one's own, allocating to
//! oneself, references to what does not exist, allocations not summing to
//! 100, ratings over 100, and acting on a retracted contribution. Each row
//! is followed by proof that the near miss lands.
//!
//! To add a refusal built from [`Coop`] (bob's work is at sequence 3), add
//! a row to [`CONTRIBUTION_REFUSALS`].

use coopledger::client::{allocate_body, evaluate_body};
use coopledger::pb;
use tonic::Code;

use crate::common::*;

/// The id of bob's work, as an [`coopledger::verify::EntryId`].
fn bob_work(c: &Coop) -> coopledger::verify::EntryId {
    entry_id(&c.bob_work_id())
}

/// `who` allocates January 2020 with `shares`.
fn allocate(who: &coopledger::client::Signer, shares: &[(&str, u32)]) -> pb::Envelope {
    sign(who, allocate_body(JAN_2020.0, JAN_2020.1, shares))
}

const CONTRIBUTION_REFUSALS: &[RefusalCase<Coop>] = &[
    // Another member's contribution.
    RefusalCase {
        name: "carol amends bob's work",
        build: |c| sign(&c.carol, amend_body(&c.bob_work_id(), work(10, JAN_2020.0))),
        code: Code::PermissionDenied,
        message: "only bob can amend",
    },
    RefusalCase {
        name: "carol retracts bob's work",
        build: |c| sign(&c.carol, retract_body(&c.bob_work_id(), "not yours")),
        code: Code::PermissionDenied,
        message: "only bob can retract",
    },
    RefusalCase {
        name: "alice, an admin, retracts bob's work",
        build: |c| sign(&c.alice, retract_body(&c.bob_work_id(), "admin says no")),
        code: Code::PermissionDenied,
        message: "only bob can retract",
    },
    // Oneself.
    RefusalCase {
        name: "bob evaluates his own work",
        build: |c| {
            let body = evaluate_body(
                &bob_work(c),
                pb::Verdict::Approve,
                Some(100),
                "great, if I say so",
            );
            sign(&c.bob, body)
        },
        code: Code::PermissionDenied,
        message: "own contribution",
    },
    RefusalCase {
        name: "bob allocates half to himself",
        build: |c| allocate(&c.bob, &[("carol", 50), ("bob", 50)]),
        code: Code::PermissionDenied,
        message: "allocate to themselves",
    },
    RefusalCase {
        name: "bob allocates all to himself",
        build: |c| allocate(&c.bob, &[("bob", 100)]),
        code: Code::PermissionDenied,
        message: "allocate to themselves",
    },
    // What does not exist.
    RefusalCase {
        name: "evaluate an unknown id",
        build: |c| {
            let body = evaluate_body(&entry_id(&[9u8; 32]), pb::Verdict::Approve, None, "");
            sign(&c.carol, body)
        },
        code: Code::NotFound,
        message: "no contribution",
    },
    RefusalCase {
        name: "evaluate genesis, an entry that is not a contribution",
        build: |c| {
            let body = evaluate_body(&entry_id(&c.network.id), pb::Verdict::Flag, None, "");
            sign(&c.carol, body)
        },
        code: Code::NotFound,
        message: "no contribution",
    },
    RefusalCase {
        name: "amend an unknown id",
        build: |c| sign(&c.bob, amend_body(&[9u8; 32], work(5, JAN_2020.0))),
        code: Code::NotFound,
        message: "no contribution",
    },
    RefusalCase {
        name: "allocate to zed, not a member",
        build: |c| allocate(&c.bob, &[("carol", 50), ("zed", 50)]),
        code: Code::NotFound,
        message: "zed",
    },
    RefusalCase {
        name: "grant a role to zed, not a member",
        build: |c| sign(&c.alice, grant_body("zed", pb::Role::Treasurer)),
        code: Code::NotFound,
        message: "zed",
    },
    // Allocations that do not sum to 100.
    RefusalCase {
        name: "shares summing to 90",
        build: |c| allocate(&c.alice, &[("bob", 60), ("carol", 30)]),
        code: Code::InvalidArgument,
        message: "sum to 100",
    },
    RefusalCase {
        name: "shares summing to 110",
        build: |c| allocate(&c.alice, &[("bob", 60), ("carol", 50)]),
        code: Code::InvalidArgument,
        message: "sum to 100",
    },
    RefusalCase {
        name: "no shares",
        build: |c| allocate(&c.alice, &[]),
        code: Code::InvalidArgument,
        message: "sum to 100",
    },
    RefusalCase {
        name: "a period that ends before it starts",
        build: |c| {
            sign(
                &c.alice,
                allocate_body(JAN_2020.1, JAN_2020.0, &[("bob", 100)]),
            )
        },
        code: Code::InvalidArgument,
        message: "allocate.period",
    },
    // Ratings.
    RefusalCase {
        name: "a rating of 101",
        build: |c| {
            let body = evaluate_body(&bob_work(c), pb::Verdict::Approve, Some(101), "");
            sign(&c.carol, body)
        },
        code: Code::InvalidArgument,
        message: "evaluate.rating",
    },
    RefusalCase {
        name: "a rating of u32::MAX",
        build: |c| {
            let body = evaluate_body(&bob_work(c), pb::Verdict::Flag, Some(u32::MAX), "");
            sign(&c.carol, body)
        },
        code: Code::InvalidArgument,
        message: "evaluate.rating",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_contribution_evaluation_and_allocation_entries() {
    let mut coop = Coop::new().await;
    refuse_all(&coop, CONTRIBUTION_REFUSALS).await;

    // The near misses land: the contributor amends; another member
    // evaluates (rating 90, then the largest, 100); allocations to others
    // summing to 100.
    let id = coop.bob_work_id();
    let e = sign(&coop.bob, amend_body(&id, work(75, JAN_2020.0 + 60)));
    submit_new(&mut coop.client, &e).await;
    for rating in [90, 100] {
        let body = evaluate_body(&bob_work(&coop), pb::Verdict::Approve, Some(rating), "");
        submit_new(&mut coop.client, &sign(&coop.carol, body)).await;
    }
    let e = allocate(&coop.bob, &[("carol", 50), ("alice", 50)]);
    submit_new(&mut coop.client, &e).await;
    let e = allocate(&coop.alice, &[("bob", 60), ("carol", 40)]);
    submit_new(&mut coop.client, &e).await;
}

const RETRACTED_REFUSALS: &[RefusalCase<Coop>] = &[
    RefusalCase {
        name: "evaluate a retracted contribution",
        build: |c| {
            let body = evaluate_body(&bob_work(c), pb::Verdict::Approve, Some(50), "");
            sign(&c.carol, body)
        },
        code: Code::FailedPrecondition,
        message: "retracted",
    },
    RefusalCase {
        name: "amend a retracted contribution",
        build: |c| sign(&c.bob, amend_body(&c.bob_work_id(), work(10, JAN_2020.0))),
        code: Code::FailedPrecondition,
        message: "retracted",
    },
    RefusalCase {
        name: "retract a retracted contribution",
        build: |c| sign(&c.bob, retract_body(&c.bob_work_id(), "again")),
        code: Code::FailedPrecondition,
        message: "retracted",
    },
];

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
    refuse_all(&coop, RETRACTED_REFUSALS).await;
}
