//! The member and treasurer commands: each connects, signs with the
//! member's key, submits, and prints what landed.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use coopledger::client;
use coopledger::ledger::role_name;
use coopledger::payout::{Fate, Status};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::EntryId;
use tokio_stream::StreamExt;

use super::input::{
    format_minutes, format_money, format_time, parse_duration_minutes, parse_money, parse_period,
    parse_time,
};
use super::{Context, Session, config, print_table, status};

/// `coopledger init`.
#[derive(Args)]
pub struct InitArgs {
    /// The cooperative's name.
    #[arg(long)]
    pub name: String,
    /// Currency code, fixed for the life of the network.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Digits of the minor unit (2 for cents), 0..=8.
    #[arg(long, default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(coopledger::ledger::MAX_DECIMALS)))]
    pub decimals: u32,
    /// Another founding admin, as HANDLE=PUBLIC_KEY_HEX (repeatable); you are always a founder.
    #[arg(long = "founder")]
    pub founders: Vec<String>,
}

/// `coopledger member ...`.
#[derive(Subcommand)]
pub enum MemberCommand {
    /// Admit a member with their public key (admins).
    Admit {
        /// The new member's handle.
        handle: String,
        /// Their public key, hex (from their `coopledger keygen`).
        public_key: String,
    },
    /// Every member with roles and key.
    List,
    /// One member.
    Show {
        /// The handle.
        handle: String,
    },
    /// Grant a role: admin or treasurer (admins).
    Grant {
        /// The member.
        handle: String,
        /// admin or treasurer.
        role: String,
    },
    /// Revoke a role (admins).
    Revoke {
        /// The member.
        handle: String,
        /// admin or treasurer.
        role: String,
    },
    /// Replace your key with a new one; the old key stops working.
    RotateKey,
}

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

/// `coopledger policy ...`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Adopt a policy from a JSON file (admins): the scenario `policy` object plus `mode` and `buckets`.
    Adopt {
        /// The policy file.
        file: std::path::PathBuf,
    },
}

/// `coopledger entries`.
#[derive(Args)]
pub struct EntriesArgs {
    /// Only entries by or about this member.
    #[arg(long)]
    pub member: Option<String>,
    /// Only this kind (repeatable): genesis, admit, rotate, grant, revoke, policy, contribution, amend, retract, evaluate, allocate.
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only entries dated in this period (2026-11 or START..END).
    #[arg(long)]
    pub period: Option<String>,
    /// First sequence number.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// At most this many entries.
    #[arg(long, default_value_t = 0)]
    pub limit: u64,
}

/// `coopledger tail`.
#[derive(Args)]
pub struct TailArgs {
    /// Start from this sequence number (default: only new entries).
    #[arg(long)]
    pub from: Option<u64>,
}

/// `coopledger keygen HANDLE`.
pub fn keygen(ctx: &Context, handle: &str) -> Result<()> {
    coopledger::ledger::check_handle(handle, "handle").map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = config::key_path(&ctx.home, handle);
    let key =
        coopledger::verify::generate_key().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    coopledger::log::keyfile::write_key(&path, &key)?;
    let mut cfg = config::Config::load(&ctx.home)?;
    if cfg.default_identity.is_none() {
        cfg.default_identity = Some(handle.to_string());
        cfg.save(&ctx.home)?;
    }
    let public = hex::encode(key.verifying_key().to_bytes());
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"handle": handle, "public_key": public, "key_file": path})
        );
    } else {
        println!("key for {handle} written to {} (mode 0600)", path.display());
        println!("public key: {public}");
        println!("give the public key to an admin: coopledger member admit {handle} {public}");
    }
    Ok(())
}

