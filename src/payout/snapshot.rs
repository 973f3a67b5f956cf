//! From the live log to the scoring core's input: the one bridge between the
//! ledger state and the pure scoring module, so a preview over the log and a
//! scenario file are scored by the same code.

use std::sync::Arc;

use crate::ledger::Refusal;
use crate::ledger::kind_of;
use crate::ledger::{ContributionState, LedgerState, Settlement, SharedIndex};
use crate::pb;
use crate::scoring::indexed::{IndexedContribution, IndexedEvaluation, IndexedInput};
use crate::scoring::input::{
    Allocation, Contribution, Evaluation, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
use crate::scoring::policy::PolicyDocument;

/// Which policy to score with.
#[derive(Clone, Copy, Debug)]
pub enum PolicyChoice<'a> {
    /// The latest adopted version.
    Latest,
    /// An adopted version by number.
    Version(u32),
    /// A draft policy document (JSON), for a what-if.
    Draft(&'a [u8]),
}

/// Builds the scoring input for `[start, end)` and `income`. Contributions
/// are the live ones dated before `end` (all a period reads), with the
/// entries' hex ids; evaluations are their standing ones in log order; the allocations are those made for exactly this period; prior
/// repayments and shares payouts are what the recorded distributions paid
/// (spec/DECISIONS.md). Returns the input and the policy version used (0 for
/// a draft).
pub fn scoring_input(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    income: u64,
) -> Result<(ScoringInput, u32), Refusal> {
    scoring_input_with(state, choice, period, income, u64::MAX)
}

/// As [`scoring_input`], counting as already paid only the standing
/// distributions recorded before sequence `priors_before` (what a preview
/// at that log size saw).
pub fn scoring_input_with(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    income: u64,
    priors_before: u64,
) -> Result<(ScoringInput, u32), Refusal> {
    preview_source(state, choice, period, priors_before)?.into_input(income)
}

/// What a preview reads from the live state, taken in one short pass under
/// its lock: reference counts and small copies, no strings built, no policy
/// parsed. The scoring input is built from it after the lock is released
/// ([`PreviewSource::into_input`]), so the writer never waits for that.
pub struct PreviewSource {
    currency: String,
    decimals: u32,
    /// The policy document (JSON) and its version (0 for a draft).
    policy_json: Vec<u8>,
    version: u32,
    period: (i64, i64),
    members: Vec<String>,
    contributions: Vec<Arc<ContributionState>>,
    /// This period's standing allocations with their sequence numbers.
    allocations: Vec<(u64, Allocation)>,
    /// What the standing distributions before the priors' bound settled.
    settlements: Vec<Arc<Settlement>>,
}

/// Takes what a preview of `period` with `choice` reads from `state`,
/// counting as already paid only the standing distributions recorded before
/// sequence `priors_before`.
pub fn preview_source(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    priors_before: u64,
) -> Result<PreviewSource, Refusal> {
    source_parts(state, choice, period, priors_before, true)
}

/// [`preview_source`], with the period's contributions only if
/// `with_contributions` (the indexed path takes them from the index).
fn source_parts(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    priors_before: u64,
    with_contributions: bool,
) -> Result<PreviewSource, Refusal> {
    let network = state
        .network()
        .ok_or_else(|| Refusal::FailedPrecondition("the log has no network yet".into()))?;
    let (json, version): (&[u8], u32) = match choice {
        PolicyChoice::Draft(json) => (json, 0),
        PolicyChoice::Latest => state
            .policies()
            .last()
            .map(|p| (p.json.as_slice(), p.version))
            .ok_or_else(|| Refusal::FailedPrecondition("no policy has been adopted yet".into()))?,
        PolicyChoice::Version(v) => state
            .policies()
            .iter()
            .find(|p| p.version == v)
            .map(|p| (p.json.as_slice(), p.version))
            .ok_or_else(|| {
                Refusal::NotFound(format!("policy_version: there is no policy version {v}"))
            })?,
    };
    // Only what the period needs (DESIGN principle 8): every rule of the
    // spec reads contributions dated before the period end and nothing
    // later — reimburse claims (at < end, §5), balanced back-pay (all-time
    // points up to end, §5), EigenTrust's local trust (evaluations of
    // contributions dated before end, §2), points and explanations (§3,
    // §6), the signals (in-period only, §6.1) — so a contribution dated at
    // or after the end, and its evaluations, change no number of this
    // report and are left out (so are prior repayments naming them, below).
    let contributions = if with_contributions {
        state.live_contributions_before(period.1)
    } else {
        Vec::new()
    };
    let allocations = state
        .allocations()
        .iter()
        .filter(|((s, e, _), _)| (*s, *e) == period)
        .map(|((_, _, from), a)| {
            (
                a.sequence,
                Allocation {
                    from: from.clone(),
                    to: a
                        .to
                        .iter()
                        .map(|(m, p)| (m.clone(), u64::from(*p)))
                        .collect(),
                },
            )
        })
        .collect();
    // Voided distributions paid nothing that counts.
    let settlements = state
        .standing_distributions()
        .filter(|d| d.sequence < priors_before)
        .map(|d| d.settlement.clone())
        .collect();
    Ok(PreviewSource {
        currency: network.currency.clone(),
        decimals: network.decimals,
        policy_json: json.to_vec(),
        version,
        period,
        members: state.members().map(|m| m.handle.clone()).collect(),
        contributions,
        allocations,
        settlements,
    })
}

/// The policy document of `json`, checked against the network's currency
/// and stated in it.
fn parse_policy(json: &[u8], currency: String, decimals: u32) -> Result<PolicyDocument, Refusal> {
    let mut policy = PolicyDocument::from_json(json)
        .map_err(|e| Refusal::InvalidArgument(format!("policy: {e}")))?;
    policy
        .check_currency(&currency, decimals)
        .map_err(|e| Refusal::InvalidArgument(format!("policy: {e}")))?;
    policy.currency = Some(currency);
    policy.decimals = Some(decimals);
    Ok(policy)
}

impl PreviewSource {
    /// The scoring input for `income`, with the policy version it uses:
    /// the policy parsed and checked against the network's currency, the
    /// contributions in log order with their hex ids, their standing
    /// evaluations in log order, the allocations, and what prior
    /// distributions repaid and paid.
    pub fn into_input(self, income: u64) -> Result<(ScoringInput, u32), Refusal> {
        let policy = parse_policy(&self.policy_json, self.currency, self.decimals)?;

        let mut live = self.contributions;
        live.sort_by_key(|c| c.sequence);
        let mut contributions = Vec::with_capacity(live.len());
        let mut evaluations = Vec::new();
        for c in &live {
            let Some(kind) = kind_of(c.fields.kind) else {
                continue;
            };
            let id = c.id.to_hex();
            contributions.push(Contribution {
                id: id.clone(),
                member: c.member.clone(),
                kind,
                quantity: c.fields.quantity,
                rate: c.fields.rate,
                tags: c.fields.tags.clone(),
                at: c.fields.at,
            });
            for (evaluator, e) in &c.evaluations {
                let verdict = if e.verdict == pb::Verdict::Flag {
                    Verdict::Flag
                } else {
                    Verdict::Approve
                };
                evaluations.push((
                    e.sequence,
                    Evaluation {
                        contribution: id.clone(),
                        evaluator: evaluator.clone(),
                        verdict,
                        rating: e.rating.and_then(|r| u8::try_from(r).ok()),
                    },
                ));
            }
        }
        evaluations.sort_by_key(|(seq, _)| *seq);
        let mut allocations = self.allocations;
        allocations.sort_by_key(|(seq, _)| *seq);
        // A repaid claim can be neither amended nor retracted while its
        // distribution stands, so every prior repayment names a live
        // contribution; it counts only for a claim this input scores (one
        // dated after the period, repaid by a later distribution, is not
        // read here).
        let scored: std::collections::BTreeSet<&str> =
            contributions.iter().map(|c| c.id.as_str()).collect();
        let mut prior_repayments = Vec::new();
        let mut prior_payouts = Vec::new();
        for settlement in &self.settlements {
            prior_repayments.extend(
                settlement
                    .repayments
                    .iter()
                    .map(|(id, amount)| PriorRepayment {
                        contribution: id.to_hex(),
                        amount: *amount,
                    })
                    .filter(|p| scored.contains(p.contribution.as_str())),
            );
            prior_payouts.extend(
                settlement
                    .shares_payouts
                    .iter()
                    .map(|(m, amount)| PriorPayout {
                        recipient: m.clone(),
                        amount: *amount,
                    }),
            );
        }
        let input = ScoringInput {
            policy,
            members: self.members,
            contributions,
            evaluations: evaluations.into_iter().map(|(_, e)| e).collect(),
            allocations: allocations.into_iter().map(|(_, a)| a).collect(),
            prior_repayments,
            prior_payouts,
            period: Period {
                start: self.period.0,
                end: self.period.1,
            },
            income,
        };
        Ok((input, self.version))
    }
}

/// What a preview reads from the live state through the fold's scoring
/// index (`LedgerState::scoring_index`): under the state lock only
/// reference counts and the period's few small lists are taken; the
/// scoring core's numbered input is cut from the index after the lock is
/// released ([`IndexedSource::into_parts`]), with no id or handle spelled
/// out as a string.
pub struct IndexedSource {
    currency: String,
    decimals: u32,
    policy_json: Vec<u8>,
    version: u32,
    period: (i64, i64),
    index: SharedIndex,
    allocations: Vec<(u64, Allocation)>,
    settlements: Vec<Arc<Settlement>>,
}

/// Takes what a preview of `period` with `choice` reads from `state`
/// through its scoring index, counting as already paid only the standing
/// distributions recorded before `priors_before`.
pub fn indexed_source(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    priors_before: u64,
) -> Result<IndexedSource, Refusal> {
    // The string path's source without its walk over every contribution.
    let small = source_parts(state, choice, period, priors_before, false)?;
    Ok(IndexedSource {
        currency: small.currency,
        decimals: small.decimals,
        policy_json: small.policy_json,
        version: small.version,
        period,
        index: state.scoring_index(),
        allocations: small.allocations,
        settlements: small.settlements,
    })
}

/// The scoring core's numbered input, owned (`scoring::indexed`), with the
/// policy version it uses.
#[derive(Debug, Clone)]
pub struct IndexedParts {
    frame: ScoringInput,
    members: Arc<Vec<String>>,
    tag_names: Arc<Vec<String>>,
    tag_refs: Vec<u32>,
    contributions: Vec<IndexedContribution>,
    evaluations: Vec<IndexedEvaluation>,
    prior_repayments: Vec<([u8; 32], u64)>,
}

impl IndexedParts {
    /// The input as the core takes it (borrowed).
    pub fn input(&self) -> IndexedInput<'_> {
        IndexedInput {
            frame: &self.frame,
            members: &self.members,
            tag_names: &self.tag_names,
            tag_refs: &self.tag_refs,
            contributions: &self.contributions,
            evaluations: &self.evaluations,
            prior_repayments: &self.prior_repayments,
        }
    }
}

