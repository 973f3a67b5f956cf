//! `coopledger`: the server and the command line of the contribution ledger.
//!
//! `coopledger serve` runs the gRPC server over a sled folder; every other
//! command is a client that signs with the member's own key. `coopledger
//! demo` runs a cooperative month end to end against an in-process server.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

/// mimalloc instead of the system allocator: the server and the audit
/// allocate and free many small buffers on several threads at once
/// (entries read on one thread, checked on others, folded on a third),
/// where glibc's malloc spent about a tenth of an audit's CPU time
/// (`perf` of `verify --data` at 1M entries).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A signed contribution ledger for cooperatives.
#[derive(Parser)]
#[command(name = "coopledger", version, about, long_about = None)]
struct Cli {
    /// Server: `HOST:PORT` (plaintext on this machine, TLS to any other
    /// host), or a URL `https://HOST:PORT` (TLS) / `http://HOST:PORT`
    /// (plaintext).
    #[arg(long, global = true, env = "COOPLEDGER_SERVER")]
    server: Option<String>,
    /// PEM file of the CA certificate (or the server's self-signed
    /// certificate) to trust for an https:// server instead of the public
    /// web CAs.
    #[arg(long, global = true, env = "COOPLEDGER_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Member handle to act as (its key is keys/HANDLE.key in the config folder).
    #[arg(long = "as", global = true, env = "COOPLEDGER_AS")]
    identity: Option<String>,
    /// Config folder (keys, pinned servers).
    #[arg(long, global = true, env = "COOPLEDGER_HOME")]
    home: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Print only what a script keeps: a write's new entry id
    /// (`id=$(coopledger log work 1h --print-id)`), keygen's public key.
    #[arg(long, global = true)]
    print_id: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server over a sled data folder.
    Serve(Box<ServeArgs>),
    /// Run a short cooperative month end to end against an in-process server.
    Demo(cli::demo::DemoArgs),
    /// Create a signing key for a member handle (0600, in the config folder).
    Keygen {
        /// The handle the key is for; becomes the default identity if there is none.
        handle: String,
    },
    /// Found the network: sign the genesis entry naming the server's log key.
    Init(cli::member::InitArgs),
    /// What the server serves: network, log size, root, limits.
    Info,
    /// Members: admit, list, show, grant and revoke roles, rotate your key.
    #[command(subcommand)]
    Member(cli::member::MemberCommand),
    /// Log a contribution: `log work 1h30m --tag design`, `log expense 25.00`.
    Log(cli::contribute::LogArgs),
    /// Bring history in (admins): a CSV of past contributions becomes entries attested on the members' behalf.
    Import(cli::import::ImportArgs),
    /// Replace the fields of your contribution (its evaluations are cleared).
    Amend(cli::contribute::AmendArgs),
    /// Withdraw your contribution.
    Retract(cli::contribute::RetractArgs),
    /// Review someone's contribution: approve or flag, with a rating 0..=100.
    Evaluate(cli::contribute::EvaluateArgs),
    /// Split 100 points among other members for a period: `allocate --period 2026-11 bob=60 carol=40`.
    Allocate(cli::contribute::AllocateArgs),
    /// Policies: adopt a distribution policy (admins), show or list the adopted ones.
    #[command(subcommand)]
    Policy(cli::policy::PolicyCommand),
    /// List entries, filtered by member, kind or period.
    Entries(cli::entries::EntriesArgs),
    /// Follow the log: print entries as they land.
    Tail(cli::entries::TailArgs),
    /// Offline what-if: score a scenario file (spec/SCORING.md §7).
    Score(cli::score::ScoreArgs),
    /// What scripted attacks (sybils, collusion rings, flagging coalitions...) take under a policy, on a scenario file.
    Simulate(cli::simulate::SimulateArgs),
    /// Preview each member's points and share of an income for a period.
    Shares(cli::treasurer::ShareArgs),
    /// Split an income for a period by the adopted policy; `--record` signs it into the log (treasurers).
    Distribute(cli::treasurer::DistributeArgs),
    /// Why a member gets what they get in a period.
    Explain(cli::treasurer::ExplainArgs),
    /// Recorded distributions: list, show what one paid, void one (treasurers).
    #[command(subcommand)]
    Distribution(cli::distributions::DistributionCommand),
    /// What is waiting on you: work to review, your claims waiting on peers, allocations due (treasurers: unapproved claims, who has not allocated).
    Todo(cli::todo::TodoArgs),
    /// What you (or, for treasurers, a member) earned per recorded distribution and bucket.
    History(cli::history::HistoryArgs),
    /// Audit the whole log: every signature, every rule, the root, the signed checkpoint, append-only since last time.
    Verify(cli::audit::VerifyArgs),
    /// Export a member's entries with inclusion proofs (a portable, verifiable record).
    Export(cli::audit::ExportArgs),
    /// Check an exported record offline, with no server.
    VerifyRecord(cli::audit::VerifyRecordArgs),
    /// Back up a running server's log into a new data folder (checked as `verify` checks).
    Backup(cli::backup::BackupArgs),
}

