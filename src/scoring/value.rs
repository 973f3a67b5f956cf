//! The points of a contribution (§3), from its value (§1).
//!
//! The value is money, computed with the contribution's rate during
//! validation (`rate::value_of`: `floor(minutes × hourly rate / 60)` for
//! work, the quantity itself for money and expenses, `quantity × unit rate`
//! for resources and use). Points take the value through the kind
//! multiplier, each tag multiplier in tag order, the stepwise decay and the
//! quality, flooring after every step, in exact integer arithmetic.

use super::error::{Result, ScoringError};
use super::input::Period;
use super::json::Path;
use super::kind::Kind;
use super::limits::{MAX_POINTS, PPM};
use super::policy::Decay;
use super::review::Reviewed;
use super::validate::Prepared;

// value(c) itself is computed where the rate is resolved (validation needs
// it, and must not depend on this module); the payout views use it here.
pub(crate) use super::rate::value_of;

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

/// floor(x × factor / 10^6), or None if x × factor leaves u128.
fn scale(x: u128, factor: u64) -> Option<u128> {
    // Nearly every product fits u64, where the division is one instruction
    // instead of a call to the 128-bit routine; the floor is the same.
    if let Ok(small) = u64::try_from(x)
        && let Some(product) = small.checked_mul(factor)
    {
        return Some(u128::from(product / PPM));
    }
    Some(x.checked_mul(u128::from(factor))? / u128::from(PPM))
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
    let mut x = scale(u128::from(value), kind_ppm)?;
    for tag_ppm in tag_ppms {
        x = scale(x, tag_ppm)?;
    }
    x = scale(x, decay_ppm)?;
    scale(x, u64::from(quality) * 10_000)
}

/// The points side of one contribution (24 bytes, input order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ContributionPoints {
    /// points(c) (at most 10^18, so it fits u64); 0 if invalid.
    pub points: u64,
    /// Decay steps k (at most (9999-12-31 − 0000-01-01) / 1 day ≈ 3.7
    /// million).
    pub decay_steps: u32,
    /// d_k in ppm (≤ 10^6).
    pub decay_ppm: u32,
    /// Dated before the period end: counts for reimbursement and balanced
    /// shares, and is explained.
    pub counted: bool,
    /// Dated inside the period: counts for immediate shares and `points`.
    pub in_period: bool,
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
        let max_steps = prepared
            .at
            .iter()
            .filter(|&&at| at < end)
            .map(|&at| ((end - at) as u64) / interval)
            .max()
            .unwrap_or(0);
        DecayTable::new(decay, max_steps)
    });
    let kind_ppm = Kind::ALL.map(|kind| {
        policy
            .kind_multiplier_ppm
            .get(&kind)
            .copied()
            .unwrap_or(PPM)
    });
    let contributions_path = Path::Root("contributions");
    let mut out = Vec::with_capacity(prepared.rows.len());
    for (index, ((row, &at), review)) in prepared
        .rows
        .iter()
        .zip(&prepared.at)
        .zip(&reviewed.reviews)
        .enumerate()
    {
        if at >= end {
            out.push(ContributionPoints::default());
            continue;
        }
        let (decay_steps, decay_ppm) = match &table {
            Some(table) => {
                let steps = table.steps(end, at);
                (steps, table.factor(steps))
            }
            None => (0, PPM),
        };
        let points = if review.valid {
            let tag_ppms = prepared
                .multipliers_of(row)
                .iter()
                .map(|&t| prepared.tags.multiplier(t));
            let too_many = || {
                ScoringError::invalid(
                    contributions_path.index(index),
                    format!(
                        "points of contribution {:?} must be at most {MAX_POINTS} \
                         (its value times its multipliers is larger)",
                        prepared.ids.get(index)
                    ),
                )
            };
            let points = points_of(
                row.value,
                kind_ppm[row.kind.index()],
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
            points,
            // Both bounded as documented on the fields.
            decay_steps: u32::try_from(decay_steps).unwrap_or(u32::MAX),
            decay_ppm: u32::try_from(decay_ppm).unwrap_or(u32::MAX),
            counted: true,
            in_period: input.period.contains(at),
        });
    }
    Ok(Scored { contributions: out })
}

#[cfg(test)]
mod tests {
    use super::*;

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
