//! Opening a data folder: the log key, the sled store, the replay of every
//! stored entry with the auditors' `Replayer`, and the check of the result
//! against the last checkpoint the server signed.

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::ledger::LedgerState;
use crate::ledger::{AuditError, Replayed};
use crate::verify::Checkpoint;
use crate::verify::{EnvelopeError, Hash, VerifiedEnvelope};
use crate::verify::{Frontier, NodeSource};

use super::error::{LedgerError, Result};
use super::head::{LOG_KEY_FILE, SignedHead, sign_head};
use super::store::{Head, Store};

/// What opening a data folder gives the ledger.
pub(super) struct Opened {
    pub(super) store: Store,
    pub(super) state: LedgerState,
    pub(super) frontier: Frontier,
    pub(super) log_key: SigningKey,
    pub(super) head: SignedHead,
    pub(super) witness: super::witness::Witness,
    /// The size of the state snapshot the state was restored from (0: none).
    pub(super) snapshot_size: u64,
}

/// Opens a data folder to serve it: opens sled, loads the log key (made
/// only for a new, empty log), restores the state (snapshot and the entries
/// after it), checks it against the last checkpoint signed in sled and in
/// the checkpoint files, and opens those files for the writer.
pub(super) fn open_blocking(dir: &Path, copy: Option<&Path>) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let store = Store::open(dir)?;
    let key_path = dir.join(LOG_KEY_FILE);
    let key_file = |source| LedgerError::KeyFile { source };
    // A log that holds entries was signed by the key beside it: never make a
    // new one for it (the start would be refused anyway, with a new key file
    // left behind in place of the lost one).
    let log_key = if holds_entries(&store)? {
        super::keyfile::read_key(&key_path).map_err(key_file)?
    } else {
        super::keyfile::load_or_create(&key_path).map_err(key_file)?
    };
    let public_key = log_key.verifying_key().to_bytes();
    let started = std::time::Instant::now();
    let snapshot = super::snapshot::read(dir, &public_key).unwrap_or_else(|aside| {
        tracing::warn!("the state snapshot is set aside ({aside}): replaying the whole log");
        None
    });
    tracing::debug!("read the state snapshot in {:.2?}", started.elapsed());
    let (state, frontier, snapshot_size) = restore(&store, &public_key, snapshot)?;
    let head = match stored_checkpoint(&store, &public_key, &frontier)? {
        Some(note) => SignedHead {
            head: Head {
                size: frontier.size(),
                root: frontier.root(),
            },
            note: note.into(),
        },
        None => sign_head(
            &log_key,
            Head {
                size: 0,
                root: frontier.root(),
            },
        ),
    };
    super::witness::check(dir, copy, &store, &frontier, &public_key)?;
    let witness = super::witness::Witness::open(dir, copy, &head.note)?;
    Ok(Opened {
        store,
        state,
        frontier,
        log_key,
        head,
        witness,
        snapshot_size,
    })
}

/// Whether the store holds any entry (or a head saying it should).
fn holds_entries(store: &Store) -> Result<bool> {
    Ok(store.head()?.size > 0 || store.entry(0)?.is_some())
}

/// A stopped server's data folder, checked the way the server checks it on
/// start, with every signature verified as well.
pub struct AuditedFolder {
    /// The replayed log.
    pub replayed: Replayed,
    /// The last checkpoint the server signed (in sled), to check and show.
    pub note: String,
}

/// sled's page cache during an audit: each page is read once, in log
/// order, so a small cache costs nothing and keeps the audit's memory to
/// the folded state.
const AUDIT_CACHE_BYTES: u64 = 64 << 20;

/// Audits a stopped server's data folder (`coopledger verify --data`): the
/// same reads and checks as the server's start (the log key beside the log,
/// every stored node, the root against the checkpoint signed in sled and in
/// the checkpoint files `dir/checkpoint` and `copy`), plus every signature
/// and every rule again, from the first entry. Nothing is written: a folder
/// the server would refuse is refused here with the same message.
pub fn audit_folder(dir: &Path, copy: Option<&Path>, watch: Option<u64>) -> Result<AuditedFolder> {
    audit_folder_with_progress(dir, copy, watch, &|_, _| {})
}

