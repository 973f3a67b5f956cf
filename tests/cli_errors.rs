//! The messages a person meets when something is typed wrong, through the
//! real `coopledger` binary against a real server on 127.0.0.1:0: each row
//! of [`cases`] is a command line and what its message must say (and must
//! not say). Every message is checked to say each sentence once, and to
//! name no raw operating-system error or epoch time.
//!
//! Two messages need more than one command line: a second `serve` on a
//! data folder in use (a real `serve` process holds it), and `--listen`
//! given as a port alone (a real `serve` process listens on it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::members_only_server as server;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "command failed: {stdout}\n{stderr}");
    stdout
}

/// What every refusal message must be: one line of `error: …` (clap's own
/// usage errors aside), each clause said once, no raw OS error, no time as
/// seconds since 1970.
fn well_formed(what: &str, stderr: &str) {
    let message = stderr.trim();
    assert!(message.starts_with("error: "), "{what}: {message}");
    let first = message.lines().next().unwrap_or_default();
    let clauses: Vec<&str> = first
        .split([':', ';', '(', ')'])
        .map(str::trim)
        .filter(|c| c.len() > 12)
        .collect();
    for (i, c) in clauses.iter().enumerate() {
        assert!(
            !clauses[..i].contains(c),
            "{what}: {c:?} is said twice in: {first}"
        );
    }
    assert!(!first.contains("Os {"), "{what}: a raw OS error: {first}");
    assert!(
        !first.contains("(os error"),
        "{what}: a raw OS error: {first}"
    );
    let epoch = first
        .split(|c: char| !c.is_ascii_digit())
        .any(|n| n.len() == 10 && n.starts_with('1'));
    assert!(!epoch, "{what}: a time in epoch seconds: {first}");
}

/// One command line and what its message must and must not contain.
struct Case {
    what: &'static str,
    args: Vec<String>,
    says: &'static [&'static str],
    not: &'static [&'static str],
}

fn case(what: &'static str, args: &[&str], says: &'static [&'static str]) -> Case {
    Case {
        what,
        args: args.iter().map(|a| a.to_string()).collect(),
        says,
        not: &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    // `host:port`, no scheme: accepted wherever a server is named.
    let bare = srv.url().trim_start_matches("http://").to_string();
    let run = |args: Vec<String>| {
        let (home, bare) = (home.path().to_path_buf(), bare.clone());
        async move {
            common::run_cli(
                &home,
                &bare,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .await
        }
    };
    let cli = |args: &[&str]| run(args.iter().map(|a| a.to_string()).collect());

    ok(&cli(&["keygen", "ana"]).await);
    let ben = ok(&cli(&["--json", "keygen", "ben"]).await);
    let ben_key: serde_json::Value = serde_json::from_str(&ben).unwrap();
    let ben_key = ben_key["public_key"].as_str().unwrap().to_string();
    ok(&cli(&[
        "init",
        "--name",
        "Riverside",
        "--currency",
        "EUR",
        "--decimals",
        "2",
    ])
    .await);
    ok(&cli(&["member", "admit", "ben", &ben_key]).await);
    let logged = ok(&cli(&["--json", "log", "work", "1h", "--at", "2026-10-03"]).await);
    let id: serde_json::Value = serde_json::from_str(&logged).unwrap();
    let id = id["id"].as_str().unwrap().to_string();
    // The 6-digit prefix with one typo: the first two neighbouring digits
    // that differ swapped (or, in the rare id whose first six digits are
    // all the same, its last digit changed), so no id starts with it.
    let mut typo: Vec<char> = id[..6].chars().collect();
    match (0..5).find(|&i| typo[i] != typo[i + 1]) {
        Some(i) => typo.swap(i, i + 1),
        None => typo[5] = if typo[5] == '0' { '1' } else { '0' },
    }
    let swapped: String = typo.into_iter().collect();
    assert_ne!(swapped, id[..6], "the typo changes the prefix");

    let mut cases = vec![
        case(
            "a member's handle mistyped in an allocation",
            &["allocate", "--period", "2026-10", "bne=60", "ben=40"],
            &["\"bne\" is not a member", "did you mean ben?"],
        ),
        case(
            "a filter naming nobody",
            &["entries", "--member", "zed"],
            &["\"zed\" is not a member"],
        ),
        case(
            "an identity with no key, one typo from a key that exists",
            &["--as", "bne", "log", "work", "1h"],
            &[
                "no key for bne",
                "there are keys for ana, ben",
                "Did you mean --as ben?",
                "coopledger keygen bne",
            ],
        ),
        case(
            "a time in the future",
            &["log", "work", "1h", "--at", "2099-01-01"],
            &[
                "2099-01-01T00:00:00",
                "is in the future",
                "the server's clock says 20",
            ],
        ),
        case(
            "an id prefix one typo away",
            &["--as", "ben", "evaluate", "SWAPPED", "--approve"],
            &[
                "no contribution id starts with",
                "did you mean",
                "coopledger entries",
            ],
        ),
        case(
            "a subcommand mistyped",
            &["evalute"],
            &["unrecognized subcommand 'evalute'", "'evaluate'"],
        ),
        case(
            "a listen address that is not one",
            &["serve", "--data", "unused", "--listen", "foo"],
            &[
                "\"foo\" is not an address to listen on",
                "127.0.0.1:7070",
                "or 7070",
            ],
        ),
        case(
            "https:// to a plaintext server",
            &["--server", "https://BARE", "info"],
            &[
                "cannot connect securely",
                "plaintext server",
                "never falls back",
            ],
        ),
        case(
            "a server address that is no address",
            &["--server", "not a host", "info"],
            &["is not a valid address", "e.g. 127.0.0.1:7070"],
        ),
        case(
            "a duration with a comma",
            &["log", "work", "1,5h"],
            &["is not a duration", "1h30m"],
        ),
    ];
    cases[0].not = &["Os {"];
    for case in &cases {
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| a.replace("SWAPPED", &swapped).replace("BARE", &bare))
            .collect();
        let out = run(args).await;
        let (stdout, stderr) = text(&out);
        assert!(
            !out.status.success(),
            "{}: expected a refusal, got: {stdout}",
            case.what
        );
        for needle in case.says {
            assert!(
                stderr.contains(needle),
                "{}: expected {needle:?} in: {stderr}",
                case.what
            );
        }
        for needle in case.not {
            assert!(
                !stderr.contains(needle),
                "{}: {needle:?} in: {stderr}",
                case.what
            );
        }
        if !case.what.starts_with("a subcommand") && !case.what.starts_with("a listen") {
            well_formed(case.what, &stderr);
        }
    }

    // The server's address as host:port worked for every command above.
    let info = ok(&cli(&["info"]).await);
    assert!(info.contains(&format!("http://{bare}")), "{info}");
    srv.stop().await.unwrap();
}

/// Waits until `addr` accepts connections (a `serve` child is up).
fn wait_listening(addr: &str, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_port_alone_listens_here_and_a_folder_in_use_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("riverside");
    // A free port, chosen by the system and released for serve to take.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut first = Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["serve", "--public-read", "--data"])
        .arg(&data)
        .args(["--listen", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(&format!("127.0.0.1:{port}"), &mut first);

    let second = Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "0"])
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    let (_, stderr) = text(&second);
    assert!(!second.status.success(), "a second serve started: {stderr}");
    for needle in [
        "another coopledger process holds this data folder",
        &format!("pid {}", first.id()),
        "serve",
        "stop it first",
    ] {
        assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    }
    well_formed("a folder in use", &stderr);
}
