//! Folding an admitted entry into the state, and taking it back: the
//! sequencer applies each entry of an all-or-nothing batch and undoes them,
//! newest first, when a later one is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::entry::CheckedEntry;
use super::index::{ContributionRow, Mark};
use super::rules::Admitted;
use super::state::{
    AllocationState, ContributionState, DistributionState, EvaluationState, KeyOwner, LedgerState,
    MemberState, Network, PolicyVersion, Settlement, VoidState, id_of, standing_of,
};
use crate::pb::{self, entry::Body};
use crate::verify::EntryId;

/// How to take back one applied entry: returned by
/// [`LedgerState::apply`], given back to [`LedgerState::undo`]. Opaque, so
/// only the fold that made it can read it.
#[derive(Debug)]
pub struct Undo(Step, Mark, IndexChange);

/// What an [`Undo`] restores in the scoring index besides cutting it back
/// to its [`Mark`] (appended rows go with the cut).
#[derive(Debug)]
enum IndexChange {
    /// Only appended rows.
    Appended,
    /// A contribution row changed in place (amended or retracted): its
    /// previous fields, and the evaluation rows the amendment cleared.
    Row {
        row: u32,
        previous: ContributionRow,
        cleared: Vec<u32>,
    },
}

/// What an [`Undo`] restores.
#[derive(Debug)]
enum Step {
    /// Genesis: forget the network and its founders.
    Genesis,
    /// Forget an admitted member.
    Admit { handle: String },
    /// Restore the previous key.
    Rotate {
        handle: String,
        old: [u8; 32],
        new: [u8; 32],
    },
    /// Restore a member's suspension as it was.
    Suspension {
        handle: String,
        previous: Option<u64>,
    },
    /// Flip a role back.
    Role {
        handle: String,
        role: pb::Role,
        granted: bool,
    },
    /// Drop the last policy version.
    Policy,
    /// Forget a logged or attested contribution.
    Log { id: EntryId },
    /// Restore a contribution as it was before an amendment or retraction.
    Restore { previous: Arc<ContributionState> },
    /// Restore the evaluation an evaluator had before.
    Evaluate {
        contribution: EntryId,
        evaluator: String,
        previous: Option<EvaluationState>,
        touched: u64,
    },
    /// Restore a member's previous allocation for a period.
    Allocate {
        key: (i64, i64, String),
        previous: Option<AllocationState>,
    },
    /// Forget the last recorded distribution.
    Distribution,
    /// Un-void the distribution at this index.
    Void { index: usize },
    /// Nothing beyond the entry's id and the size (a body the state keeps
    /// nothing of, or an entry that refers to nothing the state holds).
    Nothing,
}

impl LedgerState {
    /// Folds an admitted entry in at `sequence` (the token proves `check`
    /// passed against this state);
    /// a recorded distribution also needs the `settlement` its recomputation
    /// gave (the payout layer's `settle`); other entries pass `None`.
    pub fn apply(
        &mut self,
        admitted: Admitted<'_>,
        sequence: u64,
        settlement: Option<Settlement>,
    ) -> Undo {
        let mark = self.index.mark();
        let (step, change) = self.fold(admitted.entry, sequence, settlement);
        Undo(step, mark, change)
    }

    /// Folds an entry of a log its server already checked, without checking
    /// the rules again: for a client's views, which fold only the entries
    /// they show (so the rules could not be checked). The stateless checks
    /// still ran ([`CheckedEntry`]).
    pub fn apply_trusted(&mut self, entry: &CheckedEntry, sequence: u64) -> Undo {
        let mark = self.index.mark();
        let (step, change) = self.fold(entry, sequence, None);
        Undo(step, mark, change)
    }

    fn fold(
        &mut self,
        v: &CheckedEntry,
        sequence: u64,
        settlement: Option<Settlement>,
    ) -> (Step, IndexChange) {
        let mut change = IndexChange::Appended;
        let step = self.fold_step(v, sequence, settlement, &mut change);
        (step, change)
    }

