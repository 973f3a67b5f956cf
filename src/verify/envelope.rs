//! Signing and verifying envelopes (DSSE v1 shape).
//!
//! The server keeps exactly the bytes that were signed and never re-encodes
//! them: only the signed bytes are evidence. Protobuf allows more than one
//! encoding of the same `Entry` (and one byte string more than one reading),
//! so an arriving payload must be the standard encoding of the entry it
//! decodes to (`canonical.rs`); entries a log stored before that rule are
//! still read as they were signed.
//! The stored form of an entry is its Merkle leaf bytes
//! (`u32be(len(pae)) ‖ pae ‖ public_key ‖ signature`), from which the
//! envelope is recovered exactly.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use prost::Message;

use crate::pb;

/// Why an envelope, a stored leaf or a key was refused: malformed or not in
/// canonical form (a shape, size or encoding problem the sender can fix) or
/// forged (the signature or key does not verify). The ledger maps these to
/// gRPC codes (InvalidArgument, ResourceExhausted, Unauthenticated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A field is larger than its limit.
    #[error("{field}: {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A field has the wrong shape, length or encoding.
    #[error("{0}")]
    Malformed(String),
    /// The payload decodes, but is not the standard encoding of the entry it
    /// decodes to, so its bytes could be read another way (a hidden field, a
    /// second body); `detail` names the first departure.
    #[error(
        "envelope.payload: not in canonical protobuf form ({detail}); re-encode the entry \
         with a standard protobuf encoder and sign those bytes"
    )]
    NotCanonical {
        /// What differs, e.g. `unknown field 99 in entry`.
        detail: String,
    },
    /// The signature does not verify, or the key is not a valid point.
    #[error("{0}")]
    Forged(String),
}

/// The only payload type coopledger signs and accepts.
pub const PAYLOAD_TYPE: &str = "application/vnd.coopledger.entry.v1+protobuf";

/// A 32-byte entry id: blake3 of the entry's PAE bytes. Also the network id
/// (the id of genesis) and a contribution's id (the id of its log entry).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct EntryId(pub [u8; 32]);

impl EntryId {
    /// The id of the given PAE bytes.
    pub fn of_pae(pae: &[u8]) -> Self {
        EntryId(*blake3::hash(pae).as_bytes())
    }

    /// Parses a 32-byte id from a request field, naming the field when it is
    /// the wrong length.
    pub fn from_field(bytes: &[u8], field: &str) -> Result<Self, EnvelopeError> {
        <[u8; 32]>::try_from(bytes).map(EntryId).map_err(|_| {
            EnvelopeError::Malformed(format!(
                "{field}: must be a 32-byte entry id (got {} bytes)",
                bytes.len()
            ))
        })
    }

    /// Parses 64 hex digits back into an id (reports key claims by hex id).
    pub fn from_hex(hex_id: &str) -> Option<Self> {
        let bytes = hex::decode(hex_id).ok()?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok().map(EntryId)
    }

    /// Lower-case hex, the form people copy between commands.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryId({})", self.to_hex())
    }
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Splits PAE bytes back into `(payload_type, payload)`; `None` if they are
/// not exactly one well-formed PAE.
pub fn parse_pae(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let rest = bytes.strip_prefix(b"DSSEv1 ")?;
    let (type_len, rest) = split_decimal(rest)?;
    if rest.len() < type_len + 1 {
        return None;
    }
    let payload_type = std::str::from_utf8(&rest[..type_len]).ok()?;
    let rest = rest[type_len..].strip_prefix(b" ")?;
    let (body_len, body) = split_decimal(rest)?;
    (body.len() == body_len).then_some((payload_type, body))
}

/// Reads `<decimal> SP` from the front; refuses leading zeros so each PAE has
/// exactly one spelling.
fn split_decimal(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let space = bytes.iter().position(|&b| b == b' ')?;
    let digits = &bytes[..space];
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, &bytes[space + 1..]))
}

