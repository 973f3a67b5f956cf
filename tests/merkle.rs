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

#[test]
fn empty_root_is_blake3_of_nothing() {
    assert_eq!(EMPTY_ROOT, *blake3::hash(b"").as_bytes());
    assert_eq!(Frontier::new().root(), EMPTY_ROOT);
    assert_eq!(Frontier::new().size(), 0);
    assert_eq!(root_at(0, &Nodes::new()).unwrap(), EMPTY_ROOT);
    assert_eq!(Frontier::load(0, &Nodes::new()).unwrap(), Frontier::new());
}

#[test]
fn hashes_are_domain_separated() {
    let a = leaf(0);
    let b = leaf(1);
    let mut joined = a.to_vec();
    joined.extend_from_slice(&b);
    // A leaf whose bytes are two hashes must not hash like the node above them.
    assert_ne!(leaf_hash(&joined), node_hash(&a, &b));
    assert_eq!(
        node_hash(&a, &b),
        *blake3::hash(&[&[1u8][..], &joined].concat()).as_bytes()
    );
    assert_eq!(leaf_hash(b"0"), *blake3::hash(b"\x000").as_bytes());
    assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
}

#[test]
fn frontier_roots_and_stored_nodes_match_the_reference_at_every_size() {
    let all = leaves(MAX);
    let roots = reference_roots();
    grow(|n, frontier, nodes| {
        assert_eq!(frontier.size(), n);
        assert_eq!(
            frontier.root(),
            roots[n as usize],
            "frontier root at size {n}"
        );
        // Every earlier root stays available from the stored nodes.
        for m in 0..=n {
            assert_eq!(
                root_at(m, nodes).unwrap(),
                roots[m as usize],
                "root_at({m}) at size {n}"
            );
        }
        // Exactly the perfect subtrees of the first n leaves are stored, each
        // with its reference hash.
        let mut expected = Nodes::new();
        for level in 0..7u8 {
            let width = 1u64 << level;
            for index in 0..n / width {
                let range = (index * width) as usize..((index + 1) * width) as usize;
                expected.insert((level, index), rfc::mth(&all[range]));
            }
        }
        assert_eq!(*nodes, expected, "stored nodes at size {n}");
        // Reloading from storage gives back the same frontier.
        assert_eq!(
            Frontier::load(n, nodes).unwrap(),
            *frontier,
            "load at size {n}"
        );
    });
}

