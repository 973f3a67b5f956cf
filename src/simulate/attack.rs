//! The catalogue of scripted attacks, and how each rewrites a scenario.
//!
//! An attack is planned first ([`plan`]: who, what, how many evaluations it
//! will append — cheap, so a limit can refuse it before anything is built)
//! and then applied to a copy of the input ([`apply`]). Appended
//! evaluations and allocations come after the honest ones, so they replace
//! the attackers' own earlier ones exactly as later entries do in the log.

use std::collections::{BTreeMap, BTreeSet};

use super::catalogue::AttackKind;
use super::settings::{Settings, choose, default_group};
use crate::scoring::limits::{MAX_WORK_MINUTES, PPM};
use crate::scoring::policy::{Bucket, Mechanism};
use crate::scoring::{Allocation, Contribution, Evaluation, Kind, ScoringInput, Verdict};

/// A group of members, sorted for O(log k) membership tests (a ring is
/// checked against every contribution of the period).
struct Roster<'a>(Vec<&'a str>);

impl<'a> Roster<'a> {
    fn of(members: &'a [String]) -> Roster<'a> {
        let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        Roster(sorted)
    }

    fn contains(&self, member: &str) -> bool {
        self.0.binary_search(&member).is_ok()
    }
}

/// Why an attack does not apply here.
#[derive(Debug)]
pub struct Inapplicable(pub String);

/// What one attack will do, decided before anything is built.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The members whose payouts count as the attackers' (sybils included).
    pub attackers: Vec<String>,
    /// Who the attack aims at, if anyone.
    pub target: Option<String>,
    /// What the attackers do, in words.
    pub story: String,
    /// How many evaluations [`apply`] will append.
    pub added_evaluations: usize,
    script: Script,
    inflate_ppm: u64,
}

/// The rewrite itself.
#[derive(Debug, Clone)]
enum Script {
    SybilRing {
        sybils: Vec<String>,
        template: Option<Contribution>,
        claims_each: usize,
        allocate: bool,
    },
    Collusion {
        ring: Vec<String>,
        outsiders: Verdict,
    },
    Inflate {
        member: String,
    },
    FlagRival {
        coalition: Vec<String>,
        rival: String,
    },
    GiveClique {
        clique: Vec<String>,
    },
    ImpartialReport {
        attacker: String,
        named: String,
    },
}

