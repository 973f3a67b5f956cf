//! The treasurer's commands: preview shares, distribute an income (and
//! record it), explain one member's share, and export the live log as a
//! scenario or as CSV for a spreadsheet.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::pb;
use serde_json::Value;

use super::input::{format_money, parse_money, parse_period};
use super::{Context, Session, print_table, status};

/// Which period, income and policy to compute.
#[derive(Args)]
pub struct ShareArgs {
    /// The period: a month (2026-11) or START..END.
    #[arg(long)]
    pub period: String,
    /// The income to split, as an amount (1000.00); 0 shows points only.
    #[arg(long, default_value = "0")]
    pub income: String,
    /// An adopted policy version (default: the latest).
    #[arg(long = "policy-version")]
    pub policy_version: Option<u32>,
    /// Try a draft policy file instead of an adopted one.
    #[arg(long)]
    pub draft: Option<PathBuf>,
}

/// `coopledger distribute`.
#[derive(Args)]
pub struct DistributeArgs {
    #[command(flatten)]
    pub share: ShareArgs,
    /// Sign and record the distribution (treasurers).
    #[arg(long)]
    pub record: bool,
    /// Print the payouts as CSV.
    #[arg(long)]
    pub csv: bool,
}

/// `coopledger explain`.
#[derive(Args)]
pub struct ExplainArgs {
    /// The member.
    pub member: String,
    #[command(flatten)]
    pub share: ShareArgs,
}

struct Computed {
    report: Summary,
    raw: pb::SharesReport,
    decimals: u32,
    currency: String,
}

async fn compute(session: &mut Session, args: &ShareArgs) -> Result<Computed> {
    let (start, end) = parse_period(&args.period)?;
    let decimals = session.info.decimals;
    let income = parse_money(&args.income, decimals)?;
    let draft_policy_json = match &args.draft {
        Some(f) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        None => Vec::new(),
    };
    let raw = session
        .client
        .compute_shares(pb::ComputeSharesRequest {
            period: Some(pb::Period { start, end }),
            income,
            policy_version: args.policy_version.unwrap_or(0),
            draft_policy_json,
        })
        .await
        .map_err(status)?
        .into_inner();
    let report = summary_from_json(&raw.report_json)?;
    Ok(Computed {
        report,
        raw,
        decimals,
        currency: session.info.currency.clone(),
    })
}

/// The report fields the CLI prints, read back from the server's JSON.
#[derive(Default)]
struct Summary {
    reserve: u64,
    payouts: std::collections::BTreeMap<String, u64>,
    points: std::collections::BTreeMap<String, u64>,
    warnings: Vec<String>,
}

fn summary_from_json(json: &str) -> Result<Summary> {
    let v: Value = serde_json::from_str(json).context("the server's report is not JSON")?;
    let map = |key: &str| -> std::collections::BTreeMap<String, u64> {
        v[key]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, x)| Some((k.clone(), x.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Summary {
        reserve: v["reserve"].as_u64().unwrap_or(0),
        payouts: map("payouts"),
        points: map("points"),
        warnings: v["warnings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn print_report(ctx: &Context, c: &Computed, csv: bool) -> Result<()> {
    let money = |m: u64| format_money(m, c.decimals);
    if ctx.json {
        println!("{}", c.raw.report_json);
        return Ok(());
    }
    if csv {
        let mut out = std::io::stdout().lock();
        writeln!(out, "recipient,amount_minor_units,amount,currency,points")?;
        for (who, amount) in &c.report.payouts {
            let points = c
                .report
                .points
                .get(who)
                .map(|p| p.to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "{who},{amount},{},{},{points}",
                money(*amount),
                c.currency
            )?;
        }
        writeln!(
            out,
            "(reserve),{},{},{},",
            c.report.reserve,
            money(c.report.reserve),
            c.currency
        )?;
        return Ok(());
    }
    let mut names: Vec<&String> = c
        .report
        .payouts
        .keys()
        .chain(c.report.points.keys())
        .collect();
    names.sort();
    names.dedup();
    let rows: Vec<Vec<String>> = names
        .into_iter()
        .map(|who| {
            vec![
                who.clone(),
                c.report
                    .points
                    .get(who)
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                format!(
                    "{} {}",
                    money(c.report.payouts.get(who).copied().unwrap_or(0)),
                    c.currency
                ),
            ]
        })
        .chain(std::iter::once(vec![
            "(reserve)".into(),
            String::new(),
            format!("{} {}", money(c.report.reserve), c.currency),
        ]))
        .collect();
    print_table(&["RECIPIENT", "POINTS", "AMOUNT"], &rows);
    for w in &c.report.warnings {
        println!("warning: {w}");
    }
    println!(
        "policy v{}, log size {}, digest {}",
        c.raw.policy_version,
        c.raw.log_size,
        hex::encode(&c.raw.digest)
    );
    Ok(())
}

/// `coopledger shares`.
pub async fn shares(ctx: &Context, args: &ShareArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let c = compute(&mut session, args).await?;
    print_report(ctx, &c, false)
}

/// `coopledger distribute`.
pub async fn distribute(ctx: &Context, args: &DistributeArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let c = compute(&mut session, &args.share).await?;
    print_report(ctx, &c, args.csv)?;
    if !args.record {
        return Ok(());
    }
    if args.share.draft.is_some() {
        bail!("a draft policy cannot be recorded; adopt it first (coopledger policy adopt FILE)");
    }
    let record = c
        .raw
        .record
        .clone()
        .context("the server returned no record for this distribution")?;
    let body = pb::entry::Body::RecordDistribution(record);
    let signer = ctx.signer(&session)?;
    let r = session
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(signer.sign(body)?),
        })
        .await
        .map_err(status)?
        .into_inner();
    if !ctx.json && !args.csv {
        println!(
            "recorded: entry {} at sequence {}",
            hex::encode(&r.id),
            r.sequence
        );
    }
    Ok(())
}

/// `coopledger explain`.
pub async fn explain(ctx: &Context, args: &ExplainArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let (start, end) = parse_period(&args.share.period)?;
    let income = parse_money(&args.share.income, session.info.decimals)?;
    let e = session
        .client
        .explain(pb::ExplainRequest {
            member: args.member.clone(),
            period: Some(pb::Period { start, end }),
            income,
            policy_version: args.share.policy_version.unwrap_or(0),
        })
        .await
        .map_err(status)?
        .into_inner();
    println!("{}", e.explanation_json);
    Ok(())
}

/// `coopledger export --scenario FILE --period P --income X`.
pub async fn export_scenario(
    ctx: &Context,
    file: &std::path::Path,
    period: &str,
    income: &str,
) -> Result<()> {
    let mut session = ctx.connect().await?;
    let args = ShareArgs {
        period: period.to_string(),
        income: income.to_string(),
        policy_version: None,
        draft: None,
    };
    let c = compute(&mut session, &args).await?;
    std::fs::write(file, &c.raw.scenario_json)
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "wrote the log of {period} (size {}, policy v{}) as a scenario to {}; `coopledger score --scenario {}` reproduces it",
        c.raw.log_size,
        c.raw.policy_version,
        file.display(),
        file.display()
    );
    Ok(())
}
