//! Peer review (§2): which evaluations stand, whether a contribution is
//! valid, and its quality as a weighted median of ratings.
//!
//! One evaluator has at most one standing evaluation per contribution: the
//! last one in log order. Self-evaluations are ignored (the service refuses
//! them at ingestion; a scenario may still hold them) and reported. The
//! median, not the mean, is used so that one outlier rating cannot swing a
//! contribution's quality.

use super::error::Result;
use super::input::Verdict;
use super::limits::PPM;
use super::policy::{EvaluatorWeights, FlagRule, ValidationRule};
use super::trust::{EigenTrust, eigentrust_of_verdicts};
use super::validate::Prepared;

/// A standing evaluation of one contribution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Standing {
    /// Member index of the evaluator.
    pub evaluator: u32,
    pub verdict: Verdict,
    pub rating: Option<u8>,
}

/// Which rule of §2 left a contribution invalid (the first that fails, in
/// the spec's order), so an explanation can say why it earns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidity {
    /// Fewer standing approvals than `validation.min_approvals`.
    TooFewApprovals,
    /// More flags than `validation.max_flags` (the count rule).
    TooManyFlags,
    /// The flaggers' weight is above the approvers' (weighted majority).
    FlagsOutweighApprovals,
    /// Enough approvals, but the approvers hold less trust than
    /// `validation.min_approver_trust_ppm` asks (the trust rule).
    UntrustedApprovers,
}

impl Invalidity {
    /// The reason's word in JSON (`too_few_approvals`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Invalidity::TooFewApprovals => "too_few_approvals",
            Invalidity::TooManyFlags => "too_many_flags",
            Invalidity::FlagsOutweighApprovals => "flags_outweigh_approvals",
            Invalidity::UntrustedApprovers => "untrusted_approvers",
        }
    }
}

/// The outcome of peer review for one contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ContributionReview {
    /// Standing approvals.
    pub approvals: u32,
    /// Standing flags.
    pub flags: u32,
    /// Ratings by evaluators of positive weight.
    pub ratings: u32,
    /// Whether peers validated it (enough approvals, the flag rule, and with
    /// trust on the trust rule).
    pub valid: bool,
    /// When not valid, the first rule that failed.
    pub invalid: Option<Invalidity>,
    /// Trust on and min_approvals ≥ 1: it has enough approvals but its
    /// approvers hold too little trust (the trust rule of §2 fails), the
    /// `untrusted_approvals` signal.
    pub untrusted: bool,
    /// Quality in percent.
    pub quality: u8,
    /// True if the quality is the weighted median; false if the default.
    pub from_median: bool,
}

/// Everything peer review decided.
pub(crate) struct Reviewed {
    /// Standing evaluations, grouped by contribution (input order), each
    /// group sorted by evaluator id.
    pub standing: Vec<Standing>,
    /// `standing[offsets[c]..offsets[c + 1]]` are contribution c's.
    pub offsets: Vec<u32>,
    /// Evaluator weight per member (1 each, or EigenTrust's integer weight).
    pub weights: Vec<u64>,
    /// The EigenTrust run, when the policy asks for it.
    pub trust: Option<EigenTrust>,
    /// Per contribution, input order.
    pub reviews: Vec<ContributionReview>,
    /// (contribution index, member index) of every ignored self-evaluation.
    pub self_evaluations: Vec<(u32, u32)>,
}

