//! Corruption is an error, not a panic: a corpus of damaged data folders,
//! generated at test time, each judged by both `coopledger verify --data`
//! and `coopledger serve` (the real binary, child processes, loopback only).
//!
//! The origin: `coopledger serve` on a folder of its own; a network is
//! founded, members admitted and a few thousand entries submitted (single
//! `Submit`s and `SubmitBatch`es, contributions and evaluations), every
//! receipt remembered. Midway the server is stopped cleanly (SIGTERM) and
//! the folder copied: the rollback snapshot. Then it is restarted, filled,
//! its signed checkpoint and every leaf read back, and stopped cleanly.
//!
//! The variants, each on fresh copies of the origin: every file of the
//! folder deleted, truncated (to 0, 10, 50, 90 %, minus its last byte, minus
//! its last 4 KiB) and with one bit flipped (in its first 64 bytes, at
//! random offsets, near its end; in a big file also in the header of every
//! sled log segment and the message after it); and whole-folder cases: `sled/` replaced by
//! the snapshot's, the whole data folder replaced by the snapshot (what lies
//! beside the data folder kept), `sled/` empty, `sled/` gone, and the
//! `checkpoint` file replaced by the snapshot's; plus the intact folder as a
//! control. The damage positions come from a seeded RNG printed at the start
//! (`COOPLEDGER_CORRUPTION_SEED=<seed>` replays them; the origin itself has
//! fresh keys every run, so positions are the same relative to file sizes).
//!
//! For every variant, `verify --data` and `serve` each run on their own copy
//! (sled may rewrite a folder when it opens it) within a time limit, and:
//! (i) neither panics; (ii) neither hangs; (iii) both refuse or both accept;
//! (iv) whatever accepts holds at least the origin's log, every receipt at
//! its sequence with its id, the origin's signed root at the origin's size;
//! (v) a refusal names a path inside the data folder or an entry / sequence
//! number (naming only the data folder itself is not enough); (vi) the `checkpoint` file never gains a checkpoint of a size up
//! to the origin's with another root than the origin's at that size.
//! All variants run; the test prints a table, then fails listing every
//! failing variant. It also prints, without failing on them, the files
//! outside `sled/` that a refused `serve` start created, removed or changed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on a broken assumption"
)]

mod common;

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{JAN_2020, admit, contribution_body, entry_id, evaluate_body, found_network};
use common::{id_of, sign, work};
use coopledger::client::{LedgerClient, Signer};
use coopledger::pb;
use coopledger::verify::{Checkpoint, Frontier, leaf_bytes, leaf_hash, pae};
use tonic::transport::{Channel, Endpoint};

/// Entries in the origin log (the last request may overshoot a little).
const ENTRIES: usize = 2_400;
/// The rollback snapshot is taken once the log holds this many entries.
const SNAPSHOT_AFTER: usize = 1_200;
/// Most variants run: the control and the whole-folder cases first, then
/// per file deletion, truncations, header and end flips, then random flips
/// across the files until the budget is spent.
const MAX_VARIANTS: usize = 120;
/// Bit flips in a file's first 64 bytes.
const HEADER_FLIPS: usize = 2;
/// Bit flips in a file's last 64 bytes.
const END_FLIPS: usize = 1;
/// Bit flips at random offsets of a file ...
const RANDOM_FLIPS: usize = 3;
/// ... and of a file of at least [`BIG_FILE`] bytes.
const BIG_FILE_RANDOM_FLIPS: usize = 40;
const BIG_FILE: u64 = 64 * 1024;
/// sled 0.34's log segments (its default `segment_size`) and their header:
/// a file of at least [`BIG_FILE`] bytes also gets a flip in the header of
/// every segment after the first, and one in the message that follows it.
const SEGMENT: u64 = 512 * 1024;
const SEGMENT_HEADER: u64 = 20;
/// Time for `verify --data` to finish, for `serve` to serve or exit, and for
/// reading a serving log back; past it the command "hangs".
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for a server to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Variants run at the same time.
const PARALLEL: usize = 2;
/// Entries in one `SubmitBatch`: a random number in this range.
const BATCH: (u64, u64) = (20, 60);
/// One request in three is a batch.
const BATCH_ONE_IN: u64 = 3;
/// One entry in four is an evaluation (of an earlier contribution).
const EVALUATE_ONE_IN: u64 = 4;
/// Entries per `ListEntries` call when reading a log back.
const PAGE: u64 = 10_000;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi` (near enough for a test).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// An offset in `lo..hi`, drawn as a fraction of the span (so a seed
    /// picks the same relative places in files of slightly other sizes).
    fn offset(&mut self, lo: u64, hi: u64) -> u64 {
        let span = hi.saturating_sub(lo).max(1);
        lo + (u128::from(self.next() % 1_000_000) * u128::from(span) / 1_000_000) as u64
    }
}

/// The seed: `COOPLEDGER_CORRUPTION_SEED` if set, else from the clock.
fn seed() -> u64 {
    match std::env::var("COOPLEDGER_CORRUPTION_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .expect("COOPLEDGER_CORRUPTION_SEED must be a decimal u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
    }
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

/// The `coopledger` binary with a clean environment for these tests.
fn coopledger() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coopledger"));
    cmd.env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .env_remove("COOPLEDGER_DATA")
        .env_remove("COOPLEDGER_AS")
        .env_remove("COOPLEDGER_HOME")
        .env_remove("COOPLEDGER_SERVER")
        .stdin(Stdio::null());
    cmd
}

/// Reads a pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for `child` until `deadline`; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a bounded command did: its exit status (`None`: it was still
/// running at the time limit and was killed) and what it printed.
struct Ran {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end, killing it at `timeout`. Blocking.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Ran {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coopledger");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_until(&mut child, Instant::now() + timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ran {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A `coopledger serve` child that printed where it serves. Dropping it
/// kills (SIGKILL) and reaps the process, so none outlives the test.
struct Serving {
    child: Child,
    /// `http://127.0.0.1:PORT`, as printed.
    url: String,
    /// The log key it printed.
    log_key: [u8; 32],
    /// Everything it printed on stderr so far.
    lines: Arc<Mutex<Vec<String>>>,
}

