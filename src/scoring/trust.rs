//! EigenTrust evaluator weights (§2).
//!
//! Members who approve each other's work trust each other; trust flows along
//! those approvals and is damped back towards a few pre-trusted members
//! (founders), so a ring of sybils that only approves itself keeps at most
//! (1 − a)/a times the trust that flows into it, however large it grows.
//!
//! The iteration is in f64 but bit-reproducible: members in id order, every
//! sum left to right in ascending member order, every product rounded
//! before it is added (Rust never fuses a multiply-add on its own), no
//! parallel reduction. The sparse matrix-vector product pushes row i's terms
//! for i ascending, so each t'_j receives its terms in exactly the order of
//! the spec's dense sum (the omitted terms are +0.0, which change nothing).

use super::error::{Result, ScoringError};
use super::limits::PPM;

/// At most this many iterations (§2).
pub const MAX_ITERATIONS: u32 = 10_000;
/// The iteration stops once Σ|t' − t| is at most this (§2).
pub const TOLERANCE: f64 = 1e-12;

/// The outcome of an EigenTrust run.
#[derive(Debug, Clone, PartialEq)]
pub struct EigenTrust {
    /// Global trust per member (index = member rank by id); sums to 1.
    pub trust: Vec<f64>,
    /// `round_half_even(trust × 1e9)` per member: the evaluator weights.
    pub weights: Vec<u64>,
    /// Iterations run.
    pub iterations: u32,
    /// Whether the change fell to the tolerance within the iteration limit.
    pub converged: bool,
}

/// Runs EigenTrust over `members` members.
///
/// `local_trust` lists (evaluator i, contributor j, delta): the deltas are
/// summed per (i, j) into s_ij (+1 per approval, −1 per flag). `pretrusted`
/// are member indices, at least one; `damping_ppm` is a in ppm, 1..=10^6.
/// Members are indices in id order, so the result depends only on the set
/// of triples, not on their order. Refuses an index out of range or an
/// empty pre-trusted set.
pub fn eigentrust(
    members: usize,
    local_trust: &[(u32, u32, i64)],
    pretrusted: &[u32],
    damping_ppm: u64,
) -> Result<EigenTrust> {
    if let Some(k) = local_trust
        .iter()
        .position(|&(i, j, _)| i as usize >= members || j as usize >= members)
    {
        return Err(ScoringError::invalid(
            format!("local_trust[{k}]"),
            format!("member index out of range 0..{members}"),
        ));
    }
    let pre = check_arguments(members, pretrusted, damping_ppm)?;
    // Group the triples by evaluator (a counting sort).
    let mut row_start = vec![0usize; members + 1];
    for &(i, _, _) in local_trust {
        row_start[i as usize + 1] += 1;
    }
    for i in 0..members {
        row_start[i + 1] += row_start[i];
    }
    let mut cursor = row_start.clone();
    let mut entries = vec![(0u32, 0i64); row_start[members]];
    for &(i, j, delta) in local_trust {
        entries[cursor[i as usize]] = (j, delta);
        cursor[i as usize] += 1;
    }
    drop(cursor);
    let matrix = Matrix::from_rows(
        members,
        &row_start,
        &mut entries,
        |&(j, _)| j,
        |&(_, delta)| i128::from(delta),
    );
    Ok(iterate(&matrix, &pre, damping_ppm))
}

/// EigenTrust over verdicts already grouped by evaluator: row i is
/// `verdicts[row_start[i]..row_start[i + 1]]`, each `(j << 1) | flag` for
/// an approval (+1) or a flag (−1) of member j's work, every j a member.
/// The same result as [`eigentrust`] on the same (i, j, ±1) triples, from
/// 4-byte entries instead of 16-byte triples (a million verdicts are a
/// large part of a score's memory traffic).
pub(crate) fn eigentrust_of_verdicts(
    members: usize,
    row_start: &[usize],
    verdicts: &mut [u32],
    pretrusted: &[u32],
    damping_ppm: u64,
) -> Result<EigenTrust> {
    let pre = check_arguments(members, pretrusted, damping_ppm)?;
    let matrix = Matrix::from_rows(
        members,
        row_start,
        verdicts,
        |&verdict| verdict >> 1,
        |&verdict| if verdict & 1 == 0 { 1 } else { -1 },
    );
    Ok(iterate(&matrix, &pre, damping_ppm))
}

