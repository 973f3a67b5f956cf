//! The author's side: building, signing and submitting entries. Used by the
//! CLI, the demo, the tests and the benches, so every client signs the same
//! way the server verifies.

use ed25519_dalek::SigningKey;

use crate::envelope::{EntryId, sign_entry};
use crate::pb::{self, entry::Body};

/// A tonic client of the `Ledger` service over a plain channel.
pub type LedgerClient = pb::ledger_client::LedgerClient<tonic::transport::Channel>;

/// A member's signing identity within one network.
#[derive(Clone)]
pub struct Signer {
    /// The member's handle.
    pub handle: String,
    /// The member's current key.
    pub key: SigningKey,
    /// The network id entries are bound to (empty before genesis).
    pub network_id: Vec<u8>,
}

/// Why an entry could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The system's random number generator failed (nonce).
    #[error("could not get random bytes for the entry nonce: {0}")]
    Random(String),
}

impl Signer {
    /// A signer for `handle` with `key` in the network `network_id`.
    pub fn new(handle: impl Into<String>, key: SigningKey, network_id: &[u8]) -> Self {
        Signer {
            handle: handle.into(),
            key,
            network_id: network_id.to_vec(),
        }
    }

    /// The public key, as the log records it.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Builds the entry for `body` stamped with the current time and a fresh
    /// nonce, and signs it.
    pub fn sign(&self, body: Body) -> Result<pb::Envelope, ClientError> {
        self.sign_at(body, crate::log::now_ms())
    }

    /// As [`Signer::sign`], with an explicit `created_at_ms` (tests of clock rules).
    pub fn sign_at(&self, body: Body, created_at_ms: i64) -> Result<pb::Envelope, ClientError> {
        let nonce = crate::envelope::new_nonce().map_err(|e| ClientError::Random(e.to_string()))?;
        let entry = pb::Entry {
            network_id: self.network_id.clone(),
            author: self.handle.clone(),
            created_at_ms,
            nonce,
            body: Some(body),
        };
        Ok(sign_entry(&self.key, &entry))
    }
}

/// The id an envelope will have in the log.
pub fn envelope_id(envelope: &pb::Envelope) -> EntryId {
    EntryId::of_pae(&crate::envelope::pae(
        &envelope.payload_type,
        &envelope.payload,
    ))
}

/// A genesis body naming `founders` and the server's log key.
pub fn genesis_body(
    name: &str,
    currency: &str,
    decimals: u32,
    founders: &[(String, [u8; 32])],
    log_public_key: &[u8],
) -> Body {
    Body::Genesis(pb::Genesis {
        name: name.to_string(),
        currency: currency.to_string(),
        decimals,
        founders: founders
            .iter()
            .map(|(h, k)| pb::Founder {
                handle: h.clone(),
                public_key: k.to_vec(),
            })
            .collect(),
        log_public_key: log_public_key.to_vec(),
    })
}

/// A log-contribution body.
pub fn contribution_body(contribution: pb::Contribution) -> Body {
    Body::LogContribution(pb::LogContribution {
        contribution: Some(contribution),
    })
}

/// An evaluation body.
pub fn evaluate_body(
    contribution: &EntryId,
    verdict: pb::Verdict,
    rating: Option<u32>,
    note: &str,
) -> Body {
    Body::Evaluate(pb::Evaluate {
        contribution_id: contribution.0.to_vec(),
        verdict: verdict as i32,
        rating,
        note: note.to_string(),
    })
}

/// An allocation body for `[start, end)`.
pub fn allocate_body(start: i64, end: i64, shares: &[(&str, u32)]) -> Body {
    Body::Allocate(pb::Allocate {
        period: Some(pb::Period { start, end }),
        shares: shares
            .iter()
            .map(|(m, p)| pb::AllocationShare {
                member: m.to_string(),
                percent: *p,
            })
            .collect(),
    })
}