/// How a `coopledger serve` start went.
enum Start {
    Serving(Serving),
    /// It exited before serving.
    Exited {
        status: ExitStatus,
        stderr: String,
    },
    /// Neither served nor exited within the time limit (it was killed).
    Hung {
        stderr: String,
    },
}

impl Serving {
    /// Starts `coopledger serve` on 127.0.0.1:0 over `data` and waits for
    /// its "serving" line or its exit. Blocking.
    fn start(data: &Path, timeout: Duration) -> Start {
        let mut child = coopledger()
            .arg("serve")
            // Reads here check storage, not membership.
            .arg("--public-read")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start `coopledger serve`");
        let stderr = child.stderr.take().expect("the child's stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn({
            let lines = lines.clone();
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("coopledger serving ") {
                        let _ = tx.send(line.clone());
                    }
                    lines.lock().unwrap().push(line);
                }
            }
        });
        let text = |lines: &Arc<Mutex<Vec<String>>>| lines.lock().unwrap().join("\n");
        let line = match rx.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                return Start::Hung {
                    stderr: text(&lines),
                };
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Its stderr closed: it is exiting.
                let status = match wait_until(&mut child, Instant::now() + STOP_TIMEOUT) {
                    Some(status) => status,
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Start::Hung {
                            stderr: text(&lines),
                        };
                    }
                };
                return Start::Exited {
                    status,
                    stderr: text(&lines),
                };
            }
        };
        // `coopledger serving <key hex> on http://127.0.0.1:PORT (data in …); …`
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.len() > 4 && words[3] == "on",
            "unexpected serving line: {line}"
        );
        let log_key = hex::decode(words[2])
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .unwrap_or_else(|| panic!("no 32-byte log key in the serving line: {line}"));
        let url = words[4].to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "the server must listen on loopback only: {line}"
        );
        Start::Serving(Serving {
            child,
            url,
            log_key,
            lines,
        })
    }

    /// SIGTERM, then waits for the exit; `None` if it did not exit within
    /// [`STOP_TIMEOUT`] (it is then killed). Returns its whole stderr too.
    /// Blocking.
    fn stop(&mut self) -> (Option<ExitStatus>, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM failed");
        let status = wait_until(&mut self.child, Instant::now() + STOP_TIMEOUT);
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        (status, self.lines.lock().unwrap().join("\n"))
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        // Already reaped after `stop`: both calls then fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A channel to `url` on its own TCP connection.
async fn connect(url: &str) -> Result<Channel, String> {
    Endpoint::from_shared(url.to_string())
        .expect("a valid URL")
        .connect_timeout(Duration::from_secs(10))
        .timeout(COMMAND_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("connect to {url}: {e}"))
}

// ---------------------------------------------------------------------------
// Reading a served log back
// ---------------------------------------------------------------------------

/// A log as a server serves it, checked for its own consistency.
struct Served {
    /// The log key the server presents (GetServerInfo).
    log_key: [u8; 32],
    /// Its signed checkpoint note.
    note: String,
    /// Every entry's id, by sequence (as many as the checkpoint's size).
    ids: Vec<[u8; 32]>,
    /// Every entry's leaf hash, by sequence.
    leaves: Vec<[u8; 32]>,
}

fn status_text(what: &str, s: &tonic::Status) -> String {
    format!("{what}: {:?}: {}", s.code(), s.message())
}

/// Reads the whole log from the server at `url`: its info, its signed
/// checkpoint (verified with the key it presents), every entry (no gaps, ids
/// are the envelopes', no id twice, nothing past the checkpoint), and the
/// checkpoint's root against the served leaves. Any RPC failure or
/// inconsistency is the error.
async fn read_served(url: &str) -> Result<Served, String> {
    let mut client = LedgerClient::new(connect(url).await?);
    let info = client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .map_err(|s| status_text("GetServerInfo", &s))?
        .into_inner();
    let log_key: [u8; 32] = info
        .log_public_key
        .as_slice()
        .try_into()
        .map_err(|_| "GetServerInfo: the log key is not 32 bytes".to_string())?;
    let signed = client
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .map_err(|s| status_text("GetCheckpoint", &s))?
        .into_inner();
    let checkpoint = Checkpoint::verify(&signed.note, &log_key)
        .map_err(|e| format!("GetCheckpoint: the note does not verify: {e}"))?;
    if (info.log_size, info.root.as_slice()) != (checkpoint.size, &checkpoint.root[..]) {
        return Err(format!(
            "GetServerInfo says size {} but the signed checkpoint says {}",
            info.log_size, checkpoint.size
        ));
    }
    let size = checkpoint.size;
    let mut ids = Vec::with_capacity(size as usize);
    let mut leaves = Vec::with_capacity(size as usize);
    let mut seen = HashSet::with_capacity(size as usize);
    let mut frontier = Frontier::new();
    while (ids.len() as u64) < size {
        let from = ids.len() as u64;
        let to = (from + PAGE).min(size);
        let mut stream = client
            .list_entries(pb::ListEntriesRequest {
                from_sequence: from,
                to_sequence: to,
                ..Default::default()
            })
            .await
            .map_err(|s| status_text(&format!("ListEntries [{from}, {to})"), &s))?
            .into_inner();
        while let Some(e) = stream
            .message()
            .await
            .map_err(|s| status_text(&format!("ListEntries at {}", ids.len()), &s))?
        {
            let expected = ids.len() as u64;
            if e.sequence != expected {
                return Err(format!(
                    "ListEntries: sequence {} served where {expected} was due",
                    e.sequence
                ));
            }
            let envelope = e
                .envelope
                .ok_or_else(|| format!("entry {expected}: served without its envelope"))?;
            if e.id != id_of(&envelope) {
                return Err(format!("entry {expected}: the id is not its envelope's"));
            }
            let id: [u8; 32] =
                e.id.as_slice()
                    .try_into()
                    .map_err(|_| format!("entry {expected}: the id is not 32 bytes"))?;
            if !seen.insert(id) {
                return Err(format!("entry {expected}: its id is in the log twice"));
            }
            let (Ok(public_key), Ok(signature)) = (
                <[u8; 32]>::try_from(envelope.public_key.as_slice()),
                <[u8; 64]>::try_from(envelope.signature.as_slice()),
            ) else {
                return Err(format!("entry {expected}: a malformed key or signature"));
            };
            let leaf = leaf_hash(&leaf_bytes(
                &pae(&envelope.payload_type, &envelope.payload),
                &public_key,
                &signature,
            ));
            frontier.append(leaf);
            ids.push(id);
            leaves.push(leaf);
        }
        if ids.len() as u64 != to {
            return Err(format!(
                "ListEntries [{from}, {to}) ended early, at {}",
                ids.len()
            ));
        }
    }
    let beyond = client
        .list_entries(pb::ListEntriesRequest {
            from_sequence: size,
            ..Default::default()
        })
        .await
        .map_err(|s| status_text("ListEntries past the checkpoint", &s))?
        .into_inner()
        .message()
        .await
        .map_err(|s| status_text("ListEntries past the checkpoint", &s))?;
    if beyond.is_some() {
        return Err(format!(
            "entries are served past the signed checkpoint of size {size}"
        ));
    }
    if frontier.root() != checkpoint.root {
        return Err(format!(
            "the signed root at size {size} is not the root of the served leaves"
        ));
    }
    Ok(Served {
        log_key,
        note: signed.note,
        ids,
        leaves,
    })
}

// ---------------------------------------------------------------------------
// The origin
// ---------------------------------------------------------------------------

/// An acknowledged entry: a receipt came back with this sequence and id.
#[derive(Clone, Copy)]
struct Ack {
    sequence: u64,
    id: [u8; 32],
}

fn ack(receipt: &pb::Receipt, envelope: &pb::Envelope) -> Ack {
    assert_eq!(
        receipt.id,
        id_of(envelope),
        "a receipt's id is not the envelope's"
    );
    assert!(!receipt.duplicate, "a new entry came back as a duplicate");
    Ack {
        sequence: receipt.sequence,
        id: receipt.id.as_slice().try_into().expect("a 32-byte id"),
    }
}

/// Submits entries to the origin and remembers every receipt.
struct Filler {
    rng: Rng,
    signers: Vec<Signer>,
    /// Acknowledged contributions: (id, author's index in `signers`).
    contributions: Vec<([u8; 32], usize)>,
    /// Makes every entry's body unique.
    counter: i64,
    acks: Vec<Ack>,
}

impl Filler {
    /// The next entry: an evaluation of an earlier contribution by another
    /// member, or a contribution. Returns its author's index if it is a
    /// contribution.
    fn next_entry(&mut self) -> (pb::Envelope, Option<usize>) {
        self.counter += 1;
        let n = self.signers.len() as u64;
        if !self.contributions.is_empty() && self.rng.range(1, EVALUATE_ONE_IN) == 1 {
            let pick = self.rng.range(0, self.contributions.len() as u64 - 1) as usize;
            let (id, author) = self.contributions[pick];
            let evaluator = (author as u64 + self.rng.range(1, n - 1)) % n;
            let body = evaluate_body(
                &entry_id(&id),
                pb::Verdict::Approve,
                Some(self.rng.range(0, 100) as u32),
                &format!("review {}", self.counter),
            );
            (sign(&self.signers[evaluator as usize], body), None)
        } else {
            let author = self.rng.range(0, n - 1) as usize;
            // A minute of January 2020 of its own: no two bodies alike.
            let at = JAN_2020.0 + (self.counter * 60) % (30 * 86_400);
            let body = contribution_body(work(self.rng.range(1, 480), at));
            (sign(&self.signers[author], body), Some(author))
        }
    }

    /// Submits until `total` entries are acknowledged.
    async fn fill(&mut self, client: &mut LedgerClient, total: usize) {
        while self.acks.len() < total {
            let count = if self.rng.range(1, BATCH_ONE_IN) == 1 {
                self.rng.range(BATCH.0, BATCH.1) as usize
            } else {
                1
            };
            let entries: Vec<(pb::Envelope, Option<usize>)> =
                (0..count).map(|_| self.next_entry()).collect();
            let receipts = if count == 1 {
                vec![
                    client
                        .submit(pb::SubmitRequest {
                            envelope: Some(entries[0].0.clone()),
                        })
                        .await
                        .unwrap_or_else(|s| {
                            panic!("Submit refused: {:?}: {}", s.code(), s.message())
                        })
                        .into_inner(),
                ]
            } else {
                client
                    .submit_batch(pb::SubmitBatchRequest {
                        envelopes: entries.iter().map(|(e, _)| e.clone()).collect(),
                    })
                    .await
                    .unwrap_or_else(|s| {
                        panic!("SubmitBatch refused: {:?}: {}", s.code(), s.message())
                    })
                    .into_inner()
                    .receipts
            };
            assert_eq!(receipts.len(), entries.len(), "a receipt per envelope");
            for (receipt, (envelope, author)) in receipts.iter().zip(&entries) {
                let a = ack(receipt, envelope);
                if let Some(author) = author {
                    self.contributions.push((a.id, *author));
                }
                self.acks.push(a);
            }
        }
    }
}

/// The origin folder and everything known about its log.
struct Origin {
    /// Holds `data/` (the server's data folder) and anything the server
    /// keeps beside it.
    root: tempfile::TempDir,
    /// The same, copied when the log held `snapshot_size` entries.
    snapshot: tempfile::TempDir,
    snapshot_size: u64,
    log_key: [u8; 32],
    /// The last signed checkpoint.
    size: u64,
    root_hash: [u8; 32],
    /// The root of the first k entries, for every k in 0..=size.
    roots: Vec<[u8; 32]>,
    /// Every receipt.
    acks: Vec<Ack>,
}

impl Origin {
    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
}

async fn start_origin(data: &Path) -> Serving {
    let data = data.to_path_buf();
    match tokio::task::spawn_blocking(move || Serving::start(&data, COMMAND_TIMEOUT))
        .await
        .expect("the start task")
    {
        Start::Serving(s) => s,
        Start::Exited { status, stderr } => {
            panic!("the origin server exited ({status:?}):\n{stderr}")
        }
        Start::Hung { stderr } => panic!("the origin server did not start:\n{stderr}"),
    }
}

async fn stop_origin(mut server: Serving) {
    let (status, stderr) = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("the stop task");
    assert!(
        status.is_some_and(|s| s.success()) && stderr.contains("stopped cleanly"),
        "the origin server did not stop cleanly on SIGTERM ({status:?}):\n{stderr}"
    );
}

/// Builds the origin with the real binary (see the module doc).
async fn build_origin(rng: &mut Rng) -> Origin {
    let root = tempfile::tempdir().expect("a temporary folder");
    let data = root.path().join("data");
    let server = start_origin(&data).await;
    let mut client = LedgerClient::new(connect(&server.url).await.expect("connect"));
    let network = found_network(&mut client, &["alice"]).await;
    let mut acks = vec![ack(&network.receipt, &network.genesis)];
    let founder = network.founders[0].clone();
    let mut signers = vec![founder.clone()];
    for handle in ["bob", "carol", "dave", "erin"] {
        let (signer, receipt) = admit(&mut client, &founder, handle).await;
        acks.push(Ack {
            sequence: receipt.sequence,
            id: receipt.id.as_slice().try_into().expect("a 32-byte id"),
        });
        signers.push(signer);
    }
    let mut filler = Filler {
        rng: Rng::new(rng.next()),
        signers,
        contributions: Vec::new(),
        counter: 0,
        acks,
    };
    filler.fill(&mut client, SNAPSHOT_AFTER).await;
    let snapshot_size = filler.acks.len() as u64;
    drop(client);
    stop_origin(server).await;
    let snapshot = tempfile::tempdir().expect("a temporary folder");
    copy_tree(root.path(), snapshot.path());

    let server = start_origin(&data).await;
    let mut client = LedgerClient::new(connect(&server.url).await.expect("connect"));
    filler.fill(&mut client, ENTRIES).await;
    drop(client);
    let served = read_served(&server.url)
        .await
        .unwrap_or_else(|e| panic!("reading the origin back: {e}"));
    stop_origin(server).await;

    let checkpoint = Checkpoint::verify(&served.note, &served.log_key).expect("the origin's note");
    let size = checkpoint.size;
    assert_eq!(
        size,
        filler.acks.len() as u64,
        "the origin holds what was acknowledged"
    );
    for a in &filler.acks {
        assert_eq!(
            served.ids[a.sequence as usize], a.id,
            "the origin lost entry {}",
            a.sequence
        );
    }
    let mut frontier = Frontier::new();
    let mut roots = vec![frontier.root()];
    for leaf in &served.leaves {
        frontier.append(*leaf);
        roots.push(frontier.root());
    }
    assert_eq!(roots[size as usize], checkpoint.root);
    // What (vi) reads: the origin's checkpoint file holds its last note.
    assert!(
        checkpoint_file_notes(&data, &served.log_key)
            .iter()
            .any(|(_, cp)| cp.size == size && cp.root == checkpoint.root),
        "the origin's checkpoint file does not hold its last signed checkpoint"
    );
    Origin {
        root,
        snapshot,
        snapshot_size,
        log_key: served.log_key,
        size,
        root_hash: checkpoint.root,
        roots,
        acks: filler.acks,
    }
}

// ---------------------------------------------------------------------------
// Variants
// ---------------------------------------------------------------------------

/// Copies a folder tree (permissions kept: the log key stays 0600).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a copy's folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Every file under `dir`, as paths relative to it with their sizes.
fn walk(dir: &Path) -> Vec<(PathBuf, u64)> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).expect("read a folder") {
            let entry = entry.expect("a folder entry");
            let path = entry.path();
            if entry.file_type().expect("its file type").is_dir() {
                go(base, &path, out);
            } else {
                let len = entry.metadata().expect("its metadata").len();
                out.push((path.strip_prefix(base).expect("inside").to_path_buf(), len));
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

/// What is done to a fresh copy of the origin.
#[derive(Clone)]
enum Damage {
    /// Nothing: the control.
    Intact,
    Delete(PathBuf),
    Truncate(PathBuf, u64),
    Flip(PathBuf, u64, u8),
    /// `sled/` replaced by the snapshot's.
    SledFromSnapshot,
    /// The whole data folder replaced by the snapshot's (siblings kept).
    FolderFromSnapshot,
    /// `sled/` emptied.
    EmptySled,
    /// `sled/` removed.
    NoSled,
    /// The `checkpoint` file replaced by the snapshot's (an older note).
    CheckpointFromSnapshot,
}

#[derive(Clone)]
struct Variant {
    name: String,
    damage: Damage,
}

/// The variants for the origin's files (see [`MAX_VARIANTS`] for the order
/// and the budget).
fn variants(files: &[(PathBuf, u64)], rng: &mut Rng) -> (Vec<Variant>, usize) {
    let v = |name: String, damage: Damage| Variant { name, damage };
    let mut core = vec![
        v("intact copy (control)".into(), Damage::Intact),
        v(
            "sled/ replaced by the snapshot's (rollback)".into(),
            Damage::SledFromSnapshot,
        ),
        v(
            "data folder replaced by the snapshot (rollback)".into(),
            Damage::FolderFromSnapshot,
        ),
        v("sled/ emptied".into(), Damage::EmptySled),
        v("sled/ removed".into(), Damage::NoSled),
        v(
            "checkpoint replaced by the snapshot's".into(),
            Damage::CheckpointFromSnapshot,
        ),
    ];
    let mut random: Vec<Vec<Variant>> = Vec::new();
    for (file, len) in files {
        let len = *len;
        let f = file.display();
        core.push(v(format!("{f}: deleted"), Damage::Delete(file.clone())));
        let cuts = [
            ("truncated to 0%", 0),
            ("truncated to 10%", len / 10),
            ("truncated to 50%", len / 2),
            ("truncated to 90%", len * 9 / 10),
            ("last byte cut", len.saturating_sub(1)),
            ("last 4 KiB cut", len.saturating_sub(4096)),
        ];
        let mut lengths = HashSet::new();
        for (what, to) in cuts {
            if to < len && lengths.insert(to) {
                core.push(v(
                    format!("{f}: {what} ({to} of {len} bytes)"),
                    Damage::Truncate(file.clone(), to),
                ));
            }
        }
        if len == 0 {
            continue;
        }
        let mut offsets = HashSet::new();
        let mut flip = |rng: &mut Rng, what: &str, at: u64| {
            let bit = rng.range(0, 7) as u8;
            offsets.insert(at).then(|| {
                v(
                    format!("{f}: bit {bit} flipped at {at:#x} ({what}, of {len} bytes)"),
                    Damage::Flip(file.clone(), at, bit),
                )
            })
        };
        for _ in 0..HEADER_FLIPS {
            let at = rng.offset(0, len.min(64));
            core.extend(flip(rng, "header", at));
        }
        if len >= BIG_FILE {
            for segment in 1..len.div_ceil(SEGMENT) {
                let start = segment * SEGMENT;
                let at = rng.offset(start, (start + SEGMENT_HEADER).min(len));
                core.extend(flip(rng, &format!("segment {segment} header"), at));
                let at = rng.offset(start + SEGMENT_HEADER, (start + 64).min(len));
                if at < len {
                    core.extend(flip(rng, &format!("segment {segment}, first message"), at));
                }
            }
        }
        for _ in 0..END_FLIPS {
            let at = rng.offset(len.saturating_sub(64), len);
            core.extend(flip(rng, "near the end", at));
        }
        let count = if len >= BIG_FILE {
            BIG_FILE_RANDOM_FLIPS
        } else {
            RANDOM_FLIPS
        };
        let mut mine = Vec::new();
        for _ in 0..count {
            let at = rng.offset(0, len);
            mine.extend(flip(rng, "random", at));
        }
        random.push(mine);
    }
    // Random flips round-robin across the files, while the budget lasts.
    let mut all = core;
    let mut queues: Vec<VecDeque<Variant>> = random.into_iter().map(VecDeque::from).collect();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            all.extend(q.pop_front());
        }
    }
    let dropped = all.len().saturating_sub(MAX_VARIANTS);
    all.truncate(MAX_VARIANTS);
    (all, dropped)
}

