//! Known-answer test for the canonical report and its digest (the bytes a
//! treasurer signs when recording a distribution).
//!
//! One fixed scenario, `../shared/conformance/sensorica-remaining.json`, is
//! read with the scenario reader and scored with `coopledger::scoring::score`;
//! `coopledger::payout::canonical_json` and `digest_of` must then give
//! exactly the string and the blake3 below. Both were computed independently
//! by `tests/kat/canonical_kat.py`, which works the distribution out by hand
//! in integers, checks it against the file's `expected`, and builds the JSON
//! as spec/DECISIONS.md describes it (sorted keys, no whitespace, integers
//! only). A change to the canonical form, or to what scoring pays in this
//! scenario, breaks this test: that is its purpose, since it would change
//! every recorded digest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::path::Path;

use coopledger::payout::{canonical_json, digest_of};
use coopledger::scoring::scenario::Scenario;

/// Printed by `python3 tests/kat/canonical_kat.py` (PyPI `blake3`).
const CANONICAL: &str = concat!(
    r#"{"buckets":[{"paid":{"sensorica":5000}},{"paid":{"alice":20000,"bob":10000}},"#,
    r#"{"paid":{"alice":13684,"carol":51316}}],"income":100000,"log_size":42,"#,
    r#""payouts":{"alice":33684,"bob":10000,"carol":51316,"sensorica":5000},"#,
    r#""policy_version":3,"range":{"end":1796083200,"start":1793491200},"#,
    r#""repayments":{"E3":20000,"E4":10000},"reserve":0}"#,
);

/// blake3 of [`CANONICAL`], printed by the same script.
const DIGEST_HEX: &str = "ef7e3f84803b2d95e2f29535ddd99949d9c116853dc096e17186ca27e1d4daa5";

/// Not part of the scenario: the values the script uses too.
const POLICY_VERSION: u32 = 3;
const LOG_SIZE: u64 = 42;

#[test]
fn the_canonical_report_of_a_fixed_scenario_has_a_known_digest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/sensorica-remaining.json");
    let bytes =
        std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let scenario = Scenario::from_json(&bytes).expect("the scenario reads");
    let input = &scenario.input;
    let report = coopledger::scoring::score(input).expect("the scenario scores");

    let period = (input.period.start, input.period.end);
    assert_eq!(period, (1_793_491_200, 1_796_083_200), "November 2026, UTC");
    let canonical = canonical_json(&report, period, input.income, POLICY_VERSION, LOG_SIZE);
    assert_eq!(canonical, CANONICAL, "the canonical report JSON");
    assert_eq!(
        hex::encode(digest_of(&canonical)),
        DIGEST_HEX,
        "blake3 of the canonical report"
    );
}

#[test]
fn the_digest_is_plain_blake3_of_the_canonical_bytes() {
    // Pins `digest_of` alone, so a failure above says which half moved.
    assert_eq!(hex::encode(digest_of(CANONICAL)), DIGEST_HEX);
}
