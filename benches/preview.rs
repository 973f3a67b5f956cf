//! The treasurer's preview over the live ledger state (`cargo bench --bench
//! preview`): what the server does for a `ComputeShares` preview and what
//! the sequencer does when a treasurer records, at 10,000, 100,000 and
//! 1,000,000 contributions in one period.
//!
//! Each cooperative is built once per size, outside the timed loop, by
//! folding signed entries into a [`LedgerState`] exactly as the sequencer
//! does (`LedgerState::check`, then `LedgerState::apply`, at a fixed server
//! clock): a genesis, the admissions, a treasurer grant, one policy (a
//! fixed, a reimburse and a shares bucket), then the period's contributions
//! (work and expenses) interleaved with one peer evaluation each (mostly
//! approvals). Keys, nonces, timestamps and amounts are fixed (a fixed-seed
//! xorshift generator), so every run folds the same log with the same entry
//! ids and scores the same input. Envelopes are signed with
//! `verify::sign_entry` and read back with `VerifiedEnvelope::decode_stored`
//! (the signature is not verified again: that is ingestion's cost, measured
//! by `benches/ingest.rs`).
//!
//! Groups, one per size (`10k`, `100k`, `1M`), each with these benches:
//! - `preview`: `payout::indexed_source_for` (the server holds the state
//!   lock for this step only: reference counts to the fold's scoring
//!   index), `IndexedSource::into_parts` and `payout::score_parts`
//!   (scoring, canonical report and its digest) and `payout::summary_json`
//!   (the report JSON `ComputeShares` streams), as `server::payout` runs
//!   them;
//! - `settle`: `distribution::settle` of the record body that preview gives
//!   (recompute, compare the digest, check no claim is overpaid, derive the
//!   settlement), which the sequencer runs when a treasurer records.
//!
//! Building a size also prints, once, how long setup took, the time of each
//! preview step on its own (best of a few calls), the sizes of the
//! streamed report JSON and of the canonical report, and the process's
//! resident memory (with the state built, and at its peak so far).
//!
//! Each size also has `string-preview`: the same preview with the scoring
//! input built with strings (`input_for`, `score_input`), as the server did
//! before the fold kept a scoring index; building a size prints both
//! paths' steps and checks they give the same digest.
//!
//! `live` (only when selected, `-- live/`): a real server on loopback
//! holding 1,000,000 contributions and as many evaluations in one period,
//! built through `SubmitBatch`; measures `ComputeShares` from request to
//! last byte, the process's peak extra resident memory during previews,
//! and a writer's `Submit` p50/p99 alone and while previews run.
//!
//! Run: `cargo bench --bench preview` (a few minutes on 2 cores; most of it
//! is signing and folding the 1M log), or one size: `cargo bench --bench
//! preview -- 1M/`; the live server: `cargo bench --bench preview --
//! live/` (about 6 minutes, 5 of them building the log).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use coopledger::client::{LedgerClient, contribution_body, evaluate_body, genesis_body};
use coopledger::ledger::{CheckContext, CheckedEntry, LedgerState, Limits};
use coopledger::payout::{
    PolicyChoice, Preview, Priors, indexed_source_for, input_for, preview, record_body,
    score_input, score_parts, settle, summary_json,
};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::{EntryId, VerifiedEnvelope, leaf_bytes, pae, sign_entry};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;

/// The period previewed: October 2026, `[2026-10-01, 2026-11-01)` UTC.
const PERIOD: (i64, i64) = (1_790_812_800, 1_793_491_200);

/// The server's clock while the log is folded (and every entry's
/// `created_at_ms`): one day after the period ended, so a record of the
/// period passes the "has it ended" rule.
const CLOCK_MS: i64 = (PERIOD.1 + 86_400) * 1000;

/// The log key the genesis names (the bench never signs checkpoints).
const LOG_KEY: [u8; 32] = [7; 32];

