//! Ingestion benchmarks: signed entries per second landing durably (group
//! commit, flushed) through the real server over loopback gRPC, with
//! `Submit` and `SubmitBatch`, from 1 and 32 clients; then the p50/p99
//! latency of a single `Submit`, from one client alone and from each of 32
//! clients submitting at once. Envelopes are signed before the clock
//! starts: signing is the client's work, verifying is the server's.
//!
//! Run: `cargo bench --bench ingest`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::time::{Duration, Instant};

use coopledger::client::{self, LedgerClient, Signer};
use coopledger::pb::{self, entry::Body};
use coopledger::server::{RunningServer, ServerConfig, start};
use coopledger::verify::generate_key;
use criterion::{Criterion, Throughput, criterion_group};

/// The binary's allocator (`src/main.rs`), so the server in this process
/// allocates as `coopledger serve` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 32;
const BATCH: usize = 500;

struct Bench {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
    url: String,
    members: Vec<Signer>,
}

fn work_body(i: u64) -> Body {
    client::contribution_body(pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: 30 + i % 90,
        tags: vec!["bench".into()],
        at: 1_790_000_000,
        note: "benchmark entry".into(),
        ..Default::default()
    })
}

impl Bench {
    fn new() -> Bench {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, members) = rt.block_on(async {
            let server = start(ServerConfig {
                data_dir: dir.path().to_path_buf(),
                listen: "127.0.0.1:0".parse().expect("addr"),
                limits: Default::default(),
                clock: Default::default(),
                checkpoint_copy: None,
                public_read: true,
                web: true,
                tls: None,
            })
            .await
            .expect("server");
            let mut c = LedgerClient::connect(server.url()).await.expect("connect");
            let info = c
                .get_server_info(pb::GetServerInfoRequest {})
                .await
                .expect("info")
                .into_inner();
            let mut admin = Signer::new("admin", generate_key().expect("key"), &[]);
            let g = admin
                .sign(client::genesis_body(
                    "Bench",
                    "EUR",
                    2,
                    &[("admin".into(), admin.public_key())],
                    &info.log_public_key,
                ))
                .expect("sign");
            let network = client::envelope_id(&g);
            c.submit(pb::SubmitRequest { envelope: Some(g) })
                .await
                .expect("genesis");
            admin.network_id = network.0.to_vec();
            let mut members = Vec::new();
            for i in 0..CLIENTS {
                let m = Signer::new(format!("m{i:02}"), generate_key().expect("key"), &network.0);
                let body = client::admit_body(&m.handle, &m.public_key());
                c.submit(pb::SubmitRequest {
                    envelope: Some(admin.sign(body).expect("sign")),
                })
                .await
                .expect("admit");
                members.push(m);
            }
            (server, members)
        });
        let url = server.url();
        Bench {
            rt,
            server: Some(server),
            _dir: dir,
            url,
            members,
        }
    }

    /// Signs `n` envelopes per client for `clients` clients.
    fn sign(&self, clients: usize, n: usize) -> Vec<Vec<pb::Envelope>> {
        (0..clients)
            .map(|c| {
                (0..n)
                    .map(|i| self.members[c].sign(work_body(i as u64)).expect("sign"))
                    .collect()
            })
            .collect()
    }

    /// Submits each client's envelopes (one by one, or in batches) concurrently
    /// on separate connections and returns the elapsed time.
    fn run(&self, work: Vec<Vec<pb::Envelope>>, batch: Option<usize>) -> Duration {
        self.rt.block_on(async {
            let mut clients = Vec::new();
            for _ in 0..work.len() {
                clients.push(
                    LedgerClient::connect(self.url.clone())
                        .await
                        .expect("connect"),
                );
            }
            let start = Instant::now();
            let tasks: Vec<_> = work
                .into_iter()
                .zip(clients)
                .map(|(envelopes, mut c)| {
                    tokio::spawn(async move {
                        match batch {
                            None => {
                                for e in envelopes {
                                    c.submit(pb::SubmitRequest { envelope: Some(e) })
                                        .await
                                        .expect("submit");
                                }
                            }
                            Some(size) => {
                                let mut it = envelopes.into_iter().peekable();
                                while it.peek().is_some() {
                                    let chunk: Vec<_> = it.by_ref().take(size).collect();
                                    c.submit_batch(pb::SubmitBatchRequest { envelopes: chunk })
                                        .await
                                        .expect("batch");
                                }
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
            start.elapsed()
        })
    }
}

fn ingest(c: &mut Criterion) {
    let bench = Bench::new();
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    // (name, clients, entries per client per iteration, batch size)
    let cases: [(&str, usize, usize, Option<usize>); 4] = [
        ("submit/1-client", 1, 200, None),
        ("submit/32-clients", CLIENTS, 50, None),
        ("submit_batch/1-client", 1, 2 * BATCH, Some(BATCH)),
        ("submit_batch/32-clients", CLIENTS, BATCH, Some(BATCH)),
    ];
    for (name, clients, per_client, batch) in cases {
        g.throughput(Throughput::Elements((clients * per_client) as u64));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let work = bench.sign(clients, per_client);
                    total += bench.run(work, batch);
                }
                total
            })
        });
    }
    g.finish();
    latency(&bench);
    latency_32(&bench);
    let mut bench = bench;
    if let Some(server) = bench.server.take() {
        bench.rt.block_on(server.stop()).expect("stop");
    }
}

/// p50/p99 of one `Submit` from one client, sequential, on an otherwise idle server.
fn latency(bench: &Bench) {
    const N: usize = 2000;
    let envelopes = bench.sign(1, N).remove(0);
    let mut samples = bench.rt.block_on(async {
        let mut c = LedgerClient::connect(bench.url.clone())
            .await
            .expect("connect");
        let mut samples = Vec::with_capacity(N);
        for e in envelopes {
            let t = Instant::now();
            c.submit(pb::SubmitRequest { envelope: Some(e) })
                .await
                .expect("submit");
            samples.push(t.elapsed());
        }
        samples
    });
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "ingest/submit-latency ({N} sequential Submits): p50 {:?}  p99 {:?}  max {:?}",
        pct(50),
        pct(99),
        samples[N - 1]
    );
}

/// p50/p99 of `Submit` from 32 clients at once, each on its own
/// connection submitting one entry after another (durable receipts).
fn latency_32(bench: &Bench) {
    const PER_CLIENT: usize = 100;
    let work = bench.sign(CLIENTS, PER_CLIENT);
    let mut samples = bench.rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            clients.push(
                LedgerClient::connect(bench.url.clone())
                    .await
                    .expect("connect"),
            );
        }
        let tasks: Vec<_> = work
            .into_iter()
            .zip(clients)
            .map(|(envelopes, mut c)| {
                tokio::spawn(async move {
                    let mut samples = Vec::with_capacity(envelopes.len());
                    for e in envelopes {
                        let t = Instant::now();
                        c.submit(pb::SubmitRequest { envelope: Some(e) })
                            .await
                            .expect("submit");
                        samples.push(t.elapsed());
                    }
                    samples
                })
            })
            .collect();
        let mut samples = Vec::new();
        for t in tasks {
            samples.extend(t.await.expect("task"));
        }
        samples
    });
    samples.sort();
    let n = samples.len();
    let pct = |p: usize| samples[(n * p / 100).min(n - 1)];
    println!(
        "ingest/submit-latency-32 ({CLIENTS} clients x {PER_CLIENT} sequential Submits): \
         p50 {:?}  p99 {:?}  max {:?}",
        pct(50),
        pct(99),
        samples[n - 1]
    );
}

criterion_group!(benches, ingest);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
