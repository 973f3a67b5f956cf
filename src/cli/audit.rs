//! `coopledger verify`, `export --member --proofs` and `verify-record`: the
//! member's audit of the whole log, and a member's portable, verifiable
//! record of their own entries (the "worker's satchel").

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::ledger::Replayed;
use coopledger::pb;
use coopledger::verify::VerifiedEnvelope;
use coopledger::verify::{Checkpoint, origin_of};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;

use super::{Context, status, verified};

/// `coopledger verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Audit a stopped server's data folder instead of a live server.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The server's checkpoint copy outside the data folder (with --data;
    /// default: DATA.checkpoint beside the folder, if there).
    #[arg(long, value_name = "FILE", requires = "data")]
    pub checkpoint_copy: Option<PathBuf>,
}

/// `coopledger export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The member whose record to export (with --proofs).
    #[arg(long, requires = "proofs")]
    pub member: Option<String>,
    /// Write the member's entries with inclusion proofs and a checkpoint to this file.
    #[arg(long, requires = "member")]
    pub proofs: Option<PathBuf>,
    /// Write the live log of --period (with --income) as a scenario file for `coopledger score`.
    #[arg(long, requires = "period", conflicts_with_all = ["member", "csv"])]
    pub scenario: Option<PathBuf>,
    /// Print contributions, evaluations or distributions as CSV for a
    /// spreadsheet (it takes precedence over --json).
    #[arg(long, value_parser = ["contributions", "evaluations", "distributions"], conflicts_with = "member")]
    pub csv: Option<String>,
    /// The period (2026-11 or START..END), for --scenario (required) and --csv (a filter).
    #[arg(long)]
    pub period: Option<String>,
    /// The income for --scenario, as an amount (a recorded period uses its recorded income).
    #[arg(long)]
    pub income: Option<String>,
}

/// `coopledger verify-record FILE`.
#[derive(Args)]
pub struct VerifyRecordArgs {
    /// A record written by `coopledger export --member ... --proofs FILE`.
    pub file: PathBuf,
    /// The log key to expect (hex), when this config has none pinned for
    /// the record's network.
    #[arg(long, value_name = "HEX")]
    pub log_key: Option<String>,
}

/// The witness file: the last checkpoint this config saw for a log.
fn witness_path(home: &Path, log_public_key: &[u8; 32]) -> PathBuf {
    home.join("witness")
        .join(format!("{}.checkpoint", hex::encode(log_public_key)))
}

