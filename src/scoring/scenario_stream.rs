//! The one-pass scenario reader: bytes straight into [`ScoringInput`].
//!
//! A scenario of a million contributions is some 200 MB of JSON. Reading it
//! into the [`Json`] tree first (what the reference reader in `scenario.rs`
//! does, to name the field of every refusal) costs seconds and gigabytes,
//! so the big arrays (`members`, `contributions`, `evaluations`) are read
//! here by typed serde visitors straight into their Rust values, with no
//! tree. The small parts (`policy`, `distribution`, `allocations` and the
//! prior amounts) still go through the tree and the reference code, so
//! they are read by the very same rules.
//!
//! This reader only ever *accepts*: on anything it does not like (a syntax
//! error, a duplicate or unknown key, a null where a value is required, a
//! value out of range...) it gives up and says so with `None`, and the
//! caller runs the reference reader, which refuses with exactly the message
//! it always gave. What it accepts, it reads to the value the reference
//! reader reads (the scenario fuzz target checks that equality), so the
//! fast path changes no result and no refusal, only the time they take.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::input::{Contribution, Evaluation, PriorPayout, PriorRepayment, Verdict};
use super::json::Json;
use super::kind::Kind;
use super::limits::MAX_AMOUNT;
use super::time::parse_rfc3339;

/// The small, policy-shaped parts of a scenario that a caller may rewrite
/// before they are read (the CLI converts friendly units in them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The `policy` object.
    Policy,
    /// The `distribution` object.
    Distribution,
}

/// A scenario's top level as read in one pass: the big arrays typed, the
/// small parts as tree or raw text for the reference code.
pub(crate) struct Parts<'a> {
    /// `policy`, raw (absent or null: `None`).
    pub(crate) policy: Option<&'a str>,
    pub(crate) members: Vec<String>,
    pub(crate) contributions: Vec<Contribution>,
    pub(crate) evaluations: Vec<Evaluation>,
    /// `allocations`: small maps, read as a tree by the reference code
    /// (`Json::Null` when absent).
    pub(crate) allocations: Json,
    pub(crate) prior_repayments: Vec<PriorRepayment>,
    pub(crate) prior_payouts: Vec<PriorPayout>,
    /// `distribution`, raw.
    pub(crate) distribution: &'a str,
}

/// Why the fast path gave up; never shown (the reference reader then says
/// what is wrong), only carried through serde.
#[derive(Debug)]
struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the reference reader")
    }
}

/// Reads the top level of a scenario, or `None` when the reference reader
/// must look at it.
pub(crate) fn read(bytes: &[u8]) -> Option<Parts<'_>> {
    // UTF-8 checked once for the whole file (fast, in bulk), so serde_json
    // reads from a `str` and skips the check string by string.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parts = deserializer.deserialize_map(RootVisitor).ok()?;
    // Trailing garbage after the document is a syntax error.
    deserializer.end().ok()?;
    Some(parts)
}

const ROOT_KEYS: &[&str] = &[
    "policy",
    "members",
    "contributions",
    "evaluations",
    "allocations",
    "prior_repayments",
    "prior_payouts",
    "distribution",
    "about",
    "expected",
];

/// Reads an object key as its index in `names`; unknown keys give up.
struct KeySeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a known key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|name| *name == key)
            .ok_or_else(|| E::custom(GiveUp))
    }
}

/// Marks key `index` as seen; a repeated key gives up (the reference reader
/// refuses it naming the object).
fn first_time<E: de::Error>(seen: &mut u32, index: usize) -> Result<(), E> {
    let bit = 1u32 << index;
    if *seen & bit != 0 {
        return Err(E::custom(GiveUp));
    }
    *seen |= bit;
    Ok(())
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Parts<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scenario object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts<'de>, A::Error> {
        let mut seen = 0u32;
        let mut policy = None;
        let mut members = None;
        let mut contributions = Vec::new();
        let mut evaluations = Vec::new();
        let mut allocations = Json::Null;
        let mut prior_repayments = Vec::new();
        let mut prior_payouts = Vec::new();
        let mut distribution = None;
        while let Some(key) = map.next_key_seed(KeySeed(ROOT_KEYS))? {
            first_time(&mut seen, key)?;
            match key {
                0 => {
                    let raw: &'de RawValue = map.next_value()?;
                    policy = Some(raw.get()).filter(|text| *text != "null");
                }
                1 => members = Some(map.next_value::<Vec<String>>()?),
                2 => contributions = map.next_value_seed(ListSeed(ContributionSeed))?,
                3 => evaluations = map.next_value_seed(ListSeed(EvaluationSeed))?,
                4 => allocations = map.next_value()?,
                5 => {
                    prior_repayments = map
                        .next_value_seed(ListSeed(PriorSeed(&["contribution", "amount"])))?
                        .into_iter()
                        .map(|(contribution, amount)| PriorRepayment {
                            contribution,
                            amount,
                        })
                        .collect();
                }
                6 => {
                    prior_payouts = map
                        .next_value_seed(ListSeed(PriorSeed(&["recipient", "amount"])))?
                        .into_iter()
                        .map(|(recipient, amount)| PriorPayout { recipient, amount })
                        .collect();
                }
                7 => {
                    let raw: &'de RawValue = map.next_value()?;
                    distribution = Some(raw.get());
                }
                // `about` and `expected`: read (so a syntax error in them
                // is still one) and ignored.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(members), Some(distribution)) = (members, distribution) else {
            return Err(de::Error::custom(GiveUp));
        };
        Ok(Parts {
            policy,
            members,
            contributions,
            evaluations,
            allocations,
            prior_repayments,
            prior_payouts,
            distribution,
        })
    }
}

