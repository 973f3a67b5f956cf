//! The ledger state: a fold over the log.
//!
//! Members, keys, roles, policies, contributions, evaluations, allocations
//! and recorded distributions are all derived by replaying entries in order;
//! nothing here is stored on its own, so it cannot drift from the log
//! (DESIGN principle 1). This file holds the state and what can be asked of
//! it; `rules.rs` checks an entry against it, `fold.rs` folds an admitted
//! entry in (and takes it back).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::entry::body_name;
use super::index::{ScoringIndex, SharedIndex};
use super::refusal::Refusal;
use super::suggest::closest_handle;
use crate::pb::{self, entry::Body};
use crate::verify::EntryId;

/// The network created by genesis.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Network {
    /// The id of the genesis entry.
    pub id: EntryId,
    /// Human name of the cooperative.
    pub name: String,
    /// Currency code, fixed at genesis.
    pub currency: String,
    /// Minor-unit digits of the currency.
    pub decimals: u32,
    /// The server log key genesis bound the network to.
    pub log_public_key: [u8; 32],
}

/// One member as the log defines them now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberState {
    /// Stable handle.
    pub handle: String,
    /// The only key that may sign for the member now.
    pub key: [u8; 32],
    /// Earlier keys, oldest first; they can no longer sign.
    pub retired_keys: Vec<[u8; 32]>,
    /// Roles beyond membership.
    #[serde(with = "super::persist::roles")]
    pub roles: BTreeSet<pb::Role>,
    /// Sequence number of the admitting entry (genesis for founders).
    pub admitted_at: u64,
    /// Contributions logged and not retracted.
    pub contributions: u64,
    /// Sequence number of the entry that suspended them, while suspended:
    /// their key signs nothing and reads nothing.
    pub suspended: Option<u64>,
}

/// A standing evaluation of a contribution by one evaluator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvaluationState {
    /// Approve or flag.
    #[serde(with = "super::persist::verdict")]
    pub verdict: pb::Verdict,
    /// Quality in percent, if given.
    pub rating: Option<u32>,
    /// Sequence number of the evaluation entry.
    pub sequence: u64,
    /// Its row in the scoring index (`LedgerState::scoring_index`).
    #[serde(default)]
    pub row: u32,
}

/// A contribution with its current fields and standing evaluations.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContributionState {
    /// The id of the logging entry.
    pub id: EntryId,
    /// The contributor's handle: the member it is scored for (for an
    /// attested contribution, the member it names, not the admin who
    /// signed it).
    pub member: String,
    /// The admin who attested it on `member`'s behalf
    /// (`AttestContribution`); `None` for a member's own `LogContribution`.
    #[serde(default)]
    pub attested_by: Option<String>,
    /// The fields, as last logged or amended.
    #[serde(with = "super::persist::message")]
    pub fields: pb::Contribution,
    /// Sequence number of the logging entry.
    pub sequence: u64,
    /// Whether the contributor withdrew it.
    pub retracted: bool,
    /// Standing evaluations by evaluator handle (a later one replaces the earlier).
    pub evaluations: BTreeMap<String, EvaluationState>,
    /// Sequence number of the last entry that logged, amended, retracted or
    /// evaluated it: whether a preview at log size N is stale.
    pub touched: u64,
    /// The earliest `at` it ever had (amendments can move it): a preview of
    /// a period ending after that time read it.
    pub earliest_at: i64,
    /// Its row in the scoring index (`LedgerState::scoring_index`).
    #[serde(default)]
    pub row: u32,
}

/// What a recorded distribution paid, derived from the log by recomputing
/// it when its entry landed (and again on every replay): the entry carries
/// only the digest, so it stays small however many claims it repays.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settlement {
    /// What no bucket paid.
    pub reserve: u64,
    /// Every recipient paid more than zero.
    pub payouts: BTreeMap<String, u64>,
    /// Per bucket, in policy order.
    pub buckets: Vec<BucketPaid>,
    /// What its reimburse buckets repaid, per contribution: later
    /// distributions owe only the rest.
    pub repayments: BTreeMap<EntryId, u64>,
    /// What its shares buckets paid, per member (balanced back-pay).
    pub shares_payouts: BTreeMap<String, u64>,
}

/// What one bucket of a recorded distribution paid.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketPaid {
    /// `fixed`, `reimburse`, `shares` or `allocation`.
    pub bucket_type: String,
    /// The bucket's amount A.
    pub amount: u64,
    /// Recipients paid more than zero.
    pub paid: BTreeMap<String, u64>,
}

/// The void of a recorded distribution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VoidState {
    /// Sequence number of the voiding entry.
    pub sequence: u64,
    /// Its entry id.
    pub id: EntryId,
    /// The treasurer who voided it.
    pub treasurer: String,
    /// Why.
    pub reason: String,
}

