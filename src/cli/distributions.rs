//! For treasurers and members checking them: the recorded distributions,
//! `distribution list|show|void` (what each paid, per recipient and per
//! bucket; voiding one reopens its period).

use std::io::Write as _;

use anyhow::{Result, bail};
use clap::Subcommand;
use coopledger::client;
use coopledger::pb;
use serde_json::Value;

use super::history::period_label;
use super::input::{format_money, format_time};
use super::treasurer::confirm;
use super::{Context, Session, print_table, receipt_json, status, submit};

/// `coopledger distribution ...`: the recorded distributions.
#[derive(Subcommand)]
pub enum DistributionCommand {
    /// Every recorded distribution: period, income, what it paid, voided or not.
    List,
    /// What one recorded distribution paid, per recipient and per bucket.
    Show {
        /// Its entry id (a prefix is enough) or sequence number.
        id: String,
        /// Print the payouts as CSV (it takes precedence over --json).
        #[arg(long)]
        csv: bool,
    },
    /// Void a recorded distribution (treasurers): its period reopens.
    Void {
        /// Its entry id (a prefix is enough) or sequence number.
        id: String,
        /// Why, for the members reading the log.
        #[arg(long)]
        reason: String,
        /// Void without asking (scripts).
        #[arg(long)]
        yes: bool,
    },
}

/// Finds a recorded distribution by sequence number or id prefix.
async fn find_distribution(session: &mut Session, key: &str) -> Result<pb::Distribution> {
    let list = session.distributions().await?;
    let key = key.to_ascii_lowercase();
    let matches: Vec<&pb::DistributionSummary> = list
        .iter()
        .filter(|d| d.sequence.to_string() == key || hex::encode(&d.id).starts_with(&key))
        .collect();
    let found = match matches.as_slice() {
        [one] => *one,
        [] => bail!(
            "no recorded distribution {key:?}; `coopledger distribution list` shows them ({} recorded)",
            list.len()
        ),
        _ => bail!(
            "{key:?} matches {} distributions; give more of the id",
            matches.len()
        ),
    };
    Ok(session
        .client
        .get_distribution(pb::GetDistributionRequest {
            key: Some(pb::get_distribution_request::Key::Sequence(found.sequence)),
        })
        .await
        .map_err(status)?
        .into_inner())
}