fn read_witness(home: &Path, log_public_key: &[u8; 32]) -> Result<Option<Checkpoint>> {
    let path = witness_path(home, log_public_key);
    match std::fs::read_to_string(&path) {
        Ok(note) => Checkpoint::verify(&note, log_public_key)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("the witness file {} is damaged: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Checks a signed checkpoint `cp` of this log against the last one this
/// config saw (one history: the smaller a prefix of the larger) and keeps
/// the newer as the witness.
pub(crate) async fn advance_witness(
    session: &mut super::Session,
    home: &Path,
    log_public_key: &[u8; 32],
    cp: &Checkpoint,
    note: &str,
) -> Result<()> {
    let seen = read_witness(home, log_public_key)?;
    if let Some(w) = &seen {
        super::receipts::check_consistency(session, (cp.size, cp.root), (w.size, w.root)).await?;
    }
    if seen.as_ref().is_none_or(|w| cp.size > w.size) {
        write_witness(home, log_public_key, note)?;
    }
    Ok(())
}

fn write_witness(home: &Path, log_public_key: &[u8; 32], note: &str) -> Result<()> {
    let path = witness_path(home, log_public_key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, note).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// `coopledger verify`.
pub async fn verify(ctx: &Context, args: &VerifyArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let Audited {
        replayed,
        note,
        source,
        log_key,
        checkpoint_files,
    } = match &args.data {
        Some(dir) => verify_data(ctx, dir, args.checkpoint_copy.as_deref())?,
        None => verify_server(ctx).await?,
    };
    let cp = replayed.check_checkpoint(&note)?;
    let witness = read_witness(&ctx.home, &log_key)?;
    // The replay recorded the root at the witness's size; if it was not
    // reached, check_extends reports the log as shorter than what was seen.
    if let Some(seen) = &witness {
        replayed.check_extends(seen)?;
    }
    // Every entry this config submitted (and got a checked receipt for) is
    // still in the log, where its receipt put it.
    let submitted = super::receipts::submitted(&ctx.home, &log_key)?;
    for s in &submitted {
        let id = coopledger::verify::EntryId::from_hex(&s.id)
            .with_context(|| format!("a kept id {} is not 64 hex digits", s.id))?;
        match replayed.state.sequence_of(&id) {
            Some(at) if at == s.sequence => {}
            Some(at) => bail!(
                "entry {} that this config submitted at sequence {} is now at sequence {at}: the log was rewritten",
                s.id,
                s.sequence
            ),
            None => bail!(
                "the log no longer holds entry {} that this config submitted (its receipt put it at sequence {}): the log was rewritten",
                s.id,
                s.sequence
            ),
        }
    }
    // The replay settled every recorded distribution where it landed: each
    // digest recomputed over the log as it stood, and no claim repaid beyond
    // its value across all of them.
    let distributions = replayed.state.distributions().len();
    let voided = replayed
        .state
        .distributions()
        .iter()
        .filter(|d| !d.stands())
        .count();
    write_witness(&ctx.home, &log_key, &note)?;
    let state = &replayed.state;
    // The log's own signed checkpoint, the folder's checkpoint files (with
    // --data) and this config's witness.
    let checkpoints = 1 + checkpoint_files + usize::from(witness.is_some());
    let seconds = started.elapsed().as_secs_f64();
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "source": source, "size": cp.size, "root": hex::encode(cp.root),
                "log_public_key": hex::encode(log_key), "members": state.members().count(),
                "consistent_with": witness.as_ref().map(|w| w.size), "distributions": distributions,
                "voided_distributions": voided, "checkpoints_checked": checkpoints,
                "seconds": (seconds * 1000.0).round() / 1000.0,
            })
        );
    } else {
        println!("verified {source}");
        println!(
            "  {} entries: every signature, every ingestion rule, replayed from genesis",
            cp.size
        );
        println!(
            "  root {} matches the checkpoint signed by log key {}",
            hex::encode(cp.root),
            hex::encode(log_key)
        );
        match &witness {
            Some(w) => println!(
                "  consistent with the checkpoint of size {} seen before (append-only)",
                w.size
            ),
            None => println!(
                "  first audit of this log from this config; its checkpoint is kept as the witness"
            ),
        }
        println!(
            "  {distributions} recorded distributions ({voided} voided) recomputed from the log: every digest matches, no claim repaid beyond its value"
        );
        println!(
            "  {} members, {} policies",
            state.members().count(),
            state.policies().len()
        );
        println!(
            "  signed checkpoints checked: {checkpoints}; {} entries in {seconds:.1} s ({:.0} entries/s)",
            cp.size,
            cp.size as f64 / seconds.max(1e-9)
        );
    }
    // The command ends here: freeing the replayed state (about a GiB at a
    // million entries, one allocation at a time) would only delay the exit
    // that returns it all at once.
    std::mem::forget(replayed);
    Ok(())
}

/// What an audit read, before the checks common to both sources.
struct Audited {
    /// The replayed log.
    replayed: Replayed,
    /// The log's last signed checkpoint note.
    note: String,
    /// Where the log came from, for the summary.
    source: String,
    /// The log key.
    log_key: [u8; 32],
    /// Checkpoint files of a data folder found and checked (0 live).
    checkpoint_files: usize,
}

