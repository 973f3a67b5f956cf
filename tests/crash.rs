//! Nothing acknowledged is lost when the server is killed: the real
//! `coopledger serve` binary, a child process on 127.0.0.1 over its own
//! folder, is driven by 32 concurrent clients (single `Submit`s and
//! `SubmitBatch`es) and killed with SIGKILL at a random moment, round after
//! round, then restarted on the same folder. After each restart every entry
//! that got a receipt is at its sequence with its id, the log has no gaps and
//! no id twice, and the signed checkpoint verifies with the log key and
//! matches the root recomputed from the served leaves.
//!
//! The moments and the load come from a seeded RNG, printed at the start
//! (`COOPLEDGER_CRASH_SEED=<seed>` replays them); the test ends with
//! `crash test: rounds R, kills K, acknowledged A, lost L` and asserts L = 0.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{JAN_2020, admit, contribution_body, found_network, id_of, sign, work};
use coopledger::client::{LedgerClient, Signer};
use coopledger::pb;
use coopledger::verify::{Checkpoint, Frontier, leaf_bytes, leaf_hash, pae};
use tonic::transport::{Channel, Endpoint};

/// Kill-and-restart rounds: at least `MIN_ROUNDS`, then more up to
/// `MAX_ROUNDS` while the test has run less than `BUDGET` (restarts replay
/// the whole log, so later rounds are slower; a busy machine gets fewer).
const MIN_ROUNDS: u32 = 20;
const MAX_ROUNDS: u32 = 24;
const BUDGET: Duration = Duration::from_secs(60);
/// Concurrent clients in each round, each on its own connection.
const CLIENTS: usize = 32;
/// The load phase of a round lasts a random time in this range (ms) before
/// the kill.
const LOAD_MS: (u64, u64) = (40, 400);
/// Entries in one `SubmitBatch`: a random number in this range.
const BATCH: (u64, u64) = (12, 48);
/// One request in four is a batch.
const BATCH_ONE_IN: u64 = 4;
/// A (re)start that does not serve within this time fails the test.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
/// Entries per `ListEntries` call when reading the whole log back.
const PAGE: u64 = 20_000;
/// `GetEntry` spot checks of acknowledged entries after each restart.
const SPOT_CHECKS: usize = 32;

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
}

/// The seed: `COOPLEDGER_CRASH_SEED` if set, else from the clock.
fn seed() -> u64 {
    match std::env::var("COOPLEDGER_CRASH_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .expect("COOPLEDGER_CRASH_SEED must be a decimal u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
    }
}

/// A running `coopledger serve` child process. Dropping it kills the process
/// (SIGKILL) and reaps it, so no server outlives the test on any path.
struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    url: String,
    /// The log key it printed.
    log_key: [u8; 32],
    /// Its last lines on stderr, for failure messages.
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts `coopledger serve` on 127.0.0.1:0 over `data` and waits (at
    /// most [`RESTART_TIMEOUT`]) for the line saying where it serves.
    fn start(data: &Path) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .arg("serve")
            // Reads here check storage, not membership.
            .arg("--public-read")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            // Snapshots every few hundred entries, so kills land before,
            // during and after snapshot writes, and restarts fold a tail on
            // top of a snapshot.
            .arg("--max-replay-entries")
            .arg("300")
            .env("RUST_LOG", "warn")
            .env_remove("COOPLEDGER_DATA")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start `coopledger serve`");
        let stderr = child.stderr.take().expect("the child's stderr");
        let mut server = ServerProcess {
            child,
            url: String::new(),
            log_key: [0; 32],
            tail: Arc::new(Mutex::new(VecDeque::new())),
        };
        let (tx, rx) = mpsc::channel();
        let tail = server.tail.clone();
        // Reads stderr to its end (the pipe never fills), passing on the
        // "serving" line and keeping the last lines.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("coopledger serving ") {
                    let _ = tx.send(line.clone());
                }
                let mut tail = tail.lock().unwrap();
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let line = match rx.recv_timeout(RESTART_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "the server did not serve within {RESTART_TIMEOUT:?} of its start on {}; its last lines:\n{}",
                data.display(),
                server.tail()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = server.child.wait();
                panic!(
                    "the server exited before serving ({status:?}) on {}; its last lines:\n{}",
                    data.display(),
                    server.tail()
                )
            }
        };
        // `coopledger serving <key hex> on http://127.0.0.1:PORT (data in …); …`
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.len() > 4 && words[3] == "on",
            "unexpected serving line: {line}"
        );
        server.log_key = hex::decode(words[2])
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .unwrap_or_else(|| panic!("no 32-byte log key in the serving line: {line}"));
        server.url = words[4].to_string();
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "the server must listen on loopback only: {line}"
        );
        server
    }

    /// Its last lines on stderr.
    fn tail(&self) -> String {
        let tail = self.tail.lock().unwrap();
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// SIGKILL (`Child::kill` on Unix), then reap it.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Already dead after `kill`: both calls then fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A channel to `url` on its own TCP connection, or the error.
async fn try_connect(url: &str) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(url.to_string())
        .expect("a valid URL")
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(20))
        .connect()
        .await
}