/// [`audit_folder`], telling `progress` (entries replayed, entries in the
/// log) after each chunk of entries, for a progress bar.
pub fn audit_folder_with_progress(
    dir: &Path,
    copy: Option<&Path>,
    watch: Option<u64>,
    progress: &dyn Fn(u64, u64),
) -> Result<AuditedFolder> {
    let sled_dir = dir.join("sled");
    if !sled_dir.is_dir() {
        return Err(LedgerError::Damaged {
            path: sled_dir.display().to_string(),
            detail: "the folder is missing".into(),
        });
    }
    let store = Store::open_for_one_pass(dir, AUDIT_CACHE_BYTES)?;
    if !holds_entries(&store)? {
        // An empty store is only fine if no checkpoint says otherwise.
        let public_key = match super::keyfile::read_key(&dir.join(LOG_KEY_FILE)) {
            Ok(key) => key.verifying_key().to_bytes(),
            Err(_) => {
                return Err(LedgerError::Corrupt {
                    sequence: 0,
                    detail: "the data folder holds no entries".into(),
                });
            }
        };
        super::witness::check(dir, copy, &store, &Frontier::new(), &public_key)?;
        return Err(LedgerError::Corrupt {
            sequence: 0,
            detail: "the data folder holds no entries".into(),
        });
    }
    let log_key = super::keyfile::read_key(&dir.join(LOG_KEY_FILE))
        .map_err(|source| LedgerError::KeyFile { source })?;
    let public_key = log_key.verifying_key().to_bytes();
    let mut replayer = crate::payout::audit_replayer(Some(public_key), watch);
    replay_into(&store, &mut replayer, Signatures::Verify, progress)?;
    let replayed = replayer.finish();
    let note = stored_checkpoint(&store, &public_key, &replayed.frontier)?.ok_or_else(|| {
        LedgerError::Corrupt {
            sequence: 0,
            detail: "the log is empty".into(),
        }
    })?;
    super::witness::check(dir, copy, &store, &replayed.frontier, &public_key)?;
    Ok(AuditedFolder { replayed, note })
}

/// Compares the replayed tree with the last checkpoint the server signed
/// (kept in sled with each group): a log rewritten behind the server's back
/// (even with a matching head record) cannot carry a valid signature over
/// its new root. `None` for an empty log that never had one.
fn stored_checkpoint(
    store: &Store,
    log_public_key: &[u8; 32],
    frontier: &Frontier,
) -> Result<Option<String>> {
    let Some(note) = store.checkpoint()? else {
        if frontier.size() == 0 {
            return Ok(None);
        }
        return Err(LedgerError::Corrupt {
            sequence: 0,
            detail: "entries are stored but no signed checkpoint".into(),
        });
    };
    let last = frontier.size().saturating_sub(1);
    let cp = Checkpoint::verify(&note, log_public_key).map_err(|e| LedgerError::Corrupt {
        sequence: last,
        detail: format!("the stored checkpoint: {e}"),
    })?;
    if cp.size != frontier.size() || cp.root != frontier.root() {
        return Err(LedgerError::Corrupt {
            sequence: last.min(cp.size.saturating_sub(1)),
            detail: format!(
                "the entries give size {} root {} but the last signed checkpoint says size {} root {}",
                frontier.size(),
                hex::encode(frontier.root()),
                cp.size,
                hex::encode(cp.root)
            ),
        });
    }
    Ok(Some(note))
}

/// How many stored entries are read, then decoded or hashed on all cores,
/// in one chunk.
const CHUNK: usize = 4096;

/// Whether a replay checks each entry's signature again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// Every signature (`coopledger verify`): trusts nothing it reads.
    Verify,
    /// None: the server's own restart. Each entry was verified when it
    /// landed, and its stored bytes still hash to the Merkle root this
    /// server signed, so they are those same bytes.
    Trust,
}

/// Maps a replay's finding to the log's error.
fn corrupt(e: AuditError) -> LedgerError {
    match e {
        AuditError::Entry { sequence, detail } => LedgerError::Corrupt { sequence, detail },
        other => LedgerError::Corrupt {
            sequence: 0,
            detail: other.to_string(),
        },
    }
}

/// Reads entries `[from, to)` in chunks, in order, each with its sequence
/// number checked (no gap, nothing out of place), and hands each chunk to
/// `each`.
fn for_chunks(
    store: &Store,
    from: u64,
    to: u64,
    mut each: impl FnMut(&[(u64, sled::IVec)]) -> Result<()>,
) -> Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut next = from;
    let mut entries = store.entries(from, to);
    loop {
        chunk.clear();
        for item in entries.by_ref().take(CHUNK) {
            let (sequence, leaf) = item?;
            if sequence != next {
                return Err(LedgerError::Corrupt {
                    sequence: next,
                    detail: "the entry is missing from the store".into(),
                });
            }
            next += 1;
            chunk.push((sequence, leaf));
        }
        if chunk.is_empty() {
            break;
        }
        each(&chunk)?;
    }
    if next != to {
        return Err(LedgerError::Corrupt {
            sequence: next,
            detail: format!(
                "the head says {to} entries but the store holds {next}: entries {next}..{to} are missing"
            ),
        });
    }
    Ok(())
}

