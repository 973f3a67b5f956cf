//! A full disk: on a small tmpfs the test mounts (skipped, saying so, where
//! mounting is not permitted), writes are refused with `ResourceExhausted`
//! and a message saying the disk is full, nothing of a refused write lands,
//! reads go on, and once space is freed the same signed entries are taken
//! without a restart. Where sled itself meets the full disk (no reserve
//! kept), the answer says the outcome is unknown, and resubmitting the same
//! envelope after a restart is safe.

use std::path::{Path, PathBuf};
use std::process::Command;

use coopledger::client::{LedgerClient, contribution_body};
use coopledger::ledger::Limits;
use coopledger::pb;
use coopledger::server::{RunningServer, ServerConfig, start};
use tonic::Code;

use crate::common::*;

/// A tmpfs of `mib` MiB mounted on a temporary folder, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (with a message) where this process may not mount one.
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a {mib} MiB tmpfs here ({}); the full-disk test needs root",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount ({e}); the full-disk test needs root");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a file until a write fails for lack of space.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xa5u8; 64 << 10];
        loop {
            match file.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn config(data: &Path, limits: Limits) -> ServerConfig {
    ServerConfig {
        data_dir: data.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        limits,
        clock: Default::default(),
        checkpoint_copy: None,
        public_read: true,
        web: true,
        tls: None,
    }
}

async fn connect(server: &RunningServer) -> LedgerClient {
    LedgerClient::connect(server.url()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_serving_reads_and_takes_them_again_when_freed() {
    let Some(disk) = SmallDisk::mount(48) else {
        return;
    };
    let data = disk.path().join("data");
    let limits = Limits {
        min_free_disk_bytes: 4 << 20,
        ..Limits::default()
    };
    let server = start(config(&data, limits)).await.unwrap();
    let mut client = connect(&server).await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = network.founders[0].clone();
    for i in 0..20 {
        submit_new(
            &mut client,
            &sign(&alice, contribution_body(work(10 + i, JAN_2020.0))),
        )
        .await;
    }
    let before = info(&mut client).await;

    let filler = disk.fill();
    let late = sign(&alice, contribution_body(work(99, JAN_2020.0)));
    let status = submit_refused(&mut client, &late, Code::ResourceExhausted, "disk").await;
    assert!(
        status.message().contains("is full") && status.message().contains("nothing was written"),
        "{}",
        status.message()
    );
    // A batch too, whole.
    let batch: Vec<_> = (0..3)
        .map(|i| sign(&alice, contribution_body(work(200 + i, JAN_2020.0))))
        .collect();
    let refused = client
        .submit_batch(pb::SubmitBatchRequest {
            envelopes: batch.clone(),
        })
        .await
        .expect_err("a batch on a full disk");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");

    // Reads go on, and nothing of the refused writes is there.
    let now = info(&mut client).await;
    assert_eq!((now.log_size, &now.root), (before.log_size, &before.root));
    assert_absent(&mut client, &id_of(&late)).await;
    for e in &batch {
        assert_absent(&mut client, &id_of(e)).await;
    }
    assert_eq!(
        list(&mut client, pb::ListEntriesRequest::default())
            .await
            .len() as u64,
        before.log_size
    );

    // Space comes back: the same envelopes are taken, no restart.
    std::fs::remove_file(filler).unwrap();
    submit_new(&mut client, &late).await;
    submit_batch(&mut client, &batch).await;
    let after = info(&mut client).await;
    assert_eq!(after.log_size, before.log_size + 4);
    server.stop().await.unwrap();

    // And they are there after a restart.
    let server = start(config(&data, Limits::default())).await.unwrap();
    let mut client = connect(&server).await;
    assert_eq!(info(&mut client).await.root, after.root);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_sled_itself_meets_a_full_disk_the_answer_says_resubmit_and_that_is_safe() {
    let Some(disk) = SmallDisk::mount(48) else {
        return;
    };
    let data = disk.path().join("data");
    // No reserve: the write reaches sled and fails there.
    let limits = Limits {
        min_free_disk_bytes: 0,
        ..Limits::default()
    };
    let server = start(config(&data, limits.clone())).await.unwrap();
    let mut client = connect(&server).await;
    let network = found_network(&mut client, &["alice"]).await;
    let alice = network.founders[0].clone();
    let before = info(&mut client).await;
    let filler = disk.fill();
    // Big enough entries that sled must write to the disk to take them.
    let envelopes: Vec<_> = (0..200)
        .map(|i| {
            let mut c = work(1 + i, JAN_2020.0);
            c.note = "x".repeat(4000);
            sign(&alice, contribution_body(c))
        })
        .collect();
    let mut failed = None;
    for chunk in envelopes.chunks(50) {
        if let Err(status) = client
            .submit_batch(pb::SubmitBatchRequest {
                envelopes: chunk.to_vec(),
            })
            .await
        {
            failed = Some(status);
            break;
        }
    }
    let status = failed.expect("sled met the full disk");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("may or may not be in the log")
            && status.message().contains("resubmit"),
        "{}",
        status.message()
    );
    let _ = server.stop().await;
    std::fs::remove_file(filler).unwrap();

    // After a restart every envelope can be resubmitted: each lands once,
    // whether or not the failed write had reached the disk.
    let server = start(config(&data, limits)).await.unwrap();
    let mut client = connect(&server).await;
    for chunk in envelopes.chunks(50) {
        submit_batch(&mut client, chunk).await;
    }
    let after = info(&mut client).await;
    assert_eq!(after.log_size, before.log_size + envelopes.len() as u64);
    server.stop().await.unwrap();
}