#[test]
fn append_returns_the_leaf_then_the_parents_it_completes() {
    let mut frontier = Frontier::new();
    for i in 0..MAX {
        let written = frontier.append(leaf(i));
        assert_eq!(written[0], (0, i, leaf(i)));
        // A leaf closes one parent per trailing one bit of its index.
        assert_eq!(written.len() as u32, 1 + i.trailing_ones(), "leaf {i}");
        for (step, &(level, index, _)) in written.iter().enumerate() {
            assert_eq!(level as usize, step);
            assert_eq!(index, i >> level);
        }
    }
    // Leaf 7 completes (1,3), (2,1) and (3,0).
    let mut frontier = Frontier::new();
    let written: Vec<_> = (0..8).flat_map(|i| frontier.append(leaf(i))).collect();
    let last: Vec<(u8, u64)> = written[written.len() - 4..]
        .iter()
        .map(|&(l, i, _)| (l, i))
        .collect();
    assert_eq!(last, vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
}

#[test]
fn subtree_root_serves_rfc_subtrees_and_refuses_other_ranges() {
    let all = leaves(MAX);
    let mut nodes = Nodes::new();
    let mut frontier = Frontier::new();
    for &h in &all {
        nodes.extend(frontier.append(h).into_iter().map(|(l, i, h)| ((l, i), h)));
    }
    for start in 0..=MAX {
        for end in start..=MAX {
            let len = end - start;
            let aligned = len == 0 || start % (1 << len.ilog2()) == 0;
            let got = subtree_root(start, end, &nodes);
            if aligned {
                let want = rfc::mth(&all[start as usize..end as usize]);
                assert_eq!(got.unwrap(), want, "[{start}, {end})");
            } else {
                assert!(
                    matches!(got, Err(MerkleError::UnalignedRange { start: s, end: e, alignment })
                        if s == start && e == end && alignment == 1 << len.ilog2()),
                    "[{start}, {end}) must be refused"
                );
            }
        }
    }
    assert!(matches!(
        subtree_root(5, 4, &nodes),
        Err(MerkleError::ReversedRange { start: 5, end: 4 })
    ));
}

#[test]
fn inclusion_proofs_equal_the_reference_and_verify() {
    let roots = reference_roots();
    let all = leaves(MAX);
    grow(|n, _, nodes| {
        let d = &all[..n as usize];
        for i in 0..n {
            let proof = inclusion_proof(i, n, nodes).unwrap();
            assert_eq!(proof, rfc::path(i as usize, d), "PATH({i}, D[{n}])");
            assert_eq!(
                verify_inclusion(&leaf(i), i, n, &proof, &roots[n as usize]),
                Ok(())
            );
        }
    });
}

#[test]
fn altered_inclusion_proofs_fail() {
    let roots = reference_roots();
    let all = leaves(MAX);
    grow(|n, _, nodes| {
        let root = roots[n as usize];
        for i in 0..n {
            let proof = inclusion_proof(i, n, nodes).unwrap();
            let check = |leaf_hash: &Hash, index, size, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf_hash, index, size, proof, root)
            };
            // Any one byte of any proof hash.
            for at in 0..proof.len() {
                for byte in 0..32 {
                    let mut bad = proof.clone();
                    bad[at] = flipped(&bad[at], byte);
                    assert!(
                        matches!(
                            check(&leaf(i), i, n, &bad, &root),
                            Err(ProofError::RootMismatch { .. })
                        ),
                        "leaf {i} size {n}: hash {at} byte {byte} changed"
                    );
                }
            }
            // Any one byte of the leaf hash or of the root.
            for byte in 0..32 {
                assert!(check(&flipped(&leaf(i), byte), i, n, &proof, &root).is_err());
                let err = check(&leaf(i), i, n, &proof, &flipped(&root, byte)).unwrap_err();
                assert_eq!(
                    err,
                    ProofError::RootMismatch {
                        index: i,
                        tree_size: n,
                        computed: root,
                        expected: flipped(&root, byte)
                    }
                );
            }
            // Another leaf, another index, or an index past the end.
            for j in 0..n {
                if j != i {
                    assert!(
                        check(&leaf(j), i, n, &proof, &root).is_err(),
                        "leaf {j} as {i}"
                    );
                    assert!(
                        check(&leaf(i), j, n, &proof, &root).is_err(),
                        "index {j} for {i}"
                    );
                }
            }
            assert_eq!(
                check(&leaf(i), n, n, &proof, &root),
                Err(ProofError::IndexOutOfRange {
                    index: n,
                    tree_size: n
                })
            );
            // Another tree head: a different size with that size's real root.
            for m in 1..=MAX {
                if m == n {
                    continue;
                }
                let err = check(&leaf(i), i, m, &proof, &roots[m as usize]);
                assert!(err.is_err(), "proof for ({i}, {n}) accepted for size {m}");
                // With the original root, a size whose path has another shape
                // is caught by the length alone. (Where the shape is the same
                // the root cannot tell the sizes apart: the signed checkpoint
                // binds size and root together.)
                if i < m {
                    let want = rfc::path(i as usize, &all[..m as usize]).len();
                    if want != proof.len() {
                        assert_eq!(
                            check(&leaf(i), i, m, &proof, &root),
                            Err(ProofError::InclusionProofLength {
                                index: i,
                                tree_size: m,
                                got: proof.len(),
                                expected: want
                            })
                        );
                    }
                }
            }
            // One hash too few or too many: the error names the right length.
            let mut longer = proof.clone();
            longer.push(root);
            let mut shorter = proof.clone();
            shorter.pop();
            for bad in [longer]
                .into_iter()
                .chain((!proof.is_empty()).then_some(shorter))
            {
                assert_eq!(
                    check(&leaf(i), i, n, &bad, &root),
                    Err(ProofError::InclusionProofLength {
                        index: i,
                        tree_size: n,
                        got: bad.len(),
                        expected: proof.len()
                    })
                );
            }
        }
    });
}