/// Contributions signed and folded per batch; each batch's evaluations
/// follow it in the log.
const CHUNK: usize = 20_000;

/// Tags a work contribution may carry (the policy rates `lead` and
/// multiplies `design`).
const TAGS: [&str; 6] = ["design", "lead", "ops", "docs", "repair", "admin"];

/// The adopted policy: 25.00 an hour for work (35.00 tagged `lead`), design
/// work weighs 1.1, one approval and no flag validate a contribution; 5% of
/// the income to a commons fund, half of the rest repays approved expense
/// claims, and the remainder is shared pro rata to the period's work points.
const POLICY: &str = r#"{
  "default_rates": {"work": 2500},
  "rates": {"lead": 3500},
  "tag_multiplier_ppm": {"design": 1100000},
  "validation": {"min_approvals": 1, "max_flags": 0},
  "mode": "remaining",
  "buckets": [
    {"type": "fixed", "percent_ppm": 50000, "recipient": "commons"},
    {"type": "reimburse", "percent_ppm": 500000, "kinds": ["expense"]},
    {"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}
  ]
}"#;

/// One measured size: contributions in the period and members.
struct Size {
    /// Group name (`10k`, `100k`, `1M`).
    label: &'static str,
    /// Contributions dated in the period.
    contributions: usize,
    /// Members of the cooperative.
    members: usize,
}

/// The three sizes of issue 8.
const SIZES: [Size; 3] = [
    Size {
        label: "10k",
        contributions: 10_000,
        members: 200,
    },
    Size {
        label: "100k",
        contributions: 100_000,
        members: 1_000,
    },
    Size {
        label: "1M",
        contributions: 1_000_000,
        members: 1_000,
    },
];

