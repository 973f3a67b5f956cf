//! Distributions over the live log: previews, the canonical report digest,
//! and settling a recorded distribution — recomputing it over the log as it
//! stands when its entry lands, checking the digest the treasurer signed,
//! and deriving what it paid.
//!
//! The canonical report (spec/DECISIONS.md) is JSON with sorted keys, no
//! whitespace and integers only, holding `range`, `income`,
//! `policy_version`, `log_size`, `payouts`, `reserve`, each bucket's `paid`,
//! and `repayments`; its blake3 is the digest a treasurer signs.
//!
//! Why "as the log stands" and not "over the first N entries": two periods
//! previewed at the same N would each repay the same claim. The ledger rules
//! (`LedgerState::moved_since`) refuse a record when anything the
//! distribution reads changed after N — other distributions included — so
//! the report over the log now is the report over the first N entries, and
//! every claim is repaid at most once in total.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::snapshot::{
    IndexedParts, IndexedSource, PolicyChoice, PreviewSource, indexed_source, preview_source,
    scoring_input_with,
};
use crate::ledger::Refusal;
use crate::ledger::{BucketPaid, LedgerState, Settle, Settlement};
use crate::pb;
use crate::scoring::explain::Explanation;
use crate::scoring::input::{Kind, ScoringInput};
use crate::scoring::report::{BucketReport, Report, Unvalidated};
use crate::scoring::signals::Signal;
use crate::verify::EntryId;

/// A computed distribution, ready to show or record.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The full report.
    pub report: Report,
    /// The canonical report JSON.
    pub canonical: String,
    /// blake3 of `canonical`.
    pub digest: [u8; 32],
    /// The log size it was computed at.
    pub log_size: u64,
    /// The policy version used (0 for a draft).
    pub policy_version: u32,
    /// The period.
    pub period: (i64, i64),
    /// The income.
    pub income: u64,
    /// What was scored (for `export --scenario`).
    pub input: PreviewInput,
}

/// What a preview scored, in the form it was scored from.
#[derive(Debug, Clone)]
pub enum PreviewInput {
    /// The scoring input with strings ([`crate::scoring::score`]).
    Strings(ScoringInput),
    /// Numbers cut from the fold's scoring index
    /// ([`crate::scoring::indexed::score_indexed`]).
    Indexed(IndexedParts),
}

impl PreviewInput {
    /// The scoring input with strings (spelled out for a numbered one):
    /// what a scenario file of the preview holds.
    pub fn to_scoring_input(&self) -> ScoringInput {
        match self {
            PreviewInput::Strings(input) => input.clone(),
            PreviewInput::Indexed(parts) => parts.input().to_scoring_input(),
        }
    }
}

/// The canonical JSON of a report (sorted keys, no whitespace, integers).
pub fn canonical_json(
    report: &Report,
    period: (i64, i64),
    income: u64,
    policy_version: u32,
    log_size: u64,
) -> String {
    canonical_json_of(
        (period, income, policy_version, log_size),
        &report.payouts,
        &report.reserve,
        report.buckets.iter().map(|b| &b.paid),
        &report.repayments,
    )
}

/// The canonical JSON from its parts, whatever form they come in: the
/// server's typed report, or the report JSON a client received and checks
/// before signing. The one definition of the digested bytes.
pub fn canonical_json_of<'b, P>(
    (period, income, policy_version, log_size): ((i64, i64), u64, u32, u64),
    payouts: &impl Serialize,
    reserve: &impl Serialize,
    buckets_paid: impl Iterator<Item = &'b P>,
    repayments: &impl Serialize,
) -> String
where
    P: Serialize + 'b,
{
    let buckets: Vec<_> = buckets_paid.map(|paid| json!({ "paid": paid })).collect();
    // serde_json's map keeps keys sorted (no preserve_order feature), and
    // `to_string` writes no whitespace.
    json!({
        "range": { "start": period.0, "end": period.1 },
        "income": income,
        "policy_version": policy_version,
        "log_size": log_size,
        "payouts": payouts,
        "reserve": reserve,
        "buckets": buckets,
        "repayments": repayments,
    })
    .to_string()
}

/// A record's period `[start, end)` (the ledger's checks require one).
pub fn record_period(r: &pb::RecordDistribution) -> (i64, i64) {
    r.period
        .as_ref()
        .map(|p| (p.start, p.end))
        .unwrap_or_default()
}

