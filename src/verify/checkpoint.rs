//! Signed checkpoints in the transparency-log checkpoint format (C2SP
//! tlog-checkpoint over a C2SP signed note): the log's origin, size and root,
//! signed by the server's log key.
//!
//! ```text
//! coopledger/<log key hex>
//! 42
//! <base64 root>
//!
//! — coopledger/<log key hex> <base64(key id ‖ ed25519 signature)>
//! ```
//!
//! The key id is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public
//! key), 0x01 being the Ed25519 signature type. Like `proof.rs`, this module
//! needs nothing from the server, so a member's client can check a
//! checkpoint alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::proof::Hash;

/// A log state: origin, number of entries and Merkle root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log: `coopledger/<log public key hex>`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Merkle root of those entries.
    pub root: Hash,
}

/// Why a checkpoint note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note is not shaped as a signed checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The note is for another log.
    #[error("checkpoint origin {got:?} is not this log's origin {expected:?}")]
    WrongOrigin {
        /// The origin in the note.
        got: String,
        /// The origin expected.
        expected: String,
    },
    /// No signature line by the log key, or its signature does not verify.
    #[error("checkpoint is not signed by the log key {0}")]
    BadSignature(String),
}

/// The origin line of the log whose key is `log_public_key`.
pub fn origin_of(log_public_key: &[u8; 32]) -> String {
    format!("coopledger/{}", hex::encode(log_public_key))
}

/// The 4-byte key id of an Ed25519 note key.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// The signed note, signed by `key` under the origin as key name.
    pub fn sign(&self, key: &SigningKey) -> String {
        let text = self.text();
        let sig = key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(&self.origin, &key.verifying_key().to_bytes()));
        blob.extend_from_slice(&sig.to_bytes());
        format!(
            "{text}\n\u{2014} {} {}\n",
            self.origin,
            STANDARD.encode(blob)
        )
    }

    /// Parses a signed checkpoint note and verifies the log key's signature;
    /// the origin must be the one of `log_public_key`.
    pub fn verify(note: &str, log_public_key: &[u8; 32]) -> Result<Checkpoint, CheckpointError> {
        let malformed = |m: &str| CheckpointError::Malformed(m.to_string());
        let expected_origin = origin_of(log_public_key);
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        let mut lines = text.lines();
        let origin = lines.next().ok_or_else(|| malformed("no origin line"))?;
        let size = lines
            .next()
            .and_then(|s| {
                if s.len() > 1 && s.starts_with('0') {
                    None
                } else {
                    s.parse::<u64>().ok()
                }
            })
            .ok_or_else(|| malformed("the second line must be the tree size in decimal"))?;
        let root = lines
            .next()
            .and_then(|r| STANDARD.decode(r).ok())
            .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
            .ok_or_else(|| malformed("the third line must be a base64 32-byte root"))?;
        if origin != expected_origin {
            return Err(CheckpointError::WrongOrigin {
                got: origin.to_string(),
                expected: expected_origin,
            });
        }
        let id = key_id(origin, log_public_key);
        let key = VerifyingKey::from_bytes(log_public_key)
            .map_err(|_| CheckpointError::BadSignature(hex::encode(log_public_key)))?;
        let signed = sigs.lines().any(|line| {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return false;
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return false;
            };
            let Ok(blob) = STANDARD.decode(b64) else {
                return false;
            };
            name == origin
                && blob.len() == 68
                && blob[..4] == id
                && <[u8; 64]>::try_from(&blob[4..]).is_ok_and(|s| {
                    key.verify_strict(text.as_bytes(), &Signature::from_bytes(&s))
                        .is_ok()
                })
        });
        if !signed {
            return Err(CheckpointError::BadSignature(hex::encode(log_public_key)));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_fails() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let pk = key.verifying_key().to_bytes();
        let cp = Checkpoint {
            origin: origin_of(&pk),
            size: 42,
            root: [7u8; 32],
        };
        let note = cp.sign(&key);
        assert!(note.starts_with(&format!("{}\n42\n", cp.origin)));
        assert_eq!(Checkpoint::verify(&note, &pk).unwrap(), cp);
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            Checkpoint::verify(&tampered, &pk),
            Err(CheckpointError::BadSignature(_))
        ));
        let other = SigningKey::from_bytes(&[6u8; 32])
            .verifying_key()
            .to_bytes();
        assert!(matches!(
            Checkpoint::verify(&note, &other),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }
}
