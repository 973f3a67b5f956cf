//! Property tests of the scoring core over random cooperatives, and the
//! refusals a treasurer can run into, each naming its field.
//!
//! The random scenarios are built from small proptest-generated tuples
//! (indices are taken modulo the counts, so every reference is valid), with
//! bounded case counts so this file runs in seconds in a debug build.

use std::collections::BTreeMap;

use coopledger::scoring::allocation::{impartial_division, impartial_shares};
use coopledger::scoring::input::{
    Allocation, Contribution, Evaluation, Kind, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
use coopledger::scoring::policy::{
    Bucket, Decay, EvaluatorWeights, Mechanism, Mode, Policy, PolicyDocument, RatingRule,
    SharesMethod, ValidationRule,
};
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::{ScoringError, score};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z.
const START: i64 = 1_793_491_200;
const END: i64 = START + 30 * 86_400;
const DAY: i64 = 86_400;

/// Member ids chosen so bytewise order differs from a naive one
/// (uppercase before lowercase, a prefix before its extensions, UTF-8 last).
const NAMES: [&str; 8] = ["bo", "Zoe", "ann", "an", "cy", "émile", "dee", "ann-2"];
const TAGS: [&str; 3] = ["lead", "design", "ops"];

type ContributionSpec = (u8, u8, u64, Option<u64>, u8, i64);
type EvaluationSpec = (u16, u8, bool, Option<u8>);
type BucketSpec = (u8, u64, u8, bool, bool, u8);

/// Everything a random cooperative is built from.
#[derive(Debug, Clone)]
struct Shape {
    members: usize,
    contributions: Vec<ContributionSpec>,
    evaluations: Vec<EvaluationSpec>,
    allocations: Vec<(u8, Vec<u8>)>,
    buckets: Vec<BucketSpec>,
    straight: bool,
    income: u64,
    prior_repayments: Vec<(u16, u64)>,
    prior_payouts: Vec<(u8, u64)>,
    rates: (Option<u64>, Option<u64>, Option<u64>),
    multipliers: (Option<u64>, Option<u64>),
    decay: Option<(u64, u64)>,
    validation: (u64, Option<u64>),
    rating: (u64, u8),
    eigentrust: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    let contribution = (
        any::<u8>(),
        0u8..5,
        0u64..3_000,
        option::of(0u64..20_000),
        0u8..8,
        -45i64..40,
    );
    let evaluation = (
        any::<u16>(),
        any::<u8>(),
        any::<bool>(),
        option::of(0u8..=100),
    );
    let bucket = (
        0u8..4,
        0u64..=1_000_000,
        1u8..32,
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
    );
    let structure = (
        3usize..=8,
        vec(contribution, 0..14),
        vec(evaluation, 0..28),
        vec((any::<u8>(), vec(0u8..6, 8)), 0..6),
        vec(bucket, 1..5),
        any::<bool>(),
        0u64..2_000_000,
        vec((any::<u16>(), 0u64..20_000), 0..4),
        vec((any::<u8>(), 0u64..50_000), 0..4),
    );
    let rules = (
        (
            option::of(0u64..10_000),
            option::of(0u64..10_000),
            option::of(0u64..5_000),
        ),
        (option::of(0u64..3_000_000), option::of(0u64..3_000_000)),
        option::of((1u64..10, 0u64..300_000)),
        (0u64..2, option::of(0u64..2)),
        (0u64..3, 0u8..=100),
        any::<bool>(),
    );
    (structure, rules).prop_map(
        |(
            (
                members,
                contributions,
                evaluations,
                allocations,
                buckets,
                straight,
                income,
                prior_repayments,
                prior_payouts,
            ),
            (rates, multipliers, decay, validation, rating, eigentrust),
        )| Shape {
            members,
            contributions,
            evaluations,
            allocations,
            buckets,
            straight,
            income,
            prior_repayments,
            prior_payouts,
            rates,
            multipliers,
            decay,
            validation,
            rating,
            eigentrust,
        },
    )
}

/// Integer percents proportional to `raw` over everyone but `from`, summing
/// to exactly 100 (largest remainder; an even split if raw is all 0).
fn split_of_100(from: usize, raw: &[u8], members: usize) -> BTreeMap<String, u64> {
    let others: Vec<usize> = (0..members).filter(|&m| m != from).collect();
    let mut weights: Vec<u64> = others
        .iter()
        .map(|&m| u64::from(raw[m % raw.len()]))
        .collect();
    if weights.iter().all(|&w| w == 0) {
        weights.iter_mut().for_each(|w| *w = 1);
    }
    let total: u64 = weights.iter().sum();
    let mut percents: Vec<u64> = weights.iter().map(|w| 100 * w / total).collect();
    let mut remainders: Vec<(u64, usize)> = weights
        .iter()
        .enumerate()
        .map(|(k, w)| (100 * w % total, k))
        .collect();
    let left = 100 - percents.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, k) in remainders.iter().take(left as usize) {
        percents[k] += 1;
    }
    others
        .iter()
        .zip(percents)
        .map(|(&m, p)| (NAMES[m].to_owned(), p))
        .collect()
}

