//! [`Fold`]: a ledger state folded entry by entry with the sequencer's own
//! rules (`LedgerState::check`, then `apply`), without a server or a disk,
//! for property tests of the rules, the fold and scoring.

use coopledger::client::{Signer, genesis_body};
use coopledger::ledger::{CheckContext, CheckedEntry, LedgerState, Limits, Refusal, Undo};
use coopledger::payout::{PolicyChoice, preview};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;

use super::builders::{admit_body, grant_body, id_of, new_key, now_ms, sign};

/// A ledger state folded entry by entry with the sequencer's own rules.
pub struct Fold {
    /// The state folded so far.
    pub state: LedgerState,
    /// The log key genesis names.
    pub log_key: [u8; 32],
    /// The limits `check` applies.
    pub limits: Limits,
    /// Alice, the founder (admin and treasurer).
    pub alice: Signer,
    /// Every admitted member's signer: alice, bob, carol, dave.
    pub members: Vec<Signer>,
}

impl Fold {
    /// A network founded by alice, with bob, carol and dave admitted and
    /// alice also treasurer.
    pub fn new() -> Fold {
        let log_key = [7u8; 32];
        let alice = Signer::new("alice", new_key(), &[]);
        let genesis = sign(
            &alice,
            genesis_body(
                "Bounds",
                "EUR",
                2,
                &[(alice.handle.clone(), alice.public_key())],
                &log_key,
            ),
        );
        let mut fold = Fold {
            state: LedgerState::default(),
            log_key,
            limits: Limits::default(),
            alice: alice.clone(),
            members: Vec::new(),
        };
        fold.push(&genesis).expect("genesis");
        let network_id = id_of(&genesis);
        let alice = Signer::new("alice", alice.key, &network_id);
        fold.alice = alice.clone();
        fold.members.push(alice.clone());
        for handle in ["bob", "carol", "dave"] {
            let signer = Signer::new(handle, new_key(), &network_id);
            fold.push(&sign(&alice, admit_body(handle, &signer.public_key())))
                .expect("admit");
            fold.members.push(signer);
        }
        fold.push(&sign(&alice, grant_body("alice", pb::Role::Treasurer)))
            .expect("grant");
        fold
    }

    /// Checks `envelope` as the sequencer does on arrival and folds it in if
    /// accepted.
    pub fn push(&mut self, envelope: &pb::Envelope) -> Result<(), Refusal> {
        self.push_settled(envelope, None)
    }

    /// Verifies `envelope` and checks it against the state as the sequencer
    /// does on arrival (clock included), without folding it in.
    pub fn check(&self, envelope: &pb::Envelope) -> Result<CheckedEntry, Refusal> {
        let entry = CheckedEntry::new(
            VerifiedEnvelope::verify(envelope, usize::MAX)?,
            &self.limits,
        )?;
        self.state.check(&entry, &self.context())?;
        Ok(entry)
    }

    /// Checks `entry` against the state again and folds it in; returns how
    /// to take it back.
    pub fn apply_checked(&mut self, entry: &CheckedEntry) -> Result<Undo, Refusal> {
        let cx = CheckContext {
            log_public_key: &self.log_key,
            limits: &self.limits,
            now_ms: Some(now_ms()),
        };
        let admitted = self.state.check(entry, &cx)?;
        let sequence = self.state.size();
        Ok(self.state.apply(admitted, sequence, None))
    }

    /// The context the sequencer checks arriving entries in (clock included).
    fn context(&self) -> CheckContext<'_> {
        CheckContext {
            log_public_key: &self.log_key,
            limits: &self.limits,
            now_ms: Some(now_ms()),
        }
    }

    /// As [`Fold::push`]; a recorded distribution takes `doctored` as its
    /// settlement when given (what a faulty server would have written)
    /// instead of the recomputed one.
    pub fn push_settled(
        &mut self,
        envelope: &pb::Envelope,
        doctored: Option<coopledger::ledger::Settlement>,
    ) -> Result<(), Refusal> {
        let entry = CheckedEntry::new(
            VerifiedEnvelope::verify(envelope, usize::MAX)?,
            &self.limits,
        )?;
        let cx = self.context();
        let admitted = self.state.check(&entry, &cx)?;
        let settlement = match (&entry.entry.body, doctored) {
            (Some(Body::RecordDistribution(_)), Some(doctored)) => Some(doctored),
            (Some(Body::RecordDistribution(r)), None) => Some(
                coopledger::payout::settle(&self.state, r)
                    .map_err(coopledger::payout::PayoutError::into_refusal)?,
            ),
            _ => None,
        };
        let sequence = self.state.size();
        self.state.apply(admitted, sequence, settlement);
        Ok(())
    }

    /// Previews `period` for `income` with the latest policy.
    pub fn preview(&self, period: (i64, i64), income: u64) -> coopledger::payout::Preview {
        preview(
            &self.state,
            self.state.size(),
            PolicyChoice::Latest,
            period,
            income,
        )
        .unwrap_or_else(|r| panic!("the preview of {period:?} for {income} was refused: {r}"))
    }
}
