//! Views and exports show the current state (issue 8, item 6), through the
//! real server and the real `coopledger` binary: the contributions CSV lists
//! each contribution once with its amended fields, value and status; the
//! evaluations CSV only standing evaluations; formulas are neutralised;
//! `amend` keeps what it is not told to change and says what it cleared;
//! `entries` marks where each contribution stands; `ListEntries` dates a
//! recorded distribution by its period; decimals have one range.
//!
//! One test binary; the fixture ([`Views`], [`month`]) and the CSV reader
//! are here, the tests by topic in [`csv`] (the CSV exports), [`commands`]
//! (`amend` and `entries`) and [`reads`] (`ListEntries` and decimals).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{
    Coop, FEB_2020, JAN_2020, adopt_body, contribution, grant_body, list, retract_body, run_cli,
    sign, submit_new, submit_refused, work,
};
use coopledger::client::{contribution_body, evaluate_body};
use coopledger::pb::{self, entry::Body};
use tonic::Code;

mod commands;
mod csv;
mod reads;

/// One approval needed, no flag tolerated; work at 30.00 an hour.
const POLICY: &str = r#"{"default_rates":{"work":3000},"validation":{"min_approvals":1,"max_flags":0},
  "mode":"remaining","buckets":[{"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";

/// A cooperative with every member's key in a CLI config folder.
struct Views {
    coop: Coop,
    home: tempfile::TempDir,
    url: String,
}

impl Views {
    async fn new() -> Views {
        let coop = Coop::new().await;
        let home = tempfile::tempdir().unwrap();
        for s in [&coop.alice, &coop.bob, &coop.carol] {
            coopledger::log::keyfile::write_key(
                &home.path().join(format!("keys/{}.key", s.handle)),
                &s.key,
            )
            .unwrap();
        }
        let url = coop.server.url();
        Views { coop, home, url }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs the CLI, expecting success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = run_cli(self.home(), &self.url, args).await;
        assert!(
            out.status.success(),
            "coopledger {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn submit(&mut self, signer: &coopledger::client::Signer, body: Body) -> Vec<u8> {
        submit_new(&mut self.coop.client, &sign(signer, body))
            .await
            .id
    }

    async fn evaluate(
        &mut self,
        signer: &coopledger::client::Signer,
        id: &[u8],
        verdict: pb::Verdict,
        rating: Option<u32>,
    ) -> Vec<u8> {
        let body = evaluate_body(&common::entry_id(id), verdict, rating, "");
        self.submit(signer, body).await
    }
}

/// The ids of the month [`month`] builds.
struct Month {
    /// bob: 60 minutes, carol approved, then bob amended it to 90 minutes
    /// (clearing the approval), then alice and carol approved: valid.
    bob_work: Vec<u8>,
    /// carol: 120 minutes with a formula as note; alice approves, bob flags: flagged.
    carol_work: Vec<u8>,
    /// alice: an expense of 27.50, unreviewed: pending.
    alice_expense: Vec<u8>,
    /// bob: 3 units of use, no rate anywhere: pending, no value.
    bob_use: Vec<u8>,
    /// carol: 30 minutes, approved by bob, then retracted.
    carol_retracted: Vec<u8>,
    /// alice: work in February, outside the January filter.
    alice_feb: Vec<u8>,
    /// carol's flag of bob's work, replaced by her later approval.
    replaced: Vec<u8>,
    /// carol's first approval of bob's work, cleared by the amendment.
    cleared: Vec<u8>,
}

async fn month(v: &mut Views) -> Month {
    let (alice, bob, carol) = (
        v.coop.alice.clone(),
        v.coop.bob.clone(),
        v.coop.carol.clone(),
    );
    v.submit(&alice, adopt_body(POLICY)).await;
    let bob_work = v.coop.bob_work_id();
    let cleared = v
        .evaluate(&carol, &bob_work, pb::Verdict::Approve, Some(50))
        .await;
    // Amended through the API, so these views are tested apart from the
    // CLI's `amend` (tested on its own below).
    v.submit(
        &bob,
        common::amend_body(&bob_work, work(90, JAN_2020.0 + 3600)),
    )
    .await;
    let day = 86_400;
    let mut carol_fields = work(120, JAN_2020.0 + 2 * day);
    carol_fields.note = FORMULA.into();
    carol_fields.tags = vec!["-risky".into()];
    let carol_work = v.submit(&carol, contribution_body(carol_fields)).await;
    let alice_expense = v
        .submit(
            &alice,
            contribution_body(contribution(
                pb::ContributionKind::Expense,
                2750,
                JAN_2020.0 + 3 * day,
            )),
        )
        .await;
    let bob_use = v
        .submit(
            &bob,
            contribution_body(contribution(
                pb::ContributionKind::Use,
                3,
                JAN_2020.0 + 4 * day,
            )),
        )
        .await;
    let carol_retracted = v
        .submit(&carol, contribution_body(work(30, JAN_2020.0 + 5 * day)))
        .await;
    let alice_feb = v
        .submit(&alice, contribution_body(work(45, FEB_2020.0 + day)))
        .await;
    // On bob's amended work: alice approves; carol flags, then approves
    // (her approval replaces the flag).
    v.evaluate(&alice, &bob_work, pb::Verdict::Approve, Some(70))
        .await;
    let replaced = v
        .evaluate(&carol, &bob_work, pb::Verdict::Flag, Some(10))
        .await;
    v.evaluate(&carol, &bob_work, pb::Verdict::Approve, Some(90))
        .await;
    v.evaluate(&alice, &carol_work, pb::Verdict::Approve, None)
        .await;
    v.evaluate(&bob, &carol_work, pb::Verdict::Flag, Some(20))
        .await;
    v.evaluate(&bob, &carol_retracted, pb::Verdict::Approve, None)
        .await;
    v.submit(&carol, retract_body(&carol_retracted, "logged twice"))
        .await;
    Month {
        bob_work,
        carol_work,
        alice_expense,
        bob_use,
        carol_retracted,
        alice_feb,
        replaced,
        cleared,
    }
}

/// A small RFC 4180 reader: quoted fields with doubled quotes and line
/// breaks inside.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The CSV as maps from column name to cell.
fn records(text: &str) -> Vec<HashMap<String, String>> {
    let rows = parse_csv(text);
    let (header, body) = rows.split_first().expect("a header row");
    body.iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "row {r:?} against {header:?}");
            header.iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect()
}
