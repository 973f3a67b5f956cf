//! The collusion signals of the report (§6.1): traces that collusion in
//! peer review tends to leave, for the members to look at.
//!
//! Signals are informational: they are computed after the money and change
//! no validity, weight, point or payout. Each looks at the period only
//! (contributions dated in `[start, end)`, valid or not; the standing
//! evaluations, self-evaluations ignored; the standing allocations as
//! recorded, before the trust gate). Every comparison is in exact integers.
//!
//! Cost: every pass is linear in the evaluations and allocations, plus a
//! sort of each evaluator's (or giver's) own entries and a binary search per
//! pair, so O(n log n) overall: no pass is quadratic in members or
//! evaluations.

use std::collections::BTreeMap;

use serde::Serialize;

use super::input::Verdict;
use super::policy::SignalThresholds;
use super::review::Reviewed;
use super::validate::Prepared;

/// What kind of trace a [`Signal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A set of members whose in-period work only they approve.
    ClosedApprovalRing,
    /// Two members whose allocations give each other a large percent.
    GiveReciprocity,
    /// Two members who rate each other well above what others give them.
    ReciprocalRatings,
    /// A member whose approved work fails the trust rule.
    UntrustedApprovals,
}

impl SignalKind {
    /// The word in the report (the variants are declared in bytewise order
    /// of these words, so the derived order is the spec's).
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::ClosedApprovalRing => "closed_approval_ring",
            SignalKind::GiveReciprocity => "give_reciprocity",
            SignalKind::ReciprocalRatings => "reciprocal_ratings",
            SignalKind::UntrustedApprovals => "untrusted_approvals",
        }
    }
}

/// One collusion signal: `{"kind", "members", "detail"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    /// What was found.
    pub kind: SignalKind,
    /// The members concerned, sorted bytewise.
    pub members: Vec<String>,
    /// The integers behind it (names as in SCORING.md §6.1).
    pub detail: BTreeMap<String, u64>,
}

/// A signal before member ids are filled in: members are member indices,
/// sorted (index order is bytewise id order).
struct Found {
    kind: SignalKind,
    members: Vec<u32>,
    detail: Vec<(&'static str, u64)>,
}

/// Every signal of the period, sorted by kind, then by members (as lists,
/// id by id).
pub(crate) fn signals(prepared: &Prepared<'_>, reviewed: &Reviewed) -> Vec<Signal> {
    let input = prepared.input;
    let policy = &input.policy.policy;
    let thresholds = policy.signals;
    let (start, end) = (input.period.start, input.period.end);
    let in_period: Vec<bool> = prepared
        .at
        .iter()
        .map(|&at| start <= at && at < end)
        .collect();

    let mut found = Vec::new();
    reciprocal_ratings(prepared, reviewed, &in_period, &thresholds, &mut found);
    closed_approval_rings(prepared, reviewed, &in_period, &mut found);
    give_reciprocity(prepared, &thresholds, &mut found);
    if reviewed.trust.is_some() && policy.validation.min_approvals >= 1 {
        untrusted_approvals(prepared, reviewed, &in_period, &mut found);
    }
    found.sort_by(|a, b| (a.kind, &a.members).cmp(&(b.kind, &b.members)));
    found
        .into_iter()
        .map(|signal| Signal {
            kind: signal.kind,
            members: signal
                .members
                .iter()
                .map(|&m| prepared.members[m as usize].to_owned())
                .collect(),
            detail: signal
                .detail
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        })
        .collect()
}

/// Groups `(key, value)` pairs by key with a counting sort (stable, linear):
/// returns the starts of each key's group (`keys + 1` of them) and the
/// values in group order.
fn group_by_key(keys: usize, pairs: &[(u32, u32)]) -> (Vec<usize>, Vec<u32>) {
    let mut starts = vec![0usize; keys + 1];
    for &(key, _) in pairs {
        starts[key as usize + 1] += 1;
    }
    for k in 0..keys {
        starts[k + 1] += starts[k];
    }
    let mut cursor = starts.clone();
    let mut values = vec![0u32; pairs.len()];
    for &(key, value) in pairs {
        let next = &mut cursor[key as usize];
        values[*next] = value;
        *next += 1;
    }
    (starts, values)
}

/// [`group_by_key`] with each group sorted by `member_of(value)` (a member
/// index below `keys`): a stable counting sort by that member, then one by
/// key (a two-digit radix sort), so linear where a sort per group is not.
fn group_sorted(
    keys: usize,
    pairs: &[(u32, u32)],
    member_of: impl Fn(u32) -> u32,
) -> (Vec<usize>, Vec<u32>) {
    let mut cursor = vec![0usize; keys + 1];
    for &(_, value) in pairs {
        cursor[member_of(value) as usize + 1] += 1;
    }
    for k in 0..keys {
        cursor[k + 1] += cursor[k];
    }
    let mut by_member = vec![(0u32, 0u32); pairs.len()];
    for &pair in pairs {
        let next = &mut cursor[member_of(pair.1) as usize];
        by_member[*next] = pair;
        *next += 1;
    }
    group_by_key(keys, &by_member)
}

/// Sum and count of ratings.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    sum: u64,
    count: u64,
}

