//! Mistakes at month end are refused with their codes and change nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_at_month_end_are_refused_and_change_nothing() {
    let (mut coop, _) = month_end_coop().await;
    let bob = coop.bob.clone();
    let jan = preview(&mut coop, JAN_2020, Some(10_000)).await;
    let good = jan.record_to_sign(JAN_2020, 10_000).unwrap();

    let mut no_income = good.clone();
    no_income.income = None;
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(no_income)),
        Code::InvalidArgument,
        "state the income",
    )
    .await;
    // A period that has not ended (it ends tomorrow).
    let now = common::now_ms() / 1000;
    let mut open = good.clone();
    open.period = Some(pb::Period {
        start: now - 20 * 86_400,
        end: now + 86_400,
    });
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(open)),
        Code::FailedPrecondition,
        "once it has ended",
    )
    .await;
    // A typo in the end date: 2018-01-01 .. 2020-02-01, two years.
    let mut long = good.clone();
    long.period = Some(pb::Period {
        start: 1_514_764_800,
        end: FEB_2020.0,
    });
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(long)),
        Code::InvalidArgument,
        "longest period",
    )
    .await;
    // The body swapped under the digest: another period.
    let mut swapped = good.clone();
    swapped.period = Some(pb::Period {
        start: FEB_2020.0,
        end: FEB_2020.1,
    });
    submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(swapped)),
        Code::FailedPrecondition,
        "digest",
    )
    .await;

    // The CLI refuses to sign what it did not show: a proposed record that
    // differs from the report, or a report that differs from the digest.
    let mut proxied = jan.clone();
    if let Some(r) = proxied.header.record.as_mut() {
        r.income = Some(1);
    }
    assert!(proxied.record_to_sign(JAN_2020, 10_000).is_err());
    let mut proxied = jan.clone();
    proxied.report_json = proxied
        .report_json
        .replacen("\"carol\": 9000", "\"carol\": 9001", 1);
    assert_ne!(proxied.report_json, jan.report_json, "{}", jan.report_json);
    let err = proxied.record_to_sign(JAN_2020, 10_000).unwrap_err();
    assert!(err.to_string().contains("digest"), "{err}");

    // The CLI: --income is required to record, and without a terminal it
    // asks for --yes; with both it records.
    let home = tempfile::tempdir().unwrap();
    let url = coop.server.url();
    std::fs::create_dir_all(home.path().join("keys")).unwrap();
    coopledger::log::keyfile::write_key(&home.path().join("keys/bob.key"), &bob.key).unwrap();
    let before = common::info(&mut coop.client).await.log_size;
    let record = [
        "--as",
        "bob",
        "distribute",
        "--period",
        "2020-01",
        "--record",
    ];
    let refused: [(&[&str], &str); 3] = [
        (&record, "--income is required"),
        // A preview of a period not recorded yet needs the income too.
        (
            &["shares", "--period", "2020-02"],
            "--income is required: 2020-02",
        ),
        // No terminal to ask on: --yes or nothing.
        (&[&record[..], &["--income", "100.00"]].concat(), "--yes"),
    ];
    for (args, message) in refused {
        let out = run_cli(home.path(), &url, args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert_eq!(common::info(&mut coop.client).await.log_size, before);
    let text = ok(&run_cli(
        home.path(),
        &url,
        &[
            "--as",
            "bob",
            "distribute",
            "--period",
            "2020-01",
            "--income",
            "100.00",
            "--record",
            "--yes",
        ],
    )
    .await);
    assert!(text.contains("recorded: entry"), "{text}");
    assert_eq!(common::info(&mut coop.client).await.log_size, before + 1);
}
