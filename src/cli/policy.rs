//! `coopledger policy adopt|show|list`, and policy files written in the
//! treasurer's units.
//!
//! A policy in the log keeps the spec's canonical form (SCORING.md §7:
//! integer ppm and minor units). A policy *file* may also say a bucket's
//! share as a percent and a rate as an amount in the network's currency:
//!
//! ```json
//! {"default_rates": {"work": "30.00"}, "rates": {"design": "35.50"},
//!  "buckets": [{"type": "fixed", "percent": "5%", "recipient": "commons"}]}
//! ```
//!
//! [`prepare`] converts such a file exactly (`"5.5%"` → `percent_ppm`
//! 55000, `"30.00"` EUR with 2 decimals → 3000) or refuses it, naming the
//! field and what is accepted; it runs before `policy adopt` signs and
//! before `shares --draft` and `score --scenario` preview, so the signed,
//! stored policy is always canonical. It then checks the result with the
//! scoring core's own parser and says the core's refusals in the user's
//! units (percent, amounts) with an example. [`describe`] says an adopted
//! policy in words.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use coopledger::client;
use coopledger::pb::{self, entry::Body};
use coopledger::scoring::kind::Kind;
use coopledger::scoring::limits::{
    MAX_AMOUNT, MAX_DECIMALS, MAX_MULTIPLIER_PPM, MAX_TAG_RATE, MAX_TAGS, PPM, max_rate,
};
use coopledger::scoring::policy::{
    Bucket, EvaluatorWeights, FlagRule, Mechanism, Mode, PolicyDocument, SharesMethod,
};
use coopledger::scoring::scenario::Part;
use coopledger::scoring::units::{ppm_as_factor, ppm_as_percent};
use coopledger::scoring::{ScoringError, check_unique_keys};
use serde_json::{Map, Value};

use super::input::{DecimalError, format_money, format_time, parse_decimal, parse_percent, plural};
use super::treasurer::confirm;
use super::{Context, Session, for_each_entry, print_table, sign_and_submit};

/// `coopledger policy ...`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Adopt a policy from a JSON file (admins): shows it in words and asks
    /// before signing. Percents ("5%") and amounts ("30.00") are converted
    /// exactly to the canonical ppm and minor units.
    Adopt {
        /// The policy file.
        file: PathBuf,
        /// Sign without asking (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Show an adopted policy in words (`--json`: the document as adopted).
    Show {
        /// The version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
    },
    /// List the adopted versions with when and by whom.
    List,
}

/// The network's currency, for reading and writing amounts.
#[derive(Debug, Clone)]
pub struct Units {
    /// Currency code (`EUR`).
    pub currency: String,
    /// Digits after the point of one major unit (2 for cents).
    pub decimals: u32,
}

impl Units {
    /// The network's units, from its signed genesis.
    pub fn of(session: &Session) -> Result<Units> {
        if session.genesis.is_none() {
            bail!("this server has no network yet; found one with `coopledger init`");
        }
        Ok(Units {
            currency: session.currency().to_owned(),
            decimals: session.decimals(),
        })
    }

    /// `3000` → `30.00 EUR`.
    fn money(&self, minor: u64) -> String {
        format!("{} {}", format_money(minor, self.decimals), self.currency)
    }

    /// How an integer rate is read: `an integer count of minor units (2500 = 25.00 EUR)`.
    fn integer_example(&self) -> String {
        let example = 25 * 10u64.pow(self.decimals);
        format!(
            "an integer count of minor units ({example} = {})",
            self.money(example)
        )
    }
}

/// Where the rules and the buckets sit in the JSON: the root and `buckets`
/// in a policy document, `policy` and `distribution.buckets` in a scenario.
#[derive(Clone, Copy)]
struct Paths {
    rules: &'static str,
    buckets: &'static str,
}

const DOCUMENT: Paths = Paths {
    rules: "",
    buckets: "buckets",
};
const SCENARIO: Paths = Paths {
    rules: "policy",
    buckets: "distribution.buckets",
};

