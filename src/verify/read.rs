//! Signed reads: what a member signs to read a members-only log, so the
//! server (and any other implementation) can tell who is reading, that the
//! request is the one they sent, and that it is not replayed.
//!
//! A read carries four ASCII metadata headers:
//!
//! | header                        | value                                   |
//! |-------------------------------|-----------------------------------------|
//! | `coopledger-read-key`         | the member's ed25519 public key, hex    |
//! | `coopledger-read-time`        | milliseconds since the Unix epoch       |
//! | `coopledger-read-nonce`       | 16 random bytes, hex                    |
//! | `coopledger-read-signature`   | ed25519 signature of the message, hex   |
//!
//! The signed message is UTF-8 lines joined by `\n` (no trailing newline):
//!
//! ```text
//! coopledger-read-v1
//! <network id, hex>
//! <gRPC method path, e.g. /coopledger.v1.Ledger/ListEntries>
//! <time, decimal>
//! <nonce, hex>
//! <blake3 of the request message's protobuf bytes as sent, hex>
//! ```
//!
//! The request digest covers the gRPC message exactly as sent (the bytes
//! after the 5-byte gRPC frame header), so a proxy cannot change what is
//! asked; the method path stops a signature for one RPC being used for
//! another; the network id stops one cooperative's read being replayed to
//! another; time and nonce bound replay (the server keeps the nonces it saw
//! within the clock-skew window).

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

/// The first line of every signed read.
pub const READ_CONTEXT: &str = "coopledger-read-v1";
/// Metadata header: the reader's public key, hex.
pub const READ_KEY_HEADER: &str = "coopledger-read-key";
/// Metadata header: the time of the read, ms since the Unix epoch.
pub const READ_TIME_HEADER: &str = "coopledger-read-time";
/// Metadata header: the read's nonce, 16 bytes hex.
pub const READ_NONCE_HEADER: &str = "coopledger-read-nonce";
/// Metadata header: the signature, 64 bytes hex.
pub const READ_SIGNATURE_HEADER: &str = "coopledger-read-signature";

/// Bytes of a read nonce.
pub const READ_NONCE_BYTES: usize = 16;

/// The message a reader signs.
pub fn read_message(
    network_id: &[u8; 32],
    method: &str,
    time_ms: i64,
    nonce: &[u8; READ_NONCE_BYTES],
    request_digest: &[u8; 32],
) -> Vec<u8> {
    format!(
        "{READ_CONTEXT}\n{}\n{method}\n{time_ms}\n{}\n{}",
        hex::encode(network_id),
        hex::encode(nonce),
        hex::encode(request_digest)
    )
    .into_bytes()
}

/// The digest of a request message as sent.
pub fn request_digest(message: &[u8]) -> [u8; 32] {
    *blake3::hash(message).as_bytes()
}

/// The four header values of a signed read, in header order (key, time,
/// nonce, signature).
pub fn sign_read(
    key: &SigningKey,
    network_id: &[u8; 32],
    method: &str,
    time_ms: i64,
    nonce: &[u8; READ_NONCE_BYTES],
    message: &[u8],
) -> [(&'static str, String); 4] {
    let signed = read_message(network_id, method, time_ms, nonce, &request_digest(message));
    [
        (READ_KEY_HEADER, hex::encode(key.verifying_key().to_bytes())),
        (READ_TIME_HEADER, time_ms.to_string()),
        (READ_NONCE_HEADER, hex::encode(nonce)),
        (
            READ_SIGNATURE_HEADER,
            hex::encode(key.sign(&signed).to_bytes()),
        ),
    ]
}

/// A signed read's headers, parsed but not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadClaim {
    /// The reader's key.
    pub key: [u8; 32],
    /// When the reader says it read.
    pub time_ms: i64,
    /// The nonce.
    pub nonce: [u8; READ_NONCE_BYTES],
    /// The signature.
    pub signature: [u8; 64],
}