/// The pre-trusted set (sorted, deduplicated), after refusing an empty or
/// out-of-range one or a damping outside 1..=10^6 ppm.
fn check_arguments(members: usize, pretrusted: &[u32], damping_ppm: u64) -> Result<Vec<u32>> {
    let mut pre = pretrusted.to_vec();
    pre.sort_unstable();
    pre.dedup();
    if pre.is_empty() || pre.iter().any(|&p| p as usize >= members) {
        return Err(ScoringError::invalid(
            "pretrusted",
            format!("must be a non-empty set of member indices in 0..{members}"),
        ));
    }
    if damping_ppm == 0 || damping_ppm > PPM {
        return Err(ScoringError::invalid(
            "damping_ppm",
            format!("must be in 1..=1000000 ppm (got {damping_ppm})"),
        ));
    }
    Ok(pre)
}

/// The normalised local trust C in CSR form: row i holds (j, c_ij) for j
/// ascending with s_ij > 0; a row with no positive local trust is
/// "dangling" and uses p.
struct Matrix {
    members: usize,
    rows: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f64>,
    dangling: Vec<bool>,
}

impl Matrix {
    /// Builds C from entries grouped by row (`row_start`), each with its
    /// column and its delta; each row's entries are sorted by column here.
    fn from_rows<E: Copy>(
        members: usize,
        row_start: &[usize],
        entries: &mut [E],
        column: impl Fn(&E) -> u32,
        delta: impl Fn(&E) -> i128,
    ) -> Matrix {
        let mut columns: Vec<u32> = Vec::with_capacity(entries.len());
        let mut values: Vec<f64> = Vec::with_capacity(entries.len());
        let mut rows = vec![0usize; members + 1];
        let mut dangling = vec![false; members];
        for i in 0..members {
            let row = &mut entries[row_start[i]..row_start[i + 1]];
            row.sort_unstable_by_key(&column);
            let first = columns.len();
            let mut total: i128 = 0;
            let mut k = 0;
            while k < row.len() {
                let j = column(&row[k]);
                let mut s: i128 = 0;
                while k < row.len() && column(&row[k]) == j {
                    s += delta(&row[k]);
                    k += 1;
                }
                if s > 0 {
                    columns.push(j);
                    values.push(to_f64(s));
                    total += s;
                }
            }
            if total > 0 {
                let total = to_f64(total);
                for value in &mut values[first..] {
                    *value /= total;
                }
            } else {
                dangling[i] = true;
            }
            rows[i + 1] = columns.len();
        }
        Matrix {
            members,
            rows,
            columns,
            values,
            dangling,
        }
    }
}

/// `x as f64`, through i64 when it fits: the same correctly rounded value
/// (both conversions round to nearest, ties to even), without a call to
/// the 128-bit conversion routine for each of a million entries.
fn to_f64(x: i128) -> f64 {
    match i64::try_from(x) {
        Ok(small) => small as f64,
        Err(_) => x as f64,
    }
}

/// The power iteration t ← (1 − a) Cᵀt + a p until Σ|t' − t| ≤ TOLERANCE.
fn iterate(matrix: &Matrix, pre: &[u32], damping_ppm: u64) -> EigenTrust {
    let Matrix {
        members,
        rows,
        columns,
        values,
        dangling,
    } = matrix;
    let members = *members;
    let mut p = vec![0.0f64; members];
    let share = 1.0 / pre.len() as f64;
    for &j in pre {
        p[j as usize] = share;
    }
    let a = damping_ppm as f64 / PPM as f64;
    let keep = 1.0 - a;
    let mut t = p.clone();
    let mut next = vec![0.0f64; members];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        next.iter_mut().for_each(|x| *x = 0.0);
        for i in 0..members {
            let ti = t[i];
            if dangling[i] {
                for &j in pre {
                    next[j as usize] += p[j as usize] * ti;
                }
            } else {
                for k in rows[i]..rows[i + 1] {
                    next[columns[k] as usize] += values[k] * ti;
                }
            }
        }
        let mut change = 0.0;
        for j in 0..members {
            let updated = keep * next[j] + a * p[j];
            change += (updated - t[j]).abs();
            next[j] = updated;
        }
        std::mem::swap(&mut t, &mut next);
        if change <= TOLERANCE {
            converged = true;
            break;
        }
    }
    let weights = t.iter().map(|&x| to_weight(x)).collect();
    EigenTrust {
        trust: t,
        weights,
        iterations,
        converged,
    }
}