impl Reviewed {
    /// Contribution `c`'s standing evaluations.
    pub(crate) fn standing_of(&self, c: usize) -> &[Standing] {
        &self.standing[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }
}

/// Runs peer review over a validated input.
pub(crate) fn review(prepared: &Prepared<'_>) -> Result<Reviewed> {
    let input = prepared.input;
    let contribution_count = prepared.rows.len();

    // Group the non-self evaluations by contribution, keeping log order: a
    // counting sort (linear, and stable) that writes the 8-byte standing
    // records themselves, so the passes below read them sequentially.
    let mut self_evaluations = Vec::new();
    let mut offsets = vec![0u32; contribution_count + 1];
    for evaluation in &prepared.evaluations {
        if evaluation.by_contributor {
            self_evaluations.push((evaluation.contribution, evaluation.evaluator));
        } else {
            offsets[evaluation.contribution as usize + 1] += 1;
        }
    }
    for c in 0..contribution_count {
        offsets[c + 1] += offsets[c];
    }
    let placeholder = Standing {
        evaluator: 0,
        verdict: Verdict::Approve,
        rating: None,
    };
    let mut standing = vec![placeholder; offsets[contribution_count] as usize];
    // offsets[c] serves as group c's cursor; once every record is placed it
    // holds the start of group c + 1, and one shift restores the starts.
    for evaluation in &prepared.evaluations {
        if !evaluation.by_contributor {
            let cursor = &mut offsets[evaluation.contribution as usize];
            standing[*cursor as usize] = Standing {
                evaluator: evaluation.evaluator,
                verdict: evaluation.verdict,
                rating: evaluation.rating,
            };
            *cursor += 1;
        }
    }
    offsets.copy_within(0..contribution_count, 1);
    offsets[0] = 0;

    // Keep the last evaluation of each (contribution, evaluator), each
    // group in evaluator order, compacted in place (writes never overtake
    // reads); offsets[c] is rewritten to the compacted start once read.
    // With EigenTrust, the same pass counts each evaluator's standing
    // evaluations of contributions dated before the period end (its row of
    // local trust), which saves a pass over every contribution.
    let policy = &input.policy.policy;
    let end = input.period.end;
    let mut trust_rows = match policy.evaluator_weights {
        EvaluatorWeights::Equal => Vec::new(),
        EvaluatorWeights::EigenTrust { .. } => vec![0usize; prepared.member_count() + 1],
    };
    let mut write = 0usize;
    let mut group_start = 0usize;
    for c in 0..contribution_count {
        let group_end = offsets[c + 1] as usize;
        offsets[c] = write as u32;
        let group = &mut standing[group_start..group_end];
        if group.len() > 1 {
            // Stable: one evaluator's evaluations stay in log order.
            group.sort_by_key(|evaluation| evaluation.evaluator);
        }
        let trusted = !trust_rows.is_empty() && prepared.at[c] < end;
        for k in group_start..group_end {
            let superseded =
                k + 1 < group_end && standing[k + 1].evaluator == standing[k].evaluator;
            if !superseded {
                if trusted {
                    trust_rows[standing[k].evaluator as usize + 1] += 1;
                }
                standing[write] = standing[k];
                write += 1;
            }
        }
        group_start = group_end;
    }
    offsets[contribution_count] = write as u32;
    standing.truncate(write);

    let mut reviewed = Reviewed {
        standing,
        offsets,
        weights: Vec::new(),
        trust: None,
        reviews: Vec::new(),
        self_evaluations,
    };
    match &policy.evaluator_weights {
        EvaluatorWeights::Equal => reviewed.weights = vec![1; prepared.member_count()],
        EvaluatorWeights::EigenTrust { damping_ppm, .. } => {
            let trust = run_eigentrust(prepared, &reviewed, trust_rows, *damping_ppm)?;
            reviewed.weights = trust.weights.clone();
            reviewed.trust = Some(trust);
        }
    }

    let rule = policy.validation;
    let rating_rule = policy.rating;
    let trust_rule = TrustRule::new(&rule, &reviewed);
    let mut ratings: Vec<(u8, u32, u64)> = Vec::new();
    let mut reviews = Vec::with_capacity(contribution_count);
    for c in 0..contribution_count {
        let mut review = ContributionReview::default();
        // Σ evaluator weight of the approvers and of the flaggers: each
        // weight ≤ ~10^9 and at most 10^7 evaluations, so u128 is exact.
        let mut approving: u128 = 0;
        let mut flagging: u128 = 0;
        ratings.clear();
        for evaluation in reviewed.standing_of(c) {
            let weight = reviewed.weights[evaluation.evaluator as usize];
            match evaluation.verdict {
                Verdict::Approve => {
                    review.approvals += 1;
                    approving += u128::from(weight);
                }
                Verdict::Flag => {
                    review.flags += 1;
                    flagging += u128::from(weight);
                }
            }
            if let Some(rating) = evaluation.rating
                && weight > 0
            {
                ratings.push((rating, evaluation.evaluator, weight));
            }
        }
        let approved = u64::from(review.approvals) >= rule.min_approvals;
        let flags_pass = match rule.flag_rule {
            FlagRule::Count => rule
                .max_flags
                .is_none_or(|max_flags| u64::from(review.flags) <= max_flags),
            FlagRule::WeightedMajority => review.flags == 0 || flagging <= approving,
        };
        let trusted = trust_rule.passes(approving);
        review.valid = approved && flags_pass && trusted;
        review.invalid = if !approved {
            Some(Invalidity::TooFewApprovals)
        } else if !flags_pass {
            Some(match rule.flag_rule {
                FlagRule::Count => Invalidity::TooManyFlags,
                FlagRule::WeightedMajority => Invalidity::FlagsOutweighApprovals,
            })
        } else if !trusted {
            Some(Invalidity::UntrustedApprovers)
        } else {
            None
        };
        review.untrusted = approved && !trusted;
        review.ratings = ratings.len() as u32;
        match weighted_lower_median(&mut ratings) {
            Some(median) if review.ratings as u64 >= rating_rule.min_ratings => {
                review.quality = median;
                review.from_median = true;
            }
            _ => review.quality = rating_rule.default,
        }
        reviews.push(review);
    }
    reviewed.reviews = reviews;
    Ok(reviewed)
}

/// The trust rule of §2 (rule 3), with its right-hand side computed once:
/// Σ_{e approving c} trust_e × n × 10^6 ≥ min_approver_trust_ppm × Σ_m trust_m.
/// Off (always passes) with equal weights or min_approvals 0.
struct TrustRule {
    /// n × 10^6, the factor of the approvers' trust; `None` when off.
    scale: Option<u128>,
    /// min_approver_trust_ppm × Σ_m trust_m.
    threshold: u128,
}

impl TrustRule {
    fn new(rule: &ValidationRule, reviewed: &Reviewed) -> TrustRule {
        if reviewed.trust.is_none() || rule.min_approvals == 0 {
            return TrustRule {
                scale: None,
                threshold: 0,
            };
        }
        // ≤ 10^7 members of trust ≤ ~10^9 each, times ≤ 10^9 ppm: < 10^26.
        let total: u128 = reviewed.weights.iter().map(|&w| u128::from(w)).sum();
        TrustRule {
            // ≤ 10^7 members × 10^6.
            scale: Some(reviewed.weights.len() as u128 * u128::from(PPM)),
            threshold: u128::from(rule.min_approver_trust_ppm) * total,
        }
    }