/// `reciprocal_ratings`: pairs who rate each other's in-period work well
/// above what everyone else gives it.
fn reciprocal_ratings(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    in_period: &[bool],
    thresholds: &SignalThresholds,
    found: &mut Vec<Found>,
) {
    let members = prepared.member_count();
    // Per member: the ratings their in-period contributions received.
    let mut received = vec![Tally::default(); members];
    // (rater, rated member << 7 | rating): rating ≤ 100 < 2^7, and member
    // indices < 10^7 < 2^24, so the packing fits u32.
    let mut ratings: Vec<(u32, u32)> = Vec::new();
    for (c, &counted) in in_period.iter().enumerate() {
        if !counted {
            continue;
        }
        let rated = prepared.contribution_member[c];
        for evaluation in reviewed.standing_of(c) {
            if let Some(rating) = evaluation.rating {
                let tally = &mut received[rated as usize];
                tally.sum += u64::from(rating);
                tally.count += 1;
                ratings.push((evaluation.evaluator, rated << 7 | u32::from(rating)));
            }
        }
    }
    if ratings.is_empty() {
        return;
    }
    // Each rater's ratings sorted by rated member, then folded into one
    // (rated, sum, count) per pair: pairs[starts[x]..starts[x + 1]] are x's.
    let (starts, packed) = group_sorted(members, &ratings, |entry| entry >> 7);
    drop(ratings);
    let mut pairs: Vec<(u32, Tally)> = Vec::new();
    let mut pair_starts = vec![0usize; members + 1];
    for x in 0..members {
        for &entry in &packed[starts[x]..starts[x + 1]] {
            let (rated, rating) = (entry >> 7, u64::from(entry & 0x7f));
            let own_last = pairs.len() > pair_starts[x];
            match pairs.last_mut() {
                Some((last, tally)) if own_last && *last == rated => {
                    tally.sum += rating;
                    tally.count += 1;
                }
                _ => pairs.push((
                    rated,
                    Tally {
                        sum: rating,
                        count: 1,
                    },
                )),
            }
        }
        pair_starts[x + 1] = pairs.len();
    }
    let of = |x: usize, y: u32| -> Option<Tally> {
        let group = &pairs[pair_starts[x]..pair_starts[x + 1]];
        group
            .binary_search_by_key(&y, |&(rated, _)| rated)
            .ok()
            .map(|k| group[k].1)
    };
    // Does x's rating of y pass, given y's ratings from everyone?
    let passes = |given: Tally, all: Tally| -> bool {
        let others_sum = u128::from(all.sum - given.sum);
        let others_count = u128::from(all.count - given.count);
        let (s, c) = (u128::from(given.sum), u128::from(given.count));
        if others_count >= 1 {
            s * others_count
                >= (others_sum + u128::from(thresholds.reciprocity_margin) * others_count) * c
        } else {
            s >= u128::from(thresholds.reciprocity_solo_min) * c
        }
    };
    for a in 0..members {
        for &(b, a_rates_b) in &pairs[pair_starts[a]..pair_starts[a + 1]] {
            if (b as usize) <= a {
                continue;
            }
            let Some(b_rates_a) = of(b as usize, a as u32) else {
                continue;
            };
            let (all_a, all_b) = (received[a], received[b as usize]);
            if passes(a_rates_b, all_b) && passes(b_rates_a, all_a) {
                found.push(Found {
                    kind: SignalKind::ReciprocalRatings,
                    members: vec![a as u32, b],
                    detail: vec![
                        ("a_rates_b_sum", a_rates_b.sum),
                        ("a_rates_b_count", a_rates_b.count),
                        ("b_rates_a_sum", b_rates_a.sum),
                        ("b_rates_a_count", b_rates_a.count),
                        ("others_rate_a_sum", all_a.sum - b_rates_a.sum),
                        ("others_rate_a_count", all_a.count - b_rates_a.count),
                        ("others_rate_b_sum", all_b.sum - a_rates_b.sum),
                        ("others_rate_b_count", all_b.count - a_rates_b.count),
                    ],
                });
            }
        }
    }
}

