//! The scenario reader (`Scenario::from_json`, what `coopledger score
//! --scenario FILE` reads): any bytes are read without panicking; a
//! scenario it accepts must be written back (`to_json`, what `export
//! --scenario` writes) to JSON that reads back to an equal scenario, and is
//! then scored (the scoring core validated it, so it may refuse only with a
//! `ScoringError`), and the report written as JSON and explained for its
//! first member.

#![no_main]

use coopledger::scoring::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(scenario) = Scenario::from_json(data) else {
        return;
    };
    let written = serde_json::to_vec(&scenario.to_json()).expect("a JSON value serializes");
    match Scenario::from_json(&written) {
        Ok(back) => assert_eq!(back, scenario, "the scenario round-trips"),
        Err(e) => panic!(
            "a written scenario is refused: {e}\n{}",
            String::from_utf8_lossy(&written)
        ),
    }
    if let Ok(report) = scenario.score() {
        let _ = report.to_json().expect("a report writes as JSON");
        if let Some(member) = scenario.input.members.first() {
            let _ = report.explain(member);
        }
    }
});