/// `coopledger init`.
pub async fn init(ctx: &Context, args: &InitArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    if !session.info.network_id.is_empty() {
        bail!(
            "the server at {} already serves the network {:?} ({})",
            ctx.server,
            session.info.network_name,
            hex::encode(&session.info.network_id)
        );
    }
    let signer = ctx.signer(&session)?;
    let mut founders = vec![(signer.handle.clone(), signer.public_key())];
    for f in &args.founders {
        let (h, k) = f
            .split_once('=')
            .with_context(|| format!("--founder {f:?}: write HANDLE=PUBLIC_KEY_HEX"))?;
        founders.push((h.to_string(), parse_key(k)?));
    }
    let body = client::genesis_body(
        &args.name,
        &args.currency,
        args.decimals,
        &founders,
        &session.info.log_public_key,
    );
    let envelope = signer.sign(body)?;
    let network_id = client::envelope_id(&envelope);
    let r = submit(&mut session, envelope).await?;
    // Pin the network now that it exists.
    ctx.connect().await?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"network_id": network_id.to_hex(), "sequence": r.sequence})
        );
    } else {
        println!(
            "founded {:?} ({} with {} decimals) as network {network_id}",
            args.name, args.currency, args.decimals
        );
        println!(
            "founders (admins): {}",
            founders
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn parse_key(hex_key: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_key.trim()).with_context(|| format!("{hex_key:?} is not hex"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("a public key is 64 hex digits (got {})", hex_key.len()))
}

fn parse_role(role: &str) -> Result<pb::Role> {
    match role {
        "admin" => Ok(pb::Role::Admin),
        "treasurer" => Ok(pb::Role::Treasurer),
        other => bail!("{other:?} is not a role; the roles are admin and treasurer"),
    }
}

async fn submit(session: &mut Session, envelope: pb::Envelope) -> Result<pb::Receipt> {
    Ok(session
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(envelope),
        })
        .await
        .map_err(status)?
        .into_inner())
}

/// Signs `body` as the current identity, submits it, prints the receipt.
async fn sign_and_submit(ctx: &Context, body: Body, what: &str) -> Result<pb::Receipt> {
    let mut session = ctx.connect().await?;
    let signer = ctx.signer(&session)?;
    let r = submit(&mut session, signer.sign(body)?).await?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"sequence": r.sequence, "id": hex::encode(&r.id), "duplicate": r.duplicate, "log_size": r.log_size})
        );
    } else {
        println!(
            "{what}: entry {} at sequence {}",
            hex::encode(&r.id),
            r.sequence
        );
    }
    Ok(r)
}

/// `coopledger info`.
pub async fn info(ctx: &Context) -> Result<()> {
    let s = ctx.connect().await?;
    let i = &s.info;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "server": ctx.server, "log_public_key": hex::encode(&i.log_public_key),
                "network_id": hex::encode(&i.network_id), "network_name": i.network_name,
                "currency": i.currency, "decimals": i.decimals, "log_size": i.log_size, "root": hex::encode(&i.root),
            })
        );
    } else {
        println!("server      {}", ctx.server);
        println!("log key     {}", hex::encode(&i.log_public_key));
        if i.network_id.is_empty() {
            println!("network     (none yet: found one with `coopledger init`)");
        } else {
            println!(
                "network     {} ({})",
                i.network_name,
                hex::encode(&i.network_id)
            );
            println!(
                "currency    {} ({} decimals, from the signed genesis)",
                s.currency(),
                s.decimals()
            );
        }
        println!("log size    {}", i.log_size);
        println!("root        {}", hex::encode(&i.root));
    }
    Ok(())
}

