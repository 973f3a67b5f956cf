//! `coopledger score --scenario FILE.json`: the offline what-if.
//!
//! A treasurer runs a scenario (SCORING.md §7) through the scoring core
//! before adopting a policy. The default output is a table with amounts in
//! the currency's units; `--json` prints the report in the §7 shape (plus
//! `decimals`, `period`, `mode` and `repayments`); `--full` adds every
//! member's per-contribution explanations to it; `--explain MEMBER` shows
//! one member's breakdown. A malformed scenario is refused with the field
//! and the rule, and nothing else is printed: the scenario is read and
//! scored in full before the first byte is written, and only the writing
//! streams (a million contributions' explanations are hundreds of MB).
//!
//! `COOPLEDGER_SCORE_TIMING=1` writes how long reading, scoring and
//! writing took to standard error, for profiling large scenarios.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};
use coopledger::scoring::ScoringInput;
use coopledger::scoring::input::Kind;
use coopledger::scoring::report::{Explanation, Report};
use coopledger::scoring::scenario::Scenario;
use coopledger::scoring::units::{ppm_as_factor as factor, ppm_as_percent as percent};

/// Arguments of `coopledger score`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// The scenario file to score (the format of SCORING.md §7).
    #[arg(long, value_name = "FILE.json")]
    pub scenario: PathBuf,
    /// Print the report (or, with --explain, the breakdown) as JSON.
    #[arg(long)]
    pub json: bool,
    /// With --json: also print every member's breakdown, contribution by
    /// contribution, under "explanations" (large: about 700 bytes per
    /// contribution).
    #[arg(long, requires = "json", conflicts_with = "explain")]
    pub full: bool,
    /// Show why this member (or fund) got what they got.
    #[arg(long, value_name = "MEMBER")]
    pub explain: Option<String>,
}

/// Writes how long a phase took to standard error when
/// `COOPLEDGER_SCORE_TIMING` is set (profiling; off by default).
struct Phases {
    on: bool,
    last: Instant,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            on: std::env::var_os("COOPLEDGER_SCORE_TIMING").is_some(),
            last: Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        if self.on {
            eprintln!("{phase:<8} {:>8.3} s", self.last.elapsed().as_secs_f64());
        }
        self.last = Instant::now();
    }
}

/// Runs `coopledger score`: prints the report, or fails with the refusal
/// and prints nothing on standard output.
pub fn run(args: &ScoreArgs) -> anyhow::Result<()> {
    let mut phases = Phases::start();
    let report = score(args, &mut phases)?;
    // Everything that can be refused is refused by now; an unknown
    // --explain name too, before the first byte.
    let explained = match &args.explain {
        Some(name) => Some((
            name,
            report.explain(name).ok_or_else(|| {
                anyhow!(
                    "{name:?} is neither a member of scenario {} nor a recipient in its report",
                    args.scenario.display()
                )
            })?,
        )),
        None => None,
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match explained {
        None if args.json => {
            report.write_json(&mut out, args.full)?;
            out.write_all(b"\n")?;
        }
        None => out.write_all(table(&report).as_bytes())?,
        Some((_, explanation)) if args.json => {
            serde_json::to_writer_pretty(&mut out, &explanation)?;
            out.write_all(b"\n")?;
        }
        Some((name, explanation)) => {
            out.write_all(explain(&report, name, &explanation).as_bytes())?
        }
    }
    out.flush()?;
    phases.done("write");
    Ok(())
}

/// Reads the scenario (friendly units converted, SCORING.md §7) and scores
/// it. The file's bytes and the scenario are let go of as soon as they are
/// no longer needed, so the peak memory is the larger of reading and
/// scoring, not their sum.
/// Reads a scenario file's bytes into the scoring input, not yet
/// validated (scoring validates it, with the same refusals): one pass,
/// percents and amounts in the treasurer's units made canonical in the
/// small `policy` and `distribution` parts only; what that pass does not
/// accept goes through the whole-file path, which says what is wrong.
/// `shown` names the file in refusals. `simulate` reads scenarios the same
/// way.
pub fn scenario_input(bytes: &[u8], shown: &str) -> anyhow::Result<ScoringInput> {
    let refused = |err: &dyn std::fmt::Display| anyhow!("scenario {shown} refused: {err}");
    match Scenario::input_from_json_prepared(bytes, &mut super::policy::prepare_scenario_part) {
        Some(input) => Ok(input),
        None => {
            let prepared = super::policy::prepare_scenario(bytes).map_err(|e| refused(&e))?;
            Ok(Scenario::from_json(&prepared)
                .map_err(|e| refused(&e))?
                .input)
        }
    }
}

fn score(args: &ScoreArgs, phases: &mut Phases) -> anyhow::Result<Report> {
    let shown = args.scenario.display();
    let refused = |err: &dyn std::fmt::Display| anyhow!("scenario {shown} refused: {err}");
    let bytes =
        std::fs::read(&args.scenario).with_context(|| format!("cannot read scenario {shown}"))?;
    phases.done("load");
    let input = scenario_input(&bytes, &shown.to_string())?;
    drop(bytes);
    phases.done("read");
    let report = coopledger::scoring::score(&input).map_err(|e| refused(&e))?;
    phases.done("score");
    // Millions of small strings take a noticeable time to free one by one
    // (0.2 s for a million contributions), and the process ends right
    // after writing the report: the operating system takes the memory
    // back at once. The peak is not raised: scoring is over.
    std::mem::forget(input);
    Ok(report)
}

/// Formats minor units in the currency's units: `33684` → `336.84 USD`.
struct Money<'r> {
    decimals: u32,
    currency: Option<&'r str>,
}

