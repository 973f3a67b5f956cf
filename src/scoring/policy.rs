//! The rules a cooperative adopts: rates, multipliers, decay, peer review,
//! evaluator weights, and how an income flows through ordered buckets.
//!
//! A policy in the live log is the scenario format's `policy` object plus
//! `mode` and `buckets`, all in one JSON object (DECISIONS.md, "Policies and
//! periods"):
//!
//! ```json
//! {"default_rates": {"work": 2500}, "validation": {"min_approvals": 1},
//!  "mode": "remaining",
//!  "buckets": [{"type": "shares", "percent_ppm": 1000000, "kinds": ["work"]}]}
//! ```
//!
//! It is read by the same code as scenario files, so it is refused with the
//! same messages (only the field paths differ: `buckets[0]...` instead of
//! `distribution.buckets[0]...`). `currency` and `decimals` are accepted in
//! a policy document so a policy tried in a scenario can be adopted as it
//! is; they are kept in [`PolicyDocument`] and the service should check them
//! against the network's genesis with [`PolicyDocument::check_currency`]
//! rather than silently drop a disagreeing currency.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::{Result, ScoringError};
use super::input::Kind;
use super::json::{self, Json, ObjectReader, Path};
use super::limits::{
    MAX_AMOUNT, MAX_DECAY_INTERVAL_DAYS, MAX_DECIMALS, MAX_MULTIPLIER_PPM, MAX_NAME_BYTES,
    MAX_POINTS, PPM,
};

/// Stepwise decay of older contributions' points (§3 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decay {
    /// Length of one step, in days, ≥ 1.
    pub interval_days: u64,
    /// What each step takes off, in ppm, 0..=10^6.
    pub rate_ppm: u64,
}

/// When a contribution counts as validated by peers (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidationRule {
    /// Approvals needed (default 0).
    pub min_approvals: u64,
    /// Flags tolerated; `None` means flags alone never invalidate.
    pub max_flags: Option<u64>,
}

/// How ratings become a contribution's quality (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingRule {
    /// Ratings with a positive evaluator weight needed before the median is
    /// used (default 1).
    pub min_ratings: u64,
    /// Quality in percent when there are too few ratings (default 100).
    pub default: u8,
}

impl Default for RatingRule {
    fn default() -> Self {
        RatingRule {
            min_ratings: 1,
            default: 100,
        }
    }
}

/// How much each evaluator's rating weighs (§2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EvaluatorWeights {
    /// Every member weighs 1.
    #[default]
    Equal,
    /// EigenTrust over the members' approvals and flags of each other.
    EigenTrust {
        /// Members trusted a priori (founders); non-empty, members only.
        pretrusted: Vec<String>,
        /// Damping towards the pre-trusted, in ppm, 1..=10^6 (default 150000).
        damping_ppm: u64,
    },
}

/// Default EigenTrust damping (0.15).
pub const DEFAULT_DAMPING_PPM: u64 = 150_000;

/// The scoring rules: the scenario format's `policy` object without the
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Rate per kind when neither the contribution nor a tag gives one.
    pub default_rates: BTreeMap<Kind, u64>,
    /// Rate per tag; the contribution's first tag that has one wins.
    pub rates: BTreeMap<String, u64>,
    /// Multiplier per kind in ppm (default 10^6).
    pub kind_multiplier_ppm: BTreeMap<Kind, u64>,
    /// Multiplier per tag in ppm, applied for every tag that has one.
    pub tag_multiplier_ppm: BTreeMap<String, u64>,
    /// Stepwise decay; `None` means no decay.
    pub decay: Option<Decay>,
    /// When peers' verdicts make a contribution valid.
    pub validation: ValidationRule,
    /// How ratings become quality.
    pub rating: RatingRule,
    /// How evaluators are weighted.
    pub evaluator_weights: EvaluatorWeights,
}

/// Whether buckets take their percent of what is left or of the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Each bucket's percent applies to what earlier buckets left.
    #[default]
    Remaining,
    /// Each percent applies to the whole income; they sum to at most 100%.
    Straight,
}

impl Mode {
    /// The word used in policy and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Remaining => "remaining",
            Mode::Straight => "straight",
        }
    }
}

/// How a `shares` bucket weighs members' points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharesMethod {
    /// Pro rata to the period's points.
    #[default]
    Immediate,
    /// Back-pay: pro rata to how far each member's all-time points are
    /// ahead of what they were already paid (SourceCred's BALANCED).
    Balanced,
}

