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

/// tonic answers an over-size message with `OutOfRange`: a request before
/// any of our code runs (the status in the response headers, where a
/// trailers-only error lives), a response after its headers are sent (the
/// status in the trailers). The spec asks for `ResourceExhausted` for both;
/// this rewrites exactly tonic's size-limit statuses, wherever they are,
/// and says what to do about an over-size answer.
pub fn map_size_limit_status(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    rewrite_size_limit(response.headers_mut());
    response.map(|body| {
        tonic::body::Body::new(http_body_util::BodyExt::map_frame(
            body,
            |frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    rewrite_size_limit(&mut trailers);
                    http_body::Frame::trailers(trailers)
                }
                Err(frame) => frame,
            },
        ))
    })
}

/// The message of an answer over `max_message_bytes`; `sizes` says how
/// large it is and the limit.
fn answer_too_large(sizes: &str) -> String {
    format!(
        "the answer is too large to send in one message ({sizes}, max_message_bytes): ask for \
         less (a shorter period or list, one member's explanation) or raise the server's \
         --max-message-bytes"
    )
}

/// A streamed item over `max` bytes becomes `ResourceExhausted` before tonic
/// sees it: tonic's own check would drop the items buffered before it.
pub fn within_message_limit<M: prost::Message>(item: M, max: usize) -> Result<M, Status> {
    let len = item.encoded_len();
    if len > max {
        return Err(Status::resource_exhausted(answer_too_large(&format!(
            "found {len} bytes, the limit is: {max} bytes"
        ))));
    }
    Ok(item)
}

/// Rewrites one header map holding tonic's size-limit status, if it does.
fn rewrite_size_limit(headers: &mut http::HeaderMap) {
    if headers.get("grpc-status").map(|v| v.as_bytes()) != Some(b"11") {
        return;
    }
    let Some(message) = headers.get("grpc-message").and_then(|v| {
        percent_encoding::percent_decode(v.as_bytes())
            .decode_utf8()
            .ok()
            .map(|m| m.into_owned())
    }) else {
        return;
    };
    let rewritten = if message.starts_with("Error, decoded message length too large") {
        format!("the request is too large: {message} (max_message_bytes)")
    } else if let Some(sizes) = message.strip_prefix("Error, encoded message length too large: ") {
        answer_too_large(sizes)
    } else {
        return;
    };
    if Status::resource_exhausted(rewritten)
        .add_header(headers)
        .is_err()
    {
        // The message could not be written as a header (it always can:
        // tonic percent-encodes it); the code alone is still right.
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
}

/// tonic answers a request it cannot decode with `Internal`, as gRPC's
/// status-code guide suggests for a parse failure; but the bytes came from
/// the client, and the spec (DECISIONS.md "Status codes") makes a malformed
/// request `InvalidArgument`, everywhere. This rewrites exactly tonic's own
/// request-decode failures (recognised by the messages tonic 0.14 and
/// tonic-prost 0.14 write, see `undecodable_request`) in the response
/// headers, leaving every other `Internal` (a real bug) as it is.
///
/// A request is decoded before its handler runs, so the failure is always a
/// trailers-only response: the status is in the headers, for unary and
/// server-streaming RPCs alike (`tests/e2e/garbage.rs` checks both).
pub fn map_undecodable_request_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    if headers.get("grpc-status").map(|v| v.as_bytes()) != Some(b"13") {
        return response;
    }
    let Some(message) = headers.get("grpc-message").and_then(|v| {
        percent_encoding::percent_decode(v.as_bytes())
            .decode_utf8()
            .ok()
            .map(|m| m.into_owned())
    }) else {
        return response;
    };
    let Some(rewritten) = undecodable_request(&message) else {
        return response;
    };
    let status = Status::invalid_argument(rewritten);
    if status.add_header(headers).is_err() {
        // The message could not be written as a header (it always can:
        // tonic percent-encodes it); the code alone is still right.
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    }
    if response.extensions().get::<Status>().is_some() {
        response.extensions_mut().insert(status);
    }
    response
}

/// What to tell the client when `message` is one of tonic's own failures to
/// decode a request, `None` for any other message. The three messages are
/// tonic's: prost's `DecodeError` (written by tonic-prost's decoder) always
/// starts with "failed to decode Protobuf message", tonic's frame decoder
/// says "Unexpected EOF decoding stream." when the body ends inside a
/// message frame, and its unary and server-streaming paths say "Missing
/// request message." when the body holds no message at all. A server only
/// ever decodes requests, so none of them can be about a response.
fn undecodable_request(message: &str) -> Option<String> {
    if message.starts_with("failed to decode Protobuf message") {
        Some(format!(
            "the request is not a valid protobuf encoding of this RPC's request message ({message})"
        ))
    } else if message == "Unexpected EOF decoding stream." {
        Some(format!(
            "the request ends inside a gRPC message frame ({message})"
        ))
    } else if message == "Missing request message." {
        Some(format!("the request carries no gRPC message ({message})"))
    } else {
        None
    }
}

impl From<crate::log::background::BackgroundError> for Status {
    /// A scoring thread that could not start or panicked: the server's
    /// fault, never the client's.
    fn from(e: crate::log::background::BackgroundError) -> Status {
        tracing::error!(error = %e, "scoring failed");
        Status::internal(e.to_string())
    }
}

/// A blocking task of a handler panicked or was cancelled: a bug or a
/// shutdown, never the client's fault.
pub fn task_failed(what: &str, e: &tokio::task::JoinError) -> Status {
    tracing::error!(error = %e, "{what} task failed");
    Status::internal(format!("the {what} task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trailers-only response, as tonic builds it for `status`.
    fn response(status: Status) -> http::Response<()> {
        status.into_http()
    }

    fn code_and_message(r: &http::Response<()>) -> (String, String) {
        let get = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| {
                    percent_encoding::percent_decode(v.as_bytes())
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .unwrap_or_default()
        };
        (get("grpc-status"), get("grpc-message"))
    }

    #[test]
    fn tonic_decode_failures_become_invalid_argument() {
        for (tonic_message, says) in [
            (
                "failed to decode Protobuf message: invalid varint",
                "not a valid protobuf encoding",
            ),
            (
                "failed to decode Protobuf message: SubmitRequest.envelope: buffer underflow",
                "SubmitRequest.envelope",
            ),
            (
                "Unexpected EOF decoding stream.",
                "ends inside a gRPC message frame",
            ),
            ("Missing request message.", "carries no gRPC message"),
        ] {
            let r = map_undecodable_request_status(response(Status::internal(tonic_message)));
            let (code, message) = code_and_message(&r);
            assert_eq!(code, "3", "{tonic_message}");
            assert!(message.contains(says), "{message}");
            assert!(message.contains(tonic_message), "{message}");
            let carried = r.extensions().get::<Status>().map(Status::code);
            assert_eq!(carried, Some(tonic::Code::InvalidArgument));
        }
    }

    #[test]
    fn other_statuses_are_left_alone() {
        for status in [
            Status::internal("the sequencer task failed: failed to decode Protobuf message"),
            Status::internal("internal error: sled: Unexpected EOF decoding stream."),
            Status::internal(""),
            Status::data_loss("failed to decode Protobuf message: stored"),
            Status::invalid_argument("failed to decode Protobuf message"),
        ] {
            let before = code_and_message(&response(status.clone()));
            let after = code_and_message(&map_undecodable_request_status(response(status)));
            assert_eq!(before, after);
        }
    }
}
