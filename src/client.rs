//! The author's side: building, signing and submitting entries. Used by the
//! CLI, the demo, the tests and the benches, so every client signs the same
//! way the server verifies.
//!
//! Every entry body has its one builder here (`*_body`): genesis, admit,
//! rotate, grant, revoke, adopt, log, attest, amend and retract a contribution,
//! evaluate, allocate, record and void a distribution. A new entry type
//! gets its builder here too.

use ed25519_dalek::SigningKey;

use crate::pb::{self, entry::Body};
use crate::verify::{EntryId, sign_entry};

/// A tonic client of the `Ledger` service over a plain channel.
pub type LedgerClient = pb::ledger_client::LedgerClient<tonic::transport::Channel>;

/// A tonic client of the `Ledger` service whose reads are signed with a
/// member's key ([`SignedChannel`]).
pub type MemberClient = pb::ledger_client::LedgerClient<SignedChannel>;

/// Any `Ledger` client transport: a plain [`tonic::transport::Channel`] or
/// a [`SignedChannel`].
pub trait Transport:
    tonic::client::GrpcService<
        tonic::body::Body,
        ResponseBody = tonic::body::Body,
        Error: Into<tonic::codegen::StdError>,
    >
{
}

impl<T> Transport for T where
    T: tonic::client::GrpcService<
            tonic::body::Body,
            ResponseBody = tonic::body::Body,
            Error: Into<tonic::codegen::StdError>,
        >
{
}

/// Who signs reads on a [`SignedChannel`].
struct ReadIdentity {
    key: SigningKey,
    network_id: [u8; 32],
}

/// A channel that signs every request it sends as a read by one member
/// (`verify::read`: the method, the request's exact bytes, the time and a
/// fresh nonce, for one network), so a members-only server answers it.
/// Without an identity it sends requests unsigned (the open reads, or a
/// `--public-read` server). Writes carry their own signatures and pass
/// through the same way (the server ignores the read headers on them).
#[derive(Clone)]
pub struct SignedChannel {
    inner: tonic::transport::Channel,
    reader: Option<std::sync::Arc<ReadIdentity>>,
}

impl SignedChannel {
    /// Signs reads with `key` for the network `network_id` (unsigned when
    /// there is no key, or no network yet).
    pub fn new(
        inner: tonic::transport::Channel,
        key: Option<SigningKey>,
        network_id: &[u8],
    ) -> Self {
        let reader = match (key, <[u8; 32]>::try_from(network_id)) {
            (Some(key), Ok(network_id)) => {
                Some(std::sync::Arc::new(ReadIdentity { key, network_id }))
            }
            _ => None,
        };
        SignedChannel { inner, reader }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for SignedChannel {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::codegen::StdError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // The ready channel goes into the future; a clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(reader) = self.reader.clone() else {
            return Box::pin(async move { inner.call(request).await.map_err(Into::into) });
        };
        Box::pin(async move {
            use http_body_util::BodyExt as _;
            let (mut parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            let mut nonce = [0u8; crate::verify::READ_NONCE_BYTES];
            getrandom::fill(&mut nonce)
                .map_err(|e| format!("no random bytes for a read nonce: {e}"))?;
            let headers = crate::verify::sign_read(
                &reader.key,
                &reader.network_id,
                parts.uri.path(),
                crate::ledger::now_ms(),
                &nonce,
                bytes.get(5..).unwrap_or_default(),
            );
            for (name, value) in headers {
                parts
                    .headers
                    .insert(name, http::HeaderValue::try_from(value)?);
            }
            let request = http::Request::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::Full::new(bytes)),
            );
            inner.call(request).await.map_err(Into::into)
        })
    }
}

/// A member's signing identity within one network.
#[derive(Clone)]
pub struct Signer {
    /// The member's handle.
    pub handle: String,
    /// The member's current key.
    pub key: SigningKey,
    /// The network id entries are bound to (empty before genesis).
    pub network_id: Vec<u8>,
}

/// Why an entry could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The system's random number generator failed (nonce).
    #[error("could not get random bytes for the entry nonce: {0}")]
    Random(String),
}

