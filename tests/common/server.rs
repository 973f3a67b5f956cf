//! [`TestServer`]: a real coopledger server on 127.0.0.1:0 over a sled
//! folder in a temporary directory, with connections to it, and
//! [`run_cli`] for the `coopledger` binary. One door besides gRPC:
//! [`TestServer::store_under_old_rules`] writes an entry no RPC accepts any
//! more, as an older server stored it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use coopledger::client::LedgerClient;
use coopledger::ledger::{CheckedEntry, Clock, Limits};
use coopledger::pb;
use coopledger::server::{RunningServer, ServerConfig, start};
use coopledger::verify::VerifiedEnvelope;
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

use super::STEP_TIMEOUT;

/// A real server on 127.0.0.1:0 over a sled folder in a temporary directory.
/// The directory lives as long as this value, across restarts.
pub struct TestServer {
    server: Option<RunningServer>,
    dir: TempDir,
    limits: Limits,
    /// How far the server's clock runs ahead of the system clock, in ms
    /// (see [`TestServer::advance_clock`]).
    ahead_ms: Arc<AtomicI64>,
}

impl TestServer {
    /// Starts a server with default limits.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    /// Starts a server with the given limits on a fresh temporary folder.
    pub async fn with_limits(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().expect("create a temporary data folder");
        let ahead_ms = Arc::new(AtomicI64::new(0));
        let server = start_on(dir.path(), &limits, clock(&ahead_ms)).await;
        TestServer {
            server: Some(server),
            dir,
            limits,
            ahead_ms,
        }
    }

    /// The running server (panics while stopped).
    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("the test server is stopped")
    }

    /// Moves the server's clock forward by `ms` (it keeps running from
    /// there): clock rules are tested without sleeping.
    pub fn advance_clock(&self, ms: i64) {
        self.ahead_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The server's data folder (its sled database and log key). It stays
    /// while the server is stopped, so a test can read or alter it between
    /// [`TestServer::stop`] and a new start on it.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration this server starts with: its folder, a loopback
    /// port 0 and its limits (for a test that starts a server on the folder
    /// itself, to see it refused).
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            data_dir: self.dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            limits: self.limits.clone(),
            clock: clock(&self.ahead_ms),
            checkpoint_copy: None,
            public_read: true,
            web: true,
            tls: None,
        }
    }

    /// A stopped server over a copy of this stopped server's folder (start
    /// it with [`TestServer::start_again`]): two histories from one point.
    pub fn copy_stopped(&self) -> TestServer {
        assert!(
            self.server.is_none(),
            "stop the test server before copying its folder"
        );
        let dir = tempfile::tempdir().expect("create a temporary data folder");
        copy_dir(self.dir.path(), dir.path());
        TestServer {
            server: None,
            dir,
            limits: self.limits.clone(),
            ahead_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Whether the server is running (not stopped).
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Starts a server again on the folder after [`TestServer::stop`].
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "the test server is already running");
        self.server = Some(start_on(self.dir.path(), &self.limits, clock(&self.ahead_ms)).await);
    }

    /// The address it listens on (`127.0.0.1:PORT`).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running().addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running().url()
    }

    /// A new client on its own TCP connection.
    pub async fn client(&self) -> LedgerClient {
        LedgerClient::new(self.channel().await)
    }

    /// A new channel (its own TCP connection) to the server, for any service.
    pub async fn channel(&self) -> Channel {
        connect(&self.url()).await
    }

    /// Stops the server, draining the sequencer; the folder stays.
    pub async fn stop(&mut self) {
        let server = self
            .server
            .take()
            .expect("the test server is already stopped");
        tokio::time::timeout(STEP_TIMEOUT, server.stop())
            .await
            .expect("the server did not stop within the step timeout")
            .expect("the server stopped with an error");
    }

    /// Stops the server and starts a new one on the same folder (a new port).
    pub async fn restart(&mut self) {
        let limits = self.limits.clone();
        self.restart_with(limits).await;
    }

    /// Stops the server and starts a new one on the same folder with other limits.
    pub async fn restart_with(&mut self, limits: Limits) {
        self.stop().await;
        self.limits = limits;
        self.start_again().await;
    }

    /// Stores `envelope` as a server did before arriving payloads had to be
    /// in canonical protobuf form: the signature, the decode, every field
    /// check and every rule, but not the form. It goes through the running
    /// server's public `Ledger` handle, because no RPC accepts such an entry
    /// any more; this is how a test gets a log written under the old rules,
    /// to prove such a log stays readable. Returns the receipt the server
    /// would have sent.
    pub async fn store_under_old_rules(&self, envelope: &pb::Envelope) -> pb::Receipt {
        let verified = VerifiedEnvelope::verify_logged(envelope)
            .expect("an old-rule entry still needs a good signature and a decodable payload");
        let checked = CheckedEntry::new(verified, &self.limits).expect("an entry of good shape");
        let mut receipts = tokio::time::timeout(
            STEP_TIMEOUT,
            self.running().ledger().submit(vec![checked], false),
        )
        .await
        .expect("the ledger did not answer within the step timeout")
        .expect("the ledger stored the entry");
        let r = receipts.pop().expect("one receipt");
        pb::Receipt {
            sequence: r.sequence,
            id: r.id.0.to_vec(),
            duplicate: r.duplicate,
            log_size: r.head.head.size,
            root: r.head.head.root.to_vec(),
            checkpoint: Some(pb::SignedCheckpoint {
                note: r.head.note.to_string(),
                size: r.head.head.size,
                root: r.head.head.root.to_vec(),
            }),
        }
    }
}