impl SharesMethod {
    /// The word used in policy and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            SharesMethod::Immediate => "immediate",
            SharesMethod::Balanced => "balanced",
        }
    }
}

/// How an `allocation` bucket turns peer allocations into shares (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Coordinape: pro rata to the percents received.
    Give,
    /// de Clippel–Moulin–Tideman: nobody's report changes their own share.
    Impartial,
}

impl Mechanism {
    /// The word used in policy and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Give => "give",
            Mechanism::Impartial => "impartial",
        }
    }
}

/// One step of a distribution (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// A fixed percent to a named fund or member.
    Fixed {
        /// Percent of the base, in ppm.
        percent_ppm: u64,
        /// Fund name or member handle.
        recipient: String,
    },
    /// Debt-like: repays valid contributions of these kinds.
    Reimburse {
        /// Percent of the base, in ppm.
        percent_ppm: u64,
        /// Kinds repaid (non-empty, no duplicates).
        kinds: Vec<Kind>,
    },
    /// Equity-like: pro rata to points of these kinds.
    Shares {
        /// Percent of the base, in ppm.
        percent_ppm: u64,
        /// Kinds whose points count (non-empty, no duplicates).
        kinds: Vec<Kind>,
        /// Immediate or balanced.
        method: SharesMethod,
    },
    /// Pro rata to the peer allocations of the period.
    Allocation {
        /// Percent of the base, in ppm.
        percent_ppm: u64,
        /// Give or impartial.
        mechanism: Mechanism,
    },
}

impl Bucket {
    /// The bucket's percent, in ppm.
    pub fn percent_ppm(&self) -> u64 {
        match self {
            Bucket::Fixed { percent_ppm, .. }
            | Bucket::Reimburse { percent_ppm, .. }
            | Bucket::Shares { percent_ppm, .. }
            | Bucket::Allocation { percent_ppm, .. } => *percent_ppm,
        }
    }

    /// The bucket's `type` word.
    pub fn type_name(&self) -> &'static str {
        match self {
            Bucket::Fixed { .. } => "fixed",
            Bucket::Reimburse { .. } => "reimburse",
            Bucket::Shares { .. } => "shares",
            Bucket::Allocation { .. } => "allocation",
        }
    }
}

/// A policy as adopted in the log: the rules plus how an income is split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyDocument {
    /// Currency code for display (`EUR`). In the live log it comes from
    /// genesis; in a scenario from the `policy` object. Optional.
    pub currency: Option<String>,
    /// Digits after the decimal point of one major unit (2 for cents).
    pub decimals: Option<u32>,
    /// Rates, multipliers, decay, review and weights.
    pub policy: Policy,
    /// Remaining (default) or straight.
    pub mode: Mode,
    /// The ordered buckets.
    pub buckets: Vec<Bucket>,
}

/// Where the parts of a policy document sit in the surrounding JSON, so
/// messages name the field as the user wrote it.
#[derive(Clone, Copy)]
pub(crate) struct DocumentPaths<'a> {
    /// The rules object (`policy` in a scenario, the root in a document).
    pub rules: Path<'a>,
    /// The `buckets` array.
    pub buckets: Path<'a>,
}

