//! Tests of the policy: reading and writing a document, refusals naming
//! the field and the rule, the adoption bound check and the currency check.

use super::*;
use crate::scoring::limits::{MAX_TAG_RATE, MAX_WORK_RATE};

fn refusal(text: &str) -> ScoringError {
    PolicyDocument::from_json(text.as_bytes()).unwrap_err()
}

#[test]
fn reads_a_document_and_writes_it_back() {
    let text = r#"{"currency": "EUR", "decimals": 2,
        "default_rates": {"work": 2500}, "rates": {"design": 3000},
        "kind_multiplier_ppm": {"money": 4000000}, "tag_multiplier_ppm": {"lead": 1200000},
        "decay": {"interval_days": 7, "rate_ppm": 100000},
        "validation": {"min_approvals": 1, "max_flags": 0},
        "rating": {"min_ratings": 2, "default": 90},
        "evaluator_weights": {"method": "eigentrust", "pretrusted": ["alice"]},
        "mode": "straight",
        "buckets": [
          {"type": "fixed", "percent_ppm": 50000, "recipient": "fund"},
          {"type": "reimburse", "percent_ppm": 250000, "kinds": ["expense", "money"]},
          {"type": "shares", "percent_ppm": 600000, "kinds": ["work"], "method": "balanced"},
          {"type": "allocation", "percent_ppm": 100000, "mechanism": "impartial"}]}"#;
    let document = PolicyDocument::from_json(text.as_bytes()).unwrap();
    assert_eq!(document.mode, Mode::Straight);
    assert_eq!(document.policy.default_rates[&Kind::Work], 2500);
    assert_eq!(
        document.policy.evaluator_weights,
        EvaluatorWeights::EigenTrust {
            pretrusted: vec!["alice".into()],
            damping_ppm: DEFAULT_DAMPING_PPM
        }
    );
    assert_eq!(document.buckets.len(), 4);
    let again = serde_json::to_vec(&document.to_json()).unwrap();
    assert_eq!(PolicyDocument::from_json(&again).unwrap(), document);
}

#[test]
fn refusals_name_the_field_and_the_rule() {
    let cases = [
        (
            r#"{"buckets": [{"type": "fixed", "percent_ppm": 1200000, "recipient": "f"}]}"#,
            "buckets[0].percent_ppm: must be at most 1000000 ppm (got 1200000): a bucket takes \
             at most 100% of its base and this is 120%; write e.g. 400000 for 40%",
        ),
        (
            r#"{"mode": "straight", "buckets": [
                {"type": "fixed", "percent_ppm": 600000, "recipient": "f"},
                {"type": "allocation", "percent_ppm": 600000, "mechanism": "give"}]}"#,
            "buckets: in straight mode the percents must sum to at most 1000000 ppm (100%) (got \
             1200000): each bucket takes its percent of the whole income, and these add up to 120%",
        ),
        (
            r#"{"default_rates": {"wrok": 1}, "buckets": []}"#,
            "default_rates.wrok: unknown kind \"wrok\" (expected one of: work, money, expense, resource, use)",
        ),
        (
            r#"{"buckets": [{"type": "lottery", "percent_ppm": 1}]}"#,
            "buckets[0].type: unknown bucket type \"lottery\" (expected one of: fixed, reimburse, shares, allocation)",
        ),
        (
            r#"{"decay": {"interval_days": 0, "rate_ppm": 1}, "buckets": []}"#,
            "decay.interval_days: must be at least 1 day (got 0)",
        ),
        (
            r#"{"tag_multiplier_ppm": {"x": 1000000001}, "buckets": []}"#,
            "tag_multiplier_ppm.x: must be at most 1000000000 ppm (got 1000000001)",
        ),
        (
            r#"{"evaluator_weights": {"method": "eigentrust", "pretrusted": []}, "buckets": []}"#,
            "evaluator_weights.pretrusted: must name at least one member for eigentrust",
        ),
        (
            r#"{"buckets": [{"type": "shares", "percent_ppm": 1, "kinds": []}]}"#,
            "buckets[0].kinds: must name at least one kind",
        ),
        (
            r#"{"buckets": [{"type": "reimburse", "percent_ppm": 1, "kinds": ["money"], "method": "balanced"}]}"#,
            "buckets[0].method: unknown field (expected one of: type, percent_ppm, kinds)",
        ),
        (r#"{"mode": "remaining"}"#, "buckets: is required"),
        (
            r#"{"default_rates": {"work": 25.00}, "buckets": []}"#,
            "default_rates.work: must be an integer written without a decimal point or exponent (got 25.0)",
        ),
        (
            r#"{"rates": {"x": 1000000000000001}, "buckets": []}"#,
            "rates.x: must be at most 1000000000000000 minor units (got 1000000000000001)",
        ),
        (
            r#"{"rating": {"default": 101}, "buckets": []}"#,
            "rating.default: must be at most 100 percent (got 101)",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(refusal(text).to_string(), message, "for {text}");
    }
    assert!(matches!(refusal("{"), ScoringError::Syntax { .. }));
}

#[test]
fn a_scorable_policy_keeps_the_worst_contribution_within_the_limits() {
    let check = |text: &str, max_tags| {
        PolicyDocument::from_json(text.as_bytes())
            .unwrap()
            .check_scorable(max_tags)
            .map_err(|e| e.to_string())
    };
    // 10^15 × 1000 = 10^18 exactly: at the limit, accepted.
    let at_limit = r#"{"kind_multiplier_ppm": {"use": 1000000000},
        "tag_multiplier_ppm": {"a": 1000001, "b": 500000}, "buckets": []}"#;
    assert_eq!(check(at_limit, 0), Ok(()));
    // Multipliers below 1 never raise points.
    let lower = r#"{"kind_multiplier_ppm": {"use": 1000000000},
        "tag_multiplier_ppm": {"b": 500000}, "buckets": []}"#;
    assert_eq!(check(lower, 16), Ok(()));
    // One tag that raises it passes the limit.
    assert!(
        check(at_limit, 1)
            .unwrap_err()
            .starts_with("tag_multiplier_ppm: with up to 1 tags a use contribution")
    );
    // Only as many tags as a contribution may carry count.
    let tags = r#"{"tag_multiplier_ppm": {"a": 10000000, "b": 10000000, "c": 10000000,
        "d": 10000000}, "buckets": []}"#;
    assert_eq!(check(tags, 3), Ok(()));
    assert!(check(tags, 4).is_err());
    // Rates within the per-kind bounds; a tag's within all of them.
    let rate =
        |field: &str, rate: u64| check(&format!(r#"{{{field}: {rate}}}, "buckets": []}}"#), 16);
    let work = r#""default_rates": {"work""#;
    assert_eq!(rate(work, MAX_WORK_RATE), Ok(()));
    assert!(
        rate(work, MAX_WORK_RATE + 1)
            .unwrap_err()
            .starts_with("default_rates.work: 60000000001 is more than a work rate")
    );
    let money = r#""default_rates": {"money""#;
    assert_eq!(rate(money, MAX_AMOUNT), Ok(()));
    let tag = r#""rates": {"x""#;
    assert_eq!(rate(tag, MAX_TAG_RATE), Ok(()));
    assert!(rate(tag, MAX_TAG_RATE + 1).is_err());
}

#[test]
fn currency_must_agree_with_the_network() {
    let document = PolicyDocument::from_json(br#"{"currency": "EUR", "buckets": []}"#).unwrap();
    assert!(document.check_currency("EUR", 2).is_ok());
    let err = document.check_currency("USD", 2).unwrap_err();
    assert_eq!(err.field(), Some("currency"));
}