fn verify_data(ctx: &Context, dir: &Path, copy: Option<&Path>) -> Result<Audited> {
    // The checkpoint this config saw last of that log, if any: the replay
    // records its root to check the folder's log extends it.
    let seen = coopledger::log::keyfile::read_key(&dir.join(coopledger::log::LOG_KEY_FILE))
        .ok()
        .map(|k| read_witness(&ctx.home, &k.verifying_key().to_bytes()))
        .transpose()?
        .flatten()
        .map(|w| w.size);
    let copy = copy
        .map(Path::to_path_buf)
        .or_else(|| coopledger::log::default_copy(dir));
    // The server's own checks on start (same reads, same messages), plus
    // every signature and rule again.
    let bar = super::progress::bar(0, "entries");
    bar.set_message("verifying");
    let audited =
        coopledger::log::audit_folder_with_progress(dir, copy.as_deref(), seen, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
    bar.finish_and_clear();
    let key = audited
        .replayed
        .log_public_key
        .context("the log is empty")?;
    // audit_folder compared the newest of the folder's checkpoint files
    // with the entries; say whether there was one.
    let checkpoint_files =
        usize::from(coopledger::log::read_checkpoint_file(dir, copy.as_deref(), &key)?.is_some());
    Ok(Audited {
        replayed: audited.replayed,
        note: audited.note,
        source: format!("the data folder {}", dir.display()),
        log_key: key,
        checkpoint_files,
    })
}

/// How many served entries are checked together on every core.
const CHUNK: usize = 4096;

/// How many chunks may wait ahead of the fold (fetched, or checked): the
/// network, the checks and the fold overlap, and memory stays bounded.
/// Eight, so the checks go on while the fold settles a recorded
/// distribution (a tenth of a second and more at a million entries).
const AHEAD: usize = 8;

/// Served entries, as they came, for the checks.
type Served = Vec<pb::LoggedEntry>;

/// Checked entries by sequence number, in log order, for the fold.
type Checked = Vec<(u64, Result<VerifiedEnvelope>)>;

/// Ends a spawned task when dropped: a replay that stops at a bad entry
/// stops fetching the rest of the log.
struct AbortOnDrop(tokio::task::JoinHandle<Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the server's log up to `size` into `replayer` (every signature and
/// rule checked), handing each entry to `keep` first, in log order.
///
/// Three stages overlap, at most [`AHEAD`] chunks of [`CHUNK`] entries
/// apart, so the whole log is never held: a task fetches pages from the
/// server; a thread checks each chunk on every core (`verify_strict`, the
/// decode, the id the server gave); this task folds the checked entries in
/// order. The first bad entry in log order is the one reported, as when one
/// entry was checked at a time, and a failed fetch is reported only once
/// every entry served before it was folded.
pub(crate) async fn replay_server(
    session: &mut super::Session,
    size: u64,
    mut replayer: coopledger::ledger::Replayer,
    mut keep: impl FnMut(&VerifiedEnvelope) -> Result<()>,
) -> Result<coopledger::ledger::Replayer> {
    let (served_tx, mut served_rx) = tokio::sync::mpsc::channel::<Served>(AHEAD);
    let (checked_tx, mut checked_rx) = tokio::sync::mpsc::channel::<Checked>(AHEAD);
    let mut fetch = AbortOnDrop(tokio::spawn(fetch_entries(
        session.client.clone(),
        session.page(),
        (replayer.size(), size),
        served_tx,
    )));
    // A thread of its own, not the runtime's: it blocks while the cores
    // check a chunk, and ends when either channel closes.
    let checker = std::thread::spawn(move || {
        while let Some(chunk) = served_rx.blocking_recv() {
            let checked = coopledger::verify::map_in_order(&chunk, |e| (e.sequence, verified(e)));
            if checked_tx.blocking_send(checked).is_err() {
                break;
            }
        }
    });
    while let Some(chunk) = checked_rx.recv().await {
        for (sequence, v) in chunk {
            let v = v?;
            keep(&v)?;
            replayer.push(sequence, v)?;
        }
    }
    // Both channels are closed, so the checker has ended (a panic there
    // lost entries, which the size check below reports).
    let _ = checker.join();
    match (&mut fetch.0).await {
        Ok(fetched) => fetched?,
        Err(e) => bail!("fetching the log failed: {e}"),
    }
    if replayer.size() < size {
        bail!(
            "the server stopped serving entries at {} of {size}",
            replayer.size()
        );
    }
    Ok(replayer)
}

/// Fetches entries `[from, to)` page by page and hands them on in chunks
/// of [`CHUNK`], in the order served; the chunk in hand is handed on before
/// a failure is reported, so the entries before it are still checked first.
async fn fetch_entries(
    mut client: coopledger::client::MemberClient,
    page: u64,
    (from, to): (u64, u64),
    out: tokio::sync::mpsc::Sender<Served>,
) -> Result<()> {
    let mut next = from;
    let mut chunk = Vec::with_capacity(CHUNK);
    let fetched: Result<()> = async {
        while next < to {
            let asked = next;
            let mut stream = client
                .list_entries(pb::ListEntriesRequest {
                    from_sequence: next,
                    to_sequence: to,
                    limit: page,
                    ..Default::default()
                })
                .await
                .map_err(status)?
                .into_inner();
            while let Some(e) = stream.next().await {
                chunk.push(e.map_err(status)?);
                next += 1;
                if chunk.len() == CHUNK && out.send(std::mem::take(&mut chunk)).await.is_err() {
                    // The fold stopped at a bad entry: nothing more to do.
                    return Ok(());
                }
            }
            if next == asked {
                bail!("the server stopped serving entries at {next} of {to}");
            }
        }
        Ok(())
    }
    .await;
    if !chunk.is_empty() {
        let _ = out.send(chunk).await;
    }
    fetched
}

async fn verify_server(ctx: &Context) -> Result<Audited> {
    let mut session = ctx.connect().await?;
    let log_key: [u8; 32] = session
        .info
        .log_public_key
        .as_slice()
        .try_into()
        .context("the server's log key is not 32 bytes")?;
    let cp = session.checkpoint().await?;
    let witness = read_witness(&ctx.home, &log_key)?;
    // The server's own proof that it only appended since the witness; the
    // replay below checks the same independently.
    if let Some(w) = &witness {
        if w.size > cp.size {
            bail!(
                "the log forked: the server's checkpoint has {} entries but {} were seen before",
                cp.size,
                w.size
            );
        }
        let proof = session
            .client
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: w.size,
                new_size: cp.size,
            })
            .await
            .map_err(status)?
            .into_inner();
        let hashes = to_hashes(&proof.hashes)?;
        let new_root: [u8; 32] = cp
            .root
            .as_slice()
            .try_into()
            .context("checkpoint root is not 32 bytes")?;
        coopledger::verify::verify_consistency(w.size, cp.size, &w.root, &new_root, &hashes)
            .map_err(|e| {
                anyhow::anyhow!(
                    "the log forked: the server's consistency proof from size {} fails: {e}",
                    w.size
                )
            })?;
    }
    let replayer = coopledger::payout::audit_replayer(None, witness.as_ref().map(|w| w.size));
    let bar = super::progress::bar(cp.size, "entries");
    bar.set_message("verifying");
    let replayer = replay_server(&mut session, cp.size, replayer, |_| {
        bar.inc(1);
        Ok(())
    })
    .await?;
    bar.finish_and_clear();
    let replayed = replayer.finish();
    if replayed.log_public_key != Some(log_key) {
        bail!(
            "genesis names log key {:?} but the server presents {}",
            replayed.log_public_key.map(hex::encode),
            hex::encode(log_key)
        );
    }
    Ok(Audited {
        replayed,
        note: cp.note,
        source: format!("the server at {}", ctx.server),
        log_key,
        checkpoint_files: 0,
    })
}