/// Makes a damaged copy of the origin under `dest` (which holds `data/` and
/// the origin's siblings of it); returns the copy's data folder.
fn prepare(damage: &Damage, origin: &Origin, dest: &Path) -> PathBuf {
    let data = dest.join("data");
    let snapshot_data = origin.snapshot.path().join("data");
    if let Damage::FolderFromSnapshot = damage {
        std::fs::create_dir_all(dest).unwrap();
        for entry in std::fs::read_dir(origin.root.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "data" {
                let target = dest.join(entry.file_name());
                if entry.file_type().unwrap().is_dir() {
                    copy_tree(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), &target).unwrap();
                }
            }
        }
        copy_tree(&snapshot_data, &data);
        return data;
    }
    copy_tree(origin.root.path(), dest);
    match damage {
        Damage::Intact | Damage::FolderFromSnapshot => {}
        Damage::Delete(file) => std::fs::remove_file(data.join(file)).unwrap(),
        Damage::Truncate(file, len) => std::fs::OpenOptions::new()
            .write(true)
            .open(data.join(file))
            .unwrap()
            .set_len(*len)
            .unwrap(),
        Damage::Flip(file, at, bit) => {
            let path = data.join(file);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[*at as usize] ^= 1 << bit;
            std::fs::write(&path, bytes).unwrap();
        }
        Damage::SledFromSnapshot => {
            std::fs::remove_dir_all(data.join("sled")).unwrap();
            copy_tree(&snapshot_data.join("sled"), &data.join("sled"));
        }
        Damage::EmptySled => {
            std::fs::remove_dir_all(data.join("sled")).unwrap();
            std::fs::create_dir(data.join("sled")).unwrap();
        }
        Damage::NoSled => std::fs::remove_dir_all(data.join("sled")).unwrap(),
        Damage::CheckpointFromSnapshot => {
            std::fs::copy(snapshot_data.join("checkpoint"), data.join("checkpoint")).unwrap();
        }
    }
    data
}