/// An optional array (null or absent: empty) of elements read by `T`.
struct ListSeed<T>(T);

impl<'de, T: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for ListSeed<T> {
    type Value = Vec<T::Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: DeserializeSeed<'de> + Copy> Visitor<'de> for ListSeed<T> {
    type Value = Vec<T::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.0)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// An integer in `0..=max` (anything else gives up).
fn bounded<'de, A: MapAccess<'de>>(map: &mut A, max: u64) -> Result<u64, A::Error> {
    let n: u64 = map.next_value()?;
    if n > max {
        return Err(de::Error::custom(GiveUp));
    }
    Ok(n)
}

/// A string read without keeping it, turned into `T` by `read` (a time, a
/// kind, a verdict); `None` from `read` gives up.
#[derive(Clone, Copy)]
struct WordSeed<T>(fn(&str) -> Option<T>);

impl<'de, T> DeserializeSeed<'de> for WordSeed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, T> Visitor<'de> for WordSeed<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).ok_or_else(|| E::custom(GiveUp))
    }
}

fn time(text: &str) -> Option<i64> {
    parse_rfc3339(text).ok()
}

fn verdict(text: &str) -> Option<Verdict> {
    match text {
        "approve" => Some(Verdict::Approve),
        "flag" => Some(Verdict::Flag),
        _ => None,
    }
}

const CONTRIBUTION_KEYS: &[&str] = &["id", "member", "kind", "quantity", "rate", "tags", "at"];

/// One element of `contributions`.
#[derive(Clone, Copy)]
struct ContributionSeed;

impl<'de> DeserializeSeed<'de> for ContributionSeed {
    type Value = Contribution;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Contribution, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ContributionSeed {
    type Value = Contribution;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a contribution")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Contribution, A::Error> {
        let mut seen = 0u32;
        let (mut id, mut member, mut kind, mut quantity, mut at) = (None, None, None, None, None);
        let mut rate = None;
        let mut tags = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed(CONTRIBUTION_KEYS))? {
            first_time(&mut seen, key)?;
            match key {
                0 => id = Some(map.next_value::<String>()?),
                1 => member = Some(map.next_value::<String>()?),
                2 => kind = Some(map.next_value_seed(WordSeed(Kind::from_word))?),
                3 => quantity = Some(bounded(&mut map, MAX_AMOUNT)?),
                4 => {
                    rate = map.next_value::<Option<u64>>()?;
                    if rate.is_some_and(|r| r > MAX_AMOUNT) {
                        return Err(de::Error::custom(GiveUp));
                    }
                }
                5 => tags = map.next_value::<Option<Vec<String>>>()?.unwrap_or_default(),
                _ => at = Some(map.next_value_seed(WordSeed(time))?),
            }
        }
        let (Some(id), Some(member), Some(kind), Some(quantity), Some(at)) =
            (id, member, kind, quantity, at)
        else {
            return Err(de::Error::custom(GiveUp));
        };
        Ok(Contribution {
            id,
            member,
            kind,
            quantity,
            rate,
            tags,
            at,
        })
    }
}

const EVALUATION_KEYS: &[&str] = &["contribution", "evaluator", "verdict", "rating"];

/// One element of `evaluations`.
#[derive(Clone, Copy)]
struct EvaluationSeed;

impl<'de> DeserializeSeed<'de> for EvaluationSeed {
    type Value = Evaluation;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Evaluation, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EvaluationSeed {
    type Value = Evaluation;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evaluation")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Evaluation, A::Error> {
        let mut seen = 0u32;
        let (mut contribution, mut evaluator, mut verdict_read) = (None, None, None);
        let mut rating = None;
        while let Some(key) = map.next_key_seed(KeySeed(EVALUATION_KEYS))? {
            first_time(&mut seen, key)?;
            match key {
                0 => contribution = Some(map.next_value::<String>()?),
                1 => evaluator = Some(map.next_value::<String>()?),
                2 => verdict_read = Some(map.next_value_seed(WordSeed(verdict))?),
                _ => {
                    // At most 100, so it fits u8.
                    rating = match map.next_value::<Option<u64>>()? {
                        None => None,
                        Some(r) => Some(
                            u8::try_from(r)
                                .ok()
                                .filter(|r| *r <= 100)
                                .ok_or_else(|| <A::Error as de::Error>::custom(GiveUp))?,
                        ),
                    };
                }
            }
        }
        let (Some(contribution), Some(evaluator), Some(verdict)) =
            (contribution, evaluator, verdict_read)
        else {
            return Err(de::Error::custom(GiveUp));
        };
        Ok(Evaluation {
            contribution,
            evaluator,
            verdict,
            rating,
        })
    }
}

/// One element of `prior_repayments` or `prior_payouts`: an id under the
/// first key and an amount under the second (`amount`).
#[derive(Clone, Copy)]
struct PriorSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for PriorSeed {
    type Value = (String, u64);
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(String, u64), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PriorSeed {
    type Value = (String, u64);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a prior amount")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(String, u64), A::Error> {
        let mut seen = 0u32;
        let (mut id, mut amount) = (None, None);
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            first_time(&mut seen, key)?;
            match key {
                0 => id = Some(map.next_value::<String>()?),
                _ => amount = Some(bounded(&mut map, MAX_AMOUNT)?),
            }
        }
        match (id, amount) {
            (Some(id), Some(amount)) => Ok((id, amount)),
            _ => Err(de::Error::custom(GiveUp)),
        }
    }
}
