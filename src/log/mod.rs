//! The append-only log: the sled store, the one sequencer that writes it, and
//! the replay that rebuilds state on start.
//!
//! Verification of signatures happens before an entry reaches the sequencer,
//! on the request's own task, so the sequencer only checks rules against the
//! state, batches every request that is waiting (group commit), writes the
//! group in one atomic sled batch, flushes from `spawn_blocking`, and only
//! then answers. One writer means one total order and no write conflicts;
//! grouping means one flush serves many requests.

mod error;
pub mod keyfile;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot, watch};

use crate::ledger::Limits;
use crate::ledger::Refusal;
use crate::ledger::{AuditError, Replayed, Replayer};
use crate::ledger::{CheckContext, CheckedEntry, LedgerState, Settlement, Undo};
use crate::pb;
use crate::verify::{Checkpoint, origin_of};
use crate::verify::{EntryId, VerifiedEnvelope};
use crate::verify::{Frontier, NodeSource};
pub use error::{LedgerError, Result};
pub use store::{GroupWrite, Head, Store};

/// A head with the checkpoint note the server signed for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SignedHead {
    /// Size and root.
    pub head: Head,
    /// The signed checkpoint note stating them.
    pub note: Arc<str>,
}

/// Where one envelope landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// 0-based position in the log (the Merkle leaf index).
    pub sequence: u64,
    /// blake3 of the entry's PAE bytes.
    pub id: EntryId,
    /// True when the envelope was already in the log and nothing was written.
    pub duplicate: bool,
    /// The durable head right after the group the entry landed in, signed.
    pub head: SignedHead,
}

/// One request waiting for the sequencer: envelopes to append all or none.
struct Job {
    envelopes: Vec<CheckedEntry>,
    /// Whether the request was a batch, so refusals name `envelopes[i]`.
    batch: bool,
    reply: oneshot::Sender<Result<Vec<Receipt>>>,
}

/// A shared handle to an open ledger: submit entries, read entries and state.
/// Cheap to clone; the sequencer stops when [`Ledger::close`] is called or the
/// last handle is dropped.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    state: Arc<RwLock<LedgerState>>,
    limits: Limits,
    log_key: SigningKey,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    head: watch::Receiver<SignedHead>,
    sequencer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The file in the data folder that holds the server's log key.
pub const LOG_KEY_FILE: &str = "log.key";

