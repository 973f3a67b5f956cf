//! Validation and indexing of a [`ScoringInput`].
//!
//! Everything the spec refuses is refused here, before any number is
//! computed, with the field named in the scenario format's terms
//! (`contributions[3].member`, `distribution.buckets[1].percent_ppm`). What
//! survives is indexed once: members sorted by id (a member's index *is* its
//! rank, so "members in id order" is plain index order), contributions as
//! compact rows (kind, amounts, value, rate) beside their member, their time
//! and their rank by id, all contribution ids copied once into one buffer
//! ([`IdArena`], which the report keeps), and every reference resolved to an
//! index through the id index of [`super::ids`].
//!
//! [`Prepared::new`] runs one step per part of the input (period and
//! income, members, pre-trusted members, contributions, their ids,
//! evaluations, allocations, prior amounts), each a function below.

use super::error::{Result, ScoringError};
use super::ids::{IdArena, MemberIndex, SortedIds, UNKNOWN, same_bytes};
use super::input::{ScoringInput, Verdict};
use super::json::Path;
use super::kind::Kind;
use super::limits::{MAX_AMOUNT, MAX_CONTRIBUTIONS, MAX_ENTRIES, MAX_EVALUATIONS, MAX_TAGS};
use super::policy::{Bucket, DocumentPaths, EvaluatorWeights, check_max, check_name};
use super::rate::{self, RateFrom, value_of};
use super::tags::PolicyTags;
use super::time::{MAX_SECONDS, MIN_SECONDS, format_rfc3339};

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

/// An allocation with its members resolved: (from, [(to, percent)] in id
/// order, zero entries dropped).
pub(crate) type ResolvedAllocation = (u32, Vec<(u32, u64)>);

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
    pub(crate) allocations: Vec<ResolvedAllocation>,
    /// Per contribution: what earlier distributions repaid.
    pub(crate) prior_repaid: Vec<u64>,
    /// Per member: what earlier shares buckets paid.
    pub(crate) prior_paid: Vec<u128>,
    /// Pre-trusted members (EigenTrust), sorted.
    pub(crate) pretrusted: Vec<u32>,
    /// Per bucket (policy order): an allocation bucket's `participants` as
    /// member indices, sorted; `None` for every other bucket and for an
    /// allocation bucket naming none (every member takes part).
    pub(crate) bucket_participants: Vec<Option<Vec<u32>>>,
}

/// The paths under which a scenario file holds the parts of the input.
pub(super) const INPUT_PATHS: DocumentPaths<'static> = DocumentPaths {
    rules: Path::Root("policy"),
    buckets: Path::Root("distribution.buckets"),
};

/// Refuses a time outside the years 0000 to 9999 (RFC 3339 with four
/// digits of year cannot write it).
fn check_time(path: &Path<'_>, seconds: i64) -> Result<()> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(path.err(format!(
            "must be a time between years 0000 and 9999 (got {seconds} Unix seconds)"
        )));
    }
    Ok(())
}

/// Refuses a list longer than `max`.
fn check_count(path: &Path<'_>, count: usize, max: usize, what: &str) -> Result<()> {
    if count > max {
        return Err(path.err(format!("at most {max} {what} (got {count})")));
    }
    Ok(())
}

/// The refusal of a reference to someone who is not a member.
fn not_member(path: Path<'_>, name: &str) -> ScoringError {
    path.err(format!("{name:?} is not a member"))
}

/// The refusal of a reference to an unknown contribution id.
fn not_contribution(path: Path<'_>, id: &str) -> ScoringError {
    path.err(format!("{id:?} is not a known contribution id"))
}

