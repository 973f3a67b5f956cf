//! The errors of the log: refusals of bad input, plus the failures no client
//! caused (storage, corruption, shutdown). The server maps them to statuses
//! in `server::status`.

use crate::ledger::Refusal;

/// Errors of the log store and sequencer: refusals of bad input, plus the
/// failures no client caused (storage, corruption, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The input was refused; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// sled could not read or write its files (I/O).
    #[error("the store in {path}")]
    Storage {
        /// The sled folder.
        path: String,
        /// sled's error.
        source: sled::Error,
    },
    /// Another process holds the store open (sled locks its folder).
    #[error(
        "another coopledger process holds this data folder ({holder}; its store {path} is locked): stop it first, or use another folder"
    )]
    InUse {
        /// The sled folder.
        path: String,
        /// Who holds it, as far as the system says: `pid N: its command
        /// line`, or `pid unknown`.
        holder: String,
    },
    /// sled's own files are damaged (it found corruption, or failed reading
    /// them back): the server does not start on them.
    #[error(
        "the store in {path} is damaged: {detail}; restore the data folder from a backup (README: Backup and restore)"
    )]
    Damaged {
        /// The sled folder.
        path: String,
        /// What sled said.
        detail: String,
    },
    /// A stored record does not match what was written: the log was altered
    /// or damaged outside coopledger. Names the sequence number.
    #[error("the stored log is damaged at entry {sequence}: {detail}")]
    Corrupt {
        /// The first sequence number found damaged.
        sequence: u64,
        /// What did not match.
        detail: String,
    },
    /// A group could not be made durable after it was handed to sled: its
    /// entries were never acknowledged, but may or may not be on disk.
    /// Resubmitting the same signed envelopes is safe (an entry already in
    /// the log is answered with its first receipt).
    #[error(
        "the write could not be completed ({detail}); these entries were not acknowledged and may or may not be in the log: resubmit the same signed entries once the server is back (an entry already in the log is answered with its first receipt)"
    )]
    WriteFailed {
        /// The disk was full (`ResourceExhausted`), not another I/O error.
        disk_full: bool,
        /// What failed.
        detail: String,
    },
    /// The sequencer has stopped (shutdown, or an earlier write failed).
    #[error("the ledger is not accepting writes: {0}")]
    Unavailable(String),
    /// The scoring core failed one of its own invariants (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// The server's log key file could not be read or created.
    #[error("the server's log key")]
    KeyFile {
        /// What went wrong with it (names the file).
        source: super::keyfile::KeyFileError,
    },
    /// A file the ledger needs (the log key) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl LedgerError {
    /// The error with its causes, `: `-joined, as a person reads it (the
    /// store's error names the folder; its cause says what the OS said).
    pub fn with_causes(&self) -> String {
        let mut message = self.to_string();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(c) = cause {
            message.push_str(": ");
            match c.downcast_ref::<sled::Error>() {
                Some(sled::Error::Io(io)) => {
                    // sled wraps the OS error; say it the way the OS does.
                    let os = io.raw_os_error().map(std::io::Error::from_raw_os_error);
                    message.push_str(&os.map_or_else(|| io.to_string(), |os| os.to_string()));
                    break;
                }
                _ => message.push_str(&c.to_string()),
            }
            cause = c.source();
        }
        message
    }

    /// Whether this is the disk (or a quota) running out of space.
    pub fn is_disk_full(&self) -> bool {
        match self {
            LedgerError::Storage {
                source: sled::Error::Io(e),
                ..
            }
            | LedgerError::Io { source: e, .. } => {
                e.kind() == std::io::ErrorKind::StorageFull
                    || e.kind() == std::io::ErrorKind::QuotaExceeded
            }
            LedgerError::WriteFailed { disk_full, .. } => *disk_full,
            _ => false,
        }
    }
}

/// Result alias for the store and sequencer.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl From<crate::payout::PayoutError> for LedgerError {
    fn from(e: crate::payout::PayoutError) -> Self {
        match e {
            crate::payout::PayoutError::Refused(r) => LedgerError::Refused(r),
            crate::payout::PayoutError::Invariant(m) => LedgerError::Internal(m),
        }
    }
}
