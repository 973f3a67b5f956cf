//! The audit at a million (issue 13, part 3): how long `coopledger verify`
//! takes, and how much memory it holds, on a log of 10,000, 100,000 and 1,000,000
//! entries, both offline (`verify --data FOLDER`) and live (against
//! `coopledger serve` on the same folder, as a member).
//!
//! Each log is built once, outside the timings, through the server's own
//! write path (`Ledger::submit` of checked, signed batches): a genesis by
//! `admin` (also the treasurer), 999 admissions, one policy, then ten
//! monthly periods (January to October 2026), each of contributions by the
//! members (work and expenses), each followed by one peer's evaluation,
//! and the month's recorded distribution at its end, which every audit
//! recomputes. Keys are fixed (seeded); nonces and `created_at_ms` are the
//! real ones, so two builds differ in bytes but not in shape.
//!
//! Every timing runs the release binary (`CARGO_BIN_EXE_coopledger`, built
//! by `cargo bench` with the bench profile) in a fresh config folder, under
//! `/usr/bin/time -v` where it exists for the peak resident memory, and
//! prints the wall time, the peak RSS and the last line the command
//! printed. Runs alternate `--data` and live, `VERIFY_RUNS` times (default
//! 2). The bench stops by itself; it is not a criterion bench because one
//! run of the 1M case is already most of a minute.
//!
//! `COOPLEDGER_BIN=PATH` times another binary (one built from an earlier
//! commit) on the same logs; `COOPLEDGER_VERIFY_PHASES=1` first prints
//! each stage of the work on its own, on one thread (where the time goes).
//!
//! With `COOPLEDGER_VERIFY_DIR=FOLDER` the logs are built in that folder
//! once and reused by later runs (so a before/after pair times the same
//! bytes). One size: `cargo bench --bench verify -- 100k`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coopledger::client::{self, Signer};
use coopledger::ledger::{CheckedEntry, Clock, Limits};
use coopledger::log::Ledger;
use coopledger::payout::{PolicyChoice, preview, record_body};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;
use ed25519_dalek::SigningKey;

/// Members of the cooperative (the issue's 500k log had 1,000).
const MEMBERS: usize = 1000;

/// Entries per `Ledger::submit` call while building.
const BATCH: usize = 1000;

/// Monthly periods in the log: January to October 2026, all ended.
const MONTHS: usize = 10;

/// The adopted policy (as `benches/preview.rs`): work at 25.00 an hour
/// (35.00 tagged `lead`), one approval and no flag validate; 5% to a
/// commons fund, half of the rest repays expenses, the rest shared to work.
const POLICY: &str = r#"{
  "default_rates": {"work": 2500},
  "rates": {"lead": 3500},
  "validation": {"min_approvals": 1, "max_flags": 0},
  "mode": "remaining",
  "buckets": [
    {"type": "fixed", "percent_ppm": 50000, "recipient": "commons"},
    {"type": "reimburse", "percent_ppm": 500000, "kinds": ["expense"]},
    {"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}
  ]
}"#;

/// 2026-01-01T00:00:00Z, seconds.
const JAN_2026: i64 = 1_767_225_600;

/// Days in each month of 2026 from January.
const DAYS: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// `[start, end)` of month `m` (0 = January 2026), seconds.
fn month(m: usize) -> (i64, i64) {
    let start = JAN_2026 + DAYS[..m].iter().sum::<i64>() * 86_400;
    (start, start + DAYS[m] * 86_400)
}

/// The fixed key of a bench identity.
fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0x5e;
    SigningKey::from_bytes(&bytes)
}

