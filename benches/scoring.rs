//! Criterion benches of the scoring core (`cargo bench --bench scoring`).
//!
//! Synthetic cooperatives come from a fixed-seed xorshift generator (here,
//! in the bench only: the core itself has no randomness), so every run
//! measures the same input. Groups:
//! - `score_members`: whole `score` for 100 … 100,000 members with ten
//!   contributions and ten evaluations per member, EigenTrust on;
//! - `score_1m`: 10,000 members, 1,000,000 contributions, 1,000,000
//!   evaluations, EigenTrust on (target: under 1 s on one core);
//! - `eigentrust`: EigenTrust alone on the same 10,000 members' trust;
//! - `impartial`: impartial division alone at 10, 50 and 200 participants
//!   (target: under 1 s at 200);
//! - `scenario_read`: reading a scenario file of 1,000 members, 100,000
//!   contributions and 100,000 evaluations (about 20 MB of JSON) with the
//!   one-pass reader (`from_json`) and with the reference tree reader
//!   (`from_json_tree`), from bytes in memory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use coopledger::scoring::allocation::impartial_shares;
use coopledger::scoring::input::{
    Allocation, Contribution, Evaluation, Kind, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
use coopledger::scoring::policy::{
    Bucket, Decay, EvaluatorWeights, Mechanism, Mode, Policy, PolicyDocument, RatingRule,
    SharesMethod, ValidationRule,
};
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::score;
use coopledger::scoring::trust::eigentrust;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// 2026-11-01T00:00:00Z and one month later.
const START: i64 = 1_793_491_200;
const END: i64 = START + 30 * 86_400;
const TAGS: [&str; 8] = [
    "design", "lead", "ops", "field", "docs", "outreach", "repair", "admin",
];

/// A fixed-seed xorshift64* generator: the bench's only randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
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

/// Random local trust (i, j, ±1) among `members`, `count` triples.
pub fn local_trust(members: usize, count: usize) -> Vec<(u32, u32, i64)> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    (0..count)
        .map(|_| {
            let i = rng.below(members as u64) as u32;
            let j = (i + 1 + rng.below(members as u64 - 1) as u32) % members as u32;
            (i, j, if rng.below(10) == 0 { -1 } else { 1 })
        })
        .collect()
}

/// Random impartial reports of n participants: integer percents summing to
/// 100, a few participants giving nothing (an even split).
pub fn impartial_reports(n: usize) -> Vec<Option<Vec<u64>>> {
    let mut rng = Rng(0xA076_1D64_78BD_642F ^ n as u64);
    (0..n)
        .map(|j| {
            if rng.below(20) == 0 {
                return None;
            }
            let mut row = vec![0u64; n];
            let mut left = 100;
            while left > 0 {
                let i = rng.below(n as u64) as usize;
                if i != j {
                    let give = left.min(1 + rng.below(10));
                    row[i] += give;
                    left -= give;
                }
            }
            Some(row)
        })
        .collect()
}

fn score_members(c: &mut Criterion) {
    let mut group = c.benchmark_group("score_members");
    for members in [100usize, 1_000, 10_000, 100_000] {
        let input = cooperative(members, members * 10, members * 10);
        group.sample_size(if members >= 100_000 { 10 } else { 20 });
        group.bench_with_input(BenchmarkId::from_parameter(members), &input, |b, input| {
            b.iter(|| score(black_box(input)).map(|report| report.reserve))
        });
    }
    group.finish();
}

fn score_1m(c: &mut Criterion) {
    let input = cooperative(10_000, 1_000_000, 1_000_000);
    let mut group = c.benchmark_group("score_1m");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    group.bench_function("10k_members_1m_contributions_1m_evaluations", |b| {
        b.iter(|| score(black_box(&input)).map(|report| report.reserve))
    });
    group.finish();
}

fn eigentrust_alone(c: &mut Criterion) {
    let members = 10_000;
    let trust = local_trust(members, 1_000_000);
    let pretrusted: Vec<u32> = (0..5).collect();
    let mut group = c.benchmark_group("eigentrust");
    group.sample_size(10);
    group.bench_function("10k_members_1m_evaluations", |b| {
        b.iter(|| eigentrust(members, black_box(&trust), &pretrusted, 150_000))
    });
    group.finish();
}

fn impartial(c: &mut Criterion) {
    let mut group = c.benchmark_group("impartial");
    for n in [10usize, 50, 200] {
        let reports = impartial_reports(n);
        group.sample_size(if n >= 200 { 10 } else { 20 });
        group.bench_with_input(BenchmarkId::from_parameter(n), &reports, |b, reports| {
            b.iter(|| impartial_shares(black_box(reports)))
        });
    }
    group.finish();
}

fn scenario_read(c: &mut Criterion) {
    let scenario = Scenario {
        input: cooperative(1_000, 100_000, 100_000),
    };
    let bytes = serde_json::to_vec(&scenario.to_json()).unwrap();
    // Both readers read it back to the same scenario.
    assert_eq!(Scenario::from_json(&bytes).unwrap(), scenario);
    let mut group = c.benchmark_group("scenario_read");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("one_pass_100k", |b| {
        b.iter(|| Scenario::from_json(black_box(&bytes)).map(|s| s.input.income))
    });
    group.bench_function("tree_100k", |b| {
        b.iter(|| Scenario::from_json_tree(black_box(&bytes)).map(|s| s.input.income))
    });
    group.finish();
}

criterion_group!(
    benches,
    score_members,
    score_1m,
    eigentrust_alone,
    impartial,
    scenario_read
);
criterion_main!(benches);
