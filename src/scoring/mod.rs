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
//!    contributions by id.
//! 2. `value` — a contribution's value in minor units, and its points.
//! 3. `review` — standing evaluations, validity, quality (weighted median),
//!    with evaluator weights from [`trust`] (EigenTrust) when asked.
//! 4. [`allocation`] — peer allocations: GIVE and impartial division.
//! 5. [`distribution`] — ordered buckets, Hamilton rounding, the reserve.
//! 6. [`report`] — what was paid to whom, and why ([`explain`] holds the
//!    per-member breakdowns).

pub mod allocation;
pub mod distribution;
pub mod error;
pub mod explain;
pub mod input;
pub(crate) mod json;
pub mod policy;
pub mod report;
pub(crate) mod review;
pub mod scenario;
pub mod time;
pub mod trust;
pub(crate) mod validate;
pub(crate) mod value;

pub use error::ScoringError;
pub use input::{
    Allocation, Contribution, Evaluation, Kind, Period, PriorPayout, PriorRepayment, ScoringInput,
    Verdict,
};
pub use policy::{Bucket, Mode, Policy, PolicyDocument};
pub use report::Report;

/// The spec's limits (§0), refused beyond with the field named.
pub mod limits {
    /// One million: parts per million, the unit of every percent and factor.
    pub const PPM: u64 = 1_000_000;
    /// Income, quantities, rates, prior amounts and a contribution's value.
    pub const MAX_AMOUNT: u64 = 1_000_000_000_000_000;
    /// Any multiplier (1000×).
    pub const MAX_MULTIPLIER_PPM: u64 = 1_000_000_000;
    /// A contribution's points.
    pub const MAX_POINTS: u128 = 1_000_000_000_000_000_000;
    /// Contributions per scoring input.
    pub const MAX_CONTRIBUTIONS: usize = 10_000_000;
    /// Evaluations per scoring input.
    pub const MAX_EVALUATIONS: usize = 10_000_000;
    /// Members and allocations per scoring input (not in the spec; the same
    /// bound as contributions, so every index fits u32). Prior amounts are
    /// not counted: they are summed per contribution or member on arrival.
    pub const MAX_ENTRIES: usize = 10_000_000;
    /// Bytes in a member id, contribution id, tag or fund name (not in the
    /// spec: member handles are at most 64 bytes, entry ids 64 hex digits).
    pub const MAX_NAME_BYTES: usize = 256;
    /// Tags on one contribution (not in the spec: a limit on everything).
    pub const MAX_TAGS: usize = 64;
    /// Participants of an impartial division (not in the spec: the exact
    /// rule costs n⁴ additions, about 10 s at 500 on this machine's core).
    pub const MAX_IMPARTIAL_PARTICIPANTS: usize = 500;
    /// Digits after the decimal point of a currency.
    pub const MAX_DECIMALS: u64 = 18;
    /// Length of one decay step, in days (about 2,700 years).
    pub const MAX_DECAY_INTERVAL_DAYS: u64 = 1_000_000;
}

/// Scores one distribution: validates `input` (refusing it with the field
/// and the rule), computes values, peer review, points, allocations and the
/// buckets, and returns the report. Deterministic: the same input gives a
/// byte-identical report.
pub fn score(input: &ScoringInput) -> Result<Report, ScoringError> {
    let prepared = validate::Prepared::new(input)?;
    let reviewed = review::review(&prepared)?;
    let scored = value::score_contributions(&prepared, &reviewed)?;
    let distributed = distribution::distribute(&prepared, &reviewed, &scored)?;
    report::build(prepared, reviewed, scored, distributed)
}
