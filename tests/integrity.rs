//! A log altered behind the server's back is refused on start, naming the
//! entry: the server never serves a rewritten history.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

mod common;

use common::{JAN_2020, TestServer, found_network, log_contribution, new_signer, work};
use coopledger::log::LedgerError;
use coopledger::log::Store;
use coopledger::server::{ServerError, start};

/// Writes a small log and stops the server: its folder is
/// [`TestServer::data_dir`], and [`TestServer::config`] starts on it.
async fn small_log() -> TestServer {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = &network.founders[0];
    for i in 0..5 {
        log_contribution(&mut client, alice, work(30 + i, JAN_2020.0 + 3600)).await;
    }
    server.stop().await;
    server
}

fn corrupt(dir: &std::path::Path, f: impl FnOnce(&sled::Tree)) {
    let store = Store::open(dir).unwrap();
    f(store.tree());
    store.tree().flush().unwrap();
}

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

#[tokio::test]
async fn a_flipped_byte_in_a_stored_entry_stops_the_server_naming_the_entry() {
    let log = small_log().await;
    corrupt(log.data_dir(), |tree| {
        let mut v = tree.get(entry_key(3)).unwrap().unwrap().to_vec();
        let middle = v.len() / 2;
        v[middle] ^= 0x01;
        tree.insert(entry_key(3), v).unwrap();
    });
    match start(log.config()).await {
        Err(ServerError::Ledger(LedgerError::Corrupt { sequence, detail })) => {
            assert_eq!(sequence, 3, "{detail}");
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("the server started on a corrupted log"),
    }
}

#[tokio::test]
async fn a_deleted_entry_or_a_replaced_head_is_refused() {
    let log = small_log().await;
    corrupt(log.data_dir(), |tree| {
        tree.remove(entry_key(4)).unwrap();
    });
    let err = start(log.config())
        .await
        .err()
        .expect("refuses a log with a hole");
    assert!(
        matches!(
            &err,
            ServerError::Ledger(LedgerError::Corrupt { sequence: 4, .. })
        ),
        "{err}"
    );

    let log = small_log().await;
    corrupt(log.data_dir(), |tree| {
        let mut head = tree.get(b"h").unwrap().unwrap().to_vec();
        head[39] ^= 0xff;
        tree.insert(b"h", head).unwrap();
    });
    let err = start(log.config())
        .await
        .err()
        .expect("refuses a head that does not match the entries");
    assert!(err.to_string().contains("Merkle root"), "{err}");
}

#[tokio::test]
async fn an_entry_swapped_for_another_validly_signed_one_is_refused() {
    // A server operator re-signs nothing: but a stored entry replaced by a
    // different, validly signed envelope must still be caught (id index and root).
    let log = small_log().await;
    let other = new_signer("alice", &[0u8; 32]);
    let forged = coopledger::verify::VerifiedEnvelope::verify(
        &other
            .sign(coopledger::client::contribution_body(work(999, JAN_2020.0)))
            .unwrap(),
        1 << 16,
    )
    .unwrap();
    corrupt(log.data_dir(), |tree| {
        tree.insert(entry_key(2), forged.leaf_bytes()).unwrap();
    });
    let err = start(log.config())
        .await
        .err()
        .expect("refuses a swapped entry");
    assert!(
        matches!(
            &err,
            ServerError::Ledger(LedgerError::Corrupt { sequence: 2, .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_truncated_log_with_a_rewritten_head_fails_the_signed_checkpoint() {
    // Someone drops the last entry and rewrites the head record to match:
    // the entries replay cleanly, but the server's own signed checkpoint
    // names the longer log, so it refuses to serve the shorter one.
    let log = small_log().await;
    corrupt(log.data_dir(), |tree| {
        let size = 5u64 + 1; // genesis + 5 contributions
        tree.remove(entry_key(size - 1)).unwrap();
        let store_root = {
            let mut frontier = coopledger::verify::Frontier::new();
            for seq in 0..size - 1 {
                let leaf = tree.get(entry_key(seq)).unwrap().unwrap();
                frontier.append(coopledger::verify::leaf_hash(&leaf));
            }
            frontier.root()
        };
        let mut head = (size - 1).to_be_bytes().to_vec();
        head.extend_from_slice(&store_root);
        tree.insert(b"h", head).unwrap();
    });
    let err = start(log.config())
        .await
        .err()
        .expect("refuses a truncated log");
    assert!(err.to_string().contains("last signed checkpoint"), "{err}");
}
