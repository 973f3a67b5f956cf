//! A strict JSON reader that names the field of every refusal.
//!
//! serde's derived deserialisers stop at the first problem with a message
//! like "invalid type at line 12 column 5". A treasurer needs
//! `distribution.buckets[1].percent_ppm: must be at most 1000000 ppm`, so
//! scenario files and policy documents are first read into the plain tree
//! [`Json`] and then walked by hand with a [`Path`] that renders the field
//! name only when something is wrong. The tree keeps objects as ordered
//! lists of entries, so a duplicate key (which serde_json would silently
//! resolve to the last one) is refused too.
//!
//! A large scenario's big arrays skip the tree (`scenario_stream` reads them
//! typed); whatever that reader does not accept comes back here, so every
//! refusal is still worded by this reader.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::{Result, ScoringError};

/// A JSON value, with objects kept in file order and duplicates kept so the
/// walker can refuse them with the field's path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A non-negative integer that fits u64.
    UInt(u64),
    /// A negative integer.
    NegInt(i64),
    /// Any other number (fractions, exponents, integers beyond u64).
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses bytes into the tree; syntax errors keep serde_json's line and
    /// column.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Json> {
        serde_json::from_slice(bytes).map_err(|e| ScoringError::Syntax {
            message: e.to_string(),
        })
    }

    /// A short description of the value's type, for "expected X, got Y".
    fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => format!("{b}"),
            Json::UInt(n) => format!("{n}"),
            Json::NegInt(n) => format!("{n}"),
            Json::Float(f) => format!("{f}"),
            Json::Str(s) if s.len() <= 40 => format!("{s:?}"),
            Json::Str(_) => "a long string".into(),
            Json::Array(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(if v >= 0 {
            Json::UInt(v.unsigned_abs())
        } else {
            Json::NegInt(v)
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Where a value sits in the document, rendered lazily as
/// `distribution.buckets[1].percent_ppm`. Built on the stack while walking,
/// so reading a million contributions allocates no path strings.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The document root, or a named prefix such as `policy`.
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }
    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
    /// A refusal of the value at this path.
    pub(crate) fn err(&self, rule: impl Into<String>) -> ScoringError {
        ScoringError::invalid(self, rule)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root("") => f.write_str("(document)"),
            Path::Root(name) => f.write_str(name),
            Path::Key(Path::Root(""), key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Reads an object's fields one by one, then refuses any field it did not
/// read (a typo such as `min_aprovals` must not be silently ignored).
pub(crate) struct ObjectReader<'a> {
    path: Path<'a>,
    entries: &'a [(String, Json)],
    used: Vec<bool>,
}

impl<'a> ObjectReader<'a> {
    /// Expects `value` to be an object without duplicate keys.
    pub(crate) fn new(value: &'a Json, path: Path<'a>) -> Result<Self> {
        let Json::Object(entries) = value else {
            return Err(path.err(format!("must be an object (got {})", value.describe())));
        };
        let mut seen = BTreeSet::new();
        for (key, _) in entries {
            if !seen.insert(key.as_str()) {
                return Err(path.err(format!("duplicate key {key:?}")));
            }
        }
        Ok(ObjectReader {
            path,
            entries,
            used: vec![false; entries.len()],
        })
    }

    /// The path of this object.
    pub(crate) fn path(&self) -> &Path<'a> {
        &self.path
    }

    /// The field `key`, if present and not null (null means absent, as most
    /// JSON writers emit it for a missing optional value).
    pub(crate) fn optional(&mut self, key: &str) -> Option<&'a Json> {
        let position = self.entries.iter().position(|(k, _)| k == key)?;
        self.used[position] = true;
        match &self.entries[position].1 {
            Json::Null => None,
            value => Some(value),
        }
    }

    /// The field `key`, refused when missing.
    pub(crate) fn required(&mut self, key: &str) -> Result<&'a Json> {
        self.optional(key)
            .ok_or_else(|| self.path.key(key).err("is required"))
    }

    /// Marks `key` as read without looking at it (`about`, `expected`).
    pub(crate) fn ignore(&mut self, key: &str) {
        let _ = self.optional(key);
    }

    /// Refuses the first field that was never read.
    pub(crate) fn finish(self, allowed: &str) -> Result<()> {
        match self.used.iter().position(|used| !used) {
            None => Ok(()),
            Some(position) => {
                let key = &self.entries[position].0;
                Err(self
                    .path
                    .key(key)
                    .err(format!("unknown field (expected one of: {allowed})")))
            }
        }
    }

    /// All entries, for objects used as maps (`rates`, `to`...).
    pub(crate) fn entries(&mut self) -> &'a [(String, Json)] {
        self.used.iter_mut().for_each(|used| *used = true);
        self.entries
    }
}

/// An unsigned integer in `0..=max`; `unit` is appended to the bound in the
/// message (" ppm", " minor units"...).
pub(crate) fn uint(value: &Json, path: &Path<'_>, max: u64, unit: &str) -> Result<u64> {
    match value {
        Json::UInt(n) if *n <= max => Ok(*n),
        Json::UInt(n) => Err(path.err(format!("must be at most {max}{unit} (got {n})"))),
        Json::NegInt(n) => Err(path.err(format!("must not be negative (got {n})"))),
        Json::Float(f) if *f < 0.0 => Err(path.err(format!("must not be negative (got {f})"))),
        // An integer too large for u64 (or written with an exponent).
        Json::Float(f) if f.fract() == 0.0 && *f > max as f64 => {
            Err(path.err(format!("must be at most {max}{unit} (got {f})")))
        }
        // `25.00` or `2.5`: say how to write it rather than a bound the
        // value is nowhere near.
        Json::Float(f) => Err(path.err(format!(
            "must be {} written without a decimal point or exponent (got {f:?})",
            integer_rule(max, unit)
        ))),
        other => Err(path.err(format!(
            "must be {} (got {})",
            integer_rule(max, unit),
            other.describe()
        ))),
    }
}