/// A recorded distribution: what its entry states, and what it paid.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DistributionState {
    /// The recording entry's id.
    pub id: EntryId,
    /// The treasurer who recorded it.
    pub treasurer: String,
    /// The distributed range `[start, end)`.
    pub period: (i64, i64),
    /// The income, minor units.
    pub income: u64,
    /// The policy version used.
    pub policy_version: u32,
    /// The log size it was previewed at.
    pub log_size: u64,
    /// blake3 of the canonical report.
    pub digest: Vec<u8>,
    /// Sequence number of the recording entry.
    pub sequence: u64,
    /// What it paid (recomputed from the log, checked against the digest).
    pub settlement: Arc<Settlement>,
    /// Set once a treasurer voided it: its period is open again and later
    /// distributions no longer count what it paid.
    pub voided: Option<VoidState>,
}

impl DistributionState {
    /// Whether it still stands (not voided).
    pub fn stands(&self) -> bool {
        self.voided.is_none()
    }
}

/// An adopted policy version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyVersion {
    /// 1, 2, 3... in adoption order.
    pub version: u32,
    /// Sequence number of the adopting entry.
    pub sequence: u64,
    /// The policy JSON exactly as adopted.
    pub json: Vec<u8>,
}

/// A member's standing allocation for a period.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllocationState {
    /// Percent per receiving member (entries of 0 dropped).
    pub to: BTreeMap<String, u32>,
    /// Sequence number of the allocating entry.
    pub sequence: u64,
}

/// Who a key belongs to and whether it may still sign.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct KeyOwner {
    pub(super) handle: String,
    pub(super) current: bool,
}

/// The whole derived state of one log.
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerState {
    pub(super) network: Option<Network>,
    pub(super) members: BTreeMap<String, MemberState>,
    pub(super) keys: HashMap<[u8; 32], KeyOwner>,
    /// Each behind an `Arc`, so a preview takes the period's contributions
    /// by reference count under the state lock and reads them after it is
    /// released; the fold copies one on write only while a preview holds it.
    pub(super) contributions: HashMap<EntryId, Arc<ContributionState>>,
    pub(super) policies: Vec<PolicyVersion>,
    pub(super) allocations: BTreeMap<(i64, i64, String), AllocationState>,
    pub(super) distributions: Vec<DistributionState>,
    /// Every entry's sequence number by id.
    pub(super) ids: HashMap<EntryId, u64>,
    pub(super) size: u64,
    /// Contributions logged and not retracted: what a preview may have to
    /// score, bounded by `limits::MAX_LIVE_CONTRIBUTIONS`.
    pub(super) live_contributions: u64,
    /// Standing evaluations of live contributions, bounded by
    /// `limits::MAX_STANDING_EVALUATIONS`.
    pub(super) standing_evaluations: u64,
    /// Members, contributions and evaluations by number, as the scoring
    /// core takes them, kept up to date by the fold (`index.rs`).
    pub(super) index: ScoringIndex,
}

impl LedgerState {
    /// Number of entries folded in.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Contributions logged and not retracted: what a preview may have to
    /// score (bounded by [`super::MAX_LIVE_CONTRIBUTIONS`]).
    pub fn live_contributions(&self) -> u64 {
        self.live_contributions
    }

    /// Standing evaluations of live contributions (bounded by
    /// [`super::MAX_STANDING_EVALUATIONS`]).
    pub fn standing_evaluations(&self) -> u64 {
        self.standing_evaluations
    }

    /// The network, once genesis has been applied.
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    /// The member whose current key `key` is, for a signed read; says why
    /// not otherwise (no member's key, or a retired one).
    pub fn key_holder(&self, key: &[u8; 32]) -> Result<&MemberState, String> {
        match self.keys.get(key) {
            Some(owner) if !owner.current => Err(format!(
                "the key {} of {} was retired (rotated): sign with the member's current key",
                hex::encode(key),
                owner.handle
            )),
            Some(owner) => match self.members.get(&owner.handle) {
                Some(m) if m.suspended.is_some() => Err(format!(
                    "{} is suspended: their key reads nothing until an admin reinstates them",
                    m.handle
                )),
                Some(m) => Ok(m),
                None => Err(format!("the key {} belongs to no member", hex::encode(key))),
            },
            None => Err(format!(
                "the key {} belongs to no member of this network: ask an admin to admit you",
                hex::encode(key)
            )),
        }
    }

    /// A member by handle.
    pub fn member(&self, handle: &str) -> Option<&MemberState> {
        self.members.get(handle)
    }

    /// The member `handle` names (in `field`), or NotFound with the closest
    /// member's handle as a suggestion when one is close enough.
    pub fn existing_member(&self, handle: &str, field: &str) -> Result<&MemberState, Refusal> {
        self.members
            .get(handle)
            .ok_or_else(|| self.not_a_member(handle, field))
    }

