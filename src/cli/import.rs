//! For admins bringing history in: `coopledger import FILE.csv` turns a
//! spreadsheet of past contributions into `AttestContribution` entries,
//! signed by the admin on behalf of the members each row names.
//!
//! The whole file is checked before anything is signed: every cell is
//! parsed with the same parsers `coopledger log` uses, every contribution
//! passes the same stateless checks the server runs, the named members must
//! exist and not be suspended, and no date may fall in the future or in a
//! period a standing distribution closed. One bad row refuses the whole
//! file, naming each bad row and column and what is accepted there;
//! `--dry-run` shows what would land and writes nothing.
//!
//! A good file is submitted with `SubmitBatch` in chunks the server accepts
//! (its `max_batch_entries`, and half its message limit), each chunk's
//! receipts checked (`receipts::check_batch_receipts`). Each entry's nonce
//! is derived from what the row says (see [`row_nonce`]), so a rerun after
//! an interruption recognises the rows that already landed and submits only
//! the rest: importing the same file twice adds nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::client;
use coopledger::ledger::{Limits, check_contribution, check_handle};
use coopledger::pb;

use super::contribute::{kind_name, parse_kind, parse_quantity};
use super::input::{format_minutes, format_money, format_time, parse_money, parse_time, plural};
use super::{Context, Session, print_table, status};

/// `coopledger import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The CSV file: a header row naming member, kind, quantity, date (and
    /// optionally note, evidence, tags, rate, project), then one row per
    /// contribution.
    pub file: PathBuf,
    /// Check the whole file and show what would land; sign and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// Columns every file must have.
const REQUIRED: [&str; 4] = ["member", "kind", "quantity", "date"];
/// Columns a file may have.
const OPTIONAL: [&str; 5] = ["note", "evidence", "tags", "rate", "project"];
/// At most this many bad rows are listed in a refusal.
const MAX_LISTED: usize = 20;

/// What each column accepts, for refusals.
fn accepted(column: &str) -> &'static str {
    match column {
        "member" => "a member's handle, e.g. ana",
        "kind" => "work, money, expense, resource or use",
        "quantity" => {
            "work: a duration (1h30m, 90m, 1.5h, 1:30); money and expense: an amount (25.00); resource and use: whole units (3)"
        }
        "date" => {
            "a date (2026-11-03) or an RFC 3339 time (2026-11-03T10:00:00Z), not in the future"
        }
        "rate" => {
            "an amount per hour (work) or per unit (resource, use), e.g. 30.00; empty for the policy's rates"
        }
        "tags" => "tags separated by spaces or commas, e.g. design cad",
        _ => "text",
    }
}

/// One good row: the member and the contribution it becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u64,
    /// The member it is attested for.
    pub member: String,
    /// The contribution's fields.
    pub contribution: pb::Contribution,
}

/// One problem with a file: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u64,
    /// The column's name, if the problem is in one cell.
    pub column: Option<String>,
    /// What is wrong, and what is accepted.
    pub message: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

fn bad(row: u64, column: &str, message: impl Into<String>) -> BadRow {
    BadRow {
        row,
        column: Some(column.to_string()),
        message: message.into(),
    }
}

/// What parsing needs from the server: the currency's digits, the limits
/// a contribution must fit, and the latest `at` the server accepts.
#[derive(Clone, Debug)]
pub struct ParseRules {
    /// Minor-unit digits of the network's currency.
    pub decimals: u32,
    /// The server's limits (tags, string and note lengths).
    pub limits: Limits,
    /// The latest acceptable date, Unix seconds (now plus the clock skew).
    pub latest: i64,
}

