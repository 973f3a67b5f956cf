//! Validation and indexing of a [`ScoringInput`].
//!
//! Everything the spec refuses is refused here, before any number is
//! computed, with the field named in the scenario format's terms
//! (`contributions[3].member`, `distribution.buckets[1].percent_ppm`). What
//! survives is indexed once: members sorted by id (a member's index *is* its
//! rank, so "members in id order" is plain index order), contributions as
//! compact [`Row`]s with their member, their rank by id and their value, all
//! contribution ids copied once into one buffer ([`IdArena`]), and every
//! reference resolved to an index.
//!
//! Ids are sorted bytewise by their 16-byte prefixes (the full bytes only
//! where two prefixes tie). References are resolved through [`IdTable`], an
//! open-addressing table that is only ever asked "which index holds exactly
//! these bytes?" (every hit confirmed byte for byte) and never iterated, so
//! nothing in a result can depend on its layout or on hashing.

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
    fn of(id: &str, index: u32) -> Keyed {
        let bytes = id.as_bytes();
        let prefix = match bytes.first_chunk::<16>() {
            Some(head) => u128::from_be_bytes(*head),
            None => {
                let mut head = [0u8; 16];
                head[..bytes.len()].copy_from_slice(bytes);
                u128::from_be_bytes(head)
            }
        };
        Keyed {
            high: (prefix >> 64) as u64,
            low: prefix as u64,
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

/// A fast, fixed (unseeded) 64-bit hash of an id's bytes: one multiply per
/// 8-byte word, then murmur3's finaliser so every output bit depends on
/// every input bit. Used only to pick slots in [`IdTable`], where every hit
/// is confirmed bytewise, so a collision costs a probe, never a result.
fn hash_id(id: &[u8]) -> u64 {
    const K: u64 = 0xF135_7AEA_2E62_A9C5;
    let word = |bytes: &[u8]| {
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    };
    let mut h = id.len() as u64;
    let mut words = id.chunks_exact(8);
    for chunk in &mut words {
        h = (h.rotate_left(26) ^ word(chunk)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // The last 8 bytes (overlapping the previous word) when there are
        // that many: one fixed-size load instead of a byte-by-byte copy.
        let tail = if id.len() >= 8 {
            word(&id[id.len() - 8..])
        } else {
            word(rest)
        };
        h = (h.rotate_left(26) ^ tail).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Open-addressing table (linear probing, at most half full) from an id's
/// hash to the indices of a list. A slot is `(tag << 32) | (index + 1)`,
/// the tag being the low half of the hash, so a probe looks at an id only
/// when 32 more bits of hash agree; 0 is an empty slot. The caller confirms
/// every hit byte for byte.
struct IdTable {
    slots: Vec<u64>,
    /// 64 − log2(slots.len()): the hash's top bits pick the first slot.
    shift: u32,
}

impl IdTable {
    /// An empty table for up to `count` ids (at most `MAX_ENTRIES`, so
    /// `index + 1` fits a slot's low half).
    fn with_capacity(count: usize) -> IdTable {
        let size = (count * 2).next_power_of_two().max(16);
        IdTable {
            slots: vec![0; size],
            shift: 64 - size.trailing_zeros(),
        }
    }

    fn first_slot(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    fn next_slot(&self, at: usize) -> usize {
        (at + 1) & (self.slots.len() - 1)
    }

    /// Adds `index` under `hash`, unless `same(other)` says an index
    /// already there holds the same id (the first index is kept).
    fn insert(&mut self, hash: u64, index: u32, same: impl Fn(u32) -> bool) {
        let mut at = self.first_slot(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                self.slots[at] = (hash << 32) | (u64::from(index) + 1);
                return;
            }
            if slot >> 32 == hash & 0xFFFF_FFFF && same((slot as u32).wrapping_sub(1)) {
                return;
            }
            at = self.next_slot(at);
        }
    }

    /// The index under `hash` for which `matches` holds, if any.
    fn find(&self, hash: u64, matches: impl Fn(u32) -> bool) -> Option<u32> {
        let mut at = self.first_slot(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            let index = (slot as u32).wrapping_sub(1);
            if slot >> 32 == hash & 0xFFFF_FFFF && matches(index) {
                return Some(index);
            }
            at = self.next_slot(at);
        }
    }

    /// The first index under `hash` whose tag agrees, unconfirmed (or
    /// [`UNKNOWN`]).
    fn candidate(&self, hash: u64) -> u32 {
        self.find(hash, |_| true).unwrap_or(UNKNOWN)
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
    fn build<'s>(count: usize, id_of: impl Fn(usize) -> &'s str) -> SortedIds {
        let mut keys: Vec<Keyed> = (0..count)
            .map(|i| Keyed::of(id_of(i), i as u32))
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
                    id_of(a.index as usize)
                        .cmp(id_of(b.index as usize))
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
    fn duplicate<'s>(&self, id_of: impl Fn(usize) -> &'s str) -> Option<(usize, usize)> {
        self.keys
            .windows(2)
            .find(|pair| {
                pair[0].same_key(&pair[1])
                    && (!pair[0].ambiguous()
                        || id_of(pair[0].index as usize) == id_of(pair[1].index as usize))
            })
            .map(|pair| (pair[0].index as usize, pair[1].index as usize))
    }

    /// The list index of each of `count` queries (or [`UNKNOWN`]; the first
    /// index, were ids repeated).
    ///
    /// Done in whole passes rather than query by query, so the cache misses
    /// of different queries overlap instead of queueing behind each other:
    /// one pass finds each query's candidate slot, the next confirms the
    /// candidates byte for byte (and falls back to a full probe for the
    /// rare candidate whose 32-bit tag agreed by chance).
    fn find_all<'s, 'q>(
        &self,
        id_of: impl Fn(usize) -> &'s str + Copy,
        count: usize,
        query_of: impl Fn(usize) -> &'q str,
    ) -> Vec<u32> {
        let table = self.table.get_or_init(|| {
            let mut table = IdTable::with_capacity(self.keys.len());
            for index in 0..self.keys.len() {
                let id = id_of(index);
                table.insert(hash_id(id.as_bytes()), index as u32, |other| {
                    id_of(other as usize) == id
                });
            }
            table
        });
        let mut found: Vec<u32> = (0..count)
            .map(|q| table.candidate(hash_id(query_of(q).as_bytes())))
            .collect();
        for (q, candidate) in found.iter_mut().enumerate() {
            let query = query_of(q);
            if *candidate != UNKNOWN && id_of(*candidate as usize) != query {
                *candidate = table
                    .find(hash_id(query.as_bytes()), |index| {
                        id_of(index as usize) == query
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

/// Member lookup by handle: a member's index is its position in the sorted
/// list, found through an [`IdTable`] and confirmed on the members' 16-byte
/// prefixes, kept in one compact array (the handle itself is read only when
/// longer than 16 bytes). For ten thousand members both fit in a few
/// hundred kilobytes, so two million lookups stay in cache.
struct MemberIndex<'a> {
    members: &'a [&'a str],
    keys: Vec<Keyed>,
    table: IdTable,
}

impl<'a> MemberIndex<'a> {
    /// `members` sorted bytewise, without duplicates.
    fn new(members: &'a [&'a str]) -> MemberIndex<'a> {
        let keys: Vec<Keyed> = members
            .iter()
            .enumerate()
            .map(|(rank, member)| Keyed::of(member, rank as u32))
            .collect();
        let mut table = IdTable::with_capacity(members.len());
        for (rank, member) in members.iter().enumerate() {
            table.insert(hash_id(member.as_bytes()), rank as u32, |other| {
                members[other as usize] == *member
            });
        }
        MemberIndex {
            members,
            keys,
            table,
        }
    }

    /// The member index (rank) of `name`.
    fn find(&self, name: &str) -> Option<u32> {
        let wanted = Keyed::of(name, 0);
        self.table.find(hash_id(name.as_bytes()), |rank| {
            let rank = rank as usize;
            self.keys[rank].same_key(&wanted)
                && (!wanted.ambiguous() || self.members[rank] == name)
        })
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

    /// Drops the offsets if every id has the same length.
    fn finish(&mut self) {
        let count = self.starts.len() - 1;
        if let Some(&first) = self.starts.get(1) {
            let stride = first as usize;
            if self
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

    /// Id `i`.
    pub(crate) fn get(&self, i: usize) -> &str {
        let (start, end) = if self.stride > 0 {
            (i * self.stride, (i + 1) * self.stride)
        } else {
            (self.starts[i] as usize, self.starts[i + 1] as usize)
        };
        // Every boundary is the end of a whole pushed str.
        self.text.get(start..end).unwrap_or_default()
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
        self.tags
            .binary_search_by(|entry| entry.0.as_str().cmp(tag))
            .ok()
    }

    /// The name of policy tag `t`.
    pub(crate) fn name(&self, t: u32) -> &str {
        self.tags.get(t as usize).map_or("", |entry| entry.0.as_str())
    }

    /// The multiplier of policy tag `t` (a tag listed as a contribution's
    /// multiplier always has one).
    pub(crate) fn multiplier(&self, t: u32) -> u64 {
        self.tags.get(t as usize).and_then(|entry| entry.2).unwrap_or(0)
    }
}

/// One contribution as the later steps need it (48 bytes, input order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    /// When, in Unix seconds.
    pub at: i64,
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// value(c) in minor units, ≤ 10^15.
    pub value: u64,
    /// The rate used; meaningful only if `source.has_rate()`.
    pub rate: u64,
    /// Its tag multipliers: `Prepared::multiplied[multipliers..multipliers
    /// + multiplier_count]`, policy tag indices in the contribution's tag
    /// order.
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
        let mut __t = std::time::Instant::now();
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

        if std::env::var_os("TPH").is_some() { eprintln!("  pre {:?}", __t.elapsed()); } __t = std::time::Instant::now();
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
                if contribution.tags[..t].contains(tag) {
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
            rows.push(Row {
                at: contribution.at,
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
        if std::env::var_os("TPH").is_some() { eprintln!("  contrib-loop {:?}", __t.elapsed()); } __t = std::time::Instant::now();
        ids.finish();
        let id_of = |i: usize| ids.get(i);
        let contribution_ids = SortedIds::build(contributions.len(), id_of);
        if let Some((first, second)) = contribution_ids.duplicate(id_of) {
            return Err(contributions_path.index(second).key("id").err(format!(
                "duplicate contribution id {:?} (also contributions[{first}])",
                contributions[second].id
            )));
        }
        if std::env::var_os("TPH").is_some() { eprintln!("  contrib-sort {:?}", __t.elapsed()); } __t = std::time::Instant::now();
        let contribution_order: Vec<u32> = contribution_ids.order().collect();
        let mut contribution_rank = vec![0u32; contributions.len()];
        for (rank, &index) in contribution_order.iter().enumerate() {
            contribution_rank[index as usize] = rank as u32;
        }

        if std::env::var_os("TPH").is_some() { eprintln!("  rank {:?}", __t.elapsed()); } __t = std::time::Instant::now();
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
        if std::env::var_os("TPH").is_some() { eprintln!("  find_all {:?}", __t.elapsed()); } __t = std::time::Instant::now();
        let mut evaluations = Vec::with_capacity(input.evaluations.len());
        for (index, (evaluation, &contribution)) in
            input.evaluations.iter().zip(&evaluated).enumerate()
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
                by_contributor: contribution_member[contribution as usize] == evaluator,
                verdict: evaluation.verdict,
                rating: evaluation.rating,
            });
        }
        drop(evaluated);

        if std::env::var_os("TPH").is_some() { eprintln!("  eval-loop {:?}", __t.elapsed()); } __t = std::time::Instant::now();
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

        // Prior amounts.
        let repayments_path = Path::Root("prior_repayments");
        check_count(
            &repayments_path,
            input.prior_repayments.len(),
            MAX_ENTRIES,
            "prior repayments",
        )?;
        let repaid_contributions = contribution_ids.find_all(
            id_of,
            input.prior_repayments.len(),
            |q| input.prior_repayments[q].contribution.as_str(),
        );
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
            // Nothing is ever repaid beyond what a contribution is owed, and
            // no contribution is worth more than 10^15, so neither is the
            // total repaid for one; a larger total is inconsistent input.
            let total = &mut prior_repaid[contribution as usize];
            *total += repayment.amount;
            if *total > MAX_AMOUNT {
                return Err(path.key("amount").err(format!(
                    "the prior repayments of contribution {:?} total {total}, more than \
                     {MAX_AMOUNT} minor units (more than any contribution can be worth)",
                    repayment.contribution
                )));
            }
        }
        drop(contribution_ids);
        let payouts_path = Path::Root("prior_payouts");
        check_count(
            &payouts_path,
            input.prior_payouts.len(),
            MAX_ENTRIES,
            "prior payouts",
        )?;
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

        if std::env::var_os("TPH").is_some() { eprintln!("  rest {:?}", __t.elapsed()); } __t = std::time::Instant::now();
        Ok(Prepared {
            input,
            members,
            rows,
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

    /// Contribution `c`'s tag multipliers, as policy tag indices.
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
}
