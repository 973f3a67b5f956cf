//! What the log says *now* about each contribution: the fold behind the
//! CLI's views and exports (`entries`, `amend`, `export --csv`).
//!
//! A view is [`LedgerState`] folded over the entries that shape
//! contributions (genesis, policies, contributions logged or attested, amendments,
//! retractions, evaluations), plus the little the state does not keep:
//! when a contribution was last amended, and each evaluation entry with its
//! note, so a view can tell a standing evaluation from one that a later one
//! replaced or an amendment cleared. Values use the scoring core's own
//! `value_of` (SCORING.md §1) and statuses its validity rule (§2), so a
//! spreadsheet shows the numbers a distribution would use.
//!
//! The fold applies entries the server already checked on arrival; it does
//! not re-run the ingestion rules (that is `coopledger verify`, which needs
//! every entry). Callers verify each envelope's signature before pushing it.

use std::collections::HashMap;

use crate::ledger::{CheckedEntry, Limits, kind_of};
use crate::ledger::{ContributionState, LedgerState};
use crate::pb::{self, entry::Body};
use crate::scoring::error::ScoringError;
use crate::scoring::policy::{FlagRule, Policy, PolicyDocument, ValidationRule};
use crate::verify::{EntryId, VerifiedEnvelope};

/// The entry kinds a [`LogView`] needs, for a `ListEntries` filter.
pub const VIEW_KINDS: [pb::EntryKind; 7] = [
    pb::EntryKind::Genesis,
    pb::EntryKind::AdoptPolicy,
    pb::EntryKind::LogContribution,
    pb::EntryKind::AttestContribution,
    pb::EntryKind::AmendContribution,
    pb::EntryKind::RetractContribution,
    pb::EntryKind::Evaluate,
];

/// Where a contribution stands under the latest adopted policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Valid (§2): it earns points and is reimbursed.
    Valid,
    /// Fewer standing approvals than `validation.min_approvals`.
    Pending,
    /// The flag rule invalidates it: more standing flags than
    /// `validation.max_flags` (without `max_flags`, flags alone never
    /// invalidate, as §2 says; the flags column still shows them).
    Flagged,
    /// Withdrawn by its contributor.
    Retracted,
}

impl Status {
    /// The word used in CSVs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Pending => "pending",
            Status::Flagged => "flagged",
            Status::Retracted => "retracted",
        }
    }
}

/// Where a contribution's rate comes from (§1's resolution order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rate {
    /// Money and expenses: the quantity is already minor units.
    NotNeeded,
    /// The contribution's own rate.
    Own(u64),
    /// `policy.rates[tag]` for its first tag that has one.
    Tag(String, u64),
    /// `policy.default_rates[kind]`.
    Default(u64),
    /// No rate resolves: the scoring core values it at 0 with a warning.
    Missing,
}

impl Rate {
    /// The rate in minor units, if one applies.
    pub fn amount(&self) -> Option<u64> {
        match self {
            Rate::Own(r) | Rate::Tag(_, r) | Rate::Default(r) => Some(*r),
            Rate::NotNeeded | Rate::Missing => None,
        }
    }

    /// Where it came from, in words: `own`, `tag:NAME`, `default`, `none`,
    /// or empty when no rate is needed.
    pub fn source(&self) -> String {
        match self {
            Rate::NotNeeded => String::new(),
            Rate::Own(_) => "own".into(),
            Rate::Tag(t, _) => format!("tag:{t}"),
            Rate::Default(_) => "default".into(),
            Rate::Missing => "none".into(),
        }
    }
}

/// The amendments of one contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amendments {
    /// How many times it was amended.
    pub count: u32,
    /// `created_at_ms` of the last amendment.
    pub last_at_ms: i64,
    /// Sequence number of the last amendment.
    pub last_sequence: u64,
}

/// One evaluation entry as logged, standing or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationEntry {
    /// Sequence number of the evaluation entry.
    pub sequence: u64,
    /// Its entry id.
    pub id: EntryId,
    /// The evaluator's handle.
    pub evaluator: String,
    /// The contribution evaluated.
    pub contribution: EntryId,
    /// Approve or flag.
    pub verdict: pb::Verdict,
    /// Quality in percent, if given.
    pub rating: Option<u32>,
    /// The note for the contributor.
    pub note: String,
    /// When it was signed, ms since the epoch.
    pub created_at_ms: i64,
}