/// An acknowledged entry: a receipt came back with this sequence and id.
#[derive(Clone, Copy, Debug)]
struct Ack {
    sequence: u64,
    id: [u8; 32],
}

/// The acknowledged id `receipt` carries for `envelope`, checked.
fn ack(receipt: &pb::Receipt, envelope: &pb::Envelope) -> Ack {
    assert_eq!(
        receipt.id,
        id_of(envelope),
        "a receipt's id is not the envelope's"
    );
    Ack {
        sequence: receipt.sequence,
        id: receipt.id.as_slice().try_into().expect("a 32-byte id"),
    }
}

/// A contribution by a random one of `signers`.
fn random_entry(rng: &mut Rng, signers: &[Signer]) -> pb::Envelope {
    let signer = &signers[rng.range(0, signers.len() as u64 - 1) as usize];
    let at = JAN_2020.0 + rng.range(0, 30 * 86_400) as i64;
    sign(signer, contribution_body(work(rng.range(1, 480), at)))
}

/// One client's load: submissions until the server dies. Every error must
/// come after `killed` was set (anything else is a refusal the test did not
/// expect); returns the acknowledged entries.
async fn client_load(
    mut client: LedgerClient,
    mut rng: Rng,
    signers: Arc<Vec<Signer>>,
    killed: Arc<AtomicBool>,
) -> Vec<Ack> {
    let mut acks = Vec::new();
    while !killed.load(Ordering::SeqCst) {
        if rng.range(1, BATCH_ONE_IN) == 1 {
            let n = rng.range(BATCH.0, BATCH.1);
            let envelopes: Vec<pb::Envelope> =
                (0..n).map(|_| random_entry(&mut rng, &signers)).collect();
            let sent = client
                .submit_batch(pb::SubmitBatchRequest {
                    envelopes: envelopes.clone(),
                })
                .await;
            match sent {
                Ok(r) => {
                    let receipts = r.into_inner().receipts;
                    assert_eq!(receipts.len(), envelopes.len(), "a receipt per envelope");
                    acks.extend(receipts.iter().zip(&envelopes).map(|(r, e)| ack(r, e)));
                }
                Err(s) => {
                    assert!(
                        killed.load(Ordering::SeqCst),
                        "SubmitBatch refused before the kill: {:?}: {}",
                        s.code(),
                        s.message()
                    );
                    break;
                }
            }
        } else {
            let envelope = random_entry(&mut rng, &signers);
            let sent = client
                .submit(pb::SubmitRequest {
                    envelope: Some(envelope.clone()),
                })
                .await;
            match sent {
                Ok(r) => acks.push(ack(&r.into_inner(), &envelope)),
                Err(s) => {
                    assert!(
                        killed.load(Ordering::SeqCst),
                        "Submit refused before the kill: {:?}: {}",
                        s.code(),
                        s.message()
                    );
                    break;
                }
            }
        }
    }
    acks
}

