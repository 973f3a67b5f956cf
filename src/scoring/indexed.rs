//! A second way into the core: input already held as integer indices.
//!
//! The live log keeps its contributions, members and tags as numbers as it
//! folds them (the ledger's scoring index), so a preview need not spell a
//! million entry ids and handles as strings only for [`super::score`] to
//! look every one of them up again. [`score_indexed`] takes that form —
//! members and tags by number, contributions by raw 32-byte id (whose text
//! in the report is lowercase hex, which sorts exactly as the bytes do),
//! evaluations by contribution and member number — and builds the same
//! `Prepared` that `validate` builds from a [`ScoringInput`], then runs the
//! same pipeline. It checks every rule `validate` checks; at the first
//! fault it does not explain anything itself but scores
//! [`IndexedInput::to_scoring_input`] through [`super::score`], so a
//! refusal names the field exactly as the string path does. Both paths give
//! byte-identical reports (tested: `tests/scoring_props`).

use super::error::Result;
use super::ids::{IdArena, MemberIndex, SortedIds, UNKNOWN};
use super::input::{Contribution, Evaluation, PriorRepayment, ScoringInput, Verdict};
use super::kind::Kind;
use super::limits::{MAX_AMOUNT, MAX_CONTRIBUTIONS, MAX_ENTRIES, MAX_EVALUATIONS, MAX_TAGS};
use super::policy::check_name;
use super::rate::{self, value_of};
use super::report::Report;
use super::tags::PolicyTags;
use super::time::{MAX_SECONDS, MIN_SECONDS};
use super::validate::{
    INPUT_PATHS, Prepared, ResolvedEvaluation, Row, bucket_participants, check_period_and_income,
    pretrusted_members, resolve_allocations, total_prior_payouts_of,
};

/// One contribution by number (log order in the live log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedContribution {
    /// The raw id; its text (the report's contribution id) is its
    /// lowercase hex.
    pub id: [u8; 32],
    /// The contributor: an index into [`IndexedInput::members`].
    pub member: u32,
    /// What was contributed.
    pub kind: Kind,
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// The contribution's own rate, if any.
    pub rate: Option<u64>,
    /// When, in Unix seconds.
    pub at: i64,
    /// Where its tags start in [`IndexedInput::tag_refs`].
    pub tags_start: u32,
    /// How many tags it has.
    pub tags_len: u32,
}

/// One standing evaluation by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedEvaluation {
    /// An index into [`IndexedInput::contributions`].
    pub contribution: u32,
    /// The evaluator: an index into [`IndexedInput::members`].
    pub evaluator: u32,
    /// Approve or flag.
    pub verdict: Verdict,
    /// Quality in percent, if rated.
    pub rating: Option<u8>,
}

/// What [`score_indexed`] scores: the same information as a
/// [`ScoringInput`], with references as numbers.
#[derive(Debug, Clone, Copy)]
pub struct IndexedInput<'a> {
    /// The policy, period, income, allocations and prior payouts (small,
    /// by handle); its members, contributions, evaluations and prior
    /// repayments are ignored (the fields below carry them).
    pub frame: &'a ScoringInput,
    /// Member handles by member number, in any order; duplicates are
    /// refused.
    pub members: &'a [String],
    /// Tag names by tag number, each name once.
    pub tag_names: &'a [String],
    /// Every contribution's tags, as tag numbers, one run per contribution.
    pub tag_refs: &'a [u32],
    /// The contributions scored.
    pub contributions: &'a [IndexedContribution],
    /// Peer evaluations in log order.
    pub evaluations: &'a [IndexedEvaluation],
    /// What earlier distributions repaid, by raw contribution id; an id
    /// that is not among `contributions` is left out (a claim this input
    /// does not score).
    pub prior_repayments: &'a [([u8; 32], u64)],
}

/// The lowercase hex of a raw id.
pub fn hex_id(id: &[u8; 32]) -> String {
    let mut buffer = [0u8; 64];
    hex_into(id, &mut buffer).to_string()
}

