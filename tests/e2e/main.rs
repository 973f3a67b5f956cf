//! End-to-end tests of the signed contribution log, built as one test
//! binary: a real server on 127.0.0.1 (port 0, temporary sled folder) and
//! real tonic clients over TCP (and raw HTTP/2 for bytes no client would
//! send). Nothing here calls into the server's internals, with one
//! exception: [`scenario`] stores one entry through the server's public
//! `Ledger` handle as a server did before the canonical-form rule, since no
//! RPC accepts it any more. The shared harness is `tests/common/` (see its
//! module doc).
//!
//! | module            | what it tests                                         |
//! |-------------------|-------------------------------------------------------|
//! | [`read_auth`]     | members-only reads: signed, fresh, not replayed, by role |
//! | [`reads`]         | every entry type lands and reads back byte-identical; ListEntries filters |
//! | [`submit`]        | refusals of bad envelopes and headers (non-canonical payloads too); genesis rules |
//! | [`garbage`]       | undecodable requests are InvalidArgument, every RPC   |
//! | [`members`]       | members, roles, keys and their refusals               |
//! | [`contributions`] | refusals of contributions, evaluations, allocations   |
//! | [`attest`]        | attested contributions: who may sign, amend, retract, evaluate |
//! | [`limits`]        | the operator's size limits                            |
//! | [`connections`]   | handshake and idle timeouts; over-size answers        |
//! | [`disk_full`]     | a full disk refuses writes cleanly, reads go on       |
//! | [`batch`]         | SubmitBatch is all or nothing                         |
//! | [`idempotency`]   | resubmission returns the first receipt                |
//! | [`restart`]       | the same log and state after a restart                |
//! | [`snapshot`]      | restarts from the state snapshot; a bad one is set aside |
//! | [`concurrency`]   | 32 clients, one total order                           |
//! | [`stolen_key`]    | admins suspend, reset a key, reinstate                |
//! | [`subscribe`]     | Subscribe follows the log                             |
//! | [`service`]       | health checking and reflection                        |
//! | [`web`]           | the browser app's pages and gRPC-web on the same port |
//!
//! [`scenario`] builds the log with every entry type the read and restart
//! tests share.
//!
//! Refusals are table-driven: a [`common::RefusalCase`] names an envelope
//! built from a fixture (usually [`common::Coop`]), the exact code and a
//! message substring; [`common::refuse_all`] submits each, checks the code,
//! the message, that the log size and root did not move and that the id is
//! absent, and names every failing case. A new refusal is a new row.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

#[path = "../common/mod.rs"]
mod common;

mod attest;
mod batch;
mod concurrency;
mod connections;
mod contributions;
mod disk_full;
mod garbage;
mod idempotency;
mod limits;
mod members;
mod read_auth;
mod reads;
mod restart;
mod scenario;
mod service;
mod snapshot;
mod stolen_key;
mod storage;
mod submit;
mod subscribe;
mod web;
