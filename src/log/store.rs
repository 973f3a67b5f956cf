//! The sled store: one tree holding entries, the id index, Merkle nodes and
//! the head, so a whole group commit is one atomic `Batch` (sled batches are
//! atomic within one tree).
//!
//! Key layout (all integers big-endian, so keys sort in log order):
//! - `e ‖ u64 seq`      → leaf bytes (`u32be(len(pae)) ‖ pae ‖ key ‖ sig`)
//! - `n ‖ level ‖ u64`  → perfect Merkle subtree root (32 bytes), level ≥ 1
//! - `h`                → `u64 size ‖ root(32)`
//! - `c`                → the signed checkpoint note of that head
//!
//! Two records are deliberately not stored, because each insert costs the
//! writer: the id → sequence index (replay rebuilds it in memory) and the
//! level-0 nodes (a leaf hash is one blake3 of the stored entry).

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use super::error::{LedgerError, Result};
use crate::verify::NodeSource;
use crate::verify::{EMPTY_ROOT, Hash};

const ENTRY: u8 = b'e';
const NODE: u8 = b'n';
const HEAD: &[u8] = b"h";
const CHECKPOINT: &[u8] = b"c";

/// The size and Merkle root of the durable log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of entries.
    pub size: u64,
    /// RFC 9162-shaped blake3 root of those entries.
    pub root: Hash,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            size: 0,
            root: EMPTY_ROOT,
        }
    }
}

/// Handle to the log's sled tree; cheap to clone, shared by the sequencer
/// (the one writer) and the readers.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// The sled folder, named in every error.
    path: Arc<str>,
}

thread_local! {
    /// Set while this thread is inside a guarded sled call: a panic there
    /// is reported as an error naming the store, not printed as a crash.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once per process) a panic hook that stays silent for panics
/// inside guarded sled calls and defers to the previous hook otherwise.
fn quiet_panics_in_sled() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Who holds the lock on `file`, for a message: `pid N: command line` from
/// the kernel's lock table (`/proc/locks`, Linux) and `/proc/N/cmdline`, or
/// `pid unknown` where the system does not say.
fn lock_holder(file: &Path) -> String {
    use std::os::unix::fs::MetadataExt as _;
    let unknown = || "pid unknown".to_string();
    let Ok(inode) = std::fs::metadata(file).map(|m| m.ino()) else {
        return unknown();
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return unknown();
    };
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF": the pid, then
    // device:inode.
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (pid, place) = (fields.get(4)?, fields.get(5)?);
        let lock_inode: u64 = place.rsplit(':').next()?.parse().ok()?;
        (lock_inode == inode).then(|| pid.to_string())
    });
    let Some(pid) = pid else {
        return unknown();
    };
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    if command.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid}: {command}")
    }
}

/// Runs one sled call. sled 0.34 answers some damaged files with a panic
/// (while recovering its log, or reading a page back) rather than an
/// error; that panic, and sled's own corruption errors, become
/// [`LedgerError::Damaged`] naming the store, so `serve` and `verify --data`
/// refuse a damaged folder with the same clear message instead of a crash.
fn guard<T>(path: &str, call: impl FnOnce() -> sled::Result<T>) -> Result<T> {
    let was = GUARDED.with(|g| g.replace(true));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(call));
    GUARDED.with(|g| g.set(was));
    let damaged = |detail: String| LedgerError::Damaged {
        path: path.to_string(),
        detail,
    };
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(
            e @ (sled::Error::Corruption { .. }
            | sled::Error::Unsupported(_)
            | sled::Error::ReportableBug(_)),
        )) => Err(damaged(sled_message(&e))),
        // sled words a held lock as an `Other` error with this message.
        Ok(Err(sled::Error::Io(e)))
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.to_string().starts_with("could not acquire lock") =>
        {
            Err(LedgerError::InUse {
                path: path.to_string(),
                holder: lock_holder(&Path::new(path).join("db")),
            })
        }
        Ok(Err(e)) => Err(LedgerError::Storage {
            path: path.to_string(),
            source: e,
        }),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(damaged(format!("sled failed reading it: {what}")))
        }
    }
}

/// sled's message without the empty backtrace it appends to corruption.
fn sled_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Corruption { at, .. } => match at {
            Some(at) => format!("sled found corrupted data at {at:?}"),
            None => "sled found corrupted data".into(),
        },
        other => format!("sled: {other}"),
    }
}

/// The writes of one group commit, applied atomically.
#[derive(Default)]
pub struct GroupWrite {
    batch: sled::Batch,
}

impl GroupWrite {
    /// Adds an entry's leaf bytes.
    pub fn entry(&mut self, sequence: u64, leaf_bytes: &[u8]) {
        self.batch.insert(&entry_key(sequence)[..], leaf_bytes);
    }

    /// Adds a completed perfect Merkle node; leaf hashes (level 0) are
    /// recomputed from the entries instead of stored.
    pub fn node(&mut self, level: u8, index: u64, hash: &Hash) {
        if level == 0 {
            return;
        }
        let mut k = [0u8; 10];
        k[0] = NODE;
        k[1..].copy_from_slice(&crate::verify::node_key(level, index));
        self.batch.insert(&k[..], &hash[..]);
    }

    /// Sets the signed checkpoint of the head the group ends at.
    pub fn checkpoint(&mut self, note: &str) {
        self.batch.insert(CHECKPOINT, note.as_bytes());
    }

