//! Refusals a treasurer can run into, each naming its field and its rule,
//! from one base scenario with one replacement each.

use super::*;

// Refusals: each names its field and its rule.

const BASE: &str = r#"{
  "policy": {"currency": "EUR", "decimals": 2, "default_rates": {"work": 3000}},
  "members": ["a", "b", "c", "d"],
  "contributions": [
    {"id": "w1", "member": "a", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"},
    {"id": "w2", "member": "b", "kind": "work", "quantity": 90, "at": "2026-11-04T10:00:00Z"}
  ],
  "evaluations": [{"contribution": "w1", "evaluator": "b", "verdict": "approve", "rating": 90}],
  "allocations": [{"from": "a", "to": {"b": 60, "c": 40}}],
  "distribution": {
    "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
    "income": 100000, "mode": "remaining",
    "buckets": [
      {"type": "fixed", "percent_ppm": 50000, "recipient": "fund"},
      {"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}
    ]
  }
}"#;

/// The base scenario with one text replacement, which must apply.
fn variant(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from} is not in the base scenario");
    BASE.replacen(from, to, 1)
}

/// Reads and scores a scenario text, expecting a refusal.
fn refusal(text: &str) -> ScoringError {
    match Scenario::from_json(text.as_bytes()).and_then(|s| s.score()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err,
    }
}

