//! TLS end to end, with certificates made at test time (rcgen): a private
//! CA and a server certificate for `localhost` and `127.0.0.1` issued by
//! it. The real server serves over TLS on 127.0.0.1:0; a tonic client that
//! trusts the CA founds a network, submits and reads back, and the real
//! `coopledger` CLI runs a member's month with `--tls-ca` and an https://
//! URL, against the real `coopledger serve` binary too. Then the refusals:
//! a client that does not trust the CA, a certificate for another name,
//! https:// to a plaintext server (never a fallback), http:// to a TLS
//! server, a URL with no scheme, and `serve` with files it cannot use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on a broken assumption"
)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use coopledger::client::LedgerClient;
use coopledger::pb;
use coopledger::server::{RunningServer, ServerConfig, TlsIdentity, start};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use common::{JAN_2020, STEP_TIMEOUT, admit, found_network, id_of, log_contribution, work};

/// A CA and one server certificate it issued, as PEM and as files.
struct Pki {
    /// Holds the files.
    dir: TempDir,
    /// The CA's certificate.
    ca_pem: String,
    /// The server's certificate followed by the CA's (a full chain).
    chain_pem: String,
    /// The server certificate's private key.
    key_pem: String,
}

impl Pki {
    /// A new CA issuing a certificate for `names` (DNS names or IPs).
    fn new(names: &[&str]) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "coopledger test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "coopledger test server");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();

        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_pem: ca.pem(),
            chain_pem: format!("{}{}", cert.pem(), ca.pem()),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(pki.ca_path(), &pki.ca_pem).unwrap();
        std::fs::write(pki.cert_path(), &pki.chain_pem).unwrap();
        std::fs::write(pki.key_path(), &pki.key_pem).unwrap();
        pki
    }

    /// The usual test PKI: a certificate for `localhost` and `127.0.0.1`.
    fn local() -> Pki {
        Pki::new(&["localhost", "127.0.0.1"])
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path().join("fullchain.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("privkey.pem")
    }

    fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_pem(self.chain_pem.clone(), self.key_pem.clone()).unwrap()
    }
}

/// A real server on 127.0.0.1:0 over a fresh folder, over TLS with `tls`.
async fn server(data: &Path, tls: Option<TlsIdentity>) -> RunningServer {
    let config = ServerConfig {
        data_dir: data.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: Default::default(),
        clock: Default::default(),
        checkpoint_copy: None,
        // Members-only, as `coopledger serve`: the tonic client below reads
        // unsigned only what is open; the CLI signs its reads.
        public_read: false,
        web: true,
        tls,
    };
    tokio::time::timeout(STEP_TIMEOUT, start(config))
        .await
        .expect("the server did not start within the step timeout")
        .expect("the server starts")
}

/// A channel to `url` over TLS trusting `tls`'s roots, or the error.
async fn tls_channel(url: &str, tls: ClientTlsConfig) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .tls_config(tls)?
        .connect()
        .await
}

/// TLS settings that trust only `ca_pem`.
fn trusting(ca_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem))
}

/// `e` and its causes, for assertions on what a refusal says.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e:?}");
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(&format!(" / {cause}"));
        next = cause.source();
    }
    text
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed, and its stderr contains every one of `needles`;
/// returns the stderr.
fn refused(out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}\n{err}",
        String::from_utf8_lossy(&out.stdout)
    );
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    err
}

fn public_key(keygen_json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(keygen_json).unwrap();
    v["public_key"].as_str().unwrap().to_string()
}

/// Runs the CLI as [`common::run_cli`] does, with `--tls-ca ca` first.
async fn tls_cli(home: &Path, url: &str, ca: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--tls-ca", ca.to_str().unwrap()];
    all.extend_from_slice(args);
    common::run_cli(home, url, &all).await
}

