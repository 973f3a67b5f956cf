//! Validation and indexing of a [`ScoringInput`].
//!
//! Everything the spec refuses is refused here, before any number is
//! computed, with the field named in the scenario format's terms
//! (`contributions[3].member`, `distribution.buckets[1].percent_ppm`). What
//! survives is indexed once: members sorted by id (a member's index *is* its
//! rank, so "members in id order" is plain index order), contributions with
//! their member, their rank by id and their value, and every reference
//! resolved to an index. Lookups go through sorted arrays of 8-byte id
//! prefixes rather than hash maps, so nothing depends on hashing order.

use super::error::{Result, ScoringError};
use super::input::{Kind, ScoringInput, Verdict};
use super::json::Path;
use super::limits::{MAX_AMOUNT, MAX_CONTRIBUTIONS, MAX_ENTRIES, MAX_EVALUATIONS, MAX_TAGS};
use super::policy::{DocumentPaths, EvaluatorWeights, check_max, check_name};
use super::time::{MAX_SECONDS, MIN_SECONDS, format_rfc3339};
use super::value::{RateFrom, resolve_rate, value_of};

/// An id's sort key: its first 16 bytes (big-endian, zero-padded, as two
/// words) and its length. Comparing keys gives exactly bytewise order
/// whenever the prefixes differ or an id has at most 16 bytes (a shorter id
/// with the same padded prefix is a prefix of the longer one); only two
/// longer ids with the same first 16 bytes need their full bytes compared.
/// Handles such as `member-000123` fit whole, so most comparisons are on
/// integers in one contiguous array, not on strings scattered over the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IdKey {
    high: u64,
    low: u64,
    len: u32,
}

impl IdKey {
    fn of(id: &str) -> IdKey {
        let mut bytes = [0u8; 16];
        let n = id.len().min(16);
        bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
        let prefix = u128::from_be_bytes(bytes);
        IdKey {
            high: (prefix >> 64) as u64,
            low: prefix as u64,
            len: id.len() as u32,
        }
    }

    /// Whether two equal keys may still hold different ids.
    fn ambiguous(self) -> bool {
        self.len > 16
    }
}

/// A key and the index of its id in the caller's list (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed {
    key: IdKey,
    index: u32,
}

/// Marks an id that `SortedIds::find_all` did not find.
const UNKNOWN: u32 = u32::MAX;

/// Ids sorted bytewise, for duplicate detection, lookups and ranks.
pub(crate) struct SortedIds {
    /// Sorted by the full id, then by index so equal ids sit in list order.
    keys: Vec<Keyed>,
}

impl SortedIds {
    /// Sorts the `count` ids given by `id_of`: by key first (integers
    /// only), then each run of equal ambiguous keys by the full ids.
    fn build<'s>(count: usize, id_of: impl Fn(usize) -> &'s str) -> SortedIds {
        let mut keys = SortedIds::by_key(count, &id_of);
        let mut start = 0;
        while start < keys.len() {
            let end = start + keys[start..].partition_point(|k| k.key == keys[start].key);
            if end - start > 1 && keys[start].key.ambiguous() {
                keys[start..end].sort_unstable_by(|a, b| {
                    id_of(a.index as usize)
                        .cmp(id_of(b.index as usize))
                        .then(a.index.cmp(&b.index))
                });
            }
            start = end;
        }
        SortedIds { keys }
    }

    /// The ids' keys sorted by key (and index), not yet by full id.
    fn by_key<'s>(count: usize, id_of: impl Fn(usize) -> &'s str) -> Vec<Keyed> {
        let mut keys: Vec<Keyed> = (0..count)
            .map(|i| Keyed {
                key: IdKey::of(id_of(i)),
                index: i as u32,
            })
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The first pair of list indices (earlier, later) holding the same id.
    fn duplicate<'s>(&self, id_of: impl Fn(usize) -> &'s str) -> Option<(usize, usize)> {
        self.keys
            .windows(2)
            .find(|pair| {
                pair[0].key == pair[1].key
                    && (!pair[0].key.ambiguous()
                        || id_of(pair[0].index as usize) == id_of(pair[1].index as usize))
            })
            .map(|pair| (pair[0].index as usize, pair[1].index as usize))
    }

    /// The list index of each of `count` queries (or [`UNKNOWN`]). The
    /// queries' keys are sorted and merged with the sorted ids, so a million
    /// lookups in a million ids walk memory in order instead of paying a
    /// cache miss per step of a binary search; ids longer than 16 bytes are
    /// then confirmed byte for byte, in query order.
    fn find_all<'s, 'q>(
        &self,
        id_of: impl Fn(usize) -> &'s str,
        count: usize,
        query_of: impl Fn(usize) -> &'q str,
    ) -> Vec<u32> {
        let queries = SortedIds::by_key(count, &query_of);
        let mut found = vec![UNKNOWN; count];
        let mut next = 0;
        for query in &queries {
            while next < self.keys.len() && self.keys[next].key < query.key {
                next += 1;
            }
            let rest = &self.keys[next..];
            let run = &rest[..rest.partition_point(|k| k.key == query.key)];
            found[query.index as usize] = match run {
                [] => UNKNOWN,
                [only] => only.index,
                // Several long ids share these 16 bytes: compare them now.
                _ => run
                    .iter()
                    .find(|k| id_of(k.index as usize) == query_of(query.index as usize))
                    .map_or(UNKNOWN, |k| k.index),
            };
        }
        for (q, candidate) in found.iter_mut().enumerate() {
            if *candidate != UNKNOWN
                && IdKey::of(query_of(q)).ambiguous()
                && id_of(*candidate as usize) != query_of(q)
            {
                *candidate = UNKNOWN;
            }
        }
        found
    }

    /// List indices in id order.
    fn order(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().map(|key| key.index)
    }
}