fn to_hashes(raw: &[Vec<u8>]) -> Result<Vec<[u8; 32]>> {
    raw.iter()
        .map(|h| {
            <[u8; 32]>::try_from(h.as_slice())
                .map_err(|_| anyhow::anyhow!("a proof hash is not 32 bytes"))
        })
        .collect()
}

/// A member's portable record: their entries with inclusion proofs against
/// one signed checkpoint, checkable offline by `verify-record`.
#[derive(Serialize, Deserialize)]
pub struct Record {
    /// `coopledger-record-v1`.
    pub format: String,
    /// The member.
    pub member: String,
    /// The log key that signed the checkpoint, hex.
    pub log_public_key: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// Genesis first (it binds the network to the log key), then the member's entries.
    pub entries: Vec<RecordEntry>,
}

/// One entry of a record.
#[derive(Serialize, Deserialize)]
pub struct RecordEntry {
    /// Its sequence number (the leaf index).
    pub sequence: u64,
    /// Its leaf bytes, hex: length-prefixed PAE, key and signature.
    pub leaf: String,
    /// The inclusion proof against the checkpoint, hex hashes.
    pub proof: Vec<String>,
}

const RECORD_FORMAT: &str = "coopledger-record-v1";

/// `coopledger export`: a member's record, a scenario, or CSV.
pub async fn export(ctx: &Context, args: &ExportArgs) -> Result<()> {
    if let Some(file) = &args.scenario {
        return super::treasurer::export_scenario(
            ctx,
            file,
            args.period.as_deref().unwrap_or_default(),
            args.income.as_deref(),
        )
        .await;
    }
    if let Some(what) = &args.csv {
        return super::export::export_csv(ctx, what, args.period.as_deref()).await;
    }
    let (Some(member), Some(proofs)) = (&args.member, &args.proofs) else {
        bail!(
            "say what to export: --member M --proofs FILE, --scenario FILE --period P, or --csv WHAT"
        );
    };
    export_record(ctx, member, proofs).await
}

