//! A policy as JSON, in the shape its reader takes: what the service
//! stores and shows, and what a scenario file written from live data holds.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Bucket, EvaluatorWeights, PolicyDocument};
use crate::scoring::kind::Kind;

impl PolicyDocument {
    /// The document as JSON in the shape [`PolicyDocument::from_json`] reads.
    pub fn to_json(&self) -> Value {
        let mut object = self.rules_json();
        object.insert("mode".into(), json!(self.mode.as_str()));
        object.insert("buckets".into(), buckets_json(&self.buckets));
        Value::Object(object)
    }

    /// The rules object in the shape of a scenario's `policy`.
    pub(crate) fn rules_json(&self) -> Map<String, Value> {
        let policy = &self.policy;
        let mut object = Map::new();
        if let Some(currency) = &self.currency {
            object.insert("currency".into(), json!(currency));
        }
        if let Some(decimals) = self.decimals {
            object.insert("decimals".into(), json!(decimals));
        }
        let kind_map = |map: &BTreeMap<Kind, u64>| {
            Value::Object(
                map.iter()
                    .map(|(kind, v)| (kind.as_str().to_owned(), json!(v)))
                    .collect(),
            )
        };
        object.insert("default_rates".into(), kind_map(&policy.default_rates));
        object.insert("rates".into(), json!(policy.rates));
        object.insert(
            "kind_multiplier_ppm".into(),
            kind_map(&policy.kind_multiplier_ppm),
        );
        object.insert(
            "tag_multiplier_ppm".into(),
            json!(policy.tag_multiplier_ppm),
        );
        if let Some(decay) = policy.decay {
            object.insert(
                "decay".into(),
                json!({"interval_days": decay.interval_days, "rate_ppm": decay.rate_ppm}),
            );
        }
        let mut validation = Map::new();
        validation.insert(
            "min_approvals".into(),
            json!(policy.validation.min_approvals),
        );
        if let Some(max_flags) = policy.validation.max_flags {
            validation.insert("max_flags".into(), json!(max_flags));
        }
        validation.insert(
            "flag_rule".into(),
            json!(policy.validation.flag_rule.as_str()),
        );
        validation.insert(
            "min_approver_trust_ppm".into(),
            json!(policy.validation.min_approver_trust_ppm),
        );
        object.insert("validation".into(), Value::Object(validation));
        object.insert(
            "rating".into(),
            json!({"min_ratings": policy.rating.min_ratings, "default": policy.rating.default}),
        );
        let weights = match &policy.evaluator_weights {
            EvaluatorWeights::Equal => json!({"method": "equal"}),
            EvaluatorWeights::EigenTrust {
                pretrusted,
                damping_ppm,
            } => {
                json!({"method": "eigentrust", "pretrusted": pretrusted, "damping_ppm": damping_ppm})
            }
        };
        object.insert("evaluator_weights".into(), weights);
        let signals = policy.signals;
        object.insert(
            "signals".into(),
            json!({"reciprocity_margin": signals.reciprocity_margin,
                   "reciprocity_solo_min": signals.reciprocity_solo_min,
                   "give_reciprocity_min": signals.give_reciprocity_min}),
        );
        object
    }
}

/// The buckets as JSON in the shape the reader takes.
pub(crate) fn buckets_json(buckets: &[Bucket]) -> Value {
    let kinds_json = |kinds: &[Kind]| json!(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>());
    Value::Array(
        buckets
            .iter()
            .map(|bucket| match bucket {
                Bucket::Fixed {
                    percent_ppm,
                    recipient,
                } => json!({"type": "fixed", "percent_ppm": percent_ppm, "recipient": recipient}),
                Bucket::Reimburse { percent_ppm, kinds } => {
                    json!({"type": "reimburse", "percent_ppm": percent_ppm, "kinds": kinds_json(kinds)})
                }
                Bucket::Shares {
                    percent_ppm,
                    kinds,
                    method,
                } => json!({"type": "shares", "percent_ppm": percent_ppm,
                            "kinds": kinds_json(kinds), "method": method.as_str()}),
                Bucket::Allocation {
                    percent_ppm,
                    mechanism,
                    participants,
                } => {
                    let mut object = json!({"type": "allocation", "percent_ppm": percent_ppm,
                                            "mechanism": mechanism.as_str()});
                    if let (Some(participants), Some(map)) = (participants, object.as_object_mut()) {
                        map.insert("participants".into(), json!(participants));
                    }
                    object
                }
            })
            .collect(),
    )
}
