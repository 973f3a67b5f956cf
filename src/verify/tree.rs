//! The server side of coopledger's Merkle tree: the append-only frontier the
//! sequencer keeps in memory, and roots and proofs read from stored nodes.
//!
//! The tree is RFC 9162's with blake3 (see [`crate::verify`], which checks what
//! this module produces). The store keeps only *perfect* subtree roots: node
//! `(level, index)` is the root of the `2^level` leaves `[index·2^level,
//! (index+1)·2^level)`, level 0 being the leaf hashes. A perfect node never
//! changes once its last leaf is appended, so the sequencer writes each one
//! exactly once, in the same atomic batch as the entry that completed it
//! ([`Frontier::append`]), and nothing is ever rewritten.
//!
//! Every RFC 9162 subtree is a run of at most 64 perfect nodes (the binary
//! decomposition of its size), so a root, an inclusion proof or a consistency
//! proof costs O(log n) node reads and no leaf is ever rehashed. A node that
//! should be there and is not means the storage is corrupt, and is reported
//! with its `(level, index)`.
//!
//! Callers bound every size by the number of leaves actually stored before
//! asking for a root or a proof: past the end of the log the nodes are missing
//! too, and would be reported as corruption.

use std::collections::BTreeMap;
use std::convert::Infallible;

use super::proof::{EMPTY_ROOT, Hash, node_hash};

/// A stored perfect node: `(level, index, hash)`, as [`Frontier::append`]
/// returns them for the store to write under [`node_key`].
pub type Node = (u8, u64, Hash);

/// The storage key of perfect node `(level, index)`: the level byte, then the
/// index big-endian.
///
/// Big-endian makes byte order equal numeric order, so keys sort by level and
/// then by index and one level is one contiguous key range. The store adds its
/// own prefix to keep nodes apart from entries in the same sled tree.
pub fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut key = [0; 9];
    key[0] = level;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Where the tree's perfect nodes are read from: the sled store in the
/// server, a map in tests.
///
/// Keeping the reads behind a trait lets the proof code stay free of any
/// storage crate and run unchanged over every backend.
pub trait NodeSource {
    /// What a failed read returns (the storage's own error).
    type Error;

    /// The hash of perfect node `(level, index)`, or `None` if it is not
    /// stored.
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error>;
}

/// The in-memory node store: a map from `(level, index)` to the node's hash,
/// filled from what [`Frontier::append`] returns. For tests and tools that
/// hold a whole tree in memory.
impl NodeSource for BTreeMap<(u8, u64), Hash> {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Infallible> {
        Ok(self.get(&(level, index)).copied())
    }
}

/// Why a root or proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError<E> {
    /// A node the tree must have is not in storage: the store is corrupt (or
    /// the caller asked about leaves past the end of the log).
    #[error(
        "Merkle node (level {level}, index {index}) is missing from storage: \
         the stored tree is corrupt or shorter than the size asked for"
    )]
    MissingNode {
        /// The node's level (0 = leaf hashes).
        level: u8,
        /// The node's index within its level.
        index: u64,
    },
    /// The storage failed while reading a node.
    #[error("reading Merkle node (level {level}, index {index}) failed: {source}")]
    Source {
        /// The node's level (0 = leaf hashes).
        level: u8,
        /// The node's index within its level.
        index: u64,
        /// The storage's own error.
        source: E,
    },
    /// An inclusion proof was asked for a leaf outside the tree.
    #[error("leaf index {index} is out of range for a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size asked for.
        tree_size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}: a log only grows")]
    OldSizeExceedsNew {
        /// The older tree size asked for.
        old_size: u64,
        /// The newer tree size asked for.
        new_size: u64,
    },
    /// A leaf range whose start is after its end.
    #[error("leaf range [{start}, {end}) is reversed: its start is after its end")]
    ReversedRange {
        /// The first leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
    /// A leaf range that is no subtree of any RFC 9162 tree, so its root is
    /// not made of stored perfect nodes.
    #[error(
        "leaf range [{start}, {end}) is not an RFC 9162 subtree: its start must be a \
         multiple of {alignment}, the largest power of two not above its length"
    )]
    UnalignedRange {
        /// The first leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
        /// What `start` must be a multiple of.
        alignment: u64,
    },
}