impl Signer {
    /// A signer for `handle` with `key` in the network `network_id`.
    pub fn new(handle: impl Into<String>, key: SigningKey, network_id: &[u8]) -> Self {
        Signer {
            handle: handle.into(),
            key,
            network_id: network_id.to_vec(),
        }
    }

    /// The public key, as the log records it.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Builds the entry for `body` stamped with the current time and a fresh
    /// nonce, and signs it.
    pub fn sign(&self, body: Body) -> Result<pb::Envelope, ClientError> {
        self.sign_at(body, crate::ledger::now_ms())
    }

    /// As [`Signer::sign`], with an explicit `created_at_ms` (tests of clock rules).
    pub fn sign_at(&self, body: Body, created_at_ms: i64) -> Result<pb::Envelope, ClientError> {
        let nonce = crate::verify::new_nonce().map_err(|e| ClientError::Random(e.to_string()))?;
        Ok(self.sign_with(body, created_at_ms, nonce))
    }

    /// As [`Signer::sign_at`], with a nonce the caller chose: `coopledger
    /// import` derives it from the file and the row, so that a rerun finds
    /// the rows that already landed (the nonce must still be unique per
    /// entry; ed25519 signatures are deterministic).
    pub fn sign_with(&self, body: Body, created_at_ms: i64, nonce: Vec<u8>) -> pb::Envelope {
        let entry = pb::Entry {
            network_id: self.network_id.clone(),
            author: self.handle.clone(),
            created_at_ms,
            nonce,
            body: Some(body),
        };
        sign_entry(&self.key, &entry)
    }

    /// The handle this signer signs as.
    pub fn handle(&self) -> &str {
        &self.handle
    }
}

/// The id an envelope will have in the log.
pub fn envelope_id(envelope: &pb::Envelope) -> EntryId {
    EntryId::of_pae(&crate::verify::pae(
        &envelope.payload_type,
        &envelope.payload,
    ))
}

/// A genesis body naming `founders` and the server's log key.
pub fn genesis_body(
    name: &str,
    currency: &str,
    decimals: u32,
    founders: &[(String, [u8; 32])],
    log_public_key: &[u8],
) -> Body {
    Body::Genesis(pb::Genesis {
        name: name.to_string(),
        currency: currency.to_string(),
        decimals,
        founders: founders
            .iter()
            .map(|(h, k)| pb::Founder {
                handle: h.clone(),
                public_key: k.to_vec(),
            })
            .collect(),
        log_public_key: log_public_key.to_vec(),
    })
}

/// An admit-member body: `handle` joins with `public_key` (admins sign it).
pub fn admit_body(handle: &str, public_key: &[u8]) -> Body {
    Body::AdmitMember(pb::AdmitMember {
        handle: handle.to_string(),
        public_key: public_key.to_vec(),
    })
}

/// An admin's suspension of `member` (their key stops signing and reading).
pub fn suspend_body(member: &str, reason: &str) -> Body {
    Body::SuspendMember(pb::SuspendMember {
        member: member.into(),
        reason: reason.into(),
    })
}

/// An admin's reinstatement of a suspended `member`.
pub fn reinstate_body(member: &str, reason: &str) -> Body {
    Body::ReinstateMember(pb::ReinstateMember {
        member: member.into(),
        reason: reason.into(),
    })
}

/// An admin's reset of `member`'s key to `new_public_key`.
pub fn reset_key_body(member: &str, new_public_key: &[u8], reason: &str) -> Body {
    Body::ResetKey(pb::ResetKey {
        member: member.into(),
        new_public_key: new_public_key.to_vec(),
        reason: reason.into(),
    })
}

/// A rotate-key body: the author's key is replaced by `new_public_key`.
pub fn rotate_body(new_public_key: &[u8]) -> Body {
    Body::RotateKey(pb::RotateKey {
        new_public_key: new_public_key.to_vec(),
    })
}

/// A grant-role body: `member` gains `role` (admins sign it).
pub fn grant_body(member: &str, role: pb::Role) -> Body {
    Body::GrantRole(pb::GrantRole {
        member: member.to_string(),
        role: role as i32,
    })
}

