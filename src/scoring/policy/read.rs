//! The JSON reader of a policy: a policy document (the `adopt policy`
//! payload) and the parts of a scenario's `policy` object, refused with the
//! field named and the rule.

use std::collections::BTreeMap;

use super::{
    Bucket, DEFAULT_DAMPING_PPM, Decay, DocumentPaths, EvaluatorWeights, FlagRule, Mechanism, Mode,
    Policy, PolicyDocument, SharesMethod,
};
use crate::scoring::error::Result;
use crate::scoring::json::{self, Json, ObjectReader, Path};
use crate::scoring::kind::Kind;
use crate::scoring::limits::MAX_DECIMALS;

const RULE_KEYS: &str = "currency, decimals, default_rates, rates, kind_multiplier_ppm, \
                         tag_multiplier_ppm, decay, validation, rating, evaluator_weights, signals";

impl PolicyDocument {
    /// Reads and validates a policy document (the `adopt policy` payload):
    /// the scenario `policy` object's fields plus `mode` and `buckets`.
    /// Everything that does not depend on the members is checked here;
    /// that the pre-trusted are members is checked when scoring (and the
    /// service may check it at adoption against its member list).
    pub fn from_json(bytes: &[u8]) -> Result<PolicyDocument> {
        let doc = Json::parse(bytes)?;
        let root = Path::Root("");
        let mut reader = ObjectReader::new(&doc, root)?;
        let (currency, decimals, policy) = read_rules(&mut reader)?;
        let mode = match reader.optional("mode") {
            Some(value) => read_mode(value, &root.key("mode"))?,
            None => Mode::default(),
        };
        let buckets_path = root.key("buckets");
        let buckets = read_buckets(reader.required("buckets")?, &buckets_path)?;
        reader.finish(&format!("{RULE_KEYS}, mode, buckets"))?;
        let document = PolicyDocument {
            currency,
            decimals,
            policy,
            mode,
            buckets,
        };
        document.validate_at(DocumentPaths {
            rules: root,
            buckets: buckets_path,
        })?;
        Ok(document)
    }
}

