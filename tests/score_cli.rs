//! `coopledger score --scenario`, through the real CLI binary (offline: no
//! server): `--json` prints the report of SCORING.md §7 without the
//! per-contribution explanations, `--full` adds them (the same bytes
//! otherwise), and a refused scenario prints nothing on standard output
//! while standard error names the field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::process::{Command, Output};

use serde_json::Value;

/// A small scenario: a fund, a reimbursement and shares, with a repayment
/// (the expense c4 is approved and repaid in part).
const SCENARIO: &str = r#"{
  "policy": {
    "currency": "EUR", "decimals": 2,
    "default_rates": {"work": "25.00"},
    "validation": {"min_approvals": 1, "max_flags": 0}
  },
  "members": ["alice", "bob", "carol"],
  "contributions": [
    {"id": "c1", "member": "alice", "kind": "work", "quantity": 600, "at": "2026-11-03T10:00:00Z"},
    {"id": "c2", "member": "bob", "kind": "work", "quantity": 120, "at": "2026-11-04T10:00:00Z", "tags": ["lead"]},
    {"id": "c3", "member": "carol", "kind": "work", "quantity": 60, "at": "2026-11-05T10:00:00Z", "rate": null},
    {"id": "c4", "member": "carol", "kind": "expense", "quantity": 90000, "at": "2026-11-06T10:00:00+01:00"}
  ],
  "evaluations": [
    {"contribution": "c1", "evaluator": "bob", "verdict": "approve", "rating": 80},
    {"contribution": "c2", "evaluator": "alice", "verdict": "approve"},
    {"contribution": "c3", "evaluator": "alice", "verdict": "approve", "rating": null},
    {"contribution": "c4", "evaluator": "bob", "verdict": "approve"}
  ],
  "distribution": {
    "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
    "income": 100000,
    "buckets": [
      {"type": "fixed", "percent": "5%", "recipient": "fund"},
      {"type": "reimburse", "percent_ppm": 500000, "kinds": ["expense"]},
      {"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}
    ]
  },
  "about": "score_cli", "expected": {"anything": [1, {"a": 1, "a": 2}]}
}"#;

fn score(scenario: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.json");
    std::fs::write(&file, scenario).unwrap();
    Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .env("COOPLEDGER_HOME", dir.path())
        .args(["score", "--scenario", file.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn json_is_the_report_and_full_adds_the_explanations() {
    let summary = stdout_of(&score(SCENARIO, &["--json"]));
    let report: Value = serde_json::from_str(&summary).unwrap();
    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "currency",
        "income",
        "reserve",
        "payouts",
        "buckets",
        "points",
        "signals",
        "warnings",
        "decimals",
        "period",
        "mode",
        "repayments",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(!keys.contains(&"explanations"), "{keys:?}");
    // 5% of 1000.00 EUR ("5%" converted to 50000 ppm) to the fund; half of
    // the rest repays c4's 900.00 in part.
    assert_eq!(report["payouts"]["fund"], 5000);
    assert_eq!(report["repayments"]["c4"], 47500);
    let paid: u64 = report["payouts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(paid + report["reserve"].as_u64().unwrap(), 100_000);

    let full = stdout_of(&score(SCENARIO, &["--json", "--full"]));
    let with: Value = serde_json::from_str(&full).unwrap();
    assert_eq!(
        with["explanations"]["alice"]["contributions"][0]["id"],
        "c1"
    );
    // The same report, byte for byte, up to the last key, explanations.
    let head = summary.trim_end().strip_suffix('}').unwrap().trim_end();
    assert!(
        full.starts_with(head) && full[head.len()..].starts_with(",\n  \"explanations\": {"),
        "{full}"
    );
    // --full only with --json, and not with --explain.
    assert!(!score(SCENARIO, &["--full"]).status.success());
    assert!(
        !score(SCENARIO, &["--json", "--full", "--explain", "alice"])
            .status
            .success()
    );
    let alice: Value = serde_json::from_str(&stdout_of(&score(
        SCENARIO,
        &["--json", "--explain", "alice"],
    )))
    .unwrap();
    assert_eq!(alice["contributions"][0]["id"], "c1");
}

#[test]
fn a_refusal_names_the_field_and_prints_nothing() {
    // Without the repeated key in `expected`: a refused file is read by the
    // whole-file path, which (converting friendly units) refuses a repeated
    // key anywhere, that one first.
    let base = SCENARIO.replace(r#"{"a": 1, "a": 2}"#, "{}");
    let cases = [
        (
            base.replace("\"quantity\": 90000", "\"quantity\": -5"),
            "contributions[3].quantity: must not be negative",
        ),
        (
            base.replace(
                "\"verdict\": \"approve\"}",
                "\"verdict\": \"approve\", \"verdict\": \"flag\"}",
            ),
            "evaluations[1]: duplicate key \"verdict\"",
        ),
        (
            base.replace("\"rating\": 80", "\"ratin\": 80"),
            "evaluations[0].ratin: unknown field",
        ),
        (
            base.replace("\"5%\"", "\"5.00001%\""),
            "distribution.buckets[0].percent",
        ),
        (
            base.replace("\"bob\", \"carol\"]", "\"bob\", \"bob\"]"),
            "members",
        ),
        (format!("{base} ,"), "trailing"),
    ];
    for (scenario, needle) in cases {
        let out = score(&scenario, &["--json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted, expected {needle:?}");
        assert!(out.stdout.is_empty(), "{needle}: printed on refusal");
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    let out = score(&base, &["--json", "--explain", "nobody"]);
    assert!(!out.status.success() && out.stdout.is_empty());
}