/// Parses and checks every row of a CSV file without the server's state:
/// the rows, or every problem found (all rows are looked at, so one run
/// lists every bad row, up to the file's end).
pub fn parse_rows(bytes: &[u8], rules: &ParseRules) -> Result<Vec<Row>, Vec<BadRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![BadRow {
                row: 1,
                column: None,
                message: format!("the header row cannot be read: {e}"),
            }]);
        }
    };
    let mut problems = Vec::new();
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    let all = || {
        format!(
            "the columns are {} (required) and {} (optional)",
            REQUIRED.join(", "),
            OPTIONAL.join(", ")
        )
    };
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
        match REQUIRED.iter().chain(OPTIONAL.iter()).find(|c| **c == name) {
            Some(c) if columns.contains_key(c) => {
                problems.push(bad(1, c, "this column is named twice"));
            }
            Some(c) => {
                columns.insert(c, i);
            }
            None => problems.push(bad(
                1,
                h,
                format!("not a column this import knows; {}", all()),
            )),
        }
    }
    for c in REQUIRED {
        if !columns.contains_key(c) {
            problems.push(bad(
                1,
                c,
                format!("the header has no {c} column; {}", all()),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths { len, .. } => format!(
                        "has {len} field{} but the header has {}",
                        plural(*len as usize),
                        headers.len()
                    ),
                    _ => format!("cannot be read: {e}"),
                };
                problems.push(BadRow {
                    row,
                    column: None,
                    message,
                });
                continue;
            }
        };
        match parse_row(row, &record, &columns, rules) {
            Ok(r) => rows.push(r),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(BadRow {
            row: 2,
            column: None,
            message: "the file has a header but no rows to import".into(),
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// One row's cells into a checked contribution, or its problems.
fn parse_row(
    row: u64,
    record: &csv::StringRecord,
    columns: &HashMap<&'static str, usize>,
    rules: &ParseRules,
) -> Result<Row, Vec<BadRow>> {
    let cell = |c: &str| {
        columns
            .get(c)
            .and_then(|i| record.get(*i))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    let fail = |column: &str, message: String| {
        bad(
            row,
            column,
            format!("{message} (accepted: {})", accepted(column)),
        )
    };
    let member = cell("member").to_string();
    if let Err(e) = check_handle(&member, "member") {
        problems.push(fail("member", strip_field(&e.to_string())));
    }
    let kind = match parse_kind(&cell("kind").to_ascii_lowercase()) {
        Ok(k) => Some(k),
        Err(e) => {
            problems.push(fail("kind", e.to_string()));
            None
        }
    };
    let quantity = match kind.map(|k| parse_quantity(k, cell("quantity"), rules.decimals)) {
        Some(Ok(q)) => Some(q),
        Some(Err(e)) => {
            problems.push(fail("quantity", format!("{e:#}")));
            None
        }
        None => None,
    };
    let at = match parse_time(cell("date")) {
        Ok(at) if at > rules.latest => {
            problems.push(fail(
                "date",
                format!("{} is in the future; import what was done", format_time(at)),
            ));
            None
        }
        Ok(at) => Some(at),
        Err(e) => {
            problems.push(fail("date", e.to_string()));
            None
        }
    };
    let rate = match cell("rate") {
        "" => None,
        r => match parse_money(r, rules.decimals) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(fail("rate", e.to_string()));
                None
            }
        },
    };
    let tags: Vec<String> = cell("tags")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (Some(kind), Some(quantity), Some(at), true) = (kind, quantity, at, problems.is_empty())
    else {
        return Err(problems);
    };
    let contribution = pb::Contribution {
        kind: kind as i32,
        quantity,
        rate,
        tags,
        project: cell("project").to_string(),
        at,
        note: cell("note").to_string(),
        evidence_url: cell("evidence").to_string(),
        evidence_hash: Vec::new(),
    };
    // The checks the server runs on a member's own contribution.
    if let Err(e) = check_contribution(Some(&contribution), &rules.limits, "contribution") {
        let text = e.to_string();
        let column = match text
            .strip_prefix("contribution.")
            .and_then(|t| t.split([':', '[', '.']).next())
        {
            Some("quantity") => "quantity",
            Some("rate") => "rate",
            Some("tags") => "tags",
            Some("project") => "project",
            Some("at") => "date",
            Some("note") => "note",
            Some("evidence_url") => "evidence",
            _ => "kind",
        };
        return Err(vec![fail(column, strip_field(&text))]);
    }
    Ok(Row {
        row,
        member,
        contribution,
    })
}

/// A refusal's message without its leading `field: `.
fn strip_field(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .to_string()
}

/// The nonce of the entry a row becomes: the first 16 bytes of a blake3
/// keyed by this purpose over the network, the member, the contribution's
/// canonical bytes, and which copy of that exact row this is in the file
/// (`occurrence`, from 0). It depends on what the row says, not on where it
/// sits, so a rerun (of the same file, or of one where other rows were
/// fixed, added or moved) gives the rows that already landed the same
/// nonces, and the import skips them. Two identical rows stay two entries.
pub fn row_nonce(
    network_id: &[u8],
    member: &str,
    contribution: &pb::Contribution,
    occurrence: u64,
) -> Vec<u8> {
    use prost::Message as _;
    let mut h = blake3::Hasher::new_derive_key("coopledger import v1 row nonce");
    h.update(&(network_id.len() as u64).to_be_bytes());
    h.update(network_id);
    h.update(&(member.len() as u64).to_be_bytes());
    h.update(member.as_bytes());
    let bytes = contribution.encode_to_vec();
    h.update(&(bytes.len() as u64).to_be_bytes());
    h.update(&bytes);
    h.update(&occurrence.to_be_bytes());
    h.finalize().as_bytes()[..coopledger::ledger::NONCE_BYTES].to_vec()
}

/// The nonce of each row, in order ([`row_nonce`], counting copies).
fn nonces(network_id: &[u8], rows: &[Row]) -> Vec<Vec<u8>> {
    let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
    rows.iter()
        .map(|r| {
            use prost::Message as _;
            let mut key = r.member.as_bytes().to_vec();
            key.push(0);
            key.extend(r.contribution.encode_to_vec());
            let n = seen.entry(key).or_insert(0);
            let nonce = row_nonce(network_id, &r.member, &r.contribution, *n);
            *n += 1;
            nonce
        })
        .collect()
}

/// The nonces of every attested contribution already in the log (each
/// envelope's signature checked, its nonce read from the signed bytes).
async fn landed_nonces(session: &mut Session) -> Result<HashSet<Vec<u8>>> {
    let mut found = HashSet::new();
    super::for_each_entry(session, &[pb::EntryKind::AttestContribution], |_, v| {
        found.insert(v.entry.nonce);
        Ok(())
    })
    .await?;
    Ok(found)
}

/// Checks the rows against the log: members exist and are not suspended,
/// no date falls in a period a standing distribution closed.
async fn check_against_log<'r>(
    session: &mut Session,
    rows: impl Iterator<Item = &'r Row>,
) -> Result<Vec<BadRow>> {
    let members: BTreeMap<String, Option<u64>> = session
        .client
        .list_members(pb::ListMembersRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .members
        .into_iter()
        .map(|m| (m.handle, m.suspended_at))
        .collect();
    let closed: Vec<(i64, i64, u64)> = session
        .distributions()
        .await?
        .into_iter()
        .filter(|d| d.voided.is_none())
        .filter_map(|d| d.period.map(|p| (p.start, p.end, d.sequence)))
        .collect();
    let mut problems = Vec::new();
    for r in rows {
        match members.get(&r.member) {
            None => {
                let hint = members
                    .keys()
                    .map(|h| (strsim::levenshtein(h, &r.member), h))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, h)| format!(" (did you mean {h}?)"))
                    .unwrap_or_default();
                problems.push(bad(
                    r.row,
                    "member",
                    format!(
                        "{:?} is not a member of this network{hint}; admit them first (`coopledger member admit`)",
                        r.member
                    ),
                ));
            }
            Some(Some(at)) => problems.push(bad(
                r.row,
                "member",
                format!(
                    "{} is suspended (entry {at}) and could not dispute what is attested for them; reinstate them first",
                    r.member
                ),
            )),
            Some(None) => {}
        }
        let at = r.contribution.at;
        if let Some((start, end, sequence)) = closed.iter().find(|(s, e, _)| *s <= at && at < *e) {
            problems.push(bad(
                r.row,
                "date",
                format!(
                    "{} falls in {}..{}, already distributed by entry {sequence}; it can no longer change",
                    format_time(at),
                    format_time(*start),
                    format_time(*end)
                ),
            ));
        }
    }
    Ok(problems)
}

/// The refusal of a file with problems: every problem (up to
/// [`MAX_LISTED`]), and that nothing was submitted.
fn refusal(file: &str, mut problems: Vec<BadRow>) -> anyhow::Error {
    problems.sort_by_key(|p| p.row);
    let n = problems.len();
    let mut text = format!(
        "{file}: {n} problem{} found; the whole file is refused and nothing was submitted:",
        plural(n)
    );
    for p in problems.iter().take(MAX_LISTED) {
        text += &format!("\n  {p}");
    }
    if n > MAX_LISTED {
        text += &format!("\n  ... and {} more", n - MAX_LISTED);
    }
    anyhow::anyhow!(text)
}

/// What the rows hold, per member and kind: rows and total quantity.
fn summary(rows: &[&Row], decimals: u32) -> Vec<Vec<String>> {
    let mut by: BTreeMap<(&str, i32), (u64, u128)> = BTreeMap::new();
    for r in rows {
        let e = by
            .entry((r.member.as_str(), r.contribution.kind))
            .or_default();
        e.0 += 1;
        e.1 += u128::from(r.contribution.quantity);
    }
    by.into_iter()
        .map(|((member, kind), (n, total))| {
            let total = u64::try_from(total).unwrap_or(u64::MAX);
            let quantity = match pb::ContributionKind::try_from(kind) {
                Ok(pb::ContributionKind::Work) => format_minutes(total),
                Ok(pb::ContributionKind::Money | pb::ContributionKind::Expense) => {
                    format_money(total, decimals)
                }
                _ => format!("{total} units"),
            };
            vec![
                member.to_string(),
                kind_name(kind).to_string(),
                n.to_string(),
                quantity,
            ]
        })
        .collect()
}

/// The file's name as entries' `source` gives it: at most 100 characters,
/// control characters replaced by `?` (the server refuses them in text).
fn source_name(file: &std::path::Path) -> String {
    let name = file
        .file_name()
        .map_or_else(|| "import".into(), |n| n.to_string_lossy().into_owned());
    name.chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The limits a contribution must fit on this server.
fn server_limits(info: &pb::ServerInfo) -> Limits {
    let mut limits = Limits::default();
    if let Some(l) = &info.limits {
        limits.max_tags = usize::try_from(l.max_tags).unwrap_or(usize::MAX);
        limits.max_string_bytes = usize::try_from(l.max_string_bytes).unwrap_or(usize::MAX);
        limits.max_note_bytes = usize::try_from(l.max_note_bytes).unwrap_or(usize::MAX);
    }
    limits
}

/// Asks on the terminal whether to go on; refuses without one.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "{question}: pass --yes to import without a prompt (or --dry-run to see what would land)"
        );
    }
    eprint!("{question}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `coopledger import FILE.csv [--dry-run] [--yes]`.
pub async fn import(ctx: &Context, args: &ImportArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {}",
            args.file.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "there is no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            }
        )
    })?;
    let name = source_name(&args.file);
    let digest = blake3::hash(&bytes).to_hex();
    let mut session = ctx.connect().await?;
    if session.genesis.is_none() {
        bail!("the server has no network yet: found one with `coopledger init` first");
    }
    let signer = ctx.signer(&session)?;
    let me = session
        .client
        .get_member(pb::GetMemberRequest {
            handle: signer.handle().to_string(),
        })
        .await
        .map_err(status)?
        .into_inner();
    if !me.roles.contains(&(pb::Role::Admin as i32)) {
        bail!(
            "{} is not an admin; only admins import history on members' behalf",
            signer.handle()
        );
    }
    let skew = session
        .info
        .limits
        .as_ref()
        .map_or(0, |l| l.max_clock_skew_ms / 1000);
    let rules = ParseRules {
        decimals: session.decimals(),
        limits: server_limits(&session.info),
        latest: coopledger::ledger::now_ms() / 1000 + i64::try_from(skew).unwrap_or(0),
    };
    let rows = parse_rows(&bytes, &rules).map_err(|p| refusal(&name, p))?;
    let network_id = session.info.network_id.clone();
    let nonces = nonces(&network_id, &rows);
    let landed = landed_nonces(&mut session).await?;
    let todo: Vec<(&Row, &Vec<u8>)> = rows
        .iter()
        .zip(&nonces)
        .filter(|(_, n)| !landed.contains(*n))
        .collect();
    let already = rows.len() - todo.len();
    // Only what is still to land must fit the log as it is now: a row that
    // landed before its period was distributed, or before its member was
    // suspended, does not stop a rerun.
    let problems = check_against_log(&mut session, todo.iter().map(|(r, _)| *r)).await?;
    if !problems.is_empty() {
        return Err(refusal(&name, problems));
    }
    let decimals = session.decimals();
    let table = summary(&todo.iter().map(|(r, _)| *r).collect::<Vec<_>>(), decimals);
    if args.dry_run {
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({"dry_run": true, "file": name, "file_blake3": digest.as_str(),
                    "rows": rows.len(), "to_submit": todo.len(), "already_in_log": already,
                    "by_member": table.iter().map(|r| serde_json::json!({
                        "member": r[0], "kind": r[1], "rows": r[2].parse::<u64>().unwrap_or(0), "quantity": r[3]}))
                        .collect::<Vec<_>>()})
            );
        } else {
            println!(
                "dry run: {} of {} row{} would land, attested by {}; {already} already in the log; nothing was submitted",
                todo.len(),
                rows.len(),
                plural(rows.len()),
                signer.handle()
            );
            if !table.is_empty() {
                print_table(&["MEMBER", "KIND", "ROWS", "QUANTITY"], &table);
            }
        }
        return Ok(());
    }
    if todo.is_empty() {
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({"file": name, "file_blake3": digest.as_str(), "rows": rows.len(),
                    "imported": 0, "already_in_log": already})
            );
        } else {
            println!(
                "nothing to import: all {} row{} of {name} are already in the log",
                rows.len(),
                plural(rows.len())
            );
        }
        return Ok(());
    }
    if !args.yes
        && !confirm(&format!(
            "sign and submit {} entr{} attested by {}",
            todo.len(),
            if todo.len() == 1 { "y" } else { "ies" },
            signer.handle()
        ))?
    {
        bail!("not imported: nothing was submitted");
    }
    let limits = session.info.limits.unwrap_or_default();
    let max_entries = usize::try_from(limits.max_batch_entries.max(1)).unwrap_or(1000);
    let max_bytes = usize::try_from(limits.max_message_bytes / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    let progress = super::progress::bar(todo.len() as u64, "rows");
    progress.set_message("importing");
    let short = &digest.as_str()[..12];
    let mut first_sequence = None;
    let mut last_sequence = 0;
    let mut done = 0usize;
    let mut rest = todo.as_slice();
    while !rest.is_empty() {
        let now = coopledger::ledger::now_ms();
        let mut envelopes = Vec::new();
        let mut size = 0usize;
        for (row, nonce) in rest.iter().take(max_entries) {
            let source = format!("{name} row {} (blake3 {short})", row.row);
            let body = client::attest_body(&row.member, row.contribution.clone(), &source);
            let envelope = signer.sign_with(body, now, (*nonce).clone());
            size += envelope.payload.len() + 200;
            if !envelopes.is_empty() && size > max_bytes {
                break;
            }
            envelopes.push(envelope);
        }
        let receipts = submit_chunk(&mut session, &envelopes).await.map_err(|e| {
            progress.abandon();
            e.context(format!(
                "{done} of {} entries of this run landed before this; run the same import again to submit the rest (rows that landed are recognised and skipped)",
                todo.len()
            ))
        })?;
        let home = session.home.clone();
        super::receipts::check_batch_receipts(&mut session, &home, &envelopes, &receipts)
            .await
            .context("the entries were submitted, but their receipts do not check out")?;
        for r in &receipts {
            first_sequence.get_or_insert(r.sequence);
            last_sequence = r.sequence;
        }
        done += envelopes.len();
        progress.inc(envelopes.len() as u64);
        rest = &rest[envelopes.len()..];
    }
    progress.finish_and_clear();
    let first = first_sequence.unwrap_or_default();
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"file": name, "file_blake3": digest.as_str(), "rows": rows.len(),
                "imported": done, "already_in_log": already,
                "first_sequence": first, "last_sequence": last_sequence})
        );
    } else {
        println!(
            "imported {done} entr{} from {name}, attested by {} (sequences {first}..={last_sequence}); {already} row{} already in the log",
            if done == 1 { "y" } else { "ies" },
            signer.handle(),
            plural(already)
        );
        print_table(&["MEMBER", "KIND", "ROWS", "QUANTITY"], &table);
    }
    Ok(())
}

