//! The fairness revision of SCORING.md: the impartial participants are
//! fixed by the membership (so one's own report, whoever it names, never
//! changes one's own share), the trust rule is inert when every approver is
//! trusted, and the collusion signals never change money.

use super::*;

/// A report over `n` members from raw weights: integer percents summing to
/// 100 over everyone but `from`, any of them possibly 0.
fn any_row(from: usize, raw: &[u8], n: usize) -> BTreeMap<String, u64> {
    split_of_100(from, raw, n)
}

proptest! {
    #![proptest_config(config(64))]

    /// Participants are all members: a member who gives nothing and whom
    /// nobody names still takes part (an even split), and `who`'s report —
    /// whether it names such members, gives some members 0, or not — never
    /// changes `who`'s impartial weight.
    #[test]
    fn own_allocation_never_changes_own_impartial_share(
        team in 3usize..=6,
        silent in 1usize..=2,
        raws in vec(vec(0u8..6, 8), 8),
        who in 0usize..8,
        mine in vec(0u8..6, 8),
        percent_ppm in 1u64..=1_000_000,
    ) {
        let n = team + silent;
        let who = who % team;
        let members: Vec<String> = NAMES[..n].iter().map(|s| (*s).to_owned()).collect();
        // Team members only name team members; the silent ones give nothing
        // and nobody but (perhaps) `who` names them.
        let team_row = |from: usize, raw: &[u8]| -> BTreeMap<String, u64> {
            split_of_100(from, raw, team)
        };
        let input = |who_row: BTreeMap<String, u64>| -> ScoringInput {
            let allocations = (0..team)
                .map(|j| Allocation {
                    from: members[j].clone(),
                    to: if j == who { who_row.clone() } else { team_row(j, &raws[j]) },
                })
                .collect();
            ScoringInput {
                policy: PolicyDocument {
                    buckets: vec![Bucket::Allocation {
                        percent_ppm,
                        mechanism: Mechanism::Impartial,
                        participants: None,
                    }],
                    ..PolicyDocument::default()
                },
                members: members.clone(),
                contributions: vec![],
                evaluations: vec![],
                allocations,
                prior_repayments: vec![],
                prior_payouts: vec![],
                period: Period { start: START, end: END },
                income: 1_000_000,
            }
        };
        let weights = |who_row: BTreeMap<String, u64>| -> Result<BTreeMap<String, u64>, TestCaseError> {
            let report = score(&input(who_row)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(report.buckets[0].participants, Some(n));
            Ok(report.buckets[0].weights.clone().unwrap())
        };
        let within_team = weights(team_row(who, &raws[who]))?;
        // The same member's report over everyone, silent members included.
        let naming_silent = weights(any_row(who, &mine, n))?;
        prop_assert_eq!(within_team[NAMES[who]], naming_silent[NAMES[who]]);
        // The silent members take part (and are weighed) either way.
        for silent_member in &NAMES[team..n] {
            prop_assert!(within_team.contains_key(*silent_member));
            prop_assert!(naming_silent.contains_key(*silent_member));
        }
    }

    /// With every member pre-trusted, each member's trust is at least
    /// damping/n of the total (15% of the mean member trust), so every
    /// approver passes a trust rule of at most 10%: the report is the one
    /// without the rule (min_approver_trust_ppm 0), byte for byte.
    #[test]
    fn the_trust_rule_changes_nothing_when_every_approver_is_trusted(
        shape in shape(),
        min_approver_trust_ppm in 0u64..=100_000,
        min_approvals in 1u64..3,
    ) {
        let mut input = build(&shape);
        input.policy.policy.evaluator_weights = EvaluatorWeights::EigenTrust {
            pretrusted: input.members.clone(),
            damping_ppm: 150_000,
        };
        input.policy.policy.validation.min_approvals = min_approvals;
        input.policy.policy.validation.min_approver_trust_ppm = min_approver_trust_ppm;
        let gated = score(&input).unwrap();
        input.policy.policy.validation.min_approver_trust_ppm = 0;
        let ungated = score(&input).unwrap();
        prop_assert_eq!(gated.to_json().unwrap(), ungated.to_json().unwrap());
        prop_assert!(gated
            .signals
            .iter()
            .all(|s| s.kind != coopledger::scoring::SignalKind::UntrustedApprovals));
    }

    /// The signal thresholds change the signals and nothing else: with the
    /// signals set aside, two reports under any two thresholds are equal.
    /// And the list is in the spec's order, each signal's members sorted.
    #[test]
    fn signals_never_change_money(
        shape in shape(),
        first in (0u64..=100, 0u64..=100, 1u64..=100),
        second in (0u64..=100, 0u64..=100, 1u64..=100),
    ) {
        let with = |(margin, solo, give): (u64, u64, u64)| {
            let mut input = build(&shape);
            input.policy.policy.signals = SignalThresholds {
                reciprocity_margin: margin,
                reciprocity_solo_min: solo,
                give_reciprocity_min: give,
            };
            score(&input).unwrap()
        };
        let mut a = with(first);
        let mut b = with(second);
        for report in [&a, &b] {
            for signal in &report.signals {
                prop_assert!(signal.members.windows(2).all(|w| w[0] < w[1]), "{:?}", signal);
            }
            let in_order = report.signals.windows(2).all(|w| {
                (w[0].kind.as_str(), &w[0].members) < (w[1].kind.as_str(), &w[1].members)
            });
            prop_assert!(in_order, "{:?}", report.signals);
        }
        a.signals.clear();
        b.signals.clear();
        prop_assert_eq!(a, b);
    }
}

/// A closed ring of two among four approved members is reported; once an
/// outsider approves into it, it is not.
#[test]
fn a_ring_entered_from_outside_is_not_closed() {
    let text = |extra: &str| {
        format!(
            r#"{{
  "policy": {{"default_rates": {{"work": 6000}}}},
  "members": ["a", "b", "c", "d", "s", "t"],
  "contributions": [
    {{"id": "a1", "member": "a", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"}},
    {{"id": "b1", "member": "b", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"}},
    {{"id": "c1", "member": "c", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"}},
    {{"id": "s1", "member": "s", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"}},
    {{"id": "t1", "member": "t", "kind": "work", "quantity": 60, "at": "2026-11-03T10:00:00Z"}},
    {{"id": "t2", "member": "t", "kind": "work", "quantity": 60, "at": "2026-11-03T11:00:00Z"}}
  ],
  "evaluations": [
    {{"contribution": "a1", "evaluator": "b", "verdict": "approve"}},
    {{"contribution": "b1", "evaluator": "c", "verdict": "approve"}},
    {{"contribution": "c1", "evaluator": "a", "verdict": "approve"}},
    {{"contribution": "s1", "evaluator": "t", "verdict": "approve"}},
    {{"contribution": "t1", "evaluator": "s", "verdict": "approve"}},
    {{"contribution": "t2", "evaluator": "s", "verdict": "flag"}}{extra}
  ],
  "distribution": {{
    "period": {{"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}},
    "income": 1000,
    "buckets": [{{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}}]
  }}
}}"#
        )
    };
    let closed = Scenario::from_json(text("").as_bytes())
        .unwrap()
        .score()
        .unwrap();
    let rings: Vec<_> = closed
        .signals
        .iter()
        .filter(|s| s.kind == coopledger::scoring::SignalKind::ClosedApprovalRing)
        .collect();
    // a, b, c form a ring too, but 2 × 3 > 5 approved members: it is the
    // cooperative's own network, not a ring inside it.
    assert_eq!(rings.len(), 1, "{:?}", closed.signals);
    assert_eq!(rings[0].members, ["s", "t"]);
    assert_eq!(rings[0].detail["approvals"], 2);
    assert_eq!(rings[0].detail["contributions"], 2);
    let entered = Scenario::from_json(
        text(r#", {"contribution": "s1", "evaluator": "a", "verdict": "approve"}"#).as_bytes(),
    )
    .unwrap()
    .score()
    .unwrap();
    assert!(
        entered
            .signals
            .iter()
            .all(|s| s.kind != coopledger::scoring::SignalKind::ClosedApprovalRing),
        "{:?}",
        entered.signals
    );
    assert_eq!(closed.payouts, entered.payouts);
}

/// Every invalid contribution says which rule of §2 it fails, and only
/// invalid ones do: across scenarios that fail each rule (too few
/// approvals in `peer-review-median`, and a veto flag (`max_flags: 0`) once
/// dee flags k1 there too, flags outweighing
/// approvals in `flags-weighted-majority`, approvals from members nobody
/// trusts in `trust-validation`), each reason is named at least once.
#[test]
fn an_invalid_contribution_names_the_rule_it_fails() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    let mut seen = std::collections::BTreeSet::new();
    for file in [
        "peer-review-median.json",
        "next/flags-weighted-majority.json",
        "next/trust-validation.json",
    ] {
        let mut bytes = std::fs::read(root.join(file)).unwrap();
        if file == "peer-review-median.json" {
            let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            value["evaluations"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!(
                    {"contribution": "k1", "evaluator": "dee", "verdict": "flag"}
                ));
            bytes = serde_json::to_vec(&value).unwrap();
        }
        let scenario = coopledger::scoring::scenario::Scenario::from_json(&bytes).unwrap();
        let report = score(&scenario.input).unwrap();
        let json = serde_json::to_value(&report.explanations).unwrap();
        for (member, explanation) in json.as_object().unwrap() {
            for line in explanation["contributions"].as_array().unwrap() {
                let valid = line["valid"].as_bool().unwrap();
                match line.get("invalid") {
                    None => assert!(valid, "{file} {member}: invalid without a reason: {line}"),
                    Some(reason) => {
                        assert!(
                            !valid,
                            "{file} {member}: a valid line with a reason: {line}"
                        );
                        assert_eq!(line["points"], 0, "{file}: {line}");
                        seen.insert(reason.as_str().unwrap().to_owned());
                    }
                }
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "flags_outweigh_approvals",
            "too_few_approvals",
            "too_many_flags",
            "untrusted_approvers"
        ]
    );
}
