//! Writes the protobuf and policy seeds of the checked-in corpora (run from
//! `fuzz/`: `cargo run --bin gen_seeds`):
//!
//! - `corpus/entry/`: one encoded `Entry` of every body kind, signed and
//!   bound to the fixed network of `coopledger_fuzz::Net`, so mutations
//!   reach the rules;
//! - `corpus/envelope/`: each of those entries as a wire `Envelope`, as
//!   stored leaf bytes, and as a bare payload;
//! - `corpus/policy/`: a policy document from each scenario seed in
//!   `corpus/scenario/` (its `policy` object with the distribution's `mode`
//!   and `buckets`), plus the fixed network's policies.
//!
//! The scenario seeds are copied by hand from the conformance files
//! (FUZZING.md).

#![allow(clippy::expect_used, reason = "a seed generator fails loudly")]

use std::fs;
use std::path::Path;

use coopledger::ledger::{CheckedEntry, Limits};
use coopledger::verify::VerifiedEnvelope;
use coopledger_fuzz::{Net, POLICY_JSON, RICH_POLICY_JSON, arrival, sign};
use prost::Message;
use serde_json::{Map, Value};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus folder");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

fn main() {
    let corpus = Path::new("corpus");
    let net = Net::new();
    for (name, entry) in net.seed_entries() {
        let payload = entry.encode_to_vec();
        write(&corpus.join("entry"), &format!("{name}.pb"), &payload);
        let envelope = sign(&entry);
        let verified = VerifiedEnvelope::verify(&envelope, usize::MAX).expect("a seed verifies");
        let leaf = verified.leaf_bytes();
        // Whether the fixed network's rules admit it (most seeds should).
        let limits = Limits::default();
        let verdict = CheckedEntry::new(verified, &limits)
            .and_then(|checked| net.state.check(&checked, &arrival(&limits)).map(|_| ()));
        match verdict {
            Ok(()) => println!("{name}: admitted"),
            Err(e) => println!("{name}: refused: {e}"),
        }
        let dir = corpus.join("envelope");
        write(&dir, &format!("{name}.envelope"), &envelope.encode_to_vec());
        write(&dir, &format!("{name}.leaf"), &leaf);
        write(&dir, &format!("{name}.payload"), &payload);
    }

    let policies = corpus.join("policy");
    write(&policies, "fixed-network.json", POLICY_JSON.as_bytes());
    write(&policies, "rich.json", RICH_POLICY_JSON.as_bytes());
    let mut scenarios: Vec<_> = fs::read_dir(corpus.join("scenario"))
        .expect("corpus/scenario holds the scenario seeds")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    scenarios.sort();
    for path in scenarios {
        let text = fs::read(&path).expect("read a scenario seed");
        let Ok(Value::Object(scenario)) = serde_json::from_slice::<Value>(&text) else {
            continue;
        };
        let mut document = match scenario.get("policy") {
            Some(Value::Object(policy)) => policy.clone(),
            _ => Map::new(),
        };
        if let Some(Value::Object(distribution)) = scenario.get("distribution") {
            for key in ["mode", "buckets"] {
                if let Some(value) = distribution.get(key) {
                    document.insert(key.into(), value.clone());
                }
            }
        }
        let bytes = serde_json::to_vec_pretty(&Value::Object(document)).expect("serialize");
        let name = path.file_name().expect("a file name").to_string_lossy();
        write(&policies, &name, &bytes);
    }
}
