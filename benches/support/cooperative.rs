//! The synthetic cooperative the scoring and simulation benches measure,
//! from a fixed-seed xorshift generator (here, in the benches only: the
//! core itself has no randomness), so every run measures the same input.
//! Included by `benches/scoring.rs` and `benches/simulate.rs` with
//! `#[path]` (each bench is a crate of its own).

use std::collections::BTreeMap;

use coopledger::scoring::input::{
    Allocation, Contribution, Evaluation, Kind, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
use coopledger::scoring::policy::{
    Bucket, Decay, EvaluatorWeights, Mechanism, Mode, Policy, PolicyDocument, RatingRule,
    SharesMethod, ValidationRule,
};

/// 2026-11-01T00:00:00Z and one month later.
const START: i64 = 1_793_491_200;
const END: i64 = START + 30 * 86_400;
const TAGS: [&str; 8] = [
    "design", "lead", "ops", "field", "docs", "outreach", "repair", "admin",
];

/// A fixed-seed xorshift64* generator: the bench's only randomness.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A synthetic cooperative: `members` members, `contributions`
/// contributions over the last three months, `evaluations` peer evaluations,
/// 1% of members allocating, and a five-bucket policy with EigenTrust.
pub fn cooperative(members: usize, contributions: usize, evaluations: usize) -> ScoringInput {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ members as u64);
    let handles: Vec<String> = (0..members).map(|i| format!("member-{i:06}")).collect();
    let mut contribution_list = Vec::with_capacity(contributions);
    for i in 0..contributions {
        let kind = match rng.below(10) {
            0..=5 => Kind::Work,
            6 => Kind::Money,
            7 => Kind::Expense,
            8 => Kind::Resource,
            _ => Kind::Use,
        };
        let quantity = match kind {
            Kind::Work => 15 + rng.below(480),
            Kind::Money | Kind::Expense => 100 + rng.below(100_000),
            _ => 1 + rng.below(40),
        };
        let tags = (0..rng.below(3))
            .map(|_| TAGS[rng.below(TAGS.len() as u64) as usize].to_owned())
            .fold(Vec::new(), |mut tags: Vec<String>, tag| {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
                tags
            });
        contribution_list.push(Contribution {
            // Entry-id-like hex ids, not in id order.
            id: format!("{:016x}{i:08x}", rng.next()),
            member: handles[rng.below(members as u64) as usize].clone(),
            kind,
            quantity,
            rate: (rng.below(10) < 3).then(|| 1_000 + rng.below(5_000)),
            tags,
            at: END - 1 - rng.below(90 * 86_400) as i64,
        });
    }
    let mut evaluation_list = Vec::with_capacity(evaluations);
    for _ in 0..evaluations {
        let c = &contribution_list[rng.below(contributions as u64) as usize];
        let mut evaluator = rng.below(members as u64) as usize;
        if handles[evaluator] == c.member {
            evaluator = (evaluator + 1) % members;
        }
        evaluation_list.push(Evaluation {
            contribution: c.id.clone(),
            evaluator: handles[evaluator].clone(),
            verdict: if rng.below(10) == 0 {
                Verdict::Flag
            } else {
                Verdict::Approve
            },
            rating: (rng.below(10) < 7).then(|| 40 + rng.below(61) as u8),
        });
    }
    let allocations = (0..members.div_ceil(100))
        .map(|g| {
            let from = (g * 100) % members;
            let mut to = BTreeMap::new();
            let mut left = 100;
            while left > 0 {
                let receiver = rng.below(members as u64) as usize;
                if receiver != from {
                    let give = left.min(1 + rng.below(30));
                    *to.entry(handles[receiver].clone()).or_insert(0) += give;
                    left -= give;
                }
            }
            Allocation {
                from: handles[from].clone(),
                to,
            }
        })
        .collect();
    let prior_repayments = (0..contributions / 100)
        .map(|k| PriorRepayment {
            contribution: contribution_list[k * 97 % contributions].id.clone(),
            amount: rng.below(5_000),
        })
        .collect();
    let prior_payouts = (0..members / 10)
        .map(|k| PriorPayout {
            recipient: handles[k * 7 % members].clone(),
            amount: rng.below(200_000),
        })
        .collect();
    let mut policy = Policy {
        decay: Some(Decay {
            interval_days: 7,
            rate_ppm: 20_000,
        }),
        validation: ValidationRule {
            min_approvals: 1,
            max_flags: Some(1),
            ..ValidationRule::default()
        },
        rating: RatingRule {
            min_ratings: 1,
            default: 80,
        },
        evaluator_weights: EvaluatorWeights::EigenTrust {
            pretrusted: handles.iter().take(5).cloned().collect(),
            damping_ppm: 150_000,
        },
        ..Policy::default()
    };
    policy.default_rates = [
        (Kind::Work, 2_500),
        (Kind::Resource, 800),
        (Kind::Use, 1_500),
    ]
    .into_iter()
    .collect();
    policy.rates = [("design", 3_000), ("repair", 2_800), ("admin", 2_000)]
        .into_iter()
        .map(|(tag, rate)| (tag.to_owned(), rate))
        .collect();
    policy.kind_multiplier_ppm = [(Kind::Money, 2_000_000)].into_iter().collect();
    policy.tag_multiplier_ppm = [("lead", 1_200_000), ("field", 1_500_000)]
        .into_iter()
        .map(|(tag, ppm)| (tag.to_owned(), ppm))
        .collect();
    ScoringInput {
        policy: PolicyDocument {
            currency: Some("EUR".to_owned()),
            decimals: Some(2),
            policy,
            mode: Mode::Remaining,
            buckets: vec![
                Bucket::Fixed {
                    percent_ppm: 50_000,
                    recipient: "commons-fund".to_owned(),
                },
                Bucket::Reimburse {
                    percent_ppm: 500_000,
                    kinds: vec![Kind::Expense, Kind::Money],
                },
                Bucket::Shares {
                    percent_ppm: 600_000,
                    kinds: vec![Kind::Work, Kind::Resource, Kind::Use],
                    method: SharesMethod::Immediate,
                },
                Bucket::Shares {
                    percent_ppm: 500_000,
                    kinds: vec![Kind::Work],
                    method: SharesMethod::Balanced,
                },
                Bucket::Allocation {
                    percent_ppm: 1_000_000,
                    mechanism: Mechanism::Give,
                    participants: None,
                },
            ],
        },
        members: handles,
        contributions: contribution_list,
        evaluations: evaluation_list,
        allocations,
        prior_repayments,
        prior_payouts,
        period: Period {
            start: START,
            end: END,
        },
        income: 250_000_000,
    }
}
