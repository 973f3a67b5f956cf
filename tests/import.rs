//! `coopledger import` against a real server on 127.0.0.1:0: a spreadsheet
//! of past contributions lands as entries attested by an admin on the
//! members' behalf, is scored once reviewed, and can be disputed; a dry run
//! writes nothing; a file with one bad row is refused whole, naming the row
//! and column, with the log unchanged; a non-admin is refused; a rerun adds
//! nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::process::Output;

use common::{Coop, JAN_2020, adopt_body, info, json, run_cli, sign, submit_new};

/// One approval needed, no flag tolerated; work at 30.00 an hour.
const POLICY: &str = r#"{"default_rates":{"work":3000},"validation":{"min_approvals":1,"max_flags":0},
  "mode":"remaining","buckets":[{"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// Three rows of January 2020, typed as people type them.
const HISTORY: &str = "member,kind,quantity,date,note,evidence\n\
bob,work,1h30m,2020-01-10,enclosure CAD,https://example.org/cad\n\
carol,work,30m,2020-01-11,,\n\
bob,work,1.5h,2020-01-12,\"sanding, then more sanding\",\n";

/// A cooperative (alice admin; bob, carol members) with every member's key
/// in a CLI config folder, and files written next to it.
struct Imports {
    coop: Coop,
    home: tempfile::TempDir,
    url: String,
}

impl Imports {
    async fn new() -> Imports {
        let mut coop = Coop::new().await;
        submit_new(&mut coop.client, &sign(&coop.alice, adopt_body(POLICY))).await;
        let home = tempfile::tempdir().unwrap();
        for s in [&coop.alice, &coop.bob, &coop.carol] {
            coopledger::log::keyfile::write_key(
                &home.path().join(format!("keys/{}.key", s.handle)),
                &s.key,
            )
            .unwrap();
        }
        let url = coop.server.url();
        Imports { coop, home, url }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    async fn cli(&self, args: &[&str]) -> Output {
        run_cli(self.home.path(), &self.url, args).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        ok(&self.cli(args).await)
    }

    /// The log's size and root.
    async fn head(&mut self) -> (u64, Vec<u8>) {
        let i = info(&mut self.coop.client).await;
        (i.log_size, i.root)
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed; its stderr.
fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The attested entries, as `entries --kind attest --json` lists them:
/// (id, summary).
async fn attested(im: &Imports) -> Vec<(String, String)> {
    let v = json(
        &im.ok(&["--as", "alice", "--json", "entries", "--kind", "attest"])
            .await,
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_lands_attested_and_is_scored_once_approved() {
    let mut im = Imports::new().await;
    let file = im.file("history.csv", HISTORY);

    // A dry run shows what would land and writes nothing.
    let before = im.head().await;
    let dry = im
        .ok(&["--as", "alice", "import", &file, "--dry-run"])
        .await;
    assert!(
        dry.contains("dry run: 3 of 3 rows would land, attested by alice"),
        "{dry}"
    );
    assert!(dry.contains("bob") && dry.contains("3h"), "{dry}");
    assert_eq!(im.head().await, before, "a dry run writes nothing");

    // Without --yes and without a terminal, it asks for --yes.
    let err = failed(&im.cli(&["--as", "alice", "import", &file]).await);
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(im.head().await, before);

    let done = json(
        &im.ok(&["--as", "alice", "--json", "import", &file, "--yes"])
            .await,
    );
    assert_eq!(done["imported"], 3, "{done}");
    assert_eq!(done["already_in_log"], 0);
    assert_eq!(done["first_sequence"], before.0);
    assert_eq!(done["last_sequence"], before.0 + 2);
    let after = im.head().await;
    assert_eq!(after.0, before.0 + 3);

    // Each is an attestation by alice, for the member the row names, with
    // where it came from.
    let rows = attested(&im).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0]
            .1
            .starts_with("for bob: work 1h30m at 2020-01-10T00:00:00Z")
            && rows[0]
                .1
                .contains("attested by alice; from history.csv row 2 (blake3 "),
        "{rows:?}"
    );
    assert!(rows[1].1.starts_with("for carol: work 30m"), "{rows:?}");
    assert!(
        rows[2].1.contains("\"sanding, then more sanding\""),
        "{rows:?}"
    );
    let member = common::member(&mut im.coop.client, "bob").await;
    assert_eq!(member.contributions, 3, "bob's own work and two attested");

    // Rerunning the same import adds nothing.
    let again = json(
        &im.ok(&["--as", "alice", "--json", "import", &file, "--yes"])
            .await,
    );
    assert_eq!(again["imported"], 0, "{again}");
    assert_eq!(again["already_in_log"], 3);
    assert_eq!(im.head().await, after, "a rerun writes nothing");

    // Reviews: the admin who attested cannot approve what she attested,
    // nor bob what was attested for him; others can. Carol disputes the
    // third row by flagging it.
    let err = failed(
        &im.cli(&["--as", "alice", "evaluate", &rows[0].0, "--approve"])
            .await,
    );
    assert!(
        err.contains("PermissionDenied") && err.contains("attested"),
        "{err}"
    );
    let err = failed(
        &im.cli(&["--as", "bob", "evaluate", &rows[0].0, "--approve"])
            .await,
    );
    assert!(
        err.contains("PermissionDenied") && err.contains("own contribution"),
        "{err}"
    );
    im.ok(&["--as", "carol", "evaluate", &rows[0].0[..12], "--approve"])
        .await;
    im.ok(&["--as", "bob", "evaluate", &rows[1].0, "--approve"])
        .await;
    im.ok(&[
        "--as",
        "carol",
        "evaluate",
        &rows[2].0,
        "--flag",
        "--note",
        "it was 30m",
    ])
    .await;
    let table = im
        .ok(&["--as", "carol", "entries", "--kind", "attest"])
        .await;
    assert!(table.contains("flagged"), "{table}");

    // Scored for the members they name, once valid: bob's 90 minutes and
    // carol's 30 at 30.00 an hour split 100.00 3:1; the flagged row and
    // bob's own unreviewed work count nothing.
    let preview = common::preview(&mut im.coop.client, JAN_2020, Some(10_000)).await;
    let report = json(&preview.report_json);
    assert_eq!(report["payouts"]["bob"], 7_500, "{report}");
    assert_eq!(report["payouts"]["carol"], 2_500, "{report}");
    assert!(report["payouts"].get("alice").is_none(), "{report}");

    // The contributions CSV says who attested each.
    let csv = im
        .ok(&["--as", "carol", "export", "--csv", "contributions"])
        .await;
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",attested_by"), "{header}");
    assert_eq!(
        csv.lines().filter(|l| l.ends_with(",alice")).count(),
        3,
        "{csv}"
    );

    // An import cut short is finished by rerunning it: rows are recognised
    // by what they say, so the file with one more row (here, one added at
    // the top) submits only that row.
    let more = format!(
        "{}carol,work,45m,2020-02-03,,\n{}",
        HISTORY.lines().next().unwrap().to_string() + "\n",
        HISTORY.split_once('\n').unwrap().1
    );
    let file = im.file("history-2.csv", &more);
    let head = im.head().await;
    let done = json(
        &im.ok(&["--as", "alice", "--json", "import", &file, "--yes"])
            .await,
    );
    assert_eq!(done["imported"], 1, "{done}");
    assert_eq!(done["already_in_log"], 3);
    assert_eq!(im.head().await.0, head.0 + 1);
    let rows = attested(&im).await;
    assert!(
        rows[3].1.starts_with("for carol: work 45m at 2020-02-03")
            && rows[3].1.contains("from history-2.csv row 2 "),
        "{rows:?}"
    );
    // An audit replays them through every rule and finds every id the
    // imports kept.
    let audit = im.ok(&["--as", "alice", "verify"]).await;
    let size = im.head().await.0;
    assert!(
        audit.contains(&format!(
            "{size} entries: every signature, every ingestion rule"
        )),
        "{audit}"
    );
    let kept = std::fs::read_dir(im.home.path().join("submitted"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect::<String>();
    for (id, _) in &rows {
        assert!(kept.contains(id.as_str()), "{id} is kept: {kept}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_one_bad_row_is_refused_whole() {
    let mut im = Imports::new().await;
    let before = im.head().await;
    let good = "bob,work,1h,2020-01-10,,\n";
    for (name, text, expected) in [
        (
            "duration.csv",
            format!(
                "member,kind,quantity,date,note,evidence\n{good}carol,work,1h3x,2020-01-11,,\n"
            ),
            vec![
                "row 3, column quantity: \"1h3x\" is not a duration",
                "accepted: work: a duration",
            ],
        ),
        (
            "member.csv",
            format!(
                "member,kind,quantity,date,note,evidence\n{good}{good}bbo,work,1h,2020-01-11,,\n"
            ),
            vec![
                "row 4, column member: \"bbo\" is not a member of this network (did you mean bob?)",
            ],
        ),
        (
            "date.csv",
            format!("member,kind,quantity,date,note,evidence\ncarol,work,2h,11/01/2020,,\n{good}"),
            vec![
                "row 2, column date: \"11/01/2020\" is not a time",
                "2026-11-03",
            ],
        ),
        (
            "column.csv",
            "member,kind,date,note\nbob,work,2020-01-10,\n".to_string(),
            vec!["row 1, column quantity: the header has no quantity column"],
        ),
        (
            "amount.csv",
            format!(
                "member,kind,quantity,date\n{}carol,expense,\"25,50\",2020-01-11\n",
                "bob,work,1h,2020-01-10\n"
            ),
            vec!["row 3, column quantity:", "decimal point"],
        ),
    ] {
        let file = im.file(name, &text);
        for dry in [true, false] {
            let mut args = vec!["--as", "alice", "import", file.as_str(), "--yes"];
            if dry {
                args.push("--dry-run");
            }
            let err = failed(&im.cli(&args).await);
            assert!(
                err.contains("the whole file is refused and nothing was submitted"),
                "{name}: {err}"
            );
            for e in &expected {
                assert!(err.contains(e), "{name}: expected {e:?} in {err}");
            }
            assert_eq!(im.head().await, before, "{name}: the log did not move");
        }
    }
    assert!(attested(&im).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_import() {
    let mut im = Imports::new().await;
    let file = im.file("history.csv", HISTORY);
    let before = im.head().await;
    let err = failed(&im.cli(&["--as", "bob", "import", &file, "--yes"]).await);
    assert!(
        err.contains("bob is not an admin; only admins import history"),
        "{err}"
    );
    assert_eq!(im.head().await, before);
}
