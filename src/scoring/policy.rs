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

mod read;
mod scorable;
#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;

use super::error::{Result, ScoringError};
use super::json::Path;
use super::kind::Kind;
use super::limits::{
    MAX_AMOUNT, MAX_DECAY_INTERVAL_DAYS, MAX_DECIMALS, MAX_MULTIPLIER_PPM, MAX_NAME_BYTES, PPM,
};
use super::units::ppm_as_percent;

// The scenario reader reads and writes the same parts of a policy.
pub(crate) use read::{read_buckets, read_mode, read_rules, rule_keys};
pub(crate) use write::buckets_json;

/// Stepwise decay of older contributions' points (§3 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decay {
    /// Length of one step, in days, ≥ 1.
    pub interval_days: u64,
    /// What each step takes off, in ppm, 0..=10^6.
    pub rate_ppm: u64,
}

/// When a contribution counts as validated by peers (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationRule {
    /// Approvals needed (default 0).
    pub min_approvals: u64,
    /// Flags tolerated; `None` means flags alone never invalidate. Only
    /// with [`FlagRule::Count`] (a policy with both this and
    /// [`FlagRule::WeightedMajority`] is refused).
    pub max_flags: Option<u64>,
    /// How flags weigh against approvals (default [`FlagRule::Count`]).
    pub flag_rule: FlagRule,
    /// With trust on and `min_approvals` ≥ 1: the share of the mean member
    /// trust, in ppm, the approvers of a contribution must hold together
    /// (0..=10^9, default 10000, i.e. 1%).
    pub min_approver_trust_ppm: u64,
}

/// Default `validation.min_approver_trust_ppm` (1% of the mean member trust).
pub const DEFAULT_MIN_APPROVER_TRUST_PPM: u64 = 10_000;
/// Largest `validation.min_approver_trust_ppm` (1000× the mean member trust).
pub const MAX_MIN_APPROVER_TRUST_PPM: u64 = 1_000_000_000;

impl Default for ValidationRule {
    fn default() -> Self {
        ValidationRule {
            min_approvals: 0,
            max_flags: None,
            flag_rule: FlagRule::Count,
            min_approver_trust_ppm: DEFAULT_MIN_APPROVER_TRUST_PPM,
        }
    }
}

/// How a contribution's flags can make it invalid (§2, rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlagRule {
    /// Flags are counted against `max_flags`, if set.
    #[default]
    Count,
    /// Invalid when the weight of the flaggers exceeds the weight of the
    /// approvers (a tie keeps it valid).
    WeightedMajority,
}

impl FlagRule {
    /// The word used in policy and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagRule::Count => "count",
            FlagRule::WeightedMajority => "weighted_majority",
        }
    }
}

/// The thresholds of the collusion signals (§6.1). Signals never change
/// money; these only decide what the report points out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalThresholds {
    /// Points (percent) by which a pair's mean rating of each other must
    /// exceed the others' mean, 0..=100 (default 20).
    pub reciprocity_margin: u64,
    /// The mean rating (percent) that flags a direction when nobody else
    /// rated, 0..=100 (default 90).
    pub reciprocity_solo_min: u64,
    /// The percent each of a pair's allocations must give the other,
    /// 1..=100 (default 30).
    pub give_reciprocity_min: u64,
}

impl Default for SignalThresholds {
    fn default() -> Self {
        SignalThresholds {
            reciprocity_margin: 20,
            reciprocity_solo_min: 90,
            give_reciprocity_min: 30,
        }
    }
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
    /// Thresholds of the report's collusion signals.
    pub signals: SignalThresholds,
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
        /// The members the bucket is for (no duplicates, members only);
        /// `None`: every member.
        participants: Option<Vec<String>>,
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

impl PolicyDocument {
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
            check_max(
                &default_rates.key(kind.as_str()),
                *rate,
                MAX_AMOUNT,
                " minor units",
            )?;
        }
        let rates = rules.key("rates");
        for (tag, rate) in &policy.rates {
            check_name(&rates, tag, "tag")?;
            check_max(&rates.key(tag), *rate, MAX_AMOUNT, " minor units")?;
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
        let validation = rules.key("validation");
        check_max(
            &validation.key("min_approver_trust_ppm"),
            policy.validation.min_approver_trust_ppm,
            MAX_MIN_APPROVER_TRUST_PPM,
            " ppm",
        )?;
        if policy.validation.flag_rule == FlagRule::WeightedMajority
            && policy.validation.max_flags.is_some()
        {
            return Err(validation.err(
                "max_flags and flag_rule weighted_majority exclude each other: drop max_flags, \
                 or use flag_rule count",
            ));
        }
        let signals = rules.key("signals");
        let thresholds = policy.signals;
        check_max(
            &signals.key("reciprocity_margin"),
            thresholds.reciprocity_margin,
            100,
            " percent",
        )?;
        check_max(
            &signals.key("reciprocity_solo_min"),
            thresholds.reciprocity_solo_min,
            100,
            " percent",
        )?;
        let give_min = signals.key("give_reciprocity_min");
        if thresholds.give_reciprocity_min == 0 {
            return Err(give_min.err("must be in 1..=100 percent (got 0)"));
        }
        check_max(&give_min, thresholds.give_reciprocity_min, 100, " percent")?;
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
            check_percent(&path.key("percent_ppm"), percent)?;
            straight_total += percent;
            match bucket {
                Bucket::Fixed { recipient, .. } => {
                    check_name(&path.key("recipient"), recipient, "recipient")?;
                }
                Bucket::Reimburse { kinds, .. } | Bucket::Shares { kinds, .. } => {
                    check_kinds(&path.key("kinds"), kinds)?;
                }
                Bucket::Allocation { participants, .. } => {
                    if let Some(participants) = participants {
                        check_participants(&path.key("participants"), participants)?;
                    }
                }
            }
        }
        if self.mode == Mode::Straight && straight_total > PPM {
            return Err(paths.buckets.err(format!(
                "in straight mode the percents must sum to at most 1000000 ppm (100%) (got \
                 {straight_total}): each bucket takes its percent of the whole income, and \
                 these add up to {}",
                ppm_as_percent(straight_total)
            )));
        }
        Ok(())
    }
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

/// Refuses a bucket's percent over 10^6 ppm, saying it in percent too.
fn check_percent(path: &Path<'_>, ppm: u64) -> Result<()> {
    if ppm > PPM {
        return Err(path.err(format!(
            "must be at most 1000000 ppm (got {ppm}): a bucket takes at most 100% of its \
             base and this is {}; write e.g. 400000 for 40%",
            ppm_as_percent(ppm)
        )));
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

/// Refuses a bucket's `participants` naming an empty or over-long id, or
/// the same member twice (that each is a member is checked when scoring).
fn check_participants(path: &Path<'_>, participants: &[String]) -> Result<()> {
    for (index, member) in participants.iter().enumerate() {
        check_name(&path.index(index), member, "member")?;
    }
    let mut sorted: Vec<&String> = participants.iter().collect();
    sorted.sort();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(path.err(format!("names {:?} twice", pair[0])));
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
