//! The gRPC service `coopledger.v1.Ledger` over an open [`Ledger`].
//!
//! Handlers do the stateless work (decode, verify signatures, check field
//! shapes) on their own tasks, in parallel, and hand verified entries to the
//! sequencer. Errors become `Status` only through `status.rs`.

use super::gate::Reader;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::ledger::Refusal;
use crate::ledger::body_kind;
use crate::ledger::{CheckedEntry, MemberState};
use crate::log::LedgerError;
use crate::log::{Ledger, Receipt, SignedHead};
use crate::pb;
use crate::verify::{EntryId, EnvelopeError, VerifiedEnvelope};

use super::payout;
use super::status::{task_failed, within_message_limit};
use crate::log::background::{lower_this_threads_priority, run_on_own_thread};

/// The tonic service implementation.
#[derive(Clone)]
pub struct LedgerService {
    ledger: Ledger,
    subscribers: Arc<Semaphore>,
    /// Previews and explanations being scored (`max_concurrent_previews`).
    previews: Arc<Semaphore>,
}

impl LedgerService {
    /// Serves `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        let subscribers = Arc::new(Semaphore::new(ledger.limits().max_subscribers));
        let previews = Arc::new(Semaphore::new(ledger.limits().max_concurrent_previews));
        LedgerService {
            ledger,
            subscribers,
            previews,
        }
    }
}

type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::LoggedEntry, Status>> + Send>>;

/// Entries one blocking read of `ListEntries` covers.
const LIST_CHUNK: u64 = 512;

/// What a `ListEntries` call keeps.
struct ListFilter {
    kinds: Vec<pb::EntryKind>,
    member: String,
    period: Option<(i64, i64)>,
}

/// Reads entries `[from, to)` that pass `filter`, at most `wanted`, under
/// one read of the state; an error ends the chunk (and the stream).
fn read_chunk(
    ledger: &Ledger,
    from: u64,
    to: u64,
    filter: &ListFilter,
    wanted: u64,
) -> Vec<Result<pb::LoggedEntry, Status>> {
    let mut out = Vec::new();
    let state = match ledger.state() {
        Ok(state) => state,
        Err(e) => return vec![Err(Status::from(e))],
    };
    for item in ledger.store().entries(from, to) {
        if out.len() as u64 >= wanted {
            break;
        }
        let decoded = item.map_err(Status::from).and_then(|(seq, leaf)| {
            VerifiedEnvelope::decode_stored(&leaf)
                .map(|v| (seq, v))
                .map_err(|e| {
                    Status::from(LedgerError::Corrupt {
                        sequence: seq,
                        detail: e.to_string(),
                    })
                })
        });
        let (seq, v) = match decoded {
            Ok(ok) => ok,
            Err(status) => {
                out.push(Err(status));
                break;
            }
        };
        let keep = (filter.kinds.is_empty()
            || v.entry
                .body
                .as_ref()
                .is_some_and(|b| filter.kinds.contains(&body_kind(b))))
            && (filter.member.is_empty() || state.concerns(&v.entry, &filter.member))
            && filter
                .period
                .is_none_or(|(s, e)| state.dated_in(&v.entry, s, e));
        if keep {
            out.push(Ok(logged(seq, v)));
        }
    }
    out
}

/// Entries verified per blocking task in a batch: enough to amortise the
/// hand-off, small enough to use every core on one large batch.
const VERIFY_CHUNK: usize = 64;

