//! Tests of the id index: bytewise order against `str`'s, the word-wise
//! helpers against plain slices, the arena, the radix sort and the table
//! under hostile hashes.

use super::*;

#[test]
fn ids_sort_and_resolve_bytewise() {
    // Padding with zeros must not confuse "a" with "a\0", a long id
    // with its 16-byte prefix, or uppercase with lowercase.
    let long = "0123456789abcdef-long";
    let longer = "0123456789abcdef-longer";
    let ids = ["b", "a\0", "a", long, "B", longer, "0123456789abcdef", "é"];
    let sorted = SortedIds::build(ids.len(), |i| ids[i]);
    let order: Vec<&str> = sorted.order().map(|i| ids[i as usize]).collect();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(order, expected);
    assert_eq!(sorted.duplicate(|i| ids[i]), None);

    let members: Vec<&str> = expected.clone();
    let index = MemberIndex::new(&members);
    for (rank, id) in members.iter().enumerate() {
        assert_eq!(index.find(id), Some(rank as u32), "{id:?}");
    }
    for absent in [
        "a\0\0",
        "c",
        "0123456789abcdef-lon",
        "0123456789abcdef-longest",
        "",
    ] {
        assert_eq!(index.find(absent), None, "{absent:?}");
    }

    let queries = [longer, "zzz", "a", long, "a\0", long];
    let found = sorted.find_all(|i| ids[i], queries.len(), |q| queries[q]);
    let position = |id: &str| ids.iter().position(|x| *x == id).unwrap() as u32;
    assert_eq!(
        found,
        vec![
            position(longer),
            UNKNOWN,
            position("a"),
            position(long),
            position("a\0"),
            position(long)
        ]
    );
}

#[test]
fn duplicates_are_found_in_list_order() {
    let ids = ["x", "0123456789abcdef-same", "y", "0123456789abcdef-same"];
    let sorted = SortedIds::build(ids.len(), |i| ids[i]);
    assert_eq!(sorted.duplicate(|i| ids[i]), Some((1, 3)));
}

/// Byte strings of every length up to 20, with zero bytes, high bytes
/// and one differing byte at each position, for the word-wise helpers.
fn samples() -> Vec<Vec<u8>> {
    let mut samples = Vec::new();
    for len in 0..=20usize {
        let base: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37)).collect();
        samples.push(base.clone());
        for position in 0..len {
            for byte in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut changed = base.clone();
                changed[position] = byte;
                samples.push(changed);
            }
        }
    }
    samples
}

#[test]
fn prefix_words_are_the_zero_padded_first_16_bytes() {
    for bytes in samples() {
        let mut padded = [0u8; 16];
        let n = bytes.len().min(16);
        padded[..n].copy_from_slice(&bytes[..n]);
        let expected = u128::from_be_bytes(padded);
        let (high, low) = prefix16(&bytes);
        assert_eq!(
            (u128::from(high) << 64) | u128::from(low),
            expected,
            "{bytes:?}"
        );
    }
}

#[test]
fn same_bytes_is_equality() {
    let samples = samples();
    for a in &samples {
        for b in &samples {
            assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
        }
    }
}

#[test]
fn the_arena_returns_every_id_with_or_without_a_common_length() {
    for ids in [
        vec!["abc", "def", "ghi"],
        vec!["a", "bcd", "", "ef"],
        vec![],
    ] {
        let mut arena = IdArena::with_capacity(ids.len(), 0);
        for id in &ids {
            arena.push(id);
        }
        arena.finish();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(arena.get(i), *id);
            assert_eq!(arena.bytes(i), id.as_bytes());
        }
    }
}

#[test]
fn the_radix_sort_is_a_stable_sort_by_the_top_bits() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut items: Vec<Hashed> = (0..5000u32)
        .map(|index| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Few distinct top bits, so many ties.
            Hashed {
                hash: state & 0xF0F0_0000_FFFF_FFFF,
                index,
            }
        })
        .collect();
    let mut expected = items.clone();
    expected.sort_by_key(|item| item.hash >> (64 - 13));
    radix_sort_by_top_bits(&mut items, 13);
    let pairs = |items: &[Hashed]| -> Vec<(u64, u32)> {
        items.iter().map(|item| (item.hash, item.index)).collect()
    };
    assert_eq!(pairs(&items), pairs(&expected));
}

#[test]
fn the_table_finds_the_first_index_of_each_id_whatever_the_hashes() {
    // Ids with repeats, and three hash functions: the real one, one that
    // sends every id to one slot (one long cluster), and one that sends
    // them to the last home slots (clusters running past the end).
    let ids: Vec<String> = (0..300)
        .map(|i| format!("0123456789abcdef-{}", i % 250))
        .collect();
    let homes = (ids.len() * 2).next_power_of_two() as u64;
    let hashers: [&dyn Fn(usize) -> u64; 3] = [
        &|i| hash_id(ids[i].as_bytes()),
        &|i| hash_id(ids[i].as_bytes()) & 0xFFFF_FFFF,
        &|i| {
            let tag = hash_id(ids[i].as_bytes()) & 0xFFFF_FFFF;
            ((homes - 1 - (tag % 3)) << (64 - homes.trailing_zeros())) | tag
        },
    ];
    for hash_of in hashers {
        let hashes: Vec<u64> = (0..ids.len()).map(hash_of).collect();
        let table = IdTable::new(&hashes, |a, b| ids[a as usize] == ids[b as usize]);
        assert_eq!(table.slots.last(), Some(&0));
        for (i, id) in ids.iter().enumerate() {
            let first = ids.iter().position(|other| other == id).unwrap() as u32;
            assert_eq!(
                table.find(hashes[i], |index| ids[index as usize] == *id),
                Some(first)
            );
        }
        let absent = "0123456789abcdef-x";
        assert_eq!(
            table.find(hash_id(absent.as_bytes()), |index| ids[index as usize]
                == absent),
            None
        );
    }
}
