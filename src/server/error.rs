//! [`ServerError`]: why a server could not start or stopped with an error,
//! the server layer's one error type (a module of its own so that `tls.rs`
//! and `mod.rs` both use it without an import cycle).

use std::net::SocketAddr;

use crate::log::LedgerError;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The ledger could not be opened (storage, corruption, key file).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The gRPC transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The TLS certificate chain cannot be used; the text completes
    /// "the TLS certificate chain …".
    #[error("the TLS certificate chain {0}")]
    TlsCertificate(String),
    /// The TLS private key cannot be used; the text completes "the TLS
    /// private key …".
    #[error("the TLS private key {0}")]
    TlsKey(String),
    /// The TLS private key is not the key of the chain's first certificate.
    #[error(
        "the TLS private key does not belong to the certificate (the first certificate of the \
         chain must be the server's own, issued for this key)"
    )]
    TlsKeyMismatch,
}
