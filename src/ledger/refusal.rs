//! Why the ledger refuses an entry or a request: one variant per gRPC status
//! code of spec/DECISIONS.md. The server turns refusals into `tonic::Status`
//! in exactly one place (`server::status`), so every refusal carries the
//! same code wherever it was raised.

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

impl From<crate::verify::EnvelopeError> for Refusal {
    fn from(e: crate::verify::EnvelopeError) -> Self {
        use crate::verify::EnvelopeError;
        match e {
            EnvelopeError::TooLarge { .. } => Refusal::ResourceExhausted(e.to_string()),
            EnvelopeError::Malformed(m) => Refusal::InvalidArgument(m),
            EnvelopeError::NotCanonical { .. } => Refusal::InvalidArgument(e.to_string()),
            EnvelopeError::Forged(m) => Refusal::Unauthenticated(m),
        }
    }
}
