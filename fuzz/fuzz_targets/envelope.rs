//! Envelope verification and entry decoding, three ways over the same bytes:
//!
//! 1. as an `Envelope` on the wire: `VerifiedEnvelope::verify` with the
//!    default payload limit; one that verifies must give back the envelope
//!    it came from, and its leaf bytes must read back to the same entry;
//! 2. as stored leaf bytes: `from_leaf_bytes` (signature checked) and
//!    `decode_stored` (not checked) must agree, and a decoded leaf must
//!    re-encode to exactly the bytes it came from;
//! 3. as a payload signed with a fixed key, so the fuzzer reaches past the
//!    signature into entry decoding and the stateless checks.
//!
//! No input may panic; every refusal is an `EnvelopeError`.

#![no_main]

use coopledger::ledger::{CheckedEntry, Limits};
use coopledger::pb;
use coopledger::verify::{EntryId, EnvelopeError, VerifiedEnvelope};
use coopledger_fuzz::sign_payload;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();

    // 1. An envelope as it arrives.
    if let Ok(envelope) = pb::Envelope::decode(data)
        && let Ok(verified) = VerifiedEnvelope::verify(&envelope, limits.max_payload_bytes)
    {
        assert_eq!(verified.id, EntryId::of_pae(&verified.pae));
        assert_eq!(verified.to_envelope(), envelope);
        let back = VerifiedEnvelope::from_leaf_bytes(&verified.leaf_bytes())
            .expect("the leaf bytes of a verified envelope read back");
        assert_eq!(back.id, verified.id);
        assert_eq!(back.entry, verified.entry);
        let _ = CheckedEntry::new(verified, &limits);
    }

    // 2. Stored leaf bytes.
    let checked = VerifiedEnvelope::from_leaf_bytes(data);
    let stored = VerifiedEnvelope::decode_stored(data);
    match (&checked, &stored) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.id, b.id);
            assert_eq!(a.entry, b.entry);
        }
        (Ok(_), Err(e)) => panic!("a leaf whose signature verifies is refused unchecked: {e}"),
        // Only the signature tells them apart.
        (Err(EnvelopeError::Forged(_)), Ok(_)) | (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("decode_stored accepts a leaf from_leaf_bytes calls {e}"),
    }
    if let Ok(leaf) = &stored {
        assert_eq!(leaf.leaf_bytes(), data, "a stored leaf re-encodes exactly");
        assert_eq!(leaf.id, EntryId::of_pae(&leaf.pae));
    }

    // 3. The bytes as a validly signed payload.
    let envelope = sign_payload(data);
    let decoded = pb::Entry::decode(data);
    match VerifiedEnvelope::verify(&envelope, limits.max_payload_bytes) {
        Ok(verified) => {
            assert_eq!(Some(&verified.entry), decoded.as_ref().ok());
            let _ = CheckedEntry::new(verified, &limits);
        }
        Err(EnvelopeError::TooLarge { .. }) => assert!(data.len() > limits.max_payload_bytes),
        Err(EnvelopeError::Malformed(_)) => assert!(decoded.is_err()),
        // One meaning per signed byte: refused exactly when the bytes decode
        // but are not the standard encoding of what they decode to.
        Err(EnvelopeError::NotCanonical { .. }) => {
            let entry = decoded.expect("a non-canonical payload decodes");
            assert_ne!(prost::Message::encode_to_vec(&entry), data);
        }
        Err(e @ EnvelopeError::Forged(_)) => panic!("a valid signature refused: {e}"),
    }
});
