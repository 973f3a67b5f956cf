//! The CLI's `amend` (keeps what it is not told, says what it cleared) and
//! `entries` (marks where each contribution stands).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amend_keeps_what_it_is_not_told_and_says_the_evaluations_were_cleared() {
    let mut v = Views::new().await;
    let (alice, carol) = (v.coop.alice.clone(), v.coop.carol.clone());
    let mut fields = work(60, JAN_2020.0 + 3 * 3600);
    fields.tags = vec!["design".into()];
    fields.project = "enclosure".into();
    fields.note = "first cut".into();
    let bob = v.coop.bob.clone();
    let id = v.submit(&bob, contribution_body(fields)).await;
    v.evaluate(&alice, &id, pb::Verdict::Approve, Some(80))
        .await;
    v.evaluate(&carol, &id, pb::Verdict::Flag, None).await;

    let out = v
        .ok(&["--as", "bob", "amend", &hex::encode(&id)[..12], "1h30m"])
        .await;
    assert!(
        out.contains("2 standing evaluations (1 approval, 1 flag) were cleared"),
        "{out}"
    );
    assert!(out.contains("approve it again"), "{out}");
    assert!(out.contains("2020-01-01T03:00:00Z"), "{out}");

    let out = v
        .ok(&[
            "--as",
            "bob",
            "amend",
            &hex::encode(&id)[..12],
            "--note",
            "final",
        ])
        .await;
    assert!(out.contains("no standing evaluations"), "{out}");

    let amends = list(
        &mut v.coop.client,
        pb::ListEntriesRequest {
            kinds: vec![pb::EntryKind::AmendContribution as i32],
            ..Default::default()
        },
    )
    .await;
    let fields: Vec<pb::Contribution> = amends
        .iter()
        .map(|e| match e.entry.as_ref().and_then(|x| x.body.clone()) {
            Some(Body::AmendContribution(a)) => a.contribution.unwrap(),
            other => panic!("not an amendment: {other:?}"),
        })
        .collect();
    assert_eq!(fields.len(), 2);
    for f in &fields {
        assert_eq!(f.at, JAN_2020.0 + 3 * 3600, "the date is kept");
        assert_eq!(f.tags, ["design"]);
        assert_eq!(f.project, "enclosure");
        assert_eq!(f.quantity, 90);
    }
    assert_eq!(fields[0].note, "first cut");
    assert_eq!(fields[1].note, "final");

    // Nothing to change is refused before anything is signed.
    let out = run_cli(
        v.home(),
        &v.url,
        &[
            "--as",
            "bob",
            "amend",
            &hex::encode(&id)[..12],
            "--note",
            "final",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to amend"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_marks_amended_retracted_approved_and_flagged_contributions() {
    let mut v = Views::new().await;
    let m = month(&mut v).await;
    let table = v.ok(&["entries", "--kind", "contribution"]).await;
    let line = |id: &[u8]| {
        let short = &hex::encode(id)[..12];
        table
            .lines()
            .find(|l| l.contains(short))
            .unwrap_or_else(|| panic!("{short} in:\n{table}"))
            .to_string()
    };
    assert!(
        line(&m.bob_work).contains("amended; valid, 2 approvals"),
        "{table}"
    );
    assert!(
        line(&m.carol_work).contains("flagged, 1 approval, 1 flag"),
        "{table}"
    );
    assert!(
        line(&m.alice_expense).contains("pending, 0/1 approvals"),
        "{table}"
    );
    assert!(line(&m.carol_retracted).contains("retracted"), "{table}");
    assert!(table.lines().next().unwrap().contains("STATUS"), "{table}");

    let evaluations = v.ok(&["entries", "--kind", "evaluate"]).await;
    let eval_line = |id: &[u8]| {
        let short = &hex::encode(id)[..12];
        evaluations
            .lines()
            .find(|l| l.contains(short))
            .unwrap_or_else(|| panic!("{short} in:\n{evaluations}"))
            .to_string()
    };
    assert!(eval_line(&m.replaced).contains("replaced"), "{evaluations}");
    assert!(
        eval_line(&m.cleared).contains("cleared by an amendment"),
        "{evaluations}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&v.ok(&["--json", "entries", "--kind", "contribution"]).await)
            .unwrap();
    let of = |id: &[u8]| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == hex::encode(id))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        of(&m.bob_work),
        serde_json::json!({"status": "valid", "approvals": 2, "flags": 0, "amendments": 1})
    );
    assert_eq!(of(&m.carol_retracted)["status"], "retracted");
}
