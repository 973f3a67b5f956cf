//! The scenario reader (`Scenario::from_json`, what `coopledger score
//! --scenario FILE` reads): any bytes are read without panicking. A
//! scenario it accepts must be written back (`to_json`, what `export
//! --scenario` writes) to JSON that reads back to an equal scenario; both
//! are scored, to the same report or refusal (the core is deterministic).
//! The core may refuse a scenario (a value or points past the spec's
//! limits), but never with a broken invariant (`ScoringError::Invariant`:
//! Σ payouts + reserve = income and the like); a report is written as JSON
//! and explained for its first member.

#![no_main]

use coopledger::scoring::ScoringError;
use coopledger::scoring::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(scenario) = Scenario::from_json(data) else {
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
        Err(_) => {}
    }
});
