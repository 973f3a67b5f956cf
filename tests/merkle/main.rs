//! Tests of the Merkle tree (`coopledger::log`) and its stand-alone
//! verifier (`coopledger::verify`).
//!
//! Two independent references hold the implementation to RFC 9162:
//!
//! - [`rfc`]: a naive recursive MTH, PATH and PROOF written straight from the
//!   RFC's definitions over a slice of leaf hashes, compared with the
//!   storage-backed code for every tree size 1..=64;
//! - [`kat`]: known answers printed by `tests/kat/merkle_kat.py`, a separate
//!   Python implementation with the PyPI `blake3` package.
//!
//! The tree is grown one leaf at a time through [`Frontier::append`], storing
//! exactly the nodes it returns, so every proof at size `n` is produced from
//! the nodes a real store would hold at size `n`.
//!
//! One test binary; the shared references and helpers are here, the tests
//! by topic in:
//!
//! | module              | what it tests                                         |
//! |---------------------|-------------------------------------------------------|
//! | [`tree`]            | hashing, the frontier, stored nodes, node keys, leaf bytes |
//! | [`proofs`]          | inclusion and consistency proofs, altered proofs, edge cases |
//! | [`failures`]        | impossible requests, missing nodes, storage errors, proof cost, messages |
//! | [`known_answers`]   | the tree and leaf bytes against [`kat`]               |

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;

use coopledger::verify::{
    EMPTY_ROOT, Hash, ProofError, leaf_bytes, leaf_hash, node_hash, verify_consistency,
    verify_inclusion,
};
use coopledger::verify::{
    Frontier, MerkleError, NodeSource, consistency_proof, inclusion_proof, node_key, root_at,
    subtree_root,
};

/// The largest tree size tested exhaustively.
const MAX: u64 = 64;

type Nodes = BTreeMap<(u8, u64), Hash>;

mod failures;
mod kat;
mod known_answers;
mod proofs;
mod tree;

/// RFC 9162 §2.1 read literally: recursion on slices of leaf hashes, no
/// cleverness, nothing shared with the code under test except the two hash
/// functions.
mod rfc {
    use coopledger::verify::{EMPTY_ROOT, Hash, node_hash};

    /// k: the largest power of two smaller than `n` (n > 1).
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// §2.1.1 MTH over leaf hashes: MTH({}) = HASH(), MTH({d}) = the leaf
    /// hash, MTH(D_n) = node(MTH(D[0:k]), MTH(D[k:n])).
    pub fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    /// §2.1.3.1 PATH(m, D_n).
    pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = k(n);
        let mut out;
        if m < k {
            out = path(m, &d[..k]);
            out.push(mth(&d[k..]));
        } else {
            out = path(m - k, &d[k..]);
            out.push(mth(&d[..k]));
        }
        out
    }

    /// §2.1.4.1 SUBPROOF(m, D_n, b).
    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        let mut out;
        if m <= k {
            out = subproof(m, &d[..k], b);
            out.push(mth(&d[k..]));
        } else {
            out = subproof(m - k, &d[k..], false);
            out.push(mth(&d[..k]));
        }
        out
    }

    /// §2.1.4.1 PROOF(m, D_n) = SUBPROOF(m, D_n, true).
    pub fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }
}

/// The leaf hash of leaf `i`: its leaf bytes are the decimal digits of `i`,
/// as in the Python known answers.
fn leaf(i: u64) -> Hash {
    leaf_hash(i.to_string().as_bytes())
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(leaf).collect()
}

/// The reference root of every size 0..=MAX.
fn reference_roots() -> Vec<Hash> {
    let all = leaves(MAX);
    (0..=MAX as usize).map(|n| rfc::mth(&all[..n])).collect()
}

/// Grows a tree leaf by leaf up to `MAX`, storing what [`Frontier::append`]
/// returns, and calls `check(n, frontier, nodes)` at every size `n >= 1`.
fn grow(mut check: impl FnMut(u64, &Frontier, &Nodes)) {
    let mut frontier = Frontier::new();
    let mut nodes = Nodes::new();
    for i in 0..MAX {
        for (level, index, hash) in frontier.append(leaf(i)) {
            let previous = nodes.insert((level, index), hash);
            assert_eq!(previous, None, "node ({level}, {index}) written twice");
        }
        check(i + 1, &frontier, &nodes);
    }
}

/// Returns `hash` with byte `at` changed.
fn flipped(hash: &Hash, at: usize) -> Hash {
    let mut out = *hash;
    out[at] ^= 0x01;
    out
}

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("valid hex"))
        .collect()
}

fn unhex32(s: &str) -> Hash {
    unhex(s).try_into().expect("32-byte hex")
}
