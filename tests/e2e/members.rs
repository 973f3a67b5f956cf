//! Members: what ListMembers and GetMember show after roles and key
//! rotations, and the refusals of membership entries: admin actions by a
//! non-admin, taken handles and keys, weak keys, bad handle syntax, a
//! rotated-out key, and roles granted twice, revoked when not held, or the
//! last admin's.
//!
//! To add a refusal of a membership entry built from [`Coop`], add a row to
//! [`MEMBER_REFUSALS`].

use coopledger::client::{allocate_body, contribution_body};
use coopledger::pb;
use tonic::Code;

use crate::common::*;
use crate::scenario::{Scenario, scenario_members};

/// Small-order ed25519 points (the identity and the point of order 2),
/// which `verify_strict` users must refuse as member keys.
pub(crate) fn weak_keys() -> Vec<[u8; 32]> {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    vec![identity, order_two]
}

/// A fresh valid public key.
fn fresh_key() -> [u8; 32] {
    new_key().verifying_key().to_bytes()
}

/// Alice admits `handle` with a fresh key.
fn admit_handle(c: &Coop, handle: &str) -> pb::Envelope {
    sign(&c.alice, admit_body(handle, &fresh_key()))
}

const MEMBER_REFUSALS: &[RefusalCase<Coop>] = &[
    // Admin actions by bob, who is not an admin.
    RefusalCase {
        name: "bob admits dave",
        build: |c| sign(&c.bob, admit_body("dave", &fresh_key())),
        code: Code::PermissionDenied,
        message: "not an admin",
    },
    RefusalCase {
        name: "bob grants himself admin",
        build: |c| sign(&c.bob, grant_body("bob", pb::Role::Admin)),
        code: Code::PermissionDenied,
        message: "not an admin",
    },
    RefusalCase {
        name: "bob grants carol treasurer",
        build: |c| sign(&c.bob, grant_body("carol", pb::Role::Treasurer)),
        code: Code::PermissionDenied,
        message: "not an admin",
    },
    RefusalCase {
        name: "bob revokes alice's admin",
        build: |c| sign(&c.bob, revoke_body("alice", pb::Role::Admin)),
        code: Code::PermissionDenied,
        message: "not an admin",
    },
    RefusalCase {
        name: "bob adopts a policy",
        build: |c| sign(&c.bob, adopt_body(POLICY_JSON)),
        code: Code::PermissionDenied,
        message: "not an admin",
    },
    // Taken handles and keys.
    RefusalCase {
        name: "admit bob again",
        build: |c| admit_handle(c, "bob"),
        code: Code::AlreadyExists,
        message: "already a member",
    },
    RefusalCase {
        name: "admit alice again",
        build: |c| admit_handle(c, "alice"),
        code: Code::AlreadyExists,
        message: "already a member",
    },
    RefusalCase {
        name: "admit dave with bob's key (a key serves one member)",
        build: |c| sign(&c.alice, admit_body("dave", &c.bob.public_key())),
        code: Code::AlreadyExists,
        message: "already belongs",
    },
    // Weak and short keys.
    RefusalCase {
        name: "admit with the identity point",
        build: |c| sign(&c.alice, admit_body("dave", &weak_keys()[0])),
        code: Code::InvalidArgument,
        message: "admit_member.public_key",
    },
    RefusalCase {
        name: "admit with the point of order 2",
        build: |c| sign(&c.alice, admit_body("dave", &weak_keys()[1])),
        code: Code::InvalidArgument,
        message: "admit_member.public_key",
    },
    RefusalCase {
        name: "rotate to the identity point",
        build: |c| sign(&c.bob, rotate_body(&weak_keys()[0])),
        code: Code::InvalidArgument,
        message: "rotate_key.new_public_key",
    },
    RefusalCase {
        name: "rotate to the point of order 2",
        build: |c| sign(&c.bob, rotate_body(&weak_keys()[1])),
        code: Code::InvalidArgument,
        message: "rotate_key.new_public_key",
    },
    RefusalCase {
        name: "a weak key is called weak",
        build: |c| sign(&c.alice, admit_body("dave", &weak_keys()[0])),
        code: Code::InvalidArgument,
        message: "weak",
    },
    RefusalCase {
        name: "admit with a 31-byte key",
        build: |c| sign(&c.alice, admit_body("dave", &[7u8; 31])),
        code: Code::InvalidArgument,
        message: "32-byte",
    },
    // Handle syntax.
    RefusalCase {
        name: "handle with a capital",
        build: |c| admit_handle(c, "Bob"),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "handle starting with a dash",
        build: |c| admit_handle(c, "-bob"),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "handle with a space",
        build: |c| admit_handle(c, "bo b"),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "empty handle",
        build: |c| admit_handle(c, ""),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "handle with punctuation",
        build: |c| admit_handle(c, "bob!"),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "handle with a non-ASCII letter",
        build: |c| admit_handle(c, "ève"),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "handle of 65 bytes",
        build: |c| admit_handle(c, &"a".repeat(65)),
        code: Code::InvalidArgument,
        message: "admit_member.handle",
    },
    RefusalCase {
        name: "allocating to a capitalised handle",
        build: |c| {
            sign(
                &c.bob,
                allocate_body(JAN_2020.0, JAN_2020.1, &[("Carol", 100)]),
            )
        },
        code: Code::InvalidArgument,
        message: "allocate.shares[0].member",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_membership_entries() {
    let mut coop = Coop::new().await;
    refuse_all(&coop, MEMBER_REFUSALS).await;
    assert_eq!(members(&mut coop.client).await.len(), 3);

    // A treasurer is not an admin either.
    let alice = coop.alice.clone();
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("carol", pb::Role::Treasurer)),
    )
    .await;
    let e = sign(&coop.carol, admit_body("dave", &fresh_key()));
    coop.refuse(&e, Code::PermissionDenied, "not an admin")
        .await;
    assert!(member(&mut coop.client, "bob").await.roles.is_empty());
    assert_eq!(
        member(&mut coop.client, "carol").await.roles,
        vec![pb::Role::Treasurer as i32]
    );

    // The longest valid handle is accepted.
    let edge = format!("d{}", "a".repeat(63));
    let (_, r) = admit(&mut coop.client, &coop.alice, &edge).await;
    assert_eq!(
        member(&mut coop.client, &edge).await.admitted_at,
        r.sequence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_reflect_roles_and_rotated_keys() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&server, &mut client).await;
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