fn kind_of(index: u8) -> Kind {
    Kind::ALL[usize::from(index) % Kind::ALL.len()]
}

fn kinds_of(mask: u8) -> Vec<Kind> {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, k)| k)
        .collect();
    if kinds.is_empty() {
        vec![Kind::Work]
    } else {
        kinds
    }
}

/// A valid scoring input from a shape.
fn build(shape: &Shape) -> ScoringInput {
    let n = shape.members;
    let members: Vec<String> = NAMES[..n].iter().map(|s| (*s).to_owned()).collect();
    let contributions: Vec<Contribution> = shape
        .contributions
        .iter()
        .enumerate()
        .map(
            |(i, &(member, kind, quantity, rate, tags, day))| Contribution {
                id: format!("c{i:02}"),
                member: members[usize::from(member) % n].clone(),
                kind: kind_of(kind),
                quantity,
                rate,
                tags: TAGS
                    .iter()
                    .enumerate()
                    .filter(|(t, _)| tags & (1 << t) != 0)
                    .map(|(_, t)| (*t).to_owned())
                    .collect(),
                at: START + day * DAY + i64::from(member) * 97,
            },
        )
        .collect();
    let evaluations: Vec<Evaluation> = if contributions.is_empty() {
        Vec::new()
    } else {
        shape
            .evaluations
            .iter()
            .map(|&(c, evaluator, approve, rating)| Evaluation {
                contribution: contributions[usize::from(c) % contributions.len()]
                    .id
                    .clone(),
                evaluator: members[usize::from(evaluator) % n].clone(),
                verdict: if approve {
                    Verdict::Approve
                } else {
                    Verdict::Flag
                },
                rating,
            })
            .collect()
    };
    let mut buckets: Vec<Bucket> = shape
        .buckets
        .iter()
        .map(|&(kind, percent_ppm, mask, flag, give, who)| match kind {
            0 => Bucket::Fixed {
                percent_ppm,
                recipient: if who % 2 == 0 {
                    "commons-fund".to_owned()
                } else {
                    members[usize::from(who) % n].clone()
                },
            },
            1 => Bucket::Reimburse {
                percent_ppm,
                kinds: kinds_of(mask),
            },
            2 => Bucket::Shares {
                percent_ppm,
                kinds: kinds_of(mask),
                method: if flag {
                    SharesMethod::Balanced
                } else {
                    SharesMethod::Immediate
                },
            },
            _ => Bucket::Allocation {
                percent_ppm,
                mechanism: if give {
                    Mechanism::Give
                } else {
                    Mechanism::Impartial
                },
            },
        })
        .collect();
    let mode = if shape.straight {
        Mode::Straight
    } else {
        Mode::Remaining
    };
    if mode == Mode::Straight {
        let total: u64 = buckets.iter().map(Bucket::percent_ppm).sum();
        if total > 1_000_000 {
            for bucket in &mut buckets {
                let scaled = bucket.percent_ppm() * 1_000_000 / total;
                match bucket {
                    Bucket::Fixed { percent_ppm, .. }
                    | Bucket::Reimburse { percent_ppm, .. }
                    | Bucket::Shares { percent_ppm, .. }
                    | Bucket::Allocation { percent_ppm, .. } => *percent_ppm = scaled,
                }
            }
        }
    }
    let mut allocations: Vec<Allocation> = shape
        .allocations
        .iter()
        .map(|(from, raw)| {
            let from = usize::from(*from) % n;
            Allocation {
                from: members[from].clone(),
                to: split_of_100(from, raw, n),
            }
        })
        .collect();
    let impartial = buckets.iter().any(|b| {
        matches!(
            b,
            Bucket::Allocation {
                mechanism: Mechanism::Impartial,
                ..
            }
        )
    });
    if impartial {
        // Everyone reports, so there are n ≥ 3 participants.
        for (from, member) in members.iter().enumerate() {
            allocations.push(Allocation {
                from: member.clone(),
                to: split_of_100(from, &[1, 2, 3, 4, 5, 6, 7, 8], n),
            });
        }
    }
    let prior_repayments = if contributions.is_empty() {
        Vec::new()
    } else {
        shape
            .prior_repayments
            .iter()
            .map(|&(c, amount)| PriorRepayment {
                contribution: contributions[usize::from(c) % contributions.len()]
                    .id
                    .clone(),
                amount,
            })
            .collect()
    };
    let prior_payouts = shape
        .prior_payouts
        .iter()
        .map(|&(m, amount)| PriorPayout {
            recipient: members[usize::from(m) % n].clone(),
            amount,
        })
        .collect();
    let mut policy = Policy::default();
    if let Some(rate) = shape.rates.0 {
        policy.default_rates.insert(Kind::Work, rate);
    }
    if let Some(rate) = shape.rates.1 {
        policy.default_rates.insert(Kind::Use, rate);
    }
    if let Some(rate) = shape.rates.2 {
        policy.rates.insert("design".to_owned(), rate);
    }
    if let Some(ppm) = shape.multipliers.0 {
        policy.kind_multiplier_ppm.insert(Kind::Work, ppm);
    }
    if let Some(ppm) = shape.multipliers.1 {
        policy.tag_multiplier_ppm.insert("lead".to_owned(), ppm);
    }
    policy.decay = shape.decay.map(|(interval_days, rate_ppm)| Decay {
        interval_days,
        rate_ppm,
    });
    policy.validation = ValidationRule {
        min_approvals: shape.validation.0,
        max_flags: shape.validation.1,
    };
    policy.rating = RatingRule {
        min_ratings: shape.rating.0,
        default: shape.rating.1,
    };
    if shape.eigentrust {
        policy.evaluator_weights = EvaluatorWeights::EigenTrust {
            pretrusted: vec![members[0].clone()],
            damping_ppm: 150_000,
        };
    }
    ScoringInput {
        policy: PolicyDocument {
            currency: Some("EUR".to_owned()),
            decimals: Some(2),
            policy,
            mode,
            buckets,
        },
        members,
        contributions,
        evaluations,
        allocations,
        prior_repayments,
        prior_payouts,
        period: Period {
            start: START,
            end: END,
        },
        income: shape.income,
    }
}

