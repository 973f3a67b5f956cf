//! One helper per RPC a test calls expecting success (each panics with the
//! status otherwise), and the network set-up built from them.

use coopledger::client::{LedgerClient, Signer, contribution_body, genesis_body};
use coopledger::pb::{self, entry::Body};

use super::STEP_TIMEOUT;
use super::builders::{admit_body, id_of, new_signer, sign};

/// `GetServerInfo`.
pub async fn info(client: &mut LedgerClient) -> pb::ServerInfo {
    client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .expect("GetServerInfo")
        .into_inner()
}

/// `Submit`, expecting acceptance.
pub async fn submit(client: &mut LedgerClient, envelope: &pb::Envelope) -> pb::Receipt {
    match client
        .submit(pb::SubmitRequest {
            envelope: Some(envelope.clone()),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(s) => panic!("Submit was refused: {:?}: {}", s.code(), s.message()),
    }
}

/// `Submit` of a new entry: accepted, not a duplicate, with the envelope's id.
pub async fn submit_new(client: &mut LedgerClient, envelope: &pb::Envelope) -> pb::Receipt {
    let receipt = submit(client, envelope).await;
    assert!(
        !receipt.duplicate,
        "a new entry came back as a duplicate: {receipt:?}"
    );
    assert_eq!(
        receipt.id,
        id_of(envelope),
        "the receipt's id is not blake3 of the PAE bytes"
    );
    receipt
}

/// `SubmitBatch`, expecting acceptance.
pub async fn submit_batch(
    client: &mut LedgerClient,
    envelopes: &[pb::Envelope],
) -> Vec<pb::Receipt> {
    match client
        .submit_batch(pb::SubmitBatchRequest {
            envelopes: envelopes.to_vec(),
        })
        .await
    {
        Ok(r) => r.into_inner().receipts,
        Err(s) => panic!("SubmitBatch was refused: {:?}: {}", s.code(), s.message()),
    }
}

/// `GetEntry` by id, expecting it to exist.
pub async fn get_by_id(client: &mut LedgerClient, id: &[u8]) -> pb::LoggedEntry {
    client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(id.to_vec())),
        })
        .await
        .unwrap_or_else(|s| {
            panic!(
                "GetEntry by id {}: {:?}: {}",
                hex::encode(id),
                s.code(),
                s.message()
            )
        })
        .into_inner()
}

/// `GetEntry` by sequence, expecting it to exist.
pub async fn get_by_sequence(client: &mut LedgerClient, sequence: u64) -> pb::LoggedEntry {
    client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Sequence(sequence)),
        })
        .await
        .unwrap_or_else(|s| {
            panic!(
                "GetEntry by sequence {sequence}: {:?}: {}",
                s.code(),
                s.message()
            )
        })
        .into_inner()
}

/// `ListEntries`, collected (each message bounded in time).
pub async fn list(
    client: &mut LedgerClient,
    request: pb::ListEntriesRequest,
) -> Vec<pb::LoggedEntry> {
    let mut stream = client
        .list_entries(request)
        .await
        .expect("ListEntries")
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = tokio::time::timeout(STEP_TIMEOUT, stream.message())
        .await
        .expect("ListEntries stalled")
        .expect("ListEntries stream failed")
    {
        out.push(e);
    }
    out
}

/// The sequence numbers `ListEntries` returns for `request`.
pub async fn list_sequences(
    client: &mut LedgerClient,
    request: pb::ListEntriesRequest,
) -> Vec<u64> {
    list(client, request)
        .await
        .iter()
        .map(|e| e.sequence)
        .collect()
}

/// `GetMember`, expecting the member to exist.
pub async fn member(client: &mut LedgerClient, handle: &str) -> pb::Member {
    client
        .get_member(pb::GetMemberRequest {
            handle: handle.to_string(),
        })
        .await
        .unwrap_or_else(|s| panic!("GetMember {handle}: {:?}: {}", s.code(), s.message()))
        .into_inner()
}

/// `ListMembers`.
pub async fn members(client: &mut LedgerClient) -> Vec<pb::Member> {
    client
        .list_members(pb::ListMembersRequest {})
        .await
        .expect("ListMembers")
        .into_inner()
        .members
}

/// A founded network: its id, the genesis envelope and receipt, and a signer
/// per founder (in the order named), bound to the network id.
pub struct Network {
    /// The network id (= the genesis entry id).
    pub id: Vec<u8>,
    /// The genesis envelope as submitted.
    pub genesis: pb::Envelope,
    /// Its receipt.
    pub receipt: pb::Receipt,
    /// The founders' signers, bound to `id`.
    pub founders: Vec<Signer>,
}

/// The genesis body for `founders`, naming the server's log key.
pub async fn genesis_for(client: &mut LedgerClient, founders: &[Signer]) -> Body {
    let log_key = info(client).await.log_public_key;
    assert_eq!(log_key.len(), 32, "the server's log key is not 32 bytes");
    let named: Vec<(String, [u8; 32])> = founders
        .iter()
        .map(|s| (s.handle.clone(), s.public_key()))
        .collect();
    genesis_body("Test Coop", "EUR", 2, &named, &log_key)
}

/// Founds a network with the given founders (fresh keys); the first signs.
pub async fn found_network(client: &mut LedgerClient, founders: &[&str]) -> Network {
    assert!(!founders.is_empty(), "a network needs a founder");
    let signers: Vec<Signer> = founders.iter().map(|h| new_signer(h, &[])).collect();
    let body = genesis_for(client, &signers).await;
    let genesis = sign(&signers[0], body);
    let receipt = submit_new(client, &genesis).await;
    let id = id_of(&genesis);
    let founders = signers
        .into_iter()
        .map(|s| Signer::new(s.handle, s.key, &id))
        .collect();
    Network {
        id,
        genesis,
        receipt,
        founders,
    }
}

/// Admits `handle` with a fresh key, signed by `admin`.
pub async fn admit(
    client: &mut LedgerClient,
    admin: &Signer,
    handle: &str,
) -> (Signer, pb::Receipt) {
    let signer = new_signer(handle, &admin.network_id);
    let receipt = submit_new(
        client,
        &sign(admin, admit_body(handle, &signer.public_key())),
    )
    .await;
    (signer, receipt)
}

/// Logs a contribution as `author`; returns its envelope and receipt.
pub async fn log_contribution(
    client: &mut LedgerClient,
    author: &Signer,
    fields: pb::Contribution,
) -> (pb::Envelope, pb::Receipt) {
    let envelope = sign(author, contribution_body(fields));
    let receipt = submit_new(client, &envelope).await;
    (envelope, receipt)
}

/// The preview of `period` for `income` under the latest policy, put
/// together from its streamed pieces.
pub async fn preview(
    client: &mut LedgerClient,
    period: (i64, i64),
    income: Option<u64>,
) -> coopledger::client::FetchedPreview {
    coopledger::client::fetch_preview(client, preview_request(period, income))
        .await
        .expect("preview")
}

/// A `ComputeShares` request for `period` and `income` (latest policy).
pub fn preview_request(period: (i64, i64), income: Option<u64>) -> pb::ComputeSharesRequest {
    pb::ComputeSharesRequest {
        period: Some(pb::Period {
            start: period.0,
            end: period.1,
        }),
        income,
        ..Default::default()
    }
}
