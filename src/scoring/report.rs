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
use std::fmt;

use serde::{Serialize, Serializer};

use super::distribution::{Basis, Distributed, Recipient};
use super::error::{Result, ScoringError};
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
    pub explanations: BTreeMap<String, Explanation>,
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

/// Why a member (or fund) got what they got.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Explanation {
    /// Total payout.
    pub payout: u64,
    /// Points earned in the period, all kinds.
    pub points: u128,
    /// Weight of their ratings (1, or EigenTrust's integer weight); absent
    /// for a fund.
    pub evaluator_weight: Option<u64>,
    /// Their contributions dated before the period end, by id, including
    /// invalid ones (which earn nothing).
    pub contributions: Vec<ContributionLine>,
    /// What each bucket paid them and on what basis.
    pub buckets: Vec<BucketLine>,
}

/// One contribution's path from quantity to points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionLine {
    /// Contribution id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Dated inside the period (its points count for immediate shares).
    pub in_period: bool,
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// The rate applied, if any.
    pub rate: Option<u64>,
    /// Where the rate came from.
    pub rate_source: RateSource,
    /// value(c), minor units.
    pub value: u64,
    /// Standing approvals.
    pub approvals: u32,
    /// Standing flags.
    pub flags: u32,
    /// Validated by peers; an invalid contribution earns no points and is
    /// not reimbursed.
    pub valid: bool,
    /// Ratings by evaluators of positive weight.
    pub ratings: u32,
    /// Quality in percent.
    pub quality: u8,
    /// `median` of the ratings, or the policy's `default`.
    pub quality_source: String,
    /// The kind multiplier applied.
    pub kind_multiplier_ppm: u64,
    /// Tag multipliers applied, in tag order.
    pub tag_multipliers: Vec<TagMultiplier>,
    /// Decay steps k.
    pub decay_steps: u64,
    /// Decay factor d_k in ppm.
    pub decay_ppm: u64,
    /// points(c).
    pub points: u128,
    /// Repaid by earlier distributions.
    pub prior_repaid: u128,
    /// Repaid by this distribution.
    pub repaid: u64,
}

/// A tag multiplier applied to a contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagMultiplier {
    /// The tag.
    pub tag: String,
    /// Its multiplier in ppm.
    pub ppm: u64,
}

/// Where a contribution's rate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateSource {
    /// The contribution's own rate.
    Own,
    /// `policy.rates[tag]`.
    Tag(String),
    /// `policy.default_rates[kind]`.
    Default(Kind),
    /// No rate resolved: the value is 0.
    Missing,
    /// Money and expenses are already minor units.
    NotNeeded,
}

impl fmt::Display for RateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateSource::Own => f.write_str("contribution"),
            RateSource::Tag(tag) => write!(f, "policy.rates.{tag}"),
            RateSource::Default(kind) => write!(f, "policy.default_rates.{kind}"),
            RateSource::Missing => f.write_str("none"),
            RateSource::NotNeeded => f.write_str("not needed"),
        }
    }
}

impl Serialize for RateSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What one bucket paid one recipient, and on what basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketLine {
    /// The bucket's position in `distribution.buckets` (from 0).
    pub index: usize,
    /// The bucket's type.
    #[serde(rename = "type")]
    pub bucket_type: String,
    /// What it paid them.
    pub paid: u64,
    /// Shares: their points, and the bucket's total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<u128>,
    /// Shares: Σ points of everyone the bucket paid pro rata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_points: Option<u128>,
    /// Balanced shares: what they had been paid before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prior: Option<u128>,
    /// Allocation: their integer weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    /// Allocation: Σ weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_weight: Option<u64>,
    /// Reimburse: their claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimLine>>,
}

/// One reimbursement claim in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    /// Contribution id.
    pub contribution: String,
    /// Owed before the bucket.
    pub outstanding: u64,
    /// Repaid by the bucket.
    pub paid: u64,
}

impl BucketLine {
    fn new(index: usize, bucket_type: &str) -> BucketLine {
        BucketLine {
            index,
            bucket_type: bucket_type.to_owned(),
            paid: 0,
            points: None,
            total_points: None,
            prior: None,
            weight: None,
            total_weight: None,
            claims: None,
        }
    }
}

