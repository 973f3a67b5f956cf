//! The log's rules, pure: what an entry may say (stateless checks), what the
//! ledger state is (a fold over the log), who may do what, and the one
//! replay that rebuilds state from entries. No I/O, no clock but the one a
//! caller passes in; the scoring core is used only to parse policies.

mod entry;
mod fold;
mod limits;
mod refusal;
mod replay;
mod rules;
mod state;

pub use entry::*;
pub use fold::Undo;
pub use limits::*;
pub use refusal::*;
pub use replay::*;
pub use rules::{Admitted, CheckContext};
pub use state::*;

/// The system clock in milliseconds since the Unix epoch: what the server
/// passes to the rules on arrival ([`CheckContext::now_ms`]) and what a
/// client stamps entries with. The rules themselves never read a clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