const RULE_KEYS: &str = "currency, decimals, default_rates, rates, kind_multiplier_ppm, \
                         tag_multiplier_ppm, decay, validation, rating, evaluator_weights";

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

    /// The document as JSON in the shape [`PolicyDocument::from_json`] reads.
    pub fn to_json(&self) -> Value {
        let mut object = self.rules_json();
        object.insert("mode".into(), json!(self.mode.as_str()));
        object.insert("buckets".into(), buckets_json(&self.buckets));
        Value::Object(object)
    }

    /// Refuses a document whose currency or decimals disagree with the
    /// network's (fixed in genesis). Absent fields agree with anything.
    pub fn check_currency(&self, code: &str, decimals: u32) -> Result<()> {
        if let Some(own) = &self.currency
            && own != code
        {
            return Err(ScoringError::invalid(
                "currency",
                format!("must be the network's currency {code:?} (got {own:?})"),
            ));
        }
        if let Some(own) = self.decimals
            && own != decimals
        {
            return Err(ScoringError::invalid(
                "decimals",
                format!("must be the network's decimals {decimals} (got {own})"),
            ));
        }
        Ok(())
    }

    /// Refuses a policy under which a contribution within the ingestion
    /// bounds (`crate::ledger`: quantity and own rate per kind, at most
    /// `max_tags` tags) could pass a scoring limit, so that adopting it can
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
        use crate::ledger::{MAX_TAG_RATE, max_rate, max_value};
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

    /// Checks every range and cross-field rule of the document, naming
    /// fields under `paths`.
    pub(crate) fn validate_at(&self, paths: DocumentPaths<'_>) -> Result<()> {
        let rules = &paths.rules;
        if let Some(code) = &self.currency
            && (code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(rules.key("currency").err(format!(
                "must be 1 to 16 visible ASCII characters (got {code:?})"
            )));
        }
        if let Some(decimals) = self.decimals {
            check_max(&rules.key("decimals"), decimals.into(), MAX_DECIMALS, "")?;
        }
        let policy = &self.policy;
        let default_rates = rules.key("default_rates");
        for (kind, rate) in &policy.default_rates {
            check_max(&default_rates.key(kind.as_str()), *rate, MAX_AMOUNT, "")?;
        }
        let rates = rules.key("rates");
        for (tag, rate) in &policy.rates {
            check_name(&rates, tag, "tag")?;
            check_max(&rates.key(tag), *rate, MAX_AMOUNT, "")?;
        }
        let kind_multipliers = rules.key("kind_multiplier_ppm");
        for (kind, ppm) in &policy.kind_multiplier_ppm {
            check_max(
                &kind_multipliers.key(kind.as_str()),
                *ppm,
                MAX_MULTIPLIER_PPM,
                " ppm",
            )?;
        }
        let tag_multipliers = rules.key("tag_multiplier_ppm");
        for (tag, ppm) in &policy.tag_multiplier_ppm {
            check_name(&tag_multipliers, tag, "tag")?;
            check_max(&tag_multipliers.key(tag), *ppm, MAX_MULTIPLIER_PPM, " ppm")?;
        }
        if let Some(decay) = policy.decay {
            let decay_path = rules.key("decay");
            let interval = decay_path.key("interval_days");
            if decay.interval_days == 0 {
                return Err(interval.err("must be at least 1 day (got 0)"));
            }
            check_max(
                &interval,
                decay.interval_days,
                MAX_DECAY_INTERVAL_DAYS,
                " days",
            )?;
            check_max(&decay_path.key("rate_ppm"), decay.rate_ppm, PPM, " ppm")?;
        }
        let rating = rules.key("rating");
        check_max(
            &rating.key("default"),
            policy.rating.default.into(),
            100,
            " percent",
        )?;
        if let EvaluatorWeights::EigenTrust {
            pretrusted,
            damping_ppm,
        } = &policy.evaluator_weights
        {
            let weights = rules.key("evaluator_weights");
            let pretrusted_path = weights.key("pretrusted");
            if pretrusted.is_empty() {
                return Err(pretrusted_path.err("must name at least one member for eigentrust"));
            }
            let mut sorted: Vec<&String> = pretrusted.iter().collect();
            sorted.sort();
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(pretrusted_path.err(format!("names {:?} twice", pair[0])));
            }
            for (index, member) in pretrusted.iter().enumerate() {
                check_name(&pretrusted_path.index(index), member, "member")?;
            }
            let damping = weights.key("damping_ppm");
            if *damping_ppm == 0 {
                return Err(damping.err("must be in 1..=1000000 ppm, damping in (0, 1] (got 0)"));
            }
            check_max(&damping, *damping_ppm, PPM, " ppm")?;
        }
        let mut straight_total: u64 = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            let path = paths.buckets.index(index);
            let percent = bucket.percent_ppm();
            check_max(&path.key("percent_ppm"), percent, PPM, " ppm")?;
            straight_total += percent;
            match bucket {
                Bucket::Fixed { recipient, .. } => {
                    check_name(&path.key("recipient"), recipient, "recipient")?;
                }
                Bucket::Reimburse { kinds, .. } | Bucket::Shares { kinds, .. } => {
                    check_kinds(&path.key("kinds"), kinds)?;
                }
                Bucket::Allocation { .. } => {}
            }
        }
        if self.mode == Mode::Straight && straight_total > PPM {
            return Err(paths.buckets.err(format!(
                "in straight mode the percents must sum to at most 1000000 ppm (100%) (got {straight_total})"
            )));
        }
        Ok(())
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
                } => json!({"type": "allocation", "percent_ppm": percent_ppm,
                            "mechanism": mechanism.as_str()}),
            })
            .collect(),
    )
}

