//! The distribution of an income through ordered buckets (§5), with
//! Hamilton's largest-remainder rounding so every bucket pays exactly the
//! cents it says, and the reserve for whatever no bucket pays.

use ethnum::U256;

use super::allocation::{
    give_received, impartial_reports, impartial_shares, participation, standing,
};
use super::error::{Result, ScoringError};
use super::json::Path;
use super::limits::{MAX_IMPARTIAL_PARTICIPANTS, PPM};
use super::policy::{Bucket, Mechanism, Mode, SharesMethod};
use super::review::Reviewed;
use super::trust::to_weight;
use super::validate::Prepared;
use super::value::Scored;

/// Exact integer types Hamilton's rule can run on.
trait Exact: Copy + Ord {
    const ZERO: Self;
    /// (floor(amount × self / total), amount × self mod total), or None if
    /// amount × self does not fit.
    fn share_of(self, amount: u64, total: Self) -> Option<(u64, Self)>;
}

impl Exact for u128 {
    const ZERO: Self = 0;
    fn share_of(self, amount: u64, total: Self) -> Option<(u64, Self)> {
        // Usually the product and the total fit u64, where the division is
        // one instruction rather than a call to the 128-bit routine (a
        // bucket may have hundreds of thousands of claims); the quotient
        // and remainder are the same.
        if let (Ok(weight), Ok(total)) = (u64::try_from(self), u64::try_from(total))
            && let Some(product) = amount.checked_mul(weight)
        {
            return Some((product / total, u128::from(product % total)));
        }
        let product = u128::from(amount).checked_mul(self)?;
        // product / total ≤ amount because self ≤ total, so it fits u64.
        Some(((product / total) as u64, product % total))
    }
}

impl Exact for U256 {
    const ZERO: Self = U256::ZERO;
    fn share_of(self, amount: u64, total: Self) -> Option<(u64, Self)> {
        let product = U256::from(amount).checked_mul(self)?;
        let (quotient, remainder) = product.div_rem(total);
        Some((quotient.as_u64(), remainder))
    }
}

fn hamilton_with<T: Exact>(amount: u64, weights: &[T], total: T) -> Option<Vec<u64>> {
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(T, u32)> = Vec::new();
    let mut handed: u64 = 0;
    for (position, &weight) in weights.iter().enumerate() {
        let (share, remainder) = weight.share_of(amount, total)?;
        handed = handed.checked_add(share)?;
        shares.push(share);
        if remainder > T::ZERO {
            remainders.push((remainder, position as u32));
        }
    }
    // Σ floor ≤ amount, and fewer units are left than there are positive
    // remainders (their sum is left × total).
    let left = amount.checked_sub(handed)? as usize;
    if left > remainders.len() {
        return None;
    }
    // Largest remainder first; ties to the smaller position (= smaller id).
    // Positions are distinct, so this order is total and the `left` first
    // are one definite set: selecting them (linear) gives the same set as
    // sorting everything would.
    let by_rank = |a: &(T, u32), b: &(T, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    if left > 0 && left < remainders.len() {
        remainders.select_nth_unstable_by(left - 1, by_rank);
    }
    for &(_, position) in &remainders[..left] {
        shares[position as usize] += 1;
    }
    Some(shares)
}

fn hamilton_failed(amount: u64) -> ScoringError {
    ScoringError::invariant(format!("Hamilton rounding of {amount} did not add up"))
}

/// Splits `amount` pro rata to `weights` with Hamilton's largest remainder
/// rule: floor(A × w_i / W) each, the units left one each to the largest
/// remainders, ties to the smaller position. Callers list claimants in id
/// order, so ties go to the smaller id. All weights 0: nothing is paid.
/// Pays exactly `amount` otherwise.
pub fn hamilton(amount: u64, weights: &[u128]) -> Result<Vec<u64>> {
    let mut total: u128 = 0;
    let mut overflow = false;
    for &weight in weights {
        match total.checked_add(weight) {
            Some(sum) => total = sum,
            None => overflow = true,
        }
    }
    if !overflow && total == 0 {
        return Ok(vec![0; weights.len()]);
    }
    if !overflow && u128::from(amount).checked_mul(total).is_some() {
        return hamilton_with(amount, weights, total).ok_or_else(|| hamilton_failed(amount));
    }
    let wide: Vec<U256> = weights.iter().map(|&w| U256::from(w)).collect();
    hamilton_wide(amount, &wide)
}

/// [`hamilton`] for weights that need more than 128 bits (balanced shares).
pub fn hamilton_wide(amount: u64, weights: &[U256]) -> Result<Vec<u64>> {
    let mut total = U256::ZERO;
    for &weight in weights {
        total = total
            .checked_add(weight)
            .ok_or_else(|| ScoringError::invariant("bucket weights exceed 256 bits"))?;
    }
    if total == U256::ZERO {
        return Ok(vec![0; weights.len()]);
    }
    hamilton_with(amount, weights, total).ok_or_else(|| hamilton_failed(amount))
}

/// Who a bucket paid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Recipient {
    /// A member, by index.
    Member(u32),
    /// A named fund that is not a member.
    Fund(String),
}