/// Decides who attacks and what they do, from the honest `ranking` (least
/// paid first) and the settings.
pub fn plan(
    kind: AttackKind,
    input: &ScoringInput,
    ranking: &[String],
    settings: &Settings,
) -> Result<Plan, Inapplicable> {
    let in_period = |c: &&Contribution| input.period.contains(c.at);
    let group = |what: &str| -> Result<Vec<String>, Inapplicable> {
        if let Some(named) = &settings.attackers {
            return Ok(named.clone());
        }
        if input.members.len() < 3 {
            return Err(Inapplicable(format!(
                "a {what} needs at least 3 members (2 attackers and someone to attack)"
            )));
        }
        let k = settings
            .ring
            .unwrap_or_else(|| default_group(input.members.len()))
            .min(input.members.len() - 1);
        let mut chosen = choose(ranking, k);
        chosen.sort();
        Ok(chosen)
    };
    // A single attacker: the first named, else the middle of the ranking
    // among the members the attack can use (`eligible`).
    let single = |eligible: &dyn Fn(&str) -> bool| -> Option<String> {
        match &settings.attackers {
            Some(named) => named.first().cloned(),
            None => {
                let pool: Vec<String> = ranking.iter().filter(|m| eligible(m)).cloned().collect();
                choose(&pool, 1).pop()
            }
        }
    };
    let (script, target, story, added) = match kind {
        AttackKind::SybilRing => {
            let allocate = input
                .policy
                .buckets
                .iter()
                .any(|b| matches!(b, Bucket::Allocation { .. }));
            let template = median_claim(input);
            if template.is_none() && !allocate {
                return Err(Inapplicable(
                    "no contribution in the period for sybils to copy, and no allocation bucket"
                        .to_owned(),
                ));
            }
            let s = settings
                .sybils
                .unwrap_or_else(|| default_group(input.members.len()));
            let sybils = sybil_names(&input.members, s);
            let claims_each = template
                .as_ref()
                .map_or(0, |t| median_claims_per_member(input, t));
            let claims = match &template {
                Some(t) => format!(
                    "each logs {claims_each} {} claim(s) of {} (the period's median claim) and \
                     approves every other sybil's claims with rating 100",
                    t.kind.as_str(),
                    quantity_words(t)
                ),
                None => "they log nothing".to_owned(),
            };
            let story = format!(
                "{s} made-up members ({}) are admitted; {claims}{}",
                abbreviate(&sybils),
                if allocate {
                    "; they allocate their points to each other"
                } else {
                    ""
                }
            );
            let added = s * claims_each * (s - 1);
            (
                Script::SybilRing {
                    sybils,
                    template,
                    claims_each,
                    allocate,
                },
                None,
                story,
                added,
            )
        }
        AttackKind::CollusionRatings | AttackKind::CollusionFlags => {
            let ring = group("collusion ring")?;
            let members = Roster::of(&ring);
            let added = input
                .contributions
                .iter()
                .filter(in_period)
                .map(|c| ring.len() - usize::from(members.contains(&c.member)))
                .sum();
            let outsiders = if kind == AttackKind::CollusionRatings {
                Verdict::Approve
            } else {
                Verdict::Flag
            };
            let story = format!(
                "{} real members ({}) multiply their work claims {}, approve each other's \
                 claims with rating 100 and {} every other member's claim in the period",
                ring.len(),
                abbreviate(&ring),
                crate::scoring::units::ppm_as_factor(settings.inflate_ppm),
                if outsiders == Verdict::Approve {
                    "rate 0"
                } else {
                    "flag"
                }
            );
            (Script::Collusion { ring, outsiders }, None, story, added)
        }
        AttackKind::InflatedHours => {
            let workers: BTreeSet<&str> = input
                .contributions
                .iter()
                .filter(in_period)
                .filter(|c| c.kind == Kind::Work)
                .map(|c| c.member.as_str())
                .collect();
            let member = single(&|m: &str| workers.contains(m)).ok_or_else(|| {
                Inapplicable("no member has a work claim in the period to inflate".to_owned())
            })?;
            let claims = input
                .contributions
                .iter()
                .filter(in_period)
                .filter(|c| c.member == member && c.kind == Kind::Work)
                .count();
            if claims == 0 {
                return Err(Inapplicable(format!(
                    "{member} has no work claim in the period to inflate"
                )));
            }
            let story = format!(
                "{member} multiplies their {claims} work claim(s) in the period {}; their \
                 reviewers' approvals stand",
                crate::scoring::units::ppm_as_factor(settings.inflate_ppm)
            );
            (Script::Inflate { member }, None, story, 0)
        }
        AttackKind::FlagRival => {
            let mut coalition = group("coalition")?;
            let claimants: BTreeSet<&str> = input
                .contributions
                .iter()
                .filter(in_period)
                .map(|c| c.member.as_str())
                .collect();
            let rival = match &settings.rival {
                Some(rival) => rival.clone(),
                None => match ranking
                    .iter()
                    .rev()
                    .find(|m| !coalition.contains(m) && claimants.contains(m.as_str()))
                {
                    Some(best) => best.clone(),
                    None => {
                        return Err(Inapplicable(
                            "no member outside the coalition has a claim in the period".into(),
                        ));
                    }
                },
            };
            coalition.retain(|m| *m != rival);
            let claims = input
                .contributions
                .iter()
                .filter(in_period)
                .filter(|c| c.member == rival)
                .count();
            if claims == 0 {
                return Err(Inapplicable(format!(
                    "{rival} has no claim in the period to flag"
                )));
            }
            let story = format!(
                "{} members ({}) flag all {claims} claim(s) of {rival} in the period (a flag \
                 replaces the flagger's own earlier evaluation of the claim)",
                coalition.len(),
                abbreviate(&coalition)
            );
            let added = coalition.len() * claims;
            (
                Script::FlagRival {
                    coalition,
                    rival: rival.clone(),
                },
                Some(rival),
                story,
                added,
            )
        }
        AttackKind::GiveClique => {
            let give = input.policy.buckets.iter().any(|b| {
                matches!(
                    b,
                    Bucket::Allocation {
                        mechanism: Mechanism::Give,
                        ..
                    }
                )
            });
            if !give {
                return Err(Inapplicable(
                    "the policy has no GIVE allocation bucket".into(),
                ));
            }
            let clique = group("GIVE clique")?;
            let story = format!(
                "{} members ({}) give all their points to each other",
                clique.len(),
                abbreviate(&clique)
            );
            (Script::GiveClique { clique }, None, story, 0)
        }
        AttackKind::ImpartialReport => {
            let Some(participants) = impartial_participants(input) else {
                return Err(Inapplicable(
                    "the policy has no impartial allocation bucket".into(),
                ));
            };
            let roster = Roster::of(&participants);
            let attacker = single(&|m: &str| roster.contains(m)).ok_or_else(|| {
                Inapplicable("the impartial bucket has no participant".to_owned())
            })?;
            let named =
                impartial_target(input, ranking, &participants, &attacker).ok_or_else(|| {
                    Inapplicable(format!("nobody but {attacker} takes part in the division"))
                })?;
            let story = format!(
                "{attacker} gives all their points to {named} (someone no other member names, \
                 else the least paid), to shift the impartial division"
            );
            (
                Script::ImpartialReport {
                    attacker,
                    named: named.clone(),
                },
                Some(named),
                story,
                0,
            )
        }
    };
    let attackers = match &script {
        Script::SybilRing { sybils, .. } => sybils.clone(),
        Script::Collusion { ring, .. } => ring.clone(),
        Script::Inflate { member } => vec![member.clone()],
        Script::FlagRival { coalition, .. } => coalition.clone(),
        Script::GiveClique { clique } => clique.clone(),
        Script::ImpartialReport { attacker, .. } => vec![attacker.clone()],
    };
    Ok(Plan {
        attackers,
        target,
        story,
        added_evaluations: added,
        script,
        inflate_ppm: settings.inflate_ppm,
    })
}

