//! For every member: `todo`, what is waiting on the current identity in
//! the periods not yet closed by a recorded distribution.
//!
//! - **To review**: others' live contributions dated in an open period that
//!   I have no standing evaluation of (an amendment clears evaluations, so
//!   amended work comes back), newest first.
//! - **My claims waiting on peers**: my live contributions there that are
//!   pending (fewer approvals than the policy asks), flagged (the flag rule
//!   invalidates them), or carry a standing flag, with who approved and
//!   who flagged them so far.
//! - **Allocations**: when the latest policy has an allocation bucket,
//!   whether I split my 100 points for each open period.
//! - **For treasurers and admins**: the claims that would go unpaid if the
//!   period were recorded now (pending or flagged), with their value in the
//!   currency, and who has not allocated.
//!
//! Open periods, by default: the current month (UTC) and every earlier
//! month holding a live contribution dated outside every standing recorded
//! distribution. `--period` names one period (a month or `START..END`)
//! instead. A contribution is in scope when its `at` lies in no standing
//! distribution's range (the server's rule for what can still be
//! evaluated) and, with `--period`, inside that period.
//!
//! Statuses and values are the ones `entries` and `export --csv` show:
//! [`coopledger::payout::LogView`] over the log (SCORING.md §2's count
//! rule and §1's values under the latest adopted policy).

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use clap::Args;
use coopledger::payout::{ContributionView, LogView, Status};
use coopledger::pb;
use coopledger::scoring::{Bucket, PolicyDocument};
use serde_json::{Value, json};

use super::contribute::kind_name;
use super::entries::quantity_text;
use super::export::fold_with;
use super::history::{find_reader, is_treasurer, members, period_label};
use super::input::{format_amount, format_time, parse_period, plural};
use super::{Context, print_table};

/// `coopledger todo`.
#[derive(Args)]
pub struct TodoArgs {
    /// The period to look at: a month (2026-11) or START..END. Default: the
    /// current month and every earlier month not yet distributed that holds
    /// contributions.
    #[arg(long)]
    pub period: Option<String>,
}

/// The periods a to-do covers, and which contributions fall in it.
struct Scope {
    /// The periods asked about, oldest first, each with the standing
    /// distribution that closed it, if one overlaps it.
    periods: Vec<((i64, i64), Option<pb::DistributionSummary>)>,
    /// `--period`, when given: only contributions dated in it count.
    only: Option<(i64, i64)>,
    /// The ranges of the standing recorded distributions.
    closed: Vec<(i64, i64)>,
}

impl Scope {
    /// Whether a contribution dated `at` is still open and asked about.
    fn covers(&self, at: i64) -> bool {
        !self.closed.iter().any(|&(s, e)| s <= at && at < e)
            && self.only.is_none_or(|(s, e)| s <= at && at < e)
    }

    /// The periods no standing distribution overlaps: allocations can
    /// still be made for them.
    fn open(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.periods
            .iter()
            .filter(|(_, closed)| closed.is_none())
            .map(|(p, _)| *p)
    }

    /// The label of the open period holding `at` (its month by default).
    fn label_of(&self, at: i64) -> String {
        match self.only {
            Some((s, e)) => period_label(s, e),
            None => month_of(at).map_or_else(|| format_time(at), |(s, e)| period_label(s, e)),
        }
    }
}

/// The calendar month (UTC) holding `at`, as a half-open range.
fn month_of(at: i64) -> Option<(i64, i64)> {
    let month: String = format_time(at).chars().take(7).collect();
    parse_period(&month).ok()
}

/// Works out the periods from `--period` or the defaults.
fn scope(
    args: &TodoArgs,
    view: &LogView,
    distributions: &[pb::DistributionSummary],
) -> Result<Scope> {
    let standing: Vec<&pb::DistributionSummary> = distributions
        .iter()
        .filter(|d| d.voided.is_none())
        .collect();
    let closed: Vec<(i64, i64)> = standing
        .iter()
        .filter_map(|d| d.period.as_ref().map(|p| (p.start, p.end)))
        .collect();
    let only = args.period.as_deref().map(parse_period).transpose()?;
    let ranges: BTreeSet<(i64, i64)> = match only {
        Some(p) => [p].into(),
        None => {
            let now = coopledger::ledger::now_ms().div_euclid(1000);
            let mut months: BTreeSet<(i64, i64)> = month_of(now).into_iter().collect();
            for c in view.state().contributions() {
                let at = c.fields.at;
                if !c.retracted && !closed.iter().any(|&(s, e)| s <= at && at < e) {
                    months.extend(month_of(at));
                }
            }
            months
        }
    };
    let periods = ranges
        .into_iter()
        .map(|(s, e)| {
            let by = standing
                .iter()
                .find(|d| d.period.as_ref().is_some_and(|p| p.start < e && s < p.end))
                .map(|d| (*d).clone());
            ((s, e), by)
        })
        .collect();
    Ok(Scope {
        periods,
        only,
        closed,
    })
}

