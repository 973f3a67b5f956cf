//! The member's audit: replay a log from nothing — every signature, every
//! ingestion rule, the Merkle root — and compare it with the server's signed
//! checkpoint and with the last checkpoint this member saw (as a witness
//! would). The server's own start-up replay uses the same [`Replayer`], so
//! the server and its auditors cannot disagree about what a valid log is.

use super::entry::CheckedEntry;
use super::limits::Limits;
use super::refusal::Refusal;
use super::rules::CheckContext;
use super::state::{LedgerState, Settlement};
use crate::pb::{self, entry::Body};
use crate::verify::Checkpoint;
use crate::verify::Frontier;
use crate::verify::Hash;
use crate::verify::VerifiedEnvelope;

/// What an audit found wrong, precisely enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// One entry is damaged, missing, misplaced or breaks a rule.
    #[error("entry {sequence}: {detail}")]
    Entry {
        /// Its sequence number.
        sequence: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The checkpoint is missing, unsigned or states another tree.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The log does not extend the checkpoint the auditor saw before.
    #[error(
        "the log forked: at size {size} it now has root {now} but the checkpoint seen before says {before}; \
         the server rewrote history or serves another log under the same key"
    )]
    Fork {
        /// The earlier checkpoint's size.
        size: u64,
        /// The root recomputed now for that size, hex.
        now: String,
        /// The root the earlier checkpoint signed, hex.
        before: String,
    },
}

/// How a replay settles a recorded distribution. Recomputing one needs the
/// scoring core, which the ledger's rules do not use, so the caller brings
/// it: `payout::Recompute` for start-up and audits, `payout::Known` to
/// rebuild an earlier state of a log this server already checked.
pub trait Settle: Send {
    /// What the distribution recorded at `sequence` paid, given the state
    /// just before it (its ledger rules already passed).
    fn settle(
        &mut self,
        state: &LedgerState,
        record: &pb::RecordDistribution,
        sequence: u64,
    ) -> Result<Settlement, Refusal>;

    /// For an auditor: what a record the ledger rules refused would have
    /// done wrong (say, which claims it repays twice), if that can be told.
    fn explain_refusal(
        &self,
        _state: &LedgerState,
        _record: &pb::RecordDistribution,
    ) -> Option<String> {
        None
    }
}

/// Rebuilds state and the Merkle tree entry by entry, checking each, and
/// settles every recorded distribution where it lands.
pub struct Replayer {
    state: LedgerState,
    frontier: Frontier,
    log_public_key: Option<[u8; 32]>,
    watch: Option<u64>,
    root_at_watch: Option<Hash>,
    unbounded: Limits,
    settle: Box<dyn Settle>,
}

/// A replayed log.
pub struct Replayed {
    /// The state the log folds to.
    pub state: LedgerState,
    /// Its Merkle tree's right edge (size and root).
    pub frontier: Frontier,
    /// The log key named by genesis.
    pub log_public_key: Option<[u8; 32]>,
    /// The root the tree had at the watched size, if it got there.
    pub root_at_watch: Option<Hash>,
}

impl Replayer {
    /// Starts an empty replay. `log_public_key` is the key genesis must name
    /// (the server knows its own); `None` takes it from genesis (an auditor).
    /// `watch` records the root at that size (an earlier checkpoint's size).
    /// `settle` settles each recorded distribution.
    pub fn new(
        log_public_key: Option<[u8; 32]>,
        watch: Option<u64>,
        settle: Box<dyn Settle>,
    ) -> Self {
        Replayer {
            state: LedgerState::default(),
            frontier: Frontier::new(),
            log_public_key,
            watch,
            root_at_watch: (watch == Some(0)).then_some(crate::verify::EMPTY_ROOT),
            unbounded: Limits::unbounded(),
            settle,
        }
    }

    /// Resumes a replay from `state`, the fold of the `frontier.size()`
    /// entries the frontier was built from (a server's snapshot, once its
    /// root was checked against the stored entries).
    pub fn resume(
        state: LedgerState,
        frontier: Frontier,
        log_public_key: [u8; 32],
        settle: Box<dyn Settle>,
    ) -> Result<Self, AuditError> {
        if state.size() != frontier.size() {
            return Err(AuditError::Entry {
                sequence: frontier.size(),
                detail: format!(
                    "the state snapshot holds {} entries but its tree {}",
                    state.size(),
                    frontier.size()
                ),
            });
        }
        Ok(Replayer {
            state,
            frontier,
            log_public_key: Some(log_public_key),
            watch: None,
            root_at_watch: None,
            unbounded: Limits::unbounded(),
            settle,
        })
    }

