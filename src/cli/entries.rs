//! For anyone reading the log: `entries` (filtered, with where each
//! contribution stands) and `tail` (follow the log as entries land). Also the
//! one-line summary of an entry that `verify-record` prints.

use anyhow::{Result, bail};
use clap::Args;
use coopledger::ledger::role_name;
use coopledger::payout::{Fate, Status};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::EntryId;
use tokio_stream::StreamExt;

use super::contribute::kind_name;
use super::input::{format_minutes, format_money, format_time, parse_period, plural};
use super::{Context, Session, print_table, status};

/// `coopledger entries`.
#[derive(Args)]
pub struct EntriesArgs {
    /// Only entries by or about this member.
    #[arg(long)]
    pub member: Option<String>,
    /// Only this kind (repeatable): genesis, admit, rotate, grant, revoke, policy, contribution, attest, amend, retract, evaluate, allocate.
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

fn parse_entry_kind(kind: &str) -> Result<pb::EntryKind> {
    Ok(match kind {
        "genesis" => pb::EntryKind::Genesis,
        "admit" => pb::EntryKind::AdmitMember,
        "rotate" => pb::EntryKind::RotateKey,
        "grant" => pb::EntryKind::GrantRole,
        "revoke" => pb::EntryKind::RevokeRole,
        "policy" => pb::EntryKind::AdoptPolicy,
        "contribution" | "log" => pb::EntryKind::LogContribution,
        "attest" | "attested" => pb::EntryKind::AttestContribution,
        "amend" => pb::EntryKind::AmendContribution,
        "retract" => pb::EntryKind::RetractContribution,
        "evaluate" | "evaluation" => pb::EntryKind::Evaluate,
        "allocate" | "allocation" => pb::EntryKind::Allocate,
        "distribution" => pb::EntryKind::RecordDistribution,
        other => bail!(
            "{other:?} is not an entry kind; use genesis, admit, rotate, grant, revoke, policy, contribution, attest, amend, retract, evaluate, allocate"
        ),
    })
}

/// The kind and a one-line description of an entry, in the network's
/// smallest unit (no currency digits known offline).
pub fn summary_of(e: &pb::Entry) -> (String, String) {
    summary(e, 0)
}

/// A contribution's quantity as people read it: `1h30m` of work, `25.50`
/// of money or expenses (in the currency's `decimals`), `3 units` otherwise.
pub fn quantity_text(c: &pb::Contribution, decimals: u32) -> String {
    match pb::ContributionKind::try_from(c.kind) {
        Ok(pb::ContributionKind::Work) => format_minutes(c.quantity),
        Ok(pb::ContributionKind::Money | pb::ContributionKind::Expense) => {
            format_money(c.quantity, decimals)
        }
        _ => format!("{} units", c.quantity),
    }
}

/// One line describing an entry's body, for tables.
fn summary(e: &pb::Entry, decimals: u32) -> (String, String) {
    let short = |id: &[u8]| hex::encode(id).chars().take(12).collect::<String>();
    let fields = |c: &pb::Contribution| {
        let amount = quantity_text(c, decimals);
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
        Some(Body::SuspendMember(s)) => ("suspend".into(), format!("{} {:?}", s.member, s.reason)),
        Some(Body::ReinstateMember(r)) => ("reinstate".into(), r.member.clone()),
        Some(Body::ResetKey(r)) => ("reset-key".into(), format!("{} {:?}", r.member, r.reason)),
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
        Some(Body::AttestContribution(a)) => (
            "attest".into(),
            format!(
                "for {}: {} (attested by {}; from {})",
                a.member,
                a.contribution.as_ref().map(fields).unwrap_or_default(),
                e.author,
                a.source
            ),
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
            Some(Body::LogContribution(_) | Body::AttestContribution(_))
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