/// Checks the Merkle nodes an appended leaf completed against the stored
/// ones: proofs are served from the stored nodes, so one that disagrees with
/// the entries is damage too.
fn check_nodes(store: &Store, nodes: &[crate::verify::Node]) -> Result<()> {
    for (level, index, hash) in nodes {
        if *level > 0 && store.node(*level, *index)? != Some(*hash) {
            let first = index << level;
            let last = first + (1u64 << level) - 1;
            // Name the entry when one of the range no longer carries a valid
            // signature (a flipped bit); otherwise the range.
            for sequence in first..=last {
                if let Some(leaf) = store.entry(sequence)?
                    && let Err(e) = VerifiedEnvelope::from_leaf_bytes(&leaf)
                {
                    return Err(LedgerError::Corrupt {
                        sequence,
                        detail: format!("altered after it was written ({e})"),
                    });
                }
            }
            return Err(LedgerError::Corrupt {
                sequence: first,
                detail: format!(
                    "entries {first}..={last} do not hash to the stored Merkle node (level {level}, index {index}): one of them, or the node, was altered"
                ),
            });
        }
    }
    Ok(())
}

/// How many decoded chunks may wait for the fold: the reads and the
/// checks run this far ahead of it and no further, so memory stays bounded
/// (eight chunks of entries, tens of MiB) whatever the log's length. Eight,
/// not two: the fold stops for each recorded distribution to settle it
/// (a tenth of a second and more at a million entries), and the checks
/// should keep the other core busy meanwhile.
const AHEAD: usize = 8;

/// A level's stored nodes from some index on, read as the replay needs them.
type NodeCursor = std::iter::Peekable<Box<dyn Iterator<Item = Result<(u64, sled::IVec)>>>>;

/// The stored Merkle nodes a replay compares with the ones it completes,
/// read level by level in index order (nodes of a level complete in that
/// order): one sequential read per level instead of one lookup per node.
/// Anything but a plain match goes to [`check_nodes`], so a damaged or
/// missing node is reported exactly as a lookup would report it.
struct StoredNodes<'a> {
    store: &'a Store,
    /// The stored head's size: a level's nodes end at `size >> level`.
    size: u64,
    /// A cursor per level, opened at the first node the replay completes.
    levels: Vec<Option<NodeCursor>>,
}

impl<'a> StoredNodes<'a> {
    fn new(store: &'a Store, size: u64) -> Self {
        StoredNodes {
            store,
            size,
            levels: (0..=64).map(|_| None).collect(),
        }
    }

    /// Compares `nodes` (as `Frontier::append` gives them) with the stored
    /// ones.
    fn check(&mut self, nodes: &[crate::verify::Node]) -> Result<()> {
        for &(level, index, hash) in nodes {
            if level == 0 {
                continue;
            }
            let (store, size) = (self.store, self.size);
            let Some(slot) = self.levels.get_mut(usize::from(level)) else {
                check_nodes(store, &[(level, index, hash)])?;
                continue;
            };
            let cursor = slot.get_or_insert_with(|| {
                let nodes: Box<dyn Iterator<Item = _>> =
                    Box::new(store.nodes_between(level, index, size >> level));
                nodes.peekable()
            });
            while cursor
                .peek()
                .is_some_and(|n| n.as_ref().is_ok_and(|(i, _)| *i < index))
            {
                cursor.next();
            }
            let stored_matches = cursor
                .peek()
                .is_some_and(|n| n.as_ref().is_ok_and(|(i, h)| *i == index && h[..] == hash));
            if stored_matches {
                cursor.next();
            } else {
                check_nodes(store, &[(level, index, hash)])?;
            }
        }
        Ok(())
    }
}

