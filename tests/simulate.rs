//! The attack simulator (#12 part 3): what each scripted attack takes under
//! a policy, who plays the attackers, its limits and refusals — through the
//! library and through the real `coopledger simulate` binary.
//!
//! The cooperative is built here, deterministically: twelve members, each
//! logging three work claims in November 2026, every claim approved by the
//! three members after its author (cyclically) with ratings 70..=100, and
//! every member allocating to the two after them. Only the policy changes
//! between tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on a broken assumption"
)]

mod common;

use coopledger::scoring::scenario::Scenario;
use coopledger::simulate::{
    self, AttackKind, BucketMeasure, Measure, OutcomeResult, Settings, SimulateError, Simulation,
};
use serde_json::{Value, json};

const MEMBERS: usize = 12;

fn handle(i: usize) -> String {
    format!("m{:02}", i % MEMBERS)
}

/// The twelve-member cooperative under `policy` and these `buckets`.
fn scenario_json(policy: Value, buckets: Value) -> Value {
    let members: Vec<String> = (0..MEMBERS).map(handle).collect();
    let mut contributions = Vec::new();
    let mut evaluations = Vec::new();
    for i in 0..MEMBERS {
        for n in 0..3 {
            let id = format!("c{i:02}-{n}");
            contributions.push(json!({
                "id": id, "member": handle(i), "kind": "work",
                "quantity": 60 + 30 * ((i * 7 + n * 5) % 9),
                "at": format!("2026-11-{:02}T10:00:00Z", 2 + i + n),
            }));
            for r in 1..=3 {
                evaluations.push(json!({
                    "contribution": id, "evaluator": handle(i + r),
                    "verdict": "approve", "rating": 70 + (i * 3 + r * 11) % 31,
                }));
            }
        }
    }
    let allocations: Vec<Value> = (0..MEMBERS)
        .map(|i| json!({"from": handle(i), "to": {handle(i + 1): 60, handle(i + 2): 40}}))
        .collect();
    json!({
        "policy": policy,
        "members": members,
        "contributions": contributions,
        "evaluations": evaluations,
        "allocations": allocations,
        "distribution": {
            "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "income": 1_000_000,
            "buckets": buckets,
        }
    })
}

fn rules(extra: Value) -> Value {
    let mut policy = json!({
        "currency": "EUR", "decimals": 2,
        "default_rates": {"work": 3000},
        "validation": {"min_approvals": 1},
    });
    for (k, v) in extra.as_object().unwrap() {
        policy[k] = v.clone();
    }
    policy
}

fn eigentrust() -> Value {
    json!({"method": "eigentrust", "pretrusted": ["m00", "m01"]})
}

fn shares_only() -> Value {
    json!([{"type": "shares", "percent_ppm": 1_000_000, "kinds": ["work"]}])
}

fn parse(scenario: &Value) -> Scenario {
    Scenario::from_json(scenario.to_string().as_bytes()).expect("a valid scenario")
}

fn run(scenario: &Value, settings: &Settings) -> Simulation {
    simulate::simulate(&parse(scenario).input, settings).expect("the simulation runs")
}

fn only(attack: AttackKind) -> Settings {
    Settings {
        attacks: vec![attack],
        ..Settings::default()
    }
}

fn measured(simulation: &Simulation, attack: AttackKind) -> &Measure {
    let outcome = simulation
        .outcomes
        .iter()
        .find(|o| o.attack == attack)
        .expect("the attack ran");
    match &outcome.result {
        OutcomeResult::Measured(m) => m,
        other => panic!("{attack:?} was not measured: {other:?}"),
    }
}

fn bucket(measure: &Measure, index: usize) -> &BucketMeasure {
    &measure.buckets[index - 1]
}

