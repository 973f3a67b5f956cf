//! For treasurers: preview each member's share of an income (`shares`),
//! split it and record it (`distribute`, after checking the digest of what
//! was shown and asking), say why a member gets what they get (`explain`),
//! and write the live log as a scenario (`export --scenario`). The recorded
//! distributions themselves are in [`super::distributions`].

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::client::{self, FetchedPreview, fetch_explanation, fetch_preview};
use coopledger::pb;
use serde_json::Value;

use super::input::{format_minutes, format_money, format_time, parse_money, parse_period};
use super::{Context, Session, print_table, status, submit};

/// Which period, income and policy to compute.
#[derive(Args)]
pub struct ShareArgs {
    /// The period: a month (2026-11) or START..END.
    #[arg(long)]
    pub period: String,
    /// The income to split, as an amount (1000.00). Required unless the
    /// period is recorded (its recorded income is shown); 0 shows points only.
    #[arg(long)]
    pub income: Option<String>,
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
    /// Sign and record the distribution (treasurers); asks first unless --yes.
    #[arg(long)]
    pub record: bool,
    /// Record without asking (scripts).
    #[arg(long, requires = "record")]
    pub yes: bool,
    /// Print the payouts as CSV (it takes precedence over --json).
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
    preview: FetchedPreview,
    report: Value,
    period: (i64, i64),
    /// The `--period` as given, for the commands the signal lines name.
    period_arg: String,
    decimals: u32,
    currency: String,
}

/// Asks the server for the preview of `args` (with the scenario when
/// `include_scenario`), turning a missing `--income` into advice.
async fn compute(
    session: &mut Session,
    args: &ShareArgs,
    include_scenario: bool,
) -> Result<Computed> {
    let period = parse_period(&args.period)?;
    let decimals = session.info.decimals;
    let income = args
        .income
        .as_deref()
        .map(|i| parse_money(i, decimals))
        .transpose()?;
    // A draft in the treasurer's units is previewed in the canonical form.
    let draft_policy_json = match &args.draft {
        Some(f) => super::policy::prepare_file(f, session)?.canonical,
        None => Vec::new(),
    };
    let preview = fetch_preview(
        &mut session.client,
        pb::ComputeSharesRequest {
            period: Some(pb::Period {
                start: period.0,
                end: period.1,
            }),
            income,
            policy_version: args.policy_version.unwrap_or(0),
            draft_policy_json,
            include_scenario,
        },
    )
    .await
    .map_err(|e| match e {
        coopledger::client::FetchError::Status(s)
            if income.is_none()
                && s.code() == tonic::Code::InvalidArgument
                && s.message().starts_with("income:") =>
        {
            anyhow::anyhow!(
                "--income is required: {} is not recorded yet, so say the amount to split, e.g. --income 1000.00 (0 shows points only)",
                args.period
            )
        }
        other => fetch_error(other),
    })?;
    let report: Value =
        serde_json::from_str(&preview.report_json).context("the server's report is not JSON")?;
    Ok(Computed {
        preview,
        report,
        period,
        period_arg: args.period.clone(),
        decimals,
        currency: session.info.currency.clone(),
    })
}

fn fetch_error(e: coopledger::client::FetchError) -> anyhow::Error {
    match e {
        coopledger::client::FetchError::Status(s) => status(s),
        other => anyhow::anyhow!("{other}"),
    }
}

