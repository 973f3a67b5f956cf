//! The spec's limits (§0), refused beyond with the field named, and the
//! per-kind bounds on a contribution that keep every value within them.
//!
//! The per-kind bounds are scoring facts (value(c) ≤ 10^15 under any rate a
//! network can adopt) that the ledger enforces when an entry arrives and a
//! policy is adopted; they live here so the scoring core can check a policy
//! without depending on the ledger, which re-exports them.

use super::kind::Kind;

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

// Per-kind bounds on a contribution (DESIGN principle 8, "What the log
// accepts, the scoring core can score"). The spec refuses a contribution
// worth more than 10^15 minor units, so each bound on a quantity is paired
// with a bound on every rate that can value it (the contribution's own rate
// at ingestion, the policy's `default_rates` and `rates` at adoption) such
// that value(c) ≤ 10^15 whatever rate applies:
//
// - work: 10^6 minutes (about 16,666 hours, close to two years round the
//   clock: no honest single entry logs more) × 6·10^10 minor units an hour
//   / 60 = 10^15 exactly;
// - money, expense: the quantity is the value, so 10^15;
// - resource, use: 10^6 units × 10^9 minor units a unit = 10^15. A million
//   units (kilograms, pieces, machine hours) is more than one delivery or
//   one booking; 10^9 minor units is 10,000,000.00 a unit with two
//   decimals. Whoever needs more logs several entries or counts in a
//   larger unit.
//
// These are protocol rules, not server settings: a server that accepted more
// would accept a log its own previews cannot score.

/// The most minutes one work contribution may log (about 16,666 hours).
pub const MAX_WORK_MINUTES: u64 = 1_000_000;

/// The highest hourly rate (minor units an hour) a work contribution or a
/// policy's `default_rates.work` may carry: MAX_WORK_MINUTES at this rate are
/// worth exactly MAX_AMOUNT.
pub const MAX_WORK_RATE: u64 = 60 * MAX_AMOUNT / MAX_WORK_MINUTES;

/// The most units one resource or use contribution may log.
pub const MAX_UNITS: u64 = 1_000_000;

/// The highest rate per unit (minor units) a resource or use contribution, a
/// policy's `default_rates.resource`/`default_rates.use`, or a policy's
/// `rates[tag]` (which applies to work, resource and use alike) may carry:
/// MAX_UNITS at this rate are worth exactly MAX_AMOUNT.
pub const MAX_UNIT_RATE: u64 = MAX_AMOUNT / MAX_UNITS;

/// The most minor units one money or expense contribution may log (its
/// quantity is its value).
pub const MAX_MONEY: u64 = MAX_AMOUNT;

/// The most quantity a contribution of `kind` may log.
pub fn max_quantity(kind: Kind) -> u64 {
    match kind {
        Kind::Work => MAX_WORK_MINUTES,
        Kind::Money | Kind::Expense => MAX_MONEY,
        Kind::Resource | Kind::Use => MAX_UNITS,
    }
}

/// The highest rate that may value a contribution of `kind`; `None` for
/// money and expenses, whose value is their quantity (a rate on them is
/// ignored, and only bounded by MAX_AMOUNT like every amount).
pub fn max_rate(kind: Kind) -> Option<u64> {
    match kind {
        Kind::Work => Some(MAX_WORK_RATE),
        Kind::Money | Kind::Expense => None,
        Kind::Resource | Kind::Use => Some(MAX_UNIT_RATE),
    }
}

/// The highest rate a policy's `rates[tag]` may carry: it values work,
/// resource and use contributions alike, so it must fit all of them.
pub const MAX_TAG_RATE: u64 = if MAX_WORK_RATE < MAX_UNIT_RATE {
    MAX_WORK_RATE
} else {
    MAX_UNIT_RATE
};

/// The most a contribution of `kind` can be worth, in minor units, under the
/// bounds above and any rate a policy may adopt.
pub fn max_value(kind: Kind) -> u64 {
    let quantity = u128::from(max_quantity(kind));
    let value = match max_rate(kind) {
        None => quantity,
        Some(rate) if kind == Kind::Work => quantity * u128::from(rate) / 60,
        Some(rate) => quantity * u128::from(rate),
    };
    // At most MAX_AMOUNT by construction (checked by the constant below).
    u64::try_from(value).unwrap_or(u64::MAX)
}

// The bounds keep every value within the spec's limit.
const _: () = assert!(MAX_WORK_MINUTES * MAX_WORK_RATE / 60 <= MAX_AMOUNT);
const _: () = assert!(MAX_UNITS * MAX_UNIT_RATE <= MAX_AMOUNT);
const _: () = assert!(MAX_MONEY <= MAX_AMOUNT);
