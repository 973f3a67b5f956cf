//! Through the real server: poison contributions refused at ingestion, a
//! policy that could overflow refused at adoption, and with the most extreme
//! entries the server accepts, every period previews and records.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_contributions_are_refused_at_ingestion_and_the_log_does_not_move() {
    let mut coop = Coop::new().await;
    let bob = coop.bob.clone();
    for (fields, message) in poison() {
        coop.refuse(
            &sign(&bob, contribution_body(fields)),
            Code::InvalidArgument,
            &message,
        )
        .await;
    }
    // An amendment cannot turn an accepted contribution into poison either.
    let bob_work = coop.bob_work_id();
    coop.refuse(
        &sign(&bob, amend_body(&bob_work, work(E15, 0))),
        Code::InvalidArgument,
        "amend_contribution.contribution.quantity: 1000000000000000 minutes of work",
    )
    .await;
    // At the bounds, all is accepted.
    for fields in [
        rated(K::Work, MAX_WORK_MINUTES, MAX_WORK_RATE, 0),
        rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE, 0),
        rated(K::Use, MAX_UNITS, MAX_UNIT_RATE, 0),
        contribution(K::Money, MAX_AMOUNT, 0),
        contribution(K::Expense, MAX_AMOUNT, 0),
    ] {
        submit_new(&mut coop.client, &sign(&bob, contribution_body(fields))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_could_overflow_is_refused_at_adoption_naming_the_field() {
    let mut coop = Coop::new().await;
    let alice = coop.alice.clone();
    let prefix = "adopt_policy.policy_json: ";
    let too_much = [
        (
            json!({"default_rates": {"work": MAX_WORK_RATE + 1}, "buckets": []}),
            format!(
                "{prefix}default_rates.work: 60000000001 is more than a work rate may be (60000000000)"
            ),
        ),
        (
            json!({"default_rates": {"use": E15}, "buckets": []}),
            format!("{prefix}default_rates.use: 1000000000000000 is more than a use rate may be"),
        ),
        (
            json!({"rates": {"design": MAX_TAG_RATE + 1}, "buckets": []}),
            format!(
                "{prefix}rates.design: 1000000001 is more than a tag's rate may be (1000000000)"
            ),
        ),
        (
            json!({"kind_multiplier_ppm": {"work": 1_000_000_000},
                   "tag_multiplier_ppm": {"lead": 2_000_000}, "buckets": []}),
            format!(
                "{prefix}tag_multiplier_ppm: with up to 16 tags a work contribution could earn more than 10^18 points"
            ),
        ),
        (
            policy(1_000_000, 1_600_000, false),
            format!(
                "{prefix}tag_multiplier_ppm: with up to 16 tags a work contribution could earn more than 10^18 points"
            ),
        ),
    ];
    for (p, message) in too_much {
        coop.refuse(
            &sign(&alice, adopt_body(&p.to_string())),
            Code::InvalidArgument,
            &message,
        )
        .await;
    }
    // The most extreme policy the check accepts is adopted.
    let tag_ppm = largest_accepted_tag_ppm(2_000_000);
    assert!(tag_ppm > 1_000_000);
    submit_new(
        &mut coop.client,
        &sign(
            &alice,
            adopt_body(&policy(2_000_000, tag_ppm, false).to_string()),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_most_extreme_entries_the_server_accepts_every_period_previews_and_records() {
    let mut coop = Coop::new().await;
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("alice", pb::Role::Treasurer)),
    )
    .await;
    // The most extreme policy there is: kind multipliers of 1000× leave no
    // room for tags, so take the largest tags over 2×.
    let tag_ppm = largest_accepted_tag_ppm(2_000_000);
    let extreme = policy(2_000_000, tag_ppm, false);
    // A policy that could overflow is refused; if a server took it, previews
    // must still work (which they did not).
    let _ = coop
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(sign(
                &alice,
                adopt_body(&policy(1_000_000_000, 1_000_000_000, false).to_string()),
            )),
        })
        .await;
    submit_new(
        &mut coop.client,
        &sign(&alice, adopt_body(&extreme.to_string())),
    )
    .await;

    // Poison, submitted anyway: refused, or else harmless.
    for (fields, _) in poison() {
        let _ = coop
            .client
            .submit(pb::SubmitRequest {
                envelope: Some(sign(&bob, contribution_body(fields))),
            })
            .await;
    }
    // The largest contributions of every kind, with every tag, in 1970,
    // January and February 2020, approved at full quality.
    let mut ids = Vec::new();
    for at in [0, 86_399, JAN_2020.0, JAN_2020.1 - 1, FEB_2020.0 + 3600] {
        for fields in [
            rated(K::Work, MAX_WORK_MINUTES, MAX_WORK_RATE, at),
            work(MAX_WORK_MINUTES, at),
            rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE, at),
            contribution(K::Use, MAX_UNITS, at),
            contribution(K::Money, MAX_AMOUNT, at),
            contribution(K::Expense, MAX_AMOUNT, at),
        ] {
            let fields = pb::Contribution {
                tags: all_tags(),
                ..fields
            };
            let receipt =
                submit_new(&mut coop.client, &sign(&bob, contribution_body(fields))).await;
            ids.push(receipt.id);
        }
    }
    for id in &ids {
        let approve = evaluate_body(&common::entry_id(id), pb::Verdict::Approve, Some(100), "");
        submit_new(&mut coop.client, &sign(&carol, approve)).await;
    }

    for period in [DAY_1970, JAN_2020, FEB_2020, EVERYTHING] {
        for income in [0, 1, MAX_AMOUNT] {
            if let Err(status) = compute(&mut coop, period, income).await {
                panic!(
                    "the preview of {period:?} for {income} was refused: {:?}: {}",
                    status.code(),
                    status.message()
                );
            }
        }
    }
    // Record 1970's first day and January 2020, then February previews
    // with what they paid carried forward.
    for period in [DAY_1970, JAN_2020] {
        let report = compute(&mut coop, period, MAX_AMOUNT)
            .await
            .expect("preview");
        let record = report
            .record_to_sign(period, MAX_AMOUNT)
            .expect("a record to sign");
        submit_new(
            &mut coop.client,
            &sign(&alice, Body::RecordDistribution(record)),
        )
        .await;
    }
    for period in [FEB_2020, (JAN_2020.1, EVERYTHING.1)] {
        let report = compute(&mut coop, period, MAX_AMOUNT)
            .await
            .unwrap_or_else(|s| panic!("the preview of {period:?} was refused: {}", s.message()));
        // February can be recorded; the range up to 2100 previews but has
        // not ended, so it cannot be recorded yet.
        assert_eq!(
            report.header.record.is_some(),
            period == FEB_2020,
            "{period:?}: {}",
            report.header.not_recordable
        );
    }
}
