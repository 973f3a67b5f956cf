//! The append-only log, and the only code that touches disk: the
//! [`Ledger`] handle (this file), opening a data folder and replaying it
//! (`open.rs`), the sequencer that checks and groups entries
//! (`sequencer.rs`), the writer thread that makes them durable
//! (`writer.rs`), the sled store (`store.rs`) and key files (`keyfile.rs`).
//!
//! Verification of signatures happens before an entry reaches the sequencer,
//! on the request's own task, so the sequencer only checks rules against the
//! state, batches every request that is waiting (group commit), writes the
//! group in one atomic sled batch, flushes from `spawn_blocking`, and only
//! then answers. One writer means one total order and no write conflicts;
//! grouping means one flush serves many requests.

pub mod background;
mod error;
mod group;
mod head;
pub mod keyfile;
mod open;
mod sequencer;
mod snapshot;
mod store;
mod witness;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot, watch};

use crate::ledger::Refusal;
use crate::ledger::Replayer;
use crate::ledger::{CheckedEntry, LedgerState};
use crate::ledger::{Clock, Limits};
use crate::pb;
use crate::verify::{EntryId, VerifiedEnvelope};

pub use error::{LedgerError, Result};
pub use head::{LOG_KEY_FILE, Receipt, SignedHead, sign_head};
pub use open::{
    AuditedFolder, Signatures, audit_folder, audit_folder_with_progress, replay_into, restore,
};
pub use snapshot::{
    SNAPSHOT_FILE, SetAside, Snapshot, read as read_snapshot, write as write_snapshot,
};
pub use store::{GroupWrite, Head, Store};
pub use witness::{
    CHECKPOINT_FILE, SLOT_BYTES, Witness, check as check_checkpoint_file, default_copy,
    read as read_checkpoint_file,
};

use open::open_blocking;
use sequencer::{Job, Presettled, Sequencer};

/// A shared handle to an open ledger: submit entries, read entries and state.
/// Cheap to clone; the sequencer stops when [`Ledger::close`] is called or the
/// last handle is dropped.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    store: Store,
    state: Arc<RwLock<LedgerState>>,
    limits: Limits,
    log_key: SigningKey,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    head: watch::Receiver<SignedHead>,
    sequencer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Ledger {
    /// Opens the ledger in `data_dir` (creating it and the log key on first
    /// start), replays the whole log to rebuild state, checks the replayed
    /// Merkle root against the stored head, and starts the sequencer.
    /// A log that does not replay cleanly is refused with the sequence number
    /// of the first bad entry.
    pub async fn open(
        data_dir: &Path,
        limits: Limits,
        clock: Clock,
        checkpoint_copy: Option<&Path>,
    ) -> Result<Ledger> {
        let dir: PathBuf = data_dir.to_path_buf();
        let folder = dir.clone();
        let copy = checkpoint_copy.map(Path::to_path_buf);
        let opened = tokio::task::spawn_blocking(move || open_blocking(&folder, copy.as_deref()))
            .await
            .map_err(|e| LedgerError::Unavailable(format!("replay task failed: {e}")))??;
        let open::Opened {
            store,
            state,
            frontier,
            log_key,
            head,
            witness,
            snapshot_size,
        } = opened;
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(limits.max_pending_requests.max(1));
        let state = Arc::new(RwLock::new(state));
        let sequencer = Sequencer {
            state: state.clone(),
            limits: limits.clone(),
            log_public_key: log_key.verifying_key().to_bytes(),
            clock: clock.clone(),
            log_key: log_key.clone(),
            frontier,
            dir,
            durable: head_rx.clone(),
            last_snapshot: snapshot_size,
            snapshot_busy: Arc::default(),
        };
        let handle = tokio::spawn(sequencer.run(rx, store.clone(), head_tx, witness));
        Ok(Ledger {
            inner: Arc::new(Inner {
                clock,
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
        let presettled = self.presettle(&envelopes).await;
        let (reply, answer) = oneshot::channel();
        sender
            .try_send(Job {
                envelopes,
                presettled,
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

    /// Settles each recorded distribution among `entries` ahead of the
    /// sequencer: the scoring input is taken under the state's read lock,
    /// and scored after it is released, on a blocking thread, so the
    /// sequencer only checks that nothing moved since.
    async fn presettle(&self, entries: &[CheckedEntry]) -> Vec<Option<Presettled>> {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let Some(pb::entry::Body::RecordDistribution(r)) = &e.entry.body else {
                out.push(None);
                continue;
            };
            let (ledger, r) = (self.clone(), r.clone());
            let ahead = tokio::task::spawn_blocking(move || {
                let (input, at_size) = {
                    let state = ledger.state().ok()?;
                    (crate::payout::settle_input(&state, &r), state.size())
                };
                let outcome = input.and_then(|source| {
                    crate::payout::settle_scored(source, &r)
                        .map_err(crate::payout::PayoutError::into_refusal)
                });
                Some(Presettled { at_size, outcome })
            })
            .await
            .ok()
            .flatten();
            out.push(ahead);
        }
        out
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

    /// The clock the server reads arrivals with.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
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
            .map(|d| (d.sequence, crate::ledger::Settlement::clone(&d.settlement)))
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
