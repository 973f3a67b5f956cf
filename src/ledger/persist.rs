//! The ledger state as bytes, for the snapshot a restart starts from.
//!
//! The state is a pure fold of the log, so a snapshot is only a cache: the
//! log layer (`log/snapshot.rs`) binds these bytes to the log size and
//! Merkle root they were folded from, signs and checks them, and replays
//! the entries after them. The encoding is postcard over the state's serde
//! derives; protobuf messages inside the state (a contribution's fields)
//! travel as their own protobuf bytes, enums as their wire numbers.

use super::state::LedgerState;

/// Why a state could not become snapshot bytes, or bytes a state.
#[derive(Debug, thiserror::Error)]
#[error("the state snapshot: {0}")]
pub struct SnapshotError(String);

impl LedgerState {
    /// A copy of the state to encode as a snapshot while the fold goes on:
    /// contributions and the scoring index's chunks are shared by reference
    /// count (the fold copies one on write, `Arc::make_mut`, only while
    /// the copy holds it), the rest is cloned. Tens of milliseconds at a
    /// million entries, against the encoding's hundreds: the sequencer
    /// takes the copy and a blocking thread encodes it, so ingestion does
    /// not stop for the snapshot. (Not `Clone`: a whole copy of the state
    /// should be a decision, not an accident.)
    pub fn snapshot_copy(&self) -> LedgerState {
        LedgerState {
            network: self.network.clone(),
            members: self.members.clone(),
            keys: self.keys.clone(),
            contributions: self.contributions.clone(),
            policies: self.policies.clone(),
            allocations: self.allocations.clone(),
            distributions: self.distributions.clone(),
            ids: self.ids.clone(),
            size: self.size,
            live_contributions: self.live_contributions,
            standing_evaluations: self.standing_evaluations,
            index: self.index.clone(),
        }
    }

    /// The state's snapshot bytes (without the id index).
    pub fn snapshot_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        postcard::to_stdvec(self).map_err(|e| SnapshotError(e.to_string()))
    }

    /// The state a snapshot holds. Its id index must name exactly one
    /// entry per sequence number it folded.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let state: LedgerState =
            postcard::from_bytes(bytes).map_err(|e| SnapshotError(e.to_string()))?;
        let size = state.size;
        if state.ids.len() as u64 != size || state.ids.values().any(|&seq| seq >= size) {
            return Err(SnapshotError(format!(
                "it holds the state of {size} entries but an id index of {}",
                state.ids.len()
            )));
        }
        Ok(state)
    }
}

/// A protobuf message as its encoded bytes.
pub(super) mod message {
    use prost::Message;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<M: Message, S: Serializer>(m: &M, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&m.encode_to_vec())
    }

    pub fn deserialize<'de, M: Message + Default, D: Deserializer<'de>>(
        d: D,
    ) -> Result<M, D::Error> {
        let bytes: &[u8] = Deserialize::deserialize(d)?;
        M::decode(bytes).map_err(serde::de::Error::custom)
    }
}

/// A verdict as its wire number.
pub(super) mod verdict {
    use crate::pb;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &pb::Verdict, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*v as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<pb::Verdict, D::Error> {
        let n = i32::deserialize(d)?;
        pb::Verdict::try_from(n).map_err(serde::de::Error::custom)
    }
}

/// A set of roles as their wire numbers.
pub(super) mod roles {
    use std::collections::BTreeSet;

    use crate::pb;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(roles: &BTreeSet<pb::Role>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(roles.iter().map(|r| *r as i32))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<pb::Role>, D::Error> {
        Vec::<i32>::deserialize(d)?
            .into_iter()
            .map(|n| pb::Role::try_from(n).map_err(serde::de::Error::custom))
            .collect()
    }
}
