//! The log's rules, pure: what an entry may say (stateless checks), what the
//! ledger state is (a fold over the log), who may do what, and the one
//! replay that rebuilds state from entries. No I/O, no clock but the one a
//! caller passes in; the scoring core is used only to parse policies.

mod entry;
mod fold;
mod index;
mod limits;
mod persist;
mod refusal;
mod replay;
mod rules;
mod state;
pub mod suggest;

pub use entry::*;
pub use fold::Undo;
pub use index::{CHUNK, Chunked, ContributionRow, EvaluationRow, NO_MEMBER, SharedIndex};
pub use limits::*;
pub use persist::SnapshotError;
pub use refusal::*;
pub use replay::*;
pub use rules::{Admitted, CheckContext, refuse_unended};
pub use state::*;

/// Where the server reads the time an entry arrives at (milliseconds since
/// the Unix epoch): the system clock, or one a test sets and advances, so
/// clock rules are tested without waiting. The rules themselves never read
/// a clock; they are given `CheckContext::now_ms`.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(std::sync::Arc::new(now))
    }

    /// The system clock.
    pub fn system() -> Self {
        Clock::new(now_ms)
    }

    /// The time now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// The system clock in milliseconds since the Unix epoch: what a client
/// stamps entries with, and the server's default [`Clock`].
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