/// A fixed-seed xorshift64* generator: the bench's only randomness.
struct Rng(u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A ledger state built by folding a deterministic signed log.
struct Fold {
    /// The folded state.
    state: LedgerState,
    /// The limits the entries are checked against (the server's defaults).
    limits: Limits,
    /// Every member's signing key, by member index.
    keys: Vec<SigningKey>,
    /// Every member's handle, by member index.
    handles: Vec<String>,
    /// The network id, once the genesis is folded.
    network_id: Vec<u8>,
    /// The next entry nonce (a counter: nonces need only be unique here).
    nonce: u128,
}

/// The fixed signing key of member `i`.
fn member_key(i: usize) -> SigningKey {
    let mut seed = [0x5A; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

/// Signs each `(author, entry)` and decodes it as the store would hand it
/// back, on every core (setup only).
fn sign_all(keys: &[SigningKey], entries: Vec<(usize, pb::Entry)>) -> Vec<VerifiedEnvelope> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(per_thread)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(author, entry)| {
                            let e = sign_entry(&keys[*author], entry);
                            let public_key: [u8; 32] =
                                e.public_key.as_slice().try_into().expect("32-byte key");
                            let signature: [u8; 64] = e
                                .signature
                                .as_slice()
                                .try_into()
                                .expect("64-byte signature");
                            let leaf = leaf_bytes(
                                &pae(&e.payload_type, &e.payload),
                                &public_key,
                                &signature,
                            );
                            VerifiedEnvelope::decode_stored(&leaf).expect("a well-formed leaf")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a signing thread"))
            .collect()
    })
}

impl Fold {
    /// An empty log for `members` members with their fixed keys.
    fn new(members: usize) -> Fold {
        Fold {
            state: LedgerState::default(),
            limits: Limits::default(),
            keys: (0..members).map(member_key).collect(),
            handles: (0..members).map(|i| format!("member-{i:04}")).collect(),
            network_id: Vec::new(),
            nonce: 0,
        }
    }

    /// The unsigned entry of `body` by member `author`.
    fn entry(&mut self, author: usize, body: Body) -> (usize, pb::Entry) {
        self.nonce += 1;
        let entry = pb::Entry {
            network_id: self.network_id.clone(),
            author: self.handles[author].clone(),
            created_at_ms: CLOCK_MS,
            nonce: self.nonce.to_le_bytes().to_vec(),
            body: Some(body),
        };
        (author, entry)
    }

    /// Signs the entries and folds them in, in order, as the sequencer does
    /// on arrival (`check` at the server clock, then `apply`). Returns their
    /// ids.
    fn push(&mut self, entries: Vec<(usize, pb::Entry)>) -> Vec<EntryId> {
        let cx = CheckContext {
            log_public_key: &LOG_KEY,
            limits: &self.limits,
            now_ms: Some(CLOCK_MS),
        };
        let mut ids = Vec::with_capacity(entries.len());
        for v in sign_all(&self.keys, entries) {
            let id = v.id;
            let v = CheckedEntry::new(v, &self.limits)
                .unwrap_or_else(|refusal| panic!("the entry checks refused {id}: {refusal}"));
            let admitted = self
                .state
                .check(&v, &cx)
                .unwrap_or_else(|refusal| panic!("the ledger rules refused {id}: {refusal}"));
            let sequence = self.state.size();
            self.state.apply(admitted, sequence, None);
            ids.push(id);
        }
        ids
    }

    /// The genesis (member 0 founds, and is admin), the other members'
    /// admissions, the treasurer role for member 0 and the policy.
    fn found(&mut self) {
        let founder = (
            self.handles[0].clone(),
            self.keys[0].verifying_key().to_bytes(),
        );
        let genesis = self.entry(0, genesis_body("Bench", "EUR", 2, &[founder], &LOG_KEY));
        let id = self.push(vec![genesis])[0];
        self.network_id = id.0.to_vec();
        let mut entries: Vec<_> = (1..self.keys.len())
            .map(|i| {
                let body = Body::AdmitMember(pb::AdmitMember {
                    handle: self.handles[i].clone(),
                    public_key: self.keys[i].verifying_key().to_bytes().to_vec(),
                });
                self.entry(0, body)
            })
            .collect();
        entries.push(self.entry(
            0,
            Body::GrantRole(pb::GrantRole {
                member: self.handles[0].clone(),
                role: pb::Role::Treasurer as i32,
            }),
        ));
        entries.push(self.entry(
            0,
            Body::AdoptPolicy(pb::AdoptPolicy {
                policy_json: POLICY.as_bytes().to_vec(),
            }),
        ));
        self.push(entries);
    }

    /// `n` contributions dated in the period by random members (80% work of
    /// 15 minutes to 8 hours with up to two tags, 20% expenses of 5.00 to
    /// 500.00), each followed later in its batch by one evaluation from
    /// another member: 49 in 50 approve (most with a rating), 1 in 50 flags.
    fn contribute(&mut self, n: usize, rng: &mut Rng) {
        let mut done = 0;
        while done < n {
            let batch = CHUNK.min(n - done);
            let (entries, authors) = self.contributions(batch, rng);
            let ids = self.push(entries);
            let evaluations = self.evaluations(&ids, &authors, rng);
            self.push(evaluations);
            done += batch;
        }
    }

    /// One batch of `batch` contributions (see [`Fold::contribute`]) and
    /// their authors, unsigned.
    fn contributions(
        &mut self,
        batch: usize,
        rng: &mut Rng,
    ) -> (Vec<(usize, pb::Entry)>, Vec<usize>) {
        let members = self.keys.len() as u64;
        let mut authors = Vec::with_capacity(batch);
        let entries: Vec<_> = (0..batch)
            .map(|_| {
                let author = rng.below(members) as usize;
                authors.push(author);
                let at = PERIOD.0 + rng.below((PERIOD.1 - PERIOD.0) as u64) as i64;
                let fields = if rng.below(5) == 0 {
                    pb::Contribution {
                        kind: pb::ContributionKind::Expense as i32,
                        quantity: 500 + rng.below(49_501),
                        tags: vec!["supplies".into()],
                        at,
                        note: "receipt in the shared folder".into(),
                        ..Default::default()
                    }
                } else {
                    let mut tags: Vec<String> = Vec::new();
                    for _ in 0..rng.below(3) {
                        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
                        if !tags.iter().any(|t| t == tag) {
                            tags.push(tag.into());
                        }
                    }
                    pb::Contribution {
                        kind: pb::ContributionKind::Work as i32,
                        quantity: 15 + rng.below(466),
                        tags,
                        at,
                        note: "shift on the weekly rota".into(),
                        ..Default::default()
                    }
                };
                self.entry(author, contribution_body(fields))
            })
            .collect();
        (entries, authors)
    }

    /// One evaluation of each of `ids` by another member than its author,
    /// unsigned.
    fn evaluations(
        &mut self,
        ids: &[EntryId],
        authors: &[usize],
        rng: &mut Rng,
    ) -> Vec<(usize, pb::Entry)> {
        let members = self.keys.len() as u64;
        ids.iter()
            .zip(authors)
            .map(|(id, &author)| {
                let evaluator = (author as u64 + 1 + rng.below(members - 1)) % members;
                let body = if rng.below(50) == 0 {
                    evaluate_body(id, pb::Verdict::Flag, None, "no evidence")
                } else {
                    let rating = (rng.below(4) != 0).then(|| 60 + rng.below(41) as u32);
                    evaluate_body(id, pb::Verdict::Approve, rating, "")
                };
                self.entry(evaluator as usize, body)
            })
            .collect()
    }
}

/// One size's folded state, the income previewed and the record a
/// treasurer would sign for it.
struct Built {
    /// The ledger state after the whole log.
    state: LedgerState,
    /// The income split: 50.00 per contribution in the period.
    income: u64,
    /// The record body of the preview of the state as it stands.
    record: pb::RecordDistribution,
}

/// The preview as the server computes it for `ComputeShares`: the fold's
/// scoring index shared under the state lock, the numbered input cut from
/// it, scoring, then the streamed report JSON. Returns the report JSON.
fn run_preview(state: &LedgerState, income: u64) -> String {
    let (parts, version) = indexed_source_for(state, PolicyChoice::Latest, PERIOD, Priors::All)
        .expect("the source")
        .into_parts(income)
        .expect("the numbered input");
    let preview = score_parts(parts, version, state.size(), PERIOD, income).expect("a score");
    summary_json(&preview.report).expect("the report JSON")
}

/// The preview as the server computed it before the scoring index: the
/// scoring input built with strings, then scored (for comparison).
fn run_string_preview(state: &LedgerState, income: u64) -> String {
    let (input, version) = input_for(state, PolicyChoice::Latest, PERIOD, income, Priors::All)
        .expect("the scoring input");
    let preview = score_input(input, version, state.size(), PERIOD, income).expect("a score");
    summary_json(&preview.report).expect("the report JSON")
}

/// A line of `/proc/self/status` (`VmRSS`, `VmHWM`, given there in KiB) in
/// MiB, where there is one (Linux); "?" elsewhere.
fn memory(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(field))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{} MiB", kb / 1024))
        })
        .unwrap_or_else(|| "?".into())
}

