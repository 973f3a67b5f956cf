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
use super::policy::EvaluatorWeights;
use super::trust::{EigenTrust, eigentrust};
use super::validate::Prepared;

/// A standing evaluation of one contribution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Standing {
    /// Member index of the evaluator.
    pub evaluator: u32,
    pub verdict: Verdict,
    pub rating: Option<u8>,
}

/// The outcome of peer review for one contribution.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContributionReview {
    /// Standing approvals.
    pub approvals: u32,
    /// Standing flags.
    pub flags: u32,
    /// Ratings by evaluators of positive weight.
    pub ratings: u32,
    /// Whether peers validated it (enough approvals, not too many flags).
    pub valid: bool,
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
    let contribution_count = input.contributions.len();

    // Group the non-self evaluations by contribution, keeping log order
    // (a counting sort: linear, and stable).
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
    let mut cursor = offsets.clone();
    let mut grouped = vec![0u32; offsets[contribution_count] as usize];
    for (position, evaluation) in prepared.evaluations.iter().enumerate() {
        if !evaluation.by_contributor {
            let c = evaluation.contribution as usize;
            grouped[cursor[c] as usize] = position as u32;
            cursor[c] += 1;
        }
    }

    // Keep the last evaluation of each (contribution, evaluator).
    let mut standing = Vec::with_capacity(grouped.len());
    let mut standing_offsets = Vec::with_capacity(contribution_count + 1);
    standing_offsets.push(0u32);
    let mut scratch: Vec<(u32, u32)> = Vec::new();
    for c in 0..contribution_count {
        scratch.clear();
        scratch.extend(
            grouped[offsets[c] as usize..offsets[c + 1] as usize]
                .iter()
                .map(|&position| (prepared.evaluations[position as usize].evaluator, position)),
        );
        scratch.sort_unstable();
        for (k, &(evaluator, position)) in scratch.iter().enumerate() {
            let superseded = scratch
                .get(k + 1)
                .is_some_and(|&(next, _)| next == evaluator);
            if !superseded {
                let evaluation = &prepared.evaluations[position as usize];
                standing.push(Standing {
                    evaluator,
                    verdict: evaluation.verdict,
                    rating: evaluation.rating,
                });
            }
        }
        standing_offsets.push(standing.len() as u32);
    }
    drop(grouped);

    let mut reviewed = Reviewed {
        standing,
        offsets: standing_offsets,
        weights: Vec::new(),
        trust: None,
        reviews: Vec::new(),
        self_evaluations,
    };
    let policy = &input.policy.policy;
    match &policy.evaluator_weights {
        EvaluatorWeights::Equal => reviewed.weights = vec![1; prepared.member_count()],
        EvaluatorWeights::EigenTrust { damping_ppm, .. } => {
            let trust = run_eigentrust(prepared, &reviewed, *damping_ppm)?;
            reviewed.weights = trust.weights.clone();
            reviewed.trust = Some(trust);
        }
    }

    let rule = policy.validation;
    let rating_rule = policy.rating;
    let mut ratings: Vec<(u8, u32, u64)> = Vec::new();
    let mut reviews = Vec::with_capacity(contribution_count);
    for c in 0..contribution_count {
        let mut review = ContributionReview::default();
        ratings.clear();
        for evaluation in reviewed.standing_of(c) {
            match evaluation.verdict {
                Verdict::Approve => review.approvals += 1,
                Verdict::Flag => review.flags += 1,
            }
            let weight = reviewed.weights[evaluation.evaluator as usize];
            if let Some(rating) = evaluation.rating
                && weight > 0
            {
                ratings.push((rating, evaluation.evaluator, weight));
            }
        }
        review.valid = u64::from(review.approvals) >= rule.min_approvals
            && rule
                .max_flags
                .is_none_or(|max_flags| u64::from(review.flags) <= max_flags);
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

/// The lower weighted median of (rating, evaluator, weight > 0): sorted by
/// rating then evaluator id, the first rating whose cumulative weight × 2
/// reaches the total. None if there is no rating.
fn weighted_lower_median(ratings: &mut [(u8, u32, u64)]) -> Option<u8> {
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
/// period end, then EigenTrust.
fn run_eigentrust(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    damping_ppm: u64,
) -> Result<EigenTrust> {
    let end = prepared.input.period.end;
    let mut local = Vec::with_capacity(reviewed.standing.len());
    for (c, contribution) in prepared.input.contributions.iter().enumerate() {
        if contribution.at >= end {
            continue;
        }
        let contributor = prepared.contribution_member[c];
        for evaluation in reviewed.standing_of(c) {
            let delta = match evaluation.verdict {
                Verdict::Approve => 1,
                Verdict::Flag => -1,
            };
            local.push((evaluation.evaluator, contributor, delta));
        }
    }
    eigentrust(
        prepared.member_count(),
        &local,
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
}
