//! The id index: contribution and member ids sorted bytewise, duplicates
//! found, references resolved to indices, and every contribution id copied
//! once into one buffer ([`IdArena`], which the report keeps).
//!
//! Ids are sorted bytewise by their 16-byte prefixes (the full bytes only
//! where two prefixes tie). References are resolved through open-addressing
//! tables (`IdTable`, [`MemberIndex`]) that are only ever asked "which index
//! holds exactly these bytes?" (every hit confirmed byte for byte) and never
//! iterated, so nothing in a result can depend on their layout or on
//! hashing. The hash is fixed, not seeded: ids crafted to collide would
//! slow a lookup down, never change its answer.

use std::cell::OnceCell;

use super::limits::{MAX_CONTRIBUTIONS, MAX_NAME_BYTES};

/// An id's sort key and the index of the id in the caller's list (24
/// bytes). The key is the id's first 16 bytes (big-endian, zero-padded, as
/// two words) and its length; the derived order (high, low, len, index)
/// is exactly bytewise id order whenever the prefixes differ or an id has
/// at most 16 bytes (a shorter id with the same padded prefix is a prefix
/// of the longer one); only two longer ids with the same first 16 bytes
/// need their full bytes compared. Handles such as `member-000123` fit
/// whole, so most comparisons are on integers in one contiguous array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed {
    high: u64,
    low: u64,
    len: u32,
    index: u32,
}

impl Keyed {
    fn of(id: &[u8], index: u32) -> Keyed {
        let (high, low) = prefix16(id);
        Keyed {
            high,
            low,
            // At most MAX_NAME_BYTES, checked before any id is keyed.
            len: id.len() as u32,
            index,
        }
    }

    /// Whether two keys hold the same prefix and length.
    fn same_key(&self, other: &Keyed) -> bool {
        (self.high, self.low, self.len) == (other.high, other.low, other.len)
    }

    /// Whether two equal keys may still hold different ids.
    fn ambiguous(&self) -> bool {
        self.len > 16
    }
}

/// Marks an id that `SortedIds::find_all` did not find.
pub(crate) const UNKNOWN: u32 = u32::MAX;

/// The first 16 bytes of `bytes` as two big-endian words, zero-padded.
/// Ids of 8 bytes or more are read with two overlapping 8-byte loads rather
/// than a variable-length copy (this runs for every id and every lookup).
#[inline]
fn prefix16(bytes: &[u8]) -> (u64, u64) {
    let word = |chunk: &[u8; 8]| u64::from_be_bytes(*chunk);
    if let Some(head) = bytes.first_chunk::<16>() {
        let (high, low) = head.split_at(8);
        // Both halves are 8 bytes long.
        let high = high.first_chunk::<8>().map_or(0, word);
        let low = low.first_chunk::<8>().map_or(0, word);
        return (high, low);
    }
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        // 8..16 bytes: the last 8 bytes, shifted so only bytes 8.. remain,
        // followed by zeros.
        let spare = 16 - bytes.len();
        let low = if spare == 8 {
            0
        } else {
            word(tail) << (8 * spare)
        };
        return (word(head), low);
    }
    let mut head = [0u8; 8];
    head[..bytes.len()].copy_from_slice(bytes);
    (u64::from_be_bytes(head), 0)
}

/// Whether two ids (or tags) are the same bytes, compared word by word in
/// line: most are a few words long, and a call to `memcmp` per comparison
/// costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if let (Some(a_last), Some(b_last)) = (a.last_chunk::<8>(), b.last_chunk::<8>()) {
        // The last 8 bytes (overlapping the last whole word) cover the
        // bytes after the whole words.
        let (a_words, _) = a.as_chunks::<8>();
        let (b_words, _) = b.as_chunks::<8>();
        return a_last == b_last && a_words.iter().zip(b_words).all(|(x, y)| x == y);
    }
    // Shorter than 8 bytes, and of equal length: equal as packed words.
    let packed = |bytes: &[u8]| bytes.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
    packed(a) == packed(b)
}