// ---------------------------------------------------------------------------
// Judging
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accepted,
    Refused,
    Panicked,
    Hung,
    /// Ended by a signal other than the test's.
    Killed,
}

/// One command's verdict on a variant.
struct Verdict {
    kind: Kind,
    rc: Option<i32>,
    /// The first line of its message: the error line of a refusal, the
    /// panic line, or what it accepted.
    line: String,
}

impl Verdict {
    fn label(&self) -> String {
        let rc = self.rc.map_or("-".to_string(), |c| c.to_string());
        match self.kind {
            Kind::Accepted => format!("accept rc {rc}"),
            Kind::Refused => format!("refuse rc {rc}"),
            Kind::Panicked => format!("PANIC rc {rc}"),
            Kind::Hung => "HANG".into(),
            Kind::Killed => "KILLED".into(),
        }
    }
}

/// Whether `stderr` shows a panic: the panic line and the message after it.
fn panic_line(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("panicked") || l.contains("RUST_BACKTRACE"))?;
    Some(match lines.get(at + 1) {
        Some(message) if lines[at].ends_with(':') => format!("{} {message}", lines[at]),
        _ => lines[at].to_string(),
    })
}

/// The error line of a refusal: the first `error:` line, else the last line.
fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or("(nothing on stderr)")
        .to_string()
}

