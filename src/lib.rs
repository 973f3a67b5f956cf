//! coopledger: a signed, append-only contribution ledger for cooperatives,
//! and the pure scoring core that turns it into exact-cent payouts.
//!
//! - [`envelope`], [`entry`]: signed entries and their stateless checks.
//! - [`state`]: the fold over the log (members, keys, roles, contributions).
//! - [`log`]: the sled store, the sequencer (group commit) and replay.
//! - [`merkle`], [`proof`]: the RFC 9162-shaped tree and its stand-alone verifier.
//! - [`scoring`], [`scenario`]: the deterministic scoring core and its JSON scenarios.
//! - [`service`], [`server`]: the gRPC edge; the one place errors become `Status`.
//! - [`view`]: each contribution as it stands now (status, value), for the CLI's views.
#![forbid(unsafe_code)]

pub mod audit;
pub mod checkpoint;
pub mod client;
pub mod distribution;
pub mod entry;
pub mod envelope;
pub mod error;
pub mod keyfile;
pub mod limits;
pub mod log;
pub mod merkle;
pub mod proof;
pub mod scenario;
pub mod scoring;
pub mod server;
pub mod service;
pub mod snapshot;
pub mod state;
pub mod view;

/// Generated protobuf and gRPC types of `coopledger.v1`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("coopledger.v1");
    /// The encoded descriptor set, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("coopledger_descriptor");
}
