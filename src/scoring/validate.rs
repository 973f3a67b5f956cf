//! Validation and indexing of a [`ScoringInput`].
//!
//! Everything the spec refuses is refused here, before any number is
//! computed, with the field named in the scenario format's terms
//! (`contributions[3].member`, `distribution.buckets[1].percent_ppm`). What
//! survives is indexed once: members sorted by id (a member's index *is* its
//! rank, so "members in id order" is plain index order), contributions as
//! compact rows (kind, amounts, value, rate) beside their member, their time
//! and their rank by id, all contribution ids copied once into one buffer
//! (`IdArena`, which the report keeps), and every reference resolved to an
//! index.
//!
//! Ids are sorted bytewise by their 16-byte prefixes (the full bytes only
//! where two prefixes tie). References are resolved through open-addressing
//! tables (`IdTable`, `MemberIndex`) that are only ever asked "which index
//! holds exactly these bytes?" (every hit confirmed byte for byte) and never
//! iterated, so nothing in a result can depend on their layout or on
//! hashing. The hash is fixed, not seeded: ids crafted to collide would
//! slow a lookup down, never change its answer.

use std::cell::OnceCell;

use super::error::{Result, ScoringError};
use super::input::{Kind, ScoringInput, Verdict};
use super::json::Path;
use super::limits::{
    MAX_AMOUNT, MAX_CONTRIBUTIONS, MAX_ENTRIES, MAX_EVALUATIONS, MAX_NAME_BYTES, MAX_TAGS,
};
use super::policy::{DocumentPaths, EvaluatorWeights, Policy, check_max, check_name};
use super::time::{MAX_SECONDS, MIN_SECONDS, format_rfc3339};
use super::value::{RateFrom, value_of};

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
const UNKNOWN: u32 = u32::MAX;

/// The first 16 bytes of `bytes` as two big-endian words, zero-padded.
/// Ids of 8 bytes or more are read with two overlapping 8-byte loads rather
/// than a variable-length copy (this runs for every id and every lookup).
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
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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
    fn build<'s, T: AsRef<[u8]> + ?Sized + 's>(
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
    fn duplicate<'s, T: AsRef<[u8]> + ?Sized + 's>(
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
    fn find_all<'s, 'q, T: AsRef<[u8]> + ?Sized + 's>(
        &self,
        id_of: impl Fn(usize) -> &'s T + Copy,
        count: usize,
        query_of: impl Fn(usize) -> &'q str,
    ) -> Vec<u32> {
        let bytes_of = |i: usize| id_of(i).as_ref();
        let table = self.table.get_or_init(|| {
            let hashes: Vec<u64> = (0..self.keys.len()).map(|i| hash_id(bytes_of(i))).collect();
            IdTable::new(&hashes, |a, b| {
                same_bytes(bytes_of(a as usize), bytes_of(b as usize))
            })
        });
        let hashes: Vec<u64> = (0..count)
            .map(|q| hash_id(query_of(q).as_bytes()))
            .collect();
        let mut found: Vec<u32> = hashes.iter().map(|&hash| table.candidate(hash)).collect();
        for (q, candidate) in found.iter_mut().enumerate() {
            let query = query_of(q).as_bytes();
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
    fn order(&self) -> impl Iterator<Item = u32> + '_ {
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
struct MemberIndex<'a> {
    members: &'a [&'a str],
    slots: Vec<MemberSlot>,
    /// 64 − log2(slots.len()).
    shift: u32,
}

impl<'a> MemberIndex<'a> {
    /// `members` sorted bytewise, without duplicates (at most
    /// `MAX_ENTRIES`, so `rank + 1` fits 32 bits).
    fn new(members: &'a [&'a str]) -> MemberIndex<'a> {
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
    fn find(&self, name: &str) -> Option<u32> {
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
    fn with_capacity(ids: usize, bytes: usize) -> IdArena {
        let mut starts = Vec::with_capacity(ids + 1);
        starts.push(0);
        IdArena {
            text: String::with_capacity(bytes),
            starts,
            stride: 0,
        }
    }

    /// Appends an id already checked to be at most MAX_NAME_BYTES long.
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.starts.push(self.text.len() as u32);
    }

    /// Drops the offsets if every id has the same (non-zero) length.
    fn finish(&mut self) {
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
    fn bytes(&self, i: usize) -> &[u8] {
        let (start, end) = self.range(i);
        self.text.as_bytes().get(start..end).unwrap_or_default()
    }
}

/// The policy's tags (every tag with a rate, a multiplier or both), sorted
/// bytewise, so each contribution tag is looked up once, in one small table,
/// and later steps refer to policy tags by index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PolicyTags {
    /// (tag, policy.rates[tag], policy.tag_multiplier_ppm[tag]).
    pub(crate) tags: Vec<(String, Option<u64>, Option<u64>)>,
}