/// Checks envelopes as the server does on arrival, on every core.
fn checked(envelopes: Vec<pb::Envelope>) -> Vec<CheckedEntry> {
    let limits = Limits::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = envelopes.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = envelopes
            .chunks(per)
            .map(|part| {
                let limits = &limits;
                s.spawn(move || {
                    part.iter()
                        .map(|e| {
                            let v = VerifiedEnvelope::verify(e, limits.max_payload_bytes)
                                .expect("verify");
                            CheckedEntry::new(v, limits).expect("checks")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a checking thread"))
            .collect()
    })
}

/// Contribution `i` of a month: 4 in 5 work (15 minutes to 8 hours), 1 in 5
/// an expense (5.00 to 500.00), dated inside `period`.
fn contribution(i: u64, period: (i64, i64)) -> Body {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
    x ^= x >> 29;
    let at = period.0 + (x % (period.1 - period.0) as u64) as i64;
    let fields = if i % 5 == 4 {
        pb::Contribution {
            kind: pb::ContributionKind::Expense as i32,
            quantity: 500 + x % 49_501,
            tags: vec!["supplies".into()],
            at,
            note: "receipt in the shared folder".into(),
            ..Default::default()
        }
    } else {
        pb::Contribution {
            kind: pb::ContributionKind::Work as i32,
            quantity: 15 + x % 466,
            tags: if i.is_multiple_of(7) {
                vec!["lead".into()]
            } else {
                vec!["ops".into()]
            },
            at,
            note: "shift on the weekly rota".into(),
            ..Default::default()
        }
    };
    client::contribution_body(fields)
}

/// Signs `pairs` (contribution, evaluation by the next member) of a month
/// on every core, starting at contribution number `from`.
fn sign_pairs(members: &[Signer], from: u64, pairs: u64, period: (i64, i64)) -> Vec<pb::Envelope> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let per = pairs.div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let start = from + t * per;
                    let end = (start + per).min(from + pairs);
                    let mut out = Vec::new();
                    for i in start..end {
                        let m = (i as usize * 7 + i as usize / MEMBERS) % members.len();
                        let c = members[m].sign(contribution(i, period)).expect("sign");
                        let id = client::envelope_id(&c);
                        let reviewer = &members[(m + 1 + i as usize % 13) % members.len()];
                        let verdict = client::evaluate_body(
                            &id,
                            pb::Verdict::Approve,
                            (i % 4 != 0).then_some(60 + (i % 41) as u32),
                            "",
                        );
                        out.push(c);
                        out.push(reviewer.sign(verdict).expect("sign"));
                    }
                    out
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a signing thread"))
            .collect()
    })
}

/// Builds a data folder of about `size` entries; returns the entries and
/// recorded distributions it holds.
fn build(dir: &Path, size: u64) -> (u64, usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ledger = Ledger::open(dir, Limits::default(), Clock::system(), None)
            .await
            .expect("open");
        let log_key = ledger.log_public_key();
        let mut admin = Signer::new("admin", key(1), &[]);
        let g = admin
            .sign(client::genesis_body(
                "Verify bench",
                "EUR",
                2,
                &[("admin".into(), admin.public_key())],
                &log_key,
            ))
            .expect("sign");
        let network = client::envelope_id(&g).0;
        ledger
            .submit(checked(vec![g]), false)
            .await
            .expect("genesis");
        admin.network_id = network.to_vec();
        let members: Vec<Signer> = (0..MEMBERS)
            .map(|i| {
                if i == 0 {
                    Signer::new("admin", key(1), &network)
                } else {
                    Signer::new(format!("m{i:04}"), key(100 + i as u64), &network)
                }
            })
            .collect();
        let mut setup: Vec<_> = members[1..]
            .iter()
            .map(|m| {
                admin
                    .sign(client::admit_body(&m.handle, &m.public_key()))
                    .expect("sign")
            })
            .collect();
        setup.push(
            admin
                .sign(client::grant_body("admin", pb::Role::Treasurer))
                .expect("sign"),
        );
        setup.push(
            admin
                .sign(client::adopt_body(POLICY.as_bytes()))
                .expect("sign"),
        );
        ledger.submit(checked(setup), true).await.expect("setup");
        let per_month = (size - ledger.head().size) / MONTHS as u64;
        let mut numbered = 0u64;
        for m in 0..MONTHS {
            let period = month(m);
            let pairs = (per_month - 1) / 2;
            let mut done = 0;
            while done < pairs {
                let n = (pairs - done).min(25_000);
                let envelopes = sign_pairs(&members, numbered + done, n, period);
                for batch in envelopes.chunks(BATCH) {
                    ledger
                        .submit(checked(batch.to_vec()), true)
                        .await
                        .expect("a batch");
                }
                done += n;
            }
            numbered += pairs;
            let income = 5_000 * pairs;
            let record = {
                let state = ledger.state().expect("the state");
                let p = preview(&state, state.size(), PolicyChoice::Latest, period, income)
                    .expect("a preview");
                record_body(&p)
            };
            let env = admin.sign(client::distribution_body(record)).expect("sign");
            ledger
                .submit(checked(vec![env]), false)
                .await
                .expect("the month's distribution");
        }
        let entries = ledger.head().size;
        ledger.close().await;
        (entries, MONTHS)
    })
}