/// Whether a refusal names something concrete: a path inside the data
/// folder, or an entry / sequence number.
fn names_something(message: &str, data: &Path) -> bool {
    if message.contains(&format!("{}/", data.display())) {
        return true;
    }
    ["entry ", "entries ", "sequence ", "sequences "]
        .iter()
        .any(|word| {
            message.match_indices(word).any(|(at, _)| {
                message[at + word.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
        })
}

/// Classifies a command that exited (or was killed at the time limit)
/// without serving; `who` prefixes its failures.
fn judge_exit(
    who: &str,
    status: Option<ExitStatus>,
    stderr: &str,
    data: &Path,
    failures: &mut Vec<String>,
) -> Verdict {
    let rc = status.and_then(|s| s.code());
    let Some(status) = status else {
        failures.push(format!(
            "{who}: HANG (still running after {COMMAND_TIMEOUT:?}); last line: {}",
            error_line(stderr)
        ));
        return Verdict {
            kind: Kind::Hung,
            rc,
            line: error_line(stderr),
        };
    };
    if rc == Some(101) || panic_line(stderr).is_some() {
        let line = panic_line(stderr).unwrap_or_else(|| error_line(stderr));
        // What it said after the panic (`serve` turns a panicked replay
        // task into an error line).
        let then = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .map(|l| format!("; then: {l}"))
            .unwrap_or_default();
        failures.push(format!("{who}: PANIC (rc {rc:?}): {line}{then}"));
        return Verdict {
            kind: Kind::Panicked,
            rc,
            line,
        };
    }
    if rc.is_none() {
        failures.push(format!(
            "{who}: killed by a signal ({status:?}): {}",
            error_line(stderr)
        ));
        return Verdict {
            kind: Kind::Killed,
            rc,
            line: error_line(stderr),
        };
    }
    let line = error_line(stderr);
    if status.success() {
        return Verdict {
            kind: Kind::Accepted,
            rc,
            line,
        };
    }
    if !names_something(&line, data) {
        failures.push(format!(
            "{who}: VAGUE refusal (names no file in the folder, no entry): {line}"
        ));
    }
    Verdict {
        kind: Kind::Refused,
        rc,
        line,
    }
}

/// Checks an accepted log's size, root and key against the origin.
fn check_size_and_root(
    who: &str,
    size: u64,
    root: Option<[u8; 32]>,
    log_key: &[u8; 32],
    origin: &Origin,
    failures: &mut Vec<String>,
) {
    if log_key != &origin.log_key {
        failures.push(format!(
            "{who}: accepts the log under another log key {} (the origin's is {})",
            hex::encode(log_key),
            hex::encode(origin.log_key)
        ));
    }
    if size < origin.size {
        failures.push(format!(
            "{who}: SILENT LOSS: accepts a log of {size} entries; the origin signed {} ({} lost)",
            origin.size,
            origin.size - size
        ));
    } else if size > origin.size {
        failures.push(format!(
            "{who}: accepts {size} entries, more than the origin's {}",
            origin.size
        ));
    } else if root.is_some_and(|r| r != origin.root_hash) {
        failures.push(format!(
            "{who}: accepts size {size} with another root than the origin signed"
        ));
    }
}

/// `coopledger verify --data` on the variant's own copy.
async fn run_verify(
    data: &Path,
    home: &Path,
    origin: &Origin,
    failures: &mut Vec<String>,
) -> Verdict {
    let mut cmd = coopledger();
    cmd.arg("--json")
        .arg("verify")
        .arg("--data")
        .arg(data)
        .env("COOPLEDGER_HOME", home)
        .env("COOPLEDGER_SERVER", "http://127.0.0.1:1");
    let ran = tokio::task::spawn_blocking(move || run_bounded(cmd, COMMAND_TIMEOUT))
        .await
        .expect("the verify task");
    let mut verdict = judge_exit("verify", ran.status, &ran.stderr, data, failures);
    if verdict.kind == Kind::Accepted {
        let summary: Option<serde_json::Value> = serde_json::from_str(ran.stdout.trim()).ok();
        let size = summary.as_ref().and_then(|s| s["size"].as_u64());
        let root = summary
            .as_ref()
            .and_then(|s| s["root"].as_str())
            .and_then(|r| hex::decode(r).ok())
            .and_then(|r| <[u8; 32]>::try_from(r).ok());
        let key = summary
            .as_ref()
            .and_then(|s| s["log_public_key"].as_str())
            .and_then(|r| hex::decode(r).ok())
            .and_then(|r| <[u8; 32]>::try_from(r).ok());
        match (size, key) {
            (Some(size), Some(key)) => {
                verdict.line = format!("verified {size} entries");
                check_size_and_root("verify", size, root, &key, origin, failures);
            }
            _ => failures.push(format!(
                "verify: accepted but printed no JSON summary: {}",
                ran.stdout.trim()
            )),
        }
    }
    verdict
}

/// `coopledger serve` on the variant's own copy: refused, or served, read
/// back and stopped with SIGTERM.
async fn run_serve(data: &Path, origin: &Origin, failures: &mut Vec<String>) -> Verdict {
    let start = {
        let data = data.to_path_buf();
        tokio::task::spawn_blocking(move || Serving::start(&data, COMMAND_TIMEOUT))
            .await
            .expect("the start task")
    };
    let mut server = match start {
        Start::Serving(server) => server,
        Start::Exited { status, stderr } => {
            let verdict = judge_exit("serve", Some(status), &stderr, data, failures);
            if verdict.kind == Kind::Accepted {
                failures.push("serve: exited 0 without serving".into());
            }
            return verdict;
        }
        Start::Hung { stderr } => return judge_exit("serve", None, &stderr, data, failures),
    };
    let read = tokio::time::timeout(COMMAND_TIMEOUT, read_served(&server.url)).await;
    let log_key = server.log_key;
    let (status, stderr) = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("the stop task");
    let mut verdict = Verdict {
        kind: Kind::Accepted,
        rc: Some(0),
        line: String::new(),
    };
    match read {
        Err(_) => {
            verdict.line = "reading the log back hung".into();
            failures.push(format!(
                "serve: HANG reading the served log back (over {COMMAND_TIMEOUT:?})"
            ));
        }
        Ok(Err(e)) => {
            verdict.line = format!("serves, but: {e}");
            failures.push(format!("serve: serves, but reading it back fails: {e}"));
        }
        Ok(Ok(served)) => {
            let size = served.ids.len() as u64;
            verdict.line = format!("serves {size} entries");
            if served.log_key != log_key {
                failures.push("serve: GetServerInfo's log key is not the printed one".into());
            }
            let at_origin = (size >= origin.size).then(|| {
                let mut frontier = Frontier::new();
                for leaf in &served.leaves[..origin.size as usize] {
                    frontier.append(*leaf);
                }
                frontier.root()
            });
            check_size_and_root(
                "serve",
                size.min(origin.size),
                at_origin,
                &served.log_key,
                origin,
                failures,
            );
            if size > origin.size {
                failures.push(format!(
                    "serve: serves {size} entries, more than the origin's {}",
                    origin.size
                ));
            }
            let lost: Vec<u64> = origin
                .acks
                .iter()
                .filter(|a| served.ids.get(a.sequence as usize) != Some(&a.id))
                .map(|a| a.sequence)
                .collect();
            if let Some(first) = lost.first() {
                failures.push(format!(
                    "serve: {} acknowledged entries not at their sequence with their id (the first: {first})",
                    lost.len()
                ));
            }
        }
    }
    match status {
        None => failures.push(format!(
            "serve: HANG: no exit within {STOP_TIMEOUT:?} of SIGTERM"
        )),
        Some(s) if !s.success() || !stderr.contains("stopped cleanly") => failures.push(format!(
            "serve: unclean stop after SIGTERM ({s:?}): {}",
            error_line(&stderr)
        )),
        Some(_) => {}
    }
    verdict.rc = status.and_then(|s| s.code());
    if let Some(line) = panic_line(&stderr) {
        failures.push(format!("serve: PANIC while serving: {line}"));
        verdict.kind = Kind::Panicked;
        verdict.line = line;
    }
    verdict
}

/// The checkpoints in the slots of `data/checkpoint` that verify with
/// `log_key`, by slot (none if the file is missing).
fn checkpoint_file_notes(data: &Path, log_key: &[u8; 32]) -> Vec<(usize, Checkpoint)> {
    let Ok(bytes) = std::fs::read(data.join(coopledger::log::CHECKPOINT_FILE)) else {
        return Vec::new();
    };
    bytes
        .chunks(coopledger::log::SLOT_BYTES)
        .take(2)
        .enumerate()
        .filter_map(|(slot, bytes)| {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            let note = String::from_utf8_lossy(&bytes[..end]);
            Checkpoint::verify(&note, log_key).ok().map(|cp| (slot, cp))
        })
        .collect()
}

/// (vi): every checkpoint in the copy's `checkpoint` file that verifies with
/// the origin's key is one the origin signed (its root at that size).
fn check_checkpoint_file(who: &str, data: &Path, origin: &Origin, failures: &mut Vec<String>) {
    for (slot, cp) in checkpoint_file_notes(data, &origin.log_key) {
        if cp.size > origin.size {
            failures.push(format!(
                "{who}: FORK: the checkpoint file (slot {slot}) holds a checkpoint of size {} beyond the origin's {}",
                cp.size, origin.size
            ));
        } else if cp.root != origin.roots[cp.size as usize] {
            failures.push(format!(
                "{who}: FORK: the checkpoint file (slot {slot}) holds a second checkpoint of size {} with root {} (the origin's root at that size is {})",
                cp.size,
                hex::encode(cp.root),
                hex::encode(origin.roots[cp.size as usize])
            ));
        }
    }
}

/// What happened to one variant.
struct Outcome {
    index: usize,
    name: String,
    verify: Verdict,
    serve: Verdict,
    failures: Vec<String>,
    /// Files outside `sled/` that a refused `serve` run created, removed or
    /// changed.
    notes: Vec<String>,
    seconds: f64,
}

/// The files of a data folder outside `sled/`, with their contents.
fn files_beside_sled(data: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    if !data.is_dir() {
        return Vec::new();
    }
    walk(data)
        .into_iter()
        .filter(|(file, _)| !file.starts_with("sled"))
        .map(|(file, _)| {
            let bytes = std::fs::read(data.join(&file)).unwrap_or_default();
            (file, bytes)
        })
        .collect()
}

/// What changed between two [`files_beside_sled`] listings.
fn changes(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)]) -> Vec<String> {
    let mut notes = Vec::new();
    for (file, bytes) in after {
        match before.iter().find(|(f, _)| f == file) {
            None => notes.push(format!("serve created {}", file.display())),
            Some((_, old)) if old != bytes => {
                notes.push(format!("serve rewrote {}", file.display()))
            }
            Some(_) => {}
        }
    }
    for (file, _) in before {
        if !after.iter().any(|(f, _)| f == file) {
            notes.push(format!("serve removed {}", file.display()));
        }
    }
    notes
}

async fn run_variant(index: usize, variant: Variant, origin: Arc<Origin>) -> Outcome {
    let started = Instant::now();
    let work = tempfile::tempdir().expect("a temporary folder");
    let verify_data = prepare(&variant.damage, &origin, &work.path().join("verify"));
    let serve_data = prepare(&variant.damage, &origin, &work.path().join("serve"));
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut failures = Vec::new();
    let verify = run_verify(&verify_data, &home, &origin, &mut failures).await;
    let before = files_beside_sled(&serve_data);
    let serve = run_serve(&serve_data, &origin, &mut failures).await;
    // A serving start rewrites `checkpoint`; what a refused one leaves
    // behind is worth a look.
    let notes = if serve.kind == Kind::Accepted {
        Vec::new()
    } else {
        changes(&before, &files_beside_sled(&serve_data))
    };
    if (verify.kind == Kind::Accepted) != (serve.kind == Kind::Accepted) {
        failures.push(format!(
            "DISAGREE: verify --data {} but serve {}",
            verify.label(),
            serve.label()
        ));
    }
    check_checkpoint_file("verify", &verify_data, &origin, &mut failures);
    check_checkpoint_file("serve", &serve_data, &origin, &mut failures);
    Outcome {
        index,
        name: variant.name,
        verify,
        serve,
        failures,
        notes,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_damaged_folder_is_refused_by_both_or_served_whole() {
    let started = Instant::now();
    let seed = seed();
    println!("corruption test: seed {seed} (COOPLEDGER_CORRUPTION_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);

    let origin = build_origin(&mut rng).await;
    println!(
        "origin: {} entries ({} receipts), root {}, log key {}; snapshot at {} entries; built in {:.1} s",
        origin.size,
        origin.acks.len(),
        hex::encode(origin.root_hash),
        hex::encode(origin.log_key),
        origin.snapshot_size,
        started.elapsed().as_secs_f64()
    );
    for entry in std::fs::read_dir(origin.root.path()).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "data" {
            println!("beside the data folder: {}", name.to_string_lossy());
        }
    }
    let files = walk(&origin.data());
    println!("files in the data folder:");
    for (file, len) in &files {
        println!("  {:<28} {len:>10} bytes", file.display());
    }
    let (variants, dropped) = variants(&files, &mut rng);
    println!(
        "{} variants ({dropped} more dropped by MAX_VARIANTS = {MAX_VARIANTS}), {PARALLEL} at a time",
        variants.len()
    );

    let total = variants.len();
    let origin = Arc::new(origin);
    let queue = Arc::new(Mutex::new(
        variants.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (queue, outcomes, origin) = (queue.clone(), outcomes.clone(), origin.clone());
            tokio::spawn(async move {
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some((index, variant)) = next else { break };
                    let outcome = run_variant(index, variant, origin.clone()).await;
                    let mut done = outcomes.lock().unwrap();
                    println!(
                        "[{:>3}/{total}] {:>3} {}: verify {}, serve {}{} ({:.1} s)",
                        done.len() + 1,
                        outcome.index,
                        outcome.name,
                        outcome.verify.label(),
                        outcome.serve.label(),
                        if outcome.failures.is_empty() {
                            String::new()
                        } else {
                            format!(" — {} failure(s)", outcome.failures.len())
                        },
                        outcome.seconds
                    );
                    done.push(outcome);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a variant worker");
    }
    let mut outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    outcomes.sort_by_key(|o| o.index);

    let mut table = String::new();
    writeln!(
        table,
        "\n{:>3} | {:<62} | {:<14} | {:<14} | {:<4} | verify message | serve message",
        "#", "variant", "verify", "serve", "ok"
    )
    .unwrap();
    for o in &outcomes {
        writeln!(
            table,
            "{:>3} | {:<62} | {:<14} | {:<14} | {:<4} | {} | {}",
            o.index,
            cut(&o.name, 62),
            o.verify.label(),
            o.serve.label(),
            if o.failures.is_empty() { "ok" } else { "FAIL" },
            cut(&o.verify.line, 160),
            cut(&o.serve.line, 160)
        )
        .unwrap();
    }
    println!("{table}");

    println!(
        "files outside sled/ that a refused serve created, removed or changed (not failures):"
    );
    for o in outcomes.iter().filter(|o| !o.notes.is_empty()) {
        println!(
            "{:>3} {} ({}): {}",
            o.index,
            o.name,
            o.serve.label(),
            o.notes.join("; ")
        );
    }

    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| !o.failures.is_empty()).collect();
    let mut report = String::new();
    for o in &failing {
        writeln!(report, "{:>3} {}", o.index, o.name).unwrap();
        for f in &o.failures {
            writeln!(report, "      {f}").unwrap();
        }
    }
    let count = |what: &str| {
        outcomes
            .iter()
            .filter(|o| o.failures.iter().any(|f| f.contains(what)))
            .count()
    };
    println!(
        "corruption test: {} variants, {} failing: panic {}, hang {}, disagree {}, silent loss {}, vague refusal {}, fork {}; {:.1} s (seed {seed})",
        outcomes.len(),
        failing.len(),
        count("PANIC"),
        count("HANG"),
        count("DISAGREE"),
        count("SILENT LOSS"),
        count("VAGUE"),
        count("FORK"),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failing.is_empty(),
        "{} of {} damaged folders failed (seed {seed}):\n{report}",
        failing.len(),
        outcomes.len()
    );
}