/// `coopledger member ...`.
pub async fn member(ctx: &Context, command: &MemberCommand) -> Result<()> {
    match command {
        MemberCommand::Admit { handle, public_key } => {
            let body = Body::AdmitMember(pb::AdmitMember {
                handle: handle.clone(),
                public_key: parse_key(public_key)?.to_vec(),
            });
            sign_and_submit(ctx, body, &format!("admitted {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::Grant { handle, role } => {
            let body = Body::GrantRole(pb::GrantRole {
                member: handle.clone(),
                role: parse_role(role)? as i32,
            });
            sign_and_submit(ctx, body, &format!("granted {role} to {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::Revoke { handle, role } => {
            let body = Body::RevokeRole(pb::RevokeRole {
                member: handle.clone(),
                role: parse_role(role)? as i32,
            });
            sign_and_submit(ctx, body, &format!("revoked {role} from {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::RotateKey => rotate_key(ctx).await,
        MemberCommand::List => {
            let mut s = ctx.connect().await?;
            let members = s
                .client
                .list_members(pb::ListMembersRequest {})
                .await
                .map_err(status)?
                .into_inner()
                .members;
            print_members(ctx, &members);
            Ok(())
        }
        MemberCommand::Show { handle } => {
            let mut s = ctx.connect().await?;
            let m = s
                .client
                .get_member(pb::GetMemberRequest {
                    handle: handle.clone(),
                })
                .await
                .map_err(status)?
                .into_inner();
            print_members(ctx, &[m]);
            Ok(())
        }
    }
}

fn roles_of(m: &pb::Member) -> String {
    let mut roles: Vec<&str> = m
        .roles
        .iter()
        .filter_map(|r| pb::Role::try_from(*r).ok())
        .map(role_name)
        .collect();
    roles.insert(0, "member");
    roles.join(",")
}

fn print_members(ctx: &Context, members: &[pb::Member]) {
    if ctx.json {
        let v: Vec<_> = members
            .iter()
            .map(|m| {
                serde_json::json!({"handle": m.handle, "roles": roles_of(m).split(',').collect::<Vec<_>>(),
                    "public_key": hex::encode(&m.public_key), "admitted_at": m.admitted_at,
                    "contributions": m.contributions, "retired_keys": m.retired_keys.iter().map(hex::encode).collect::<Vec<_>>()})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return;
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                m.handle.clone(),
                roles_of(m),
                m.contributions.to_string(),
                m.admitted_at.to_string(),
                hex::encode(&m.public_key)[..16].to_string() + "…",
            ]
        })
        .collect();
    print_table(
        &["MEMBER", "ROLES", "CONTRIBUTIONS", "ADMITTED AT", "KEY"],
        &rows,
    );
}

/// Rotates the current identity's key: the new key is written next to the
/// old one first, so a failure at any step leaves a working key on disk.
async fn rotate_key(ctx: &Context) -> Result<()> {
    let mut session = ctx.connect().await?;
    let signer = ctx.signer(&session)?;
    let path = config::key_path(&ctx.home, &signer.handle);
    let next_path = path.with_extension("next.key");
    let new_key = match coopledger::log::keyfile::read_key(&next_path) {
        Ok(k) => k,
        Err(_) => {
            let k = coopledger::verify::generate_key()
                .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            coopledger::log::keyfile::write_key(&next_path, &k)?;
            k
        }
    };
    let body = Body::RotateKey(pb::RotateKey {
        new_public_key: new_key.verifying_key().to_bytes().to_vec(),
    });
    let r = submit(&mut session, signer.sign(body)?).await?;
    let retired = path.with_extension(format!("retired-{}.key", r.sequence));
    std::fs::rename(&path, &retired)
        .with_context(|| format!("moving the old key to {}", retired.display()))?;
    std::fs::rename(&next_path, &path)
        .with_context(|| format!("installing the new key at {}", path.display()))?;
    println!(
        "rotated {}'s key at sequence {}; the old key is kept at {} and can no longer sign",
        signer.handle,
        r.sequence,
        retired.display()
    );
    Ok(())
}

fn parse_kind(kind: &str) -> Result<pb::ContributionKind> {
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
fn parse_quantity(kind: pb::ContributionKind, amount: &str, decimals: u32) -> Result<u64> {
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
            kinds: vec![pb::EntryKind::LogContribution as i32],
            ..Default::default()
        })
        .await
        .map_err(status)?
        .into_inner();
    let mut found = Vec::new();
    while let Some(e) = stream.next().await {
        let e = e.map_err(status)?;
        if hex::encode(&e.id).starts_with(&id) {
            found.push(e.id);
        }
    }
    let _ = ctx;
    match found.as_slice() {
        [one] => EntryId::from_field(one, "id").map_err(|e| anyhow::anyhow!("{e}")),
        [] => bail!("no contribution id starts with {id}"),
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
    let body = Body::AmendContribution(pb::AmendContribution {
        contribution_id: id.0.to_vec(),
        contribution: Some(fields),
    });
    let signer = ctx.signer(&session)?;
    let r = submit(&mut session, signer.sign(body)?).await?;
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `coopledger retract`.
pub async fn retract(ctx: &Context, args: &RetractArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    let id = resolve_contribution(ctx, &mut session, &args.id).await?;
    let body = Body::RetractContribution(pb::RetractContribution {
        contribution_id: id.0.to_vec(),
        reason: args.reason.clone(),
    });
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

/// `coopledger policy ...`.
pub async fn policy(ctx: &Context, command: &PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Adopt { file } => {
            let json =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            coopledger::scoring::policy::PolicyDocument::from_json(&json)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let body = Body::AdoptPolicy(pb::AdoptPolicy { policy_json: json });
            sign_and_submit(
                ctx,
                body,
                &format!("adopted the policy in {}", file.display()),
            )
            .await
            .map(|_| ())
        }
    }
}

fn parse_entry_kind(kind: &str) -> Result<pb::EntryKind> {
    Ok(match kind {
        "genesis" => pb::EntryKind::Genesis,
        "admit" => pb::EntryKind::AdmitMember,
        "rotate" => pb::EntryKind::RotateKey,
        "grant" => pb::EntryKind::GrantRole,
        "revoke" => pb::EntryKind::RevokeRole,
        "policy" => pb::EntryKind::AdoptPolicy,
        "contribution" | "log" => pb::EntryKind::LogContribution,
        "amend" => pb::EntryKind::AmendContribution,
        "retract" => pb::EntryKind::RetractContribution,
        "evaluate" | "evaluation" => pb::EntryKind::Evaluate,
        "allocate" | "allocation" => pb::EntryKind::Allocate,
        "distribution" => pb::EntryKind::RecordDistribution,
        other => bail!(
            "{other:?} is not an entry kind; use genesis, admit, rotate, grant, revoke, policy, contribution, amend, retract, evaluate, allocate"
        ),
    })
}

/// The kind and a one-line description of an entry, in the network's
/// smallest unit (no currency digits known offline).
pub fn summary_of(e: &pb::Entry) -> (String, String) {
    summary(e, 0)
}

/// One line describing an entry's body, for tables.
fn summary(e: &pb::Entry, decimals: u32) -> (String, String) {
    let short = |id: &[u8]| hex::encode(id).chars().take(12).collect::<String>();
    let fields = |c: &pb::Contribution| {
        let amount = match pb::ContributionKind::try_from(c.kind) {
            Ok(pb::ContributionKind::Work) => format_minutes(c.quantity),
            Ok(pb::ContributionKind::Money | pb::ContributionKind::Expense) => {
                format_money(c.quantity, decimals)
            }
            _ => format!("{} units", c.quantity),
        };
        let mut s = format!("{} {amount} at {}", kind_name(c.kind), format_time(c.at));
        if !c.tags.is_empty() {
            s += &format!(" [{}]", c.tags.join(","));
        }
        if !c.note.is_empty() {
            s += &format!(" {:?}", c.note);
        }
        s
    };
    match e.body.as_ref() {
        Some(Body::Genesis(g)) => (
            "genesis".into(),
            format!(
                "{:?} {} founders {}",
                g.name,
                g.currency,
                g.founders
                    .iter()
                    .map(|f| f.handle.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        Some(Body::AdmitMember(a)) => ("admit".into(), a.handle.clone()),
        Some(Body::RotateKey(_)) => ("rotate".into(), "new key".into()),
        Some(Body::GrantRole(g)) => (
            "grant".into(),
            format!(
                "{} {}",
                g.member,
                pb::Role::try_from(g.role).map(role_name).unwrap_or("?")
            ),
        ),
        Some(Body::RevokeRole(r)) => (
            "revoke".into(),
            format!(
                "{} {}",
                r.member,
                pb::Role::try_from(r.role).map(role_name).unwrap_or("?")
            ),
        ),
        Some(Body::AdoptPolicy(p)) => (
            "policy".into(),
            format!("{} bytes of policy", p.policy_json.len()),
        ),
        Some(Body::LogContribution(l)) => (
            "contribution".into(),
            l.contribution.as_ref().map(fields).unwrap_or_default(),
        ),
        Some(Body::AmendContribution(a)) => (
            "amend".into(),
            format!(
                "{} → {}",
                short(&a.contribution_id),
                a.contribution.as_ref().map(fields).unwrap_or_default()
            ),
        ),
        Some(Body::RetractContribution(r)) => (
            "retract".into(),
            format!("{} {:?}", short(&r.contribution_id), r.reason),
        ),
        Some(Body::Evaluate(v)) => {
            let verdict = if v.verdict == pb::Verdict::Flag as i32 {
                "flag"
            } else {
                "approve"
            };
            let rating = v.rating.map(|r| format!(" rating {r}")).unwrap_or_default();
            (
                "evaluate".into(),
                format!("{verdict} {}{rating}", short(&v.contribution_id)),
            )
        }
        Some(Body::RecordDistribution(r)) => (
            "distribution".into(),
            format!(
                "{} income {} policy v{} at log size {}",
                r.period
                    .as_ref()
                    .map(|p| format!("{}..{}", format_time(p.start), format_time(p.end)))
                    .unwrap_or_default(),
                format_money(r.income.unwrap_or_default(), decimals),
                r.policy_version,
                r.log_size
            ),
        ),
        Some(Body::VoidDistribution(v)) => (
            "void".into(),
            format!("distribution {}: {}", short(&v.distribution_id), v.reason),
        ),
        Some(Body::Allocate(a)) => (
            "allocate".into(),
            format!(
                "{} {}",
                a.period
                    .as_ref()
                    .map(|p| format!("{}..{}", format_time(p.start), format_time(p.end)))
                    .unwrap_or_default(),
                a.shares
                    .iter()
                    .map(|s| format!("{}={}", s.member, s.percent))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        None => ("?".into(), String::new()),
    }
}

fn entry_json(e: &pb::LoggedEntry) -> serde_json::Value {
    let entry = e.entry.clone().unwrap_or_default();
    let (kind, what) = summary(&entry, 0);
    serde_json::json!({
        "sequence": e.sequence, "id": hex::encode(&e.id), "author": entry.author,
        "created_at_ms": entry.created_at_ms, "kind": kind, "summary": what,
        "envelope": e.envelope.as_ref().map(|v| serde_json::json!({
            "payload": hex::encode(&v.payload), "payload_type": v.payload_type,
            "public_key": hex::encode(&v.public_key), "signature": hex::encode(&v.signature)})),
    })
}

fn entry_row(e: &pb::LoggedEntry, decimals: u32) -> Vec<String> {
    let entry = e.entry.clone().unwrap_or_default();
    let (kind, what) = summary(&entry, decimals);
    vec![
        e.sequence.to_string(),
        hex::encode(&e.id)[..12].to_string(),
        entry.author.clone(),
        kind,
        what,
    ]
}

/// Where the entries that shape a contribution stand now, for `entries`:
/// each contribution's status, approvals, flags and amendments, and each
/// evaluation's fate, from one fold of the log.
struct Marks {
    contributions: std::collections::HashMap<EntryId, Mark>,
    evaluations: std::collections::HashMap<u64, Fate>,
}

/// A contribution's standing, as `entries` shows it.
struct Mark {
    status: Status,
    approvals: u64,
    flags: u64,
    min_approvals: u64,
    amendments: u32,
}

impl Marks {
    async fn of(session: &mut Session) -> Result<Marks> {
        let view = super::export::fold(session).await?;
        let policy = view
            .policy()
            .map_err(|e| anyhow::anyhow!("the latest adopted policy: {e}"))?;
        let contributions = view
            .contributions(&policy)
            .into_iter()
            .map(|c| {
                (
                    c.contribution.id,
                    Mark {
                        status: c.status,
                        approvals: c.approvals,
                        flags: c.flags,
                        min_approvals: policy.validation.min_approvals,
                        amendments: c.amended.map_or(0, |a| a.count),
                    },
                )
            })
            .collect();
        let evaluations = view
            .evaluations()
            .iter()
            .map(|e| (e.sequence, view.fate(e)))
            .collect();
        Ok(Marks {
            contributions,
            evaluations,
        })
    }

    fn contribution(&self, e: &pb::LoggedEntry) -> Option<&Mark> {
        let is_contribution = matches!(
            e.entry.as_ref().and_then(|x| x.body.as_ref()),
            Some(Body::LogContribution(_))
        );
        let id = EntryId::from_field(&e.id, "id").ok()?;
        is_contribution
            .then(|| self.contributions.get(&id))
            .flatten()
    }

    /// The STATUS cell: `amended; pending, 1/2 approvals`, `retracted`,
    /// `valid, 2 approvals, 1 flag`; for evaluations, whether they stand.
    fn text(&self, e: &pb::LoggedEntry) -> String {
        if let Some(m) = self.contribution(e) {
            let mut parts = Vec::new();
            if m.amendments > 0 {
                parts.push(if m.amendments == 1 {
                    "amended".to_string()
                } else {
                    format!("amended {}×", m.amendments)
                });
            }
            let mut state = m.status.as_str().to_string();
            if m.status != Status::Retracted {
                if m.status == Status::Pending {
                    state += &format!(", {}/{} approvals", m.approvals, m.min_approvals);
                } else {
                    state += &format!(", {} approval{}", m.approvals, plural(m.approvals as usize));
                }
                if m.flags > 0 {
                    state += &format!(", {} flag{}", m.flags, plural(m.flags as usize));
                }
            }
            parts.push(state);
            return parts.join("; ");
        }
        self.evaluations
            .get(&e.sequence)
            .map(|f| f.as_str().to_string())
            .unwrap_or_default()
    }

    fn json(&self, e: &pb::LoggedEntry) -> serde_json::Value {
        if let Some(m) = self.contribution(e) {
            return serde_json::json!({"status": m.status.as_str(), "approvals": m.approvals,
                "flags": m.flags, "amendments": m.amendments});
        }
        match self.evaluations.get(&e.sequence) {
            Some(f) => serde_json::json!({"evaluation": f.as_str()}),
            None => serde_json::Value::Null,
        }
    }
}

/// `coopledger entries`.
pub async fn entries(ctx: &Context, args: &EntriesArgs) -> Result<()> {
    let mut s = ctx.connect().await?;
    let kinds = args
        .kinds
        .iter()
        .map(|k| parse_entry_kind(k).map(|k| k as i32))
        .collect::<Result<Vec<_>>>()?;
    let period = args
        .period
        .as_deref()
        .map(parse_period)
        .transpose()?
        .map(|(start, end)| pb::Period { start, end });
    let req = pb::ListEntriesRequest {
        from_sequence: args.from,
        to_sequence: 0,
        member: args.member.clone().unwrap_or_default(),
        kinds,
        period,
        limit: args.limit,
    };
    let mut stream = s
        .client
        .list_entries(req)
        .await
        .map_err(status)?
        .into_inner();
    let mut listed = Vec::new();
    while let Some(e) = stream.next().await {
        listed.push(e.map_err(status)?);
    }
    let marks = Marks::of(&mut s).await?;
    if ctx.json {
        let json = listed
            .iter()
            .map(|e| {
                let mut v = entry_json(e);
                v["status"] = marks.json(e);
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(json));
    } else {
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|e| {
                let mut row = entry_row(e, s.decimals());
                row.insert(4, marks.text(e));
                row
            })
            .collect();
        print_table(&["SEQ", "ID", "AUTHOR", "KIND", "STATUS", "WHAT"], &rows);
    }
    Ok(())
}

/// `coopledger tail`.
pub async fn tail(ctx: &Context, args: &TailArgs) -> Result<()> {
    let mut s = ctx.connect().await?;
    let from = args.from.unwrap_or(s.info.log_size);
    let mut stream = s
        .client
        .subscribe(pb::SubscribeRequest {
            from_sequence: from,
        })
        .await
        .map_err(status)?
        .into_inner();
    if !ctx.json {
        eprintln!(
            "following {} from sequence {from}; Ctrl-C to stop",
            ctx.server
        );
    }
    while let Some(e) = stream.next().await {
        let e = e.map_err(status)?;
        if ctx.json {
            println!("{}", entry_json(&e));
        } else {
            println!("{}", entry_row(&e, s.decimals()).join("  "));
        }
    }
    Ok(())
}