    /// The refusal of `handle` in `field` when it names no member, with the
    /// closest member's handle as a suggestion when one is close enough.
    fn not_a_member(&self, handle: &str, field: &str) -> Refusal {
        let hint = closest_handle(handle, &self.members)
            .map(|h| format!(" (did you mean {h}?)"))
            .unwrap_or_default();
        Refusal::NotFound(format!("{field}: {handle:?} is not a member{hint}"))
    }

    /// Every member, sorted by handle.
    pub fn members(&self) -> impl Iterator<Item = &MemberState> {
        self.members.values()
    }

    /// A contribution by id.
    pub fn contribution(&self, id: &EntryId) -> Option<&ContributionState> {
        self.contributions.get(id).map(Arc::as_ref)
    }

    /// Every contribution, retracted ones included, in no particular order.
    pub fn contributions(&self) -> impl Iterator<Item = &ContributionState> {
        self.contributions.values().map(Arc::as_ref)
    }

    /// The live contributions dated before `end`, shared (a reference count
    /// each, nothing copied): what a preview of a period ending at `end`
    /// reads, taken in one short pass under the state lock.
    pub fn live_contributions_before(&self, end: i64) -> Vec<Arc<ContributionState>> {
        self.contributions
            .values()
            .filter(|c| !c.retracted && c.fields.at < end)
            .cloned()
            .collect()
    }

    /// The scoring index shared with a preview: a few reference counts,
    /// taken under the state lock and read after it (`index.rs`).
    pub fn scoring_index(&self) -> SharedIndex {
        self.index.share()
    }

    /// The adopted policy versions, oldest first.
    pub fn policies(&self) -> &[PolicyVersion] {
        &self.policies
    }

    /// Standing allocations keyed by (period start, period end, from).
    pub fn allocations(&self) -> &BTreeMap<(i64, i64, String), AllocationState> {
        &self.allocations
    }

    /// The recorded distributions, in log order.
    pub fn distributions(&self) -> &[DistributionState] {
        &self.distributions
    }

    /// The recorded distributions not voided, in log order.
    pub fn standing_distributions(&self) -> impl Iterator<Item = &DistributionState> {
        self.distributions.iter().filter(|d| d.stands())
    }

    /// The standing distribution whose period overlaps `[start, end)`.
    pub fn overlapping_distribution(&self, start: i64, end: i64) -> Option<&DistributionState> {
        self.standing_distributions()
            .find(|d| d.period.0 < end && start < d.period.1)
    }

    /// A recorded distribution by its entry id, voided or not.
    pub fn distribution(&self, id: &EntryId) -> Option<&DistributionState> {
        self.distributions.iter().find(|d| d.id == *id)
    }

    /// What an entry at or after `from` changed that a distribution of
    /// `[start, end)` reads, if anything: a contribution dated before `end`
    /// (the period's work, claims still owed, back-pay, trust), an
    /// allocation for an overlapping period, the members, or another
    /// distribution (recorded or voided). `None` means a report computed
    /// over the first `from` entries is still the report of the log now.
    pub fn moved_since(&self, from: u64, start: i64, end: i64) -> Option<String> {
        let mut moved: Vec<(u64, String)> = Vec::new();
        if let Some(c) = self
            .contributions
            .values()
            .filter(|c| c.touched >= from && c.earliest_at < end)
            .min_by_key(|c| c.touched)
        {
            moved.push((
                c.touched,
                format!(
                    "contribution {} (by {}) changed at sequence {}",
                    c.id, c.member, c.touched
                ),
            ));
        }
        if let Some(((s, e, from_member), a)) = self
            .allocations
            .iter()
            .filter(|((s, e, _), a)| a.sequence >= from && *s < end && start < *e)
            .min_by_key(|(_, a)| a.sequence)
        {
            moved.push((
                a.sequence,
                format!(
                    "{from_member} allocated for {}..{} at sequence {}",
                    crate::scoring::time::format_rfc3339(*s),
                    crate::scoring::time::format_rfc3339(*e),
                    a.sequence
                ),
            ));
        }
        if let Some(m) = self
            .members
            .values()
            .filter(|m| m.admitted_at >= from)
            .min_by_key(|m| m.admitted_at)
        {
            moved.push((
                m.admitted_at,
                format!("{} was admitted at sequence {}", m.handle, m.admitted_at),
            ));
        }
        for d in &self.distributions {
            if d.sequence >= from {
                moved.push((
                    d.sequence,
                    format!(
                        "the distribution of {}..{} was recorded at sequence {}",
                        crate::scoring::time::format_rfc3339(d.period.0),
                        crate::scoring::time::format_rfc3339(d.period.1),
                        d.sequence
                    ),
                ));
            }
            if let Some(v) = d.voided.as_ref().filter(|v| v.sequence >= from) {
                moved.push((
                    v.sequence,
                    format!(
                        "the distribution of {}..{} was voided at sequence {}",
                        crate::scoring::time::format_rfc3339(d.period.0),
                        crate::scoring::time::format_rfc3339(d.period.1),
                        v.sequence
                    ),
                ));
            }
        }
        moved.into_iter().min().map(|(_, what)| what)
    }

