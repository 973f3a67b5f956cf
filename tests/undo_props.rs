//! `LedgerState::undo` reverses `LedgerState::apply` exactly.
//!
//! The sequencer folds an all-or-nothing batch entry by entry and, when a
//! later entry is refused, undoes the ones before it; the state must then
//! be what it was, or the next batch is checked against a state no replay
//! would give. A property test: fold a random sequence of valid entries
//! (checked with the sequencer's own rules, `common::Fold`), then for each
//! kind of entry that can be undone (admit, rotate, grant, revoke, adopt,
//! log, attest, amend, retract, evaluate, allocate) check one more, apply it, undo
//! it, and require:
//!
//! - everything the state shows through its public accessors (size,
//!   network, members, contributions sorted by id, policies, allocations,
//!   distributions, and the sequence of every id seen) equals what it
//!   showed before; `LedgerState` keeps its keys, contributions and ids in
//!   `HashMap`s, so its `Debug` output is not a stable comparison;
//! - the same entry is accepted again by `check` (so the private key and
//!   id indexes and the live counters let it through as before), and
//!   applying it again gives the same state as the first time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use common::{
    FEB_2020, Fold, JAN_2020, POLICY_JSON, admit_body, adopt_body, amend_body, contribution,
    grant_body, id_of, new_signer, retract_body, revoke_body, rotate_body, sign, work,
};
use coopledger::client::{Signer, allocate_body, attest_body, contribution_body, evaluate_body};
use coopledger::ledger::{
    AllocationState, ContributionRow, ContributionState, DistributionState, EvaluationRow,
    LedgerState, MemberState, Network, PolicyVersion,
};
use coopledger::payout::{PolicyChoice, Priors, indexed_source_for, summary_json};
use coopledger::pb::{self, ContributionKind as K};
use coopledger::verify::EntryId;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Everything `LedgerState` shows through its public accessors, in a fixed
/// order.
#[derive(Debug, PartialEq)]
struct Shown {
    size: u64,
    network: Option<Network>,
    members: Vec<MemberState>,
    contributions: Vec<ContributionState>,
    policies: Vec<PolicyVersion>,
    allocations: BTreeMap<(i64, i64, String), AllocationState>,
    distributions: Vec<DistributionState>,
    sequences: Vec<(EntryId, Option<u64>)>,
    /// The scoring index the fold keeps for previews.
    index: ShownIndex,
}

/// The scoring index's lists, flattened.
type ShownIndex = (
    Vec<String>,
    Vec<String>,
    Vec<u32>,
    Vec<ContributionRow>,
    Vec<EvaluationRow>,
);

fn shown(state: &LedgerState, ids: &[EntryId]) -> Shown {
    let mut contributions: Vec<ContributionState> = state.contributions().cloned().collect();
    contributions.sort_by_key(|c| c.id);
    Shown {
        size: state.size(),
        network: state.network().cloned(),
        members: state.members().cloned().collect(),
        contributions,
        policies: state.policies().to_vec(),
        allocations: state.allocations().clone(),
        distributions: state.distributions().to_vec(),
        sequences: ids.iter().map(|id| (*id, state.sequence_of(id))).collect(),
        index: {
            let index = state.scoring_index();
            (
                index.members.to_vec(),
                index.tag_names.to_vec(),
                index.tag_refs.iter().copied().collect(),
                index.contributions.iter().copied().collect(),
                index.evaluations.iter().copied().collect(),
            )
        },
    }
}

/// The kinds of entry `undo` can take back, in the order each case tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Admit,
    Rotate,
    Grant,
    Revoke,
    Adopt,
    Log,
    Amend,
    Retract,
    Evaluate,
    Allocate,
    Attest,
}

const KINDS: [Kind; 11] = [
    Kind::Admit,
    Kind::Rotate,
    Kind::Grant,
    Kind::Revoke,
    Kind::Adopt,
    Kind::Log,
    Kind::Amend,
    Kind::Retract,
    Kind::Evaluate,
    Kind::Allocate,
    Kind::Attest,
];

