//! The stand-alone verifier for coopledger's Merkle tree: leaf encoding, the
//! two hash functions, and RFC 9162 inclusion and consistency proof checks.
//!
//! A member must not have to trust the server, so this file is written to be
//! used without the rest of the crate: it depends on nothing in coopledger and
//! on no crate but `blake3`. A client in another program can copy it as is (as
//! facebook/akd keeps its verifier apart from its server). For the same
//! reason [`ProofError`] implements `Display` and `Error` by hand instead of
//! through `thiserror`.
//!
//! The tree is RFC 9162's (Certificate Transparency 2.0) with blake3 as the
//! hash:
//!
//! - leaf hash = blake3(0x00 ‖ leaf bytes), node hash = blake3(0x01 ‖ left ‖
//!   right); the two prefixes keep a leaf from ever being read as a node;
//! - a tree of `n > 1` leaves splits at the largest power of two below `n`;
//! - the empty tree's root is blake3 of the empty string ([`EMPTY_ROOT`]),
//!   RFC 9162's MTH({}) = HASH().
//!
//! The two verification functions are RFC 9162 §2.1.3.2 and §2.1.4.2 step by
//! step; the comments number the RFC's steps. The RFC leaves two consistency
//! cases outside its algorithm (it assumes `0 < first < second`); this module
//! decides them as follows:
//!
//! - `old_size == new_size`: the proof must be empty and the two roots equal
//!   (RFC 9162's SUBPROOF(m, D\[m\], true) is the empty list).
//! - `old_size == 0`: the empty tree is a prefix of every tree, so the proof
//!   must be empty and the old root must be [`EMPTY_ROOT`]; nothing is learned
//!   about the new root. A client with no earlier tree head should trust the
//!   new one only through its signature, not through this check.

use std::fmt;

/// A blake3 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree: blake3 of the empty string, RFC 9162's
/// MTH({}) = HASH(). It is what a log of zero entries commits to, and the
/// only old root [`verify_consistency`] accepts for `old_size == 0`.
pub const EMPTY_ROOT: Hash = [
    0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9, 0x49,
    0x9b, 0xcb, 0x25, 0xc9, 0xad, 0xc1, 0x12, 0xb7, 0xcc, 0x9a, 0x93, 0xca, 0xe4, 0x1f, 0x32, 0x62,
];

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// Encodes one log entry as the bytes the Merkle tree commits to:
/// `u32be(len(pae)) ‖ pae ‖ public_key ‖ signature`.
///
/// The leaf holds exactly what the author signed (the DSSE PAE bytes), the key
/// and the signature, never a protobuf re-encoding, so any client can rebuild
/// it from an envelope and check it (spec/DECISIONS.md, "Leaf bytes"). The
/// length prefix makes the encoding unambiguous although the PAE is variable
/// length.
///
/// # Panics
///
/// If `pae` is 4 GiB or longer, which its `u32` length cannot express. Every
/// envelope is bounded far below that by the message size limits before it
/// gets here; a longer one is a bug in the caller.
pub fn leaf_bytes(pae: &[u8], public_key: &[u8; 32], signature: &[u8; 64]) -> Vec<u8> {
    // Invariant (see `# Panics`): message limits keep PAE far below 4 GiB.
    #[allow(
        clippy::panic,
        reason = "stated invariant: envelopes are bounded far below 4 GiB"
    )]
    let Ok(len) = u32::try_from(pae.len()) else {
        panic!(
            "a PAE of {} bytes cannot be a Merkle leaf: its length must fit in a u32",
            pae.len()
        );
    };
    let mut out = Vec::with_capacity(4 + pae.len() + public_key.len() + signature.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(pae);
    out.extend_from_slice(public_key);
    out.extend_from_slice(signature);
    out
}

/// The hash of one leaf, blake3(0x00 ‖ leaf bytes): what the tree stores at
/// level 0 and what an inclusion proof starts from.
pub fn leaf_hash(leaf_bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEAF_PREFIX]);
    hasher.update(leaf_bytes);
    hasher.finalize().into()
}

