//! A member's `Submit` latency while hostile clients do their worst
//! (`cargo bench --bench hostile`): the figure issue #11 asks for.
//!
//! One members-only server (default limits, sled in a temporary folder,
//! 127.0.0.1 on port 0) holds a cooperative of [`MEMBERS`] members with
//! [`CONTRIBUTIONS`] contributions in one period, so a preview has real
//! work to do. Then, for [`WINDOW`] each:
//!
//! 1. **quiet**: one member submits a contribution, waits [`PAUSE`], and
//!    again; each `Submit`'s round trip is recorded;
//! 2. **hostile**: the same member does the same while, from other tasks:
//!    - [`IDLE`] connections send the HTTP/2 preface and then nothing,
//!      holding connection slots, and [`SILENT`] more connect and send
//!      nothing at all (dropped by the handshake timeout, then reopened);
//!    - strangers and a member submit allocations as large as a payload may
//!      be (thousands of shares), in a loop;
//!    - the treasurer previews drafts as large as a payload may be (hundreds
//!      of buckets, each scored over every contribution), and the adopted
//!      policy, in a loop; a plain member and a stranger try drafts too;
//!    - a stranger sends unsigned and wrongly signed reads.
//!
//! It prints p50, p99 and the maximum of both phases and what every kind
//! of hostile request got back (codes and counts). Nothing here is timed
//! against a threshold: the figures go to BENCHMARKS.md.
//!
//! The server, the hostile clients and the measuring member each run on a
//! runtime of their own, so the member's latency is the server's answer,
//! not a wait behind the attackers' tasks in the same client runtime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coopledger::client::{
    self, LedgerClient, MemberClient, SignedChannel, Signer, allocate_body, contribution_body,
};
use coopledger::pb;
use coopledger::server::{RunningServer, ServerConfig, start};
use coopledger::verify::generate_key;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Mutex;

/// Members of the cooperative (besides the admin).
const MEMBERS: usize = 200;
/// Contributions in the period, spread over the members.
const CONTRIBUTIONS: usize = 20_000;
/// How long each phase lasts.
const WINDOW: Duration = Duration::from_secs(30);
/// The measuring member's pause between two submissions.
const PAUSE: Duration = Duration::from_millis(20);
/// Connections that finish the HTTP/2 handshake and then stay silent.
const IDLE: usize = 900;
/// Connections that never send a byte.
const SILENT: usize = 64;
/// The period: October 2026.
const PERIOD: (i64, i64) = (1_790_812_800, 1_793_491_200);
/// The HTTP/2 connection preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

const POLICY: &str = r#"{"default_rates":{"work":3000,"expense":1},"mode":"remaining","buckets":[{"type":"reimburse","percent_ppm":300000,"kinds":["expense"]},{"type":"shares","percent_ppm":700000,"kinds":["work"]}]}"#;

fn work(i: usize) -> pb::Contribution {
    pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: 15 + (i as u64 * 7) % 240,
        at: PERIOD.0 + 3600 + (i as i64 * 97) % (PERIOD.1 - PERIOD.0 - 7200),
        tags: vec!["bench".into()],
        note: "hostile-load bench".into(),
        ..Default::default()
    }
}

