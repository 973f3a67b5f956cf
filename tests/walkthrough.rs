//! The README's "A cooperative month in five minutes", run as written.
//!
//! Every ```` ```sh ```` block of that section (up to the next `## `
//! heading) is run, in order, by bash, with the real `coopledger` binary on
//! the `PATH`, in a temporary folder holding a copy of `examples/`, and
//! `set -euo pipefail`: a command that fails, a variable never set, or a
//! file the reader would not have stops the test and names the command.
//! What the runner does that a reader does by hand, and nothing else:
//!
//! - the block that starts the server (`coopledger serve …`, "in one
//!   terminal") runs in the background, on a free port instead of 7070 so
//!   the test never meets another server; every other command reaches it
//!   through `COOPLEDGER_SERVER`, as a reader's reaches 7070 by default;
//! - `cargo build --release` is skipped (the test runs the binary cargo
//!   built for it) and `$PWD/target/release` on the `PATH` is harmless.
//!
//! Then it checks what the story says: the month paid every member, the
//! preview warned about the claim nobody had approved yet, the recorded
//! figures were reproduced offline, and the audit passed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECTION: &str = "## A cooperative month in five minutes";

/// The ```` ```sh ```` blocks of the walkthrough section, in order.
fn sh_blocks(readme: &str) -> Vec<String> {
    let start = readme
        .find(SECTION)
        .unwrap_or_else(|| panic!("README.md has no {SECTION:?} section"));
    let section = &readme[start + SECTION.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block in {SECTION:?}");
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Stops the background server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(
        blocks.len() > 5,
        "the walkthrough has only {} blocks",
        blocks.len()
    );

    let work = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("examples"), &work.path().join("examples"));
    let bin = Path::new(env!("CARGO_BIN_EXE_coopledger"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (serve, rest): (Vec<&String>, Vec<&String>) = blocks
        .iter()
        .partition(|b| b.trim_start().starts_with("coopledger serve"));
    assert_eq!(serve.len(), 1, "one block starts the server: {serve:?}");
    let serve_line = serve[0].lines().next().unwrap();
    let serve_args: Vec<&str> = serve_line
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    // Port 0: the server picks a free port and names it on stderr, so no
    // other test can take the port between a probe and the bind.
    let mut child = Command::new(bin)
        .args(&serve_args)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        // Read every line (the pipe must not fill), sending the first one
        // that names the address.
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(" on http://").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(rest.split(' ').next().unwrap_or("").to_string());
            }
        }
    });
    let server_addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server named its address");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&server_addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut script = String::from(
        "set -euo pipefail\n\
         cargo() { [ \"$*\" = 'build --release' ] || { echo \"cargo $* is not part of the walkthrough\" >&2; return 1; }; }\n\
         set -x\n",
    );
    for block in rest {
        script.push_str(block);
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", &path)
        .env("HOME", work.path())
        .env("COOPLEDGER_SERVER", &server_addr)
        .env_remove("COOPLEDGER_HOME")
        .env_remove("COOPLEDGER_AS")
        .env_remove("COOPLEDGER_TLS_CA")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough stopped ({}); the last commands and their output:\n{}\n--- stdout ---\n{}",
        out.status,
        stderr
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        stdout
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // No progress bar or other noise when stderr is not a terminal: every
    // stderr line is bash's trace of a command.
    for line in stderr.lines() {
        assert!(
            line.starts_with('+'),
            "a command wrote to stderr though it succeeded: {line:?}"
        );
    }

    // What the story says happened.
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .current_dir(work.path())
            .env("COOPLEDGER_HOME", work.path().join(".coopledger-home"))
            .env("COOPLEDGER_SERVER", &server_addr)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The first preview named cai's workshop as not yet approved; once it
    // was approved, no preview warned again.
    assert_eq!(
        stdout.matches("are not yet approved").count(),
        1,
        "one preview warned about unapproved work:\n{stdout}"
    );
    assert!(
        stdout.contains("cai work of 2026-10-24 worth 60.00 EUR (0 approval(s), 0 flag(s))"),
        "the warning named the workshop and its value:\n{stdout}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&run(&["--json", "distribution", "list"])).unwrap();
    let standing: Vec<&serde_json::Value> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["voided"].is_null() || d["voided"] == false)
        .collect();
    assert_eq!(standing.len(), 1, "one standing distribution: {list}");
    let id = standing[0]["id"].as_str().unwrap();
    let csv = run(&["distribution", "show", id, "--csv"]);
    let mut paid = std::collections::BTreeMap::<String, u64>::new();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .contains("recipient,amount_minor_units"),
        "{csv}"
    );
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        *paid.entry(cells[5].to_string()).or_default() += cells[6].parse::<u64>().unwrap();
    }
    for member in ["ana", "ben", "cai"] {
        assert!(
            paid.get(member).copied().unwrap_or(0) > 0,
            "{member} was paid: {csv}"
        );
    }
    // The policy comparison the README draws: two made-up members take a
    // share of the month under the adopted policy and nothing under the
    // EigenTrust draft.
    let sybil_take = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--scenario",
            "october.json",
            "--json",
            "--attack",
            "sybil-ring",
        ];
        args.extend_from_slice(extra);
        let report: serde_json::Value = serde_json::from_str(&run(&args)).unwrap();
        report["simulation"]["outcomes"][0]["total"]["captured"]
            .as_u64()
            .unwrap()
    };
    assert!(sybil_take(&[]) > 0);
    assert_eq!(sybil_take(&["--policy", "examples/trusted-policy.json"]), 0);
    run(&["verify"]);
    drop(server);
}