/// `closed_approval_ring`: strongly connected components of the approval
/// graph (i → j when i approves in-period work of j) that nobody outside
/// approves into, holding at most half of the approved members.
fn closed_approval_rings(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    in_period: &[bool],
    found: &mut Vec<Found>,
) {
    let members = prepared.member_count();
    // Per member: standing approvals of their in-period contributions, and
    // how many of those contributions have at least one.
    let mut approvals = vec![0u64; members];
    let mut approved_contributions = vec![0u64; members];
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for (c, &counted) in in_period.iter().enumerate() {
        if !counted {
            continue;
        }
        let owner = prepared.contribution_member[c];
        let before = edges.len();
        for evaluation in reviewed.standing_of(c) {
            if evaluation.verdict == Verdict::Approve {
                edges.push((evaluation.evaluator, owner));
            }
        }
        let added = (edges.len() - before) as u64;
        if added > 0 {
            approvals[owner as usize] += added;
            approved_contributions[owner as usize] += 1;
        }
    }
    if edges.is_empty() {
        return;
    }
    // Adjacency lists, each sorted and without repeats.
    let (starts, targets) = group_sorted(members, &edges, |j| j);
    drop(edges);
    let mut adjacency_starts = vec![0usize; members + 1];
    let mut adjacency = Vec::with_capacity(targets.len());
    for i in 0..members {
        let group = &targets[starts[i]..starts[i + 1]];
        let mut previous = None;
        for &j in group.iter() {
            if previous != Some(j) {
                adjacency.push(j);
                previous = Some(j);
            }
        }
        adjacency_starts[i + 1] = adjacency.len();
    }
    drop(targets);
    let successors = |i: usize| &adjacency[adjacency_starts[i]..adjacency_starts[i + 1]];
    let component = strongly_connected_components(members, successors);

    let approved_members = approvals.iter().filter(|&&a| a > 0).count();
    // Per component: its size, and whether an edge from outside ends in it.
    let components = component.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let mut size = vec![0usize; components];
    let mut entered = vec![false; components];
    for i in 0..members {
        size[component[i] as usize] += 1;
        for &j in successors(i) {
            if component[j as usize] != component[i] {
                entered[component[j as usize] as usize] = true;
            }
        }
    }
    let mut rings: Vec<Vec<u32>> = vec![Vec::new(); components];
    for (i, &c) in component.iter().enumerate() {
        let c = c as usize;
        if size[c] >= 2 && !entered[c] && 2 * size[c] <= approved_members {
            rings[c].push(i as u32);
        }
    }
    for ring in rings.into_iter().filter(|ring| !ring.is_empty()) {
        let detail = vec![
            (
                "approvals",
                ring.iter().map(|&m| approvals[m as usize]).sum(),
            ),
            (
                "contributions",
                ring.iter()
                    .map(|&m| approved_contributions[m as usize])
                    .sum(),
            ),
        ];
        found.push(Found {
            kind: SignalKind::ClosedApprovalRing,
            members: ring,
            detail,
        });
    }
}

