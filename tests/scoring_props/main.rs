//! Property tests of the scoring core over random cooperatives, and the
//! refusals a treasurer can run into, each naming its field.
//!
//! The random scenarios are built from small proptest-generated tuples
//! (indices are taken modulo the counts, so every reference is valid), with
//! bounded case counts so this file runs in seconds in a debug build.
//!
//! One test binary: the random cooperatives ([`Shape`], [`build`]) and the
//! independent references are here; the tests by topic are in [`money`]
//! (conservation, repayment, order, scaling), [`impartial`] (the impartial
//! division), [`fairness`] (the trust rule, the allocation gate and the
//! signals of the fairness revision), [`indexed`] (the numbered entry
//! scores what the string one does) and [`refusals`] (scenario refusals,
//! each naming its field).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::collections::BTreeMap;

use coopledger::scoring::allocation::{impartial_division, impartial_shares};
use coopledger::scoring::input::{
    Allocation, Contribution, Evaluation, Kind, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
use coopledger::scoring::policy::{
    Bucket, Decay, EvaluatorWeights, FlagRule, Mechanism, Mode, Policy, PolicyDocument, RatingRule,
    SharesMethod, SignalThresholds, ValidationRule,
};
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::{ScoringError, score};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

mod fairness;
mod impartial;
mod indexed;
mod money;
mod refusals;

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
    /// `flag_rule: weighted_majority` (only when no max_flags is set).
    weighted_majority: bool,
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
            (rates, multipliers, decay, validation, rating, eigentrust, weighted_majority),
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
            weighted_majority,
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
                // Sometimes a team: the first 3 + who % (n - 2) members
                // (at least three, for an impartial split).
                participants: (who % 3 == 0)
                    .then(|| members[..3 + usize::from(who) % (n - 2)].to_vec()),
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
        flag_rule: if shape.weighted_majority && shape.validation.1.is_none() {
            FlagRule::WeightedMajority
        } else {
            FlagRule::Count
        },
        ..ValidationRule::default()
    };
    policy.rating = RatingRule {
        min_ratings: shape.rating.0,
        default: shape.rating.1,
    };
    if shape.eigentrust {
        // With an impartial bucket, every member is pre-trusted so that
        // every member has trust > 0 and the bucket keeps n ≥ 3
        // participants (the allocation gate leaves out those of trust 0).
        let pretrusted = if impartial {
            members.clone()
        } else {
            vec![members[0].clone()]
        };
        policy.evaluator_weights = EvaluatorWeights::EigenTrust {
            pretrusted,
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
