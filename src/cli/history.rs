//! For every member: `history`, what a member earned from each recorded
//! distribution, per bucket, across periods, with a total.
//!
//! The figures are the server's settlements of the recorded distributions
//! (`ListDistributions`, then `GetDistribution` for each), the ones
//! `distribution show` prints: what each bucket paid this member. Voided
//! distributions are shown, marked `voided` with the void's reason, and
//! never counted in a total: they paid nothing that stands, and their
//! period was open again (a new record of it is its own row).
//!
//! A member reads their own history. Another member's is for treasurers
//! and admins, the rule the server applies to a member's breakdown
//! (`Explain`, `src/server/service.rs`); the CLI checks it against the
//! reader's roles in the log before reading anything.

use std::io::Write as _;

use anyhow::{Result, bail};
use clap::Args;
use coopledger::pb;
use serde_json::{Value, json};

use super::export::csv_row;
use super::input::{format_money, format_time, parse_period};
use super::{Context, Session, print_table, status};

/// `coopledger history`.
#[derive(Args)]
pub struct HistoryArgs {
    /// Whose history (default: yours). Another member's is for treasurers
    /// and admins, as with `explain`.
    #[arg(long)]
    pub member: Option<String>,
    /// Print CSV (one row per distribution and bucket that paid the member;
    /// it takes precedence over --json).
    #[arg(long)]
    pub csv: bool,
}

/// What one bucket of one distribution paid the member.
struct BucketLine {
    index: usize,
    bucket_type: String,
    amount: u64,
}

/// One recorded distribution as it concerns the member.
struct DistributionLine {
    summary: pb::DistributionSummary,
    period: (i64, i64),
    buckets: Vec<BucketLine>,
}

impl DistributionLine {
    fn total(&self) -> u64 {
        self.buckets.iter().map(|b| b.amount).sum()
    }

    fn stands(&self) -> bool {
        self.summary.voided.is_none()
    }

    fn status(&self) -> &'static str {
        if self.stands() { "recorded" } else { "voided" }
    }
}

/// A period as people name it: `2026-11` for a calendar month in UTC, else
/// `START..END` in RFC 3339.
pub fn period_label(start: i64, end: i64) -> String {
    let month: String = format_time(start).chars().take(7).collect();
    match parse_period(&month) {
        Ok(range) if range == (start, end) => month,
        _ => format!("{}..{}", format_time(start), format_time(end)),
    }
}

/// Whether a member reads everyone's figures: treasurers and admins (the
/// server's `Reader::is(Treasurer)`).
pub fn is_treasurer(member: &pb::Member) -> bool {
    member
        .roles
        .iter()
        .any(|r| *r == pb::Role::Treasurer as i32 || *r == pb::Role::Admin as i32)
}

/// Whether the member `reader` may read `target`'s history: their own, or
/// anyone's for a treasurer or an admin (the server's rule for `Explain`).
pub fn may_read(reader: &pb::Member, target: &str) -> bool {
    reader.handle == target || is_treasurer(reader)
}

/// Every member, as the server lists them.
pub async fn members(session: &mut Session) -> Result<Vec<pb::Member>> {
    Ok(session
        .client
        .list_members(pb::ListMembersRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .members)
}

/// `handle`'s own membership among `members`, or a refusal saying what to do.
pub fn find_reader(members: &[pb::Member], handle: &str) -> Result<pb::Member> {
    members
        .iter()
        .find(|m| m.handle == handle)
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{handle} is not a member of this network; act as a member with --as HANDLE"
            )
        })
}

/// Every recorded distribution, voided ones included, with what each of
/// its buckets paid `member`, by period start, then in log order.
async fn lines(session: &mut Session, member: &str) -> Result<Vec<DistributionLine>> {
    let mut out = Vec::new();
    for summary in session.distributions().await? {
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
        let period = summary
            .period
            .as_ref()
            .map(|p| (p.start, p.end))
            .unwrap_or_default();
        let buckets = d
            .buckets
            .iter()
            .enumerate()
            .filter_map(|(index, b)| {
                let amount: u64 = b
                    .paid
                    .iter()
                    .filter(|p| p.recipient == member)
                    .map(|p| p.amount)
                    .sum();
                (amount > 0).then(|| BucketLine {
                    index,
                    bucket_type: b.r#type.clone(),
                    amount,
                })
            })
            .collect();
        out.push(DistributionLine {
            summary,
            period,
            buckets,
        });
    }
    // Across periods in time order; a period recorded again after a void
    // comes after its voided record.
    out.sort_by_key(|l| (l.period.0, l.summary.sequence));
    Ok(out)
}

