//! Fast restart: the server writes a signed snapshot of its state every
//! `max_replay_entries` entries and on a clean stop, and a restart starts
//! from it. The state it gives is the state a full replay gives; a damaged,
//! foreign or mismatched snapshot is set aside (the whole log is replayed)
//! and never changes what the server serves.

use std::path::Path;
use std::time::Duration;

use coopledger::client::{contribution_body, distribution_body, fetch_preview};
use coopledger::ledger::{LedgerState, Limits};
use coopledger::log::{SNAPSHOT_FILE, Store, read_snapshot, restore, write_snapshot};
use coopledger::pb;
use coopledger::verify::Frontier;

use crate::common::*;
use crate::scenario::Scenario;

/// Restores the stopped server's folder from `snapshot` (or by a full
/// replay with `None`): state, frontier and how many entries came from the
/// snapshot.
fn restored(dir: &Path, use_snapshot: bool) -> (LedgerState, Frontier, u64) {
    let key = coopledger::log::keyfile::load_or_create(&dir.join(coopledger::log::LOG_KEY_FILE))
        .unwrap()
        .verifying_key()
        .to_bytes();
    let snapshot = if use_snapshot {
        read_snapshot(dir, &key).unwrap()
    } else {
        None
    };
    let store = Store::open(dir).unwrap();
    restore(&store, &key, snapshot).unwrap()
}

async fn checkpoint(client: &mut coopledger::client::LedgerClient) -> pb::SignedCheckpoint {
    client
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_the_snapshot_folds_the_same_state_as_a_full_replay() {
    let mut server = TestServer::with_limits(Limits {
        max_replay_entries: 10,
        ..Limits::default()
    })
    .await;
    let mut client = server.client().await;
    // Every entry type, and a recorded distribution (its settlement is
    // part of the state).
    let s = Scenario::build(&server, &mut client).await;
    let preview = fetch_preview(&mut client, preview_request(JAN_2020, Some(10_000)))
        .await
        .unwrap();
    let record = preview.record_to_sign(JAN_2020, 10_000).unwrap();
    submit_new(&mut client, &sign(&s.carol, distribution_body(record))).await;
    for i in 0..12 {
        submit_new(
            &mut client,
            &sign(&s.bob, contribution_body(work(30 + i, FEB_2020.0))),
        )
        .await;
    }
    // Written while serving, every 10 entries, once they are durable.
    let file = server.data_dir().join(SNAPSHOT_FILE);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot written while serving"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Replaced atomically (renamed into place), so a copy is whole.
    let early = std::fs::read(&file).unwrap();
    let before = checkpoint(&mut client).await;
    server.stop().await;

    // A clean stop leaves a snapshot of the whole log.
    let (from_snapshot, frontier, from) = restored(server.data_dir(), true);
    let (replayed, replayed_frontier, none) = restored(server.data_dir(), false);
    assert_eq!(
        from, before.size,
        "the clean stop's snapshot holds every entry"
    );
    assert_eq!(none, 0);
    assert_eq!(frontier, replayed_frontier);
    assert!(
        from_snapshot == replayed,
        "the snapshot's state differs from a full replay's"
    );
    assert_eq!(frontier.root().to_vec(), before.root);

    // A snapshot from while it served (as after a crash): the entries after
    // it are folded on top, to the same state.
    let clean = std::fs::read(&file).unwrap();
    std::fs::write(&file, &early).unwrap();
    let (resumed, _, from) = restored(server.data_dir(), true);
    assert!(
        from > 0 && from < before.size,
        "the early snapshot holds {from} entries"
    );
    assert!(
        resumed == replayed,
        "snapshot + tail differs from a full replay"
    );
    std::fs::write(&file, &clean).unwrap();

    // And the server restarts on it serving the same log.
    server.start_again().await;
    let mut client = server.client().await;
    assert_eq!(checkpoint(&mut client).await.root, before.root);
    assert_eq!(members(&mut client).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_mismatched_snapshot_is_set_aside_and_the_log_replayed() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&server, &mut client).await;
    let before = checkpoint(&mut client).await;
    server.stop().await;
    let dir = server.data_dir().to_path_buf();
    let (truth, _, _) = restored(&dir, false);
    let key =
        coopledger::log::keyfile::load_or_create(&dir.join(coopledger::log::LOG_KEY_FILE)).unwrap();
    let public = key.verifying_key().to_bytes();
    let file = dir.join(SNAPSHOT_FILE);
    let good = std::fs::read(&file).unwrap();

    // A flipped bit anywhere in it: set aside, named.
    for at in [3, 40, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&file, &bad).unwrap();
        let aside = read_snapshot(&dir, &public)
            .err()
            .expect("a damaged snapshot is set aside");
        assert!(aside.to_string().contains(SNAPSHOT_FILE), "{aside}");
    }

    // Signed by this server, but not the state of these entries (its root
    // is another log's): the restore replays the whole log instead.
    let body = truth.snapshot_bytes().unwrap();
    write_snapshot(&dir, &key, truth.size(), [7u8; 32], &body, 0).unwrap();
    let (state, _, from) = restored(&dir, true);
    assert_eq!(from, 0, "a snapshot with another root is not used");
    assert!(state == truth);

    // Claiming more entries than the store holds: not used either.
    write_snapshot(&dir, &key, truth.size() + 5, [7u8; 32], &body, 0).unwrap();
    let (_, _, from) = restored(&dir, true);
    assert_eq!(from, 0);

    // Signed by another key: set aside.
    let other = new_key();
    write_snapshot(&dir, &other, truth.size(), [7u8; 32], &body, 0).unwrap();
    let aside = read_snapshot(&dir, &public)
        .err()
        .expect("a foreign snapshot is set aside");
    assert!(aside.to_string().contains("log key"), "{aside}");

    // The server starts on each and serves the same log and members.
    std::fs::write(&file, &good[..good.len() / 3]).unwrap();
    server.start_again().await;
    let mut client = server.client().await;
    assert_eq!(checkpoint(&mut client).await.root, before.root);
    assert_eq!(
        member(&mut client, "bob").await.public_key,
        s.bob.public_key().to_vec()
    );
}
