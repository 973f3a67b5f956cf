//! coopledger: a signed, append-only contribution ledger for cooperatives,
//! and the pure scoring core that turns it into exact-cent payouts.
//!
//! The map (ARCHITECTURE.md tells the same with the path of an entry and of
//! a distribution). Each folder depends only on those listed above it:
//!
//! - [`verify`]: what a member checks without trusting the server —
//!   envelopes, entry ids, leaf bytes, RFC 9162 proofs, signed checkpoints.
//! - [`scoring`]: the pure, deterministic scoring core (spec/SCORING.md)
//!   and its JSON scenario files.
//! - [`ledger`]: the log's rules, pure — limits, refusals, stateless entry
//!   checks, the state folded from the log, and the one [`ledger::Replayer`].
//! - [`payout`]: from the ledger to the scoring core — the live log as a
//!   scoring input, previews, the canonical digest, settling a recorded
//!   distribution, the members' views of contributions.
//! - [`log`]: the only code that touches disk — the [`log::Ledger`] handle,
//!   the sled store, the sequencer and writer, the Merkle tree, key files.
//! - [`server`]: the gRPC edge — start and stop, the service, and
//!   `server::status`, the one place errors become `Status`.
//! - [`client`]: the author's side — signing and every entry-body builder.

pub mod client;
pub mod ledger;
pub mod log;
pub mod payout;
pub mod scoring;
pub mod server;
pub mod simulate;
pub mod verify;

/// Generated protobuf and gRPC types of `coopledger.v1`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("coopledger.v1");
    /// The encoded descriptor set, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("coopledger_descriptor");
}