impl PolicyTags {
    fn new(policy: &Policy) -> PolicyTags {
        let mut tags: Vec<(String, Option<u64>, Option<u64>)> = policy
            .rates
            .iter()
            .map(|(tag, &rate)| (tag.clone(), Some(rate), None))
            .collect();
        for (tag, &ppm) in &policy.tag_multiplier_ppm {
            match tags.binary_search_by(|entry| entry.0.as_str().cmp(tag)) {
                Ok(position) => tags[position].2 = Some(ppm),
                Err(position) => tags.insert(position, (tag.clone(), None, Some(ppm))),
            }
        }
        PolicyTags { tags }
    }

    fn find(&self, tag: &str) -> Option<usize> {
        // A policy names a handful of tags: comparing lengths first and then
        // the few candidates word by word beats a binary search of string
        // comparisons, which this is for every tag of every contribution.
        if self.tags.len() <= 16 {
            return self
                .tags
                .iter()
                .position(|entry| same_bytes(entry.0.as_bytes(), tag.as_bytes()));
        }
        self.tags
            .binary_search_by(|entry| entry.0.as_str().cmp(tag))
            .ok()
    }

    /// The name of policy tag `t`.
    pub(crate) fn name(&self, t: u32) -> &str {
        self.tags
            .get(t as usize)
            .map_or("", |entry| entry.0.as_str())
    }

    /// The multiplier of policy tag `t` (a tag listed as a contribution's
    /// multiplier always has one).
    pub(crate) fn multiplier(&self, t: u32) -> u64 {
        self.tags
            .get(t as usize)
            .and_then(|entry| entry.2)
            .unwrap_or(0)
    }
}

/// One contribution as the later steps need it (40 bytes, input order; its
/// time is in `Prepared::at`, read alone by several passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// value(c) in minor units, ≤ 10^15.
    pub value: u64,
    /// The rate used; meaningful only if `source.has_rate()`.
    pub rate: u64,
    /// Where its tag multipliers start in `Prepared::multiplied` (policy
    /// tag indices, in the contribution's tag order; `multiplier_count` of
    /// them).
    pub multipliers: u32,
    /// Where the rate came from.
    pub source: RateFrom,
    /// At most MAX_TAGS = 64.
    pub multiplier_count: u8,
    pub kind: Kind,
}

impl Row {
    /// The rate, if the kind needs one and one resolved.
    pub(crate) fn rate(&self) -> Option<u64> {
        self.source.has_rate().then_some(self.rate)
    }
}

/// An evaluation with its references resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedEvaluation {
    /// Index into `input.contributions`.
    pub contribution: u32,
    /// Member index (rank by id).
    pub evaluator: u32,
    /// A self-evaluation: ignored by scoring, with a warning.
    pub by_contributor: bool,
    pub verdict: Verdict,
    pub rating: Option<u8>,
}

/// A validated input with every reference resolved to an index.
pub(crate) struct Prepared<'a> {
    /// The input itself.
    pub(crate) input: &'a ScoringInput,
    /// Member ids sorted bytewise; a member's index is its position here.
    pub(crate) members: Vec<&'a str>,
    /// Per contribution (input order): kind, amounts, value and rate.
    pub(crate) rows: Vec<Row>,
    /// Per contribution (input order): when, in Unix seconds.
    pub(crate) at: Vec<i64>,
    /// Contribution ids, input order.
    pub(crate) ids: IdArena,
    /// The policy's tags.
    pub(crate) tags: PolicyTags,
    /// Every contribution's tag multipliers, see [`Row::multipliers`].
    pub(crate) multiplied: Vec<u32>,
    /// Per contribution (input order): the contributor's member index.
    pub(crate) contribution_member: Vec<u32>,
    /// Per contribution (input order): its rank by id.
    pub(crate) contribution_rank: Vec<u32>,
    /// Contribution indices sorted by id.
    pub(crate) contribution_order: Vec<u32>,
    /// Evaluations in input (log) order.
    pub(crate) evaluations: Vec<ResolvedEvaluation>,
    /// Allocations in input order: (from, [(to, percent)] in id order,
    /// zero entries dropped).
    pub(crate) allocations: Vec<(u32, Vec<(u32, u64)>)>,
    /// Per contribution: what earlier distributions repaid.
    pub(crate) prior_repaid: Vec<u64>,
    /// Per member: what earlier shares buckets paid.
    pub(crate) prior_paid: Vec<u128>,
    /// Pre-trusted members (EigenTrust), sorted.
    pub(crate) pretrusted: Vec<u32>,
}