/// `coopledger export --member M --proofs FILE`.
async fn export_record(ctx: &Context, member: &str, proofs: &Path) -> Result<()> {
    let mut session = ctx.connect().await?;
    let cp = session.checkpoint().await?;
    let log_key: [u8; 32] = session
        .info
        .log_public_key
        .as_slice()
        .try_into()
        .context("bad log key")?;
    Checkpoint::verify(&cp.note, &log_key)
        .map_err(|e| anyhow::anyhow!("the server's checkpoint: {e}"))?;
    let mut stream = session
        .client
        .list_entries(pb::ListEntriesRequest {
            member: member.to_string(),
            to_sequence: cp.size,
            ..Default::default()
        })
        .await
        .map_err(status)?
        .into_inner();
    let mut sequences = vec![0u64];
    while let Some(e) = stream.next().await {
        let e = e.map_err(status)?;
        if e.sequence != 0 && e.entry.as_ref().is_some_and(|x| x.author == member) {
            sequences.push(e.sequence);
        }
    }
    if sequences.len() == 1 {
        bail!("{} has no entries of their own in this log", member);
    }
    let mut entries = Vec::with_capacity(sequences.len());
    for sequence in sequences {
        let logged = session
            .client
            .get_entry(pb::GetEntryRequest {
                key: Some(pb::get_entry_request::Key::Sequence(sequence)),
            })
            .await
            .map_err(status)?
            .into_inner();
        let env = logged.envelope.context("entry without envelope")?;
        let v = VerifiedEnvelope::verify_logged(&env)
            .map_err(|r| anyhow::anyhow!("entry {sequence}: {r}"))?;
        let proof = session
            .client
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                key: Some(pb::get_inclusion_proof_request::Key::Sequence(sequence)),
                tree_size: cp.size,
            })
            .await
            .map_err(status)?
            .into_inner();
        entries.push(RecordEntry {
            sequence,
            leaf: hex::encode(v.leaf_bytes()),
            proof: proof.hashes.iter().map(hex::encode).collect(),
        });
    }
    let record = Record {
        format: RECORD_FORMAT.into(),
        member: member.to_string(),
        log_public_key: hex::encode(log_key),
        checkpoint: cp.note,
        entries,
    };
    std::fs::write(proofs, serde_json::to_vec_pretty(&record)?)
        .with_context(|| format!("writing {}", proofs.display()))?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"member": member, "entries": record.entries.len() - 1,
                "checkpoint_size": cp.size, "file": proofs})
        );
    } else {
        println!(
            "wrote {} entries of {} with inclusion proofs against checkpoint {} to {}",
            record.entries.len() - 1,
            member,
            cp.size,
            proofs.display()
        );
    }
    Ok(())
}