/// What became of an evaluation entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It is the evaluator's standing evaluation of the contribution.
    Standing,
    /// A later evaluation by the same evaluator replaced it.
    Replaced,
    /// An amendment of the contribution cleared it.
    Cleared,
}

impl Fate {
    /// The word used in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Standing => "standing",
            Fate::Replaced => "replaced",
            Fate::Cleared => "cleared by an amendment",
        }
    }
}

/// One contribution as it stands now.
#[derive(Clone, Debug)]
pub struct ContributionView<'a> {
    /// Its current fields, standing evaluations and retraction.
    pub contribution: &'a ContributionState,
    /// Valid, pending, flagged or retracted.
    pub status: Status,
    /// Standing approvals.
    pub approvals: u64,
    /// Standing flags.
    pub flags: u64,
    /// The rate that values it.
    pub rate: Rate,
    /// value(c) in minor units (§1); `None` when no rate resolves (the
    /// scoring core counts it as 0 and warns). Not capped at the scoring
    /// limit of 10^15: a view shows what was logged.
    pub value: Option<u128>,
    /// Its amendments, if it was ever amended.
    pub amended: Option<Amendments>,
}

/// The fold: push entries in sequence order, then read views.
#[derive(Debug, Default)]
pub struct LogView {
    state: LedgerState,
    amendments: HashMap<EntryId, Amendments>,
    evaluations: Vec<EvaluationEntry>,
    /// Evaluation sequences per (contribution, evaluator), in log order.
    by_pair: HashMap<(EntryId, String), Vec<u64>>,
    /// Amendment sequences per contribution, in log order.
    amended_at: HashMap<EntryId, Vec<u64>>,
}

impl LogView {
    /// An empty view.
    pub fn new() -> Self {
        LogView::default()
    }

    /// Folds in the entry at `sequence`; pushes must come in sequence
    /// order. Entries of kinds a view does not need are folded too (the
    /// state takes any kind).
    pub fn push(&mut self, sequence: u64, v: &VerifiedEnvelope) {
        match v.entry.body.as_ref() {
            Some(Body::AmendContribution(a)) => {
                if let Ok(id) = EntryId::from_field(&a.contribution_id, "contribution_id") {
                    let entry = self.amendments.entry(id).or_insert(Amendments {
                        count: 0,
                        last_at_ms: 0,
                        last_sequence: 0,
                    });
                    entry.count += 1;
                    entry.last_at_ms = v.entry.created_at_ms;
                    entry.last_sequence = sequence;
                    self.amended_at.entry(id).or_default().push(sequence);
                }
            }
            Some(Body::Evaluate(e)) => {
                if let Ok(contribution) = EntryId::from_field(&e.contribution_id, "contribution_id")
                {
                    self.by_pair
                        .entry((contribution, v.entry.author.clone()))
                        .or_default()
                        .push(sequence);
                    self.evaluations.push(EvaluationEntry {
                        sequence,
                        id: v.id,
                        evaluator: v.entry.author.clone(),
                        contribution,
                        verdict: pb::Verdict::try_from(e.verdict)
                            .unwrap_or(pb::Verdict::Unspecified),
                        rating: e.rating,
                        note: e.note.clone(),
                        created_at_ms: v.entry.created_at_ms,
                    });
                }
            }
            _ => {}
        }
        // Only contribution entries are folded here (so the rules cannot be
        // checked: members and policies are not folded); the server checked
        // them when they arrived, and the stateless checks run again.
        if let Ok(entry) = CheckedEntry::new(v.clone(), &Limits::unbounded()) {
            self.state.apply_trusted(&entry, sequence);
        }
    }

    /// The folded ledger state.
    pub fn state(&self) -> &LedgerState {
        &self.state
    }

    /// The rules of the latest adopted policy (the defaults of §1–§2 when
    /// none was adopted: no rates, no approvals needed).
    pub fn policy(&self) -> Result<Policy, ScoringError> {
        match self.state.policies().last() {
            Some(p) => PolicyDocument::from_json(&p.json).map(|d| d.policy),
            None => Ok(Policy::default()),
        }
    }

