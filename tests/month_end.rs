//! The treasurer's month end under real use, through the real server: a
//! claim is never repaid twice (and `verify` names it on a log where it
//! was), a recorded period's views are its record to the cent, mistakes are
//! refused with their codes and the log unchanged, a void reopens a period,
//! the CLI signs only the digest of what it showed, and a period of 100,000
//! contributions previews and records.

mod common;

use std::path::Path;

use common::{
    Coop, FEB_2020, JAN_2020, adopt_body, contribution, grant_body, json, run_cli, sign,
    submit_new, submit_refused, work,
};
use coopledger::client::{FetchedPreview, contribution_body, evaluate_body, fetch_preview};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;
use serde_json::Value;
use tonic::Code;

const POLICY: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[
  {"type":"fixed","percent_ppm":100000,"recipient":"commons"},
  {"type":"reimburse","percent_ppm":1000000,"kinds":["expense"]},
  {"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// December 2019, right before [`JAN_2020`].
const DEC_2019: (i64, i64) = (1_575_158_400, JAN_2020.0);

async fn preview(coop: &mut Coop, period: (i64, i64), income: Option<u64>) -> FetchedPreview {
    common::preview(&mut coop.client, period, income).await
}

/// A cooperative with bob as treasurer, the policy adopted, and carol's
/// approved expense of 200.00 on 5 January 2020. Returns the expense's id.
async fn month_end_coop() -> (Coop, Vec<u8>) {
    let mut coop = Coop::new().await;
    let (alice, carol) = (coop.alice.clone(), coop.carol.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("bob", pb::Role::Treasurer)),
    )
    .await;
    submit_new(&mut coop.client, &sign(&alice, adopt_body(POLICY))).await;
    let expense = contribution(
        pb::ContributionKind::Expense,
        20_000,
        JAN_2020.0 + 4 * 86_400,
    );
    let id = submit_new(&mut coop.client, &sign(&carol, contribution_body(expense)))
        .await
        .id;
    (coop, id)
}

async fn record(coop: &mut Coop, p: &FetchedPreview, period: (i64, i64)) -> pb::Receipt {
    let body = p
        .record_to_sign(period, p.header.income)
        .expect("a recordable preview");
    let bob = coop.bob.clone();
    submit_new(
        &mut coop.client,
        &sign(&bob, Body::RecordDistribution(body)),
    )
    .await
}

async fn distributions(coop: &mut Coop) -> Vec<pb::DistributionSummary> {
    coop.client
        .list_distributions(pb::ListDistributionsRequest {})
        .await
        .expect("list")
        .into_inner()
        .distributions
}

async fn distribution(coop: &mut Coop, sequence: u64) -> pb::Distribution {
    coop.client
        .get_distribution(pb::GetDistributionRequest {
            key: Some(pb::get_distribution_request::Key::Sequence(sequence)),
        })
        .await
        .expect("get")
        .into_inner()
}

fn payouts(d: &pb::Distribution) -> Value {
    Value::Object(
        d.payouts
            .iter()
            .map(|p| (p.recipient.clone(), Value::from(p.amount)))
            .collect(),
    )
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
    })
    .await;
    let e = started.err().expect("the server refuses the log");
    assert!(e.to_string().contains(&format!("{}", n + 1)), "{e}");
}

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
    let out = run_cli(
        home.path(),
        &url,
        &[
            "--as",
            "bob",
            "distribute",
            "--period",
            "2020-01",
            "--record",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--income is required"));
    // A preview of a period not recorded yet needs the income too.
    let out = run_cli(home.path(), &url, &["shares", "--period", "2020-02"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--income is required: 2020-02"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
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
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--yes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_of_100_000_contributions_previews_and_records() {
    let (mut coop, _) = month_end_coop().await;
    let members = [coop.alice.clone(), coop.bob.clone(), coop.carol.clone()];
    const N: u64 = 100_000;
    let mut sent = 0;
    while sent < N {
        let envelopes: Vec<pb::Envelope> = (sent..(sent + 1000).min(N))
            .map(|i| {
                let c = contribution(
                    pb::ContributionKind::Expense,
                    100 + i % 900,
                    JAN_2020.0 + 3600 + (i % 86_400) as i64,
                );
                sign(&members[(i % 3) as usize], contribution_body(c))
            })
            .collect();
        sent += envelopes.len() as u64;
        coop.client
            .submit_batch(pb::SubmitBatchRequest { envelopes })
            .await
            .expect("batch");
    }
    // Enough income to repay every claim: the report lists 100,001
    // repayments and travels in several pieces (explanations, which made it
    // hundreds of megabytes, are fetched per member).
    let jan = preview(&mut coop, JAN_2020, Some(100_000_000)).await;
    assert!(
        jan.report_json.len() > 4 << 20,
        "the report is {} bytes",
        jan.report_json.len()
    );
    let report = json(&jan.report_json);
    assert_eq!(
        report["repayments"].as_object().unwrap().len() as u64,
        N + 1
    );
    let receipt = record(&mut coop, &jan, JAN_2020).await;
    let list = distributions(&mut coop).await;
    assert_eq!(list[0].sequence, receipt.sequence);
    assert_eq!(list[0].claims_repaid, N + 1);
    let d = distribution(&mut coop, receipt.sequence).await;
    assert_eq!(payouts(&d), report["payouts"]);
}
