//! The last signed checkpoint, kept outside the store.
//!
//! sled can lose its tail, or roll back to an older state, when a file is
//! damaged; a checkpoint kept inside sled rolls back with it, and a server
//! that starts on the shorter log would then sign a second, different root
//! for a size it already signed: a fork. So after every durable group the
//! server also writes its latest signed note to `checkpoint` beside the
//! sled folder, and to a copy outside the data folder (by default
//! `DATA.checkpoint` beside the folder `DATA`), and on start refuses a log
//! that is shorter than the newer of the two or does not have its root at
//! that size. The copy is what still holds when the whole data folder is
//! replaced by an old one. Both are what an operator backs up with the data
//! and a member can compare against.
//!
//! The file has two fixed slots of [`SLOT_BYTES`]; each group overwrites
//! the older slot in place with one positioned write (no new file, no
//! rename: on ext4 a rename over a file forces a data flush, which cost
//! about 40 % of the single-submit rate when tried). A note is signed, so a
//! torn slot fails its signature and the other slot still holds the
//! previous checkpoint; the reader takes the valid slot of the larger size.
//! Durability matches sled's own flush (the write survives a crash of the
//! process); the file is fsynced on start and on a clean stop.

use std::path::{Path, PathBuf};

use super::error::{LedgerError, Result};
use super::store::Store;
use crate::verify::{Checkpoint, Frontier};

/// The file in the data folder holding the last signed checkpoint note.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// Bytes per slot: a note is about 330 bytes; the rest is zero padding.
pub const SLOT_BYTES: usize = 1024;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + use<> {
    let path = path.display().to_string();
    move |source| LedgerError::Io { path, source }
}

/// One open checkpoint file: two slots, the older overwritten each time.
struct SlotFile {
    file: std::fs::File,
    path: PathBuf,
    /// The slot the next note goes to.
    next: u64,
}

impl SlotFile {
    fn open(path: &Path) -> Result<SlotFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error(path))?;
        file.set_len(2 * SLOT_BYTES as u64)
            .map_err(io_error(path))?;
        Ok(SlotFile {
            file,
            path: path.to_path_buf(),
            next: 0,
        })
    }

    fn write(&mut self, slot: &[u8]) -> Result<()> {
        use std::os::unix::fs::FileExt as _;
        self.file
            .write_all_at(slot, self.next * SLOT_BYTES as u64)
            .map_err(io_error(&self.path))?;
        self.next = 1 - self.next;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(io_error(&self.path))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(dir))?;
        }
        Ok(())
    }
}

/// The open checkpoint files (the one in the data folder, and its copy
/// outside it), written by the writer thread after every durable group.
pub struct Witness {
    files: Vec<SlotFile>,
}

impl Witness {
    /// Opens (creating) the checkpoint file in `dir`, and `copy` if given,
    /// and writes `note` to both durably: the first note of this run.
    pub fn open(dir: &Path, copy: Option<&Path>, note: &str) -> Result<Witness> {
        let mut files = vec![SlotFile::open(&dir.join(CHECKPOINT_FILE))?];
        if let Some(copy) = copy {
            files.push(SlotFile::open(copy)?);
        }
        let mut witness = Witness { files };
        // Both slots hold this note, so an older one cannot win later.
        witness.write(note)?;
        witness.write(note)?;
        witness.sync()?;
        Ok(witness)
    }

    /// Overwrites the older slot of each file with `note` (one positioned
    /// write per file).
    pub fn write(&mut self, note: &str) -> Result<()> {
        if note.len() > SLOT_BYTES {
            return Err(LedgerError::Internal(format!(
                "a checkpoint note of {} bytes does not fit a {SLOT_BYTES}-byte slot",
                note.len()
            )));
        }
        let mut slot = vec![0u8; SLOT_BYTES];
        slot[..note.len()].copy_from_slice(note.as_bytes());
        self.files.iter_mut().try_for_each(|f| f.write(&slot))
    }

    /// Forces the files (and their folder entries) to disk.
    pub fn sync(&self) -> Result<()> {
        self.files.iter().try_for_each(SlotFile::sync)
    }
}

/// Where the checkpoint copy goes by default: beside the data folder, named
/// after it (`DATA.checkpoint` for a folder `DATA`), so replacing the whole
/// folder with an old copy cannot take it back. `None` when the folder has
/// no parent to put it in.
pub fn default_copy(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    let name = absolute.file_name()?.to_string_lossy().into_owned();
    Some(absolute.parent()?.join(format!("{name}.checkpoint")))
}

/// The newest checkpoint in one file that verifies with `log_public_key`,
/// with its note; `None` when the file is not there. A file whose slots
/// hold no valid note is an error (damage, or another log's file).
fn read_file(path: &Path, log_public_key: &[u8; 32]) -> Result<Option<(Checkpoint, String)>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LedgerError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let mut errors = Vec::new();
    let mut best: Option<(Checkpoint, String)> = None;
    for slot in bytes.chunks(SLOT_BYTES).take(2) {
        let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
        let note = String::from_utf8_lossy(&slot[..end]).into_owned();
        match Checkpoint::verify(&note, log_public_key) {
            Ok(cp) if best.as_ref().is_none_or(|(b, _)| cp.size > b.size) => {
                best = Some((cp, note));
            }
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    match best {
        Some(best) => Ok(Some(best)),
        None => Err(LedgerError::Corrupt {
            sequence: 0,
            detail: format!(
                "{} holds no checkpoint signed by this server's log key ({})",
                path.display(),
                errors.join("; ")
            ),
        }),
    }
}

/// The newest valid checkpoint among the file in `dir` and its `copy`,
/// with its note and the file it came from; `None` when neither exists.
/// One damaged file is fine while the other holds a checkpoint at least as
/// new; both damaged is an error.
pub fn read(
    dir: &Path,
    copy: Option<&Path>,
    log_public_key: &[u8; 32],
) -> Result<Option<(Checkpoint, String, PathBuf)>> {
    let mut paths = vec![dir.join(CHECKPOINT_FILE)];
    paths.extend(copy.map(Path::to_path_buf));
    let mut best: Option<(Checkpoint, String, PathBuf)> = None;
    let mut damage = None;
    for path in paths {
        match read_file(&path, log_public_key) {
            Ok(Some((cp, note))) => {
                if best.as_ref().is_none_or(|(b, _, _)| cp.size > b.size) {
                    best = Some((cp, note, path));
                }
            }
            Ok(None) => {}
            Err(e) => damage = Some(e),
        }
    }
    match (best, damage) {
        (Some(best), _) => Ok(Some(best)),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(None),
    }
}

/// Refuses a replayed log that holds less than the checkpoint file says the
/// server signed, or holds something else: the server must never start on
/// less than it signed. A log longer than the file is fine (a crash between
/// the flush and the file's update) when its root at the file's size is the
/// signed one.
pub fn check(
    dir: &Path,
    copy: Option<&Path>,
    store: &Store,
    frontier: &Frontier,
    log_public_key: &[u8; 32],
) -> Result<()> {
    let Some((signed, _, file)) = read(dir, copy, log_public_key)? else {
        return Ok(());
    };
    let file = file.display().to_string();
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
