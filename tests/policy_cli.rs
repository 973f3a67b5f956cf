//! `coopledger policy adopt|show|list` and policy files in the treasurer's
//! units, through the real CLI binary against a real server on
//! 127.0.0.1:0: the shipped examples adopt and preview as they are, the
//! adopted policy reads in words and amounts and is stored canonical, and a
//! file that is not exact is refused, naming the field and what is
//! accepted, with nothing written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::path::Path;

use common::{TestServer, cli_ok as ok, cli_refused as refused, run_cli};
use coopledger::pb;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.json");
const DRAFT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/draft-policy.json");

fn has_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    }
}

async fn log_size(server: &TestServer) -> u64 {
    server
        .client()
        .await
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .log_size
}

/// ana founds a EUR network (2 decimals) and admits ben and cai.
async fn founded(server: &TestServer, home: &Path) {
    let url = server.url();
    ok(&run_cli(home, &url, &["keygen", "ana"]).await);
    let mut keys = Vec::new();
    for handle in ["ben", "cai"] {
        let out = ok(&run_cli(home, &url, &["--json", "keygen", handle]).await);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        keys.push((handle, v["public_key"].as_str().unwrap().to_owned()));
    }
    ok(&run_cli(
        home,
        &url,
        &[
            "init",
            "--name",
            "Riverside Makers",
            "--currency",
            "EUR",
            "--decimals",
            "2",
        ],
    )
    .await);
    for (handle, key) in &keys {
        ok(&run_cli(home, &url, &["member", "admit", handle, key]).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_examples_adopt_show_and_preview() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let url = server.url();
    founded(&server, h).await;

    // No terminal to ask on: nothing is signed without --yes.
    let before = log_size(&server).await;
    refused(
        &run_cli(h, &url, &["policy", "adopt", EXAMPLE]).await,
        &["--yes"],
    );
    assert_eq!(log_size(&server).await, before);

    let adopted = ok(&run_cli(h, &url, &["policy", "adopt", EXAMPLE, "--yes"]).await);
    has_all(
        &adopted,
        &[
            "to be adopted as version 1",
            "work: 30.00 EUR per hour",
            "adopted the policy in",
            "as version 1",
        ],
    );
    assert_eq!(log_size(&server).await, before + 1);

    let shown = ok(&run_cli(h, &url, &["policy", "show"]).await);
    has_all(
        &shown,
        &[
            "Policy version 1 (the latest), adopted ",
            " by ana ",
            "Mode: remaining —",
            "work: 30.00 EUR per hour",
            "use: 12.50 EUR per unit",
            "tag design: 35.00 EUR per hour of work",
            "money: ×2",
            "tag lead: ×1.2",
            "points lose 5% for every 30 days",
            "at least 1 peer approves it; 2 or more flags make it invalid",
            "1. 5% — fixed: pays 5% of what is left to commons",
            "2. 2.5% — fixed: pays 2.5% of what is left to ana",
            "3. 100% — reimburse: pays back valid expense and money claims",
            "4. 60% — shares: split by points among work and use",
            "5. 50% — allocation (give)",
            "6. 50% — allocation (impartial)",
            "7. 100% — shares (balanced, back-pay)",
            "What the last bucket leaves is the reserve.",
        ],
    );

    // --json: the document as adopted, in the canonical form.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&run_cli(h, &url, &["--json", "policy", "show"]).await)).unwrap();
    assert_eq!(json["default_rates"]["work"], 3000);
    assert_eq!(json["default_rates"]["use"], 1250);
    assert_eq!(json["rates"]["design"], 3500);
    let percents: Vec<u64> = json["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert!(b.get("percent").is_none(), "{b}");
            b["percent_ppm"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        percents,
        [
            50_000, 25_000, 1_000_000, 600_000, 500_000, 500_000, 1_000_000
        ]
    );

    let listed = ok(&run_cli(h, &url, &["policy", "list"]).await);
    has_all(
        &listed,
        &["VERSION", "ana", "5% fixed, 2.5% fixed, 100% reimburse"],
    );
    refused(
        &run_cli(h, &url, &["policy", "show", "--version", "2"]).await,
        &["no policy version 2", "versions 1 to 1"],
    );

    // A month to preview: ana's work, approved by ben; ben's expense.
    let logged = ok(&run_cli(
        h,
        &url,
        &[
            "--json",
            "log",
            "work",
            "2h",
            "--tag",
            "design",
            "--at",
            "2026-11-03",
        ],
    )
    .await);
    let id: serde_json::Value = serde_json::from_str(&logged).unwrap();
    let id = id["id"].as_str().unwrap().to_owned();
    ok(&run_cli(h, &url, &["--as", "ben", "evaluate", &id, "--approve"]).await);
    ok(&run_cli(
        h,
        &url,
        &[
            "--as",
            "ben",
            "log",
            "expense",
            "40.00",
            "--at",
            "2026-11-04",
        ],
    )
    .await);

    let adopted_preview = ok(&run_cli(
        h,
        &url,
        &["shares", "--period", "2026-11", "--income", "1000.00"],
    )
    .await);
    has_all(&adopted_preview, &["policy v1", "commons", "50.00 EUR"]);
    let draft = ok(&run_cli(
        h,
        &url,
        &[
            "shares", "--period", "2026-11", "--income", "1000.00", "--draft", DRAFT,
        ],
    )
    .await);
    // Straight mode: 5% of the whole income to commons, and ana's 2h of
    // design work at 35.00 EUR is the only valid work.
    has_all(&draft, &["policy v0", "commons", "50.00 EUR", "ana"]);
    // The draft adopts as it is, too.
    ok(&run_cli(h, &url, &["policy", "adopt", DRAFT, "--yes"]).await);
    let shown = ok(&run_cli(h, &url, &["policy", "show", "--version", "2"]).await);
    has_all(
        &shown,
        &[
            "Policy version 2 (the latest)",
            "Mode: straight —",
            "work: 32.50 EUR per hour",
            "3. 52.5% — shares: split by points among work and use",
            "4. 17.5% — allocation (give)",
            "The 0% no bucket takes",
        ],
    );
    let first = ok(&run_cli(h, &url, &["policy", "show", "--version", "1"]).await);
    assert!(first.starts_with("Policy version 1, adopted"), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_exact_is_refused_and_nothing_is_written() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let url = server.url();
    founded(&server, h).await;
    let files = tempfile::tempdir().unwrap();

    // (file, substrings of the refusal): field, rule in the user's units,
    // what is accepted.
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"default_rates": {"work": "12.345"}, "buckets": []}"#,
            &[
                "default_rates.work",
                "3 digits after the point",
                "\"12.34\" or \"12.35\"",
            ],
        ),
        (
            r#"{"default_rates": {"work": 25.00}, "buckets": []}"#,
            &[
                "default_rates.work",
                "decimal point",
                "\"25.50\"",
                "2500 = 25.00 EUR",
            ],
        ),
        (
            r#"{"buckets": [{"type": "fixed", "percent": "33.33333%", "recipient": "ana"}]}"#,
            &[
                "buckets[0].percent",
                "not a whole number of ppm",
                "\"33.3333%\"",
            ],
        ),
        (
            r#"{"buckets": [{"type": "fixed", "percent": "120%", "recipient": "ana"}]}"#,
            &["buckets[0].percent:", "120% is more than 100%", "\"40%\""],
        ),
        (
            r#"{"buckets": [{"type": "fixed", "percent_ppm": 1200000, "recipient": "ana"}]}"#,
            &["buckets[0].percent_ppm:", "120% is more than 100%"],
        ),
        (
            r#"{"buckets": [{"type": "fixed", "percent": "5%", "percent_ppm": 55000, "recipient": "ana"}]}"#,
            &["buckets[0]", "percent_ppm is 55000", "agree"],
        ),
        (
            r#"{"default_rates": {"work": "600000000.01"}, "buckets": []}"#,
            &["default_rates.work", "at most 600000000.00 EUR per hour"],
        ),
    ];
    let before = log_size(&server).await;
    for (index, (text, needles)) in cases.iter().enumerate() {
        let file = files.path().join(format!("bad-{index}.json"));
        std::fs::write(&file, text).unwrap();
        let file = file.to_str().unwrap();
        refused(
            &run_cli(h, &url, &["policy", "adopt", file, "--yes"]).await,
            needles,
        );
        // A draft is refused with the same words.
        refused(
            &run_cli(
                h,
                &url,
                &[
                    "shares", "--period", "2026-11", "--income", "10.00", "--draft", file,
                ],
            )
            .await,
            needles,
        );
    }
    assert_eq!(log_size(&server).await, before, "nothing was written");
    refused(
        &run_cli(h, &url, &["policy", "show"]).await,
        &["no policy has been adopted yet"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_in_percents_and_amounts_scores_as_its_canonical_form() {
    let files = tempfile::tempdir().unwrap();
    // A conformance scenario (the repository's `../shared/conformance/`, as
    // tests/conformance.rs reads them), rewritten in percents and amounts.
    let canonical = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/sensorica-remaining.json"
    ))
    .unwrap();
    let mut friendly: serde_json::Value = serde_json::from_str(&canonical).unwrap();
    for (bucket, percent) in friendly["distribution"]["buckets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(["5%", "100%", "100.0000%"])
    {
        let bucket = bucket.as_object_mut().unwrap();
        bucket.remove("percent_ppm");
        bucket.insert("percent".into(), percent.into());
    }
    friendly["policy"]["default_rates"] = serde_json::json!({"resource": "0.00"});
    let mut expected: serde_json::Value = serde_json::from_str(&canonical).unwrap();
    expected["policy"]["default_rates"] = serde_json::json!({"resource": 0});
    let (a, b) = (files.path().join("a.json"), files.path().join("b.json"));
    std::fs::write(&a, expected.to_string()).unwrap();
    std::fs::write(&b, friendly.to_string()).unwrap();
    let score = |file: &Path| {
        let file = file.to_str().unwrap().to_owned();
        let home = files.path().to_path_buf();
        async move {
            ok(&run_cli(
                &home,
                "http://127.0.0.1:1",
                &["score", "--scenario", &file, "--json"],
            )
            .await)
        }
    };
    let report = score(&a).await;
    assert!(report.contains("\"sensorica\": 5000"), "{report}");
    assert_eq!(score(&b).await, report);

    friendly["distribution"]["buckets"][0]["percent"] = "5.00001%".into();
    std::fs::write(&b, friendly.to_string()).unwrap();
    refused(
        &run_cli(
            files.path(),
            "http://127.0.0.1:1",
            &["score", "--scenario", b.to_str().unwrap()],
        )
        .await,
        &[
            "distribution.buckets[0].percent",
            "not a whole number of ppm",
        ],
    );
}
