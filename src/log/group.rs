//! A group commit between the two stages of the writer: the checked
//! entries' writes, the head they end at, and the answers to send once the
//! group is durable.

use tokio::sync::oneshot;

use super::error::{LedgerError, Result};
use super::head::{Receipt, SignedHead};
use super::store;
use crate::ledger::Refusal;

/// The outcome of one job inside a group, before the flush.
pub(super) enum Pending {
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
    /// Answers with `error` instead (the group could not be written).
    pub(super) fn fail(self, error: LedgerError) {
        let reply = match self {
            Pending::Accepted { reply, .. } | Pending::Refused { reply, .. } => reply,
        };
        let _ = reply.send(Err(error));
    }
}

/// A checked group on its way to disk: its writes, the head it ends at and
/// the answers to send once it is durable. Groups without writes (only
/// duplicates or refusals) pass through too, so no answer overtakes the
/// flush of an entry it depends on.
pub(super) struct Group {
    pub(super) write: Option<store::GroupWrite>,
    pub(super) head: Option<SignedHead>,
    pub(super) pending: Vec<Pending>,
}

/// Groups checked but not yet durable; bounds how far the state may run
/// ahead of the disk.
pub(super) const GROUPS_IN_FLIGHT: usize = 4;

/// Sends each job of a durable group its answer, with the group's own
/// signed head (or, for a group that wrote nothing, the durable one).
pub(super) fn answer(group: Group, durable: &SignedHead) {
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
