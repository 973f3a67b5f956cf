//! The `coopledger` command line: how members and treasurers work with the
//! ledger. Commands connect to a server, sign with the member's own key, and
//! print tables for people or JSON (`--json`) for scripts.
//!
//! The commands, by who uses them:
//!
//! | module              | for whom        | commands                                              |
//! |---------------------|-----------------|-------------------------------------------------------|
//! | [`member`]          | every member, admins | `keygen`, `init`, `info`, `member admit/list/show/grant/revoke/rotate-key` |
//! | [`contribute`]      | contributors, reviewers | `log`, `amend`, `retract`, `evaluate`, `allocate` |
//! | [`policy`]          | admins, treasurers | `policy adopt/show/list`; policy files in percents and amounts |
//! | [`import`]          | admins          | `import FILE.csv` (history, attested on members' behalf) |
//! | [`entries`]         | readers         | `entries`, `tail`                                     |
//! | [`treasurer`]       | treasurers      | `shares`, `distribute`, `explain`, `export --scenario` |
//! | [`distributions`]   | treasurers      | `distribution list/show/void`                         |
//! | [`export`]          | bookkeepers     | `export --csv contributions/evaluations/distributions` |
//! | [`todo`]            | every member, treasurers | `todo` (what to review, claims waiting, allocations due) |
//! | [`history`]         | every member, treasurers | `history` (earnings per recorded distribution and bucket) |
//! | [`audit`]           | auditing members | `verify`, `export --member --proofs`, `verify-record` |
//! | [`score`]           | policy drafters (offline) | `score` (what-if on a scenario file)        |
//! | [`demo`]            | newcomers       | `demo`                                                |
//!
//! Shared pieces: this module (the [`Context`] of the global flags, the
//! pinned [`Session`], submitting, [`status`], [`print_table`]), [`input`]
//! (amounts, durations, times and periods typed and printed as people
//! write them), [`config`] (the config folder, keys and pins) and
//! [`transport`] (the server URL's scheme, TLS and `--tls-ca`, and
//! connection failures explained). Entry bodies are built by
//! `coopledger::client`'s `*_body` functions.
//!
//! Standard output: `println!` and `print!` in these modules are this
//! module's own (defined below, ahead of the submodules, so they shadow
//! std's), which exit quietly when the reader of standard output has gone
//! (`coopledger entries | head -1`) where std's would panic. A command that
//! writes through a handle of its own (CSV, `score`) gets a failed write
//! back as an error, which `main` tells apart with [`is_reader_gone`].

