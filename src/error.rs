//! The error types of the ledger layers, each classified by what the caller
//! can do about it. The service turns them into `tonic::Status` in exactly one
//! place (`service::status`), so every refusal carries the same code wherever
//! it was raised.

/// Why an entry, a request or a read was refused. Each variant is one gRPC
/// status code (spec/DECISIONS.md "Status codes"); the message names the
/// field or the rule so a person can act on it. A refusal never writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Malformed envelope or entry, a field out of range, an unknown enum, a bad time.
    #[error("{0}")]
    InvalidArgument(String),
    /// The signature does not verify, or the key is unknown or rotated out.
    #[error("{0}")]
    Unauthenticated(String),
    /// The signer lacks the role, or acts on themselves or on another's contribution.
    #[error("{0}")]
    PermissionDenied(String),
    /// A referenced member, contribution or entry does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A handle or key already taken, a role already held.
    #[error("{0}")]
    AlreadyExists(String),
    /// A retracted contribution, the wrong network, no network yet.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A message, batch, stream or table over its configured limit.
    #[error("{0}")]
    ResourceExhausted(String),
}

impl Refusal {
    /// Prefixes the message with where in a request the problem is (for
    /// example `envelopes[3]`), keeping the code.
    pub fn within(self, place: &str) -> Self {
        let wrap = |m: String| format!("{place}: {m}");
        match self {
            Refusal::InvalidArgument(m) => Refusal::InvalidArgument(wrap(m)),
            Refusal::Unauthenticated(m) => Refusal::Unauthenticated(wrap(m)),
            Refusal::PermissionDenied(m) => Refusal::PermissionDenied(wrap(m)),
            Refusal::NotFound(m) => Refusal::NotFound(wrap(m)),
            Refusal::AlreadyExists(m) => Refusal::AlreadyExists(wrap(m)),
            Refusal::FailedPrecondition(m) => Refusal::FailedPrecondition(wrap(m)),
            Refusal::ResourceExhausted(m) => Refusal::ResourceExhausted(wrap(m)),
        }
    }
}

/// Errors of the log store and sequencer: refusals of bad input, plus the
/// failures no client caused (storage, corruption, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The input was refused; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// sled reported an I/O or internal error.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record does not match what was written: the log was altered
    /// or damaged outside coopledger. Names the sequence number.
    #[error("log corrupted at sequence {sequence}: {detail}")]
    Corrupt {
        /// The first sequence number found damaged.
        sequence: u64,
        /// What did not match.
        detail: String,
    },
    /// The sequencer has stopped (shutdown, or an earlier write failed).
    #[error("the ledger is not accepting writes: {0}")]
    Unavailable(String),
    /// A file the ledger needs (the log key) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for the store and sequencer.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
