//! How the CLI reaches a server: the URL's scheme decides, and nothing else.
//!
//! - `https://HOST:PORT` is TLS, verified against the public web CAs
//!   (webpki-roots, no system files needed) or, with `--tls-ca FILE`, only
//!   against that CA (a cooperative's own CA or a self-signed server
//!   certificate). A server that does not complete the TLS handshake is an
//!   error: the CLI never falls back to plaintext.
//! - `http://HOST:PORT` is plaintext (loopback, or a private network).
//!   A `--tls-ca` given with it is refused rather than silently unused.
//! - No scheme (`127.0.0.1:7070`) is refused with the two URLs to choose
//!   from: guessing would either send a member's traffic in the clear or
//!   fail obscurely at the handshake.
//!
//! A failed connection is explained in the member's terms (who issued the
//! certificate, which name it is for, a plaintext server behind an
//! https:// URL) with the flag that fixes it.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// How long opening the TCP connection may take: a server address that
/// drops packets must fail, not hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the TLS handshake may take once connected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the CA certificate to trust came from, for messages and for the
/// http:// rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaSource {
    /// `--tls-ca` or `COOPLEDGER_TLS_CA`: asked for on this run.
    Flag,
    /// `tls_ca` in the config file: a default for https:// servers.
    Config,
}

/// A CA certificate (PEM) the CLI trusts for https:// servers instead of
/// the public web CAs.
#[derive(Clone, Debug)]
pub struct TrustedCa {
    /// The PEM file.
    pub path: PathBuf,
    /// Where it was named.
    pub source: CaSource,
}

impl TrustedCa {
    /// `--tls-ca FILE` or `tls_ca FILE (config.json)`, as a message names it.
    fn describe(&self) -> String {
        match self.source {
            CaSource::Flag => format!("--tls-ca {}", self.path.display()),
            CaSource::Config => format!("tls_ca {} (config.json)", self.path.display()),
        }
    }
}

/// The two schemes the CLI speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// A server address as the CLI connects to it.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    scheme: Scheme,
    /// The host, without brackets.
    host: String,
    /// The URL connected to (the scheme added when none was written).
    url: String,
    /// Whether the scheme was chosen by the CLI, not written.
    assumed: bool,
}

/// Whether `host` is this machine: a plaintext connection to it never
/// crosses a network.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a server address and returns what to connect to. `host:port`
/// without a scheme is accepted: plaintext `http://` for this machine
/// (localhost, 127.0.0.1, ::1), where `coopledger serve` listens by
/// default, and `https://` for any other host, so a member never sends a
/// signed read across a network in plaintext by leaving the scheme out.
fn parse(server: &str) -> Result<Target> {
    let where_from = "(from --server, COOPLEDGER_SERVER or \"server\" in config.json)";
    let example = "e.g. 127.0.0.1:7070, http://127.0.0.1:7070 or https://coop.example.org:7070";
    let (written, assumed) = match server.contains("://") {
        true => (server.to_string(), false),
        false => (format!("http://{}", server.trim_end_matches('/')), true),
    };
    let uri: http::Uri = written.parse().map_err(|e| {
        anyhow!(
            "the server address {server:?} is not a valid address {where_from}: {e}; write \
                 host:port or a URL, {example}"
        )
    })?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .map(|h| h.trim_matches(['[', ']']).to_string())
        .ok_or_else(|| {
            anyhow!("the server address {server:?} names no host {where_from}; {example}")
        })?;
    let scheme = match uri.scheme_str() {
        Some("http") if assumed && !is_loopback(&host) => Scheme::Https,
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        other => bail!(
            "the server URL {server:?} has the scheme {:?} {where_from}: use https:// (TLS) or \
             http:// (plaintext)",
            other.unwrap_or("")
        ),
    };
    let url = match (assumed, scheme) {
        (true, Scheme::Https) => format!("https://{}", server.trim_end_matches('/')),
        _ => written,
    };
    Ok(Target {
        scheme,
        host,
        url,
        assumed,
    })
}

