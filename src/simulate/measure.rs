//! What an attack did to the money: per bucket and in total, the share the
//! attackers took, their gain over the honest run, and how far honest
//! members' payouts moved.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scoring::Report;
use crate::scoring::limits::PPM;
use crate::scoring::policy::Bucket;

/// The figures of one attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// Per bucket, in policy order.
    pub buckets: Vec<BucketMeasure>,
    /// The whole payout (every bucket together, the income as its amount).
    pub total: BucketMeasure,
}

/// One bucket's (or the total's) figures under one attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketMeasure {
    /// The bucket's position in the policy (from 1), `None` for the total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<usize>,
    /// What the bucket is (`shares work, use`, `fixed commons`, `total`).
    pub label: String,
    /// The bucket's amount under attack (the income for the total).
    pub amount: u64,
    /// What the attackers were paid from it under attack.
    pub captured: u64,
    /// `captured` as parts per million of `amount` (0 when it is 0).
    pub captured_ppm: u64,
    /// What the same members were paid from it in the honest run (0 for
    /// sybils, who were not there).
    pub honest_run: u64,
    /// `captured − honest_run`: what the attack won them (negative: lost).
    pub gain: i64,
    /// The honest member who lost the most, if anyone lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest_loss: Option<Loss>,
    /// Σ of honest members' losses ÷ honest members, rounded down.
    pub mean_loss: u64,
    /// Σ of every honest member's change (gains and losses).
    pub honest_change: i64,
}

/// One honest member's loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    /// Who.
    pub member: String,
    /// How much less they were paid than in the honest run.
    pub amount: u64,
    /// The loss as parts per million of their honest-run payout from the
    /// same bucket (`None` when it was 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of_honest_ppm: Option<u64>,
}

/// Compares the attacked report with the honest one. `members` are the
/// scenario's real members; every one not in `attackers` is honest (funds
/// paid by fixed buckets are not members and are not counted).
pub fn measure(
    members: &[String],
    attackers: &[String],
    honest: &Report,
    attacked: &Report,
    buckets: &[Bucket],
) -> Measure {
    let mut attackers_sorted: Vec<&str> = attackers.iter().map(String::as_str).collect();
    attackers_sorted.sort_unstable();
    let is_attacker = |m: &str| attackers_sorted.binary_search(&m).is_ok();
    // Sorted, so a tie for the largest loss goes to the smaller handle
    // whatever the order of the scenario's member list.
    let mut honest_members: Vec<&str> = members
        .iter()
        .map(String::as_str)
        .filter(|m| !is_attacker(m))
        .collect();
    honest_members.sort_unstable();
    let per_bucket = attacked
        .buckets
        .iter()
        .enumerate()
        .map(|(i, after)| {
            let before = honest.buckets.get(i).map(|b| &b.paid);
            let label = buckets.get(i).map(label).unwrap_or_default();
            figures(
                Some(i + 1),
                label,
                after.amount,
                before,
                &after.paid,
                &attackers_sorted,
                &honest_members,
            )
        })
        .collect();
    let total = figures(
        None,
        "total".to_owned(),
        attacked.income,
        Some(&honest.payouts),
        &attacked.payouts,
        &attackers_sorted,
        &honest_members,
    );
    Measure {
        buckets: per_bucket,
        total,
    }
}

/// The figures of one bucket (or of the payouts as a whole).
fn figures(
    bucket: Option<usize>,
    label: String,
    amount: u64,
    before: Option<&BTreeMap<String, u64>>,
    after: &BTreeMap<String, u64>,
    attackers: &[&str],
    honest: &[&str],
) -> BucketMeasure {
    let paid = |map: Option<&BTreeMap<String, u64>>, m: &str| -> u64 {
        map.and_then(|p| p.get(m)).copied().unwrap_or(0)
    };
    // Sums of payouts of one report never exceed its income (≤ 10^15), so
    // they and their differences fit in i64.
    let captured: u64 = attackers.iter().map(|m| paid(Some(after), m)).sum();
    let honest_run: u64 = attackers.iter().map(|m| paid(before, m)).sum();
    let mut largest_loss: Option<Loss> = None;
    let mut losses: u64 = 0;
    let mut change: i64 = 0;
    for m in honest {
        let was = paid(before, m);
        let now = paid(Some(after), m);
        change += now as i64 - was as i64;
        if now < was {
            let lost = was - now;
            losses += lost;
            if largest_loss.as_ref().is_none_or(|l| lost > l.amount) {
                largest_loss = Some(Loss {
                    member: (*m).to_owned(),
                    amount: lost,
                    of_honest_ppm: ppm_of(lost, was),
                });
            }
        }
    }
    BucketMeasure {
        bucket,
        label,
        amount,
        captured,
        captured_ppm: ppm_of(captured, amount).unwrap_or(0),
        honest_run,
        gain: captured as i64 - honest_run as i64,
        largest_loss,
        mean_loss: losses.checked_div(honest.len() as u64).unwrap_or(0),
        honest_change: change,
    }
}

/// `part / whole` in ppm, rounded down; `None` when `whole` is 0.
fn ppm_of(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| {
        let ppm = u128::from(part) * u128::from(PPM) / u128::from(whole);
        u64::try_from(ppm).unwrap_or(u64::MAX)
    })
}

/// A bucket in a few words: `fixed commons`, `reimburse expense, money`,
/// `shares work`, `allocation give`.
pub fn label(bucket: &Bucket) -> String {
    let kinds = |kinds: &[crate::scoring::Kind]| {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match bucket {
        Bucket::Fixed { recipient, .. } => format!("fixed {recipient}"),
        Bucket::Reimburse { kinds: k, .. } => format!("reimburse {}", kinds(k)),
        Bucket::Shares { kinds: k, .. } => format!("shares {}", kinds(k)),
        Bucket::Allocation { mechanism, .. } => format!("allocation {}", mechanism.as_str()),
    }
}
