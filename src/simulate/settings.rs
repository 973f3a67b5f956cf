//! What a simulation is asked to do ([`Settings`]) and the documented rule
//! for who plays the attackers ([`choose`], [`default_group`]): shared by
//! the simulation and the attack plans.

use super::catalogue::AttackKind;

/// The largest ring or sybil group a simulation builds (each added member
/// multiplies the evaluations an attack appends).
pub const MAX_GROUP: usize = 500;

/// The largest inflation factor, in ppm (×100).
pub const MAX_INFLATE_PPM: u64 = 100_000_000;

/// What to simulate, and with whom. `Default` is every attack with the
/// documented choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The attacks to run, in catalogue order; empty: all of them.
    pub attacks: Vec<AttackKind>,
    /// How many sybils join the sybil ring (default: [`default_group`]).
    pub sybils: Option<usize>,
    /// How many real members form a ring, coalition or clique (default:
    /// [`default_group`]); ignored when `attackers` is given.
    pub ring: Option<usize>,
    /// The real members who attack, instead of the rule of [`choose`]; a
    /// single-attacker attack takes the first.
    pub attackers: Option<Vec<String>>,
    /// The member a coalition flags, instead of the best-paid outsider.
    pub rival: Option<String>,
    /// How much inflated claims are multiplied by, in ppm (2×: 2,000,000),
    /// above 1× and at most [`MAX_INFLATE_PPM`].
    pub inflate_ppm: u64,
    /// The most evaluations one attack may append; an attack that would
    /// append more is skipped with the reason (a ring rating every claim of
    /// a million-claim period would otherwise need gigabytes).
    pub max_added_evaluations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            attacks: Vec::new(),
            sybils: None,
            ring: None,
            attackers: None,
            rival: None,
            inflate_ppm: 2_000_000,
            max_added_evaluations: 2_000_000,
        }
    }
}

/// The ring and sybil size when none is given: a tenth of the members,
/// rounded up, at least 2 and at most 20 (the study behind #12 used 10%).
pub fn default_group(members: usize) -> usize {
    members.div_ceil(10).clamp(2, 20)
}

/// The documented rule for who attacks: the `k` members in the middle of
/// the honest ranking (positions ⌊(n − k) / 2⌋ onwards, least paid first),
/// typical members rather than the best or the least paid. A single
/// attacker is the middle member.
pub fn choose(ranking: &[String], k: usize) -> Vec<String> {
    let k = k.min(ranking.len());
    let start = (ranking.len() - k) / 2;
    ranking[start..start + k].to_vec()
}
