//! The CLI does not take its server's word for a write. Every receipt is
//! checked: its id is the one this client computed from the bytes it
//! signed, its checkpoint is signed by the pinned log key and states the
//! receipt's size and root, an inclusion proof puts the entry at its
//! sequence in that tree, and a consistency proof ties that tree to the
//! last checkpoint this config saw of the log (which then moves forward).
//! Each id submitted is kept (`submitted/<log key>.jsonl` in the config
//! folder) so that `coopledger verify` reports any entry the log no longer
//! holds.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use coopledger::pb;
use coopledger::verify::{Checkpoint, verify_consistency, verify_inclusion};

use super::{Session, status};

/// Where the ids this config submitted to a log are kept.
fn submitted_path(home: &Path, log_public_key: &[u8; 32]) -> PathBuf {
    home.join("submitted")
        .join(format!("{}.jsonl", hex::encode(log_public_key)))
}

/// One submitted entry, as kept.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Submitted {
    /// Its sequence number, from the checked receipt.
    pub sequence: u64,
    /// Its id, hex.
    pub id: String,
}

/// Every entry this config submitted to the log with this key.
pub fn submitted(home: &Path, log_public_key: &[u8; 32]) -> Result<Vec<Submitted>> {
    let path = submitted_path(home, log_public_key);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!("{} line {}: not a submitted entry", path.display(), i + 1)
            })
        })
        .collect()
}

fn hash(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| anyhow::anyhow!("{what}: not 32 bytes"))
}

fn hashes(list: &[Vec<u8>], what: &str) -> Result<Vec<[u8; 32]>> {
    list.iter().map(|h| hash(h, what)).collect()
}

/// Checks the receipt of `envelope` (see the module doc), advances this
/// config's witness of the log, and keeps the id.
pub async fn check_receipt(
    session: &mut Session,
    home: &Path,
    envelope: &pb::Envelope,
    receipt: &pb::Receipt,
) -> Result<()> {
    let log_key = hash(&session.info.log_public_key, "the server's log key")?;
    let id = check_id(envelope, receipt)?;
    let (cp, note) = receipt_checkpoint(receipt, &log_key)?;
    check_included(session, envelope, receipt, &cp).await?;
    super::audit::advance_witness(session, home, &log_key, &cp, note).await?;
    keep(home, &log_key, &[(receipt.sequence, id.to_string())])
}

/// Checks the receipts of one `SubmitBatch` (`receipts[i]` answers
/// `envelopes[i]`): every receipt names the id this client computed and
/// carries a checkpoint signed by the pinned log key that holds it; the
/// first and the last entry of the batch are proved included (a batch lands
/// all or nothing, in order, so the others sit between them; every id is
/// kept for `coopledger verify`, which checks each one); the witness moves
/// to the newest checkpoint.
pub async fn check_batch_receipts(
    session: &mut Session,
    home: &Path,
    envelopes: &[pb::Envelope],
    receipts: &[pb::Receipt],
) -> Result<()> {
    if envelopes.len() != receipts.len() {
        bail!(
            "the server answered {} envelopes with {} receipts: do not trust this server",
            envelopes.len(),
            receipts.len()
        );
    }
    let log_key = hash(&session.info.log_public_key, "the server's log key")?;
    let mut kept = Vec::with_capacity(receipts.len());
    let mut newest: Option<(Checkpoint, &str)> = None;
    let mut current: Option<(&str, Checkpoint)> = None;
    for (envelope, receipt) in envelopes.iter().zip(receipts) {
        let id = check_id(envelope, receipt)?;
        let note = receipt_note(receipt)?;
        let cp = match current.take() {
            Some((n, cp)) if n == note => cp,
            _ => receipt_checkpoint(receipt, &log_key)?.0,
        };
        check_states(receipt, &cp)?;
        if newest.as_ref().is_none_or(|(n, _)| cp.size > n.size) {
            newest = Some((cp.clone(), note));
        }
        current = Some((note, cp));
        kept.push((receipt.sequence, id.to_string()));
    }
    let (Some((cp, note)), Some(first), Some(last)) = (newest, envelopes.first(), envelopes.last())
    else {
        return Ok(());
    };
    for (envelope, receipt) in [(first, &receipts[0]), (last, &receipts[receipts.len() - 1])] {
        check_included(session, envelope, receipt, &cp).await?;
    }
    super::audit::advance_witness(session, home, &log_key, &cp, note).await?;
    keep(home, &log_key, &kept)
}