#[test]
fn a_sybil_ring_captures_nothing_under_eigentrust_with_the_trust_rule_and_a_share_without() {
    let trusted = scenario_json(
        rules(json!({"evaluator_weights": eigentrust()})),
        shares_only(),
    );
    let sim = run(&trusted, &only(AttackKind::SybilRing));
    let total = &measured(&sim, AttackKind::SybilRing).total;
    assert_eq!(total.captured, 0, "{total:?}");
    assert_eq!(total.gain, 0);
    assert_eq!(
        total.largest_loss, None,
        "no honest member moves: {total:?}"
    );
    assert_eq!(sim.outcomes[0].attackers, ["sybil-1", "sybil-2"]);

    // The same cooperative with equal weights: the ring's approvals count.
    let equal = scenario_json(rules(json!({})), shares_only());
    let sim = run(&equal, &only(AttackKind::SybilRing));
    let total = &measured(&sim, AttackKind::SybilRing).total;
    assert!(total.captured > 0, "{total:?}");
    assert_eq!(
        total.gain, total.captured as i64,
        "sybils had nothing before"
    );
    let loss = total.largest_loss.as_ref().expect("honest members lose");
    assert!(loss.amount > 0 && total.mean_loss > 0);
    // What the sybils take is exactly what honest members lose.
    assert_eq!(total.honest_change, -(total.captured as i64));
}

#[test]
fn the_ring_size_and_the_attackers_follow_the_settings() {
    let equal = scenario_json(rules(json!({})), shares_only());
    let sim = run(
        &equal,
        &Settings {
            attacks: vec![AttackKind::SybilRing, AttackKind::CollusionRatings],
            sybils: Some(4),
            attackers: Some(vec!["m03".into(), "m07".into(), "m05".into()]),
            ..Settings::default()
        },
    );
    assert_eq!(
        sim.outcomes[0].attackers,
        ["sybil-1", "sybil-2", "sybil-3", "sybil-4"]
    );
    assert_eq!(sim.outcomes[1].attackers, ["m03", "m05", "m07"]);
    // More sybils take more.
    let two = run(&equal, &only(AttackKind::SybilRing));
    assert!(
        measured(&sim, AttackKind::SybilRing).total.captured
            > measured(&two, AttackKind::SybilRing).total.captured
    );
}

#[test]
fn attackers_are_the_middle_of_the_honest_payouts() {
    let ranking: Vec<String> = "abcdefghij".chars().map(String::from).collect();
    assert_eq!(simulate::choose(&ranking, 3), ["d", "e", "f"]);
    assert_eq!(simulate::choose(&ranking, 1), ["e"]);
    assert_eq!(simulate::choose(&ranking, 10), ranking);
    assert_eq!(simulate::default_group(12), 2);
    assert_eq!(simulate::default_group(40), 4);
    assert_eq!(simulate::default_group(1_000), 20);

    // On the cooperative: the ring is the two members in the middle of the
    // honest ranking (least paid first, ties by handle).
    let equal = scenario_json(rules(json!({})), shares_only());
    let input = parse(&equal).input;
    let honest = coopledger::scoring::score(&input).unwrap();
    let mut ranked: Vec<(u64, String)> = input
        .members
        .iter()
        .map(|m| (honest.payouts.get(m).copied().unwrap_or(0), m.clone()))
        .collect();
    ranked.sort();
    let mut expected = vec![ranked[5].1.clone(), ranked[6].1.clone()];
    expected.sort();
    let sim = run(&equal, &only(AttackKind::CollusionFlags));
    assert_eq!(sim.outcomes[0].attackers, expected);
}