/// Builds the cooperative of `size` and prints what setup took, each
/// preview step on its own, the sizes of the reports and the process's
/// memory (resident with the state built; peak so far).
fn build(size: &Size) -> Built {
    let started = Instant::now();
    let mut fold = Fold::new(size.members);
    fold.found();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ size.contributions as u64);
    fold.contribute(size.contributions, &mut rng);
    let state = fold.state;
    let resident = memory("VmRSS:");
    let income = 5_000 * size.contributions as u64;
    let full: Preview =
        preview(&state, state.size(), PolicyChoice::Latest, PERIOD, income).expect("a preview");
    let record = record_body(&full);
    println!(
        "{}: {} members, {} contributions, {} entries in the log; setup (sign, fold) {:.1?}; \
         resident with the state built {resident}",
        size.label,
        size.members,
        size.contributions,
        state.size(),
        started.elapsed()
    );
    // Each step on its own, best of a few calls.
    let calls = if size.contributions >= 1_000_000 {
        3
    } else {
        5
    };
    let (mut share, mut cut, mut score_n) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..calls {
        let t = Instant::now();
        let source = indexed_source_for(&state, PolicyChoice::Latest, PERIOD, Priors::All)
            .expect("the source");
        share = share.min(t.elapsed());
        let t = Instant::now();
        let (parts, version) = source.into_parts(income).expect("the numbered input");
        cut = cut.min(t.elapsed());
        let t = Instant::now();
        let p = score_parts(parts, version, state.size(), PERIOD, income).expect("a score");
        score_n = score_n.min(t.elapsed());
        assert_eq!(
            p.digest, full.digest,
            "the numbered path digests as the string path"
        );
    }
    println!(
        "{}: indexed steps (best of {calls}): indexed_source_for (under the lock) {share:.1?}, \
         into_parts {cut:.1?}, score_parts {score_n:.1?}",
        size.label
    );
    let (mut take, mut score, mut json) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut report_bytes = 0;
    for _ in 0..calls {
        let t = Instant::now();
        let (input, version) = input_for(&state, PolicyChoice::Latest, PERIOD, income, Priors::All)
            .expect("the scoring input");
        take = take.min(t.elapsed());
        let t = Instant::now();
        let p = score_input(input, version, state.size(), PERIOD, income).expect("a score");
        score = score.min(t.elapsed());
        let t = Instant::now();
        report_bytes = summary_json(&p.report).expect("the report JSON").len();
        json = json.min(t.elapsed());
    }
    println!(
        "{}: string steps (best of {calls}): input_for {take:.1?}, score_input {score:.1?}, \
         summary_json {json:.1?}; report JSON {report_bytes} bytes, canonical report {} bytes, \
         {} payouts, {} repayments; peak resident so far {}",
        size.label,
        full.canonical.len(),
        full.report.payouts.len(),
        full.report.repayments.len(),
        memory("VmHWM:")
    );
    Built {
        state,
        income,
        record,
    }
}