/// Why a read's signature headers are not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadAuthError {
    /// No signature headers at all.
    #[error(
        "this log is members-only: sign the read with a member's key (headers coopledger-read-key, -time, -nonce, -signature; see the README, \"Signed reads\")"
    )]
    Unsigned,
    /// A header is missing or malformed.
    #[error("{header}: {problem}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The signature does not verify.
    #[error(
        "the read's signature does not verify for this request (method, request bytes, time, nonce and network id are all signed)"
    )]
    BadSignature,
}

impl ReadClaim {
    /// Parses the headers, given a lookup by header name.
    pub fn parse<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ReadAuthError> {
        let names = [
            READ_KEY_HEADER,
            READ_TIME_HEADER,
            READ_NONCE_HEADER,
            READ_SIGNATURE_HEADER,
        ];
        if names.iter().all(|n| header(n).is_none()) {
            return Err(ReadAuthError::Unsigned);
        }
        let get = |name: &'static str| {
            header(name).ok_or(ReadAuthError::Malformed {
                header: name,
                problem: "is missing".into(),
            })
        };
        fn hex_bytes<const N: usize>(
            name: &'static str,
            value: &str,
        ) -> Result<[u8; N], ReadAuthError> {
            let bytes = hex::decode(value).map_err(|e| ReadAuthError::Malformed {
                header: name,
                problem: format!("not hex ({e})"),
            })?;
            <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| ReadAuthError::Malformed {
                header: name,
                problem: format!("must be {N} bytes, got {}", bytes.len()),
            })
        }
        // Checked in header order, so the first bad one is named.
        let key = hex_bytes::<32>(READ_KEY_HEADER, get(READ_KEY_HEADER)?)?;
        let time_ms =
            get(READ_TIME_HEADER)?
                .parse::<i64>()
                .map_err(|e| ReadAuthError::Malformed {
                    header: READ_TIME_HEADER,
                    problem: format!("not milliseconds since the Unix epoch ({e})"),
                })?;
        Ok(ReadClaim {
            key,
            time_ms,
            nonce: hex_bytes::<READ_NONCE_BYTES>(READ_NONCE_HEADER, get(READ_NONCE_HEADER)?)?,
            signature: hex_bytes::<64>(READ_SIGNATURE_HEADER, get(READ_SIGNATURE_HEADER)?)?,
        })
    }

    /// Checks the signature over this request.
    pub fn verify(
        &self,
        network_id: &[u8; 32],
        method: &str,
        message: &[u8],
    ) -> Result<(), ReadAuthError> {
        let key = VerifyingKey::from_bytes(&self.key).map_err(|_| ReadAuthError::Malformed {
            header: READ_KEY_HEADER,
            problem: "not a valid ed25519 public key".into(),
        })?;
        let signed = read_message(
            network_id,
            method,
            self.time_ms,
            &self.nonce,
            &request_digest(message),
        );
        key.verify_strict(
            &signed,
            &ed25519_dalek::Signature::from_bytes(&self.signature),
        )
        .map_err(|_| ReadAuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;

    #[test]
    fn a_signed_read_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let network = [1u8; 32];
        let headers = sign_read(
            &key,
            &network,
            "/coopledger.v1.Ledger/ListEntries",
            42,
            &[9; 16],
            b"req",
        );
        let get = |n: &str| {
            headers
                .iter()
                .find(|(h, _)| *h == n)
                .map(|(_, v)| v.as_str())
        };
        let claim = ReadClaim::parse(get).unwrap();
        claim
            .verify(&network, "/coopledger.v1.Ledger/ListEntries", b"req")
            .unwrap();
        for (net, method, body) in [
            ([2u8; 32], "/coopledger.v1.Ledger/ListEntries", &b"req"[..]),
            (network, "/coopledger.v1.Ledger/GetEntry", &b"req"[..]),
            (network, "/coopledger.v1.Ledger/ListEntries", &b"reQ"[..]),
        ] {
            assert_eq!(
                claim.verify(&net, method, body),
                Err(ReadAuthError::BadSignature)
            );
        }
        assert_eq!(ReadClaim::parse(|_| None), Err(ReadAuthError::Unsigned));
    }
}
