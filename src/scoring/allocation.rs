//! Peer allocations (§4): GIVE circles and impartial division.
//!
//! In a GIVE circle (Coordinape) each member splits 100 among the others and
//! the bucket is split pro rata to what each received. Impartial division
//! (de Clippel, Moulin & Tideman 2008) uses only the *ratios* each member
//! reports between two others, in such a way that nobody's own report can
//! change their own share: a member cannot lobby for themselves.

use super::validate::Prepared;

/// The standing allocation of each member (index = member rank): the last
/// one they made for the period, as (receiver, percent > 0) in id order.
pub(crate) fn standing<'p>(prepared: &'p Prepared<'_>) -> Vec<Option<&'p [(u32, u64)]>> {
    let mut standing = vec![None; prepared.member_count()];
    for (from, to) in &prepared.allocations {
        standing[*from as usize] = Some(to.as_slice());
    }
    standing
}

/// Who takes part in one allocation bucket (§4), indexed by member: the
/// bucket's `participants` (sorted member indices) or, when it names none,
/// every member; with trust on (`trust` = the members' trust), only those
/// with trust > 0 (the allocation gate). Only allocations from a
/// participant to a participant count in the bucket.
pub(crate) fn participation(
    members: usize,
    listed: Option<&[u32]>,
    trust: Option<&[u64]>,
) -> Vec<bool> {
    let mut taking_part = match listed {
        Some(listed) => {
            let mut mask = vec![false; members];
            for &member in listed {
                mask[member as usize] = true;
            }
            mask
        }
        None => vec![true; members],
    };
    if let Some(trust) = trust {
        for (part, &t) in taking_part.iter_mut().zip(trust) {
            *part &= t > 0;
        }
    }
    taking_part
}

/// GIVE received per member: Σ of the percents given to them, counting only
/// allocations from a participant to a participant (`taking_part`, see
/// [`participation`]). A giver's percents to non-participants are lost,
/// not spread over the rest.
pub(crate) fn give_received(standing: &[Option<&[(u32, u64)]>], taking_part: &[bool]) -> Vec<u64> {
    let mut received = vec![0u64; standing.len()];
    for (giver, to) in standing.iter().enumerate() {
        let Some(to) = to else { continue };
        if !taking_part[giver] {
            continue;
        }
        for &(member, percent) in to.iter() {
            if taking_part[member as usize] {
                received[member as usize] += percent;
            }
        }
    }
    received
}

/// The participants of an impartial division (the members `taking_part`,
/// see [`participation`], in id order, whether or not they gave or received
/// anything) and each one's report as percents indexed by participant
/// position (`None`: gave nothing, treated as an even split). Percents given
/// to non-participants are never read.
pub(crate) fn impartial_reports(
    standing: &[Option<&[(u32, u64)]>],
    taking_part: &[bool],
) -> (Vec<u32>, Vec<Option<Vec<u64>>>) {
    let participants: Vec<u32> = (0..standing.len())
        .filter(|&m| taking_part[m])
        .map(|m| m as u32)
        .collect();
    let reports = participants
        .iter()
        .map(|&member| {
            standing[member as usize].map(|to| {
                let mut row = vec![0u64; participants.len()];
                for &(receiver, percent) in to {
                    if let Ok(position) = participants.binary_search(&receiver) {
                        row[position] = percent;
                    }
                }
                row
            })
        })
        .collect();
    (participants, reports)
}

/// The normalised report matrix R (row j = evaluator j, flat n × n): each
/// percent / 100 floored at 0.01, then divided by the row's sum (i ascending).
/// A participant who gave nothing splits evenly. The diagonal is 0 and never
/// read.
fn report_matrix(reports: &[Option<Vec<u64>>]) -> Vec<f64> {
    let n = reports.len();
    let mut r = vec![0.0f64; n * n];
    for (j, report) in reports.iter().enumerate() {
        let row = &mut r[j * n..(j + 1) * n];
        for (i, cell) in row.iter_mut().enumerate() {
            if i == j {
                continue;
            }
            let x = match report {
                Some(percents) => percents[i] as f64 / 100.0,
                None => 1.0 / (n - 1) as f64,
            };
            *cell = x.max(0.01);
        }
        let mut sum = 0.0;
        for (i, cell) in row.iter().enumerate() {
            if i != j {
                sum += *cell;
            }
        }
        for (i, cell) in row.iter_mut().enumerate() {
            if i != j {
                *cell /= sum;
            }
        }
    }
    r
}

