//! From the live log to the scoring core's input: the one bridge between the
//! ledger state and the pure scoring module, so a preview over the log and a
//! scenario file are scored by the same code.

use crate::ledger::LedgerState;
use crate::ledger::Refusal;
use crate::ledger::kind_of;
use crate::pb;
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
    let mut policy = PolicyDocument::from_json(json)
        .map_err(|e| Refusal::InvalidArgument(format!("policy: {e}")))?;
    policy
        .check_currency(&network.currency, network.decimals)
        .map_err(|e| Refusal::InvalidArgument(format!("policy: {e}")))?;
    policy.currency = Some(network.currency.clone());
    policy.decimals = Some(network.decimals);

    // Only what the period needs (DESIGN principle 8): every rule of the
    // spec reads contributions dated before the period end and nothing
    // later — reimburse claims (at < end, §5), balanced back-pay (all-time
    // points up to end, §5), EigenTrust's local trust (evaluations of
    // contributions dated before end, §2), points and explanations (§3,
    // §6), the signals (in-period only, §6.1) — so a contribution dated at
    // or after the end, and its evaluations, change no number of this
    // report and are left out (so are prior repayments naming them, below).
    let mut live: Vec<_> = state
        .contributions()
        .filter(|c| !c.retracted && c.fields.at < period.1)
        .collect();
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
    let mut allocations: Vec<_> = state
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
    allocations.sort_by_key(|(seq, _)| *seq);
    let mut prior_repayments = Vec::new();
    let mut prior_payouts = Vec::new();
    // Voided distributions paid nothing that counts; a repaid claim can be
    // neither amended nor retracted while its distribution stands, so every
    // prior repayment names a live contribution.
    for d in state
        .standing_distributions()
        .filter(|d| d.sequence < priors_before)
    {
        prior_repayments.extend(d.settlement.repayments.iter().map(|(id, amount)| {
            PriorRepayment {
                contribution: id.to_hex(),
                amount: *amount,
            }
        }));
        prior_payouts.extend(
            d.settlement
                .shares_payouts
                .iter()
                .map(|(m, amount)| PriorPayout {
                    recipient: m.clone(),
                    amount: *amount,
                }),
        );
    }
    // A prior repayment counts only for a claim this input scores (one dated
    // after the period, repaid by a later distribution, is not read here).
    let scored: std::collections::BTreeSet<&str> =
        contributions.iter().map(|c| c.id.as_str()).collect();
    prior_repayments.retain(|p| scored.contains(p.contribution.as_str()));
    let input = ScoringInput {
        policy,
        members: state.members().map(|m| m.handle.clone()).collect(),
        contributions,
        evaluations: evaluations.into_iter().map(|(_, e)| e).collect(),
        allocations: allocations.into_iter().map(|(_, a)| a).collect(),
        prior_repayments,
        prior_payouts,
        period: Period {
            start: period.0,
            end: period.1,
        },
        income,
    };
    Ok((input, version))
}
