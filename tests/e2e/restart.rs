//! Restart: a server started again on the same folder serves the same log
//! and state and keeps accepting; stopping ends open subscriptions; lower
//! limits after a restart keep the old log readable.

use coopledger::client::{contribution_body, evaluate_body};
use coopledger::ledger::Limits;
use coopledger::pb;
use tonic::Code;

use crate::common::*;
use crate::scenario::{SCENARIO_SIZE, Scenario, scenario_members};
use crate::subscribe::next_entry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_same_log_and_state_and_keeps_accepting() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&server, &mut client).await;
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

    // Idempotency survives the restart; rules too. Entry 8 was stored
    // under the old rules: resubmitting it is a duplicate (its first
    // receipt), not a canonical-form refusal.
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

    // The log holds entry 8, stored before payloads had to be canonical: a
    // member's audit over the server and an audit of the stopped folder
    // both read it as it was signed.
    let home = tempfile::tempdir().expect("a CLI home");
    let out = run_cli(home.path(), &server.url(), &["verify"]).await;
    assert!(
        out.status.success(),
        "verify over the server: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
    let data = server
        .data_dir()
        .to_str()
        .expect("a UTF-8 path")
        .to_string();
    let out = run_cli(
        home.path(),
        "http://127.0.0.1:1",
        &["verify", "--data", &data],
    )
    .await;
    assert!(
        out.status.success(),
        "verify --data: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
