//! What the log states about itself: the head (size and root) with the
//! checkpoint note the server signed for it, where each entry landed, and
//! the signing of a head.

use std::sync::Arc;

use ed25519_dalek::SigningKey;

use super::store::Head;
use crate::verify::{Checkpoint, EntryId, origin_of};

/// A head with the checkpoint note the server signed for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SignedHead {
    /// Size and root.
    pub head: Head,
    /// The signed checkpoint note stating them.
    pub note: Arc<str>,
}

/// Where one envelope landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// 0-based position in the log (the Merkle leaf index).
    pub sequence: u64,
    /// blake3 of the entry's PAE bytes.
    pub id: EntryId,
    /// True when the envelope was already in the log and nothing was written.
    pub duplicate: bool,
    /// The durable head right after the group the entry landed in, signed.
    pub head: SignedHead,
}

/// The file in the data folder that holds the server's log key.
pub const LOG_KEY_FILE: &str = "log.key";

/// Signs the checkpoint of `head` with the log key.
pub fn sign_head(key: &SigningKey, head: Head) -> SignedHead {
    let origin = origin_of(&key.verifying_key().to_bytes());
    let note = Checkpoint {
        origin,
        size: head.size,
        root: head.root,
    }
    .sign(key);
    SignedHead {
        head,
        note: note.into(),
    }
}
