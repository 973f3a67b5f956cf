//! Keys, signers, signing, ids and entry bodies: everything a test builds
//! before it talks to a server (no I/O here). The entry bodies are
//! `coopledger::client`'s builders, re-exported.

use coopledger::client::{Signer, envelope_id};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::{EntryId, PAYLOAD_TYPE, generate_key, pae};
use ed25519_dalek::{Signer as _, SigningKey};

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

// Entry bodies come from the client, as the CLI, the demo and the benches
// build them; re-exported so tests reach them through `common`.
pub use coopledger::client::{
    admit_body, allocate_body, amend_body, contribution_body, distribution_body, evaluate_body,
    genesis_body, grant_body, retract_body, revoke_body, rotate_body, void_body,
};

/// An adopt-policy body for a policy written as text (the client's
/// [`coopledger::client::adopt_body`] takes bytes).
pub fn adopt_body(json: &str) -> Body {
    coopledger::client::adopt_body(json.as_bytes())
}

/// The id of a contribution, from its raw id bytes.
pub fn entry_id(bytes: &[u8]) -> EntryId {
    EntryId(bytes.try_into().expect("a 32-byte id"))
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

/// Parses JSON a test expects to be well formed.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON")
}
