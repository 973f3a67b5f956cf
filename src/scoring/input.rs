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

/// The five kinds of contribution the spec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Time: quantity is minutes, valued at an hourly rate.
    Work,
    /// Cash put in: quantity is minor units.
    Money,
    /// Money spent for the cooperative: quantity is minor units.
    Expense,
    /// Material: quantity is units, valued at a unit rate.
    Resource,
    /// Use of equipment: quantity is units (hours...), valued at a unit rate.
    Use,
}

impl Kind {
    /// Every kind, in the order used for lists and messages.
    pub const ALL: [Kind; 5] = [
        Kind::Work,
        Kind::Money,
        Kind::Expense,
        Kind::Resource,
        Kind::Use,
    ];

    /// The word used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Work => "work",
            Kind::Money => "money",
            Kind::Expense => "expense",
            Kind::Resource => "resource",
            Kind::Use => "use",
        }
    }

    /// The kind's position in [`Kind::ALL`], for per-kind tables.
    pub(crate) fn index(self) -> usize {
        // ALL lists the variants in declaration order.
        self as usize
    }

    /// Whether the quantity is already money (value = quantity, no rate).
    pub fn is_money(self) -> bool {
        matches!(self, Kind::Money | Kind::Expense)
    }

    /// The kind named by `word`, if any.
    pub fn from_word(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// The (word, kind) table used by the JSON reader.
    pub(crate) fn choices() -> [(&'static str, Kind); 5] {
        Kind::ALL.map(|kind| (kind.as_str(), kind))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_indexes_its_place_in_all() {
        for (position, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), position);
        }
    }
}