    /// The number of entries replayed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The Merkle root of the entries replayed.
    pub fn root(&self) -> crate::verify::Hash {
        self.frontier.root()
    }

    /// Checks and folds in the next entry (signature already verified by the
    /// caller via [`VerifiedEnvelope`]): the same stateless checks and rules
    /// as on arrival, without the clock or size limits (they judged the
    /// entry when it arrived). Returns the Merkle nodes it completes.
    pub fn push(
        &mut self,
        sequence: u64,
        v: VerifiedEnvelope,
    ) -> Result<Vec<crate::verify::Node>, AuditError> {
        let err = |detail: String| AuditError::Entry { sequence, detail };
        if sequence != self.size() {
            return Err(AuditError::Entry {
                sequence: self.size(),
                detail: format!("missing (the next entry found is {sequence})"),
            });
        }
        if let Some(first) = self.state.sequence_of(&v.id) {
            return Err(err(format!(
                "the same entry {} is already at sequence {first}",
                v.id
            )));
        }
        let log_key = match (&self.log_public_key, &v.entry.body) {
            (Some(k), _) => *k,
            (None, Some(Body::Genesis(g))) => <[u8; 32]>::try_from(g.log_public_key.as_slice())
                .map_err(|_| err("genesis names no 32-byte log key".into()))?,
            (None, _) => return Err(err("the log does not start with a genesis entry".into())),
        };
        self.log_public_key = Some(log_key);
        let cx = CheckContext {
            log_public_key: &log_key,
            limits: &self.unbounded,
            now_ms: None,
        };
        let v = CheckedEntry::new(v, &self.unbounded)
            .map_err(|r| err(format!("breaks a ledger rule: {r}")))?;
        let record = match &v.entry.body {
            Some(Body::RecordDistribution(r)) => Some(r),
            _ => None,
        };
        let admitted = match self.state.check(&v, &cx) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                // A stale record that repays claims twice is what an auditor
                // most needs named: say which claims.
                let why = record
                    .and_then(|r| self.settle.explain_refusal(&self.state, r))
                    .map_or(String::new(), |d| format!("; {d}"));
                return Err(err(format!("breaks a ledger rule: {refusal}{why}")));
            }
        };
        let settlement =
            match record {
                None => None,
                Some(r) => Some(self.settle.settle(&self.state, r, sequence).map_err(
                    |refusal| {
                        err(format!(
                            "the recorded distribution is not what the rules give: {refusal}"
                        ))
                    },
                )?),
            };
        self.state.apply(admitted, sequence, settlement);
        let nodes = self
            .frontier
            .append(crate::verify::leaf_hash(&v.leaf_bytes()));
        if self.watch == Some(self.size()) {
            self.root_at_watch = Some(self.frontier.root());
        }
        Ok(nodes)
    }

    /// Ends the replay.
    pub fn finish(self) -> Replayed {
        Replayed {
            state: self.state,
            frontier: self.frontier,
            log_public_key: self.log_public_key,
            root_at_watch: self.root_at_watch,
        }
    }
}

impl Replayed {
    /// Checks a signed checkpoint note against the replayed tree: signed by
    /// the log key genesis names, for exactly this size and root.
    pub fn check_checkpoint(&self, note: &str) -> Result<Checkpoint, AuditError> {
        let key = self.log_public_key.ok_or_else(|| {
            AuditError::Checkpoint("the log is empty: no genesis names a log key".into())
        })?;
        let cp =
            Checkpoint::verify(note, &key).map_err(|e| AuditError::Checkpoint(e.to_string()))?;
        if cp.size != self.frontier.size() || cp.root != self.frontier.root() {
            return Err(AuditError::Checkpoint(format!(
                "the entries give size {} root {} but the signed checkpoint says size {} root {}",
                self.frontier.size(),
                hex::encode(self.frontier.root()),
                cp.size,
                hex::encode(cp.root)
            )));
        }
        Ok(cp)
    }

    /// Checks the log extends `earlier` (a checkpoint seen before): the root
    /// recomputed at its size must be the one it signed.
    pub fn check_extends(&self, earlier: &Checkpoint) -> Result<(), AuditError> {
        if earlier.size > self.frontier.size() {
            return Err(AuditError::Fork {
                size: earlier.size,
                now: format!("(none: the log has only {} entries)", self.frontier.size()),
                before: hex::encode(earlier.root),
            });
        }
        match self.root_at_watch {
            Some(root) if root == earlier.root => Ok(()),
            Some(root) => Err(AuditError::Fork {
                size: earlier.size,
                now: hex::encode(root),
                before: hex::encode(earlier.root),
            }),
            None => Err(AuditError::Checkpoint(format!(
                "the replay did not record the root at size {}",
                earlier.size
            ))),
        }
    }
}