/// Why a distribution could not be computed or settled: refused (the
/// request, the policy or the record is at fault, with its gRPC code), or
/// the scoring core failed one of its own invariants (a bug, never the
/// user's fault: the server answers Internal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// Refused, with the code and a message a person can act on.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The scoring core's invariant check failed.
    #[error("the scoring core failed an internal check: {0}")]
    Invariant(String),
}

impl From<crate::scoring::ScoringError> for PayoutError {
    fn from(e: crate::scoring::ScoringError) -> Self {
        match e {
            crate::scoring::ScoringError::Invariant { rule } => PayoutError::Invariant(rule),
            other => PayoutError::Refused(Refusal::InvalidArgument(other.to_string())),
        }
    }
}

impl PayoutError {
    /// As a refusal of the entry being checked, for the ledger's rules and
    /// audits (which report what is wrong with an entry, whatever caused it).
    pub fn into_refusal(self) -> Refusal {
        match self {
            PayoutError::Refused(r) => r,
            PayoutError::Invariant(m) => Refusal::FailedPrecondition(format!(
                "the scoring core failed an internal check while settling it: {m}"
            )),
        }
    }
}

/// The digest of a canonical report.
pub fn digest_of(canonical: &str) -> [u8; 32] {
    *blake3::hash(canonical.as_bytes()).as_bytes()
}

/// Which recorded distributions count as already paid (prior repayments and
/// payouts) for a computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priors {
    /// Every standing distribution: a preview of the log as it is.
    All,
    /// Only standing distributions recorded before this sequence number:
    /// what a preview at that log size saw.
    Before(u64),
}

impl Priors {
    fn before(self) -> u64 {
        match self {
            Priors::All => u64::MAX,
            Priors::Before(n) => n,
        }
    }
}

/// What a preview reads from the state (hold the state lock only for this:
/// it is a short pass that builds nothing); the scoring input is built from
/// it with [`PreviewSource::into_input`] after the lock is released.
pub fn source_for(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    priors: Priors,
) -> Result<PreviewSource, Refusal> {
    preview_source(state, choice, period, priors.before())
}

/// The scoring input of a preview, taken from the state, with the policy
/// version it uses (for a caller that holds the state anyway: a server
/// takes a [`source_for`] under its lock instead).
pub fn input_for(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    income: u64,
    priors: Priors,
) -> Result<(ScoringInput, u32), Refusal> {
    scoring_input_with(state, choice, period, income, priors.before())
}

/// Scores a prepared input (no state needed: run it off the state lock).
pub fn score_input(
    input: ScoringInput,
    policy_version: u32,
    log_size: u64,
    period: (i64, i64),
    income: u64,
) -> Result<Preview, PayoutError> {
    let report = crate::scoring::score(&input)?;
    Ok(preview_of(
        report,
        PreviewInput::Strings(input),
        (policy_version, log_size, period, income),
    ))
}

/// Scores a numbered input cut from the fold's scoring index (no state
/// needed: run it off the state lock); the same preview as [`score_input`]
/// of the same input with strings.
pub fn score_parts(
    parts: IndexedParts,
    policy_version: u32,
    log_size: u64,
    period: (i64, i64),
    income: u64,
) -> Result<Preview, PayoutError> {
    let report = crate::scoring::indexed::score_indexed(&parts.input())?;
    Ok(preview_of(
        report,
        PreviewInput::Indexed(parts),
        (policy_version, log_size, period, income),
    ))
}

/// A scored report with its canonical JSON and digest.
fn preview_of(
    report: Report,
    input: PreviewInput,
    (policy_version, log_size, period, income): (u32, u64, (i64, i64), u64),
) -> Preview {
    let canonical = canonical_json(&report, period, income, policy_version, log_size);
    let digest = digest_of(&canonical);
    Preview {
        report,
        canonical,
        digest,
        log_size,
        policy_version,
        period,
        income,
        input,
    }
}

/// What a preview reads from the state through the fold's scoring index
/// (hold the state lock only for this: reference counts and the period's
/// small lists); cut the numbered input with
/// [`IndexedSource::into_parts`] and score it with [`score_parts`] after
/// the lock is released.
pub fn indexed_source_for(
    state: &LedgerState,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    priors: Priors,
) -> Result<IndexedSource, Refusal> {
    indexed_source(state, choice, period, priors.before())
}

