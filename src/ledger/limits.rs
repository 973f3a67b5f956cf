//! Limits on everything a client can make the server hold or do.
//!
//! Every limit has a default sized for a cooperative of up to a hundred
//! thousand members on a small machine, can be changed on the command line of
//! `coopledger serve`, and is enforced with a `ResourceExhausted` (or
//! `InvalidArgument` for a field's own range) that names it.

use serde::{Deserialize, Serialize};

use crate::scoring::input::Kind;

/// The configurable limits of one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest gRPC message accepted, in bytes (tonic's decode limit).
    pub max_message_bytes: usize,
    /// Largest signed payload (one entry), in bytes.
    pub max_payload_bytes: usize,
    /// Most envelopes in one `SubmitBatch`.
    pub max_batch_entries: usize,
    /// Most tags on one contribution.
    pub max_tags: usize,
    /// Longest short string (handle-like fields, tags, project, name, currency), in bytes.
    pub max_string_bytes: usize,
    /// Longest free text (note, reason, evidence link), in bytes.
    pub max_note_bytes: usize,
    /// Most members in a network (founders included).
    pub max_members: usize,
    /// How far an entry's `created_at_ms` may be from the server's clock on
    /// arrival, and how far a contribution's `at` may be in the future.
    pub max_clock_skew_ms: u64,
    /// Most entries one `ListEntries` call returns.
    pub max_list_entries: u64,
    /// Most concurrent `Subscribe` streams.
    pub max_subscribers: usize,
    /// Most entries the sequencer writes in one group commit.
    pub max_group_entries: usize,
    /// Most requests waiting for the sequencer before `Submit` answers
    /// `ResourceExhausted` instead of queueing without bound.
    pub max_pending_requests: usize,
    /// Longest period one recorded distribution may cover, in seconds: a
    /// typo in an end date (9999) must not close every later month.
    pub max_distribution_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 << 20,
            max_payload_bytes: 64 << 10,
            max_batch_entries: 1000,
            max_tags: 16,
            max_string_bytes: 128,
            max_note_bytes: 4096,
            max_members: 100_000,
            max_clock_skew_ms: 10 * 60 * 1000,
            max_list_entries: 100_000,
            max_subscribers: 256,
            max_group_entries: 8192,
            max_pending_requests: 4096,
            max_distribution_seconds: 366 * 86_400,
        }
    }
}

impl Limits {
    /// The member limit in force: `max_members`, but never more than the
    /// scoring core accepts in one input (its member list is every member).
    pub fn max_members_scorable(&self) -> usize {
        self.max_members.min(crate::scoring::limits::MAX_ENTRIES)
    }

    /// No size limits at all: what replay checks against. Limits, like clock
    /// rules, apply when an entry arrives; an operator who lowers one must not
    /// find the log they already accepted called corrupt.
    pub fn unbounded() -> Self {
        Limits {
            max_message_bytes: usize::MAX,
            max_payload_bytes: usize::MAX,
            max_batch_entries: usize::MAX,
            max_tags: usize::MAX,
            max_string_bytes: usize::MAX,
            max_note_bytes: usize::MAX,
            max_members: usize::MAX,
            max_clock_skew_ms: u64::MAX,
            max_list_entries: u64::MAX,
            max_subscribers: usize::MAX,
            max_group_entries: usize::MAX,
            max_pending_requests: usize::MAX,
            max_distribution_seconds: u64::MAX,
        }
    }
}

/// The largest quantity, rate or amount the scoring spec accepts (10^15).
pub const MAX_AMOUNT: u64 = 1_000_000_000_000_000;

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

/// The most live (not retracted) contributions a log may hold: the spec's
/// limit per scoring input (§0), so a preview over every one of them is
/// never refused for its size.
pub const MAX_LIVE_CONTRIBUTIONS: u64 = crate::scoring::limits::MAX_CONTRIBUTIONS as u64;

/// The most standing evaluations (of live contributions) a log may hold: the
/// spec's limit per scoring input (§0).
pub const MAX_STANDING_EVALUATIONS: u64 = crate::scoring::limits::MAX_EVALUATIONS as u64;

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

/// The latest time coopledger accepts: 9999-12-31T23:59:59Z, so every time
/// has a four-digit-year RFC 3339 spelling.
pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;
