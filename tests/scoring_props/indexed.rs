//! The numbered entry into the core (`scoring::indexed::score_indexed`,
//! what a live preview uses) gives exactly what [`score`] gives for the
//! same input spelled with strings: the same report, or the same refusal.

use super::*;
use coopledger::scoring::indexed::{
    IndexedContribution, IndexedEvaluation, IndexedInput, score_indexed,
};

/// An owned numbered input (the core borrows it).
struct Numbered {
    frame: ScoringInput,
    members: Vec<String>,
    tag_names: Vec<String>,
    tag_refs: Vec<u32>,
    contributions: Vec<IndexedContribution>,
    evaluations: Vec<IndexedEvaluation>,
    prior_repayments: Vec<([u8; 32], u64)>,
}

impl Numbered {
    fn input(&self) -> IndexedInput<'_> {
        IndexedInput {
            frame: &self.frame,
            members: &self.members,
            tag_names: &self.tag_names,
            tag_refs: &self.tag_refs,
            contributions: &self.contributions,
            evaluations: &self.evaluations,
            prior_repayments: &self.prior_repayments,
        }
    }
}

/// The raw id of a scenario's contribution id.
fn raw_id(id: &str) -> [u8; 32] {
    *blake3::hash(id.as_bytes()).as_bytes()
}

/// `input` numbered: members in a shuffled order, tags numbered by first
/// use (with one the contributions never use), ids hashed to 32 bytes;
/// then one fault of `fault` (0: none).
fn numbered(input: &ScoringInput, seed: u64, fault: u8) -> Numbered {
    let members = shuffled(&input.members, seed);
    let number = |handle: &str| members.iter().position(|m| m == handle).unwrap() as u32;
    let mut tag_names = vec!["unused".to_owned()];
    let mut tag_refs = Vec::new();
    let mut contributions = Vec::new();
    for c in &input.contributions {
        let tags_start = tag_refs.len() as u32;
        for tag in &c.tags {
            let t = match tag_names.iter().position(|n| n == tag) {
                Some(t) => t,
                None => {
                    tag_names.push(tag.clone());
                    tag_names.len() - 1
                }
            };
            tag_refs.push(t as u32);
        }
        contributions.push(IndexedContribution {
            id: raw_id(&c.id),
            member: number(&c.member),
            kind: c.kind,
            quantity: c.quantity,
            rate: c.rate,
            at: c.at,
            tags_start,
            tags_len: c.tags.len() as u32,
        });
    }
    let position = |id: &str| input.contributions.iter().position(|c| c.id == id).unwrap() as u32;
    let mut evaluations: Vec<IndexedEvaluation> = input
        .evaluations
        .iter()
        .map(|e| IndexedEvaluation {
            contribution: position(&e.contribution),
            evaluator: number(&e.evaluator),
            verdict: e.verdict,
            rating: e.rating,
        })
        .collect();
    let mut prior_repayments: Vec<([u8; 32], u64)> = input
        .prior_repayments
        .iter()
        .map(|p| (raw_id(&p.contribution), p.amount))
        .collect();
    // A claim this input does not score: left out by both paths.
    prior_repayments.push((raw_id("not scored"), 5));
    let mut frame = input.clone();
    frame.members.clear();
    frame.contributions.clear();
    frame.evaluations.clear();
    frame.prior_repayments.clear();
    let mut members = members;
    match fault {
        1 if !evaluations.is_empty() => evaluations[0].rating = Some(101),
        2 if contributions.len() > 1 => contributions[1].id = contributions[0].id,
        3 if !contributions.is_empty() => contributions[0].member = 99,
        4 if !contributions.is_empty() => contributions[0].quantity = u64::MAX,
        5 if !contributions.is_empty() => contributions[0].at = i64::MAX,
        6 if !tag_refs.is_empty() => {
            let c = contributions.iter_mut().find(|c| c.tags_len > 0).unwrap();
            let t = tag_refs[c.tags_start as usize];
            c.tags_start = tag_refs.len() as u32;
            c.tags_len = 2;
            tag_refs.extend([t, t]);
        }
        7 => members.push(members[0].clone()),
        8 if !evaluations.is_empty() => evaluations[0].evaluator = 77,
        9 if !prior_repayments.is_empty() => prior_repayments[0].1 = u64::MAX,
        _ => {}
    }
    Numbered {
        frame,
        members,
        tag_names,
        tag_refs,
        contributions,
        evaluations,
        prior_repayments,
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn the_numbered_path_scores_what_the_string_path_scores(
        shape in shape(),
        seed in any::<u64>(),
        fault in 0u8..12,
    ) {
        let input = build(&shape);
        let numbered = numbered(&input, seed, fault);
        let strings = numbered.input().to_scoring_input();
        let by_strings = score(&strings);
        let by_numbers = score_indexed(&numbered.input());
        if let (Ok(a), Ok(b)) = (&by_strings, &by_numbers) {
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        prop_assert_eq!(by_strings, by_numbers);
    }
}

#[test]
fn hex_ids_sort_as_their_bytes() {
    use coopledger::scoring::indexed::hex_id;
    let mut raw: Vec<[u8; 32]> = (0u8..=255).map(|b| [b; 32]).collect();
    raw.push([0x0f; 32]);
    raw.push([0xf0; 32]);
    let mut by_text = raw.clone();
    by_text.sort_by_key(hex_id);
    raw.sort();
    assert_eq!(raw, by_text);
    assert_eq!(hex_id(&[0xab; 32]), "ab".repeat(32));
}
