//! The pure scoring core: from contributions and peer evaluations to the
//! exact cents of a distribution (`shared/spec/SCORING.md`).
//!
//! [`score`] is a pure function of a [`ScoringInput`]: no I/O, no clock, no
//! randomness, no hash-map order. Every order that can change a result
//! (sums, tie-breaks, lists in the report) is member-id or contribution-id
//! order, bytewise, whatever the order of the input; money is integer minor
//! units; the few floating-point steps (EigenTrust, impartial division) use
//! the spec's exact summation order; and the report is checked against the
//! invariant Σ payouts + reserve = income before it is returned. The same
//! input gives a byte-identical report on every run and machine.
//!
//! The pipeline, one module per step:
//! 1. `validate` — refuse bad input naming the field; index members and
//!    contributions by id (the id index is `ids`), resolve each
//!    contribution's rate and value (`rate`) and its tags (`tags`).
//!    ([`indexed`] prepares the same from input already held as numbers.)
//! 2. `value` — a contribution's points.
//! 3. `review` — standing evaluations, validity, quality (weighted median),
//!    with evaluator weights from [`trust`] (EigenTrust) when asked.
//! 4. [`allocation`] — peer allocations: GIVE and impartial division.
//! 5. [`distribution`] — ordered buckets, Hamilton rounding, the reserve.
//! 6. [`signals`] — the collusion signals of §6.1, computed after the money
//!    and changing none of it.
//! 7. [`report`] — what was paid to whom, and why ([`explain`] holds the
//!    per-member breakdowns).
//!
//! Beside the pipeline: what is scored ([`input`], [`kind`], [`policy`];
//! [`scenario`] reads it all from a file, in one pass with typed visitors
//! (`scenario_stream`) and the `json` tree reader for the rest), the
//! [`limits`] (the spec's, and the per-kind bounds the ledger enforces),
//! [`time`], [`units`] (ppm read as percents and factors) and [`error`].
//! The modules' imports form no cycle and reach
//! nothing outside `scoring` (`tests/layering.rs` checks both), so the core
//! can be read, tested and reused alone.

pub mod allocation;
pub mod distribution;
pub mod error;
pub mod explain;
pub(crate) mod ids;
pub mod indexed;
pub mod input;
pub(crate) mod json;
pub mod kind;
pub mod limits;
pub mod policy;
pub(crate) mod rate;
pub mod report;
pub(crate) mod review;
pub mod scenario;
pub(crate) mod scenario_stream;
pub mod signals;
pub(crate) mod tags;
pub mod time;
pub mod trust;
pub mod units;
pub(crate) mod validate;
pub(crate) mod value;

pub use error::ScoringError;
pub use input::{
    Allocation, Contribution, Evaluation, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
pub use json::check_unique_keys;
pub use kind::Kind;
pub use policy::{Bucket, Mode, Policy, PolicyDocument};
pub use report::Report;
pub use signals::{Signal, SignalKind};

/// Scores one distribution: validates `input` (refusing it with the field
/// and the rule), computes values, peer review, points, allocations and the
/// buckets, and returns the report. Deterministic: the same input gives a
/// byte-identical report.
pub fn score(input: &ScoringInput) -> Result<Report, ScoringError> {
    run(validate::Prepared::new(input)?)
}

/// The pipeline after validation, shared by [`score`] and
/// [`indexed::score_indexed`] (which prepares the same input from numbers).
fn run(prepared: validate::Prepared<'_>) -> Result<Report, ScoringError> {
    let reviewed = review::review(&prepared)?;
    let scored = value::score_contributions(&prepared, &reviewed)?;
    let distributed = distribution::distribute(&prepared, &reviewed, &scored)?;
    // After the money, from the same review: signals change no payout.
    let signals = signals::signals(&prepared, &reviewed);
    report::build(prepared, reviewed, scored, distributed, signals)
}