/// Scores `[start, end)` for `income` over `state`, stated as computed at
/// `log_size` entries, counting every standing distribution as paid.
pub fn preview(
    state: &LedgerState,
    log_size: u64,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    income: u64,
) -> Result<Preview, PayoutError> {
    let (input, version) = input_for(state, choice, period, income, Priors::All)?;
    score_input(input, version, log_size, period, income)
}

/// What a report pays, as a recorded distribution keeps it.
pub fn settlement_of(report: &Report) -> Settlement {
    let mut shares_payouts: BTreeMap<String, u64> = BTreeMap::new();
    for b in report.buckets.iter().filter(|b| b.bucket_type == "shares") {
        for (m, a) in b.paid.iter().filter(|(_, a)| **a > 0) {
            *shares_payouts.entry(m.clone()).or_insert(0) += a;
        }
    }
    Settlement {
        reserve: report.reserve,
        payouts: report.payouts.clone(),
        buckets: report
            .buckets
            .iter()
            .map(|b| BucketPaid {
                bucket_type: b.bucket_type.clone(),
                amount: b.amount,
                paid: b.paid.clone(),
            })
            .collect(),
        repayments: report
            .repayments
            .iter()
            .filter(|(_, a)| **a > 0)
            .filter_map(|(id, a)| EntryId::from_hex(id).map(|id| (id, *a)))
            .collect(),
        shares_payouts,
    }
}

/// The first lines of a report a person checks, for refusal messages (the
/// canonical JSON of a large period is megabytes).
fn short_form(preview: &Preview) -> String {
    let mut payouts: Vec<String> = preview
        .report
        .payouts
        .iter()
        .take(10)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if preview.report.payouts.len() > 10 {
        payouts.push(format!("and {} more", preview.report.payouts.len() - 10));
    }
    format!(
        "payouts {}; reserve {}",
        if payouts.is_empty() {
            "none".to_string()
        } else {
            payouts.join(", ")
        },
        preview.report.reserve
    )
}

/// Settles a recorded distribution that passed the ledger rules: recomputes
/// it over `state` (the log just before the record), checks the digest the
/// treasurer signed and that no claim is repaid beyond its value, and
/// returns what it pays. The sequencer and every replay call this, so the
/// server and its auditors settle each distribution the same way.
pub fn settle(state: &LedgerState, r: &pb::RecordDistribution) -> Result<Settlement, PayoutError> {
    settle_scored(settle_input(state, r)?, r)
}

/// The first half of [`settle`]: what the record is settled from, taken
/// from the state through the fold's scoring index (the only part that
/// needs the state lock: reference counts and the period's small lists).
pub fn settle_input(
    state: &LedgerState,
    r: &pb::RecordDistribution,
) -> Result<IndexedSource, Refusal> {
    indexed_source_for(
        state,
        PolicyChoice::Version(r.policy_version),
        record_period(r),
        Priors::All,
    )
}

/// The second half of [`settle`]: cuts the numbered input, scores it (the
/// same report as the string path, `scoring::indexed`), checks the digest
/// the treasurer signed and that no claim is repaid beyond its value.
/// Needs no state, so it runs off the state lock and off the sequencer.
pub fn settle_scored(
    source: IndexedSource,
    r: &pb::RecordDistribution,
) -> Result<Settlement, PayoutError> {
    let period = record_period(r);
    let income = r.income.unwrap_or_default();
    let (parts, version) = source.into_parts(income)?;
    let preview = score_parts(parts, version, r.log_size, period, income)?;
    if r.digest != preview.digest {
        return Err(PayoutError::Refused(Refusal::FailedPrecondition(format!(
            "record_distribution.digest: {} is not the digest of the report the rules give over this log ({}: {}); preview again",
            hex::encode(&r.digest),
            hex::encode(preview.digest),
            short_form(&preview)
        ))));
    }
    if let Some((id, value, prior, repaid)) = preview
        .report
        .explanations
        .overpaid_claims()
        .into_iter()
        .next()
    {
        return Err(PayoutError::Refused(Refusal::FailedPrecondition(format!(
            "record_distribution: it would repay claim {id} {repaid} after {prior} already repaid, more than its value {value}"
        ))));
    }
    Ok(settlement_of(&preview.report))
}

