//! The tree itself: hashing and domain separation, the frontier against the
//! reference at every size, what `append` returns, subtree roots, node keys
//! and leaf bytes.

use super::*;

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
