//! The state snapshot a restart starts from, so that a restart costs a scan
//! of the stored leaves plus the entries after the snapshot, not a fold of
//! the whole log.
//!
//! The file `state.snapshot` in the data folder holds the folded state
//! (`LedgerState::snapshot_bytes`) of the first `size` entries, bound to the
//! Merkle root of exactly those entries and signed with the log key:
//!
//! ```text
//! MAGIC ‖ u32be(header length) ‖ header (postcard) ‖ signature(64) ‖ body
//! ```
//!
//! The header names the format, the software version that folded the state,
//! the size, the root, the body's length and its blake3. The signature covers
//! `MAGIC ‖ header`. A snapshot is only a cache of a pure fold: one that is
//! missing, damaged, of another log, of another software version, or whose
//! root is not the stored entries' root at its size is set aside with a
//! warning and the whole log is replayed instead. It is written atomically
//! (temporary file, fsync, rename, fsync of the folder) on a clean stop and
//! every `max_replay_entries` entries while serving (a copy of the state
//! taken between groups, encoded and written off the sequencer).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use super::error::{LedgerError, Result};
use crate::verify::Hash;

/// The snapshot file in the data folder.
pub const SNAPSHOT_FILE: &str = "state.snapshot";

const MAGIC: &[u8] = b"coopledger state snapshot\n";

/// The file's own layout (the header); the state's layout is covered by
/// [`SOFTWARE`].
const FORMAT: u32 = 1;

/// The software that folded the state: its version and a fingerprint of
/// every source file the fold depends on (`build.rs`). A snapshot from any
/// other build is set aside and the log replayed, so a change of the fold's
/// rules or of the state's layout can never be hidden by a state folded by
/// the old code.
const SOFTWARE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+fold.",
    env!("COOPLEDGER_FOLD_FINGERPRINT")
);

/// What the header of a snapshot says.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Header {
    format: u32,
    software: String,
    size: u64,
    root: Hash,
    body_len: u64,
    body_digest: Hash,
}

/// A snapshot read from disk whose signature, version and digest check out;
/// its root is still to be compared with the stored entries.
pub struct Snapshot {
    /// Entries folded into the state.
    pub size: u64,
    /// The Merkle root of those entries.
    pub root: Hash,
    /// The whole file; the state's bytes start at `body_at`.
    bytes: Vec<u8>,
    body_at: usize,
}

impl Snapshot {
    /// The state's bytes (`LedgerState::from_snapshot`).
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body_at..]
    }
}

fn signed_part(header: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MAGIC.len() + header.len());
    m.extend_from_slice(MAGIC);
    m.extend_from_slice(header);
    m
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + use<> {
    let path = path.display().to_string();
    move |source| LedgerError::Io { path, source }
}

/// Writes the state of the first `size` entries (root `root`) to the data
/// folder atomically: a reader sees the previous snapshot or this one. It is
/// not written (an error saying so) when that would leave less than
/// `reserve` bytes free on the disk: the log's own writes come first.
pub fn write(
    dir: &Path,
    log_key: &SigningKey,
    size: u64,
    root: Hash,
    body: &[u8],
    reserve: u64,
) -> Result<()> {
    if reserve > 0
        && let Ok(free) = fs4::available_space(dir)
        && free < reserve.saturating_add(2 * body.len() as u64)
    {
        return Err(LedgerError::Io {
            path: dir.join(SNAPSHOT_FILE).display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "not written: {} MiB free, the snapshot needs {} MiB beyond the {} MiB kept free",
                    free >> 20,
                    (body.len() as u64) >> 20,
                    reserve >> 20
                ),
            ),
        });
    }
    let header = Header {
        format: FORMAT,
        software: SOFTWARE.into(),
        size,
        root,
        body_len: body.len() as u64,
        body_digest: *blake3::hash(body).as_bytes(),
    };
    let header = postcard::to_stdvec(&header)
        .map_err(|e| LedgerError::Internal(format!("encoding a snapshot header: {e}")))?;
    let signature = log_key.sign(&signed_part(&header)).to_bytes();
    let path = dir.join(SNAPSHOT_FILE);
    let tmp: PathBuf = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    let len = u32::try_from(header.len())
        .map_err(|_| LedgerError::Internal("a snapshot header over 4 GiB".into()))?;
    (|| {
        file.write_all(MAGIC)?;
        file.write_all(&len.to_be_bytes())?;
        file.write_all(&header)?;
        file.write_all(&signature)?;
        file.write_all(body)?;
        file.sync_all()
    })()
    .map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io_error(&path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Why a snapshot was set aside (never fatal: the log is replayed instead).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SetAside {
    path: String,
    reason: String,
}

/// Reads and checks the snapshot in `dir`: `Ok(None)` when there is none.
/// The body's state is decoded later, once the stored leaves give the ids.
pub fn read(
    dir: &Path,
    log_public_key: &[u8; 32],
) -> std::result::Result<Option<Snapshot>, SetAside> {
    let path = dir.join(SNAPSHOT_FILE);
    let aside = |reason: String| SetAside {
        path: path.display().to_string(),
        reason,
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(aside(e.to_string())),
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| aside("not a coopledger state snapshot".into()))?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| aside("cut short before its header".into()))?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len.saturating_add(64) {
        return Err(aside("cut short inside its header".into()));
    }
    let (header_bytes, rest) = rest.split_at(len);
    let (signature, body) = rest.split_at(64);
    let key = VerifyingKey::from_bytes(log_public_key)
        .map_err(|e| aside(format!("the log key does not parse: {e}")))?;
    let signature = ed25519_dalek::Signature::from_slice(signature)
        .map_err(|e| aside(format!("its signature does not parse: {e}")))?;
    key.verify_strict(&signed_part(header_bytes), &signature)
        .map_err(|_| aside("not signed by this server's log key".into()))?;
    let header: Header = postcard::from_bytes(header_bytes)
        .map_err(|e| aside(format!("its header does not decode: {e}")))?;
    if header.format != FORMAT || header.software != SOFTWARE {
        return Err(aside(format!(
            "written by coopledger {} (format {}), this is {SOFTWARE} (format {FORMAT})",
            header.software, header.format
        )));
    }
    if body.len() as u64 != header.body_len || *blake3::hash(body).as_bytes() != header.body_digest
    {
        return Err(aside("its state bytes do not match their digest".into()));
    }
    let body_at = bytes.len() - body.len();
    Ok(Some(Snapshot {
        size: header.size,
        root: header.root,
        bytes,
        body_at,
    }))
}