/// Explains why a record the ledger rules refused as stale would pay a
/// claim twice: recomputed with only the distributions recorded before its
/// preview, does it match its digest, and which claims did distributions
/// recorded since already repay? `None` when that is not what happened.
/// For auditors: names the claims a double payment would touch.
pub fn double_repayments(state: &LedgerState, r: &pb::RecordDistribution) -> Option<String> {
    let period = r.period.as_ref().map(|p| (p.start, p.end))?;
    let income = r.income?;
    let (input, version) = input_for(
        state,
        PolicyChoice::Version(r.policy_version),
        period,
        income,
        Priors::Before(r.log_size),
    )
    .ok()?;
    let stale = score_input(input, version, r.log_size, period, income).ok()?;
    if stale.digest.as_slice() != r.digest.as_slice() {
        return None;
    }
    let mut twice = Vec::new();
    for d in state
        .standing_distributions()
        .filter(|d| d.sequence >= r.log_size)
    {
        for (id, again) in &stale.report.repayments {
            let Some(claim) = EntryId::from_hex(id) else {
                continue;
            };
            if let Some(before) = d.settlement.repayments.get(&claim).filter(|_| *again > 0) {
                twice.push(format!(
                    "claim {id} was repaid {before} by the distribution at sequence {} and this one repays {again} again",
                    d.sequence
                ));
            }
        }
    }
    (!twice.is_empty()).then(|| {
        format!(
            "it was computed over the first {} entries, without the distributions recorded since, and repays the same claims twice: {}",
            r.log_size,
            twice.join("; ")
        )
    })
}

/// The kinds the report's reimburse buckets repay.
pub fn claim_kinds(report: &Report) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = report
        .buckets
        .iter()
        .filter(|b| b.bucket_type == "reimburse")
        .flat_map(|b| b.kinds.clone().unwrap_or_default())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// The report as a preview sends it: the §7 report with repayments and the
/// review summary, without per-contribution explanations (those are
/// fetched per member), so its size grows with members and claims only.
#[derive(Serialize)]
struct SummaryJson<'r> {
    currency: &'r Option<String>,
    decimals: Option<u32>,
    income: u64,
    reserve: u64,
    payouts: &'r BTreeMap<String, u64>,
    buckets: &'r [BucketReport],
    points: &'r BTreeMap<String, u128>,
    signals: &'r [Signal],
    warnings: &'r [String],
    period: &'r crate::scoring::report::PeriodReport,
    mode: &'r str,
    repayments: &'r BTreeMap<String, u64>,
    review: Unvalidated,
}

/// The preview's report JSON (see [`SummaryJson`]).
pub fn summary_json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&SummaryJson {
        currency: &report.currency,
        decimals: report.decimals,
        income: report.income,
        reserve: report.reserve,
        payouts: &report.payouts,
        buckets: &report.buckets,
        points: &report.points,
        signals: &report.signals,
        warnings: &report.warnings,
        period: &report.period,
        mode: &report.mode,
        repayments: &report.repayments,
        review: report.explanations.unvalidated(&claim_kinds(report)),
    })
}

/// One member's breakdown as `Explain` sends it: the scoring core's
/// explanation plus the report's signals that name the member
/// (informational, like every signal: they changed no figure of it).
#[derive(Serialize)]
struct ExplanationJson<'r> {
    #[serde(flatten)]
    explanation: Explanation<'r>,
    signals: Vec<&'r Signal>,
}

/// The explanation JSON of `member` (see [`ExplanationJson`]), or `None`
/// when the report has no explanation for them.
pub fn explanation_json(
    report: &Report,
    member: &str,
) -> Option<Result<String, serde_json::Error>> {
    let explanation = report.explain(member)?;
    let signals = report
        .signals
        .iter()
        .filter(|s| s.members.iter().any(|m| m == member))
        .collect();
    Some(serde_json::to_string_pretty(&ExplanationJson {
        explanation,
        signals,
    }))
}

/// The body a treasurer signs to record `preview`.
pub fn record_body(preview: &Preview) -> pb::RecordDistribution {
    pb::RecordDistribution {
        period: Some(pb::Period {
            start: preview.period.0,
            end: preview.period.1,
        }),
        income: Some(preview.income),
        policy_version: preview.policy_version,
        log_size: preview.log_size,
        digest: preview.digest.to_vec(),
    }
}

/// Settles every recorded distribution by recomputing it over the state it
/// landed on: what start-up and every audit do.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recompute;

impl Settle for Recompute {
    fn settle(
        &mut self,
        state: &LedgerState,
        record: &pb::RecordDistribution,
        _sequence: u64,
    ) -> Result<Settlement, Refusal> {
        settle(state, record).map_err(PayoutError::into_refusal)
    }