/// What the check after a restart found.
struct Found {
    /// The log's size (= the checkpoint's).
    size: u64,
    /// Acknowledged entries not at their sequence with their id.
    lost: Vec<String>,
}

/// Reads the whole log back from a restarted server and checks it: no gaps,
/// no id twice, each served id is its envelope's, the signed checkpoint
/// verifies and its root is the one of the served leaves, and every
/// acknowledged entry is at its sequence (whole-log listing, plus `GetEntry`
/// spot checks).
async fn check(server: &ServerProcess, acks: &[Ack], rng: &mut Rng) -> Found {
    let mut client = LedgerClient::new(
        try_connect(&server.url)
            .await
            .expect("connect to the restarted server"),
    );
    let info = client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect("GetServerInfo")
        .into_inner();
    assert_eq!(
        info.log_public_key, server.log_key,
        "the served log key is not the printed one"
    );
    let signed = client
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .expect("GetCheckpoint")
        .into_inner();
    let checkpoint = Checkpoint::verify(&signed.note, &server.log_key)
        .unwrap_or_else(|e| panic!("the checkpoint does not verify: {e}\n{}", signed.note));
    assert_eq!(
        (checkpoint.size, checkpoint.root.to_vec()),
        (signed.size, signed.root.clone()),
        "the checkpoint's fields are not what its note says"
    );

    assert_eq!(
        (info.log_size, info.root.clone()),
        (checkpoint.size, checkpoint.root.to_vec()),
        "the served log size and root are not the signed checkpoint's"
    );
    let size = checkpoint.size;
    let mut ids: Vec<[u8; 32]> = Vec::with_capacity(size as usize);
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
            .expect("ListEntries")
            .into_inner();
        while let Some(e) = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("ListEntries stalled")
            .expect("ListEntries failed")
        {
            let expected = ids.len() as u64;
            assert_eq!(
                e.sequence, expected,
                "a gap in the log: sequence {} served where {expected} was due",
                e.sequence
            );
            let envelope = e.envelope.expect("a logged entry has its envelope");
            assert_eq!(
                e.id,
                id_of(&envelope),
                "entry {expected}: the id is not its envelope's"
            );
            let id: [u8; 32] = e.id.as_slice().try_into().expect("a 32-byte id");
            assert!(
                seen.insert(id),
                "entry {expected}: id {} is in the log twice",
                hex::encode(id)
            );
            let public_key: [u8; 32] = envelope.public_key.as_slice().try_into().expect("key");
            let signature: [u8; 64] = envelope.signature.as_slice().try_into().expect("sig");
            let leaf = leaf_bytes(
                &pae(&envelope.payload_type, &envelope.payload),
                &public_key,
                &signature,
            );
            frontier.append(leaf_hash(&leaf));
            ids.push(id);
        }
        assert_eq!(
            ids.len() as u64,
            to,
            "ListEntries [{from}, {to}) ended early: a gap at the end of the log"
        );
    }
    let beyond = client
        .list_entries(pb::ListEntriesRequest {
            from_sequence: size,
            ..Default::default()
        })
        .await
        .expect("ListEntries past the checkpoint")
        .into_inner()
        .message()
        .await
        .expect("ListEntries past the checkpoint failed");
    assert!(
        beyond.is_none(),
        "the log serves entries past its signed checkpoint of size {size}"
    );
    assert_eq!(
        frontier.root(),
        checkpoint.root,
        "the signed checkpoint's root at size {size} is not the root of the served leaves"
    );

    let mut missing: Vec<&Ack> = acks
        .iter()
        .filter(|a| ids.get(a.sequence as usize) != Some(&a.id))
        .collect();
    missing.sort_by_key(|a| a.sequence);
    let lost: Vec<String> = missing
        .into_iter()
        .map(|a| match ids.get(a.sequence as usize) {
            None => format!(
                "sequence {} (id {}): beyond the end of the log (size {size})",
                a.sequence,
                hex::encode(a.id)
            ),
            Some(other) => format!(
                "sequence {} (id {}): holds id {} instead",
                a.sequence,
                hex::encode(a.id),
                hex::encode(other)
            ),
        })
        .collect();

    for _ in 0..SPOT_CHECKS.min(acks.len()) {
        let a = acks[rng.range(0, acks.len() as u64 - 1) as usize];
        match client
            .get_entry(pb::GetEntryRequest {
                key: Some(pb::get_entry_request::Key::Sequence(a.sequence)),
            })
            .await
        {
            Ok(e) => {
                let e = e.into_inner();
                assert_eq!(e.sequence, a.sequence, "GetEntry answered another sequence");
                assert!(
                    e.id == a.id || !lost.is_empty(),
                    "GetEntry {}: another id than the listing's",
                    a.sequence
                );
            }
            Err(s) => assert!(
                !lost.is_empty(),
                "GetEntry {} failed although the listing had it: {:?}: {}",
                a.sequence,
                s.code(),
                s.message()
            ),
        }
    }
    Found { size, lost }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_sigkill_under_load() {
    let started = Instant::now();
    let seed = seed();
    println!("crash test: seed {seed} (COOPLEDGER_CRASH_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);

    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data);

    // Found the network and admit three members; these receipts count too.
    let mut acks: Vec<Ack> = Vec::new();
    let signers = {
        let mut client = LedgerClient::new(try_connect(&server.url).await.expect("connect"));
        let network = found_network(&mut client, &["alice"]).await;
        acks.push(ack(&network.receipt, &network.genesis));
        let founder = network.founders[0].clone();
        let mut signers = vec![founder.clone()];
        for handle in ["bob", "carol", "dave"] {
            let (signer, receipt) = admit(&mut client, &founder, handle).await;
            acks.push(Ack {
                sequence: receipt.sequence,
                id: receipt.id.as_slice().try_into().expect("a 32-byte id"),
            });
            signers.push(signer);
        }
        Arc::new(signers)
    };

    let mut kills = 0u32;
    let mut rounds = 0u32;
    while rounds < MIN_ROUNDS || (rounds < MAX_ROUNDS && started.elapsed() < BUDGET) {
        rounds += 1;
        let round = rounds;
        // 32 clients, each on its own connection, connected before the load.
        let mut clients = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            clients.push(LedgerClient::new(
                try_connect(&server.url).await.expect("connect a client"),
            ));
        }
        let killed = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|client| {
                tokio::spawn(client_load(
                    client,
                    Rng::new(rng.next()),
                    signers.clone(),
                    killed.clone(),
                ))
            })
            .collect();
        let load_ms = rng.range(LOAD_MS.0, LOAD_MS.1);
        tokio::time::sleep(Duration::from_millis(load_ms)).await;
        killed.store(true, Ordering::SeqCst);
        server.kill();
        kills += 1;
        let mut acked_now = 0;
        for task in tasks {
            let got = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("a client did not stop within 30 s of the kill")
                .expect("a client task failed");
            acked_now += got.len();
            acks.extend(got);
        }

        let restart = Instant::now();
        server = tokio::task::spawn_blocking({
            let data = data.clone();
            move || ServerProcess::start(&data)
        })
        .await
        .expect("the start task");
        let restart_ms = restart.elapsed().as_millis();
        let found = check(&server, &acks, &mut rng).await;
        println!(
            "round {round}: killed after {load_ms} ms, {acked_now} acknowledged (total {}), \
             log size {} after restart, restart {restart_ms} ms",
            acks.len(),
            found.size
        );
        if !found.lost.is_empty() {
            println!(
                "crash test: rounds {round}, kills {kills}, acknowledged {}, lost {}",
                acks.len(),
                found.lost.len()
            );
            let shown: Vec<&String> = found.lost.iter().take(10).collect();
            panic!(
                "round {round} (seed {seed}): {} acknowledged entries lost after a SIGKILL; the first: {shown:#?}",
                found.lost.len()
            );
        }
    }
    // Every round's check found none lost (or the test stopped there).
    let lost = 0;
    println!(
        "crash test: rounds {rounds}, kills {kills}, acknowledged {}, lost {lost}",
        acks.len()
    );
    println!("crash test: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(lost, 0, "acknowledged entries were lost");
    drop(server);
}
