//! The contributions and evaluations CSVs: each contribution once as it
//! stands, only standing evaluations, formulas neutralised.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contributions_csv_lists_each_contribution_once_as_it_stands() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let text = v
        .ok(&["export", "--csv", "contributions", "--period", "2020-01"])
        .await;
    let rows = records(&text);
    let by_id: HashMap<String, &HashMap<String, String>> =
        rows.iter().map(|r| (r["id"].clone(), r)).collect();
    assert_eq!(rows.len(), 5, "each January contribution once:\n{text}");
    assert_eq!(by_id.len(), 5, "no contribution twice:\n{text}");
    assert!(
        !by_id.contains_key(&hex::encode(&m.alice_feb)),
        "the period filter"
    );

    let bob = by_id[&hex::encode(&m.bob_work)];
    assert_eq!(bob["kind"], "work");
    assert_eq!(bob["quantity"], "1.5", "the amended quantity, in hours");
    assert_eq!(bob["unit"], "hours");
    assert_eq!(bob["minutes"], "90");
    assert_eq!(bob["rate"], "30.00");
    assert_eq!(bob["rate_source"], "default");
    assert_eq!(bob["value"], "45.00", "floor(90 × 3000 / 60) cents");
    assert_eq!(bob["currency"], "EUR");
    assert_eq!(
        bob["at"], "2020-01-01T01:00:00Z",
        "the amendment kept the date"
    );
    assert_eq!(bob["status"], "valid");
    assert!(!bob["amended"].is_empty(), "amended: {bob:?}");
    assert_eq!(bob["approvals"], "2");
    assert_eq!(bob["flags"], "0");

    let carol = by_id[&hex::encode(&m.carol_work)];
    assert_eq!(carol["status"], "flagged", "max_flags 0 and one flag");
    assert_eq!(carol["approvals"], "1");
    assert_eq!(carol["flags"], "1");
    assert_eq!(carol["value"], "60.00");
    assert_eq!(carol["amended"], "");
    assert_eq!(
        carol["note"],
        format!("'{FORMULA}"),
        "the formula is neutralised"
    );
    assert_eq!(carol["tags"], "'-risky");

    let expense = by_id[&hex::encode(&m.alice_expense)];
    assert_eq!(expense["status"], "pending", "no approval yet");
    assert_eq!(expense["quantity"], "27.50");
    assert_eq!(expense["unit"], "EUR");
    assert_eq!(expense["value"], "27.50");
    assert_eq!(expense["rate"], "");

    let usage = by_id[&hex::encode(&m.bob_use)];
    assert_eq!(usage["quantity"], "3");
    assert_eq!(usage["unit"], "units");
    assert_eq!(usage["value"], "", "no rate resolves");
    assert!(usage["value_note"].contains("no rate"), "{usage:?}");
    assert_eq!(usage["rate_source"], "none");

    let gone = by_id[&hex::encode(&m.carol_retracted)];
    assert_eq!(gone["status"], "retracted");
    assert_eq!(gone["value"], "15.00", "30 minutes at 30.00 an hour");

    // Nothing a spreadsheet would evaluate: no cell starts a formula.
    for row in parse_csv(&text) {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a live formula: {cell:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluations_csv_keeps_only_standing_evaluations() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let text = v
        .ok(&["export", "--csv", "evaluations", "--period", "2020-01"])
        .await;
    let rows = records(&text);
    let mut got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["evaluator"].clone(),
                r["contribution"].clone(),
                r["verdict"].clone(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, String)> = vec![
        ("alice".into(), hex::encode(&m.bob_work), "approve".into()),
        ("carol".into(), hex::encode(&m.bob_work), "approve".into()),
        ("alice".into(), hex::encode(&m.carol_work), "approve".into()),
        ("bob".into(), hex::encode(&m.carol_work), "flag".into()),
        (
            "bob".into(),
            hex::encode(&m.carol_retracted),
            "approve".into(),
        ),
    ];
    want.sort();
    assert_eq!(got, want, "only standing evaluations:\n{text}");
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert!(
        !ids.contains(&hex::encode(&m.replaced).as_str()),
        "a replaced flag"
    );
    assert!(
        !ids.contains(&hex::encode(&m.cleared).as_str()),
        "cleared by the amendment"
    );
    let carol_on_bob = rows
        .iter()
        .find(|r| r["evaluator"] == "carol")
        .expect("carol's evaluation");
    assert_eq!(carol_on_bob["rating"], "90", "the later rating stands");
    assert_eq!(carol_on_bob["contribution_status"], "valid");
    let on_retracted = rows
        .iter()
        .find(|r| r["contribution"] == hex::encode(&m.carol_retracted))
        .expect("kept, marked");
    assert_eq!(on_retracted["contribution_status"], "retracted");
}