/// `prefix.key`, or `key` under the root.
fn field(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A policy file turned canonical and accepted by the scoring core.
#[derive(Debug)]
pub struct PreparedPolicy {
    /// The canonical JSON bytes: what is signed or previewed.
    pub canonical: Vec<u8>,
    /// The document the scoring core read from them.
    pub document: PolicyDocument,
}

/// Reads a policy file in the treasurer's units: converts it exactly to the
/// canonical form, checks it with the scoring core (and, given the
/// server's tag limit, that it keeps every accepted contribution
/// scorable) and that its currency is the network's. Every refusal names
/// the field, says the rule in the user's units and shows what is accepted.
pub fn prepare(bytes: &[u8], units: &Units, max_tags: Option<usize>) -> Result<PreparedPolicy> {
    check_unique_keys(bytes).map_err(|e| anyhow!("{e}"))?;
    let friendly: Value = serde_json::from_slice(bytes).context("not valid JSON")?;
    let mut canonical = friendly.clone();
    if let Value::Object(root) = &mut canonical {
        convert_rules(root, DOCUMENT.rules, units)?;
        if let Some(buckets) = root.get_mut("buckets") {
            convert_buckets(buckets, DOCUMENT.buckets)?;
        }
    }
    let canonical_bytes = serde_json::to_vec(&canonical)?;
    let explain = |e: ScoringError| {
        anyhow!(
            "{}",
            in_users_units(&e, &friendly, &canonical, units, DOCUMENT)
        )
    };
    let document = PolicyDocument::from_json(&canonical_bytes).map_err(explain)?;
    document
        .check_currency(&units.currency, units.decimals)
        .map_err(explain)?;
    if let Some(max_tags) = max_tags {
        document.check_scorable(max_tags).map_err(explain)?;
    }
    Ok(PreparedPolicy {
        canonical: canonical_bytes,
        document,
    })
}

/// Converts a scenario file's `policy` and `distribution.buckets` from the
/// treasurer's units to the canonical form, with the scenario's own
/// `policy.decimals` (0 when it names none). Only those two small objects
/// are read first; a scenario that needs no conversion (the canonical
/// form, as every exported one) is handed on as it is. Other fields are
/// left to the scenario reader. `score` calls it only when the one-pass
/// reader with [`prepare_scenario_part`] did not accept the file, so that
/// its refusals stay exactly what they were.
pub fn prepare_scenario(bytes: &[u8]) -> Result<Cow<'_, [u8]>> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        policy: Option<Value>,
        #[serde(default)]
        distribution: Option<Value>,
    }
    // Not even these read: the scenario reader says what is wrong.
    let Ok(head) = serde_json::from_slice::<Head>(bytes) else {
        return Ok(Cow::Borrowed(bytes));
    };
    let mut policy = head.policy.clone();
    if let Some(policy) = &mut policy {
        convert_scenario_part(Part::Policy, policy)?;
    }
    let mut distribution = head.distribution.clone();
    if let Some(distribution) = &mut distribution {
        convert_scenario_part(Part::Distribution, distribution)?;
    }
    if policy == head.policy && distribution == head.distribution {
        return Ok(Cow::Borrowed(bytes));
    }
    check_unique_keys(bytes).map_err(|e| anyhow!("{e}"))?;
    let mut scenario: Value = serde_json::from_slice(bytes).context("not valid JSON")?;
    if let Value::Object(root) = &mut scenario {
        for (key, value) in [("policy", policy), ("distribution", distribution)] {
            if let Some(value) = value {
                root.insert(key.into(), value);
            }
        }
    }
    Ok(Cow::Owned(serde_json::to_vec(&scenario)?))
}

/// [`prepare_scenario`] for one part of a scenario, given as its raw JSON
/// text by the one-pass reader (`Scenario::from_json_prepared`): the text
/// as it is when nothing needs converting, the canonical text when
/// something did, `None` when the part cannot be converted (the reader
/// then falls back to [`prepare_scenario`] on the whole file, which says
/// why). The result is what [`prepare_scenario`] would put in its place.
pub fn prepare_scenario_part(part: Part, raw: &str) -> Option<Cow<'_, str>> {
    let friendly: Value = serde_json::from_str(raw).ok()?;
    let mut canonical = friendly.clone();
    convert_scenario_part(part, &mut canonical).ok()?;
    if canonical == friendly {
        return Some(Cow::Borrowed(raw));
    }
    // A repeated key the conversion would silently resolve: refused by the
    // whole-file path.
    check_unique_keys(raw.as_bytes()).ok()?;
    serde_json::to_string(&canonical).ok().map(Cow::Owned)
}

