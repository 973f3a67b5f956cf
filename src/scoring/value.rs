//! The value of a contribution (§1) and its points (§3).
//!
//! Value is money: `floor(minutes × hourly rate / 60)` for work, the
//! quantity itself for money and expenses, `quantity × unit rate` for
//! resources and use. Points take the value through the kind multiplier,
//! each tag multiplier in tag order, the stepwise decay and the quality,
//! flooring after every step, in exact integer arithmetic.

use super::error::{Result, ScoringError};
use super::input::{Contribution, Kind, Period};
use super::json::Path;
use super::limits::{MAX_POINTS, PPM};
use super::policy::{Decay, Policy};
use super::review::Reviewed;
use super::validate::Prepared;

/// Where a contribution's rate came from (§1's resolution order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateFrom {
    /// The contribution's own `rate`.
    Own,
    /// `policy.rates[tag]` for the tag at this index of the contribution.
    Tag(u32),
    /// `policy.default_rates[kind]`.
    Default,
    /// Nothing resolved: the value is 0 and the report warns.
    Missing,
    /// Money and expenses need no rate.
    NotNeeded,
}

/// Resolves the rate of a contribution: its own, else the first tag's that
/// has one, else the kind's default, else none.
pub(crate) fn resolve_rate(
    contribution: &Contribution,
    policy: &Policy,
) -> (Option<u64>, RateFrom) {
    if contribution.kind.is_money() {
        return (None, RateFrom::NotNeeded);
    }
    if let Some(rate) = contribution.rate {
        return (Some(rate), RateFrom::Own);
    }
    for (index, tag) in contribution.tags.iter().enumerate() {
        if let Some(&rate) = policy.rates.get(tag) {
            return (Some(rate), RateFrom::Tag(index as u32));
        }
    }
    match policy.default_rates.get(&contribution.kind) {
        Some(&rate) => (Some(rate), RateFrom::Default),
        None => (None, RateFrom::Missing),
    }
}

/// value(c) in minor units, before the 10^15 limit is checked (so it is
/// u128: 10^15 × 10^15 does not fit u64).
pub(crate) fn value_of(kind: Kind, quantity: u64, rate: Option<u64>) -> u128 {
    let quantity = u128::from(quantity);
    match (kind, rate) {
        (Kind::Money | Kind::Expense, _) => quantity,
        (Kind::Work, Some(rate)) => quantity * u128::from(rate) / 60,
        (Kind::Resource | Kind::Use, Some(rate)) => quantity * u128::from(rate),
        (_, None) => 0,
    }
}

/// d_k for every k up to the first zero (after which every d_k is 0), so a
/// million contributions cost one table, not a million loops.
pub(crate) struct DecayTable {
    interval_seconds: i64,
    factors: Vec<u64>,
}

impl DecayTable {
    /// The table for `decay` covering steps up to `max_steps`.
    pub(crate) fn new(decay: Decay, max_steps: u64) -> DecayTable {
        // interval_days ≤ MAX_DECAY_INTERVAL_DAYS, so this cannot overflow.
        let interval_seconds = (decay.interval_days as i64) * 86_400;
        let mut factors = vec![PPM];
        let mut d = PPM;
        // d strictly decreases while rate_ppm > 0, so the loop ends within
        // 10^6 steps; with rate 0 every factor is 10^6 and one entry is enough.
        if decay.rate_ppm > 0 {
            while (factors.len() as u64) <= max_steps && d > 0 {
                d = d * (PPM - decay.rate_ppm) / PPM;
                factors.push(d);
            }
        }
        DecayTable {
            interval_seconds,
            factors,
        }
    }

    /// k = floor((end − at) / interval) for a contribution dated before `end`.
    pub(crate) fn steps(&self, end: i64, at: i64) -> u64 {
        ((end - at) / self.interval_seconds).max(0) as u64
    }

    /// d_k.
    pub(crate) fn factor(&self, steps: u64) -> u64 {
        match self.factors.get(steps as usize) {
            Some(&d) => d,
            // The table covers every step asked for, unless it stopped at
            // its first zero (every later d_k is 0 too) or the rate is 0
            // (one entry, 10^6, and every d_k is 10^6): either way the last
            // entry is the answer.
            None => *self.factors.last().unwrap_or(&PPM),
        }
    }
}

/// The multiplications of §3, steps 2 to 5, after the value. Returns None
/// if an intermediate product leaves u128 (only with many 1000× tags).
pub(crate) fn points_of(
    value: u64,
    kind_ppm: u64,
    tag_ppms: impl Iterator<Item = u64>,
    decay_ppm: u64,
    quality: u8,
) -> Option<u128> {
    let ppm = u128::from(PPM);
    let mut x = u128::from(value).checked_mul(u128::from(kind_ppm))? / ppm;
    for tag_ppm in tag_ppms {
        x = x.checked_mul(u128::from(tag_ppm))? / ppm;
    }
    x = x.checked_mul(u128::from(decay_ppm))? / ppm;
    Some(x.checked_mul(u128::from(quality) * 10_000)? / ppm)
}