/// The URL the CLI connects to for the server address `server` (`host:port`
/// given a scheme as [`parse`] says; a URL as written), or why it is not one.
pub fn server_url(server: &str) -> Result<String> {
    parse(server).map(|t| t.url)
}

/// The TLS settings for an https:// server: `ca` alone if given, else
/// the public web CAs.
fn tls_config(ca: Option<&TrustedCa>) -> Result<ClientTlsConfig> {
    let tls = ClientTlsConfig::new().timeout(HANDSHAKE_TIMEOUT);
    let Some(ca) = ca else {
        return Ok(tls.with_webpki_roots());
    };
    let pem =
        std::fs::read(&ca.path).with_context(|| format!("{}: cannot read it", ca.describe()))?;
    // tonic would skip a file with no certificate in it and then trust
    // nothing: say so here instead of failing at the handshake.
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: not a valid PEM file: {e}", ca.describe()))?;
    if certs.is_empty() {
        bail!(
            "{}: holds no `-----BEGIN CERTIFICATE-----` block (a PEM CA certificate is expected)",
            ca.describe()
        );
    }
    Ok(tls.ca_certificate(Certificate::from_pem(pem)))
}

/// Opens a channel to `server` (one connection, TLS handshake included for
/// https://), or explains why not.
pub async fn connect(server: &str, ca: Option<&TrustedCa>) -> Result<Channel> {
    let target = parse(server)?;
    let (scheme, host) = (target.scheme, target.host.as_str());
    let server = target.url.as_str();
    let mut endpoint = Endpoint::from_shared(server.to_string())
        .map_err(|e| anyhow!("the server URL {server:?} is not valid: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT);
    match scheme {
        Scheme::Https => {
            endpoint = endpoint
                .tls_config(tls_config(ca)?)
                .map_err(|e| anyhow!("TLS settings for {server}: {}", chain(&e)))?;
        }
        Scheme::Http => {
            if let Some(ca) = ca.filter(|ca| ca.source == CaSource::Flag) {
                bail!(
                    "{} asks for TLS but {server} is a plaintext http:// URL: connect with https:// \
                     (or drop --tls-ca for a plaintext server)",
                    ca.describe()
                );
            }
        }
    }
    endpoint.connect().await.map_err(|e| {
        let e = explain(server, scheme, host, ca, &e);
        if target.assumed && scheme == Scheme::Https {
            e.context(format!(
                "no scheme was given, so https:// was assumed for {host} (not this machine); \
                 write http://{} if that server really runs without TLS",
                server.trim_start_matches("https://")
            ))
        } else {
            e
        }
    })
}

/// A failed connection in the member's terms.
fn explain(
    server: &str,
    scheme: Scheme,
    host: &str,
    ca: Option<&TrustedCa>,
    e: &tonic::transport::Error,
) -> anyhow::Error {
    let trusted = match ca {
        Some(ca) => format!("only the CA in {}", ca.describe()),
        None => "the public web CAs, as no --tls-ca was given".to_string(),
    };
    if let Some(tls) = rustls_cause(e) {
        use rustls::CertificateError as C;
        let why = match tls {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
                "its certificate is not issued by a CA this CLI trusts ({trusted}); if the \
                 cooperative uses its own CA or a self-signed certificate, pass that certificate \
                 with --tls-ca FILE"
            ),
            rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            ) => format!(
                "its certificate is not issued for {host:?}; connect with the host name the \
                 certificate names"
            ),
            rustls::Error::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => "its certificate has expired or is not valid yet (or this machine's clock is \
                  wrong)"
                .to_string(),
            rustls::Error::InvalidMessage(_) => format!(
                "it did not answer in TLS: it may be a plaintext server, and this CLI never falls \
                 back to plaintext (use http:// only if the server really runs without TLS): {tls}"
            ),
            // webpki's reason is only reachable as text without naming
            // rustls-webpki: a self-signed certificate made with `openssl
            // req -x509`'s defaults is marked CA:TRUE, which webpki refuses
            // as a server's own certificate.
            other if other.to_string().contains("CaUsedAsEndEntity") => format!(
                "its certificate is marked as a CA certificate (basicConstraints CA:TRUE), which \
                 a server's own certificate must not be; make a self-signed one with \
                 `-addext basicConstraints=critical,CA:FALSE`, or issue it from a CA ({other})"
            ),
            other => format!("the TLS handshake failed: {other}"),
        };
        return anyhow!("cannot connect securely to {server}: {why}");
    }
    if scheme == Scheme::Https && io_kind(e) == Some(std::io::ErrorKind::UnexpectedEof) {
        return anyhow!(
            "cannot connect securely to {server}: it closed the connection during the TLS \
             handshake; it may be a plaintext server, and this CLI never falls back to plaintext \
             (use http:// only if the server really runs without TLS)"
        );
    }
    anyhow!(
        "cannot reach a coopledger server at {server} (start one with `coopledger serve`): {}",
        chain(e)
    )
}