/// Signs an entry with the author's key: serializes it once and signs
/// exactly those bytes.
pub fn sign_entry(key: &SigningKey, entry: &pb::Entry) -> pb::Envelope {
    let payload = entry.encode_to_vec();
    let signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    pb::Envelope {
        payload,
        payload_type: PAYLOAD_TYPE.to_string(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
    }
}

/// An envelope whose signature verified and whose payload decoded: the unit
/// the sequencer works with. Holds the signed bytes, never a re-encoding.
#[derive(Clone, Debug)]
pub struct VerifiedEnvelope {
    /// blake3 of `pae`.
    pub id: EntryId,
    /// `PAE(payload_type, payload)`, exactly as signed.
    pub pae: Vec<u8>,
    /// The signing key.
    pub public_key: [u8; 32],
    /// The signature over `pae`.
    pub signature: [u8; 64],
    /// The decoded payload.
    pub entry: pb::Entry,
}

/// The Merkle leaf hash of stored leaf bytes, once their layout is checked
/// (`u32be(len(pae)) ‖ pae ‖ key ‖ sig`), without decoding the entry: what a
/// restart needs of every entry before its state snapshot.
pub fn leaf_hash_checked(leaf: &[u8]) -> Result<super::proof::Hash, EnvelopeError> {
    split_leaf(leaf).map(|_| super::proof::leaf_hash(leaf))
}

/// Stored leaf bytes split: the PAE bytes, the key, the signature.
type LeafParts<'a> = (&'a [u8], [u8; 32], [u8; 64]);

/// Splits stored leaf bytes (`u32be(len(pae)) ‖ pae ‖ key ‖ sig`).
fn split_leaf(leaf: &[u8]) -> Result<LeafParts<'_>, EnvelopeError> {
    let bad = |what: &str| EnvelopeError::Malformed(format!("stored leaf: {what}"));
    let (pae_len, rest) = leaf
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("shorter than a length prefix"))?;
    let pae_len = u32::from_be_bytes(*pae_len) as usize;
    if rest.len() != pae_len + 32 + 64 {
        return Err(bad(&format!(
            "length prefix says {pae_len} PAE bytes but the record holds {}",
            rest.len().saturating_sub(96)
        )));
    }
    let (pae, rest) = rest.split_at(pae_len);
    let (key, sig) = rest.split_at(32);
    let public_key = <[u8; 32]>::try_from(key).map_err(|_| bad("bad key length"))?;
    let signature = <[u8; 64]>::try_from(sig).map_err(|_| bad("bad signature length"))?;
    Ok((pae, public_key, signature))
}

impl VerifiedEnvelope {
    /// Checks an envelope as it arrives: sizes, payload type, key shape, the
    /// signature (`verify_strict`), then decodes the entry and requires the
    /// payload to be exactly the entry's standard encoding (one meaning per
    /// signed byte: no unknown fields, one body, fields in number order,
    /// each once, minimal varints, defaults left out). Stateless, so it runs
    /// on the request's task, in parallel, off the sequencer.
    pub fn verify(
        envelope: &pb::Envelope,
        max_payload_bytes: usize,
    ) -> Result<Self, EnvelopeError> {
        if envelope.payload.len() > max_payload_bytes {
            return Err(EnvelopeError::TooLarge {
                field: "envelope.payload",
                size: envelope.payload.len(),
                limit: max_payload_bytes,
            });
        }
        let verified = Self::verify_logged(envelope)?;
        super::canonical::check(&verified.entry, &envelope.payload)
            .map_err(|detail| EnvelopeError::NotCanonical { detail })?;
        Ok(verified)
    }