/// A revoke-role body: `member` loses `role` (admins sign it).
pub fn revoke_body(member: &str, role: pb::Role) -> Body {
    Body::RevokeRole(pb::RevokeRole {
        member: member.to_string(),
        role: role as i32,
    })
}

/// An adopt-policy body carrying the policy JSON bytes exactly as given
/// (admins sign it; the server checks them).
pub fn adopt_body(policy_json: &[u8]) -> Body {
    Body::AdoptPolicy(pb::AdoptPolicy {
        policy_json: policy_json.to_vec(),
    })
}

/// A log-contribution body.
pub fn contribution_body(contribution: pb::Contribution) -> Body {
    Body::LogContribution(pb::LogContribution {
        contribution: Some(contribution),
    })
}

/// An attest-contribution body: an admin records `contribution` as
/// `member`'s, saying where it came from (`source`, e.g. a file and row).
pub fn attest_body(member: &str, contribution: pb::Contribution, source: &str) -> Body {
    Body::AttestContribution(pb::AttestContribution {
        member: member.to_string(),
        contribution: Some(contribution),
        source: source.to_string(),
    })
}

/// An amend-contribution body: the contribution whose id bytes are
/// `contribution_id` gets `fields` in place of its current ones. The id is
/// taken as bytes, as the log carries it (a wrong length is the server's to
/// refuse).
pub fn amend_body(contribution_id: &[u8], fields: pb::Contribution) -> Body {
    Body::AmendContribution(pb::AmendContribution {
        contribution_id: contribution_id.to_vec(),
        contribution: Some(fields),
    })
}

/// A retract-contribution body for the contribution whose id bytes are
/// `contribution_id`, with the author's `reason`.
pub fn retract_body(contribution_id: &[u8], reason: &str) -> Body {
    Body::RetractContribution(pb::RetractContribution {
        contribution_id: contribution_id.to_vec(),
        reason: reason.to_string(),
    })
}

/// An evaluation body.
pub fn evaluate_body(
    contribution: &EntryId,
    verdict: pb::Verdict,
    rating: Option<u32>,
    note: &str,
) -> Body {
    Body::Evaluate(pb::Evaluate {
        contribution_id: contribution.0.to_vec(),
        verdict: verdict as i32,
        rating,
        note: note.to_string(),
    })
}

/// An allocation body for `[start, end)`.
pub fn allocate_body(start: i64, end: i64, shares: &[(&str, u32)]) -> Body {
    Body::Allocate(pb::Allocate {
        period: Some(pb::Period { start, end }),
        shares: shares
            .iter()
            .map(|(m, p)| pb::AllocationShare {
                member: m.to_string(),
                percent: *p,
            })
            .collect(),
    })
}

/// A record-distribution body: `record` as
/// [`FetchedPreview::record_to_sign`] (or the payout core) builds it
/// (treasurers sign it).
pub fn distribution_body(record: pb::RecordDistribution) -> Body {
    Body::RecordDistribution(record)
}

/// A void-distribution body for the recorded distribution whose entry id
/// bytes are `distribution_id`, with the treasurer's `reason`.
pub fn void_body(distribution_id: &[u8], reason: &str) -> Body {
    Body::VoidDistribution(pb::VoidDistribution {
        distribution_id: distribution_id.to_vec(),
        reason: reason.to_string(),
    })
}

/// A preview as a client receives it: the header, and the report (and, when
/// asked, the scenario) JSON put back together from its pieces.
#[derive(Debug, Clone)]
pub struct FetchedPreview {
    /// Digest, log size, policy version, the record to sign, why not.
    pub header: pb::SharesReportHeader,
    /// The report JSON.
    pub report_json: String,
    /// The scenario JSON (empty unless asked for).
    pub scenario_json: String,
}

/// Why a streamed answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server refused or failed.
    #[error(transparent)]
    Status(#[from] tonic::Status),
    /// The answer is not what the protocol promises.
    #[error("the server's answer is malformed: {0}")]
    Malformed(String),
}

