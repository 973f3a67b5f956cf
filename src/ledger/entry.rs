//! Stateless checks of a decoded entry: the shape and range of every field,
//! before the sequencer looks at who may do what. These need no state, so
//! they run on the request's task, in parallel with other requests.

use super::limits::{
    Limits, MAX_AMOUNT, MAX_UNITS, MAX_UNIX_SECONDS, MAX_WORK_MINUTES, max_quantity, max_rate,
};
use super::refusal::Refusal;
use crate::pb::{self, entry::Body};
use crate::scoring::input::Kind;
use crate::verify::VerifiedEnvelope;

/// Length of an entry nonce (spec/DECISIONS.md).
pub const NONCE_BYTES: usize = 16;

/// The most minor-unit digits a network's currency may have (0..=8): cents
/// need 2, and 8 fits currencies counted in hundred-millionths such as
/// FairCoin, while 10^15 minor units (the amount limit) stay a sum a
/// cooperative can hold. The proto, the README and the CLI say the same.
pub const MAX_DECIMALS: u32 = 8;

/// The scoring kind of a logged contribution kind.
pub fn kind_of(kind: i32) -> Option<crate::scoring::input::Kind> {
    match pb::ContributionKind::try_from(kind).ok()? {
        pb::ContributionKind::Work => Some(crate::scoring::input::Kind::Work),
        pb::ContributionKind::Money => Some(crate::scoring::input::Kind::Money),
        pb::ContributionKind::Expense => Some(crate::scoring::input::Kind::Expense),
        pb::ContributionKind::Resource => Some(crate::scoring::input::Kind::Resource),
        pb::ContributionKind::Use => Some(crate::scoring::input::Kind::Use),
        pb::ContributionKind::Unspecified => None,
    }
}

/// An entry whose signature verified and whose every field passed the
/// stateless checks ([`check_entry`]). Those checks need no state, so they
/// run on the request's own task, in parallel, before the sequencer; the
/// rules ([`LedgerState::check`](crate::ledger::LedgerState::check)) and the
/// fold take only this type, so nothing unchecked reaches them.
#[derive(Clone, Debug)]
pub struct CheckedEntry {
    envelope: VerifiedEnvelope,
}

impl CheckedEntry {
    /// Runs the stateless checks on a verified envelope.
    pub fn new(envelope: VerifiedEnvelope, limits: &Limits) -> Result<Self, Refusal> {
        check_entry(&envelope.entry, limits)?;
        Ok(CheckedEntry { envelope })
    }

    /// The verified envelope.
    pub fn envelope(&self) -> &VerifiedEnvelope {
        &self.envelope
    }
}

impl std::ops::Deref for CheckedEntry {
    type Target = VerifiedEnvelope;

    fn deref(&self) -> &VerifiedEnvelope {
        &self.envelope
    }
}

/// The short name of a body kind, as people and error messages call it.
pub fn body_name(body: &Body) -> &'static str {
    match body {
        Body::Genesis(_) => "genesis",
        Body::AdmitMember(_) => "admit_member",
        Body::RotateKey(_) => "rotate_key",
        Body::GrantRole(_) => "grant_role",
        Body::RevokeRole(_) => "revoke_role",
        Body::AdoptPolicy(_) => "adopt_policy",
        Body::LogContribution(_) => "log_contribution",
        Body::AmendContribution(_) => "amend_contribution",
        Body::RetractContribution(_) => "retract_contribution",
        Body::Evaluate(_) => "evaluate",
        Body::Allocate(_) => "allocate",
        Body::RecordDistribution(_) => "record_distribution",
        Body::VoidDistribution(_) => "void_distribution",
        Body::SuspendMember(_) => "suspend_member",
        Body::ReinstateMember(_) => "reinstate_member",
        Body::ResetKey(_) => "reset_key",
        Body::AttestContribution(_) => "attest_contribution",
    }
}