/// The config folder's pins, by server URL.
fn pins(home: &Path) -> serde_json::Value {
    match std::fs::read(home.join("config.json")) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["pins"].clone(),
        Err(_) => serde_json::Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_that_trusts_the_ca_founds_submits_and_reads_back_over_tls() {
    let pki = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let srv = server(data.path(), Some(pki.identity())).await;
    assert!(srv.is_tls());
    let url = srv.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let channel = tls_channel(&url, trusting(&pki.ca_pem)).await.unwrap();
    let mut client = LedgerClient::new(channel);
    let network = found_network(&mut client, &["alice"]).await;
    let alice = &network.founders[0];
    let (bob, _) = admit(&mut client, alice, "bob").await;
    let (envelope, receipt) = log_contribution(&mut client, &bob, work(90, JAN_2020.0)).await;
    assert_eq!(receipt.sequence, 2);

    // Read back by id as bob (a signed read), on another connection by the
    // certificate's DNS name.
    let by_name = url.replace("127.0.0.1", "localhost");
    let mut reader = coopledger::client::MemberClient::new(coopledger::client::SignedChannel::new(
        tls_channel(&by_name, trusting(&pki.ca_pem)).await.unwrap(),
        Some(bob.key.clone()),
        &network.id,
    ));
    let logged = reader
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(id_of(&envelope))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logged.sequence, 2);
    assert_eq!(logged.envelope.as_ref(), Some(&envelope));
    let info = reader
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.log_size, 3);
    assert_eq!(info.network_id, network.id);
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_a_members_month_over_tls_with_tls_ca() {
    let pki = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = server(data.path(), Some(pki.identity())).await;
    let url = srv.url();
    let h = home.path();
    let ca = pki.ca_path();

    ok(&tls_cli(h, &url, &ca, &["keygen", "ana"]).await);
    let ben = public_key(&ok(
        &tls_cli(h, &url, &ca, &["--json", "keygen", "ben"]).await
    ));
    ok(&tls_cli(
        h,
        &url,
        &ca,
        &["init", "--name", "Riverside Makers", "--currency", "EUR"],
    )
    .await);
    ok(&tls_cli(h, &url, &ca, &["member", "admit", "ben", &ben]).await);
    let logged: serde_json::Value = serde_json::from_str(&ok(&tls_cli(
        h,
        &url,
        &ca,
        &[
            "--json",
            "log",
            "work",
            "1h30m",
            "--tag",
            "design",
            "--at",
            "2020-01-15",
        ],
    )
    .await))
    .unwrap();
    assert_eq!(logged["sequence"], 2);
    ok(&tls_cli(
        h,
        &url,
        &ca,
        &[
            "--as",
            "ben",
            "log",
            "expense",
            "25.50",
            "--at",
            "2020-01-16",
        ],
    )
    .await);
    let entries: serde_json::Value = serde_json::from_str(&ok(&tls_cli(
        h,
        &url,
        &ca,
        &["--json", "entries", "--kind", "contribution"],
    )
    .await))
    .unwrap();
    let summaries: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    assert!(summaries[0].starts_with("work 1h30m"), "{summaries:?}");
    assert!(summaries[1].starts_with("expense "), "{summaries:?}");
    // The whole log audited over TLS: every signature, the checkpoint.
    ok(&tls_cli(h, &url, &ca, &["verify"]).await);
    // The pin is the https:// URL's: a plaintext URL is another server.
    assert!(pins(h)[&url].is_object(), "{}", pins(h));

    // The CA from the environment, as `--server` comes from it.
    let out = tokio::task::spawn_blocking({
        let (h, url, ca) = (h.to_path_buf(), url.clone(), ca.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_coopledger"))
                .args(["--json", "info"])
                .env("COOPLEDGER_HOME", &h)
                .env("COOPLEDGER_SERVER", &url)
                .env("COOPLEDGER_TLS_CA", &ca)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let info: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(info["log_size"], 4, "{info}");

    // The CA from config.json, by a path relative to the config folder.
    std::fs::copy(&ca, h.join("coop-ca.pem")).unwrap();
    let config_path = h.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["tls_ca"] = "coop-ca.pem".into();
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    ok(&common::run_cli(h, &url, &["info"]).await);
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_is_refused_with_a_certificate_error() {
    let pki = Pki::local();
    let stranger = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = server(data.path(), Some(pki.identity())).await;
    let url = srv.url();

    // tonic with only the public web CAs, and with another CA.
    for (what, tls) in [
        ("webpki roots", ClientTlsConfig::new().with_webpki_roots()),
        ("another CA", trusting(&stranger.ca_pem)),
    ] {
        let e = tls_channel(&url, tls)
            .await
            .expect_err("a client that does not trust the CA connects");
        let text = causes(&e);
        // Another CA with the same name is found, and its signature fails.
        assert!(
            text.contains("UnknownIssuer") || text.contains("BadSignature"),
            "{what}: {text}"
        );
    }

    // The CLI: no --tls-ca, then another CA's.
    let h = home.path();
    let out = common::run_cli(h, &url, &["info"]).await;
    refused(
        &out,
        &[
            "cannot connect securely",
            "not issued by a CA this CLI trusts",
            "the public web CAs",
            "--tls-ca FILE",
        ],
    );
    let other_ca = stranger.ca_path();
    let out = common::run_cli(h, &url, &["--tls-ca", other_ca.to_str().unwrap(), "info"]).await;
    refused(
        &out,
        &[
            "not issued by a CA this CLI trusts",
            &other_ca.display().to_string(),
        ],
    );
    // Nothing was pinned: the CLI never got to ask the server anything.
    assert!(pins(h).get(&url).is_none(), "{}", pins(h));
    srv.stop().await.unwrap();

    // A certificate the CA issued for another name.
    let elsewhere = Pki::new(&["coop.example"]);
    let data = tempfile::tempdir().unwrap();
    let srv = server(data.path(), Some(elsewhere.identity())).await;
    let ca = elsewhere.ca_path();
    let out = common::run_cli(h, &srv.url(), &["--tls-ca", ca.to_str().unwrap(), "info"]).await;
    refused(&out, &["not issued for \"127.0.0.1\""]);
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plaintext_server_fails_and_never_falls_back() {
    let pki = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let plain = server(data.path(), None).await;
    assert!(!plain.is_tls());
    let http_url = plain.url();
    assert!(http_url.starts_with("http://"), "{http_url}");
    let https_url = http_url.replacen("http://", "https://", 1);

    let e = tls_channel(&https_url, trusting(&pki.ca_pem))
        .await
        .expect_err("a TLS client connected to a plaintext server");
    assert!(causes(&e).contains("InvalidContentType"), "{}", causes(&e));

    let h = home.path();
    let ca = pki.ca_path();
    let ca = ca.to_str().unwrap();
    for args in [vec!["info"], vec!["--tls-ca", ca, "info"]] {
        let out = common::run_cli(h, &https_url, &args).await;
        refused(
            &out,
            &["cannot connect securely", "never falls back to plaintext"],
        );
    }
    assert!(pins(h).get(&https_url).is_none(), "{}", pins(h));
    // The same server over http:// is fine: plaintext only when asked for.
    ok(&common::run_cli(h, &http_url, &["info"]).await);
    // A CA asked for with a plaintext URL is refused, not ignored.
    let out = common::run_cli(h, &http_url, &["--tls-ca", ca, "info"]).await;
    refused(&out, &["asks for TLS", "plaintext http:// URL"]);
    plain.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_to_a_tls_server_and_an_address_without_scheme_are_explained() {
    let pki = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let srv = server(data.path(), Some(pki.identity())).await;
    let h = home.path();
    let http_url = srv.url().replacen("https://", "http://", 1);
    let out = common::run_cli(h, &http_url, &["info"]).await;
    refused(&out, &["connect with https://"]);

    // No scheme: host:port on this machine means plaintext, so a TLS
    // server is explained the same way, naming the URL that was tried.
    let bare = srv.addr.to_string();
    let out = common::run_cli(h, &bare, &["info"]).await;
    let err = refused(&out, &[&format!("http://{bare}"), "connect with https://"]);
    assert_eq!(err.matches("connect with https://").count(), 1, "{err}");
    srv.stop().await.unwrap();
}

/// A `coopledger serve` child on 127.0.0.1:0 over `data`; dropping it kills
/// and reaps it.
struct ServeProcess {
    child: Child,
    /// The line saying where it serves.
    serving: String,
}

impl ServeProcess {
    /// Starts it with `extra` flags and waits for its "serving" line.
    fn start(data: &Path, extra: &[&Path]) -> ServeProcess {
        let mut child = serve_command(data, extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads stderr to its end so the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("coopledger serving ") {
                    let _ = tx.send(line);
                }
            }
        });
        let serving = rx
            .recv_timeout(STEP_TIMEOUT)
            .expect("`coopledger serve` printed no serving line");
        ServeProcess { child, serving }
    }

    /// The URL from the serving line
    /// (`coopledger serving KEY on URL (data in …); …`).
    fn url(&self) -> String {
        let words: Vec<&str> = self.serving.split_whitespace().collect();
        assert_eq!(words.get(3), Some(&"on"), "{}", self.serving);
        words[4].to_string()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `coopledger serve` on 127.0.0.1:0 over `data`, then `args` (flags and
/// file paths, in order).
fn serve_command(data: &Path, args: &[&Path]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coopledger"));
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("COOPLEDGER_DATA")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Runs `coopledger serve` with `args`, which must make it exit (within
/// the step timeout; it is killed otherwise) with a failure.
fn serve_fails(data: &Path, args: &[&Path]) -> Output {
    let mut child = serve_command(data, args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + STEP_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`coopledger serve {args:?}` is still running: it should have refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "serve {args:?} succeeded");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coopledger_serve_with_tls_files_prints_an_https_url_the_cli_reaches() {
    let pki = Pki::local();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (cert, key) = (pki.cert_path(), pki.key_path());
    let served = ServeProcess::start(
        &data.path().join("data"),
        &[Path::new("--tls-cert"), &cert, Path::new("--tls-key"), &key],
    );
    let url = served.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{}", served.serving);
    let ca = pki.ca_path();
    let ca = ca.to_str().unwrap();
    let h = home.path();
    ok(&common::run_cli(h, &url, &["keygen", "ana"]).await);
    ok(&common::run_cli(
        h,
        &url,
        &[
            "--tls-ca",
            ca,
            "init",
            "--name",
            "Coop",
            "--currency",
            "EUR",
        ],
    )
    .await);
    ok(&common::run_cli(
        h,
        &url,
        &["--tls-ca", ca, "log", "work", "2h", "--at", "2020-01-15"],
    )
    .await);
    ok(&common::run_cli(h, &url, &["--tls-ca", ca, "verify"]).await);
    drop(served);
}

#[test]
fn coopledger_serve_refuses_tls_files_it_cannot_use_naming_the_flag_and_file() {
    let pki = Pki::local();
    let other = Pki::local();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cert, key) = (pki.cert_path(), pki.key_path());
    let missing = dir.path().join("missing.pem");
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let flag = |f: &'static str| Path::new(f);

    // A key file that is not there.
    let out = serve_fails(
        &data,
        &[flag("--tls-cert"), &cert, flag("--tls-key"), &missing],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("--tls-key"), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("cannot read it"), "{err}");
    // Refused before the data folder is touched.
    assert!(!data.exists(), "the data folder was created");

    // One flag without the other: clap's usage error.
    let out = serve_fails(&data, &[flag("--tls-cert"), &cert]);
    assert!(stderr(&out).contains("--tls-key"), "{}", stderr(&out));

    // The files swapped: each names its flag.
    let out = serve_fails(&data, &[flag("--tls-cert"), &key, flag("--tls-key"), &cert]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("--tls-cert {}", key.display()))
            && err.contains("no `-----BEGIN CERTIFICATE-----`"),
        "{err}"
    );
    let out = serve_fails(
        &data,
        &[flag("--tls-cert"), &cert, flag("--tls-key"), &cert],
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("--tls-key {}", cert.display())) && err.contains("PRIVATE KEY"),
        "{err}"
    );

    // Another certificate's key.
    let out = serve_fails(
        &data,
        &[
            flag("--tls-cert"),
            &cert,
            flag("--tls-key"),
            &other.key_path(),
        ],
    );
    let err = stderr(&out);
    assert!(err.contains("does not belong to the certificate"), "{err}");
    assert!(!data.exists(), "the data folder was created");
}

#[test]
fn a_tls_identity_is_checked_when_it_is_built() {
    let pki = Pki::local();
    let other = Pki::local();
    assert!(TlsIdentity::from_pem(pki.chain_pem.clone(), pki.key_pem.clone()).is_ok());
    let refusal = |cert: &str, key: &str| {
        TlsIdentity::from_pem(cert.to_string(), key.to_string())
            .unwrap_err()
            .to_string()
    };
    assert!(refusal("", &pki.key_pem).contains("certificate chain holds no"));
    assert!(refusal(&pki.chain_pem, "").contains("private key holds no"));
    assert!(refusal(&pki.chain_pem, &other.key_pem).contains("does not belong"));
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(refusal(garbage, &pki.key_pem).contains("not a valid X.509 certificate"));
    // The key never shows in a debug print of a config.
    let shown = format!("{:?}", pki.identity());
    assert!(!shown.contains("PRIVATE"), "{shown}");
}