    /// Sets the head the group ends at.
    pub fn head(&mut self, head: &Head) {
        let mut v = [0u8; 40];
        v[..8].copy_from_slice(&head.size.to_be_bytes());
        v[8..].copy_from_slice(&head.root);
        self.batch.insert(HEAD, &v[..]);
    }
}

fn entry_key(sequence: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY;
    k[1..].copy_from_slice(&sequence.to_be_bytes());
    k
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        Self::open_with(dir, sled::Config::new())
    }

    /// Opens the store in `dir` for one pass over it (an audit): sled's
    /// page cache held to `cache_bytes`, since a page read once is not read
    /// again (sled's default, 1 GiB, would otherwise fill with the whole
    /// log's pages as the audit goes).
    pub fn open_for_one_pass(dir: &Path, cache_bytes: u64) -> Result<Store> {
        Self::open_with(dir, sled::Config::new().cache_capacity(cache_bytes))
    }

    fn open_with(dir: &Path, config: sled::Config) -> Result<Store> {
        quiet_panics_in_sled();
        let folder = dir.join("sled");
        let path: Arc<str> = folder.display().to_string().into();
        let db = guard(&path, || config.path(&folder).open())?;
        let tree = guard(&path, || db.open_tree("log"))?;
        Ok(Store { db, tree, path })
    }

    /// The sled folder.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The durable head: `(0, empty root)` for a new log.
    pub fn head(&self) -> Result<Head> {
        match guard(&self.path, || self.tree.get(HEAD))? {
            None => Ok(Head::default()),
            Some(v) if v.len() == 40 => {
                let mut size = [0u8; 8];
                size.copy_from_slice(&v[..8]);
                let mut root = [0u8; 32];
                root.copy_from_slice(&v[8..]);
                Ok(Head {
                    size: u64::from_be_bytes(size),
                    root,
                })
            }
            Some(v) => Err(LedgerError::Corrupt {
                sequence: 0,
                detail: format!("the head record is {} bytes, not 40", v.len()),
            }),
        }
    }

    /// The last signed checkpoint note, if any entry was ever written.
    pub fn checkpoint(&self) -> Result<Option<String>> {
        match guard(&self.path, || self.tree.get(CHECKPOINT))? {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| LedgerError::Corrupt {
                    sequence: 0,
                    detail: "the stored checkpoint is not UTF-8".into(),
                }),
        }
    }

    /// The leaf bytes stored at `sequence`.
    pub fn entry(&self, sequence: u64) -> Result<Option<sled::IVec>> {
        guard(&self.path, || self.tree.get(entry_key(sequence)))
    }

    /// Entries with `from <= seq < to`, in order.
    pub fn entries(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + use<> {
        let path = self.path.clone();
        let mut range = self.tree.range(entry_key(from)..entry_key(to));
        std::iter::from_fn(move || guard(&path, || range.next().transpose()).transpose()).map(|r| {
            let (k, v) = r?;
            let seq = k
                .get(1..9)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .ok_or_else(|| LedgerError::Corrupt {
                    sequence: 0,
                    detail: format!("an entry key of {} bytes", k.len()),
                })?;
            Ok((u64::from_be_bytes(seq), v))
        })
    }

    /// The stored Merkle nodes of one level with index below `count`, in
    /// index order: a restart compares them with the nodes it recomputes
    /// from the leaves in one sequential read instead of a lookup each.
    pub fn nodes_of_level(
        &self,
        level: u8,
        count: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + use<> {
        self.nodes_between(level, 0, count)
    }

    /// The stored Merkle nodes of one level with `first <= index < end`,
    /// in index order: a replay from `first` compares the nodes it
    /// completes with these as it goes.
    pub fn nodes_between(
        &self,
        level: u8,
        first: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + use<> {
        let key = |index: u64| {
            let mut k = [0u8; 10];
            k[0] = NODE;
            k[1..].copy_from_slice(&crate::verify::node_key(level, index));
            k
        };
        let path = self.path.clone();
        let mut range = self.tree.range(key(first)..key(end.max(first)));
        std::iter::from_fn(move || guard(&path, || range.next().transpose()).transpose()).map(|r| {
            let (k, v) = r?;
            let index = k
                .get(2..10)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| LedgerError::Corrupt {
                    sequence: 0,
                    detail: format!("a Merkle node key of {} bytes", k.len()),
                })?;
            Ok((index, v))
        })
    }

    /// Applies a group's writes atomically (not yet durable). Blocking.
    pub fn apply(&self, group: GroupWrite) -> Result<()> {
        guard(&self.path, || self.tree.apply_batch(group.batch))
    }

    /// Makes every applied group durable against a process crash. Blocking:
    /// call it from a thread of its own (sled's `flush_async` can lock up
    /// under load).
    pub fn flush(&self) -> Result<()> {
        guard(&self.path, || self.db.flush()).map(|_| ())
    }

    /// Raw access to the tree, for tests that damage stored records on purpose
    /// and for offline tools.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }
}

impl NodeSource for Store {
    type Error = LedgerError;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>> {
        if level == 0 {
            return Ok(self
                .entry(index)?
                .map(|leaf| crate::verify::leaf_hash(&leaf)));
        }
        let mut k = [0u8; 10];
        k[0] = NODE;
        k[1..].copy_from_slice(&crate::verify::node_key(level, index));
        Ok(guard(&self.path, || self.tree.get(k))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }
}