    /// Whether approvers holding `approving` trust in total validate.
    fn passes(&self, approving: u128) -> bool {
        // approving ≤ Σ trust ≈ 10^9 (one standing evaluation per member),
        // times ≤ 10^13: exact in u128.
        self.scale
            .is_none_or(|scale| approving * scale >= self.threshold)
    }
}

/// The lower weighted median of (rating, evaluator, weight > 0): sorted by
/// rating then evaluator id, the first rating whose cumulative weight × 2
/// reaches the total. None if there is no rating.
fn weighted_lower_median(ratings: &mut [(u8, u32, u64)]) -> Option<u8> {
    // Most contributions have one rating or none: no sort or sum needed
    // (one positive weight w: cumulative × 2 = 2w ≥ w at once).
    match ratings {
        [] => return None,
        [(rating, _, _)] => return Some(*rating),
        _ => {}
    }
    ratings.sort_unstable();
    // At most 10^7 evaluators of weight ≤ 10^9: the total fits u64 easily,
    // and u128 keeps "× 2" exact whatever the weights.
    let total: u128 = ratings.iter().map(|r| u128::from(r.2)).sum();
    let mut cumulative: u128 = 0;
    for &(rating, _, weight) in ratings.iter() {
        cumulative += u128::from(weight);
        if cumulative * 2 >= total {
            return Some(rating);
        }
    }
    None
}

/// Local trust from standing evaluations of contributions dated before the
/// period end, grouped by evaluator (a counting sort: on entry
/// `row_start[i + 1]` is evaluator i's count, from the pass that picked the
/// standing evaluations), then EigenTrust.
fn run_eigentrust(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    mut row_start: Vec<usize>,
    damping_ppm: u64,
) -> Result<EigenTrust> {
    let end = prepared.input.period.end;
    let members = prepared.member_count();
    for i in 0..members {
        row_start[i + 1] += row_start[i];
    }
    let mut cursor = row_start.clone();
    let mut verdicts = vec![0u32; row_start[members]];
    for (c, &at) in prepared.at.iter().enumerate() {
        if at < end {
            // Member indices are below MAX_ENTRIES < 2^31, so j << 1 fits.
            let contributor = prepared.contribution_member[c] << 1;
            for evaluation in reviewed.standing_of(c) {
                let next = &mut cursor[evaluation.evaluator as usize];
                verdicts[*next] = contributor | u32::from(evaluation.verdict == Verdict::Flag);
                *next += 1;
            }
        }
    }
    drop(cursor);
    eigentrust_of_verdicts(
        members,
        &row_start,
        &mut verdicts,
        &prepared.pretrusted,
        damping_ppm,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_lower_weighted_median() {
        assert_eq!(weighted_lower_median(&mut []), None);
        // Equal weights, two ratings: the lower one.
        assert_eq!(
            weighted_lower_median(&mut [(90, 0, 1), (70, 1, 1)]),
            Some(70)
        );
        // An outlier does not swing it.
        assert_eq!(
            weighted_lower_median(&mut [(5, 0, 1), (80, 1, 1), (85, 2, 1)]),
            Some(80)
        );
        // A heavy evaluator pulls it to their rating.
        assert_eq!(
            weighted_lower_median(&mut [(100, 0, 1), (40, 1, 5), (90, 2, 1)]),
            Some(40)
        );
        // Cumulative × 2 ≥ total: 3 × 2 = 6 ≥ 6 stops at 60.
        assert_eq!(
            weighted_lower_median(&mut [(60, 0, 3), (70, 1, 3)]),
            Some(60)
        );
    }

    #[test]
    fn a_single_rating_is_its_own_median() {
        assert_eq!(weighted_lower_median(&mut [(55, 3, 7)]), Some(55));
    }
}
