//! The ledger state: a fold over the log.
//!
//! Members, keys, roles, policies, contributions, evaluations and allocations
//! are all derived by replaying entries in order; nothing here is stored on
//! its own, so it cannot drift from the log (DESIGN principle 1). The
//! sequencer checks each entry against this state (`check`), then folds it in
//! (`apply`), and can take it back (`undo`) when a later entry of the same
//! all-or-nothing batch is refused.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::entry::{self, body_name};
use super::refusal::Refusal;
use crate::ledger::Limits;
use crate::pb::{self, entry::Body};
use crate::verify::{EntryId, VerifiedEnvelope};

/// The network created by genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberState {
    /// Stable handle.
    pub handle: String,
    /// The only key that may sign for the member now.
    pub key: [u8; 32],
    /// Earlier keys, oldest first; they can no longer sign.
    pub retired_keys: Vec<[u8; 32]>,
    /// Roles beyond membership.
    pub roles: BTreeSet<pb::Role>,
    /// Sequence number of the admitting entry (genesis for founders).
    pub admitted_at: u64,
    /// Contributions logged and not retracted.
    pub contributions: u64,
}

/// A standing evaluation of a contribution by one evaluator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationState {
    /// Approve or flag.
    pub verdict: pb::Verdict,
    /// Quality in percent, if given.
    pub rating: Option<u32>,
    /// Sequence number of the evaluation entry.
    pub sequence: u64,
}

/// A contribution with its current fields and standing evaluations.
#[derive(Clone, Debug, PartialEq)]
pub struct ContributionState {
    /// The id of the logging entry.
    pub id: EntryId,
    /// The contributor's handle.
    pub member: String,
    /// The fields, as last logged or amended.
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
}

/// What a recorded distribution paid, derived from the log by recomputing
/// it when its entry landed (and again on every replay): the entry carries
/// only the digest, so it stays small however many claims it repays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketPaid {
    /// `fixed`, `reimburse`, `shares` or `allocation`.
    pub bucket_type: String,
    /// The bucket's amount A.
    pub amount: u64,
    /// Recipients paid more than zero.
    pub paid: BTreeMap<String, u64>,
}

/// The void of a recorded distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    pub settlement: Settlement,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersion {
    /// 1, 2, 3... in adoption order.
    pub version: u32,
    /// Sequence number of the adopting entry.
    pub sequence: u64,
    /// The policy JSON exactly as adopted.
    pub json: Vec<u8>,
}

/// A member's standing allocation for a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationState {
    /// Percent per receiving member (entries of 0 dropped).
    pub to: BTreeMap<String, u32>,
    /// Sequence number of the allocating entry.
    pub sequence: u64,
}

/// Who a key belongs to and whether it may still sign.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeyOwner {
    handle: String,
    current: bool,
}

/// How to take back one applied entry.
#[derive(Debug)]
pub enum Undo {
    /// Genesis: forget the network and its founders.
    Genesis,
    /// Forget an admitted member.
    Admit { handle: String },
    /// Restore the previous key.
    Rotate {
        handle: String,
        old: [u8; 32],
        new: [u8; 32],
    },
    /// Flip a role back.
    Role {
        handle: String,
        role: pb::Role,
        granted: bool,
    },
    /// Drop the last policy version.
    Policy,
    /// Forget a logged contribution.
    Log { id: EntryId },
    /// Restore a contribution as it was before an amendment or retraction.
    Restore { previous: Box<ContributionState> },
    /// Restore the evaluation an evaluator had before.
    Evaluate {
        contribution: EntryId,
        evaluator: String,
        previous: Option<EvaluationState>,
        touched: u64,
    },
    /// Restore a member's previous allocation for a period.
    Allocate {
        key: (i64, i64, String),
        previous: Option<AllocationState>,
    },
    /// Forget the last recorded distribution.
    Distribution,
    /// Un-void the distribution at this index.
    Void { index: usize },
}

/// The whole derived state of one log.
#[derive(Debug, Default)]
pub struct LedgerState {
    network: Option<Network>,
    members: BTreeMap<String, MemberState>,
    keys: HashMap<[u8; 32], KeyOwner>,
    contributions: HashMap<EntryId, ContributionState>,
    policies: Vec<PolicyVersion>,
    allocations: BTreeMap<(i64, i64, String), AllocationState>,
    distributions: Vec<DistributionState>,
    ids: HashMap<EntryId, u64>,
    size: u64,
    /// Contributions logged and not retracted: what a preview may have to
    /// score, bounded by `limits::MAX_LIVE_CONTRIBUTIONS`.
    live_contributions: u64,
    /// Standing evaluations of live contributions, bounded by
    /// `limits::MAX_STANDING_EVALUATIONS`.
    standing_evaluations: u64,
}

/// What `check` needs besides the state: the server's log key (genesis must
/// name it), the limits, and the clock (only on arrival; replay passes `None`).
#[derive(Clone, Copy, Debug)]
pub struct CheckContext<'a> {
    /// The server's log key.
    pub log_public_key: &'a [u8; 32],
    /// The limits in force.
    pub limits: &'a Limits,
    /// The server's clock in ms, on arrival; `None` when replaying.
    pub now_ms: Option<i64>,
}

