//! Opening a data folder: the log key, the sled store, the replay of every
//! stored entry with the auditors' `Replayer`, and the check of the result
//! against the last checkpoint the server signed.

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::ledger::LedgerState;
use crate::ledger::{AuditError, Replayed};
use crate::verify::Checkpoint;
use crate::verify::VerifiedEnvelope;
use crate::verify::{Frontier, NodeSource};

use super::error::{LedgerError, Result};
use super::head::{LOG_KEY_FILE, SignedHead, sign_head};
use super::store::{Head, Store};

type Opened = (
    Store,
    LedgerState,
    Frontier,
    SigningKey,
    SignedHead,
    super::witness::Witness,
);

/// Loads the log key, opens sled, replays every entry and checks the result
/// against the last signed checkpoint.
pub(super) fn open_blocking(dir: &Path) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let key_path = dir.join(LOG_KEY_FILE);
    let log_key =
        super::keyfile::load_or_create(&key_path).map_err(|source| LedgerError::KeyFile {
            path: key_path.display().to_string(),
            source,
        })?;
    let store = Store::open(dir)?;
    let (state, frontier) = replay(&store, &log_key.verifying_key().to_bytes())?;
    let head = check_checkpoint(&store, &log_key, &frontier)?;
    super::witness::check(dir, &store, &frontier, &log_key.verifying_key().to_bytes())?;
    let witness = super::witness::Witness::open(dir, &head.note)?;
    Ok((store, state, frontier, log_key, head, witness))
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
