//! Concurrency: 32 clients on their own connections land 3200 entries
//! exactly once in one total order; refusals mixed into busy group commits
//! do not disturb the accepted entries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use coopledger::client::{LedgerClient, Signer, allocate_body, contribution_body};
use coopledger::pb::{self, entry::Body};
use tonic::Code;

use crate::common::*;
use crate::scenario::kind_of;

/// The whole test's budget for each concurrency phase.
const CONCURRENCY_BUDGET: Duration = Duration::from_secs(120);

const CLIENTS: usize = 32;
const PER_CLIENT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_clients_land_exactly_once_in_one_total_order() {
    let server = TestServer::start().await;
    // Setting up and signing 3200 entries (slow in a debug build on a busy
    // machine) has its own budget, so the one for the submissions is not
    // spent on signing.
    let (signed, setup) = tokio::time::timeout(CONCURRENCY_BUDGET, prepare_clients(&server))
        .await
        .expect("setting up the 32 clients did not finish within the time budget");
    tokio::time::timeout(
        CONCURRENCY_BUDGET,
        concurrent_clients(&server, signed, setup),
    )
    .await
    .expect("32 clients x 100 entries did not finish within the time budget");
}

/// Founds a network, admits 32 members in one batch, and signs each
/// member's 100 contributions. Returns them and the log size after setup.
async fn prepare_clients(server: &TestServer) -> (Vec<(String, Vec<pb::Envelope>)>, u64) {
    let mut client = server.client().await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = network.founders[0].clone();
    let signers: Vec<Signer> = (0..CLIENTS)
        .map(|i| new_signer(&format!("m{i:02}"), &network.id))
        .collect();
    let admits: Vec<_> = signers
        .iter()
        .map(|s| sign(&alice, admit_body(&s.handle, &s.public_key())))
        .collect();
    submit_batch(&mut client, &admits).await;
    let setup = info(&mut client).await.log_size;
    assert_eq!(setup, 1 + CLIENTS as u64);

    let mut signing = Vec::new();
    for signer in signers {
        signing.push(tokio::task::spawn_blocking(move || {
            let envelopes = (0..PER_CLIENT)
                .map(|i| {
                    let fields = pb::Contribution {
                        note: format!("{} #{i}", signer.handle),
                        ..work(i as u64 + 1, JAN_2020.0)
                    };
                    sign(&signer, contribution_body(fields))
                })
                .collect();
            (signer.handle, envelopes)
        }));
    }
    let mut signed = Vec::new();
    for t in signing {
        signed.push(t.await.expect("a signing task panicked"));
    }
    (signed, setup)
}

