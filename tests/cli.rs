//! The `coopledger` command line against a real server on 127.0.0.1:0: a
//! member's month typed as a person would, the refusals a person would hit,
//! server pinning, and the demo.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::members_only_server as server;

async fn cli(home: &Path, server: &str, args: &[&str]) -> Output {
    common::run_cli(home, server, args).await
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

fn refused(out: &Output, needle: &str) {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

fn public_key(keygen_json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(keygen_json).unwrap();
    v["public_key"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_month_through_the_cli() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = server(data.path()).await;
    let url = srv.url();
    let h = home.path();

    ok(&cli(h, &url, &["keygen", "ana"]).await);
    let ben = public_key(&ok(&cli(h, &url, &["--json", "keygen", "ben"]).await));
    let cai = public_key(&ok(&cli(h, &url, &["--json", "keygen", "cai"]).await));
    let mode = std::fs::metadata(h.join("keys/ben.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    ok(&cli(
        h,
        &url,
        &["init", "--name", "Riverside Makers", "--currency", "EUR"],
    )
    .await);
    ok(&cli(h, &url, &["member", "admit", "ben", &ben]).await);
    ok(&cli(h, &url, &["member", "admit", "cai", &cai]).await);
    ok(&cli(h, &url, &["member", "grant", "ben", "treasurer"]).await);
    let members: serde_json::Value =
        serde_json::from_str(&ok(&cli(h, &url, &["--json", "member", "list"]).await)).unwrap();
    let handles: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["ana", "ben", "cai"]);
    // The log is members-only: the CLI signs reads as its identity, and
    // one with none is told what to do.
    let stranger = tempfile::tempdir().unwrap();
    let out = cli(stranger.path(), &url, &["member", "list"]).await;
    refused(&out, "members-only");
    refused(&out, "--as HANDLE");
    assert_eq!(
        members[1]["roles"],
        serde_json::json!(["member", "treasurer"])
    );

    let logged: serde_json::Value = serde_json::from_str(&ok(&cli(
        h,
        &url,
        &[
            "--json",
            "log",
            "work",
            "1h30m",
            "--tag",
            "design",
            "--note",
            "enclosure CAD",
            "--at",
            "2026-11-03",
        ],
    )
    .await))
    .unwrap();
    let id = logged["id"].as_str().unwrap().to_string();
    ok(&cli(
        h,
        &url,
        &[
            "--as",
            "ben",
            "log",
            "expense",
            "25.50",
            "--at",
            "2026-11-04T10:00:00Z",
        ],
    )
    .await);

    // The stored entry holds exactly what was typed, in the log's units.
    let entries: serde_json::Value = serde_json::from_str(&ok(&cli(
        h,
        &url,
        &[
            "--json",
            "entries",
            "--kind",
            "contribution",
            "--period",
            "2026-11",
        ],
    )
    .await))
    .unwrap();
    let summaries: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    assert!(
        summaries[0].starts_with("work 1h30m at 2026-11-03T00:00:00Z [design]"),
        "{}",
        summaries[0]
    );
    let table = ok(&cli(
        h,
        &url,
        &["entries", "--member", "ben", "--kind", "contribution"],
    )
    .await);
    assert!(table.contains("expense 25.50"), "{table}");

    // Review by id prefix, allocation for the month.
    ok(&cli(
        h,
        &url,
        &[
            "--as",
            "ben",
            "evaluate",
            &id[..10],
            "--approve",
            "--rating",
            "80",
        ],
    )
    .await);
    ok(&cli(
        h,
        &url,
        &[
            "--as", "cai", "allocate", "--period", "2026-11", "ana=70", "ben=30",
        ],
    )
    .await);

    // Refusals a person would hit: the server's code and words reach them.
    refused(
        &cli(h, &url, &["evaluate", &id, "--approve"]).await,
        "PermissionDenied",
    );
    refused(
        &cli(h, &url, &["--as", "cai", "member", "admit", "dee", &ben]).await,
        "PermissionDenied",
    );
    refused(
        &cli(
            h,
            &url,
            &["--as", "cai", "allocate", "--period", "2026-11", "cai=100"],
        )
        .await,
        "PermissionDenied",
    );
    refused(
        &cli(h, &url, &["log", "work", "45"]).await,
        "not a duration",
    );
    refused(
        &cli(h, &url, &["log", "expense", "25,50"]).await,
        "decimal point",
    );
    refused(
        &cli(
            h,
            &url,
            &[
                "--as", "cai", "allocate", "--period", "2026-11", "ana=70", "ben=20",
            ],
        )
        .await,
        "sum to 90",
    );

    // Key rotation: the new key signs, the old one is refused by the server.
    let old_key = std::fs::read_to_string(h.join("keys/cai.key")).unwrap();
    ok(&cli(h, &url, &["--as", "cai", "member", "rotate-key"]).await);
    ok(&cli(
        h,
        &url,
        &["--as", "cai", "log", "work", "2h", "--at", "2026-11-05"],
    )
    .await);
    std::fs::write(h.join("keys/cai.key"), old_key).unwrap();
    refused(
        &cli(
            h,
            &url,
            &["--as", "cai", "log", "work", "2h", "--at", "2026-11-05"],
        )
        .await,
        "rotated out",
    );

    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_server_that_changed_its_log_key() {
    let home = tempfile::tempdir().unwrap();
    let first_data = tempfile::tempdir().unwrap();
    let srv = server(first_data.path()).await;
    let url = srv.url();
    ok(&cli(home.path(), &url, &["info"]).await);
    srv.stop().await.unwrap();

    // Another log (new data folder, new log key) where the config expects
    // the first: the pin the CLI wrote for the first server's URL is
    // carried over to the second's (the same as a server replaced behind
    // one address, without racing for the freed port).
    let other_data = tempfile::tempdir().unwrap();
    let other = server(other_data.path()).await;
    let config_path = home.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let pin = config["pins"][&url].clone();
    assert!(pin.is_object(), "the first contact pinned {url}: {config}");
    config["pins"][other.url()] = pin;
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    refused(
        &cli(home.path(), &other.url(), &["info"]).await,
        "not the same log",
    );
    other.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_month_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let out = cli(home.path(), "http://127.0.0.1:1", &["demo"]).await;
    let text = ok(&out);
    for step in [
        "genesis",
        "admit ben",
        "refused cai approves her own work: PermissionDenied",
        "RECIPIENT",
        "commons",
        "records the distribution",
        "refused a late entry into the closed month: FailedPrecondition",
        // The month under scripted attacks (`coopledger simulate`).
        "Could someone game this policy?",
        "Summary (whole payout)",
    ] {
        assert!(text.contains(step), "demo output lacks {step:?}:\n{text}");
    }
    // The demo's policy counts every approval: two sybils take a share.
    let sybils = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("sybil-ring "))
        .expect("a summary line for the sybil ring");
    assert_ne!(sybils.split_whitespace().nth(1), Some("0.00%"), "{sybils}");
}
