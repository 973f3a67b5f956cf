//! Entry decoding and the ledger's rules: bytes decoded as a `pb::Entry`,
//! then
//!
//! - the stateless checks (`check_entry`) with the default limits; what they
//!   accept must also pass with no limits (what replay applies);
//! - signed with its author's fixed key, `CheckedEntry::new` and the rules
//!   against a small fixed network (`LedgerState::check`) as on arrival
//!   (default limits, a fixed clock); what arrival admits, replay (no
//!   limits, no clock) must admit too;
//! - an admitted entry is folded in (`apply`) and taken back (`undo`),
//!   which must leave everything the state shows as it was.
//!
//! No input may panic.

#![no_main]

use std::cell::RefCell;

use coopledger::ledger::{CheckedEntry, Limits, check_entry};
use coopledger::pb;
use coopledger::verify::VerifiedEnvelope;
use coopledger_fuzz::{Net, arrival, replay, sign};
use libfuzzer_sys::fuzz_target;
use prost::Message;

thread_local! {
    static NET: RefCell<Net> = RefCell::new(Net::new());
}

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = pb::Entry::decode(data) else {
        return;
    };
    let limits = Limits::default();
    let unbounded = Limits::unbounded();
    if check_entry(&entry, &limits).is_err() {
        return;
    }
    if let Err(e) = check_entry(&entry, &unbounded) {
        panic!("accepted with the default limits, refused with none: {e}");
    }
    let verified = VerifiedEnvelope::verify(&sign(&entry), usize::MAX)
        .expect("an entry signed with a valid key verifies");
    let checked = CheckedEntry::new(verified, &limits).expect("check_entry passed");
    NET.with(|net| {
        let mut net = net.borrow_mut();
        let Ok(admitted) = net.state.check(&checked, &arrival(&limits)) else {
            return;
        };
        if let Err(e) = net.state.check(&checked, &replay(&unbounded)) {
            panic!("admitted on arrival, refused on replay: {e}");
        }
        let before = net.shown(&checked.id);
        let sequence = net.state.size();
        let undo = net.state.apply(admitted, sequence, None);
        assert_eq!(net.state.sequence_of(&checked.id), Some(sequence));
        net.state.undo(&checked, undo);
        assert_eq!(net.shown(&checked.id), before, "undo takes the entry back");
    });
});
