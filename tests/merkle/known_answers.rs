//! The tree and leaf bytes against the known answers of the independent
//! Python implementation ([`crate::kat`]).

use super::*;

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