/// Everything `todo` found, before it is printed.
struct Todo<'v> {
    me: String,
    roles: Vec<String>,
    treasurer: bool,
    scope: Scope,
    to_review: Vec<ContributionView<'v>>,
    my_claims: Vec<ContributionView<'v>>,
    /// Whether the latest policy has an allocation bucket.
    allocation_bucket: bool,
    /// Per open period: whether I allocated, and (for treasurers) who has not.
    allocations: Vec<((i64, i64), bool, Vec<String>)>,
    /// Pending or flagged contributions in scope (treasurers only).
    unapproved: Vec<ContributionView<'v>>,
    min_approvals: u64,
    decimals: u32,
    currency: String,
}

impl Todo<'_> {
    fn nothing_to_do(&self) -> bool {
        self.to_review.is_empty()
            && self.my_claims.is_empty()
            && self
                .allocations
                .iter()
                .all(|(_, mine, others)| *mine && (!self.treasurer || others.is_empty()))
            && self.unapproved.is_empty()
    }

    fn money(&self, minor: u128) -> String {
        format!("{} {}", format_amount(minor, self.decimals), self.currency)
    }

    fn unapproved_value(&self) -> u128 {
        self.unapproved.iter().filter_map(|c| c.value).sum()
    }

    /// The fields every listed contribution shows.
    fn item(&self, c: &ContributionView<'_>) -> Value {
        let f = &c.contribution.fields;
        json!({
            "id": c.contribution.id.to_hex(),
            "id_prefix": short(c),
            "author": c.contribution.member,
            "kind": kind_name(f.kind),
            "quantity": quantity_text(f, self.decimals),
            "quantity_raw": f.quantity,
            "at": format_time(f.at),
            "period": self.scope.label_of(f.at),
            "note": f.note,
            "status": c.status.as_str(),
            "approvals": c.approvals,
            "flags": c.flags,
        })
    }

    fn json(&self) -> Value {
        let claims: Vec<Value> = self
            .my_claims
            .iter()
            .map(|c| {
                let mut v = self.item(c);
                v["approved_by"] = json!(evaluators(c, pb::Verdict::Approve));
                v["flagged_by"] = json!(evaluators(c, pb::Verdict::Flag));
                v["approvals_needed"] = json!(self.min_approvals);
                v
            })
            .collect();
        let allocations = self.allocation_bucket.then(|| {
            self.allocations
                .iter()
                .map(|((s, e), mine, _)| json!({"period": period_label(*s, *e), "allocated": mine}))
                .collect::<Vec<_>>()
        });
        let treasurer = self.treasurer.then(|| {
            let unapproved: Vec<Value> = self
                .unapproved
                .iter()
                .map(|c| {
                    let mut v = self.item(c);
                    v["value"] = json!(c.value.map(|m| format_amount(m, self.decimals)));
                    // Values fit u64 (the log bounds each at 10^15); the
                    // text amount is exact either way.
                    v["value_minor_units"] = json!(c.value.and_then(|m| u64::try_from(m).ok()));
                    v
                })
                .collect();
            let not_allocated: Vec<Value> = self
                .allocations
                .iter()
                .filter(|(_, _, others)| !others.is_empty())
                .map(|((s, e), _, others)| json!({"period": period_label(*s, *e), "members": others}))
                .collect();
            json!({
                "unapproved": unapproved,
                "unapproved_value": format_amount(self.unapproved_value(), self.decimals),
                "unapproved_value_minor_units": u64::try_from(self.unapproved_value()).ok(),
                "not_allocated": not_allocated,
            })
        });
        json!({
            "member": self.me,
            "roles": self.roles,
            "currency": self.currency,
            "periods": self.scope.periods.iter().map(|((s, e), by)| json!({
                "period": period_label(*s, *e),
                "start": format_time(*s),
                "end": format_time(*e),
                "distributed_by": by.as_ref().map(|d| d.sequence),
            })).collect::<Vec<_>>(),
            "to_review": self.to_review.iter().map(|c| self.item(c)).collect::<Vec<_>>(),
            "my_claims": claims,
            "allocations": allocations,
            "treasurer": treasurer,
            "nothing_to_do": self.nothing_to_do(),
        })
    }

    fn print(&self) {
        let periods: Vec<String> = self
            .scope
            .periods
            .iter()
            .map(|((s, e), by)| match by {
                Some(d) => format!(
                    "{} (already distributed by entry {})",
                    period_label(*s, *e),
                    d.sequence
                ),
                None => period_label(*s, *e),
            })
            .collect();
        println!(
            "To do for {} ({}): {}",
            self.me,
            self.roles.join(", "),
            periods.join(", ")
        );
        if self.nothing_to_do() {
            println!(
                "\nNothing to do: every open contribution is reviewed and every allocation made."
            );
            return;
        }
        if !self.to_review.is_empty() {
            println!(
                "\nTo review ({}): others' work you have not evaluated, newest first",
                self.to_review.len()
            );
            let rows: Vec<Vec<String>> = self
                .to_review
                .iter()
                .map(|c| {
                    let f = &c.contribution.fields;
                    vec![
                        short(c),
                        c.contribution.member.clone(),
                        kind_name(f.kind).into(),
                        quantity_text(f, self.decimals),
                        format_time(f.at),
                        f.note.clone(),
                    ]
                })
                .collect();
            print_table(&["ID", "AUTHOR", "KIND", "QUANTITY", "DATE", "NOTE"], &rows);
            println!(
                "  review one: coopledger evaluate ID --approve [--rating PERCENT], or --flag --note WHY"
            );
        }
        if !self.my_claims.is_empty() {
            println!("\nYour claims waiting on peers ({})", self.my_claims.len());
            let rows: Vec<Vec<String>> = self
                .my_claims
                .iter()
                .map(|c| {
                    let f = &c.contribution.fields;
                    let mut said = Vec::new();
                    let approved = evaluators(c, pb::Verdict::Approve);
                    let flagged = evaluators(c, pb::Verdict::Flag);
                    said.push(format!(
                        "{}/{} approvals{}",
                        c.approvals,
                        self.min_approvals,
                        if approved.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", approved.join(", "))
                        }
                    ));
                    if !flagged.is_empty() {
                        said.push(format!(
                            "{} flag{} ({})",
                            c.flags,
                            plural(flagged.len()),
                            flagged.join(", ")
                        ));
                    }
                    vec![
                        short(c),
                        kind_name(f.kind).into(),
                        quantity_text(f, self.decimals),
                        format_time(f.at),
                        c.status.as_str().into(),
                        said.join("; "),
                        f.note.clone(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ID", "KIND", "QUANTITY", "DATE", "STATUS", "REVIEWS", "NOTE",
                ],
                &rows,
            );
            println!(
                "  ask a peer to review it; `coopledger amend ID ...` if a flag is right (it clears the reviews)"
            );
        }
        for ((s, e), mine, _) in &self.allocations {
            if !mine {
                println!(
                    "\nYou have not split your 100 points for {}: coopledger allocate --period {} MEMBER=PERCENT ...",
                    period_label(*s, *e),
                    period_label(*s, *e)
                );
            }
        }
        if !self.treasurer {
            return;
        }
        if !self.unapproved.is_empty() {
            println!(
                "\nUnapproved claims ({}): {} would go unpaid if recorded as they stand",
                self.unapproved.len(),
                self.money(self.unapproved_value())
            );
            let rows: Vec<Vec<String>> = self
                .unapproved
                .iter()
                .map(|c| {
                    let f = &c.contribution.fields;
                    vec![
                        self.scope.label_of(f.at),
                        short(c),
                        c.contribution.member.clone(),
                        kind_name(f.kind).into(),
                        quantity_text(f, self.decimals),
                        format!(
                            "{}, {}/{} approvals, {} flag{}",
                            c.status.as_str(),
                            c.approvals,
                            self.min_approvals,
                            c.flags,
                            plural(c.flags as usize)
                        ),
                        c.value
                            .map_or_else(|| "no rate: 0".into(), |v| self.money(v)),
                    ]
                })
                .collect();
            print_table(
                &[
                    "PERIOD", "ID", "AUTHOR", "KIND", "QUANTITY", "STATUS", "VALUE",
                ],
                &rows,
            );
        }
        for ((s, e), _, others) in &self.allocations {
            if !others.is_empty() {
                println!(
                    "\nNot allocated for {}: {}",
                    period_label(*s, *e),
                    others.join(", ")
                );
            }
        }
    }
}