impl LedgerState {
    /// Number of entries folded in.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The network, once genesis has been applied.
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    /// A member by handle.
    pub fn member(&self, handle: &str) -> Option<&MemberState> {
        self.members.get(handle)
    }

    /// Every member, sorted by handle.
    pub fn members(&self) -> impl Iterator<Item = &MemberState> {
        self.members.values()
    }

    /// A contribution by id.
    pub fn contribution(&self, id: &EntryId) -> Option<&ContributionState> {
        self.contributions.get(id)
    }

    /// Every contribution, retracted ones included, in no particular order.
    pub fn contributions(&self) -> impl Iterator<Item = &ContributionState> {
        self.contributions.values()
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

    /// The standing distribution whose period contains `at`, if any: a
    /// closed period.
    fn closed_at(&self, at: i64) -> Option<&DistributionState> {
        self.standing_distributions()
            .find(|d| d.period.0 <= at && at < d.period.1)
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

    /// The standing distributions that repaid part of `contribution`, with
    /// what each repaid: a repaid claim is a settled fact.
    fn repaid_by(&self, contribution: &EntryId) -> Option<(&DistributionState, u64)> {
        self.standing_distributions().find_map(|d| {
            d.settlement
                .repayments
                .get(contribution)
                .map(|amount| (d, *amount))
        })
    }

    /// Refuses a change to a contribution that a standing distribution
    /// (partly) repaid: the payment happened, so the claim it settled must
    /// stay what it was. Voiding the distribution reopens it.
    fn refuse_if_repaid(&self, c: &ContributionState, field: &str) -> Result<(), Refusal> {
        match self.repaid_by(&c.id) {
            None => Ok(()),
            Some((d, amount)) => Err(Refusal::FailedPrecondition(format!(
                "{field}: contribution {} was repaid {amount} minor units by the distribution of {}..{} (entry {}); a repaid claim can no longer change (a treasurer can void that distribution first)",
                c.id,
                crate::scoring::time::format_rfc3339(d.period.0),
                crate::scoring::time::format_rfc3339(d.period.1),
                d.sequence
            ))),
        }
    }

    /// Refuses a change to what a recorded distribution was computed from.
    fn refuse_if_closed(&self, at: i64, field: &str) -> Result<(), Refusal> {
        match self.closed_at(at) {
            None => Ok(()),
            Some(d) => Err(Refusal::FailedPrecondition(format!(
                "{field}: {} falls in a period already distributed by entry {} ({}..{}); it can no longer change",
                crate::scoring::time::format_rfc3339(at),
                d.sequence,
                crate::scoring::time::format_rfc3339(d.period.0),
                crate::scoring::time::format_rfc3339(d.period.1)
            ))),
        }
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

    /// Checks an entry against every ingestion rule. Never mutates.
    pub fn check(&self, v: &VerifiedEnvelope, cx: &CheckContext<'_>) -> Result<(), Refusal> {
        let entry = &v.entry;
        let body = entry::check_entry(entry, cx.limits)?;
        if let Some(now) = cx.now_ms {
            let skew = i64::try_from(cx.limits.max_clock_skew_ms).unwrap_or(i64::MAX);
            if (entry.created_at_ms - now).abs() > skew {
                return Err(Refusal::InvalidArgument(format!(
                    "entry.created_at_ms: {} is more than {} ms from the server's clock ({now}); check the signer's clock",
                    entry.created_at_ms, cx.limits.max_clock_skew_ms
                )));
            }
        }
        if let Body::Genesis(g) = body {
            return self.check_genesis(v, g, cx);
        }
        let network = self.network.as_ref().ok_or_else(|| {
            Refusal::FailedPrecondition(
                "the log has no network yet: the first entry must be a genesis".into(),
            )
        })?;
        if entry.network_id != network.id.0 {
            return Err(Refusal::FailedPrecondition(format!(
                "entry.network_id: {} is not this log's network {}",
                hex::encode(&entry.network_id),
                network.id
            )));
        }
        let author = self.authenticate(&entry.author, &v.public_key)?;
        match body {
            Body::Genesis(_) => Ok(()),
            Body::AdmitMember(a) => {
                self.require_admin(author, "admit members")?;
                if self.members.contains_key(&a.handle) {
                    return Err(Refusal::AlreadyExists(format!(
                        "admit_member.handle: {:?} is already a member",
                        a.handle
                    )));
                }
                self.check_key_unused(&a.public_key, "admit_member.public_key")?;
                let max_members = cx.limits.max_members_scorable();
                if self.members.len() >= max_members {
                    return Err(Refusal::ResourceExhausted(format!(
                        "admit_member: the network already has the maximum of {max_members} members"
                    )));
                }
                Ok(())
            }
            Body::RotateKey(r) => {
                self.check_key_unused(&r.new_public_key, "rotate_key.new_public_key")
            }
            Body::GrantRole(g) => {
                self.require_admin(author, "grant roles")?;
                let role = entry::check_role(g.role, "grant_role.role")?;
                let target = self.existing_member(&g.member, "grant_role.member")?;
                if target.roles.contains(&role) {
                    return Err(Refusal::AlreadyExists(format!(
                        "grant_role: {} already holds the {} role",
                        g.member,
                        role_name(role)
                    )));
                }
                Ok(())
            }
            Body::RevokeRole(r) => {
                self.require_admin(author, "revoke roles")?;
                let role = entry::check_role(r.role, "revoke_role.role")?;
                let target = self.existing_member(&r.member, "revoke_role.member")?;
                if !target.roles.contains(&role) {
                    return Err(Refusal::NotFound(format!(
                        "revoke_role: {} does not hold the {} role",
                        r.member,
                        role_name(role)
                    )));
                }
                if role == pb::Role::Admin
                    && self
                        .members
                        .values()
                        .filter(|m| m.roles.contains(&role))
                        .count()
                        == 1
                {
                    return Err(Refusal::FailedPrecondition(format!(
                        "revoke_role: {} is the last admin; grant admin to someone else first",
                        r.member
                    )));
                }
                Ok(())
            }
            Body::AdoptPolicy(p) => {
                self.require_admin(author, "adopt policies")?;
                if p.policy_json.len() > cx.limits.max_payload_bytes {
                    return Err(Refusal::ResourceExhausted(format!(
                        "adopt_policy.policy_json: {} bytes is over the limit of {}",
                        p.policy_json.len(),
                        cx.limits.max_payload_bytes
                    )));
                }
                let doc = check_policy(&p.policy_json)?;
                // Whether its rates and multipliers could push an accepted
                // contribution past a scoring limit. The tag count is a server
                // setting, so like the other limits this is judged when the
                // policy arrives, never on replay (which has no limits): it
                // covers as many tags as a new contribution may carry here
                // or an existing one carries, whichever is more.
                if cx.now_ms.is_some() {
                    let most_tags = self
                        .contributions
                        .values()
                        .filter(|c| !c.retracted)
                        .map(|c| c.fields.tags.len())
                        .max()
                        .unwrap_or(0);
                    let max_tags = cx
                        .limits
                        .max_tags
                        .max(most_tags)
                        .min(crate::scoring::limits::MAX_TAGS);
                    doc.check_scorable(max_tags).map_err(|e| {
                        Refusal::InvalidArgument(format!("adopt_policy.policy_json: {e}"))
                    })?;
                }
                doc.check_currency(&network.currency, network.decimals)
                    .map_err(|e| {
                        Refusal::InvalidArgument(format!("adopt_policy.policy_json: {e}"))
                    })?;
                if let crate::scoring::policy::EvaluatorWeights::EigenTrust { pretrusted, .. } =
                    &doc.policy.evaluator_weights
                {
                    for (i, m) in pretrusted.iter().enumerate() {
                        self.existing_member(
                            m,
                            &format!("adopt_policy.policy_json: evaluator_weights.pretrusted[{i}]"),
                        )?;
                    }
                }
                Ok(())
            }
            Body::LogContribution(l) => {
                if let Some(c) = &l.contribution {
                    self.refuse_if_closed(c.at, "log_contribution.contribution.at")?;
                }
                if self.live_contributions >= crate::ledger::MAX_LIVE_CONTRIBUTIONS {
                    return Err(Refusal::ResourceExhausted(format!(
                        "log_contribution: the log already holds {} live contributions, the most \
                         one distribution can score; retract some first",
                        self.live_contributions
                    )));
                }
                self.check_contribution_time(l.contribution.as_ref(), cx, "log_contribution")
            }
            Body::AmendContribution(a) => {
                let c = self.own_live_contribution(
                    author,
                    &a.contribution_id,
                    "amend_contribution",
                    "amend",
                )?;
                self.refuse_if_closed(c.fields.at, "amend_contribution: the contribution's at")?;
                self.refuse_if_repaid(c, "amend_contribution")?;
                if let Some(new) = &a.contribution {
                    self.refuse_if_closed(new.at, "amend_contribution.contribution.at")?;
                }
                self.check_contribution_time(a.contribution.as_ref(), cx, "amend_contribution")
            }
            Body::RetractContribution(r) => {
                let c = self.own_live_contribution(
                    author,
                    &r.contribution_id,
                    "retract_contribution",
                    "retract",
                )?;
                self.refuse_if_closed(c.fields.at, "retract_contribution: the contribution's at")?;
                self.refuse_if_repaid(c, "retract_contribution")
            }
            Body::Evaluate(e) => {
                let c = self.live_contribution(&e.contribution_id, "evaluate.contribution_id")?;
                self.refuse_if_closed(c.fields.at, "evaluate: the contribution's at")?;
                if c.member == author.handle {
                    return Err(Refusal::PermissionDenied(format!(
                        "evaluate: {} cannot evaluate their own contribution {}",
                        author.handle, c.id
                    )));
                }
                // A replacement keeps the count; a first evaluation adds one.
                if !c.evaluations.contains_key(&author.handle)
                    && self.standing_evaluations >= crate::ledger::MAX_STANDING_EVALUATIONS
                {
                    return Err(Refusal::ResourceExhausted(format!(
                        "evaluate: the log already holds {} standing evaluations, the most one \
                         distribution can score",
                        self.standing_evaluations
                    )));
                }
                Ok(())
            }
            Body::RecordDistribution(r) => self.check_record(author, r, cx),
            Body::VoidDistribution(d) => self.check_void(author, d),
            Body::Allocate(a) => {
                if let Some(p) = &a.period
                    && let Some(d) = self.overlapping_distribution(p.start, p.end)
                {
                    return Err(Refusal::FailedPrecondition(format!(
                        "allocate.period: overlaps the period already distributed by entry {}",
                        d.sequence
                    )));
                }
                for (i, s) in a.shares.iter().enumerate() {
                    if s.member == author.handle {
                        return Err(Refusal::PermissionDenied(format!(
                            "allocate.shares[{i}].member: {} cannot allocate to themselves",
                            author.handle
                        )));
                    }
                    self.existing_member(&s.member, &format!("allocate.shares[{i}].member"))?;
                }
                Ok(())
            }
        }
    }

    /// The ledger rules of a recorded distribution; that its numbers are
    /// what the rules give is checked by recomputing it (the payout layer),
    /// which needs the scoring core.
    fn check_record(
        &self,
        author: &MemberState,
        r: &pb::RecordDistribution,
        cx: &CheckContext<'_>,
    ) -> Result<(), Refusal> {
        require_treasurer(author, "record distributions")?;
        let (start, end) = entry::check_period(r.period.as_ref(), "record_distribution.period")?;
        if let Some(now_ms) = cx.now_ms
            && end > now_ms.div_euclid(1000)
        {
            return Err(Refusal::FailedPrecondition(format!(
                "record_distribution.period: it ends at {}, after the server's clock ({}); record a period once it has ended",
                crate::scoring::time::format_rfc3339(end),
                crate::scoring::time::format_rfc3339(now_ms.div_euclid(1000))
            )));
        }
        if !self.policies.iter().any(|p| p.version == r.policy_version) {
            return Err(Refusal::NotFound(format!(
                "record_distribution.policy_version: there is no policy version {}",
                r.policy_version
            )));
        }
        if let Some(d) = self.overlapping_distribution(start, end) {
            return Err(Refusal::AlreadyExists(format!(
                "record_distribution.period: overlaps the distribution recorded by entry {} ({}..{}); void it first to redistribute",
                d.sequence,
                crate::scoring::time::format_rfc3339(d.period.0),
                crate::scoring::time::format_rfc3339(d.period.1)
            )));
        }
        if r.log_size > self.size {
            return Err(Refusal::FailedPrecondition(format!(
                "record_distribution.log_size: {} is past the end of the log ({} entries); preview again",
                r.log_size, self.size
            )));
        }
        if let Some(what) = self.moved_since(r.log_size, start, end) {
            return Err(Refusal::FailedPrecondition(format!(
                "the log moved since the preview at log size {}: {what}; preview again",
                r.log_size
            )));
        }
        Ok(())
    }

    /// The ledger rules of a void: a treasurer, a standing distribution, and
    /// no later standing distribution that counted what it paid.
    fn check_void(&self, author: &MemberState, d: &pb::VoidDistribution) -> Result<(), Refusal> {
        require_treasurer(author, "void distributions")?;
        let id = EntryId::from_field(&d.distribution_id, "void_distribution.distribution_id")?;
        let target = self.distribution(&id).ok_or_else(|| {
            Refusal::NotFound(format!(
                "void_distribution.distribution_id: no recorded distribution {id} in this log"
            ))
        })?;
        if let Some(v) = &target.voided {
            return Err(Refusal::FailedPrecondition(format!(
                "void_distribution: the distribution {id} was already voided by {} at sequence {}",
                v.treasurer, v.sequence
            )));
        }
        if let Some(later) = self
            .standing_distributions()
            .find(|x| x.sequence > target.sequence)
        {
            return Err(Refusal::FailedPrecondition(format!(
                "void_distribution: the distribution of {}..{} (entry {}) was recorded after it and counts what it paid; void that one first",
                crate::scoring::time::format_rfc3339(later.period.0),
                crate::scoring::time::format_rfc3339(later.period.1),
                later.sequence
            )));
        }
        Ok(())
    }

    fn check_genesis(
        &self,
        v: &VerifiedEnvelope,
        g: &pb::Genesis,
        cx: &CheckContext<'_>,
    ) -> Result<(), Refusal> {
        if let Some(n) = &self.network {
            return Err(Refusal::AlreadyExists(format!(
                "genesis: this log already holds the network {:?} ({})",
                n.name, n.id
            )));
        }
        if g.log_public_key != cx.log_public_key {
            return Err(Refusal::FailedPrecondition(format!(
                "genesis.log_public_key: {} is not this server's log key {}",
                hex::encode(&g.log_public_key),
                hex::encode(cx.log_public_key)
            )));
        }
        let founder = g
            .founders
            .iter()
            .find(|f| f.handle == v.entry.author)
            .ok_or_else(|| {
                Refusal::PermissionDenied(format!(
                    "genesis: the author {:?} must be one of the founders",
                    v.entry.author
                ))
            })?;
        if founder.public_key != v.public_key {
            return Err(Refusal::Unauthenticated(format!(
                "genesis: signed with a key that is not founder {}'s key",
                founder.handle
            )));
        }
        Ok(())
    }

    /// The author, if `key` is their current key; `Unauthenticated` otherwise.
    fn authenticate(&self, handle: &str, key: &[u8; 32]) -> Result<&MemberState, Refusal> {
        let member = self.members.get(handle).ok_or_else(|| {
            Refusal::Unauthenticated(format!(
                "entry.author: {handle:?} is not a member of this network"
            ))
        })?;
        if &member.key == key {
            return Ok(member);
        }
        if member.retired_keys.contains(key) {
            return Err(Refusal::Unauthenticated(format!(
                "envelope.public_key: this key of {handle} was rotated out and can no longer sign"
            )));
        }
        Err(Refusal::Unauthenticated(format!(
            "envelope.public_key: not {handle}'s key"
        )))
    }

    fn require_admin(&self, author: &MemberState, action: &str) -> Result<(), Refusal> {
        if author.roles.contains(&pb::Role::Admin) {
            Ok(())
        } else {
            Err(Refusal::PermissionDenied(format!(
                "{} is not an admin; only admins {action}",
                author.handle
            )))
        }
    }

    fn existing_member(&self, handle: &str, field: &str) -> Result<&MemberState, Refusal> {
        self.members
            .get(handle)
            .ok_or_else(|| Refusal::NotFound(format!("{field}: {handle:?} is not a member")))
    }

    fn check_key_unused(&self, key: &[u8], field: &str) -> Result<(), Refusal> {
        if let Ok(k) = <[u8; 32]>::try_from(key)
            && let Some(owner) = self.keys.get(&k)
        {
            return Err(Refusal::AlreadyExists(format!(
                "{field}: this key already belongs (or belonged) to {}; every key serves one member, once",
                owner.handle
            )));
        }
        Ok(())
    }

    fn live_contribution(&self, id: &[u8], field: &str) -> Result<&ContributionState, Refusal> {
        let id = EntryId::from_field(id, field)?;
        let c = self.contributions.get(&id).ok_or_else(|| {
            Refusal::NotFound(format!("{field}: no contribution {id} in this log"))
        })?;
        if c.retracted {
            return Err(Refusal::FailedPrecondition(format!(
                "{field}: contribution {id} was retracted by {}",
                c.member
            )));
        }
        Ok(c)
    }

    fn own_live_contribution(
        &self,
        author: &MemberState,
        id: &[u8],
        body: &str,
        action: &str,
    ) -> Result<&ContributionState, Refusal> {
        let c = self.live_contribution(id, &format!("{body}.contribution_id"))?;
        if c.member != author.handle {
            return Err(Refusal::PermissionDenied(format!(
                "{body}: only {} can {action} contribution {}, not {}",
                c.member, c.id, author.handle
            )));
        }
        Ok(c)
    }

    fn check_contribution_time(
        &self,
        c: Option<&pb::Contribution>,
        cx: &CheckContext<'_>,
        body: &str,
    ) -> Result<(), Refusal> {
        if let (Some(now), Some(c)) = (cx.now_ms, c) {
            let latest =
                now / 1000 + i64::try_from(cx.limits.max_clock_skew_ms / 1000).unwrap_or(0);
            if c.at > latest {
                return Err(Refusal::InvalidArgument(format!(
                    "{body}.contribution.at: {} is in the future; log what was done, after it was done",
                    c.at
                )));
            }
        }
        Ok(())
    }

    /// Folds a checked entry in at `sequence`. Call only after `check` passed;
    /// a recorded distribution also needs the `settlement` its recomputation
    /// gave (the payout layer's `settle`); other entries pass `None`.
    pub fn apply(
        &mut self,
        v: &VerifiedEnvelope,
        sequence: u64,
        settlement: Option<Settlement>,
    ) -> Undo {
        self.ids.insert(v.id, sequence);
        self.size = sequence + 1;
        let author = v.entry.author.clone();
        let Some(body) = v.entry.body.as_ref() else {
            // check() refuses a missing body; nothing to fold.
            return Undo::Policy;
        };
        match body {
            Body::Genesis(g) => {
                let mut log_key = [0u8; 32];
                log_key.copy_from_slice(&g.log_public_key);
                self.network = Some(Network {
                    id: v.id,
                    name: g.name.clone(),
                    currency: g.currency.clone(),
                    decimals: g.decimals,
                    log_public_key: log_key,
                });
                for f in &g.founders {
                    let mut key = [0u8; 32];
                    key.copy_from_slice(&f.public_key);
                    self.add_member(&f.handle, key, sequence, [pb::Role::Admin].into());
                }
                Undo::Genesis
            }
            Body::AdmitMember(a) => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&a.public_key);
                self.add_member(&a.handle, key, sequence, BTreeSet::new());
                Undo::Admit {
                    handle: a.handle.clone(),
                }
            }
            Body::RotateKey(r) => {
                let mut new = [0u8; 32];
                new.copy_from_slice(&r.new_public_key);
                let old = v.public_key;
                if let Some(m) = self.members.get_mut(&author) {
                    m.retired_keys.push(old);
                    m.key = new;
                }
                if let Some(o) = self.keys.get_mut(&old) {
                    o.current = false;
                }
                self.keys.insert(
                    new,
                    KeyOwner {
                        handle: author.clone(),
                        current: true,
                    },
                );
                Undo::Rotate {
                    handle: author,
                    old,
                    new,
                }
            }
            Body::GrantRole(g) => {
                let role = pb::Role::try_from(g.role).unwrap_or(pb::Role::Unspecified);
                if let Some(m) = self.members.get_mut(&g.member) {
                    m.roles.insert(role);
                }
                Undo::Role {
                    handle: g.member.clone(),
                    role,
                    granted: true,
                }
            }
            Body::RevokeRole(r) => {
                let role = pb::Role::try_from(r.role).unwrap_or(pb::Role::Unspecified);
                if let Some(m) = self.members.get_mut(&r.member) {
                    m.roles.remove(&role);
                }
                Undo::Role {
                    handle: r.member.clone(),
                    role,
                    granted: false,
                }
            }
            Body::AdoptPolicy(p) => {
                let version = u32::try_from(self.policies.len() + 1).unwrap_or(u32::MAX);
                self.policies.push(PolicyVersion {
                    version,
                    sequence,
                    json: p.policy_json.clone(),
                });
                Undo::Policy
            }
            Body::LogContribution(l) => {
                self.contributions.insert(
                    v.id,
                    ContributionState {
                        id: v.id,
                        member: author.clone(),
                        fields: l.contribution.clone().unwrap_or_default(),
                        sequence,
                        retracted: false,
                        evaluations: BTreeMap::new(),
                        touched: sequence,
                        earliest_at: l.contribution.as_ref().map_or(0, |c| c.at),
                    },
                );
                if let Some(m) = self.members.get_mut(&author) {
                    m.contributions += 1;
                }
                self.live_contributions += 1;
                Undo::Log { id: v.id }
            }
            Body::AmendContribution(a) => {
                let id = id_of(&a.contribution_id);
                let Some(c) = self.contributions.get_mut(&id) else {
                    return Undo::Policy;
                };
                let previous = Box::new(c.clone());
                c.touched = sequence;
                c.fields = a.contribution.clone().unwrap_or_default();
                c.earliest_at = c.earliest_at.min(c.fields.at);
                // Reviewers approve what is there now (spec/DECISIONS.md).
                c.evaluations.clear();
                self.standing_evaluations = self
                    .standing_evaluations
                    .saturating_sub(standing_of(&previous));
                Undo::Restore { previous }
            }
            Body::RetractContribution(r) => {
                let id = id_of(&r.contribution_id);
                let Some(c) = self.contributions.get_mut(&id) else {
                    return Undo::Policy;
                };
                let previous = Box::new(c.clone());
                c.touched = sequence;
                c.retracted = true;
                if let Some(m) = self.members.get_mut(&author) {
                    m.contributions = m.contributions.saturating_sub(1);
                }
                self.live_contributions = self.live_contributions.saturating_sub(1);
                self.standing_evaluations = self
                    .standing_evaluations
                    .saturating_sub(standing_of(&previous));
                Undo::Restore { previous }
            }
            Body::Evaluate(e) => {
                let id = id_of(&e.contribution_id);
                let verdict = pb::Verdict::try_from(e.verdict).unwrap_or(pb::Verdict::Unspecified);
                let mut touched = 0;
                let mut added = false;
                let previous = self.contributions.get_mut(&id).and_then(|c| {
                    touched = std::mem::replace(&mut c.touched, sequence);
                    let previous = c.evaluations.insert(
                        author.clone(),
                        EvaluationState {
                            verdict,
                            rating: e.rating,
                            sequence,
                        },
                    );
                    added = previous.is_none() && !c.retracted;
                    previous
                });
                if added {
                    self.standing_evaluations += 1;
                }
                Undo::Evaluate {
                    contribution: id,
                    evaluator: author,
                    previous,
                    touched,
                }
            }
            Body::RecordDistribution(r) => {
                self.distributions.push(DistributionState {
                    id: v.id,
                    treasurer: author,
                    period: r
                        .period
                        .as_ref()
                        .map(|p| (p.start, p.end))
                        .unwrap_or_default(),
                    income: r.income.unwrap_or_default(),
                    policy_version: r.policy_version,
                    log_size: r.log_size,
                    digest: r.digest.clone(),
                    sequence,
                    settlement: settlement.unwrap_or_default(),
                    voided: None,
                });
                Undo::Distribution
            }
            Body::VoidDistribution(d) => {
                let id = id_of(&d.distribution_id);
                let Some(index) = self.distributions.iter().position(|x| x.id == id) else {
                    return Undo::Policy;
                };
                self.distributions[index].voided = Some(VoidState {
                    sequence,
                    id: v.id,
                    treasurer: author,
                    reason: d.reason.clone(),
                });
                Undo::Void { index }
            }
            Body::Allocate(a) => {
                let (start, end) = a
                    .period
                    .as_ref()
                    .map(|p| (p.start, p.end))
                    .unwrap_or_default();
                let to = a
                    .shares
                    .iter()
                    .filter(|s| s.percent > 0)
                    .map(|s| (s.member.clone(), s.percent))
                    .collect();
                let key = (start, end, author);
                let previous = self
                    .allocations
                    .insert(key.clone(), AllocationState { to, sequence });
                Undo::Allocate { key, previous }
            }
        }
    }

    /// Takes back the entry `apply` folded in last (undos run newest first).
    pub fn undo(&mut self, v: &VerifiedEnvelope, undo: Undo) {
        self.ids.remove(&v.id);
        self.size = self.size.saturating_sub(1);
        match undo {
            Undo::Genesis => {
                self.network = None;
                self.members.clear();
                self.keys.clear();
            }
            Undo::Admit { handle } => {
                if let Some(m) = self.members.remove(&handle) {
                    self.keys.remove(&m.key);
                }
            }
            Undo::Rotate { handle, old, new } => {
                self.keys.remove(&new);
                if let Some(o) = self.keys.get_mut(&old) {
                    o.current = true;
                }
                if let Some(m) = self.members.get_mut(&handle) {
                    m.key = old;
                    m.retired_keys.pop();
                }
            }
            Undo::Role {
                handle,
                role,
                granted,
            } => {
                if let Some(m) = self.members.get_mut(&handle) {
                    if granted {
                        m.roles.remove(&role);
                    } else {
                        m.roles.insert(role);
                    }
                }
            }
            Undo::Policy => {
                if matches!(v.entry.body, Some(Body::AdoptPolicy(_))) {
                    self.policies.pop();
                }
            }
            Undo::Log { id } => {
                if let Some(c) = self.contributions.remove(&id) {
                    self.live_contributions = self.live_contributions.saturating_sub(1);
                    self.standing_evaluations =
                        self.standing_evaluations.saturating_sub(standing_of(&c));
                    if let Some(m) = self.members.get_mut(&c.member) {
                        m.contributions = m.contributions.saturating_sub(1);
                    }
                }
            }
            Undo::Restore { previous } => {
                if matches!(v.entry.body, Some(Body::RetractContribution(_))) {
                    self.live_contributions += 1;
                    if let Some(m) = self.members.get_mut(&previous.member) {
                        m.contributions += 1;
                    }
                }
                let now = self.contributions.get(&previous.id).map_or(0, standing_of);
                self.standing_evaluations =
                    self.standing_evaluations.saturating_sub(now) + standing_of(&previous);
                self.contributions.insert(previous.id, *previous);
            }
            Undo::Evaluate {
                contribution,
                evaluator,
                previous,
                touched,
            } => {
                if let Some(c) = self.contributions.get_mut(&contribution) {
                    c.touched = touched;
                    match previous {
                        Some(p) => {
                            c.evaluations.insert(evaluator, p);
                        }
                        None => {
                            if c.evaluations.remove(&evaluator).is_some() && !c.retracted {
                                self.standing_evaluations =
                                    self.standing_evaluations.saturating_sub(1);
                            }
                        }
                    }
                }
            }
            Undo::Distribution => {
                self.distributions.pop();
            }
            Undo::Void { index } => {
                if let Some(d) = self.distributions.get_mut(index) {
                    d.voided = None;
                }
            }
            Undo::Allocate { key, previous } => match previous {
                Some(p) => {
                    self.allocations.insert(key, p);
                }
                None => {
                    self.allocations.remove(&key);
                }
            },
        }
    }

    fn add_member(
        &mut self,
        handle: &str,
        key: [u8; 32],
        sequence: u64,
        roles: BTreeSet<pb::Role>,
    ) {
        self.members.insert(
            handle.to_string(),
            MemberState {
                handle: handle.to_string(),
                key,
                retired_keys: Vec::new(),
                roles,
                admitted_at: sequence,
                contributions: 0,
            },
        );
        self.keys.insert(
            key,
            KeyOwner {
                handle: handle.to_string(),
                current: true,
            },
        );
    }

    /// Whether an entry is "dated" in `[start, end)` for list filters:
    /// contributions by `at`; evaluations and retractions by their
    /// contribution's current `at`; amendments by the `at` they set or their
    /// contribution's current `at`; allocations and recorded distributions by
    /// overlap of the period they are for (a treasurer filtering October
    /// wants October's distribution, whenever it was recorded); others by
    /// `created_at`.
    pub fn dated_in(&self, entry: &pb::Entry, start: i64, end: i64) -> bool {
        let within = |t: i64| start <= t && t < end;
        match entry.body.as_ref() {
            Some(Body::LogContribution(l)) => l.contribution.as_ref().is_some_and(|c| within(c.at)),
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

    /// Whether an entry was written by, or is about, `member` (list filters).
    pub fn concerns(&self, entry: &pb::Entry, member: &str) -> bool {
        if entry.author == member {
            return true;
        }
        match entry.body.as_ref() {
            Some(Body::Genesis(g)) => g.founders.iter().any(|f| f.handle == member),
            Some(Body::AdmitMember(a)) => a.handle == member,
            Some(Body::GrantRole(g)) => g.member == member,
            Some(Body::RevokeRole(r)) => r.member == member,
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
fn standing_of(c: &ContributionState) -> u64 {
    if c.retracted {
        0
    } else {
        c.evaluations.len() as u64
    }
}

/// Checks a policy document with the scoring core's own parser, so a policy
/// it would refuse never enters the log.
fn check_policy(json: &[u8]) -> Result<crate::scoring::policy::PolicyDocument, Refusal> {
    crate::scoring::policy::PolicyDocument::from_json(json)
        .map_err(|e| Refusal::InvalidArgument(format!("adopt_policy.policy_json: {e}")))
}

/// Refuses an author who is not a treasurer.
fn require_treasurer(author: &MemberState, action: &str) -> Result<(), Refusal> {
    if author.roles.contains(&pb::Role::Treasurer) {
        Ok(())
    } else {
        Err(Refusal::PermissionDenied(format!(
            "{} is not a treasurer; only treasurers {action}",
            author.handle
        )))
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

fn id_of(bytes: &[u8]) -> EntryId {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Signer, contribution_body, evaluate_body, genesis_body};

    fn verified(signer: &Signer, body: Body) -> VerifiedEnvelope {
        let envelope = signer.sign(body).unwrap();
        VerifiedEnvelope::verify(&envelope, usize::MAX).unwrap()
    }

    /// The counters, recomputed from the contributions themselves.
    fn recount(state: &LedgerState) -> (u64, u64) {
        let live = state.contributions().filter(|c| !c.retracted).count() as u64;
        (live, state.contributions().map(standing_of).sum())
    }

    #[test]
    fn the_scorable_counts_follow_every_apply_and_undo() {
        let log_key = [1u8; 32];
        let limits = Limits::default();
        let cx = CheckContext {
            log_public_key: &log_key,
            limits: &limits,
            now_ms: Some(crate::ledger::now_ms()),
        };
        let mut state = LedgerState::default();
        let key = |seed: u8| ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let alice = Signer::new("alice", key(1), &[]);
        let genesis = verified(
            &alice,
            genesis_body(
                "c",
                "EUR",
                2,
                &[("alice".into(), alice.public_key())],
                &log_key,
            ),
        );
        let step = |state: &mut LedgerState, v: &VerifiedEnvelope| {
            state.check(v, &cx).unwrap();
            let sequence = state.size();
            state.apply(v, sequence, None)
        };
        step(&mut state, &genesis);
        let alice = Signer::new("alice", key(1), &genesis.id.0);
        let bob = Signer::new("bob", key(2), &genesis.id.0);
        let admit = Body::AdmitMember(pb::AdmitMember {
            handle: "bob".into(),
            public_key: bob.public_key().to_vec(),
        });
        step(&mut state, &verified(&alice, admit));
        let work = pb::Contribution {
            kind: pb::ContributionKind::Work as i32,
            quantity: 60,
            at: 1_577_836_800,
            ..Default::default()
        };
        let logged = verified(&bob, contribution_body(work.clone()));
        let id = logged.id;
        let approve = |rating| evaluate_body(&id, pb::Verdict::Approve, rating, "");
        let entries = vec![
            logged,
            verified(&alice, approve(Some(80))),
            verified(&alice, approve(Some(90))),
            verified(
                &bob,
                Body::AmendContribution(pb::AmendContribution {
                    contribution_id: id.0.to_vec(),
                    contribution: Some(work),
                }),
            ),
            verified(&alice, approve(None)),
            verified(
                &bob,
                Body::RetractContribution(pb::RetractContribution {
                    contribution_id: id.0.to_vec(),
                    reason: String::new(),
                }),
            ),
        ];
        let mut undos = Vec::new();
        let mut seen = Vec::new();
        for v in &entries {
            undos.push(step(&mut state, v));
            let counts = (state.live_contributions, state.standing_evaluations);
            assert_eq!(counts, recount(&state));
            seen.push(counts);
        }
        assert_eq!(seen, [(1, 0), (1, 1), (1, 1), (1, 0), (1, 1), (0, 0)]);
        for (v, undo) in entries.iter().zip(undos).rev() {
            state.undo(v, undo);
            assert_eq!(
                (state.live_contributions, state.standing_evaluations),
                recount(&state)
            );
        }
        assert_eq!(
            (state.live_contributions, state.standing_evaluations),
            (0, 0)
        );
    }
}