    fn fold_step(
        &mut self,
        v: &CheckedEntry,
        sequence: u64,
        settlement: Option<Settlement>,
        change: &mut IndexChange,
    ) -> Step {
        self.ids.insert(v.id, sequence);
        self.size = sequence + 1;
        let author = v.entry.author.clone();
        let Some(body) = v.entry.body.as_ref() else {
            // check() refuses a missing body; nothing to fold.
            return Step::Nothing;
        };
        match body {
            Body::Genesis(g) => {
                let mut log_key = [0u8; 32];
                log_key.copy_from_slice(&g.log_public_key);
                self.network = Some(Network {
                    id: v.id,
                    name: g.name.clone(),
                    currency: g.currency.clone(),
                    decimals: g.decimals,
                    log_public_key: log_key,
                });
                for f in &g.founders {
                    let mut key = [0u8; 32];
                    key.copy_from_slice(&f.public_key);
                    self.add_member(&f.handle, key, sequence, [pb::Role::Admin].into());
                }
                Step::Genesis
            }
            Body::AdmitMember(a) => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&a.public_key);
                self.add_member(&a.handle, key, sequence, BTreeSet::new());
                Step::Admit {
                    handle: a.handle.clone(),
                }
            }
            Body::RotateKey(r) => {
                let mut new = [0u8; 32];
                new.copy_from_slice(&r.new_public_key);
                let old = v.public_key;
                self.replace_key(&author, old, new);
                Step::Rotate {
                    handle: author,
                    old,
                    new,
                }
            }
            Body::SuspendMember(s) => self.set_suspension(&s.member, Some(sequence)),
            Body::ReinstateMember(r) => self.set_suspension(&r.member, None),
            Body::ResetKey(r) => {
                let mut new = [0u8; 32];
                new.copy_from_slice(&r.new_public_key);
                let old = self.members.get(&r.member).map_or([0; 32], |m| m.key);
                self.replace_key(&r.member, old, new);
                Step::Rotate {
                    handle: r.member.clone(),
                    old,
                    new,
                }
            }
            Body::GrantRole(g) => {
                let role = pb::Role::try_from(g.role).unwrap_or(pb::Role::Unspecified);
                if let Some(m) = self.members.get_mut(&g.member) {
                    m.roles.insert(role);
                }
                Step::Role {
                    handle: g.member.clone(),
                    role,
                    granted: true,
                }
            }
            Body::RevokeRole(r) => {
                let role = pb::Role::try_from(r.role).unwrap_or(pb::Role::Unspecified);
                if let Some(m) = self.members.get_mut(&r.member) {
                    m.roles.remove(&role);
                }
                Step::Role {
                    handle: r.member.clone(),
                    role,
                    granted: false,
                }
            }
            Body::AdoptPolicy(p) => {
                let version = u32::try_from(self.policies.len() + 1).unwrap_or(u32::MAX);
                self.policies.push(PolicyVersion {
                    version,
                    sequence,
                    json: p.policy_json.clone(),
                });
                Step::Policy
            }
            Body::LogContribution(l) => {
                self.add_contribution(v.id, author, None, l.contribution.as_ref(), sequence)
            }
            Body::AttestContribution(a) => self.add_contribution(
                v.id,
                a.member.clone(),
                Some(author),
                a.contribution.as_ref(),
                sequence,
            ),
            Body::AmendContribution(a) => {
                let id = id_of(&a.contribution_id);
                let Some(c) = self.contributions.get_mut(&id) else {
                    return Step::Nothing;
                };
                let previous = c.clone();
                let c = Arc::make_mut(c);
                c.touched = sequence;
                c.fields = a.contribution.clone().unwrap_or_default();
                c.earliest_at = c.earliest_at.min(c.fields.at);
                let cleared: Vec<u32> = c.evaluations.values().map(|e| e.row).collect();
                if let Some(row) = self.index.contribution(c.row) {
                    *change = IndexChange::Row {
                        row: c.row,
                        previous: row,
                        cleared: cleared.clone(),
                    };
                }
                self.index
                    .amend(c.row, c.id.0, &c.member, &c.fields, cleared.into_iter());
                // Reviewers approve what is there now (spec/DECISIONS.md).
                c.evaluations.clear();
                self.standing_evaluations = self
                    .standing_evaluations
                    .saturating_sub(standing_of(&previous));
                Step::Restore { previous }
            }
            Body::RetractContribution(r) => {
                let id = id_of(&r.contribution_id);
                let Some(c) = self.contributions.get_mut(&id) else {
                    return Step::Nothing;
                };
                let previous = c.clone();
                let c = Arc::make_mut(c);
                c.touched = sequence;
                c.retracted = true;
                if let Some(row) = self.index.contribution(c.row) {
                    *change = IndexChange::Row {
                        row: c.row,
                        previous: row,
                        cleared: Vec::new(),
                    };
                }
                self.index.set_live(c.row, false);
                // The contribution's member, not the author: the admin who
                // attested a contribution may retract it too.
                if let Some(m) = self.members.get_mut(&previous.member) {
                    m.contributions = m.contributions.saturating_sub(1);
                }
                self.live_contributions = self.live_contributions.saturating_sub(1);
                self.standing_evaluations = self
                    .standing_evaluations
                    .saturating_sub(standing_of(&previous));
                Step::Restore { previous }
            }
            Body::Evaluate(e) => {
                let id = id_of(&e.contribution_id);
                let verdict = pb::Verdict::try_from(e.verdict).unwrap_or(pb::Verdict::Unspecified);
                let mut touched = 0;
                let mut added = false;
                let index = &mut self.index;
                let previous = self.contributions.get_mut(&id).and_then(|c| {
                    let c = Arc::make_mut(c);
                    touched = std::mem::replace(&mut c.touched, sequence);
                    let row = index.add_evaluation(c.row, &author, verdict, e.rating);
                    let previous = c.evaluations.insert(
                        author.clone(),
                        EvaluationState {
                            verdict,
                            rating: e.rating,
                            sequence,
                            row,
                        },
                    );
                    if let Some(p) = &previous {
                        index.set_standing(p.row, false);
                    }
                    added = previous.is_none() && !c.retracted;
                    previous
                });
                if added {
                    self.standing_evaluations += 1;
                }
                Step::Evaluate {
                    contribution: id,
                    evaluator: author,
                    previous,
                    touched,
                }
            }
            Body::RecordDistribution(r) => {
                self.distributions.push(DistributionState {
                    id: v.id,
                    treasurer: author,
                    period: r
                        .period
                        .as_ref()
                        .map(|p| (p.start, p.end))
                        .unwrap_or_default(),
                    income: r.income.unwrap_or_default(),
                    policy_version: r.policy_version,
                    log_size: r.log_size,
                    digest: r.digest.clone(),
                    sequence,
                    settlement: Arc::new(settlement.unwrap_or_default()),
                    voided: None,
                });
                Step::Distribution
            }
            Body::VoidDistribution(d) => {
                let id = id_of(&d.distribution_id);
                let Some(index) = self.distributions.iter().position(|x| x.id == id) else {
                    return Step::Nothing;
                };
                self.distributions[index].voided = Some(VoidState {
                    sequence,
                    id: v.id,
                    treasurer: author,
                    reason: d.reason.clone(),
                });
                Step::Void { index }
            }
            Body::Allocate(a) => {
                let (start, end) = a
                    .period
                    .as_ref()
                    .map(|p| (p.start, p.end))
                    .unwrap_or_default();
                let to = a
                    .shares
                    .iter()
                    .filter(|s| s.percent > 0)
                    .map(|s| (s.member.clone(), s.percent))
                    .collect();
                let key = (start, end, author);
                let previous = self
                    .allocations
                    .insert(key.clone(), AllocationState { to, sequence });
                Step::Allocate { key, previous }
            }
        }
    }

    /// Takes back the entry `apply` folded in last (undos run newest first).
    pub fn undo(&mut self, v: &CheckedEntry, undo: Undo) {
        self.ids.remove(&v.id);
        self.size = self.size.saturating_sub(1);
        let Undo(step, mark, change) = undo;
        if let IndexChange::Row {
            row,
            previous,
            cleared,
        } = change
        {
            self.index.restore(row, previous, cleared.into_iter());
        }
        self.index.cut(mark);
        match step {
            Step::Nothing => {}
            Step::Genesis => {
                self.network = None;
                self.members.clear();
                self.keys.clear();
            }
            Step::Admit { handle } => {
                if let Some(m) = self.members.remove(&handle) {
                    self.keys.remove(&m.key);
                }
            }
            Step::Rotate { handle, old, new } => {
                self.keys.remove(&new);
                if let Some(o) = self.keys.get_mut(&old) {
                    o.current = true;
                }
                if let Some(m) = self.members.get_mut(&handle) {
                    m.key = old;
                    m.retired_keys.pop();
                }
            }
            Step::Suspension { handle, previous } => {
                if let Some(m) = self.members.get_mut(&handle) {
                    m.suspended = previous;
                }
            }
            Step::Role {
                handle,
                role,
                granted,
            } => {
                if let Some(m) = self.members.get_mut(&handle) {
                    if granted {
                        m.roles.remove(&role);
                    } else {
                        m.roles.insert(role);
                    }
                }
            }
            Step::Policy => {
                self.policies.pop();
            }
            Step::Log { id } => {
                if let Some(c) = self.contributions.remove(&id) {
                    self.live_contributions = self.live_contributions.saturating_sub(1);
                    self.standing_evaluations =
                        self.standing_evaluations.saturating_sub(standing_of(&c));
                    if let Some(m) = self.members.get_mut(&c.member) {
                        m.contributions = m.contributions.saturating_sub(1);
                    }
                }
            }
            Step::Restore { previous } => {
                if matches!(v.entry.body, Some(Body::RetractContribution(_))) {
                    self.live_contributions += 1;
                    if let Some(m) = self.members.get_mut(&previous.member) {
                        m.contributions += 1;
                    }
                }
                let now = self
                    .contributions
                    .get(&previous.id)
                    .map_or(0, |c| standing_of(c));
                self.standing_evaluations =
                    self.standing_evaluations.saturating_sub(now) + standing_of(&previous);
                self.contributions.insert(previous.id, previous);
            }
            Step::Evaluate {
                contribution,
                evaluator,
                previous,
                touched,
            } => {
                if let Some(c) = self.contributions.get_mut(&contribution) {
                    let c = Arc::make_mut(c);
                    c.touched = touched;
                    match previous {
                        Some(p) => {
                            self.index.set_standing(p.row, true);
                            c.evaluations.insert(evaluator, p);
                        }
                        None => {
                            if c.evaluations.remove(&evaluator).is_some() && !c.retracted {
                                self.standing_evaluations =
                                    self.standing_evaluations.saturating_sub(1);
                            }
                        }
                    }
                }
            }
            Step::Distribution => {
                self.distributions.pop();
            }
            Step::Void { index } => {
                if let Some(d) = self.distributions.get_mut(index) {
                    d.voided = None;
                }
            }
            Step::Allocate { key, previous } => match previous {
                Some(p) => {
                    self.allocations.insert(key, p);
                }
                None => {
                    self.allocations.remove(&key);
                }
            },
        }
    }

    /// Adds a contribution of `member` (logged by them, or attested on
    /// their behalf by `attested_by`).
    fn add_contribution(
        &mut self,
        id: EntryId,
        member: String,
        attested_by: Option<String>,
        fields: Option<&pb::Contribution>,
        sequence: u64,
    ) -> Step {
        if let Some(m) = self.members.get_mut(&member) {
            m.contributions += 1;
        }
        let row = match fields {
            Some(fields) => self.index.add_contribution(id.0, &member, fields),
            None => self
                .index
                .add_contribution(id.0, &member, &pb::Contribution::default()),
        };
        self.contributions.insert(
            id,
            Arc::new(ContributionState {
                id,
                member,
                attested_by,
                fields: fields.cloned().unwrap_or_default(),
                sequence,
                retracted: false,
                evaluations: BTreeMap::new(),
                touched: sequence,
                earliest_at: fields.map_or(0, |c| c.at),
                row,
            }),
        );
        self.live_contributions += 1;
        Step::Log { id }
    }

    /// Retires `old` as `handle`'s key and makes `new` current (a rotation
    /// by the member, or a reset by an admin).
    fn replace_key(&mut self, handle: &str, old: [u8; 32], new: [u8; 32]) {
        if let Some(m) = self.members.get_mut(handle) {
            m.retired_keys.push(old);
            m.key = new;
        }
        if let Some(o) = self.keys.get_mut(&old) {
            o.current = false;
        }
        self.keys.insert(
            new,
            KeyOwner {
                handle: handle.to_string(),
                current: true,
            },
        );
    }

    /// Sets (or lifts) a member's suspension.
    fn set_suspension(&mut self, handle: &str, suspended: Option<u64>) -> Step {
        let previous = self
            .members
            .get_mut(handle)
            .and_then(|m| std::mem::replace(&mut m.suspended, suspended));
        Step::Suspension {
            handle: handle.to_string(),
            previous,
        }
    }

    fn add_member(
        &mut self,
        handle: &str,
        key: [u8; 32],
        sequence: u64,
        roles: BTreeSet<pb::Role>,
    ) {
        self.index.add_member(handle);
        self.members.insert(
            handle.to_string(),
            MemberState {
                handle: handle.to_string(),
                key,
                retired_keys: Vec::new(),
                roles,
                admitted_at: sequence,
                contributions: 0,
                suspended: None,
            },
        );
        self.keys.insert(
            key,
            KeyOwner {
                handle: handle.to_string(),
                current: true,
            },
        );
    }
}