/// Reads the rule fields of a `policy` object (or of a policy document's
/// root) from `reader`, leaving other fields to the caller.
pub(crate) fn read_rules(
    reader: &mut ObjectReader<'_>,
) -> Result<(Option<String>, Option<u32>, Policy)> {
    let path = *reader.path();
    let currency = match reader.optional("currency") {
        Some(value) => Some(json::string(value, &path.key("currency"))?.to_owned()),
        None => None,
    };
    let decimals = match reader.optional("decimals") {
        Some(value) => {
            let decimals = json::uint(value, &path.key("decimals"), MAX_DECIMALS, "")?;
            // Bounded by MAX_DECIMALS just above, so it fits u32.
            Some(u32::try_from(decimals).unwrap_or(u32::MAX))
        }
        None => None,
    };
    let mut policy = Policy::default();
    if let Some(value) = reader.optional("default_rates") {
        policy.default_rates = read_kind_map(value, &path.key("default_rates"))?;
    }
    if let Some(value) = reader.optional("rates") {
        policy.rates = read_tag_map(value, &path.key("rates"))?;
    }
    if let Some(value) = reader.optional("kind_multiplier_ppm") {
        policy.kind_multiplier_ppm = read_kind_map(value, &path.key("kind_multiplier_ppm"))?;
    }
    if let Some(value) = reader.optional("tag_multiplier_ppm") {
        policy.tag_multiplier_ppm = read_tag_map(value, &path.key("tag_multiplier_ppm"))?;
    }
    if let Some(value) = reader.optional("decay") {
        let decay_path = path.key("decay");
        let mut decay = ObjectReader::new(value, decay_path)?;
        let interval_days = json::uint(
            decay.required("interval_days")?,
            &decay_path.key("interval_days"),
            u64::MAX,
            "",
        )?;
        let rate_ppm = json::uint(
            decay.required("rate_ppm")?,
            &decay_path.key("rate_ppm"),
            u64::MAX,
            "",
        )?;
        decay.finish("interval_days, rate_ppm")?;
        policy.decay = Some(Decay {
            interval_days,
            rate_ppm,
        });
    }
    if let Some(value) = reader.optional("validation") {
        let validation_path = path.key("validation");
        let mut validation = ObjectReader::new(value, validation_path)?;
        if let Some(v) = validation.optional("min_approvals") {
            policy.validation.min_approvals =
                json::uint(v, &validation_path.key("min_approvals"), u64::MAX, "")?;
        }
        if let Some(v) = validation.optional("max_flags") {
            policy.validation.max_flags = Some(json::uint(
                v,
                &validation_path.key("max_flags"),
                u64::MAX,
                "",
            )?);
        }
        if let Some(v) = validation.optional("flag_rule") {
            policy.validation.flag_rule = json::word(
                v,
                &validation_path.key("flag_rule"),
                &[
                    ("count", FlagRule::Count),
                    ("weighted_majority", FlagRule::WeightedMajority),
                ],
                "flag rule",
            )?;
        }
        if let Some(v) = validation.optional("min_approver_trust_ppm") {
            policy.validation.min_approver_trust_ppm = json::uint(
                v,
                &validation_path.key("min_approver_trust_ppm"),
                u64::MAX,
                "",
            )?;
        }
        validation.finish("min_approvals, max_flags, flag_rule, min_approver_trust_ppm")?;
    }
    if let Some(value) = reader.optional("rating") {
        let rating_path = path.key("rating");
        let mut rating = ObjectReader::new(value, rating_path)?;
        if let Some(v) = rating.optional("min_ratings") {
            policy.rating.min_ratings =
                json::uint(v, &rating_path.key("min_ratings"), u64::MAX, "")?;
        }
        if let Some(v) = rating.optional("default") {
            let default = json::uint(v, &rating_path.key("default"), 100, " percent")?;
            // At most 100, so it fits u8.
            policy.rating.default = u8::try_from(default).unwrap_or(u8::MAX);
        }
        rating.finish("min_ratings, default")?;
    }
    if let Some(value) = reader.optional("evaluator_weights") {
        let weights_path = path.key("evaluator_weights");
        let mut weights = ObjectReader::new(value, weights_path)?;
        let method = json::word(
            weights.required("method")?,
            &weights_path.key("method"),
            &[("equal", false), ("eigentrust", true)],
            "method",
        )?;
        if method {
            let pretrusted_path = weights_path.key("pretrusted");
            let items = json::array(weights.required("pretrusted")?, &pretrusted_path)?;
            let mut pretrusted = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                pretrusted.push(json::string(item, &pretrusted_path.index(index))?.to_owned());
            }
            let damping_ppm = match weights.optional("damping_ppm") {
                Some(v) => json::uint(v, &weights_path.key("damping_ppm"), u64::MAX, "")?,
                None => DEFAULT_DAMPING_PPM,
            };
            weights.finish("method, pretrusted, damping_ppm")?;
            policy.evaluator_weights = EvaluatorWeights::EigenTrust {
                pretrusted,
                damping_ppm,
            };
        } else {
            weights.finish("method (equal takes no other field)")?;
        }
    }
    if let Some(value) = reader.optional("signals") {
        let signals_path = path.key("signals");
        let mut signals = ObjectReader::new(value, signals_path)?;
        let thresholds = &mut policy.signals;
        for (key, slot) in [
            ("reciprocity_margin", &mut thresholds.reciprocity_margin),
            ("reciprocity_solo_min", &mut thresholds.reciprocity_solo_min),
            ("give_reciprocity_min", &mut thresholds.give_reciprocity_min),
        ] {
            if let Some(v) = signals.optional(key) {
                *slot = json::uint(v, &signals_path.key(key), u64::MAX, "")?;
            }
        }
        signals.finish("reciprocity_margin, reciprocity_solo_min, give_reciprocity_min")?;
    }
    Ok((currency, decimals, policy))
}

/// The list of allowed rule keys, for "unknown field" messages.
pub(crate) fn rule_keys() -> &'static str {
    RULE_KEYS
}

fn read_kind_map(value: &Json, path: &Path<'_>) -> Result<BTreeMap<Kind, u64>> {
    let mut reader = ObjectReader::new(value, *path)?;
    let mut map = BTreeMap::new();
    for (key, value) in reader.entries() {
        let key_path = path.key(key);
        let kind = Kind::from_word(key).ok_or_else(|| {
            key_path.err(format!(
                "unknown kind {key:?} (expected one of: work, money, expense, resource, use)"
            ))
        })?;
        map.insert(kind, json::uint(value, &key_path, u64::MAX, "")?);
    }
    Ok(map)
}