/// `coopledger history [--member M] [--csv]`.
pub async fn history(ctx: &Context, args: &HistoryArgs) -> Result<()> {
    let me = ctx.handle()?;
    let target = args.member.clone().unwrap_or_else(|| me.clone());
    let mut session = ctx.connect().await?;
    let members = members(&mut session).await?;
    let reader = find_reader(&members, &me)?;
    if !may_read(&reader, &target) {
        bail!(
            "{me} may not read {target}'s history: a member reads their own (`coopledger history`); treasurers and admins read anyone's, as with `explain`"
        );
    }
    let lines = lines(&mut session, &target).await?;
    let known =
        members.iter().any(|m| m.handle == target) || lines.iter().any(|l| !l.buckets.is_empty());
    if !known {
        bail!(
            "{target:?} is neither a member nor a recipient of any recorded distribution; `coopledger member list` shows the members"
        );
    }
    let decimals = session.decimals();
    let currency = session.currency().to_string();
    let total: u64 = lines
        .iter()
        .filter(|l| l.stands())
        .map(DistributionLine::total)
        .sum();
    if args.csv {
        return print_csv(&lines, &target, decimals, &currency);
    }
    if ctx.json {
        let distributions: Vec<Value> = lines
            .iter()
            .map(|l| {
                json!({
                    "sequence": l.summary.sequence,
                    "id": hex::encode(&l.summary.id),
                    "treasurer": l.summary.treasurer,
                    "period": period_label(l.period.0, l.period.1),
                    "start": format_time(l.period.0),
                    "end": format_time(l.period.1),
                    "status": l.status(),
                    "void_reason": l.summary.voided.as_ref().map(|v| v.reason.clone()),
                    "income": format_money(l.summary.income, decimals),
                    "buckets": l.buckets.iter().map(|b| json!({
                        "index": b.index,
                        "type": b.bucket_type,
                        "amount": format_money(b.amount, decimals),
                        "amount_minor_units": b.amount,
                    })).collect::<Vec<_>>(),
                    "total": format_money(l.total(), decimals),
                    "total_minor_units": l.total(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "member": target,
                "currency": currency,
                "distributions": distributions,
                "total": format_money(total, decimals),
                "total_minor_units": total,
            })
        );
        return Ok(());
    }
    let money = |m: u64| format!("{} {currency}", format_money(m, decimals));
    println!("History of {target}: what each recorded distribution paid, per bucket");
    let mut rows = Vec::new();
    for l in &lines {
        let head = vec![
            period_label(l.period.0, l.period.1),
            l.summary.sequence.to_string(),
            match &l.summary.voided {
                Some(v) => format!("VOIDED: {}", v.reason),
                None => "recorded".into(),
            },
        ];
        if l.buckets.is_empty() {
            rows.push([head, vec!["-".into(), "nothing".into(), money(0)]].concat());
            continue;
        }
        for (i, b) in l.buckets.iter().enumerate() {
            let lead = if i == 0 {
                head.clone()
            } else {
                vec![String::new(); 3]
            };
            rows.push(
                [
                    lead,
                    vec![b.index.to_string(), b.bucket_type.clone(), money(b.amount)],
                ]
                .concat(),
            );
        }
    }
    if rows.is_empty() {
        println!("No distribution has been recorded yet.");
    } else {
        print_table(&["PERIOD", "SEQ", "STATUS", "#", "BUCKET", "AMOUNT"], &rows);
    }
    let standing = lines.iter().filter(|l| l.stands()).count();
    println!(
        "Total: {} from {standing} recorded distribution{} (voided ones not counted)",
        money(total),
        super::input::plural(standing)
    );
    Ok(())
}

/// The CSV: one row per distribution and bucket that paid the member, every
/// cell through [`csv_row`] (formula-neutralised). Voided distributions'
/// rows say `voided` in `status`: sum only the `recorded` ones.
fn print_csv(
    lines: &[DistributionLine],
    member: &str,
    decimals: u32,
    currency: &str,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        csv_row(&[
            "member",
            "sequence",
            "distribution",
            "period",
            "period_start",
            "period_end",
            "status",
            "bucket",
            "type",
            "amount_minor_units",
            "amount",
            "currency",
        ])
    )?;
    for l in lines {
        for b in &l.buckets {
            writeln!(
                out,
                "{}",
                csv_row(&[
                    member.to_string(),
                    l.summary.sequence.to_string(),
                    hex::encode(&l.summary.id),
                    period_label(l.period.0, l.period.1),
                    format_time(l.period.0),
                    format_time(l.period.1),
                    l.status().to_string(),
                    b.index.to_string(),
                    b.bucket_type.clone(),
                    b.amount.to_string(),
                    format_money(b.amount, decimals),
                    currency.to_string(),
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
    fn months_are_named_as_months_and_other_ranges_in_full() {
        let (s, e) = parse_period("2026-11").unwrap_or_default();
        assert_eq!(period_label(s, e), "2026-11");
        let (s, e) = parse_period("2026-12").unwrap_or_default();
        assert_eq!(period_label(s, e), "2026-12");
        assert_eq!(
            period_label(s, e - 86_400),
            "2026-12-01T00:00:00Z..2026-12-31T00:00:00Z"
        );
    }

    #[test]
    fn another_members_history_is_for_treasurers_and_admins() {
        let member = |roles: &[pb::Role]| pb::Member {
            handle: "ana".into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
            ..Default::default()
        };
        assert!(may_read(&member(&[]), "ana"));
        assert!(!may_read(&member(&[]), "ben"));
        assert!(may_read(&member(&[pb::Role::Treasurer]), "ben"));
        assert!(may_read(&member(&[pb::Role::Admin]), "ben"));
    }
}