/// `preview` and `settle` at each size; the state is built only when one of
/// its size's benches is selected, and dropped before the next size.
fn benches(c: &mut Criterion) {
    for size in &SIZES {
        let built: OnceCell<Built> = OnceCell::new();
        let get = || built.get_or_init(|| build(size));
        let mut g = c.benchmark_group(size.label);
        if size.contributions >= 100_000 {
            g.sampling_mode(SamplingMode::Flat);
            g.sample_size(10);
        } else {
            g.sample_size(20);
        }
        if size.contributions >= 1_000_000 {
            g.measurement_time(Duration::from_secs(40));
        } else {
            g.measurement_time(Duration::from_secs(10));
        }
        g.bench_function("preview", |b| {
            let built = get();
            b.iter(|| run_preview(black_box(&built.state), built.income).len())
        });
        g.bench_function("string-preview", |b| {
            let built = get();
            b.iter(|| run_string_preview(black_box(&built.state), built.income).len())
        });
        g.bench_function("settle", |b| {
            let built = get();
            b.iter(|| settle(black_box(&built.state), black_box(&built.record)).expect("settled"))
        });
        g.finish();
    }
}

/// Contributions in the live server's period.
const LIVE_CONTRIBUTIONS: usize = 1_000_000;

/// Entries per `SubmitBatch` while the live log is built (the server's
/// default `max_batch_entries`).
const LIVE_BATCH: usize = 1000;

/// Connections submitting at once while the live log is built.
const LIVE_LOADERS: usize = 4;