#[test]
fn one_flag_is_a_veto_under_max_flags_0_and_a_minority_under_weighted_majority() {
    // m05's claims are approved by m06, m07 and m08; m00 and m01 flag them.
    let settings = Settings {
        attacks: vec![AttackKind::FlagRival],
        attackers: Some(vec!["m00".into(), "m01".into()]),
        rival: Some("m05".into()),
        ..Settings::default()
    };
    let veto = scenario_json(
        rules(json!({"validation": {"min_approvals": 1, "max_flags": 0}})),
        shares_only(),
    );
    let sim = run(&veto, &settings);
    assert_eq!(sim.outcomes[0].target.as_deref(), Some("m05"));
    let shares = bucket(measured(&sim, AttackKind::FlagRival), 1);
    let loss = shares.largest_loss.as_ref().unwrap();
    assert_eq!(loss.member, "m05");
    assert_eq!(
        loss.of_honest_ppm,
        Some(1_000_000),
        "the rival loses it all"
    );
    assert!(shares.gain > 0, "the flaggers gain the rival's share");

    let majority = scenario_json(
        rules(json!({"validation": {"min_approvals": 1, "flag_rule": "weighted_majority"}})),
        shares_only(),
    );
    let sim = run(&majority, &settings);
    let shares = bucket(measured(&sim, AttackKind::FlagRival), 1);
    assert_eq!(
        shares.largest_loss, None,
        "two flags against three approvals"
    );
    assert_eq!(shares.gain, 0);
}

#[test]
fn a_collusion_ring_that_flags_everyone_else_takes_the_bucket_under_a_veto() {
    let veto = scenario_json(
        rules(json!({"validation": {"min_approvals": 1, "max_flags": 0}})),
        shares_only(),
    );
    let sim = run(&veto, &only(AttackKind::CollusionFlags));
    let shares = bucket(measured(&sim, AttackKind::CollusionFlags), 1);
    assert_eq!(shares.captured, shares.amount, "{shares:?}");
    assert_eq!(shares.captured_ppm, 1_000_000);
    let loss = shares.largest_loss.as_ref().unwrap();
    assert_eq!(loss.of_honest_ppm, Some(1_000_000));
}

#[test]
fn inflated_hours_pay_more_to_the_inflater_at_the_others_expense() {
    let equal = scenario_json(rules(json!({})), shares_only());
    let settings = Settings {
        attacks: vec![AttackKind::InflatedHours],
        attackers: Some(vec!["m04".into()]),
        inflate_ppm: 3_000_000,
        ..Settings::default()
    };
    let sim = run(&equal, &settings);
    let total = &measured(&sim, AttackKind::InflatedHours).total;
    assert_eq!(sim.outcomes[0].attackers, ["m04"]);
    assert!(total.gain > 0);
    assert_eq!(total.honest_change, -total.gain, "a zero-sum bucket");
}

fn allocation_buckets() -> Value {
    json!([
        {"type": "shares", "percent_ppm": 500_000, "kinds": ["work"]},
        {"type": "allocation", "percent_ppm": 500_000, "mechanism": "give"},
        {"type": "allocation", "percent_ppm": 1_000_000, "mechanism": "impartial"}
    ])
}

#[test]
fn a_give_clique_gains_in_the_give_bucket() {
    let equal = scenario_json(rules(json!({})), allocation_buckets());
    let settings = Settings {
        attacks: vec![AttackKind::GiveClique],
        attackers: Some(vec!["m02".into(), "m06".into(), "m09".into()]),
        ..Settings::default()
    };
    let sim = run(&equal, &settings);
    let give = bucket(measured(&sim, AttackKind::GiveClique), 2);
    assert_eq!(give.label, "allocation give");
    assert!(give.gain > 0, "{give:?}");
    assert!(give.largest_loss.is_some());
}

#[test]
fn an_impartial_report_never_moves_its_authors_share() {
    let equal = scenario_json(rules(json!({})), allocation_buckets());
    for attacker in ["m00", "m03", "m07", "m11"] {
        let settings = Settings {
            attacks: vec![AttackKind::ImpartialReport],
            attackers: Some(vec![attacker.into()]),
            ..Settings::default()
        };
        let sim = run(&equal, &settings);
        let impartial = bucket(measured(&sim, AttackKind::ImpartialReport), 3);
        assert_eq!(impartial.label, "allocation impartial");
        // The share is exactly the same; its cents may differ by the one
        // cent Hamilton rounding hands out by remainder.
        assert!(impartial.gain.abs() <= 1, "{attacker}: {impartial:?}");
        assert!(sim.outcomes[0].target.is_some());
    }
}

