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
    let id = coopledger::client::envelope_id(envelope);
    if receipt.id != id.0 {
        bail!(
            "the server's receipt names entry {} but this client signed {id}: do not trust this server",
            hex::encode(&receipt.id)
        );
    }
    let note = &receipt
        .checkpoint
        .as_ref()
        .context("the receipt carries no signed checkpoint")?
        .note;
    let cp = Checkpoint::verify(note, &log_key)
        .map_err(|e| anyhow::anyhow!("the receipt's checkpoint: {e}"))?;
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
    })?;
    super::audit::advance_witness(session, home, &log_key, &cp, note).await?;
    keep(home, &log_key, receipt.sequence, &id.to_string())
}

/// Appends a submitted id to this config's list for the log.
fn keep(home: &Path, log_key: &[u8; 32], sequence: u64, id: &str) -> Result<()> {
    let path = submitted_path(home, log_key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let line = serde_json::to_string(&Submitted {
        sequence,
        id: id.to_string(),
    })?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"))
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
