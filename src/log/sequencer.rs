//! The single writer's first stage: takes every request that is waiting
//! (group commit), checks each entry against the rules and folds it into
//! the state, settles recorded distributions, and hands each group to the
//! writer thread.

use std::sync::{Arc, RwLock};

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot, watch};

use crate::ledger::Limits;
use crate::ledger::Refusal;
use crate::ledger::{CheckContext, CheckedEntry, LedgerState, Settlement, Undo};
use crate::pb;
use crate::verify::Frontier;

use super::error::{LedgerError, Result};
use super::group::{GROUPS_IN_FLIGHT, Group, Pending};
use super::head::{Receipt, SignedHead, sign_head};
use super::store::{self, Head, Store};
use super::writer::Writer;

/// One request waiting for the sequencer: envelopes to append all or none.
pub(super) struct Job {
    pub(super) envelopes: Vec<CheckedEntry>,
    /// Per envelope, a recorded distribution's settlement computed before
    /// the job was queued (see [`Presettled`]).
    pub(super) presettled: Vec<Option<Presettled>>,
    /// Whether the request was a batch, so refusals name `envelopes[i]`.
    pub(super) batch: bool,
    pub(super) reply: oneshot::Sender<Result<Vec<Receipt>>>,
}

/// A recorded distribution settled before it reached the sequencer, off the
/// state lock: `outcome` is what settling it over the first `at_size`
/// entries gave. It stands if nothing the distribution reads moved since.
#[derive(Clone, Debug)]
pub(super) struct Presettled {
    pub(super) at_size: u64,
    pub(super) outcome: std::result::Result<Settlement, Refusal>,
}

/// The single writer's first stage: checks rules and folds entries into the
/// state, then hands each group to the [`Writer`] thread. The two stages
/// overlap, so the rules for group N+1 are checked while group N is flushed.
pub(super) struct Sequencer {
    pub(super) state: Arc<RwLock<LedgerState>>,
    pub(super) limits: Limits,
    pub(super) log_public_key: [u8; 32],
    /// Signs the checkpoint of each group's head.
    pub(super) log_key: SigningKey,
    pub(super) frontier: Frontier,
    /// Reads the time each group arrives at.
    pub(super) clock: crate::ledger::Clock,
    /// The data folder, where state snapshots go.
    pub(super) dir: std::path::PathBuf,
    /// The durable head, to write a snapshot only once its entries are on
    /// disk.
    pub(super) durable: watch::Receiver<SignedHead>,
    /// The size of the last snapshot written (or restored from).
    pub(super) last_snapshot: u64,
    /// Set while a snapshot is being written, so they never pile up.
    pub(super) snapshot_busy: Arc<std::sync::atomic::AtomicBool>,
}