#[test]
fn attacks_that_do_not_fit_the_policy_say_why() {
    let equal = scenario_json(rules(json!({})), shares_only());
    let sim = run(&equal, &Settings::default());
    assert_eq!(sim.outcomes.len(), AttackKind::ALL.len());
    for (outcome, kind) in sim.outcomes.iter().zip(AttackKind::ALL) {
        assert_eq!(outcome.attack, kind);
        let applies = !matches!(kind, AttackKind::GiveClique | AttackKind::ImpartialReport);
        match &outcome.result {
            OutcomeResult::NotApplicable { reason } => {
                assert!(!applies, "{kind:?}: {reason}");
                assert!(reason.contains("no GIVE") || reason.contains("no impartial"));
            }
            OutcomeResult::Measured(_) => assert!(applies, "{kind:?}"),
            OutcomeResult::Skipped { reason } => panic!("{kind:?} skipped: {reason}"),
        }
    }
}

#[test]
fn an_attack_over_the_evaluation_limit_is_skipped_not_built() {
    let equal = scenario_json(rules(json!({})), shares_only());
    let settings = Settings {
        attacks: vec![AttackKind::CollusionRatings, AttackKind::InflatedHours],
        max_added_evaluations: 10,
        ..Settings::default()
    };
    let sim = run(&equal, &settings);
    match &sim.outcomes[0].result {
        OutcomeResult::Skipped { reason } => {
            assert!(reason.contains("more than the limit of 10"), "{reason}")
        }
        other => panic!("not skipped: {other:?}"),
    }
    // An attack that appends nothing still runs.
    measured(&sim, AttackKind::InflatedHours);
}

#[test]
fn the_same_log_in_another_order_gives_the_same_figures() {
    let scenario = scenario_json(
        rules(json!({"evaluator_weights": eigentrust()})),
        allocation_buckets(),
    );
    let mut shuffled = scenario.clone();
    for key in ["members", "contributions"] {
        shuffled[key].as_array_mut().unwrap().reverse();
    }
    let settings = Settings::default();
    let a = run(&scenario, &settings);
    let b = run(&shuffled, &settings);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&run(&scenario, &settings)).unwrap()
    );
}

#[test]
fn bad_settings_are_refused_before_anything_is_scored() {
    let input = parse(&scenario_json(rules(json!({})), shares_only())).input;
    let cases: Vec<(Settings, &str)> = vec![
        (
            Settings {
                attackers: Some(vec!["zed".into()]),
                ..Settings::default()
            },
            "--attackers names zed, who is not a member",
        ),
        (
            Settings {
                attackers: Some(vec!["m01".into(), "m01".into()]),
                ..Settings::default()
            },
            "--attackers names m01 twice",
        ),
        (
            Settings {
                attackers: Some((0..MEMBERS).map(handle).collect()),
                ..Settings::default()
            },
            "leave at least one honest member",
        ),
        (
            Settings {
                sybils: Some(1),
                ..Settings::default()
            },
            "--sybils 1 is out of range",
        ),
        (
            Settings {
                ring: Some(501),
                ..Settings::default()
            },
            "--ring 501 is out of range",
        ),
        (
            Settings {
                rival: Some("m01".into()),
                attackers: Some(vec!["m01".into()]),
                ..Settings::default()
            },
            "--rival m01 is also named in --attackers",
        ),
        (
            Settings {
                inflate_ppm: 1_000_000,
                ..Settings::default()
            },
            "--inflate 1 is out of range",
        ),
    ];
    for (settings, needle) in cases {
        match simulate::simulate(&input, &settings) {
            Err(SimulateError::Setting(message)) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("{needle}: not refused: {other:?}"),
        }
    }
}

// --- The binary -------------------------------------------------------

fn write(dir: &std::path::Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.display().to_string()
}

/// The cooperative under equal weights and `buckets`, in a file of a
/// temporary folder (kept alive by the returned guard).
fn month_file(buckets: Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "month.json",
        &scenario_json(rules(json!({})), buckets),
    );
    (dir, path)
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(args)
        .output()
        .expect("run coopledger")
}