/// `round_half_even(x × 1e9)` as an integer weight; x is a share in [0, 1]
/// (anything outside is clamped, so the result is always in 0..=10^9).
pub(crate) fn to_weight(x: f64) -> u64 {
    let scaled = (x * 1e9).round_ties_even();
    if scaled.is_nan() || scaled <= 0.0 {
        0
    } else if scaled >= 1e9 {
        1_000_000_000
    } else {
        scaled as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_trust() {
        // 0 and 1 approve each other; 2 is approved by both; 0 is pretrusted.
        let trust = eigentrust(
            3,
            &[(0, 1, 1), (1, 0, 1), (0, 2, 1), (1, 2, 1)],
            &[0],
            150_000,
        )
        .unwrap();
        assert!(trust.converged);
        let total: f64 = trust.trust.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(trust.trust[2] > 0.0);
        // Member 2 trusts nobody: its row is p, sending trust back to 0.
        assert!(trust.weights.iter().all(|&w| w <= 1_000_000_000));
    }

    #[test]
    fn a_sybil_ring_is_bounded_by_what_flows_into_it() {
        // Members 0..4 honest (0 pretrusted), 4..24 a ring approving itself
        // heavily; one honest member approves one ring member once.
        let mut local = vec![(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 0, 1), (1, 4, 1)];
        for i in 4..24u32 {
            for j in 4..24u32 {
                if i != j {
                    local.push((i, j, 100));
                }
            }
        }
        let trust = eigentrust(24, &local, &[0], 150_000).unwrap();
        let ring: f64 = trust.trust[4..].iter().sum();
        // The trust flowing into the ring: member 1 sends it half of its own.
        let inflow = trust.trust[1] * 0.5;
        assert!(ring > 0.0);
        assert!(
            ring <= (0.85 / 0.15) * inflow + 1e-9,
            "ring {ring}, inflow {inflow}"
        );
    }

    #[test]
    fn flags_cancel_approvals_and_negative_trust_is_none() {
        // 1 approved 2 once and flagged twice: s_12 = -1, so row 1 dangles.
        let trust = eigentrust(3, &[(1, 2, 1), (1, 2, -1), (1, 2, -1)], &[0], 150_000).unwrap();
        let uniform = eigentrust(3, &[], &[0], 150_000).unwrap();
        assert_eq!(trust, uniform);
        assert_eq!(uniform.weights, vec![1_000_000_000, 0, 0]);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(eigentrust(2, &[(0, 2, 1)], &[0], 150_000).is_err());
        assert!(eigentrust(2, &[], &[], 150_000).is_err());
        assert!(eigentrust(2, &[], &[0], 0).is_err());
    }

    #[test]
    fn weights_round_half_to_even() {
        // 2.5e-9 × 1e9 and 3.5e-9 × 1e9 land exactly on 2.5 and 3.5 in f64.
        assert_eq!(2.5e-9 * 1e9, 2.5);
        assert_eq!(3.5e-9 * 1e9, 3.5);
        assert_eq!(to_weight(2.5e-9), 2);
        assert_eq!(to_weight(3.5e-9), 4);
        assert_eq!(to_weight(-0.1), 0);
        assert_eq!(to_weight(0.25), 250_000_000);
    }

    #[test]
    fn verdicts_give_the_same_trust_as_triples() {
        // Pseudo-random approvals and flags among 40 members, some repeated,
        // some members evaluating nobody (dangling rows).
        let members = 40u32;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut triples = Vec::new();
        for _ in 0..600 {
            let i = (next() % u64::from(members - 8)) as u32;
            let j = (next() % u64::from(members)) as u32;
            let delta = if next() % 5 == 0 { -1 } else { 1 };
            triples.push((i, j, delta));
        }
        let pretrusted = [0, 3, 7];
        let expected = eigentrust(members as usize, &triples, &pretrusted, 150_000).unwrap();
        let mut row_start = vec![0usize; members as usize + 1];
        for &(i, _, _) in &triples {
            row_start[i as usize + 1] += 1;
        }
        for i in 0..members as usize {
            row_start[i + 1] += row_start[i];
        }
        let mut cursor = row_start.clone();
        let mut verdicts = vec![0u32; triples.len()];
        for &(i, j, delta) in &triples {
            verdicts[cursor[i as usize]] = (j << 1) | u32::from(delta < 0);
            cursor[i as usize] += 1;
        }
        let got = eigentrust_of_verdicts(
            members as usize,
            &row_start,
            &mut verdicts,
            &pretrusted,
            150_000,
        )
        .unwrap();
        let bits = |trust: &EigenTrust| trust.trust.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
        assert_eq!(got, expected);
    }

    #[test]
    fn the_f64_conversion_rounds_as_the_128_bit_one() {
        for x in [
            0i128,
            1,
            -1,
            (1 << 53) + 1,
            (1 << 62) + 3,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            -(1 << 100) - 7,
        ] {
            assert_eq!(to_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        }
    }
}