/// The first call on a new connection failed: the server's refusal as
/// [`super::status`] says it, or, when the connection itself broke, what
/// that usually means.
pub fn first_call_failed(server: &str, s: tonic::Status) -> anyhow::Error {
    // A plaintext client's HTTP/2 preface reaching a TLS server is answered
    // with a TLS alert and a close, which the client reads, depending on
    // timing, as a broken HTTP/2 stream ("h2 protocol error"), a cancelled
    // call, or a bare transport error (Unknown, with the cause attached):
    // none of these is an answer from the service.
    let broken = s.code() == tonic::Code::Cancelled
        || s.message().contains("h2 protocol error")
        || (s.code() == tonic::Code::Unknown && StdError::source(&s).is_some());
    if server.starts_with("http://") && broken {
        return anyhow!(
            "the connection to {server} broke before the server answered ({}); if the server \
             serves TLS, connect with https:// (and --tls-ca FILE for a private CA)",
            s.message()
        );
    }
    super::status(s)
}

/// The rustls error somewhere in `e`'s chain (tokio-rustls wraps it in an
/// `io::Error`, whose `source` skips it, so each `io::Error` is opened).
fn rustls_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The kind of the first `io::Error` in `e`'s chain.
fn io_kind(e: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = err.source();
    }
    None
}

/// `e` and its causes on one line, each said once (wrappers often repeat
/// their cause's words).
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_is_plaintext_here_and_tls_elsewhere() {
        let t = parse("127.0.0.1:7070").unwrap();
        assert_eq!(
            (t.scheme, t.url.as_str(), t.assumed),
            (Scheme::Http, "http://127.0.0.1:7070", true)
        );
        let t = parse("localhost:7070").unwrap();
        assert_eq!(
            (t.scheme, t.url.as_str()),
            (Scheme::Http, "http://localhost:7070")
        );
        let t = parse("[::1]:7070").unwrap();
        assert_eq!((t.scheme, t.host.as_str()), (Scheme::Http, "::1"));
        let t = parse("coop.example.org:7070").unwrap();
        assert_eq!(
            (t.scheme, t.url.as_str(), t.host.as_str()),
            (
                Scheme::Https,
                "https://coop.example.org:7070",
                "coop.example.org"
            )
        );
        // A written scheme is kept, even plaintext to another host.
        let t = parse("http://coop.example.org:7070").unwrap();
        assert_eq!((t.scheme, t.assumed), (Scheme::Http, false));
        let t = parse("https://[::1]:7070").unwrap();
        assert_eq!((t.scheme, t.host.as_str()), (Scheme::Https, "::1"));
        let e = parse("ftp://example.org").unwrap_err().to_string();
        assert!(e.contains("\"ftp\""), "{e}");
        let e = parse("not a host").unwrap_err().to_string();
        assert!(e.contains("e.g. 127.0.0.1:7070"), "{e}");
    }
}