/// A running server holding the live log, and a writer's signer.
struct Live {
    rt: tokio::runtime::Runtime,
    server: Option<coopledger::server::RunningServer>,
    _dir: tempfile::TempDir,
    url: String,
    income: u64,
    /// Members' keys and handles (the writer signs as member 1).
    keys: Vec<SigningKey>,
    handles: Vec<String>,
    network_id: Vec<u8>,
    nonce: u128,
}

/// The resident set size of this process (server and bench client), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Signs entries on every core (setup only).
fn sign_envelopes(keys: &[SigningKey], entries: Vec<(usize, pb::Entry)>) -> Vec<pb::Envelope> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(per_thread)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(author, entry)| sign_entry(&keys[*author], entry))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a signing thread"))
            .collect()
    })
}

impl Live {
    fn entry(&mut self, author: usize, body: Body) -> (usize, pb::Entry) {
        self.nonce += 1;
        (
            author,
            pb::Entry {
                network_id: self.network_id.clone(),
                author: self.handles[author].clone(),
                created_at_ms: CLOCK_MS,
                nonce: self.nonce.to_le_bytes().to_vec(),
                body: Some(body),
            },
        )
    }

    /// Submits signed envelopes in batches over several connections; waits
    /// until every one has a receipt (durable).
    fn submit(&self, envelopes: Vec<pb::Envelope>) {
        self.rt.block_on(async {
            let batches: Vec<Vec<pb::Envelope>> =
                envelopes.chunks(LIVE_BATCH).map(<[_]>::to_vec).collect();
            let queue = std::sync::Arc::new(std::sync::Mutex::new(batches.into_iter()));
            let mut tasks = Vec::new();
            for _ in 0..LIVE_LOADERS {
                let queue = queue.clone();
                let url = self.url.clone();
                tasks.push(tokio::spawn(async move {
                    let mut c = LedgerClient::connect(url).await.expect("connect");
                    loop {
                        let next = queue.lock().expect("queue").next();
                        let Some(batch) = next else { break };
                        c.submit_batch(pb::SubmitBatchRequest { envelopes: batch })
                            .await
                            .expect("a batch lands");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("a loader");
            }
        });
    }

    /// Starts a server and builds, through `SubmitBatch`, the 1M log of
    /// [`Fold::contribute`]'s shape (same generator, same policy).
    fn build() -> Live {
        let started = Instant::now();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let server = rt
            .block_on(coopledger::server::start(
                coopledger::server::ServerConfig {
                    data_dir: dir.path().to_path_buf(),
                    listen: "127.0.0.1:0".parse().expect("addr"),
                    limits: Limits::default(),
                    clock: coopledger::ledger::Clock::new(|| CLOCK_MS),
                    checkpoint_copy: None,
                    public_read: true,
                    tls: None,
                    web: false,
                },
            ))
            .expect("server");
        let url = server.url();
        let log_key = rt.block_on(async {
            let mut c = LedgerClient::connect(url.clone()).await.expect("connect");
            c.get_server_info(pb::GetServerInfoRequest {})
                .await
                .expect("info")
                .into_inner()
                .log_public_key
        });
        let members = 1_000;
        let mut live = Live {
            rt,
            server: Some(server),
            _dir: dir,
            url,
            income: 5_000 * LIVE_CONTRIBUTIONS as u64,
            keys: (0..members).map(member_key).collect(),
            handles: (0..members).map(|i| format!("member-{i:04}")).collect(),
            network_id: Vec::new(),
            nonce: 0,
        };
        let founder = (
            live.handles[0].clone(),
            live.keys[0].verifying_key().to_bytes(),
        );
        let log_key: [u8; 32] = log_key.as_slice().try_into().expect("a 32-byte log key");
        let genesis = live.entry(0, genesis_body("Bench", "EUR", 2, &[founder], &log_key));
        let genesis = sign_envelopes(&live.keys, vec![genesis]);
        live.network_id = coopledger::client::envelope_id(&genesis[0]).0.to_vec();
        live.submit(genesis);
        let mut entries: Vec<_> = (1..members)
            .map(|i| {
                let body = Body::AdmitMember(pb::AdmitMember {
                    handle: live.handles[i].clone(),
                    public_key: live.keys[i].verifying_key().to_bytes().to_vec(),
                });
                live.entry(0, body)
            })
            .collect();
        let treasurer = Body::GrantRole(pb::GrantRole {
            member: live.handles[0].clone(),
            role: pb::Role::Treasurer as i32,
        });
        entries.push(live.entry(0, treasurer));
        let policy = Body::AdoptPolicy(pb::AdoptPolicy {
            policy_json: POLICY.as_bytes().to_vec(),
        });
        entries.push(live.entry(0, policy));
        let signed = sign_envelopes(&live.keys, entries);
        // Admissions one batch after another (a batch may not admit and use).
        live.submit(signed);
        // The period's contributions and evaluations, as `Fold::contribute`
        // makes them (the same generator and seed as the in-process 1M).
        let mut fold = Fold::new(members);
        fold.network_id = live.network_id.clone();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ LIVE_CONTRIBUTIONS as u64);
        let mut done = 0;
        while done < LIVE_CONTRIBUTIONS {
            let batch = CHUNK.min(LIVE_CONTRIBUTIONS - done);
            let (contributions, authors) = fold.contributions(batch, &mut rng);
            let signed = sign_envelopes(&live.keys, contributions);
            let ids: Vec<EntryId> = signed.iter().map(coopledger::client::envelope_id).collect();
            live.submit(signed);
            let evaluations = fold.evaluations(&ids, &authors, &mut rng);
            live.submit(sign_envelopes(&live.keys, evaluations));
            done += batch;
        }
        live.nonce = fold.nonce + 1_000_000_000;
        println!(
            "live: {} contributions and as many evaluations in one period, {} members, \
             built through SubmitBatch in {:.1?}; resident {} MiB",
            LIVE_CONTRIBUTIONS,
            members,
            started.elapsed(),
            rss_kib() / 1024
        );
        live
    }

    /// One `ComputeShares` of the period, timed from the request to the
    /// last byte of the stream; returns the time and the report's size.
    async fn preview(url: String, income: u64) -> (Duration, usize) {
        let mut c = LedgerClient::connect(url).await.expect("connect");
        let t = Instant::now();
        let fetched = coopledger::client::fetch_preview(
            &mut c,
            pb::ComputeSharesRequest {
                period: Some(pb::Period {
                    start: PERIOD.0,
                    end: PERIOD.1,
                }),
                income: Some(income),
                ..Default::default()
            },
        )
        .await
        .expect("a preview");
        let elapsed = t.elapsed();
        assert_eq!(
            fetched.recompute_digest().expect("a digest").as_slice(),
            fetched.header.digest.as_slice(),
            "the streamed report digests to the header's digest"
        );
        (elapsed, fetched.report_json.len())
    }

    /// `n` single `Submit`s of one member's work in the period, one after
    /// another on one connection, signed beforehand; their latencies.
    fn writer(&mut self, n: usize) -> (Vec<pb::Envelope>, String) {
        let entries: Vec<_> = (0..n)
            .map(|i| {
                let body = contribution_body(pb::Contribution {
                    kind: pb::ContributionKind::Work as i32,
                    quantity: 30 + (i as u64 % 90),
                    tags: vec!["ops".into()],
                    at: PERIOD.0 + 3600 + i as i64,
                    note: "writer during previews".into(),
                    ..Default::default()
                });
                self.entry(1, body)
            })
            .collect();
        (sign_envelopes(&self.keys, entries), self.url.clone())
    }
}

/// p50, p99 and max of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    (at(50), at(99), samples[samples.len() - 1])
}

/// Submits `envelopes` one at a time on one connection; each latency.
async fn write_each(url: String, envelopes: Vec<pb::Envelope>) -> Vec<Duration> {
    let mut c = LedgerClient::connect(url).await.expect("connect");
    let mut samples = Vec::with_capacity(envelopes.len());
    for e in envelopes {
        let t = Instant::now();
        c.submit(pb::SubmitRequest { envelope: Some(e) })
            .await
            .expect("a submit lands");
        samples.push(t.elapsed());
    }
    samples
}

/// Submits `envelopes` one at a time on one connection until `done` is
/// set (or they run out); each latency.
async fn write_until(
    url: String,
    envelopes: Vec<pb::Envelope>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Duration> {
    let mut c = LedgerClient::connect(url).await.expect("connect");
    let mut samples = Vec::new();
    for e in envelopes {
        if done.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let t = Instant::now();
        c.submit(pb::SubmitRequest { envelope: Some(e) })
            .await
            .expect("a submit lands");
        samples.push(t.elapsed());
    }
    samples
}

/// The live preview at a million (issue 13 part 2): a real server on
/// loopback holding 1,000,000 contributions and 1,000,000 evaluations in
/// one period. Measures `ComputeShares` from request to last byte
/// (criterion, and printed), the peak extra resident memory while previews
/// run, and a writer's `Submit` p50/p99 alone and while previews run back
/// to back. Selected with `-- live/`; skipped by `-- 1M/` and the others.
fn live(c: &mut Criterion) {
    let wanted = std::env::args().skip(1).any(|a| a.contains("live"));
    if !wanted {
        return;
    }
    let mut live = Live::build();
    // Memory: sampled every 2 ms around three previews (the first one
    // included: the allocator grows its pools then).
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..3 {
        let (t, b) = live
            .rt
            .block_on(Live::preview(live.url.clone(), live.income));
        times.push(t);
        bytes = b;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "live: ComputeShares to last byte {:.1?} (first), {:.1?}, {:.1?}; report {} bytes; \
         resident before {} MiB, peak during {} MiB: {} MiB extra",
        times[0],
        times[1],
        times[2],
        bytes,
        before / 1024,
        peak / 1024,
        peak.saturating_sub(before) / 1024
    );

    // A writer alone, then the same writer while previews run back to back.
    let (alone, url) = live.writer(400);
    let samples = live.rt.block_on(write_each(url, alone));
    let (p50, p99, max) = percentiles(samples);
    println!("live: writer alone, 400 Submits: p50 {p50:.2?} p99 {p99:.2?} max {max:.2?}");
    // The writer submits from the moment the first preview is asked for
    // until the fifth has been received, whole previews covered.
    const PREVIEWS: usize = 5;
    let (during, url) = live.writer(20_000);
    let (samples, previews) = live.rt.block_on(async {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let previewer = {
            let (done, url, income) = (done.clone(), url.clone(), live.income);
            tokio::spawn(async move {
                for _ in 0..PREVIEWS {
                    Live::preview(url.clone(), income).await;
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                PREVIEWS
            })
        };
        let samples = write_until(url, during, done).await;
        (samples, previewer.await.expect("the previewer"))
    });
    let total: Duration = samples.iter().sum();
    let samples_len = samples.len();
    let (p50, p99, max) = percentiles(samples);
    let n = samples_len;
    println!(
        "live: writer during {previews} back-to-back previews, {n} Submits in {total:.1?}: \
         p50 {p50:.2?} p99 {p99:.2?} max {max:.2?}"
    );

    let mut g = c.benchmark_group("live");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("compute_shares_1M", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += live
                    .rt
                    .block_on(Live::preview(live.url.clone(), live.income))
                    .0;
            }
            total
        })
    });
    g.finish();
    if let Some(server) = live.server.take() {
        live.rt.block_on(server.stop()).expect("stop");
    }
}

criterion_group!(preview_benches, benches, live);
criterion_main!(preview_benches);
