//! Shared helpers for the end-to-end tests.
//!
//! Everything here drives a real coopledger server over real TCP on
//! 127.0.0.1 with a real tonic client: [`TestServer`] starts one on port 0
//! over a temporary sled folder (kept alive as long as the server), and the
//! helpers below do what every test needs: found a network, admit members,
//! log contributions, read entries back, and check refusals with
//! [`assert_refused`], which also proves the log did not move.
#![allow(dead_code)]

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use coopledger::client::{LedgerClient, Signer, contribution_body, envelope_id, genesis_body};
use coopledger::ledger::Limits;
use coopledger::pb::{self, entry::Body};
use coopledger::server::{RunningServer, ServerConfig, start};
use coopledger::verify::{EntryId, PAYLOAD_TYPE, generate_key, pae};
use ed25519_dalek::{Signer as _, SigningKey};
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// How long any single step (connect, stop, one stream message) may take
/// before a test gives up instead of hanging.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// January 2020 in Unix seconds, `[start, end)`: a period in the past, so
/// contributions dated in it are never "in the future" and no entry's
/// `created_at` falls inside it.
pub const JAN_2020: (i64, i64) = (1_577_836_800, 1_580_515_200);
/// February 2020, right after [`JAN_2020`] (the two touch but do not overlap).
pub const FEB_2020: (i64, i64) = (1_580_515_200, 1_583_020_800);

/// A policy object as an admin adopts it.
pub const POLICY_JSON: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[{"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// A real server on 127.0.0.1:0 over a sled folder in a temporary directory.
/// The directory lives as long as this value, across restarts.
pub struct TestServer {
    server: Option<RunningServer>,
    dir: TempDir,
    limits: Limits,
}

impl TestServer {
    /// Starts a server with default limits.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    /// Starts a server with the given limits on a fresh temporary folder.
    pub async fn with_limits(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().expect("create a temporary data folder");
        let server = start_on(dir.path(), &limits).await;
        TestServer {
            server: Some(server),
            dir,
            limits,
        }
    }

    /// The running server (panics while stopped).
    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("the test server is stopped")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running().url()
    }

    /// A new client on its own TCP connection.
    pub async fn client(&self) -> LedgerClient {
        LedgerClient::new(self.channel().await)
    }

    /// A new channel (its own TCP connection) to the server, for any service.
    pub async fn channel(&self) -> Channel {
        connect(&self.url()).await
    }

    /// Stops the server, draining the sequencer; the folder stays.
    pub async fn stop(&mut self) {
        let server = self
            .server
            .take()
            .expect("the test server is already stopped");
        tokio::time::timeout(STEP_TIMEOUT, server.stop())
            .await
            .expect("the server did not stop within the step timeout")
            .expect("the server stopped with an error");
    }

    /// Stops the server and starts a new one on the same folder (a new port).
    pub async fn restart(&mut self) {
        let limits = self.limits.clone();
        self.restart_with(limits).await;
    }

    /// Stops the server and starts a new one on the same folder with other limits.
    pub async fn restart_with(&mut self, limits: Limits) {
        self.stop().await;
        self.limits = limits;
        self.server = Some(start_on(self.dir.path(), &self.limits).await);
    }
}

async fn start_on(dir: &Path, limits: &Limits) -> RunningServer {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        limits: limits.clone(),
    };
    let server = tokio::time::timeout(STEP_TIMEOUT, start(config))
        .await
        .expect("the server did not start within the step timeout")
        .expect("the server failed to start");
    assert!(
        server.addr.ip().is_loopback(),
        "tests listen on loopback only, got {}",
        server.addr
    );
    server
}

/// Opens a channel to `url` (one TCP connection), bounded in time.
pub async fn connect(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string())
        .expect("a valid URL")
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .expect("connect to the test server")
}

/// The server's clock as entries see it, in milliseconds.
pub fn now_ms() -> i64 {
    coopledger::ledger::now_ms()
}

/// A fresh random signing key.
pub fn new_key() -> SigningKey {
    generate_key().expect("random key")
}