/// The fold, with each member's current signer (rotations change them).
struct World {
    fold: Fold,
    signers: BTreeMap<String, Signer>,
    admitted: usize,
    /// Every entry id folded or tried, for [`Shown::sequences`].
    ids: Vec<EntryId>,
}

impl World {
    /// Alice (admin, treasurer), bob, carol and dave, each with one
    /// contribution in January 2020.
    fn new() -> World {
        let fold = Fold::new();
        let signers = fold
            .members
            .iter()
            .map(|s| (s.handle.clone(), s.clone()))
            .collect();
        let mut world = World {
            fold,
            signers,
            admitted: 0,
            ids: Vec::new(),
        };
        for (i, handle) in ["alice", "bob", "carol", "dave"].into_iter().enumerate() {
            let e = sign(
                &world.signers[handle],
                contribution_body(work(30 + i as u64, JAN_2020.0 + 60)),
            );
            world.fold.push(&e).expect("a member logs work");
        }
        world
    }

    fn handles(&self) -> Vec<String> {
        self.signers.keys().cloned().collect()
    }

    /// Live contributions, sorted by id.
    fn live(&self) -> Vec<ContributionState> {
        let mut live: Vec<_> = self
            .fold
            .state
            .contributions()
            .filter(|c| !c.retracted)
            .cloned()
            .collect();
        live.sort_by_key(|c| c.id);
        live
    }

    /// An entry of `kind`, valid in the current state (which must hold a
    /// live contribution), chosen by `pick`; with the new signer when it
    /// admits a member or rotates a key.
    fn entry(&mut self, kind: Kind, pick: u64) -> (pb::Envelope, Option<Signer>) {
        let handles = self.handles();
        let member =
            |offset: u64| handles[((pick + offset) % handles.len() as u64) as usize].clone();
        let live = self.live();
        let contribution_at =
            |offset: u64| live[((pick + offset) % live.len() as u64) as usize].clone();
        let network = self.fold.alice.network_id.clone();
        let alice = self.signers["alice"].clone();
        match kind {
            Kind::Admit => {
                self.admitted += 1;
                let newcomer = new_signer(&format!("m{}x{pick}", self.admitted), &network);
                let e = sign(&alice, admit_body(&newcomer.handle, &newcomer.public_key()));
                (e, Some(newcomer))
            }
            Kind::Rotate => {
                let handle = member(0);
                let next = new_signer(&handle, &network);
                (
                    sign(&self.signers[&handle], rotate_body(&next.public_key())),
                    Some(next),
                )
            }
            // The prefix grants and revokes admin among bob, carol and dave
            // only, so alice stays admin and treasurer and bob never holds
            // treasurer: the last two kinds are always valid.
            Kind::Grant => (sign(&alice, grant_body("bob", pb::Role::Treasurer)), None),
            Kind::Revoke => (
                sign(&alice, revoke_body("alice", pb::Role::Treasurer)),
                None,
            ),
            Kind::Adopt => (sign(&alice, adopt_body(POLICY_JSON)), None),
            Kind::Log => {
                let author = member(0);
                let kinds = [K::Work, K::Money, K::Expense, K::Resource, K::Use];
                let fields = pb::Contribution {
                    tags: vec![format!("t{}", pick % 3)],
                    ..contribution(
                        kinds[(pick % 5) as usize],
                        1 + pick % 500,
                        JAN_2020.0 + (pick % 86_400) as i64,
                    )
                };
                (
                    sign(&self.signers[&author], contribution_body(fields)),
                    None,
                )
            }
            // Alice attests for any member, herself included (she stays admin).
            Kind::Attest => {
                let fields = work(1 + pick % 300, JAN_2020.0 + (pick % 86_400) as i64);
                let body = attest_body(&member(0), fields, &format!("undo.csv row {pick}"));
                (sign(&alice, body), None)
            }
            Kind::Amend => {
                let c = contribution_at(0);
                let fields = work(1 + pick % 200, FEB_2020.0 + (pick % 1000) as i64);
                // An attested contribution is amended by the admin who attested it.
                let author = c.attested_by.as_ref().unwrap_or(&c.member);
                (
                    sign(&self.signers[author], amend_body(&c.id.0, fields)),
                    None,
                )
            }
            Kind::Retract => {
                let c = contribution_at(0);
                let e = sign(&self.signers[&c.member], retract_body(&c.id.0, "undo test"));
                (e, None)
            }
            Kind::Evaluate => {
                let c = contribution_at(0);
                let reviewer = handles
                    .iter()
                    .cycle()
                    .skip((pick % handles.len() as u64) as usize)
                    .find(|h| **h != c.member && Some(*h) != c.attested_by.as_ref())
                    .expect("another member")
                    .clone();
                let verdict = if pick.is_multiple_of(2) {
                    pb::Verdict::Approve
                } else {
                    pb::Verdict::Flag
                };
                let rating = (!pick.is_multiple_of(3)).then_some((pick % 101) as u32);
                (
                    sign(
                        &self.signers[&reviewer],
                        evaluate_body(&c.id, verdict, rating, ""),
                    ),
                    None,
                )
            }
            Kind::Allocate => {
                let author = member(0);
                let others: Vec<String> =
                    handles.iter().filter(|h| **h != author).cloned().collect();
                let a = &others[(pick % others.len() as u64) as usize];
                let b = &others[((pick + 1) % others.len() as u64) as usize];
                let first = (pick % 101) as u32;
                let shares = [(a.as_str(), first), (b.as_str(), 100 - first)];
                let period = if pick.is_multiple_of(2) {
                    JAN_2020
                } else {
                    FEB_2020
                };
                (
                    sign(
                        &self.signers[&author],
                        allocate_body(period.0, period.1, &shares),
                    ),
                    None,
                )
            }
        }
    }