impl IndexedSource {
    /// The policy parsed and checked against the network's currency, and
    /// the period's contributions, their standing evaluations (log order),
    /// the allocations and the prior amounts cut from the index: the same
    /// input [`PreviewSource::into_input`] builds with strings. (A
    /// contributor or evaluator the index could not number, which only a
    /// client's partial fold makes, reaches the core as [`crate::ledger::NO_MEMBER`],
    /// and the core refuses it as not a member.)
    pub fn into_parts(self, income: u64) -> Result<(IndexedParts, u32), Refusal> {
        let policy = parse_policy(&self.policy_json, self.currency, self.decimals)?;
        let index = &self.index;
        let end = self.period.1;
        let mut included = vec![u32::MAX; index.contributions.len()];
        let mut contributions = Vec::with_capacity(index.contributions.len());
        let mut tag_refs = Vec::new();
        for (r, row) in index.contributions.iter().enumerate() {
            if !row.live || row.at >= end {
                continue;
            }
            let Some(kind) = kind_of(row.kind) else {
                continue;
            };
            included[r] = contributions.len() as u32;
            let tags_start = tag_refs.len() as u32;
            for t in row.tags_start..row.tags_start + u64::from(row.tags_len) {
                if let Some(&tag) = usize::try_from(t).ok().and_then(|t| index.tag_refs.get(t)) {
                    tag_refs.push(tag);
                }
            }
            contributions.push(IndexedContribution {
                id: row.id,
                member: row.member,
                kind,
                quantity: row.quantity,
                rate: row.rate,
                at: row.at,
                tags_start,
                tags_len: tag_refs.len() as u32 - tags_start,
            });
        }
        let mut evaluations = Vec::new();
        for e in index.evaluations.iter().filter(|e| e.standing) {
            let Some(&contribution) = included
                .get(e.contribution as usize)
                .filter(|&&c| c != u32::MAX)
            else {
                continue;
            };
            evaluations.push(IndexedEvaluation {
                contribution,
                evaluator: e.evaluator,
                verdict: if e.flag {
                    Verdict::Flag
                } else {
                    Verdict::Approve
                },
                rating: e.rating.and_then(|r| u8::try_from(r).ok()),
            });
        }
        drop(included);
        let mut allocations = self.allocations;
        allocations.sort_by_key(|(seq, _)| *seq);
        let mut prior_repayments = Vec::new();
        let mut prior_payouts = Vec::new();
        for settlement in &self.settlements {
            prior_repayments.extend(settlement.repayments.iter().map(|(id, a)| (id.0, *a)));
            prior_payouts.extend(
                settlement
                    .shares_payouts
                    .iter()
                    .map(|(m, amount)| PriorPayout {
                        recipient: m.clone(),
                        amount: *amount,
                    }),
            );
        }
        let frame = ScoringInput {
            policy,
            members: Vec::new(),
            contributions: Vec::new(),
            evaluations: Vec::new(),
            allocations: allocations.into_iter().map(|(_, a)| a).collect(),
            prior_repayments: Vec::new(),
            prior_payouts,
            period: Period {
                start: self.period.0,
                end: self.period.1,
            },
            income,
        };
        let parts = IndexedParts {
            frame,
            members: index.members.clone(),
            tag_names: index.tag_names.clone(),
            tag_refs,
            contributions,
            evaluations,
            prior_repayments,
        };
        Ok((parts, self.version))
    }
}