    /// One contribution as it stands under `policy`.
    pub fn contribution(&self, id: &EntryId, policy: &Policy) -> Option<ContributionView<'_>> {
        self.state.contribution(id).map(|c| self.view_of(c, policy))
    }

    /// Every contribution (retracted ones included) under `policy`, in log
    /// order.
    pub fn contributions(&self, policy: &Policy) -> Vec<ContributionView<'_>> {
        let mut all: Vec<&ContributionState> = self.state.contributions().collect();
        all.sort_by_key(|c| c.sequence);
        all.into_iter().map(|c| self.view_of(c, policy)).collect()
    }

    /// Every evaluation entry, in log order, standing or not.
    pub fn evaluations(&self) -> &[EvaluationEntry] {
        &self.evaluations
    }

    /// Whether an evaluation entry still stands.
    pub fn fate(&self, e: &EvaluationEntry) -> Fate {
        let standing = self
            .state
            .contribution(&e.contribution)
            .and_then(|c| c.evaluations.get(&e.evaluator))
            .is_some_and(|s| s.sequence == e.sequence);
        if standing {
            return Fate::Standing;
        }
        // What ended it first: an amendment before the evaluator's next
        // evaluation of the same contribution, or that next evaluation.
        let next = self
            .by_pair
            .get(&(e.contribution, e.evaluator.clone()))
            .and_then(|seqs| seqs.iter().find(|&&s| s > e.sequence).copied())
            .unwrap_or(u64::MAX);
        let amended_between = self
            .amended_at
            .get(&e.contribution)
            .is_some_and(|seqs| seqs.iter().any(|&s| e.sequence < s && s < next));
        if amended_between || next == u64::MAX {
            Fate::Cleared
        } else {
            Fate::Replaced
        }
    }

    fn view_of<'a>(&'a self, c: &'a ContributionState, policy: &Policy) -> ContributionView<'a> {
        let (status, approvals, flags) = status_of(c, &policy.validation);
        let rate = resolve_rate(&c.fields, policy);
        let value = kind_of(c.fields.kind).and_then(|kind| match (&rate, kind.is_money()) {
            (_, true) => Some(u128::from(c.fields.quantity)),
            (Rate::Missing | Rate::NotNeeded, false) => None,
            (r, false) => Some(crate::scoring::value::value_of(
                kind,
                c.fields.quantity,
                r.amount(),
            )),
        });
        ContributionView {
            contribution: c,
            status,
            approvals,
            flags,
            rate,
            value,
            amended: self.amendments.get(&c.id).copied(),
        }
    }
}

/// Status, standing approvals and standing flags of a contribution under a
/// validation rule (§2 with every evaluator weighing 1: the rule the
/// scoring core applies with equal weights; with eigentrust weights the
/// weighted-majority flag rule and the trust rule need the trust of the
/// whole log, which this per-contribution view does not compute).
/// Retracted first, then flagged (the flag rule invalidates it whatever its
/// approvals), then pending, else valid.
pub fn status_of(c: &ContributionState, rule: &ValidationRule) -> (Status, u64, u64) {
    let approvals = c
        .evaluations
        .values()
        .filter(|e| e.verdict == pb::Verdict::Approve)
        .count() as u64;
    let flags = c
        .evaluations
        .values()
        .filter(|e| e.verdict == pb::Verdict::Flag)
        .count() as u64;
    let status = if c.retracted {
        Status::Retracted
    } else if match rule.flag_rule {
        FlagRule::Count => rule.max_flags.is_some_and(|max| flags > max),
        FlagRule::WeightedMajority => flags > approvals,
    } {
        Status::Flagged
    } else if approvals < rule.min_approvals {
        Status::Pending
    } else {
        Status::Valid
    };
    (status, approvals, flags)
}