    fn explain_refusal(
        &self,
        state: &LedgerState,
        record: &pb::RecordDistribution,
    ) -> Option<String> {
        double_repayments(state, record)
    }
}

/// Settles from settlements this server already checked, by sequence number
/// (recomputing any it does not have): rebuilding an earlier state of the
/// log for a recorded period's views scores nothing again.
#[derive(Clone, Debug, Default)]
pub struct Known(pub BTreeMap<u64, Settlement>);

impl Settle for Known {
    fn settle(
        &mut self,
        state: &LedgerState,
        record: &pb::RecordDistribution,
        sequence: u64,
    ) -> Result<Settlement, Refusal> {
        match self.0.remove(&sequence) {
            Some(known) => Ok(known),
            None => settle(state, record).map_err(PayoutError::into_refusal),
        }
    }
}

/// A replay that settles by recomputing ([`Recompute`]): the auditor's.
pub fn audit_replayer(
    log_public_key: Option<[u8; 32]>,
    watch: Option<u64>,
) -> crate::ledger::Replayer {
    crate::ledger::Replayer::new(log_public_key, watch, Box::new(Recompute))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::scenario::Scenario;

    /// A GIVE circle where ann and bo give each other 80 and 50 (and ann
    /// gives cy too little): one `give_reciprocity` signal.
    const GIVE_CIRCLE: &str = r#"{
        "policy": {"currency": "EUR", "decimals": 2},
        "members": ["ann", "bo", "cy"],
        "contributions": [],
        "allocations": [
            {"from": "ann", "to": {"bo": 80, "cy": 20}},
            {"from": "bo", "to": {"ann": 50, "cy": 50}},
            {"from": "cy", "to": {"ann": 100}}
        ],
        "distribution": {
            "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "income": 100000,
            "buckets": [{"type": "allocation", "percent_ppm": 1000000, "mechanism": "give"}]
        }
    }"#;

    fn give_circle() -> Report {
        Scenario::from_json(GIVE_CIRCLE.as_bytes())
            .expect("the scenario reads")
            .score()
            .expect("the scenario scores")
    }

    #[test]
    fn signals_never_enter_the_digest() {
        let report = give_circle();
        assert_eq!(report.signals.len(), 1, "{:?}", report.signals);
        let period = (1_790_000_000_000, 1_800_000_000_000);
        let with = canonical_json(&report, period, 100_000, 3, 17);
        let mut without_signals = report.clone();
        without_signals.signals.clear();
        let without = canonical_json(&without_signals, period, 100_000, 3, 17);
        assert_eq!(with, without);
        assert_eq!(digest_of(&with), digest_of(&without));
        assert!(!with.contains("signals"), "{with}");
        assert!(!with.contains("give_reciprocity"), "{with}");
    }

    #[test]
    fn the_preview_carries_the_signals_after_the_points() {
        let report = give_circle();
        let json = summary_json(&report).expect("serialises");
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(
            value["signals"],
            serde_json::json!([{"kind": "give_reciprocity", "members": ["ann", "bo"],
                "detail": {"a_gives_b": 80, "b_gives_a": 50}}])
        );
        // The spec's report order: points, signals, warnings.
        let at = |key: &str| json.find(&format!("\"{key}\"")).expect(key);
        assert!(at("points") < at("signals") && at("signals") < at("warnings"));

        let mut quiet = report;
        quiet.signals.clear();
        let value: serde_json::Value =
            serde_json::from_str(&summary_json(&quiet).expect("serialises")).expect("JSON");
        assert_eq!(value["signals"], serde_json::json!([]));
    }

    #[test]
    fn an_explanation_carries_the_signals_naming_its_member() {
        let report = give_circle();
        let of = |member: &str| -> serde_json::Value {
            let json = explanation_json(&report, member)
                .expect("explained")
                .expect("serialises");
            serde_json::from_str(&json).expect("JSON")
        };
        assert_eq!(
            of("ann")["signals"][0]["members"],
            serde_json::json!(["ann", "bo"])
        );
        assert_eq!(of("bo")["signals"].as_array().map(Vec::len), Some(1));
        assert_eq!(of("cy")["signals"], serde_json::json!([]));
        assert!(
            of("ann")["payout"].as_u64().is_some(),
            "the explanation is still there"
        );
        assert!(explanation_json(&report, "nobody").is_none());
    }
}
