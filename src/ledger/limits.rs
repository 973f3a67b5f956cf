//! Limits on everything a client can make the server hold or do.
//!
//! Every limit has a default sized for a cooperative of up to a hundred
//! thousand members on a small machine, can be changed on the command line of
//! `coopledger serve`, and is enforced with a `ResourceExhausted` (or
//! `InvalidArgument` for a field's own range) that names it.

use serde::{Deserialize, Serialize};

/// The configurable limits of one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest gRPC message accepted, in bytes (tonic's decode limit).
    pub max_message_bytes: usize,
    /// Largest signed payload (one entry), in bytes.
    pub max_payload_bytes: usize,
    /// Most envelopes in one `SubmitBatch`.
    pub max_batch_entries: usize,
    /// Most tags on one contribution.
    pub max_tags: usize,
    /// Longest short string (handle-like fields, tags, project, name, currency), in bytes.
    pub max_string_bytes: usize,
    /// Longest free text (note, reason, evidence link), in bytes.
    pub max_note_bytes: usize,
    /// Most members in a network (founders included).
    pub max_members: usize,
    /// How far an entry's `created_at_ms` may be from the server's clock on
    /// arrival, and how far a contribution's `at` may be in the future.
    pub max_clock_skew_ms: u64,
    /// Most entries one `ListEntries` call returns.
    pub max_list_entries: u64,
    /// Most concurrent `Subscribe` streams.
    pub max_subscribers: usize,
    /// Most entries the sequencer writes in one group commit.
    pub max_group_entries: usize,
    /// Most requests waiting for the sequencer before `Submit` answers
    /// `ResourceExhausted` instead of queueing without bound.
    pub max_pending_requests: usize,
    /// Longest period one recorded distribution may cover, in seconds: a
    /// typo in an end date (9999) must not close every later month.
    pub max_distribution_seconds: u64,
    /// Most entries a restart folds again after the last state snapshot:
    /// the server writes a new snapshot every that many entries (a clean
    /// stop always writes one), so a restart after a crash costs at most
    /// this many folds besides hashing the stored leaves.
    pub max_replay_entries: u64,
    /// Free space the data folder's disk must keep, in bytes, beyond a
    /// group's own size: below it writes are refused (`ResourceExhausted`,
    /// nothing written) while reads go on, and they are taken again as soon
    /// as space is freed. sled must never meet a full disk mid-write.
    pub min_free_disk_bytes: u64,
    /// Most signed-read nonces the server remembers (those of the last
    /// `max_clock_skew_ms`), to refuse a replayed read; past it, reads are
    /// refused with `ResourceExhausted` until old ones expire.
    pub max_read_nonces: usize,
    /// Most previews and explanations scored at once; the next is refused
    /// with `ResourceExhausted` (scoring a large period holds a core and
    /// memory for a while).
    pub max_concurrent_previews: usize,
    /// Most open connections; one more is closed as soon as it is accepted,
    /// so idle or hostile connections cannot lock everyone out.
    pub max_connections: usize,
    /// Seconds between HTTP/2 and TCP keepalive probes, and how long an
    /// unanswered ping waits before its connection is dropped.
    pub keepalive_secs: u64,
    /// Seconds a new connection has to send its first bytes (the HTTP/2
    /// preface, or the whole TLS handshake) before it is closed.
    pub handshake_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight before
    /// it is closed (a streaming call is in flight while it streams; gRPC
    /// clients reconnect on their next call).
    pub idle_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 << 20,
            max_payload_bytes: 64 << 10,
            max_batch_entries: 1000,
            max_tags: 16,
            max_string_bytes: 128,
            max_note_bytes: 4096,
            max_members: 100_000,
            max_clock_skew_ms: 10 * 60 * 1000,
            max_list_entries: 100_000,
            max_subscribers: 256,
            max_group_entries: 8192,
            max_pending_requests: 4096,
            max_distribution_seconds: 366 * 86_400,
            max_replay_entries: 100_000,
            min_free_disk_bytes: 64 << 20,
            max_read_nonces: 200_000,
            max_concurrent_previews: 2,
            max_connections: 1024,
            keepalive_secs: 30,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 300,
        }
    }
}

impl Limits {
    /// The member limit in force: `max_members`, but never more than the
    /// scoring core accepts in one input (its member list is every member).
    pub fn max_members_scorable(&self) -> usize {
        self.max_members.min(crate::scoring::limits::MAX_ENTRIES)
    }

    /// No size limits at all: what replay checks against. Limits, like clock
    /// rules, apply when an entry arrives; an operator who lowers one must not
    /// find the log they already accepted called corrupt.
    pub fn unbounded() -> Self {
        Limits {
            max_message_bytes: usize::MAX,
            max_payload_bytes: usize::MAX,
            max_batch_entries: usize::MAX,
            max_tags: usize::MAX,
            max_string_bytes: usize::MAX,
            max_note_bytes: usize::MAX,
            max_members: usize::MAX,
            max_clock_skew_ms: u64::MAX,
            max_list_entries: u64::MAX,
            max_subscribers: usize::MAX,
            max_group_entries: usize::MAX,
            max_pending_requests: usize::MAX,
            max_distribution_seconds: u64::MAX,
            max_replay_entries: u64::MAX,
            min_free_disk_bytes: 0,
            max_read_nonces: usize::MAX,
            max_concurrent_previews: usize::MAX,
            max_connections: usize::MAX,
            keepalive_secs: u64::MAX,
            handshake_timeout_secs: u64::MAX,
            idle_timeout_secs: u64::MAX,
        }
    }
}

// The per-kind bounds on a contribution (value(c) ≤ 10^15 under any rate a
// policy may adopt) are scoring facts: the scoring core checks policies
// against them, so they live there, and the ledger enforces them on every
// entry through these re-exports.
pub use crate::scoring::limits::{
    MAX_AMOUNT, MAX_MONEY, MAX_TAG_RATE, MAX_UNIT_RATE, MAX_UNITS, MAX_WORK_MINUTES, MAX_WORK_RATE,
    max_quantity, max_rate, max_value,
};

/// The most live (not retracted) contributions a log may hold: the spec's
/// limit per scoring input (§0), so a preview over every one of them is
/// never refused for its size.
pub const MAX_LIVE_CONTRIBUTIONS: u64 = crate::scoring::limits::MAX_CONTRIBUTIONS as u64;

/// The most standing evaluations (of live contributions) a log may hold: the
/// spec's limit per scoring input (§0).
pub const MAX_STANDING_EVALUATIONS: u64 = crate::scoring::limits::MAX_EVALUATIONS as u64;

/// The latest time coopledger accepts: 9999-12-31T23:59:59Z, so every time
/// has a four-digit-year RFC 3339 spelling.
pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;
