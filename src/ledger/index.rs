//! The scoring index: what a preview scores, kept as numbers by the fold.
//!
//! The scoring core works on member and contribution numbers
//! (`scoring::indexed`); the state keeps contributions by id with handles
//! as strings. Turning the second into the first for a million
//! contributions (hex ids, handle clones, lookups) cost more than scoring
//! them, on every preview. So the fold also keeps this index up to date as
//! each entry lands: members by number (admission order), tags by number,
//! every contribution as a fixed-size row in log order, and every
//! evaluation as a row in log order, marked when a later one replaces it
//! or an amendment clears it. Undo takes each change back exactly, so a
//! folded-and-undone state equals the state before.
//!
//! Rows live in chunks of [`CHUNK`] behind `Arc`s: a preview shares the
//! index ([`ScoringIndex::share`]) under the state lock by cloning a few
//! hundred reference counts, and reads it after the lock is released; the
//! fold copies a chunk only when it writes to one a preview still holds
//! (the last chunk, as rows are appended: a few hundred kilobytes).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::pb;

/// Rows per chunk.
pub const CHUNK: usize = 4096;

/// Marks a reference to a member the state does not know (a client's view
/// folds only some entries; a server never makes one).
pub const NO_MEMBER: u32 = u32::MAX;

/// A log-ordered list in shared chunks: every chunk full but the last,
/// which is never empty (so equal contents are equal lists).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize + Clone",
    deserialize = "T: Deserialize<'de> + Clone"
))]
pub struct Chunked<T> {
    #[serde(
        serialize_with = "flat_serialize",
        deserialize_with = "flat_deserialize"
    )]
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row.
    pub fn push(&mut self, row: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(row),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(row);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    /// Removes the last row (undo).
    pub fn pop(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).pop();
            if last.is_empty() {
                self.chunks.pop();
            }
            self.len -= 1;
        }
    }

    /// Removes rows from the end until `len` remain (undo).
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            self.pop();
        }
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// Row `i`, to change (copying its chunk if a preview shares it).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        Arc::make_mut(self.chunks.get_mut(i / CHUNK)?).get_mut(i % CHUNK)
    }

    /// Every row in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

/// Serialises the chunks as one flat list (the chunking is not part of the
/// snapshot's format), its length first: postcard writes it ahead of the
/// rows and cannot take a sequence of unknown length.
fn flat_serialize<T: Serialize, S: serde::Serializer>(
    chunks: &[Arc<Vec<T>>],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(chunks.iter().map(|c| c.len()).sum()))?;
    for row in chunks.iter().flat_map(|c| c.iter()) {
        seq.serialize_element(row)?;
    }
    seq.end()
}

/// Reads the flat list [`flat_serialize`] wrote back into chunks.
fn flat_deserialize<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<Arc<Vec<T>>>, D::Error> {
    let rows: Vec<T> = Vec::deserialize(d)?;
    let mut chunks = Vec::with_capacity(rows.len().div_ceil(CHUNK));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunks.push(Arc::new(rows.by_ref().take(CHUNK).collect()));
    }
    Ok(chunks)
}

/// One contribution as the index holds it (its fields as last logged or
/// amended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRow {
    /// The entry id.
    pub id: [u8; 32],
    /// The contributor's member number, or [`NO_MEMBER`].
    pub member: u32,
    /// `pb::ContributionKind` as logged.
    pub kind: i32,
    /// Minutes, minor units or units.
    pub quantity: u64,
    /// Its own rate, if any.
    pub rate: Option<u64>,
    /// When, Unix seconds.
    pub at: i64,
    /// Where its tags start in [`ScoringIndex::tag_refs`].
    pub tags_start: u64,
    /// How many tags.
    pub tags_len: u32,
    /// Not retracted.
    pub live: bool,
}

/// One evaluation as the index holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRow {
    /// The contribution's row.
    pub contribution: u32,
    /// The evaluator's member number.
    pub evaluator: u32,
    /// A flag (else an approval).
    pub flag: bool,
    /// Quality in percent, as logged.
    pub rating: Option<u32>,
    /// Still standing: no later evaluation by the same evaluator replaced
    /// it and no amendment cleared it.
    pub standing: bool,
}