/// One reimbursement claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    /// Contribution index.
    pub contribution: u32,
    /// What was still owed before this bucket.
    pub outstanding: u64,
    /// What this bucket repaid.
    pub paid: u64,
}

/// What a bucket's payments were proportional to.
#[derive(Debug, Clone)]
pub(crate) enum Basis {
    /// A fixed bucket pays its whole amount to one recipient.
    Fixed,
    /// Claims in contribution-id order, and their total.
    Reimburse { claims: Vec<Claim>, owed: u128 },
    /// Members with points > 0 (id order) with their points, and for the
    /// balanced method what they had already been paid.
    Shares {
        points: Vec<(u32, u128)>,
        prior: Option<Vec<u128>>,
    },
    /// Integer weights per member (GIVE received, or share × 1e9).
    Allocation {
        weights: Vec<(u32, u64)>,
        participants: usize,
    },
}

/// What one bucket did.
#[derive(Debug, Clone)]
pub(crate) struct BucketOutcome {
    /// What its percent applied to.
    pub base: u64,
    /// A = floor(base × percent_ppm / 10^6).
    pub amount: u64,
    /// Σ paid (≤ amount).
    pub total_paid: u64,
    /// Recipients paid more than 0, members in id order then funds.
    pub paid: Vec<(Recipient, u64)>,
    /// Why each got what they got.
    pub basis: Basis,
}

/// The whole distribution.
pub(crate) struct Distributed {
    /// One outcome per bucket, in bucket order.
    pub buckets: Vec<BucketOutcome>,
    /// What no bucket paid.
    pub reserve: u64,
    /// What this distribution repaid per contribution (input order).
    pub repaid: Vec<u64>,
    /// Warnings (negative impartial shares, unconverged trust...).
    pub warnings: Vec<String>,
}

/// Impartial division, computed once per set of participants and shared by
/// every impartial bucket with that set.
struct Impartial {
    participants: Vec<u32>,
    weights: Vec<u64>,
}

/// Member → amount, as a list of recipients paid more than 0.
fn paid_members(per_member: &[u64]) -> Vec<(Recipient, u64)> {
    per_member
        .iter()
        .enumerate()
        .filter(|&(_, &amount)| amount > 0)
        .map(|(member, &amount)| (Recipient::Member(member as u32), amount))
        .collect()
}

