//! What a member runs without trusting the server: signed envelopes (DSSE
//! PAE, ed25519 `verify_strict`, entry ids, leaf bytes, the canonical form
//! an arriving payload must have), the Merkle tree's arithmetic (its right
//! edge, roots and proofs over any node source), RFC 9162 inclusion and
//! consistency proof checks, signed checkpoint notes, and checking many
//! entries at once on every core (`parallel.rs`).
//!
//! This folder depends on nothing else in the crate but the generated
//! protobuf types, so an auditor (or another crate, as akd keeps
//! `akd_core`) can use it alone.

mod canonical;
mod checkpoint;
mod envelope;
mod parallel;
mod proof;
mod read;
mod strict;
mod tree;

pub use checkpoint::*;
pub use envelope::*;
pub use parallel::*;
pub use proof::*;
pub use read::*;
pub use strict::*;
pub use tree::*;