/// The binary timed: `COOPLEDGER_BIN` (say, a copy built from an earlier
/// commit, for a before/after pair on the same logs), else this build's.
fn binary() -> PathBuf {
    std::env::var_os("COOPLEDGER_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_coopledger")),
        PathBuf::from,
    )
}

/// One timed run of the CLI: wall time, peak RSS (KiB, from `time -v`) and
/// the command's last line of output.
struct Run {
    wall: Duration,
    /// User plus system CPU seconds (from `time -v`): on a machine shared
    /// with other work, the figure that does not depend on the others.
    cpu: Option<f64>,
    rss_kib: Option<u64>,
    last_line: String,
}

/// Runs `coopledger ARGS` with `home` as its config folder, under
/// `/usr/bin/time -v` when there is one; fails loudly if the command fails.
fn run_cli(home: &Path, args: &[&str]) -> Run {
    let bin = binary();
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .env("COOPLEDGER_HOME", home)
        .env_remove("COOPLEDGER_AS")
        .env_remove("COOPLEDGER_SERVER");
    let t = Instant::now();
    let out = cmd.output().expect("run coopledger");
    let wall = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "coopledger {args:?} failed:\n{stdout}\n{stderr}"
    );
    let rss_kib = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok());
    let seconds = |label: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let cpu = seconds("User time (seconds): ")
        .zip(seconds("System time (seconds): "))
        .map(|(u, s)| u + s);
    let last_line = stdout.lines().last().unwrap_or_default().trim().to_string();
    Run {
        wall,
        cpu,
        rss_kib,
        last_line,
    }
}

/// A config folder holding only the admin's key (so live reads are signed
/// by a member), and no witness: every run audits from scratch.
fn fresh_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    coopledger::log::keyfile::write_key(&home.path().join("keys").join("admin.key"), &key(1))
        .expect("the admin key");
    home
}

/// A free port on 127.0.0.1 for the server.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `coopledger serve` on `dir`, ended (by its own child handle) on drop.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    /// Starts the server and waits until its port answers.
    fn start(dir: &Path) -> Server {
        let port = free_port();
        let child = Command::new(binary())
            .args(["serve", "--data", dir.to_str().expect("a UTF-8 path")])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let deadline = Instant::now() + Duration::from_secs(300);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn show(what: &str, run: &Run) {
    println!(
        "  {what:<7} {:>7.2} s wall  {:>7} s CPU  peak RSS {:>5} MiB  | {}",
        run.wall.as_secs_f64(),
        run.cpu.map_or("?".into(), |c| format!("{c:.2}")),
        run.rss_kib.map_or("?".into(), |k| (k / 1024).to_string()),
        run.last_line
    );
}

/// The time this thread has spent on a CPU (`/proc/thread-self/schedstat`,
/// nanoseconds; Linux): on a machine shared with other work, unlike the
/// wall clock, it counts only this thread's own work.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The CPU time of the whole process so far (`/proc/self/stat`, user plus
/// system, in clock ticks of 10 ms).
fn process_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(Duration::from_millis(ticks * 10))
        })
        .unwrap_or(Duration::ZERO)
}

