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

#[path = "support/cooperative.rs"]
mod cooperative;

use std::hint::black_box;
use std::time::Duration;

use cooperative::{Rng, cooperative};
use coopledger::scoring::allocation::impartial_shares;
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::score;
use coopledger::scoring::trust::eigentrust;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

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