/// A draft policy of `buckets` shares buckets (ppm summing to a million):
/// valid, and scored bucket by bucket over every contribution.
fn huge_draft(max_bytes: usize) -> Vec<u8> {
    let bucket = r#"{"type":"shares","percent_ppm":1000,"kinds":["work"]}"#;
    let n = ((max_bytes - 200) / (bucket.len() + 1)).min(1000);
    let mut buckets: Vec<String> = (0..n).map(|_| bucket.to_string()).collect();
    // The last bucket takes what the others leave.
    let rest = 1_000_000 - 1000 * (n as u64 - 1);
    buckets[n - 1] = format!(r#"{{"type":"shares","percent_ppm":{rest},"kinds":["work"]}}"#);
    format!(
        r#"{{"default_rates":{{"work":3000}},"mode":"remaining","buckets":[{}]}}"#,
        buckets.join(",")
    )
    .into_bytes()
}

/// An allocation naming as many members as fit in `max_bytes` of payload.
fn huge_allocation(signer: &Signer, names: &[String], max_bytes: usize) -> pb::Envelope {
    let mut n = names.len();
    loop {
        let shares: Vec<(&str, u32)> = names[..n].iter().map(|h| (h.as_str(), 1)).collect();
        let e = signer
            .sign(allocate_body(PERIOD.0, PERIOD.1, &shares))
            .expect("sign");
        if e.payload.len() <= max_bytes {
            return e;
        }
        n = n * 9 / 10;
    }
}

struct Coop {
    url: String,
    network: Vec<u8>,
    treasurer: Signer,
    members: Vec<Signer>,
}

async fn build(server: &RunningServer) -> Coop {
    let mut c = LedgerClient::connect(server.url()).await.expect("connect");
    let info = c
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    let mut admin = Signer::new("admin", generate_key().expect("key"), &[]);
    let genesis = admin
        .sign(client::genesis_body(
            "Hostile",
            "EUR",
            2,
            &[("admin".into(), admin.public_key())],
            &info.log_public_key,
        ))
        .expect("sign");
    let network = client::envelope_id(&genesis).0.to_vec();
    c.submit(pb::SubmitRequest {
        envelope: Some(genesis),
    })
    .await
    .expect("genesis");
    admin.network_id = network.clone();
    let mut setup = vec![
        admin
            .sign(client::grant_body("admin", pb::Role::Treasurer))
            .expect("sign"),
        admin
            .sign(client::adopt_body(POLICY.as_bytes()))
            .expect("sign"),
    ];
    let members: Vec<Signer> = (0..MEMBERS)
        .map(|i| Signer::new(format!("m{i:03}"), generate_key().expect("key"), &network))
        .collect();
    for m in &members {
        setup.push(
            admin
                .sign(client::admit_body(&m.handle, &m.public_key()))
                .expect("sign"),
        );
    }
    let entries: Vec<pb::Envelope> = setup
        .into_iter()
        .chain((0..CONTRIBUTIONS).map(|i| {
            members[i % MEMBERS]
                .sign(contribution_body(work(i)))
                .expect("sign")
        }))
        .collect();
    for chunk in entries.chunks(500) {
        c.submit_batch(pb::SubmitBatchRequest {
            envelopes: chunk.to_vec(),
        })
        .await
        .expect("setup batch");
    }
    Coop {
        url: server.url(),
        network,
        treasurer: admin,
        members,
    }
}

async fn member_client(url: &str, signer: Option<&Signer>, network: &[u8]) -> MemberClient {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    pb::ledger_client::LedgerClient::new(SignedChannel::new(
        channel,
        signer.map(|s| s.key.clone()),
        network,
    ))
    .max_decoding_message_size(64 << 20)
}

/// Submits a contribution every [`PAUSE`] for [`WINDOW`] and returns each
/// round trip, on a runtime of its own.
fn measure(url: String, member: Signer, label: &'static str, offset: usize) -> Vec<Duration> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut c = LedgerClient::connect(url).await.expect("connect");
            let mut took = Vec::new();
            let end = Instant::now() + WINDOW;
            let mut i = offset;
            while Instant::now() < end {
                let e = member.sign(contribution_body(work(i))).expect("sign");
                i += 1;
                let start = Instant::now();
                let r = c.submit(pb::SubmitRequest { envelope: Some(e) }).await;
                took.push(start.elapsed());
                if let Err(s) = r {
                    panic!("{label}: the member's Submit was refused: {s:?}");
                }
                tokio::time::sleep(PAUSE).await;
            }
            took
        })
    })
    .join()
    .expect("measuring thread")
}

/// What each kind of hostile request got back: kind → code → (count,
/// the first message).
type Outcomes = Arc<Mutex<BTreeMap<&'static str, BTreeMap<String, (u64, String)>>>>;

async fn note(outcomes: &Outcomes, kind: &'static str, result: Result<(), tonic::Status>) {
    let (code, message) = match result {
        Ok(()) => ("OK".to_string(), String::new()),
        Err(s) => (format!("{:?}", s.code()), s.message().to_string()),
    };
    let mut outcomes = outcomes.lock().await;
    let seen = outcomes
        .entry(kind)
        .or_default()
        .entry(code)
        .or_insert((0, message));
    seen.0 += 1;
}

/// Whether the attack `kind` runs: all do, unless `COOPLEDGER_HOSTILE`
/// lists the ones to run (comma-separated: `idle`, `silent`, `allocations`,
/// `previews` (the treasurer's), `refused-previews` (a member's and a
/// stranger's drafts), `reads`), to see which one costs what.
fn runs(kind: &str) -> bool {
    std::env::var("COOPLEDGER_HOSTILE")
        .map(|list| list.split(',').any(|k| k.trim() == kind))
        .unwrap_or(true)
}