/// Reads perfect node `(level, index)`, turning absence into the corruption
/// error that names it.
fn read_node<S: NodeSource + ?Sized>(
    source: &S,
    level: u8,
    index: u64,
) -> Result<Hash, MerkleError<S::Error>> {
    match source.node(level, index) {
        Ok(Some(hash)) => Ok(hash),
        Ok(None) => Err(MerkleError::MissingNode { level, index }),
        Err(source) => Err(MerkleError::Source {
            level,
            index,
            source,
        }),
    }
}

/// The right edge of the tree: the roots of the perfect subtrees that make up
/// the current size (one per set bit of `size`, at most 64 hashes).
///
/// The sequencer keeps it in memory so that appending an entry and computing
/// the new root cost O(log n) hashes and no read at all; it is rebuilt on
/// start with [`Frontier::load`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    /// Number of leaves in the tree.
    size: u64,
    /// Perfect subtree roots, leftmost (largest) first. Invariant: one per set
    /// bit of `size`, the subtree for bit `l` having `2^l` leaves.
    roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree, where a new log starts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves appended so far: the tree size a checkpoint
    /// names.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 root (MTH) of the current tree, to sign in a checkpoint.
    ///
    /// For the empty tree it is [`EMPTY_ROOT`], blake3 of the empty string
    /// (RFC 9162: MTH({}) = HASH()). Otherwise the RFC's split at the largest
    /// power of two makes the root the perfect subtrees joined from the right:
    /// `node(P0, node(P1, … node(Pk-1, Pk)))`.
    pub fn root(&self) -> Hash {
        let mut right_to_left = self.roots.iter().rev();
        match right_to_left.next() {
            None => EMPTY_ROOT,
            Some(last) => right_to_left.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends one leaf hash and returns the perfect nodes it completes, for
    /// the store to write in the same batch as the entry: the leaf itself
    /// `(0, size, leaf_hash)`, then each parent it closes, lowest first.
    ///
    /// A log of 2^64 entries cannot exist, so the size never overflows.
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<Node> {
        let mut completed = vec![(0, self.size, leaf_hash)];
        let mut hash = leaf_hash;
        let mut level = 0u8;
        let mut index = self.size;
        // While the new node is a right child, its left sibling is the last
        // frontier root of the same level: join them and go up.
        while index & 1 == 1 {
            // Invariant: `roots` has one entry per set bit of `size`, and the
            // trailing ones of `size` (the merges here) are among those bits,
            // so a left sibling is always there.
            #[allow(
                clippy::unreachable,
                reason = "stated invariant: one root per set bit of the size"
            )]
            let Some(left) = self.roots.pop() else {
                unreachable!("frontier of size {} lost a root", self.size)
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed.push((level, index, hash));
        }
        self.roots.push(hash);
        self.size += 1;
        completed
    }

    /// Rebuilds the frontier of a stored tree of `size` leaves, reading one
    /// node per set bit of `size` (at most 64 reads), for the sequencer on
    /// start.
    pub fn load<S: NodeSource + ?Sized>(
        size: u64,
        source: &S,
    ) -> Result<Self, MerkleError<S::Error>> {
        let mut roots = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..u64::BITS as u8).rev() {
            if size >> level & 1 == 1 {
                roots.push(read_node(source, level, start >> level)?);
                start += 1 << level;
            }
        }
        Ok(Self { size, roots })
    }
}