/// Copies the folder `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's folder");
    for entry in std::fs::read_dir(from).expect("read the data folder") {
        let entry = entry.expect("a data folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a data file");
        }
    }
}

/// The system clock, `ahead_ms` ahead.
fn clock(ahead_ms: &Arc<AtomicI64>) -> Clock {
    let ahead_ms = ahead_ms.clone();
    Clock::new(move || coopledger::ledger::now_ms() + ahead_ms.load(Ordering::SeqCst))
}

async fn start_on(dir: &Path, limits: &Limits, clock: Clock) -> RunningServer {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        limits: limits.clone(),
        clock,
        checkpoint_copy: None,
        public_read: true,
        web: true,
        tls: None,
    };
    let server = tokio::time::timeout(STEP_TIMEOUT, start(config))
        .await
        .expect("the server did not start within the step timeout")
        .expect("the server failed to start");
    assert!(
        server.addr.ip().is_loopback(),
        "tests listen on loopback only, got {}",
        server.addr
    );
    server
}

/// Opens a channel to `url` (one TCP connection), bounded in time.
pub async fn connect(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string())
        .expect("a valid URL")
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .expect("connect to the test server")
}

/// A members-only server (every read signed, as `coopledger serve` runs by
/// default) on 127.0.0.1:0 over `dir`, with default limits and the real
/// clock: what the CLI tests talk to.
pub async fn members_only_server(dir: &Path) -> RunningServer {
    start(ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        limits: Default::default(),
        clock: Default::default(),
        checkpoint_copy: None,
        public_read: false,
        web: true,
        tls: None,
    })
    .await
    .expect("server starts")
}

/// Runs the `coopledger` binary with its own config folder and server, off
/// the async runtime, and returns what it printed.
pub async fn run_cli(home: &Path, server: &str, args: &[&str]) -> std::process::Output {
    let (home, server) = (home.to_path_buf(), server.to_string());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .args(&args)
            .env("COOPLEDGER_HOME", &home)
            .env("COOPLEDGER_SERVER", &server)
            .env_remove("COOPLEDGER_AS")
            .env_remove("COOPLEDGER_TLS_CA")
            .output()
            .expect("run coopledger")
    })
    .await
    .expect("the CLI task")
}

/// What a CLI run printed on standard output; the test fails, showing both
/// streams, unless the run succeeded.
pub fn cli_ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test fails unless the CLI run failed with every one of `needles` in
/// its standard error.
pub fn cli_refused(out: &std::process::Output, needles: &[&str]) {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
}

/// The CLI with a config folder of its own, pointed at one server: runs
/// commands as a member (`--as`), expecting success. Test files add their
/// own steps to it (`impl Cli` in the test file).
pub struct Cli {
    /// The config folder (keys, pins).
    pub home: TempDir,
    /// The server.
    pub url: String,
}

impl Cli {
    /// A fresh config folder for the server at `url`.
    pub fn new(url: String) -> Cli {
        Cli {
            home: tempfile::tempdir().expect("a config folder"),
            url,
        }
    }

    /// Runs the CLI with `args`, whatever the outcome.
    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        run_cli(self.home.path(), &self.url, args).await
    }

    /// Runs as `who`, expecting success; returns stdout.
    pub async fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(&[&["--as", who], args].concat()).await;
        assert!(
            out.status.success(),
            "{who} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs as `who` with `--json`, expecting success.
    pub async fn json(&self, who: &str, args: &[&str]) -> serde_json::Value {
        let text = self.ok(who, &[&["--json"], args].concat()).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }
}

/// A cooperative through the CLI on a members-only server: ana founds it
/// ("Riverside Makers", EUR; admin), ben (treasurer) and cai (member) are
/// admitted, and `policy` (the `policy adopt` JSON) is adopted. Returns the
/// server, its data folder and the CLI (keys for all three in its home).
pub async fn riverside(policy: &str) -> (RunningServer, TempDir, Cli) {
    let data = tempfile::tempdir().expect("a data folder");
    let srv = members_only_server(data.path()).await;
    let cli = Cli::new(srv.url());
    cli.ok("ana", &["keygen", "ana"]).await;
    let mut keys = Vec::new();
    for who in ["ben", "cai"] {
        let v = cli.json(who, &["keygen", who]).await;
        keys.push(v["public_key"].as_str().expect("a public key").to_string());
    }
    cli.ok(
        "ana",
        &["init", "--name", "Riverside Makers", "--currency", "EUR"],
    )
    .await;
    cli.ok("ana", &["member", "admit", "ben", &keys[0]]).await;
    cli.ok("ana", &["member", "admit", "cai", &keys[1]]).await;
    cli.ok("ana", &["member", "grant", "ben", "treasurer"])
        .await;
    let file = cli.home.path().join("policy.json");
    std::fs::write(&file, policy).expect("the policy file");
    cli.ok(
        "ana",
        &[
            "policy",
            "adopt",
            file.to_str().expect("a UTF-8 path"),
            "--yes",
        ],
    )
    .await;
    (srv, data, cli)
}
