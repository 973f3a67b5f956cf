//! The last signed checkpoint, kept outside the store.
//!
//! sled can lose its tail, or roll back to an older state, when a file is
//! damaged; a checkpoint kept inside sled rolls back with it, and a server
//! that starts on the shorter log would then sign a second, different root
//! for a size it already signed: a fork. So after every durable group the
//! server also writes its latest signed note to `checkpoint` beside the
//! sled folder (write a temporary file, fsync it, rename it over the old
//! one, fsync the folder), and on start refuses a log that is shorter than
//! that note or does not have its root at that size. The file is also what
//! an operator backs up with the data and a member can compare against.

use std::io::Write as _;
use std::path::Path;

use super::error::{LedgerError, Result};
use super::store::Store;
use crate::verify::{Checkpoint, Frontier};

/// The file in the data folder holding the last signed checkpoint note.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// Replaces the checkpoint file with `note`, durably and atomically.
pub fn write(dir: &Path, note: &str) -> Result<()> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LedgerError::Io { path, source }
    };
    let path = dir.join(CHECKPOINT_FILE);
    let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(note.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// The last signed checkpoint note, if the server ever wrote one here.
pub fn read(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(CHECKPOINT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(note) => Ok(Some(note)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LedgerError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Refuses a replayed log that holds less than the checkpoint file says the
/// server signed, or holds something else: the server must never start on
/// less than it signed. A log longer than the file is fine (a crash between
/// the flush and the file's update) when its root at the file's size is the
/// signed one.
pub fn check(
    dir: &Path,
    store: &Store,
    frontier: &Frontier,
    log_public_key: &[u8; 32],
) -> Result<()> {
    let Some(note) = read(dir)? else {
        return Ok(());
    };
    let file = dir.join(CHECKPOINT_FILE).display().to_string();
    let signed = Checkpoint::verify(&note, log_public_key).map_err(|e| LedgerError::Corrupt {
        sequence: 0,
        detail: format!("{file} is not a checkpoint signed by this server's log key: {e}"),
    })?;
    if frontier.size() < signed.size {
        return Err(LedgerError::Corrupt {
            sequence: frontier.size(),
            detail: format!(
                "the store holds {} entries but this server signed a checkpoint of {} entries ({file}): entries {}..{} are missing; restore the data folder from a backup (the server will not sign a different history)",
                frontier.size(),
                signed.size,
                frontier.size(),
                signed.size
            ),
        });
    }
    let root = if frontier.size() == signed.size {
        frontier.root()
    } else {
        crate::verify::root_at(signed.size, store).map_err(|e| LedgerError::Corrupt {
            sequence: signed.size.saturating_sub(1),
            detail: format!("cannot recompute the root at size {}: {e}", signed.size),
        })?
    };
    if root != signed.root {
        return Err(LedgerError::Corrupt {
            sequence: signed.size.saturating_sub(1),
            detail: format!(
                "the first {} entries have root {} but this server signed root {} for that size ({file}): the stored history differs from what was signed",
                signed.size,
                hex::encode(root),
                hex::encode(signed.root)
            ),
        });
    }
    Ok(())
}
