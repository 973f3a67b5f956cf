//! Starting and stopping a coopledger server: the ledger, the gRPC service,
//! standard health checking and server reflection (so `grpcurl` works with no
//! .proto files), on a listener the caller chooses (port 0 in tests), in
//! plaintext or over TLS ([`TlsIdentity`], `tls.rs`). The same port serves
//! the browser app and gRPC-web (`web.rs`), over HTTP/1.1 or HTTP/2.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::sync::oneshot;

mod connections;
mod error;
pub mod gate;
mod payout;
mod service;
pub mod status;
mod tls;
pub mod web;

pub use error::ServerError;
pub use tls::TlsIdentity;

use crate::ledger::Limits;
use crate::log::Ledger;
use crate::log::LedgerError;
use crate::pb;
use service::LedgerService;
use status::{map_size_limit_status, map_undecodable_request_status};

/// What a server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The data folder: sled files and the log key.
    pub data_dir: PathBuf,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Limits on requests and state.
    pub limits: Limits,
    /// The clock arrivals are judged by (the system clock by default).
    pub clock: crate::ledger::Clock,
    /// A copy of the checkpoint file outside the data folder (the CLI's
    /// default: `DATA.checkpoint` beside it; see `log::default_copy`).
    pub checkpoint_copy: Option<PathBuf>,
    /// Reads need no member's signature (an open network). Off by default:
    /// the log is members-only.
    pub public_read: bool,
    /// Serve over TLS with this identity; `None` serves plaintext HTTP/2
    /// (for loopback, or behind a reverse proxy that terminates TLS).
    pub tls: Option<TlsIdentity>,
    /// Serve the browser app at `/` (`serve --no-web` turns it off;
    /// gRPC-web calls are answered either way).
    pub web: bool,
}

/// A server running on a background task.
pub struct RunningServer {
    /// The address it listens on (with the real port when 0 was asked).
    pub addr: SocketAddr,
    /// Whether it serves over TLS.
    tls: bool,
    ledger: Ledger,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningServer {
    /// The open ledger (for in-process tools such as the demo).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// `http://ADDR`, or `https://ADDR` when it serves over TLS, for clients.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whether it serves over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Stops accepting connections, finishes in-flight requests, lets the
    /// sequencer drain and waits for it, so the data folder can be reopened.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.ledger.close().await;
        match self.task.await {
            Ok(r) => r.map_err(ServerError::from),
            Err(e) => Err(ServerError::Ledger(LedgerError::Unavailable(format!(
                "server task failed: {e}"
            )))),
        }
    }

    /// Runs until `signal` completes, then stops as [`RunningServer::stop`] does.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServerError> {
        signal.await;
        self.stop().await
    }
}

/// Opens the ledger (replaying the log), binds the listener and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    // TLS settings first: a refused identity must not cost a log replay.
    // Every time limit is at least a second (a zero would close every
    // connection at once) and at most a day.
    let seconds = |s: u64| std::time::Duration::from_secs(s.clamp(1, 86_400));
    let mut builder = tonic::transport::Server::builder();
    if let Some(identity) = &config.tls {
        builder = builder.tls_config(
            identity.server_tls_config(seconds(config.limits.handshake_timeout_secs)),
        )?;
    }
    let ledger = Ledger::open(
        &config.data_dir,
        config.limits.clone(),
        config.clock.clone(),
        config.checkpoint_copy.as_deref(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<pb::ledger_server::LedgerServer<LedgerService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let max = config.limits.max_message_bytes;
    let ledger_service = gate::ReadGate::new(
        pb::ledger_server::LedgerServer::new(LedgerService::new(ledger.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        ledger.clone(),
        config.public_read,
    );

    let (tx, rx) = oneshot::channel::<()>();
    // Dead peers are found by HTTP/2 pings and dropped, freeing their
    // connection slot.
    let keepalive = seconds(config.limits.keepalive_secs);
    let router = builder
        .http2_keepalive_interval(Some(keepalive))
        .http2_keepalive_timeout(Some(keepalive))
        .tcp_keepalive(Some(keepalive))
        .concurrency_limit_per_connection(256)
        // Browsers speak HTTP/1.1 to a plaintext port (gRPC-web and the
        // app's pages); gRPC clients keep HTTP/2.
        .accept_http1(true)
        .layer(tower::layer::layer_fn(connections::track_requests))
        // Pages first (a plain GET never reaches the services), then
        // gRPC-web turned into gRPC, so the gate and the handlers below see
        // one protocol.
        .layer(web::WebLayer {
            enabled: config.web,
        })
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(tower::util::MapResponseLayer::new(map_size_limit_status))
        .layer(tower::util::MapResponseLayer::new(
            map_undecodable_request_status,
        ))
        .add_service(health)
        .add_service(reflection)
        .add_service(ledger_service);
    // Small gRPC frames must not wait for delayed ACKs (Nagle): every
    // accepted connection gets TCP_NODELAY.
    let incoming = connections::capped(
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        config.limits.max_connections,
        connections::Timeouts {
            handshake: seconds(config.limits.handshake_timeout_secs),
            idle: seconds(config.limits.idle_timeout_secs),
        },
    );
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = rx.await;
    }));
    let tls = config.tls.is_some();
    tracing::info!(%addr, tls, data = %config.data_dir.display(), "coopledger serving");
    Ok(RunningServer {
        addr,
        tls,
        ledger,
        shutdown: Some(tx),
        task,
    })
}
