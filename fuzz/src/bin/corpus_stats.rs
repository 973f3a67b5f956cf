//! How far the inputs of an `entry` corpus get (run from `fuzz/`:
//! `./target/x86_64-unknown-linux-gnu/release/corpus_stats grown/entry`):
//! how many decode, pass the stateless checks, and are admitted by the
//! fixed network's rules, by body kind. Evidence that the fuzzer reaches
//! `apply` and `undo`, for FUZZING.md.

#![allow(clippy::expect_used, reason = "a report tool fails loudly")]

use std::collections::BTreeMap;
use std::fs;

use coopledger::ledger::{CheckedEntry, Limits, body_name, check_entry};
use coopledger::pb;
use coopledger::verify::VerifiedEnvelope;
use coopledger_fuzz::{Net, arrival, sign};
use prost::Message;

fn main() {
    let net = Net::new();
    let limits = Limits::default();
    let (mut files, mut decoded, mut checked) = (0, 0, 0);
    let mut admitted: BTreeMap<&str, u32> = BTreeMap::new();
    for dir in std::env::args().skip(1) {
        for file in fs::read_dir(&dir).expect("a corpus folder") {
            let bytes = fs::read(file.expect("an entry").path()).expect("a corpus file");
            files += 1;
            let Ok(entry) = pb::Entry::decode(bytes.as_slice()) else {
                continue;
            };
            decoded += 1;
            let Ok(body) = check_entry(&entry, &limits) else {
                continue;
            };
            checked += 1;
            let name = body_name(body);
            let verified =
                VerifiedEnvelope::verify(&sign(&entry), usize::MAX).expect("a signed entry");
            let entry = CheckedEntry::new(verified, &limits).expect("checked above");
            if net.state.check(&entry, &arrival(&limits)).is_ok() {
                *admitted.entry(name).or_default() += 1;
            }
        }
    }
    println!("{files} inputs, {decoded} decode as an Entry, {checked} pass check_entry");
    println!("admitted by the fixed network's rules: {admitted:?}");
}
