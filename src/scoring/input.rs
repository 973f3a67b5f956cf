//! What the scoring core scores: members, contributions, evaluations,
//! allocations, prior amounts, a period, an income and a policy.
//!
//! These are plain Rust values so the service can build them from the log
//! without going through JSON; `scenario.rs` builds the same values from a
//! scenario file. Every reference is by string id (member handles,
//! contribution ids), compared bytewise, exactly as the spec says, and the
//! order of every list is irrelevant to the result except where the spec
//! gives it meaning ("later" evaluations and allocations replace earlier
//! ones; bucket order).

use std::collections::BTreeMap;

use serde::Serialize;

use super::policy::PolicyDocument;

// Kinds have a module of their own (the policy needs them too); they stay
// reachable here, beside the contribution that carries one.
pub use super::kind::Kind;

/// One logged contribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    /// Unique id (in the live log, the entry id); ties in rounding go to the
    /// smaller id.
    pub id: String,
    /// The contributing member's handle.
    pub member: String,
    /// What was contributed.
    pub kind: Kind,
    /// Minutes (work), minor units (money, expense) or units (resource, use);
    /// 0..=10^15.
    pub quantity: u64,
    /// The contribution's own rate (minor units per hour or per unit), which
    /// wins over the policy's rates; 0..=10^15.
    pub rate: Option<u64>,
    /// Ordered tags without duplicates; they select rates and multipliers.
    pub tags: Vec<String>,
    /// When the contribution happened, in Unix seconds; decides the period
    /// it belongs to and its decay.
    pub at: i64,
}

/// What a peer says about a contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The contribution happened as logged.
    Approve,
    /// The peer disputes it.
    Flag,
}

impl Verdict {
    /// The word used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Flag => "flag",
        }
    }
}

/// One peer evaluation. A later evaluation by the same evaluator of the same
/// contribution replaces the earlier one (list order is log order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The id of the evaluated contribution.
    pub contribution: String,
    /// The evaluating member's handle.
    pub evaluator: String,
    /// Approve or flag.
    pub verdict: Verdict,
    /// Quality in percent, 0..=100, if the evaluator rated it.
    pub rating: Option<u8>,
}

/// One member's split of 100 among other members for the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The giving member.
    pub from: String,
    /// Receiving member → integer percent; the values sum to 100, never to
    /// `from` itself. Entries of 0 are allowed and dropped.
    pub to: BTreeMap<String, u64>,
}

/// What earlier distributions' reimburse buckets already repaid for one
/// contribution. Several entries for the same contribution add up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorRepayment {
    /// The contribution repaid.
    pub contribution: String,
    /// Minor units, 0..=10^15.
    pub amount: u64,
}

/// What earlier distributions' shares buckets already paid one member (for
/// the `balanced` method). Several entries for the same member add up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorPayout {
    /// The member paid.
    pub recipient: String,
    /// Minor units, 0..=10^15.
    pub amount: u64,
}

/// A half-open UTC range `[start, end)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First second of the period.
    pub start: i64,
    /// First second after the period; also the reference time for decay.
    pub end: i64,
}

impl Period {
    /// Whether `at` lies in `[start, end)`.
    pub fn contains(&self, at: i64) -> bool {
        self.start <= at && at < self.end
    }
}

/// Everything one distribution is computed from. The scoring core is a pure
/// function of this value: same input, bit-identical report.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringInput {
    /// The rules: rates, multipliers, decay, review, weights, mode, buckets
    /// (and the currency, for display).
    pub policy: PolicyDocument,
    /// Member handles, in any order; duplicates are refused.
    pub members: Vec<String>,
    /// All contributions known at the time of scoring (earlier periods too:
    /// reimbursements and `balanced` shares look back).
    pub contributions: Vec<Contribution>,
    /// Peer evaluations in log order.
    pub evaluations: Vec<Evaluation>,
    /// The allocations made for this period, in log order.
    pub allocations: Vec<Allocation>,
    /// What earlier distributions repaid per contribution.
    pub prior_repayments: Vec<PriorRepayment>,
    /// What earlier distributions' shares buckets paid per member.
    pub prior_payouts: Vec<PriorPayout>,
    /// The period distributed.
    pub period: Period,
    /// The income distributed, in minor units, 0..=10^15.
    pub income: u64,
}