/// Writes the lowercase hex of `id` into `buffer` and returns it (no
/// allocation: a preview spells a million ids).
fn hex_into<'b>(id: &[u8; 32], buffer: &'b mut [u8; 64]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in buffer.chunks_exact_mut(2).zip(id) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 15)];
    }
    // Hex digits are ASCII.
    std::str::from_utf8(buffer).unwrap_or_default()
}

impl IndexedInput<'_> {
    /// The tags of `c` as tag numbers.
    fn tags_of(&self, c: &IndexedContribution) -> Option<&[u32]> {
        let start = c.tags_start as usize;
        self.tag_refs
            .get(start..start.checked_add(c.tags_len as usize)?)
    }

    /// The same input spelled out with strings: what [`super::score`]
    /// scores. [`score_indexed`] uses it to refuse a faulty input in the
    /// string path's words; tests use it to compare the two paths. A
    /// reference to a number out of range becomes an empty string (which
    /// the string path refuses).
    pub fn to_scoring_input(&self) -> ScoringInput {
        let name = |names: &[String], i: u32| names.get(i as usize).cloned().unwrap_or_default();
        let ids: Vec<String> = self.contributions.iter().map(|c| hex_id(&c.id)).collect();
        let contributions = self
            .contributions
            .iter()
            .zip(&ids)
            .map(|(c, id)| Contribution {
                id: id.clone(),
                member: name(self.members, c.member),
                kind: c.kind,
                quantity: c.quantity,
                rate: c.rate,
                tags: self
                    .tags_of(c)
                    .unwrap_or_default()
                    .iter()
                    .map(|&t| name(self.tag_names, t))
                    .collect(),
                at: c.at,
            })
            .collect();
        let evaluations = self
            .evaluations
            .iter()
            .map(|e| Evaluation {
                contribution: ids
                    .get(e.contribution as usize)
                    .cloned()
                    .unwrap_or_default(),
                evaluator: name(self.members, e.evaluator),
                verdict: e.verdict,
                rating: e.rating,
            })
            .collect();
        let scored: std::collections::BTreeSet<&[u8; 32]> =
            self.contributions.iter().map(|c| &c.id).collect();
        let prior_repayments = self
            .prior_repayments
            .iter()
            .filter(|(id, _)| scored.contains(id))
            .map(|(id, amount)| PriorRepayment {
                contribution: hex_id(id),
                amount: *amount,
            })
            .collect();
        ScoringInput {
            policy: self.frame.policy.clone(),
            members: self.members.to_vec(),
            contributions,
            evaluations,
            allocations: self.frame.allocations.clone(),
            prior_repayments,
            prior_payouts: self.frame.prior_payouts.clone(),
            period: self.frame.period,
            income: self.frame.income,
        }
    }
}

/// Scores an indexed input: the same report as [`super::score`] of
/// [`IndexedInput::to_scoring_input`], byte for byte, and the same refusal.
pub fn score_indexed(input: &IndexedInput<'_>) -> Result<Report> {
    match prepare(input) {
        Some(prepared) => super::run(prepared),
        // Something to refuse: let the string path say what, in its words.
        None => super::score(&input.to_scoring_input()),
    }
}

/// Whether `seconds` is a time the string path accepts.
fn valid_time(seconds: i64) -> bool {
    (MIN_SECONDS..=MAX_SECONDS).contains(&seconds)
}