/// std's `println!`, exiting quietly (see [`write_stdout`]) instead of
/// panicking when standard output's reader has gone.
macro_rules! println {
    () => {
        $crate::cli::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// std's `print!`, exiting quietly (see [`write_stdout`]) instead of
/// panicking when standard output's reader has gone.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

pub mod audit;
pub mod backup;
pub mod config;
pub mod contribute;
pub mod demo;
pub mod distributions;
pub mod entries;
pub mod errors;
pub mod export;
pub mod history;
pub mod import;
pub mod input;
pub mod member;
pub mod policy;
pub mod progress;
pub mod receipts;
pub mod score;
pub mod signals;
pub mod simulate;
pub mod todo;
pub mod transport;
pub mod treasurer;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use coopledger::client::{LedgerClient, MemberClient, SignedChannel, Signer};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::VerifiedEnvelope;
use tokio_stream::StreamExt;

use config::{Config, DEFAULT_SERVER, Pin};
use transport::{CaSource, TrustedCa};

/// How a command prints: the global `--json` and `--print-id`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// `--json`.
    pub json: bool,
    /// `--print-id`.
    pub print_id: bool,
}

/// Everything a command needs from the global flags.
pub struct Context {
    /// The config folder.
    pub home: PathBuf,
    /// `--server`, else the config's, else the default.
    pub server: String,
    /// `--tls-ca`, else the config's `tls_ca`: the CA trusted for an
    /// https:// server instead of the public web CAs.
    pub tls_ca: Option<TrustedCa>,
    /// `--as`, if given.
    pub identity: Option<String>,
    /// Print JSON instead of tables.
    pub json: bool,
    /// `--print-id`: a write prints only its entry id, keygen only the
    /// public key, for `$(…)` in scripts.
    pub print_id: bool,
}

/// A connected, pinned server.
pub struct Session {
    /// The client; it signs reads as the current identity, if it has a key.
    pub client: MemberClient,
    /// What the server said about itself (unsigned). Its currency and
    /// decimals are checked against the signed genesis on connect.
    pub info: pb::ServerInfo,
    /// The network's genesis, signed by a founder and bound to the pinned
    /// network id; `None` before the network is founded. Fetched once per
    /// session.
    pub genesis: Option<pb::Genesis>,
    /// The config folder (witness, submitted ids).
    pub home: PathBuf,
    /// The connection, to sign reads as another key later (after a
    /// rotation, or once genesis names the network).
    channel: tonic::transport::Channel,
    /// The key reads are signed with.
    reader: Option<ed25519_dalek::SigningKey>,
}

impl Session {
    /// Signs reads from now on with `key` for `network_id`.
    pub fn read_as(&mut self, key: Option<ed25519_dalek::SigningKey>, network_id: &[u8]) {
        self.client = MemberClient::new(SignedChannel::new(
            self.channel.clone(),
            key.clone(),
            network_id,
        ))
        .max_decoding_message_size(64 << 20);
        self.reader = key;
    }

    /// Minor-unit digits of the currency, from the signed genesis.
    pub fn decimals(&self) -> u32 {
        self.genesis.as_ref().map_or(0, |g| g.decimals)
    }

    /// The currency code, from the signed genesis.
    pub fn currency(&self) -> &str {
        self.genesis.as_ref().map_or("", |g| g.currency.as_str())
    }

    /// How many entries to ask for in one ListEntries call: the server's
    /// maximum (10,000 if it names none), at least 1.
    pub fn page(&self) -> u64 {
        self.info
            .limits
            .as_ref()
            .map_or(10_000, |l| l.max_list_entries)
            .max(1)
    }

    /// The server's signed checkpoint (unchecked: callers verify it).
    pub async fn checkpoint(&mut self) -> Result<pb::SignedCheckpoint> {
        Ok(self
            .client
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .map_err(status)?
            .into_inner())
    }

    /// Every recorded distribution, voided ones included, in log order.
    pub async fn distributions(&mut self) -> Result<Vec<pb::DistributionSummary>> {
        Ok(self
            .client
            .list_distributions(pb::ListDistributionsRequest {})
            .await
            .map_err(status)?
            .into_inner()
            .distributions)
    }
}

impl Context {
    /// Builds the context from flags and the config file.
    pub fn new(
        home: Option<PathBuf>,
        server: Option<String>,
        tls_ca: Option<PathBuf>,
        identity: Option<String>,
        output: Output,
    ) -> Result<Context> {
        let Output { json, print_id } = output;
        let home = match home {
            Some(h) => h,
            None => config::default_home()?,
        };
        let cfg = Config::load(&home)?;
        // One spelling per server (`127.0.0.1:7070` is
        // `http://127.0.0.1:7070`), so its pin and messages are the same
        // however it was typed.
        let server = transport::server_url(
            &server
                .or(cfg.server)
                .unwrap_or_else(|| DEFAULT_SERVER.to_string()),
        )?;
        let tls_ca = match (tls_ca, cfg.tls_ca) {
            (Some(path), _) => Some(TrustedCa {
                path,
                source: CaSource::Flag,
            }),
            // A relative path in the config file is read from the config
            // folder, wherever the command runs.
            (None, Some(path)) => Some(TrustedCa {
                path: home.join(path),
                source: CaSource::Config,
            }),
            (None, None) => None,
        };
        let identity = identity.or(cfg.default_identity);
        Ok(Context {
            home,
            server,
            tls_ca,
            identity,
            json,
            print_id,
        })
    }

    /// The identity to sign with, or a message saying how to pick one.
    pub fn handle(&self) -> Result<String> {
        match &self.identity {
            Some(h) => Ok(h.clone()),
            None => bail!(
                "no identity: pass --as HANDLE, set COOPLEDGER_AS, or create one with `coopledger keygen HANDLE`"
            ),
        }
    }

    /// Connects to the server, checks it against the pin (pinning it on
    /// first contact) and returns the session.
    pub async fn connect(&self) -> Result<Session> {
        let channel = transport::connect(&self.server, self.tls_ca.as_ref()).await?;
        let info = LedgerClient::new(channel.clone())
            .get_server_info(pb::GetServerInfoRequest {})
            .await
            .map_err(|s| transport::first_call_failed(&self.server, s))?
            .into_inner();
        self.check_pin(&info)?;
        // Reads are signed as the current identity (the log is
        // members-only); without a key they go unsigned and the server
        // says what to do.
        let key = match &self.identity {
            Some(handle) => Some(config::read_identity_key(&self.home, handle)?),
            None => None,
        };
        let mut client = MemberClient::new(SignedChannel::new(
            channel.clone(),
            key.clone(),
            &info.network_id,
        ))
        .max_decoding_message_size(64 << 20);
        let genesis = signed_genesis(&mut client, &info).await?;
        Ok(Session {
            client,
            info,
            genesis,
            home: self.home.clone(),
            channel,
            reader: key,
        })
    }

    fn check_pin(&self, info: &pb::ServerInfo) -> Result<()> {
        let mut cfg = Config::load(&self.home)?;
        let seen = Pin {
            log_public_key: hex::encode(&info.log_public_key),
            network_id: hex::encode(&info.network_id),
        };
        let pin = cfg.pins.entry(self.server.clone()).or_default();
        if !pin.log_public_key.is_empty() && pin.log_public_key != seen.log_public_key {
            bail!(
                "the server at {} presents log key {} but this config pinned {}: it is not the same log. \
                 If the cooperative really moved its log, remove the pin for {} from {}",
                self.server,
                seen.log_public_key,
                pin.log_public_key,
                self.server,
                self.home.join("config.json").display()
            );
        }
        if !pin.network_id.is_empty() && pin.network_id != seen.network_id {
            bail!(
                "the server at {} serves network {} but this config pinned network {}",
                self.server,
                if seen.network_id.is_empty() {
                    "(none)"
                } else {
                    &seen.network_id
                },
                pin.network_id
            );
        }
        if *pin != seen {
            *pin = seen;
            cfg.save(&self.home)?;
        }
        Ok(())
    }

    /// The signer for the current identity in the session's network.
    pub fn signer(&self, session: &Session) -> Result<Signer> {
        let handle = self.handle()?;
        let key = config::read_identity_key(&self.home, &handle)?;
        Ok(Signer::new(handle, key, &session.info.network_id))
    }
}

/// Fetches entry 0 and checks it is the genesis of the network the server
/// presents (and the config pinned): its signature verifies, its id is the
/// network id, and it names the server's log key. The currency and
/// decimals that money is read and written in come from here, not from the
/// unsigned `ServerInfo`, which must agree with it.
async fn signed_genesis(
    client: &mut MemberClient,
    info: &pb::ServerInfo,
) -> Result<Option<pb::Genesis>> {
    if info.network_id.is_empty() {
        return Ok(None);
    }
    let logged = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Sequence(0)),
        })
        .await
        .map_err(status)?
        .into_inner();
    let envelope = logged
        .envelope
        .context("the server sent the genesis entry without its envelope")?;
    let v = coopledger::verify::VerifiedEnvelope::verify_logged(&envelope)
        .map_err(|r| anyhow::anyhow!("the genesis entry's signature: {r}"))?;
    if v.id.0.as_slice() != info.network_id.as_slice() {
        bail!(
            "entry 0 hashes to {} but the server presents network {}: it is not this network's genesis",
            v.id,
            hex::encode(&info.network_id)
        );
    }
    let Some(pb::entry::Body::Genesis(g)) = v.entry.body else {
        bail!("entry 0 of network {} is not a genesis entry", v.id);
    };
    if g.log_public_key != info.log_public_key {
        bail!("the genesis entry binds the network to another log key than the server's");
    }
    if g.currency != info.currency || g.decimals != info.decimals {
        bail!(
            "the server says the currency is {} with {} decimals but the signed genesis says {} with {}",
            info.currency,
            info.decimals,
            g.currency,
            g.decimals
        );
    }
    Ok(Some(g))
}

