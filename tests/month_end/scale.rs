//! A period of 100,000 contributions previews and records.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_of_100_000_contributions_previews_and_records() {
    let (mut coop, _) = month_end_coop().await;
    let members = [coop.alice.clone(), coop.bob.clone(), coop.carol.clone()];
    const N: u64 = 100_000;
    let mut sent = 0;
    while sent < N {
        let envelopes: Vec<pb::Envelope> = (sent..(sent + 1000).min(N))
            .map(|i| {
                let c = contribution(
                    pb::ContributionKind::Expense,
                    100 + i % 900,
                    JAN_2020.0 + 3600 + (i % 86_400) as i64,
                );
                sign(&members[(i % 3) as usize], contribution_body(c))
            })
            .collect();
        sent += envelopes.len() as u64;
        coop.client
            .submit_batch(pb::SubmitBatchRequest { envelopes })
            .await
            .expect("batch");
    }
    // Enough income to repay every claim: the report lists 100,001
    // repayments and travels in several pieces (explanations, which made it
    // hundreds of megabytes, are fetched per member).
    let jan = preview(&mut coop, JAN_2020, Some(100_000_000)).await;
    assert!(
        jan.report_json.len() > 4 << 20,
        "the report is {} bytes",
        jan.report_json.len()
    );
    let report = json(&jan.report_json);
    assert_eq!(
        report["repayments"].as_object().unwrap().len() as u64,
        N + 1
    );
    let receipt = record(&mut coop, &jan, JAN_2020).await;
    let list = distributions(&mut coop).await;
    assert_eq!(list[0].sequence, receipt.sequence);
    assert_eq!(list[0].claims_repaid, N + 1);
    let d = distribution(&mut coop, receipt.sequence).await;
    assert_eq!(payouts(&d), report["payouts"]);
}
