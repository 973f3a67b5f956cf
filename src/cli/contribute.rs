//! For members putting work, money and resources in, and reviewing each
//! other's: `log`, `amend`, `retract`, `evaluate`, `allocate`, and (admins)
//! `policy adopt`. Each connects, signs with the member's key, submits and
//! prints what landed.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::client;
use coopledger::pb;
use coopledger::verify::EntryId;
use tokio_stream::StreamExt;

use super::input::{
    format_time, parse_duration_minutes, parse_money, parse_period, parse_time, plural,
};
use super::{Context, Session, sign_and_submit, status, submit};

/// The fields of a contribution, as typed.
#[derive(Args)]
pub struct ContributionArgs {
    /// work, money, expense, resource or use.
    pub kind: String,
    /// Work: a duration (1h30m, 90m, 1.5h). Money and expense: an amount (25.00). Resource and use: units.
    pub amount: String,
    /// A tag (repeatable, in order): selects rates and multipliers.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Rate: per hour for work, per unit for resource and use, as an amount (30.00).
    #[arg(long)]
    pub rate: Option<String>,
    /// Project name.
    #[arg(long, default_value = "")]
    pub project: String,
    /// When it happened (2026-11-03 or RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// A note for reviewers.
    #[arg(long, default_value = "")]
    pub note: String,
    /// A link to evidence.
    #[arg(long, default_value = "")]
    pub evidence: String,
    /// A file whose blake3 hash is recorded as evidence.
    #[arg(long)]
    pub evidence_file: Option<std::path::PathBuf>,
}

/// `coopledger log`.
#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub contribution: ContributionArgs,
}

/// `coopledger amend`: the fields given replace the current ones; every
/// field not given keeps its current value (its `at` included).
#[derive(Args)]
pub struct AmendArgs {
    /// The contribution's id (or a unique prefix of it).
    pub id: String,
    /// The new kind (work, money, expense, resource, use), or the new amount alone; default: unchanged.
    pub kind: Option<String>,
    /// The new amount, in the kind's unit (1h30m, 25.00, 3); default: unchanged.
    pub amount: Option<String>,
    /// Replace the tags (repeatable, in order); default: unchanged.
    #[arg(long = "tag", conflicts_with = "no_tags")]
    pub tags: Vec<String>,
    /// Remove every tag.
    #[arg(long)]
    pub no_tags: bool,
    /// The new own rate, as an amount; default: unchanged.
    #[arg(long, conflicts_with = "no_rate")]
    pub rate: Option<String>,
    /// Remove the own rate (the policy's rates apply again).
    #[arg(long)]
    pub no_rate: bool,
    /// The new project; default: unchanged.
    #[arg(long)]
    pub project: Option<String>,
    /// When it happened (2026-11-03 or RFC 3339); default: unchanged.
    #[arg(long)]
    pub at: Option<String>,
    /// The new note for reviewers; default: unchanged.
    #[arg(long)]
    pub note: Option<String>,
    /// The new evidence link; default: unchanged.
    #[arg(long)]
    pub evidence: Option<String>,
    /// A file whose blake3 hash replaces the recorded evidence hash.
    #[arg(long)]
    pub evidence_file: Option<std::path::PathBuf>,
}