/// Submits one chunk, resending the same envelopes (same ids, so the server
/// answers a resend with the first receipts) when the connection fails.
async fn submit_chunk(
    session: &mut Session,
    envelopes: &[pb::Envelope],
) -> Result<Vec<pb::Receipt>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match session
            .client
            .submit_batch(pb::SubmitBatchRequest {
                envelopes: envelopes.to_vec(),
            })
            .await
        {
            Ok(r) => return Ok(r.into_inner().receipts),
            Err(s) if s.code() == tonic::Code::Unavailable && attempt < 3 => {
                tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
            }
            Err(s) => return Err(status(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    fn rules() -> ParseRules {
        ParseRules {
            decimals: 2,
            limits: Limits::default(),
            latest: 1_900_000_000,
        }
    }

    #[test]
    fn rows_are_parsed_as_people_type_them() {
        let csv = "member,kind,quantity,date,note,evidence,tags,rate\n\
                   ana,work,1h30m,2025-03-04,CAD,https://x/1,design cad,\n\
                   ben,Expense,25.00,2025-03-05T10:00:00Z,,,,\n\
                   ana,work,1.5h,2025-03-06,,,,30.00\n";
        let rows = parse_rows(csv.as_bytes(), &rules()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[0].contribution.quantity, 90);
        assert_eq!(rows[0].contribution.tags, ["design", "cad"]);
        assert_eq!(rows[0].contribution.evidence_url, "https://x/1");
        assert_eq!(rows[1].contribution.quantity, 2500);
        assert_eq!(
            rows[1].contribution.kind,
            pb::ContributionKind::Expense as i32
        );
        assert_eq!(rows[2].contribution.rate, Some(3000));
    }

    #[test]
    fn every_bad_row_is_named_with_its_column() {
        let csv = "member,kind,quantity,date\n\
                   ana,work,1h3x,2025-03-04\n\
                   ana,work,1h,2025-13-04\n\
                   ana,gift,1h,2025-03-04\n\
                   Ana!,work,1h,2025-03-04\n\
                   ana,work,1h,2050-01-01\n";
        let problems = parse_rows(csv.as_bytes(), &rules()).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 5, "{text:?}");
        assert!(
            text[0].starts_with("row 2, column quantity: \"1h3x\" is not a duration"),
            "{text:?}"
        );
        assert!(text[1].starts_with("row 3, column date:"), "{text:?}");
        assert!(text[2].starts_with("row 4, column kind:"), "{text:?}");
        assert!(text[3].starts_with("row 5, column member:"), "{text:?}");
        assert!(
            text[4].starts_with("row 6, column date:") && text[4].contains("future"),
            "{text:?}"
        );
    }

    #[test]
    fn a_missing_or_unknown_column_refuses_the_header() {
        let problems =
            parse_rows(b"member,kind,qty,date\nana,work,1h,2025-03-04\n", &rules()).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("row 1, column qty: not a column")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("row 1, column quantity: the header has no quantity column")), "{text:?}");
    }

    #[test]
    fn limits_are_the_servers_own_checks() {
        let csv = "member,kind,quantity,date\nana,work,100000000h,2025-03-04\n";
        let problems = parse_rows(csv.as_bytes(), &rules()).unwrap_err();
        assert_eq!(problems[0].column.as_deref(), Some("quantity"));
        assert!(
            problems[0]
                .message
                .contains("more than the most one entry may log")
        );
    }

    #[test]
    fn a_source_names_the_file_in_plain_short_text() {
        let long = format!("dir/{}\nx.csv", "h".repeat(200));
        let name = source_name(std::path::Path::new(&long));
        assert_eq!(name.chars().count(), 100);
        assert!(!name.contains('\n'));
        assert_eq!(
            source_name(std::path::Path::new("/tmp/h\u{7}.csv")),
            "h?.csv"
        );
    }

    #[test]
    fn nonces_follow_what_a_row_says_not_where_it_sits() {
        let rows = parse_rows(
            b"member,kind,quantity,date\nana,work,1h,2025-03-04\nana,work,1h,2025-03-04\nben,work,1h,2025-03-04\n",
            &rules(),
        )
        .unwrap();
        let a = nonces(&[7; 32], &rows);
        assert_eq!(a.len(), 3);
        assert_ne!(a[0], a[1], "two identical rows stay two entries");
        let moved = [rows[2].clone(), rows[0].clone(), rows[1].clone()];
        let b = nonces(&[7; 32], &moved);
        assert_eq!((&b[0], &b[1], &b[2]), (&a[2], &a[0], &a[1]));
        assert_ne!(
            nonces(&[8; 32], &rows)[0],
            a[0],
            "another network, other nonces"
        );
    }
}
