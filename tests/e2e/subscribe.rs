//! Subscribe: the backlog, then new entries in order (never a refused one);
//! from a sequence beyond the log; `max_subscribers` enforced and a closed
//! stream's place freed.

use std::time::Duration;

use coopledger::client::contribution_body;
use coopledger::ledger::Limits;
use coopledger::pb;
use tonic::Code;

use crate::common::*;

pub(crate) async fn next_entry(stream: &mut tonic::Streaming<pb::LoggedEntry>) -> pb::LoggedEntry {
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

    // From the end of the log: waits for what lands next. (Beyond the end
    // is refused: see the test below.)
    let mut ahead = follower
        .subscribe(pb::SubscribeRequest { from_sequence: 9 })
        .await
        .expect("Subscribe")
        .into_inner();
    let more: Vec<_> = (0..3)
        .map(|i| sign(&coop.bob, contribution_body(work(30 + i, JAN_2020.0))))
        .collect();
    submit_batch(&mut coop.client, &more).await;
    let e = next_entry(&mut ahead).await;
    assert_eq!((e.sequence, e.envelope.as_ref()), (9, Some(&more[0])));
    let e = next_entry(&mut ahead).await;
    assert_eq!(e.sequence, 10);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_from_beyond_the_end_is_refused_and_from_the_end_follows() {
    let c = Coop::new().await;
    let mut client = c.server.client().await;
    let size = info(&mut client).await.log_size;
    let refused = client
        .subscribe(pb::SubscribeRequest {
            from_sequence: size + 1,
        })
        .await
        .expect_err("beyond the end");
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    assert!(refused.message().contains("beyond the end"), "{refused:?}");
    // From exactly the end: the next entry to land.
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            from_sequence: size,
        })
        .await
        .unwrap()
        .into_inner();
    let mut writer = c.server.client().await;
    let receipt = submit_new(
        &mut writer,
        &sign(
            &c.carol,
            coopledger::client::contribution_body(work(5, JAN_2020.0)),
        ),
    )
    .await;
    let next = tokio::time::timeout(STEP_TIMEOUT, stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.sequence, receipt.sequence);
}
