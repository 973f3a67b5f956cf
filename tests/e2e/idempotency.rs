//! Resubmission is idempotent: the same envelope again (alone, after a key
//! rotation, after the clock window, or from 8 clients at once) returns the
//! first receipt and writes nothing.

use coopledger::client::contribution_body;
use coopledger::ledger::Limits;
use tonic::Code;

use crate::common::*;

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
    // The server's clock moves 2.5 s on: the envelope is now outside the
    // 1.5 s window.
    coop.server.advance_clock(2500);
    let again = submit(&mut coop.client, &e).await;
    assert!(again.duplicate, "{again:?}");
    assert_eq!((again.sequence, again.id), (first.sequence, first.id));
    // While a new entry with that old created_at is refused.
    let stale = coop
        .bob
        .sign_at(contribution_body(work(5, JAN_2020.0)), now_ms())
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