/// `coopledger distribution ...`.
pub async fn distribution(ctx: &Context, command: &DistributionCommand) -> Result<()> {
    let mut session = ctx.connect().await?;
    let (decimals, currency) = (session.info.decimals, session.info.currency.clone());
    let money = |m: u64| format!("{} {currency}", format_money(m, decimals));
    let period = |p: &Option<pb::Period>| {
        p.as_ref().map_or(String::new(), |p| {
            format!("{} .. {}", format_time(p.start), format_time(p.end))
        })
    };
    match command {
        DistributionCommand::List => {
            let list = session.distributions().await?;
            if ctx.json {
                let rows: Vec<Value> = list
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "sequence": d.sequence, "id": hex::encode(&d.id), "treasurer": d.treasurer,
                            "start": d.period.as_ref().map(|p| p.start), "end": d.period.as_ref().map(|p| p.end),
                            "income": d.income, "paid": d.paid, "reserve": d.reserve,
                            "policy_version": d.policy_version, "voided": d.voided.as_ref().map(|v| &v.reason),
                        })
                    })
                    .collect();
                println!("{}", Value::Array(rows));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    vec![
                        d.sequence.to_string(),
                        hex::encode(&d.id)[..12].to_string(),
                        period(&d.period),
                        money(d.income),
                        money(d.paid),
                        money(d.reserve),
                        d.treasurer.clone(),
                        match &d.voided {
                            Some(v) => format!("VOIDED by {}: {}", v.treasurer, v.reason),
                            None => "recorded".into(),
                        },
                    ]
                })
                .collect();
            print_table(
                &[
                    "SEQ",
                    "ID",
                    "PERIOD",
                    "INCOME",
                    "PAID",
                    "RESERVE",
                    "TREASURER",
                    "STATUS",
                ],
                &rows,
            );
        }
        DistributionCommand::Show { id, csv } => {
            let d = find_distribution(&mut session, id).await?;
            let s = d.summary.clone().unwrap_or_default();
            if *csv {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "distribution,period_start,period_end,bucket,type,recipient,amount_minor_units,amount,currency"
                )?;
                let (start, end) = s
                    .period
                    .as_ref()
                    .map(|p| (format_time(p.start), format_time(p.end)))
                    .unwrap_or_default();
                for (i, b) in d.buckets.iter().enumerate() {
                    for p in &b.paid {
                        writeln!(
                            out,
                            "{},{start},{end},{i},{},{},{},{},{currency}",
                            s.sequence,
                            b.r#type,
                            super::export::csv_field(&p.recipient),
                            p.amount,
                            format_money(p.amount, decimals)
                        )?;
                    }
                }
                writeln!(
                    out,
                    "{},{start},{end},,reserve,(reserve),{},{},{currency}",
                    s.sequence,
                    s.reserve,
                    format_money(s.reserve, decimals)
                )?;
                return Ok(());
            }
            if ctx.json {
                println!("{}", distribution_json(&d, decimals, &currency));
                return Ok(());
            }
            println!(
                "Distribution {} (sequence {}) of {} by {}",
                hex::encode(&s.id),
                s.sequence,
                period(&s.period),
                s.treasurer
            );
            println!(
                "  income {}, policy v{}, previewed at log size {}, digest {}",
                money(s.income),
                s.policy_version,
                s.log_size,
                hex::encode(&s.digest)
            );
            if let Some(v) = &s.voided {
                println!(
                    "  VOIDED by {} at sequence {}: {} (its period is open again)",
                    v.treasurer, v.sequence, v.reason
                );
            }
            let rows: Vec<Vec<String>> = d
                .payouts
                .iter()
                .map(|p| vec![p.recipient.clone(), money(p.amount)])
                .chain(std::iter::once(vec!["(reserve)".into(), money(s.reserve)]))
                .collect();
            print_table(&["RECIPIENT", "PAID"], &rows);
            println!("\nBuckets");
            let rows: Vec<Vec<String>> = d
                .buckets
                .iter()
                .enumerate()
                .flat_map(|(i, b)| {
                    let paid: u64 = b.paid.iter().map(|p| p.amount).sum();
                    std::iter::once(vec![
                        i.to_string(),
                        b.r#type.clone(),
                        String::new(),
                        money(b.amount),
                        money(paid),
                    ])
                    .chain(b.paid.iter().map(|p| {
                        vec![
                            String::new(),
                            String::new(),
                            p.recipient.clone(),
                            String::new(),
                            money(p.amount),
                        ]
                    }))
                })
                .collect();
            print_table(&["#", "TYPE", "RECIPIENT", "AMOUNT", "PAID"], &rows);
            println!("  {} claims repaid", s.claims_repaid);
        }
        DistributionCommand::Void { id, reason, yes } => {
            let d = find_distribution(&mut session, id).await?;
            let s = d.summary.unwrap_or_default();
            if !yes
                && !confirm(&format!(
                    "Void the distribution of {} ({} income, sequence {})?",
                    period(&s.period),
                    money(s.income),
                    s.sequence
                ))?
            {
                bail!("not voided");
            }
            let signer = ctx.signer(&session)?;
            let body = client::void_body(&s.id, reason);
            let r = submit(&mut session, signer.sign(body)?).await?;
            if ctx.print_id {
                println!("{}", hex::encode(&r.id));
            } else if ctx.json {
                let mut v = receipt_json(&r);
                v["voided"] = serde_json::json!({"sequence": s.sequence, "id": hex::encode(&s.id)});
                println!("{v}");
            } else {
                println!(
                    "voided the distribution of {} at sequence {}; the period is open again: preview and record it anew",
                    period(&s.period),
                    r.sequence
                );
            }
        }
    }
    Ok(())
}

/// `distribution show --json`: everything the table shows, for scripts.
/// Money is in minor units as in `distribution list --json` (with the
/// currency and its decimals to format it), times in Unix seconds (with the
/// period as people name it), ids and the digest in hex; `voided` is null
/// while the distribution stands.
fn distribution_json(d: &pb::Distribution, decimals: u32, currency: &str) -> Value {
    let s = d.summary.clone().unwrap_or_default();
    let payouts = |paid: &[pb::Payout]| -> Vec<Value> {
        paid.iter()
            .map(|p| serde_json::json!({"recipient": p.recipient, "amount": p.amount}))
            .collect()
    };
    let buckets: Vec<Value> = d
        .buckets
        .iter()
        .enumerate()
        .map(|(index, b)| {
            serde_json::json!({
                "index": index, "type": b.r#type, "amount": b.amount,
                "paid": b.paid.iter().map(|p| p.amount).sum::<u64>(), "payouts": payouts(&b.paid),
            })
        })
        .collect();
    let (start, end) = s.period.as_ref().map(|p| (p.start, p.end)).unzip();
    serde_json::json!({
        "sequence": s.sequence, "id": hex::encode(&s.id), "treasurer": s.treasurer,
        "start": start, "end": end, "period": s.period.as_ref().map(|p| period_label(p.start, p.end)),
        "currency": currency, "decimals": decimals,
        "income": s.income, "paid": s.paid, "reserve": s.reserve,
        "policy_version": s.policy_version, "log_size": s.log_size, "digest": hex::encode(&s.digest),
        "recipients": s.recipients, "claims_repaid": s.claims_repaid,
        "voided": s.voided.as_ref().map(|v| serde_json::json!({
            "sequence": v.sequence, "id": hex::encode(&v.id), "treasurer": v.treasurer, "reason": v.reason,
        })),
        "payouts": payouts(&d.payouts), "buckets": buckets,
    })
}