#[test]
fn the_cli_prints_the_table_and_compares_two_policies() {
    let (dir, scenario) = month_file(shares_only());
    // The draft in the treasurer's units, as `policy adopt` reads it.
    let draft = write(
        dir.path(),
        "trusted.json",
        &json!({
            "default_rates": {"work": "30.00"},
            "validation": {"min_approvals": 1},
            "evaluator_weights": eigentrust(),
            "buckets": [{"type": "shares", "percent": "100%", "kinds": ["work"]}],
        }),
    );
    let out = cli(&["simulate", "--scenario", &scenario]);
    let table = common::cli_ok(&out);
    assert!(table.contains("12 members, 36 claim(s) in the period, income 10000.00 EUR"));
    for kind in AttackKind::ALL {
        assert!(table.contains(&format!("\n{}: ", kind.name())), "{table}");
    }
    assert!(table.contains("Summary (whole payout)"));
    let sybil_line = |text: &str| {
        text.lines()
            .rev()
            .find(|l| l.trim_start().starts_with("sybil-ring "))
            .unwrap()
            .to_owned()
    };
    let take = |line: String| line.split_whitespace().nth(1).unwrap().to_owned();
    assert_ne!(take(sybil_line(&table)), "0.00%", "{table}");

    let out = cli(&["simulate", "--scenario", &scenario, "--policy", &draft]);
    let table = common::cli_ok(&out);
    assert!(table.contains("under the policy in"));
    let line = sybil_line(&table);
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1..4], ["0.00%", "+0.00", "EUR"], "{line}");
    assert!(out.stderr.is_empty());
}

#[test]
fn the_cli_json_carries_every_figure() {
    let (_dir, scenario) = month_file(allocation_buckets());
    let out = cli(&[
        "simulate",
        "--scenario",
        &scenario,
        "--json",
        "--attack",
        "give-clique",
        "--attack",
        "sybil-ring",
        "--sybils",
        "3",
    ]);
    let report: Value = serde_json::from_str(&common::cli_ok(&out)).unwrap();
    let outcomes = report["simulation"]["outcomes"].as_array().unwrap();
    // Catalogue order, whatever the order asked.
    assert_eq!(outcomes[0]["attack"], "sybil-ring");
    assert_eq!(outcomes[1]["attack"], "give-clique");
    assert_eq!(outcomes[0]["attackers"].as_array().unwrap().len(), 3);
    assert_eq!(outcomes[0]["status"], "measured");
    let buckets = outcomes[1]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3);
    assert_eq!(buckets[1]["label"], "allocation give");
    for key in [
        "amount",
        "captured",
        "captured_ppm",
        "honest_run",
        "gain",
        "mean_loss",
    ] {
        assert!(buckets[1][key].is_number(), "{key}: {}", buckets[1]);
    }
    assert_eq!(report["currency"], "EUR");
}

#[test]
fn the_cli_refuses_bad_arguments_and_prints_nothing() {
    let (dir, scenario) = month_file(shares_only());
    let missing = dir.path().join("nope.json").display().to_string();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["--attack", "sybils"],
            &["--attack \"sybils\" is not an attack", "sybil-ring"],
        ),
        (
            vec!["--inflate", "two"],
            &["--inflate \"two\" is not a factor"],
        ),
        (vec!["--inflate", "0.5"], &["--inflate 0.5 is out of range"]),
        (vec!["--attackers", "ana"], &["ana, who is not a member"]),
        (vec!["--sybils", "9999"], &["--sybils 9999 is out of range"]),
        (
            vec!["--policy", &missing],
            &["cannot read policy", "nope.json"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["simulate", "--scenario", &scenario];
        args.extend(extra);
        let out = cli(&args);
        common::cli_refused(&out, needles);
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    }
    let out = cli(&["simulate", "--scenario", &missing]);
    common::cli_refused(&out, &["cannot read scenario"]);
}
