//! `coopledger backup --to DIR`: a backup of a running server's log, made
//! while it serves.
//!
//! Copying sled's files while the server writes them gives no consistent
//! copy, and stopping the server for a copy stops the cooperative. The log
//! itself is the better source: every entry is signed and the tree is
//! signed, so the backup reads the log as a member's `verify` does (every
//! signature and rule checked, the signed checkpoint matched), then writes a
//! fresh data folder holding exactly those entries, their Merkle nodes, that
//! signed checkpoint, and the checkpoint file. The server's log key is the
//! one secret the log does not carry: `--log-key` copies it in (it never
//! changes, so one copy kept safe is enough).

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use coopledger::log::{GroupWrite, Head, Store, Witness};
use coopledger::verify::Frontier;

use super::Context;

/// `coopledger backup`.
#[derive(Args)]
pub struct BackupArgs {
    /// The folder to write the backup to (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// The server's log key file (`DATA/log.key`), copied into the backup
    /// so it can be served as it is.
    #[arg(long, value_name = "FILE")]
    pub log_key: Option<PathBuf>,
}

/// Entries written per sled batch.
const GROUP: usize = 10_000;

/// `coopledger backup --to DIR`.
pub async fn backup(ctx: &Context, args: &BackupArgs) -> Result<()> {
    let to = &args.to;
    if to.exists()
        && std::fs::read_dir(to)
            .with_context(|| format!("reading {}", to.display()))?
            .next()
            .is_some()
    {
        bail!("{} is not empty: back up into a new folder", to.display());
    }
    let mut session = ctx.connect().await?;
    let log_key: [u8; 32] = session
        .info
        .log_public_key
        .as_slice()
        .try_into()
        .context("the server's log key is not 32 bytes")?;
    let secret = match &args.log_key {
        None => None,
        Some(path) => {
            let key = coopledger::log::keyfile::read_key(path)?;
            if key.verifying_key().to_bytes() != log_key {
                bail!(
                    "{} is not this server's log key (the server's is {})",
                    path.display(),
                    hex::encode(log_key)
                );
            }
            Some(key)
        }
    };
    let cp = session.checkpoint().await?;
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let store = Store::open(to)?;
    let mut frontier = Frontier::new();
    let mut write = GroupWrite::default();
    let mut pending = 0usize;
    let mut failed = None;
    let replayer = coopledger::payout::audit_replayer(Some(log_key), None);
    let replayer = super::audit::replay_server(&mut session, cp.size, replayer, |v| {
        let leaf = v.leaf_bytes();
        let sequence = frontier.size();
        for (level, index, hash) in frontier.append(coopledger::verify::leaf_hash(&leaf)) {
            write.node(level, index, &hash);
        }
        write.entry(sequence, &leaf);
        pending += 1;
        if pending == GROUP {
            pending = 0;
            if let Err(e) = store.apply(std::mem::take(&mut write)) {
                failed = Some(e);
            }
        }
        Ok(())
    })
    .await?;
    if let Some(e) = failed {
        return Err(e).context(format!("writing {}", to.display()));
    }
    let replayed = replayer.finish();
    // The server's signed checkpoint for exactly these entries.
    replayed.check_checkpoint(&cp.note)?;
    write.head(&Head {
        size: frontier.size(),
        root: frontier.root(),
    });
    write.checkpoint(&cp.note);
    store.apply(write)?;
    store.flush()?;
    drop(store);
    let witness = Witness::open(to, None, &cp.note)?;
    witness.sync()?;
    if let Some(key) = secret {
        coopledger::log::keyfile::write_key(&to.join(coopledger::log::LOG_KEY_FILE), &key)?;
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "to": to, "entries": cp.size, "root": hex::encode(&cp.root),
                "log_key_included": args.log_key.is_some(),
            })
        );
        return Ok(());
    }
    println!(
        "backed up {} entries (root {}) to {}: every signature and rule checked, the signed checkpoint matched",
        cp.size,
        hex::encode(&cp.root),
        to.display()
    );
    if args.log_key.is_none() {
        println!(
            "the log key is not in the backup: keep a copy of the server's DATA/log.key with it (or back up again with --log-key)"
        );
    }
    Ok(())
}
