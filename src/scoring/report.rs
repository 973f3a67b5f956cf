//! The report of a distribution (§6): what each recipient got, what each
//! bucket paid to whom, the reserve, the repayments per contribution, and
//! for every member the answer to "why did I get this?".
//!
//! Serialised with serde, it is the JSON of SCORING.md §7 (`currency`,
//! `income`, `reserve`, `payouts`, `buckets`, `points`, `warnings`) followed
//! by extra keys (`decimals`, `period`, `mode`, `repayments`,
//! `explanations`). Every map is a `BTreeMap` and every list has a fixed
//! order, so the same input gives byte-identical JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::distribution::{Basis, Distributed, Recipient};
use super::error::{Result, ScoringError};
use super::explain::{ClaimShare, Entry, Line, LineRate, Share, Span};
pub use super::explain::{Explanation, Explanations};
use super::input::Kind;
use super::policy::Bucket;
use super::review::Reviewed;
use super::time::format_rfc3339;
use super::validate::Prepared;
use super::value::{RateFrom, Scored};

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
}

/// "a, b, c and 4 more".
fn listing(items: &[String]) -> String {
    let shown = items.len().min(LISTED_IN_WARNING);
    let mut text = items[..shown].join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}

fn warnings_before_distribution(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    scored: &Scored,
) -> Vec<String> {
    let input = prepared.input;
    let mut warnings = Vec::new();
    // One pass in input order (sequential memory), then id order by rank.
    let mut rateless: Vec<(u32, Kind)> = Vec::new();
    for (c, contribution) in input.contributions.iter().enumerate() {
        if scored.contributions[c].counted && prepared.valued[c].source == RateFrom::Missing {
            rateless.push((prepared.contribution_rank[c], contribution.kind));
        }
    }
    rateless.sort_unstable();
    for kind in Kind::ALL {
        let ids: Vec<String> = rateless
            .iter()
            .filter(|&&(_, k)| k == kind)
            .map(|&(rank, _)| {
                let c = prepared.contribution_order[rank as usize] as usize;
                format!("{:?}", input.contributions[c].id)
            })
            .collect();
        if !ids.is_empty() {
            warnings.push(format!(
                "no rate resolves for {} {kind} contribution(s), so they are worth 0 \
                 (give the contribution a rate, or set policy.rates for one of its tags or \
                 policy.default_rates.{kind}): {}",
                ids.len(),
                listing(&ids)
            ));
        }
    }
    if !reviewed.self_evaluations.is_empty() {
        let mut pairs: Vec<(u32, u32)> = reviewed
            .self_evaluations
            .iter()
            .map(|&(c, m)| (prepared.contribution_rank[c as usize], m))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let named: Vec<String> = pairs
            .iter()
            .map(|&(rank, m)| {
                let c = prepared.contribution_order[rank as usize] as usize;
                format!(
                    "{:?} by {:?}",
                    input.contributions[c].id, prepared.members[m as usize]
                )
            })
            .collect();
        warnings.push(format!(
            "{} self-evaluation(s) ignored: a member cannot evaluate their own contribution: {}",
            named.len(),
            listing(&named)
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

/// A tag's text in the arena, copied once however many lines name it.
fn intern_tag<'a>(
    explanations: &mut Explanations,
    spans: &mut BTreeMap<&'a str, Span>,
    tag: &'a str,
) -> Span {
    *spans.entry(tag).or_insert_with(|| explanations.intern(tag))
}

/// Assembles the report and checks its invariants.
pub(crate) fn build(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    scored: &Scored,
    distributed: Distributed,
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

    let mut warnings = warnings_before_distribution(prepared, reviewed, scored);
    warnings.extend(distributed.warnings.iter().cloned());

    // Contribution lines, built in input order (every per-contribution array
    // is read sequentially and the lines written sequentially), then an
    // index that groups them by member, in id order within each member.
    let mut explanations = Explanations {
        kind_multiplier_ppm: Kind::ALL.map(|kind| {
            policy
                .kind_multiplier_ppm
                .get(&kind)
                .copied()
                .unwrap_or(1_000_000)
        }),
        ..Explanations::default()
    };
    let counted = scored.contributions.iter().filter(|p| p.counted).count();
    explanations.lines.reserve_exact(counted);
    let id_bytes: usize = input
        .contributions
        .iter()
        .zip(&scored.contributions)
        .filter(|(_, points)| points.counted)
        .map(|(contribution, _)| contribution.id.len())
        .sum();
    explanations.text.reserve_exact(id_bytes);
    let mut line_of = vec![u32::MAX; input.contributions.len()];
    let mut line_member: Vec<u32> = Vec::with_capacity(counted);
    let mut line_rank: Vec<u32> = Vec::with_capacity(counted);
    let mut member_points = vec![0u128; members.len()];
    let mut tag_spans: BTreeMap<&str, Span> = BTreeMap::new();
    for (c, contribution) in input.contributions.iter().enumerate() {
        let points = &scored.contributions[c];
        if !points.counted {
            continue;
        }
        let review = &reviewed.reviews[c];
        let valued = &prepared.valued[c];
        let member = prepared.contribution_member[c];
        let id = explanations.intern(&contribution.id);
        let rate_source = match valued.source {
            RateFrom::Own => LineRate::Own,
            RateFrom::Tag(t) => LineRate::Tag(intern_tag(
                &mut explanations,
                &mut tag_spans,
                &contribution.tags[t as usize],
            )),
            RateFrom::Default => LineRate::Default,
            RateFrom::Missing => LineRate::Missing,
            RateFrom::NotNeeded => LineRate::NotNeeded,
        };
        let first_tag = explanations.tag_factors.len() as u32;
        if !policy.tag_multiplier_ppm.is_empty() {
            for tag in &contribution.tags {
                if let Some(&ppm) = policy.tag_multiplier_ppm.get(tag) {
                    let span = intern_tag(&mut explanations, &mut tag_spans, tag);
                    explanations.tag_factors.push((span, ppm));
                }
            }
        }
        let last_tag = explanations.tag_factors.len() as u32;
        if points.in_period {
            member_points[member as usize] += u128::from(points.points);
        }
        line_of[c] = explanations.lines.len() as u32;
        line_member.push(member);
        line_rank.push(prepared.contribution_rank[c]);
        explanations.lines.push(Line {
            id,
            at: contribution.at,
            quantity: contribution.quantity,
            rate: valued.rate.unwrap_or(0),
            value: valued.value,
            points: points.points,
            prior_repaid: prepared.prior_repaid[c],
            repaid: distributed.repaid[c],
            rate_source,
            tags: (first_tag, last_tag),
            approvals: review.approvals,
            flags: review.flags,
            ratings: review.ratings,
            // At most (9999-12-31 − 0000-01-01) / 1 day ≈ 3.7 million steps.
            decay_steps: u32::try_from(points.decay_steps).unwrap_or(u32::MAX),
            // d_k ≤ 10^6.
            decay_ppm: u32::try_from(points.decay_ppm).unwrap_or(u32::MAX),
            kind: contribution.kind,
            has_rate: valued.rate.is_some(),
            in_period: points.in_period,
            valid: review.valid,
            from_median: review.from_median,
            quality: review.quality,
        });
    }
    // Counting sort of the lines by member (stable), then id order within.
    let mut starts = vec![0u32; members.len() + 1];
    for &member in &line_member {
        starts[member as usize + 1] += 1;
    }
    for m in 0..members.len() {
        starts[m + 1] += starts[m];
    }
    let mut cursor = starts.clone();
    let mut order = vec![0u32; line_member.len()];
    for (position, &member) in line_member.iter().enumerate() {
        order[cursor[member as usize] as usize] = position as u32;
        cursor[member as usize] += 1;
    }
    for m in 0..members.len() {
        order[starts[m] as usize..starts[m + 1] as usize]
            .sort_unstable_by_key(|&position| line_rank[position as usize]);
    }
    explanations.order = order;
    drop((line_member, line_rank, cursor));
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
    let mut bucket_reports = Vec::with_capacity(distributed.buckets.len());
    let mut payouts: BTreeMap<String, u64> = BTreeMap::new();
    for (index, (bucket, outcome)) in document
        .buckets
        .iter()
        .zip(&distributed.buckets)
        .enumerate()
    {
        let type_name = bucket.type_name();
        let mut shares: BTreeMap<u32, Share> = BTreeMap::new();
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
                    let c = claim.contribution as usize;
                    let share = shares
                        .entry(prepared.contribution_member[c])
                        .or_insert_with(|| Share::new(index, type_name));
                    share.claims.get_or_insert_with(Vec::new).push(ClaimShare {
                        line: line_of[c],
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
                    let share = shares
                        .entry(m)
                        .or_insert_with(|| Share::new(index, type_name));
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
                    let share = shares
                        .entry(m)
                        .or_insert_with(|| Share::new(index, type_name));
                    share.weight = Some(w);
                    share.total_weight = Some(total);
                }
            }
        }
        for (recipient, amount) in &outcome.paid {
            let name = name_of(recipient);
            report.paid.insert(name.clone(), *amount);
            *payouts.entry(name.clone()).or_insert(0) += *amount;
            match recipient {
                Recipient::Member(m) => {
                    shares
                        .entry(*m)
                        .or_insert_with(|| Share::new(index, type_name))
                        .paid = *amount;
                }
                Recipient::Fund(_) => {
                    let mut share = Share::new(index, type_name);
                    share.paid = *amount;
                    let fund = funds.entry(name).or_default();
                    fund.payout += *amount;
                    fund.buckets.push(share);
                }
            }
        }
        for (m, share) in shares {
            let entry = &mut entries[m as usize];
            entry.payout += share.paid;
            entry.buckets.push(share);
        }
        bucket_reports.push(report);
    }

    // Invariants: Σ payouts + reserve = income, every payout > 0, every
    // bucket within its amount (checked in `distribute`), and the
    // explanations add up to the payouts.
    let paid_out: u128 = payouts.values().map(|&v| u128::from(v)).sum();
    if paid_out + u128::from(distributed.reserve) != u128::from(input.income) {
        return Err(ScoringError::invariant(format!(
            "payouts {paid_out} + reserve {} ≠ income {}",
            distributed.reserve, input.income
        )));
    }
    if let Some((name, _)) = payouts.iter().find(|&(_, &v)| v == 0) {
        return Err(ScoringError::invariant(format!(
            "zero payout listed for {name}"
        )));
    }

    let mut points_map = BTreeMap::new();
    // Repayments in id order, so the map is built in one sorted pass.
    let mut repaid: Vec<(u32, usize)> = distributed
        .repaid
        .iter()
        .enumerate()
        .filter(|&(_, &amount)| amount > 0)
        .map(|(c, _)| (prepared.contribution_rank[c], c))
        .collect();
    repaid.sort_unstable();
    let repayments: BTreeMap<String, u64> = repaid
        .into_iter()
        .map(|(_, c)| (input.contributions[c].id.clone(), distributed.repaid[c]))
        .collect();
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
        explanations.entries.insert(name, entry);
    }
    for (name, fund) in funds {
        explanations.entries.insert(name, fund);
    }

    Ok(Report {
        currency: document.currency.clone(),
        income: input.income,
        reserve: distributed.reserve,
        payouts,
        buckets: bucket_reports,
        points: points_map,
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
