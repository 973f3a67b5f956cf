//! From the ledger to the scoring core and back: the live log as scoring
//! input (snapshot), previews and the canonical digest of a distribution,
//! settling a recorded one (record), and the members' views of
//! contributions (view).

mod record;
mod snapshot;
mod view;

pub use record::*;
pub use snapshot::*;
pub use view::*;
