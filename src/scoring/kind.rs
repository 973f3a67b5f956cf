//! The five kinds of contribution (§1) and what each one's quantity means.
//!
//! Its own module because every step names kinds: the input and the policy
//! (rates and multipliers per kind, buckets by kind), the value of a
//! contribution, the limits per kind and the report. Keeping it apart from
//! both `input` and `policy` is what lets the input hold a policy without
//! either module depending on the other in a circle.

use serde::Serialize;

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