    /// Checks an envelope read back from a log (served by a server, or kept
    /// in a proof record): payload type, key shape, the signature, the
    /// decode. Not the arrival rules of [`VerifiedEnvelope::verify`] (size
    /// limit, canonical form), which an entry stored before them may not
    /// meet: a log stays readable as it was signed.
    pub fn verify_logged(envelope: &pb::Envelope) -> Result<Self, EnvelopeError> {
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(EnvelopeError::Malformed(format!(
                "envelope.payload_type: must be {PAYLOAD_TYPE:?} (got {:?})",
                envelope.payload_type
            )));
        }
        let public_key = <[u8; 32]>::try_from(envelope.public_key.as_slice()).map_err(|_| {
            EnvelopeError::Malformed(format!(
                "envelope.public_key: must be 32 bytes (got {})",
                envelope.public_key.len()
            ))
        })?;
        let signature = <[u8; 64]>::try_from(envelope.signature.as_slice()).map_err(|_| {
            EnvelopeError::Malformed(format!(
                "envelope.signature: must be 64 bytes (got {})",
                envelope.signature.len()
            ))
        })?;
        let pae = pae(&envelope.payload_type, &envelope.payload);
        verify_signature(&pae, &public_key, &signature)?;
        let entry = pb::Entry::decode(envelope.payload.as_slice()).map_err(|e| {
            EnvelopeError::Malformed(format!("envelope.payload: not a coopledger Entry: {e}"))
        })?;
        Ok(VerifiedEnvelope {
            id: EntryId::of_pae(&pae),
            pae,
            public_key,
            signature,
            entry,
        })
    }

    /// The bytes the store keeps and the Merkle tree hashes.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        super::proof::leaf_bytes(&self.pae, &self.public_key, &self.signature)
    }

    /// Recovers a stored entry from its leaf bytes, checking its signature
    /// again (replay, audits); the error says what is wrong, for a corruption
    /// report.
    pub fn from_leaf_bytes(leaf: &[u8]) -> Result<Self, EnvelopeError> {
        Self::parse_leaf(leaf, true)
    }

    /// Recovers a stored entry without re-checking the signature: for reads
    /// of a log whose entries were verified on arrival and on start.
    pub fn decode_stored(leaf: &[u8]) -> Result<Self, EnvelopeError> {
        Self::parse_leaf(leaf, false)
    }

    fn parse_leaf(leaf: &[u8], verify: bool) -> Result<Self, EnvelopeError> {
        let bad = |what: &str| EnvelopeError::Malformed(format!("stored leaf: {what}"));
        let (pae, public_key, signature) = split_leaf(leaf)?;
        let (payload_type, payload) = parse_pae(pae).ok_or_else(|| bad("not a well-formed PAE"))?;
        if payload_type != PAYLOAD_TYPE {
            return Err(bad(&format!("unexpected payload type {payload_type:?}")));
        }
        if verify {
            verify_signature(pae, &public_key, &signature)?;
        }
        let entry = pb::Entry::decode(payload).map_err(|e| bad(&format!("payload: {e}")))?;
        Ok(VerifiedEnvelope {
            id: EntryId::of_pae(pae),
            pae: pae.to_vec(),
            public_key,
            signature,
            entry,
        })
    }

    /// The envelope as the author submitted it.
    pub fn to_envelope(&self) -> pb::Envelope {
        let payload = parse_pae(&self.pae)
            .map(|(_, p)| p.to_vec())
            .unwrap_or_default();
        pb::Envelope {
            payload,
            payload_type: PAYLOAD_TYPE.to_string(),
            public_key: self.public_key.to_vec(),
            signature: self.signature.to_vec(),
        }
    }
}

/// `verify_strict` over the PAE bytes (`strict.rs`: the same answer as
/// `ed25519-dalek`'s): rejects small-order keys and non-canonical
/// signatures, which plain `verify` would let through.
fn verify_signature(
    pae: &[u8],
    public_key: &[u8; 32],
    signature: &[u8; 64],
) -> Result<(), EnvelopeError> {
    let key = super::strict::strict_key(public_key).ok_or_else(|| {
        EnvelopeError::Forged("envelope.public_key: not a valid ed25519 point".into())
    })?;
    if key.verify_strict(pae, signature) {
        Ok(())
    } else {
        Err(EnvelopeError::Forged(
            "envelope.signature: does not verify over PAE(payload_type, payload) with envelope.public_key".into(),
        ))
    }
}