/// The hash of an interior node, blake3(0x01 ‖ left ‖ right): how two
/// subtrees are joined.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Why a proof was refused. Every variant names the sizes, indexes and hashes
/// involved, so a member's audit can say exactly what did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not below the tree size (RFC 9162 §2.1.3.2 step 1).
    IndexOutOfRange {
        /// The index the proof was checked for.
        index: u64,
        /// The tree size it was checked against.
        tree_size: u64,
    },
    /// The inclusion proof has the wrong number of hashes for this index and
    /// size (RFC 9162 §2.1.3.2 steps 4a and 5 fail on `sn`).
    InclusionProofLength {
        /// The index the proof was checked for.
        index: u64,
        /// The tree size it was checked against.
        tree_size: u64,
        /// How many hashes the proof has.
        got: usize,
        /// How many an inclusion proof for this index and size has.
        expected: usize,
    },
    /// The inclusion proof leads to a different root than the tree head's.
    RootMismatch {
        /// The index the proof was checked for.
        index: u64,
        /// The tree size it was checked against.
        tree_size: u64,
        /// The root the leaf hash and the proof lead to.
        computed: Hash,
        /// The root of the tree head the proof was checked against.
        expected: Hash,
    },
    /// The old tree size is larger than the new one: a log only grows.
    OldSizeExceedsNew {
        /// The older tree head's size.
        old_size: u64,
        /// The newer tree head's size.
        new_size: u64,
    },
    /// The consistency proof has the wrong number of hashes for these sizes
    /// (RFC 9162 §2.1.4.2 steps 1, 6a and 7 fail on the length or `sn`).
    ConsistencyProofLength {
        /// The older tree head's size.
        old_size: u64,
        /// The newer tree head's size.
        new_size: u64,
        /// How many hashes the proof has.
        got: usize,
        /// How many a consistency proof between these sizes has.
        expected: usize,
    },
    /// Two tree heads of the same size carry different roots: the log forked
    /// or one of the heads is wrong.
    SameSizeRootsDiffer {
        /// The size both tree heads claim.
        size: u64,
        /// The older tree head's root.
        old_root: Hash,
        /// The newer tree head's root.
        new_root: Hash,
    },
    /// A tree head of size 0 does not carry [`EMPTY_ROOT`].
    EmptyTreeRoot {
        /// The root the size-0 tree head carries.
        got: Hash,
    },
    /// The consistency proof does not rebuild the old tree head's root
    /// (RFC 9162 §2.1.4.2 step 7, `fr`).
    OldRootMismatch {
        /// The older tree head's size.
        old_size: u64,
        /// The newer tree head's size.
        new_size: u64,
        /// The old root the proof leads to.
        computed: Hash,
        /// The older tree head's root.
        expected: Hash,
    },
    /// The consistency proof does not rebuild the new tree head's root
    /// (RFC 9162 §2.1.4.2 step 7, `sr`): the new tree does not extend the
    /// old one, or a head or the proof was altered.
    NewRootMismatch {
        /// The older tree head's size.
        old_size: u64,
        /// The newer tree head's size.
        new_size: u64,
        /// The new root the proof leads to.
        computed: Hash,
        /// The newer tree head's root.
        expected: Hash,
    },
}