#[test]
fn consistency_proofs_equal_the_reference_and_verify() {
    let roots = reference_roots();
    let all = leaves(MAX);
    grow(|n, _, nodes| {
        let d = &all[..n as usize];
        for m in 1..=n {
            let proof = consistency_proof(m, n, nodes).unwrap();
            assert_eq!(proof, rfc::proof(m as usize, d), "PROOF({m}, D[{n}])");
            assert_eq!(
                verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &proof),
                Ok(())
            );
        }
        // From the empty tree: nothing to prove.
        let proof = consistency_proof(0, n, nodes).unwrap();
        assert!(proof.is_empty());
        assert_eq!(
            verify_consistency(0, n, &EMPTY_ROOT, &roots[n as usize], &proof),
            Ok(())
        );
    });
}

#[test]
fn altered_consistency_proofs_fail() {
    let roots = reference_roots();
    grow(|n, _, nodes| {
        let new_root = roots[n as usize];
        for m in 1..=n {
            let old_root = roots[m as usize];
            let proof = consistency_proof(m, n, nodes).unwrap();
            // Any one byte of any proof hash.
            for at in 0..proof.len() {
                for byte in 0..32 {
                    let mut bad = proof.clone();
                    bad[at] = flipped(&bad[at], byte);
                    let err = verify_consistency(m, n, &old_root, &new_root, &bad).unwrap_err();
                    assert!(
                        matches!(
                            err,
                            ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. }
                        ),
                        "({m}, {n}): hash {at} byte {byte} changed: {err}"
                    );
                }
            }
            // Any one byte of either root.
            for byte in 0..32 {
                assert!(
                    verify_consistency(m, n, &flipped(&old_root, byte), &new_root, &proof).is_err()
                );
                assert!(
                    verify_consistency(m, n, &old_root, &flipped(&new_root, byte), &proof).is_err()
                );
            }
            // Other tree heads: another old or new size, with its real root.
            for other in 1..=MAX {
                if other != m && other <= n {
                    assert!(
                        verify_consistency(other, n, &roots[other as usize], &new_root, &proof)
                            .is_err(),
                        "proof ({m}, {n}) accepted from size {other}"
                    );
                }
                if other != n && other >= m {
                    assert!(
                        verify_consistency(m, other, &old_root, &roots[other as usize], &proof)
                            .is_err(),
                        "proof ({m}, {n}) accepted to size {other}"
                    );
                }
            }
            // One hash too few or too many: the error names the right length.
            let mut longer = proof.clone();
            longer.push(new_root);
            let mut shorter = proof.clone();
            shorter.pop();
            for bad in [longer]
                .into_iter()
                .chain((!proof.is_empty()).then_some(shorter))
            {
                assert_eq!(
                    verify_consistency(m, n, &old_root, &new_root, &bad),
                    Err(ProofError::ConsistencyProofLength {
                        old_size: m,
                        new_size: n,
                        got: bad.len(),
                        expected: proof.len()
                    })
                );
            }
        }
        // The rest of the RFC's precondition: a smaller new tree.
        if n < MAX {
            assert_eq!(
                verify_consistency(n + 1, n, &roots[n as usize + 1], &new_root, &[]),
                Err(ProofError::OldSizeExceedsNew {
                    old_size: n + 1,
                    new_size: n
                })
            );
        }
    });
}

