//! The attack simulator behind `coopledger simulate` (issue #12, part 3):
//! what a cooperative's rules let a scripted attack take, before the
//! members adopt them.
//!
//! A scenario (SCORING.md §7) is scored once as it is — the *honest run* —
//! and once per attack of the catalogue ([`AttackKind`]), each a rewrite of
//! the same input: members added, quantities inflated, evaluations and
//! allocations appended in log order (so they replace the attackers' own
//! earlier ones, as later entries do in the log). For every attack and
//! bucket the simulator measures the share the attackers capture, their
//! gain over what they were paid in the honest run, and how far honest
//! members' payouts move (the largest single loss and the mean loss).
//!
//! Like the scoring core it drives, this module is pure and deterministic:
//! no I/O, clock, randomness or hash-map order. Which members play the
//! attackers is a documented rule ([`choose`]) or given by the caller, so
//! the same scenario and settings give the same table on every machine.

pub mod attack;
pub mod catalogue;
pub mod measure;
pub mod settings;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scoring::{self, Report, ScoringError, ScoringInput};

pub use catalogue::AttackKind;
pub use measure::{BucketMeasure, Loss, Measure};
pub use settings::{MAX_GROUP, MAX_INFLATE_PPM, Settings, choose, default_group};

/// Why a simulation cannot run at all (one attack that cannot run is an
/// [`Outcome`] saying why, not an error).
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The scenario itself is refused by the scoring core.
    #[error("the honest run is refused: {0}")]
    Honest(#[source] ScoringError),
    /// A setting is out of range or names someone who is not a member.
    #[error("{0}")]
    Setting(String),
}

/// One attack's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Which attack.
    pub attack: AttackKind,
    /// The attacking members (sybils included), sorted.
    pub attackers: Vec<String>,
    /// The member the attack aims at, if any (the flagged rival, the
    /// member an impartial report names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What the attackers did, in words.
    pub story: String,
    /// What it did to the money, or why it was not run.
    #[serde(flatten)]
    pub result: OutcomeResult,
}

/// What came of one attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutcomeResult {
    /// The attack does not apply to this policy (a GIVE clique with no
    /// GIVE bucket), or to this cooperative (too few members); why.
    NotApplicable {
        /// Why, in words.
        reason: String,
    },
    /// The attacked input was refused by the scoring core or by a limit of
    /// the simulation; the message.
    Skipped {
        /// Why, in words.
        reason: String,
    },
    /// Scored: the figures.
    Measured(Measure),
}

/// The simulation of one scenario: the honest run and every attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    /// Members in the scenario.
    pub members: usize,
    /// Contributions dated in the period.
    pub period_contributions: usize,
    /// The income split.
    pub income: u64,
    /// The honest run's payouts.
    pub honest_payouts: BTreeMap<String, u64>,
    /// Each attack, in catalogue order.
    pub outcomes: Vec<Outcome>,
}

/// Runs the honest scenario and every chosen attack.
pub fn simulate(input: &ScoringInput, settings: &Settings) -> Result<Simulation, SimulateError> {
    check_settings(input, settings)?;
    let honest = scoring::score(input).map_err(SimulateError::Honest)?;
    let ranking = rank_by_payout(&input.members, &honest);
    let kinds: Vec<AttackKind> = if settings.attacks.is_empty() {
        AttackKind::ALL.to_vec()
    } else {
        AttackKind::ALL
            .iter()
            .copied()
            .filter(|kind| settings.attacks.contains(kind))
            .collect()
    };
    let outcomes = kinds
        .into_iter()
        .map(|kind| run_one(kind, input, &honest, &ranking, settings))
        .collect();
    Ok(Simulation {
        members: input.members.len(),
        period_contributions: input
            .contributions
            .iter()
            .filter(|c| input.period.contains(c.at))
            .count(),
        income: input.income,
        honest_payouts: honest.payouts.clone(),
        outcomes,
    })
}

