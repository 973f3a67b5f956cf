//! Restart time: how long `Ledger::open` takes on a data folder of 100,000
//! and 1,000,000 entries (the server answers its port once it returns).
//!
//! Each folder is built once per size, outside the timed loop, through the
//! server's own write path (`Ledger::submit` of checked, signed batches): a
//! genesis, 100 admissions, then contributions (work) by the members, each
//! followed by one peer's evaluation of it. Keys are fixed (seeded) so the
//! same log is built on every run; timestamps are the real clock's.
//!
//! Two benches per size:
//! - `open/snapshot`: what a restart after a clean stop does (the state
//!   snapshot written at the stop, the stored leaves hashed against the
//!   signed checkpoint, no signature checked again);
//! - `open/replay`: the same folder with the snapshot removed: every entry
//!   folded again (signatures still not re-verified; `coopledger verify`
//!   does that).
//!
//! Building a size prints how long the build took, the size of the data
//! folder and of the snapshot.
//!
//! With `COOPLEDGER_STARTUP_DIR=FOLDER` the logs are built in that folder
//! once and reused by later runs.
//!
//! Run: `cargo bench --bench startup` (about 10 minutes on 2 cores, most of
//! it signing and ingesting the 1M log), or one size: `cargo bench --bench
//! startup -- 100k/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coopledger::client::{self, Signer};
use coopledger::ledger::{CheckedEntry, Clock, Limits};
use coopledger::log::{Ledger, SNAPSHOT_FILE};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;
use criterion::{Criterion, SamplingMode, criterion_group};
use ed25519_dalek::SigningKey;

const MEMBERS: usize = 100;
const BATCH: usize = 1000;

fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0xc0;
    SigningKey::from_bytes(&bytes)
}

fn work(i: u64) -> Body {
    client::contribution_body(pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: 30 + i % 90,
        tags: vec!["build".into()],
        at: 1_790_000_000 + (i % 1000) as i64,
        note: "startup bench".into(),
        ..Default::default()
    })
}

fn checked(envelopes: &[pb::Envelope]) -> Vec<CheckedEntry> {
    let limits = Limits::default();
    envelopes
        .iter()
        .map(|e| {
            CheckedEntry::new(
                VerifiedEnvelope::verify(e, limits.max_payload_bytes).expect("verify"),
                &limits,
            )
            .expect("checks")
        })
        .collect()
}

/// Signs `count` entries on every core: contribution `i` by member
/// `i % MEMBERS`, then its evaluation by the next member.
fn sign_entries(members: &[Signer], from: u64, count: u64) -> Vec<pb::Envelope> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let per = count.div_ceil(2 * threads) * 2;
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let start = from + t * per;
                    let end = (start + per).min(from + count);
                    let mut out = Vec::new();
                    let mut i = start;
                    while i < end {
                        let m = (i / 2) as usize % members.len();
                        let c = members[m].sign(work(i)).expect("sign");
                        let id = client::envelope_id(&c);
                        let reviewer = &members[(m + 1) % members.len()];
                        let e = reviewer
                            .sign(client::evaluate_body(
                                &id,
                                pb::Verdict::Approve,
                                Some(80),
                                "",
                            ))
                            .expect("sign");
                        out.push(c);
                        out.push(e);
                        i += 2;
                    }
                    out
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().unwrap()).collect()
    })
}

/// Builds a data folder of `size` entries (genesis and admissions included).
fn build(rt: &tokio::runtime::Runtime, dir: &Path, size: u64) {
    rt.block_on(async {
        let ledger = Ledger::open(dir, Limits::default(), Clock::system(), None)
            .await
            .expect("open");
        let log_key = ledger.log_public_key();
        let admin = Signer::new("admin", key(1), &[]);
        let g = admin
            .sign(client::genesis_body(
                "Startup bench",
                "EUR",
                2,
                &[("admin".into(), admin.public_key())],
                &log_key,
            ))
            .expect("sign");
        let network = client::envelope_id(&g).0;
        ledger.submit(checked(&[g]), false).await.expect("genesis");
        let mut admin = admin;
        admin.network_id = network.to_vec();
        let members: Vec<Signer> = (0..MEMBERS)
            .map(|i| Signer::new(format!("m{i:03}"), key(100 + i as u64), &network))
            .collect();
        let admits: Vec<_> = members
            .iter()
            .map(|m| {
                admin
                    .sign(client::admit_body(&m.handle, &m.public_key()))
                    .expect("sign")
            })
            .collect();
        ledger.submit(checked(&admits), true).await.expect("admit");
        let mut next = ledger.head().size;
        while next < size {
            let chunk = (size - next).min(50_000);
            let envelopes = sign_entries(&members, next, chunk);
            for batch in envelopes.chunks(BATCH) {
                ledger.submit(checked(batch), true).await.expect("batch");
            }
            next = ledger.head().size;
        }
        ledger.close().await;
    });
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => folder_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Opens the folder and closes it again; returns the time to open only
/// (until the ledger could serve).
fn open_once(rt: &tokio::runtime::Runtime, dir: &Path) -> Duration {
    rt.block_on(async {
        let t = Instant::now();
        let ledger = Ledger::open(dir, Limits::default(), Clock::system(), None)
            .await
            .expect("open");
        let took = t.elapsed();
        ledger.close().await;
        took
    })
}

fn startup(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, size) in [("100k", 100_000u64), ("1M", 1_000_000)] {
        // `COOPLEDGER_STARTUP_DIR=FOLDER` keeps the built logs there and
        // reuses them on the next run (for profiling a restart).
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir: PathBuf = match std::env::var_os("COOPLEDGER_STARTUP_DIR") {
            Some(keep) => PathBuf::from(keep).join(name),
            None => tmp.path().join("data"),
        };
        let mut g = c.benchmark_group(name);
        g.sampling_mode(SamplingMode::Flat);
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(30));
        let mut built = dir.join("sled").exists();
        let mut ensure_built = || {
            if !built {
                let t = Instant::now();
                build(&rt, &dir, size);
                println!(
                    "{name}: built {size} entries in {:.1?}; data folder {} MB",
                    t.elapsed(),
                    folder_bytes(&dir) >> 20
                );
                built = true;
            }
        };
        g.bench_function("open/snapshot", |b| {
            ensure_built();
            b.iter_custom(|iters| (0..iters).map(|_| open_once(&rt, &dir)).sum())
        });
        println!(
            "{name}: state snapshot {} MB",
            std::fs::metadata(dir.join(SNAPSHOT_FILE)).map_or(0, |m| m.len() >> 20)
        );
        g.bench_function("open/replay", |b| {
            ensure_built();
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::fs::remove_file(dir.join(SNAPSHOT_FILE)).expect("remove the snapshot");
                    total += open_once(&rt, &dir);
                }
                total
            })
        });
        g.finish();
    }
}

criterion_group!(benches, startup);

fn main() {
    // `RUST_LOG=coopledger=debug` shows where a restart spends its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