/// Builds the `Prepared` the string path would build, or `None` at the
/// first rule the input breaks (checked in any order: the string path
/// names the fault).
fn prepare<'a>(input: &IndexedInput<'a>) -> Option<Prepared<'a>> {
    let frame = input.frame;
    frame.policy.validate_at(INPUT_PATHS).ok()?;
    check_period_and_income(frame).ok()?;

    // Members, sorted bytewise: a member's index is its rank.
    if input.members.len() > MAX_ENTRIES {
        return None;
    }
    let mut by_name: Vec<u32> = (0..input.members.len() as u32).collect();
    by_name.sort_unstable_by(|&a, &b| input.members[a as usize].cmp(&input.members[b as usize]));
    let members: Vec<&'a str> = by_name
        .iter()
        .map(|&m| input.members[m as usize].as_str())
        .collect();
    let ok = |r: Result<()>| r.is_ok();
    let any_path = super::json::Path::Root("members");
    if members.windows(2).any(|w| w[0] == w[1])
        || !members
            .iter()
            .all(|m| ok(check_name(&any_path, m, "member id")))
    {
        return None;
    }
    let mut rank_of = vec![0u32; input.members.len()];
    for (rank, &m) in by_name.iter().enumerate() {
        rank_of[m as usize] = rank as u32;
    }
    let member_index = MemberIndex::new(&members);
    let pretrusted = pretrusted_members(frame, &member_index).ok()?;
    let bucket_participants = bucket_participants(frame, &member_index).ok()?;

    // Contributions, as `ContributionTable::read` takes them.
    let contributions = input.contributions;
    if contributions.len() > MAX_CONTRIBUTIONS {
        return None;
    }
    let policy = &frame.policy.policy;
    let tags = PolicyTags::new(policy);
    // Per tag number: whether its name is valid, its policy tag index, and
    // (rate, multiplier) presence: looked up once per tag, not per use.
    let tag_info: Vec<Option<Option<usize>>> = input
        .tag_names
        .iter()
        .map(|t| ok(check_name(&any_path, t, "tag")).then(|| tags.find(t)))
        .collect();
    let default_rates = Kind::ALL.map(|kind| policy.default_rates.get(&kind).copied());
    let mut rows = Vec::with_capacity(contributions.len());
    let mut at = Vec::with_capacity(contributions.len());
    let mut contribution_member = Vec::with_capacity(contributions.len());
    let mut multiplied = Vec::new();
    let mut ids = IdArena::with_capacity(contributions.len(), 64 * contributions.len());
    let mut hex = [0u8; 64];
    for c in contributions {
        ids.push(hex_into(&c.id, &mut hex));
        contribution_member.push(*rank_of.get(c.member as usize)?);
        if c.quantity > MAX_AMOUNT || c.rate.is_some_and(|r| r > MAX_AMOUNT) {
            return None;
        }
        let own_tags = input.tags_of(c)?;
        if own_tags.len() > MAX_TAGS {
            return None;
        }
        let first_multiplier = multiplied.len();
        let mut rate_tag = None;
        for (t, &tag) in own_tags.iter().enumerate() {
            let found = (*tag_info.get(tag as usize)?)?;
            if own_tags[..t].contains(&tag) {
                return None;
            }
            if let Some(position) = found {
                let (_, rate, multiplier) = tags.tags[position];
                if let (None, Some(rate)) = (rate_tag, rate) {
                    rate_tag = Some((position as u32, rate));
                }
                if multiplier.is_some() {
                    multiplied.push(position as u32);
                }
            }
        }
        if !valid_time(c.at) {
            return None;
        }
        let (rate, source) = rate::resolve(c.kind, c.rate, rate_tag, default_rates[c.kind.index()]);
        let value = value_of(c.kind, c.quantity, rate);
        if value > u128::from(MAX_AMOUNT) {
            return None;
        }
        at.push(c.at);
        rows.push(Row {
            quantity: c.quantity,
            value: value as u64,
            rate: rate.unwrap_or(0),
            multipliers: first_multiplier as u32,
            source,
            multiplier_count: (multiplied.len() - first_multiplier) as u8,
            kind: c.kind,
        });
    }
    ids.finish();
    // Ranks by id: the raw ids sort as their hex does.
    let raw = |i: usize| &contributions[i].id;
    let sorted = SortedIds::build(contributions.len(), raw);
    if sorted.duplicate(raw).is_some() {
        return None;
    }
    let contribution_order: Vec<u32> = sorted.order().collect();
    let mut contribution_rank = vec![0u32; contributions.len()];
    for (rank, &index) in contribution_order.iter().enumerate() {
        contribution_rank[index as usize] = rank as u32;
    }

    // Evaluations.
    if input.evaluations.len() > MAX_EVALUATIONS {
        return None;
    }
    let mut evaluations = Vec::with_capacity(input.evaluations.len());
    for e in input.evaluations {
        let contributor = *contribution_member.get(e.contribution as usize)?;
        let evaluator = *rank_of.get(e.evaluator as usize)?;
        if e.rating.is_some_and(|r| r > 100) {
            return None;
        }
        evaluations.push(ResolvedEvaluation {
            contribution: e.contribution,
            evaluator,
            by_contributor: contributor == evaluator,
            verdict: e.verdict,
            rating: e.rating,
        });
    }
    let allocations = resolve_allocations(frame, &member_index).ok()?;

    // Prior repayments, found among the ids in whole passes (as the string
    // path finds them, `SortedIds::find_all`); a repayment of an id not in
    // the period is skipped.
    let repaid = sorted.find_all(raw, input.prior_repayments.len(), |q| {
        &input.prior_repayments[q].0
    });
    drop(sorted);
    let mut prior_repaid = vec![0u64; contributions.len()];
    for ((_, amount), &index) in input.prior_repayments.iter().zip(&repaid) {
        if index == UNKNOWN {
            continue;
        }
        if *amount > MAX_AMOUNT {
            return None;
        }
        let total = &mut prior_repaid[index as usize];
        *total = total.saturating_add(*amount).min(MAX_AMOUNT);
    }
    let prior_paid = total_prior_payouts_of(frame, &member_index, members.len()).ok()?;
    drop(member_index);

    Some(Prepared {
        input: frame,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::input::Period;
    use crate::scoring::policy::PolicyDocument;

    /// A valid numbered input takes the numbered path (not the string
    /// path's fallback), and a faulty one does not.
    #[test]
    fn a_valid_input_is_prepared_from_its_numbers() {
        let policy = PolicyDocument::from_json(
            br#"{"currency": "EUR", "decimals": 2, "default_rates": {"work": 2500},
                 "rates": {"lead": 3500},
                 "buckets": [{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}]}"#,
        )
        .expect("a policy");
        let frame = ScoringInput {
            policy,
            members: Vec::new(),
            contributions: Vec::new(),
            evaluations: Vec::new(),
            allocations: Vec::new(),
            prior_repayments: Vec::new(),
            prior_payouts: Vec::new(),
            period: Period {
                start: 1_790_812_800,
                end: 1_793_491_200,
            },
            income: 10_000,
        };
        let members = ["bo".to_string(), "ann".to_string()];
        let tag_names = ["lead".to_string()];
        let work = |id: u8, member: u32, tags_len: u32| IndexedContribution {
            id: [id; 32],
            member,
            kind: Kind::Work,
            quantity: 60,
            rate: None,
            at: 1_791_000_000,
            tags_start: 0,
            tags_len,
        };
        let contributions = [work(9, 0, 1), work(3, 1, 0)];
        let evaluations = [
            IndexedEvaluation {
                contribution: 0,
                evaluator: 1,
                verdict: Verdict::Approve,
                rating: Some(80),
            },
            IndexedEvaluation {
                contribution: 1,
                evaluator: 0,
                verdict: Verdict::Approve,
                rating: None,
            },
        ];
        let mut input = IndexedInput {
            frame: &frame,
            members: &members,
            tag_names: &tag_names,
            tag_refs: &[0],
            contributions: &contributions,
            evaluations: &evaluations,
            prior_repayments: &[([9; 32], 100), ([1; 32], 7)],
        };
        let prepared = prepare(&input).expect("prepared from numbers");
        assert_eq!(prepared.members, ["ann", "bo"]);
        assert_eq!(prepared.contribution_order, [1, 0]);
        assert_eq!(prepared.prior_repaid, [100, 0]);
        drop(prepared);
        let by_numbers = score_indexed(&input).expect("scored");
        let by_strings = crate::scoring::score(&input.to_scoring_input()).expect("scored");
        assert_eq!(by_numbers, by_strings);

        let faulty = [IndexedEvaluation {
            rating: Some(101),
            ..evaluations[0]
        }];
        input.evaluations = &faulty;
        assert!(prepare(&input).is_none());
        assert_eq!(
            score_indexed(&input),
            crate::scoring::score(&input.to_scoring_input())
        );
        assert!(score_indexed(&input).is_err());
    }
}
