//! The one place where the ledger's errors become gRPC statuses.
//!
//! Every layer below returns its own error type; the mapping to codes lives
//! here so the same refusal always carries the same code (spec/DECISIONS.md
//! "Status codes").

use tonic::{Code, Status};

use crate::ledger::Refusal;
use crate::log::LedgerError;

impl From<Refusal> for Status {
    fn from(r: Refusal) -> Status {
        let code = match &r {
            Refusal::InvalidArgument(_) => Code::InvalidArgument,
            Refusal::Unauthenticated(_) => Code::Unauthenticated,
            Refusal::PermissionDenied(_) => Code::PermissionDenied,
            Refusal::NotFound(_) => Code::NotFound,
            Refusal::AlreadyExists(_) => Code::AlreadyExists,
            Refusal::FailedPrecondition(_) => Code::FailedPrecondition,
            Refusal::ResourceExhausted(_) => Code::ResourceExhausted,
        };
        Status::new(code, r.to_string())
    }
}

impl From<LedgerError> for Status {
    fn from(e: LedgerError) -> Status {
        match e {
            LedgerError::Refused(r) => r.into(),
            LedgerError::Corrupt { .. } | LedgerError::Damaged { .. } => {
                Status::data_loss(e.to_string())
            }
            LedgerError::Unavailable(_) => Status::unavailable(e.to_string()),
            LedgerError::WriteFailed { disk_full, .. } => {
                if disk_full {
                    Status::resource_exhausted(e.to_string())
                } else {
                    Status::unavailable(e.to_string())
                }
            }
            LedgerError::Internal(_) | LedgerError::KeyFile { .. } => {
                let message = e.with_causes();
                tracing::error!(error = %message, "internal error");
                Status::internal(message)
            }
            LedgerError::Storage { .. } | LedgerError::Io { .. } | LedgerError::InUse { .. } => {
                let message = e.with_causes();
                tracing::error!(error = %message, "internal error");
                Status::internal(message)
            }
        }
    }
}

/// tonic answers an over-size request with `OutOfRange` before any of our
/// code runs; the spec asks for `ResourceExhausted`. This rewrites that one
/// status in the response headers (where a trailers-only error lives).
pub fn map_size_limit_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let out_of_range = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"11");
    let too_large = headers.get("grpc-message").is_some_and(|v| {
        String::from_utf8_lossy(v.as_bytes()).contains("too%20large")
            || String::from_utf8_lossy(v.as_bytes()).contains("too large")
    });
    if out_of_range && too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

/// A blocking task of a handler panicked or was cancelled: a bug or a
/// shutdown, never the client's fault.
pub fn task_failed(what: &str, e: &tokio::task::JoinError) -> Status {
    tracing::error!(error = %e, "{what} task failed");
    Status::internal(format!("the {what} task failed: {e}"))
}