/// The RFC 9162 root MTH(D\[start:end\]) of the leaves `[start, end)`, from
/// at most 64 stored perfect nodes.
///
/// The range must be a subtree of some RFC 9162 tree, which is every range
/// PATH and PROOF ever ask for: `start` a multiple of the largest power of two
/// not above `end - start`. Then its root is its binary decomposition into
/// perfect nodes joined from the right. Any other range would need leaves
/// rehashed, so it is refused ([`MerkleError::UnalignedRange`]). The empty
/// range has root [`EMPTY_ROOT`].
pub fn subtree_root<S: NodeSource + ?Sized>(
    start: u64,
    end: u64,
    source: &S,
) -> Result<Hash, MerkleError<S::Error>> {
    let Some(len) = end.checked_sub(start) else {
        return Err(MerkleError::ReversedRange { start, end });
    };
    if len == 0 {
        return Ok(EMPTY_ROOT);
    }
    let alignment = 1u64 << (u64::BITS - 1 - len.leading_zeros());
    if !start.is_multiple_of(alignment) {
        return Err(MerkleError::UnalignedRange {
            start,
            end,
            alignment,
        });
    }
    // Walk the decomposition from the right end (smallest piece first) so the
    // right fold needs no buffer.
    let mut piece_end = end;
    let mut acc: Option<Hash> = None;
    for level in 0..u64::BITS as u8 {
        if len >> level & 1 == 1 {
            piece_end -= 1 << level;
            let piece = read_node(source, level, piece_end >> level)?;
            acc = Some(match acc {
                None => piece,
                Some(right) => node_hash(&piece, &right),
            });
        }
    }
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// The RFC 9162 root of the first `size` leaves: what the log's checkpoint
/// at that size must carry. Reads at most 64 nodes.
pub fn root_at<S: NodeSource + ?Sized>(
    size: u64,
    source: &S,
) -> Result<Hash, MerkleError<S::Error>> {
    subtree_root(0, size, source)
}

/// The largest power of two strictly below `n`, RFC 9162's split point `k`;
/// `n` must be at least 2.
fn split(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// The inclusion proof of leaf `index` in the tree of its first `tree_size`
/// leaves: RFC 9162 §2.1.3.1 PATH(index, D\[tree_size\]), sibling hashes from
/// the leaf up to the root, as [`crate::verify::verify_inclusion`] expects.
///
/// Walks from the root down, taking one sibling per level: every sibling is a
/// single perfect node except at most one on the right edge, so the proof
/// costs O(log n) reads.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    index: u64,
    tree_size: u64,
    source: &S,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    // The subtree [lo, hi) that holds the leaf, narrowed one level at a time.
    let (mut lo, mut hi) = (0u64, tree_size);
    let mut siblings = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            // PATH(m, D[0:k]) : MTH(D[k:n])
            siblings.push(subtree_root(lo + k, hi, source)?);
            hi = lo + k;
        } else {
            // PATH(m - k, D[k:n]) : MTH(D[0:k])
            siblings.push(subtree_root(lo, lo + k, source)?);
            lo += k;
        }
    }
    // Collected top-down; the RFC lists them bottom-up.
    siblings.reverse();
    Ok(siblings)
}

/// The consistency proof that the tree of `new_size` leaves extends the tree
/// of `old_size` leaves: RFC 9162 §2.1.4.1 PROOF(old_size, D\[new_size\]), as
/// [`crate::verify::verify_consistency`] expects.
///
/// Outside the RFC's `0 < old_size < new_size` the proof is empty: for equal
/// sizes (the RFC's SUBPROOF(m, D\[m\], true)) and for `old_size == 0` (the
/// empty tree is a prefix of every tree). Costs O(log n) reads, as
/// [`inclusion_proof`].
pub fn consistency_proof<S: NodeSource + ?Sized>(
    old_size: u64,
    new_size: u64,
    source: &S,
) -> Result<Vec<Hash>, MerkleError<S::Error>> {
    if old_size > new_size {
        return Err(MerkleError::OldSizeExceedsNew { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], whole) unrolled; `old_size` stays absolute, and
    // `whole` is the RFC's b: whether [lo, hi) still starts at leaf 0, so that
    // the verifier already knows the old root for it.
    let (mut lo, mut hi) = (0u64, new_size);
    let mut whole = true;
    let mut hashes = Vec::new();
    loop {
        if old_size == hi {
            // SUBPROOF(m, D[m], b): {} if b, else {MTH(D[m])}.
            if !whole {
                hashes.push(subtree_root(lo, hi, source)?);
            }
            break;
        }
        let k = split(hi - lo);
        if old_size <= lo + k {
            // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            hashes.push(subtree_root(lo + k, hi, source)?);
            hi = lo + k;
        } else {
            // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            hashes.push(subtree_root(lo, lo + k, source)?);
            lo += k;
            whole = false;
        }
    }
    // Collected top-down; the RFC lists them bottom-up.
    hashes.reverse();
    Ok(hashes)
}