/// The `EntryKind` of a body, for filters.
pub fn body_kind(body: &Body) -> pb::EntryKind {
    match body {
        Body::Genesis(_) => pb::EntryKind::Genesis,
        Body::AdmitMember(_) => pb::EntryKind::AdmitMember,
        Body::RotateKey(_) => pb::EntryKind::RotateKey,
        Body::GrantRole(_) => pb::EntryKind::GrantRole,
        Body::RevokeRole(_) => pb::EntryKind::RevokeRole,
        Body::AdoptPolicy(_) => pb::EntryKind::AdoptPolicy,
        Body::LogContribution(_) => pb::EntryKind::LogContribution,
        Body::AmendContribution(_) => pb::EntryKind::AmendContribution,
        Body::RetractContribution(_) => pb::EntryKind::RetractContribution,
        Body::Evaluate(_) => pb::EntryKind::Evaluate,
        Body::Allocate(_) => pb::EntryKind::Allocate,
        Body::RecordDistribution(_) => pb::EntryKind::RecordDistribution,
        Body::VoidDistribution(_) => pb::EntryKind::VoidDistribution,
        Body::SuspendMember(_) => pb::EntryKind::SuspendMember,
        Body::ReinstateMember(_) => pb::EntryKind::ReinstateMember,
        Body::ResetKey(_) => pb::EntryKind::ResetKey,
        Body::AttestContribution(_) => pb::EntryKind::AttestContribution,
    }
}

/// Checks a member handle: `[a-z0-9][a-z0-9._-]{0,63}` (spec/DECISIONS.md).
pub fn check_handle(handle: &str, field: &str) -> Result<(), Refusal> {
    let b = handle.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Refusal::InvalidArgument(format!(
            "{field}: {handle:?} is not a valid handle (1 to 64 of a-z 0-9 . _ -, starting with a letter or digit)"
        )))
    }
}

/// The index of the first item equal to an earlier one, if any: a sort's
/// worth of work (O(n log n)), so a list as long as the member limit is
/// checked in milliseconds, not the seconds a pairwise scan would take.
fn first_repeat<'a, T: Ord + ?Sized + 'a>(items: impl IntoIterator<Item = &'a T>) -> Option<usize> {
    let mut seen = std::collections::BTreeSet::new();
    items.into_iter().position(|item| !seen.insert(item))
}

