//! Per-member explanations: the answer to "why did I get this?" (§6).
//!
//! For every member (and every fund paid), the explanation lists each of
//! their contributions dated before the period end, in id order, with its
//! value, rate source, peer review, quality, multipliers, decay and points,
//! and what each bucket paid them and on what basis.
//!
//! With a million contributions these lines are most of a report, so they
//! are not copied into it: the report keeps the per-contribution arrays the
//! pipeline already computed (rows, reviews, points, repayments, all in
//! input order, moved rather than copied), the ids in one buffer, and per
//! member a range of an index that lists their contributions in id order.
//! [`Explanation`] and [`ContributionLine`] are borrowed views built on
//! demand from those arrays, for display and for serialisation.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::ids::IdArena;
use super::kind::Kind;
use super::rate::RateFrom;
use super::review::ContributionReview;
pub use super::review::Invalidity;
use super::tags::PolicyTags;
use super::time::format_rfc3339;
use super::validate::Row;
use super::value::ContributionPoints;

/// One reimbursement claim of a member, by contribution index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClaimShare {
    pub contribution: u32,
    pub outstanding: u64,
    pub paid: u64,
}

/// What one bucket paid one recipient and why, stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Share {
    pub index: usize,
    pub bucket_type: &'static str,
    pub paid: u64,
    pub points: Option<u128>,
    pub total_points: Option<u128>,
    pub prior: Option<u128>,
    pub weight: Option<u64>,
    pub total_weight: Option<u64>,
    pub claims: Option<Vec<ClaimShare>>,
}

impl Share {
    pub(crate) fn new(index: usize, bucket_type: &'static str) -> Share {
        Share {
            index,
            bucket_type,
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

/// A member's or fund's summary, stored once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Entry {
    pub payout: u64,
    pub points: u128,
    pub evaluator_weight: Option<u64>,
    /// `order[lines.0..lines.1]` are their contributions, in id order.
    pub lines: (u32, u32),
    pub buckets: Vec<Share>,
}

/// Every member's (and paid fund's) breakdown, keyed by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanations {
    /// The policy's kind multipliers, by `Kind::ALL` position.
    pub(crate) kind_multiplier_ppm: [u64; 5],
    /// The policy's tags, for rate sources and tag multipliers.
    pub(crate) tags: PolicyTags,
    /// Contribution ids, input order.
    pub(crate) ids: IdArena,
    /// Per contribution, input order: kind, amounts, value, rate.
    pub(crate) rows: Vec<Row>,
    /// Per contribution, input order: when.
    pub(crate) at: Vec<i64>,
    /// Every contribution's tag multipliers (see [`Row::multipliers`]).
    pub(crate) multiplied: Vec<u32>,
    /// Per contribution, input order: peer review.
    pub(crate) reviews: Vec<ContributionReview>,
    /// Per contribution, input order: decay and points.
    pub(crate) points: Vec<ContributionPoints>,
    /// Per contribution, input order: repaid by earlier distributions.
    pub(crate) prior_repaid: Vec<u64>,
    /// Per contribution, input order: repaid by this distribution.
    pub(crate) repaid: Vec<u64>,
    /// Contribution indices, each member's in id order (see
    /// [`Entry::lines`]).
    pub(crate) order: Vec<u32>,
    pub(crate) entries: BTreeMap<String, Entry>,
}

impl Explanations {
    /// The breakdown of one member or fund, if the report has one.
    pub fn get(&self, name: &str) -> Option<Explanation<'_>> {
        self.entries.get(name).map(|entry| self.view(entry))
    }