/// Builds, scores and measures one attack.
fn run_one(
    kind: AttackKind,
    input: &ScoringInput,
    honest: &Report,
    ranking: &[String],
    settings: &Settings,
) -> Outcome {
    let plan = match attack::plan(kind, input, ranking, settings) {
        Ok(plan) => plan,
        Err(attack::Inapplicable(reason)) => {
            return Outcome {
                attack: kind,
                attackers: Vec::new(),
                target: None,
                story: kind.summary().to_owned(),
                result: OutcomeResult::NotApplicable { reason },
            };
        }
    };
    let result = if plan.added_evaluations > settings.max_added_evaluations {
        OutcomeResult::Skipped {
            reason: format!(
                "it would append {} evaluations, more than the limit of {} \
                 (choose a smaller ring, or raise the limit)",
                plan.added_evaluations, settings.max_added_evaluations
            ),
        }
    } else {
        let attacked = attack::apply(&plan, input);
        match scoring::score(&attacked) {
            Ok(report) => OutcomeResult::Measured(measure::measure(
                &input.members,
                &plan.attackers,
                honest,
                &report,
                &input.policy.buckets,
            )),
            Err(err) => OutcomeResult::Skipped {
                reason: format!("the scoring core refused the attacked log: {err}"),
            },
        }
    };
    let mut attackers = plan.attackers.clone();
    attackers.sort();
    Outcome {
        attack: kind,
        attackers,
        target: plan.target.clone(),
        story: plan.story.clone(),
        result,
    }
}

/// Real members from the least to the best paid in the honest run (ties:
/// the smaller handle first): the order [`choose`] picks attackers from.
fn rank_by_payout(members: &[String], honest: &Report) -> Vec<String> {
    let mut ranked: Vec<(u64, &String)> = members
        .iter()
        .map(|m| (honest.payouts.get(m).copied().unwrap_or(0), m))
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, m)| m.clone()).collect()
}

/// Refuses settings that name non-members or sizes out of range, before
/// anything is scored.
fn check_settings(input: &ScoringInput, settings: &Settings) -> Result<(), SimulateError> {
    let members: Vec<&str> = {
        let mut m: Vec<&str> = input.members.iter().map(String::as_str).collect();
        m.sort_unstable();
        m
    };
    let is_member = |name: &str| members.binary_search(&name).is_ok();
    for (what, size) in [("--sybils", settings.sybils), ("--ring", settings.ring)] {
        if let Some(size) = size
            && !(2..=MAX_GROUP).contains(&size)
        {
            return Err(SimulateError::Setting(format!(
                "{what} {size} is out of range: a group is 2 to {MAX_GROUP} members"
            )));
        }
    }
    if let Some(attackers) = &settings.attackers {
        if attackers.is_empty() || attackers.len() > MAX_GROUP {
            return Err(SimulateError::Setting(format!(
                "--attackers names {} members: name 1 to {MAX_GROUP}",
                attackers.len()
            )));
        }
        let mut seen: Vec<&str> = attackers.iter().map(String::as_str).collect();
        seen.sort_unstable();
        if let Some(pair) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(SimulateError::Setting(format!(
                "--attackers names {} twice",
                pair[0]
            )));
        }
        if let Some(stranger) = attackers.iter().find(|a| !is_member(a)) {
            return Err(SimulateError::Setting(format!(
                "--attackers names {stranger}, who is not a member of the scenario"
            )));
        }
        if attackers.len() >= input.members.len() {
            return Err(SimulateError::Setting(
                "--attackers names every member: leave at least one honest member".to_owned(),
            ));
        }
    }
    if let Some(rival) = &settings.rival {
        if !is_member(rival) {
            return Err(SimulateError::Setting(format!(
                "--rival {rival} is not a member of the scenario"
            )));
        }
        if settings
            .attackers
            .as_ref()
            .is_some_and(|a| a.contains(rival))
        {
            return Err(SimulateError::Setting(format!(
                "--rival {rival} is also named in --attackers"
            )));
        }
    }
    if settings.inflate_ppm <= scoring::limits::PPM || settings.inflate_ppm > MAX_INFLATE_PPM {
        return Err(SimulateError::Setting(format!(
            "--inflate {} is out of range: more than ×1 and at most ×{}",
            scoring::units::ppm_as_factor(settings.inflate_ppm).trim_start_matches('×'),
            MAX_INFLATE_PPM / scoring::limits::PPM
        )));
    }
    Ok(())
}