/// A fast, fixed (unseeded) 64-bit hash of an id's bytes: one multiply per
/// 8-byte word, then murmur3's finaliser so every output bit depends on
/// every input bit. Used only to pick slots in [`IdTable`], where every hit
/// is confirmed bytewise, so a collision costs a probe, never a result.
#[inline]
fn hash_id(id: &[u8]) -> u64 {
    const K: u64 = 0xF135_7AEA_2E62_A9C5;
    let mut h = id.len() as u64;
    let (words, rest) = id.as_chunks::<8>();
    for word in words {
        h = (h.rotate_left(26) ^ u64::from_le_bytes(*word)).wrapping_mul(K);
    }
    if !rest.is_empty() {
        // The last 8 bytes (overlapping the previous word) when there are
        // that many: one load instead of a byte-by-byte copy.
        let tail = match id.last_chunk::<8>() {
            Some(last) => u64::from_le_bytes(*last),
            None => {
                let mut word = [0u8; 8];
                word[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(word)
            }
        };
        h = (h.rotate_left(26) ^ tail).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Open-addressing table (linear probing, at most half full, no
/// wrap-around) from an id's hash to the indices of a list. A slot is
/// `(tag << 32) | (index + 1)`, the tag being the low half of the hash, so a
/// probe looks at an id only when 32 more bits of hash agree; 0 is an empty
/// slot. The caller confirms every hit byte for byte.
///
/// It is filled in the order of the ids' first slots (a radix sort of the
/// hashes), so a million insertions write the table front to back instead
/// of at random; a cluster running past the last home slot continues into
/// extra slots at the end rather than wrapping, and the table always ends
/// with an empty slot, so every probe stops.
struct IdTable {
    slots: Vec<u64>,
    /// 64 − log2(number of home slots): the hash's top bits pick the first
    /// slot.
    shift: u32,
}

/// One id to insert: its hash and its index in the list.
#[derive(Debug, Clone, Copy, Default)]
struct Hashed {
    hash: u64,
    index: u32,
}

impl IdTable {
    /// Indexes the ids whose hashes are `hashes` (by index, at most
    /// `MAX_ENTRIES`, so `index + 1` fits a slot's low half). `same(a, b)`
    /// says whether ids a and b are equal; a repeated id keeps its first
    /// index.
    fn new(hashes: &[u64], same: impl Fn(u32, u32) -> bool) -> IdTable {
        let homes = (hashes.len() * 2).next_power_of_two().max(16);
        let bits = homes.trailing_zeros();
        let shift = 64 - bits;
        let mut order: Vec<Hashed> = hashes
            .iter()
            .enumerate()
            .map(|(index, &hash)| Hashed {
                hash,
                index: index as u32,
            })
            .collect();
        // Stable, so ids sharing a home slot stay in index order.
        radix_sort_by_top_bits(&mut order, bits);
        let mut slots = vec![0u64; homes + 1];
        let mut next_free = 0usize;
        for (k, item) in order.iter().enumerate() {
            let home = (item.hash >> shift) as usize;
            let tag = item.hash & 0xFFFF_FFFF;
            // An equal id has the same hash, so it sits among the earlier
            // items with this home slot.
            let repeated = order[..k]
                .iter()
                .rev()
                .take_while(|earlier| earlier.hash >> shift == home as u64)
                .any(|earlier| {
                    earlier.hash & 0xFFFF_FFFF == tag && same(earlier.index, item.index)
                });
            if repeated {
                continue;
            }
            let at = home.max(next_free);
            if at + 1 >= slots.len() {
                // Keep one empty slot after the last occupied one.
                slots.resize(at + 2, 0);
            }
            slots[at] = (tag << 32) | (u64::from(item.index) + 1);
            next_free = at + 1;
        }
        IdTable { slots, shift }
    }

    /// The index under `hash` for which `matches` holds, if any.
    fn find(&self, hash: u64, matches: impl Fn(u32) -> bool) -> Option<u32> {
        let tag = hash & 0xFFFF_FFFF;
        let mut at = (hash >> self.shift) as usize;
        // The last slot is always empty, so this ends within the table.
        while let Some(&slot) = self.slots.get(at) {
            if slot == 0 {
                return None;
            }
            let index = (slot as u32).wrapping_sub(1);
            if slot >> 32 == tag && matches(index) {
                return Some(index);
            }
            at += 1;
        }
        None
    }

    /// The first index under `hash` whose tag agrees, unconfirmed (or
    /// [`UNKNOWN`]).
    fn candidate(&self, hash: u64) -> u32 {
        self.find(hash, |_| true).unwrap_or(UNKNOWN)
    }
}

/// Sorts `items` by the top `bits` bits of their hashes, stably: a
/// least-significant-digit radix sort, 11 bits a pass (two passes for a
/// million ids), each pass one sequential read and one write spread over
/// at most 2048 places.
fn radix_sort_by_top_bits(items: &mut Vec<Hashed>, bits: u32) {
    const DIGIT: u32 = 11;
    let mut buffer = vec![Hashed::default(); items.len()];
    let mut low = 64 - bits;
    while low < 64 {
        let width = DIGIT.min(64 - low);
        let mask = (1u64 << width) - 1;
        let digit = |item: &Hashed| ((item.hash >> low) & mask) as usize;
        let mut starts = vec![0usize; 1 << width];
        for item in items.iter() {
            starts[digit(item)] += 1;
        }
        let mut sum = 0;
        for start in &mut starts {
            let count = *start;
            *start = sum;
            sum += count;
        }
        for item in items.iter() {
            let next = &mut starts[digit(item)];
            buffer[*next] = *item;
            *next += 1;
        }
        std::mem::swap(items, &mut buffer);
        low += width;
    }
}

/// Ids sorted bytewise, for duplicate detection, ranks and lookups.
pub(crate) struct SortedIds {
    /// Sorted by the full id, then by index so equal ids sit in list order.
    keys: Vec<Keyed>,
    /// Built on the first lookup (a list nobody refers to needs none).
    table: OnceCell<IdTable>,
}

impl SortedIds {
    /// Sorts the `count` ids given by `id_of`: by key first (integers
    /// only), then each run of equal ambiguous keys by the full ids.
    pub(crate) fn build<'s, T: AsRef<[u8]> + ?Sized + 's>(
        count: usize,
        id_of: impl Fn(usize) -> &'s T,
    ) -> SortedIds {
        let bytes_of = |i: usize| id_of(i).as_ref();
        let mut keys: Vec<Keyed> = (0..count)
            .map(|i| Keyed::of(bytes_of(i), i as u32))
            .collect();
        keys.sort_unstable();
        // Runs of equal keys are rare (ids sharing their first 16 bytes and
        // their length), so they are found by comparing neighbours.
        let mut start = 0;
        while start < keys.len() {
            let mut end = start + 1;
            while end < keys.len() && keys[end].same_key(&keys[start]) {
                end += 1;
            }
            if end - start > 1 && keys[start].ambiguous() {
                keys[start..end].sort_unstable_by(|a, b| {
                    bytes_of(a.index as usize)
                        .cmp(bytes_of(b.index as usize))
                        .then(a.index.cmp(&b.index))
                });
            }
            start = end;
        }
        SortedIds {
            keys,
            table: OnceCell::new(),
        }
    }

    /// The first pair of list indices (earlier, later) holding the same id.
    pub(crate) fn duplicate<'s, T: AsRef<[u8]> + ?Sized + 's>(
        &self,
        id_of: impl Fn(usize) -> &'s T,
    ) -> Option<(usize, usize)> {
        self.keys
            .windows(2)
            .find(|pair| {
                pair[0].same_key(&pair[1])
                    && (!pair[0].ambiguous()
                        || id_of(pair[0].index as usize).as_ref()
                            == id_of(pair[1].index as usize).as_ref())
            })
            .map(|pair| (pair[0].index as usize, pair[1].index as usize))
    }

    /// The list index of each of `count` queries (or [`UNKNOWN`]; the first
    /// index, were ids repeated).
    ///
    /// Done in whole passes rather than query by query: each pass is a
    /// short loop with one independent memory access per item, so the
    /// cache misses of many items overlap instead of queueing behind each
    /// other. One pass hashes the queries (sequential reads), one finds
    /// each query's candidate slot, one confirms the candidates byte for
    /// byte (with a full probe for the rare candidate whose 32-bit tag
    /// agreed by chance).
    pub(crate) fn find_all<'s, 'q, T, Q>(
        &self,
        id_of: impl Fn(usize) -> &'s T + Copy,
        count: usize,
        query_of: impl Fn(usize) -> &'q Q,
    ) -> Vec<u32>
    where
        T: AsRef<[u8]> + ?Sized + 's,
        Q: AsRef<[u8]> + ?Sized + 'q,
    {
        let bytes_of = |i: usize| id_of(i).as_ref();
        let table = self.table.get_or_init(|| {
            let hashes: Vec<u64> = (0..self.keys.len()).map(|i| hash_id(bytes_of(i))).collect();
            IdTable::new(&hashes, |a, b| {
                same_bytes(bytes_of(a as usize), bytes_of(b as usize))
            })
        });
        let hashes: Vec<u64> = (0..count).map(|q| hash_id(query_of(q).as_ref())).collect();
        let mut found: Vec<u32> = hashes.iter().map(|&hash| table.candidate(hash)).collect();
        for (q, candidate) in found.iter_mut().enumerate() {
            let query = query_of(q).as_ref();
            if *candidate != UNKNOWN && !same_bytes(bytes_of(*candidate as usize), query) {
                *candidate = table
                    .find(hashes[q], |index| {
                        same_bytes(bytes_of(index as usize), query)
                    })
                    .unwrap_or(UNKNOWN);
            }
        }
        found
    }

    /// List indices in id order.
    pub(crate) fn order(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().map(|key| key.index)
    }
}

/// One slot of [`MemberIndex`]: a member's 16-byte prefix, its length and
/// its rank, so a probe needs this one slot (32-byte aligned, so never two
/// cache lines) and reads the handle itself only when it is longer than 16
/// bytes.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(32))]
struct MemberSlot {
    high: u64,
    low: u64,
    /// `(len << 32) | (rank + 1)`; 0 marks an empty slot.
    meta: u64,
}

/// Member lookup by handle: a member's index is its position in the sorted
/// list, found through an open-addressing table of [`MemberSlot`]s (linear
/// probing, under two thirds full; a hash of the whole handle picks the
/// first slot, the slot's prefix and length confirm). Two million lookups
/// among ten thousand members touch about one slot each, where a binary
/// search would take fourteen steps.
pub(crate) struct MemberIndex<'a> {
    members: &'a [&'a str],
    slots: Vec<MemberSlot>,
    /// 64 − log2(slots.len()).
    shift: u32,
}

impl<'a> MemberIndex<'a> {
    /// `members` sorted bytewise, without duplicates (at most
    /// `MAX_ENTRIES`, so `rank + 1` fits 32 bits).
    pub(crate) fn new(members: &'a [&'a str]) -> MemberIndex<'a> {
        let size = (members.len() + members.len() / 2)
            .next_power_of_two()
            .max(16);
        let mut index = MemberIndex {
            members,
            slots: vec![MemberSlot::default(); size],
            shift: 64 - size.trailing_zeros(),
        };
        for (rank, member) in members.iter().enumerate() {
            let (high, low) = prefix16(member.as_bytes());
            let mut at = (hash_id(member.as_bytes()) >> index.shift) as usize;
            while index.slots[at].meta != 0 {
                at = (at + 1) & (size - 1);
            }
            index.slots[at] = MemberSlot {
                high,
                low,
                meta: ((member.len() as u64) << 32) | (rank as u64 + 1),
            };
        }
        index
    }

    /// The member index (rank) of `name`.
    #[inline]
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        let bytes = name.as_bytes();
        let (high, low) = prefix16(bytes);
        let len = bytes.len() as u64;
        let mask = self.slots.len() - 1;
        let mut at = (hash_id(bytes) >> self.shift) as usize;
        loop {
            let slot = &self.slots[at];
            if slot.meta == 0 {
                return None;
            }
            if slot.high == high && slot.low == low && slot.meta >> 32 == len {
                let rank = (slot.meta as u32).wrapping_sub(1);
                if len <= 16 || self.members[rank as usize] == name {
                    return Some(rank);
                }
            }
            at = (at + 1) & mask;
        }
    }
}