/// §1's rate resolution: money and expenses need none; else the
/// contribution's own rate, the policy's rate for its first tag that has
/// one, the policy's default rate for its kind, or none.
pub fn resolve_rate(fields: &pb::Contribution, policy: &Policy) -> Rate {
    let Some(kind) = kind_of(fields.kind) else {
        return Rate::Missing;
    };
    if kind.is_money() {
        return Rate::NotNeeded;
    }
    if let Some(r) = fields.rate {
        return Rate::Own(r);
    }
    if let Some((tag, r)) = fields
        .tags
        .iter()
        .find_map(|t| policy.rates.get(t).map(|r| (t, *r)))
    {
        return Rate::Tag(tag.clone(), r);
    }
    match policy.default_rates.get(&kind) {
        Some(r) => Rate::Default(*r),
        None => Rate::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::input::Kind;
    use std::collections::BTreeMap;

    fn contribution(kind: pb::ContributionKind, quantity: u64) -> pb::Contribution {
        pb::Contribution {
            kind: kind as i32,
            quantity,
            ..Default::default()
        }
    }

    #[test]
    fn rates_resolve_in_the_spec_order() {
        let policy = Policy {
            rates: BTreeMap::from([("design".to_string(), 4000), ("cad".to_string(), 5000)]),
            default_rates: BTreeMap::from([(Kind::Work, 2000)]),
            ..Default::default()
        };
        let mut c = contribution(pb::ContributionKind::Work, 90);
        assert_eq!(resolve_rate(&c, &policy), Rate::Default(2000));
        c.tags = vec!["misc".into(), "cad".into(), "design".into()];
        assert_eq!(resolve_rate(&c, &policy), Rate::Tag("cad".into(), 5000));
        c.rate = Some(3000);
        assert_eq!(resolve_rate(&c, &policy), Rate::Own(3000));
        let e = contribution(pb::ContributionKind::Expense, 2750);
        assert_eq!(resolve_rate(&e, &policy), Rate::NotNeeded);
        let u = contribution(pb::ContributionKind::Use, 3);
        assert_eq!(resolve_rate(&u, &policy), Rate::Missing);
    }

    fn state_with(verdicts: &[pb::Verdict], retracted: bool) -> ContributionState {
        ContributionState {
            id: EntryId([1; 32]),
            member: "bob".into(),
            attested_by: None,
            fields: contribution(pb::ContributionKind::Work, 60),
            sequence: 3,
            retracted,
            evaluations: verdicts
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        format!("m{i}"),
                        crate::ledger::EvaluationState {
                            verdict: *v,
                            rating: None,
                            sequence: 10 + i as u64,
                            row: i as u32,
                        },
                    )
                })
                .collect(),
            touched: 3,
            earliest_at: 0,
            row: 0,
        }
    }

    #[test]
    fn status_follows_the_validation_rule() {
        use pb::Verdict::{Approve, Flag};
        let rule = ValidationRule {
            min_approvals: 2,
            max_flags: Some(0),
            ..ValidationRule::default()
        };
        assert_eq!(
            status_of(&state_with(&[Approve], false), &rule).0,
            Status::Pending
        );
        assert_eq!(
            status_of(&state_with(&[Approve, Approve], false), &rule).0,
            Status::Valid
        );
        assert_eq!(
            status_of(&state_with(&[Approve, Approve, Flag], false), &rule),
            (Status::Flagged, 2, 1)
        );
        assert_eq!(
            status_of(&state_with(&[Approve, Approve], true), &rule).0,
            Status::Retracted
        );
        // Without max_flags, flags alone never invalidate (§2).
        let lenient = ValidationRule {
            min_approvals: 1,
            max_flags: None,
            ..ValidationRule::default()
        };
        assert_eq!(
            status_of(&state_with(&[Approve, Flag, Flag], false), &lenient).0,
            Status::Valid
        );
        // Weighted majority, equal weights: a tie stays valid, more flags
        // than approvals invalidate.
        let majority = ValidationRule {
            min_approvals: 1,
            flag_rule: FlagRule::WeightedMajority,
            ..ValidationRule::default()
        };
        assert_eq!(
            status_of(&state_with(&[Approve, Flag], false), &majority).0,
            Status::Valid
        );
        assert_eq!(
            status_of(&state_with(&[Approve, Flag, Flag], false), &majority).0,
            Status::Flagged
        );
    }
}