impl<'a> Prepared<'a> {
    /// Validates `input` and resolves every reference, one step per part of
    /// the input, in the order the refusals are checked (so an input with
    /// several faults is always refused for the same one).
    pub(crate) fn new(input: &'a ScoringInput) -> Result<Prepared<'a>> {
        input.policy.validate_at(INPUT_PATHS)?;
        check_period_and_income(input)?;
        let members = sorted_members(input)?;
        // A member's index is its rank, i.e. its position in `members`.
        let member_index = MemberIndex::new(&members);
        let pretrusted = pretrusted_members(input, &member_index)?;
        let bucket_participants = bucket_participants(input, &member_index)?;
        let table = ContributionTable::read(input, &member_index)?;
        let id_of = |i: usize| table.ids.bytes(i);
        let contribution_ids = SortedIds::build(input.contributions.len(), id_of);
        if let Some((first, second)) = contribution_ids.duplicate(id_of) {
            return Err(Path::Root("contributions")
                .index(second)
                .key("id")
                .err(format!(
                    "duplicate contribution id {:?} (also contributions[{first}])",
                    input.contributions[second].id
                )));
        }
        let contribution_order: Vec<u32> = contribution_ids.order().collect();
        let mut contribution_rank = vec![0u32; input.contributions.len()];
        for (rank, &index) in contribution_order.iter().enumerate() {
            contribution_rank[index as usize] = rank as u32;
        }
        let evaluations = resolve_evaluations(
            input,
            &contribution_ids,
            id_of,
            &table.contribution_member,
            &member_index,
        )?;
        let allocations = resolve_allocations(input, &member_index)?;
        let prior_repaid = total_prior_repayments(input, &contribution_ids, id_of)?;
        drop(contribution_ids);
        let prior_paid = total_prior_payouts(input, &member_index)?;
        drop(member_index);

        let ContributionTable {
            rows,
            at,
            ids,
            tags,
            multiplied,
            contribution_member,
        } = table;
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
            bucket_participants,
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

/// The period (valid times, start before end) and the income.
pub(super) fn check_period_and_income(input: &ScoringInput) -> Result<()> {
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
    )
}

/// The member ids, checked and sorted bytewise: a member's index is its
/// rank.
fn sorted_members(input: &ScoringInput) -> Result<Vec<&str>> {
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
    Ok(member_ids
        .order()
        .map(|i| input.members[i as usize].as_str())
        .collect())
}

/// EigenTrust's pre-trusted members (who must be members), sorted.
pub(super) fn pretrusted_members(
    input: &ScoringInput,
    member_index: &MemberIndex<'_>,
) -> Result<Vec<u32>> {
    let mut pretrusted = Vec::new();
    if let EvaluatorWeights::EigenTrust {
        pretrusted: names, ..
    } = &input.policy.policy.evaluator_weights
    {
        let path = Path::Root("policy.evaluator_weights.pretrusted");
        for (index, name) in names.iter().enumerate() {
            let member = member_index
                .find(name)
                .ok_or_else(|| not_member(path.index(index), name))?;
            pretrusted.push(member);
        }
        pretrusted.sort_unstable();
    }
    Ok(pretrusted)
}

/// Each allocation bucket's `participants` (who must be members), sorted.
pub(super) fn bucket_participants(
    input: &ScoringInput,
    member_index: &MemberIndex<'_>,
) -> Result<Vec<Option<Vec<u32>>>> {
    let buckets = Path::Root("distribution.buckets");
    let mut resolved = Vec::with_capacity(input.policy.buckets.len());
    for (b, bucket) in input.policy.buckets.iter().enumerate() {
        let Bucket::Allocation {
            participants: Some(names),
            ..
        } = bucket
        else {
            resolved.push(None);
            continue;
        };
        let bucket_path = buckets.index(b);
        let path = bucket_path.key("participants");
        let mut members = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let member = member_index
                .find(name)
                .ok_or_else(|| not_member(path.index(index), name))?;
            members.push(member);
        }
        members.sort_unstable();
        resolved.push(Some(members));
    }
    Ok(resolved)
}

/// The contributions checked and indexed: the parts of [`Prepared`] that
/// are per contribution in input order, built in one pass.
struct ContributionTable {
    rows: Vec<Row>,
    at: Vec<i64>,
    ids: IdArena,
    tags: PolicyTags,
    multiplied: Vec<u32>,
    contribution_member: Vec<u32>,
}

impl ContributionTable {
    /// Checks every contribution (id, member, amounts, tags, time, value)
    /// and resolves its member, its rate and its tags.
    fn read(input: &ScoringInput, member_index: &MemberIndex<'_>) -> Result<ContributionTable> {
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
            let member = member_index
                .find(&contribution.member)
                .ok_or_else(|| not_member(path.key("member"), &contribution.member))?;
            contribution_member.push(member);
            check_max(&path.key("quantity"), contribution.quantity, MAX_AMOUNT, "")?;
            if let Some(rate) = contribution.rate {
                check_max(&path.key("rate"), rate, MAX_AMOUNT, "")?;
            }
            let first_multiplier = multiplied.len();
            let rate_tag = resolve_tags(&path, &contribution.tags, &tags, &mut multiplied)?;
            check_time(&path.key("at"), contribution.at)?;
            let (rate, source) = rate::resolve(
                contribution.kind,
                contribution.rate,
                rate_tag,
                default_rates[contribution.kind.index()],
            );
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
        Ok(ContributionTable {
            rows,
            at,
            ids,
            tags,
            multiplied,
            contribution_member,
        })
    }
}

/// Checks one contribution's tags (names, no duplicates) at `path` and
/// looks each up among the policy's: returns the first tag with a rate
/// (§1; its policy tag index and rate) and appends every tag with a
/// multiplier, in tag order (§3), to `multiplied`.
#[inline]
fn resolve_tags(
    path: &Path<'_>,
    contribution_tags: &[String],
    tags: &PolicyTags,
    multiplied: &mut Vec<u32>,
) -> Result<Option<(u32, u64)>> {
    let tags_path = path.key("tags");
    check_count(&tags_path, contribution_tags.len(), MAX_TAGS, "tags")?;
    let mut rate_tag = None;
    for (t, tag) in contribution_tags.iter().enumerate() {
        check_name(&tags_path.index(t), tag, "tag")?;
        if contribution_tags[..t]
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
    Ok(rate_tag)
}

/// The evaluations with their contribution, evaluator and whether the
/// evaluator is the contributor resolved, in input (log) order.
fn resolve_evaluations<'s>(
    input: &ScoringInput,
    contribution_ids: &SortedIds,
    id_of: impl Fn(usize) -> &'s [u8] + Copy,
    contribution_member: &[u32],
    member_index: &MemberIndex<'_>,
) -> Result<Vec<ResolvedEvaluation>> {
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
    // Each evaluated contribution's contributor, gathered in a pass of its
    // own (see `SortedIds::find_all`).
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
            return Err(not_contribution(
                path.key("contribution"),
                &evaluation.contribution,
            ));
        }
        let evaluator = member_index
            .find(&evaluation.evaluator)
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
    Ok(evaluations)
}