impl Money<'_> {
    fn of(report: &Report) -> Money<'_> {
        Money {
            decimals: report.decimals.unwrap_or(0),
            currency: report.currency.as_deref(),
        }
    }

    fn fmt(&self, amount: impl Into<u128>) -> String {
        let amount: u128 = amount.into();
        let mut text = if self.decimals == 0 {
            amount.to_string()
        } else {
            let unit = 10u128.pow(self.decimals);
            format!(
                "{}.{:0width$}",
                amount / unit,
                amount % unit,
                width = self.decimals as usize
            )
        };
        if let Some(code) = self.currency {
            text.push(' ');
            text.push_str(code);
        }
        text
    }
}

/// Lays out rows in columns; `right[i]` right-aligns column i.
pub(super) fn columns(rows: &[Vec<String>], right: &[bool], indent: &str) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i] - cell.chars().count();
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn kinds(list: &[Kind]) -> String {
    list.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default, readable report.
fn table(report: &Report) -> String {
    let money = Money::of(report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Distribution of {} for {} to {} (mode {})",
        money.fmt(report.income),
        report.period.start,
        report.period.end,
        report.mode
    );

    out.push_str("\nPayouts\n");
    let mut names: Vec<&String> = report.payouts.keys().chain(report.points.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows = vec![vec!["recipient".into(), "amount".into(), "points".into()]];
    for name in names {
        rows.push(vec![
            name.clone(),
            money.fmt(report.payouts.get(name).copied().unwrap_or(0)),
            report
                .points
                .get(name)
                .map_or_else(|| "-".to_owned(), u128::to_string),
        ]);
    }
    out.push_str(&columns(&rows, &[false, true, true], "  "));

    out.push_str("\nBuckets\n");
    let mut rows = vec![vec![
        "#".into(),
        "type".into(),
        "of".into(),
        "percent".into(),
        "amount".into(),
        "paid".into(),
        "unpaid".into(),
    ]];
    for (index, bucket) in report.buckets.iter().enumerate() {
        let detail = match bucket.bucket_type.as_str() {
            "fixed" => format!("fixed → {}", bucket.recipient.as_deref().unwrap_or("?")),
            "reimburse" => format!(
                "reimburse {}",
                kinds(bucket.kinds.as_deref().unwrap_or(&[]))
            ),
            "shares" => format!(
                "shares {} ({})",
                kinds(bucket.kinds.as_deref().unwrap_or(&[])),
                bucket.method.as_deref().unwrap_or("?")
            ),
            other => format!("{other} ({})", bucket.mechanism.as_deref().unwrap_or("?")),
        };
        rows.push(vec![
            index.to_string(),
            detail,
            money.fmt(bucket.base),
            percent(bucket.percent_ppm),
            money.fmt(bucket.amount),
            money.fmt(bucket.amount - bucket.unpaid),
            money.fmt(bucket.unpaid),
        ]);
        for (name, paid) in &bucket.paid {
            rows.push(vec![
                String::new(),
                format!("  {name}"),
                String::new(),
                String::new(),
                String::new(),
                money.fmt(*paid),
                String::new(),
            ]);
        }
    }
    out.push_str(&columns(
        &rows,
        &[true, false, true, true, true, true, true],
        "  ",
    ));

    let _ = writeln!(out, "\nReserve: {}", money.fmt(report.reserve));
    out.push_str("\nWarnings\n");
    if report.warnings.is_empty() {
        out.push_str("  none\n");
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  - {warning}");
    }
    out
}

/// One member's breakdown, readable.
fn explain(report: &Report, name: &str, explanation: &Explanation) -> String {
    let money = Money::of(report);
    let mut out = String::new();
    let _ = write!(
        out,
        "{name}: payout {}, {} points in the period",
        money.fmt(explanation.payout),
        explanation.points
    );
    if let Some(weight) = explanation.evaluator_weight {
        let _ = write!(out, ", evaluator weight {weight}");
    }
    out.push('\n');

    if !explanation.contributions.is_empty() {
        let _ = writeln!(
            out,
            "\nContributions dated before {} ({})",
            report.period.end,
            explanation.contributions.len()
        );
    }
    for line in &explanation.contributions {
        let when = if line.in_period {
            "in the period"
        } else {
            "before the period"
        };
        let _ = writeln!(out, "  {} {} at {} ({when})", line.id, line.kind, line.at);
        let how = match (line.kind, line.rate) {
            (Kind::Money | Kind::Expense, _) => "money as logged, no rate needed".to_owned(),
            (Kind::Work, Some(rate)) => format!(
                "{} min × {}/h, rate from {}",
                line.quantity,
                money.fmt(rate),
                line.rate_source
            ),
            (_, Some(rate)) => format!(
                "{} × {}, rate from {}",
                line.quantity,
                money.fmt(rate),
                line.rate_source
            ),
            (_, None) => "no rate resolves: worth 0".to_owned(),
        };
        let _ = writeln!(out, "      value {} ({how})", money.fmt(line.value));
        let _ = writeln!(
            out,
            "      peers: {} approval(s), {} flag(s) → {}; quality {}% ({}, {} rating(s))",
            line.approvals,
            line.flags,
            super::treasurer::validity_words(line.valid, line.invalid.map(|i| i.as_str())),
            line.quality,
            line.quality_source,
            line.ratings
        );
        let mut steps = format!("kind {}", factor(line.kind_multiplier_ppm));
        for tag in &line.tag_multipliers {
            let _ = write!(steps, ", tag {} {}", tag.tag, factor(tag.ppm));
        }
        let _ = write!(
            steps,
            ", decay {} ({} step(s)), quality {}%",
            factor(line.decay_ppm),
            line.decay_steps,
            line.quality
        );
        let _ = writeln!(out, "      points {} ({steps})", line.points);
        if line.prior_repaid > 0 || line.repaid > 0 {
            let _ = writeln!(
                out,
                "      repaid {} now, {} before",
                money.fmt(line.repaid),
                money.fmt(line.prior_repaid)
            );
        }
    }

    out.push_str("\nBuckets\n");
    if explanation.buckets.is_empty() {
        out.push_str("  no bucket paid or weighed them\n");
    }
    for line in &explanation.buckets {
        let mut basis = String::new();
        if let (Some(points), Some(total)) = (line.points, line.total_points) {
            let _ = write!(basis, "{points} of {total} points");
            if let Some(prior) = line.prior {
                let _ = write!(basis, ", {} paid before", money.fmt(prior));
            }
        }
        if let (Some(weight), Some(total)) = (line.weight, line.total_weight) {
            let _ = write!(basis, "weight {weight} of {total}");
        }
        if let Some(claims) = &line.claims {
            let parts: Vec<String> = claims
                .iter()
                .map(|c| {
                    format!(
                        "{} repaid {} of {} owed",
                        c.contribution,
                        money.fmt(c.paid),
                        money.fmt(c.outstanding)
                    )
                })
                .collect();
            basis.push_str(&parts.join("; "));
        }
        let _ = writeln!(
            out,
            "  {} {:<10} {}{}{}",
            line.index,
            line.bucket_type,
            money.fmt(line.paid),
            if basis.is_empty() { "" } else { "  " },
            basis
        );
    }
    out
}
