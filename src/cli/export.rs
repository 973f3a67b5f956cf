//! `coopledger export --csv contributions|evaluations|distributions`: the
//! log as a spreadsheet reads it, showing the current state rather than raw
//! entries.
//!
//! - contributions: each contribution once, with its fields as last amended,
//!   its value in the currency under the latest adopted policy, and its
//!   status (valid, pending, flagged, retracted);
//! - evaluations: only the standing ones (a later evaluation by the same
//!   evaluator replaces the earlier; an amendment clears them all), each
//!   with its contribution's status, so evaluations of a retracted
//!   contribution are kept and marked `retracted` rather than dropped;
//! - distributions: the recorded distributions.
//!
//! Both views come from one pass over the log ([`fold`]) into
//! [`coopledger::payout::LogView`]. Every cell goes through [`csv_field`],
//! which also neutralises text a spreadsheet would run as a formula.

use std::io::Write as _;

use anyhow::Result;
use coopledger::payout::{ContributionView, LogView, Rate, VIEW_KINDS};
use coopledger::pb;

use super::input::{format_amount, format_hours, format_money, format_time, parse_period};
use super::{Context, Session, for_each_entry, status};

/// One CSV cell: a text that a spreadsheet would read as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading `'` (OWASP's advice on CSV injection), then a cell holding a
/// comma, quote or line break is quoted with its quotes doubled. Use it for
/// every cell of every CSV the CLI writes.
pub fn csv_field(s: &str) -> String {
    let neutral = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// One CSV line (without its line break), every cell through [`csv_field`].
pub fn csv_row<S: AsRef<str>>(cells: &[S]) -> String {
    cells
        .iter()
        .map(|c| csv_field(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Folds the log as it is now into a [`LogView`]: one pass over the
/// entries that shape contributions, in sequence order, in pages of the
/// server's maximum, every envelope's signature checked and its id
/// recomputed. The view trusts the server's ingestion checks (the full
/// audit is `coopledger verify`).
pub async fn fold(session: &mut Session) -> Result<LogView> {
    fold_with(session, &[]).await
}

/// As [`fold`], with entries of `extra` kinds folded in too (allocations,
/// for `todo`).
pub async fn fold_with(session: &mut Session, extra: &[pb::EntryKind]) -> Result<LogView> {
    let mut view = LogView::new();
    let kinds: Vec<pb::EntryKind> = VIEW_KINDS.iter().chain(extra).copied().collect();
    for_each_entry(session, &kinds, |e, v| {
        view.push(e.sequence, &v);
        Ok(())
    })
    .await?;
    Ok(view)
}

/// `coopledger export --csv contributions|evaluations|distributions`.
pub async fn export_csv(ctx: &Context, what: &str, period: Option<&str>) -> Result<()> {
    let period = period.map(parse_period).transpose()?;
    match what {
        "contributions" | "evaluations" => {
            let mut session = ctx.connect().await?;
            let view = fold(&mut session).await?;
            let policy = view
                .policy()
                .map_err(|e| anyhow::anyhow!("the latest adopted policy: {e}"))?;
            let within = |at: i64| period.is_none_or(|(s, e)| s <= at && at < e);
            let contributions: Vec<ContributionView<'_>> = view
                .contributions(&policy)
                .into_iter()
                .filter(|c| within(c.contribution.fields.at))
                .collect();
            let mut out = std::io::stdout().lock();
            if what == "contributions" {
                writeln!(out, "{}", csv_row(&CONTRIBUTION_COLUMNS))?;
                for c in &contributions {
                    writeln!(out, "{}", csv_row(&contribution_row(c, &session)))?;
                }
            } else {
                writeln!(out, "{}", csv_row(&EVALUATION_COLUMNS))?;
                let statuses: std::collections::HashMap<_, _> = contributions
                    .iter()
                    .map(|c| {
                        (
                            c.contribution.id,
                            (c.status, c.contribution.member.as_str()),
                        )
                    })
                    .collect();
                for e in view.evaluations() {
                    let Some((status, member)) = statuses.get(&e.contribution) else {
                        continue;
                    };
                    if view.fate(e) != coopledger::payout::Fate::Standing {
                        continue;
                    }
                    let verdict = if e.verdict == pb::Verdict::Flag {
                        "flag"
                    } else {
                        "approve"
                    };
                    writeln!(
                        out,
                        "{}",
                        csv_row(&[
                            e.sequence.to_string(),
                            e.id.to_hex(),
                            e.evaluator.clone(),
                            e.contribution.to_hex(),
                            member.to_string(),
                            status.as_str().to_string(),
                            verdict.to_string(),
                            e.rating.map(|r| r.to_string()).unwrap_or_default(),
                            format_time(e.created_at_ms.div_euclid(1000)),
                            e.note.clone(),
                        ])
                    )?;
                }
            }
            Ok(())
        }
        _ => distributions_csv(ctx, period).await,
    }
}

const CONTRIBUTION_COLUMNS: [&str; 22] = [
    "id",
    "sequence",
    "member",
    "kind",
    "quantity",
    "unit",
    "minutes",
    "rate",
    "rate_source",
    "value",
    "currency",
    "value_note",
    "tags",
    "project",
    "at",
    "status",
    "amended",
    "approvals",
    "flags",
    "note",
    "evidence_url",
    "attested_by",
];

const EVALUATION_COLUMNS: [&str; 10] = [
    "sequence",
    "id",
    "evaluator",
    "contribution",
    "contribution_member",
    "contribution_status",
    "verdict",
    "rating",
    "at",
    "note",
];

/// One contribution's cells, in [`CONTRIBUTION_COLUMNS`] order.
fn contribution_row(c: &ContributionView<'_>, session: &Session) -> Vec<String> {
    let decimals = session.decimals();
    let currency = session.currency().to_string();
    let f = &c.contribution.fields;
    let kind = super::contribute::kind_name(f.kind);
    let (quantity, unit, minutes) = match pb::ContributionKind::try_from(f.kind) {
        Ok(pb::ContributionKind::Work) => (
            format_hours(f.quantity),
            "hours".into(),
            f.quantity.to_string(),
        ),
        Ok(pb::ContributionKind::Money | pb::ContributionKind::Expense) => (
            format_money(f.quantity, decimals),
            currency.clone(),
            String::new(),
        ),
        _ => (f.quantity.to_string(), "units".into(), String::new()),
    };
    let (value, value_note) = match (&c.value, &c.rate) {
        (Some(v), _) => (format_amount(*v, decimals), String::new()),
        (None, Rate::Missing) => (
            String::new(),
            format!(
                "no rate: give the contribution a rate, or the policy a rate for one of its tags or default_rates.{kind}; it counts as 0"
            ),
        ),
        (None, _) => (String::new(), "unknown kind".into()),
    };
    vec![
        c.contribution.id.to_hex(),
        c.contribution.sequence.to_string(),
        c.contribution.member.clone(),
        kind.to_string(),
        quantity,
        unit,
        minutes,
        c.rate
            .amount()
            .map(|r| format_money(r, decimals))
            .unwrap_or_default(),
        c.rate.source(),
        value,
        currency,
        value_note,
        f.tags.join(" "),
        f.project.clone(),
        format_time(f.at),
        c.status.as_str().to_string(),
        c.amended
            .map(|a| format_time(a.last_at_ms.div_euclid(1000)))
            .unwrap_or_default(),
        c.approvals.to_string(),
        c.flags.to_string(),
        f.note.clone(),
        f.evidence_url.clone(),
        c.contribution.attested_by.clone().unwrap_or_default(),
    ]
}

/// What every recorded distribution paid, one row per recipient (and one
/// for the reserve), with its period and whether it stands or was voided.
async fn distributions_csv(ctx: &Context, period: Option<(i64, i64)>) -> Result<()> {
    let mut session = ctx.connect().await?;
    let decimals = session.decimals();
    let currency = session.currency().to_string();
    let list = session.distributions().await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        csv_row(&[
            "sequence",
            "id",
            "treasurer",
            "period_start",
            "period_end",
            "status",
            "income",
            "policy_version",
            "recipient",
            "amount_minor_units",
            "amount",
            "currency",
        ])
    )?;
    for summary in list {
        let (start, end) = summary
            .period
            .as_ref()
            .map(|p| (p.start, p.end))
            .unwrap_or_default();
        if period.is_some_and(|(s, e)| !(start < e && s < end)) {
            continue;
        }
        let d = session
            .client
            .get_distribution(pb::GetDistributionRequest {
                key: Some(pb::get_distribution_request::Key::Sequence(
                    summary.sequence,
                )),
            })
            .await
            .map_err(status)?
            .into_inner();
        let status_text = match &summary.voided {
            Some(v) => format!("voided: {}", v.reason),
            None => "recorded".to_string(),
        };
        let rows = d
            .payouts
            .iter()
            .map(|p| (p.recipient.clone(), p.amount))
            .chain(std::iter::once(("(reserve)".to_string(), summary.reserve)));
        for (recipient, amount) in rows {
            writeln!(
                out,
                "{}",
                csv_row(&[
                    summary.sequence.to_string(),
                    hex::encode(&summary.id),
                    summary.treasurer.clone(),
                    format_time(start),
                    format_time(end),
                    status_text.clone(),
                    format_money(summary.income, decimals),
                    summary.policy_version.to_string(),
                    recipient,
                    amount.to_string(),
                    format_money(amount, decimals),
                    currency.clone(),
                ])
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_fields_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"a\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\""
        );
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("1.50"), "1.50");
    }
}