/// Checks a key a member will sign with: 32 bytes, a valid point, and not of
/// small order (a weak key would let anyone forge signatures that verify).
pub fn check_member_key(bytes: &[u8], field: &str) -> Result<[u8; 32], EnvelopeError> {
    let raw = <[u8; 32]>::try_from(bytes).map_err(|_| {
        EnvelopeError::Malformed(format!(
            "{field}: must be a 32-byte ed25519 key (got {} bytes)",
            bytes.len()
        ))
    })?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| {
        EnvelopeError::Malformed(format!("{field}: not a valid ed25519 public key"))
    })?;
    if key.is_weak() {
        return Err(EnvelopeError::Malformed(format!(
            "{field}: weak (small-order) ed25519 key refused"
        )));
    }
    Ok(raw)
}

/// A fresh random signing key from the operating system's generator.
pub fn generate_key() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A fresh random 16-byte entry nonce.
pub fn new_nonce() -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)?;
    Ok(nonce.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_round_trips_and_matches_the_dsse_example() {
        // The DSSE v1 spec's example: PAE("http://example.com/HelloWorld", "hello world").
        let p = pae("http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            p,
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(
            parse_pae(&p),
            Some(("http://example.com/HelloWorld", &b"hello world"[..]))
        );
        assert_eq!(
            parse_pae(b"DSSEv1 029 http://example.com/HelloWorld 11 hello world"),
            None
        );
        assert_eq!(parse_pae(b"DSSEv1 1 a 3 ab"), None);
    }

    #[test]
    fn a_changed_payload_byte_fails_verification() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let entry = pb::Entry {
            author: "ann".into(),
            created_at_ms: 1,
            ..Default::default()
        };
        let mut env = sign_entry(&key, &entry);
        assert!(VerifiedEnvelope::verify(&env, 1 << 16).is_ok());
        env.payload[0] ^= 1;
        assert!(matches!(
            VerifiedEnvelope::verify(&env, 1 << 16),
            Err(EnvelopeError::Forged(_))
        ));
    }

    #[test]
    fn leaf_bytes_round_trip() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let entry = pb::Entry {
            author: "bo".into(),
            created_at_ms: 5,
            ..Default::default()
        };
        let v = VerifiedEnvelope::verify(&sign_entry(&key, &entry), 1 << 16).unwrap();
        let back = VerifiedEnvelope::from_leaf_bytes(&v.leaf_bytes()).unwrap();
        assert_eq!(back.id, v.id);
        assert_eq!(back.to_envelope(), sign_entry(&key, &entry));
        let mut leaf = v.leaf_bytes();
        let last = leaf.len() - 1;
        leaf[last] ^= 0x80;
        assert!(VerifiedEnvelope::from_leaf_bytes(&leaf).is_err());
    }

    #[test]
    fn arrival_requires_canonical_form_and_logged_entries_still_read() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let entry = pb::Entry {
            author: "cy".into(),
            created_at_ms: 9,
            ..Default::default()
        };
        let mut payload = entry.encode_to_vec();
        // Unknown field 99 (key 99 << 3 | 0 = 0x318), value 1.
        payload.extend([0x98, 0x06, 0x01]);
        let signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
        let env = pb::Envelope {
            payload,
            payload_type: PAYLOAD_TYPE.to_string(),
            public_key: key.verifying_key().to_bytes().to_vec(),
            signature: signature.to_bytes().to_vec(),
        };
        let refused = VerifiedEnvelope::verify(&env, 1 << 16).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "envelope.payload: not in canonical protobuf form (unknown field 99 in entry); \
             re-encode the entry with a standard protobuf encoder and sign those bytes"
        );
        // Read back from a log (the CLI, replay, audits), it is what was signed.
        let logged = VerifiedEnvelope::verify_logged(&env).unwrap();
        assert_eq!(logged.entry, entry);
        let stored = VerifiedEnvelope::from_leaf_bytes(&logged.leaf_bytes()).unwrap();
        assert_eq!(stored.to_envelope(), env);
        assert!(VerifiedEnvelope::decode_stored(&logged.leaf_bytes()).is_ok());
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (small order): y = 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(
            check_member_key(&identity, "k")
                .unwrap_err()
                .to_string()
                .contains("weak")
        );
        let good = SigningKey::from_bytes(&[3u8; 32])
            .verifying_key()
            .to_bytes();
        assert!(check_member_key(&good, "k").is_ok());
    }
}