/// Formats a hash as lowercase hex for error messages, without a hex crate.
struct Hex<'a>(&'a Hash);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, tree_size } => write!(
                f,
                "leaf index {index} is out of range for a tree of size {tree_size} \
                 (valid indexes are below the size)"
            ),
            Self::InclusionProofLength {
                index,
                tree_size,
                got,
                expected,
            } => write!(
                f,
                "inclusion proof for leaf {index} in a tree of size {tree_size} \
                 must have {expected} hashes, but has {got}"
            ),
            Self::RootMismatch {
                index,
                tree_size,
                computed,
                expected,
            } => write!(
                f,
                "inclusion proof for leaf {index} in a tree of size {tree_size} leads to \
                 root {}, but the tree head's root is {}: the leaf, its index, \
                 the proof or the tree head differs from what the log holds",
                Hex(computed),
                Hex(expected)
            ),
            Self::OldSizeExceedsNew { old_size, new_size } => write!(
                f,
                "old tree size {old_size} is larger than new tree size {new_size}: \
                 a log only grows"
            ),
            Self::ConsistencyProofLength {
                old_size,
                new_size,
                got,
                expected,
            } => write!(
                f,
                "consistency proof from tree size {old_size} to {new_size} must have \
                 {expected} hashes, but has {got}"
            ),
            Self::SameSizeRootsDiffer {
                size,
                old_root,
                new_root,
            } => write!(
                f,
                "two tree heads of size {size} have different roots, {} and {}: \
                 the log forked or a tree head is wrong",
                Hex(old_root),
                Hex(new_root)
            ),
            Self::EmptyTreeRoot { got } => write!(
                f,
                "a tree head of size 0 must have the empty-tree root {} \
                 (blake3 of nothing), but has {}",
                Hex(&EMPTY_ROOT),
                Hex(got)
            ),
            Self::OldRootMismatch {
                old_size,
                new_size,
                computed,
                expected,
            } => write!(
                f,
                "consistency proof from tree size {old_size} to {new_size} leads to \
                 old root {}, but the old tree head's root is {}",
                Hex(computed),
                Hex(expected)
            ),
            Self::NewRootMismatch {
                old_size,
                new_size,
                computed,
                expected,
            } => write!(
                f,
                "consistency proof from tree size {old_size} to {new_size} leads to \
                 new root {}, but the new tree head's root is {}: the new tree does \
                 not extend the old one (or a tree head or the proof was altered)",
                Hex(computed),
                Hex(expected)
            ),
        }
    }
}

impl std::error::Error for ProofError {}