/// `coopledger retract`.
#[derive(Args)]
pub struct RetractArgs {
    /// The contribution's id (or a unique prefix).
    pub id: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// `coopledger evaluate`.
#[derive(Args)]
pub struct EvaluateArgs {
    /// The contribution's id (or a unique prefix).
    pub id: String,
    /// Approve it.
    #[arg(long, conflicts_with = "flag", required_unless_present = "flag")]
    pub approve: bool,
    /// Flag it for the cooperative's attention.
    #[arg(long)]
    pub flag: bool,
    /// Quality in percent, 0..=100.
    #[arg(long)]
    pub rating: Option<u32>,
    /// A note for the contributor.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// `coopledger allocate`.
#[derive(Args)]
pub struct AllocateArgs {
    /// The period: a month (2026-11) or START..END.
    #[arg(long)]
    pub period: String,
    /// MEMBER=PERCENT, summing to 100.
    #[arg(required = true)]
    pub shares: Vec<String>,
}

/// A contribution kind as typed: work, money, expense, resource or use.
pub fn parse_kind(kind: &str) -> Result<pb::ContributionKind> {
    Ok(match kind {
        "work" => pb::ContributionKind::Work,
        "money" => pb::ContributionKind::Money,
        "expense" => pb::ContributionKind::Expense,
        "resource" => pb::ContributionKind::Resource,
        "use" => pb::ContributionKind::Use,
        other => bail!(
            "{other:?} is not a kind of contribution; the kinds are work, money, expense, resource, use"
        ),
    })
}

/// The word for a contribution kind.
pub fn kind_name(kind: i32) -> &'static str {
    match pb::ContributionKind::try_from(kind) {
        Ok(pb::ContributionKind::Work) => "work",
        Ok(pb::ContributionKind::Money) => "money",
        Ok(pb::ContributionKind::Expense) => "expense",
        Ok(pb::ContributionKind::Resource) => "resource",
        Ok(pb::ContributionKind::Use) => "use",
        _ => "?",
    }
}

/// A quantity typed for `kind`: a duration for work, an amount for money
/// and expenses, whole units otherwise.
pub fn parse_quantity(kind: pb::ContributionKind, amount: &str, decimals: u32) -> Result<u64> {
    Ok(match kind {
        pb::ContributionKind::Work => parse_duration_minutes(amount)?,
        pb::ContributionKind::Money | pb::ContributionKind::Expense => {
            parse_money(amount, decimals)?
        }
        _ => amount.trim().parse().with_context(|| {
            format!("{amount:?}: resource and use quantities are whole units (e.g. 3)")
        })?,
    })
}

/// The unit a kind's quantity counts in: minutes, minor units, or units.
fn unit_family(kind: pb::ContributionKind) -> u8 {
    match kind {
        pb::ContributionKind::Work => 0,
        pb::ContributionKind::Money | pb::ContributionKind::Expense => 1,
        _ => 2,
    }
}

fn evidence_hash(file: &std::path::Path) -> Result<Vec<u8>> {
    Ok(
        blake3::hash(&std::fs::read(file).with_context(|| format!("reading {}", file.display()))?)
            .as_bytes()
            .to_vec(),
    )
}

fn contribution(args: &ContributionArgs, decimals: u32) -> Result<pb::Contribution> {
    let kind = parse_kind(&args.kind)?;
    let quantity = parse_quantity(kind, &args.amount, decimals)?;
    let rate = args
        .rate
        .as_deref()
        .map(|r| parse_money(r, decimals))
        .transpose()?;
    let at = match &args.at {
        Some(t) => parse_time(t)?,
        None => coopledger::ledger::now_ms() / 1000,
    };
    let evidence_hash = match &args.evidence_file {
        Some(f) => evidence_hash(f)?,
        None => Vec::new(),
    };
    Ok(pb::Contribution {
        kind: kind as i32,
        quantity,
        rate,
        tags: args.tags.clone(),
        project: args.project.clone(),
        at,
        note: args.note.clone(),
        evidence_url: args.evidence.clone(),
        evidence_hash,
    })
}

/// `coopledger log`.
pub async fn log(ctx: &Context, args: &LogArgs) -> Result<()> {
    let decimals = ctx.connect().await?.decimals();
    let c = contribution(&args.contribution, decimals)?;
    let what = format!(
        "logged {} {}",
        args.contribution.kind, args.contribution.amount
    );
    sign_and_submit(ctx, client::contribution_body(c), &what)
        .await
        .map(|_| ())
}

/// Resolves a full id or a unique hex prefix of at least 6 digits to a contribution id.
async fn resolve_contribution(ctx: &Context, session: &mut Session, id: &str) -> Result<EntryId> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() == 64 {
        let bytes = hex::decode(&id).with_context(|| format!("{id:?} is not a hex id"))?;
        return EntryId::from_field(&bytes, "id").map_err(|e| anyhow::anyhow!("{e}"));
    }
    if id.len() < 6 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{id:?}: give a contribution id or a unique prefix of at least 6 hex digits");
    }
    let mut stream = session
        .client
        .list_entries(pb::ListEntriesRequest {
            kinds: vec![
                pb::EntryKind::LogContribution as i32,
                pb::EntryKind::AttestContribution as i32,
            ],
            ..Default::default()
        })
        .await
        .map_err(status)?
        .into_inner();
    let mut found = Vec::new();
    // Ids one typo away from the prefix (a digit changed, added, dropped
    // or two swapped): a suggestion when exactly one is.
    let mut near = Vec::new();
    while let Some(e) = stream.next().await {
        let e = e.map_err(status)?;
        let hex_id = hex::encode(&e.id);
        if hex_id.starts_with(&id) {
            found.push(e.id);
        } else if near.len() < 2 {
            let same_length = &hex_id[..id.len().min(hex_id.len())];
            let longer = &hex_id[..(id.len() + 1).min(hex_id.len())];
            let shorter = &hex_id[..id.len().saturating_sub(1)];
            if [same_length, longer, shorter]
                .iter()
                .any(|p| strsim::osa_distance(p, &id) <= 1)
            {
                near.push(same_length.to_string());
            }
        }
    }
    let _ = ctx;
    match found.as_slice() {
        [one] => EntryId::from_field(one, "id").map_err(|e| anyhow::anyhow!("{e}")),
        [] => match near.as_slice() {
            [one] => bail!(
                "no contribution id starts with {id}; did you mean {one}? (`coopledger entries` \
                 lists them, ids in the second column)"
            ),
            _ => bail!(
                "no contribution id starts with {id} (`coopledger entries` lists them, ids in \
                 the second column)"
            ),
        },
        _ => bail!(
            "{} contributions start with {id}; give more digits",
            found.len()
        ),
    }
}

