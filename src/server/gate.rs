//! The members-only gate in front of the `Ledger` service: every read RPC
//! must carry a member's signature over the request (`verify::read`), fresh
//! (within the clock-skew window) and not replayed (a bounded cache of the
//! nonces seen in that window). Writes are signed entries already and pass
//! through, as do `GetServerInfo`, the latest checkpoint and the genesis
//! entry (what a joining member needs to pin the network). `serve
//! --public-read` turns the gate off for open networks.
//!
//! Open calls pass untouched. For the others the gate reads the request
//! body (one gRPC message; every read is unary-request) to check the
//! signature over the exact bytes sent, then hands the same bytes on, with the reader's handle and roles in the
//! request's extensions for the handlers' role checks.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body_util::BodyExt as _;
use prost::Message as _;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::log::Ledger;
use crate::pb;
use crate::verify::{READ_NONCE_BYTES, ReadAuthError, ReadClaim};

/// The member a signed read came from, for the handlers' role checks.
#[derive(Clone, Debug)]
pub struct Reader {
    /// The member's handle.
    pub handle: String,
    /// Their roles.
    pub roles: BTreeSet<pb::Role>,
}

impl Reader {
    /// Whether they hold `role` or are an admin.
    pub fn is(&self, role: pb::Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&pb::Role::Admin)
    }
}

const SERVICE: &str = "/coopledger.v1.Ledger/";

/// Calls that are open whatever they carry: what anyone needs to find the
/// network, and writes (signed entries already). They pass the gate without
/// their body being read or the state being locked.
fn always_open(path: &str) -> bool {
    matches!(
        path.strip_prefix(SERVICE),
        Some("GetServerInfo" | "GetCheckpoint" | "Submit" | "SubmitBatch")
    )
}

/// Whether a request is `GetEntry` of the genesis, which stays open: it
/// names the network, its currency and its founders, and a member who is
/// not admitted yet reads it (by sequence 0 or by the network id) to pin the
/// network.
fn is_genesis_read(path: &str, message: &[u8], network_id: &[u8; 32]) -> bool {
    path.strip_prefix(SERVICE) == Some("GetEntry")
        && match pb::GetEntryRequest::decode(message).map(|r| r.key) {
            Ok(Some(pb::get_entry_request::Key::Sequence(0))) => true,
            Ok(Some(pb::get_entry_request::Key::Id(id))) => id == network_id,
            _ => false,
        }
}

/// The nonces of recent signed reads, to refuse a replay.
struct Nonces {
    seen: HashMap<[u8; READ_NONCE_BYTES], i64>,
    order: VecDeque<([u8; READ_NONCE_BYTES], i64)>,
    max: usize,
}

impl Nonces {
    /// Records `nonce` (read at `time_ms`); false if it was seen. Nonces
    /// older than `now - window` are forgotten: their reads are refused as
    /// stale anyway.
    fn record(
        &mut self,
        nonce: [u8; READ_NONCE_BYTES],
        time_ms: i64,
        now: i64,
        window: i64,
    ) -> Result<(), Status> {
        while let Some((old, at)) = self.order.front().copied() {
            if at >= now.saturating_sub(window) {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&old);
        }
        if self.seen.contains_key(&nonce) {
            return Err(Status::unauthenticated(
                "this signed read was already used (its nonce was seen): sign each read anew",
            ));
        }
        if self.seen.len() >= self.max {
            return Err(Status::resource_exhausted(format!(
                "the server holds {} recent read nonces (max_read_nonces); retry shortly",
                self.max
            )));
        }
        self.seen.insert(nonce, time_ms);
        self.order
            .push_back((nonce, time_ms.max(now.saturating_sub(window))));
        Ok(())
    }
}

/// The gate around the `Ledger` service.
#[derive(Clone)]
pub struct ReadGate<S> {
    inner: S,
    ledger: Ledger,
    public_read: bool,
    nonces: Arc<Mutex<Nonces>>,
}

impl<S> ReadGate<S> {
    /// Wraps `inner`; with `public_read` every read passes unsigned.
    pub fn new(inner: S, ledger: Ledger, public_read: bool) -> Self {
        let max = ledger.limits().max_read_nonces;
        ReadGate {
            inner,
            ledger,
            public_read,
            nonces: Arc::new(Mutex::new(Nonces {
                seen: HashMap::new(),
                order: VecDeque::new(),
                max,
            })),
        }
    }
}

impl<S: NamedService> NamedService for ReadGate<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for ReadGate<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The ready service goes into the future; a clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if self.public_read || always_open(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let gate = self.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let max = gate.ledger.limits().max_message_bytes;
            let bytes = match http_body_util::Limited::new(body, max.saturating_add(5))
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    return Ok(Status::resource_exhausted(format!(
                        "the request could not be read (at most {max} bytes, max_message_bytes): {e}"
                    ))
                    .into_http());
                }
            };
            let method = parts.uri.path().to_string();
            let message = bytes.get(5..).unwrap_or_default();
            match gate.admit(&method, &parts.headers, message) {
                Ok(reader) => {
                    if let Some(reader) = reader {
                        parts.extensions.insert(reader);
                    }
                    let request = http::Request::from_parts(
                        parts,
                        Body::new(http_body_util::Full::new(bytes)),
                    );
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

impl<S> ReadGate<S> {
    /// Checks a request: `Ok(None)` for an open one, `Ok(Some(reader))`
    /// for a good signed read, the refusal otherwise.
    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        message: &[u8],
    ) -> Result<Option<Reader>, Status> {
        let state = self
            .ledger
            .state()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if state
            .network()
            .is_some_and(|n| is_genesis_read(path, message, &n.id.0))
        {
            return Ok(None);
        }
        let claim = ReadClaim::parse(|name| headers.get(name).and_then(|v| v.to_str().ok()))
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        let now = self.ledger.clock().now_ms();
        let window = i64::try_from(self.ledger.limits().max_clock_skew_ms).unwrap_or(i64::MAX);
        if claim.time_ms.abs_diff(now) > window.unsigned_abs() {
            return Err(Status::unauthenticated(format!(
                "the read is signed for {} but the server's clock says {} (more than {} s apart, max_clock_skew_ms): check this computer's clock",
                crate::scoring::time::format_rfc3339(claim.time_ms.div_euclid(1000)),
                crate::scoring::time::format_rfc3339(now.div_euclid(1000)),
                window / 1000
            )));
        }
        let network = state.network().ok_or_else(|| {
            Status::failed_precondition("the network has no genesis yet: nothing to read")
        })?;
        let member = state
            .key_holder(&claim.key)
            .map_err(Status::unauthenticated)?;
        claim
            .verify(&network.id.0, path, message)
            .map_err(|e: ReadAuthError| Status::unauthenticated(e.to_string()))?;
        let reader = Reader {
            handle: member.handle.clone(),
            roles: member.roles.clone(),
        };
        drop(state);
        self.nonces
            .lock()
            .map_err(|_| Status::internal("the read nonce cache lock is poisoned"))?
            .record(claim.nonce, claim.time_ms, now, window)?;
        Ok(Some(reader))
    }
}