    /// Every name with a breakdown, in bytewise order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// How many members and funds have a breakdown.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no breakdown at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The contributions peer review left invalid that the period would
    /// otherwise count: dated in the period (their points), or a claim of
    /// one of `claim_kinds` still owed (its repayment). What a treasurer
    /// should chase before recording.
    pub fn unvalidated(&self, claim_kinds: &[Kind]) -> Unvalidated {
        let mut out = Unvalidated::default();
        // Each contribution's member, through the breakdowns (names in
        // bytewise order, each member's contributions in id order), so the
        // listed items come out in a deterministic order.
        for (member, entry) in &self.entries {
            let (from, to) = (entry.lines.0 as usize, entry.lines.1 as usize);
            for &c in self.order.get(from..to).unwrap_or_default() {
                let c = c as usize;
                let (row, review, points) = (&self.rows[c], &self.reviews[c], &self.points[c]);
                if review.valid || !points.counted {
                    continue;
                }
                let owed = row.value.saturating_sub(self.prior_repaid[c]);
                let value = if claim_kinds.contains(&row.kind) && owed > 0 {
                    owed
                } else if points.in_period {
                    row.value
                } else {
                    continue;
                };
                let flagged = review.flags > 0;
                let tally = if flagged {
                    &mut out.flagged
                } else {
                    &mut out.pending
                };
                tally.count += 1;
                tally.value = tally.value.saturating_add(value);
                out.items.push(UnvalidatedItem {
                    id: self.ids.get(c).to_string(),
                    member: member.clone(),
                    kind: row.kind,
                    at: Time(self.at[c]),
                    value,
                    approvals: review.approvals,
                    flags: review.flags,
                    flagged,
                });
            }
        }
        // The largest first, so a treasurer chases what matters; at most
        // MAX_UNVALIDATED_ITEMS (the tallies count every one).
        out.items
            .sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.id.cmp(&b.id)));
        out.items.truncate(MAX_UNVALIDATED_ITEMS);
        out
    }

    /// Claims this distribution repaid beyond their value, counting what
    /// earlier distributions repaid: `(id, value, prior, repaid)`. Always
    /// empty unless something is badly wrong; a recorded distribution is
    /// checked against it.
    pub fn overpaid_claims(&self) -> Vec<(&str, u64, u64, u64)> {
        (0..self.rows.len())
            .filter(|&c| {
                self.repaid[c] > 0
                    && self.prior_repaid[c].saturating_add(self.repaid[c]) > self.rows[c].value
            })
            .map(|c| {
                (
                    self.ids.get(c),
                    self.rows[c].value,
                    self.prior_repaid[c],
                    self.repaid[c],
                )
            })
            .collect()
    }

    /// Contribution `c`'s line, assembled from the per-contribution arrays.
    fn line(&self, c: u32) -> ContributionLine<'_> {
        let c = c as usize;
        let row = &self.rows[c];
        let review = &self.reviews[c];
        let points = &self.points[c];
        let start = row.multipliers as usize;
        let multiplied = self
            .multiplied
            .get(start..start + usize::from(row.multiplier_count))
            .unwrap_or_default();
        ContributionLine {
            id: self.ids.get(c),
            kind: row.kind,
            at: Time(self.at[c]),
            in_period: points.in_period,
            quantity: row.quantity,
            rate: row.rate(),
            rate_source: match row.source {
                RateFrom::Own => RateSource::Own,
                RateFrom::Tag(tag) => RateSource::Tag(self.tags.name(tag)),
                RateFrom::Default => RateSource::Default(row.kind),
                RateFrom::Missing => RateSource::Missing,
                RateFrom::NotNeeded => RateSource::NotNeeded,
            },
            value: row.value,
            approvals: review.approvals,
            flags: review.flags,
            valid: review.valid,
            invalid: review.invalid,
            ratings: review.ratings,
            quality: review.quality,
            quality_source: if review.from_median {
                QualitySource::Median
            } else {
                QualitySource::Default
            },
            kind_multiplier_ppm: self.kind_multiplier_ppm[row.kind.index()],
            tag_multipliers: multiplied
                .iter()
                .map(|&tag| TagMultiplier {
                    tag: self.tags.name(tag),
                    ppm: self.tags.multiplier(tag),
                })
                .collect(),
            decay_steps: points.decay_steps.into(),
            decay_ppm: points.decay_ppm.into(),
            points: points.points,
            prior_repaid: self.prior_repaid[c],
            repaid: self.repaid[c],
        }
    }

    fn view<'r>(&'r self, entry: &'r Entry) -> Explanation<'r> {
        let (from, to) = entry.lines;
        Explanation {
            payout: entry.payout,
            points: entry.points,
            evaluator_weight: entry.evaluator_weight,
            contributions: self.order[from as usize..to as usize]
                .iter()
                .map(|&c| self.line(c))
                .collect(),
            buckets: entry
                .buckets
                .iter()
                .map(|share| BucketLine {
                    index: share.index,
                    bucket_type: share.bucket_type,
                    paid: share.paid,
                    points: share.points,
                    total_points: share.total_points,
                    prior: share.prior,
                    weight: share.weight,
                    total_weight: share.total_weight,
                    claims: share.claims.as_ref().map(|claims| {
                        claims
                            .iter()
                            .map(|claim| ClaimLine {
                                contribution: self.ids.get(claim.contribution as usize),
                                outstanding: claim.outstanding,
                                paid: claim.paid,
                            })
                            .collect()
                    }),
                })
                .collect(),
        }
    }
}

impl Serialize for Explanations {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, entry) in &self.entries {
            map.serialize_entry(name, &self.view(entry))?;
        }
        map.end()
    }
}

/// The most unvalidated contributions a report names one by one (the
/// tallies count all of them).
pub const MAX_UNVALIDATED_ITEMS: usize = 100;

