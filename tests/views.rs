//! Views and exports show the current state (issue 8, item 6), through the
//! real server and the real `coopledger` binary: the contributions CSV lists
//! each contribution once with its amended fields, value and status; the
//! evaluations CSV only standing evaluations; formulas are neutralised;
//! `amend` keeps what it is not told to change and says what it cleared;
//! `entries` marks where each contribution stands; `ListEntries` dates a
//! recorded distribution by its period; decimals have one range.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contributions_csv_lists_each_contribution_once_as_it_stands() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let text = v
        .ok(&["export", "--csv", "contributions", "--period", "2020-01"])
        .await;
    let rows = records(&text);
    let by_id: HashMap<String, &HashMap<String, String>> =
        rows.iter().map(|r| (r["id"].clone(), r)).collect();
    assert_eq!(rows.len(), 5, "each January contribution once:\n{text}");
    assert_eq!(by_id.len(), 5, "no contribution twice:\n{text}");
    assert!(
        !by_id.contains_key(&hex::encode(&m.alice_feb)),
        "the period filter"
    );

    let bob = by_id[&hex::encode(&m.bob_work)];
    assert_eq!(bob["kind"], "work");
    assert_eq!(bob["quantity"], "1.5", "the amended quantity, in hours");
    assert_eq!(bob["unit"], "hours");
    assert_eq!(bob["minutes"], "90");
    assert_eq!(bob["rate"], "30.00");
    assert_eq!(bob["rate_source"], "default");
    assert_eq!(bob["value"], "45.00", "floor(90 × 3000 / 60) cents");
    assert_eq!(bob["currency"], "EUR");
    assert_eq!(
        bob["at"], "2020-01-01T01:00:00Z",
        "the amendment kept the date"
    );
    assert_eq!(bob["status"], "valid");
    assert!(!bob["amended"].is_empty(), "amended: {bob:?}");
    assert_eq!(bob["approvals"], "2");
    assert_eq!(bob["flags"], "0");

    let carol = by_id[&hex::encode(&m.carol_work)];
    assert_eq!(carol["status"], "flagged", "max_flags 0 and one flag");
    assert_eq!(carol["approvals"], "1");
    assert_eq!(carol["flags"], "1");
    assert_eq!(carol["value"], "60.00");
    assert_eq!(carol["amended"], "");
    assert_eq!(
        carol["note"],
        format!("'{FORMULA}"),
        "the formula is neutralised"
    );
    assert_eq!(carol["tags"], "'-risky");

    let expense = by_id[&hex::encode(&m.alice_expense)];
    assert_eq!(expense["status"], "pending", "no approval yet");
    assert_eq!(expense["quantity"], "27.50");
    assert_eq!(expense["unit"], "EUR");
    assert_eq!(expense["value"], "27.50");
    assert_eq!(expense["rate"], "");

    let usage = by_id[&hex::encode(&m.bob_use)];
    assert_eq!(usage["quantity"], "3");
    assert_eq!(usage["unit"], "units");
    assert_eq!(usage["value"], "", "no rate resolves");
    assert!(usage["value_note"].contains("no rate"), "{usage:?}");
    assert_eq!(usage["rate_source"], "none");

    let gone = by_id[&hex::encode(&m.carol_retracted)];
    assert_eq!(gone["status"], "retracted");
    assert_eq!(gone["value"], "15.00", "30 minutes at 30.00 an hour");

    // Nothing a spreadsheet would evaluate: no cell starts a formula.
    for row in parse_csv(&text) {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a live formula: {cell:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluations_csv_keeps_only_standing_evaluations() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let text = v
        .ok(&["export", "--csv", "evaluations", "--period", "2020-01"])
        .await;
    let rows = records(&text);
    let mut got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["evaluator"].clone(),
                r["contribution"].clone(),
                r["verdict"].clone(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, String)> = vec![
        ("alice".into(), hex::encode(&m.bob_work), "approve".into()),
        ("carol".into(), hex::encode(&m.bob_work), "approve".into()),
        ("alice".into(), hex::encode(&m.carol_work), "approve".into()),
        ("bob".into(), hex::encode(&m.carol_work), "flag".into()),
        (
            "bob".into(),
            hex::encode(&m.carol_retracted),
            "approve".into(),
        ),
    ];
    want.sort();
    assert_eq!(got, want, "only standing evaluations:\n{text}");
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert!(
        !ids.contains(&hex::encode(&m.replaced).as_str()),
        "a replaced flag"
    );
    assert!(
        !ids.contains(&hex::encode(&m.cleared).as_str()),
        "cleared by the amendment"
    );
    let carol_on_bob = rows
        .iter()
        .find(|r| r["evaluator"] == "carol")
        .expect("carol's evaluation");
    assert_eq!(carol_on_bob["rating"], "90", "the later rating stands");
    assert_eq!(carol_on_bob["contribution_status"], "valid");
    let on_retracted = rows
        .iter()
        .find(|r| r["contribution"] == hex::encode(&m.carol_retracted))
        .expect("kept, marked");
    assert_eq!(on_retracted["contribution_status"], "retracted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amend_keeps_what_it_is_not_told_and_says_the_evaluations_were_cleared() {
    let mut v = Views::new().await;
    let (alice, carol) = (v.coop.alice.clone(), v.coop.carol.clone());
    let mut fields = work(60, JAN_2020.0 + 3 * 3600);
    fields.tags = vec!["design".into()];
    fields.project = "enclosure".into();
    fields.note = "first cut".into();
    let bob = v.coop.bob.clone();
    let id = v.submit(&bob, contribution_body(fields)).await;
    v.evaluate(&alice, &id, pb::Verdict::Approve, Some(80))
        .await;
    v.evaluate(&carol, &id, pb::Verdict::Flag, None).await;

    let out = v
        .ok(&["--as", "bob", "amend", &hex::encode(&id)[..12], "1h30m"])
        .await;
    assert!(
        out.contains("2 standing evaluations (1 approval, 1 flag) were cleared"),
        "{out}"
    );
    assert!(out.contains("approve it again"), "{out}");
    assert!(out.contains("2020-01-01T03:00:00Z"), "{out}");

    let out = v
        .ok(&[
            "--as",
            "bob",
            "amend",
            &hex::encode(&id)[..12],
            "--note",
            "final",
        ])
        .await;
    assert!(out.contains("no standing evaluations"), "{out}");

    let amends = list(
        &mut v.coop.client,
        pb::ListEntriesRequest {
            kinds: vec![pb::EntryKind::AmendContribution as i32],
            ..Default::default()
        },
    )
    .await;
    let fields: Vec<pb::Contribution> = amends
        .iter()
        .map(|e| match e.entry.as_ref().and_then(|x| x.body.clone()) {
            Some(Body::AmendContribution(a)) => a.contribution.unwrap(),
            other => panic!("not an amendment: {other:?}"),
        })
        .collect();
    assert_eq!(fields.len(), 2);
    for f in &fields {
        assert_eq!(f.at, JAN_2020.0 + 3 * 3600, "the date is kept");
        assert_eq!(f.tags, ["design"]);
        assert_eq!(f.project, "enclosure");
        assert_eq!(f.quantity, 90);
    }
    assert_eq!(fields[0].note, "first cut");
    assert_eq!(fields[1].note, "final");

    // Nothing to change is refused before anything is signed.
    let out = run_cli(
        v.home(),
        &v.url,
        &[
            "--as",
            "bob",
            "amend",
            &hex::encode(&id)[..12],
            "--note",
            "final",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to amend"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_marks_amended_retracted_approved_and_flagged_contributions() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let table = v.ok(&["entries", "--kind", "contribution"]).await;
    let line = |id: &[u8]| {
        let short = &hex::encode(id)[..12];
        table
            .lines()
            .find(|l| l.contains(short))
            .unwrap_or_else(|| panic!("{short} in:\n{table}"))
            .to_string()
    };
    assert!(
        line(&m.bob_work).contains("amended; valid, 2 approvals"),
        "{table}"
    );
    assert!(
        line(&m.carol_work).contains("flagged, 1 approval, 1 flag"),
        "{table}"
    );
    assert!(
        line(&m.alice_expense).contains("pending, 0/1 approvals"),
        "{table}"
    );
    assert!(line(&m.carol_retracted).contains("retracted"), "{table}");
    assert!(table.lines().next().unwrap().contains("STATUS"), "{table}");

    let evaluations = v.ok(&["entries", "--kind", "evaluate"]).await;
    let eval_line = |id: &[u8]| {
        let short = &hex::encode(id)[..12];
        evaluations
            .lines()
            .find(|l| l.contains(short))
            .unwrap_or_else(|| panic!("{short} in:\n{evaluations}"))
            .to_string()
    };
    assert!(eval_line(&m.replaced).contains("replaced"), "{evaluations}");
    assert!(
        eval_line(&m.cleared).contains("cleared by an amendment"),
        "{evaluations}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&v.ok(&["--json", "entries", "--kind", "contribution"]).await)
            .unwrap();
    let of = |id: &[u8]| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == hex::encode(id))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        of(&m.bob_work),
        serde_json::json!({"status": "valid", "approvals": 2, "flags": 0, "amendments": 1})
    );
    assert_eq!(of(&m.carol_retracted)["status"], "retracted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_entries_dates_a_recorded_distribution_by_the_period_it_distributes() {
    let mut coop = Coop::new().await;
    let (alice, bob) = (coop.alice.clone(), coop.bob.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Treasurer)),
    )
    .await;
    submit_new(&mut coop.client, &sign(&alice, adopt_body(POLICY))).await;
    let approve = evaluate_body(
        &common::entry_id(&coop.bob_work_id()),
        pb::Verdict::Approve,
        None,
        "",
    );
    submit_new(&mut coop.client, &sign(&alice, approve)).await;
    let preview = coopledger::client::fetch_preview(
        &mut coop.client,
        pb::ComputeSharesRequest {
            period: Some(pb::Period {
                start: JAN_2020.0,
                end: JAN_2020.1,
            }),
            income: Some(10_000),
            ..Default::default()
        },
    )
    .await
    .expect("preview");
    let record = preview.record_to_sign(JAN_2020, 10_000).expect("a record");
    let recorded = submit_new(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(record)),
    )
    .await;

    let dated = |start: i64, end: i64| pb::ListEntriesRequest {
        kinds: vec![pb::EntryKind::RecordDistribution as i32],
        period: Some(pb::Period { start, end }),
        ..Default::default()
    };
    let seqs = |v: Vec<pb::LoggedEntry>| v.iter().map(|e| e.sequence).collect::<Vec<_>>();
    // Filtering January lists January's distribution, recorded years later.
    assert_eq!(
        seqs(list(&mut coop.client, dated(JAN_2020.0, JAN_2020.1)).await),
        [recorded.sequence]
    );
    // Any range overlapping it does; a range that only touches it does not.
    assert_eq!(
        seqs(list(&mut coop.client, dated(JAN_2020.1 - 1, FEB_2020.1)).await),
        [recorded.sequence]
    );
    assert!(
        list(&mut coop.client, dated(FEB_2020.0, FEB_2020.1))
            .await
            .is_empty()
    );
    // Not by when it was recorded: the day it was signed lists nothing.
    let now = common::now_ms() / 1000;
    assert!(
        list(&mut coop.client, dated(now - 86_400, now + 86_400))
            .await
            .is_empty(),
        "a distribution is not dated by its created_at"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimals_have_one_range_and_come_from_the_signed_genesis() {
    // The server refuses 9 at genesis, with InvalidArgument, naming the range.
    let server = common::TestServer::start().await;
    let mut client = server.client().await;
    let founder = common::new_signer("ana", &[]);
    let log_key = common::info(&mut client).await.log_public_key;
    let genesis = |decimals: u32| {
        coopledger::client::genesis_body(
            "Riverside",
            "FAIR",
            decimals,
            &[("ana".to_string(), founder.public_key())],
            &log_key,
        )
    };
    submit_refused(
        &mut client,
        &sign(&founder, genesis(9)),
        Code::InvalidArgument,
        "0..=8",
    )
    .await;
    submit_new(&mut client, &sign(&founder, genesis(8))).await;

    // The CLI refuses it before signing anything, with the same range.
    let home = tempfile::tempdir().unwrap();
    let other = common::TestServer::start().await;
    let out = run_cli(home.path(), &other.url(), &["keygen", "ben"]).await;
    assert!(out.status.success());
    let out = run_cli(
        home.path(),
        &other.url(),
        &["--as", "ben", "init", "--name", "X", "--decimals", "9"],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--decimals") && err.contains("0..=8"), "{err}");
    assert_eq!(common::info(&mut other.client().await).await.log_size, 0);

    // With 8 decimals, the CLI reads and writes amounts in them.
    let out = run_cli(
        home.path(),
        &other.url(),
        &[
            "--as",
            "ben",
            "init",
            "--name",
            "X",
            "--currency",
            "FAIR",
            "--decimals",
            "8",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        home.path(),
        &other.url(),
        &[
            "--as",
            "ben",
            "log",
            "expense",
            "0.00000125",
            "--at",
            "2020-01-02",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        home.path(),
        &other.url(),
        &["export", "--csv", "contributions"],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = records(&text);
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0]["quantity"], "0.00000125");
    assert_eq!(rows[0]["currency"], "FAIR");
    let info = run_cli(home.path(), &other.url(), &["info"]).await;
    assert!(
        String::from_utf8_lossy(&info.stdout)
            .contains("FAIR (8 decimals, from the signed genesis)"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
}