#[test]
fn consistency_edge_cases_are_decided_as_documented() {
    let roots = reference_roots();
    let some = roots[5];
    // old_size 0: empty proof and the empty-tree root, whatever the new root.
    assert_eq!(verify_consistency(0, 5, &EMPTY_ROOT, &some, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 5, &EMPTY_ROOT, &some, &[some]),
        Err(ProofError::ConsistencyProofLength {
            old_size: 0,
            new_size: 5,
            got: 1,
            expected: 0
        })
    );
    assert_eq!(
        verify_consistency(0, 5, &some, &some, &[]),
        Err(ProofError::EmptyTreeRoot { got: some })
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &some, &[]),
        Err(ProofError::SameSizeRootsDiffer {
            size: 0,
            old_root: EMPTY_ROOT,
            new_root: some
        })
    );
    // Equal sizes: empty proof and equal roots.
    assert_eq!(verify_consistency(5, 5, &some, &some, &[]), Ok(()));
    assert_eq!(
        verify_consistency(5, 5, &some, &roots[6], &[]),
        Err(ProofError::SameSizeRootsDiffer {
            size: 5,
            old_root: some,
            new_root: roots[6]
        })
    );
    assert_eq!(
        verify_consistency(5, 5, &some, &some, &[some]),
        Err(ProofError::ConsistencyProofLength {
            old_size: 5,
            new_size: 5,
            got: 1,
            expected: 0
        })
    );
    // An empty proof for 0 < m < n (RFC step 1).
    assert_eq!(
        verify_consistency(4, 5, &roots[4], &some, &[]),
        Err(ProofError::ConsistencyProofLength {
            old_size: 4,
            new_size: 5,
            got: 0,
            expected: 1
        })
    );
    // Inclusion in the empty tree.
    assert_eq!(
        verify_inclusion(&leaf(0), 0, 0, &[], &EMPTY_ROOT),
        Err(ProofError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    );
}