/// Submits one signed envelope and returns its receipt.
/// Submits one signed envelope and checks its receipt
/// (`receipts::check_receipt`).
pub async fn submit(session: &mut Session, envelope: pb::Envelope) -> Result<pb::Receipt> {
    submit_then(session, envelope, |_, _| {}).await
}

/// As [`submit`], with `before_check` run on the session between the
/// answer and the check (a rotation signs its check's reads with the new
/// key; a genesis names the network reads are signed for).
pub async fn submit_then(
    session: &mut Session,
    envelope: pb::Envelope,
    before_check: impl FnOnce(&mut Session, &pb::Receipt),
) -> Result<pb::Receipt> {
    let receipt = session
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(envelope.clone()),
        })
        .await
        .map_err(status)?
        .into_inner();
    if session.info.network_id.is_empty() {
        // A genesis: from here on reads are signed for the network it made.
        let key = session.reader.clone();
        session.read_as(key, &receipt.id);
    }
    before_check(session, &receipt);
    let home = session.home.clone();
    receipts::check_receipt(session, &home, &envelope, &receipt)
        .await
        .context("the entry was submitted, but its receipt does not check out")?;
    Ok(receipt)
}

/// Signs `body` as the current identity, submits it, prints the receipt.
pub async fn sign_and_submit(ctx: &Context, body: Body, what: &str) -> Result<pb::Receipt> {
    let mut session = ctx.connect().await?;
    let signer = ctx.signer(&session)?;
    let r = submit(&mut session, signer.sign(body)?).await?;
    if ctx.print_id {
        println!("{}", hex::encode(&r.id));
    } else if ctx.json {
        println!("{}", receipt_json(&r));
    } else {
        println!(
            "{what}: entry {} at sequence {}",
            hex::encode(&r.id),
            r.sequence
        );
    }
    Ok(r)
}

