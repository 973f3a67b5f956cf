//! Whatever the log accepts, the scoring core can score (DESIGN principle 8,
//! issue 8 item 1).
//!
//! Through the real server: the poison contributions of the issue (10^15
//! minutes of work, 10^15 units at a rate of 10^15, an own rate of 10^15,
//! dated 1970) are refused at ingestion with `InvalidArgument` and leave the
//! log as it was; a policy whose rates or multipliers could push an accepted
//! contribution past a scoring limit is refused at adoption, naming the
//! field; and with the most extreme policy and contributions the server does
//! accept, every period still previews and records.
//!
//! At the library level, a property: fold arbitrary signed entries, from
//! in-range extremes to far beyond the bounds, through `LedgerState::check`
//! and `apply` exactly as the sequencer does; whatever `check` accepts,
//! `distribution::preview` must succeed for every period, before and after
//! distributions are recorded.
//!
//! One test binary; the shared policies and contributions are here, the
//! tests in [`ingestion`] (through the real server) and [`fold`] (the
//! library-level property).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

#[path = "../common/mod.rs"]
mod common;

use common::{
    Coop, FEB_2020, Fold, JAN_2020, adopt_body, amend_body, contribution, grant_body, sign,
    submit_new, work,
};
use coopledger::client::{contribution_body, evaluate_body};
use coopledger::ledger::Refusal;
use coopledger::ledger::{
    MAX_AMOUNT, MAX_TAG_RATE, MAX_UNIT_RATE, MAX_UNITS, MAX_WORK_MINUTES, MAX_WORK_RATE,
};
use coopledger::payout::{PolicyChoice, scoring_input};
use coopledger::payout::{preview, record_body};
use coopledger::pb::{self, ContributionKind as K, entry::Body};
use coopledger::scoring::PolicyDocument;
use proptest::prelude::*;
use serde_json::json;
use tonic::Code;

mod adoption;
mod fold;
mod ingestion;

/// 10^15, the largest quantity or rate the ingestion limits took before.
const E15: u64 = 1_000_000_000_000_000;
/// The first day of 1970, `[start, end)`.
const DAY_1970: (i64, i64) = (0, 86_400);
/// A period holding every date a test uses (up to 2100).
const EVERYTHING: (i64, i64) = (0, 4_102_444_800);
/// The tags of the extreme policies, as many as a contribution may carry.
const TAGS: usize = 16;

fn tag(i: usize) -> String {
    format!("t{i:02}")
}

/// A contribution of `kind` with its own `rate`.
fn rated(kind: K, quantity: u64, rate: u64, at: i64) -> pb::Contribution {
    pb::Contribution {
        rate: Some(rate),
        ..contribution(kind, quantity, at)
    }
}

/// The buckets of every test policy: each bucket type the live log can
/// run without allocations, each kind in each.
fn buckets() -> serde_json::Value {
    let all = ["work", "money", "expense", "resource", "use"];
    json!([
        {"type": "fixed", "percent_ppm": 10_000, "recipient": "commons"},
        {"type": "reimburse", "percent_ppm": 500_000, "kinds": ["expense", "money"]},
        {"type": "shares", "percent_ppm": 300_000, "kinds": all, "method": "balanced"},
        {"type": "shares", "percent_ppm": 1_000_000, "kinds": all}
    ])
}

/// A policy with every rate at its bound, the given kind multiplier for
/// every kind and `TAGS` tags of multiplier `tag_ppm` (the first four with a
/// rate too).
fn policy(kind_ppm: u64, tag_ppm: u64, decay: bool) -> serde_json::Value {
    let tags: serde_json::Map<String, serde_json::Value> =
        (0..TAGS).map(|i| (tag(i), json!(tag_ppm))).collect();
    let rates: serde_json::Map<String, serde_json::Value> =
        (0..4).map(|i| (tag(i), json!(MAX_TAG_RATE))).collect();
    let mut p = json!({
        "default_rates": {"work": MAX_WORK_RATE, "resource": MAX_UNIT_RATE, "use": MAX_UNIT_RATE},
        "rates": rates,
        "kind_multiplier_ppm": {"work": kind_ppm, "money": kind_ppm, "expense": kind_ppm,
                                "resource": kind_ppm, "use": kind_ppm},
        "tag_multiplier_ppm": tags,
        "mode": "remaining",
        "buckets": buckets(),
    });
    if decay {
        p["decay"] = json!({"interval_days": 30, "rate_ppm": 10_000});
    }
    p
}

/// The largest tag multiplier `check_scorable` accepts with `TAGS` tags on
/// top of `kind_ppm`: the most extreme policy adoption lets through.
fn largest_accepted_tag_ppm(kind_ppm: u64) -> u64 {
    let accepted = |tag_ppm: u64| {
        let text = policy(kind_ppm, tag_ppm, false).to_string();
        PolicyDocument::from_json(text.as_bytes())
            .expect("a well-formed policy")
            .check_scorable(TAGS)
            .is_ok()
    };
    assert!(accepted(1_000_000), "multipliers of 1 must always pass");
    let (mut lo, mut hi) = (1_000_000u64, 1_000_000_000u64);
    if accepted(hi) {
        return hi;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if accepted(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Every tag, for the contributions that carry as many as they may.
fn all_tags() -> Vec<String> {
    (0..TAGS).map(tag).collect()
}

async fn compute(
    coop: &mut Coop,
    period: (i64, i64),
    income: u64,
) -> Result<coopledger::client::FetchedPreview, tonic::Status> {
    coopledger::client::fetch_preview(
        &mut coop.client,
        pb::ComputeSharesRequest {
            period: Some(pb::Period {
                start: period.0,
                end: period.1,
            }),
            income: Some(income),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| match e {
        coopledger::client::FetchError::Status(s) => s,
        other => tonic::Status::internal(other.to_string()),
    })
}

/// The poison contributions, each with the start of the message
/// that must refuse it.
fn poison() -> Vec<(pb::Contribution, String)> {
    let field = "log_contribution.contribution";
    vec![
        (
            work(E15, 0),
            format!(
                "{field}.quantity: 1000000000000000 minutes of work is more than the most one \
                 entry may log (1000000 minutes, about 16,666 hours); log it in several entries"
            ),
        ),
        (
            rated(K::Resource, E15, E15, 0),
            format!(
                "{field}.quantity: 1000000000000000 units is more than the most one resource entry may log (1000000 units)"
            ),
        ),
        (
            rated(K::Use, 10, E15, JAN_2020.0),
            format!(
                "{field}.rate: 1000000000000000 minor units a unit is more than a use rate may be (1000000000"
            ),
        ),
        (
            rated(K::Work, 60, E15, 0),
            format!(
                "{field}.rate: 1000000000000000 minor units an hour is more than a work rate may be (60000000000 an hour"
            ),
        ),
        (
            work(MAX_WORK_MINUTES + 1, 0),
            format!("{field}.quantity: 1000001 minutes of work"),
        ),
        (
            rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE + 1, 0),
            format!("{field}.rate: 1000000001 minor units a unit"),
        ),
        (
            contribution(K::Expense, E15 + 1, 0),
            format!(
                "{field}.quantity: 1000000000000001 minor units is more than one expense entry may log"
            ),
        ),
    ]
}
