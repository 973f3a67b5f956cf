//! The log's rules, pure: what an entry may say (stateless checks), what the
//! ledger state is (a fold over the log), who may do what, and the one
//! replay that rebuilds state from entries. No I/O, no clock but the one a
//! caller passes in; the scoring core is used only to parse policies.

mod entry;
mod limits;
mod refusal;
mod replay;
mod state;

pub use entry::*;
pub use limits::*;
pub use refusal::*;
pub use replay::*;
pub use state::*;
