//! The treasurer's reads: previews of a distribution (`ComputeShares`), one
//! member's breakdown (`Explain`) and the recorded distributions.
//!
//! A preview takes its scoring input under the state's read lock and scores
//! after releasing it, so the writer never waits on scoring. A recorded
//! period is shown as recorded: it is recomputed over the log as it stood
//! when its record landed (the same input the server settled it from), and
//! its digest must come out equal to the recorded one. Reports travel in
//! pieces, so no period is too large to preview.

use crate::ledger::{DistributionState, LedgerState};
use crate::ledger::{Refusal, check_distribution_length, refuse_unended};
use crate::log::Ledger;
use crate::log::LedgerError;
use crate::payout::PolicyChoice;
use crate::payout::{
    Preview, Priors, explanation_json, indexed_source_for, record_body, score_parts, summary_json,
};
use crate::pb;
use crate::scoring::time::format_rfc3339;
use crate::verify::EntryId;

/// Largest piece of JSON in one streamed message.
const PIECE_BYTES: usize = 1 << 20;

/// What a preview request asks for.
pub struct PreviewRequest {
    /// `[start, end)`, checked.
    pub period: (i64, i64),
    /// The income, if stated.
    pub income: Option<u64>,
    /// 0 = latest (or the recorded one).
    pub policy_version: u32,
    /// A draft policy's JSON, or empty.
    pub draft: Vec<u8>,
}

/// A computed preview and what a treasurer needs to know about recording it.
pub struct Computed {
    /// The report and its digest.
    pub preview: Preview,
    /// The recorded distribution of exactly this period, if any.
    pub recorded: Option<DistributionState>,
    /// Why it cannot be recorded as it stands, if it cannot.
    pub not_recordable: Option<String>,
}

/// Computes a preview (blocking: run it off the async workers).
///
/// `before_scoring` runs once the live state's lock is released and before
/// the scoring itself (the server lowers the thread's priority there).
pub fn compute(
    ledger: &Ledger,
    req: PreviewRequest,
    before_scoring: impl FnOnce(),
) -> Result<Computed, LedgerError> {
    let (start, end) = req.period;
    if let Some(income) = req.income
        && income > crate::ledger::MAX_AMOUNT
    {
        return Err(Refusal::InvalidArgument(format!(
            "income: {income} is over the limit of {}",
            crate::ledger::MAX_AMOUNT
        ))
        .into());
    }
    let recorded = if req.draft.is_empty() {
        let state = ledger.state()?;
        state
            .standing_distributions()
            .find(|d| d.period == req.period)
            .cloned()
    } else {
        None
    };
    if let Some(d) = recorded {
        // A recorded period is recomputed from a state rebuilt for it, not
        // the live one.
        before_scoring();
        return recorded_view(ledger, &req, d);
    }
    let income = req.income.ok_or_else(|| {
        Refusal::InvalidArgument(
            "income: state the income to split (0 shows points only); only a recorded period has one already".into(),
        )
    })?;
    let choice = match (req.draft.is_empty(), req.policy_version) {
        (false, _) => PolicyChoice::Draft(&req.draft),
        (true, 0) => PolicyChoice::Latest,
        (true, v) => PolicyChoice::Version(v),
    };
    // Why a record of this preview would be refused, by the rules the
    // record itself meets (the ones a preview can already tell).
    let (source, log_size, overlap) = {
        let state = ledger.state()?;
        (
            indexed_source_for(&state, choice, req.period, Priors::All)?,
            state.size(),
            state.refuse_overlap(start, end),
        )
    };
    // The lock is released: the writer goes on while the input is built
    // and scored.
    before_scoring();
    let (parts, version) = source.into_parts(income)?;
    let preview = score_parts(parts, version, log_size, req.period, income)?;
    let not_recordable = if req.draft.is_empty() {
        overlap
            .and_then(|()| refuse_unended(end, ledger.clock().now_ms()))
            .and_then(|()| check_distribution_length(req.period, ledger.limits()))
            .err()
            .map(|refusal| refusal.to_string())
    } else {
        Some("a draft policy cannot be recorded: adopt it first".to_string())
    };
    Ok(Computed {
        preview,
        recorded: None,
        not_recordable,
    })
}

/// The report of a recorded period, recomputed over the log as it stood
/// when the record landed; its digest must be the recorded one.
fn recorded_view(
    ledger: &Ledger,
    req: &PreviewRequest,
    d: DistributionState,
) -> Result<Computed, LedgerError> {
    let what = format!(
        "the period {}..{} was distributed by entry {} with income {} under policy version {}; its figures are fixed (void it to redistribute)",
        format_rfc3339(d.period.0),
        format_rfc3339(d.period.1),
        d.sequence,
        d.income,
        d.policy_version
    );
    if req.income.is_some_and(|i| i != d.income) {
        return Err(Refusal::FailedPrecondition(format!(
            "income: {} differs from the recorded income: {what}",
            req.income.unwrap_or_default()
        ))
        .into());
    }
    if req.policy_version != 0 && req.policy_version != d.policy_version {
        return Err(Refusal::FailedPrecondition(format!(
            "policy_version: {} differs from the recorded version: {what}",
            req.policy_version
        ))
        .into());
    }
    let then: LedgerState = ledger.state_at(d.sequence)?;
    // Through the scoring index of the state then, as the record was
    // settled (`payout::settle`): no scoring input rebuilt from strings.
    let source = indexed_source_for(
        &then,
        PolicyChoice::Version(d.policy_version),
        d.period,
        Priors::All,
    )?;
    drop(then);
    let (parts, version) = source.into_parts(d.income)?;
    let preview = score_parts(parts, version, d.log_size, d.period, d.income)?;
    if preview.digest.as_slice() != d.digest.as_slice() {
        return Err(LedgerError::Corrupt {
            sequence: d.sequence,
            detail: "the recorded distribution no longer recomputes to its digest".into(),
        });
    }
    Ok(Computed {
        preview,
        recorded: Some(d),
        not_recordable: Some("it is already recorded".into()),
    })
}