/// A signer with a fresh key for `handle` in `network_id`.
pub fn new_signer(handle: &str, network_id: &[u8]) -> Signer {
    Signer::new(handle, new_key(), network_id)
}

/// Signs `body` as `signer`, now.
pub fn sign(signer: &Signer, body: Body) -> pb::Envelope {
    signer.sign(body).expect("sign an entry")
}

/// Signs arbitrary payload bytes with `key`, exactly as given (for payloads
/// that are not the canonical prost encoding of an Entry).
pub fn sign_payload(key: &SigningKey, payload: Vec<u8>) -> pb::Envelope {
    let signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    pb::Envelope {
        payload,
        payload_type: PAYLOAD_TYPE.to_string(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
    }
}

/// The id an envelope gets in the log, as bytes.
pub fn id_of(envelope: &pb::Envelope) -> Vec<u8> {
    envelope_id(envelope).0.to_vec()
}

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

/// Asserts that no entry with this id is in the log.
pub async fn assert_absent(client: &mut LedgerClient, id: &[u8]) {
    let result = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(id.to_vec())),
        })
        .await;
    match result {
        Ok(e) => panic!(
            "entry {} is in the log at sequence {}",
            hex::encode(id),
            e.into_inner().sequence
        ),
        Err(s) => assert_eq!(
            s.code(),
            Code::NotFound,
            "GetEntry of an absent id: {}",
            s.message()
        ),
    }
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

/// An admit-member body.
pub fn admit_body(handle: &str, public_key: &[u8]) -> Body {
    Body::AdmitMember(pb::AdmitMember {
        handle: handle.to_string(),
        public_key: public_key.to_vec(),
    })
}

/// A rotate-key body.
pub fn rotate_body(new_public_key: &[u8]) -> Body {
    Body::RotateKey(pb::RotateKey {
        new_public_key: new_public_key.to_vec(),
    })
}

/// A grant-role body.
pub fn grant_body(member: &str, role: pb::Role) -> Body {
    Body::GrantRole(pb::GrantRole {
        member: member.to_string(),
        role: role as i32,
    })
}

/// A revoke-role body.
pub fn revoke_body(member: &str, role: pb::Role) -> Body {
    Body::RevokeRole(pb::RevokeRole {
        member: member.to_string(),
        role: role as i32,
    })
}

/// An adopt-policy body.
pub fn adopt_body(json: &str) -> Body {
    Body::AdoptPolicy(pb::AdoptPolicy {
        policy_json: json.as_bytes().to_vec(),
    })
}

/// An amend-contribution body.
pub fn amend_body(contribution: &[u8], fields: pb::Contribution) -> Body {
    Body::AmendContribution(pb::AmendContribution {
        contribution_id: contribution.to_vec(),
        contribution: Some(fields),
    })
}

/// A retract-contribution body.
pub fn retract_body(contribution: &[u8], reason: &str) -> Body {
    Body::RetractContribution(pb::RetractContribution {
        contribution_id: contribution.to_vec(),
        reason: reason.to_string(),
    })
}

