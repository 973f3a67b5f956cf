//! `coopledger simulate --scenario FILE.json`: what a policy lets scripted
//! attacks take, before the members adopt it (issue #12).
//!
//! The scenario is scored as it is, then once per attack of the catalogue
//! (`coopledger::simulate`); the table says, per attack and bucket, the
//! share the attackers took, their gain over their honest payout, and the
//! largest and mean loss of honest members. `--policy FILE` runs the same
//! month under another policy (a draft, in the treasurer's units), so two
//! policies can be compared on the same log; `--json` prints the figures
//! for scripts. Everything is computed before the first line is printed: a
//! refusal prints nothing on standard output.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use coopledger::scoring::ScoringInput;
use coopledger::simulate::{self, AttackKind, BucketMeasure, OutcomeResult, Settings, Simulation};

use super::input::{format_money, parse_decimal};
use super::policy::{Units, prepare};

/// Arguments of `coopledger simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The scenario to attack (SCORING.md §7), e.g. a month from `export --scenario`.
    #[arg(long, value_name = "FILE.json")]
    pub scenario: PathBuf,
    /// Run the month under this policy file (the `policy adopt` format, in percents and currency) instead of the scenario's own.
    #[arg(long, value_name = "FILE.json")]
    pub policy: Option<PathBuf>,
    /// Only this attack (repeatable): sybil-ring, collusion-ratings, collusion-flags, inflated-hours, flag-rival, give-clique, impartial-report.
    #[arg(long = "attack", value_name = "NAME")]
    pub attacks: Vec<String>,
    /// How many made-up members join the sybil ring (default: a tenth of the members, 2 to 20).
    #[arg(long, value_name = "N")]
    pub sybils: Option<usize>,
    /// How many real members form a ring, coalition or clique (default: a tenth of the members, 2 to 20, from the middle of the honest payouts).
    #[arg(long, value_name = "N")]
    pub ring: Option<usize>,
    /// The real members who attack, comma-separated, instead of the middle of the honest payouts.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub attackers: Option<Vec<String>>,
    /// The member a coalition flags (default: the best paid outside it).
    #[arg(long, value_name = "MEMBER")]
    pub rival: Option<String>,
    /// How much inflated work is multiplied by: `2` doubles it, `1.5` adds half.
    #[arg(long, value_name = "FACTOR", default_value = "2")]
    pub inflate: String,
    /// The most evaluations one attack may add (a ring rating every claim of a large month adds many).
    #[arg(long, value_name = "N", default_value_t = Settings::default().max_added_evaluations)]
    pub max_added_evaluations: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `coopledger simulate`.
pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let output = render(args)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The settings the arguments ask for, checked.
fn settings(args: &SimulateArgs) -> anyhow::Result<Settings> {
    let attacks = args
        .attacks
        .iter()
        .map(|name| {
            AttackKind::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = AttackKind::ALL.iter().map(|k| k.name()).collect();
                anyhow!(
                    "--attack {name:?} is not an attack; choose from {}",
                    known.join(", ")
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let inflate_ppm = parse_decimal(&args.inflate, 6).map_err(|_| {
        anyhow!(
            "--inflate {:?} is not a factor: write it like 2 or 1.5 (at most 6 digits after the point)",
            args.inflate
        )
    })?;
    Ok(Settings {
        attacks,
        sybils: args.sybils,
        ring: args.ring,
        attackers: args.attackers.clone(),
        rival: args.rival.clone(),
        inflate_ppm,
        max_added_evaluations: args.max_added_evaluations,
    })
}

/// Reads the scenario file and renders its simulation.
fn render(args: &SimulateArgs) -> anyhow::Result<String> {
    let settings = settings(args)?;
    let shown = args.scenario.display().to_string();
    let bytes =
        std::fs::read(&args.scenario).with_context(|| format!("cannot read scenario {shown}"))?;
    simulate_scenario(&bytes, &shown, args.policy.as_deref(), &settings, args.json)
}

/// Runs the simulation of a scenario's bytes (named `shown` in messages),
/// under its own policy or the one in `policy`, and renders it: the table,
/// or JSON. The demo calls it on the month it has just recorded.
pub fn simulate_scenario(
    bytes: &[u8],
    shown: &str,
    policy: Option<&std::path::Path>,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<String> {
    let mut input = super::score::scenario_input(bytes, shown)?;
    let policy_source = match policy {
        None => "its own policy".to_owned(),
        Some(file) => {
            replace_policy(&mut input, file)?;
            format!("the policy in {}", file.display())
        }
    };
    let simulation =
        simulate::simulate(&input, settings).map_err(|err| anyhow!("scenario {shown}: {err}"))?;
    let units = Units {
        currency: input.policy.currency.clone().unwrap_or_default(),
        decimals: input.policy.decimals.unwrap_or(0),
    };
    if json {
        let json = serde_json::json!({
            "scenario": shown,
            "policy": policy.map(|p| p.display().to_string()),
            "currency": input.policy.currency,
            "decimals": input.policy.decimals,
            "simulation": simulation,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&json)?));
    }
    Ok(table(shown, &policy_source, &simulation, &units))
}

/// Puts the policy of `file` (the `policy adopt` format, friendly units
/// allowed) in place of the scenario's own, keeping its currency.
fn replace_policy(input: &mut ScoringInput, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read policy {}", file.display()))?;
    let own = &input.policy;
    let units = Units {
        currency: own.currency.clone().unwrap_or_default(),
        decimals: own.decimals.unwrap_or(0),
    };
    let prepared = prepare(&bytes, &units, None)
        .map_err(|err| anyhow!("policy {} refused: {err}", file.display()))?;
    let mut document = prepared.document;
    document.currency = document.currency.or_else(|| own.currency.clone());
    document.decimals = document.decimals.or(own.decimals);
    input.policy = document;
    Ok(())
}

/// The human table: one block per attack, then a summary line per attack.
fn table(scenario: &str, policy: &str, simulation: &Simulation, units: &Units) -> String {
    let money = |amount: u64| money(amount, units);
    let signed = |amount: i64| {
        let sign = if amount < 0 { "-" } else { "+" };
        format!("{sign}{}", money(amount.unsigned_abs()))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Attacks on {scenario} under {policy}: {} members, {} claim(s) in the period, income {}.",
        simulation.members,
        simulation.period_contributions,
        money(simulation.income)
    );
    let _ = writeln!(
        out,
        "\"take\" is the attackers' share of each bucket, \"honest run\" what the same \
         members got without the attack;\nlosses are honest members' (largest, and the mean \
         over all honest members)."
    );
    let mut summary: Vec<Vec<String>> = Vec::new();
    for outcome in &simulation.outcomes {
        let name = outcome.attack.name();
        let _ = writeln!(out, "\n{name}: {}", outcome.story);
        match &outcome.result {
            OutcomeResult::NotApplicable { reason } => {
                let _ = writeln!(out, "  not applicable: {reason}");
                summary.push(vec![name.to_owned(), "n/a".into(), "".into(), "".into()]);
            }
            OutcomeResult::Skipped { reason } => {
                let _ = writeln!(out, "  skipped: {reason}");
                summary.push(vec![
                    name.to_owned(),
                    "skipped".into(),
                    "".into(),
                    "".into(),
                ]);
            }
            OutcomeResult::Measured(measure) => {
                let mut rows = vec![header()];
                for bucket in measure.buckets.iter().chain([&measure.total]) {
                    rows.push(row(bucket, &money, &signed));
                }
                out.push_str(&aligned(&rows));
                let total = &measure.total;
                summary.push(vec![
                    name.to_owned(),
                    ppm_as_percent(total.captured_ppm),
                    signed(total.gain),
                    loss(total, &money),
                ]);
            }
        }
    }
    out.push_str("\nSummary (whole payout)\n");
    let mut rows = vec![vec![
        "attack".to_owned(),
        "take".to_owned(),
        "gain".to_owned(),
        "largest honest loss".to_owned(),
    ]];
    rows.extend(summary);
    out.push_str(&aligned(&rows));
    out
}

fn header() -> Vec<String> {
    [
        "bucket",
        "amount",
        "take",
        "taken",
        "honest run",
        "gain",
        "largest honest loss",
        "mean loss",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn row(
    bucket: &BucketMeasure,
    money: &impl Fn(u64) -> String,
    signed: &impl Fn(i64) -> String,
) -> Vec<String> {
    let label = match bucket.bucket {
        Some(index) => format!("{index} {}", bucket.label),
        None => bucket.label.clone(),
    };
    vec![
        label,
        money(bucket.amount),
        ppm_as_percent(bucket.captured_ppm),
        money(bucket.captured),
        money(bucket.honest_run),
        signed(bucket.gain),
        loss(bucket, money),
        money(bucket.mean_loss),
    ]
}

/// ppm as a percent with two decimals, rounded half up: `29.63%`.
fn ppm_as_percent(ppm: u64) -> String {
    let hundredths = (ppm + 50) / 100;
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// `ana -12.00 EUR (-40%)`, or `-` when no honest member lost.
fn loss(bucket: &BucketMeasure, money: &impl Fn(u64) -> String) -> String {
    match &bucket.largest_loss {
        None => "-".to_owned(),
        Some(loss) => match loss.of_honest_ppm {
            Some(ppm) => format!(
                "{} -{} (-{})",
                loss.member,
                money(loss.amount),
                ppm_as_percent(ppm)
            ),
            None => format!("{} -{}", loss.member, money(loss.amount)),
        },
    }
}

fn money(amount: u64, units: &Units) -> String {
    let text = format_money(amount, units.decimals);
    if units.currency.is_empty() {
        text
    } else {
        format!("{text} {}", units.currency)
    }
}

/// Rows in columns, the first left-aligned and the others (figures)
/// right-aligned, indented by two spaces.
fn aligned(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let right: Vec<bool> = (0..width).map(|i| i > 0).collect();
    super::score::columns(rows, &right, "  ")
}