/// Impartial shares of n ≥ 3 participants, in participant order.
///
/// `reports[j]` is participant j's report as integer percents indexed by
/// participant (its own entry ignored), or `None` for an even split. Each
/// percent / 100 is floored at 0.01 and the row renormalised, then
/// [`impartial_division`] runs. Returns `None` below three participants,
/// where no impartial split exists, or if a row is not n long.
pub fn impartial_shares(reports: &[Option<Vec<u64>>]) -> Option<Vec<f64>> {
    let n = reports.len();
    if reports.iter().flatten().any(|row| row.len() != n) {
        return None;
    }
    impartial_division(&report_matrix(reports), n)
}

/// The impartial division rule on a normalised report matrix: `r[j * n + i]`
/// is the fraction participant j gives participant i (rows sum to 1 over
/// i ≠ j, entries positive; the diagonal is never read).
///
/// The shares are the spec's f64 values bit for bit. For n ≥ 4 they sum to 1
/// up to rounding and one may be negative on extreme, inconsistent reports
/// (the caller sets it to 0 and says so); for n = 3 they may sum below 1.
/// On consistent reports (everyone reports the same relative split) they
/// are that split. `None` if n < 3 or `r` is not n × n.
pub fn impartial_division(r: &[f64], n: usize) -> Option<Vec<f64>> {
    if n < 3 || r.len() != n * n {
        return None;
    }
    let at = |l: usize, k: usize| r[l * n + k];
    if n == 3 {
        return Some(
            (0..3)
                .map(|i| {
                    let (j, k) = match i {
                        0 => (1, 2),
                        1 => (0, 2),
                        _ => (0, 1),
                    };
                    1.0 / (1.0 + at(j, k) / at(j, i) + at(k, j) / at(k, i))
                })
                .collect(),
        );
    }

    // f[j * n + i] = f^j_i. For each i, and each k ≠ i in ascending order,
    // acc[j] must become Σ over l ∉ {i, j, k}, l ascending, of
    // q_l = R[l][k] / R[l][i], for every residual claimant j at once: the
    // terms before j (the same for every j: a running prefix, 0 + q_first
    // + … in ascending order), then each later q_l in turn. Each acc[j]
    // depends only on its own additions, so any schedule that keeps each
    // acc[j]'s additions in ascending l gives the spec's sums bit for bit.
    // The schedule here: every prefix first, then the terms four at a time
    // — acc[j] += q_a; += q_b; += q_c; += q_d for every j below the first
    // of them, in one pass (one load and one store per four additions,
    // where one term per pass costs a load and a store per addition), and
    // the few j between them get the terms above them. Each ratio is
    // computed once, the work is n⁴/2 additions, and the passes vectorise
    // across j. The slot j = i is never read.
    let mut f = vec![0.0f64; n * n];
    let mut acc = vec![0.0f64; n];
    let mut sums = vec![0.0f64; n];
    // (l, q_l) for the l ∉ {i, k}, ascending.
    let mut terms: Vec<(usize, f64)> = Vec::with_capacity(n);
    let count_with_j = (n - 2) as f64;
    let count_without_j = (n - 3) as f64;
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for k in (0..n).filter(|&k| k != i) {
            terms.clear();
            let mut prefix = 0.0f64;
            for (l, a) in acc.iter_mut().enumerate() {
                *a = prefix;
                if l != i && l != k {
                    let ratio = at(l, k) / at(l, i);
                    terms.push((l, ratio));
                    prefix += ratio;
                }
            }
            let mut blocks = terms.chunks_exact(4);
            for block in &mut blocks {
                let [(l0, q0), (l1, q1), (l2, q2), (l3, q3)] =
                    [block[0], block[1], block[2], block[3]];
                for a in &mut acc[..l0] {
                    *a = *a + q0 + q1 + q2 + q3;
                }
                for a in &mut acc[l0..l1] {
                    *a = *a + q1 + q2 + q3;
                }
                for a in &mut acc[l1..l2] {
                    *a = *a + q2 + q3;
                }
                for a in &mut acc[l2..l3] {
                    *a += q3;
                }
            }
            for &(l, ratio) in blocks.remainder() {
                for a in &mut acc[..l] {
                    *a += ratio;
                }
            }
            // ρ_j(k, i) = acc[j] / count; S_j(i) += ρ_j(k, i), k ascending.
            for (j, (s, a)) in sums.iter_mut().zip(&acc).enumerate() {
                let count = if j == k {
                    count_with_j
                } else {
                    count_without_j
                };
                *s += a / count;
            }
        }
        for j in (0..n).filter(|&j| j != i) {
            f[j * n + i] = 1.0 / (1.0 + sums[j]);
        }
    }
    for j in 0..n {
        let mut others = 0.0;
        for i in (0..n).filter(|&i| i != j) {
            others += f[j * n + i];
        }
        f[j * n + j] = 1.0 - others;
    }
    let n_f = n as f64;
    let mut shares = vec![0.0f64; n];
    for j in 0..n {
        for (i, share) in shares.iter_mut().enumerate() {
            *share += f[j * n + i] / n_f;
        }
    }
    Some(shares)
}