/// The attacked copy of `input`.
pub fn apply(plan: &Plan, input: &ScoringInput) -> ScoringInput {
    let mut out = input.clone();
    let period = input.period;
    match &plan.script {
        Script::SybilRing {
            sybils,
            template,
            claims_each,
            allocate,
        } => {
            out.members.extend(sybils.iter().cloned());
            let mut claims: Vec<(usize, String)> = Vec::new();
            for (s, sybil) in sybils.iter().enumerate() {
                let Some(template) = template else { break };
                for n in 1..=*claims_each {
                    let id = format!("{sybil}/claim-{n}");
                    out.contributions.push(Contribution {
                        id: id.clone(),
                        member: sybil.clone(),
                        ..template.clone()
                    });
                    claims.push((s, id));
                }
            }
            for (owner, id) in &claims {
                for (s, sybil) in sybils.iter().enumerate() {
                    if s != *owner {
                        out.evaluations.push(Evaluation {
                            contribution: id.clone(),
                            evaluator: sybil.clone(),
                            verdict: Verdict::Approve,
                            rating: Some(100),
                        });
                    }
                }
            }
            if *allocate {
                replace_allocations(&mut out, sybils);
            }
        }
        Script::Collusion { ring, outsiders } => {
            inflate(&mut out, ring, plan.inflate_ppm);
            let members = Roster::of(ring);
            for c in input.contributions.iter().filter(|c| period.contains(c.at)) {
                let inside = members.contains(&c.member);
                for evaluator in ring.iter().filter(|m| **m != c.member) {
                    let (verdict, rating) = match (inside, outsiders) {
                        (true, _) => (Verdict::Approve, Some(100)),
                        (false, Verdict::Approve) => (Verdict::Approve, Some(0)),
                        (false, Verdict::Flag) => (Verdict::Flag, None),
                    };
                    out.evaluations.push(Evaluation {
                        contribution: c.id.clone(),
                        evaluator: evaluator.clone(),
                        verdict,
                        rating,
                    });
                }
            }
        }
        Script::Inflate { member } => {
            inflate(&mut out, std::slice::from_ref(member), plan.inflate_ppm);
        }
        Script::FlagRival { coalition, rival } => {
            for c in input
                .contributions
                .iter()
                .filter(|c| period.contains(c.at) && c.member == *rival)
            {
                for evaluator in coalition {
                    out.evaluations.push(Evaluation {
                        contribution: c.id.clone(),
                        evaluator: evaluator.clone(),
                        verdict: Verdict::Flag,
                        rating: None,
                    });
                }
            }
        }
        Script::GiveClique { clique } => replace_allocations(&mut out, clique),
        Script::ImpartialReport { attacker, named } => {
            out.allocations.retain(|a| a.from != *attacker);
            out.allocations.push(Allocation {
                from: attacker.clone(),
                to: BTreeMap::from([(named.clone(), 100)]),
            });
        }
    }
    out
}

/// Multiplies the in-period work claims of `members` by `factor_ppm`
/// (rounded down, at most the largest work claim the spec allows).
fn inflate(input: &mut ScoringInput, members: &[String], factor_ppm: u64) {
    let period = input.period;
    let members = Roster::of(members);
    for c in input
        .contributions
        .iter_mut()
        .filter(|c| c.kind == Kind::Work && period.contains(c.at) && members.contains(&c.member))
    {
        let inflated = u128::from(c.quantity) * u128::from(factor_ppm) / u128::from(PPM);
        c.quantity = u64::try_from(inflated)
            .unwrap_or(u64::MAX)
            .min(MAX_WORK_MINUTES.max(c.quantity));
    }
}

