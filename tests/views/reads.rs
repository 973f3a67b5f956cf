//! `ListEntries` dates a recorded distribution by its period; decimals have
//! one range and come from the signed genesis.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_entries_dates_a_recorded_distribution_by_the_period_it_distributes() {
    let mut coop = Coop::new().await;
    let (alice, bob) = (coop.alice.clone(), coop.bob.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Treasurer)),
    )
    .await;
    submit_new(&mut coop.client, &sign(&alice, adopt_body(POLICY))).await;
    let approve = evaluate_body(
        &common::entry_id(&coop.bob_work_id()),
        pb::Verdict::Approve,
        None,
        "",
    );
    submit_new(&mut coop.client, &sign(&alice, approve)).await;
    let preview = coopledger::client::fetch_preview(
        &mut coop.client,
        pb::ComputeSharesRequest {
            period: Some(pb::Period {
                start: JAN_2020.0,
                end: JAN_2020.1,
            }),
            income: Some(10_000),
            ..Default::default()
        },
    )
    .await
    .expect("preview");
    let record = preview.record_to_sign(JAN_2020, 10_000).expect("a record");
    let recorded = submit_new(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(record)),
    )
    .await;

    let dated = |start: i64, end: i64| pb::ListEntriesRequest {
        kinds: vec![pb::EntryKind::RecordDistribution as i32],
        period: Some(pb::Period { start, end }),
        ..Default::default()
    };
    let seqs = |v: Vec<pb::LoggedEntry>| v.iter().map(|e| e.sequence).collect::<Vec<_>>();
    // Filtering January lists January's distribution, recorded years later.
    assert_eq!(
        seqs(list(&mut coop.client, dated(JAN_2020.0, JAN_2020.1)).await),
        [recorded.sequence]
    );
    // Any range overlapping it does; a range that only touches it does not.
    assert_eq!(
        seqs(list(&mut coop.client, dated(JAN_2020.1 - 1, FEB_2020.1)).await),
        [recorded.sequence]
    );
    assert!(
        list(&mut coop.client, dated(FEB_2020.0, FEB_2020.1))
            .await
            .is_empty()
    );
    // Not by when it was recorded: the day it was signed lists nothing.
    let now = common::now_ms() / 1000;
    assert!(
        list(&mut coop.client, dated(now - 86_400, now + 86_400))
            .await
            .is_empty(),
        "a distribution is not dated by its created_at"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimals_have_one_range_and_come_from_the_signed_genesis() {
    // The server refuses 9 at genesis, with InvalidArgument, naming the range.
    let server = common::TestServer::start().await;
    let mut client = server.client().await;
    let founder = common::new_signer("ana", &[]);
    let log_key = common::info(&mut client).await.log_public_key;
    let genesis = |decimals: u32| {
        coopledger::client::genesis_body(
            "Riverside",
            "FAIR",
            decimals,
            &[("ana".to_string(), founder.public_key())],
            &log_key,
        )
    };
    submit_refused(
        &mut client,
        &sign(&founder, genesis(9)),
        Code::InvalidArgument,
        "0..=8",
    )
    .await;
    submit_new(&mut client, &sign(&founder, genesis(8))).await;

    // The CLI refuses it before signing anything, with the same range.
    let home = tempfile::tempdir().unwrap();
    let other = common::TestServer::start().await;
    let out = run_cli(home.path(), &other.url(), &["keygen", "ben"]).await;
    assert!(out.status.success());
    let out = run_cli(
        home.path(),
        &other.url(),
        &["--as", "ben", "init", "--name", "X", "--decimals", "9"],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--decimals") && err.contains("0..=8"), "{err}");
    assert_eq!(common::info(&mut other.client().await).await.log_size, 0);

    // With 8 decimals, the CLI reads and writes amounts in them.
    let out = run_cli(
        home.path(),
        &other.url(),
        &[
            "--as",
            "ben",
            "init",
            "--name",
            "X",
            "--currency",
            "FAIR",
            "--decimals",
            "8",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        home.path(),
        &other.url(),
        &[
            "--as",
            "ben",
            "log",
            "expense",
            "0.00000125",
            "--at",
            "2020-01-02",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        home.path(),
        &other.url(),
        &["export", "--csv", "contributions"],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = records(&text);
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0]["quantity"], "0.00000125");
    assert_eq!(rows[0]["currency"], "FAIR");
    let info = run_cli(home.path(), &other.url(), &["info"]).await;
    assert!(
        String::from_utf8_lossy(&info.stdout)
            .contains("FAIR (8 decimals, from the signed genesis)"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
}