/// `cases` cases, and no regression files written into the source tree
/// (a failure prints its minimal input instead).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A deterministic permutation of `items` (Fisher–Yates with xorshift).
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.swap(i, (state % (i as u64 + 1)) as usize);
    }
    out
}

/// value(c), computed here from the spec independently of the core.
fn value_by_spec(input: &ScoringInput, c: &Contribution) -> u64 {
    let policy = &input.policy.policy;
    let rate = c
        .rate
        .or_else(|| c.tags.iter().find_map(|t| policy.rates.get(t).copied()))
        .or_else(|| policy.default_rates.get(&c.kind).copied());
    match (c.kind, rate) {
        (Kind::Money | Kind::Expense, _) => c.quantity,
        (Kind::Work, Some(rate)) => c.quantity * rate / 60,
        (_, Some(rate)) => c.quantity * rate,
        (_, None) => 0,
    }
}

proptest! {
    #![proptest_config(config(160))]

    /// Σ payouts + reserve = income; every listed payout is positive; every
    /// bucket pays at most its amount, and the buckets' payments are the
    /// payouts.
    #[test]
    fn money_is_conserved(shape in shape()) {
        let input = build(&shape);
        let report = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let paid: u128 = report.payouts.values().map(|&v| u128::from(v)).sum();
        prop_assert_eq!(paid + u128::from(report.reserve), u128::from(input.income));
        for (name, &amount) in &report.payouts {
            prop_assert!(amount > 0, "{} listed with a zero payout", name);
        }
        let mut by_buckets: BTreeMap<&str, u64> = BTreeMap::new();
        for bucket in &report.buckets {
            let bucket_paid: u64 = bucket.paid.values().sum();
            prop_assert!(bucket_paid <= bucket.amount);
            prop_assert_eq!(bucket_paid + bucket.unpaid, bucket.amount);
            for (name, &amount) in &bucket.paid {
                *by_buckets.entry(name.as_str()).or_insert(0) += amount;
            }
        }
        let payouts: BTreeMap<&str, u64> =
            report.payouts.iter().map(|(k, &v)| (k.as_str(), v)).collect();
        prop_assert_eq!(by_buckets, payouts);
        // Negative amounts cannot be represented (u64); the JSON must say so too.
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        for amount in json["payouts"].as_object().unwrap().values() {
            prop_assert!(amount.as_u64().is_some_and(|v| v > 0), "{}", amount);
        }
    }

    /// No contribution is repaid beyond what it is owed: value − prior
    /// repayments, across all reimburse buckets of the distribution.
    #[test]
    fn nobody_is_repaid_beyond_what_is_owed(shape in shape()) {
        let input = build(&shape);
        let report = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut prior: BTreeMap<&str, u64> = BTreeMap::new();
        for repayment in &input.prior_repayments {
            *prior.entry(repayment.contribution.as_str()).or_insert(0) += repayment.amount;
        }
        for (id, &repaid) in &report.repayments {
            let contribution = input.contributions.iter().find(|c| &c.id == id).unwrap();
            let value = value_by_spec(&input, contribution);
            let already = prior.get(id.as_str()).copied().unwrap_or(0);
            prop_assert!(
                repaid <= value.saturating_sub(already),
                "{} repaid {} with value {} and {} repaid before", id, repaid, value, already
            );
            prop_assert!(contribution.at < END);
        }
    }

    /// Reordering members, contributions, evaluations of distinct
    /// (contribution, evaluator) pairs, allocations of distinct givers and
    /// prior amounts leaves the report byte-identical.
    #[test]
    fn input_order_does_not_matter(shape in shape(), seed in any::<u64>()) {
        let mut input = build(&shape);
        // Keep only the standing evaluation of each pair and the standing
        // allocation of each giver: their relative order is meaningful.
        let mut seen = std::collections::BTreeSet::new();
        let mut evaluations: Vec<Evaluation> = input
            .evaluations
            .iter()
            .rev()
            .filter(|e| seen.insert((e.contribution.clone(), e.evaluator.clone())))
            .cloned()
            .collect();
        evaluations.reverse();
        input.evaluations = evaluations;
        let mut givers = std::collections::BTreeSet::new();
        let mut allocations: Vec<Allocation> = input
            .allocations
            .iter()
            .rev()
            .filter(|a| givers.insert(a.from.clone()))
            .cloned()
            .collect();
        allocations.reverse();
        input.allocations = allocations;

        let mut reordered = input.clone();
        reordered.members = shuffled(&input.members, seed);
        reordered.contributions = shuffled(&input.contributions, seed.rotate_left(7));
        reordered.evaluations = shuffled(&input.evaluations, seed.rotate_left(17));
        reordered.allocations = shuffled(&input.allocations, seed.rotate_left(29));
        reordered.prior_repayments = shuffled(&input.prior_repayments, seed.rotate_left(37));
        reordered.prior_payouts = shuffled(&input.prior_payouts, seed.rotate_left(47));
        let first = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = score(&reordered).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(first.to_json().unwrap(), second.to_json().unwrap());
    }
}

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