/// `coopledger serve` options; every limit has a default (see `Limits`).
#[derive(Args)]
struct ServeArgs {
    /// Data folder (sled files and the log key).
    #[arg(long, default_value = "coopledger-data", env = "COOPLEDGER_DATA")]
    data: PathBuf,
    /// Address to listen on: host:port (127.0.0.1:7070 this machine only,
    /// 0.0.0.0:7070 every interface) or a port alone (7070 = 127.0.0.1:7070).
    #[arg(long, default_value = "127.0.0.1:7070", value_parser = parse_listen)]
    listen: SocketAddr,
    /// A copy of the last signed checkpoint, kept outside the data folder so
    /// that an old copy of the whole folder put back is refused too
    /// (default: DATA.checkpoint beside the data folder).
    #[arg(long, value_name = "FILE")]
    checkpoint_copy: Option<PathBuf>,
    /// Let anyone who reaches the port read the log (an open network).
    /// By default every read must be signed by a member (README: Signed reads).
    #[arg(long)]
    public_read: bool,
    /// Do not serve the browser app at / (gRPC and gRPC-web are served
    /// either way).
    #[arg(long)]
    no_web: bool,
    /// Serve over TLS with this PEM certificate chain, the server's own
    /// certificate first (e.g. Let's Encrypt's fullchain.pem); needs
    /// --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert's certificate (e.g. privkey.pem);
    /// needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest gRPC message, bytes.
    #[arg(long)]
    max_message_bytes: Option<usize>,
    /// Largest signed entry payload, bytes.
    #[arg(long)]
    max_payload_bytes: Option<usize>,
    /// Most envelopes in one SubmitBatch.
    #[arg(long)]
    max_batch_entries: Option<usize>,
    /// Most tags on a contribution.
    #[arg(long)]
    max_tags: Option<usize>,
    /// Longest short string, bytes.
    #[arg(long)]
    max_string_bytes: Option<usize>,
    /// Longest note, bytes.
    #[arg(long)]
    max_note_bytes: Option<usize>,
    /// Most members.
    #[arg(long)]
    max_members: Option<usize>,
    /// Allowed clock difference for arriving entries, ms.
    #[arg(long)]
    max_clock_skew_ms: Option<u64>,
    /// Most entries per ListEntries call.
    #[arg(long)]
    max_list_entries: Option<u64>,
    /// Most concurrent Subscribe streams.
    #[arg(long)]
    max_subscribers: Option<usize>,
    /// Most entries per group commit.
    #[arg(long)]
    max_group_entries: Option<usize>,
    /// Most requests queued for the sequencer.
    #[arg(long)]
    max_pending_requests: Option<usize>,
    /// Longest period one distribution may cover, days (default 366).
    #[arg(long)]
    max_distribution_days: Option<u64>,
    /// Most entries a restart folds again after the last state snapshot
    /// (a snapshot is written every that many entries; default 100000).
    #[arg(long)]
    max_replay_entries: Option<u64>,
    /// Free disk space to keep, MiB: below it writes are refused and reads
    /// go on (default 64).
    #[arg(long)]
    min_free_disk_mb: Option<u64>,
    /// Most signed-read nonces remembered (default 200000).
    #[arg(long)]
    max_read_nonces: Option<usize>,
    /// Most previews scored at once (default 2).
    #[arg(long)]
    max_concurrent_previews: Option<usize>,
    /// Most open connections; more are closed on accept (default 1024).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds between keepalive pings; an unanswered one drops its connection (default 30).
    #[arg(long)]
    keepalive_secs: Option<u64>,
    /// Seconds a new connection has to send its handshake (default 10).
    #[arg(long)]
    handshake_timeout_secs: Option<u64>,
    /// Seconds a connection may stay open with no request (default 300).
    #[arg(long)]
    idle_timeout_secs: Option<u64>,
}