/// The rule every id, tag and fund name follows.
fn name_rule(what: &str, name: &str) -> String {
    if name.is_empty() {
        format!("{what} must not be empty")
    } else {
        format!(
            "{what} must be at most {MAX_NAME_BYTES} bytes (got {} bytes)",
            name.len()
        )
    }
}

/// Refuses an empty or over-long id, tag or fund name.
pub(crate) fn check_name(path: &Path<'_>, name: &str, what: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(path.err(name_rule(what, name)));
    }
    Ok(())
}

/// Refuses `value > max` with the same words as the JSON reader.
pub(crate) fn check_max(path: &Path<'_>, value: u64, max: u64, unit: &str) -> Result<()> {
    if value > max {
        return Err(path.err(format!("must be at most {max}{unit} (got {value})")));
    }
    Ok(())
}

fn check_kinds(path: &Path<'_>, kinds: &[Kind]) -> Result<()> {
    if kinds.is_empty() {
        return Err(path.err("must name at least one kind"));
    }
    for (index, kind) in kinds.iter().enumerate() {
        if kinds[..index].contains(kind) {
            return Err(path.err(format!("names {kind} twice")));
        }
    }
    Ok(())
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
        validation.finish("min_approvals, max_flags")?;
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
                reader.finish("type, percent_ppm, mechanism")?;
                Bucket::Allocation {
                    percent_ppm,
                    mechanism,
                }
            }
        };
        buckets.push(bucket);
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> ScoringError {
        PolicyDocument::from_json(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn reads_a_document_and_writes_it_back() {
        let text = r#"{"currency": "EUR", "decimals": 2,
            "default_rates": {"work": 2500}, "rates": {"design": 3000},
            "kind_multiplier_ppm": {"money": 4000000}, "tag_multiplier_ppm": {"lead": 1200000},
            "decay": {"interval_days": 7, "rate_ppm": 100000},
            "validation": {"min_approvals": 1, "max_flags": 0},
            "rating": {"min_ratings": 2, "default": 90},
            "evaluator_weights": {"method": "eigentrust", "pretrusted": ["alice"]},
            "mode": "straight",
            "buckets": [
              {"type": "fixed", "percent_ppm": 50000, "recipient": "fund"},
              {"type": "reimburse", "percent_ppm": 250000, "kinds": ["expense", "money"]},
              {"type": "shares", "percent_ppm": 600000, "kinds": ["work"], "method": "balanced"},
              {"type": "allocation", "percent_ppm": 100000, "mechanism": "impartial"}]}"#;
        let document = PolicyDocument::from_json(text.as_bytes()).unwrap();
        assert_eq!(document.mode, Mode::Straight);
        assert_eq!(document.policy.default_rates[&Kind::Work], 2500);
        assert_eq!(
            document.policy.evaluator_weights,
            EvaluatorWeights::EigenTrust {
                pretrusted: vec!["alice".into()],
                damping_ppm: DEFAULT_DAMPING_PPM
            }
        );
        assert_eq!(document.buckets.len(), 4);
        let again = serde_json::to_vec(&document.to_json()).unwrap();
        assert_eq!(PolicyDocument::from_json(&again).unwrap(), document);
    }

    #[test]
    fn refusals_name_the_field_and_the_rule() {
        let cases = [
            (
                r#"{"buckets": [{"type": "fixed", "percent_ppm": 1200000, "recipient": "f"}]}"#,
                "buckets[0].percent_ppm: must be at most 1000000 ppm (got 1200000)",
            ),
            (
                r#"{"mode": "straight", "buckets": [
                    {"type": "fixed", "percent_ppm": 600000, "recipient": "f"},
                    {"type": "allocation", "percent_ppm": 600000, "mechanism": "give"}]}"#,
                "buckets: in straight mode the percents must sum to at most 1000000 ppm (100%) (got 1200000)",
            ),
            (
                r#"{"default_rates": {"wrok": 1}, "buckets": []}"#,
                "default_rates.wrok: unknown kind \"wrok\" (expected one of: work, money, expense, resource, use)",
            ),
            (
                r#"{"buckets": [{"type": "lottery", "percent_ppm": 1}]}"#,
                "buckets[0].type: unknown bucket type \"lottery\" (expected one of: fixed, reimburse, shares, allocation)",
            ),
            (
                r#"{"decay": {"interval_days": 0, "rate_ppm": 1}, "buckets": []}"#,
                "decay.interval_days: must be at least 1 day (got 0)",
            ),
            (
                r#"{"tag_multiplier_ppm": {"x": 1000000001}, "buckets": []}"#,
                "tag_multiplier_ppm.x: must be at most 1000000000 ppm (got 1000000001)",
            ),
            (
                r#"{"evaluator_weights": {"method": "eigentrust", "pretrusted": []}, "buckets": []}"#,
                "evaluator_weights.pretrusted: must name at least one member for eigentrust",
            ),
            (
                r#"{"buckets": [{"type": "shares", "percent_ppm": 1, "kinds": []}]}"#,
                "buckets[0].kinds: must name at least one kind",
            ),
            (
                r#"{"buckets": [{"type": "reimburse", "percent_ppm": 1, "kinds": ["money"], "method": "balanced"}]}"#,
                "buckets[0].method: unknown field (expected one of: type, percent_ppm, kinds)",
            ),
            (r#"{"mode": "remaining"}"#, "buckets: is required"),
            (
                r#"{"rating": {"default": 101}, "buckets": []}"#,
                "rating.default: must be at most 100 percent (got 101)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(refusal(text).to_string(), message, "for {text}");
        }
        assert!(matches!(refusal("{"), ScoringError::Syntax { .. }));
    }

    #[test]
    fn a_scorable_policy_keeps_the_worst_contribution_within_the_limits() {
        let check = |text: &str, max_tags| {
            PolicyDocument::from_json(text.as_bytes())
                .unwrap()
                .check_scorable(max_tags)
                .map_err(|e| e.to_string())
        };
        // 10^15 × 1000 = 10^18 exactly: at the limit, accepted.
        let at_limit = r#"{"kind_multiplier_ppm": {"use": 1000000000},
            "tag_multiplier_ppm": {"a": 1000001, "b": 500000}, "buckets": []}"#;
        assert_eq!(check(at_limit, 0), Ok(()));
        // Multipliers below 1 never raise points.
        let lower = r#"{"kind_multiplier_ppm": {"use": 1000000000},
            "tag_multiplier_ppm": {"b": 500000}, "buckets": []}"#;
        assert_eq!(check(lower, 16), Ok(()));
        // One tag that raises it passes the limit.
        assert!(
            check(at_limit, 1)
                .unwrap_err()
                .starts_with("tag_multiplier_ppm: with up to 1 tags a use contribution")
        );
        // Only as many tags as a contribution may carry count.
        let tags = r#"{"tag_multiplier_ppm": {"a": 10000000, "b": 10000000, "c": 10000000,
            "d": 10000000}, "buckets": []}"#;
        assert_eq!(check(tags, 3), Ok(()));
        assert!(check(tags, 4).is_err());
        // Rates within the per-kind bounds; a tag's within all of them.
        let rate =
            |field: &str, rate: u64| check(&format!(r#"{{{field}: {rate}}}, "buckets": []}}"#), 16);
        let work = r#""default_rates": {"work""#;
        assert_eq!(rate(work, crate::ledger::MAX_WORK_RATE), Ok(()));
        assert!(
            rate(work, crate::ledger::MAX_WORK_RATE + 1)
                .unwrap_err()
                .starts_with("default_rates.work: 60000000001 is more than a work rate")
        );
        let money = r#""default_rates": {"money""#;
        assert_eq!(rate(money, MAX_AMOUNT), Ok(()));
        let tag = r#""rates": {"x""#;
        assert_eq!(rate(tag, crate::ledger::MAX_TAG_RATE), Ok(()));
        assert!(rate(tag, crate::ledger::MAX_TAG_RATE + 1).is_err());
    }

    #[test]
    fn currency_must_agree_with_the_network() {
        let document = PolicyDocument::from_json(br#"{"currency": "EUR", "buckets": []}"#).unwrap();
        assert!(document.check_currency("EUR", 2).is_ok());
        let err = document.check_currency("USD", 2).unwrap_err();
        assert_eq!(err.field(), Some("currency"));
    }
}
