//! A claim is never repaid twice: two periods previewed at one log size
//! cannot both repay it, and `verify` and `serve` refuse a log where one was,
//! naming it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_periods_previewed_at_one_log_size_cannot_both_repay_a_claim() {
    let (mut coop, expense) = month_end_coop().await;
    // Both previews see the whole claim outstanding (it is dated before
    // either period's end).
    let jan = preview(&mut coop, JAN_2020, Some(30_000)).await;
    let feb = preview(&mut coop, FEB_2020, Some(30_000)).await;
    let claim = hex::encode(&expense);
    assert_eq!(json(&jan.report_json)["repayments"][&claim], 20_000);
    assert_eq!(json(&feb.report_json)["repayments"][&claim], 20_000);
    assert_eq!(jan.header.log_size, feb.header.log_size);

    let jan_receipt = record(&mut coop, &jan, JAN_2020).await;
    let stale = feb.record_to_sign(FEB_2020, 30_000).unwrap();
    let bob = coop.bob.clone();
    let refusal = submit_refused(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(stale)),
        Code::FailedPrecondition,
        "the log moved",
    )
    .await;
    assert!(
        refusal.message().contains("was recorded at sequence"),
        "{}",
        refusal.message()
    );

    // Previewed again, February owes the claim nothing more.
    let feb = preview(&mut coop, FEB_2020, Some(30_000)).await;
    assert!(
        json(&feb.report_json)["repayments"].get(&claim).is_none(),
        "{}",
        feb.report_json
    );
    let feb_receipt = record(&mut coop, &feb, FEB_2020).await;
    let list = distributions(&mut coop).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].sequence, jan_receipt.sequence);
    assert_eq!(list[0].claims_repaid, 1);
    assert_eq!(list[1].sequence, feb_receipt.sequence);
    assert_eq!(
        list[1].claims_repaid, 0,
        "the claim was repaid once, in January"
    );
    let feb = distribution(&mut coop, feb_receipt.sequence).await;
    assert_eq!(feb.payouts.iter().find(|p| p.recipient == "carol"), None);
}

/// Writes `envelopes` as a log into `dir` the way the server would, but
/// without its rules: a test-only writer, for logs the server refuses to
/// build.
fn write_log(dir: &Path, key: &ed25519_dalek::SigningKey, envelopes: &[pb::Envelope]) {
    let store = coopledger::log::Store::open(dir).unwrap();
    let mut frontier = coopledger::verify::Frontier::new();
    let mut write = coopledger::log::GroupWrite::default();
    for (i, e) in envelopes.iter().enumerate() {
        let v = VerifiedEnvelope::verify(e, usize::MAX).unwrap();
        let leaf = v.leaf_bytes();
        for (level, index, hash) in frontier.append(coopledger::verify::leaf_hash(&leaf)) {
            write.node(level, index, &hash);
        }
        write.entry(i as u64, &leaf);
    }
    let head = coopledger::log::Head {
        size: frontier.size(),
        root: frontier.root(),
    };
    let note = coopledger::verify::Checkpoint {
        origin: coopledger::verify::origin_of(&key.verifying_key().to_bytes()),
        size: head.size,
        root: head.root,
    }
    .sign(key);
    write.head(&head);
    write.checkpoint(&note);
    store.apply(write).unwrap();
    store.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_serve_refuse_a_log_that_repaid_a_claim_twice_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let log_key =
        coopledger::log::keyfile::load_or_create(&dir.path().join(coopledger::log::LOG_KEY_FILE))
            .unwrap();
    let log_pk = log_key.verifying_key().to_bytes();
    let mut alice = common::new_signer("alice", &[]);
    let genesis = coopledger::client::genesis_body(
        "Forged",
        "EUR",
        2,
        &[("alice".into(), alice.public_key())],
        &log_pk,
    );
    let genesis = sign(&alice, genesis);
    let network = common::id_of(&genesis);
    alice.network_id = network.clone();
    let bob = common::new_signer("bob", &network);
    let carol = common::new_signer("carol", &network);
    let mut log = vec![
        genesis,
        sign(&alice, common::admit_body("bob", &bob.public_key())),
        sign(&alice, common::admit_body("carol", &carol.public_key())),
        sign(&alice, grant_body("bob", pb::Role::Treasurer)),
        sign(&alice, adopt_body(POLICY)),
    ];
    let expense = sign(
        &carol,
        contribution_body(contribution(
            pb::ContributionKind::Expense,
            20_000,
            JAN_2020.0 + 86_400,
        )),
    );
    let claim = hex::encode(common::id_of(&expense));
    log.push(expense);
    // Both distributions computed over the same first N entries, as the
    // old rules allowed: each repays the whole claim.
    let n = log.len() as u64;
    let mut replayer = coopledger::payout::audit_replayer(Some(log_pk), None);
    for (i, e) in log.iter().enumerate() {
        replayer
            .push(i as u64, VerifiedEnvelope::verify(e, usize::MAX).unwrap())
            .unwrap();
    }
    let state = replayer.finish().state;
    for period in [JAN_2020, FEB_2020] {
        let p = coopledger::payout::preview(
            &state,
            n,
            coopledger::payout::PolicyChoice::Version(1),
            period,
            30_000,
        )
        .unwrap();
        assert_eq!(p.report.repayments[&claim], 20_000);
        let body = coopledger::payout::record_body(&p);
        log.push(sign(&bob, Body::RecordDistribution(body)));
    }
    write_log(dir.path(), &log_key, &log);

    let home = tempfile::tempdir().unwrap();
    let out = run_cli(
        home.path(),
        "http://127.0.0.1:1",
        &["verify", "--data", dir.path().to_str().unwrap()],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "verify passed a doubled repayment");
    assert!(
        err.contains(&claim) && err.contains("twice") && err.contains(&format!("entry {}", n + 1)),
        "verify must name the claim and the entry: {err}"
    );
    // The server agrees: it will not start on that log.
    let started = coopledger::server::start(coopledger::server::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: Default::default(),
        clock: Default::default(),
        checkpoint_copy: None,
        public_read: true,
        web: true,
        tls: None,
    })
    .await;
    let e = started.err().expect("the server refuses the log");
    assert!(e.to_string().contains(&format!("{}", n + 1)), "{e}");
}