impl Ledger {
    /// Opens the ledger in `data_dir` (creating it and the log key on first
    /// start), replays the whole log to rebuild state, checks the replayed
    /// Merkle root against the stored head, and starts the sequencer.
    /// A log that does not replay cleanly is refused with the sequence number
    /// of the first bad entry.
    pub async fn open(data_dir: &Path, limits: Limits) -> Result<Ledger> {
        let dir: PathBuf = data_dir.to_path_buf();
        let (store, state, frontier, log_key, head) =
            tokio::task::spawn_blocking(move || open_blocking(&dir))
                .await
                .map_err(|e| LedgerError::Unavailable(format!("replay task failed: {e}")))??;
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(limits.max_pending_requests.max(1));
        let state = Arc::new(RwLock::new(state));
        let sequencer = Sequencer {
            state: state.clone(),
            limits: limits.clone(),
            log_public_key: log_key.verifying_key().to_bytes(),
            log_key: log_key.clone(),
            frontier,
        };
        let handle = tokio::spawn(sequencer.run(rx, store.clone(), head_tx));
        Ok(Ledger {
            inner: Arc::new(Inner {
                store,
                state,
                limits,
                log_key,
                jobs: Mutex::new(Some(tx)),
                head: head_rx,
                sequencer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Appends envelopes in order, all or none, and returns one receipt each
    /// once they are durable. `batch` only changes how refusals name the
    /// failing envelope.
    pub async fn submit(&self, envelopes: Vec<CheckedEntry>, batch: bool) -> Result<Vec<Receipt>> {
        let sender = self
            .inner
            .jobs
            .lock()
            .map_err(|_| LedgerError::Unavailable("sequencer lock poisoned".into()))?
            .clone()
            .ok_or_else(|| LedgerError::Unavailable("the ledger is shutting down".into()))?;
        let (reply, answer) = oneshot::channel();
        sender
            .try_send(Job {
                envelopes,
                batch,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    LedgerError::Refused(Refusal::ResourceExhausted(format!(
                        "the ledger has {} requests waiting (max_pending_requests); retry shortly",
                        self.inner.limits.max_pending_requests
                    )))
                }
                mpsc::error::TrySendError::Closed(_) => {
                    LedgerError::Unavailable("the sequencer has stopped".into())
                }
            })?;
        answer.await.map_err(|_| {
            LedgerError::Unavailable("the sequencer stopped before answering".into())
        })?
    }

    /// The durable head: entries up to `size` are on disk.
    pub fn head(&self) -> Head {
        self.inner.head.borrow().head
    }

    /// The durable head with its signed checkpoint.
    pub fn checkpoint(&self) -> SignedHead {
        self.inner.head.borrow().clone()
    }

    /// A receiver that changes whenever a group becomes durable; it closes
    /// when the sequencer stops.
    pub fn watch_head(&self) -> watch::Receiver<SignedHead> {
        self.inner.head.clone()
    }

    /// The durable entry at `sequence`, decoded.
    pub fn entry(&self, sequence: u64) -> Result<Option<VerifiedEnvelope>> {
        if sequence >= self.head().size {
            return Ok(None);
        }
        match self.inner.store.entry(sequence)? {
            None => Err(LedgerError::Corrupt {
                sequence,
                detail: "the entry is missing from the store".into(),
            }),
            Some(bytes) => VerifiedEnvelope::decode_stored(&bytes)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt {
                    sequence,
                    detail: e.to_string(),
                }),
        }
    }

    /// Where a durable entry landed (ids are indexed in memory, rebuilt by replay).
    pub fn sequence_of(&self, id: &EntryId) -> Result<Option<u64>> {
        let size = self.head().size;
        Ok(self.state()?.sequence_of(id).filter(|&s| s < size))
    }

    /// Read access to the derived state. It may include entries of the group
    /// being flushed right now; entry reads are bounded by the durable head.
    pub fn state(&self) -> Result<RwLockReadGuard<'_, LedgerState>> {
        self.inner
            .state
            .read()
            .map_err(|_| LedgerError::Unavailable("state lock poisoned".into()))
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The server's log public key.
    pub fn log_public_key(&self) -> [u8; 32] {
        self.inner.log_key.verifying_key().to_bytes()
    }

    /// The store, for readers that stream ranges.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The state of the log's first `size` entries, rebuilt from the store
    /// (blocking: call it off the async workers). Recorded distributions
    /// take the settlements this server already checked, so nothing is
    /// scored again; what a recorded period's views are computed from.
    pub fn state_at(&self, size: u64) -> Result<LedgerState> {
        let known = self
            .state()?
            .distributions()
            .iter()
            .filter(|d| d.sequence < size)
            .map(|d| (d.sequence, d.settlement.clone()))
            .collect();
        let mut replayer = Replayer::new(
            Some(self.log_public_key()),
            None,
            Box::new(crate::payout::Known(known)),
        );
        for item in self.inner.store.entries(0, size) {
            let (sequence, leaf) = item?;
            let v = VerifiedEnvelope::decode_stored(&leaf).map_err(|e| LedgerError::Corrupt {
                sequence,
                detail: e.to_string(),
            })?;
            replayer
                .push(sequence, v)
                .map_err(|e| LedgerError::Corrupt {
                    sequence,
                    detail: e.to_string(),
                })?;
        }
        if replayer.size() != size {
            return Err(LedgerError::Corrupt {
                sequence: replayer.size(),
                detail: "the entry is missing from the store".into(),
            });
        }
        Ok(replayer.finish().state)
    }

    /// Stops accepting writes, lets the sequencer finish the groups it has,
    /// and waits for it to exit.
    pub async fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        let handle = self.inner.sequencer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}

type Opened = (Store, LedgerState, Frontier, SigningKey, SignedHead);

/// Loads the log key, opens sled, replays every entry and checks the result
/// against the last signed checkpoint.
fn open_blocking(dir: &Path) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let key_path = dir.join(LOG_KEY_FILE);
    let log_key = crate::log::keyfile::load_or_create(&key_path).map_err(|e| LedgerError::Io {
        path: key_path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let store = Store::open(dir)?;
    let (state, frontier) = replay(&store, &log_key.verifying_key().to_bytes())?;
    let head = check_checkpoint(&store, &log_key, &frontier)?;
    Ok((store, state, frontier, log_key, head))
}

/// Signs the checkpoint of `head` with the log key.
fn sign_head(key: &SigningKey, head: Head) -> SignedHead {
    let origin = origin_of(&key.verifying_key().to_bytes());
    let note = Checkpoint {
        origin,
        size: head.size,
        root: head.root,
    }
    .sign(key);
    SignedHead {
        head,
        note: note.into(),
    }
}

/// Compares the replayed tree with the last checkpoint the server signed: a
/// log rewritten behind the server's back (even with a matching head record)
/// cannot carry a valid signature over its new root.
pub fn check_checkpoint(
    store: &Store,
    log_key: &SigningKey,
    frontier: &Frontier,
) -> Result<SignedHead> {
    let head = Head {
        size: frontier.size(),
        root: frontier.root(),
    };
    let Some(note) = store.checkpoint()? else {
        if head.size == 0 {
            return Ok(sign_head(log_key, head));
        }
        return Err(LedgerError::Corrupt {
            sequence: 0,
            detail: "entries are stored but no signed checkpoint".into(),
        });
    };
    let last = head.size.saturating_sub(1);
    let cp = Checkpoint::verify(&note, &log_key.verifying_key().to_bytes()).map_err(|e| {
        LedgerError::Corrupt {
            sequence: last,
            detail: format!("the stored checkpoint: {e}"),
        }
    })?;
    if cp.size != head.size || cp.root != head.root {
        return Err(LedgerError::Corrupt {
            sequence: last.min(cp.size.saturating_sub(1)),
            detail: format!(
                "the entries give size {} root {} but the last signed checkpoint says size {} root {}",
                head.size,
                hex::encode(head.root),
                cp.size,
                hex::encode(cp.root)
            ),
        });
    }
    Ok(SignedHead {
        head,
        note: note.into(),
    })
}

/// How many stored entries replay verifies in one parallel chunk.
const REPLAY_CHUNK: usize = 4096;

/// Rebuilds state and the Merkle frontier from the stored entries with the
/// auditors' [`Replayer`]: each signature, each rule, each stored Merkle node,
/// and finally the root against the stored head. Clock rules and size limits
/// do not apply on replay: they judge entries as they arrive, and were met
/// then.
pub fn replay(store: &Store, log_public_key: &[u8; 32]) -> Result<(LedgerState, Frontier)> {
    let head = store.head()?;
    let mut replayer = crate::payout::audit_replayer(Some(*log_public_key), None);
    let corrupt = |e: AuditError| match e {
        AuditError::Entry { sequence, detail } => LedgerError::Corrupt { sequence, detail },
        other => LedgerError::Corrupt {
            sequence: 0,
            detail: other.to_string(),
        },
    };
    let mut chunk = Vec::with_capacity(REPLAY_CHUNK);
    let mut entries = store.entries(0, head.size);
    loop {
        chunk.clear();
        for item in entries.by_ref().take(REPLAY_CHUNK) {
            chunk.push(item?);
        }
        if chunk.is_empty() {
            break;
        }
        for (sequence, _, verified) in verify_chunk(&chunk) {
            if sequence != replayer.size() {
                return Err(LedgerError::Corrupt {
                    sequence: replayer.size(),
                    detail: "the entry is missing from the store".into(),
                });
            }
            let v = verified.map_err(|e| LedgerError::Corrupt {
                sequence,
                detail: e.to_string(),
            })?;
            // A stored node that disagrees with the entries is damage too:
            // proofs are served from the nodes.
            for (level, index, hash) in replayer.push(sequence, v).map_err(corrupt)? {
                if level > 0 && store.node(level, index)? != Some(hash) {
                    return Err(LedgerError::Corrupt {
                        sequence,
                        detail: format!(
                            "the stored Merkle node (level {level}, index {index}) does not match the entries"
                        ),
                    });
                }
            }
        }
    }
    let Replayed {
        state, frontier, ..
    } = replayer.finish();
    if frontier.size() != head.size {
        return Err(LedgerError::Corrupt {
            sequence: frontier.size(),
            detail: format!(
                "the head says {} entries but the store holds {}",
                head.size,
                frontier.size()
            ),
        });
    }
    if frontier.root() != head.root {
        return Err(LedgerError::Corrupt {
            sequence: head.size.saturating_sub(1),
            detail: "the Merkle root of the stored entries differs from the stored head".into(),
        });
    }
    Ok((state, frontier))
}

type Checked<'a> = (
    u64,
    &'a [u8],
    std::result::Result<VerifiedEnvelope, crate::verify::EnvelopeError>,
);

/// Decodes and verifies a chunk of stored entries on all cores; signature
/// checks dominate replay time.
fn verify_chunk(chunk: &[(u64, sled::IVec)]) -> Vec<Checked<'_>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let per = chunk.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(seq, leaf)| {
                            (*seq, leaf.as_ref(), VerifiedEnvelope::from_leaf_bytes(leaf))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            // A part whose thread panicked yields nothing; replay then reports
            // its first entry as missing rather than serving unchecked data.
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// The single writer's first stage: checks rules and folds entries into the
/// state, then hands each group to the [`Writer`] thread. The two stages
/// overlap, so the rules for group N+1 are checked while group N is flushed.
struct Sequencer {
    state: Arc<RwLock<LedgerState>>,
    limits: Limits,
    log_public_key: [u8; 32],
    /// Signs the checkpoint of each group's head.
    log_key: SigningKey,
    frontier: Frontier,
}

/// The outcome of one job inside a group, before the flush.
enum Pending {
    Accepted {
        reply: oneshot::Sender<Result<Vec<Receipt>>>,
        receipts: Vec<Receipt>,
    },
    Refused {
        reply: oneshot::Sender<Result<Vec<Receipt>>>,
        refusal: Refusal,
    },
}

impl Pending {
    fn fail(self, why: &str) {
        let reply = match self {
            Pending::Accepted { reply, .. } | Pending::Refused { reply, .. } => reply,
        };
        let _ = reply.send(Err(LedgerError::Unavailable(why.to_string())));
    }
}

/// A checked group on its way to disk: its writes, the head it ends at and
/// the answers to send once it is durable. Groups without writes (only
/// duplicates or refusals) pass through too, so no answer overtakes the
/// flush of an entry it depends on.
struct Group {
    write: Option<store::GroupWrite>,
    head: Option<SignedHead>,
    pending: Vec<Pending>,
}

/// Groups checked but not yet durable; bounds how far the state may run
/// ahead of the disk.
const GROUPS_IN_FLIGHT: usize = 4;

impl Sequencer {
    async fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        store: Store,
        head: watch::Sender<SignedHead>,
    ) {
        let (to_writer, from_sequencer) = mpsc::channel::<Group>(GROUPS_IN_FLIGHT);
        let writer = std::thread::Builder::new()
            .name("coopledger-writer".into())
            .spawn(move || Writer { store, head }.run(from_sequencer));
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the writer thread");
                jobs.close();
                while let Some(job) = jobs.recv().await {
                    let _ = job.reply.send(Err(LedgerError::Unavailable(format!(
                        "no writer thread: {e}"
                    ))));
                }
                return;
            }
        };
        while let Some(first) = jobs.recv().await {
            let mut count = first.envelopes.len();
            let mut batch = vec![first];
            while count < self.limits.max_group_entries {
                match jobs.try_recv() {
                    Ok(job) => {
                        count += job.envelopes.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            let group = self.check_group(batch);
            if let Err(mpsc::error::SendError(group)) = to_writer.send(group).await {
                // The writer stopped after a failed write: the state is ahead
                // of the disk, so stop taking writes (a restart replays).
                tracing::error!("the writer stopped; refusing further writes until a restart");
                for p in group.pending {
                    p.fail("an earlier write failed; restart the server");
                }
                jobs.close();
                while let Some(job) = jobs.recv().await {
                    let _ = job.reply.send(Err(LedgerError::Unavailable(
                        "an earlier write failed; restart the server".into(),
                    )));
                }
                break;
            }
        }
        drop(to_writer);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }

    /// Settles a recorded distribution (recomputes it over the log as it
    /// stands and checks the signed digest); other entries need nothing.
    fn settle(&self, state: &LedgerState, v: &CheckedEntry) -> Result<Option<Settlement>, Refusal> {
        match &v.entry.body {
            Some(pb::entry::Body::RecordDistribution(r)) => {
                crate::payout::settle(state, r).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Checks and applies each job of the group and prepares its writes.
    fn check_group(&mut self, batch: Vec<Job>) -> Group {
        let cx_now = crate::ledger::now_ms();
        let mut write = store::GroupWrite::default();
        let mut pending = Vec::with_capacity(batch.len());
        let mut wrote = false;
        let Ok(mut state) = self.state.write() else {
            for job in batch {
                let _ = job
                    .reply
                    .send(Err(LedgerError::Unavailable("state lock poisoned".into())));
            }
            return Group {
                write: None,
                head: None,
                pending,
            };
        };
        let cx = CheckContext {
            log_public_key: &self.log_public_key,
            limits: &self.limits,
            now_ms: Some(cx_now),
        };
        for job in batch {
            let recheck = |state: &LedgerState, v: &CheckedEntry| self.settle(state, v);
            match apply_job(&mut state, &job, &cx, &recheck) {
                Err(refusal) => pending.push(Pending::Refused {
                    reply: job.reply,
                    refusal,
                }),
                Ok(outcomes) => {
                    let mut receipts = Vec::with_capacity(outcomes.len());
                    for (v, outcome) in job.envelopes.iter().zip(outcomes) {
                        let (sequence, duplicate) = match outcome {
                            Outcome::Duplicate(s) => (s, true),
                            Outcome::New(s) => {
                                let leaf = v.leaf_bytes();
                                for (level, index, hash) in
                                    self.frontier.append(crate::verify::leaf_hash(&leaf))
                                {
                                    write.node(level, index, &hash);
                                }
                                write.entry(s, &leaf);
                                wrote = true;
                                (s, false)
                            }
                        };
                        receipts.push(Receipt {
                            sequence,
                            id: v.id,
                            duplicate,
                            head: SignedHead::default(),
                        });
                    }
                    pending.push(Pending::Accepted {
                        reply: job.reply,
                        receipts,
                    });
                }
            }
        }
        if !wrote {
            return Group {
                write: None,
                head: None,
                pending,
            };
        }
        let head = sign_head(
            &self.log_key,
            Head {
                size: self.frontier.size(),
                root: self.frontier.root(),
            },
        );
        write.head(&head.head);
        write.checkpoint(&head.note);
        Group {
            write: Some(write),
            head: Some(head),
            pending,
        }
    }
}

/// The second stage, on its own thread because sled's writes and flushes
/// block: applies each group's batch in order, flushes once for every group
/// that is waiting, then publishes the new head and answers.
struct Writer {
    store: Store,
    head: watch::Sender<SignedHead>,
}

impl Writer {
    fn run(self, mut groups: mpsc::Receiver<Group>) {
        while let Some(first) = groups.blocking_recv() {
            let mut ready = vec![first];
            while ready.len() < GROUPS_IN_FLIGHT {
                match groups.try_recv() {
                    Ok(g) => ready.push(g),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.commit(&mut ready) {
                tracing::error!(error = %e, "write failed; the ledger stops taking writes (restart the server to replay from disk)");
                let why = format!("the write failed: {e}");
                for g in ready {
                    g.pending.into_iter().for_each(|p| p.fail(&why));
                }
                groups.close();
                while let Some(g) = groups.blocking_recv() {
                    g.pending.into_iter().for_each(|p| p.fail(&why));
                }
                return;
            }
            let durable = self.head.borrow().clone();
            for g in ready {
                answer(g, &durable);
            }
        }
    }

    fn commit(&self, groups: &mut [Group]) -> Result<()> {
        let mut wrote = false;
        for g in groups.iter_mut() {
            if let Some(w) = g.write.take() {
                self.store.apply(w)?;
                wrote = true;
            }
        }
        if wrote {
            self.store.flush()?;
        }
        if let Some(head) = groups.iter().rev().find_map(|g| g.head.clone()) {
            self.head.send_replace(head);
        }
        Ok(())
    }
}

/// Sends each job of a durable group its answer, with the group's own
/// signed head (or, for a group that wrote nothing, the durable one).
fn answer(group: Group, durable: &SignedHead) {
    let head = group.head.unwrap_or_else(|| durable.clone());
    for p in group.pending {
        match p {
            Pending::Accepted {
                reply,
                mut receipts,
            } => {
                for r in &mut receipts {
                    r.head = head.clone();
                }
                let _ = reply.send(Ok(receipts));
            }
            Pending::Refused { reply, refusal } => {
                let _ = reply.send(Err(LedgerError::Refused(refusal)));
            }
        }
    }
}

enum Outcome {
    New(u64),
    Duplicate(u64),
}

/// What the sequencer runs after the ledger rules: settles a recorded
/// distribution (see [`crate::payout::settle`]).
type Settle<'a> =
    dyn Fn(&LedgerState, &CheckedEntry) -> std::result::Result<Option<Settlement>, Refusal> + 'a;

/// Checks and applies one job's envelopes in order; on the first refusal,
/// takes back what the job applied and returns the refusal.
fn apply_job(
    state: &mut LedgerState,
    job: &Job,
    cx: &CheckContext<'_>,
    recheck: &Settle<'_>,
) -> std::result::Result<Vec<Outcome>, Refusal> {
    let mut outcomes = Vec::with_capacity(job.envelopes.len());
    let mut applied: Vec<(usize, Undo)> = Vec::new();
    for (i, v) in job.envelopes.iter().enumerate() {
        if let Some(s) = state.sequence_of(&v.id) {
            outcomes.push(Outcome::Duplicate(s));
            continue;
        }
        let checked = state
            .check(v, cx)
            .and_then(|admitted| recheck(state, v).map(|settlement| (admitted, settlement)));
        let (admitted, settlement) = match checked {
            Ok(checked) => checked,
            Err(refusal) => {
                for (j, undo) in applied.into_iter().rev() {
                    state.undo(&job.envelopes[j], undo);
                }
                return Err(if job.batch {
                    refusal.within(&format!("envelopes[{i}]"))
                } else {
                    refusal
                });
            }
        };
        let sequence = state.size();
        applied.push((i, state.apply(admitted, sequence, settlement)));
        outcomes.push(Outcome::New(sequence));
    }
    Ok(outcomes)
}