/// The fields of `current` with what `args` gives replacing them.
fn amended_fields(
    args: &AmendArgs,
    current: &pb::Contribution,
    decimals: u32,
) -> Result<pb::Contribution> {
    let mut c = current.clone();
    let old_kind = pb::ContributionKind::try_from(current.kind)
        .context("the contribution has an unknown kind")?;
    match (&args.kind, &args.amount) {
        (Some(kind), Some(amount)) => {
            let kind = parse_kind(kind)?;
            c.kind = kind as i32;
            c.quantity = parse_quantity(kind, amount, decimals)?;
        }
        // One word: a kind if it names one, else the new amount.
        (Some(word), None) => match parse_kind(word) {
            Ok(kind) => {
                if unit_family(kind) != unit_family(old_kind) {
                    bail!(
                        "{word} counts in other units than {}: give the amount too (amend ID {word} AMOUNT)",
                        kind_name(current.kind)
                    );
                }
                c.kind = kind as i32;
            }
            Err(_) => c.quantity = parse_quantity(old_kind, word, decimals)?,
        },
        _ => {}
    }
    if args.no_rate {
        c.rate = None;
    } else if let Some(r) = &args.rate {
        c.rate = Some(parse_money(r, decimals)?);
    }
    if args.no_tags {
        c.tags.clear();
    } else if !args.tags.is_empty() {
        c.tags = args.tags.clone();
    }
    if let Some(p) = &args.project {
        c.project = p.clone();
    }
    if let Some(t) = &args.at {
        c.at = parse_time(t)?;
    }
    if let Some(n) = &args.note {
        c.note = n.clone();
    }
    if let Some(e) = &args.evidence {
        c.evidence_url = e.clone();
    }
    if let Some(f) = &args.evidence_file {
        c.evidence_hash = evidence_hash(f)?;
    }
    Ok(c)
}

