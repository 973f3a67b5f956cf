//! The impartial division: one's own report never changes one's own share,
//! and agreeing reports give the agreed split.

use super::*;

/// Raw weights for a split among up to 8 participants.
fn raw_split() -> impl Strategy<Value = Vec<u64>> {
    vec(0u64..20, 8)
}

/// Participant `from`'s report over n participants: integer percents that
/// give every other participant at least 1 and sum to 100 (1 each, the rest
/// by largest remainder in proportion to `raw`).
fn positive_row(from: usize, raw: &[u64], n: usize) -> Vec<u64> {
    let others: Vec<usize> = (0..n).filter(|&i| i != from).collect();
    let spare = 100 - others.len() as u64;
    let weights: Vec<u64> = others.iter().map(|&i| raw[i] + 1).collect();
    let total: u64 = weights.iter().sum();
    let mut row = vec![0u64; n];
    let mut remainders = Vec::new();
    for (k, &i) in others.iter().enumerate() {
        row[i] = 1 + spare * weights[k] / total;
        remainders.push((spare * weights[k] % total, i));
    }
    let left = 100 - row.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left as usize) {
        row[i] += 1;
    }
    row
}

proptest! {
    #![proptest_config(config(96))]

    /// A participant's own report never changes their own impartial share
    /// (fixed participant set: every split gives every other participant
    /// more than 0). Checked on the rule itself, bit for bit, and through a
    /// whole distribution's integer weights.
    #[test]
    fn own_report_never_changes_own_impartial_share(
        n in 3usize..=8,
        raws in vec(raw_split(), 8),
        who in 0usize..8,
        other in raw_split(),
    ) {
        let who = who % n;
        let rows: Vec<Vec<u64>> = (0..n).map(|j| positive_row(j, &raws[j], n)).collect();
        let mut changed = rows.clone();
        changed[who] = positive_row(who, &other, n);
        for (j, row) in rows.iter().chain(std::iter::once(&changed[who])).enumerate() {
            let from = if j < n { j } else { who };
            prop_assert_eq!(row.iter().sum::<u64>(), 100);
            prop_assert!(row.iter().enumerate().all(|(i, &p)| (i == from) == (p == 0)));
        }
        let before = impartial_shares(&rows.iter().cloned().map(Some).collect::<Vec<_>>()).unwrap();
        let after = impartial_shares(&changed.iter().cloned().map(Some).collect::<Vec<_>>()).unwrap();
        prop_assert_eq!(before[who].to_bits(), after[who].to_bits());

        // The same through `score`: the allocation bucket's weight for `who`.
        let make = |rows: &[Vec<u64>]| -> ScoringInput {
            let members: Vec<String> = NAMES[..n].iter().map(|s| (*s).to_owned()).collect();
            ScoringInput {
                policy: PolicyDocument {
                    buckets: vec![Bucket::Allocation {
                        percent_ppm: 1_000_000,
                        mechanism: Mechanism::Impartial,
                        participants: None,
                    }],
                    ..PolicyDocument::default()
                },
                allocations: rows
                    .iter()
                    .enumerate()
                    .map(|(j, row)| Allocation {
                        from: members[j].clone(),
                        to: row
                            .iter()
                            .enumerate()
                            .filter(|&(i, _)| i != j)
                            .map(|(i, &p)| (members[i].clone(), p))
                            .collect(),
                    })
                    .collect(),
                members,
                contributions: vec![],
                evaluations: vec![],
                prior_repayments: vec![],
                prior_payouts: vec![],
                period: Period { start: START, end: END },
                income: 1_000_000,
            }
        };
        let weight = |rows: &[Vec<u64>]| -> Result<u64, TestCaseError> {
            let report = score(&make(rows)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            Ok(report.buckets[0].weights.as_ref().unwrap()[NAMES[who]])
        };
        prop_assert_eq!(weight(&rows)?, weight(&changed)?);
    }

    /// Reports that agree on a split (each participant reports the others'
    /// consensus shares, renormalised) give exactly that split, to 1e-9.
    #[test]
    fn agreeing_reports_give_the_agreed_split(raw in vec(1u32..1000, 3..=12)) {
        let n = raw.len();
        let total: f64 = raw.iter().map(|&x| f64::from(x)).sum();
        let consensus: Vec<f64> = raw.iter().map(|&x| f64::from(x) / total).collect();
        let mut r = vec![0.0; n * n];
        for j in 0..n {
            for i in (0..n).filter(|&i| i != j) {
                r[j * n + i] = consensus[i] / (1.0 - consensus[j]);
            }
        }
        let shares = impartial_division(&r, n).unwrap();
        for (share, agreed) in shares.iter().zip(&consensus) {
            prop_assert!((share - agreed).abs() <= 1e-9, "{} vs {}", share, agreed);
        }
    }
}