/// The scaling property's inputs: every value a multiple of 10^8 and every
/// multiplier a whole factor, so every division of §1 and §3 is exact.
fn exact_shape() -> impl Strategy<Value = (Shape, u64)> {
    (shape(), 2u64..6).prop_map(|(mut shape, k)| {
        for spec in &mut shape.contributions {
            // Work: whole hours; others any quantity.
            spec.2 = (spec.2 % 50) * 60;
            spec.3 = spec.3.map(|r| (r % 7 + 1) * 100_000_000);
        }
        shape.rates = (
            shape.rates.0.map(|r| (r % 5 + 1) * 100_000_000),
            shape.rates.1.map(|r| (r % 5 + 1) * 100_000_000),
            shape.rates.2.map(|r| (r % 5 + 1) * 100_000_000),
        );
        shape.multipliers = (
            shape.multipliers.0.map(|m| (m % 3 + 1) * 1_000_000),
            shape.multipliers.1.map(|m| (m % 3 + 1) * 1_000_000),
        );
        // Reimbursement repays debts in absolute minor units: scaling what
        // is owed while the income stays put changes what can be repaid, so
        // it is not part of this property.
        for bucket in &mut shape.buckets {
            if bucket.0 == 1 {
                bucket.0 = 2;
            }
        }
        (shape, k)
    })
}

