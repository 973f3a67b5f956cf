//! "Did you mean": the closest known name to a typo, for refusals that name
//! a member, a key or an id nobody has.
//!
//! Bounded work: a refusal can come from anyone, and member lists run to
//! the member limit, so only names that share the typo's first character
//! are compared (most typos keep it), and at most [`MAX_COMPARED`] of them.

use std::collections::BTreeMap;

/// The most names compared for one suggestion.
pub const MAX_COMPARED: usize = 10_000;

/// The closest of `candidates` to `typo` by optimal string alignment
/// distance (an insertion, deletion, substitution or swap of neighbours
/// each count one), if it is close enough to be a typo of it: within 1 for
/// names up to 4 characters, within 2 for longer ones. Ties go to the
/// first candidate, so the answer is deterministic for a sorted input.
pub fn closest<'a>(typo: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = if typo.chars().count() <= 4 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates.into_iter().take(MAX_COMPARED) {
        if candidate == typo || candidate.len().abs_diff(typo.len()) > allowed {
            continue;
        }
        let d = strsim::osa_distance(typo, candidate);
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The closest member handle to `typo` among the handles of `members`
/// (keyed by handle) that start with the same character.
pub fn closest_handle<'a, V>(typo: &str, members: &'a BTreeMap<String, V>) -> Option<&'a str> {
    let first = typo.chars().next()?;
    let start = first.to_string();
    let same_first = members
        .range(start..)
        .map(|(h, _)| h.as_str())
        .take_while(|h| h.starts_with(first));
    closest(typo, same_first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_near_name_and_nothing_for_a_far_one() {
        let names = ["ana", "ben", "cai", "benedikt"];
        assert_eq!(closest("bne", names), Some("ben"));
        assert_eq!(closest("ben", names), None, "an exact name is no typo");
        assert_eq!(closest("zed", names), None);
        assert_eq!(closest("benedict", names), Some("benedikt"));
        assert_eq!(closest("bendikt", names), Some("benedikt"));
    }

    #[test]
    fn handles_share_the_first_character() {
        let members: BTreeMap<String, ()> = ["ana", "ben", "bob", "cai"]
            .into_iter()
            .map(|h| (h.to_string(), ()))
            .collect();
        assert_eq!(closest_handle("bne", &members), Some("ben"));
        assert_eq!(closest_handle("cia", &members), Some("cai"));
        assert_eq!(closest_handle("xen", &members), None);
        assert_eq!(closest_handle("", &members), None);
    }
}