/// How many contributions, worth how much, peer review has not validated,
/// and the largest of them by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unvalidated {
    /// Not (yet) approved enough, and not flagged.
    pub pending: Tally,
    /// Invalid with at least one flag.
    pub flagged: Tally,
    /// The largest of them (at most [`MAX_UNVALIDATED_ITEMS`]), largest
    /// value first.
    pub items: Vec<UnvalidatedItem>,
}

/// One contribution peer review has not validated: what a treasurer
/// chases before recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnvalidatedItem {
    /// Its id.
    pub id: String,
    /// Whose it is.
    pub member: String,
    /// Its kind.
    pub kind: Kind,
    /// When it was done.
    pub at: Time,
    /// What it would be worth here (a claim: what is still owed).
    pub value: u64,
    /// Standing approvals.
    pub approvals: u32,
    /// Standing flags.
    pub flags: u32,
    /// Whether it is invalid because of flags (else: not yet approved).
    pub flagged: bool,
}

/// A count and a value in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// Worth this much (a claim: what is still owed).
    pub value: u64,
}

/// Why a member (or fund) got what they got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation<'r> {
    /// Total payout.
    pub payout: u64,
    /// Points earned in the period, all kinds.
    pub points: u128,
    /// Weight of their ratings (1, or EigenTrust's integer weight); absent
    /// for a fund.
    pub evaluator_weight: Option<u64>,
    /// Their contributions dated before the period end, by id, including
    /// invalid ones (which earn nothing).
    pub contributions: Vec<ContributionLine<'r>>,
    /// What each bucket paid them and on what basis.
    pub buckets: Vec<BucketLine<'r>>,
}

/// One contribution's path from quantity to points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionLine<'r> {
    /// Contribution id.
    pub id: &'r str,
    /// Its kind.
    pub kind: Kind,
    /// When (written as RFC 3339 UTC).
    pub at: Time,
    /// Dated inside the period (its points count for immediate shares).
    pub in_period: bool,
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// The rate applied, if any.
    pub rate: Option<u64>,
    /// Where the rate came from.
    pub rate_source: RateSource<'r>,
    /// value(c), minor units.
    pub value: u64,
    /// Standing approvals.
    pub approvals: u32,
    /// Standing flags.
    pub flags: u32,
    /// Validated by peers; an invalid contribution earns no points and is
    /// not reimbursed.
    pub valid: bool,
    /// When not valid, why: the first rule of §2 it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<Invalidity>,
    /// Ratings by evaluators of positive weight.
    pub ratings: u32,
    /// Quality in percent.
    pub quality: u8,
    /// The weighted median of the ratings, or the policy's default.
    pub quality_source: QualitySource,
    /// The kind multiplier applied.
    pub kind_multiplier_ppm: u64,
    /// Tag multipliers applied, in tag order.
    pub tag_multipliers: Vec<TagMultiplier<'r>>,
    /// Decay steps k.
    pub decay_steps: u64,
    /// Decay factor d_k in ppm.
    pub decay_ppm: u64,
    /// points(c).
    pub points: u64,
    /// Repaid by earlier distributions.
    pub prior_repaid: u64,
    /// Repaid by this distribution.
    pub repaid: u64,
}

/// A time in Unix seconds, written as RFC 3339 UTC in JSON and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub i64);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.0))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where a contribution's quality came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QualitySource {
    /// The lower weighted median of the ratings.
    Median,
    /// The policy's `rating.default` (too few ratings).
    Default,
}

impl fmt::Display for QualitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QualitySource::Median => "median",
            QualitySource::Default => "default",
        })
    }
}

/// A tag multiplier applied to a contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagMultiplier<'r> {
    /// The tag.
    pub tag: &'r str,
    /// Its multiplier in ppm.
    pub ppm: u64,
}

/// Where a contribution's rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource<'r> {
    /// The contribution's own rate.
    Own,
    /// `policy.rates[tag]`.
    Tag(&'r str),
    /// `policy.default_rates[kind]`.
    Default(Kind),
    /// No rate resolved: the value is 0.
    Missing,
    /// Money and expenses are already minor units.
    NotNeeded,
}

impl fmt::Display for RateSource<'_> {
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

impl Serialize for RateSource<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What one bucket paid one recipient, and on what basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketLine<'r> {
    /// The bucket's position in `distribution.buckets` (from 0).
    pub index: usize,
    /// The bucket's type.
    #[serde(rename = "type")]
    pub bucket_type: &'static str,
    /// What it paid them.
    pub paid: u64,
    /// Shares: their points.
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
    /// Reimburse: their claims, by contribution id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimLine<'r>>>,
}

/// One reimbursement claim in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine<'r> {
    /// Contribution id.
    pub contribution: &'r str,
    /// Owed before the bucket.
    pub outstanding: u64,
    /// Repaid by the bucket.
    pub paid: u64,
}