/// Checks a bounded string with no control characters.
fn check_text(s: &str, max: usize, field: &str, required: bool) -> Result<(), Refusal> {
    if required && s.trim().is_empty() {
        return Err(Refusal::InvalidArgument(format!(
            "{field}: must not be empty"
        )));
    }
    if s.len() > max {
        return Err(Refusal::InvalidArgument(format!(
            "{field}: {} bytes is over the limit of {max}",
            s.len()
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Refusal::InvalidArgument(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(())
}

/// Checks a time in Unix seconds is representable as RFC 3339 with a four-digit year.
pub fn check_unix_seconds(t: i64, field: &str) -> Result<(), Refusal> {
    if (0..=MAX_UNIX_SECONDS).contains(&t) {
        Ok(())
    } else {
        Err(Refusal::InvalidArgument(format!(
            "{field}: {t} seconds since 1970 is outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59Z"
        )))
    }
}

/// Checks a period is a non-empty half-open range.
pub fn check_period(period: Option<&pb::Period>, field: &str) -> Result<(i64, i64), Refusal> {
    let p = period.ok_or_else(|| Refusal::InvalidArgument(format!("{field}: is required")))?;
    check_unix_seconds(p.start, &format!("{field}.start"))?;
    check_unix_seconds(p.end, &format!("{field}.end"))?;
    if p.start >= p.end {
        return Err(Refusal::InvalidArgument(format!(
            "{field}: start ({}) must be before end ({})",
            p.start, p.end
        )));
    }
    Ok((p.start, p.end))
}

/// Refuses a distribution period longer than `max_distribution_seconds`:
/// a typo in an end date must not close every later month.
pub fn check_distribution_length((start, end): (i64, i64), limits: &Limits) -> Result<(), Refusal> {
    let length = end.abs_diff(start);
    if length > limits.max_distribution_seconds {
        return Err(Refusal::InvalidArgument(format!(
            "record_distribution.period: {} days is longer than the longest period one distribution may cover ({} days, max_distribution_seconds); check the end date",
            length.div_ceil(86_400),
            limits.max_distribution_seconds / 86_400
        )));
    }
    Ok(())
}

/// Checks the fields of a contribution as logged or amended.
pub fn check_contribution(
    c: Option<&pb::Contribution>,
    limits: &Limits,
    field: &str,
) -> Result<(), Refusal> {
    let c = c.ok_or_else(|| Refusal::InvalidArgument(format!("{field}: is required")))?;
    let kind = match kind_of(c.kind) {
        Some(kind) => kind,
        None => {
            return Err(Refusal::InvalidArgument(format!(
                "{field}.kind: must be one of work, money, expense, resource, use (got {})",
                c.kind
            )));
        }
    };
    check_quantity_and_rate(kind, c.quantity, c.rate, field)?;
    // The scoring core refuses more than MAX_TAGS tags or a tag longer than
    // MAX_NAME_BYTES, whatever this server's limits say (DESIGN principle 8).
    let max_tags = limits.max_tags.min(crate::scoring::limits::MAX_TAGS);
    let max_tag_bytes = limits
        .max_string_bytes
        .min(crate::scoring::limits::MAX_NAME_BYTES);
    if c.tags.len() > max_tags {
        return Err(Refusal::ResourceExhausted(format!(
            "{field}.tags: {} tags is over the limit of {max_tags}",
            c.tags.len(),
        )));
    }
    let repeated_tag = first_repeat(c.tags.iter().map(String::as_str));
    for (i, tag) in c.tags.iter().enumerate() {
        let f = format!("{field}.tags[{i}]");
        check_text(tag, max_tag_bytes, &f, true)?;
        if tag.trim() != tag || tag.chars().any(char::is_whitespace) {
            return Err(Refusal::InvalidArgument(format!(
                "{f}: {tag:?} must not contain whitespace"
            )));
        }
        if repeated_tag == Some(i) {
            return Err(Refusal::InvalidArgument(format!(
                "{f}: {tag:?} appears twice"
            )));
        }
    }
    check_text(
        &c.project,
        limits.max_string_bytes,
        &format!("{field}.project"),
        false,
    )?;
    check_unix_seconds(c.at, &format!("{field}.at"))?;
    check_text(
        &c.note,
        limits.max_note_bytes,
        &format!("{field}.note"),
        false,
    )?;
    check_text(
        &c.evidence_url,
        limits.max_note_bytes,
        &format!("{field}.evidence_url"),
        false,
    )?;
    if !c.evidence_hash.is_empty() && c.evidence_hash.len() != 32 {
        return Err(Refusal::InvalidArgument(format!(
            "{field}.evidence_hash: must be empty or 32 bytes (got {})",
            c.evidence_hash.len()
        )));
    }
    Ok(())
}

/// Checks an attested contribution: the member's handle, a source saying
/// where it came from, and the contribution exactly as a member's own
/// [`check_contribution`] would.
pub fn check_attestation(a: &pb::AttestContribution, limits: &Limits) -> Result<(), Refusal> {
    check_handle(&a.member, "attest_contribution.member")?;
    if a.source.trim().is_empty() {
        return Err(Refusal::InvalidArgument(
            "attest_contribution.source: must not be empty: say where this contribution comes from (a file and row)".into(),
        ));
    }
    check_text(
        &a.source,
        limits.max_note_bytes,
        "attest_contribution.source",
        false,
    )?;
    check_contribution(
        a.contribution.as_ref(),
        limits,
        "attest_contribution.contribution",
    )
}

/// Checks a contribution's quantity and own rate against the per-kind bounds
/// of `crate::ledger`, so that its value can never pass the scoring limit of
/// 10^15 minor units under its own rate or any rate a policy may adopt.
pub fn check_quantity_and_rate(
    kind: Kind,
    quantity: u64,
    rate: Option<u64>,
    field: &str,
) -> Result<(), Refusal> {
    let max = max_quantity(kind);
    if quantity > max {
        let why = match kind {
            Kind::Work => format!(
                "{quantity} minutes of work is more than the most one entry may log \
                 ({max} minutes, about {} hours); log it in several entries",
                group_digits(max / 60)
            ),
            Kind::Money | Kind::Expense => format!(
                "{quantity} minor units is more than one {kind} entry may log ({max}, \
                 the most any contribution may be worth); log it in several entries"
            ),
            Kind::Resource | Kind::Use => format!(
                "{quantity} units is more than the most one {kind} entry may log \
                 ({max} units); log it in several entries or count in a larger unit"
            ),
        };
        return Err(Refusal::InvalidArgument(format!("{field}.quantity: {why}")));
    }
    let Some(rate) = rate else {
        return Ok(());
    };
    match max_rate(kind) {
        Some(max) if rate > max => {
            let why = match kind {
                Kind::Work => format!(
                    "{rate} minor units an hour is more than a work rate may be ({max} an \
                     hour, so that the most one entry may log, {MAX_WORK_MINUTES} minutes, \
                     is worth at most 10^15 minor units)"
                ),
                _ => format!(
                    "{rate} minor units a unit is more than a {kind} rate may be ({max}, \
                     so that the most one entry may log, {MAX_UNITS} units, is worth at \
                     most 10^15 minor units); count in a smaller unit"
                ),
            };
            Err(Refusal::InvalidArgument(format!("{field}.rate: {why}")))
        }
        // Money and expenses are worth their quantity; a rate on them is
        // ignored by scoring, which still refuses one over 10^15.
        None if rate > MAX_AMOUNT => Err(Refusal::InvalidArgument(format!(
            "{field}.rate: {rate} is over the limit of {MAX_AMOUNT}"
        ))),
        _ => Ok(()),
    }
}

/// `n` with a comma every three digits (16,666), for messages people read.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Checks a role field names a real role.
pub fn check_role(role: i32, field: &str) -> Result<pb::Role, Refusal> {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Unspecified) | Err(_) => Err(Refusal::InvalidArgument(format!(
            "{field}: must be admin or treasurer (got {role})"
        ))),
        Ok(r) => Ok(r),
    }
}

/// Checks everything about an entry that needs no state: header fields and
/// the body's own fields. Returns the body.
pub fn check_entry<'a>(entry: &'a pb::Entry, limits: &Limits) -> Result<&'a Body, Refusal> {
    let body = entry.body.as_ref().ok_or_else(|| {
        Refusal::InvalidArgument("entry.body: is required (which kind of entry is this?)".into())
    })?;
    check_handle(&entry.author, "entry.author")?;
    if entry.nonce.len() != NONCE_BYTES {
        return Err(Refusal::InvalidArgument(format!(
            "entry.nonce: must be {NONCE_BYTES} random bytes (got {})",
            entry.nonce.len()
        )));
    }
    if entry.created_at_ms <= 0 || entry.created_at_ms > MAX_UNIX_SECONDS * 1000 {
        return Err(Refusal::InvalidArgument(format!(
            "entry.created_at_ms: {} is not a time in milliseconds since 1970",
            entry.created_at_ms
        )));
    }
    match body {
        Body::Genesis(g) => {
            if !entry.network_id.is_empty() {
                return Err(Refusal::InvalidArgument(
                    "entry.network_id: must be empty in genesis (the network id is genesis's own id)".into(),
                ));
            }
            check_text(&g.name, limits.max_string_bytes, "genesis.name", true)?;
            let cur = g.currency.as_bytes();
            if cur.len() < 2
                || cur.len() > 12
                || !cur[0].is_ascii_uppercase()
                || !cur
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Err(Refusal::InvalidArgument(format!(
                    "genesis.currency: {:?} must be 2 to 12 of A-Z 0-9, starting with a letter (like EUR)",
                    g.currency
                )));
            }
            if g.decimals > MAX_DECIMALS {
                return Err(Refusal::InvalidArgument(format!(
                    "genesis.decimals: must be 0..={MAX_DECIMALS} (got {})",
                    g.decimals
                )));
            }
            if g.founders.is_empty() {
                return Err(Refusal::InvalidArgument(
                    "genesis.founders: at least one founder is required".into(),
                ));
            }
            let max_members = limits.max_members_scorable();
            if g.founders.len() > max_members {
                return Err(Refusal::ResourceExhausted(format!(
                    "genesis.founders: {} founders is over the member limit of {max_members}",
                    g.founders.len(),
                )));
            }
            let repeated_handle = first_repeat(g.founders.iter().map(|f| f.handle.as_str()));
            let repeated_key = first_repeat(g.founders.iter().map(|f| f.public_key.as_slice()));
            for (i, f) in g.founders.iter().enumerate() {
                check_handle(&f.handle, &format!("genesis.founders[{i}].handle"))?;
                crate::verify::check_member_key(
                    &f.public_key,
                    &format!("genesis.founders[{i}].public_key"),
                )?;
                if repeated_handle == Some(i) {
                    return Err(Refusal::InvalidArgument(format!(
                        "genesis.founders[{i}].handle: {:?} is named twice",
                        f.handle
                    )));
                }
                if repeated_key == Some(i) {
                    return Err(Refusal::InvalidArgument(format!(
                        "genesis.founders[{i}].public_key: the same key is given to two founders"
                    )));
                }
            }
            if g.log_public_key.len() != 32 {
                return Err(Refusal::InvalidArgument(format!(
                    "genesis.log_public_key: must be the server's 32-byte log key (got {} bytes)",
                    g.log_public_key.len()
                )));
            }
        }
        other => {
            if entry.network_id.len() != 32 {
                return Err(Refusal::InvalidArgument(format!(
                    "entry.network_id: must be the 32-byte network id (got {} bytes)",
                    entry.network_id.len()
                )));
            }
            check_body(other, limits)?;
        }
    }
    Ok(body)
}