/// `coopledger verify-record FILE`: offline, no server.
pub fn verify_record(ctx: &Context, args: &VerifyRecordArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let record: Record = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a coopledger record", args.file.display()))?;
    if record.format != RECORD_FORMAT {
        bail!("format {:?} is not {RECORD_FORMAT}", record.format);
    }
    let log_key: [u8; 32] = hex::decode(&record.log_public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .context("log_public_key: not 32 bytes of hex")?;
    let cp = Checkpoint::verify(&record.checkpoint, &log_key)
        .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))?;
    let mut network_id = None;
    let mut rows = Vec::new();
    for (i, e) in record.entries.iter().enumerate() {
        let leaf = hex::decode(&e.leaf).with_context(|| format!("entries[{i}].leaf: not hex"))?;
        let v = VerifiedEnvelope::from_leaf_bytes(&leaf)
            .map_err(|d| anyhow::anyhow!("entries[{i}] (sequence {}): {d}", e.sequence))?;
        let proof = e
            .proof
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
            })
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("entries[{i}].proof: not 32-byte hex hashes"))?;
        coopledger::verify::verify_inclusion(
            &coopledger::verify::leaf_hash(&leaf),
            e.sequence,
            cp.size,
            &proof,
            &cp.root,
        )
        .map_err(|err| {
            anyhow::anyhow!(
                "entries[{i}] (sequence {}): not in the log: {err}",
                e.sequence
            )
        })?;
        match (&v.entry.body, i) {
            (Some(pb::entry::Body::Genesis(g)), 0) => {
                if g.log_public_key != log_key {
                    bail!(
                        "the genesis entry names another log key than the one that signed the checkpoint"
                    );
                }
                network_id = Some(v.id);
            }
            (_, 0) => bail!("entries[0] must be the network's genesis entry"),
            _ => {
                if v.entry.author != record.member {
                    bail!(
                        "entries[{i}] is by {}, not {}",
                        v.entry.author,
                        record.member
                    );
                }
                if Some(v.entry.network_id.as_slice())
                    != network_id.as_ref().map(|n| n.0.as_slice())
                {
                    bail!("entries[{i}] belongs to another network");
                }
                let (kind, what) = super::entries::summary_of(&v.entry);
                rows.push(vec![
                    e.sequence.to_string(),
                    v.id.to_hex()[..12].to_string(),
                    kind,
                    what,
                ]);
            }
        }
    }
    let network = network_id.context("the record has no genesis entry")?;
    // A record carries its own log key: anyone can make a file that checks
    // out against a key they made up. Compare it with the key given, or the
    // one this config pinned for that network.
    let expected = match &args.log_key {
        Some(hex) => Some((
            hex.to_lowercase(),
            "the key given with --log-key".to_string(),
        )),
        None => super::config::Config::load(&ctx.home)?
            .pins
            .iter()
            .find(|(_, pin)| pin.network_id == network.to_hex())
            .map(|(server, pin)| {
                (
                    pin.log_public_key.clone(),
                    format!("the key this config pinned for {server}"),
                )
            }),
    };
    let key_check = match expected {
        Some((key, whose)) if key == record.log_public_key => format!("log key matches {whose}"),
        Some((key, whose)) => bail!(
            "the record is signed by log key {} but {whose} is {key}: it is not this cooperative's log",
            record.log_public_key
        ),
        None => format!(
            "log key NOT checked: this config pinned no server of network {network}; pass --log-key HEX (the cooperative's log key) to check it"
        ),
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"member": record.member, "entries": rows.len(), "network_id": network.to_hex(),
                "log_public_key": record.log_public_key, "checkpoint_size": cp.size, "log_key_check": key_check})
        );
    } else {
        println!(
            "verified {} entries of {} in network {} (log {}), against its checkpoint of size {}",
            rows.len(),
            record.member,
            network,
            origin_of(&log_key),
            cp.size
        );
        println!("{key_check}");
        super::print_table(&["SEQ", "ID", "KIND", "WHAT"], &rows);
    }
    Ok(())
}
