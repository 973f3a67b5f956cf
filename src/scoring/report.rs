//! The report of a distribution (§6): what each recipient got, what each
//! bucket paid to whom, the reserve, the repayments per contribution, and
//! for every member the answer to "why did I get this?".
//!
//! Serialised with serde, it is the JSON of SCORING.md §7 (`currency`,
//! `income`, `reserve`, `payouts`, `buckets`, `points`, `signals`,
//! `warnings`) followed
//! by extra keys (`decimals`, `period`, `mode`, `repayments`,
//! `explanations`). Every map is a `BTreeMap` and every list has a fixed
//! order, so the same input gives byte-identical JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::distribution::{Basis, Distributed, Recipient};
use super::error::{Result, ScoringError};
use super::explain::{ClaimShare, Entry, Share};
pub use super::explain::{Explanation, Explanations, Tally, Unvalidated};
use super::kind::Kind;
use super::policy::Bucket;
use super::rate::RateFrom;
use super::review::Reviewed;
use super::signals::Signal;
use super::time::format_rfc3339;
use super::validate::Prepared;
use super::value::Scored;

/// How many ids a warning lists before it says "and N more".
const LISTED_IN_WARNING: usize = 10;

/// The outcome of one distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Currency code, if the policy names one (display only).
    pub currency: Option<String>,
    /// The income distributed, in minor units.
    pub income: u64,
    /// What no bucket paid.
    pub reserve: u64,
    /// Every recipient paid more than zero, and how much.
    pub payouts: BTreeMap<String, u64>,
    /// Per bucket, in order: its amount and what it paid to whom.
    pub buckets: Vec<BucketReport>,
    /// Every member whose contributions in the period earn points, all
    /// kinds together.
    pub points: BTreeMap<String, u128>,
    /// The collusion signals of §6.1 (informational: they change no
    /// payout), sorted by kind then members; `[]` when nothing is found.
    pub signals: Vec<Signal>,
    /// Things a treasurer should know: contributions worth 0 for lack of a
    /// rate, ignored self-evaluations, negative impartial shares...
    pub warnings: Vec<String>,
    /// Digits of the currency's minor unit, if the policy names them.
    pub decimals: Option<u32>,
    /// The period, in RFC 3339 UTC.
    pub period: PeriodReport,
    /// `remaining` or `straight`.
    pub mode: String,
    /// What this distribution repaid per contribution id (reimburse
    /// buckets), so the next distribution knows what is still owed.
    pub repayments: BTreeMap<String, u64>,
    /// Per member (and per fund paid), the breakdown behind their payout.
    pub explanations: Explanations,
}

/// A period in RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodReport {
    /// First second of the period.
    pub start: String,
    /// First second after it.
    pub end: String,
}

/// One bucket's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketReport {
    /// `fixed`, `reimburse`, `shares` or `allocation`.
    #[serde(rename = "type")]
    pub bucket_type: String,
    /// A = floor(base × percent_ppm / 10^6).
    pub amount: u64,
    /// Recipients paid more than zero.
    pub paid: BTreeMap<String, u64>,
    /// The bucket's percent.
    pub percent_ppm: u64,
    /// What the percent applied to (the remaining or the whole income).
    pub base: u64,
    /// amount − Σ paid: left to later buckets or the reserve.
    pub unpaid: u64,
    /// A fixed bucket's recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The kinds a reimburse or shares bucket selects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<Kind>>,
    /// A shares bucket's method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An allocation bucket's mechanism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// A reimburse bucket: the total still owed before it paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owed: Option<u128>,
    /// A shares bucket: the points behind each member's share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<BTreeMap<String, u128>>,
    /// A balanced shares bucket: what each member had been paid before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prior: Option<BTreeMap<String, u128>>,
    /// An allocation bucket: integer weights (GIVE received, or
    /// round_half_even(share × 1e9)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<BTreeMap<String, u64>>,
    /// An allocation bucket: how many members took part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<usize>,
}

impl Report {
    /// The breakdown for one member or fund, if the report has one.
    pub fn explain(&self, name: &str) -> Option<Explanation<'_>> {
        self.explanations.get(name)
    }

    /// The report as the canonical JSON of §7 plus extra keys, in a fixed
    /// byte-exact form.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| ScoringError::invariant(format!("report does not serialise: {e}")))
    }

    /// Writes the report as [`Report::to_json`] does, to `out` as it goes
    /// (a million contributions' explanations are hundreds of megabytes:
    /// they are never held as one string). With `explanations` false the
    /// `explanations` key is left out: the report of §7 plus `decimals`,
    /// `period`, `mode` and `repayments`, byte for byte the same keys and
    /// layout otherwise. I/O errors are the writer's, returned as they are.
    pub fn write_json<W: std::io::Write>(&self, out: W, explanations: bool) -> std::io::Result<()> {
        let written = if explanations {
            serde_json::to_writer_pretty(out, self)
        } else {
            serde_json::to_writer_pretty(out, &Summary::of(self))
        };
        written.map_err(std::io::Error::from)
    }
}

