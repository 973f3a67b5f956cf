//! The adoption check of a policy: no contribution the ledger may accept
//! can, under this policy, be worth more than 10^15 or earn more than 10^18
//! points (DESIGN principle 8, "What the log accepts, the scoring core can
//! score").

use super::PolicyDocument;
use crate::scoring::error::Result;
use crate::scoring::json::Path;
use crate::scoring::kind::Kind;
use crate::scoring::limits::{MAX_POINTS, MAX_TAG_RATE, PPM, max_rate, max_value};

impl PolicyDocument {
    /// Refuses a policy under which a contribution within the ingestion
    /// bounds (the per-kind quantity and rate bounds of
    /// [`crate::scoring::limits`], which the ledger enforces on every entry,
    /// and at most `max_tags` tags) could pass a scoring limit, so that adopting it can
    /// never make an accepted log unscorable (DESIGN principle 8):
    ///
    /// - `default_rates[kind]` must be at most that kind's rate bound, and
    ///   `rates[tag]` (which values work, resource and use alike) at most
    ///   the smallest of theirs, so value(c) ≤ 10^15 whatever rate resolves;
    /// - for every kind, the most a contribution can be worth times the
    ///   kind multiplier times the `max_tags` largest tag multipliers (at
    ///   full quality and no decay, which only lower points) must stay
    ///   within 10^18 points (§3).
    ///
    /// Fields are named as in a policy document (`default_rates.work`,
    /// `tag_multiplier_ppm`). The live log calls this when a policy is
    /// adopted; `score --scenario` may call it to warn about a draft.
    pub fn check_scorable(&self, max_tags: usize) -> Result<()> {
        let policy = &self.policy;
        let root = Path::Root("");
        for (kind, &rate) in &policy.default_rates {
            if let Some(max) = max_rate(*kind)
                && rate > max
            {
                return Err(root.key("default_rates").key(kind.as_str()).err(format!(
                    "{rate} is more than a {kind} rate may be ({max}): the most one {kind} entry \
                     may log would be worth more than 10^15 minor units, which the scoring \
                     core refuses; lower it"
                )));
            }
        }
        for (tag, &rate) in &policy.rates {
            if rate > MAX_TAG_RATE {
                return Err(root.key("rates").key(tag).err(format!(
                    "{rate} is more than a tag's rate may be ({MAX_TAG_RATE}): it values work, \
                     resource and use entries alike, and the most one of them may log would be \
                     worth more than 10^15 minor units, which the scoring core refuses; lower it"
                )));
            }
        }
        // Tags that raise points, largest first: a contribution carries each
        // tag at most once, so the worst it can do is carry the `max_tags`
        // largest. Multipliers of at most 10^6 never raise points.
        let mut raising: Vec<u64> = policy
            .tag_multiplier_ppm
            .values()
            .copied()
            .filter(|&ppm| ppm > PPM)
            .collect();
        raising.sort_unstable_by(|a, b| b.cmp(a));
        raising.truncate(max_tags);
        for kind in Kind::ALL {
            let kind_ppm = policy
                .kind_multiplier_ppm
                .get(&kind)
                .copied()
                .unwrap_or(PPM);
            // Step 2 exactly as §3 computes it: points only grow with the
            // value, so the most valuable contribution is the worst case.
            let mut points = u128::from(max_value(kind)) * u128::from(kind_ppm) / u128::from(PPM);
            if points > MAX_POINTS {
                return Err(root
                    .key("kind_multiplier_ppm")
                    .key(kind.as_str())
                    .err(format!(
                        "{kind_ppm} ppm would let a {kind} contribution worth {} minor units (the \
                     most one may be worth) earn more than 10^18 points; lower it",
                        max_value(kind)
                    )));
            }
            // Step 3 rounded up instead of down: an upper bound on every
            // order and subset of these tags (the floors of §3 only lower
            // it), so nothing accepted here can pass the limit. Below 10^18
            // times at most 10^9, the products fit u128.
            for &ppm in &raising {
                points = (points * u128::from(ppm)).div_ceil(u128::from(PPM));
                if points > MAX_POINTS {
                    return Err(root.key("tag_multiplier_ppm").err(format!(
                        "with up to {max_tags} tags a {kind} contribution could earn more than \
                         10^18 points (its value of at most {} minor units × \
                         kind_multiplier_ppm.{kind} × its tags' multipliers); lower the \
                         multipliers",
                        max_value(kind)
                    )));
                }
            }
        }
        Ok(())
    }
}
