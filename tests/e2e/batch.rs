//! SubmitBatch: all or nothing. A batch with one bad envelope (at
//! verification or at the rules, depending on earlier entries of the same
//! batch) is refused whole, naming the envelope, and nothing of it sticks;
//! duplicates inside a batch return the first receipt.

use coopledger::client::{allocate_body, contribution_body, evaluate_body};
use coopledger::pb;
use tonic::Code;

use crate::common::*;

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