#[test]
fn the_server_side_refuses_impossible_requests() {
    let mut frontier = Frontier::new();
    let mut nodes = Nodes::new();
    for i in 0..5 {
        nodes.extend(
            frontier
                .append(leaf(i))
                .into_iter()
                .map(|(l, i, h)| ((l, i), h)),
        );
    }
    assert!(matches!(
        inclusion_proof(5, 5, &nodes),
        Err(MerkleError::IndexOutOfRange {
            index: 5,
            tree_size: 5
        })
    ));
    assert!(matches!(
        inclusion_proof(0, 0, &nodes),
        Err(MerkleError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    ));
    assert!(matches!(
        consistency_proof(5, 4, &nodes),
        Err(MerkleError::OldSizeExceedsNew {
            old_size: 5,
            new_size: 4
        })
    ));
    assert_eq!(consistency_proof(5, 5, &nodes).unwrap(), Vec::<Hash>::new());
    assert_eq!(consistency_proof(0, 0, &nodes).unwrap(), Vec::<Hash>::new());
}

#[test]
fn a_missing_node_is_named_by_level_and_index() {
    let mut frontier = Frontier::new();
    let mut nodes = Nodes::new();
    for i in 0..13 {
        nodes.extend(
            frontier
                .append(leaf(i))
                .into_iter()
                .map(|(l, i, h)| ((l, i), h)),
        );
    }
    // 13 = 8 + 4 + 1: the root is made of nodes (3,0), (2,2) and (0,12).
    nodes.remove(&(2, 2));
    let missing = |r: Result<_, MerkleError<Infallible>>| match r {
        Err(MerkleError::MissingNode { level, index }) => (level, index),
        other => panic!("expected a missing node, got {other:?}"),
    };
    assert_eq!(missing(root_at(13, &nodes).map(|_| ())), (2, 2));
    assert_eq!(missing(Frontier::load(13, &nodes).map(|_| ())), (2, 2));
    assert_eq!(missing(inclusion_proof(0, 13, &nodes).map(|_| ())), (2, 2));
    assert_eq!(
        missing(consistency_proof(3, 13, &nodes).map(|_| ())),
        (2, 2)
    );
    // Sizes that do not need the node still work.
    assert_eq!(root_at(8, &nodes).unwrap(), rfc::mth(&leaves(8)));
    assert_eq!(
        inclusion_proof(9, 13, &nodes).unwrap(),
        rfc::path(9, &leaves(13))
    );
    let message = MerkleError::<Infallible>::MissingNode { level: 2, index: 2 }.to_string();
    assert!(message.contains("level 2, index 2"), "{message}");
}

/// A node store that fails every read, as a broken disk would.
struct Failing;

impl NodeSource for Failing {
    type Error = std::io::Error;

    fn node(&self, _: u8, _: u64) -> Result<Option<Hash>, std::io::Error> {
        Err(std::io::Error::other("disk on fire"))
    }
}

#[test]
fn storage_errors_are_passed_on_with_the_node_being_read() {
    // 6 = 4 + 2: the first node read is the rightmost piece, (1, 2).
    let err = root_at(6, &Failing).unwrap_err();
    assert!(
        matches!(
            err,
            MerkleError::Source {
                level: 1,
                index: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("level 1, index 2") && message.contains("disk on fire"),
        "{message}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

/// A store that holds "every" node of a huge tree (made-up hashes) and counts
/// reads, to show the cost of proofs does not grow with the log.
struct Counting {
    reads: Cell<u64>,
}

impl NodeSource for Counting {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Infallible> {
        self.reads.set(self.reads.get() + 1);
        let mut hash = [level; 32];
        hash[..8].copy_from_slice(&index.to_le_bytes());
        Ok(Some(hash))
    }
}

#[test]
fn proofs_cost_logarithmic_reads_even_for_huge_trees() {
    let store = Counting {
        reads: Cell::new(0),
    };
    // Runs `f` and returns its result with the number of nodes it read.
    let counted = |f: &dyn Fn(&Counting) -> Vec<Hash>| {
        store.reads.set(0);
        let out = f(&store);
        (out, store.reads.get())
    };
    let n = (1u64 << 62) + 0x1234_5678_9abc; // 2^62 leaves and then some
    let bits = u64::from(n.count_ones());
    let (root, r) = counted(&|s| vec![root_at(n, s).unwrap()]);
    assert_eq!(r, bits);
    let (frontier, r) = counted(&|s| vec![Frontier::load(n, s).unwrap().root()]);
    assert_eq!(r, bits);
    assert_eq!(frontier, root);
    // The made-up nodes do not hash into one another, so these proofs cannot
    // verify; but a root mismatch (rather than a length error) shows each has
    // exactly the shape the verifier expects.
    for index in [0, 1, n / 3, n - 2, n - 1] {
        let (proof, r) = counted(&|s| inclusion_proof(index, n, s).unwrap());
        assert!(r <= 63 + bits, "inclusion proof of {index} read {r} nodes");
        let leaf = store.node(0, index).unwrap().unwrap();
        assert!(matches!(
            verify_inclusion(&leaf, index, n, &proof, &root[0]),
            Err(ProofError::RootMismatch { .. })
        ));
    }
    for old in [1, 3, n / 2, n - 1] {
        let (proof, r) = counted(&|s| consistency_proof(old, n, s).unwrap());
        assert!(
            r <= 64 + 2 * bits,
            "consistency proof from {old} read {r} nodes"
        );
        let old_root = root_at(old, &store).unwrap();
        assert!(matches!(
            verify_consistency(old, n, &old_root, &root[0], &proof),
            Err(ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. })
        ));
    }
}

#[test]
fn node_keys_sort_by_level_then_index() {
    assert_eq!(node_key(3, 0x0102), [3, 0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(
        node_key(0, u64::MAX),
        [0, 255, 255, 255, 255, 255, 255, 255, 255]
    );
    let mut pairs = [
        (0u8, 0u64),
        (0, 1),
        (0, 255),
        (0, 256),
        (0, u64::MAX),
        (1, 0),
        (1, 7),
        (63, 0),
    ];
    pairs.reverse();
    let mut keys: Vec<[u8; 9]> = pairs.iter().map(|&(l, i)| node_key(l, i)).collect();
    keys.sort();
    pairs.sort();
    assert_eq!(
        keys,
        pairs
            .iter()
            .map(|&(l, i)| node_key(l, i))
            .collect::<Vec<_>>()
    );
}

#[test]
fn leaf_bytes_follow_the_decisions_layout() {
    let pae = b"DSSEv1 1 t 2 hi";
    let key = [7u8; 32];
    let sig = [9u8; 64];
    let bytes = leaf_bytes(pae, &key, &sig);
    assert_eq!(bytes.len(), 4 + pae.len() + 32 + 64);
    assert_eq!(bytes[..4], (pae.len() as u32).to_be_bytes());
    assert_eq!(&bytes[4..4 + pae.len()], pae);
    assert_eq!(bytes[4 + pae.len()..4 + pae.len() + 32], key);
    assert_eq!(bytes[4 + pae.len() + 32..], sig);
}

#[test]
fn error_messages_say_what_differs() {
    let computed = [0xab; 32];
    let expected = [0xcd; 32];
    let message = ProofError::RootMismatch {
        index: 3,
        tree_size: 8,
        computed,
        expected,
    }
    .to_string();
    assert!(
        message.contains(&"ab".repeat(32)) && message.contains(&"cd".repeat(32)),
        "{message}"
    );
    assert!(
        message.contains("leaf 3") && message.contains("size 8"),
        "{message}"
    );
    let message = ProofError::ConsistencyProofLength {
        old_size: 3,
        new_size: 7,
        got: 2,
        expected: 4,
    }
    .to_string();
    assert!(
        message.contains("3 to 7") && message.contains("4 hashes, but has 2"),
        "{message}"
    );
    let message = ProofError::IndexOutOfRange {
        index: 9,
        tree_size: 9,
    }
    .to_string();
    assert!(
        message.contains("index 9") && message.contains("size 9"),
        "{message}"
    );
    let message = ProofError::EmptyTreeRoot { got: computed }.to_string();
    assert!(
        message.contains("af1349b9") && message.contains(&"ab".repeat(32)),
        "{message}"
    );
}

/// Known answers printed by `tests/kat/merkle_kat.py` (run it to regenerate),
/// an implementation in Python independent of this crate.
mod kat {
    // Generated by tests/kat/merkle_kat.py; do not edit by hand.
    pub const EMPTY_ROOT: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    /// (leaf bytes, leaf hash)
    pub const LEAF_HASHES: &[(&[u8], &str)] = &[
        (
            b"0",
            "cee3711265465771f95d011c72d0d4d140868431ffb921f0260279ca1e5d71e8",
        ),
        (
            b"1",
            "73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973",
        ),
        (
            b"2",
            "b476295a035301e373b7152684dc6c891bc14976a89a2f2dc5977c7881cbac8a",
        ),
    ];
    /// (tree size, root) for leaves b"0", b"1", ...
    pub const ROOTS: &[(u64, &str)] = &[
        (
            1,
            "cee3711265465771f95d011c72d0d4d140868431ffb921f0260279ca1e5d71e8",
        ),
        (
            2,
            "a962016eae8fb94bf6d939b3d7553bb1ab8108fd2153d334b247c5e44837e19a",
        ),
        (
            3,
            "b5fb6ca3c2800976f62c7daa3b2bc537cacbe6aae225a9bf0ee700cde86589cc",
        ),
        (
            5,
            "56e784598f2a9ba3033c82f03adc88042f938ae8ef33b8040f986638977c24fd",
        ),
        (
            8,
            "ced28d22b32bbbbc5fe7ee02e533ddb527128be6e55a965785074662bcc827fa",
        ),
        (
            13,
            "9c5f20a249740c47ee4a323d54148a38cb73c25e48a463cbbbb6f15e5f9fc248",
        ),
    ];
    /// (leaf index, tree size, PATH)
    pub const INCLUSION: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            2,
            &["73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973"],
        ),
        (
            1,
            2,
            &["cee3711265465771f95d011c72d0d4d140868431ffb921f0260279ca1e5d71e8"],
        ),
        (
            2,
            3,
            &["a962016eae8fb94bf6d939b3d7553bb1ab8108fd2153d334b247c5e44837e19a"],
        ),
        (
            0,
            5,
            &[
                "73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973",
                "2238e4584751e077217a3baf5d1f3cceb2a3b96fb39bdcb289cee07262585429",
                "f78f3fb8b978938192b4ab3dad85f28ea21e5f2b08c981c68bef10485e434b37",
            ],
        ),
        (
            4,
            5,
            &["bdd9bd037eb590a1dcd4e02d37f44cf00dac20e6e80bc81682b3c214a2adef93"],
        ),
        (
            3,
            8,
            &[
                "b476295a035301e373b7152684dc6c891bc14976a89a2f2dc5977c7881cbac8a",
                "a962016eae8fb94bf6d939b3d7553bb1ab8108fd2153d334b247c5e44837e19a",
                "dd544b3e2689983b093699699646aea4074dfe3b28d52b72596af1b9a4eec22b",
            ],
        ),
        (
            7,
            8,
            &[
                "e544998c8fd0ee5693fdf2368d57fd0e87a3fe7f1192b6e3111a59692efcfe67",
                "7c4e2909b4c2b0f90c31ffbd920dae1784219317a274b65286a7b0c6a4ba3542",
                "bdd9bd037eb590a1dcd4e02d37f44cf00dac20e6e80bc81682b3c214a2adef93",
            ],
        ),
        (
            0,
            13,
            &[
                "73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973",
                "2238e4584751e077217a3baf5d1f3cceb2a3b96fb39bdcb289cee07262585429",
                "dd544b3e2689983b093699699646aea4074dfe3b28d52b72596af1b9a4eec22b",
                "3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087",
            ],
        ),
        (
            6,
            13,
            &[
                "75ecd48f112870673b9df5cfa267ec6b366a848004d325940ff6d5f6b776004b",
                "7c4e2909b4c2b0f90c31ffbd920dae1784219317a274b65286a7b0c6a4ba3542",
                "bdd9bd037eb590a1dcd4e02d37f44cf00dac20e6e80bc81682b3c214a2adef93",
                "3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087",
            ],
        ),
        (
            12,
            13,
            &[
                "39a62bf0b0859f966f248d389d3ce30ea816eed6c566777ab2f34d547e9acb73",
                "ced28d22b32bbbbc5fe7ee02e533ddb527128be6e55a965785074662bcc827fa",
            ],
        ),
    ];
    /// (old size, new size, PROOF)
    pub const CONSISTENCY: &[(u64, u64, &[&str])] = &[
        (
            1,
            2,
            &["73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973"],
        ),
        (
            1,
            13,
            &[
                "73405c602a6e41dda2010107b3a9befbbe8639eb06dc79f356ea83bf7265d973",
                "2238e4584751e077217a3baf5d1f3cceb2a3b96fb39bdcb289cee07262585429",
                "dd544b3e2689983b093699699646aea4074dfe3b28d52b72596af1b9a4eec22b",
                "3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087",
            ],
        ),
        (
            2,
            3,
            &["b476295a035301e373b7152684dc6c891bc14976a89a2f2dc5977c7881cbac8a"],
        ),
        (
            3,
            5,
            &[
                "b476295a035301e373b7152684dc6c891bc14976a89a2f2dc5977c7881cbac8a",
                "bed1553e944c1f60caad77749acd1505d7b760208777c714f35ffdc0f2de766d",
                "a962016eae8fb94bf6d939b3d7553bb1ab8108fd2153d334b247c5e44837e19a",
                "f78f3fb8b978938192b4ab3dad85f28ea21e5f2b08c981c68bef10485e434b37",
            ],
        ),
        (
            4,
            8,
            &["dd544b3e2689983b093699699646aea4074dfe3b28d52b72596af1b9a4eec22b"],
        ),
        (
            5,
            8,
            &[
                "f78f3fb8b978938192b4ab3dad85f28ea21e5f2b08c981c68bef10485e434b37",
                "66ff88bbfd6aee3bf8252ce260359d26526a9f5289a9f5923a5816a1a8625bcc",
                "33c507fd2232a048ab015eb05c7dac84cb71409819c63ce1467a58505fb256e8",
                "bdd9bd037eb590a1dcd4e02d37f44cf00dac20e6e80bc81682b3c214a2adef93",
            ],
        ),
        (
            3,
            13,
            &[
                "b476295a035301e373b7152684dc6c891bc14976a89a2f2dc5977c7881cbac8a",
                "bed1553e944c1f60caad77749acd1505d7b760208777c714f35ffdc0f2de766d",
                "a962016eae8fb94bf6d939b3d7553bb1ab8108fd2153d334b247c5e44837e19a",
                "dd544b3e2689983b093699699646aea4074dfe3b28d52b72596af1b9a4eec22b",
                "3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087",
            ],
        ),
        (
            5,
            13,
            &[
                "f78f3fb8b978938192b4ab3dad85f28ea21e5f2b08c981c68bef10485e434b37",
                "66ff88bbfd6aee3bf8252ce260359d26526a9f5289a9f5923a5816a1a8625bcc",
                "33c507fd2232a048ab015eb05c7dac84cb71409819c63ce1467a58505fb256e8",
                "bdd9bd037eb590a1dcd4e02d37f44cf00dac20e6e80bc81682b3c214a2adef93",
                "3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087",
            ],
        ),
        (
            8,
            13,
            &["3df52a88ba05adbafdb6753d8a3f91e3ea9545e782904c50cdc23e406778f087"],
        ),
        (
            12,
            13,
            &[
                "39a62bf0b0859f966f248d389d3ce30ea816eed6c566777ab2f34d547e9acb73",
                "1f329ca5134717e8f54ef04a4aa60f6789e83a048e073d19e00e5e208e5970f6",
                "ced28d22b32bbbbc5fe7ee02e533ddb527128be6e55a965785074662bcc827fa",
            ],
        ),
    ];
    /// leaf_bytes(PAE(application/vnd.coopledger.entry.v1+protobuf, "hello"), 00..1f, 40..7f)
    pub const LEAF_BYTES_PAE: &[u8] =
        b"DSSEv1 44 application/vnd.coopledger.entry.v1+protobuf 5 hello";
    pub const LEAF_BYTES: &str = "0000003e445353457631203434206170706c69636174696f6e2f766e642e636f6f706c65646765722e656e7472792e76312b70726f746f62756620352068656c6c6f000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f";
    pub const LEAF_BYTES_HASH: &str =
        "f91c279daf2c94b3a7098670fafd8bf0d06401ae0440127bd45e5ed64cd46353";
}

#[test]
fn known_answers_from_the_python_implementation() {
    assert_eq!(EMPTY_ROOT, unhex32(kat::EMPTY_ROOT));
    for &(bytes, hash) in kat::LEAF_HASHES {
        assert_eq!(leaf_hash(bytes), unhex32(hash), "leaf {bytes:?}");
    }

    // The tree of leaves b"0" ..= b"12", grown through the frontier.
    let mut frontier = Frontier::new();
    let mut nodes = Nodes::new();
    let mut roots = BTreeMap::new();
    for i in 0..13 {
        nodes.extend(
            frontier
                .append(leaf(i))
                .into_iter()
                .map(|(l, i, h)| ((l, i), h)),
        );
        roots.insert(frontier.size(), frontier.root());
    }
    for &(size, root) in kat::ROOTS {
        assert_eq!(roots[&size], unhex32(root), "frontier root of size {size}");
        assert_eq!(
            root_at(size, &nodes).unwrap(),
            unhex32(root),
            "stored root of size {size}"
        );
    }
    let kat_root = |size| {
        unhex32(
            kat::ROOTS
                .iter()
                .find(|r| r.0 == size)
                .expect("size in ROOTS")
                .1,
        )
    };
    for &(index, size, path) in kat::INCLUSION {
        let want: Vec<Hash> = path.iter().map(|h| unhex32(h)).collect();
        assert_eq!(
            inclusion_proof(index, size, &nodes).unwrap(),
            want,
            "PATH({index}, {size})"
        );
        assert_eq!(
            verify_inclusion(&leaf(index), index, size, &want, &kat_root(size)),
            Ok(())
        );
    }
    for &(old, new, proof) in kat::CONSISTENCY {
        let want: Vec<Hash> = proof.iter().map(|h| unhex32(h)).collect();
        assert_eq!(
            consistency_proof(old, new, &nodes).unwrap(),
            want,
            "PROOF({old}, {new})"
        );
        assert_eq!(
            verify_consistency(old, new, &roots[&old], &kat_root(new), &want),
            Ok(()),
            "PROOF({old}, {new})"
        );
    }

    let key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let sig: [u8; 64] = std::array::from_fn(|i| 64 + i as u8);
    let bytes = leaf_bytes(kat::LEAF_BYTES_PAE, &key, &sig);
    assert_eq!(bytes, unhex(kat::LEAF_BYTES));
    assert_eq!(leaf_hash(&bytes), unhex32(kat::LEAF_BYTES_HASH));
}