/// The id of `envelope`, if the receipt names it.
fn check_id(envelope: &pb::Envelope, receipt: &pb::Receipt) -> Result<coopledger::verify::EntryId> {
    let id = coopledger::client::envelope_id(envelope);
    if receipt.id != id.0 {
        bail!(
            "the server's receipt names entry {} but this client signed {id}: do not trust this server",
            hex::encode(&receipt.id)
        );
    }
    Ok(id)
}

fn receipt_note(receipt: &pb::Receipt) -> Result<&str> {
    Ok(&receipt
        .checkpoint
        .as_ref()
        .context("the receipt carries no signed checkpoint")?
        .note)
}

/// The receipt's checkpoint, signed by the pinned log key and stating the
/// receipt's size and root, with its note.
fn receipt_checkpoint<'r>(
    receipt: &'r pb::Receipt,
    log_key: &[u8; 32],
) -> Result<(Checkpoint, &'r str)> {
    let note = receipt_note(receipt)?;
    let cp = Checkpoint::verify(note, log_key)
        .map_err(|e| anyhow::anyhow!("the receipt's checkpoint: {e}"))?;
    check_states(receipt, &cp)?;
    Ok((cp, note))
}

/// Refuses a receipt whose size, root or sequence is not what its signed
/// checkpoint states.
fn check_states(receipt: &pb::Receipt, cp: &Checkpoint) -> Result<()> {
    if cp.size != receipt.log_size
        || cp.root.as_slice() != receipt.root.as_slice()
        || receipt.sequence >= cp.size
    {
        bail!(
            "the receipt says entry {} of a log of {} entries but its signed checkpoint says {} entries",
            receipt.sequence,
            receipt.log_size,
            cp.size
        );
    }
    Ok(())
}

/// Proves `envelope` is at the receipt's sequence of the tree `cp` signs.
async fn check_included(
    session: &mut Session,
    envelope: &pb::Envelope,
    receipt: &pb::Receipt,
    cp: &Checkpoint,
) -> Result<()> {
    let id = coopledger::client::envelope_id(envelope);
    let proof = session
        .client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            key: Some(pb::get_inclusion_proof_request::Key::Sequence(
                receipt.sequence,
            )),
            tree_size: cp.size,
        })
        .await
        .map_err(status)?
        .into_inner();
    let leaf = coopledger::verify::VerifiedEnvelope::verify(envelope, usize::MAX)
        .map_err(|e| anyhow::anyhow!("the envelope this client signed: {e}"))?
        .leaf_bytes();
    verify_inclusion(
        &coopledger::verify::leaf_hash(&leaf),
        receipt.sequence,
        cp.size,
        &hashes(&proof.hashes, "an inclusion proof hash")?,
        &cp.root,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "entry {id} is not at sequence {} of the checkpoint the server signed: {e}",
            receipt.sequence
        )
    })
}

/// Appends submitted ids to this config's list for the log.
fn keep(home: &Path, log_key: &[u8; 32], entries: &[(u64, String)]) -> Result<()> {
    let path = submitted_path(home, log_key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut lines = String::new();
    for (sequence, id) in entries {
        lines += &serde_json::to_string(&Submitted {
            sequence: *sequence,
            id: id.clone(),
        })?;
        lines.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// Checks that the tree `(size, root)` and the witness `(w_size, w_root)`
/// are one history: the smaller is a prefix of the larger.
pub async fn check_consistency(
    session: &mut Session,
    (size, root): (u64, [u8; 32]),
    (w_size, w_root): (u64, [u8; 32]),
) -> Result<()> {
    let ((old, old_root), (new, new_root)) = if w_size <= size {
        ((w_size, w_root), (size, root))
    } else {
        ((size, root), (w_size, w_root))
    };
    if old == new {
        if old_root != new_root {
            bail!(
                "the log forked: two signed roots for size {old} ({} and {})",
                hex::encode(old_root),
                hex::encode(new_root)
            );
        }
        return Ok(());
    }
    let proof = session
        .client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: old,
            new_size: new,
        })
        .await
        .map_err(status)?
        .into_inner();
    verify_consistency(
        old,
        new,
        &old_root,
        &new_root,
        &hashes(&proof.hashes, "a consistency proof hash")?,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the log forked: the checkpoint of size {new} does not extend the one of size {old}: {e}"
        )
    })
}