/// Asks for a preview and puts its pieces together.
pub async fn fetch_preview<T: Transport>(
    client: &mut pb::ledger_client::LedgerClient<T>,
    request: pb::ComputeSharesRequest,
) -> Result<FetchedPreview, FetchError> {
    let mut stream = client.compute_shares(request).await?.into_inner();
    let mut header = None;
    let (mut report, mut scenario) = (Vec::new(), Vec::new());
    while let Some(part) = stream.message().await? {
        if let Some(h) = part.header {
            header = Some(h);
        }
        report.extend_from_slice(&part.report_json);
        scenario.extend_from_slice(&part.scenario_json);
    }
    let text = |bytes: Vec<u8>, what: &str| {
        String::from_utf8(bytes).map_err(|_| FetchError::Malformed(format!("{what} is not UTF-8")))
    };
    Ok(FetchedPreview {
        header: header.ok_or_else(|| FetchError::Malformed("no header part".into()))?,
        report_json: text(report, "the report")?,
        scenario_json: text(scenario, "the scenario")?,
    })
}

/// Asks for one member's breakdown and puts its pieces together (JSON).
pub async fn fetch_explanation<T: Transport>(
    client: &mut pb::ledger_client::LedgerClient<T>,
    request: pb::ExplainRequest,
) -> Result<String, FetchError> {
    let mut stream = client.explain(request).await?.into_inner();
    let mut json = Vec::new();
    while let Some(part) = stream.message().await? {
        json.extend_from_slice(&part.explanation_json);
    }
    String::from_utf8(json)
        .map_err(|_| FetchError::Malformed("the explanation is not UTF-8".into()))
}

impl FetchedPreview {
    /// The canonical report (spec/DECISIONS.md) rebuilt from the report this
    /// client received, and its digest: a treasurer signs only a digest of
    /// the figures they were shown, whatever the server proposes.
    pub fn recompute_digest(&self) -> Result<[u8; 32], FetchError> {
        let report: serde_json::Value = serde_json::from_str(&self.report_json)
            .map_err(|e| FetchError::Malformed(format!("the report is not JSON: {e}")))?;
        let period = self
            .header
            .period
            .as_ref()
            .ok_or_else(|| FetchError::Malformed("the header names no period".into()))?;
        let buckets = report["buckets"]
            .as_array()
            .ok_or_else(|| FetchError::Malformed("the report has no buckets".into()))?;
        let canonical = crate::payout::canonical_json_of(
            (
                (period.start, period.end),
                self.header.income,
                self.header.policy_version,
                self.header.log_size,
            ),
            &report["payouts"],
            &report["reserve"],
            buckets.iter().map(|b| &b["paid"]),
            &report["repayments"],
        );
        Ok(crate::payout::digest_of(&canonical))
    }

    /// The record body for exactly what was shown: the requested period and
    /// income, the header's policy version and log size, and the digest
    /// recomputed here. Refuses when the server's proposed record differs
    /// (a proxy or a faulty server swapping the period, the income or the
    /// digest).
    pub fn record_to_sign(
        &self,
        period: (i64, i64),
        income: u64,
    ) -> Result<pb::RecordDistribution, FetchError> {
        let digest = self.recompute_digest()?;
        if self.header.digest.as_slice() != digest.as_slice() {
            return Err(FetchError::Malformed(format!(
                "the server's digest {} is not the digest of the report it sent ({})",
                hex::encode(&self.header.digest),
                hex::encode(digest)
            )));
        }
        let ours = pb::RecordDistribution {
            period: Some(pb::Period {
                start: period.0,
                end: period.1,
            }),
            income: Some(income),
            policy_version: self.header.policy_version,
            log_size: self.header.log_size,
            digest: digest.to_vec(),
        };
        match &self.header.record {
            Some(proposed) if *proposed == ours => Ok(ours),
            Some(proposed) => Err(FetchError::Malformed(format!(
                "the server proposed a record that differs from the report shown ({proposed:?}, expected {ours:?})"
            ))),
            None => Err(FetchError::Malformed(format!(
                "this distribution cannot be recorded: {}",
                self.header.not_recordable
            ))),
        }
    }
}