/// The spec's formula for n ≥ 4, term by term, as written (O(n⁴) with no
/// sharing). The fast version must agree with it bit for bit. Indexed loops
/// on purpose: they read like the formula.
#[cfg(test)]
#[allow(clippy::needless_range_loop)]
fn impartial_shares_naive(reports: &[Option<Vec<u64>>]) -> Vec<f64> {
    let n = reports.len();
    let r = report_matrix(reports);
    let at = |l: usize, k: usize| r[l * n + k];
    let mut f = vec![vec![0.0f64; n]; n];
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            let mut sum = 0.0;
            let mut first = true;
            for k in (0..n).filter(|&k| k != i) {
                let mut rho = 0.0;
                let mut count = 0;
                for l in (0..n).filter(|&l| l != i && l != j && l != k) {
                    rho += at(l, k) / at(l, i);
                    count += 1;
                }
                let rho = rho / count as f64;
                if first {
                    sum = rho;
                    first = false;
                } else {
                    sum += rho;
                }
            }
            f[j][i] = 1.0 / (1.0 + sum);
        }
        let mut others = 0.0;
        for i in (0..n).filter(|&i| i != j) {
            others += f[j][i];
        }
        f[j][j] = 1.0 - others;
    }
    let mut shares = vec![0.0f64; n];
    for row in &f {
        for (i, share) in shares.iter_mut().enumerate() {
            *share += row[i] / n as f64;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random report for participant j of n.
    fn report(j: usize, n: usize, seed: u64) -> Option<Vec<u64>> {
        if (seed + j as u64).is_multiple_of(7) {
            return None;
        }
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(j as u64 + 1);
        let mut row = vec![0u64; n];
        let mut left = 100u64;
        let others: Vec<usize> = (0..n).filter(|&i| i != j).collect();
        for (position, &i) in others.iter().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let give = if position + 1 == others.len() {
                left
            } else {
                state % (left + 1) / 2
            };
            row[i] = give;
            left -= give;
        }
        Some(row)
    }

    #[test]
    fn three_participants_use_the_closed_form() {
        let shares = impartial_shares(&[
            Some(vec![0, 50, 50]),
            Some(vec![60, 0, 40]),
            Some(vec![70, 30, 0]),
        ])
        .unwrap();
        for (share, exact) in shares.iter().zip([21.0 / 44.0, 3.0 / 13.0, 2.0 / 7.0]) {
            assert!((share - exact).abs() < 1e-15, "{share} vs {exact}");
        }
    }

    #[test]
    fn fewer_than_three_have_no_impartial_split() {
        assert_eq!(
            impartial_shares(&[Some(vec![0, 100]), Some(vec![100, 0])]),
            None
        );
    }

    #[test]
    fn the_fast_rule_is_bit_identical_to_the_formula() {
        for n in [4usize, 5, 6, 7, 8, 9, 13, 22, 31] {
            for seed in 0..5u64 {
                let reports: Vec<_> = (0..n).map(|j| report(j, n, seed)).collect();
                let fast = impartial_shares(&reports).unwrap();
                let naive = impartial_shares_naive(&reports);
                let fast_bits: Vec<u64> = fast.iter().map(|x| x.to_bits()).collect();
                let naive_bits: Vec<u64> = naive.iter().map(|x| x.to_bits()).collect();
                assert_eq!(fast_bits, naive_bits, "n = {n}, seed = {seed}");
            }
        }
    }

    #[test]
    fn consistent_reports_return_the_consensus() {
        // Everyone agrees on 40/30/20/10 relative to the others.
        let consensus = [40.0, 30.0, 20.0, 10.0];
        let reports: Vec<Option<Vec<u64>>> = (0..4)
            .map(|j| {
                let rest: f64 = (0..4).filter(|&i| i != j).map(|i| consensus[i]).sum();
                let mut row = vec![0u64; 4];
                for i in (0..4).filter(|&i| i != j) {
                    row[i] = (consensus[i] / rest * 100.0).round() as u64;
                }
                Some(row)
            })
            .collect();
        // Whole percents cannot express 40/50/... exactly, so only check the
        // order and closeness here; exact agreement is a property test.
        let shares = impartial_shares(&reports).unwrap();
        assert!(
            shares.windows(2).all(|pair| pair[0] > pair[1]),
            "{shares:?}"
        );
        for (share, expected) in shares.iter().zip(consensus) {
            assert!((share - expected / 100.0).abs() < 0.01, "{shares:?}");
        }
    }
}