/// A [`Report`] without its explanations, borrowed, serialised with the
/// same keys in the same order (see [`Report::write_json`]).
#[derive(Serialize)]
struct Summary<'r> {
    currency: &'r Option<String>,
    income: u64,
    reserve: u64,
    payouts: &'r BTreeMap<String, u64>,
    buckets: &'r [BucketReport],
    points: &'r BTreeMap<String, u128>,
    signals: &'r [Signal],
    warnings: &'r [String],
    decimals: Option<u32>,
    period: &'r PeriodReport,
    mode: &'r str,
    repayments: &'r BTreeMap<String, u64>,
}

impl<'r> Summary<'r> {
    fn of(report: &'r Report) -> Summary<'r> {
        Summary {
            currency: &report.currency,
            income: report.income,
            reserve: report.reserve,
            payouts: &report.payouts,
            buckets: &report.buckets,
            points: &report.points,
            signals: &report.signals,
            warnings: &report.warnings,
            decimals: report.decimals,
            period: &report.period,
            mode: &report.mode,
            repayments: &report.repayments,
        }
    }
}

/// "a, b, c and 4 more": the first items of a list of `total` (at most
/// [`LISTED_IN_WARNING`] are given; only those are ever formatted).
fn listing(shown: &[String], total: usize) -> String {
    let mut text = shown.join(", ");
    if total > shown.len() {
        text.push_str(&format!(" and {} more", total - shown.len()));
    }
    text
}

fn warnings_before_distribution(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    scored: &Scored,
) -> Vec<String> {
    let mut warnings = Vec::new();
    // One pass in input order (sequential memory), then id order by rank.
    let mut rateless: Vec<(u32, Kind)> = Vec::new();
    for (c, (row, points)) in prepared.rows.iter().zip(&scored.contributions).enumerate() {
        if points.counted && row.source == RateFrom::Missing {
            rateless.push((prepared.contribution_rank[c], row.kind));
        }
    }
    rateless.sort_unstable();
    for kind in Kind::ALL {
        let total = rateless.iter().filter(|&&(_, k)| k == kind).count();
        if total == 0 {
            continue;
        }
        let shown: Vec<String> = rateless
            .iter()
            .filter(|&&(_, k)| k == kind)
            .take(LISTED_IN_WARNING)
            .map(|&(rank, _)| {
                let c = prepared.contribution_order[rank as usize] as usize;
                format!("{:?}", prepared.ids.get(c))
            })
            .collect();
        warnings.push(format!(
            "no rate resolves for {total} {kind} contribution(s), so they are worth 0 \
             (give the contribution a rate, or set policy.rates for one of its tags or \
             policy.default_rates.{kind}): {}",
            listing(&shown, total)
        ));
    }
    if !reviewed.self_evaluations.is_empty() {
        let mut pairs: Vec<(u32, u32)> = reviewed
            .self_evaluations
            .iter()
            .map(|&(c, m)| (prepared.contribution_rank[c as usize], m))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let shown: Vec<String> = pairs
            .iter()
            .take(LISTED_IN_WARNING)
            .map(|&(rank, m)| {
                let c = prepared.contribution_order[rank as usize] as usize;
                format!(
                    "{:?} by {:?}",
                    prepared.ids.get(c),
                    prepared.members[m as usize]
                )
            })
            .collect();
        warnings.push(format!(
            "{} self-evaluation(s) ignored: a member cannot evaluate their own contribution: {}",
            pairs.len(),
            listing(&shown, pairs.len())
        ));
    }
    if let Some(trust) = &reviewed.trust
        && !trust.converged
    {
        warnings.push(format!(
            "EigenTrust did not converge within {} iterations; the last iterate is used",
            trust.iterations
        ));
    }
    warnings
}

/// Member `m`'s share of bucket `index`, created on first use.
fn share_of<'s>(
    shares: &'s mut [Option<Share>],
    m: u32,
    index: usize,
    type_name: &'static str,
) -> &'s mut Share {
    shares[m as usize].get_or_insert_with(|| Share::new(index, type_name))
}