fn map_of(v: &Value) -> Vec<(String, u64)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, x)| Some((k.clone(), x.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Computed {
    fn money(&self, minor: u64) -> String {
        format!("{} {}", format_money(minor, self.decimals), self.currency)
    }

    fn print_csv(&self) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "period_start,period_end,recipient,amount_minor_units,amount,currency,points"
        )?;
        let (start, end) = (format_time(self.period.0), format_time(self.period.1));
        let points: std::collections::BTreeMap<String, u64> =
            map_of(&self.report["points"]).into_iter().collect();
        for (who, amount) in map_of(&self.report["payouts"]) {
            writeln!(
                out,
                "{start},{end},{},{amount},{},{},{}",
                super::export::csv_field(&who),
                format_money(amount, self.decimals),
                self.currency,
                points.get(&who).map(|p| p.to_string()).unwrap_or_default()
            )?;
        }
        let reserve = self.report["reserve"].as_u64().unwrap_or(0);
        writeln!(
            out,
            "{start},{end},(reserve),{reserve},{},{},",
            format_money(reserve, self.decimals),
            self.currency
        )?;
        Ok(())
    }

    fn print(&self) {
        let h = &self.preview.header;
        println!(
            "Period {} .. {}   income {}   policy v{}   log size {}",
            format_time(self.period.0),
            format_time(self.period.1),
            self.money(h.income),
            h.policy_version,
            h.log_size
        );
        if let Some(r) = &h.recorded {
            println!(
                "RECORDED by {} in entry {} (sequence {}): these are the recorded figures",
                r.treasurer,
                &hex::encode(&r.id)[..12],
                r.sequence
            );
        }
        let points: std::collections::BTreeMap<String, u64> =
            map_of(&self.report["points"]).into_iter().collect();
        let payouts: std::collections::BTreeMap<String, u64> =
            map_of(&self.report["payouts"]).into_iter().collect();
        let mut names: Vec<&String> = payouts.keys().chain(points.keys()).collect();
        names.sort();
        names.dedup();
        let mut rows: Vec<Vec<String>> = names
            .into_iter()
            .map(|who| {
                vec![
                    who.clone(),
                    points.get(who).map(|p| p.to_string()).unwrap_or_default(),
                    self.money(payouts.get(who).copied().unwrap_or(0)),
                ]
            })
            .collect();
        rows.push(vec![
            "(reserve)".into(),
            String::new(),
            self.money(self.report["reserve"].as_u64().unwrap_or(0)),
        ]);
        print_table(&["RECIPIENT", "POINTS", "AMOUNT"], &rows);
        println!("\nBuckets");
        let buckets: Vec<Vec<String>> = self.report["buckets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let paid: u64 = map_of(&b["paid"]).iter().map(|(_, a)| a).sum();
                        let amount = b["amount"].as_u64().unwrap_or(0);
                        vec![
                            i.to_string(),
                            b["type"].as_str().unwrap_or("?").to_string(),
                            self.money(amount),
                            self.money(paid),
                            map_of(&b["paid"]).len().to_string(),
                            self.money(amount.saturating_sub(paid)),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        print_table(
            &["#", "TYPE", "AMOUNT", "PAID", "RECIPIENTS", "LEFT"],
            &buckets,
        );
        for line in super::signals::signal_lines(&self.report["signals"], None, &self.period_arg) {
            println!("{line}");
        }
        let review = &self.report["review"];
        for (label, key) in [
            ("not yet approved", "pending"),
            ("flagged by peers", "flagged"),
        ] {
            let count = review[key]["count"].as_u64().unwrap_or(0);
            if count > 0 {
                println!(
                    "warning: {count} contribution(s) worth {} are {label} and count for nothing in this distribution:",
                    self.money(review[key]["value"].as_u64().unwrap_or(0))
                );
                let flagged = key == "flagged";
                let items: Vec<&Value> = review["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["flagged"].as_bool() == Some(flagged))
                    .collect();
                for item in &items {
                    let id = item["id"].as_str().unwrap_or_default();
                    println!(
                        "  {} {} of {} worth {} ({} approval(s), {} flag(s)), id {}",
                        item["member"].as_str().unwrap_or("?"),
                        item["kind"].as_str().unwrap_or("?"),
                        item["at"].as_str().unwrap_or("?").get(..10).unwrap_or("?"),
                        self.money(item["value"].as_u64().unwrap_or(0)),
                        item["approvals"].as_u64().unwrap_or(0),
                        item["flags"].as_u64().unwrap_or(0),
                        id.get(..12).unwrap_or(id),
                    );
                }
                if (items.len() as u64) < count {
                    println!("  … and {} more", count - items.len() as u64);
                }
            }
        }
        for w in self.report["warnings"].as_array().into_iter().flatten() {
            println!("warning: {}", w.as_str().unwrap_or_default());
        }
        if !h.not_recordable.is_empty() && h.recorded.is_none() {
            println!("not recordable: {}", h.not_recordable);
        }
        println!("digest {}", hex::encode(&h.digest));
    }
}

/// `coopledger shares`.
pub async fn shares(ctx: &Context, args: &ShareArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let c = compute(&mut session, args, false).await?;
    if ctx.json {
        println!("{}", c.preview.report_json);
    } else {
        c.print();
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; refuses without one.
pub fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} — no terminal to ask on; add --yes to proceed without asking");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// `coopledger distribute`.
pub async fn distribute(ctx: &Context, args: &DistributeArgs) -> Result<()> {
    if args.record && args.share.income.is_none() {
        bail!(
            "--income is required to record a distribution: say the amount to split, e.g. --income 1000.00 (0 is allowed, but only when said)"
        );
    }
    if args.record && args.share.draft.is_some() {
        bail!("a draft policy cannot be recorded; adopt it first (coopledger policy adopt FILE)");
    }
    let mut session = ctx.connect().await?;
    let c = compute(&mut session, &args.share, false).await?;
    if ctx.print_id && args.record {
        // Only the recorded entry's id is printed, below.
    } else if args.csv {
        c.print_csv()?;
    } else if ctx.json {
        println!("{}", c.preview.report_json);
    } else {
        c.print();
    }
    if !args.record {
        return Ok(());
    }
    let income = c.preview.header.income;
    // Sign only the digest of the figures shown, recomputed here.
    let record = c
        .preview
        .record_to_sign(c.period, income)
        .map_err(|e| anyhow::anyhow!("not signing: {e}"))?;
    if !args.yes
        && !confirm(&format!(
            "Record the distribution of {} for {} .. {}?",
            c.money(income),
            format_time(c.period.0),
            format_time(c.period.1)
        ))?
    {
        bail!("not recorded");
    }
    let signer = ctx.signer(&session)?;
    let r = submit(
        &mut session,
        signer.sign(client::distribution_body(record))?,
    )
    .await?;
    if ctx.print_id {
        println!("{}", hex::encode(&r.id));
    } else if !ctx.json && !args.csv {
        println!(
            "recorded: entry {} at sequence {}; `coopledger distribution show {}` shows what it paid",
            hex::encode(&r.id),
            r.sequence,
            r.sequence
        );
    }
    Ok(())
}

/// `coopledger explain`.
pub async fn explain(ctx: &Context, args: &ExplainArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let period = parse_period(&args.share.period)?;
    let decimals = session.info.decimals;
    let income = args
        .share
        .income
        .as_deref()
        .map(|i| parse_money(i, decimals))
        .transpose()?;
    let json = fetch_explanation(
        &mut session.client,
        pb::ExplainRequest {
            member: args.member.clone(),
            period: Some(pb::Period {
                start: period.0,
                end: period.1,
            }),
            income,
            policy_version: args.share.policy_version.unwrap_or(0),
        },
    )
    .await
    .map_err(fetch_error)?;
    if ctx.json {
        println!("{json}");
        return Ok(());
    }
    let e: Value = serde_json::from_str(&json).context("the server's explanation is not JSON")?;
    let money = |m: &Value| {
        format!(
            "{} {}",
            format_money(m.as_u64().unwrap_or(0), decimals),
            session.info.currency
        )
    };
    println!(
        "{}: paid {} for {} .. {}, {} points in the period",
        args.member,
        money(&e["payout"]),
        format_time(period.0),
        format_time(period.1),
        e["points"]
    );
    let lines = e["contributions"].as_array().cloned().unwrap_or_default();
    if !lines.is_empty() {
        println!("\nContributions dated before the period's end");
    }
    for l in &lines {
        let kind = l["kind"].as_str().unwrap_or("?");
        let quantity = l["quantity"].as_u64().unwrap_or(0);
        let what = match kind {
            "work" => format_minutes(quantity),
            "money" | "expense" => money(&l["quantity"]),
            _ => format!("{quantity} units"),
        };
        println!(
            "  {} {kind} {what} on {}{}",
            &l["id"].as_str().unwrap_or("")[..12.min(l["id"].as_str().unwrap_or("").len())],
            l["at"].as_str().unwrap_or(""),
            if l["in_period"].as_bool() == Some(true) {
                ""
            } else {
                " (before the period)"
            }
        );
        println!(
            "      worth {}; {} approval(s), {} flag(s): {}; quality {}%",
            money(&l["value"]),
            l["approvals"],
            l["flags"],
            validity(l),
            l["quality"]
        );
        println!("      {} points", l["points"]);
        let (repaid, before) = (
            l["repaid"].as_u64().unwrap_or(0),
            l["prior_repaid"].as_u64().unwrap_or(0),
        );
        if repaid > 0 || before > 0 {
            println!(
                "      repaid {} now, {} before",
                money(&l["repaid"]),
                money(&l["prior_repaid"])
            );
        }
    }
    println!("\nBuckets");
    let buckets = e["buckets"].as_array().cloned().unwrap_or_default();
    if buckets.is_empty() {
        println!("  no bucket paid or weighed them");
    }
    for b in &buckets {
        let mut basis = String::new();
        if let (Some(p), Some(t)) = (b["points"].as_u64(), b["total_points"].as_u64()) {
            basis = format!("{p} of {t} points");
        }
        if let (Some(w), Some(t)) = (b["weight"].as_u64(), b["total_weight"].as_u64()) {
            basis = format!("weight {w} of {t}");
        }
        if let Some(claims) = b["claims"].as_array() {
            basis = format!("{} claim(s)", claims.len());
        }
        println!(
            "  {} {:<10} {}  {basis}",
            b["index"],
            b["type"].as_str().unwrap_or("?"),
            money(&b["paid"])
        );
    }
    let signals =
        super::signals::signal_lines(&e["signals"], Some(&args.member), &args.share.period);
    if !signals.is_empty() {
        println!();
    }
    for line in signals {
        println!("{line}");
    }
    Ok(())
}

/// `coopledger export --scenario FILE --period P [--income X]`.
pub async fn export_scenario(
    ctx: &Context,
    file: &std::path::Path,
    period: &str,
    income: Option<&str>,
) -> Result<()> {
    let mut session = ctx.connect().await?;
    let args = ShareArgs {
        period: period.to_string(),
        income: income.map(str::to_string),
        policy_version: None,
        draft: None,
    };
    let c = compute(&mut session, &args, true).await?;
    std::fs::write(file, &c.preview.scenario_json)
        .with_context(|| format!("writing {}", file.display()))?;
    if ctx.json {
        let h = &c.preview.header;
        println!(
            "{}",
            serde_json::json!({"file": file, "period": period, "log_size": h.log_size,
                "policy_version": h.policy_version, "income": h.income, "recorded": h.recorded.is_some()})
        );
        return Ok(());
    }
    println!(
        "wrote the log of {period} (size {}, policy v{}{}) as a scenario to {}; `coopledger score --scenario {}` reproduces it",
        c.preview.header.log_size,
        c.preview.header.policy_version,
        if c.preview.header.recorded.is_some() {
            ", as recorded"
        } else {
            ""
        },
        file.display(),
        file.display()
    );
    Ok(())
}

/// A contribution line's validity in words (from its JSON), saying which
/// rule of peer review it fails when it is not valid.
pub fn validity(line: &serde_json::Value) -> &'static str {
    validity_words(
        line["valid"].as_bool() == Some(true),
        line["invalid"].as_str(),
    )
}

/// Validity in words from `valid` and the reason's word (`invalid` of an
/// explanation line): `score --explain` and `explain` say it alike.
pub fn validity_words(valid: bool, invalid: Option<&str>) -> &'static str {
    if valid {
        return "valid";
    }
    match invalid {
        Some("too_few_approvals") => "NOT valid: not enough approvals yet, earns nothing",
        Some("too_many_flags") => {
            "NOT valid: more flags than the policy's max_flags, earns nothing"
        }
        Some("flags_outweigh_approvals") => {
            "NOT valid: its flaggers outweigh its approvers, earns nothing"
        }
        Some("untrusted_approvers") => {
            "NOT valid: its approvers hold too little trust (min_approver_trust), earns nothing"
        }
        _ => "NOT valid, earns nothing",
    }
}