fn scale_money(input: &mut ScoringInput, k: u64) {
    for c in &mut input.contributions {
        c.rate = c.rate.map(|r| r * k);
        if c.kind.is_money() {
            // Money quantities become multiples of 10^8 too, then scale.
            c.quantity *= k;
        }
    }
    let policy = &mut input.policy.policy;
    policy.default_rates.values_mut().for_each(|r| *r *= k);
    policy.rates.values_mut().for_each(|r| *r *= k);
}

proptest! {
    #![proptest_config(config(96))]

    /// Multiplying every rate and every money quantity by k leaves every
    /// payout unchanged when the divisions are exact; points scale by k.
    #[test]
    fn scaling_rates_and_money_leaves_payouts_unchanged((shape, k) in exact_shape()) {
        let mut input = build(&shape);
        for c in &mut input.contributions {
            if c.kind.is_money() {
                c.quantity = (c.quantity % 9 + 1) * 100_000_000;
            }
        }
        let mut scaled = input.clone();
        scale_money(&mut scaled, k);
        let before = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = score(&scaled).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&before.payouts, &after.payouts);
        prop_assert_eq!(before.reserve, after.reserve);
        let tripled: BTreeMap<String, u128> = before
            .points
            .iter()
            .map(|(m, &p)| (m.clone(), p * u128::from(k)))
            .collect();
        prop_assert_eq!(tripled, after.points);
    }
}

// ---------------------------------------------------------------------------
// Refusals: each names its field and its rule.

const BASE: &str = r#"{
  "policy": {"currency": "EUR", "decimals": 2, "default_rates": {"work": 3000}},
  "members": ["a", "b", "c", "d"],
  "contributions": [
    {"id": "w1", "member": "a", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"},
    {"id": "w2", "member": "b", "kind": "work", "quantity": 90, "at": "2026-11-04T10:00:00Z"}
  ],
  "evaluations": [{"contribution": "w1", "evaluator": "b", "verdict": "approve", "rating": 90}],
  "allocations": [{"from": "a", "to": {"b": 60, "c": 40}}],
  "distribution": {
    "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
    "income": 100000, "mode": "remaining",
    "buckets": [
      {"type": "fixed", "percent_ppm": 50000, "recipient": "fund"},
      {"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}
    ]
  }
}"#;

/// The base scenario with one text replacement, which must apply.
fn variant(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from} is not in the base scenario");
    BASE.replacen(from, to, 1)
}

/// Reads and scores a scenario text, expecting a refusal.
fn refusal(text: &str) -> ScoringError {
    match Scenario::from_json(text.as_bytes()).and_then(|s| s.score()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err,
    }
}

