//! The collusion signals (SCORING.md §6.1) through a real server on
//! 127.0.0.1:0 (members-only reads) and the real CLI binary: two members
//! who rate each other 100 while the third rates them 40 show up in
//! `shares` as a reciprocal-ratings line with its evidence, in the
//! preview's JSON unchanged, and in `explain` of either of them — and the
//! payouts and digest are what they would be without the signal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use coopledger::server::RunningServer;
use serde_json::json;

/// Work at 30.00 EUR an hour, one approval needed, all to work points.
const POLICY: &str = r#"{"default_rates":{"work":3000},
  "validation":{"min_approvals":1},"mode":"remaining","buckets":[
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

use common::Cli;

impl Cli {
    /// `who` logs two hours of work on `day` of March 2020; returns its id.
    async fn work(&self, who: &str, day: &str) -> String {
        let at = format!("2020-03-{day}");
        let v = self
            .json(who, &["log", "work", "2h", "--at", &at, "--note", "work"])
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    async fn rate(&self, who: &str, id: &str, rating: u32) {
        let rating = rating.to_string();
        self.ok(
            who,
            &["evaluate", &id[..12], "--approve", "--rating", &rating],
        )
        .await;
    }
}

/// ana (admin), ben (treasurer) and cai, under [`POLICY`].
async fn coop() -> (RunningServer, tempfile::TempDir, Cli) {
    common::riverside(POLICY).await
}

const LINE: &str = "signal: ana and ben rate each other well above what others give them: ana gave ben 1 rating of 100, ben gave ana 1 rating of 100; others rate ana 40 (1 rating), ben 40 (1 rating) — informational, it changes no payout; the rated work: `coopledger entries --member ana --period 2020-03` and `coopledger entries --member ben --period 2020-03`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_and_explain_show_a_reciprocal_rating_pair() {
    let (_srv, _data, cli) = coop().await;
    let ana_work = cli.work("ana", "05").await;
    let ben_work = cli.work("ben", "06").await;
    cli.rate("ben", &ana_work, 100).await;
    cli.rate("ana", &ben_work, 100).await;
    cli.rate("cai", &ana_work, 40).await;
    cli.rate("cai", &ben_work, 40).await;

    let args = ["shares", "--period", "2020-03", "--income", "100.00"];
    let text = cli.ok("ben", &args).await;
    assert!(text.contains(LINE), "expected the signal line in:\n{text}");
    assert_eq!(text.matches("signal:").count(), 1, "{text}");

    // --json passes the report's signals through unchanged.
    let report = cli.json("ben", &args).await;
    assert_eq!(
        report["signals"],
        json!([{"kind": "reciprocal_ratings", "members": ["ana", "ben"], "detail": {
            "a_rates_b_sum": 100, "a_rates_b_count": 1,
            "b_rates_a_sum": 100, "b_rates_a_count": 1,
            "others_rate_a_sum": 40, "others_rate_a_count": 1,
            "others_rate_b_sum": 40, "others_rate_b_count": 1}}])
    );
    // The signal changes no payout: equal work, equal (valid) shares.
    assert_eq!(report["payouts"], json!({"ana": 5000, "ben": 5000}));

    // distribute (without --record) shows the same line.
    let text = cli
        .ok(
            "ben",
            &["distribute", "--period", "2020-03", "--income", "100.00"],
        )
        .await;
    assert!(text.contains(LINE), "{text}");

    // explain shows the signals that name the member, and only those.
    for who in ["ana", "ben"] {
        let text = cli
            .ok(
                who,
                &["explain", who, "--period", "2020-03", "--income", "100.00"],
            )
            .await;
        assert!(text.contains(LINE), "explain {who}:\n{text}");
    }
    let text = cli
        .ok(
            "cai",
            &[
                "explain", "cai", "--period", "2020-03", "--income", "100.00",
            ],
        )
        .await;
    assert!(!text.contains("signal:"), "{text}");
    let explained = cli
        .json(
            "ben",
            &[
                "explain", "ana", "--period", "2020-03", "--income", "100.00",
            ],
        )
        .await;
    assert_eq!(explained["signals"], report["signals"]);
}

/// `explain` says which rule of peer review leaves a claim unpaid: cai's
/// work has no approval yet (the policy needs one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_why_a_claim_earns_nothing() {
    let (_srv, _data, cli) = coop().await;
    let ana_work = cli.work("ana", "05").await;
    cli.work("cai", "07").await;
    cli.rate("ben", &ana_work, 90).await;
    let args = [
        "explain", "cai", "--period", "2020-03", "--income", "100.00",
    ];
    let text = cli.ok("cai", &args).await;
    assert!(
        text.contains("NOT valid: not enough approvals yet, earns nothing"),
        "{text}"
    );
    let ana = cli
        .ok(
            "ana",
            &[
                "explain", "ana", "--period", "2020-03", "--income", "100.00",
            ],
        )
        .await;
    assert!(ana.contains(": valid;"), "{ana}");
    let json = cli.json("cai", &args).await;
    let line = &json["contributions"][0];
    assert_eq!(line["invalid"], "too_few_approvals", "{json}");
}
