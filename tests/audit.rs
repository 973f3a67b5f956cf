//! The member's audit through the real server: proofs over gRPC, `coopledger
//! verify` against a live server and a data folder, a forked history caught,
//! and a member's exported record checked offline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{JAN_2020, Network, TestServer, found_network, new_signer, sign, work};
use coopledger::client::{LedgerClient, contribution_body};
use coopledger::pb;
use coopledger::verify::Checkpoint;
use coopledger::verify::{leaf_hash, verify_consistency, verify_inclusion};

async fn cli(home: &Path, server: &str, args: &[&str]) -> Output {
    common::run_cli(home, server, args).await
}

fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Appends `n` contributions by the founder in batches of 500.
async fn append(client: &mut LedgerClient, network: &Network, n: u64, minutes: u64) {
    let alice = &network.founders[0];
    let mut left = n;
    while left > 0 {
        let k = left.min(500);
        let envelopes = (0..k)
            .map(|i| sign(alice, contribution_body(work(minutes + i, JAN_2020.0 + 60))))
            .collect();
        client
            .submit_batch(pb::SubmitBatchRequest { envelopes })
            .await
            .expect("batch lands");
        left -= k;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_an_early_receipt_verify_against_a_much_later_checkpoint() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let log_key: [u8; 32] = client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .log_public_key
        .try_into()
        .unwrap();
    let network = found_network(&mut client, &["alice"]).await;
    let early = network.receipt.clone();
    let early_cp = Checkpoint::verify(&early.checkpoint.as_ref().unwrap().note, &log_key)
        .expect("receipt carries a signed checkpoint");
    assert_eq!(
        (early_cp.size, early_cp.root.to_vec()),
        (early.log_size, early.root.clone())
    );
    append(&mut client, &network, 1200, 30).await;

    let latest = client
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let cp = Checkpoint::verify(&latest.note, &log_key).unwrap();
    assert_eq!(cp.size, 1201);
    let proof = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            key: Some(pb::get_inclusion_proof_request::Key::Id(early.id.clone())),
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<[u8; 32]> = proof
        .hashes
        .iter()
        .map(|h| h.as_slice().try_into().unwrap())
        .collect();
    let genesis_leaf = coopledger::verify::VerifiedEnvelope::verify(&network.genesis, 1 << 20)
        .unwrap()
        .leaf_bytes();
    verify_inclusion(&leaf_hash(&genesis_leaf), 0, cp.size, &hashes, &cp.root)
        .expect("the genesis receipt is in the later tree");
    assert!(verify_inclusion(&leaf_hash(&genesis_leaf), 1, cp.size, &hashes, &cp.root).is_err());

    let consistency = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: early_cp.size,
            new_size: cp.size,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<[u8; 32]> = consistency
        .hashes
        .iter()
        .map(|h| h.as_slice().try_into().unwrap())
        .collect();
    verify_consistency(early_cp.size, cp.size, &early_cp.root, &cp.root, &hashes)
        .expect("append-only");

    // Asking past the end is refused.
    let err = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            key: Some(pb::get_inclusion_proof_request::Key::Sequence(5)),
            tree_size: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 10,
            new_size: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_a_live_log_and_catches_a_forked_history() {
    let home = tempfile::tempdir().unwrap();
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    append(&mut client, &network, 600, 30).await;
    server.stop().await;

    // Keep a copy of the log at 601 entries: the fork point.
    let mut forked = server.copy_stopped();

    // The honest log grows to 2001 entries; the member audits it twice.
    server.start_again().await;
    let url_a = server.url();
    let mut client = server.client().await;
    append(&mut client, &network, 900, 30).await;
    let first = stdout_ok(&cli(home.path(), &url_a, &["verify"]).await);
    assert!(first.contains("1501 entries"), "{first}");
    append(&mut client, &network, 500, 30).await;
    let second = stdout_ok(&cli(home.path(), &url_a, &["verify"]).await);
    assert!(
        second.contains("2001 entries")
            && second.contains("consistent with the checkpoint of size 1501"),
        "{second}"
    );
    server.stop().await;

    // The same log key serves another history from the fork point on.
    forked.start_again().await;
    let mut client = forked.client().await;
    append(&mut client, &network, 1600, 45).await;
    let err = stderr_failed(&cli(home.path(), &forked.url(), &["verify"]).await);
    assert!(
        err.contains("the log forked") && err.contains("from size 2001"),
        "{err}"
    );
    forked.stop().await;

    // A stopped server's folder verifies offline; a flipped byte is named.
    let out = stdout_ok(
        &cli(
            home.path(),
            "http://127.0.0.1:1",
            &["verify", "--data", server.data_dir().to_str().unwrap()],
        )
        .await,
    );
    assert!(out.contains("2001 entries"), "{out}");
    {
        let store = coopledger::log::Store::open(server.data_dir()).unwrap();
        let mut key = vec![b'e'];
        key.extend_from_slice(&1234u64.to_be_bytes());
        let mut v = store.tree().get(&key).unwrap().unwrap().to_vec();
        let i = v.len() - 70;
        v[i] ^= 0x20;
        store.tree().insert(key, v).unwrap();
        store.tree().flush().unwrap();
    }
    let err = stderr_failed(
        &cli(
            home.path(),
            "http://127.0.0.1:1",
            &["verify", "--data", server.data_dir().to_str().unwrap()],
        )
        .await,
    );
    assert!(err.contains("entry 1234"), "{err}");
}

/// Flips one bit in the signature of the stored entry at `sequence`.
fn flip_signature_bit(dir: &Path, sequence: u64) {
    let store = coopledger::log::Store::open(dir).unwrap();
    let mut key = vec![b'e'];
    key.extend_from_slice(&sequence.to_be_bytes());
    let mut v = store.tree().get(&key).unwrap().unwrap().to_vec();
    let i = v.len() - 10;
    v[i] ^= 0x04;
    store.tree().insert(key, v).unwrap();
    store.tree().flush().unwrap();
}

/// The audit reads, checks and folds a log longer than one of its chunks
/// (4,096 entries) in overlapping stages; the summary says what it checked,
/// and with entries damaged in two chunks `verify --data` names the first
/// in log order, though the later chunk was read and checked while the
/// earlier one was being folded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streamed_audit_names_the_first_damage_in_log_order() {
    let home = tempfile::tempdir().unwrap();
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    append(&mut client, &network, 9_000, 30).await;
    let size = client
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner()
        .size;
    assert!(size > 2 * 4096, "{size}");
    let live = stdout_ok(&cli(home.path(), &server.url(), &["verify"]).await);
    assert!(
        live.contains(&format!("{size} entries: every signature")),
        "{live}"
    );
    assert!(
        live.contains("signed checkpoints checked: 1;") && live.contains("entries/s"),
        "{live}"
    );
    server.stop().await;
    let data = server.data_dir().to_str().unwrap().to_string();
    let offline = tempfile::tempdir().unwrap();
    let out = stdout_ok(
        &cli(
            offline.path(),
            "http://127.0.0.1:1",
            &["verify", "--data", &data],
        )
        .await,
    );
    assert!(
        out.contains(&format!("{size} entries: every signature")),
        "{out}"
    );

    flip_signature_bit(server.data_dir(), 8_000);
    flip_signature_bit(server.data_dir(), 3_000);
    let err = stderr_failed(
        &cli(
            offline.path(),
            "http://127.0.0.1:1",
            &["verify", "--data", &data],
        )
        .await,
    );
    assert!(err.contains("entry 3000") && !err.contains("8000"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_exported_record_verifies_offline_and_tampering_fails() {
    let home = tempfile::tempdir().unwrap();
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice", "bob"]).await;
    let bob = &network.founders[1];
    append(&mut client, &network, 40, 30).await;
    for i in 0..3 {
        client
            .submit(pb::SubmitRequest {
                envelope: Some(sign(
                    bob,
                    contribution_body(work(60 + i, JAN_2020.0 + 7200)),
                )),
            })
            .await
            .unwrap();
    }
    append(&mut client, &network, 40, 30).await;
    let record = home.path().join("bob.json");
    stdout_ok(
        &cli(
            home.path(),
            &server.url(),
            &[
                "export",
                "--member",
                "bob",
                "--proofs",
                record.to_str().unwrap(),
            ],
        )
        .await,
    );
    server.stop().await;

    let out = stdout_ok(
        &cli(
            home.path(),
            "http://127.0.0.1:1",
            &["verify-record", record.to_str().unwrap()],
        )
        .await,
    );
    assert!(out.contains("verified 3 entries of bob"), "{out}");
    // The home that exported it pinned the server: the record's log key is
    // checked against that pin; elsewhere only a key given on the command
    // line can vouch for it.
    assert!(
        out.contains("log key matches the key this config pinned"),
        "{out}"
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let out = stdout_ok(
        &cli(
            elsewhere.path(),
            "http://127.0.0.1:1",
            &["verify-record", record.to_str().unwrap()],
        )
        .await,
    );
    assert!(out.contains("log key NOT checked"), "{out}");
    let err = stderr_failed(
        &cli(
            elsewhere.path(),
            "http://127.0.0.1:1",
            &[
                "verify-record",
                record.to_str().unwrap(),
                "--log-key",
                &"ab".repeat(32),
            ],
        )
        .await,
    );
    assert!(err.contains("it is not this cooperative's log"), "{err}");

    // Change one proof hash: the record no longer verifies.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let h = json["entries"][2]["proof"][0].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
    json["entries"][2]["proof"][0] = serde_json::Value::String(flipped);
    let bad = home.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&json).unwrap()).unwrap();
    let err = stderr_failed(
        &cli(
            home.path(),
            "http://127.0.0.1:1",
            &["verify-record", bad.to_str().unwrap()],
        )
        .await,
    );
    assert!(err.contains("not in the log"), "{err}");

    // An entry by someone else slipped into bob's record is refused.
    let _ = new_signer;
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    json["member"] = serde_json::Value::String("alice".into());
    std::fs::write(&bad, serde_json::to_vec(&json).unwrap()).unwrap();
    let err = stderr_failed(
        &cli(
            home.path(),
            "http://127.0.0.1:1",
            &["verify-record", bad.to_str().unwrap()],
        )
        .await,
    );
    assert!(err.contains("is by bob, not alice"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_checks_every_receipt_and_verify_reports_a_submitted_entry_the_log_lost() {
    let home = tempfile::tempdir().unwrap();
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = &network.founders[0];
    coopledger::log::keyfile::write_key(&home.path().join("keys/alice.key"), &alice.key).unwrap();
    append(&mut client, &network, 5, 30).await;
    server.stop().await;
    // The folder as it was before the CLI's entry.
    let mut before = server.copy_stopped();
    server.start_again().await;

    // Through the CLI: the receipt is checked (id, signed checkpoint,
    // inclusion, consistency with what this config saw) and the id kept.
    let out = stdout_ok(
        &cli(
            home.path(),
            &server.url(),
            &[
                "--as",
                "alice",
                "log",
                "work",
                "45m",
                "--at",
                "2020-01-02T10:00:00Z",
            ],
        )
        .await,
    );
    assert!(out.contains("at sequence 6"), "{out}");
    let kept = std::fs::read_dir(home.path().join("submitted"))
        .unwrap()
        .count();
    assert_eq!(kept, 1);
    stdout_ok(&cli(home.path(), &server.url(), &["--as", "alice", "verify"]).await);
    server.stop().await;

    // Another log of the same key, as long, without that entry: with the
    // witness gone (a new laptop that kept only its submitted ids), verify
    // still finds the entry missing.
    before.start_again().await;
    let mut other = before.client().await;
    client_submit(&mut other, alice, 99).await;
    std::fs::remove_dir_all(home.path().join("witness")).unwrap();
    let err = stderr_failed(&cli(home.path(), &before.url(), &["--as", "alice", "verify"]).await);
    assert!(
        err.contains("no longer holds entry") && err.contains("sequence 6"),
        "{err}"
    );
}

async fn client_submit(
    client: &mut LedgerClient,
    signer: &coopledger::client::Signer,
    minutes: u64,
) {
    client
        .submit(pb::SubmitRequest {
            envelope: Some(sign(signer, contribution_body(work(minutes, JAN_2020.0)))),
        })
        .await
        .unwrap();
}
