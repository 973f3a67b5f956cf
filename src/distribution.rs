//! Distributions over the live log: previews, the canonical report digest,
//! and the check that a recorded distribution is exactly what the adopted
//! rules give over the first N entries.
//!
//! The canonical report (spec/DECISIONS.md) is JSON with sorted keys, no
//! whitespace and integers only, holding `range`, `income`,
//! `policy_version`, `log_size`, `payouts`, `reserve`, each bucket's `paid`,
//! and `repayments`; its blake3 is the digest a treasurer signs.

use std::collections::BTreeMap;

use serde_json::json;

use crate::audit::Replayer;
use crate::envelope::{EntryId, VerifiedEnvelope};
use crate::error::{LedgerError, Refusal};
use crate::log::Store;
use crate::pb;
use crate::scoring::report::Report;
use crate::snapshot::{PolicyChoice, scoring_input};
use crate::state::LedgerState;

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
    pub input: crate::scoring::input::ScoringInput,
}

/// The canonical JSON of a report (sorted keys, no whitespace, integers).
pub fn canonical_json(
    report: &Report,
    period: (i64, i64),
    income: u64,
    policy_version: u32,
    log_size: u64,
) -> String {
    let buckets: Vec<_> = report
        .buckets
        .iter()
        .map(|b| json!({ "paid": b.paid }))
        .collect();
    // serde_json's map keeps keys sorted (no preserve_order feature), and
    // `to_string` writes no whitespace.
    json!({
        "range": { "start": period.0, "end": period.1 },
        "income": income,
        "policy_version": policy_version,
        "log_size": log_size,
        "payouts": report.payouts,
        "reserve": report.reserve,
        "buckets": buckets,
        "repayments": report.repayments,
    })
    .to_string()
}

/// Scores `[start, end)` for `income` over `state` (the log's first
/// `log_size` entries).
pub fn preview(
    state: &LedgerState,
    log_size: u64,
    choice: PolicyChoice<'_>,
    period: (i64, i64),
    income: u64,
) -> Result<Preview, Refusal> {
    let (input, policy_version) = scoring_input(state, choice, period, income)?;
    let report =
        crate::scoring::score(&input).map_err(|e| Refusal::InvalidArgument(e.to_string()))?;
    let canonical = canonical_json(&report, period, income, policy_version, log_size);
    let digest = *blake3::hash(canonical.as_bytes()).as_bytes();
    Ok(Preview {
        report,
        canonical,
        digest,
        log_size,
        policy_version,
        period,
        income,
        input,
    })
}

/// The state of the log's first `n` entries, replayed from the store with
/// the auditors' rules (signatures were checked when the entries arrived
/// and when the server started).
pub fn prefix_state(
    store: &Store,
    log_public_key: &[u8; 32],
    n: u64,
) -> Result<LedgerState, LedgerError> {
    let mut replayer = Replayer::new(Some(*log_public_key), None);
    for item in store.entries(0, n) {
        let (sequence, leaf) = item?;
        let v = VerifiedEnvelope::decode_stored(&leaf)
            .map_err(|detail| LedgerError::Corrupt { sequence, detail })?;
        replayer
            .push(sequence, &v)
            .map_err(|e| LedgerError::Corrupt {
                sequence,
                detail: e.to_string(),
            })?;
    }
    if replayer.size() != n {
        return Err(LedgerError::Corrupt {
            sequence: replayer.size(),
            detail: "the entry is missing from the store".into(),
        });
    }
    Ok(replayer.finish().state)
}

/// The repayments and shares payouts a recorded distribution must state.
pub fn carried_amounts(report: &Report) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut shares = BTreeMap::new();
    for b in report.buckets.iter().filter(|b| b.bucket_type == "shares") {
        for (m, a) in &b.paid {
            *shares.entry(m.clone()).or_insert(0) += a;
        }
    }
    let repayments = report
        .repayments
        .iter()
        .filter(|(_, a)| **a > 0)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    (
        repayments,
        shares.into_iter().filter(|(_, a)| *a > 0).collect(),
    )
}

/// The body a treasurer signs to record `preview`.
pub fn record_body(preview: &Preview) -> pb::entry::Body {
    let (repayments, shares) = carried_amounts(&preview.report);
    pb::entry::Body::RecordDistribution(pb::RecordDistribution {
        period: Some(pb::Period {
            start: preview.period.0,
            end: preview.period.1,
        }),
        income: preview.income,
        policy_version: preview.policy_version,
        log_size: preview.log_size,
        digest: preview.digest.to_vec(),
        repayments: repayments
            .into_iter()
            .filter_map(|(id, amount)| {
                let bytes = hex::decode(id).ok()?;
                Some(pb::Repayment {
                    contribution_id: bytes,
                    amount,
                })
            })
            .collect(),
        shares_payouts: shares
            .into_iter()
            .map(|(member, amount)| pb::SharesPayout { member, amount })
            .collect(),
    })
}

/// Checks a recorded distribution against the recomputed `preview`: the
/// digest, then the amounts it carries forward. Says what differs.
pub fn check_record(record: &pb::RecordDistribution, preview: &Preview) -> Result<(), Refusal> {
    if record.digest != preview.digest {
        return Err(Refusal::FailedPrecondition(format!(
            "record_distribution.digest: {} is not the digest of the report the rules give ({}); the recomputed report is {}",
            hex::encode(&record.digest),
            hex::encode(preview.digest),
            preview.canonical
        )));
    }
    let (repayments, shares) = carried_amounts(&preview.report);
    let stated: BTreeMap<String, u64> = record
        .repayments
        .iter()
        .map(|r| {
            (
                EntryId::from_field(&r.contribution_id, "id")
                    .map(|i| i.to_hex())
                    .unwrap_or_default(),
                r.amount,
            )
        })
        .collect();
    if stated != repayments || record.repayments.len() != stated.len() {
        return Err(Refusal::FailedPrecondition(format!(
            "record_distribution.repayments: state what the report repays per contribution: {repayments:?}"
        )));
    }
    let stated: BTreeMap<String, u64> = record
        .shares_payouts
        .iter()
        .map(|p| (p.member.clone(), p.amount))
        .collect();
    if stated != shares || record.shares_payouts.len() != stated.len() {
        return Err(Refusal::FailedPrecondition(format!(
            "record_distribution.shares_payouts: state what the shares buckets pay per member: {shares:?}"
        )));
    }
    Ok(())
}