/// Tarjan's strongly connected components, iteratively (no recursion, so
/// no stack overflow on a long chain): the component number of each node.
fn strongly_connected_components<'a>(
    nodes: usize,
    successors: impl Fn(usize) -> &'a [u32],
) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; nodes];
    let mut low = vec![0u32; nodes];
    let mut on_stack = vec![false; nodes];
    let mut component = vec![UNSEEN; nodes];
    let mut stack: Vec<u32> = Vec::new();
    // (node, position of the next successor to look at)
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut next_component = 0u32;
    for root in 0..nodes {
        if index[root] != UNSEEN {
            continue;
        }
        calls.push((root as u32, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut position)) = calls.last_mut() {
            let v = v as usize;
            let next = successors(v).get(*position).copied();
            if let Some(w) = next {
                *position += 1;
                let w = w as usize;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let parent = parent as usize;
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component[w as usize] = next_component;
                    if w as usize == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// `give_reciprocity`: pairs whose standing allocations give each other at
/// least `give_reciprocity_min` percent.
fn give_reciprocity(
    prepared: &Prepared<'_>,
    thresholds: &SignalThresholds,
    found: &mut Vec<Found>,
) {
    let standing = super::allocation::standing(prepared);
    let minimum = thresholds.give_reciprocity_min;
    for (a, to) in standing.iter().enumerate() {
        let Some(to) = to else { continue };
        for &(b, a_gives_b) in to.iter() {
            if (b as usize) <= a || a_gives_b < minimum {
                continue;
            }
            // Receivers are in id order, so a binary search finds a.
            let b_gives_a = standing[b as usize].and_then(|back| {
                back.binary_search_by_key(&(a as u32), |&(member, _)| member)
                    .ok()
                    .map(|k| back[k].1)
            });
            if let Some(b_gives_a) = b_gives_a
                && b_gives_a >= minimum
            {
                found.push(Found {
                    kind: SignalKind::GiveReciprocity,
                    members: vec![a as u32, b],
                    detail: vec![("a_gives_b", a_gives_b), ("b_gives_a", b_gives_a)],
                });
            }
        }
    }
}

/// `untrusted_approvals`: members with in-period contributions approved
/// often enough that fail the trust rule.
fn untrusted_approvals(
    prepared: &Prepared<'_>,
    reviewed: &Reviewed,
    in_period: &[bool],
    found: &mut Vec<Found>,
) {
    let mut count = vec![0u64; prepared.member_count()];
    for (c, review) in reviewed.reviews.iter().enumerate() {
        if review.untrusted && in_period[c] {
            count[prepared.contribution_member[c] as usize] += 1;
        }
    }
    for (m, &contributions) in count.iter().enumerate() {
        if contributions > 0 {
            found.push(Found {
                kind: SignalKind::UntrustedApprovals,
                members: vec![m as u32],
                detail: vec![("contributions", contributions)],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn components(edges: &[(u32, u32)], nodes: usize) -> Vec<u32> {
        let (starts, mut targets) = group_by_key(nodes, edges);
        for i in 0..nodes {
            targets[starts[i]..starts[i + 1]].sort_unstable();
        }
        strongly_connected_components(nodes, |i| &targets[starts[i]..starts[i + 1]])
    }

    #[test]
    fn tarjan_finds_cycles_and_leaves_chains_apart() {
        // 0 → 1 → 2 → 0 is one component; 3 → 4 a chain; 5 alone.
        let c = components(&[(0, 1), (1, 2), (2, 0), (2, 3), (3, 4)], 6);
        assert_eq!(c[0], c[1]);
        assert_eq!(c[1], c[2]);
        assert_ne!(c[2], c[3]);
        assert_ne!(c[3], c[4]);
        assert_ne!(c[4], c[5]);
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let n = 200_000u32;
        let edges: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).chain([(n - 1, 0)]).collect();
        let c = components(&edges, n as usize);
        assert!(c.iter().all(|&x| x == c[0]));
    }

    #[test]
    fn groups_come_sorted_by_member() {
        let pairs = [(1, 7), (0, 3), (1, 2), (0, 9), (1, 2), (2, 0), (0, 1)];
        let (starts, values) = group_sorted(10, &pairs, |v| v);
        assert_eq!(&starts[..4], &[0, 3, 6, 7]);
        assert_eq!(values, [1, 3, 9, 2, 2, 7, 0]);
    }

    #[test]
    fn kinds_sort_bytewise() {
        let kinds = [
            SignalKind::ClosedApprovalRing,
            SignalKind::GiveReciprocity,
            SignalKind::ReciprocalRatings,
            SignalKind::UntrustedApprovals,
        ];
        assert!(kinds.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    }
}