/// The id of a contribution, from its raw id bytes.
pub fn entry_id(bytes: &[u8]) -> EntryId {
    EntryId(bytes.try_into().expect("a 32-byte id"))
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

/// A contribution of `kind` and `quantity`, dated `at` (Unix seconds).
pub fn contribution(kind: pb::ContributionKind, quantity: u64, at: i64) -> pb::Contribution {
    pb::Contribution {
        kind: kind as i32,
        quantity,
        at,
        ..Default::default()
    }
}

/// `minutes` of work dated `at`.
pub fn work(minutes: u64, at: i64) -> pb::Contribution {
    contribution(pb::ContributionKind::Work, minutes, at)
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

/// A small cooperative: alice (founder, admin), bob and carol (members),
/// and one contribution of bob's, on a server of its own.
pub struct Coop {
    pub server: TestServer,
    pub client: LedgerClient,
    pub network: Network,
    pub alice: Signer,
    pub bob: Signer,
    pub carol: Signer,
    /// Bob's 60 minutes of work in January 2020.
    pub bob_work: pb::Envelope,
}

impl Coop {
    /// Sets up the cooperative with default limits.
    pub async fn new() -> Coop {
        Coop::with_limits(Limits::default()).await
    }

    /// Sets up the cooperative on a server with `limits`.
    pub async fn with_limits(limits: Limits) -> Coop {
        let server = TestServer::with_limits(limits).await;
        let mut client = server.client().await;
        let network = found_network(&mut client, &["alice"]).await;
        let alice = network.founders[0].clone();
        let (bob, _) = admit(&mut client, &alice, "bob").await;
        let (carol, _) = admit(&mut client, &alice, "carol").await;
        let (bob_work, receipt) =
            log_contribution(&mut client, &bob, work(60, JAN_2020.0 + 3600)).await;
        assert_eq!(receipt.sequence, 3, "the setup entries land at 0..=3");
        Coop {
            server,
            client,
            network,
            alice,
            bob,
            carol,
            bob_work,
        }
    }

    /// The id of bob's contribution.
    pub fn bob_work_id(&self) -> Vec<u8> {
        id_of(&self.bob_work)
    }

    /// `Submit` of `envelope` must be refused with `code` and a message
    /// containing `substring`, leave the log size and root unchanged, and
    /// leave the envelope's id absent from the log.
    pub async fn refuse(&mut self, envelope: &pb::Envelope, code: Code, substring: &str) -> Status {
        submit_refused(&mut self.client, envelope, code, substring).await
    }
}

/// Asserts that `result` is a refusal with exactly `code` whose message
/// contains `substring`, and that the log size and root (from
/// `GetServerInfo`) are what they were in `before`. Returns the status.
pub async fn assert_refused<T: Debug>(
    client: &mut LedgerClient,
    before: &pb::ServerInfo,
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    substring: &str,
) -> Status {
    let status = match result {
        Ok(response) => panic!(
            "expected {code:?} ({substring:?}) but the call succeeded: {:?}",
            response.into_inner()
        ),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "wrong status code (wanted {code:?}); message: {:?}",
        status.message()
    );
    assert!(
        status.message().contains(substring),
        "the {code:?} message {:?} does not contain {substring:?}",
        status.message()
    );
    let after = info(client).await;
    assert_eq!(
        after.log_size,
        before.log_size,
        "a refusal changed the log size ({:?})",
        status.message()
    );
    assert_eq!(
        after.root,
        before.root,
        "a refusal changed the log root ({:?})",
        status.message()
    );
    status
}

/// `Submit` must be refused (see [`assert_refused`]) and the envelope's id
/// must not be in the log afterwards.
pub async fn submit_refused(
    client: &mut LedgerClient,
    envelope: &pb::Envelope,
    code: Code,
    substring: &str,
) -> Status {
    let before = info(client).await;
    let result = client
        .submit(pb::SubmitRequest {
            envelope: Some(envelope.clone()),
        })
        .await;
    let status = assert_refused(client, &before, result, code, substring).await;
    assert_absent(client, &id_of(envelope)).await;
    status
}

/// `SubmitBatch` must be refused whole (see [`assert_refused`]): none of the
/// envelopes may be in the log afterwards.
pub async fn batch_refused(
    client: &mut LedgerClient,
    envelopes: &[pb::Envelope],
    code: Code,
    substring: &str,
) -> Status {
    let before = info(client).await;
    let result = client
        .submit_batch(pb::SubmitBatchRequest {
            envelopes: envelopes.to_vec(),
        })
        .await;
    let status = assert_refused(client, &before, result, code, substring).await;
    for e in envelopes {
        assert_absent(client, &id_of(e)).await;
    }
    status
}

/// Runs the `coopledger` binary with its own config folder and server, off
/// the async runtime, and returns what it printed.
pub async fn run_cli(home: &Path, server: &str, args: &[&str]) -> std::process::Output {
    let (home, server) = (home.to_path_buf(), server.to_string());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .args(&args)
            .env("COOPLEDGER_HOME", &home)
            .env("COOPLEDGER_SERVER", &server)
            .env_remove("COOPLEDGER_AS")
            .output()
            .expect("run coopledger")
    })
    .await
    .expect("the CLI task")
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

/// Parses JSON a test expects to be well formed.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON")
}