fn read_tag_map(value: &Json, path: &Path<'_>) -> Result<BTreeMap<String, u64>> {
    let mut reader = ObjectReader::new(value, *path)?;
    let mut map = BTreeMap::new();
    for (key, value) in reader.entries() {
        map.insert(
            key.clone(),
            json::uint(value, &path.key(key), u64::MAX, "")?,
        );
    }
    Ok(map)
}

/// Reads `mode`.
pub(crate) fn read_mode(value: &Json, path: &Path<'_>) -> Result<Mode> {
    json::word(
        value,
        path,
        &[("remaining", Mode::Remaining), ("straight", Mode::Straight)],
        "mode",
    )
}

/// Reads a list of kinds (a bucket's `kinds`).
fn read_kinds(value: &Json, path: &Path<'_>) -> Result<Vec<Kind>> {
    let items = json::array(value, path)?;
    let choices = Kind::choices();
    items
        .iter()
        .enumerate()
        .map(|(index, item)| json::word(item, &path.index(index), &choices, "kind"))
        .collect()
}

/// Reads the `buckets` array.
pub(crate) fn read_buckets(value: &Json, path: &Path<'_>) -> Result<Vec<Bucket>> {
    let items = json::array(value, path)?;
    let mut buckets = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let bucket_path = path.index(index);
        let mut reader = ObjectReader::new(item, bucket_path)?;
        #[derive(Clone, Copy)]
        enum Type {
            Fixed,
            Reimburse,
            Shares,
            Allocation,
        }
        let kind = json::word(
            reader.required("type")?,
            &bucket_path.key("type"),
            &[
                ("fixed", Type::Fixed),
                ("reimburse", Type::Reimburse),
                ("shares", Type::Shares),
                ("allocation", Type::Allocation),
            ],
            "bucket type",
        )?;
        let percent_ppm = json::uint(
            reader.required("percent_ppm")?,
            &bucket_path.key("percent_ppm"),
            u64::MAX,
            "",
        )?;
        let bucket = match kind {
            Type::Fixed => {
                let recipient =
                    json::string(reader.required("recipient")?, &bucket_path.key("recipient"))?;
                reader.finish("type, percent_ppm, recipient")?;
                Bucket::Fixed {
                    percent_ppm,
                    recipient: recipient.to_owned(),
                }
            }
            Type::Reimburse => {
                let kinds = read_kinds(reader.required("kinds")?, &bucket_path.key("kinds"))?;
                reader.finish("type, percent_ppm, kinds")?;
                Bucket::Reimburse { percent_ppm, kinds }
            }
            Type::Shares => {
                let kinds = read_kinds(reader.required("kinds")?, &bucket_path.key("kinds"))?;
                let method = match reader.optional("method") {
                    Some(v) => json::word(
                        v,
                        &bucket_path.key("method"),
                        &[
                            ("immediate", SharesMethod::Immediate),
                            ("balanced", SharesMethod::Balanced),
                        ],
                        "shares method",
                    )?,
                    None => SharesMethod::Immediate,
                };
                reader.finish("type, percent_ppm, kinds, method")?;
                Bucket::Shares {
                    percent_ppm,
                    kinds,
                    method,
                }
            }
            Type::Allocation => {
                let mechanism = json::word(
                    reader.required("mechanism")?,
                    &bucket_path.key("mechanism"),
                    &[
                        ("give", Mechanism::Give),
                        ("impartial", Mechanism::Impartial),
                    ],
                    "allocation mechanism",
                )?;
                let participants = match reader.optional("participants") {
                    Some(v) => {
                        let list_path = bucket_path.key("participants");
                        let items = json::array(v, &list_path)?;
                        let mut participants = Vec::with_capacity(items.len());
                        for (index, item) in items.iter().enumerate() {
                            participants
                                .push(json::string(item, &list_path.index(index))?.to_owned());
                        }
                        Some(participants)
                    }
                    None => None,
                };
                reader.finish("type, percent_ppm, mechanism, participants")?;
                Bucket::Allocation {
                    percent_ppm,
                    mechanism,
                    participants,
                }
            }
        };
        buckets.push(bucket);
    }
    Ok(buckets)
}