/// Checks that `leaf_hash` is the leaf at `index` of the tree of `tree_size`
/// leaves whose root is `root`, given its inclusion proof (RFC 9162 §2.1.3.2).
///
/// `proof` lists the sibling hashes from the leaf up to the root, as RFC 9162
/// §2.1.3.1 PATH produces them. This is how a member proves their entry is in
/// the log a signed checkpoint commits to.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1: the index must lie inside the tree.
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    let Some(computed) = root_from_inclusion(leaf_hash, index, tree_size, proof) else {
        return Err(ProofError::InclusionProofLength {
            index,
            tree_size,
            got: proof.len(),
            expected: path_len(index, tree_size - 1),
        });
    };
    // Step 5, second half: the rebuilt root must be the tree head's.
    if computed != *root {
        return Err(ProofError::RootMismatch {
            index,
            tree_size,
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2 steps 2 to 5 for `index < tree_size`: the root that
/// `leaf_hash` and `proof` lead to, or `None` when the `sn` checks fail.
///
/// Which branch each step takes depends only on `fn` and `sn`, never on a hash
/// value, so `None` means exactly "the proof has the wrong length", which lets
/// the caller report the length the RFC walk would have accepted.
fn root_from_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
) -> Option<Hash> {
    // Step 2.
    let mut fn_ = index;
    let mut sn = tree_size - 1;
    // Step 3.
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        // Step 4a: a hash left over once the root is reached.
        if sn == 0 {
            return None;
        }
        // Step 4b.
        if fn_ & 1 == 1 || fn_ == sn {
            // 4b.i: `p` is the left sibling.
            r = node_hash(p, &r);
            // 4b.ii: skip the levels where this node has no right sibling (it is
            // the last node of a level whose size is odd).
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // 4b "Otherwise": `p` is the right sibling.
            r = node_hash(&r, p);
        }
        // Step 4c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5, first half: the walk must have reached the root.
    (sn == 0).then_some(r)
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root` (nothing rewritten, only
/// appended), given their consistency proof (RFC 9162 §2.1.4.2).
///
/// `proof` is RFC 9162 §2.1.4.1 PROOF(old_size, D\[new_size\]). Outside the
/// RFC's `0 < old_size < new_size`, see the module documentation: equal sizes
/// need an empty proof and equal roots; `old_size == 0` needs an empty proof
/// and [`EMPTY_ROOT`] as the old root, and says nothing about the new root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let length_error = |expected: usize| ProofError::ConsistencyProofLength {
        old_size,
        new_size,
        got: proof.len(),
        expected,
    };
    if old_size > new_size {
        return Err(ProofError::OldSizeExceedsNew { old_size, new_size });
    }
    if old_size == 0 {
        // The empty tree is a prefix of every tree: nothing to prove, and
        // nothing learned about the new root unless it is empty too.
        if !proof.is_empty() {
            return Err(length_error(0));
        }
        if *old_root != EMPTY_ROOT {
            return Err(ProofError::EmptyTreeRoot { got: *old_root });
        }
        if new_size == 0 && new_root != old_root {
            return Err(ProofError::SameSizeRootsDiffer {
                size: 0,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }
    if old_size == new_size {
        // Same tree, so the same root; SUBPROOF(m, D[m], true) is empty.
        if !proof.is_empty() {
            return Err(length_error(0));
        }
        if old_root != new_root {
            return Err(ProofError::SameSizeRootsDiffer {
                size: old_size,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }

    // From here on 0 < old_size < new_size, the RFC's precondition.
    let expected_len = || consistency_len(old_size, new_size);
    // Step 1: an empty proof fails.
    let Some((&first, rest)) = proof.split_first() else {
        return Err(length_error(expected_len()));
    };
    // Step 2: when the old tree is a perfect subtree of the new one, its root
    // is the first node of the path, so the RFC prepends it. Rather than copy
    // the proof, pick the starting hash and the remaining hashes directly.
    let (seed, path) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (first, rest)
    };
    // Step 3.
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    // Step 4: climb to the highest node that is the old tree's last perfect
    // subtree (where `seed` sits).
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = seed;
    let mut sr = seed;
    // Step 6.
    for c in path {
        // Step 6a: a hash left over once the root is reached.
        if sn == 0 {
            return Err(length_error(expected_len()));
        }
        // Step 6b.
        if fn_ & 1 == 1 || fn_ == sn {
            // 6b.i and ii: `c` is a left sibling, shared by both trees.
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // 6b.iii: skip levels where the node has no right sibling.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // 6b "Otherwise": `c` is a right sibling only the new tree has.
            sr = node_hash(&sr, c);
        }
        // Step 6c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7: the walk must reach the root, and both roots must match.
    if sn != 0 {
        return Err(length_error(expected_len()));
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            old_size,
            new_size,
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            old_size,
            new_size,
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

/// The number of hashes the RFC 9162 walk of steps 4 (inclusion) or 6
/// (consistency) consumes from `fn_` and `sn`, used only to word errors.
///
/// The walk takes one hash per level below the highest bit where `fn_` and
/// `sn` differ (`inner`), then one per set bit of `fn_` above it (`border`,
/// the left siblings along the right edge of the tree).
fn path_len(fn_: u64, sn: u64) -> usize {
    let inner = u64::BITS - (fn_ ^ sn).leading_zeros();
    let border = fn_.checked_shr(inner).unwrap_or(0).count_ones();
    // At most 64 + 64: always fits.
    (inner + border) as usize
}

/// The length of PROOF(old_size, D\[new_size\]) for `0 < old_size <
/// new_size`, mirroring steps 2 to 4 of RFC 9162 §2.1.4.2; used only to word
/// errors.
fn consistency_len(old_size: u64, new_size: u64) -> usize {
    let shift = old_size.trailing_zeros();
    let walk = path_len((old_size - 1) >> shift, (new_size - 1) >> shift);
    // Step 2 supplies the first hash itself when the old size is a power of 2.
    if old_size.is_power_of_two() {
        walk
    } else {
        walk + 1
    }
}