impl Report {
    /// The breakdown for one member or fund, if the report has one.
    pub fn explain(&self, name: &str) -> Option<&Explanation> {
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
    for kind in Kind::ALL {
        let rateless: Vec<String> = prepared
            .contribution_order
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| {
                scored.contributions[c].counted
                    && input.contributions[c].kind == kind
                    && prepared.valued[c].source == RateFrom::Missing
            })
            .map(|c| format!("{:?}", input.contributions[c].id))
            .collect();
        if !rateless.is_empty() {
            warnings.push(format!(
                "no rate resolves for {} {kind} contribution(s), so they are worth 0 \
                 (give the contribution a rate, or set policy.rates for one of its tags or \
                 policy.default_rates.{kind}): {}",
                rateless.len(),
                listing(&rateless)
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

    // Explanations: one per member, contributions in id order.
    let mut explanations: Vec<Explanation> = (0..members.len())
        .map(|m| Explanation {
            evaluator_weight: Some(reviewed.weights[m]),
            ..Explanation::default()
        })
        .collect();
    for &c in &prepared.contribution_order {
        let c = c as usize;
        let points = &scored.contributions[c];
        if !points.counted {
            continue;
        }
        let contribution = &input.contributions[c];
        let review = &reviewed.reviews[c];
        let valued = &prepared.valued[c];
        let rate_source = match valued.source {
            RateFrom::Own => RateSource::Own,
            RateFrom::Tag(t) => RateSource::Tag(contribution.tags[t as usize].clone()),
            RateFrom::Default => RateSource::Default(contribution.kind),
            RateFrom::Missing => RateSource::Missing,
            RateFrom::NotNeeded => RateSource::NotNeeded,
        };
        let tag_multipliers = contribution
            .tags
            .iter()
            .filter_map(|tag| {
                policy
                    .tag_multiplier_ppm
                    .get(tag)
                    .map(|&ppm| TagMultiplier {
                        tag: tag.clone(),
                        ppm,
                    })
            })
            .collect();
        let explanation = &mut explanations[prepared.contribution_member[c] as usize];
        if points.in_period {
            explanation.points += points.points;
        }
        explanation.contributions.push(ContributionLine {
            id: contribution.id.clone(),
            kind: contribution.kind,
            at: format_rfc3339(contribution.at),
            in_period: points.in_period,
            quantity: contribution.quantity,
            rate: valued.rate,
            rate_source,
            value: valued.value,
            approvals: review.approvals,
            flags: review.flags,
            valid: review.valid,
            ratings: review.ratings,
            quality: review.quality,
            quality_source: if review.from_median {
                "median"
            } else {
                "default"
            }
            .to_owned(),
            kind_multiplier_ppm: policy
                .kind_multiplier_ppm
                .get(&contribution.kind)
                .copied()
                .unwrap_or(1_000_000),
            tag_multipliers,
            decay_steps: points.decay_steps,
            decay_ppm: points.decay_ppm,
            points: points.points,
            prior_repaid: prepared.prior_repaid[c],
            repaid: distributed.repaid[c],
        });
    }
    // Buckets, and each member's line per bucket.
    let mut funds: BTreeMap<String, Explanation> = BTreeMap::new();
    let mut bucket_reports = Vec::with_capacity(distributed.buckets.len());
    let mut payouts: BTreeMap<String, u64> = BTreeMap::new();
    for (index, (bucket, outcome)) in document
        .buckets
        .iter()
        .zip(&distributed.buckets)
        .enumerate()
    {
        let type_name = bucket.type_name();
        let mut lines: BTreeMap<u32, BucketLine> = BTreeMap::new();
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
                    let line = lines
                        .entry(prepared.contribution_member[c])
                        .or_insert_with(|| BucketLine::new(index, type_name));
                    line.claims.get_or_insert_with(Vec::new).push(ClaimLine {
                        contribution: input.contributions[c].id.clone(),
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
                    let line = lines
                        .entry(m)
                        .or_insert_with(|| BucketLine::new(index, type_name));
                    line.points = Some(p);
                    line.total_points = Some(total);
                    line.prior = prior.as_ref().map(|prior| prior[k]);
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
                    let line = lines
                        .entry(m)
                        .or_insert_with(|| BucketLine::new(index, type_name));
                    line.weight = Some(w);
                    line.total_weight = Some(total);
                }
            }
        }
        for (recipient, amount) in &outcome.paid {
            let name = name_of(recipient);
            report.paid.insert(name.clone(), *amount);
            *payouts.entry(name.clone()).or_insert(0) += *amount;
            match recipient {
                Recipient::Member(m) => {
                    lines
                        .entry(*m)
                        .or_insert_with(|| BucketLine::new(index, type_name))
                        .paid = *amount;
                }
                Recipient::Fund(_) => {
                    let mut line = BucketLine::new(index, type_name);
                    line.paid = *amount;
                    let fund = funds.entry(name).or_default();
                    fund.payout += *amount;
                    fund.buckets.push(line);
                }
            }
        }
        for (m, line) in lines {
            let explanation = &mut explanations[m as usize];
            explanation.payout += line.paid;
            explanation.buckets.push(line);
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
    let mut repayments = BTreeMap::new();
    for &c in &prepared.contribution_order {
        let repaid = distributed.repaid[c as usize];
        if repaid > 0 {
            repayments.insert(input.contributions[c as usize].id.clone(), repaid);
        }
    }
    let mut by_name = BTreeMap::new();
    for (m, explanation) in explanations.into_iter().enumerate() {
        if explanation.points > 0 {
            points_map.insert(members[m].to_owned(), explanation.points);
        }
        let name = members[m].to_owned();
        if payouts.get(&name).copied().unwrap_or(0) != explanation.payout {
            return Err(ScoringError::invariant(format!(
                "explanation of {name} does not add up to the payout"
            )));
        }
        by_name.insert(name, explanation);
    }
    for (name, fund) in funds {
        by_name.insert(name, fund);
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
        explanations: by_name,
    })
}