/// Converts a scenario's `policy` (rates, with its own decimals) or
/// `distribution` (bucket percents) in place.
fn convert_scenario_part(part: Part, value: &mut Value) -> Result<()> {
    match (part, value) {
        (Part::Policy, Value::Object(rules)) => {
            let units = Units {
                currency: rules
                    .get("currency")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                decimals: rules
                    .get("decimals")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok())
                    .filter(|d| u64::from(*d) <= MAX_DECIMALS)
                    .unwrap_or(0),
            };
            convert_rules(rules, SCENARIO.rules, &units)
        }
        (Part::Distribution, Value::Object(d)) => match d.get_mut("buckets") {
            Some(buckets) => convert_buckets(buckets, SCENARIO.buckets),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Converts the amounts in `default_rates` and `rates` to minor units.
fn convert_rules(rules: &mut Map<String, Value>, prefix: &str, units: &Units) -> Result<()> {
    for map in ["default_rates", "rates"] {
        let map_field = field(prefix, map);
        if let Some(Value::Object(rates)) = rules.get_mut(map) {
            for (key, value) in rates.iter_mut() {
                *value = amount_to_minor(value, &format!("{map_field}.{key}"), units)?;
            }
        }
    }
    Ok(())
}

/// A rate as an integer of minor units: kept when it is one, converted
/// exactly when it is an amount string, refused otherwise.
fn amount_to_minor(value: &Value, name: &str, units: &Units) -> Result<Value> {
    let accepted = || {
        let example = format_money(2550, units.decimals);
        format!(
            "write an amount in {} as a string, like \"{example}\", or {}",
            units.currency,
            units.integer_example()
        )
    };
    match value {
        Value::Number(n) if n.is_u64() => Ok(value.clone()),
        Value::Number(n) if n.is_i64() => bail!("{name}: {n} is negative; {}", accepted()),
        Value::Number(n) => bail!(
            "{name}: {n} is a JSON number with a decimal point, which is neither an amount nor \
             minor units; {}",
            accepted()
        ),
        Value::String(text) => match parse_decimal(text, units.decimals) {
            Ok(minor) => Ok(Value::from(minor)),
            Err(DecimalError::TooPrecise(digits)) => {
                // The two amounts of the currency either side of the text.
                let extra = u32::try_from(digits)?.saturating_sub(units.decimals);
                let down = parse_decimal(text, units.decimals + extra)
                    .ok()
                    .zip(10u64.checked_pow(extra))
                    .map_or(0, |(fine, scale)| fine / scale);
                bail!(
                    "{name}: \"{text}\" has {digits} digits after the point but {} has {} \
                     (its minor unit): it is not a whole number of minor units; write \"{}\" \
                     or \"{}\"",
                    units.currency,
                    units.decimals,
                    format_money(down, units.decimals),
                    format_money(down.saturating_add(1), units.decimals)
                )
            }
            Err(DecimalError::Negative) => bail!("{name}: \"{text}\" is negative; {}", accepted()),
            Err(DecimalError::Comma) => bail!(
                "{name}: \"{text}\": use '.' for the decimal point and no thousands separator; {}",
                accepted()
            ),
            Err(DecimalError::TooLarge) => bail!(
                "{name}: \"{text}\" is too large; a rate is at most {}",
                units.money(MAX_AMOUNT)
            ),
            Err(DecimalError::NotANumber) => {
                bail!("{name}: \"{text}\" is not an amount; {}", accepted())
            }
        },
        other => bail!("{name}: must be an amount (got {other}); {}", accepted()),
    }
}

/// Converts each bucket's `percent` to `percent_ppm`.
fn convert_buckets(buckets: &mut Value, prefix: &str) -> Result<()> {
    let Value::Array(buckets) = buckets else {
        return Ok(());
    };
    for (index, bucket) in buckets.iter_mut().enumerate() {
        let Value::Object(bucket) = bucket else {
            continue;
        };
        let Some(percent) = bucket.remove("percent") else {
            continue;
        };
        let name = format!("{prefix}[{index}].percent");
        let accepted = "write it as a string like \"5%\", \"5.5%\" or \"33.3333%\" (or give percent_ppm, an integer: 55000 for 5.5%)";
        let ppm = match &percent {
            Value::String(text) => parse_percent(text).map_err(|e| anyhow!("{name}: {e}"))?,
            Value::Number(n) => match n.as_u64() {
                Some(whole) => whole
                    .checked_mul(PPM / 100)
                    .ok_or_else(|| anyhow!("{name}: {n} is too large; {accepted}"))?,
                None if n.is_i64() => bail!("{name}: {n} is negative; {accepted}"),
                None => bail!("{name}: {n} is a JSON number with a decimal point; {accepted}"),
            },
            other => bail!("{name}: must be a percent (got {other}); {accepted}"),
        };
        match bucket.get("percent_ppm") {
            None => {}
            Some(given) if given.as_u64() == Some(ppm) => {}
            Some(given) => bail!(
                "{prefix}[{index}]: percent {percent} is {ppm} ppm but percent_ppm is {given}; \
                 give one of the two, or make them agree"
            ),
        }
        bucket.insert("percent_ppm".into(), Value::from(ppm));
    }
    Ok(())
}

/// A refusal of the scoring core said in the user's units: the field as
/// the user wrote it, the rule in percent or in the currency, and an
/// example of what is accepted. Refusals with no unit to translate are
/// the core's own words.
fn in_users_units(
    err: &ScoringError,
    friendly: &Value,
    canonical: &Value,
    units: &Units,
    paths: Paths,
) -> String {
    let Some(name) = err.field() else {
        return err.to_string();
    };
    let rules = if paths.rules.is_empty() {
        Some(canonical)
    } else {
        canonical.get(paths.rules)
    };
    let mode_straight = canonical.get("mode").and_then(Value::as_str) == Some("straight");
    // A bucket's percent.
    if let Some(rest) = name.strip_prefix(&format!("{}[", paths.buckets))
        && let Some((index, "percent_ppm")) = rest.split_once("].")
        && let Ok(index) = index.parse::<usize>()
        && let Some(ppm) = bucket_ppm(canonical, paths, index)
        && ppm > PPM
    {
        let wrote_percent = friendly
            .pointer(&format!(
                "/{}/{index}/percent",
                paths.buckets.replace('.', "/")
            ))
            .is_some();
        let shown = if wrote_percent {
            "percent"
        } else {
            "percent_ppm"
        };
        let base = if mode_straight {
            "the income"
        } else {
            "what the buckets before it leave"
        };
        return format!(
            "{}[{index}].{shown}: {} is more than 100%: a bucket takes between 0% and 100% of \
             {base}; write e.g. \"percent\": \"40%\" (or \"percent_ppm\": 400000)",
            paths.buckets,
            ppm_as_percent(ppm)
        );
    }
    // The sum of the percents in straight mode.
    if name == paths.buckets && mode_straight {
        let percents: Vec<u64> = (0..)
            .map_while(|index| bucket_ppm(canonical, paths, index))
            .collect();
        let total: u64 = percents.iter().sum();
        let listed: Vec<String> = percents.iter().map(|p| ppm_as_percent(*p)).collect();
        return format!(
            "{name}: in straight mode every bucket takes its percent of the whole income, so \
             together they may take at most 100%, and these take {} ({}); lower them, e.g. \
             \"5%\" and \"95%\", or use \"mode\": \"remaining\" (each bucket then takes its \
             percent of what is left)",
            ppm_as_percent(total),
            listed.join(" + ")
        );
    }
    let in_rules = |map: &str| -> Option<(String, u64)> {
        let key = name.strip_prefix(&format!("{}.", field(paths.rules, map)))?;
        let value = rules?.get(map)?.get(key)?.as_u64()?;
        Some((key.to_owned(), value))
    };
    if let Some((kind, rate)) = in_rules("default_rates") {
        let kind = Kind::from_word(&kind);
        let max = kind.and_then(max_rate).unwrap_or(MAX_AMOUNT);
        let per = match kind {
            Some(Kind::Work) => " per hour",
            Some(Kind::Resource | Kind::Use) => " per unit",
            _ => "",
        };
        if rate > max {
            return format!(
                "{name}: {}{per} is more than this rate may be: at most {}{per}, so that the \
                 largest entry the ledger accepts stays within the 10^15 minor units the \
                 scoring core counts; write e.g. \"30.00\" ({}{per})",
                units.money(rate),
                units.money(max),
                units.money(3000 * 10u64.pow(units.decimals) / 100)
            );
        }
    }
    if let Some((_, rate)) = in_rules("rates")
        && rate > MAX_TAG_RATE
    {
        return format!(
            "{name}: {} is more than a tag's rate may be: at most {} (it values an hour of \
             work and a unit of resource or use alike, and the largest such entry must stay \
             within the 10^15 minor units the scoring core counts); write e.g. \"30.00\"",
            units.money(rate),
            units.money(MAX_TAG_RATE)
        );
    }
    for map in ["kind_multiplier_ppm", "tag_multiplier_ppm"] {
        if let Some((_, ppm)) = in_rules(map) {
            if ppm > MAX_MULTIPLIER_PPM {
                return format!(
                    "{name}: {} ({ppm} ppm) is more than a multiplier may be, ×1000 \
                     (1000000000 ppm); write e.g. 1500000 for ×1.5",
                    ppm_as_factor(ppm)
                );
            }
            return format!("{err} (it is {})", ppm_as_factor(ppm));
        }
    }
    let ppm_at = |object: &str, key: &str| {
        rules
            .and_then(|r| r.get(object))
            .and_then(|o| o.get(key))
            .and_then(Value::as_u64)
    };
    if name == field(paths.rules, "decay.rate_ppm")
        && let Some(ppm) = ppm_at("decay", "rate_ppm")
    {
        return format!(
            "{name}: {} a step is more than 100%: each step takes between 0% and 100% of the \
             points off; write e.g. 100000 for 10% a step",
            ppm_as_percent(ppm)
        );
    }
    if name == field(paths.rules, "evaluator_weights.damping_ppm")
        && let Some(ppm) = ppm_at("evaluator_weights", "damping_ppm")
    {
        return format!(
            "{name}: {} is outside what damping may be, more than 0% and at most 100%; write \
             e.g. 150000 for 15% (the default)",
            ppm_as_percent(ppm)
        );
    }
    err.to_string()
}

/// The `percent_ppm` of bucket `index` in the canonical JSON.
fn bucket_ppm(canonical: &Value, paths: Paths, index: usize) -> Option<u64> {
    canonical
        .pointer(&format!(
            "/{}/{index}/percent_ppm",
            paths.buckets.replace('.', "/")
        ))
        .and_then(Value::as_u64)
}

/// Who an allocation bucket is for, in words.
fn participants_in_words(participants: Option<&[String]>) -> String {
    match participants {
        None => "every member".to_owned(),
        Some(names) => format!("its participants {}", names.join(", ")),
    }
}

/// The kinds as words: `expense and money`, `work, use and resource`.
fn kinds_in_words(kinds: &[Kind]) -> String {
    let words: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What a rate is per, for a kind.
fn per(kind: Kind) -> &'static str {
    match kind {
        Kind::Work => " per hour",
        Kind::Resource | Kind::Use => " per unit",
        Kind::Money | Kind::Expense => "",
    }
}

/// The policy in words, for a treasurer: rates in the currency, multipliers
/// as factors, review rules, and each bucket in order with its percent,
/// what it pays and what it leaves.
pub fn describe(document: &PolicyDocument, units: &Units) -> String {
    let policy = &document.policy;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Mode: {}",
        match document.mode {
            Mode::Remaining => {
                "remaining — each bucket takes its percent of what the buckets before it left"
            }
            Mode::Straight => "straight — each bucket takes its percent of the whole income",
        }
    );

    out.push_str("\nRates (for a contribution that names no rate of its own)\n");
    if policy.default_rates.is_empty() && policy.rates.is_empty() {
        out.push_str(
            "  none: work, resource and use contributions without their own rate are worth 0\n",
        );
    }
    for (kind, rate) in &policy.default_rates {
        let note = match kind {
            Kind::Money | Kind::Expense => {
                " (not used: money and expenses are worth the amount logged)"
            }
            _ => "",
        };
        let _ = writeln!(out, "  {kind}: {}{}{note}", units.money(*rate), per(*kind));
    }
    for (tag, rate) in &policy.rates {
        let _ = writeln!(
            out,
            "  tag {tag}: {} per hour of work or per unit of resource or use (a \
             contribution's first tag with a rate wins over the default)",
            units.money(*rate)
        );
    }

    out.push_str("\nMultipliers on points\n");
    if policy.kind_multiplier_ppm.is_empty() && policy.tag_multiplier_ppm.is_empty() {
        out.push_str("  none: a contribution earns as many points as it is worth\n");
    }
    for (kind, ppm) in &policy.kind_multiplier_ppm {
        let _ = writeln!(out, "  {kind}: {}", ppm_as_factor(*ppm));
    }
    for (tag, ppm) in &policy.tag_multiplier_ppm {
        let _ = writeln!(out, "  tag {tag}: {}", ppm_as_factor(*ppm));
    }
    match policy.decay {
        None => out.push_str("  no decay: older contributions count in full\n"),
        Some(decay) => {
            let _ = writeln!(
                out,
                "  decay: points lose {} for every {} day{} between the contribution and \
                 the period's end (each step takes it off what the previous step left)",
                ppm_as_percent(decay.rate_ppm),
                decay.interval_days,
                plural(usize::try_from(decay.interval_days).unwrap_or(usize::MAX))
            );
        }
    }

    out.push_str("\nPeer review\n");
    let approvals = policy.validation.min_approvals;
    if approvals == 0 {
        out.push_str("  a contribution counts without approvals");
    } else {
        let _ = write!(
            out,
            "  a contribution counts once at least {approvals} peer{} approve{} it",
            plural(usize::try_from(approvals).unwrap_or(usize::MAX)),
            if approvals == 1 { "s" } else { "" }
        );
    }
    match policy.validation.max_flags {
        None if policy.validation.flag_rule == FlagRule::WeightedMajority => out.push_str(
            "; it is invalid when the members flagging it weigh more than those approving it \
             (a tie keeps it valid)\n",
        ),
        None => out.push_str("; flags alone never invalidate it\n"),
        Some(0) => out.push_str("; a single flag makes it invalid\n"),
        Some(max) => {
            let _ = writeln!(
                out,
                "; {} or more flags make it invalid",
                max.saturating_add(1)
            );
        }
    }
    let _ = writeln!(
        out,
        "  quality: the median of peers' ratings once it has {} rating{}; {}% until then",
        policy.rating.min_ratings,
        plural(usize::try_from(policy.rating.min_ratings).unwrap_or(usize::MAX)),
        policy.rating.default
    );
    match &policy.evaluator_weights {
        EvaluatorWeights::Equal => out.push_str("  every member's rating weighs the same\n"),
        EvaluatorWeights::EigenTrust {
            pretrusted,
            damping_ppm,
        } => {
            let _ = writeln!(
                out,
                "  ratings weigh by EigenTrust from {} (damping {}): members nobody trusted \
                 approves carry no weight",
                pretrusted.join(", "),
                ppm_as_percent(*damping_ppm)
            );
            if approvals >= 1 {
                let _ = writeln!(
                    out,
                    "  its approvers must together hold at least {} of the mean member trust: \
                     approvals from members nobody trusts validate nothing",
                    ppm_as_percent(policy.validation.min_approver_trust_ppm)
                );
            }
            out.push_str(
                "  members nobody trusts take no part in allocation buckets (their \
                 allocations are ignored, what is given to them is dropped)\n",
            );
        }
    }

    out.push_str("\nBuckets, in order\n");
    if document.buckets.is_empty() {
        out.push_str("  none: the whole income stays in the reserve\n");
    }
    let base = match document.mode {
        Mode::Remaining => "what is left",
        Mode::Straight => "the income",
    };
    let last = document.buckets.len().saturating_sub(1);
    for (index, bucket) in document.buckets.iter().enumerate() {
        let percent = ppm_as_percent(bucket.percent_ppm());
        let leaves = if document.mode == Mode::Straight || index == last {
            "goes to the reserve"
        } else {
            "flows to the next bucket"
        };
        let what = match bucket {
            Bucket::Fixed { recipient, .. } => {
                format!("fixed: pays {percent} of {base} to {recipient}")
            }
            Bucket::Reimburse { kinds, .. } => format!(
                "reimburse: pays back valid {} claims not yet repaid, pro rata to what each is \
                 still owed, up to {percent} of {base}; nobody is repaid more than they are \
                 owed, and what it does not need {leaves}",
                kinds_in_words(kinds)
            ),
            Bucket::Shares {
                kinds,
                method: SharesMethod::Immediate,
                ..
            } => format!(
                "shares: split by points among {}: each member gets {percent} of {base} in \
                 proportion to the points their valid {} earned in the period; if nobody \
                 earned any, it {leaves}",
                kinds_in_words(kinds),
                kinds_in_words(kinds)
            ),
            Bucket::Shares {
                kinds,
                method: SharesMethod::Balanced,
                ..
            } => format!(
                "shares (balanced, back-pay): split by all-time points among {}: members paid \
                 less than their share of all points so far catch up first; if nobody earned \
                 any, it {leaves}",
                kinds_in_words(kinds)
            ),
            Bucket::Allocation {
                mechanism: Mechanism::Give,
                participants,
                ..
            } => format!(
                "allocation (give): split by the percents {} gave each other for the period; \
                 if nobody gave any, it {leaves}",
                participants_in_words(participants.as_deref())
            ),
            Bucket::Allocation {
                mechanism: Mechanism::Impartial,
                participants,
                ..
            } => format!(
                "allocation (impartial): split by the allocations for the period among {} so \
                 that nobody's own report changes their own share; a participant who gave \
                 nothing counts as splitting evenly; it needs 3 to 500 participants (otherwise \
                 the distribution is refused), and what it does not pay {leaves}",
                participants_in_words(participants.as_deref())
            ),
        };
        let _ = writeln!(out, "  {}. {percent} — {what}", index + 1);
    }
    match document.mode {
        _ if document.buckets.is_empty() => {}
        Mode::Remaining => {
            out.push_str("  What the last bucket leaves is the reserve.\n");
        }
        Mode::Straight => {
            let total: u64 = document.buckets.iter().map(Bucket::percent_ppm).sum();
            let _ = writeln!(
                out,
                "  The {} no bucket takes, and what a bucket does not pay, is the reserve.",
                ppm_as_percent(PPM.saturating_sub(total))
            );
        }
    }
    out
}

/// One adopted policy version, as the log holds it.
struct Adopted {
    version: u32,
    sequence: u64,
    id: Vec<u8>,
    author: String,
    created_at_ms: i64,
    json: Vec<u8>,
}

/// Every adopted policy, in version order (each envelope checked).
async fn adopted(session: &mut Session) -> Result<Vec<Adopted>> {
    let mut found = Vec::new();
    for_each_entry(session, &[pb::EntryKind::AdoptPolicy], |e, v| {
        let Some(Body::AdoptPolicy(p)) = v.entry.body else {
            bail!("entry {} is not a policy adoption", e.sequence);
        };
        found.push(Adopted {
            version: u32::try_from(found.len() + 1)?,
            sequence: e.sequence,
            id: e.id.clone(),
            author: v.entry.author,
            created_at_ms: v.entry.created_at_ms,
            json: p.policy_json,
        });
        Ok(())
    })
    .await?;
    Ok(found)
}

/// `coopledger policy ...`.
pub async fn policy(ctx: &Context, command: &PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Adopt { file, yes } => adopt(ctx, file, *yes).await,
        PolicyCommand::Show { version } => show(ctx, *version).await,
        PolicyCommand::List => list(ctx).await,
    }
}

