//! `coopledger todo` and `coopledger history` against a real server on
//! 127.0.0.1:0 (members-only reads), through the real CLI binary: what each
//! member has to review, their claims waiting on peers, allocations due,
//! the treasurer's unapproved claims and their value; and what each
//! recorded distribution paid a member, per bucket, with voids shown and
//! left out of the total.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use coopledger::server::RunningServer;
use serde_json::Value;

/// 1 of each kind needed, flags invalidate (max_flags 0), 30.00 EUR an
/// hour of work, and an allocation bucket so allocations are due.
const TODO_POLICY: &str = r#"{"default_rates":{"work":3000},
  "validation":{"min_approvals":1,"max_flags":0},"mode":"remaining","buckets":[
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":500000,"kinds":["work"]},
  {"type":"allocation","percent_ppm":1000000,"mechanism":"give"}]}"#;

/// 10% to the commons, expenses repaid, the rest by work.
const HISTORY_POLICY: &str = r#"{"default_rates":{"work":3000},
  "validation":{"min_approvals":1},"mode":"remaining","buckets":[
  {"type":"fixed","percent_ppm":100000,"recipient":"commons"},
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

use common::Cli;

impl Cli {
    /// Logs a contribution as `who`; returns its id.
    async fn log(&self, who: &str, kind: &str, amount: &str, at: &str, note: &str) -> String {
        let v = self
            .json(who, &["log", kind, amount, "--at", at, "--note", note])
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    async fn evaluate(&self, who: &str, id: &str, verdict: &str) {
        self.ok(who, &["evaluate", &id[..12], verdict]).await;
    }
}

/// A cooperative: ana founds it (admin), ben (treasurer) and cai (member)
/// are admitted, and `policy` is adopted.
async fn coop(policy: &str) -> (RunningServer, tempfile::TempDir, Cli) {
    common::riverside(policy).await
}

/// The `field` of each item of a to-do list.
fn fields<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i[field].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_sees_what_waits_on_them_until_it_is_done() {
    let (srv, _data, cli) = coop(TODO_POLICY).await;
    let soldering = cli
        .log("cai", "work", "2h", "2020-03-05", "soldering")
        .await;
    let filament = cli
        .log("ana", "expense", "40.00", "2020-03-06", "filament")
        .await;
    let cad = cli
        .log("ana", "work", "1h", "2020-03-07", "enclosure CAD")
        .await;
    let sweeping = cli
        .log("ben", "work", "30m", "2020-03-08", "sweeping")
        .await;
    cli.evaluate("cai", &cad, "--flag").await;
    cli.evaluate("cai", &sweeping, "--approve").await;
    let march = ["todo", "--period", "2020-03"];

    // ben, the treasurer: everyone else's work, newest first; his own
    // claim is approved; he has not allocated; three claims unapproved.
    let ben = cli.json("ben", &march).await;
    assert_eq!(ben["member"], "ben");
    assert_eq!(ben["roles"], serde_json::json!(["member", "treasurer"]));
    assert_eq!(
        fields(&ben["to_review"], "note"),
        ["enclosure CAD", "filament", "soldering"]
    );
    assert_eq!(fields(&ben["to_review"], "author"), ["ana", "ana", "cai"]);
    let first = &ben["to_review"][0];
    assert_eq!(first["id"], cad.as_str());
    assert_eq!(first["id_prefix"], &cad[..12]);
    assert_eq!(first["kind"], "work");
    assert_eq!(first["quantity"], "1h");
    assert_eq!(first["at"], "2020-03-07T00:00:00Z");
    assert_eq!(ben["to_review"][1]["quantity"], "40.00");
    assert_eq!(ben["my_claims"], serde_json::json!([]));
    assert_eq!(
        ben["allocations"],
        serde_json::json!([{"period": "2020-03", "allocated": false}])
    );
    let t = &ben["treasurer"];
    assert_eq!(
        fields(&t["unapproved"], "note"),
        ["enclosure CAD", "filament", "soldering"]
    );
    assert_eq!(
        fields(&t["unapproved"], "status"),
        ["flagged", "pending", "pending"]
    );
    assert_eq!(
        fields(&t["unapproved"], "value"),
        ["30.00", "40.00", "60.00"]
    );
    assert_eq!(t["unapproved_value"], "130.00");
    assert_eq!(t["unapproved_value_minor_units"], 13000);
    assert_eq!(t["unapproved"][2]["value_minor_units"], 6000);
    assert_eq!(
        t["not_allocated"],
        serde_json::json!([{"period": "2020-03", "members": ["ana", "ben", "cai"]}])
    );
    assert_eq!(ben["nothing_to_do"], false);
    let text = cli.ok("ben", &march).await;
    for needle in [
        "To review (3)",
        &cad[..12],
        "soldering",
        "filament",
        "1h",
        "Unapproved claims (3): 130.00 EUR would go unpaid if recorded as they stand",
        "You have not split your 100 points for 2020-03",
        "Not allocated for 2020-03: ana, ben, cai",
    ] {
        assert!(
            text.contains(needle),
            "ben's todo lacks {needle:?}:\n{text}"
        );
    }

    // ana (founder, so admin): two claims waiting, one flagged by cai.
    let ana = cli.json("ana", &march).await;
    assert_eq!(fields(&ana["to_review"], "note"), ["sweeping", "soldering"]);
    assert_eq!(
        fields(&ana["my_claims"], "note"),
        ["enclosure CAD", "filament"]
    );
    assert_eq!(fields(&ana["my_claims"], "status"), ["flagged", "pending"]);
    assert_eq!(
        ana["my_claims"][0]["flagged_by"],
        serde_json::json!(["cai"])
    );
    assert_eq!(ana["my_claims"][0]["flags"], 1);
    assert_eq!(ana["my_claims"][1]["approvals"], 0);
    assert_eq!(ana["my_claims"][1]["approvals_needed"], 1);
    assert!(
        ana["treasurer"].is_object(),
        "admins see the treasurer's list"
    );
    let text = cli.ok("ana", &march).await;
    for needle in [
        "Your claims waiting on peers (2)",
        "enclosure CAD",
        "1 flag (cai)",
        "0/1 approvals",
    ] {
        assert!(
            text.contains(needle),
            "ana's todo lacks {needle:?}:\n{text}"
        );
    }

    // cai, a plain member: only ana's expense is left to review (cai
    // flagged her CAD work and approved ben's), and no treasurer's list.
    let cai = cli.json("cai", &march).await;
    assert_eq!(fields(&cai["to_review"], "id"), [filament.as_str()]);
    assert_eq!(fields(&cai["my_claims"], "id"), [soldering.as_str()]);
    assert_eq!(cai["my_claims"][0]["approved_by"], serde_json::json!([]));
    assert_eq!(cai["treasurer"], Value::Null);
    let text = cli.ok("cai", &march).await;
    assert!(!text.contains("Unapproved claims"), "{text}");
    assert!(!text.contains("Not allocated"), "{text}");

    // By default: March 2020 (it holds open work) and the current month.
    let default = cli.json("cai", &["todo"]).await;
    let this_month: String =
        coopledger::scoring::time::format_rfc3339(coopledger::ledger::now_ms() / 1000)
            .chars()
            .take(7)
            .collect();
    assert_eq!(
        fields(&default["periods"], "period"),
        ["2020-03", this_month.as_str()]
    );
    assert_eq!(default["to_review"], cai["to_review"]);

    // Everyone reviews and allocates; cai withdraws the flag.
    for (who, id) in [
        ("ben", &soldering),
        ("ben", &filament),
        ("ben", &cad),
        ("ana", &sweeping),
        ("ana", &soldering),
        ("cai", &filament),
        ("cai", &cad),
    ] {
        cli.evaluate(who, id, "--approve").await;
    }
    let half = |a: &str, b: &str| [format!("{a}=50"), format!("{b}=50")];
    for (who, [x, y]) in [("ana", half("ben", "cai")), ("ben", half("ana", "cai"))] {
        cli.ok(who, &["allocate", "--period", "2020-03", &x, &y])
            .await;
    }
    // Before cai allocates, the treasurer still sees cai missing.
    let ben = cli.json("ben", &march).await;
    assert_eq!(ben["to_review"], serde_json::json!([]));
    assert_eq!(ben["treasurer"]["unapproved"], serde_json::json!([]));
    assert_eq!(
        ben["treasurer"]["not_allocated"],
        serde_json::json!([{"period": "2020-03", "members": ["cai"]}])
    );
    assert_eq!(ben["nothing_to_do"], false);
    cli.ok(
        "cai",
        &["allocate", "--period", "2020-03", "ana=50", "ben=50"],
    )
    .await;
    for who in ["ana", "ben", "cai"] {
        let v = cli.json(who, &march).await;
        assert_eq!(v["nothing_to_do"], true, "{who}: {v}");
        assert_eq!(v["to_review"], serde_json::json!([]), "{who}");
        assert_eq!(v["my_claims"], serde_json::json!([]), "{who}");
        let text = cli.ok(who, &march).await;
        assert!(text.contains("Nothing to do"), "{who}: {text}");
    }
    srv.stop().await.unwrap();
}

/// One history row: (sequence, status, bucket index, type, minor units).
type Row = (u64, String, u64, String, u64);

fn json_rows(history: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for d in history["distributions"].as_array().unwrap() {
        for b in d["buckets"].as_array().unwrap() {
            rows.push((
                d["sequence"].as_u64().unwrap(),
                d["status"].as_str().unwrap().to_string(),
                b["index"].as_u64().unwrap(),
                b["type"].as_str().unwrap().to_string(),
                b["amount_minor_units"].as_u64().unwrap(),
            ));
        }
    }
    rows
}

fn csv_rows(csv_text: &str) -> Vec<Row> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (seq, status, bucket, kind, amount) = (
        col("sequence"),
        col("status"),
        col("bucket"),
        col("type"),
        col("amount_minor_units"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(&r[col("member")], "ana");
            assert_eq!(&r[col("currency")], "EUR");
            (
                r[seq].parse().unwrap(),
                r[status].to_string(),
                r[bucket].parse().unwrap(),
                r[kind].to_string(),
                r[amount].parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_each_distribution_per_bucket_and_a_total_without_voids() {
    let (srv, _data, cli) = coop(HISTORY_POLICY).await;
    // January: ana's expense of 40.00 and 1h of work, cai's 2h.
    let expense = cli
        .log("ana", "expense", "40.00", "2020-01-05", "filament")
        .await;
    let ana_jan = cli.log("ana", "work", "1h", "2020-01-06", "CAD").await;
    let cai_jan = cli
        .log("cai", "work", "2h", "2020-01-07", "soldering")
        .await;
    cli.evaluate("ben", &expense, "--approve").await;
    cli.evaluate("cai", &ana_jan, "--approve").await;
    cli.evaluate("ana", &cai_jan, "--approve").await;
    let record = |period: &'static str, income: &'static str| {
        let cli = &cli;
        async move {
            cli.ok(
                "ben",
                &[
                    "distribute",
                    "--period",
                    period,
                    "--income",
                    income,
                    "--record",
                    "--yes",
                ],
            )
            .await;
        }
    };
    // 200.00: 20.00 to the commons, 40.00 repays ana, 140.00 by work
    // (ana 3000 points, cai 6000: 46.67 and 93.33).
    record("2020-01", "200.00").await;
    // February: ana's 2h; 100.00 gives her 90.00, then it is voided and
    // recorded again with 50.00 (45.00 to her).
    let ana_feb = cli.log("ana", "work", "2h", "2020-02-03", "website").await;
    cli.evaluate("ben", &ana_feb, "--approve").await;
    record("2020-02", "100.00").await;
    let list = cli.json("ben", &["distribution", "list"]).await;
    let wrong = list[1]["sequence"].as_u64().unwrap().to_string();
    cli.ok(
        "ben",
        &[
            "distribution",
            "void",
            &wrong,
            "--reason",
            "the income was 50.00",
            "--yes",
        ],
    )
    .await;
    record("2020-02", "50.00").await;
    // December 2019, recorded last: cai's hour gets 9.00 of 10.00.
    let cai_dec = cli
        .log("cai", "work", "1h", "2019-12-10", "inventory")
        .await;
    cli.evaluate("ana", &cai_dec, "--approve").await;
    record("2019-12", "10.00").await;
    let list = cli.json("ben", &["distribution", "list"]).await;
    let seqs: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 4);

    let ana = cli.json("ana", &["history"]).await;
    assert_eq!(ana["member"], "ana");
    assert_eq!(ana["currency"], "EUR");
    let periods: Vec<&str> = ana["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["period"].as_str().unwrap())
        .collect();
    // By period, December (recorded last) first; it paid ana nothing.
    assert_eq!(periods, ["2019-12", "2020-01", "2020-02", "2020-02"]);
    assert_eq!(ana["distributions"][0]["sequence"], seqs[3]);
    assert_eq!(ana["distributions"][0]["buckets"], serde_json::json!([]));
    assert_eq!(ana["distributions"][0]["total"], "0.00");
    assert_eq!(
        json_rows(&ana),
        [
            (seqs[0], "recorded".into(), 1, "reimburse".into(), 4000),
            (seqs[0], "recorded".into(), 2, "shares".into(), 4667),
            (seqs[1], "voided".into(), 2, "shares".into(), 9000),
            (seqs[2], "recorded".into(), 2, "shares".into(), 4500),
        ]
    );
    assert_eq!(ana["distributions"][1]["total"], "86.67");
    assert_eq!(
        ana["distributions"][2]["void_reason"],
        "the income was 50.00"
    );
    assert_eq!(ana["distributions"][1]["start"], "2020-01-01T00:00:00Z");
    assert_eq!(ana["distributions"][1]["end"], "2020-02-01T00:00:00Z");
    assert_eq!(ana["total"], "131.67");
    assert_eq!(ana["total_minor_units"], 13167);

    // The CSV parses and says the same, row for row.
    let csv_text = cli.ok("ana", &["history", "--csv"]).await;
    assert_eq!(csv_rows(&csv_text), json_rows(&ana));

    // The table names each distribution, the void and the total.
    let text = cli.ok("ana", &["history"]).await;
    for needle in [
        "2020-01",
        "reimburse",
        "40.00 EUR",
        "46.67 EUR",
        "VOIDED: the income was 50.00",
        "Total: 131.67 EUR from 3 recorded distributions",
    ] {
        assert!(
            text.contains(needle),
            "ana's history lacks {needle:?}:\n{text}"
        );
    }

    // cai's own: December's and January's shares.
    let cai = cli.json("cai", &["history"]).await;
    assert_eq!(
        json_rows(&cai),
        [
            (seqs[3], "recorded".into(), 2, "shares".into(), 900),
            (seqs[0], "recorded".into(), 2, "shares".into(), 9333),
        ]
    );
    assert_eq!(cai["total"], "102.33");

    // The treasurer reads anyone's, funds included; a plain member only
    // their own, and is told why.
    assert_eq!(cli.json("ben", &["history", "--member", "ana"]).await, ana);
    let commons = cli.json("ana", &["history", "--member", "commons"]).await;
    assert_eq!(commons["total"], "26.00");
    let out = cli
        .run(&["--as", "cai", "history", "--member", "ana"])
        .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cai may not read ana's history")
            && err.contains("treasurers and admins read anyone's"),
        "{err}"
    );
    // Recorded periods drop out of the to-do; asked for, they say so.
    let todo = cli.json("ana", &["todo"]).await;
    assert_eq!(todo["periods"].as_array().unwrap().len(), 1, "{todo}");
    assert_ne!(todo["periods"][0]["period"], "2020-01");
    let january = cli.json("ana", &["todo", "--period", "2020-01"]).await;
    assert_eq!(january["periods"][0]["distributed_by"], seqs[0]);
    assert_eq!(january["to_review"], serde_json::json!([]));
    assert_eq!(january["nothing_to_do"], true);
    let out = cli
        .run(&["--as", "ben", "history", "--member", "nobody"])
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither a member nor a recipient"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.stop().await.unwrap();
}