/// Each of `group` gives its 100 points to the others of `group`, as evenly
/// as integers allow (the first ones by handle get the remainder), in
/// place of any allocation it made.
fn replace_allocations(input: &mut ScoringInput, group: &[String]) {
    if group.len() < 2 {
        return;
    }
    let mut sorted = group.to_vec();
    sorted.sort();
    input.allocations.retain(|a| !sorted.contains(&a.from));
    for from in &sorted {
        let others: Vec<&String> = sorted.iter().filter(|m| *m != from).collect();
        let each = 100 / others.len() as u64;
        let extra = 100 % others.len();
        let to = others
            .iter()
            .enumerate()
            .map(|(i, m)| ((*m).clone(), each + u64::from(i < extra)))
            .filter(|(_, points)| *points > 0)
            .collect();
        input.allocations.push(Allocation {
            from: from.clone(),
            to,
        });
    }
}

/// The kinds the first shares bucket pays (every kind when there is none).
fn shares_kinds(input: &ScoringInput) -> Vec<Kind> {
    input
        .policy
        .buckets
        .iter()
        .find_map(|b| match b {
            Bucket::Shares { kinds, .. } => Some(kinds.clone()),
            _ => None,
        })
        .unwrap_or_else(|| Kind::ALL.to_vec())
}

/// The period's median claim of the kinds shares pay: among in-period
/// contributions of those kinds, ordered by (quantity, id), the one at
/// position ⌊(n − 1) / 2⌋.
fn median_claim(input: &ScoringInput) -> Option<Contribution> {
    let kinds = shares_kinds(input);
    let mut claims: Vec<&Contribution> = input
        .contributions
        .iter()
        .filter(|c| input.period.contains(c.at) && kinds.contains(&c.kind))
        .collect();
    if claims.is_empty() {
        return None;
    }
    claims.sort_by(|a, b| (a.quantity, &a.id).cmp(&(b.quantity, &b.id)));
    Some(claims[(claims.len() - 1) / 2].clone())
}

/// How many claims of the template's kind a contributing member made in
/// the period: the lower median over members with at least one.
fn median_claims_per_member(input: &ScoringInput, template: &Contribution) -> usize {
    let mut per_member: BTreeMap<&str, usize> = BTreeMap::new();
    for c in input
        .contributions
        .iter()
        .filter(|c| input.period.contains(c.at) && c.kind == template.kind)
    {
        *per_member.entry(c.member.as_str()).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_member.into_values().collect();
    counts.sort_unstable();
    counts
        .get(counts.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(1)
        .max(1)
}

/// `sybil-1` … `sybil-s`, each made unique against the members (`sybil2-1`
/// and so on if a member already has the name).
fn sybil_names(members: &[String], s: usize) -> Vec<String> {
    let taken = |name: &str| members.iter().any(|m| m == name);
    (1..=s)
        .map(|i| {
            let mut round = 1;
            loop {
                let name = if round == 1 {
                    format!("sybil-{i}")
                } else {
                    format!("sybil{round}-{i}")
                };
                if !taken(&name) {
                    break name;
                }
                round += 1;
            }
        })
        .collect()
}

/// The participants of the first impartial bucket: its own list, else
/// every member; `None` when there is no impartial bucket.
fn impartial_participants(input: &ScoringInput) -> Option<Vec<String>> {
    input.policy.buckets.iter().find_map(|b| match b {
        Bucket::Allocation {
            mechanism: Mechanism::Impartial,
            participants,
            ..
        } => Some(
            participants
                .clone()
                .unwrap_or_else(|| input.members.clone()),
        ),
        _ => None,
    })
}

/// Whom a manipulating report names: among the participants other than
/// the attacker, the least paid that no other allocation names; else the
/// least paid.
fn impartial_target(
    input: &ScoringInput,
    ranking: &[String],
    participants: &[String],
    attacker: &str,
) -> Option<String> {
    let named_by_others: BTreeSet<&str> = input
        .allocations
        .iter()
        .filter(|a| a.from != attacker)
        .flat_map(|a| {
            a.to.iter()
                .filter(|(_, p)| **p > 0)
                .map(|(m, _)| m.as_str())
        })
        .collect();
    let roster = Roster::of(participants);
    let candidates: Vec<&String> = ranking
        .iter()
        .filter(|m| *m != attacker && roster.contains(m))
        .collect();
    candidates
        .iter()
        .find(|m| !named_by_others.contains(m.as_str()))
        .or_else(|| candidates.first())
        .map(|m| (*m).clone())
}

/// A claim's quantity as people read it: minutes as hours for work,
/// minor units for money, units otherwise.
fn quantity_words(c: &Contribution) -> String {
    match c.kind {
        Kind::Work => format!("{} min", c.quantity),
        Kind::Money | Kind::Expense => format!("{} minor units", c.quantity),
        Kind::Resource | Kind::Use => format!("{} unit(s)", c.quantity),
    }
}

/// Up to five names, then how many more.
fn abbreviate(names: &[String]) -> String {
    if names.len() <= 5 {
        names.join(", ")
    } else {
        format!("{}, and {} more", names[..5].join(", "), names.len() - 5)
    }
}