/// Splits a JSON document into pieces of at most [`PIECE_BYTES`] (on byte
/// boundaries: a client concatenates the bytes before decoding).
fn pieces(json: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    json.chunks(PIECE_BYTES).map(<[u8]>::to_vec)
}

/// The streamed parts of a preview: the header, then the report JSON, then
/// the scenario JSON if asked.
pub fn shares_parts(
    computed: &Computed,
    include_scenario: bool,
) -> Result<Vec<pb::SharesReportPart>, LedgerError> {
    let p = &computed.preview;
    let report = summary_json(&p.report)
        .map_err(|e| Refusal::InvalidArgument(format!("the report does not serialise: {e}")))?;
    let header = pb::SharesReportHeader {
        period: Some(pb::Period {
            start: p.period.0,
            end: p.period.1,
        }),
        income: p.income,
        policy_version: p.policy_version,
        log_size: p.log_size,
        digest: p.digest.to_vec(),
        record: computed.not_recordable.is_none().then(|| record_body(p)),
        recorded: computed.recorded.as_ref().map(summary),
        not_recordable: computed.not_recordable.clone().unwrap_or_default(),
    };
    let mut parts = vec![pb::SharesReportPart {
        header: Some(header),
        ..Default::default()
    }];
    parts.extend(
        pieces(report.as_bytes()).map(|report_json| pb::SharesReportPart {
            report_json,
            ..Default::default()
        }),
    );
    if include_scenario {
        let scenario = crate::scoring::scenario::Scenario {
            input: p.input.to_scoring_input(),
        }
        .to_json()
        .to_string();
        parts.extend(
            pieces(scenario.as_bytes()).map(|scenario_json| pb::SharesReportPart {
                scenario_json,
                ..Default::default()
            }),
        );
    }
    Ok(parts)
}

/// The streamed parts of one member's breakdown.
pub fn explanation_parts(
    computed: &Computed,
    member: &str,
) -> Result<Vec<pb::ExplanationPart>, LedgerError> {
    let json = explanation_json(&computed.preview.report, member)
        .ok_or_else(|| {
            Refusal::NotFound(format!(
                "member: {member:?} is neither a member nor a recipient in this period"
            ))
        })?
        .map_err(|e| {
            Refusal::InvalidArgument(format!("the explanation does not serialise: {e}"))
        })?;
    let mut parts: Vec<pb::ExplanationPart> = pieces(json.as_bytes())
        .map(|explanation_json| pb::ExplanationPart {
            member: String::new(),
            explanation_json,
        })
        .collect();
    match parts.first_mut() {
        Some(first) => first.member = member.to_string(),
        None => parts.push(pb::ExplanationPart {
            member: member.to_string(),
            explanation_json: Vec::new(),
        }),
    }
    Ok(parts)
}

/// A recorded distribution's totals, as the API lists them.
pub fn summary(d: &DistributionState) -> pb::DistributionSummary {
    pb::DistributionSummary {
        sequence: d.sequence,
        id: d.id.0.to_vec(),
        treasurer: d.treasurer.clone(),
        period: Some(pb::Period {
            start: d.period.0,
            end: d.period.1,
        }),
        income: d.income,
        policy_version: d.policy_version,
        log_size: d.log_size,
        digest: d.digest.clone(),
        reserve: d.settlement.reserve,
        paid: d.settlement.payouts.values().sum(),
        recipients: d.settlement.payouts.len() as u64,
        claims_repaid: d.settlement.repayments.len() as u64,
        voided: d.voided.as_ref().map(|v| pb::VoidInfo {
            sequence: v.sequence,
            id: v.id.0.to_vec(),
            treasurer: v.treasurer.clone(),
            reason: v.reason.clone(),
        }),
    }
}

/// A recorded distribution in full.
pub fn distribution(d: &DistributionState) -> pb::Distribution {
    let payouts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(recipient, amount)| pb::Payout {
                recipient: recipient.clone(),
                amount: *amount,
            })
            .collect()
    };
    pb::Distribution {
        summary: Some(summary(d)),
        payouts: payouts(&d.settlement.payouts),
        buckets: d
            .settlement
            .buckets
            .iter()
            .map(|b| pb::BucketPaid {
                r#type: b.bucket_type.clone(),
                amount: b.amount,
                paid: payouts(&b.paid),
            })
            .collect(),
    }
}

/// Finds a recorded distribution by id or sequence number.
pub fn find<'s>(
    state: &'s LedgerState,
    key: Option<&pb::get_distribution_request::Key>,
) -> Result<&'s DistributionState, Refusal> {
    use pb::get_distribution_request::Key;
    let found = match key {
        Some(Key::Id(id)) => {
            let id = EntryId::from_field(id, "id")?;
            state.distribution(&id)
        }
        Some(Key::Sequence(s)) => state.distributions().iter().find(|d| d.sequence == *s),
        None => {
            return Err(Refusal::InvalidArgument(
                "key: name the distribution by id or sequence".into(),
            ));
        }
    };
    found.ok_or_else(|| Refusal::NotFound("no recorded distribution with that key".into()))
}
