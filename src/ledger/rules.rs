//! Who may do what: every ingestion rule, checked against the state before
//! an entry is folded in. A refusal names the field and the rule, with the
//! gRPC code of spec/DECISIONS.md, and never changes the state.

use super::entry::{self, CheckedEntry};
use super::limits::Limits;
use super::refusal::Refusal;
use super::state::{ContributionState, DistributionState, LedgerState, MemberState, role_name};
use crate::pb::{self, entry::Body};
use crate::verify::{EntryId, VerifiedEnvelope};

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

/// Proof that an entry passed every rule against the state it is about to
/// be folded into: made only by [`LedgerState::check`], consumed by
/// [`LedgerState::apply`].
#[derive(Debug)]
pub struct Admitted<'e> {
    pub(super) entry: &'e CheckedEntry,
}

impl LedgerState {
    /// The standing distribution whose period contains `at`, if any: a
    /// closed period.
    fn closed_at(&self, at: i64) -> Option<&DistributionState> {
        self.standing_distributions()
            .find(|d| d.period.0 <= at && at < d.period.1)
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

    /// Checks an entry against every ingestion rule. Never mutates. The
    /// token it returns is what [`LedgerState::apply`] takes, so only an
    /// admitted entry is folded in.
    pub fn check<'e>(
        &self,
        v: &'e CheckedEntry,
        cx: &CheckContext<'_>,
    ) -> Result<Admitted<'e>, Refusal> {
        self.check_rules(v, cx)?;
        Ok(Admitted { entry: v })
    }

    fn check_rules(&self, v: &CheckedEntry, cx: &CheckContext<'_>) -> Result<(), Refusal> {
        let entry = &v.entry;
        let Some(body) = entry.body.as_ref() else {
            return Err(Refusal::InvalidArgument(
                "entry.body: is required (which kind of entry is this?)".into(),
            ));
        };
        if let Some(now) = cx.now_ms {
            let skew = i64::try_from(cx.limits.max_clock_skew_ms).unwrap_or(i64::MAX);
            if (entry.created_at_ms - now).abs() > skew {
                let at = |ms: i64| crate::scoring::time::format_rfc3339(ms.div_euclid(1000));
                return Err(Refusal::InvalidArgument(format!(
                    "entry.created_at_ms: the entry was signed at {} but the server's clock says {} (more than {} s apart, max_clock_skew_ms): check the signer's clock",
                    at(entry.created_at_ms),
                    at(now),
                    cx.limits.max_clock_skew_ms / 1000
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
            Body::SuspendMember(s) => {
                self.require_admin(author, "suspend members")?;
                let target = self.existing_member(&s.member, "suspend_member.member")?;
                if let Some(at) = target.suspended {
                    return Err(Refusal::AlreadyExists(format!(
                        "suspend_member: {} is already suspended (entry {at})",
                        s.member
                    )));
                }
                let admins_left = self
                    .members
                    .values()
                    .filter(|m| {
                        m.roles.contains(&pb::Role::Admin)
                            && m.suspended.is_none()
                            && m.handle != s.member
                    })
                    .count();
                if admins_left == 0 {
                    return Err(Refusal::FailedPrecondition(format!(
                        "suspend_member: {} is the last admin who is not suspended; nobody could reinstate anyone",
                        s.member
                    )));
                }
                Ok(())
            }
            Body::ReinstateMember(r) => {
                self.require_admin(author, "reinstate members")?;
                let target = self.existing_member(&r.member, "reinstate_member.member")?;
                if target.suspended.is_none() {
                    return Err(Refusal::FailedPrecondition(format!(
                        "reinstate_member: {} is not suspended",
                        r.member
                    )));
                }
                Ok(())
            }
            Body::ResetKey(r) => {
                self.require_admin(author, "reset members' keys")?;
                self.existing_member(&r.member, "reset_key.member")?;
                self.check_key_unused(&r.new_public_key, "reset_key.new_public_key")
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
                // What scoring would refuse for every preview of it, judged
                // when the policy arrives (never on replay, so a log that
                // adopted such a policy before this check still opens).
                if cx.now_ms.is_some() {
                    self.check_allocation_buckets(&doc)?;
                }
                Ok(())
            }
            Body::LogContribution(l) => {
                self.check_new_contribution(l.contribution.as_ref(), cx, "log_contribution")
            }
            Body::AttestContribution(a) => {
                self.require_admin(author, "attest contributions on a member's behalf")?;
                let member = self.existing_member(&a.member, "attest_contribution.member")?;
                if let Some(at) = member.suspended {
                    return Err(Refusal::FailedPrecondition(format!(
                        "attest_contribution.member: {} is suspended (entry {at}) and could not dispute it; reinstate them first",
                        a.member
                    )));
                }
                self.check_new_contribution(a.contribution.as_ref(), cx, "attest_contribution")
            }
            Body::AmendContribution(a) => {
                let c = self.own_live_contribution(
                    author,
                    &a.contribution_id,
                    "amend_contribution",
                    Change::Amend,
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
                    Change::Retract,
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
                if c.attested_by.as_deref() == Some(author.handle.as_str()) {
                    return Err(Refusal::PermissionDenied(format!(
                        "evaluate: {} attested contribution {} on {}'s behalf and cannot evaluate it",
                        author.handle, c.id, c.member
                    )));
                }
                // A replacement keeps the count; a first evaluation adds one.
                if !c.evaluations.contains_key(&author.handle)
                    && self.standing_evaluations >= super::limits::MAX_STANDING_EVALUATIONS
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
        if let Some(now_ms) = cx.now_ms {
            refuse_unended(end, now_ms)?;
        }
        if !self.policies.iter().any(|p| p.version == r.policy_version) {
            return Err(Refusal::NotFound(format!(
                "record_distribution.policy_version: there is no policy version {}",
                r.policy_version
            )));
        }
        self.refuse_overlap(start, end)?;
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

    /// Refuses a period that overlaps a standing recorded distribution.
    pub fn refuse_overlap(&self, start: i64, end: i64) -> Result<(), Refusal> {
        match self.overlapping_distribution(start, end) {
            None => Ok(()),
            Some(d) => Err(Refusal::AlreadyExists(format!(
                "record_distribution.period: overlaps the distribution recorded by entry {} ({}..{}); void it first to redistribute",
                d.sequence,
                crate::scoring::time::format_rfc3339(d.period.0),
                crate::scoring::time::format_rfc3339(d.period.1)
            ))),
        }
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
            if let Some(at) = member.suspended {
                return Err(Refusal::PermissionDenied(format!(
                    "{handle} is suspended (entry {at}): their key signs nothing until an admin reinstates them"
                )));
            }
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

    /// Refuses a policy whose allocation buckets every preview would
    /// refuse: `participants` naming a non-member (NotFound, like
    /// `pretrusted`, with a "did you mean"), or an impartial bucket whose
    /// participant count is already outside 3..=500 whatever the
    /// evaluations say. That is when it names fewer than 3 participants
    /// (trust can only drop some); or, with equal weights (every
    /// participant counts), names more than 500, or names none in a
    /// cooperative of more than 500 members (members are never removed).
    fn check_allocation_buckets(
        &self,
        doc: &crate::scoring::PolicyDocument,
    ) -> Result<(), Refusal> {
        use crate::scoring::limits::MAX_IMPARTIAL_PARTICIPANTS;
        use crate::scoring::policy::{EvaluatorWeights, Mechanism};
        let trust_on = matches!(
            doc.policy.evaluator_weights,
            EvaluatorWeights::EigenTrust { .. }
        );
        for (b, bucket) in doc.buckets.iter().enumerate() {
            let crate::scoring::Bucket::Allocation {
                mechanism,
                participants,
                ..
            } = bucket
            else {
                continue;
            };
            let field = format!("adopt_policy.policy_json: buckets[{b}].participants");
            for (i, m) in participants.iter().flatten().enumerate() {
                self.existing_member(m, &format!("{field}[{i}]"))?;
            }
            if *mechanism != Mechanism::Impartial {
                continue;
            }
            let refuse = |what: String| {
                Err(Refusal::InvalidArgument(format!(
                    "{field}: {what}; every preview of this policy would be refused"
                )))
            };
            match participants {
                Some(listed) if listed.len() < 3 => {
                    return refuse(format!(
                        "impartial division needs at least three participants; it names {}",
                        listed.len()
                    ));
                }
                Some(listed) if !trust_on && listed.len() > MAX_IMPARTIAL_PARTICIPANTS => {
                    return refuse(format!(
                        "impartial division takes at most {MAX_IMPARTIAL_PARTICIPANTS} participants; it names {}",
                        listed.len()
                    ));
                }
                None if !trust_on && self.members.len() > MAX_IMPARTIAL_PARTICIPANTS => {
                    return refuse(format!(
                        "impartial division takes at most {MAX_IMPARTIAL_PARTICIPANTS} participants, and without participants every one of the {} members takes part: name the team in participants",
                        self.members.len()
                    ));
                }
                _ => {}
            }
        }
        Ok(())
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

    /// The live contribution `id` if `author` may make `change` to it: a
    /// member's own contribution; for an attested one, its member may
    /// retract it and the admin who attested it (while still an admin) may
    /// amend or retract it.
    fn own_live_contribution(
        &self,
        author: &MemberState,
        id: &[u8],
        body: &str,
        change: Change,
    ) -> Result<&ContributionState, Refusal> {
        let c = self.live_contribution(id, &format!("{body}.contribution_id"))?;
        let action = change.verb();
        match c.attested_by.as_deref() {
            None if c.member == author.handle => Ok(c),
            None => Err(Refusal::PermissionDenied(format!(
                "{body}: only {} can {action} contribution {}, not {}",
                c.member, c.id, author.handle
            ))),
            Some(_) if c.member == author.handle && change == Change::Retract => Ok(c),
            Some(admin) if admin == author.handle => {
                self.require_admin(
                    author,
                    &format!("{action} the contributions they attested ({body})"),
                )?;
                Ok(c)
            }
            Some(admin) => Err(Refusal::PermissionDenied(format!(
                "{body}: contribution {} was attested by {admin} on {}'s behalf: {}, not {}",
                c.id,
                c.member,
                match change {
                    Change::Amend => format!("only {admin} can amend it"),
                    Change::Retract => format!("only {} or {admin} can retract it", c.member),
                },
                author.handle
            ))),
        }
    }

    /// The rules a new contribution meets, logged by its member or attested
    /// by an admin: not dated in a closed period, room for one more live
    /// contribution, not in the future.
    fn check_new_contribution(
        &self,
        c: Option<&pb::Contribution>,
        cx: &CheckContext<'_>,
        body: &str,
    ) -> Result<(), Refusal> {
        if let Some(c) = c {
            self.refuse_if_closed(c.at, &format!("{body}.contribution.at"))?;
        }
        if self.live_contributions >= super::limits::MAX_LIVE_CONTRIBUTIONS {
            return Err(Refusal::ResourceExhausted(format!(
                "{body}: the log already holds {} live contributions, the most \
                 one distribution can score; retract some first",
                self.live_contributions
            )));
        }
        self.check_contribution_time(c, cx, body)
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
                    "{body}.contribution.at: {} is in the future (the server's clock says {}); log what was done, after it was done",
                    crate::scoring::time::format_rfc3339(c.at),
                    crate::scoring::time::format_rfc3339(now.div_euclid(1000))
                )));
            }
        }
        Ok(())
    }
}

/// A change to an existing contribution, for who-may-do-it messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Amend,
    Retract,
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Amend => "amend",
            Change::Retract => "retract",
        }
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

/// Refuses recording a period that has not ended by the server's clock
/// (`now_ms`, on arrival only: replay has no clock).
pub fn refuse_unended(end: i64, now_ms: i64) -> Result<(), Refusal> {
    let now = now_ms.div_euclid(1000);
    if end > now {
        return Err(Refusal::FailedPrecondition(format!(
            "record_distribution.period: it ends at {}, after the server's clock ({}); record a period once it has ended",
            crate::scoring::time::format_rfc3339(end),
            crate::scoring::time::format_rfc3339(now)
        )));
    }
    Ok(())
}