fn check_body(body: &Body, limits: &Limits) -> Result<(), Refusal> {
    match body {
        Body::Genesis(_) => Ok(()),
        Body::AdmitMember(a) => {
            check_handle(&a.handle, "admit_member.handle")?;
            crate::verify::check_member_key(&a.public_key, "admit_member.public_key")?;
            Ok(())
        }
        Body::RotateKey(r) => {
            crate::verify::check_member_key(&r.new_public_key, "rotate_key.new_public_key")?;
            Ok(())
        }
        Body::SuspendMember(s) => {
            check_handle(&s.member, "suspend_member.member")?;
            check_text(
                &s.reason,
                limits.max_note_bytes,
                "suspend_member.reason",
                true,
            )
        }
        Body::ReinstateMember(r) => {
            check_handle(&r.member, "reinstate_member.member")?;
            check_text(
                &r.reason,
                limits.max_note_bytes,
                "reinstate_member.reason",
                false,
            )
        }
        Body::ResetKey(r) => {
            check_handle(&r.member, "reset_key.member")?;
            crate::verify::check_member_key(&r.new_public_key, "reset_key.new_public_key")?;
            check_text(&r.reason, limits.max_note_bytes, "reset_key.reason", true)
        }
        Body::GrantRole(g) => {
            check_handle(&g.member, "grant_role.member")?;
            check_role(g.role, "grant_role.role").map(|_| ())
        }
        Body::RevokeRole(r) => {
            check_handle(&r.member, "revoke_role.member")?;
            check_role(r.role, "revoke_role.role").map(|_| ())
        }
        Body::AdoptPolicy(p) => {
            if p.policy_json.is_empty() {
                return Err(Refusal::InvalidArgument(
                    "adopt_policy.policy_json: must not be empty".into(),
                ));
            }
            Ok(())
        }
        Body::LogContribution(l) => check_contribution(
            l.contribution.as_ref(),
            limits,
            "log_contribution.contribution",
        ),
        Body::AttestContribution(a) => check_attestation(a, limits),
        Body::AmendContribution(a) => {
            crate::verify::EntryId::from_field(
                &a.contribution_id,
                "amend_contribution.contribution_id",
            )?;
            check_contribution(
                a.contribution.as_ref(),
                limits,
                "amend_contribution.contribution",
            )
        }
        Body::RetractContribution(r) => {
            crate::verify::EntryId::from_field(
                &r.contribution_id,
                "retract_contribution.contribution_id",
            )?;
            check_text(
                &r.reason,
                limits.max_note_bytes,
                "retract_contribution.reason",
                false,
            )
        }
        Body::Evaluate(e) => {
            crate::verify::EntryId::from_field(&e.contribution_id, "evaluate.contribution_id")?;
            match pb::Verdict::try_from(e.verdict) {
                Ok(pb::Verdict::Unspecified) | Err(_) => {
                    return Err(Refusal::InvalidArgument(format!(
                        "evaluate.verdict: must be approve or flag (got {})",
                        e.verdict
                    )));
                }
                Ok(_) => {}
            }
            if let Some(r) = e.rating
                && r > 100
            {
                return Err(Refusal::InvalidArgument(format!(
                    "evaluate.rating: must be 0..=100 (got {r})"
                )));
            }
            check_text(&e.note, limits.max_note_bytes, "evaluate.note", false)
        }
        Body::RecordDistribution(r) => {
            let period = check_period(r.period.as_ref(), "record_distribution.period")?;
            check_distribution_length(period, limits)?;
            let income = r.income.ok_or_else(|| {
                Refusal::InvalidArgument(
                    "record_distribution.income: state the income to distribute (0 is allowed, but only when said)".into(),
                )
            })?;
            if income > MAX_AMOUNT {
                return Err(Refusal::InvalidArgument(format!(
                    "record_distribution.income: {income} is over the limit of {MAX_AMOUNT}"
                )));
            }
            if r.digest.len() != 32 {
                return Err(Refusal::InvalidArgument(format!(
                    "record_distribution.digest: must be the 32-byte blake3 of the canonical report (got {} bytes)",
                    r.digest.len()
                )));
            }
            Ok(())
        }
        Body::VoidDistribution(d) => {
            crate::verify::EntryId::from_field(
                &d.distribution_id,
                "void_distribution.distribution_id",
            )?;
            if d.reason.trim().is_empty() {
                return Err(Refusal::InvalidArgument(
                    "void_distribution.reason: say why the distribution is voided, for the members reading the log".into(),
                ));
            }
            check_text(
                &d.reason,
                limits.max_note_bytes,
                "void_distribution.reason",
                false,
            )
        }
        Body::Allocate(a) => {
            check_period(a.period.as_ref(), "allocate.period")?;
            if a.shares.len() > limits.max_members {
                return Err(Refusal::ResourceExhausted(format!(
                    "allocate.shares: {} shares is over the member limit of {}",
                    a.shares.len(),
                    limits.max_members
                )));
            }
            let mut total: u64 = 0;
            let repeated = first_repeat(a.shares.iter().map(|s| s.member.as_str()));
            for (i, s) in a.shares.iter().enumerate() {
                check_handle(&s.member, &format!("allocate.shares[{i}].member"))?;
                if s.percent > 100 {
                    return Err(Refusal::InvalidArgument(format!(
                        "allocate.shares[{i}].percent: must be 0..=100 (got {})",
                        s.percent
                    )));
                }
                if repeated == Some(i) {
                    return Err(Refusal::InvalidArgument(format!(
                        "allocate.shares[{i}].member: {:?} appears twice",
                        s.member
                    )));
                }
                total += u64::from(s.percent);
            }
            if total != 100 {
                return Err(Refusal::InvalidArgument(format!(
                    "allocate.shares: the percents must sum to 100 (they sum to {total})"
                )));
            }
            Ok(())
        }
    }
}