/// Starts every attacker; they stop when `stop` is set.
async fn attack(
    coop: &Coop,
    stop: Arc<AtomicBool>,
    outcomes: Outcomes,
) -> Vec<tokio::task::JoinHandle<()>> {
    let limits = coopledger::ledger::Limits::default();
    let addr = coop.url.trim_start_matches("http://").to_string();
    let mut tasks = Vec::new();

    // Idle connections: handshake, then nothing.
    let mut idle = Vec::new();
    for _ in 0..if runs("idle") { IDLE } else { 0 } {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await
            && s.write_all(PREFACE).await.is_ok()
        {
            idle.push(s);
        }
    }
    println!("hostile: {} idle connections open", idle.len());
    {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            drop(idle);
        }));
    }
    // Silent connections, reopened as the handshake timeout drops them.
    if runs("silent") {
        let (stop, addr, outcomes) = (stop.clone(), addr.clone(), outcomes.clone());
        tasks.push(tokio::spawn(async move {
            let mut silent: Vec<tokio::net::TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                silent.retain(still_open);
                while silent.len() < SILENT {
                    match tokio::net::TcpStream::connect(&addr).await {
                        Ok(s) => silent.push(s),
                        Err(_) => break,
                    }
                    note(&outcomes, "silent connection opened", Ok(())).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }));
    }

    // Oversized allocations, from a stranger and from a member.
    let names: Vec<String> = (0..20_000).map(|i| format!("x{i:05}")).collect();
    let stranger = Signer::new("zz", generate_key().expect("key"), &coop.network);
    let hostile_member = coop.members[1].clone();
    for (kind, signer) in [
        ("allocation, stranger", stranger.clone()),
        ("allocation, member", hostile_member.clone()),
    ] {
        if !runs("allocations") {
            break;
        }
        let (stop, url, outcomes, names) = (
            stop.clone(),
            coop.url.clone(),
            outcomes.clone(),
            names.clone(),
        );
        let max = limits.max_payload_bytes;
        tasks.push(tokio::spawn(async move {
            let mut c = LedgerClient::connect(url).await.expect("connect");
            // Signed once: a refused envelope is checked afresh every time it
            // is sent, and the attacker's own signing is not the server's
            // load (a real attacker signs on their own machine).
            let e = huge_allocation(&signer, &names, max);
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .submit(pb::SubmitRequest {
                        envelope: Some(e.clone()),
                    })
                    .await;
                note(&outcomes, kind, r.map(|_| ())).await;
            }
        }));
    }

    // Drafts as large as a payload, from the treasurer, a member, a stranger;
    // the treasurer's preview of the adopted policy.
    let draft = huge_draft(limits.max_payload_bytes);
    println!(
        "hostile: drafts of {} bytes ({} buckets)",
        draft.len(),
        draft.windows(8).filter(|w| w == b"\"shares\"").count()
    );
    for (kind, signer, draft) in [
        (
            "draft preview, treasurer",
            Some(coop.treasurer.clone()),
            draft.clone(),
        ),
        (
            "draft preview, treasurer (2)",
            Some(coop.treasurer.clone()),
            draft.clone(),
        ),
        (
            "draft preview, member",
            Some(hostile_member.clone()),
            draft.clone(),
        ),
        (
            "draft preview, stranger",
            Some(stranger.clone()),
            draft.clone(),
        ),
        (
            "preview, treasurer",
            Some(coop.treasurer.clone()),
            Vec::new(),
        ),
        ("read, unsigned", None, Vec::new()),
    ] {
        let group = if kind.starts_with("read") {
            "reads"
        } else {
            "previews"
        };
        if !runs(group) {
            continue;
        }
        let (stop, url, outcomes, network) = (
            stop.clone(),
            coop.url.clone(),
            outcomes.clone(),
            coop.network.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = member_client(&url, signer.as_ref(), &network).await;
            while !stop.load(Ordering::Relaxed) {
                let r = async {
                    let mut parts = c
                        .compute_shares(pb::ComputeSharesRequest {
                            period: Some(pb::Period {
                                start: PERIOD.0,
                                end: PERIOD.1,
                            }),
                            income: Some(1_000_000),
                            draft_policy_json: draft.clone(),
                            ..Default::default()
                        })
                        .await?
                        .into_inner();
                    while parts.message().await?.is_some() {}
                    Ok(())
                }
                .await;
                note(&outcomes, kind, r).await;
            }
        }));
    }
    tasks
}

/// Whether the server still holds `s` open: what it sent (its SETTINGS)
/// is read and dropped; end of stream or an error means closed.
fn still_open(s: &tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.try_read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(label: &str, mut took: Vec<Duration>) {
    took.sort();
    println!(
        "{label}: {} submits, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        took.len(),
        percentile(&took, 0.50).as_secs_f64() * 1e3,
        percentile(&took, 0.99).as_secs_f64() * 1e3,
        took.last().expect("at least one").as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench
    // skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"hostile".contains(&a))
    {
        return;
    }
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_rt
        .block_on(start(ServerConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            limits: Default::default(),
            clock: Default::default(),
            checkpoint_copy: None,
            public_read: false,
            web: true,
            tls: None,
        }))
        .expect("server");
    let setup = Instant::now();
    let coop = server_rt.block_on(build(&server));
    println!(
        "setup: {MEMBERS} members, {CONTRIBUTIONS} contributions in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let member = coop.members[0].clone();

    let quiet = measure(coop.url.clone(), member.clone(), "quiet", 1_000_000);
    report("quiet", quiet);

    let hostile_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Outcomes = Default::default();
    let tasks = hostile_rt.block_on(attack(&coop, stop.clone(), outcomes.clone()));
    // Let every attacker reach the server before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let hostile = measure(coop.url.clone(), member, "hostile", 2_000_000);
    stop.store(true, Ordering::Relaxed);
    hostile_rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
    });
    report("hostile", hostile);
    for (kind, codes) in hostile_rt.block_on(outcomes.lock()).iter() {
        for (code, (n, message)) in codes {
            let message: String = message.chars().take(110).collect();
            println!("  {kind}: {code} × {n} {message}");
        }
    }
    server_rt.block_on(server.stop()).expect("stop");
}
