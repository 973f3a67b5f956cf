//! What the server side refuses and how storage fails: impossible requests,
//! missing nodes, failing and huge stores, and error messages that say what
//! differs.

use super::*;

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