/// Replays the stored entries after `replayer.size()` up to the stored head
/// into `replayer`: each decoded (and its signature checked, with
/// [`Signatures::Verify`]), checked against the rules and folded, each
/// stored node compared with the one recomputed, and finally the size and
/// root against the stored head. Clock rules and size limits do not apply
/// on replay: they judged entries as they arrived. The auditor
/// (`coopledger verify --data`) and the server's start both use it.
///
/// One pass, streamed: a thread reads chunks of entries in log order and
/// decodes each on every core (`verify::map_in_order`), at most [`AHEAD`]
/// chunks ahead, while this thread folds the chunk before. Chunks are
/// folded in order and a chunk that could not be read is reported in its
/// place, so the first damage in log order is the one reported, as when
/// nothing overlapped.
///
/// `progress` hears (entries replayed, entries in the log) after each chunk.
pub fn replay_into(
    store: &Store,
    replayer: &mut crate::ledger::Replayer,
    signatures: Signatures,
    progress: &dyn Fn(u64, u64),
) -> Result<()> {
    let head = store.head()?;
    let from = replayer.size();
    std::thread::scope(|s| -> Result<()> {
        let (chunks, decoded) = std::sync::mpsc::sync_channel::<Result<Decoded>>(AHEAD);
        s.spawn(move || {
            let read = for_chunks(store, from, head.size, |chunk| {
                // A closed channel: the fold stopped at a bad entry; stop
                // reading (the error is the fold's, not this one).
                chunks
                    .send(Ok(decode_chunk(chunk, signatures)))
                    .map_err(|_| LedgerError::Internal("the replay stopped".into()))
            });
            if let Err(e) = read {
                let _ = chunks.send(Err(e));
            }
        });
        let mut stored = StoredNodes::new(store, head.size);
        for chunk in decoded {
            progress(replayer.size(), head.size);
            for (sequence, verified) in chunk? {
                let v = verified.map_err(|e| LedgerError::Corrupt {
                    sequence,
                    detail: e.to_string(),
                })?;
                let nodes = replayer.push(sequence, v).map_err(corrupt)?;
                stored.check(&nodes)?;
            }
        }
        Ok(())
    })?;
    if replayer.root() != head.root {
        return Err(LedgerError::Corrupt {
            sequence: head.size.saturating_sub(1),
            detail: "the Merkle root of the stored entries differs from the stored head".into(),
        });
    }
    Ok(())
}

/// Rebuilds the state and the Merkle frontier of the stored log, for the
/// server's start: from the snapshot when it is there and holds (its root
/// must be the root of the stored entries at its size), then the entries
/// after it; otherwise every entry. Either way every stored leaf is hashed
/// and every stored node checked, so a damaged entry anywhere is found.
/// Also returns how many entries came from the snapshot (0: none).
pub fn restore(
    store: &Store,
    log_public_key: &[u8; 32],
    snapshot: Option<super::snapshot::Snapshot>,
) -> Result<(LedgerState, Frontier, u64)> {
    let head = store.head()?;
    let started = std::time::Instant::now();
    let fresh = || crate::payout::audit_replayer(Some(*log_public_key), None);
    let mut replayer = match snapshot {
        Some(snap) if snap.size > head.size => {
            tracing::warn!(
                "the state snapshot holds {} entries but the store only {}: replaying the whole log",
                snap.size,
                head.size
            );
            fresh()
        }
        Some(snap) => match resume_from(store, log_public_key, &snap)? {
            Ok(replayer) => replayer,
            Err(why) => {
                tracing::warn!("the state snapshot is set aside ({why}): replaying the whole log");
                fresh()
            }
        },
        None => fresh(),
    };
    let from = replayer.size();
    tracing::debug!("ready to replay from {from} at {:.2?}", started.elapsed());
    replay_into(store, &mut replayer, Signatures::Trust, &|_, _| {})?;
    let Replayed {
        state, frontier, ..
    } = replayer.finish();
    tracing::info!(
        "restored {} entries in {:.2?} ({} from the state snapshot, {} replayed)",
        frontier.size(),
        started.elapsed(),
        from,
        frontier.size() - from
    );
    Ok((state, frontier, from))
}