/// Members, tags, contributions and evaluations by number, kept by the fold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoringIndex {
    /// Handles by member number (admission order).
    pub(super) members: Arc<Vec<String>>,
    pub(super) member_numbers: HashMap<String, u32>,
    /// Tag names by tag number (first use order).
    pub(super) tag_names: Arc<Vec<String>>,
    pub(super) tag_numbers: HashMap<String, u32>,
    /// Every contribution's tags, as tag numbers, one run per row.
    pub(super) tag_refs: Chunked<u32>,
    /// Every contribution ever logged, log order.
    pub(super) contributions: Chunked<ContributionRow>,
    /// Every evaluation ever folded, log order.
    pub(super) evaluations: Chunked<EvaluationRow>,
}

/// The index shared with a preview: reference counts taken under the state
/// lock, read after it.
#[derive(Clone, Debug)]
pub struct SharedIndex {
    /// Handles by member number.
    pub members: Arc<Vec<String>>,
    /// Tag names by tag number.
    pub tag_names: Arc<Vec<String>>,
    /// Tags of every row.
    pub tag_refs: Chunked<u32>,
    /// Every contribution, log order.
    pub contributions: Chunked<ContributionRow>,
    /// Every evaluation, log order.
    pub evaluations: Chunked<EvaluationRow>,
}

/// How far the index reached before an entry, so undo can cut it back.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Mark {
    members: usize,
    tag_names: usize,
    tag_refs: usize,
    contributions: usize,
    evaluations: usize,
}

impl ScoringIndex {
    /// Shares the index with a preview (a few reference counts).
    pub fn share(&self) -> SharedIndex {
        SharedIndex {
            members: self.members.clone(),
            tag_names: self.tag_names.clone(),
            tag_refs: self.tag_refs.clone(),
            contributions: self.contributions.clone(),
            evaluations: self.evaluations.clone(),
        }
    }