/// Asserts the refusal names `field` and its message mentions `rule`.
fn assert_refused(text: &str, field: &str, rule: &str) {
    let err = refusal(text);
    assert_eq!(err.field(), Some(field), "wrong field in: {err}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("{field}: ")), "{message}");
    assert!(
        message.contains(rule),
        "{message:?} does not mention {rule:?}"
    );
}

#[test]
fn the_base_scenario_is_accepted() {
    let report = Scenario::from_json(BASE.as_bytes())
        .unwrap()
        .score()
        .unwrap();
    assert_eq!(report.payouts["fund"], 5000);
}

#[test]
fn unknown_kind_is_refused() {
    assert_refused(
        &variant(
            r#""kind": "work", "quantity": 60"#,
            r#""kind": "labour", "quantity": 60"#,
        ),
        "contributions[0].kind",
        "unknown kind \"labour\"",
    );
    assert_refused(
        &variant(r#""kinds": ["work"]"#, r#""kinds": ["time"]"#),
        "distribution.buckets[1].kinds[0]",
        "unknown kind \"time\"",
    );
}

#[test]
fn unknown_bucket_type_verdict_and_field_are_refused() {
    assert_refused(
        &variant(r#""type": "fixed""#, r#""type": "lottery""#),
        "distribution.buckets[0].type",
        "unknown bucket type",
    );
    assert_refused(
        &variant(r#""verdict": "approve""#, r#""verdict": "like""#),
        "evaluations[0].verdict",
        "unknown verdict",
    );
    assert_refused(
        &variant(r#""income": 100000"#, r#""income": 100000, "incom": 1"#),
        "distribution.incom",
        "unknown field",
    );
}

#[test]
fn percent_out_of_range_is_refused() {
    assert_refused(
        &variant(r#""percent_ppm": 50000"#, r#""percent_ppm": 1200000"#),
        "distribution.buckets[0].percent_ppm",
        "must be at most 1000000 ppm (got 1200000)",
    );
    assert_refused(
        &variant(r#""percent_ppm": 50000"#, r#""percent_ppm": -5"#),
        "distribution.buckets[0].percent_ppm",
        "must not be negative",
    );
    assert_refused(
        &variant(r#""rating": 90"#, r#""rating": 101"#),
        "evaluations[0].rating",
        "must be at most 100",
    );
}

#[test]
fn straight_percents_above_100_are_refused() {
    assert_refused(
        &variant(r#""mode": "remaining""#, r#""mode": "straight""#),
        "distribution.buckets",
        "in straight mode the percents must sum to at most 1000000 ppm",
    );
}

#[test]
fn allocation_not_summing_to_100_is_refused() {
    assert_refused(
        &variant(r#""c": 40}"#, r#""c": 30}"#),
        "allocations[0].to",
        "percents must sum to 100 (got 90)",
    );
}

#[test]
fn self_allocation_is_refused() {
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"a": 10, "b": 50, "c": 40}"#),
        "allocations[0].to.a",
        "cannot allocate to themselves",
    );
}

#[test]
fn allocation_to_a_non_member_is_refused() {
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"b": 60, "zed": 40}"#),
        "allocations[0].to.zed",
        "is not a member",
    );
}

#[test]
fn fewer_than_three_impartial_participants_are_refused() {
    let text = variant(
        r#"{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}"#,
        r#"{"type": "allocation", "percent_ppm": 1000000, "mechanism": "impartial"}"#,
    )
    .replace(r#""to": {"b": 60, "c": 40}"#, r#""to": {"b": 100}"#);
    assert_refused(
        &text,
        "distribution.buckets[1].mechanism",
        "needs at least three participants",
    );
}

#[test]
fn bad_times_are_refused() {
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03 10:00"),
        "contributions[0].at",
        "RFC 3339",
    );
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03T10:00:00"),
        "contributions[0].at",
        "offset",
    );
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03T10:00:00.250Z"),
        "contributions[0].at",
        "fractional seconds",
    );
    assert_refused(
        &variant(
            r#""end": "2026-12-01T00:00:00Z""#,
            r#""end": "2026-11-01T00:00:00Z""#,
        ),
        "distribution.period",
        "must be before end",
    );
}

#[test]
fn duplicate_ids_are_refused() {
    assert_refused(
        &variant(r#"["a", "b", "c", "d"]"#, r#"["a", "b", "c", "b"]"#),
        "members[3]",
        "duplicate member id \"b\" (also members[1])",
    );
    assert_refused(
        &variant(r#""id": "w2""#, r#""id": "w1""#),
        "contributions[1].id",
        "duplicate contribution id \"w1\"",
    );
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"b": 60, "b": 40}"#),
        "allocations[0].to",
        "duplicate key \"b\"",
    );
}

#[test]
fn dangling_references_are_refused() {
    assert_refused(
        &variant(r#""member": "b", "kind""#, r#""member": "zed", "kind""#),
        "contributions[1].member",
        "\"zed\" is not a member",
    );
    assert_refused(
        &variant(r#""contribution": "w1""#, r#""contribution": "w9""#),
        "evaluations[0].contribution",
        "not a known contribution id",
    );
}

#[test]
fn a_missing_rate_is_a_warning_not_a_refusal() {
    let report = Scenario::from_json(
        variant(
            r#""default_rates": {"work": 3000}"#,
            r#""default_rates": {}"#,
        )
        .as_bytes(),
    )
    .unwrap()
    .score()
    .unwrap();
    assert_eq!(report.points.len(), 0);
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0].contains("no rate resolves for 2 work contribution(s)"));
    // Nothing earns points, so the shares bucket pays nothing: the rest is
    // the reserve, on its own line.
    assert_eq!(report.reserve, 95_000);
}