/// Reads, converts and checks a policy file for this session's network,
/// as the server checks an adopted one (a draft that could never be
/// adopted is refused too, with the same words): the scoring core's rules,
/// the network's currency, and that every contribution the server accepts
/// stays scorable under it.
pub fn prepare_file(file: &Path, session: &Session) -> Result<PreparedPolicy> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let units = Units::of(session)?;
    let max_tags = session
        .info
        .limits
        .as_ref()
        .map(|l| usize::try_from(l.max_tags).unwrap_or(usize::MAX))
        .filter(|n| *n > 0)
        .map(|n| n.min(MAX_TAGS));
    prepare(&bytes, &units, max_tags).map_err(|e| anyhow!("{}: {e}", file.display()))
}

async fn adopt(ctx: &Context, file: &Path, yes: bool) -> Result<()> {
    let mut session = ctx.connect().await?;
    let prepared = prepare_file(file, &session)?;
    let units = Units::of(&session)?;
    let next = adopted(&mut session).await?.len() + 1;
    if !ctx.json {
        println!(
            "The policy in {}, to be adopted as version {next}:\n",
            file.display()
        );
        print!("{}", describe(&prepared.document, &units));
        println!();
    }
    if !yes && !confirm(&format!("Sign and adopt this policy as version {next}?"))? {
        bail!("not adopted");
    }
    sign_and_submit(
        ctx,
        client::adopt_body(&prepared.canonical),
        &format!("adopted the policy in {} as version {next}", file.display()),
    )
    .await
    .map(|_| ())
}

