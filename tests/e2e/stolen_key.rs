//! A stolen key is not forever: an admin suspends the member (their key
//! stops signing entries and reads, their history stays), resets their key
//! to one made on a new computer (the old key stops at once), and
//! reinstates them. Each step is a signed entry with its rules, and all of
//! it survives a restart.

use coopledger::client::{
    MemberClient, SignedChannel, contribution_body, reinstate_body, reset_key_body, suspend_body,
};
use coopledger::pb;
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_suspends_resets_the_key_and_reinstates_a_member() {
    let mut coop = Coop::new().await;
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());

    // The rules around suspension.
    submit_refused(
        &mut coop.client,
        &sign(&bob, suspend_body("carol", "no reason")),
        Code::PermissionDenied,
        "only admins suspend members",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&alice, suspend_body("carol", "  ")),
        Code::InvalidArgument,
        "suspend_member.reason: must not be empty",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&alice, suspend_body("zed", "who?")),
        Code::NotFound,
        "suspend_member.member",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&alice, suspend_body("alice", "oops")),
        Code::FailedPrecondition,
        "last admin who is not suspended",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&alice, reinstate_body("bob", "")),
        Code::FailedPrecondition,
        "bob is not suspended",
    )
    .await;

    // Bob's laptop is stolen: alice suspends him.
    let suspended = submit_new(
        &mut coop.client,
        &sign(&alice, suspend_body("bob", "laptop stolen on 2026-11-20")),
    )
    .await;
    assert_eq!(
        member(&mut coop.client, "bob").await.suspended_at,
        Some(suspended.sequence)
    );
    submit_refused(
        &mut coop.client,
        &sign(&alice, suspend_body("bob", "again")),
        Code::AlreadyExists,
        "already suspended",
    )
    .await;
    // Whoever holds the key can sign nothing.
    submit_refused(
        &mut coop.client,
        &sign(&bob, contribution_body(work(60, JAN_2020.0))),
        Code::PermissionDenied,
        "bob is suspended",
    )
    .await;

    // Bob makes a key on a new computer; alice resets his key to it.
    let new_key = new_key();
    submit_refused(
        &mut coop.client,
        &sign(
            &carol,
            reset_key_body("bob", &new_key.verifying_key().to_bytes(), "new laptop"),
        ),
        Code::PermissionDenied,
        "only admins reset members' keys",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(
            &alice,
            reset_key_body("bob", &carol.public_key(), "new laptop"),
        ),
        Code::AlreadyExists,
        "reset_key.new_public_key",
    )
    .await;
    submit_new(
        &mut coop.client,
        &sign(
            &alice,
            reset_key_body("bob", &new_key.verifying_key().to_bytes(), "new laptop"),
        ),
    )
    .await;
    let mut new_bob = bob.clone();
    new_bob.key = new_key.clone();
    // Still suspended until reinstated.
    submit_refused(
        &mut coop.client,
        &sign(&new_bob, contribution_body(work(61, JAN_2020.0))),
        Code::PermissionDenied,
        "bob is suspended",
    )
    .await;
    submit_new(
        &mut coop.client,
        &sign(&alice, reinstate_body("bob", "key replaced")),
    )
    .await;
    // The stolen key no longer signs; the new one does.
    submit_refused(
        &mut coop.client,
        &sign(&bob, contribution_body(work(62, JAN_2020.0))),
        Code::Unauthenticated,
        "rotated out",
    )
    .await;
    submit_new(
        &mut coop.client,
        &sign(&new_bob, contribution_body(work(63, JAN_2020.0))),
    )
    .await;
    let shown = member(&mut coop.client, "bob").await;
    assert_eq!(shown.suspended_at, None);
    assert_eq!(
        shown.public_key,
        new_key.verifying_key().to_bytes().to_vec()
    );
    assert_eq!(shown.retired_keys, vec![bob.public_key().to_vec()]);

    // Suspended members read nothing either, and it all survives a restart.
    submit_new(
        &mut coop.client,
        &sign(&alice, suspend_body("carol", "dispute under review")),
    )
    .await;
    coop.server.stop().await;
    let mut config = coop.server.config();
    config.public_read = false;
    let server = coopledger::server::start(config).await.unwrap();
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let network = coop.network.id.clone();
    let mut as_carol = MemberClient::new(SignedChannel::new(
        channel.clone(),
        Some(carol.key.clone()),
        &network,
    ));
    let refused = as_carol
        .list_members(pb::ListMembersRequest {})
        .await
        .expect_err("a suspended member reads nothing");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(
        refused.message().contains("carol is suspended"),
        "{refused:?}"
    );
    let mut as_bob = MemberClient::new(SignedChannel::new(channel, Some(new_key), &network));
    let members = as_bob
        .list_members(pb::ListMembersRequest {})
        .await
        .unwrap()
        .into_inner()
        .members;
    let carol_shown = members.iter().find(|m| m.handle == "carol").unwrap();
    assert!(carol_shown.suspended_at.is_some());
    server.stop().await.unwrap();
}