/// Assembles the report and checks its invariants. Takes the pipeline's
/// results by value: the per-contribution arrays move into the report's
/// explanations instead of being copied into per-line records.
pub(crate) fn build(
    prepared: Prepared<'_>,
    mut reviewed: Reviewed,
    scored: Scored,
    distributed: Distributed,
    signals: Vec<Signal>,
) -> Result<Report> {
    let input = prepared.input;
    let document = &input.policy;
    let policy = &document.policy;
    let members = &prepared.members;
    let name_of = |recipient: &Recipient| -> String {
        match recipient {
            Recipient::Member(m) => members[*m as usize].to_owned(),
            Recipient::Fund(name) => name.clone(),
        }
    };

    let mut warnings = warnings_before_distribution(&prepared, &reviewed, &scored);
    let Distributed {
        buckets: outcomes,
        reserve,
        repaid,
        warnings: distribution_warnings,
    } = distributed;
    warnings.extend(distribution_warnings);

    // Each member's explained contributions (those dated before the period
    // end) in id order: counted per member in input order, then placed by
    // walking the contributions in id order, so no per-member sort is needed.
    let mut line_member = vec![u32::MAX; prepared.rows.len()];
    let mut starts = vec![0u32; members.len() + 1];
    let mut member_points = vec![0u128; members.len()];
    for (c, points) in scored.contributions.iter().enumerate() {
        if points.counted {
            let member = prepared.contribution_member[c];
            line_member[c] = member;
            starts[member as usize + 1] += 1;
            if points.in_period {
                member_points[member as usize] += u128::from(points.points);
            }
        }
    }
    for m in 0..members.len() {
        starts[m + 1] += starts[m];
    }
    let mut cursor = starts.clone();
    let mut order = vec![0u32; starts[members.len()] as usize];
    for &c in &prepared.contribution_order {
        let member = line_member[c as usize];
        if member != u32::MAX {
            let next = &mut cursor[member as usize];
            order[*next as usize] = c;
            *next += 1;
        }
    }
    drop((line_member, cursor));
    let mut entries: Vec<Entry> = (0..members.len())
        .map(|m| Entry {
            evaluator_weight: Some(reviewed.weights[m]),
            points: member_points[m],
            lines: (starts[m], starts[m + 1]),
            ..Entry::default()
        })
        .collect();

    // Buckets, and each member's share of each bucket.
    let mut funds: BTreeMap<String, Entry> = BTreeMap::new();
    let mut bucket_reports = Vec::with_capacity(outcomes.len());
    let mut payouts: BTreeMap<String, u64> = BTreeMap::new();
    for (index, (bucket, outcome)) in document.buckets.iter().zip(&outcomes).enumerate() {
        let type_name = bucket.type_name();
        // Indexed by member, so shares are handed out in member (id) order.
        let mut shares: Vec<Option<Share>> = vec![None; members.len()];
        let mut report = BucketReport {
            bucket_type: type_name.to_owned(),
            amount: outcome.amount,
            paid: BTreeMap::new(),
            percent_ppm: bucket.percent_ppm(),
            base: outcome.base,
            unpaid: outcome.amount - outcome.total_paid,
            recipient: None,
            kinds: None,
            method: None,
            mechanism: None,
            owed: None,
            points: None,
            prior: None,
            weights: None,
            participants: None,
        };
        match bucket {
            Bucket::Fixed { recipient, .. } => report.recipient = Some(recipient.clone()),
            Bucket::Reimburse { kinds, .. } => report.kinds = Some(kinds.clone()),
            Bucket::Shares { kinds, method, .. } => {
                report.kinds = Some(kinds.clone());
                report.method = Some(method.as_str().to_owned());
            }
            Bucket::Allocation { mechanism, .. } => {
                report.mechanism = Some(mechanism.as_str().to_owned())
            }
        }
        match &outcome.basis {
            Basis::Fixed => {}
            Basis::Reimburse { claims, owed } => {
                report.owed = Some(*owed);
                for claim in claims {
                    let c = claim.contribution;
                    share_of(
                        &mut shares,
                        prepared.contribution_member[c as usize],
                        index,
                        type_name,
                    )
                    .claims
                    .get_or_insert_with(Vec::new)
                    .push(ClaimShare {
                        contribution: c,
                        outstanding: claim.outstanding,
                        paid: claim.paid,
                    });
                }
            }
            Basis::Shares { points, prior } => {
                let total: u128 = points.iter().map(|p| p.1).sum();
                report.points = Some(
                    points
                        .iter()
                        .map(|&(m, p)| (members[m as usize].to_owned(), p))
                        .collect(),
                );
                if let Some(prior) = prior {
                    report.prior = Some(
                        points
                            .iter()
                            .zip(prior)
                            .map(|(&(m, _), &q)| (members[m as usize].to_owned(), q))
                            .collect(),
                    );
                }
                for (k, &(m, p)) in points.iter().enumerate() {
                    let share = share_of(&mut shares, m, index, type_name);
                    share.points = Some(p);
                    share.total_points = Some(total);
                    share.prior = prior.as_ref().map(|prior| prior[k]);
                }
            }
            Basis::Allocation {
                weights,
                participants,
            } => {
                report.participants = Some(*participants);
                let total: u64 = weights.iter().map(|w| w.1).sum();
                report.weights = Some(
                    weights
                        .iter()
                        .map(|&(m, w)| (members[m as usize].to_owned(), w))
                        .collect(),
                );
                for &(m, w) in weights {
                    let share = share_of(&mut shares, m, index, type_name);
                    share.weight = Some(w);
                    share.total_weight = Some(total);
                }
            }
        }
        for (recipient, amount) in &outcome.paid {
            let name = name_of(recipient);
            report.paid.insert(name.clone(), *amount);
            match recipient {
                Recipient::Member(m) => {
                    *payouts.entry(name).or_insert(0) += *amount;
                    share_of(&mut shares, *m, index, type_name).paid = *amount;
                }
                Recipient::Fund(_) => {
                    *payouts.entry(name.clone()).or_insert(0) += *amount;
                    let mut share = Share::new(index, type_name);
                    share.paid = *amount;
                    let fund = funds.entry(name).or_default();
                    fund.payout += *amount;
                    fund.buckets.push(share);
                }
            }
        }
        for (entry, share) in entries.iter_mut().zip(shares) {
            if let Some(share) = share {
                entry.payout += share.paid;
                entry.buckets.push(share);
            }
        }
        bucket_reports.push(report);
    }

    // Invariants: Σ payouts + reserve = income, every payout > 0, every
    // bucket within its amount (checked in `distribute`), and the
    // explanations add up to the payouts.
    let paid_out: u128 = payouts.values().map(|&v| u128::from(v)).sum();
    if paid_out + u128::from(reserve) != u128::from(input.income) {
        return Err(ScoringError::invariant(format!(
            "payouts {paid_out} + reserve {reserve} ≠ income {}",
            input.income
        )));
    }
    if let Some((name, _)) = payouts.iter().find(|&(_, &v)| v == 0) {
        return Err(ScoringError::invariant(format!(
            "zero payout listed for {name}"
        )));
    }

    // Repayments in id order, so the map is built in one sorted pass.
    let mut repaid_ranks: Vec<(u32, u32)> = repaid
        .iter()
        .enumerate()
        .filter(|&(_, &amount)| amount > 0)
        .map(|(c, _)| (prepared.contribution_rank[c], c as u32))
        .collect();
    repaid_ranks.sort_unstable();
    let repayments: BTreeMap<String, u64> = repaid_ranks
        .into_iter()
        .map(|(_, c)| {
            let c = c as usize;
            (prepared.ids.get(c).to_owned(), repaid[c])
        })
        .collect();
    let mut points_map = BTreeMap::new();
    let mut explained = BTreeMap::new();
    for (m, entry) in entries.into_iter().enumerate() {
        let name = members[m].to_owned();
        if entry.points > 0 {
            points_map.insert(name.clone(), entry.points);
        }
        if payouts.get(&name).copied().unwrap_or(0) != entry.payout {
            return Err(ScoringError::invariant(format!(
                "explanation of {name} does not add up to the payout"
            )));
        }
        explained.insert(name, entry);
    }
    for (name, fund) in funds {
        explained.insert(name, fund);
    }

    let Prepared {
        rows,
        at,
        ids,
        tags,
        multiplied,
        prior_repaid,
        ..
    } = prepared;
    let explanations = Explanations {
        kind_multiplier_ppm: Kind::ALL.map(|kind| {
            policy
                .kind_multiplier_ppm
                .get(&kind)
                .copied()
                .unwrap_or(1_000_000)
        }),
        tags,
        ids,
        rows,
        at,
        multiplied,
        reviews: std::mem::take(&mut reviewed.reviews),
        points: scored.contributions,
        prior_repaid,
        repaid,
        order,
        entries: explained,
    };

    Ok(Report {
        currency: document.currency.clone(),
        income: input.income,
        reserve,
        payouts,
        buckets: bucket_reports,
        points: points_map,
        signals,
        warnings,
        decimals: document.decimals,
        period: PeriodReport {
            start: format_rfc3339(input.period.start),
            end: format_rfc3339(input.period.end),
        },
        mode: document.mode.as_str().to_owned(),
        repayments,
        explanations,
    })
}