/// Member lookup by handle: the members' 16-byte prefixes in id order, in
/// one compact array, searched with a single partition point; the handle
/// itself is read only for handles longer than 16 bytes. Two million
/// lookups among ten thousand members stay in cache this way.
struct MemberIndex<'a> {
    members: &'a [&'a str],
    prefixes: Vec<(u64, u64)>,
}

impl<'a> MemberIndex<'a> {
    /// `members` must be sorted bytewise (so their prefixes are sorted too).
    fn new(members: &'a [&'a str]) -> MemberIndex<'a> {
        let prefixes = members
            .iter()
            .map(|m| {
                let key = IdKey::of(m);
                (key.high, key.low)
            })
            .collect();
        MemberIndex { members, prefixes }
    }

    /// The member index (rank) of `name`.
    fn find(&self, name: &str) -> Option<u32> {
        let key = IdKey::of(name);
        let wanted = (key.high, key.low);
        let start = self.prefixes.partition_point(|p| *p < wanted);
        (start..self.prefixes.len())
            .take_while(|&position| self.prefixes[position] == wanted)
            .find(|&position| {
                let member = self.members[position];
                member.len() == name.len() && (name.len() <= 16 || member == name)
            })
            .map(|position| position as u32)
    }
}

/// How a contribution's value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Valued {
    /// Minor units, ≤ 10^15.
    pub value: u64,
    /// The rate used, if the kind needs one and one resolved.
    pub rate: Option<u64>,
    /// Where the rate came from.
    pub source: RateFrom,
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
    /// Per contribution (input order): the contributor's member index.
    pub(crate) contribution_member: Vec<u32>,
    /// Per contribution (input order): its rank by id.
    pub(crate) contribution_rank: Vec<u32>,
    /// Contribution indices sorted by id.
    pub(crate) contribution_order: Vec<u32>,
    /// Per contribution (input order): value and rate.
    pub(crate) valued: Vec<Valued>,
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
        let mut contribution_member = Vec::with_capacity(contributions.len());
        let mut valued = Vec::with_capacity(contributions.len());
        for (index, contribution) in contributions.iter().enumerate() {
            let path = contributions_path.index(index);
            check_name(&path.key("id"), &contribution.id, "contribution id")?;
            let member = member_of(&contribution.member)
                .ok_or_else(|| not_member(path.key("member"), &contribution.member))?;
            contribution_member.push(member);
            check_max(&path.key("quantity"), contribution.quantity, MAX_AMOUNT, "")?;
            if let Some(rate) = contribution.rate {
                check_max(&path.key("rate"), rate, MAX_AMOUNT, "")?;
            }
            let tags_path = path.key("tags");
            check_count(&tags_path, contribution.tags.len(), MAX_TAGS, "tags")?;
            for (t, tag) in contribution.tags.iter().enumerate() {
                check_name(&tags_path.index(t), tag, "tag")?;
                if contribution.tags[..t].contains(tag) {
                    return Err(tags_path.index(t).err(format!("duplicate tag {tag:?}")));
                }
            }
            check_time(&path.key("at"), contribution.at)?;
            let (rate, source) = resolve_rate(contribution, policy);
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
            valued.push(Valued {
                // At most MAX_AMOUNT, checked just above.
                value: value as u64,
                rate,
                source,
            });
        }
        let contribution_ids =
            SortedIds::build(contributions.len(), |i| contributions[i].id.as_str());
        if let Some((first, second)) = contribution_ids.duplicate(|i| contributions[i].id.as_str())
        {
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
        let evaluated = contribution_ids.find_all(
            |i| contributions[i].id.as_str(),
            input.evaluations.len(),
            |q| input.evaluations[q].contribution.as_str(),
        );
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
            |i| contributions[i].id.as_str(),
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

        Ok(Prepared {
            input,
            members,
            contribution_member,
            contribution_rank,
            contribution_order,
            valued,
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
