//! The catalogue of attacks the simulator knows: their names on the
//! command line and in JSON, and what each is in a line.

use serde::Serialize;

/// One attack of the catalogue (issue #12), in the order they are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Made-up members, admitted, each claiming the median claim and
    /// approving (rating 100) the others' claims; they allocate to each
    /// other.
    SybilRing,
    /// Real members inflate their work, approve each other's claims with
    /// rating 100 and rate everyone else's 0.
    CollusionRatings,
    /// The same ring, flagging everyone else's claims instead.
    CollusionFlags,
    /// One member multiplies their work claims.
    InflatedHours,
    /// A coalition flags every claim of one rival.
    FlagRival,
    /// A clique gives all its allocation points to each other.
    GiveClique,
    /// One member's allocation names whoever it can to move the impartial
    /// division in their favour.
    ImpartialReport,
}

impl AttackKind {
    /// Every attack, in catalogue order.
    pub const ALL: [AttackKind; 7] = [
        AttackKind::SybilRing,
        AttackKind::CollusionRatings,
        AttackKind::CollusionFlags,
        AttackKind::InflatedHours,
        AttackKind::FlagRival,
        AttackKind::GiveClique,
        AttackKind::ImpartialReport,
    ];

    /// The attack's name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::SybilRing => "sybil-ring",
            AttackKind::CollusionRatings => "collusion-ratings",
            AttackKind::CollusionFlags => "collusion-flags",
            AttackKind::InflatedHours => "inflated-hours",
            AttackKind::FlagRival => "flag-rival",
            AttackKind::GiveClique => "give-clique",
            AttackKind::ImpartialReport => "impartial-report",
        }
    }

    /// The attack named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<AttackKind> {
        AttackKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// One line saying what the attack is, for help and for attacks that
    /// do not apply.
    pub fn summary(self) -> &'static str {
        match self {
            AttackKind::SybilRing => {
                "made-up members approve each other's claims and allocate to each other"
            }
            AttackKind::CollusionRatings => {
                "a ring inflates its work, rates its own claims 100 and everyone else's 0"
            }
            AttackKind::CollusionFlags => {
                "a ring inflates its work, approves its own claims and flags everyone else's"
            }
            AttackKind::InflatedHours => "one member multiplies their work claims",
            AttackKind::FlagRival => "a coalition flags every claim of one rival",
            AttackKind::GiveClique => "a clique gives all its points to each other",
            AttackKind::ImpartialReport => {
                "one member's allocation tries to move the impartial split their way"
            }
        }
    }
}
