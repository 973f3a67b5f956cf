//! Inclusion and consistency proofs: equal to the RFC reference at every
//! size and verified, altered ones refused, edge cases decided as documented.

use super::*;

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
