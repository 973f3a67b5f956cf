//! The scenario reader (`Scenario::from_json`, what `coopledger score
//! --scenario FILE` reads): any bytes are read without panicking, and the
//! one-pass reader with its fallback gives exactly what the reference tree
//! reader (`Scenario::from_json_tree`) gives: the same scenario or the
//! same refusal, field and rule. A
//! scenario it accepts must be written back (`to_json`, what `export
//! --scenario` writes) to JSON that reads back to an equal scenario; both
//! are scored, to the same report or refusal (the core is deterministic).
//! The core may refuse a scenario (a value or points past the spec's
//! limits), but never with a broken invariant (`ScoringError::Invariant`:
//! Σ payouts + reserve = income and the like); a report is written as JSON
//! and explained for its first member.
//!
//! And "what the log accepts, the scoring core can score" (DESIGN principle
//! 8): when the policy passes the adoption bound check (`check_scorable`
//! with the core's 64 tags) and every contribution is within the ledger's
//! bounds (`check_quantity_and_rate`, at most 64 distinct tags), scoring
//! may refuse only an impartial division's participants, never a value or
//! points past a limit.
//!
//! A scenario with an impartial bucket and more than
//! [`MAX_SCORED_PARTICIPANTS`] participants is read and round-tripped but
//! not scored: the exact division costs n⁴ (the core takes up to 500,
//! `MAX_IMPARTIAL_PARTICIPANTS`), 2 s at 200 in this instrumented build,
//! and such a scenario fits in 16 KiB, so the timeout would report that
//! documented cost as a hang.

#![no_main]

use coopledger::ledger::check_quantity_and_rate;
use std::collections::BTreeSet;

use coopledger::scoring::limits::MAX_TAGS;
use coopledger::scoring::policy::{Bucket, Mechanism};
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::{ScoringError, ScoringInput};
use libfuzzer_sys::fuzz_target;

/// The most participants of an impartial division this target scores.
const MAX_SCORED_PARTICIPANTS: usize = 100;

/// Whether the scenario has an impartial bucket with more participants
/// (members who allocated or were allocated to) than this target scores.
fn impartial_too_large(input: &ScoringInput) -> bool {
    let impartial = input.policy.buckets.iter().any(|b| {
        matches!(
            b,
            Bucket::Allocation {
                mechanism: Mechanism::Impartial,
                ..
            }
        )
    });
    let mut participants = BTreeSet::new();
    for a in &input.allocations {
        participants.insert(a.from.as_str());
        participants.extend(a.to.keys().map(String::as_str));
    }
    impartial && participants.len() > MAX_SCORED_PARTICIPANTS
}

/// Whether the policy passes the adoption check and every contribution is
/// one the ledger could have accepted.
fn ledger_could_hold(input: &ScoringInput) -> bool {
    input.policy.check_scorable(MAX_TAGS).is_ok()
        && input.contributions.iter().all(|c| {
            check_quantity_and_rate(c.kind, c.quantity, c.rate, "contribution").is_ok()
                && c.tags.len() <= MAX_TAGS
                && c.tags
                    .iter()
                    .enumerate()
                    .all(|(i, t)| !c.tags[..i].contains(t))
        })
}

fuzz_target!(|data: &[u8]| {
    let read = Scenario::from_json(data);
    assert_eq!(
        read,
        Scenario::from_json_tree(data),
        "the one-pass reader agrees with the reference reader"
    );
    let Ok(scenario) = read else {
        return;
    };
    let written = serde_json::to_vec(&scenario.to_json()).expect("a JSON value serializes");
    let back = match Scenario::from_json(&written) {
        Ok(back) => back,
        Err(e) => panic!(
            "a written scenario is refused: {e}\n{}",
            String::from_utf8_lossy(&written)
        ),
    };
    assert_eq!(back, scenario, "the scenario round-trips");
    if impartial_too_large(&scenario.input) {
        return;
    }
    let scored = scenario.score();
    assert_eq!(back.score(), scored, "equal scenarios score the same");
    match scored {
        Ok(report) => {
            let _ = report.to_json().expect("a report writes as JSON");
            if let Some(member) = scenario.input.members.first() {
                let _ = report.explain(member);
            }
        }
        Err(e @ ScoringError::Invariant { .. }) => panic!("{e}"),
        Err(ScoringError::Invalid { field, rule })
            if !field.ends_with(".mechanism") && ledger_could_hold(&scenario.input) =>
        {
            panic!("a scenario the ledger could hold is refused: {field}: {rule}")
        }
        Err(_) => {}
    }
});