/// A write's receipt as `--json` prints it: where the entry landed.
pub fn receipt_json(r: &pb::Receipt) -> serde_json::Value {
    serde_json::json!({"sequence": r.sequence, "id": hex::encode(&r.id), "duplicate": r.duplicate, "log_size": r.log_size})
}

/// The envelope of an entry the server listed, its signature checked and
/// its id recomputed: refuses an entry served without its envelope, a bad
/// signature, and an id that is not the hash of the signed bytes.
pub fn verified(e: &pb::LoggedEntry) -> Result<VerifiedEnvelope> {
    let env = e
        .envelope
        .as_ref()
        .with_context(|| format!("entry {}: served without its envelope", e.sequence))?;
    let v = VerifiedEnvelope::verify_logged(env)
        .map_err(|r| anyhow::anyhow!("entry {}: {r}", e.sequence))?;
    if v.id.0.as_slice() != e.id.as_slice() {
        bail!(
            "entry {}: the server says id {} but the signed bytes hash to {}",
            e.sequence,
            hex::encode(&e.id),
            v.id
        );
    }
    Ok(v)
}

/// Hands `each` every entry of `kinds` in the log as it was when the
/// session connected, in sequence order, asking in pages of the server's
/// maximum, each envelope's signature checked and its id recomputed
/// ([`verified`]); an entry outside the range asked for is refused.
pub async fn for_each_entry(
    session: &mut Session,
    kinds: &[pb::EntryKind],
    mut each: impl FnMut(&pb::LoggedEntry, VerifiedEnvelope) -> Result<()>,
) -> Result<()> {
    let end = session.info.log_size;
    let page = session.page();
    let mut from = 0;
    // Progress in sequence numbers (a filter skips the kinds not asked for).
    let bar = progress::bar(end, "entries");
    bar.set_message("reading the log");
    while from < end {
        let mut stream = session
            .client
            .list_entries(pb::ListEntriesRequest {
                from_sequence: from,
                to_sequence: end,
                kinds: kinds.iter().map(|k| *k as i32).collect(),
                limit: page,
                ..Default::default()
            })
            .await
            .map_err(status)?
            .into_inner();
        let mut received = 0u64;
        while let Some(e) = stream.next().await {
            let e = e.map_err(status)?;
            if e.sequence < from || e.sequence >= end {
                bail!(
                    "the server sent entry {} when asked for {from}..{end}",
                    e.sequence
                );
            }
            let v = verified(&e)?;
            each(&e, v)?;
            from = e.sequence + 1;
            received += 1;
            bar.set_position(from);
        }
        // A short page means the server reached `end`.
        if received < page {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Turns a gRPC refusal into a message that leads with the server's words.
pub fn status(s: tonic::Status) -> anyhow::Error {
    // The CLI signs reads as the identity it acts as: say how to give one.
    let hint = if s.code() == tonic::Code::Unauthenticated && s.message().contains("members-only") {
        " (the CLI signs reads as the member given with --as HANDLE or COOPLEDGER_AS, using their key from `coopledger keygen`)"
    } else {
        ""
    };
    anyhow::anyhow!("refused ({:?}): {}{hint}", s.code(), s.message())
}

/// The exit status when standard output's reader has gone: 128 + SIGPIPE,
/// what a shell reports for any Unix tool its pipeline's reader stopped
/// (`yes | head -1`); not 0, since not everything was delivered.
pub const READER_GONE_STATUS: i32 = 141;

/// Writes to standard output, as std's `print!` does, for this module's
/// `println!` and `print!`. Rust ignores SIGPIPE, so a write to a pipe
/// whose reader has gone fails with `BrokenPipe`, where std's macros panic;
/// here the command stops quietly with [`READER_GONE_STATUS`], as a Unix
/// tool killed by SIGPIPE does. (SIGPIPE itself stays ignored: the CLI's
/// own sockets must fail with an error a member can read, not kill it.)
/// Any other failure to write (a full disk) ends the command with the
/// error, as a failed command does.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(READER_GONE_STATUS);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// Whether a failed command failed only because standard output's reader
/// went away (a command writing through its own stdout handle, e.g. CSV,
/// gets `BrokenPipe` back as an error): `main` then exits quietly with
/// [`READER_GONE_STATUS`]. The CLI writes to no other pipe (the server's
/// refusals and transport failures arrive as a gRPC `Status`, not an I/O
/// error), so a broken pipe in the chain is standard output's.
pub fn is_reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints rows under headers with columns aligned.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