/// The paths under which a scenario file holds the parts of the input.
const INPUT_PATHS: DocumentPaths<'static> = DocumentPaths {
    rules: Path::Root("policy"),
    buckets: Path::Root("distribution.buckets"),
};

fn check_time(path: &Path<'_>, seconds: i64) -> Result<()> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(path.err(format!(
            "must be a time between years 0000 and 9999 (got {seconds} Unix seconds)"
        )));
    }
    Ok(())
}

fn check_count(path: &Path<'_>, count: usize, max: usize, what: &str) -> Result<()> {
    if count > max {
        return Err(path.err(format!("at most {max} {what} (got {count})")));
    }
    Ok(())
}

impl<'a> Prepared<'a> {
    /// Validates `input` and resolves every reference.
    pub(crate) fn new(input: &'a ScoringInput) -> Result<Prepared<'a>> {
        input.policy.validate_at(INPUT_PATHS)?;
        let distribution = Path::Root("distribution");
        let period = distribution.key("period");
        check_time(&period.key("start"), input.period.start)?;
        check_time(&period.key("end"), input.period.end)?;
        if input.period.start >= input.period.end {
            return Err(period.err(format!(
                "start ({}) must be before end ({})",
                format_rfc3339(input.period.start),
                format_rfc3339(input.period.end)
            )));
        }
        check_max(
            &distribution.key("income"),
            input.income,
            MAX_AMOUNT,
            " minor units",
        )?;

        // Members, sorted: a member's index is its rank.
        let members_path = Path::Root("members");
        check_count(&members_path, input.members.len(), MAX_ENTRIES, "members")?;
        for (index, member) in input.members.iter().enumerate() {
            check_name(&members_path.index(index), member, "member id")?;
        }
        let member_ids = SortedIds::build(input.members.len(), |i| input.members[i].as_str());
        if let Some((first, second)) = member_ids.duplicate(|i| input.members[i].as_str()) {
            return Err(members_path.index(second).err(format!(
                "duplicate member id {:?} (also members[{first}])",
                input.members[second]
            )));
        }
        let members: Vec<&str> = member_ids
            .order()
            .map(|i| input.members[i as usize].as_str())
            .collect();
        drop(member_ids);
        // A member's index is its rank, i.e. its position in `members`.
        let member_index = MemberIndex::new(&members);
        let member_of = |name: &str| member_index.find(name);
        let not_member = |path: Path<'_>, name: &str| path.err(format!("{name:?} is not a member"));

        let mut pretrusted = Vec::new();
        if let EvaluatorWeights::EigenTrust {
            pretrusted: names, ..
        } = &input.policy.policy.evaluator_weights
        {
            let path = Path::Root("policy.evaluator_weights.pretrusted");
            for (index, name) in names.iter().enumerate() {
                let member = member_of(name).ok_or_else(|| not_member(path.index(index), name))?;
                pretrusted.push(member);
            }
            pretrusted.sort_unstable();
        }

        // Contributions.
        let contributions = &input.contributions;
        let contributions_path = Path::Root("contributions");
        check_count(
            &contributions_path,
            contributions.len(),
            MAX_CONTRIBUTIONS,
            "contributions",
        )?;
        let policy = &input.policy.policy;
        let tags = PolicyTags::new(policy);
        let default_rates = Kind::ALL.map(|kind| policy.default_rates.get(&kind).copied());
        let mut contribution_member = Vec::with_capacity(contributions.len());
        let mut rows = Vec::with_capacity(contributions.len());
        let mut at = Vec::with_capacity(contributions.len());
        let mut multiplied = Vec::new();
        // Sized by the first id (ids of one list usually share a length),
        // within reason: a longer arena grows by doubling.
        let mut ids = IdArena::with_capacity(
            contributions.len(),
            contributions
                .first()
                .map_or(0, |c| c.id.len().min(64) * contributions.len()),
        );
        for (index, contribution) in contributions.iter().enumerate() {
            let path = contributions_path.index(index);
            check_name(&path.key("id"), &contribution.id, "contribution id")?;
            ids.push(&contribution.id);
            let member = member_of(&contribution.member)
                .ok_or_else(|| not_member(path.key("member"), &contribution.member))?;
            contribution_member.push(member);
            check_max(&path.key("quantity"), contribution.quantity, MAX_AMOUNT, "")?;
            if let Some(rate) = contribution.rate {
                check_max(&path.key("rate"), rate, MAX_AMOUNT, "")?;
            }
            let tags_path = path.key("tags");
            check_count(&tags_path, contribution.tags.len(), MAX_TAGS, "tags")?;
            // The first tag with a rate (§1), and every tag with a
            // multiplier, in tag order (§3).
            let mut rate_tag = None;
            let first_multiplier = multiplied.len();
            for (t, tag) in contribution.tags.iter().enumerate() {
                check_name(&tags_path.index(t), tag, "tag")?;
                if contribution.tags[..t]
                    .iter()
                    .any(|earlier| same_bytes(earlier.as_bytes(), tag.as_bytes()))
                {
                    return Err(tags_path.index(t).err(format!("duplicate tag {tag:?}")));
                }
                if let Some(position) = tags.find(tag) {
                    let (_, rate, multiplier) = tags.tags[position];
                    if let (None, Some(rate)) = (rate_tag, rate) {
                        rate_tag = Some((position as u32, rate));
                    }
                    if multiplier.is_some() {
                        multiplied.push(position as u32);
                    }
                }
            }
            check_time(&path.key("at"), contribution.at)?;
            // §1's order: money needs no rate; else the contribution's own,
            // the first tag's, the kind's default, or none.
            let (rate, source) = if contribution.kind.is_money() {
                (None, RateFrom::NotNeeded)
            } else if let Some(rate) = contribution.rate {
                (Some(rate), RateFrom::Own)
            } else if let Some((position, rate)) = rate_tag {
                (Some(rate), RateFrom::Tag(position))
            } else if let Some(rate) = default_rates[contribution.kind.index()] {
                (Some(rate), RateFrom::Default)
            } else {
                (None, RateFrom::Missing)
            };
            let value = value_of(contribution.kind, contribution.quantity, rate);
            if value > u128::from(MAX_AMOUNT) {
                let how = if contribution.kind == Kind::Work {
                    "floor(minutes × hourly rate / 60)"
                } else {
                    "quantity × rate"
                };
                return Err(path.key("quantity").err(format!(
                    "the value {how} = {value} must be at most {MAX_AMOUNT} minor units"
                )));
            }
            at.push(contribution.at);
            rows.push(Row {
                quantity: contribution.quantity,
                // At most MAX_AMOUNT, checked just above.
                value: value as u64,
                rate: rate.unwrap_or(0),
                // At most MAX_TAGS per contribution and MAX_CONTRIBUTIONS
                // contributions: the index fits u32 and the count u8.
                multipliers: first_multiplier as u32,
                source,
                multiplier_count: (multiplied.len() - first_multiplier) as u8,
                kind: contribution.kind,
            });
        }
        ids.finish();
        let id_of = |i: usize| ids.bytes(i);
        let contribution_ids = SortedIds::build(contributions.len(), id_of);
        if let Some((first, second)) = contribution_ids.duplicate(id_of) {
            return Err(contributions_path.index(second).key("id").err(format!(
                "duplicate contribution id {:?} (also contributions[{first}])",
                contributions[second].id
            )));
        }
        let contribution_order: Vec<u32> = contribution_ids.order().collect();
        let mut contribution_rank = vec![0u32; contributions.len()];
        for (rank, &index) in contribution_order.iter().enumerate() {
            contribution_rank[index as usize] = rank as u32;
        }

        // Evaluations.
        let evaluations_path = Path::Root("evaluations");
        check_count(
            &evaluations_path,
            input.evaluations.len(),
            MAX_EVALUATIONS,
            "evaluations",
        )?;
        let evaluated = contribution_ids.find_all(id_of, input.evaluations.len(), |q| {
            input.evaluations[q].contribution.as_str()
        });
        // Each evaluated contribution's contributor, gathered in a pass of
        // its own (see `find_all`).
        let contributors: Vec<u32> = evaluated
            .iter()
            .map(|&c| {
                contribution_member
                    .get(c as usize)
                    .copied()
                    .unwrap_or(UNKNOWN)
            })
            .collect();
        let mut evaluations = Vec::with_capacity(input.evaluations.len());
        for (index, ((evaluation, &contribution), &contributor)) in input
            .evaluations
            .iter()
            .zip(&evaluated)
            .zip(&contributors)
            .enumerate()
        {
            let path = evaluations_path.index(index);
            if contribution == UNKNOWN {
                return Err(path.key("contribution").err(format!(
                    "{:?} is not a known contribution id",
                    evaluation.contribution
                )));
            }
            let evaluator = member_of(&evaluation.evaluator)
                .ok_or_else(|| not_member(path.key("evaluator"), &evaluation.evaluator))?;
            if let Some(rating) = evaluation.rating {
                check_max(&path.key("rating"), rating.into(), 100, " percent")?;
            }
            evaluations.push(ResolvedEvaluation {
                contribution,
                evaluator,
                by_contributor: contributor == evaluator,
                verdict: evaluation.verdict,
                rating: evaluation.rating,
            });
        }
        drop((evaluated, contributors));

        // Allocations.
        let allocations_path = Path::Root("allocations");
        check_count(
            &allocations_path,
            input.allocations.len(),
            MAX_ENTRIES,
            "allocations",
        )?;
        let mut allocations = Vec::with_capacity(input.allocations.len());
        for (index, allocation) in input.allocations.iter().enumerate() {
            let path = allocations_path.index(index);
            let from = member_of(&allocation.from)
                .ok_or_else(|| not_member(path.key("from"), &allocation.from))?;
            let to_path = path.key("to");
            let mut total: u64 = 0;
            let mut to = Vec::with_capacity(allocation.to.len());
            for (name, &percent) in &allocation.to {
                let entry = to_path.key(name);
                let member = member_of(name).ok_or_else(|| not_member(entry, name))?;
                if member == from {
                    return Err(entry.err("a member cannot allocate to themselves"));
                }
                check_max(&entry, percent, 100, " percent")?;
                total += percent;
                if percent > 0 {
                    to.push((member, percent));
                }
            }
            if total != 100 {
                return Err(to_path.err(format!("percents must sum to 100 (got {total})")));
            }
            to.sort_unstable();
            allocations.push((from, to));
        }

        // Prior amounts. Their number is not limited: the live log passes
        // one line per recorded distribution and contribution (or member),
        // which grows with every month a cooperative lives, and each line is
        // only added to a per-contribution or per-member total.
        let repayments_path = Path::Root("prior_repayments");
        let repaid_contributions =
            contribution_ids.find_all(id_of, input.prior_repayments.len(), |q| {
                input.prior_repayments[q].contribution.as_str()
            });
        let mut prior_repaid = vec![0u64; contributions.len()];
        for (index, (repayment, &contribution)) in input
            .prior_repayments
            .iter()
            .zip(&repaid_contributions)
            .enumerate()
        {
            let path = repayments_path.index(index);
            if contribution == UNKNOWN {
                return Err(path.key("contribution").err(format!(
                    "{:?} is not a known contribution id",
                    repayment.contribution
                )));
            }
            check_max(
                &path.key("amount"),
                repayment.amount,
                MAX_AMOUNT,
                " minor units",
            )?;
            // The total is clamped at 10^15 rather than refused: a
            // contribution is worth at most 10^15 (checked above), and §5
            // only ever reads max(0, value − prior), so any total of 10^15 or
            // more means "nothing outstanding" exactly as the exact sum
            // would. The spec limits each prior amount, not their sum, and a
            // sum over many recorded distributions (or a claim repaid twice
            // by two of them) must never make a period unscorable.
            let total = &mut prior_repaid[contribution as usize];
            *total = total.saturating_add(repayment.amount).min(MAX_AMOUNT);
        }
        drop(contribution_ids);
        let payouts_path = Path::Root("prior_payouts");
        let mut prior_paid = vec![0u128; members.len()];
        for (index, payout) in input.prior_payouts.iter().enumerate() {
            let path = payouts_path.index(index);
            let member = member_of(&payout.recipient)
                .ok_or_else(|| not_member(path.key("recipient"), &payout.recipient))?;
            check_max(
                &path.key("amount"),
                payout.amount,
                MAX_AMOUNT,
                " minor units",
            )?;
            prior_paid[member as usize] += u128::from(payout.amount);
        }
        drop(member_index);

        Ok(Prepared {
            input,
            members,
            rows,
            at,
            ids,
            tags,
            multiplied,
            contribution_member,
            contribution_rank,
            contribution_order,
            evaluations,
            allocations,
            prior_repaid,
            prior_paid,
            pretrusted,
        })
    }

    /// Number of members.
    pub(crate) fn member_count(&self) -> usize {
        self.members.len()
    }

    /// A row's tag multipliers, as policy tag indices in tag order.
    pub(crate) fn multipliers_of(&self, row: &Row) -> &[u32] {
        let start = row.multipliers as usize;
        self.multiplied
            .get(start..start + usize::from(row.multiplier_count))
            .unwrap_or_default()
    }
}

impl ScoringInput {
    /// Checks every rule the spec puts on an input, without scoring it.
    /// [`crate::scoring::score`] runs the same checks first.
    pub fn validate(&self) -> Result<(), ScoringError> {
        Prepared::new(self).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
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
}