/// Runs the buckets in order.
pub(crate) fn distribute(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    scored: &Scored,
) -> Result<Distributed> {
    let input = prepared.input;
    let document = &input.policy;
    let rows = &prepared.rows;
    let members = prepared.member_count();
    let mut warnings = Vec::new();
    let mut remaining = input.income;
    let mut repaid = vec![0u64; rows.len()];
    let mut paid_by_shares = vec![0u128; members];
    let mut impartial: Vec<Impartial> = Vec::new();
    let trust = reviewed
        .trust
        .is_some()
        .then_some(reviewed.weights.as_slice());
    let mut outcomes = Vec::with_capacity(document.buckets.len());
    let buckets_path = Path::Root("distribution.buckets");

    for (b, bucket) in document.buckets.iter().enumerate() {
        let base = match document.mode {
            Mode::Remaining => remaining,
            Mode::Straight => input.income,
        };
        // base ≤ 10^15 and percent ≤ 10^6: the product fits u128 and the
        // quotient is at most base.
        let amount = (u128::from(base) * u128::from(bucket.percent_ppm()) / u128::from(PPM)) as u64;
        let (paid, basis) = match bucket {
            Bucket::Fixed { recipient, .. } => {
                let who = match prepared.members.binary_search(&recipient.as_str()) {
                    Ok(member) => Recipient::Member(member as u32),
                    Err(_) => Recipient::Fund(recipient.clone()),
                };
                let paid = if amount > 0 {
                    vec![(who, amount)]
                } else {
                    vec![]
                };
                (paid, Basis::Fixed)
            }
            Bucket::Reimburse { kinds, .. } => {
                // Scan in input order (sequential memory), then put the
                // claims in contribution-id order for the tie-break.
                let mut ranked: Vec<(u32, Claim)> = Vec::new();
                let mut owed: u128 = 0;
                for (c, row) in rows.iter().enumerate() {
                    if !scored.contributions[c].counted
                        || !reviewed.reviews[c].valid
                        || !kinds.contains(&row.kind)
                    {
                        continue;
                    }
                    let already = u128::from(prepared.prior_repaid[c]) + u128::from(repaid[c]);
                    let value = u128::from(row.value);
                    if value > already {
                        // ≤ value ≤ 10^15.
                        let outstanding = (value - already) as u64;
                        owed += u128::from(outstanding);
                        let claim = Claim {
                            contribution: c as u32,
                            outstanding,
                            paid: 0,
                        };
                        ranked.push((prepared.contribution_rank[c], claim));
                    }
                }
                ranked.sort_unstable_by_key(|&(rank, _)| rank);
                let mut claims: Vec<Claim> = ranked.into_iter().map(|(_, claim)| claim).collect();
                let pay = owed.min(u128::from(amount)) as u64;
                let weights: Vec<u128> = claims.iter().map(|c| u128::from(c.outstanding)).collect();
                let shares = hamilton(pay, &weights)?;
                let mut per_member = vec![0u64; members];
                for (claim, share) in claims.iter_mut().zip(shares) {
                    if share > claim.outstanding {
                        return Err(ScoringError::invariant(format!(
                            "bucket {b} repaid {share} on a claim of {}",
                            claim.outstanding
                        )));
                    }
                    claim.paid = share;
                    repaid[claim.contribution as usize] += share;
                    per_member
                        [prepared.contribution_member[claim.contribution as usize] as usize] +=
                        share;
                }
                (paid_members(&per_member), Basis::Reimburse { claims, owed })
            }
            Bucket::Shares { kinds, method, .. } => {
                let mut points = vec![0u128; members];
                for (c, row) in rows.iter().enumerate() {
                    let scored = &scored.contributions[c];
                    let selected = match method {
                        SharesMethod::Immediate => scored.in_period,
                        SharesMethod::Balanced => scored.counted,
                    };
                    if selected && scored.points > 0 && kinds.contains(&row.kind) {
                        points[prepared.contribution_member[c] as usize] +=
                            u128::from(scored.points);
                    }
                }
                let holders: Vec<(u32, u128)> = points
                    .iter()
                    .enumerate()
                    .filter(|&(_, &p)| p > 0)
                    .map(|(m, &p)| (m as u32, p))
                    .collect();
                let (shares, prior) = match method {
                    SharesMethod::Immediate => {
                        let weights: Vec<u128> = holders.iter().map(|h| h.1).collect();
                        (hamilton(amount, &weights)?, None)
                    }
                    SharesMethod::Balanced => {
                        let prior: Vec<u128> = holders
                            .iter()
                            .map(|&(m, _)| {
                                prepared.prior_paid[m as usize] + paid_by_shares[m as usize]
                            })
                            .collect();
                        let weights = balanced_weights(&holders, &prior, amount)?;
                        (hamilton_wide(amount, &weights)?, Some(prior))
                    }
                };
                let mut per_member = vec![0u64; members];
                for (&(member, _), share) in holders.iter().zip(shares) {
                    per_member[member as usize] = share;
                    paid_by_shares[member as usize] += u128::from(share);
                }
                (
                    paid_members(&per_member),
                    Basis::Shares {
                        points: holders,
                        prior,
                    },
                )
            }
            Bucket::Allocation { mechanism, .. } => {
                let path = buckets_path.index(b);
                let listed = prepared
                    .bucket_participants
                    .get(b)
                    .and_then(Option::as_deref);
                let taking_part = participation(members, listed, trust);
                let (weights, participants, pay) = match mechanism {
                    Mechanism::Give => {
                        let received = give_received(&standing(prepared), &taking_part);
                        let weights: Vec<(u32, u64)> = received
                            .iter()
                            .enumerate()
                            .filter(|&(_, &r)| r > 0)
                            .map(|(m, &r)| (m as u32, r))
                            .collect();
                        let participants = weights.len();
                        (weights, participants, amount)
                    }
                    Mechanism::Impartial => {
                        let position = match impartial.iter().position(|division| {
                            division
                                .participants
                                .iter()
                                .map(|&m| m as usize)
                                .eq((0..members).filter(|&m| taking_part[m]))
                        }) {
                            Some(position) => position,
                            None => {
                                impartial.push(divide_impartially(
                                    prepared,
                                    &taking_part,
                                    &path,
                                    &mut warnings,
                                )?);
                                impartial.len() - 1
                            }
                        };
                        let division = &impartial[position];
                        let weights: Vec<(u32, u64)> = division
                            .participants
                            .iter()
                            .copied()
                            .zip(division.weights.iter().copied())
                            .collect();
                        let n = division.participants.len();
                        let pay = if n == 3 {
                            // The three shares may sum below 1: pay only
                            // min(A, floor(A × Σw / 1e9)).
                            let total: u128 = weights.iter().map(|w| u128::from(w.1)).sum();
                            let due = u128::from(amount) * total / 1_000_000_000;
                            due.min(u128::from(amount)) as u64
                        } else {
                            amount
                        };
                        (weights, n, pay)
                    }
                };
                let plain: Vec<u128> = weights.iter().map(|w| u128::from(w.1)).collect();
                let shares = hamilton(pay, &plain)?;
                let mut per_member = vec![0u64; members];
                for (&(member, _), share) in weights.iter().zip(shares) {
                    per_member[member as usize] = share;
                }
                (
                    paid_members(&per_member),
                    Basis::Allocation {
                        weights,
                        participants,
                    },
                )
            }
        };
        let total_paid = paid
            .iter()
            .try_fold(0u64, |sum, (_, amount)| sum.checked_add(*amount))
            .ok_or_else(|| ScoringError::invariant(format!("bucket {b} overflowed")))?;
        if total_paid > amount {
            return Err(ScoringError::invariant(format!(
                "bucket {b} paid {total_paid}, more than its amount {amount}"
            )));
        }
        remaining = remaining.checked_sub(total_paid).ok_or_else(|| {
            ScoringError::invariant(format!("bucket {b} paid more than the income left"))
        })?;
        outcomes.push(BucketOutcome {
            base,
            amount,
            total_paid,
            paid,
            basis,
        });
    }
    Ok(Distributed {
        buckets: outcomes,
        reserve: remaining,
        repaid,
        warnings,
    })
}

