//! The ledger state's counts of what a preview may score (live
//! contributions, standing evaluations: each bounded by the scoring core's
//! limits) follow every apply and undo.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use coopledger::client::{Signer, contribution_body, evaluate_body, genesis_body};
use coopledger::ledger::{CheckContext, CheckedEntry, LedgerState, Limits};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;

fn verified(signer: &Signer, body: Body) -> CheckedEntry {
    let envelope = signer.sign(body).unwrap();
    let v = VerifiedEnvelope::verify(&envelope, usize::MAX).unwrap();
    CheckedEntry::new(v, &Limits::unbounded()).unwrap()
}

/// The counters, recomputed from the contributions themselves.
fn recount(state: &LedgerState) -> (u64, u64) {
    let live = state.contributions().filter(|c| !c.retracted).count() as u64;
    (
        live,
        state
            .contributions()
            .filter(|c| !c.retracted)
            .map(|c| c.evaluations.len() as u64)
            .sum(),
    )
}

#[test]
fn the_scorable_counts_follow_every_apply_and_undo() {
    let log_key = [1u8; 32];
    let limits = Limits::default();
    let cx = CheckContext {
        log_public_key: &log_key,
        limits: &limits,
        now_ms: Some(coopledger::ledger::now_ms()),
    };
    let mut state = LedgerState::default();
    let key = |seed: u8| ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let alice = Signer::new("alice", key(1), &[]);
    let genesis = verified(
        &alice,
        genesis_body(
            "c",
            "EUR",
            2,
            &[("alice".into(), alice.public_key())],
            &log_key,
        ),
    );
    let step = |state: &mut LedgerState, v: &CheckedEntry| {
        let admitted = state.check(v, &cx).unwrap();
        let sequence = state.size();
        state.apply(admitted, sequence, None)
    };
    step(&mut state, &genesis);
    let alice = Signer::new("alice", key(1), &genesis.id.0);
    let bob = Signer::new("bob", key(2), &genesis.id.0);
    let admit = Body::AdmitMember(pb::AdmitMember {
        handle: "bob".into(),
        public_key: bob.public_key().to_vec(),
    });
    step(&mut state, &verified(&alice, admit));
    let work = pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: 60,
        at: 1_577_836_800,
        ..Default::default()
    };
    let logged = verified(&bob, contribution_body(work.clone()));
    let id = logged.id;
    let approve = |rating| evaluate_body(&id, pb::Verdict::Approve, rating, "");
    let entries = vec![
        logged,
        verified(&alice, approve(Some(80))),
        verified(&alice, approve(Some(90))),
        verified(
            &bob,
            Body::AmendContribution(pb::AmendContribution {
                contribution_id: id.0.to_vec(),
                contribution: Some(work),
            }),
        ),
        verified(&alice, approve(None)),
        verified(
            &bob,
            Body::RetractContribution(pb::RetractContribution {
                contribution_id: id.0.to_vec(),
                reason: String::new(),
            }),
        ),
    ];
    let mut undos = Vec::new();
    let mut seen = Vec::new();
    for v in &entries {
        undos.push(step(&mut state, v));
        let counts = (state.live_contributions(), state.standing_evaluations());
        assert_eq!(counts, recount(&state));
        seen.push(counts);
    }
    assert_eq!(seen, [(1, 0), (1, 1), (1, 1), (1, 0), (1, 1), (0, 0)]);
    for (v, undo) in entries.iter().zip(undos).rev() {
        state.undo(v, undo);
        assert_eq!(
            (state.live_contributions(), state.standing_evaluations()),
            recount(&state)
        );
    }
    assert_eq!(
        (state.live_contributions(), state.standing_evaluations()),
        (0, 0)
    );
}
