//! How the `coopledger` binary prints, against a real members-only server
//! on 127.0.0.1:0: every client command honours the global `--json` (one
//! JSON document on standard output, or one per line for `tail`), checked
//! against the commands `--help` lists so a new one cannot be missed; and a
//! command whose reader goes away (`coopledger … | head -1`) stops quietly,
//! with no panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Cli, STEP_TIMEOUT};
use serde_json::{Value, json};

/// 10% to the commons, expenses repaid, the rest by approved work.
const POLICY: &str = r#"{"default_rates":{"work":3000},
  "validation":{"min_approvals":1},"mode":"remaining","buckets":[
  {"type":"fixed","percent_ppm":100000,"recipient":"commons"},
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// Commands whose subcommands are listed (and covered) one by one.
const GROUPS: [&str; 3] = ["member", "policy", "distribution"];

/// The commands that print no results and so refuse `--json`.
const NO_JSON: [&str; 2] = ["serve", "demo"];

/// The CLI, remembering which commands (`log`, `member admit`) ran with
/// `--json` and printed JSON.
struct Covered<'a> {
    cli: &'a Cli,
    commands: RefCell<BTreeSet<String>>,
}

impl Covered<'_> {
    /// Runs `args` as `who` with `--json`: it must succeed and print one
    /// JSON document, which is returned.
    async fn json(&self, who: &str, args: &[&str]) -> Value {
        let v = self.cli.json(who, args).await;
        self.commands.borrow_mut().insert(command_name(args));
        v
    }

    /// Logs a contribution as `who` with `--json`; returns its id.
    async fn log(&self, who: &str, kind: &str, amount: &str, at: &str) -> String {
        self.json(who, &["log", kind, amount, "--at", at]).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// `member admit` for `["member", "admit", …]`, `log` for `["log", …]`.
fn command_name(args: &[&str]) -> String {
    match args {
        [group, sub, ..] if GROUPS.contains(group) => format!("{group} {sub}"),
        [command, ..] => command.to_string(),
        [] => panic!("no command"),
    }
}

/// The subcommands a `--help` lists (without `help`).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command the binary offers, groups expanded (`member admit`).
async fn every_command(cli: &Cli) -> BTreeSet<String> {
    let top = common::cli_ok(&cli.run(&["--help"]).await);
    let mut all = BTreeSet::new();
    for name in listed_commands(&top) {
        if GROUPS.contains(&name.as_str()) {
            let help = common::cli_ok(&cli.run(&[&name, "--help"]).await);
            for sub in listed_commands(&help) {
                all.insert(format!("{name} {sub}"));
            }
        } else {
            all.insert(name);
        }
    }
    all
}

/// The binary with `args`, its config folder `home` and server `url`, as
/// `common::run_cli` runs it, but spawned with standard output a pipe.
fn spawn_cli(home: &Path, url: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(args)
        .env("COOPLEDGER_HOME", home)
        .env("COOPLEDGER_SERVER", url)
        .env_remove("COOPLEDGER_AS")
        .env_remove("COOPLEDGER_TLS_CA")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coopledger")
}

/// `tail --from 0 --json` as `who`: the first `count` lines it prints, each
/// parsed as JSON; then the command is stopped.
async fn tail_lines(cli: &Cli, who: &str, count: usize) -> Vec<Value> {
    let mut child = spawn_cli(
        cli.home.path(),
        &cli.url,
        &["--as", who, "--json", "tail", "--from", "0"],
    );
    let stdout = child.stdout.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(count)
            .map(|l| {
                let l = l.unwrap();
                serde_json::from_str::<Value>(&l).unwrap_or_else(|e| panic!("tail: {e}: {l}"))
            })
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(STEP_TIMEOUT, reader).await;
    // tail follows the log until stopped: stop it, also when it stalled (its
    // pipe closing ends the read above).
    child.kill().unwrap();
    child.wait().unwrap();
    lines.expect("tail printed its lines in time").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_command_prints_json_with_json() {
    let (_srv, _data, cli) = common::riverside(POLICY).await;
    let run = Covered {
        cli: &cli,
        commands: RefCell::new(BTreeSet::new()),
    };
    let file = |name: &str| cli.home.path().join(name).to_str().unwrap().to_string();
    // riverside ran these: keygen with --json, the others without.
    run.commands.borrow_mut().insert("keygen".into());
    run.json("ana", &["info"]).await;

    // Members.
    let dan = run.json("ana", &["keygen", "dan"]).await["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let admitted = run.json("ana", &["member", "admit", "dan", &dan]).await;
    assert!(admitted["sequence"].is_u64(), "{admitted}");
    run.json("ana", &["member", "grant", "dan", "treasurer"])
        .await;
    run.json("ana", &["member", "revoke", "dan", "treasurer"])
        .await;
    run.json("ana", &["member", "suspend", "dan", "--reason", "away"])
        .await;
    run.json("ana", &["member", "reinstate", "dan", "--reason", "back"])
        .await;
    let rotated = run.json("dan", &["member", "rotate-key"]).await;
    assert_eq!(rotated["handle"], "dan");
    assert!(rotated["sequence"].is_u64(), "{rotated}");
    assert!(
        Path::new(rotated["retired_key_file"].as_str().unwrap()).exists(),
        "{rotated}"
    );
    let fay = run.json("ana", &["keygen", "fay"]).await["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    run.json(
        "ana",
        &[
            "member",
            "reset-key",
            "dan",
            &fay,
            "--reason",
            "lost laptop",
        ],
    )
    .await;
    let members = run.json("ana", &["member", "list"]).await;
    assert_eq!(members.as_array().unwrap().len(), 4, "{members}");
    run.json("ana", &["member", "show", "cai"]).await;

    // Contributions and reviews.
    let solder = run.log("cai", "work", "2h", "2020-03-05").await;
    let filament = run.log("ana", "expense", "40.00", "2020-03-06").await;
    let draft = run.log("cai", "work", "1h", "2020-03-07").await;
    run.json(
        "cai",
        &["amend", &draft[..12], "work", "90m", "--at", "2020-03-07"],
    )
    .await;
    run.json("cai", &["retract", &draft[..12]]).await;
    for id in [&solder, &filament] {
        run.json("ben", &["evaluate", &id[..12], "--approve"]).await;
    }
    run.json(
        "ben",
        &["allocate", "--period", "2020-03", "ana=50", "cai=50"],
    )
    .await;
    let history_csv = file("history.csv");
    std::fs::write(
        &history_csv,
        "member,kind,quantity,date,note\ncai,work,1h,2020-05-04,old\n",
    )
    .unwrap();
    run.json("ana", &["import", &history_csv, "--dry-run"])
        .await;
    run.json("ana", &["import", &history_csv, "--yes"]).await;
    run.json("ana", &["entries"]).await;

    // Policies.
    let policy_file = file("policy.json");
    run.json("ana", &["policy", "adopt", &policy_file, "--yes"])
        .await;
    run.json("ana", &["policy", "show"]).await;
    run.json("ana", &["policy", "list"]).await;

    // Month end.
    let march = ["--period", "2020-03", "--income", "500.00"];
    run.json("ben", &[&["shares"][..], &march[..]].concat())
        .await;
    run.json("ben", &[&["explain", "cai"][..], &march[..]].concat())
        .await;
    run.json("ben", &[&["distribute"][..], &march[..]].concat())
        .await;
    let recorded = run
        .json(
            "ben",
            &[&["distribute"][..], &march[..], &["--record", "--yes"]].concat(),
        )
        .await;
    assert!(recorded.is_object(), "{recorded}");
    run.json(
        "ben",
        &[
            "distribute",
            "--period",
            "2020-04",
            "--income",
            "100.00",
            "--record",
            "--yes",
        ],
    )
    .await;
    let list = run.json("ben", &["distribution", "list"]).await;
    let (first, second) = (&list[0], &list[1]);

    // `distribution show --json`: what the table shows, in full.
    let sequence = first["sequence"].to_string();
    let shown = run.json("ben", &["distribution", "show", &sequence]).await;
    let money = |recipient: &str, amount: u64| json!({"recipient": recipient, "amount": amount});
    assert_eq!(shown["sequence"], first["sequence"]);
    assert_eq!(shown["id"], first["id"]);
    assert_eq!(shown["treasurer"], "ben");
    assert_eq!(shown["period"], "2020-03");
    assert_eq!(shown["start"], 1_583_020_800);
    assert_eq!(shown["end"], 1_585_699_200);
    assert_eq!(shown["currency"], "EUR");
    assert_eq!(shown["decimals"], 2);
    assert_eq!(shown["income"], 50_000);
    assert_eq!(shown["paid"], 50_000);
    assert_eq!(shown["reserve"], 0);
    assert_eq!(shown["policy_version"], 2);
    assert_eq!(shown["recipients"], 3);
    assert_eq!(shown["claims_repaid"], 1);
    assert_eq!(shown["voided"], Value::Null);
    assert_eq!(
        shown["payouts"],
        json!([
            money("ana", 4_000),
            money("cai", 41_000),
            money("commons", 5_000)
        ])
    );
    assert_eq!(
        shown["buckets"],
        json!([
            {"index": 0, "type": "fixed", "amount": 5_000, "paid": 5_000,
             "payouts": [money("commons", 5_000)]},
            {"index": 1, "type": "reimburse", "amount": 45_000, "paid": 4_000,
             "payouts": [money("ana", 4_000)]},
            {"index": 2, "type": "shares", "amount": 41_000, "paid": 41_000,
             "payouts": [money("cai", 41_000)]},
        ])
    );
    // The same distribution as the table shows it.
    let table = cli.ok("ben", &["distribution", "show", &sequence]).await;
    let digest = shown["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64, "{shown}");
    for needle in [
        shown["id"].as_str().unwrap(),
        digest,
        "policy v2",
        &format!("previewed at log size {}", shown["log_size"]),
        "410.00 EUR",
        "1 claims repaid",
    ] {
        assert!(table.contains(needle), "{needle:?} not in:\n{table}");
    }

    // Voiding the latest, then showing it.
    let latest = second["sequence"].to_string();
    let void = run
        .json(
            "ben",
            &[
                "distribution",
                "void",
                &latest,
                "--reason",
                "wrong income",
                "--yes",
            ],
        )
        .await;
    assert_eq!(void["voided"]["sequence"], second["sequence"]);
    assert_eq!(void["voided"]["id"], second["id"]);
    let voided = run.json("ben", &["distribution", "show", &latest]).await;
    assert_eq!(
        voided["voided"],
        json!({"sequence": void["sequence"], "id": void["id"], "treasurer": "ben",
               "reason": "wrong income"})
    );

    run.json("ben", &["todo"]).await;
    run.json("cai", &["history"]).await;

    // Audits, exports, backups, offline scoring.
    run.json("ana", &["verify"]).await;
    let record = file("cai-record.json");
    let exported = run
        .json("cai", &["export", "--member", "cai", "--proofs", &record])
        .await;
    assert_eq!(exported["member"], "cai");
    assert_eq!(exported["file"], record.as_str());
    run.json("cai", &["verify-record", &record]).await;
    let scenario = file("march.json");
    let written = run
        .json(
            "ben",
            &["export", "--scenario", &scenario, "--period", "2020-03"],
        )
        .await;
    assert_eq!(written["recorded"], true);
    assert_eq!(written["income"], 50_000);
    run.json("ben", &["score", "--scenario", &scenario]).await;
    run.json("ben", &["simulate", "--scenario", &scenario])
        .await;
    let backup = file("backup");
    let backed_up = run.json("ana", &["backup", "--to", &backup]).await;
    assert_eq!(backed_up["log_key_included"], false);
    assert_eq!(backed_up["to"], backup.as_str());

    // tail: one JSON document per line, one line per entry.
    let size = run.json("ana", &["info"]).await["log_size"]
        .as_u64()
        .unwrap();
    let lines = tail_lines(&cli, "ana", usize::try_from(size).unwrap()).await;
    let sequences: Vec<u64> = lines
        .iter()
        .map(|l| l["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, (0..size).collect::<Vec<_>>());
    run.commands.borrow_mut().insert("tail".into());

    // init, on a network of its own.
    let data = tempfile::tempdir().unwrap();
    let other = common::members_only_server(data.path()).await;
    let founder = Cli::new(other.url());
    founder.ok("zoe", &["keygen", "zoe"]).await;
    let founded = Covered {
        cli: &founder,
        commands: RefCell::new(BTreeSet::new()),
    }
    .json("zoe", &["init", "--name", "Elsewhere", "--currency", "EUR"])
    .await;
    assert_eq!(founded["sequence"], 0);
    run.commands.borrow_mut().insert("init".into());

    // The two commands with no results refuse --json rather than ignore it.
    for command in NO_JSON {
        let out = cli.run(&["--json", command]).await;
        common::cli_refused(&out, &["--json"]);
        assert!(out.stdout.is_empty());
    }

    let every = every_command(&cli).await;
    for listed in ["serve", "tail", "member rotate-key", "distribution show"] {
        assert!(every.contains(listed), "{listed} not in {every:?}");
    }
    let missed: Vec<String> = every
        .into_iter()
        .filter(|c| !run.commands.borrow().contains(c) && !NO_JSON.contains(&c.as_str()))
        .collect();
    assert!(
        missed.is_empty(),
        "commands not run with --json here: {missed:?}"
    );
}

/// Runs `args` as `who` with standard output a pipe whose reader is gone
/// before the first byte is written (`… | head -0`); returns the exit
/// status and standard error.
async fn reader_gone_at_once(cli: &Cli, who: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut child = spawn_cli(cli.home.path(), &cli.url, &[&["--as", who], args].concat());
    drop(child.stdout.take());
    finish(child).await
}

/// Waits for `child`; its exit status and standard error.
async fn finish(mut child: Child) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (child.wait().unwrap().code(), err)
    })
    .await
    .unwrap()
}

/// The status a shell reports for a pipeline's command its reader stopped.
const QUIET: Option<i32> = Some(141);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_reader_goes_away_stops_quietly() {
    let (_srv, _data, cli) = common::riverside(POLICY).await;
    // Enough history that `entries` prints more than a pipe holds (64 KiB).
    let rows: String = (0..1_000)
        .map(|i| format!("cai,work,1h,2020-03-{:02},row {i}\n", 1 + i % 28))
        .collect();
    let csv = cli.home.path().join("history.csv");
    std::fs::write(&csv, format!("member,kind,quantity,date,note\n{rows}")).unwrap();
    cli.ok("ana", &["import", csv.to_str().unwrap(), "--yes"])
        .await;
    let id = cli
        .ok(
            "ben",
            &[
                "--print-id",
                "distribute",
                "--period",
                "2020-03",
                "--income",
                "500.00",
                "--record",
                "--yes",
            ],
        )
        .await;
    let id = &id.trim()[..12];

    // The reader gone before a byte is written: tables, JSON, CSV.
    for args in [
        &["entries"][..],
        &["--json", "entries"],
        &["distribution", "show", id],
        &["--json", "distribution", "show", id],
        &["distribution", "show", id, "--csv"],
        &["export", "--csv", "contributions"],
        &["history", "--member", "cai"],
        &["history", "--member", "cai", "--csv"],
        &["todo"],
    ] {
        let (code, err) = reader_gone_at_once(&cli, "ben", args).await;
        assert!(
            code == QUIET && err.is_empty(),
            "{args:?}: exit {code:?}, stderr: {err}"
        );
    }

    // The reader reads one line of a long listing, then goes.
    let mut child = spawn_cli(cli.home.path(), &cli.url, &["--as", "ben", "entries"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    assert!(first.starts_with("SEQ"), "{first}");
    let (code, err) = finish(child).await;
    assert!(!err.contains("panicked") && err.is_empty(), "stderr: {err}");
    assert_eq!(code, QUIET, "the listing should outgrow the pipe");

    // Only a gone reader is quiet: the same listing read to the end succeeds.
    let full = cli.ok("ben", &["entries"]).await;
    assert!(full.len() > 64 << 10, "{} bytes", full.len());
}
