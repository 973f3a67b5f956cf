//! Known-answer test for one signed entry: the protobuf payload, the PAE,
//! the signature, the entry id and the Merkle leaf hash, computed
//! independently by `tests/kat/entry_kat.py` (hand-written protobuf, PyPI
//! `blake3` and `cryptography`). A client in another language that matches
//! these values signs and hashes exactly as the server verifies. The payload
//! is in the canonical form the server requires on arrival
//! (`VerifiedEnvelope::verify` below re-encodes and compares).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use coopledger::pb;
use coopledger::verify::{PAYLOAD_TYPE, VerifiedEnvelope, pae, sign_entry};
use ed25519_dalek::SigningKey;
use prost::Message;

const PAYLOAD: &str = "0a2011111111111111111111111111111111111111111111111111111111111111111203616e611880d8c1a28c342210222222222222222222222222222222228201190a170801105a220664657369676e3080f7c4d5063a036b6174";
const PUBLIC_KEY: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const SIGNATURE: &str = "d60658cc865f06977f72e6222c0fe6fac6c4819ab0839987ecd6fd110ac0d935d13fe0e5354976f1c73484506a274d6e86245bc1d8b570eddbe66bbc68cbbd09";
const ID: &str = "7bbf9090ae7848c807fc3d8320b0dd0e587a217b90ef3caa8d7ef18dd6c74c0d";
const LEAF_HASH: &str = "09a27fbf32d46c6372dd5a81fc6b82206210edef91882da4a689099aaf63d456";
const PAE_PREFIX: &str = "DSSEv1 44 application/vnd.coopledger.entry.v1+protobuf 92 ";

fn kat_entry() -> pb::Entry {
    pb::Entry {
        network_id: vec![0x11; 32],
        author: "ana".into(),
        created_at_ms: 1_790_000_000_000,
        nonce: vec![0x22; 16],
        body: Some(pb::entry::Body::LogContribution(pb::LogContribution {
            contribution: Some(pb::Contribution {
                kind: pb::ContributionKind::Work as i32,
                quantity: 90,
                tags: vec!["design".into()],
                at: 1_790_000_000,
                note: "kat".into(),
                ..Default::default()
            }),
        })),
    }
}

#[test]
fn one_entry_signs_and_hashes_to_the_independent_known_answers() {
    let key = SigningKey::from_bytes(&core::array::from_fn(|i| i as u8));
    let entry = kat_entry();
    assert_eq!(
        hex::encode(entry.encode_to_vec()),
        PAYLOAD,
        "protobuf payload"
    );
    let envelope = sign_entry(&key, &entry);
    let p = pae(PAYLOAD_TYPE, &envelope.payload);
    assert!(p.starts_with(PAE_PREFIX.as_bytes()), "PAE header");
    assert_eq!(
        &p[PAE_PREFIX.len()..],
        hex::decode(PAYLOAD).unwrap().as_slice()
    );
    assert_eq!(hex::encode(&envelope.public_key), PUBLIC_KEY);
    assert_eq!(hex::encode(&envelope.signature), SIGNATURE);
    let v = VerifiedEnvelope::verify(&envelope, 1 << 16).unwrap();
    assert_eq!(v.id.to_hex(), ID);
    assert_eq!(
        hex::encode(coopledger::verify::leaf_hash(&v.leaf_bytes())),
        LEAF_HASH
    );
}

/// The same entry with an `AttestContribution` body: ana (an admin) attests
/// ben's contribution, from a spreadsheet row. Computed by the same script.
const ATTEST_PAYLOAD: &str = "0a2011111111111111111111111111111111111111111111111111111111111111111203616e611880d8c1a28c34221022222222222222222222222222222222d201310a0362656e12170801105a220664657369676e3080f7c4d5063a036b61741a11686973746f72792e63737620726f772032";
const ATTEST_SIGNATURE: &str = "f5a999a9b565b20a0f12377a6031aeec10f962776f054c9d85b8f3150f171aba1e8f0bd693f1fc0fe591578adbf6618e3d2ca22dff5a7d7fc731cdf9844c230a";
const ATTEST_ID: &str = "cd384560f9379b5670af883667ebed9c0d2b4a94ecedef22751836af324c9e48";
const ATTEST_LEAF_HASH: &str = "31c61294925b0ddca9b92390d3c71990064bbcebff8ce7e6f450ba437b71e887";

#[test]
fn an_attested_entry_signs_and_hashes_to_the_independent_known_answers() {
    let key = SigningKey::from_bytes(&core::array::from_fn(|i| i as u8));
    let mut entry = kat_entry();
    let Some(pb::entry::Body::LogContribution(l)) = entry.body.take() else {
        panic!("the KAT entry logs a contribution");
    };
    entry.body = Some(pb::entry::Body::AttestContribution(
        pb::AttestContribution {
            member: "ben".into(),
            contribution: l.contribution,
            source: "history.csv row 2".into(),
        },
    ));
    assert_eq!(hex::encode(entry.encode_to_vec()), ATTEST_PAYLOAD);
    let envelope = sign_entry(&key, &entry);
    assert_eq!(hex::encode(&envelope.signature), ATTEST_SIGNATURE);
    let v = VerifiedEnvelope::verify(&envelope, 1 << 16).unwrap();
    assert_eq!(v.id.to_hex(), ATTEST_ID);
    assert_eq!(
        hex::encode(coopledger::verify::leaf_hash(&v.leaf_bytes())),
        ATTEST_LEAF_HASH
    );
}