    /// The sequence number an entry id landed at, if it is in the log.
    pub fn sequence_of(&self, id: &EntryId) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// Whether an entry is "dated" in `[start, end)` for list filters:
    /// contributions (logged or attested) by `at`; evaluations and retractions by their
    /// contribution's current `at`; amendments by the `at` they set or their
    /// contribution's current `at`; allocations and recorded distributions by
    /// overlap of the period they are for (a treasurer filtering October
    /// wants October's distribution, whenever it was recorded); others by
    /// `created_at`.
    pub fn dated_in(&self, entry: &pb::Entry, start: i64, end: i64) -> bool {
        let within = |t: i64| start <= t && t < end;
        match entry.body.as_ref() {
            Some(Body::LogContribution(l)) => l.contribution.as_ref().is_some_and(|c| within(c.at)),
            Some(Body::AttestContribution(a)) => {
                a.contribution.as_ref().is_some_and(|c| within(c.at))
            }
            Some(Body::AmendContribution(a)) => {
                a.contribution.as_ref().is_some_and(|c| within(c.at))
                    || self.contribution_at(&a.contribution_id).is_some_and(within)
            }
            Some(Body::RetractContribution(r)) => {
                self.contribution_at(&r.contribution_id).is_some_and(within)
            }
            Some(Body::Evaluate(e)) => self.contribution_at(&e.contribution_id).is_some_and(within),
            Some(Body::RecordDistribution(r)) => r
                .period
                .as_ref()
                .is_some_and(|p| p.start < end && start < p.end),
            Some(Body::VoidDistribution(d)) => self
                .distribution(&id_of(&d.distribution_id))
                .is_some_and(|x| x.period.0 < end && start < x.period.1),
            Some(Body::Allocate(a)) => a
                .period
                .as_ref()
                .is_some_and(|p| p.start < end && start < p.end),
            _ => within(entry.created_at_ms.div_euclid(1000)),
        }
    }

    fn contribution_at(&self, id: &[u8]) -> Option<i64> {
        self.contributions.get(&id_of(id)).map(|c| c.fields.at)
    }

    /// Whether an entry was written by, or is about, `member` (list filters):
    /// an attested contribution is about the member it names as well as by
    /// the admin who signed it.
    pub fn concerns(&self, entry: &pb::Entry, member: &str) -> bool {
        if entry.author == member {
            return true;
        }
        match entry.body.as_ref() {
            Some(Body::Genesis(g)) => g.founders.iter().any(|f| f.handle == member),
            Some(Body::AdmitMember(a)) => a.handle == member,
            Some(Body::GrantRole(g)) => g.member == member,
            Some(Body::RevokeRole(r)) => r.member == member,
            Some(Body::SuspendMember(s)) => s.member == member,
            Some(Body::ReinstateMember(r)) => r.member == member,
            Some(Body::ResetKey(r)) => r.member == member,
            Some(Body::AttestContribution(a)) => a.member == member,
            Some(Body::Evaluate(e)) => self
                .contributions
                .get(&id_of(&e.contribution_id))
                .is_some_and(|c| c.member == member),
            Some(Body::Allocate(a)) => a.shares.iter().any(|s| s.member == member),
            _ => false,
        }
    }
}

/// How many standing evaluations of `c` a preview scores: none once it is
/// retracted (its evaluations stay in the state but are never scored).
pub(super) fn standing_of(c: &ContributionState) -> u64 {
    if c.retracted {
        0
    } else {
        c.evaluations.len() as u64
    }
}

/// The name of a role as people write it.
pub fn role_name(role: pb::Role) -> &'static str {
    match role {
        pb::Role::Admin => "admin",
        pb::Role::Treasurer => "treasurer",
        pb::Role::Unspecified => "unspecified",
    }
}

pub(super) fn id_of(bytes: &[u8]) -> EntryId {
    let mut id = [0u8; 32];
    if bytes.len() == 32 {
        id.copy_from_slice(bytes);
    }
    EntryId(id)
}

/// Describes an entry in one line for logs and messages.
pub fn describe(entry: &pb::Entry) -> String {
    entry.body.as_ref().map_or_else(
        || "entry without body".to_string(),
        |b| format!("{} by {}", body_name(b), entry.author),
    )
}