/// Verifies a request's envelopes and runs the stateless checks of every
/// field, on the request's own task (in parallel across blocking tasks when
/// there are many), naming the first bad one. Only what passes reaches the
/// sequencer.
async fn check_all(
    envelopes: Vec<pb::Envelope>,
    ledger: &Ledger,
    batch: bool,
) -> Result<Vec<CheckedEntry>, Status> {
    let name = move |i: usize, r: Refusal| {
        if batch {
            r.within(&format!("envelopes[{i}]"))
        } else {
            r
        }
    };
    let check = |e: &pb::Envelope, ledger: &Ledger| {
        verify_arriving(e, ledger).and_then(|v| CheckedEntry::new(v, ledger.limits()))
    };
    if envelopes.len() <= VERIFY_CHUNK {
        return envelopes
            .iter()
            .enumerate()
            .map(|(i, e)| check(e, ledger).map_err(|r| Status::from(name(i, r))))
            .collect();
    }
    let envelopes = Arc::new(envelopes);
    let tasks: Vec<_> = (0..envelopes.len())
        .step_by(VERIFY_CHUNK)
        .map(|start| {
            let (envelopes, ledger) = (envelopes.clone(), ledger.clone());
            tokio::task::spawn_blocking(move || {
                let end = (start + VERIFY_CHUNK).min(envelopes.len());
                (start..end)
                    .map(|i| check(&envelopes[i], &ledger).map_err(|r| (i, r)))
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    let mut out = Vec::with_capacity(envelopes.len());
    for t in tasks {
        let part = t.await.map_err(|e| task_failed("verification", &e))?;
        out.extend(part.map_err(|(i, r)| Status::from(name(i, r)))?);
    }
    Ok(out)
}

/// Verifies one arriving envelope ([`VerifiedEnvelope::verify`]: sizes,
/// signature, decode, canonical form). A payload that is not in canonical
/// form is refused unless that very envelope is already in the log, stored
/// before the rule: resubmitting a stored envelope is idempotent for every
/// entry (spec/DECISIONS.md), so it goes on to the sequencer, which finds
/// the duplicate, writes nothing and answers with the first receipt. No
/// entry that is not already in the log gets past this.
fn verify_arriving(e: &pb::Envelope, ledger: &Ledger) -> Result<VerifiedEnvelope, Refusal> {
    match VerifiedEnvelope::verify(e, ledger.limits().max_payload_bytes) {
        Err(refused @ EnvelopeError::NotCanonical { .. }) => {
            let stored = VerifiedEnvelope::verify_logged(e)
                .ok()
                .filter(|v| matches!(ledger.sequence_of(&v.id), Ok(Some(_))));
            stored.ok_or_else(|| refused.into())
        }
        verified => verified.map_err(Refusal::from),
    }
}

fn signed_checkpoint(h: &SignedHead) -> pb::SignedCheckpoint {
    pb::SignedCheckpoint {
        note: h.note.to_string(),
        size: h.head.size,
        root: h.head.root.to_vec(),
    }
}

fn receipt(r: &Receipt) -> pb::Receipt {
    pb::Receipt {
        sequence: r.sequence,
        id: r.id.0.to_vec(),
        duplicate: r.duplicate,
        log_size: r.head.head.size,
        root: r.head.head.root.to_vec(),
        checkpoint: Some(signed_checkpoint(&r.head)),
    }
}

fn hashes(proof: Vec<crate::verify::Hash>) -> Vec<Vec<u8>> {
    proof.into_iter().map(|h| h.to_vec()).collect()
}

fn logged(sequence: u64, v: VerifiedEnvelope) -> pb::LoggedEntry {
    pb::LoggedEntry {
        sequence,
        id: v.id.0.to_vec(),
        envelope: Some(v.to_envelope()),
        entry: Some(v.entry),
    }
}

fn member(m: &MemberState) -> pb::Member {
    pb::Member {
        handle: m.handle.clone(),
        public_key: m.key.to_vec(),
        roles: m.roles.iter().map(|r| *r as i32).collect(),
        admitted_at: m.admitted_at,
        retired_keys: m.retired_keys.iter().map(|k| k.to_vec()).collect(),
        contributions: m.contributions,
        suspended_at: m.suspended,
    }
}

#[tonic::async_trait]
impl pb::ledger_server::Ledger for LedgerService {
    async fn get_server_info(
        &self,
        _: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::ServerInfo>, Status> {
        let head = self.ledger.head();
        let l = self.ledger.limits();
        let state = self.ledger.state()?;
        let network = state.network().filter(|_| head.size > 0);
        Ok(Response::new(pb::ServerInfo {
            log_public_key: self.ledger.log_public_key().to_vec(),
            network_id: network.map(|n| n.id.0.to_vec()).unwrap_or_default(),
            network_name: network.map(|n| n.name.clone()).unwrap_or_default(),
            currency: network.map(|n| n.currency.clone()).unwrap_or_default(),
            decimals: network.map_or(0, |n| n.decimals),
            log_size: head.size,
            root: head.root.to_vec(),
            limits: Some(pb::Limits {
                max_message_bytes: l.max_message_bytes as u64,
                max_payload_bytes: l.max_payload_bytes as u64,
                max_batch_entries: l.max_batch_entries as u64,
                max_tags: l.max_tags as u64,
                max_string_bytes: l.max_string_bytes as u64,
                max_note_bytes: l.max_note_bytes as u64,
                max_members: l.max_members as u64,
                max_clock_skew_ms: l.max_clock_skew_ms,
                max_list_entries: l.max_list_entries,
                max_distribution_seconds: l.max_distribution_seconds,
            }),
        }))
    }

    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::Receipt>, Status> {
        let envelope = request
            .into_inner()
            .envelope
            .ok_or_else(|| Refusal::InvalidArgument("envelope: is required".into()))?;
        let verified = check_all(vec![envelope], &self.ledger, false).await?;
        let receipts = self.ledger.submit(verified, false).await?;
        let r = receipts
            .first()
            .ok_or_else(|| LedgerError::Internal("the sequencer returned no receipt".into()))?;
        Ok(Response::new(receipt(r)))
    }

    async fn submit_batch(
        &self,
        request: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let envelopes = request.into_inner().envelopes;
        let max = self.ledger.limits().max_batch_entries;
        if envelopes.is_empty() {
            return Err(Refusal::InvalidArgument("envelopes: the batch is empty".into()).into());
        }
        if envelopes.len() > max {
            return Err(Refusal::ResourceExhausted(format!(
                "envelopes: {} entries is over the batch limit of {max}; split the batch",
                envelopes.len()
            ))
            .into());
        }
        let verified = check_all(envelopes, &self.ledger, true).await?;
        let receipts = self.ledger.submit(verified, true).await?;
        Ok(Response::new(pb::SubmitBatchResponse {
            receipts: receipts.iter().map(receipt).collect(),
        }))
    }

    async fn get_entry(
        &self,
        request: Request<pb::GetEntryRequest>,
    ) -> Result<Response<pb::LoggedEntry>, Status> {
        let sequence = match request.into_inner().key {
            None => self.entry_sequence(None)?,
            Some(pb::get_entry_request::Key::Sequence(s)) => s,
            Some(pb::get_entry_request::Key::Id(id)) => self.entry_sequence(Some(&id))?,
        };
        let v = self.ledger.entry(sequence)?.ok_or_else(|| {
            Refusal::NotFound(format!(
                "sequence: {sequence} is past the end of the log ({} entries)",
                self.ledger.head().size
            ))
        })?;
        Ok(Response::new(logged(sequence, v)))
    }

    type ListEntriesStream = EntryStream;

    async fn list_entries(
        &self,
        request: Request<pb::ListEntriesRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let req = request.into_inner();
        let head = self.ledger.head().size;
        let to = if req.to_sequence == 0 {
            head
        } else {
            req.to_sequence.min(head)
        };
        if req.to_sequence != 0 && req.from_sequence > req.to_sequence {
            return Err(Refusal::InvalidArgument(format!(
                "from_sequence ({}) is after to_sequence ({})",
                req.from_sequence, req.to_sequence
            ))
            .into());
        }
        let max = self.ledger.limits().max_list_entries;
        if req.limit > max {
            return Err(Refusal::ResourceExhausted(format!(
                "limit: {} is over the maximum of {max} entries per call",
                req.limit
            ))
            .into());
        }
        let limit = if req.limit == 0 { max } else { req.limit };
        let period = match &req.period {
            Some(p) => Some(crate::ledger::check_period(Some(p), "period")?),
            None => None,
        };
        let mut kinds = Vec::with_capacity(req.kinds.len());
        for k in &req.kinds {
            match pb::EntryKind::try_from(*k) {
                Ok(pb::EntryKind::Unspecified) | Err(_) => {
                    return Err(Refusal::InvalidArgument(format!(
                        "kinds: {k} is not an entry kind"
                    ))
                    .into());
                }
                Ok(kind) => kinds.push(kind),
            }
        }
        if !req.member.is_empty() {
            crate::ledger::check_handle(&req.member, "member")?;
            // A filter naming nobody would print an empty list, as if the
            // member had done nothing: say it names no member instead.
            self.ledger
                .state()?
                .existing_member(&req.member, "member")?;
        }
        let filter = std::sync::Arc::new(ListFilter {
            kinds,
            member: req.member,
            period,
        });
        let (tx, rx) = mpsc::channel(64);
        let ledger = self.ledger.clone();
        let max_message = ledger.limits().max_message_bytes;
        // Entries are read in chunks on a blocking thread and sent from an
        // async task: a client that reads slowly (or not at all) holds a
        // channel slot, never a thread.
        tokio::spawn(async move {
            let (mut from, mut sent) = (req.from_sequence, 0u64);
            while from < to && sent < limit {
                let chunk_to = from.saturating_add(LIST_CHUNK).min(to);
                let (l, f) = (ledger.clone(), filter.clone());
                let wanted = limit - sent;
                let chunk =
                    tokio::task::spawn_blocking(move || read_chunk(&l, from, chunk_to, &f, wanted))
                        .await
                        .unwrap_or_else(|e| vec![Err(task_failed("list", &e))]);
                for item in chunk {
                    let item = item.and_then(|e| within_message_limit(e, max_message));
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                    sent += 1;
                }
                from = chunk_to;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type SubscribeStream = EntryStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let permit = self.subscribers.clone().try_acquire_owned().map_err(|_| {
            Status::from(Refusal::ResourceExhausted(format!(
                "subscribers: the server already follows {} streams (max_subscribers)",
                self.ledger.limits().max_subscribers
            )))
        })?;
        let mut next = request.into_inner().from_sequence;
        let size = self.ledger.head().size;
        if next > size {
            return Err(Status::out_of_range(format!(
                "from_sequence: {next} is beyond the end of the log ({size} entries); subscribe from {size} to follow what lands next"
            )));
        }
        let ledger = self.ledger.clone();
        let max_message = ledger.limits().max_message_bytes;
        let mut head = ledger.watch_head();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                let size = head.borrow_and_update().head.size;
                while next < size {
                    let item = match ledger.entry(next) {
                        Ok(Some(v)) => within_message_limit(logged(next, v), max_message),
                        Ok(None) => break,
                        Err(e) => Err(Status::from(e)),
                    };
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_member(
        &self,
        request: Request<pb::GetMemberRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let handle = request.into_inner().handle;
        crate::ledger::check_handle(&handle, "handle")?;
        let state = self.ledger.state()?;
        let m = state.existing_member(&handle, "handle")?;
        Ok(Response::new(member(m)))
    }

    async fn list_members(
        &self,
        _: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let state = self.ledger.state()?;
        Ok(Response::new(pb::ListMembersResponse {
            members: state.members().map(member).collect(),
        }))
    }

    async fn get_checkpoint(
        &self,
        _: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::SignedCheckpoint>, Status> {
        Ok(Response::new(signed_checkpoint(&self.ledger.checkpoint())))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let req = request.into_inner();
        let latest = self.ledger.checkpoint();
        let tree_size = if req.tree_size == 0 {
            latest.head.size
        } else {
            req.tree_size
        };
        if tree_size > latest.head.size {
            return Err(Refusal::InvalidArgument(format!(
                "tree_size: {tree_size} is past the latest checkpoint ({} entries)",
                latest.head.size
            ))
            .into());
        }
        let sequence = match req.key {
            None => self.entry_sequence(None)?,
            Some(pb::get_inclusion_proof_request::Key::Sequence(s)) => s,
            Some(pb::get_inclusion_proof_request::Key::Id(id)) => self.entry_sequence(Some(&id))?,
        };
        if sequence >= tree_size {
            return Err(Refusal::InvalidArgument(format!(
                "tree_size: entry {sequence} is not in a tree of {tree_size} entries"
            ))
            .into());
        }
        let ledger = self.ledger.clone();
        let (leaf_hash, path) = tokio::task::spawn_blocking(move || {
            let store = ledger.store();
            let leaf = crate::verify::NodeSource::node(store, 0, sequence)?.ok_or_else(|| {
                LedgerError::Corrupt {
                    sequence,
                    detail: "the entry is missing".into(),
                }
            })?;
            let path = crate::verify::inclusion_proof(sequence, tree_size, store).map_err(|e| {
                LedgerError::Corrupt {
                    sequence,
                    detail: e.to_string(),
                }
            })?;
            Ok::<_, LedgerError>((leaf, path))
        })
        .await
        .map_err(|e| task_failed("proof", &e))??;
        Ok(Response::new(pb::InclusionProof {
            sequence,
            tree_size,
            leaf_hash: leaf_hash.to_vec(),
            hashes: hashes(path),
            checkpoint: (tree_size == latest.head.size).then(|| signed_checkpoint(&latest)),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let req = request.into_inner();
        let latest = self.ledger.checkpoint().head.size;
        let new_size = if req.new_size == 0 {
            latest
        } else {
            req.new_size
        };
        if new_size > latest {
            return Err(Refusal::InvalidArgument(format!(
                "new_size: {new_size} is past the latest checkpoint ({latest} entries)"
            ))
            .into());
        }
        if req.old_size > new_size {
            return Err(Refusal::InvalidArgument(format!(
                "old_size: {} is larger than new_size {new_size}",
                req.old_size
            ))
            .into());
        }
        let ledger = self.ledger.clone();
        let old_size = req.old_size;
        let proof = tokio::task::spawn_blocking(move || {
            crate::verify::consistency_proof(old_size, new_size, ledger.store()).map_err(|e| {
                LedgerError::Corrupt {
                    sequence: new_size.saturating_sub(1),
                    detail: e.to_string(),
                }
            })
        })
        .await
        .map_err(|e| task_failed("proof", &e))??;
        Ok(Response::new(pb::ConsistencyProof {
            old_size,
            new_size,
            hashes: hashes(proof),
        }))
    }

    type ComputeSharesStream =
        Pin<Box<dyn Stream<Item = Result<pb::SharesReportPart, Status>> + Send>>;

    async fn compute_shares(
        &self,
        request: Request<pb::ComputeSharesRequest>,
    ) -> Result<Response<Self::ComputeSharesStream>, Status> {
        // A draft is a what-if over the whole log, as costly as a preview:
        // for those who set policy.
        if let Some(reader) = request.extensions().get::<Reader>()
            && !request.get_ref().draft_policy_json.is_empty()
            && !reader.is(pb::Role::Treasurer)
        {
            return Err(Status::permission_denied(format!(
                "{} may not preview a draft policy: only treasurers and admins may",
                reader.handle
            )));
        }
        let req = request.into_inner();
        let period = crate::ledger::check_period(req.period.as_ref(), "period")?;
        let include_scenario = req.include_scenario;
        let max_draft = self.ledger.limits().max_payload_bytes;
        if req.draft_policy_json.len() > max_draft {
            return Err(Status::resource_exhausted(format!(
                "draft_policy_json: {} bytes is over the limit of {max_draft} (max_payload_bytes: a draft is no larger than a policy that can be adopted)",
                req.draft_policy_json.len()
            )));
        }
        let slot = self.preview_slot()?;
        let parts = self
            .scoring(move |ledger| {
                let _slot = slot;
                let computed = payout::compute(
                    &ledger,
                    payout::PreviewRequest {
                        period,
                        income: req.income,
                        policy_version: req.policy_version,
                        draft: req.draft_policy_json,
                    },
                    lower_this_threads_priority,
                )?;
                payout::shares_parts(&computed, include_scenario)
            })
            .await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            parts.into_iter().map(Ok),
        ))))
    }

    type ExplainStream = Pin<Box<dyn Stream<Item = Result<pb::ExplanationPart, Status>> + Send>>;

    async fn explain(
        &self,
        request: Request<pb::ExplainRequest>,
    ) -> Result<Response<Self::ExplainStream>, Status> {
        // Why another member gets what they get is theirs, and the
        // treasurers' and admins' who answer for it.
        if let Some(reader) = request.extensions().get::<Reader>()
            && reader.handle != request.get_ref().member
            && !reader.is(pb::Role::Treasurer)
        {
            return Err(Status::permission_denied(format!(
                "{} may not read {}'s breakdown: a member reads their own; treasurers and admins read anyone's",
                reader.handle,
                request.get_ref().member
            )));
        }
        let req = request.into_inner();
        crate::ledger::check_handle(&req.member, "member")?;
        self.ledger
            .state()?
            .existing_member(&req.member, "member")?;
        let period = crate::ledger::check_period(req.period.as_ref(), "period")?;
        let slot = self.preview_slot()?;
        let parts = self
            .scoring(move |ledger| {
                let _slot = slot;
                let computed = payout::compute(
                    &ledger,
                    payout::PreviewRequest {
                        period,
                        income: req.income,
                        policy_version: req.policy_version,
                        draft: Vec::new(),
                    },
                    lower_this_threads_priority,
                )?;
                payout::explanation_parts(&computed, &req.member)
            })
            .await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            parts.into_iter().map(Ok),
        ))))
    }

    async fn list_distributions(
        &self,
        _request: Request<pb::ListDistributionsRequest>,
    ) -> Result<Response<pb::ListDistributionsResponse>, Status> {
        let state = self.ledger.state()?;
        Ok(Response::new(pb::ListDistributionsResponse {
            distributions: state.distributions().iter().map(payout::summary).collect(),
        }))
    }

    async fn get_distribution(
        &self,
        request: Request<pb::GetDistributionRequest>,
    ) -> Result<Response<pb::Distribution>, Status> {
        let req = request.into_inner();
        let state = self.ledger.state()?;
        let d = payout::find(&state, req.key.as_ref())?;
        Ok(Response::new(payout::distribution(d)))
    }
}

impl LedgerService {
    /// Where the entry a request names by id landed; a request that names
    /// neither an id nor a sequence number is refused.
    fn entry_sequence(&self, id: Option<&[u8]>) -> Result<u64, LedgerError> {
        let id = id.ok_or_else(|| {
            Refusal::InvalidArgument("key: give an id or a sequence number".into())
        })?;
        let id = EntryId::from_field(id, "id").map_err(Refusal::from)?;
        self.ledger
            .sequence_of(&id)?
            .ok_or_else(|| Refusal::NotFound(format!("id: no entry {id} in this log")).into())
    }

    /// A slot to score a preview in: scoring a large period takes a core
    /// and memory for a while, so at most `max_concurrent_previews` run at
    /// once and the next is refused rather than queued behind them.
    fn preview_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        self.previews.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{} previews are being computed (max_concurrent_previews); retry shortly",
                self.ledger.limits().max_concurrent_previews
            ))
        })
    }

    /// Runs scoring work off the async workers, on a thread of its own that
    /// yields the CPU to the writer and to other requests once it has let
    /// go of the state (`log/background.rs`).
    async fn scoring<T: Send + 'static>(
        &self,
        work: impl FnOnce(Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, Status> {
        let ledger = self.ledger.clone();
        run_on_own_thread("coopledger-score", move || {
            work(ledger).map_err(Status::from)
        })
        .await?
    }
}