/// Every contribution id, copied once into one buffer, in input order. The
/// report keeps it (ids are most of a large report's text), and lookups
/// compare against it instead of chasing each input string's allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IdArena {
    text: String,
    /// `text[starts[i]..starts[i + 1]]` is id i; empty when every id has
    /// the same length (`stride`), as entry ids do, which spares a lookup
    /// (and a cache miss) per id. At most MAX_CONTRIBUTIONS ids of at most
    /// MAX_NAME_BYTES bytes: 2.56 × 10^9 bytes fit u32.
    starts: Vec<u32>,
    /// The common length of every id, or 0 (ids are never empty).
    stride: usize,
}

const _: () = assert!(MAX_CONTRIBUTIONS * MAX_NAME_BYTES <= u32::MAX as usize);

impl IdArena {
    /// An empty arena with room for `ids` ids of `bytes` bytes in all.
    pub(crate) fn with_capacity(ids: usize, bytes: usize) -> IdArena {
        let mut starts = Vec::with_capacity(ids + 1);
        starts.push(0);
        IdArena {
            text: String::with_capacity(bytes),
            starts,
            stride: 0,
        }
    }

    /// Appends an id already checked to be at most MAX_NAME_BYTES long.
    pub(crate) fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.starts.push(self.text.len() as u32);
    }

    /// Drops the offsets if every id has the same (non-zero) length.
    pub(crate) fn finish(&mut self) {
        let count = self.starts.len() - 1;
        if let Some(&first) = self.starts.get(1) {
            let stride = first as usize;
            if stride > 0
                && self
                    .starts
                    .iter()
                    .enumerate()
                    .all(|(i, &start)| start as usize == i * stride)
            {
                self.stride = stride;
                self.starts = Vec::new();
            }
        }
        debug_assert!(self.stride == 0 || self.text.len() == count * self.stride);
    }

    fn range(&self, i: usize) -> (usize, usize) {
        if self.stride > 0 {
            (i * self.stride, (i + 1) * self.stride)
        } else {
            (self.starts[i] as usize, self.starts[i + 1] as usize)
        }
    }

    /// Id `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &str {
        let (start, end) = self.range(i);
        // Every boundary is the end of a whole pushed str.
        self.text.get(start..end).unwrap_or_default()
    }

    /// Id `i`'s bytes, for comparisons: unlike [`IdArena::get`] this does
    /// not check that both ends are character boundaries, which reads the
    /// byte after the id (often on another cache line) for nothing.
    #[inline]
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        let (start, end) = self.range(i);
        self.text.as_bytes().get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