/// The points side of one contribution dated before the period end.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContributionPoints {
    /// Dated before the period end: counts for reimbursement and balanced
    /// shares, and is explained.
    pub counted: bool,
    /// Dated inside the period: counts for immediate shares and `points`.
    pub in_period: bool,
    /// Decay steps k.
    pub decay_steps: u64,
    /// d_k in ppm.
    pub decay_ppm: u64,
    /// points(c) (at most 10^18, so it fits u64); 0 if invalid.
    pub points: u64,
}

/// Per-contribution points, in input order.
pub(crate) struct Scored {
    pub contributions: Vec<ContributionPoints>,
}

/// Computes points(c) for every contribution dated before the period end,
/// refusing one whose points exceed 10^18.
pub(crate) fn score_contributions(prepared: &Prepared<'_>, reviewed: &Reviewed) -> Result<Scored> {
    let input = prepared.input;
    let policy = &input.policy.policy;
    let Period { end, .. } = input.period;
    let table = policy.decay.map(|decay| {
        let interval = decay.interval_days.saturating_mul(86_400);
        let max_steps = input
            .contributions
            .iter()
            .filter(|c| c.at < end)
            .map(|c| ((end - c.at) as u64) / interval)
            .max()
            .unwrap_or(0);
        DecayTable::new(decay, max_steps)
    });
    let contributions_path = Path::Root("contributions");
    let mut out = Vec::with_capacity(input.contributions.len());
    for (index, contribution) in input.contributions.iter().enumerate() {
        if contribution.at >= end {
            out.push(ContributionPoints::default());
            continue;
        }
        let (decay_steps, decay_ppm) = match &table {
            Some(table) => {
                let steps = table.steps(end, contribution.at);
                (steps, table.factor(steps))
            }
            None => (0, PPM),
        };
        let review = &reviewed.reviews[index];
        let points = if review.valid {
            let kind_ppm = policy
                .kind_multiplier_ppm
                .get(&contribution.kind)
                .copied()
                .unwrap_or(PPM);
            let tag_ppms = contribution
                .tags
                .iter()
                .filter_map(|tag| policy.tag_multiplier_ppm.get(tag).copied());
            let too_many = || {
                ScoringError::invalid(
                    contributions_path.index(index),
                    format!(
                        "points of contribution {:?} must be at most {MAX_POINTS} \
                         (its value times its multipliers is larger)",
                        contribution.id
                    ),
                )
            };
            let points = points_of(
                prepared.valued[index].value,
                kind_ppm,
                tag_ppms,
                decay_ppm,
                review.quality,
            )
            .ok_or_else(too_many)?;
            if points > MAX_POINTS {
                return Err(too_many());
            }
            // At most MAX_POINTS = 10^18 < 2^64, checked just above.
            points as u64
        } else {
            0
        };
        out.push(ContributionPoints {
            counted: true,
            in_period: input.period.contains(contribution.at),
            decay_steps,
            decay_ppm,
            points,
        });
    }
    Ok(Scored { contributions: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_follows_the_kind() {
        assert_eq!(value_of(Kind::Work, 90, Some(3000)), 4500);
        // floor(7 minutes × 1000 / 60) = floor(116.67)
        assert_eq!(value_of(Kind::Work, 7, Some(1000)), 116);
        assert_eq!(value_of(Kind::Money, 12_000, Some(5)), 12_000);
        assert_eq!(value_of(Kind::Use, 10, Some(1500)), 15_000);
        assert_eq!(value_of(Kind::Resource, 10, None), 0);
    }

    #[test]
    fn decay_floors_each_step_and_stops_at_zero() {
        let table = DecayTable::new(
            Decay {
                interval_days: 7,
                rate_ppm: 50_000,
            },
            10,
        );
        assert_eq!(table.factor(0), 1_000_000);
        assert_eq!(table.factor(3), 857_375);
        let week = 7 * 86_400;
        assert_eq!(table.steps(10 * week, 7 * week + 1), 2);
        let harsh = DecayTable::new(
            Decay {
                interval_days: 1,
                rate_ppm: 999_999,
            },
            1_000,
        );
        assert_eq!(harsh.factor(1), 1);
        assert_eq!(harsh.factor(2), 0);
        assert_eq!(harsh.factor(500), 0);
        let none = DecayTable::new(
            Decay {
                interval_days: 1,
                rate_ppm: 0,
            },
            1_000,
        );
        assert_eq!(none.factor(999), 1_000_000);
    }

    #[test]
    fn points_floor_after_every_step() {
        // 24000 × 0.857375 = 20577, × 70% = 14403.9 → 14403 (peer-review-median).
        assert_eq!(
            points_of(24_000, PPM, std::iter::empty(), 857_375, 70),
            Some(14_403)
        );
        // Flooring per step: 1 × 1.5 = 1 (not 1.5), then × 2 = 2 (not 3).
        assert_eq!(
            points_of(1, 1_500_000, [2_000_000].into_iter(), PPM, 100),
            Some(2)
        );
        assert_eq!(
            points_of(
                1_000_000_000_000_000,
                1_000_000_000,
                [1_000_000_000; 8].into_iter(),
                PPM,
                100
            ),
            None
        );
    }
}