/// Where the time of an audit goes: each stage of the work on its own, on
/// one thread, over the stored log (`COOPLEDGER_VERIFY_PHASES=1`), in CPU
/// time of that thread (so other work on the machine does not count). The
/// per-entry stages run over the first `SAMPLE` entries and are scaled to
/// the whole log (per-entry cost times entries).
fn phases(dir: &Path) {
    const SAMPLE: u64 = 20_000;
    let store = coopledger::log::Store::open(dir).expect("open the store");
    let size = store.head().expect("the head").size;
    let t = thread_cpu();
    let mut bytes = 0usize;
    for item in store.entries(0, size) {
        bytes += item.expect("an entry").1.len();
    }
    let read = thread_cpu() - t;
    let leaves: Vec<_> = store
        .entries(0, SAMPLE.min(size))
        .map(|i| i.expect("an entry").1)
        .collect();
    let per_entry = |f: &dyn Fn(&[u8])| {
        let t = thread_cpu();
        for leaf in &leaves {
            f(leaf);
        }
        (thread_cpu() - t).as_secs_f64() / leaves.len() as f64
    };
    let hash = per_entry(&|l| {
        std::hint::black_box(coopledger::verify::leaf_hash(l));
    });
    let decode = per_entry(&|l| {
        std::hint::black_box(VerifiedEnvelope::decode_stored(l).expect("decodes"));
    });
    let key = per_entry(&|l| {
        let at = l.len() - 96;
        let k: [u8; 32] = l[at..at + 32].try_into().expect("32 bytes");
        std::hint::black_box(ed25519_dalek::VerifyingKey::from_bytes(&k).expect("a key"));
    });
    let full = per_entry(&|l| {
        std::hint::black_box(VerifiedEnvelope::from_leaf_bytes(l).expect("verifies"));
    });
    let n = size as f64;
    println!(
        "  phases (one thread, CPU time): sled read of {size} entries ({} MB) {:.2} s; per entry: \
         leaf hash {:.2} us, decode (parse, protobuf, id) {:.2} us, key decompression {:.2} us, \
         decode + verify_strict {:.2} us; scaled to {size}: hash {:.2} s, decode {:.2} s, \
         decode + verify {:.2} s",
        bytes >> 20,
        read.as_secs_f64(),
        hash * 1e6,
        decode * 1e6,
        key * 1e6,
        full * 1e6,
        hash * n,
        decode * n,
        full * n
    );
    drop(store);
    // The fold alone (no signature): the server's own replay without the
    // state snapshot.
    let store = coopledger::log::Store::open(dir).expect("open the store");
    let mut replayer = coopledger::payout::audit_replayer(None, None);
    let (t, cpu, fold) = (Instant::now(), process_cpu(), thread_cpu());
    coopledger::log::replay_into(
        &store,
        &mut replayer,
        coopledger::log::Signatures::Trust,
        &|_, _| {},
    )
    .expect("the replay");
    // This thread folds (rules, state, recomputed distributions, Merkle
    // nodes); others read and decode.
    let (wall, cpu, fold) = (t.elapsed(), process_cpu() - cpu, thread_cpu() - fold);
    let folded = replayer.finish();
    println!(
        "  phases: replay without signatures (read, decode, rules, fold, recompute, nodes): \
         {:.2} s CPU in all, of which the folding thread {:.2} s; {:.2} s wall; {} members",
        cpu.as_secs_f64(),
        fold.as_secs_f64(),
        wall.as_secs_f64(),
        folded.state.members().count()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks sizes.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: usize = std::env::var("VERIFY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    for (name, size) in [("10k", 10_000u64), ("100k", 100_000), ("1M", 1_000_000)] {
        if !wanted.is_empty() && !wanted.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir: PathBuf = match std::env::var_os("COOPLEDGER_VERIFY_DIR") {
            Some(keep) => PathBuf::from(keep).join(name),
            None => tmp.path().join("data"),
        };
        if !dir.join("sled").exists() {
            let t = Instant::now();
            let (entries, records) = build(&dir, size);
            println!(
                "{name}: built {entries} entries ({MEMBERS} members, {records} recorded distributions) in {:.1?}",
                t.elapsed()
            );
        }
        if std::env::var_os("COOPLEDGER_VERIFY_PHASES").is_some() {
            phases(&dir);
        }
        let data = dir.to_str().expect("a UTF-8 path").to_string();
        println!("{name}: {runs} runs each, alternating");
        for _ in 0..runs {
            let home = fresh_home();
            let run = run_cli(home.path(), &["verify", "--data", &data]);
            show("--data", &run);
            let server = Server::start(&dir);
            let home = fresh_home();
            let run = run_cli(
                home.path(),
                &["--server", &server.url, "--as", "admin", "verify"],
            );
            show("live", &run);
            drop(server);
        }
    }
}