impl Sequencer {
    pub(super) async fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        store: Store,
        head: watch::Sender<SignedHead>,
        witness: super::witness::Witness,
    ) {
        let (to_writer, from_sequencer) = mpsc::channel::<Group>(GROUPS_IN_FLIGHT);
        let writer = std::thread::Builder::new()
            .name("coopledger-writer".into())
            .spawn(move || {
                Writer {
                    store,
                    head,
                    witness,
                }
                .run(from_sequencer)
            });
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
        let mut clean = true;
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
            let Some(batch) = self.refuse_if_disk_full(batch) else {
                continue;
            };
            let group = self.check_group(batch);
            let sent = to_writer.send(group).await;
            if sent.is_ok() {
                self.snapshot_if_due();
            }
            if let Err(mpsc::error::SendError(group)) = sent {
                clean = false;
                // The writer stopped after a failed write: the state is ahead
                // of the disk, so stop taking writes (a restart replays).
                tracing::error!("the writer stopped; refusing further writes until a restart");
                for p in group.pending {
                    p.fail(LedgerError::Unavailable(
                        "an earlier write failed; restart the server".into(),
                    ));
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
        let joined = tokio::task::spawn_blocking(move || writer.join()).await;
        let writer_ok = matches!(joined, Ok(Ok(true)));
        if clean && writer_ok && self.frontier.size() > self.last_snapshot {
            // A clean stop: every group is durable, so the state is the
            // fold of exactly the stored log; the next start begins here.
            let (size, root) = (self.frontier.size(), self.frontier.root());
            let (dir, key, state) = (self.dir.clone(), self.log_key.clone(), self.state.clone());
            let reserve = self.limits.min_free_disk_bytes;
            store_snapshot(dir, key, (size, root), reserve, move || {
                state
                    .read()
                    .map_err(|_| LedgerError::Internal("state lock poisoned".into()))?
                    .snapshot_bytes()
                    .map_err(|e| LedgerError::Internal(e.to_string()))
            })
            .await;
        }
    }

    /// Refuses every job of a group, before anything of it is folded or
    /// written, when the disk holding the data folder has less free space
    /// than `min_free_disk_bytes` plus a margin for the group itself (sled
    /// writes each entry about twice: its log, then its pages). Returns the
    /// batch when there is room. sled never meets a full disk mid-write,
    /// reads go on, and writes are taken again as soon as space is freed.
    fn refuse_if_disk_full(&self, batch: Vec<Job>) -> Option<Vec<Job>> {
        let reserve = self.limits.min_free_disk_bytes;
        if reserve == 0 {
            return Some(batch);
        }
        let bytes: u64 = batch
            .iter()
            .flat_map(|job| &job.envelopes)
            .map(|v| v.pae.len() as u64 + 100)
            .sum();
        let free = match fs4::available_space(&self.dir) {
            Ok(free) => free,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the free space of the data folder's disk");
                return Some(batch);
            }
        };
        if free >= reserve.saturating_add(bytes.saturating_mul(4)) {
            return Some(batch);
        }
        let mib = |b: u64| b.div_ceil(1 << 20);
        let message = format!(
            "the disk holding the data folder {} is full: {} MiB free, and the server keeps {} MiB free (min_free_disk_bytes); nothing was written. Free some space and resubmit the same entries: writes are taken again as soon as there is room",
            self.dir.display(),
            mib(free),
            mib(reserve)
        );
        tracing::warn!("{message}");
        for job in batch {
            let _ = job
                .reply
                .send(Err(LedgerError::Refused(Refusal::ResourceExhausted(
                    message.clone(),
                ))));
        }
        None
    }

    /// Every `max_replay_entries` entries, writes a snapshot of the state
    /// (copied here, between groups, so it is exactly the fold of the
    /// frontier's entries; encoded on a blocking thread and written to disk
    /// once those entries are durable, so ingestion goes on meanwhile:
    /// encoding it here stopped the sequencer for the whole encoding, 3 s
    /// at 1.4M entries against 0.1 s for the copy, and batched ingestion
    /// from 32 clients ran at about 25,000 entries/s instead of 36,000).
    fn snapshot_if_due(&mut self) {
        use std::sync::atomic::Ordering;
        let size = self.frontier.size();
        if size
            < self
                .last_snapshot
                .saturating_add(self.limits.max_replay_entries)
            || self.snapshot_busy.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let copy = match self.state.read() {
            Ok(state) => state.snapshot_copy(),
            Err(_) => {
                self.snapshot_busy.store(false, Ordering::Release);
                return;
            }
        };
        self.last_snapshot = size;
        let root = self.frontier.root();
        let (dir, key, busy) = (
            self.dir.clone(),
            self.log_key.clone(),
            self.snapshot_busy.clone(),
        );
        let mut durable = self.durable.clone();
        let reserve = self.limits.min_free_disk_bytes;
        tokio::spawn(async move {
            if durable.wait_for(|h| h.head.size >= size).await.is_ok() {
                store_snapshot(dir, key, (size, root), reserve, move || {
                    // Its own thread, holding no lock: below the writer and
                    // the request tasks, so a Submit meanwhile waits for no
                    // encoding (`background.rs`).
                    super::background::lower_this_threads_priority();
                    copy.snapshot_bytes()
                        .map_err(|e| LedgerError::Internal(e.to_string()))
                })
                .await;
            }
            busy.store(false, Ordering::Release);
        });
    }

    /// Settles a recorded distribution; other entries need nothing. The
    /// settlement computed before the job reached the sequencer stands when
    /// nothing it read has moved since (the rules' own "log moved" test);
    /// otherwise, rarely, it is recomputed here over the log as it stands.
    fn settle(
        &self,
        state: &LedgerState,
        v: &CheckedEntry,
        ahead: Option<&Presettled>,
    ) -> Result<Option<Settlement>, Refusal> {
        let Some(pb::entry::Body::RecordDistribution(r)) = &v.entry.body else {
            return Ok(None);
        };
        let (start, end) = crate::payout::record_period(r);
        match ahead {
            Some(p) if state.moved_since(p.at_size, start, end).is_none() => {
                p.outcome.clone().map(Some)
            }
            _ => crate::payout::settle(state, r)
                .map(Some)
                .map_err(crate::payout::PayoutError::into_refusal),
        }
    }

    /// Checks and applies each job of the group and prepares its writes.
    fn check_group(&mut self, batch: Vec<Job>) -> Group {
        let cx_now = self.clock.now_ms();
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
            let recheck = |state: &LedgerState, v: &CheckedEntry, ahead: Option<&Presettled>| {
                self.settle(state, v, ahead)
            };
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

/// Encodes (with `body`) and writes a state snapshot of `size` entries with
/// root `root` on a thread of its own (which `body` may lower, see
/// `background.rs`), logging the outcome: a snapshot is only a cache, so
/// failing to write one never stops the ledger.
async fn store_snapshot(
    dir: std::path::PathBuf,
    key: SigningKey,
    (size, root): (u64, crate::verify::Hash),
    reserve: u64,
    body: impl FnOnce() -> Result<Vec<u8>> + Send + 'static,
) {
    let wrote = super::background::run_on_own_thread("snapshot", move || {
        super::snapshot::write(&dir, &key, size, root, &body()?, reserve)
    })
    .await;
    match wrote {
        Ok(Ok(())) => tracing::info!("wrote the state snapshot at {size} entries"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot write the state snapshot"),
        Err(e) => tracing::warn!(error = %e, "the snapshot task failed"),
    }
}

enum Outcome {
    New(u64),
    Duplicate(u64),
}

/// What the sequencer runs after the ledger rules: settles a recorded
/// distribution (see [`crate::payout::settle`]).
type Settle<'a> = dyn Fn(
        &LedgerState,
        &CheckedEntry,
        Option<&Presettled>,
    ) -> std::result::Result<Option<Settlement>, Refusal>
    + 'a;

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
        let checked = state.check(v, cx).and_then(|admitted| {
            let ahead = job.presettled.get(i).and_then(Option::as_ref);
            recheck(state, v, ahead).map(|settlement| (admitted, settlement))
        });
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
