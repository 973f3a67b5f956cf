//! The treasurer's month end under real use, through the real server: a
//! claim is never repaid twice (and `verify` names it on a log where it
//! was), a recorded period's views are its record to the cent, mistakes are
//! refused with their codes and the log unchanged, a void reopens a period,
//! the CLI signs only the digest of what it showed, and a period of 100,000
//! contributions previews and records.
//!
//! One test binary; the shared fixture ([`month_end_coop`]) and helpers are
//! here, the tests by topic in [`claims`] (no claim repaid twice),
//! [`records`] (recorded figures, voids), [`refusals`] (mistakes refused)
//! and [`scale`] (100,000 contributions).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use common::{
    Coop, FEB_2020, JAN_2020, adopt_body, contribution, grant_body, json, run_cli, sign,
    submit_new, submit_refused, work,
};
use coopledger::client::{FetchedPreview, contribution_body, evaluate_body, fetch_preview};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;
use serde_json::Value;
use tonic::Code;

mod claims;
mod records;
mod refusals;
mod scale;

const POLICY: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[
  {"type":"fixed","percent_ppm":100000,"recipient":"commons"},
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// December 2019, right before [`JAN_2020`].
const DEC_2019: (i64, i64) = (1_575_158_400, JAN_2020.0);

async fn preview(coop: &mut Coop, period: (i64, i64), income: Option<u64>) -> FetchedPreview {
    common::preview(&mut coop.client, period, income).await
}

/// A cooperative with bob as treasurer, the policy adopted, and carol's
/// approved expense of 200.00 on 5 January 2020. Returns the expense's id.
async fn month_end_coop() -> (Coop, Vec<u8>) {
    let mut coop = Coop::new().await;
    let (alice, carol) = (coop.alice.clone(), coop.carol.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Treasurer)),
    )
    .await;
    submit_new(&mut coop.client, &sign(&alice, adopt_body(POLICY))).await;
    let expense = contribution(
        pb::ContributionKind::Expense,
        20_000,
        JAN_2020.0 + 4 * 86_400,
    );
    let id = submit_new(&mut coop.client, &sign(&carol, contribution_body(expense)))
        .await
        .id;
    (coop, id)
}

async fn record(coop: &mut Coop, p: &FetchedPreview, period: (i64, i64)) -> pb::Receipt {
    let body = p
        .record_to_sign(period, p.header.income)
        .expect("a recordable preview");
    let bob = coop.bob.clone();
    submit_new(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(body)),
    )
    .await
}

async fn distributions(coop: &mut Coop) -> Vec<pb::DistributionSummary> {
    coop.client
        .list_distributions(pb::ListDistributionsRequest {})
        .await
        .expect("list")
        .into_inner()
        .distributions
}

async fn distribution(coop: &mut Coop, sequence: u64) -> pb::Distribution {
    coop.client
        .get_distribution(pb::GetDistributionRequest {
            key: Some(pb::get_distribution_request::Key::Sequence(sequence)),
        })
        .await
        .expect("get")
        .into_inner()
}

fn payouts(d: &pb::Distribution) -> Value {
    Value::Object(
        d.payouts
            .iter()
            .map(|p| (p.recipient.clone(), Value::from(p.amount)))
            .collect(),
    )
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
