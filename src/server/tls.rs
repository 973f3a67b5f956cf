//! The server's TLS identity: a certificate chain and its private key, as
//! PEM, checked when the identity is built so that a wrong file is refused
//! with a reason before the ledger is opened, not at the first handshake.
//!
//! The bytes come from the caller (`coopledger serve` reads
//! `--tls-cert`/`--tls-key`; tests generate them), so this layer touches
//! no disk. Serving goes through tonic's rustls support with the ring
//! provider.

use std::fmt;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Identity, ServerTlsConfig};

use super::error::ServerError;

/// A checked TLS identity: a certificate chain (the server's certificate
/// first, then any intermediates, as in Let's Encrypt's `fullchain.pem`)
/// and the private key that belongs to its first certificate.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    /// How many certificates the chain holds (for the startup log).
    chain_len: usize,
}

impl fmt::Debug for TlsIdentity {
    // Never prints the key: a config is logged and printed in test failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("chain_len", &self.chain_len)
            .field("key", &"(redacted)")
            .finish()
    }
}

impl TlsIdentity {
    /// Checks a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1
    /// or SEC1) and keeps them: every certificate block must decode, the
    /// chain must not be empty, the key must be one rustls can sign with,
    /// and it must be the key of the chain's first certificate.
    ///
    /// Refused with [`ServerError::TlsCertificate`],
    /// [`ServerError::TlsKey`] or [`ServerError::TlsKeyMismatch`], so a
    /// caller that read the bytes from files can name the right one.
    pub fn from_pem(
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Result<TlsIdentity, ServerError> {
        let cert_chain_pem = cert_chain_pem.into();
        let key_pem = key_pem.into();
        let chain = CertificateDer::pem_slice_iter(&cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServerError::TlsCertificate(format!("is not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(ServerError::TlsCertificate(
                "holds no `-----BEGIN CERTIFICATE-----` block (a PEM certificate chain such as \
                 fullchain.pem is expected; was the key file given instead?)"
                    .to_string(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => ServerError::TlsKey(
                "holds no `-----BEGIN … PRIVATE KEY-----` block (a PEM private key such as \
                 privkey.pem is expected; was the certificate given instead?)"
                    .to_string(),
            ),
            e => ServerError::TlsKey(format!("is not valid PEM: {e}")),
        })?;
        let chain_len = chain.len();
        // The same checks tonic's acceptor makes, made here so each failure
        // names its file: the key must load with the provider that will
        // serve, and the first certificate must carry its public key.
        let provider = rustls::crypto::ring::default_provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| ServerError::TlsKey(format!("cannot be used: {e}")))?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(ServerError::TlsKeyMismatch);
            }
            // A key type whose public half rustls cannot compute: nothing
            // to compare, so it is accepted as rustls itself accepts it.
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(e) => {
                return Err(ServerError::TlsCertificate(format!(
                    "cannot be read: its first certificate is not a valid X.509 certificate ({e})"
                )));
            }
        }
        Ok(TlsIdentity {
            cert_chain_pem,
            key_pem,
            chain_len,
        })
    }

    /// How many certificates the chain holds.
    pub fn chain_len(&self) -> usize {
        self.chain_len
    }

    /// tonic's server TLS settings for this identity (HTTP/2 by ALPN, no
    /// client certificates: members authenticate by signing entries). A
    /// client that has not finished the handshake within
    /// `handshake_timeout` is dropped, so it cannot hold a slot forever.
    pub(super) fn server_tls_config(&self, handshake_timeout: Duration) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_chain_pem, &self.key_pem))
            .timeout(handshake_timeout)
    }
}
