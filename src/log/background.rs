//! Background work — scoring, encoding a state snapshot — runs at a lower
//! CPU priority than the writer.
//!
//! (It lives in `log` so the sequencer's snapshot can use it as the
//! server's scoring does.) Encoding the snapshot of a million entries keeps
//! a core busy for a second or more while entries go on landing; a
//! preview of a large period keeps a core busy for a while, and a server
//! may score `max_concurrent_previews` of them at once; on a small machine
//! that is every core. The sequencer, the writer and the request tasks must
//! still get a core the moment a member's `Submit` arrives, or a hostile
//! treasurer's drafts (or an honest one's large month) would slow everyone's
//! writes. So each scoring job runs on a thread of its own, and once the job
//! has taken what it needs from the ledger state it lowers that thread's
//! scheduling priority (nice [`SCORING_NICENESS`] on Linux): the kernel gives
//! the rest of the server the CPU first, and scoring every cycle left over.
//! Not before: a low-priority thread holding the state's read lock would
//! keep the writer waiting for it (priority inversion). A thread per job
//! costs microseconds against a preview's milliseconds, and the number of
//! jobs is already capped by the preview slots; the thread ends with its
//! job, so its lowered priority never serves other work.

use tokio::sync::oneshot;

/// How much lower scoring threads run (Linux niceness: 0 is normal, 19 the
/// lowest). At 10 a runnable normal thread gets about nine times the CPU of
/// a scoring thread.
pub const SCORING_NICENESS: i32 = 10;

/// Why a background job gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    /// The operating system would not start a thread.
    #[error("could not start a background thread: {0}")]
    Spawn(std::io::Error),
    /// The job panicked (a bug): its thread ended without an answer.
    #[error("the background thread ended without an answer (it panicked)")]
    Panicked,
}

/// Runs `job` on a new thread (which the job may lower with
/// [`lower_this_threads_priority`]) and waits for its answer without
/// holding an async worker.
pub async fn run_on_own_thread<T: Send + 'static>(
    name: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BackgroundError> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            // The receiver is gone only if the request was cancelled; the
            // answer is then not wanted.
            let _ = tx.send(job());
        })
        .map_err(BackgroundError::Spawn)?;
    rx.await.map_err(|_| BackgroundError::Panicked)
}

/// Lowers the calling thread's priority for good (best effort: where the
/// system refuses, scoring runs at normal priority and the refusal is
/// logged). Only for a thread of [`run_on_own_thread`], which ends with
/// its job.
pub fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux, PRIO_PROCESS with a thread id sets that thread alone.
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), SCORING_NICENESS) {
            tracing::debug!(error = %e, "scoring runs at normal priority");
        }
    }
}