async fn concurrent_clients(
    server: &TestServer,
    signed: Vec<(String, Vec<pb::Envelope>)>,
    setup: u64,
) {
    let mut client = server.client().await;
    // Each task: its own connection, 100 Submits one after another.
    let mut tasks = Vec::new();
    for (handle, envelopes) in signed {
        let channel = server.channel().await;
        tasks.push(tokio::spawn(async move {
            let mut client = LedgerClient::new(channel);
            let mut landed = Vec::with_capacity(PER_CLIENT);
            for e in &envelopes {
                let r = submit_new(&mut client, e).await;
                landed.push((r.sequence, r.id));
            }
            (handle, landed)
        }));
    }
    let mut by_client: BTreeMap<String, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
    for t in tasks {
        let (handle, landed) = t.await.expect("a client task panicked");
        by_client.insert(handle, landed);
    }

    // 3200 distinct sequence numbers, contiguous after the setup entries.
    let total = (CLIENTS * PER_CLIENT) as u64;
    let sequences: BTreeSet<u64> = by_client.values().flatten().map(|(s, _)| *s).collect();
    assert_eq!(
        sequences.len() as u64,
        total,
        "every entry got its own sequence number"
    );
    assert_eq!(
        sequences.iter().copied().collect::<Vec<_>>(),
        (setup..setup + total).collect::<Vec<_>>()
    );
    let ids: BTreeSet<&Vec<u8>> = by_client.values().flatten().map(|(_, id)| id).collect();
    assert_eq!(ids.len() as u64, total, "every entry has a distinct id");
    let info = info(&mut client).await;
    assert_eq!(
        info.log_size,
        setup + total,
        "nothing landed twice and nothing extra landed"
    );

    // One total order, holding each client's entries in its submission order,
    // every id at its receipt's sequence.
    let all = list(&mut client, pb::ListEntriesRequest::default()).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (0..setup + total).collect::<Vec<_>>()
    );
    let at: HashMap<u64, &pb::LoggedEntry> = all.iter().map(|e| (e.sequence, e)).collect();
    let mut seen_per_author: HashMap<String, Vec<String>> = HashMap::new();
    for e in &all[setup as usize..] {
        let entry = e.entry.as_ref().expect("decoded entry");
        let note = match entry.body.as_ref() {
            Some(Body::LogContribution(l)) => l.contribution.as_ref().expect("fields").note.clone(),
            other => panic!("unexpected entry at {}: {other:?}", e.sequence),
        };
        seen_per_author
            .entry(entry.author.clone())
            .or_default()
            .push(note);
    }
    for (handle, landed) in &by_client {
        assert!(
            landed.windows(2).all(|w| w[0].0 < w[1].0),
            "{handle}'s receipts are in submission order"
        );
        for (seq, id) in landed {
            assert_eq!(
                &at[seq].id, id,
                "{handle}: the id at sequence {seq} is not the receipt's id"
            );
        }
        let expected: Vec<String> = (0..PER_CLIENT).map(|i| format!("{handle} #{i}")).collect();
        assert_eq!(
            seen_per_author.get(handle),
            Some(&expected),
            "{handle}'s entries in the log, in order"
        );
    }

    // And GetEntry by id finds each at its receipt's sequence (a sample per client).
    for landed in by_client.values() {
        for (seq, id) in landed.iter().step_by(25) {
            assert_eq!(get_by_id(&mut client, id).await.sequence, *seq);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_in_a_busy_group_do_not_disturb_accepted_entries() {
    tokio::time::timeout(CONCURRENCY_BUDGET, mixed_clients())
        .await
        .expect("mixed clients did not finish in time");
}

/// 8 clients (bob and carol, 4 connections each) alternate entries the
/// sequencer accepts with entries it refuses (allocating to oneself), so
/// refusals share group commits with accepted entries.
async fn mixed_clients() {
    const MIXED_CLIENTS: usize = 8;
    const EACH: usize = 20;
    let mut coop = Coop::new().await;
    let setup = info(&mut coop.client).await.log_size;
    let mut tasks = Vec::new();
    for c in 0..MIXED_CLIENTS {
        let signer = if c % 2 == 0 {
            coop.bob.clone()
        } else {
            coop.carol.clone()
        };
        let mut client = coop.server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut landed = Vec::new();
            let mut refused = Vec::new();
            for i in 0..EACH {
                if i % 2 == 0 {
                    let fields = pb::Contribution {
                        note: format!("c{c} #{i}"),
                        ..work(1, JAN_2020.0)
                    };
                    let r =
                        submit_new(&mut client, &sign(&signer, contribution_body(fields))).await;
                    landed.push(r.sequence);
                } else {
                    let share = [(signer.handle.as_str(), 100)];
                    let e = sign(&signer, allocate_body(JAN_2020.0, JAN_2020.1, &share));
                    let status = client
                        .submit(pb::SubmitRequest {
                            envelope: Some(e.clone()),
                        })
                        .await
                        .expect_err("allocating to oneself is refused");
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{}",
                        status.message()
                    );
                    refused.push(id_of(&e));
                }
            }
            (c, landed, refused)
        }));
    }
    let mut all_landed = BTreeSet::new();
    let mut all_refused = Vec::new();
    for t in tasks {
        let (c, landed, refused) = t.await.expect("a client task panicked");
        assert!(
            landed.windows(2).all(|w| w[0] < w[1]),
            "client {c}'s entries land in its order"
        );
        all_landed.extend(landed);
        all_refused.extend(refused);
    }
    let accepted = (MIXED_CLIENTS * EACH / 2) as u64;
    assert_eq!(
        all_landed.into_iter().collect::<Vec<_>>(),
        (setup..setup + accepted).collect::<Vec<_>>()
    );
    assert_eq!(
        info(&mut coop.client).await.log_size,
        setup + accepted,
        "only the accepted entries were written"
    );
    for id in &all_refused {
        assert_absent(&mut coop.client, id).await;
    }
    let kinds = list(
        &mut coop.client,
        pb::ListEntriesRequest {
            from_sequence: setup,
            ..Default::default()
        },
    )
    .await;
    assert!(
        kinds
            .iter()
            .all(|e| kind_of(e) == pb::EntryKind::LogContribution),
        "no allocation was written"
    );
}