/// Asserts the refusal names `field` and its message mentions `rule`.
fn assert_refused(text: &str, field: &str, rule: &str) {
    let err = refusal(text);
    assert_eq!(err.field(), Some(field), "wrong field in: {err}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("{field}: ")), "{message}");
    assert!(
        message.contains(rule),
        "{message:?} does not mention {rule:?}"
    );
}

#[test]
fn the_base_scenario_is_accepted() {
    let report = Scenario::from_json(BASE.as_bytes())
        .unwrap()
        .score()
        .unwrap();
    assert_eq!(report.payouts["fund"], 5000);
}

#[test]
fn unknown_kind_is_refused() {
    assert_refused(
        &variant(
            r#""kind": "work", "quantity": 60"#,
            r#""kind": "labour", "quantity": 60"#,
        ),
        "contributions[0].kind",
        "unknown kind \"labour\"",
    );
    assert_refused(
        &variant(r#""kinds": ["work"]"#, r#""kinds": ["time"]"#),
        "distribution.buckets[1].kinds[0]",
        "unknown kind \"time\"",
    );
}

#[test]
fn unknown_bucket_type_verdict_and_field_are_refused() {
    assert_refused(
        &variant(r#""type": "fixed""#, r#""type": "lottery""#),
        "distribution.buckets[0].type",
        "unknown bucket type",
    );
    assert_refused(
        &variant(r#""verdict": "approve""#, r#""verdict": "like""#),
        "evaluations[0].verdict",
        "unknown verdict",
    );
    assert_refused(
        &variant(r#""income": 100000"#, r#""income": 100000, "incom": 1"#),
        "distribution.incom",
        "unknown field",
    );
}

#[test]
fn percent_out_of_range_is_refused() {
    assert_refused(
        &variant(r#""percent_ppm": 50000"#, r#""percent_ppm": 1200000"#),
        "distribution.buckets[0].percent_ppm",
        "must be at most 1000000 ppm (got 1200000)",
    );
    assert_refused(
        &variant(r#""percent_ppm": 50000"#, r#""percent_ppm": -5"#),
        "distribution.buckets[0].percent_ppm",
        "must not be negative",
    );
    assert_refused(
        &variant(r#""rating": 90"#, r#""rating": 101"#),
        "evaluations[0].rating",
        "must be at most 100",
    );
}

#[test]
fn straight_percents_above_100_are_refused() {
    assert_refused(
        &variant(r#""mode": "remaining""#, r#""mode": "straight""#),
        "distribution.buckets",
        "in straight mode the percents must sum to at most 1000000 ppm",
    );
}

#[test]
fn allocation_not_summing_to_100_is_refused() {
    assert_refused(
        &variant(r#""c": 40}"#, r#""c": 30}"#),
        "allocations[0].to",
        "percents must sum to 100 (got 90)",
    );
}

#[test]
fn self_allocation_is_refused() {
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"a": 10, "b": 50, "c": 40}"#),
        "allocations[0].to.a",
        "cannot allocate to themselves",
    );
}

#[test]
fn allocation_to_a_non_member_is_refused() {
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"b": 60, "zed": 40}"#),
        "allocations[0].to.zed",
        "is not a member",
    );
}

#[test]
fn fewer_than_three_impartial_participants_are_refused() {
    let text = variant(
        r#"{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}"#,
        r#"{"type": "allocation", "percent_ppm": 1000000, "mechanism": "impartial",
            "participants": ["a", "b"]}"#,
    );
    assert_refused(
        &text,
        "distribution.buckets[1].mechanism",
        "needs at least three participants",
    );
}

#[test]
fn bad_times_are_refused() {
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03 10:00"),
        "contributions[0].at",
        "RFC 3339",
    );
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03T10:00:00"),
        "contributions[0].at",
        "offset",
    );
    assert_refused(
        &variant("2026-11-03T10:00:00Z", "2026-11-03T10:00:00.250Z"),
        "contributions[0].at",
        "fractional seconds",
    );
    assert_refused(
        &variant(
            r#""end": "2026-12-01T00:00:00Z""#,
            r#""end": "2026-11-01T00:00:00Z""#,
        ),
        "distribution.period",
        "must be before end",
    );
}

#[test]
fn duplicate_ids_are_refused() {
    assert_refused(
        &variant(r#"["a", "b", "c", "d"]"#, r#"["a", "b", "c", "b"]"#),
        "members[3]",
        "duplicate member id \"b\" (also members[1])",
    );
    assert_refused(
        &variant(r#""id": "w2""#, r#""id": "w1""#),
        "contributions[1].id",
        "duplicate contribution id \"w1\"",
    );
    assert_refused(
        &variant(r#"{"b": 60, "c": 40}"#, r#"{"b": 60, "b": 40}"#),
        "allocations[0].to",
        "duplicate key \"b\"",
    );
}

#[test]
fn dangling_references_are_refused() {
    assert_refused(
        &variant(r#""member": "b", "kind""#, r#""member": "zed", "kind""#),
        "contributions[1].member",
        "\"zed\" is not a member",
    );
    assert_refused(
        &variant(r#""contribution": "w1""#, r#""contribution": "w9""#),
        "evaluations[0].contribution",
        "not a known contribution id",
    );
}

#[test]
fn a_missing_rate_is_a_warning_not_a_refusal() {
    let report = Scenario::from_json(
        variant(
            r#""default_rates": {"work": 3000}"#,
            r#""default_rates": {}"#,
        )
        .as_bytes(),
    )
    .unwrap()
    .score()
    .unwrap();
    assert_eq!(report.points.len(), 0);
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0].contains("no rate resolves for 2 work contribution(s)"));
    // Nothing earns points, so the shares bucket pays nothing: the rest is
    // the reserve, on its own line.
    assert_eq!(report.reserve, 95_000);
}

#[test]
fn max_flags_with_weighted_majority_is_refused_naming_both() {
    let text = variant(
        r#""default_rates": {"work": 3000}}"#,
        r#""default_rates": {"work": 3000},
            "validation": {"max_flags": 1, "flag_rule": "weighted_majority"}}"#,
    );
    let err = refusal(&text);
    assert_eq!(err.field(), Some("policy.validation"), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("max_flags") && message.contains("flag_rule weighted_majority"),
        "{message}"
    );
    // The same policy as an adopted document is refused the same way.
    let document = br#"{"validation": {"max_flags": 0, "flag_rule": "weighted_majority"},
        "buckets": []}"#;
    let err = PolicyDocument::from_json(document).unwrap_err();
    assert_eq!(err.field(), Some("validation"), "{err}");
    assert!(err.to_string().contains("exclude each other"), "{err}");
}

#[test]
fn new_policy_fields_out_of_range_are_refused() {
    let with = |rules: &str| {
        variant(
            r#""default_rates": {"work": 3000}}"#,
            &format!(r#""default_rates": {{"work": 3000}}, {rules}}}"#),
        )
    };
    assert_refused(
        &with(r#""validation": {"flag_rule": "majority"}"#),
        "policy.validation.flag_rule",
        "majority",
    );
    assert_refused(
        &with(r#""validation": {"min_approver_trust_ppm": 1000000001}"#),
        "policy.validation.min_approver_trust_ppm",
        "at most 1000000000",
    );
    assert_refused(
        &with(r#""signals": {"reciprocity_margin": 101}"#),
        "policy.signals.reciprocity_margin",
        "at most 100",
    );
    assert_refused(
        &with(r#""signals": {"reciprocity_solo_min": 101}"#),
        "policy.signals.reciprocity_solo_min",
        "at most 100",
    );
    assert_refused(
        &with(r#""signals": {"give_reciprocity_min": 0}"#),
        "policy.signals.give_reciprocity_min",
        "1..=100",
    );
    assert_refused(
        &with(r#""signals": {"give_reciprocity_min": 101}"#),
        "policy.signals.give_reciprocity_min",
        "at most 100",
    );
    assert_refused(
        &with(r#""signals": {"reciprocity": 5}"#),
        "policy.signals.reciprocity",
        "",
    );
    // At the limits, accepted.
    let accepted = with(
        r#""validation": {"min_approver_trust_ppm": 1000000000, "flag_rule": "count"},
           "signals": {"reciprocity_margin": 0, "reciprocity_solo_min": 100,
                       "give_reciprocity_min": 1}"#,
    );
    Scenario::from_json(accepted.as_bytes())
        .unwrap()
        .score()
        .unwrap();
}

#[test]
fn bucket_participants_must_be_distinct_members() {
    let bucket = |participants: &str| {
        variant(
            r#"{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}"#,
            &format!(
                r#"{{"type": "allocation", "percent_ppm": 1000000, "mechanism": "give",
                    "participants": {participants}}}"#
            ),
        )
    };
    assert_refused(
        &bucket(r#"["a", "zed"]"#),
        "distribution.buckets[1].participants[1]",
        "not a member",
    );
    assert_refused(
        &bucket(r#"["a", "b", "a"]"#),
        "distribution.buckets[1].participants",
        "twice",
    );
}

#[test]
fn the_policy_writer_round_trips_the_new_fields() {
    let document = br#"{"validation": {"min_approvals": 1, "flag_rule": "weighted_majority",
        "min_approver_trust_ppm": 25000},
        "signals": {"reciprocity_margin": 10, "reciprocity_solo_min": 95,
                    "give_reciprocity_min": 40},
        "buckets": [{"type": "allocation", "percent_ppm": 1000000, "mechanism": "impartial",
                     "participants": ["b", "a", "c"]}]}"#;
    let read = PolicyDocument::from_json(document).unwrap();
    assert_eq!(read.policy.validation.flag_rule, FlagRule::WeightedMajority);
    assert_eq!(read.policy.validation.min_approver_trust_ppm, 25_000);
    assert_eq!(
        read.policy.signals,
        SignalThresholds {
            reciprocity_margin: 10,
            reciprocity_solo_min: 95,
            give_reciprocity_min: 40,
        }
    );
    let written = serde_json::to_vec(&read.to_json()).unwrap();
    assert_eq!(PolicyDocument::from_json(&written).unwrap(), read);
    // Defaults when absent.
    let plain = PolicyDocument::from_json(br#"{"buckets": []}"#).unwrap();
    assert_eq!(plain.policy.validation.flag_rule, FlagRule::Count);
    assert_eq!(plain.policy.validation.min_approver_trust_ppm, 10_000);
    assert_eq!(plain.policy.signals, SignalThresholds::default());
    assert_eq!(
        SignalThresholds::default(),
        SignalThresholds {
            reciprocity_margin: 20,
            reciprocity_solo_min: 90,
            give_reciprocity_min: 30,
        }
    );
}
