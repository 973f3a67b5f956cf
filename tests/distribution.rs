//! Two months of a cooperative through the real server: members log, peers
//! review and allocate, the treasurer previews and records; recorded payouts
//! equal `coopledger score` on the exported scenario; a half-repaid expense
//! is repaid only for the rest in month two; and the refusals of a doctored
//! or repeated or unauthorised record, or of a late entry into a closed
//! period, each with its code and the log unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use common::{
    Coop, FEB_2020, JAN_2020, adopt_body, contribution, grant_body, json, run_cli, sign,
    submit_new, submit_refused, work,
};
use coopledger::client::{FetchedPreview, contribution_body};
use coopledger::pb::{self, entry::Body};
use serde_json::Value;
use tonic::Code;

const POLICY: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[
  {"type":"fixed","percent_ppm":0,"recipient":"commons"},
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

async fn preview(coop: &mut Coop, period: (i64, i64), income: u64) -> FetchedPreview {
    common::preview(&mut coop.client, period, Some(income)).await
}

/// Scores the exported scenario offline with the CLI and returns its payouts.
async fn score_offline(home: &std::path::Path, url: &str, period: &str, income: &str) -> Value {
    let file = home.join(format!("{period}.json"));
    let out = run_cli(
        home,
        url,
        &[
            "export",
            "--scenario",
            file.to_str().unwrap(),
            "--period",
            period,
            "--income",
            income,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        home,
        url,
        &["score", "--scenario", file.to_str().unwrap(), "--json"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8_lossy(&out.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_of_distributions_carry_debts_and_refuse_what_would_doctor_them() {
    let home = tempfile::tempdir().unwrap();
    let mut coop = Coop::new().await;
    let url = coop.server.url();
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Treasurer)),
    )
    .await;
    submit_new(&mut coop.client, &sign(&alice, adopt_body(POLICY))).await;

    // January: an expense of 200.00 and work, reviewed and allocated.
    let expense = sign(
        &carol,
        contribution_body(contribution(
            pb::ContributionKind::Expense,
            20_000,
            JAN_2020.0 + 4 * 86_400,
        )),
    );
    let expense_id = submit_new(&mut coop.client, &expense).await.id;
    let a_work = submit_new(
        &mut coop.client,
        &sign(
            &alice,
            contribution_body(work(120, JAN_2020.0 + 9 * 86_400)),
        ),
    )
    .await
    .id;
    let eval = |id: &[u8]| {
        coopledger::client::evaluate_body(&common::entry_id(id), pb::Verdict::Approve, Some(90), "")
    };
    submit_new(&mut coop.client, &sign(&bob, eval(&expense_id))).await;
    submit_new(&mut coop.client, &sign(&bob, eval(&a_work))).await;
    let alloc =
        coopledger::client::allocate_body(JAN_2020.0, JAN_2020.1, &[("bob", 50), ("carol", 50)]);
    submit_new(&mut coop.client, &sign(&alice, alloc)).await;

    // Month one's income (100.00) repays half the expense.
    let jan = preview(&mut coop, JAN_2020, 10_000).await;
    let report = json(&jan.report_json);
    assert_eq!(report["repayments"][hex::encode(&expense_id)], 10_000);
    assert_eq!(report["payouts"]["carol"], 10_000);
    let offline = score_offline(home.path(), &url, "2020-01", "100.00").await;
    assert_eq!(
        offline["payouts"], report["payouts"],
        "the exported scenario scores to the same cents"
    );
    assert_eq!(offline["reserve"], report["reserve"]);

    let record = jan
        .record_to_sign(JAN_2020, 10_000)
        .expect("a record to sign");
    // A non-treasurer cannot record it.
    submit_refused(
        &mut coop.client,
        &sign(&alice, Body::RecordDistribution(record.clone())),
        Code::PermissionDenied,
        "only treasurers",
    )
    .await;
    // A doctored digest is refused, saying what the rules give.
    let mut doctored = record.clone();
    doctored.digest[0] ^= 1;
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(doctored)),
        Code::FailedPrecondition,
        "digest",
    )
    .await;
    // A doctored income with the genuine digest is refused too.
    let mut doctored = record.clone();
    doctored.income = Some(10_001);
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(doctored)),
        Code::FailedPrecondition,
        "digest",
    )
    .await;
    // The genuine record lands.
    submit_new(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(record.clone())),
    )
    .await;
    // The same period cannot be distributed twice.
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(record.clone())),
        Code::AlreadyExists,
        "overlaps",
    )
    .await;
    // January is closed: a late contribution, an evaluation of a January
    // contribution and an allocation for January are refused.
    let late = sign(
        &alice,
        contribution_body(work(60, JAN_2020.0 + 20 * 86_400)),
    );
    submit_refused(
        &mut coop.client,
        &late,
        Code::FailedPrecondition,
        "already distributed",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&carol, eval(&a_work)),
        Code::FailedPrecondition,
        "already distributed",
    )
    .await;
    let alloc = coopledger::client::allocate_body(JAN_2020.0, JAN_2020.1, &[("alice", 100)]);
    submit_refused(
        &mut coop.client,
        &sign(&bob, alloc),
        Code::FailedPrecondition,
        "already distributed",
    )
    .await;

    // February: more work; 500.00 repays only the other half of the expense.
    let b_work = submit_new(
        &mut coop.client,
        &sign(&bob, contribution_body(work(90, FEB_2020.0 + 3 * 86_400))),
    )
    .await
    .id;
    submit_new(&mut coop.client, &sign(&alice, eval(&b_work))).await;
    let feb = preview(&mut coop, FEB_2020, 50_000).await;
    let report = json(&feb.report_json);
    assert_eq!(
        report["buckets"][1]["paid"]["carol"], 10_000,
        "only the rest of the expense: {report}"
    );
    assert_eq!(report["repayments"][hex::encode(&expense_id)], 10_000);
    assert_eq!(report["payouts"]["bob"], 40_000);
    let offline = score_offline(home.path(), &url, "2020-02", "500.00").await;
    assert_eq!(offline["payouts"], report["payouts"]);

    // A preview the log has moved past is refused: preview again.
    let stale = feb.record_to_sign(FEB_2020, 50_000).unwrap();
    submit_new(
        &mut coop.client,
        &sign(&carol, contribution_body(work(30, FEB_2020.0 + 5 * 86_400))),
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(stale)),
        Code::FailedPrecondition,
        "the log moved",
    )
    .await;
    let feb = preview(&mut coop, FEB_2020, 50_000).await;
    submit_new(
        &mut coop.client,
        &sign(
            &bob,
            Body::RecordDistribution(feb.record_to_sign(FEB_2020, 50_000).unwrap()),
        ),
    )
    .await;

    // The member's audit recomputes both recorded distributions.
    let out = run_cli(home.path(), &url, &["verify"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("2 recorded distributions"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