async fn show(ctx: &Context, version: Option<u32>) -> Result<()> {
    let mut session = ctx.connect().await?;
    let units = Units::of(&session)?;
    let all = adopted(&mut session).await?;
    let Some(latest) = all.last() else {
        bail!(
            "no policy has been adopted yet; an admin adopts one with `coopledger policy adopt FILE`"
        );
    };
    let chosen = match version {
        None => latest,
        Some(v) => all.iter().find(|a| a.version == v).with_context(|| {
            format!(
                "there is no policy version {v}: versions 1 to {} are adopted",
                latest.version
            )
        })?,
    };
    if ctx.json {
        println!("{}", String::from_utf8_lossy(&chosen.json));
        return Ok(());
    }
    let document = PolicyDocument::from_json(&chosen.json)
        .map_err(|e| anyhow!("policy version {}: {e}", chosen.version))?;
    println!(
        "Policy version {}{}, adopted {} by {} (entry {} at sequence {})",
        chosen.version,
        if chosen.version == latest.version {
            " (the latest)"
        } else {
            ""
        },
        format_time(chosen.created_at_ms.div_euclid(1000)),
        chosen.author,
        &hex::encode(&chosen.id)[..12],
        chosen.sequence
    );
    println!(
        "Amounts in {} with {} decimals.",
        units.currency, units.decimals
    );
    print!("{}", describe(&document, &units));
    Ok(())
}