    /// Where every list ends now.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            members: self.members.len(),
            tag_names: self.tag_names.len(),
            tag_refs: self.tag_refs.len(),
            contributions: self.contributions.len(),
            evaluations: self.evaluations.len(),
        }
    }

    /// Cuts every list back to `mark` (what was appended since goes).
    pub(super) fn cut(&mut self, mark: Mark) {
        if self.members.len() > mark.members {
            let members = Arc::make_mut(&mut self.members);
            for handle in members.drain(mark.members..) {
                self.member_numbers.remove(&handle);
            }
        }
        if self.tag_names.len() > mark.tag_names {
            let names = Arc::make_mut(&mut self.tag_names);
            for name in names.drain(mark.tag_names..) {
                self.tag_numbers.remove(&name);
            }
        }
        self.tag_refs.truncate(mark.tag_refs);
        self.contributions.truncate(mark.contributions);
        self.evaluations.truncate(mark.evaluations);
    }

    /// Numbers a newly admitted member.
    pub(super) fn add_member(&mut self, handle: &str) {
        if self.member_numbers.contains_key(handle) {
            return;
        }
        let number = self.members.len() as u32;
        Arc::make_mut(&mut self.members).push(handle.to_string());
        self.member_numbers.insert(handle.to_string(), number);
    }

    /// A member's number, or [`NO_MEMBER`].
    pub(super) fn member_number(&self, handle: &str) -> u32 {
        self.member_numbers
            .get(handle)
            .copied()
            .unwrap_or(NO_MEMBER)
    }

    /// Appends the tags of `fields` and returns the row they give.
    fn row_of(&mut self, id: [u8; 32], member: &str, fields: &pb::Contribution) -> ContributionRow {
        let tags_start = self.tag_refs.len() as u64;
        for tag in &fields.tags {
            let number = match self.tag_numbers.get(tag) {
                Some(&n) => n,
                None => {
                    let n = self.tag_names.len() as u32;
                    Arc::make_mut(&mut self.tag_names).push(tag.clone());
                    self.tag_numbers.insert(tag.clone(), n);
                    n
                }
            };
            self.tag_refs.push(number);
        }
        ContributionRow {
            id,
            member: self.member_number(member),
            kind: fields.kind,
            quantity: fields.quantity,
            rate: fields.rate,
            at: fields.at,
            tags_start,
            tags_len: fields.tags.len() as u32,
            live: true,
        }
    }

    /// Appends a newly logged contribution; returns its row number.
    pub(super) fn add_contribution(
        &mut self,
        id: [u8; 32],
        member: &str,
        fields: &pb::Contribution,
    ) -> u32 {
        let row = self.row_of(id, member, fields);
        let number = self.contributions.len() as u32;
        self.contributions.push(row);
        number
    }

    /// Replaces row `row`'s fields after an amendment (its tags appended
    /// anew) and clears the evaluations `cleared`.
    pub(super) fn amend(
        &mut self,
        row: u32,
        id: [u8; 32],
        member: &str,
        fields: &pb::Contribution,
        cleared: impl Iterator<Item = u32>,
    ) {
        let amended = self.row_of(id, member, fields);
        if let Some(r) = self.contributions.get_mut(row as usize) {
            *r = ContributionRow {
                live: r.live,
                ..amended
            };
        }
        for e in cleared {
            if let Some(e) = self.evaluations.get_mut(e as usize) {
                e.standing = false;
            }
        }
    }

    /// Sets row `row`'s liveness (retract, and its undo).
    pub(super) fn set_live(&mut self, row: u32, live: bool) {
        if let Some(r) = self.contributions.get_mut(row as usize) {
            r.live = live;
        }
    }

    /// Restores a row as it was (undoing an amendment) and marks the
    /// evaluations it had cleared as standing again.
    pub(super) fn restore(
        &mut self,
        row: u32,
        previous: ContributionRow,
        uncleared: impl Iterator<Item = u32>,
    ) {
        if let Some(r) = self.contributions.get_mut(row as usize) {
            *r = previous;
        }
        for e in uncleared {
            self.set_standing(e, true);
        }
    }

    /// Row `row` as it is.
    pub(super) fn contribution(&self, row: u32) -> Option<ContributionRow> {
        self.contributions.get(row as usize).copied()
    }

    /// Appends an evaluation of contribution row `contribution`; returns
    /// its row number.
    pub(super) fn add_evaluation(
        &mut self,
        contribution: u32,
        evaluator: &str,
        verdict: pb::Verdict,
        rating: Option<u32>,
    ) -> u32 {
        let number = self.evaluations.len() as u32;
        self.evaluations.push(EvaluationRow {
            contribution,
            evaluator: self.member_number(evaluator),
            flag: verdict == pb::Verdict::Flag,
            rating,
            standing: true,
        });
        number
    }

    /// Marks evaluation row `row` standing or replaced.
    pub(super) fn set_standing(&mut self, row: u32, standing: bool) {
        if let Some(e) = self.evaluations.get_mut(row as usize) {
            e.standing = standing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_lists_round_trip_and_undo_to_equal_lists() {
        let mut rows: Chunked<u32> = Chunked::default();
        for i in 0..(2 * CHUNK as u32 + 5) {
            rows.push(i);
        }
        let shared = rows.clone();
        let bytes = postcard::to_stdvec(&rows).expect("serialises");
        let back: Chunked<u32> = postcard::from_bytes(&bytes).expect("deserialises");
        assert_eq!(back, rows);
        assert_eq!(back.get(CHUNK + 1), Some(&(CHUNK as u32 + 1)));

        // A row changed while a preview shares the list: the preview keeps
        // what it took.
        if let Some(r) = rows.get_mut(3) {
            *r = 99;
        }
        assert_eq!(shared.get(3), Some(&3));
        assert_eq!(rows.get(3), Some(&99));

        let before = rows.clone();
        for i in 0..(CHUNK as u32) {
            rows.push(i);
        }
        rows.truncate(before.len());
        assert_eq!(rows, before);
        assert_eq!(rows.iter().count(), rows.len());
    }
}