/// "an integer in 0..=max unit", or "an integer" when any u64 is read (the
/// range is then checked later, with a rule of its own).
fn integer_rule(max: u64, unit: &str) -> String {
    if max == u64::MAX {
        "an integer".to_owned()
    } else {
        format!("an integer in 0..={max}{unit}")
    }
}

/// Refuses JSON that is not well formed or that repeats a key in any of its
/// objects, naming the object (`buckets[1]: duplicate key "percent"`). A
/// reader that goes through `serde_json::Value` first (which keeps only the
/// last of two equal keys) calls this so that a repeated key is refused as
/// the scoring core refuses it, not silently resolved.
pub fn check_unique_keys(bytes: &[u8]) -> Result<()> {
    fn walk(value: &Json, path: &Path<'_>) -> Result<()> {
        match value {
            Json::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &path.index(index))?;
                }
            }
            Json::Object(entries) => {
                ObjectReader::new(value, *path)?;
                for (key, item) in entries {
                    walk(item, &path.key(key))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(&Json::parse(bytes)?, &Path::Root(""))
}

/// A string.
pub(crate) fn string<'v>(value: &'v Json, path: &Path<'_>) -> Result<&'v str> {
    match value {
        Json::Str(s) => Ok(s),
        other => Err(path.err(format!("must be a string (got {})", other.describe()))),
    }
}

/// An array.
pub(crate) fn array<'v>(value: &'v Json, path: &Path<'_>) -> Result<&'v [Json]> {
    match value {
        Json::Array(items) => Ok(items),
        other => Err(path.err(format!("must be an array (got {})", other.describe()))),
    }
}

/// One of a fixed set of words (an enum value such as a kind or verdict).
pub(crate) fn word<T: Copy>(
    value: &Json,
    path: &Path<'_>,
    choices: &[(&str, T)],
    what: &str,
) -> Result<T> {
    let text = string(value, path)?;
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            path.err(format!(
                "unknown {what} {text:?} (expected one of: {})",
                names.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_the_scenario_format() {
        let root = Path::Root("distribution");
        let buckets = root.key("buckets");
        let bucket = buckets.index(1);
        assert_eq!(
            bucket.key("percent_ppm").to_string(),
            "distribution.buckets[1].percent_ppm"
        );
        let bare = Path::Root("");
        assert_eq!(bare.key("mode").to_string(), "mode");
        assert_eq!(bare.to_string(), "(document)");
    }

    #[test]
    fn duplicate_and_unknown_keys_are_refused_with_their_path() {
        let doc = Json::parse(br#"{"to": {"bo": 70, "bo": 30}}"#).unwrap();
        let root = Path::Root("allocations[0]");
        let mut outer = ObjectReader::new(&doc, root).unwrap();
        let to = outer.required("to").unwrap();
        let to_path = root.key("to");
        let err = ObjectReader::new(to, to_path).err().unwrap();
        assert_eq!(err.to_string(), "allocations[0].to: duplicate key \"bo\"");

        let doc = Json::parse(br#"{"min_aprovals": 1}"#).unwrap();
        let root = Path::Root("policy.validation");
        let mut reader = ObjectReader::new(&doc, root).unwrap();
        assert!(reader.optional("min_approvals").is_none());
        let err = reader.finish("min_approvals, max_flags").unwrap_err();
        assert_eq!(err.field(), Some("policy.validation.min_aprovals"));
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert_eq!(check_unique_keys(br#"{"a": [{"b": 1}], "c": {}}"#), Ok(()));
        let err = check_unique_keys(br#"{"buckets": [{}, {"p": 1, "p": 2}]}"#).unwrap_err();
        assert_eq!(err.to_string(), "buckets[1]: duplicate key \"p\"");
        assert!(matches!(
            check_unique_keys(b"{"),
            Err(ScoringError::Syntax { .. })
        ));
        let err = uint(&Json::Str("5%".into()), &Path::Root("x"), u64::MAX, "").unwrap_err();
        assert_eq!(err.to_string(), "x: must be an integer (got \"5%\")");
    }

    #[test]
    fn integers_are_checked_against_their_bound() {
        let root = Path::Root("x");
        assert_eq!(uint(&Json::UInt(5), &root, 10, ""), Ok(5));
        for (value, needle) in [
            (Json::UInt(11), "at most 10 ppm (got 11)"),
            (Json::NegInt(-1), "must not be negative"),
            (Json::Float(1.5), "must be an integer"),
            (Json::Float(1e20), "at most 10 ppm"),
            (Json::Str("3".into()), "must be an integer"),
            (
                Json::Float(5.0),
                "without a decimal point or exponent (got 5.0)",
            ),
            (Json::Float(-2.0), "must not be negative"),
        ] {
            let err = uint(&value, &root, 10, " ppm").unwrap_err().to_string();
            assert!(err.starts_with("x: "), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }
}