async fn list(ctx: &Context) -> Result<()> {
    let mut session = ctx.connect().await?;
    let all = adopted(&mut session).await?;
    if ctx.json {
        let rows: Vec<Value> = all
            .iter()
            .map(|a| {
                serde_json::json!({"version": a.version, "sequence": a.sequence,
                    "id": hex::encode(&a.id), "author": a.author,
                    "adopted_at": format_time(a.created_at_ms.div_euclid(1000))})
            })
            .collect();
        println!("{}", Value::Array(rows));
        return Ok(());
    }
    if all.is_empty() {
        println!("no policy has been adopted yet");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|a| {
            let buckets = PolicyDocument::from_json(&a.json)
                .map(|d| {
                    d.buckets
                        .iter()
                        .map(|b| format!("{} {}", ppm_as_percent(b.percent_ppm()), b.type_name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|e| format!("unreadable: {e}"));
            vec![
                a.version.to_string(),
                format_time(a.created_at_ms.div_euclid(1000)),
                a.author.clone(),
                a.sequence.to_string(),
                buckets,
            ]
        })
        .collect();
    print_table(&["VERSION", "ADOPTED", "BY", "SEQUENCE", "BUCKETS"], &rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Units {
        Units {
            currency: "EUR".into(),
            decimals: 2,
        }
    }

    fn prepared(text: &str) -> Result<PolicyDocument> {
        prepare(text.as_bytes(), &eur(), Some(16)).map(|p| p.document)
    }

    fn refusal(text: &str) -> String {
        match prepared(text) {
            Ok(doc) => panic!("expected a refusal of {text}, got {doc:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn percents_and_amounts_convert_exactly() {
        let doc = prepared(
            r#"{"default_rates": {"work": "30.00", "use": "12.5", "money": 100},
                "rates": {"design": "0.01"},
                "buckets": [
                  {"type": "fixed", "percent": "5.5%", "recipient": "commons"},
                  {"type": "reimburse", "percent": 100, "kinds": ["expense"]},
                  {"type": "shares", "percent": "33.3333%", "percent_ppm": 333333, "kinds": ["work"]},
                  {"type": "allocation", "percent_ppm": 1, "mechanism": "give"}]}"#,
        )
        .unwrap();
        let rates = &doc.policy.default_rates;
        assert_eq!(rates[&Kind::Work], 3000);
        assert_eq!(rates[&Kind::Use], 1250);
        assert_eq!(rates[&Kind::Money], 100, "integers stay minor units");
        assert_eq!(doc.policy.rates["design"], 1);
        let percents: Vec<u64> = doc.buckets.iter().map(Bucket::percent_ppm).collect();
        assert_eq!(percents, [55_000, 1_000_000, 333_333, 1]);
        // The signed bytes are canonical: no `percent`, no strings.
        let p = prepare(
            br#"{"default_rates": {"work": "30"}, "buckets": [{"type": "fixed", "percent": "5%", "recipient": "f"}]}"#,
            &eur(),
            None,
        )
        .unwrap();
        let text = String::from_utf8(p.canonical).unwrap();
        assert!(text.contains(r#""percent_ppm":50000"#), "{text}");
        assert!(text.contains(r#""work":3000"#), "{text}");
        assert!(!text.contains(r#""percent""#), "{text}");
    }

    #[test]
    fn inexact_or_out_of_range_values_are_refused_in_the_users_units() {
        // (file, substrings of the message)
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"default_rates": {"work": "12.345"}, "buckets": []}"#,
                &[
                    "default_rates.work",
                    "3 digits after the point",
                    "EUR has 2",
                    "\"12.34\" or \"12.35\"",
                ],
            ),
            (
                r#"{"default_rates": {"work": "-5.00"}, "buckets": []}"#,
                &[
                    "default_rates.work",
                    "negative",
                    "\"25.50\"",
                    "2500 = 25.00 EUR",
                ],
            ),
            (
                r#"{"default_rates": {"work": -5}, "buckets": []}"#,
                &["default_rates.work", "negative"],
            ),
            (
                r#"{"default_rates": {"work": 25.00}, "buckets": []}"#,
                &[
                    "default_rates.work",
                    "decimal point",
                    "\"25.50\"",
                    "minor units",
                ],
            ),
            (
                r#"{"rates": {"design": "30,00"}, "buckets": []}"#,
                &["rates.design", "'.' for the decimal point"],
            ),
            (
                r#"{"rates": {"design": true}, "buckets": []}"#,
                &["rates.design", "must be an amount", "\"25.50\""],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": "33.33333%", "recipient": "f"}]}"#,
                &[
                    "buckets[0].percent",
                    "not a whole number of ppm",
                    "\"33.3333%\"",
                ],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": "-5%", "recipient": "f"}]}"#,
                &["buckets[0].percent", "negative"],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": 5.5, "recipient": "f"}]}"#,
                &["buckets[0].percent", "decimal point", "\"5.5%\""],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": "5%", "percent_ppm": 55000, "recipient": "f"}]}"#,
                &["buckets[0]", "50000 ppm", "percent_ppm is 55000", "agree"],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": "120%", "recipient": "f"}]}"#,
                &["buckets[0].percent:", "120% is more than 100%", "\"40%\""],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent_ppm": 1200000, "recipient": "f"}]}"#,
                &[
                    "buckets[0].percent_ppm:",
                    "120% is more than 100%",
                    "400000",
                ],
            ),
            (
                r#"{"mode": "straight", "buckets": [
                    {"type": "fixed", "percent": "50%", "recipient": "f"},
                    {"type": "allocation", "percent": "70%", "mechanism": "give"}]}"#,
                &[
                    "buckets:",
                    "at most 100%",
                    "take 120% (50% + 70%)",
                    "\"remaining\"",
                ],
            ),
            (
                r#"{"default_rates": {"work": "600000001.00"}, "buckets": []}"#,
                &[
                    "default_rates.work",
                    "600000001.00 EUR per hour",
                    "at most 600000000.00 EUR per hour",
                    "\"30.00\"",
                ],
            ),
            (
                r#"{"rates": {"x": "10000000.01"}, "buckets": []}"#,
                &["rates.x", "10000000.01 EUR", "at most 10000000.00 EUR"],
            ),
            (
                r#"{"kind_multiplier_ppm": {"work": 2000000000}, "buckets": []}"#,
                &["kind_multiplier_ppm.work", "×2000", "×1000", "×1.5"],
            ),
            (
                r#"{"decay": {"interval_days": 7, "rate_ppm": 1500000}, "buckets": []}"#,
                &["decay.rate_ppm", "150% a step", "10% a step"],
            ),
            (
                r#"{"evaluator_weights": {"method": "eigentrust", "pretrusted": ["ana"], "damping_ppm": 0}, "buckets": []}"#,
                &["evaluator_weights.damping_ppm", "0%", "15%"],
            ),
            (
                r#"{"currency": "USD", "buckets": []}"#,
                &["currency", "\"EUR\""],
            ),
            (
                r#"{"buckets": [{"type": "fixed", "percent": "5%", "percent": "6%", "recipient": "f"}]}"#,
                &["buckets[0]: duplicate key \"percent\""],
            ),
        ];
        for (text, needles) in cases {
            let message = refusal(text);
            for needle in *needles {
                assert!(message.contains(needle), "{needle:?} not in {message:?}");
            }
        }
    }

    #[test]
    fn a_scenario_converts_its_policy_and_buckets_with_its_decimals() {
        let bytes = prepare_scenario(
            br#"{"policy": {"currency": "EUR", "decimals": 2, "default_rates": {"work": "25.00"}},
                 "distribution": {"buckets": [{"type": "fixed", "percent": "5%", "recipient": "f"}]}}"#,
        )
        .unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["policy"]["default_rates"]["work"], 2500);
        assert_eq!(value["distribution"]["buckets"][0]["percent_ppm"], 50_000);
        let err = prepare_scenario(
            br#"{"policy": {"decimals": 2}, "distribution": {"buckets": [{"type": "fixed", "percent": "1.23456%", "recipient": "f"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("distribution.buckets[0].percent"), "{err}");
    }

    #[test]
    fn a_policy_reads_in_words() {
        let doc = prepared(
            r#"{"default_rates": {"work": "30.00"}, "rates": {"design": "35.00"},
                "tag_multiplier_ppm": {"lead": 1200000},
                "validation": {"min_approvals": 2, "max_flags": 0},
                "buckets": [
                  {"type": "fixed", "percent": "5%", "recipient": "commons"},
                  {"type": "reimburse", "percent": "100%", "kinds": ["expense", "money"]},
                  {"type": "shares", "percent": "40%", "kinds": ["work"]}]}"#,
        )
        .unwrap();
        let words = describe(&doc, &eur());
        for needle in [
            "Mode: remaining —",
            "work: 30.00 EUR per hour",
            "tag design: 35.00 EUR per hour",
            "tag lead: ×1.2",
            "at least 2 peers approve it; a single flag makes it invalid",
            "1. 5% — fixed: pays 5% of what is left to commons",
            "2. 100% — reimburse: pays back valid expense and money claims",
            "what it does not need flows to the next bucket",
            "3. 40% — shares: split by points among work",
            "if nobody earned any, it goes to the reserve",
            "What the last bucket leaves is the reserve.",
        ] {
            assert!(words.contains(needle), "{needle:?} not in:\n{words}");
        }
    }
}