/// The first 12 hex digits of a contribution's id: enough for `evaluate`.
fn short(c: &ContributionView<'_>) -> String {
    c.contribution.id.to_hex().chars().take(12).collect()
}

/// Who stands behind a verdict on `c`, by handle.
fn evaluators(c: &ContributionView<'_>, verdict: pb::Verdict) -> Vec<String> {
    c.contribution
        .evaluations
        .iter()
        .filter(|(_, e)| e.verdict == verdict)
        .map(|(who, _)| who.clone())
        .collect()
}

/// Newest first: by date, then by position in the log.
fn newest_first(list: &mut [ContributionView<'_>]) {
    list.sort_by_key(|c| std::cmp::Reverse((c.contribution.fields.at, c.contribution.sequence)));
}

/// `coopledger todo [--period P]`.
pub async fn todo(ctx: &Context, args: &TodoArgs) -> Result<()> {
    let me = ctx.handle()?;
    let mut session = ctx.connect().await?;
    if session.genesis.is_none() {
        bail!("this server has no network yet: found one with `coopledger init`");
    }
    let members = members(&mut session).await?;
    let reader = find_reader(&members, &me)?;
    let distributions = session.distributions().await?;
    let view = fold_with(&mut session, &[pb::EntryKind::Allocate]).await?;
    let scope = scope(args, &view, &distributions)?;
    let document = match view.state().policies().last() {
        Some(p) => Some(
            PolicyDocument::from_json(&p.json)
                .map_err(|e| anyhow::anyhow!("the latest adopted policy (v{}): {e}", p.version))?,
        ),
        None => None,
    };
    let policy = document
        .as_ref()
        .map(|d| d.policy.clone())
        .unwrap_or_default();
    let allocation_bucket = document.as_ref().is_some_and(|d| {
        d.buckets
            .iter()
            .any(|b| matches!(b, Bucket::Allocation { .. }))
    });
    let treasurer = is_treasurer(&reader);
    let roles: Vec<String> = super::member::roles_of(&reader)
        .split(',')
        .map(str::to_string)
        .collect();

    let open: Vec<ContributionView<'_>> = view
        .contributions(&policy)
        .into_iter()
        .filter(|c| c.status != Status::Retracted && scope.covers(c.contribution.fields.at))
        .collect();
    let mut to_review: Vec<ContributionView<'_>> = open
        .iter()
        .filter(|c| c.contribution.member != me && !c.contribution.evaluations.contains_key(&me))
        .cloned()
        .collect();
    let waiting = |c: &&ContributionView<'_>| {
        matches!(c.status, Status::Pending | Status::Flagged) || c.flags > 0
    };
    let mut my_claims: Vec<ContributionView<'_>> = open
        .iter()
        .filter(|c| c.contribution.member == me)
        .filter(waiting)
        .cloned()
        .collect();
    let mut unapproved: Vec<ContributionView<'_>> = if treasurer {
        open.iter()
            .filter(|c| matches!(c.status, Status::Pending | Status::Flagged))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    newest_first(&mut to_review);
    newest_first(&mut my_claims);
    newest_first(&mut unapproved);

    let allocations = if allocation_bucket {
        let allocated = |who: &str, (s, e): (i64, i64)| {
            view.state()
                .allocations()
                .contains_key(&(s, e, who.to_string()))
        };
        scope
            .open()
            .map(|p| {
                let others = if treasurer {
                    members
                        .iter()
                        .filter(|m| m.suspended_at.is_none() && !allocated(&m.handle, p))
                        .map(|m| m.handle.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                (p, allocated(&me, p), others)
            })
            .collect()
    } else {
        Vec::new()
    };

    let todo = Todo {
        me,
        roles,
        treasurer,
        scope,
        to_review,
        my_claims,
        allocation_bucket,
        allocations,
        unapproved,
        min_approvals: policy.validation.min_approvals,
        decimals: session.decimals(),
        currency: session.currency().to_string(),
    };
    if ctx.json {
        println!("{}", todo.json());
    } else {
        todo.print();
    }
    Ok(())
}
