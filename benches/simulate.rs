//! Criterion bench of the attack simulator (`cargo bench --bench
//! simulate`): `coopledger simulate`'s whole catalogue on a 1,000-member
//! cooperative (10,000 contributions and 10,000 evaluations over three
//! months, EigenTrust, five buckets with GIVE; the generator of the scoring
//! bench), and the honest run alone for scale. The simulation scores the
//! scenario once honestly and once per attack, so its cost is about eight
//! scorings plus the rewrites.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

#[path = "support/cooperative.rs"]
mod cooperative;

use std::hint::black_box;

use cooperative::cooperative;
use coopledger::scoring::score;
use coopledger::simulate::{OutcomeResult, Settings, simulate};
use criterion::{Criterion, criterion_group, criterion_main};

fn simulate_1000(c: &mut Criterion) {
    let input = cooperative(1_000, 10_000, 10_000);
    let settings = Settings::default();
    // Every attack of the catalogue that fits this policy is measured.
    let simulation = simulate(&input, &settings).unwrap();
    for outcome in &simulation.outcomes {
        assert!(
            !matches!(outcome.result, OutcomeResult::Skipped { .. }),
            "{outcome:?}"
        );
    }
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.bench_function("honest_run_1000_members", |b| {
        b.iter(|| score(black_box(&input)).map(|report| report.reserve))
    });
    group.bench_function("catalogue_1000_members", |b| {
        b.iter(|| {
            simulate(black_box(&input), &settings)
                .map(|s| s.outcomes.len())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, simulate_1000);
criterion_main!(benches);