/// `coopledger amend`: replaces the fields given and keeps the others (the
/// `at` too: a correction does not move work to the day it was corrected),
/// then says that the standing evaluations were cleared.
pub async fn amend(ctx: &Context, args: &AmendArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let id = resolve_contribution(ctx, &mut session, &args.id).await?;
    let view = super::export::fold(&mut session).await?;
    let current = view
        .state()
        .contribution(&id)
        .with_context(|| format!("no contribution {id} in this log"))?;
    if current.retracted {
        bail!("contribution {id} was retracted; it can no longer be amended");
    }
    let fields = amended_fields(args, &current.fields, session.decimals())?;
    if fields == current.fields {
        bail!(
            "nothing to amend: these are already the fields of {id} (give what changes, e.g. --note or an amount)"
        );
    }
    let standing = &current.evaluations;
    let approvals = standing
        .values()
        .filter(|e| e.verdict == pb::Verdict::Approve)
        .count();
    let flags = standing.len() - approvals;
    let at = fields.at;
    let body = client::amend_body(&id.0, fields);
    let signer = ctx.signer(&session)?;
    let r = submit(&mut session, signer.sign(body)?).await?;
    if ctx.print_id {
        println!("{}", hex::encode(&r.id));
        return Ok(());
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"sequence": r.sequence, "id": hex::encode(&r.id), "duplicate": r.duplicate,
                "log_size": r.log_size, "contribution": id.to_hex(), "at": format_time(at),
                "cleared_evaluations": standing.len(), "cleared_approvals": approvals, "cleared_flags": flags})
        );
        return Ok(());
    }
    println!(
        "amended {id}: entry {} at sequence {}",
        hex::encode(&r.id),
        r.sequence
    );
    println!("dated {}", format_time(at));
    if standing.is_empty() {
        println!("it had no standing evaluations; reviewers evaluate it as it is now");
    } else {
        println!(
            "its {} standing evaluation{} ({approvals} approval{}, {flags} flag{}) {} cleared: reviewers must approve it again",
            standing.len(),
            plural(standing.len()),
            plural(approvals),
            plural(flags),
            if standing.len() == 1 { "was" } else { "were" },
        );
    }
    Ok(())
}

/// `coopledger retract`.
pub async fn retract(ctx: &Context, args: &RetractArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let id = resolve_contribution(ctx, &mut session, &args.id).await?;
    let body = client::retract_body(&id.0, &args.reason);
    sign_and_submit(ctx, body, &format!("retracted {id}"))
        .await
        .map(|_| ())
}

/// `coopledger evaluate`.
pub async fn evaluate(ctx: &Context, args: &EvaluateArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let id = resolve_contribution(ctx, &mut session, &args.id).await?;
    let verdict = if args.flag {
        pb::Verdict::Flag
    } else {
        pb::Verdict::Approve
    };
    let body = client::evaluate_body(&id, verdict, args.rating, &args.note);
    let what = format!("{} {id}", if args.flag { "flagged" } else { "approved" });
    sign_and_submit(ctx, body, &what).await.map(|_| ())
}

/// `coopledger allocate`.
pub async fn allocate(ctx: &Context, args: &AllocateArgs) -> Result<()> {
    let (start, end) = parse_period(&args.period)?;
    let mut shares = Vec::with_capacity(args.shares.len());
    for s in &args.shares {
        let (m, p) = s
            .split_once('=')
            .with_context(|| format!("{s:?}: write MEMBER=PERCENT, like bob=60"))?;
        let p: u32 = p
            .trim_end_matches('%')
            .parse()
            .with_context(|| format!("{s:?}: the percent must be a whole number"))?;
        shares.push((m, p));
    }
    let total: u32 = shares.iter().map(|s| s.1).sum();
    if total != 100 {
        bail!("the shares sum to {total}; they must sum to 100");
    }
    let body = client::allocate_body(start, end, &shares);
    sign_and_submit(
        ctx,
        body,
        &format!("allocated {} for {}", args.shares.join(" "), args.period),
    )
    .await
    .map(|_| ())
}
