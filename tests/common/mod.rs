//! Shared helpers for the tests, declared by every test file (`mod common;`,
//! or `#[path = "../common/mod.rs"] mod common;` from the `main.rs` of a
//! test folder such as `tests/e2e/`).
//!
//! Everything that talks to a server drives a real coopledger server over
//! real TCP on 127.0.0.1 with a real tonic client:
//!
//! - [`server`]: [`TestServer`] on port 0 over a temporary sled folder
//!   ([`TestServer::data_dir`]), kept across stops and restarts; the CLI;
//! - [`builders`]: keys, signers, signing, ids, entry bodies (no I/O);
//! - [`rpc`]: one helper per RPC expected to succeed, founding a network;
//! - [`raw`]: gRPC calls over plain HTTP/2 with request bytes sent exactly
//!   as given (garbage, cut-short frames), and where the status came;
//! - [`coop`]: [`Coop`], a founded cooperative with three members;
//! - [`assert`]: refusals with their exact code, the log proven unmoved,
//!   and [`RefusalCase`] tables run by [`refuse_all`];
//! - [`fold`]: [`Fold`], the ledger rules without a server (check, apply,
//!   undo on a `LedgerState`), for property tests.
//!
//! Everything is re-exported here, so `use common::*;` or
//! `use common::{Coop, work, …}` reaches it.
#![allow(dead_code, unused_imports)]

pub mod assert;
pub mod builders;
pub mod coop;
pub mod fold;
pub mod raw;
pub mod rpc;
pub mod server;

pub use assert::*;
pub use builders::*;
pub use coop::*;
pub use fold::*;
pub use raw::*;
pub use rpc::*;
pub use server::*;

use std::time::Duration;

/// How long any single step (connect, stop, one stream message) may take
/// before a test gives up instead of hanging.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// January 2020 in Unix seconds, `[start, end)`: a period in the past, so
/// contributions dated in it are never "in the future" and no entry's
/// `created_at` falls inside it.
pub const JAN_2020: (i64, i64) = (1_577_836_800, 1_580_515_200);
/// February 2020, right after [`JAN_2020`] (the two touch but do not overlap).
pub const FEB_2020: (i64, i64) = (1_580_515_200, 1_583_020_800);

/// A policy object as an admin adopts it.
pub const POLICY_JSON: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[{"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;