/// The allocations in input order, each as (from, [(to, percent)] in id
/// order, zero entries dropped), the percents checked to sum to 100.
pub(super) fn resolve_allocations(
    input: &ScoringInput,
    member_index: &MemberIndex<'_>,
) -> Result<Vec<ResolvedAllocation>> {
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
        let from = member_index
            .find(&allocation.from)
            .ok_or_else(|| not_member(path.key("from"), &allocation.from))?;
        let to_path = path.key("to");
        let mut total: u64 = 0;
        let mut to = Vec::with_capacity(allocation.to.len());
        for (name, &percent) in &allocation.to {
            let entry = to_path.key(name);
            let member = member_index
                .find(name)
                .ok_or_else(|| not_member(entry, name))?;
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
    Ok(allocations)
}

/// Per contribution, what earlier distributions repaid.
///
/// The number of prior amounts is not limited: the live log passes one
/// line per recorded distribution and contribution (or member), which grows
/// with every month a cooperative lives, and each line is only added to a
/// per-contribution or per-member total.
fn total_prior_repayments<'s>(
    input: &ScoringInput,
    contribution_ids: &SortedIds,
    id_of: impl Fn(usize) -> &'s [u8] + Copy,
) -> Result<Vec<u64>> {
    let repayments_path = Path::Root("prior_repayments");
    let repaid_contributions =
        contribution_ids.find_all(id_of, input.prior_repayments.len(), |q| {
            input.prior_repayments[q].contribution.as_str()
        });
    let mut prior_repaid = vec![0u64; input.contributions.len()];
    for (index, (repayment, &contribution)) in input
        .prior_repayments
        .iter()
        .zip(&repaid_contributions)
        .enumerate()
    {
        let path = repayments_path.index(index);
        if contribution == UNKNOWN {
            return Err(not_contribution(
                path.key("contribution"),
                &repayment.contribution,
            ));
        }
        check_max(
            &path.key("amount"),
            repayment.amount,
            MAX_AMOUNT,
            " minor units",
        )?;
        // The total is clamped at 10^15 rather than refused: a contribution
        // is worth at most 10^15 (checked when it was read), and §5 only
        // ever reads max(0, value − prior), so any total of 10^15 or more
        // means "nothing outstanding" exactly as the exact sum would. The
        // spec limits each prior amount, not their sum, and a sum over many
        // recorded distributions (or a claim repaid twice by two of them)
        // must never make a period unscorable.
        let total = &mut prior_repaid[contribution as usize];
        *total = total.saturating_add(repayment.amount).min(MAX_AMOUNT);
    }
    Ok(prior_repaid)
}

/// Per member, what earlier shares buckets paid (see
/// [`total_prior_repayments`] on why their number is not limited).
fn total_prior_payouts(input: &ScoringInput, member_index: &MemberIndex<'_>) -> Result<Vec<u128>> {
    total_prior_payouts_of(input, member_index, input.members.len())
}

/// [`total_prior_payouts`] for `members` members (the indexed path's
/// input carries its members outside the `ScoringInput`).
pub(super) fn total_prior_payouts_of(
    input: &ScoringInput,
    member_index: &MemberIndex<'_>,
    members: usize,
) -> Result<Vec<u128>> {
    let payouts_path = Path::Root("prior_payouts");
    let mut prior_paid = vec![0u128; members];
    for (index, payout) in input.prior_payouts.iter().enumerate() {
        let path = payouts_path.index(index);
        let member = member_index
            .find(&payout.recipient)
            .ok_or_else(|| not_member(path.key("recipient"), &payout.recipient))?;
        check_max(
            &path.key("amount"),
            payout.amount,
            MAX_AMOUNT,
            " minor units",
        )?;
        prior_paid[member as usize] += u128::from(payout.amount);
    }
    Ok(prior_paid)
}

impl ScoringInput {
    /// Checks every rule the spec puts on an input, without scoring it.
    /// [`crate::scoring::score`] runs the same checks first.
    pub fn validate(&self) -> Result<(), ScoringError> {
        Prepared::new(self).map(|_| ())
    }
}
