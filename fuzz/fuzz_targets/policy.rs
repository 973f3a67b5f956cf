//! The policy reader (`PolicyDocument::from_json`, what `adopt policy`
//! carries and the ledger parses): any bytes are read without panicking; a
//! document it accepts goes through the adoption bound check
//! (`check_scorable`, with the default tag limit and with the scoring
//! core's), and is written back (`to_json`) to JSON that must read back to
//! an equal document.

#![no_main]

use coopledger::ledger::Limits;
use coopledger::scoring::limits::MAX_TAGS;
use coopledger::scoring::policy::PolicyDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = PolicyDocument::from_json(data) else {
        return;
    };
    let few = document.check_scorable(Limits::default().max_tags);
    let most = document.check_scorable(MAX_TAGS);
    // More tags can only raise the worst case.
    assert!(
        few.is_ok() || most.is_err(),
        "scorable with {MAX_TAGS} tags but not with fewer"
    );
    let _ = document.check_currency("EUR", 2);
    let written = serde_json::to_vec(&document.to_json()).expect("a JSON value serializes");
    match PolicyDocument::from_json(&written) {
        Ok(back) => assert_eq!(back, document, "the policy round-trips"),
        Err(e) => panic!(
            "a written policy is refused: {e}\n{}",
            String::from_utf8_lossy(&written)
        ),
    }
});
