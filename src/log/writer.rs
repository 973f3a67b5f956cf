//! The single writer's second stage, on its own thread because sled's
//! writes and flushes block: applies each group's batch in order, flushes
//! once for every group that is waiting, then publishes the new head and
//! answers.

use tokio::sync::{mpsc, watch};

use super::error::{LedgerError, Result};
use super::group::{GROUPS_IN_FLIGHT, Group, answer};
use super::head::SignedHead;
use super::store::Store;

/// The second stage, on its own thread because sled's writes and flushes
/// block: applies each group's batch in order, flushes once for every group
/// that is waiting, then publishes the new head and answers.
pub(super) struct Writer {
    pub(super) store: Store,
    pub(super) head: watch::Sender<SignedHead>,
    /// The checkpoint file outside the store.
    pub(super) witness: super::witness::Witness,
}

impl Writer {
    /// Runs until the sequencer hangs up; `true` when every group it was
    /// given is durable (a clean stop).
    pub(super) fn run(mut self, mut groups: mpsc::Receiver<Group>) -> bool {
        while let Some(first) = groups.blocking_recv() {
            let mut ready = vec![first];
            while ready.len() < GROUPS_IN_FLIGHT {
                match groups.try_recv() {
                    Ok(g) => ready.push(g),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.commit(&mut ready) {
                let disk_full = e.is_disk_full();
                let detail = e.with_causes();
                tracing::error!(
                    "write failed ({detail}); the ledger stops taking writes (restart the server to replay from disk)"
                );
                let failed = || LedgerError::WriteFailed {
                    disk_full,
                    detail: detail.clone(),
                };
                for g in ready {
                    g.pending.into_iter().for_each(|p| p.fail(failed()));
                }
                groups.close();
                while let Some(g) = groups.blocking_recv() {
                    g.pending.into_iter().for_each(|p| p.fail(failed()));
                }
                return false;
            }
            let durable = self.head.borrow().clone();
            for g in ready {
                answer(g, &durable);
            }
        }
        // A clean stop: the last checkpoint reaches the disk before exit.
        if let Err(e) = self.witness.sync() {
            tracing::error!(error = %e, "cannot sync the checkpoint file");
        }
        true
    }

    fn commit(&mut self, groups: &mut [Group]) -> Result<()> {
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
            // Durable in sled first, then the checkpoint outside it, then
            // the answers: a rollback of the store can never take back a
            // checkpoint a client holds.
            self.witness.write(&head.note)?;
            self.head.send_replace(head);
        }
        Ok(())
    }
}