/// `--listen`: a socket address, `localhost:PORT`, or a port alone (on
/// this machine only: listening on a network is a choice to write out).
fn parse_listen(text: &str) -> std::result::Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!(
            "{text:?} is not an address to listen on; write host:port or a port, e.g. \
             127.0.0.1:7070 (this machine only), 0.0.0.0:7070 (every interface), [::1]:7070, \
             or 7070 (= 127.0.0.1:7070)"
        )
    })
}

impl ServeArgs {
    fn checkpoint_copy(&self) -> Option<PathBuf> {
        self.checkpoint_copy
            .clone()
            .or_else(|| coopledger::log::default_copy(&self.data))
    }

    /// The TLS identity from `--tls-cert` and `--tls-key`, read and
    /// checked; every refusal names the flag and its file.
    fn tls(&self) -> Result<Option<coopledger::server::TlsIdentity>> {
        use coopledger::server::{ServerError, TlsIdentity};
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            // clap's `requires` refuses one without the other.
            return Ok(None);
        };
        let read = |flag: &str, path: &PathBuf| {
            std::fs::read(path)
                .with_context(|| format!("{flag} {}: cannot read it", path.display()))
        };
        let (cert_pem, key_pem) = (read("--tls-cert", cert)?, read("--tls-key", key)?);
        match TlsIdentity::from_pem(cert_pem, key_pem) {
            Ok(identity) => Ok(Some(identity)),
            Err(e @ ServerError::TlsCertificate(_)) => {
                Err(anyhow::Error::new(e).context(format!("--tls-cert {}", cert.display())))
            }
            Err(e @ ServerError::TlsKey(_)) => {
                Err(anyhow::Error::new(e).context(format!("--tls-key {}", key.display())))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "--tls-cert {} and --tls-key {}",
                cert.display(),
                key.display()
            ))),
        }
    }

    fn limits(&self) -> coopledger::ledger::Limits {
        let mut l = coopledger::ledger::Limits::default();
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { l.$f = v; } )* };
        }
        set!(
            max_message_bytes,
            max_payload_bytes,
            max_batch_entries,
            max_tags,
            max_string_bytes,
            max_note_bytes,
            max_members,
            max_clock_skew_ms,
            max_list_entries,
            max_subscribers,
            max_group_entries,
            max_pending_requests,
            max_replay_entries,
            max_read_nonces,
            max_concurrent_previews,
            max_connections,
            keepalive_secs,
            handshake_timeout_secs,
            idle_timeout_secs
        );
        if let Some(mb) = self.min_free_disk_mb {
            l.min_free_disk_bytes = mb.saturating_mul(1 << 20);
        }
        if let Some(days) = self.max_distribution_days {
            l.max_distribution_seconds = days.saturating_mul(86_400);
        }
        l
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The server reports what it does; client commands stay quiet unless asked.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli).await {
        if cli::is_reader_gone(&e) {
            // `coopledger … | head -1`: the reader stopped reading, which
            // is no error to report.
            std::process::exit(cli::READER_GONE_STATUS);
        }
        eprintln!("error: {}", cli::errors::render(&e));
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let ctx = || {
        cli::Context::new(
            cli.home.clone(),
            cli.server.clone(),
            cli.tls_ca.clone(),
            cli.identity.clone(),
            cli::Output {
                json: cli.json,
                print_id: cli.print_id,
            },
        )
    };
    match &cli.command {
        // Neither prints results a script could read: refused rather than
        // ignored, so a script asking for JSON is not handed prose.
        Command::Serve(_) if cli.json => bail!(
            "`serve` prints no results, only its log on standard error: --json is for the client commands"
        ),
        Command::Demo(_) if cli.json => bail!(
            "`demo` narrates a month for people and has no JSON form; the commands it shows each take --json"
        ),
        Command::Serve(args) => serve(args).await,
        Command::Demo(a) => cli::demo::run(a).await,
        Command::Score(args) => cli::score::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::Keygen { handle } => cli::member::keygen(&ctx()?, handle),
        Command::Init(args) => cli::member::init(&ctx()?, args).await,
        Command::Info => cli::member::info(&ctx()?).await,
        Command::Member(c) => cli::member::member(&ctx()?, c).await,
        Command::Log(a) => cli::contribute::log(&ctx()?, a).await,
        Command::Import(a) => cli::import::import(&ctx()?, a).await,
        Command::Amend(a) => cli::contribute::amend(&ctx()?, a).await,
        Command::Retract(a) => cli::contribute::retract(&ctx()?, a).await,
        Command::Evaluate(a) => cli::contribute::evaluate(&ctx()?, a).await,
        Command::Allocate(a) => cli::contribute::allocate(&ctx()?, a).await,
        Command::Policy(c) => cli::policy::policy(&ctx()?, c).await,
        Command::Entries(a) => cli::entries::entries(&ctx()?, a).await,
        Command::Tail(a) => cli::entries::tail(&ctx()?, a).await,
        Command::Shares(a) => cli::treasurer::shares(&ctx()?, a).await,
        Command::Distribute(a) => cli::treasurer::distribute(&ctx()?, a).await,
        Command::Explain(a) => cli::treasurer::explain(&ctx()?, a).await,
        Command::Distribution(c) => cli::distributions::distribution(&ctx()?, c).await,
        Command::Todo(a) => cli::todo::todo(&ctx()?, a).await,
        Command::History(a) => cli::history::history(&ctx()?, a).await,
        Command::Verify(a) => cli::audit::verify(&ctx()?, a).await,
        Command::Export(a) => cli::audit::export(&ctx()?, a).await,
        Command::VerifyRecord(a) => cli::audit::verify_record(&ctx()?, a),
        Command::Backup(a) => cli::backup::backup(&ctx()?, a).await,
    }
}

async fn serve(args: &ServeArgs) -> Result<()> {
    let server = coopledger::server::start(coopledger::server::ServerConfig {
        data_dir: args.data.clone(),
        listen: args.listen,
        limits: args.limits(),
        clock: Default::default(),
        checkpoint_copy: args.checkpoint_copy(),
        public_read: args.public_read,
        tls: args.tls()?,
        web: !args.no_web,
    })
    .await?;
    eprintln!(
        "coopledger serving {} on {} (data in {}); Ctrl-C or SIGTERM to stop",
        hex::encode(server.ledger().log_public_key()),
        server.url(),
        args.data.display()
    );
    if !args.no_web {
        eprintln!("the web app: open {}/ in a browser", server.url());
    }
    // SIGINT (Ctrl-C) and SIGTERM (what systemd and container runtimes
    // send) both stop it cleanly: stop accepting, finish the groups in
    // flight, flush, sign, exit 0.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    server
        .run_until(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        })
        .await?;
    eprintln!("stopped cleanly");
    Ok(())
}