    /// One prefix step: admin grants or revokes among bob, carol and dave,
    /// any other kind as [`World::entry`] builds it; folded in if accepted.
    fn step(&mut self, op: u8, pick: u64) {
        let built = match op % 13 {
            11 | 12 => {
                let handle = ["bob", "carol", "dave"][(pick % 3) as usize];
                let alice = &self.signers["alice"];
                let holds = self
                    .fold
                    .state
                    .member(handle)
                    .is_some_and(|m| m.roles.contains(&pb::Role::Admin));
                let body = if holds {
                    revoke_body(handle, pb::Role::Admin)
                } else {
                    grant_body(handle, pb::Role::Admin)
                };
                Some((sign(alice, body), None))
            }
            2 | 3 => None,
            // Keep a live contribution for the amend, retract and evaluate
            // that follow the prefix.
            7 if self.live().len() < 2 => None,
            n => Some(self.entry(KINDS[n as usize], pick)),
        };
        let Some((envelope, signer)) = built else {
            return;
        };
        self.ids
            .push(EntryId(id_of(&envelope).try_into().expect("32 bytes")));
        if self.fold.push(&envelope).is_ok()
            && let Some(signer) = signer
        {
            self.signers.insert(signer.handle.clone(), signer);
        }
    }

    /// Checks, applies and undoes one entry of `kind`; see the module doc.
    fn apply_and_undo(&mut self, kind: Kind, pick: u64) -> Result<(), TestCaseError> {
        let (envelope, _) = self.entry(kind, pick);
        let id = EntryId(id_of(&envelope).try_into().expect("32 bytes"));
        self.ids.push(id);
        let before = shown(&self.fold.state, &self.ids);
        let v = self
            .fold
            .check(&envelope)
            .map_err(|r| TestCaseError::fail(format!("{kind:?} was refused: {r}")))?;
        let sequence = self.fold.state.size();
        let undo = self.fold.apply_checked(&v).expect("admitted");
        let applied = shown(&self.fold.state, &self.ids);
        prop_assert_ne!(&applied, &before, "{:?} changed nothing", kind);
        prop_assert_eq!(applied.sequences.last(), Some(&(id, Some(sequence))));
        self.fold.state.undo(&v, undo);
        prop_assert_eq!(
            &shown(&self.fold.state, &self.ids),
            &before,
            "undo of {:?}",
            kind
        );

        let again = self.fold.check(&envelope);
        prop_assert!(
            again.is_ok(),
            "{:?} is refused after its undo: {:?}",
            kind,
            again.err()
        );
        let undo = self.fold.apply_checked(&v).expect("admitted");
        prop_assert_eq!(
            &shown(&self.fold.state, &self.ids),
            &applied,
            "{:?} applied again",
            kind
        );
        self.fold.state.undo(&v, undo);
        prop_assert_eq!(
            &shown(&self.fold.state, &self.ids),
            &before,
            "second undo of {:?}",
            kind
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn undo_reverses_apply_for_every_kind(
        prefix in proptest::collection::vec((any::<u8>(), any::<u64>()), 0..24),
        picks in proptest::collection::vec(any::<u64>(), KINDS.len()),
    ) {
        let mut world = World::new();
        for (op, pick) in prefix {
            world.step(op, pick);
        }
        for (kind, pick) in KINDS.into_iter().zip(picks) {
            world.apply_and_undo(kind, pick)?;
        }
    }

    /// A preview cut from the fold's scoring index is the preview built
    /// with strings, byte for byte (digest and report JSON), after any mix
    /// of logs, amendments, retractions, evaluations that replace earlier
    /// ones, and undone entries.
    #[test]
    fn the_indexed_preview_is_the_string_preview(
        prefix in proptest::collection::vec((any::<u8>(), any::<u64>()), 0..32),
        picks in proptest::collection::vec(any::<u64>(), KINDS.len()),
        income in 0u64..1_000_000,
    ) {
        let mut world = World::new();
        // Rates by tag, a multiplier, review and a reimburse bucket, so
        // every part of the numbered input counts.
        let policy = r#"{"default_rates":{"work":3000,"resource":200,"use":100},
            "rates":{"t1":4000},"tag_multiplier_ppm":{"t2":1100000},
            "validation":{"min_approvals":1,"max_flags":1},"mode":"remaining",
            "buckets":[{"type":"reimburse","percent_ppm":400000,"kinds":["expense"]},
            {"type":"shares","percent_ppm":1000000,"kinds":["work","money","resource","use"]}]}"#;
        let adopt = sign(&world.signers["alice"], adopt_body(policy));
        world.fold.push(&adopt).expect("the policy is adopted");
        for (op, pick) in prefix {
            world.step(op, pick);
        }
        for (kind, pick) in KINDS.into_iter().zip(picks).take(4) {
            world.apply_and_undo(kind, pick)?;
        }
        let state = &world.fold.state;
        let strings = world.fold.preview(JAN_2020, income);
        let (parts, version) = indexed_source_for(state, PolicyChoice::Latest, JAN_2020, Priors::All)
            .expect("a source")
            .into_parts(income)
            .expect("the parts");
        let indexed = coopledger::payout::score_parts(parts, version, state.size(), JAN_2020, income)
            .expect("scored");
        prop_assert_eq!(&indexed.canonical, &strings.canonical);
        prop_assert_eq!(indexed.digest, strings.digest);
        prop_assert_eq!(
            summary_json(&indexed.report).expect("JSON"),
            summary_json(&strings.report).expect("JSON")
        );
        prop_assert_eq!(&indexed.report, &strings.report);
        // The same input but for the members' order (the index numbers
        // them by admission; the core sorts them).
        let sorted = |mut input: coopledger::scoring::ScoringInput| {
            input.members.sort();
            input
        };
        prop_assert_eq!(
            sorted(indexed.input.to_scoring_input()),
            sorted(strings.input.to_scoring_input())
        );
    }
}