/// A replayer resumed from `snap`, once the stored leaves up to its size
/// hash to its root and every stored node of that prefix matches them.
/// The leaves are read and hashed on this thread while another decodes the
/// snapshot and reads the stored nodes level by level. `Ok(Err(why))`: the
/// snapshot does not fit these entries (set it aside); `Err`: the store is
/// damaged.
fn resume_from(
    store: &Store,
    log_public_key: &[u8; 32],
    snap: &super::snapshot::Snapshot,
) -> Result<std::result::Result<crate::ledger::Replayer, String>> {
    let size = snap.size;
    let started = std::time::Instant::now();
    let (computed, decoded) = std::thread::scope(|s| {
        let other = s.spawn(|| {
            let state = LedgerState::from_snapshot(snap.body());
            let stored = stored_nodes(store, size);
            (state, stored)
        });
        let computed = hash_leaves(store, size);
        let decoded = other.join().map_err(|_| {
            LedgerError::Internal("the thread decoding the state snapshot panicked".into())
        });
        (computed, decoded)
    });
    let (frontier, computed) = computed?;
    let (state, stored) = decoded?;
    compare_nodes(store, &computed, &stored?)?;
    tracing::debug!(
        "hashed {size} stored entries and decoded the state snapshot in {:.2?}",
        started.elapsed()
    );
    if frontier.root() != snap.root {
        return Ok(Err(format!(
            "its root at size {size} is not the stored entries' root"
        )));
    }
    Ok(state.map_err(|e| e.to_string()).and_then(|state| {
        crate::ledger::Replayer::resume(
            state,
            frontier,
            *log_public_key,
            Box::new(crate::payout::Recompute),
        )
        .map_err(|e| e.to_string())
    }))
}

/// Merkle nodes by level (index 0 unused: leaf hashes are not stored),
/// each level in index order.
type Levels = Vec<Vec<Hash>>;

/// The Merkle frontier of the first `size` stored entries and every
/// perfect node (level ≥ 1) they complete.
fn hash_leaves(store: &Store, size: u64) -> Result<(Frontier, Levels)> {
    let mut frontier = Frontier::new();
    let mut levels: Levels = vec![Vec::new(); 65];
    for_chunks(store, 0, size, |chunk| {
        for (sequence, hashed) in par_map(chunk, crate::verify::leaf_hash_checked) {
            let leaf_hash = hashed.map_err(|e| LedgerError::Corrupt {
                sequence,
                detail: e.to_string(),
            })?;
            for (level, _, hash) in frontier.append(leaf_hash) {
                if level > 0 {
                    levels[usize::from(level)].push(hash);
                }
            }
        }
        Ok(())
    })?;
    Ok((frontier, levels))
}

/// The stored perfect nodes of a tree of `size` leaves, level by level.
fn stored_nodes(store: &Store, size: u64) -> Result<Levels> {
    let mut levels: Levels = vec![Vec::new(); 65];
    for level in 1..=64u8 {
        let count = size >> level;
        if count == 0 {
            break;
        }
        let nodes = &mut levels[usize::from(level)];
        for item in store.nodes_of_level(level, count) {
            let (index, hash) = item?;
            let hash = <[u8; 32]>::try_from(hash.as_ref()).ok();
            // A missing or malformed node ends the level here: the
            // comparison then names the first node that is not there.
            match hash {
                Some(hash) if index == nodes.len() as u64 => nodes.push(hash),
                _ => break,
            }
        }
    }
    Ok(levels)
}

/// Compares recomputed nodes with stored ones, naming the first entry
/// concerned when one differs or is missing.
fn compare_nodes(store: &Store, computed: &Levels, stored: &Levels) -> Result<()> {
    for (level, (mine, theirs)) in computed.iter().zip(stored).enumerate().skip(1) {
        let first_bad = mine
            .iter()
            .zip(theirs.iter().map(Some).chain(std::iter::repeat(None)))
            .position(|(m, t)| t != Some(m));
        if let Some(first) = first_bad {
            // Look each one up from there: names the first that differs,
            // as the replay's own check would.
            for (index, hash) in mine.iter().enumerate().skip(first) {
                check_nodes(store, &[(level as u8, index as u64, *hash)])?;
            }
        }
    }
    Ok(())
}

/// A chunk of stored entries decoded (signatures checked or not), by
/// sequence number, in log order.
type Decoded = Vec<(u64, std::result::Result<VerifiedEnvelope, EnvelopeError>)>;

/// Runs `f` over a chunk's entries on all cores, results in order. A part
/// whose thread panicked yields nothing; the caller then finds an entry
/// missing rather than serving unchecked data.
fn par_map<T: Send>(chunk: &[(u64, sled::IVec)], f: impl Fn(&[u8]) -> T + Sync) -> Vec<(u64, T)> {
    crate::verify::map_in_order(chunk, |(seq, leaf)| (*seq, f(leaf)))
}

/// Decodes a chunk of stored entries (checking signatures or not).
fn decode_chunk(chunk: &[(u64, sled::IVec)], signatures: Signatures) -> Decoded {
    par_map(chunk, |leaf| match signatures {
        Signatures::Verify => VerifiedEnvelope::from_leaf_bytes(leaf),
        Signatures::Trust => VerifiedEnvelope::decode_stored(leaf),
    })
}
