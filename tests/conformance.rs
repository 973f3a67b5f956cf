//! Conformance: every scenario in `../shared/conformance/` and in its
//! `next/` folder (the scenarios of the fairness revision of SCORING.md)
//! must score to exactly its `expected` fields.
//!
//! The folders are read at run time, so a scenario dropped into one is
//! checked without touching this file. Every key of `expected` must be a key of the
//! report and equal to it (payouts, reserve and points in every file today);
//! an expected key the report does not have fails the test rather than being
//! skipped, so no expectation is silently ignored.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::fs;
use std::path::{Path, PathBuf};

use coopledger::scoring::scenario::Scenario;
use serde_json::Value;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

/// The `*.json` files of one folder, sorted.
fn scenarios_in(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("conformance folder {} cannot be read: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("conformance folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json scenario in {}: the conformance suite would check nothing",
        dir.display()
    );
    files
}

/// Scores every file of one folder and fails listing every difference.
fn check_folder(dir: &Path) {
    let files = scenarios_in(dir);
    let problems: Vec<String> = files.iter().flat_map(|path| check(path)).collect();
    assert!(
        problems.is_empty(),
        "{} of {} conformance scenario(s) in {} differ:\n{}",
        problems.len(),
        files.len(),
        dir.display(),
        problems.join("\n")
    );
    eprintln!(
        "{} conformance scenario(s) in {} reproduced exactly",
        files.len(),
        dir.display()
    );
}

/// Scores one file and lists what differs from its `expected`.
fn check(path: &Path) -> Vec<String> {
    let name = path.display();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return vec![format!("{name}: cannot read: {err}")],
    };
    let file: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(err) => return vec![format!("{name}: not JSON: {err}")],
    };
    let Some(expected) = file.get("expected").and_then(Value::as_object) else {
        return vec![format!("{name}: has no \"expected\" object")];
    };
    let report = match Scenario::from_json(&bytes).and_then(|scenario| scenario.score()) {
        Ok(report) => report,
        Err(err) => return vec![format!("{name}: refused: {err}")],
    };
    let report = match serde_json::to_value(&report) {
        Ok(value) => value,
        Err(err) => return vec![format!("{name}: report does not serialise: {err}")],
    };
    let mut problems = Vec::new();
    for key in ["payouts", "reserve", "points"] {
        if !expected.contains_key(key) {
            problems.push(format!("{name}: expected.{key} is missing from the file"));
        }
    }
    for (key, want) in expected {
        match report.get(key) {
            None => problems.push(format!("{name}: the report has no {key:?} to compare")),
            Some(got) if got != want => problems.push(format!(
                "{name}: {key}\n    expected {want}\n    got      {got}"
            )),
            Some(_) => {}
        }
    }
    problems
}

#[test]
fn every_conformance_scenario_reproduces_its_expected_results() {
    check_folder(&conformance_dir());
}

#[test]
fn every_revised_scenario_reproduces_its_expected_results() {
    check_folder(&conformance_dir().join("next"));
}
