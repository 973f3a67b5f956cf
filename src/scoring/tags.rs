//! The policy's tags, indexed once per scoring: every tag that has a rate,
//! a multiplier or both, so each tag of each contribution is looked up in
//! one small table and later steps (value, points, explanations) refer to a
//! policy tag by its index.

use super::ids::same_bytes;
use super::policy::Policy;

/// The policy's tags (every tag with a rate, a multiplier or both), sorted
/// bytewise, so each contribution tag is looked up once, in one small table,
/// and later steps refer to policy tags by index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PolicyTags {
    /// (tag, policy.rates[tag], policy.tag_multiplier_ppm[tag]).
    pub(crate) tags: Vec<(String, Option<u64>, Option<u64>)>,
}

impl PolicyTags {
    /// The tags of `policy`, sorted bytewise.
    pub(crate) fn new(policy: &Policy) -> PolicyTags {
        let mut tags: Vec<(String, Option<u64>, Option<u64>)> = policy
            .rates
            .iter()
            .map(|(tag, &rate)| (tag.clone(), Some(rate), None))
            .collect();
        for (tag, &ppm) in &policy.tag_multiplier_ppm {
            match tags.binary_search_by(|entry| entry.0.as_str().cmp(tag)) {
                Ok(position) => tags[position].2 = Some(ppm),
                Err(position) => tags.insert(position, (tag.clone(), None, Some(ppm))),
            }
        }
        PolicyTags { tags }
    }

    /// The index of `tag` among the policy's tags, if it has a rate or a
    /// multiplier.
    #[inline]
    pub(crate) fn find(&self, tag: &str) -> Option<usize> {
        // A policy names a handful of tags: comparing lengths first and then
        // the few candidates word by word beats a binary search of string
        // comparisons, which this is for every tag of every contribution.
        if self.tags.len() <= 16 {
            return self
                .tags
                .iter()
                .position(|entry| same_bytes(entry.0.as_bytes(), tag.as_bytes()));
        }
        self.tags
            .binary_search_by(|entry| entry.0.as_str().cmp(tag))
            .ok()
    }

    /// The name of policy tag `t`.
    pub(crate) fn name(&self, t: u32) -> &str {
        self.tags
            .get(t as usize)
            .map_or("", |entry| entry.0.as_str())
    }

    /// The multiplier of policy tag `t` (a tag listed as a contribution's
    /// multiplier always has one).
    pub(crate) fn multiplier(&self, t: u32) -> u64 {
        self.tags
            .get(t as usize)
            .and_then(|entry| entry.2)
            .unwrap_or(0)
    }
}