/// weight_i = max(0, (Q + A) × points_i − prior_i × P), exactly, over the
/// members with points > 0 (SourceCred's BALANCED).
fn balanced_weights(holders: &[(u32, u128)], prior: &[u128], amount: u64) -> Result<Vec<U256>> {
    let overflow = || ScoringError::invariant("balanced weights exceed 256 bits");
    let p_total = holders
        .iter()
        .try_fold(U256::ZERO, |sum, h| sum.checked_add(U256::from(h.1)))
        .ok_or_else(overflow)?;
    let q_total = prior
        .iter()
        .try_fold(U256::ZERO, |sum, &q| sum.checked_add(U256::from(q)))
        .ok_or_else(overflow)?;
    let budget = q_total
        .checked_add(U256::from(amount))
        .ok_or_else(overflow)?;
    holders
        .iter()
        .zip(prior)
        .map(|(&(_, points), &prior)| {
            let earned = budget
                .checked_mul(U256::from(points))
                .ok_or_else(overflow)?;
            let had = U256::from(prior)
                .checked_mul(p_total)
                .ok_or_else(overflow)?;
            Ok(if earned > had {
                earned - had
            } else {
                U256::ZERO
            })
        })
        .collect()
}

/// Impartial division over the period's allocations, with shares turned into
/// integer weights; negative shares become 0 with a warning.
fn divide_impartially(
    prepared: &Prepared<'_>,
    taking_part: &[bool],
    path: &Path<'_>,
    warnings: &mut Vec<String>,
) -> Result<Impartial> {
    // Counted before any report is read: the bound keeps the n⁴ rule below
    // about 10 s of CPU whatever the membership.
    let n = taking_part.iter().filter(|&&part| part).count();
    let who = "the bucket's participants, or every member when it names none; with \
               eigentrust weights only those with trust above 0";
    if n < 3 {
        return Err(path.key("mechanism").err(format!(
            "impartial division needs at least three participants ({who}); got {n}"
        )));
    }
    if n > MAX_IMPARTIAL_PARTICIPANTS {
        return Err(path.key("mechanism").err(format!(
            "impartial division takes at most {MAX_IMPARTIAL_PARTICIPANTS} participants ({who}); \
             got {n}: name the team in the bucket's participants"
        )));
    }
    let standing = standing(prepared);
    let (participants, reports) = impartial_reports(&standing, taking_part);
    let shares = impartial_shares(&reports)
        .ok_or_else(|| ScoringError::invariant("impartial reports are not n × n"))?;
    let weights = participants
        .iter()
        .zip(&shares)
        .map(|(&member, &share)| {
            if share < 0.0 {
                warnings.push(format!(
                    "impartial division: the share of {:?} came out negative ({share}) from \
                     inconsistent reports and was set to 0",
                    prepared.members[member as usize]
                ));
            }
            to_weight(share.max(0.0))
        })
        .collect();
    Ok(Impartial {
        participants,
        weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hamilton_pays_exactly_and_breaks_ties_to_the_first() {
        // Three equal claims on 100.00: 33.34 to the first.
        assert_eq!(
            hamilton(10_000, &[1, 1, 1]).unwrap(),
            vec![3334, 3333, 3333]
        );
        // Largest remainder wins over position.
        assert_eq!(hamilton(10, &[1, 2]).unwrap(), vec![3, 7]);
        assert_eq!(hamilton(10, &[0, 0]).unwrap(), vec![0, 0]);
        assert_eq!(hamilton(0, &[5, 7]).unwrap(), vec![0, 0]);
    }

    #[test]
    fn hamilton_is_exact_beyond_128_bits() {
        // A × w overflows u128 here; the 256-bit path must agree with the
        // scaled-down problem (weights all multiplied by 10^20).
        let big = 10u128.pow(20);
        let scaled = hamilton(1_000_000_000_000_000, &[3 * big, 7 * big, 11 * big]).unwrap();
        let small = hamilton(1_000_000_000_000_000, &[3, 7, 11]).unwrap();
        assert_eq!(scaled, small);
        assert_eq!(scaled.iter().sum::<u64>(), 1_000_000_000_000_000);
    }

    #[test]
    fn balanced_weights_back_pay_the_underpaid() {
        // Equal points, one already paid 100: the other gets the first 100.
        let holders = [(0u32, 10u128), (1, 10)];
        let weights = balanced_weights(&holders, &[100, 0], 100).unwrap();
        // (Q + A) × p − prior × P = 200×10 − 100×20 = 0 and 200×10 − 0 = 2000.
        assert_eq!(weights, vec![U256::ZERO, U256::from(2000u32)]);
        assert_eq!(hamilton_wide(100, &weights).unwrap(), vec![0, 100]);
    }

    /// Hamilton's rule written out with a full sort, for comparison.
    fn hamilton_by_sorting(amount: u64, weights: &[u128]) -> Vec<u64> {
        let total: u128 = weights.iter().sum();
        if total == 0 {
            return vec![0; weights.len()];
        }
        let mut shares: Vec<u64> = Vec::new();
        let mut remainders = Vec::new();
        for (position, &weight) in weights.iter().enumerate() {
            let product = U256::from(amount) * U256::from(weight);
            let (share, remainder) = product.div_rem(U256::from(total));
            shares.push(share.as_u64());
            remainders.push((remainder, position));
        }
        let left = amount - shares.iter().sum::<u64>();
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, position) in &remainders[..left as usize] {
            shares[position] += 1;
        }
        shares
    }

    #[test]
    fn hamilton_matches_the_rule_written_out() {
        let mut state = 0xD1B5_4A32_D192_ED03u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let len = 1 + (next() % 40) as usize;
            // Small weights (many equal remainders), ordinary ones, and
            // ones whose products leave u64 (the 128-bit path).
            let scale: u128 = match round % 3 {
                0 => 3,
                1 => 1_000_000,
                _ => 1 << 70,
            };
            let weights: Vec<u128> = (0..len).map(|_| u128::from(next()) % scale).collect();
            let amount = next() % 1_000_000_000_000_000;
            assert_eq!(
                hamilton(amount, &weights).unwrap(),
                hamilton_by_sorting(amount, &weights),
                "{amount} {weights:?}"
            );
        }
    }
}
