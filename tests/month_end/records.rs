//! A recorded period shows what was recorded to the cent, and a void
//! reopens its period for a new record.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_period_shows_what_was_recorded_to_the_cent() {
    let (mut coop, expense) = month_end_coop().await;
    let home = tempfile::tempdir().unwrap();
    let url = coop.server.url();
    let (alice, bob) = (coop.alice.clone(), coop.bob.clone());
    // A December expense of bob's, approved: a claim January repays too.
    let dec = contribution(pb::ContributionKind::Expense, 5_000, DEC_2019.0 + 86_400);
    let dec = submit_new(&mut coop.client, &sign(&bob, contribution_body(dec)))
        .await
        .id;
    let a_work = submit_new(
        &mut coop.client,
        &sign(&alice, contribution_body(work(600, JAN_2020.0 + 86_400))),
    )
    .await
    .id;
    let approve =
        |id: &[u8]| evaluate_body(&common::entry_id(id), pb::Verdict::Approve, Some(100), "ok");
    submit_new(&mut coop.client, &sign(&bob, approve(&a_work))).await;

    // January's 150.00: 15.00 to commons, 135.00 to the two claims.
    let jan = preview(&mut coop, JAN_2020, Some(15_000)).await;
    let receipt = record(&mut coop, &jan, JAN_2020).await;
    let recorded = distribution(&mut coop, receipt.sequence).await;
    assert_eq!(payouts(&recorded), json(&jan.report_json)["payouts"]);
    assert_eq!(recorded.summary.as_ref().unwrap().income, 15_000);

    // The repaid December claim is a settled fact: it can no longer change.
    let amended = contribution(pb::ContributionKind::Expense, 1, DEC_2019.0 + 86_400);
    submit_refused(
        &mut coop.client,
        &sign(&bob, common::amend_body(&dec, amended)),
        Code::FailedPrecondition,
        "was repaid",
    )
    .await;
    // A late December claim lands (December is still open) and would change
    // a fresh computation of January; the recorded views do not move.
    let late = contribution(
        pb::ContributionKind::Expense,
        90_000,
        DEC_2019.0 + 2 * 86_400,
    );
    submit_new(&mut coop.client, &sign(&alice, contribution_body(late))).await;

    let again = preview(&mut coop, JAN_2020, None).await;
    assert_eq!(again.header.digest, jan.header.digest);
    assert_eq!(json(&again.report_json)["payouts"], payouts(&recorded));
    assert!(again.header.recorded.is_some() && again.header.record.is_none());
    let status = fetch_preview(
        &mut coop.client,
        common::preview_request(JAN_2020, Some(16_000)),
    )
    .await
    .expect_err("another income for a recorded period");
    match status {
        coopledger::client::FetchError::Status(s) => {
            assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
            assert!(s.message().contains("recorded income"), "{}", s.message());
        }
        other => panic!("{other}"),
    }

    // The CLI's views: shares, distribute --csv, explain, export --scenario.
    let shares = json(&ok(&run_cli(
        home.path(),
        &url,
        &["--json", "shares", "--period", "2020-01"],
    )
    .await));
    assert_eq!(shares["payouts"], payouts(&recorded));
    let csv = ok(&run_cli(
        home.path(),
        &url,
        &["distribute", "--period", "2020-01", "--csv"],
    )
    .await);
    for p in &recorded.payouts {
        assert!(
            csv.lines()
                .any(|l| l.contains(&format!(",{},{},", p.recipient, p.amount))),
            "{} {} missing from {csv}",
            p.recipient,
            p.amount
        );
    }
    let explained = json(&ok(&run_cli(
        home.path(),
        &url,
        &["--json", "explain", "carol", "--period", "2020-01"],
    )
    .await));
    let carol_paid = recorded
        .payouts
        .iter()
        .find(|p| p.recipient == "carol")
        .unwrap()
        .amount;
    assert_eq!(explained["payout"], carol_paid);
    let text = ok(&run_cli(
        home.path(),
        &url,
        &["explain", "carol", "--period", "2020-01"],
    )
    .await);
    assert!(
        text.contains("carol: paid 1") && text.contains("Buckets"),
        "a readable breakdown: {text}"
    );
    let file = home.path().join("jan.json");
    ok(&run_cli(
        home.path(),
        &url,
        &[
            "export",
            "--scenario",
            file.to_str().unwrap(),
            "--period",
            "2020-01",
        ],
    )
    .await);
    let offline = json(&ok(&run_cli(
        home.path(),
        &url,
        &["score", "--scenario", file.to_str().unwrap(), "--json"],
    )
    .await));
    assert_eq!(offline["payouts"], payouts(&recorded));
    let shown = ok(&run_cli(
        home.path(),
        &url,
        &["distribution", "show", &receipt.sequence.to_string()],
    )
    .await);
    assert!(
        shown.contains("commons") && shown.contains("15.00 EUR"),
        "{shown}"
    );
    let _ = expense;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_distribution_reopens_its_period_for_a_new_record() {
    let (mut coop, _) = month_end_coop().await;
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());
    let jan = preview(&mut coop, JAN_2020, Some(10_000)).await;
    let first = record(&mut coop, &jan, JAN_2020).await;
    let late = sign(
        &alice,
        contribution_body(work(60, JAN_2020.0 + 20 * 86_400)),
    );
    submit_refused(
        &mut coop.client,
        &late,
        Code::FailedPrecondition,
        "already distributed",
    )
    .await;
    let void = |id: &[u8], reason: &str| {
        Body::VoidDistribution(pb::VoidDistribution {
            distribution_id: id.to_vec(),
            reason: reason.into(),
        })
    };
    submit_refused(
        &mut coop.client,
        &sign(&carol, void(&first.id, "wrong income")),
        Code::PermissionDenied,
        "not a treasurer",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&bob, void(&[7u8; 32], "wrong income")),
        Code::NotFound,
        "no recorded distribution",
    )
    .await;
    submit_refused(
        &mut coop.client,
        &sign(&bob, void(&first.id, "  ")),
        Code::InvalidArgument,
        "say why",
    )
    .await;
    // February builds on January (its priors count what January paid).
    let feb = preview(&mut coop, FEB_2020, Some(5_000)).await;
    let second = record(&mut coop, &feb, FEB_2020).await;
    submit_refused(
        &mut coop.client,
        &sign(&bob, void(&first.id, "wrong income")),
        Code::FailedPrecondition,
        "void that one first",
    )
    .await;
    submit_new(&mut coop.client, &sign(&bob, void(&second.id, "recount"))).await;
    submit_refused(
        &mut coop.client,
        &sign(&bob, void(&second.id, "recount")),
        Code::FailedPrecondition,
        "already voided",
    )
    .await;
    submit_new(
        &mut coop.client,
        &sign(&bob, void(&first.id, "the income was 300.00")),
    )
    .await;
    // January is open again: the late contribution lands, and January is
    // recorded anew with the right income.
    submit_new(&mut coop.client, &late).await;
    let jan = preview(&mut coop, JAN_2020, Some(30_000)).await;
    assert!(jan.header.recorded.is_none());
    assert_eq!(
        json(&jan.report_json)["repayments"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        20_000,
        "the voided repayment no longer counts: the whole claim is owed again"
    );
    let third = record(&mut coop, &jan, JAN_2020).await;
    let list = distributions(&mut coop).await;
    assert_eq!(list.len(), 3);
    assert!(list[0].voided.is_some() && list[1].voided.is_some());
    assert_eq!(list[2].sequence, third.sequence);
    assert_eq!(list[2].income, 30_000);

    let home = tempfile::tempdir().unwrap();
    let text = ok(&run_cli(home.path(), &coop.server.url(), &["verify"]).await);
    assert!(
        text.contains("3 recorded distributions (2 voided)"),
        "{text}"
    );
    let listed = ok(&run_cli(home.path(), &coop.server.url(), &["distribution", "list"]).await);
    assert!(
        listed.contains("VOIDED by bob: the income was 300.00"),
        "{listed}"
    );
    // Replay after a restart settles the same way.
    coop.server.restart().await;
    let mut client = coop.server.client().await;
    let after = client
        .list_distributions(pb::ListDistributionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .distributions;
    assert_eq!(after, list);
}
