//! The CLI's config folder: member keys (`keys/<handle>.key`, 0600), the
//! default identity, server and TLS CA, and the servers it has pinned.
//!
//! Pinning works like SSH's known_hosts: on first contact the CLI records the
//! server's log key and network id, and afterwards refuses a server at the
//! same address that presents others, so a swapped or forked server cannot
//! quietly collect signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The default server address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";

/// What a server presented on first contact.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pin {
    /// The server's log key, hex.
    pub log_public_key: String,
    /// The network id, hex; empty while the log has no genesis.
    pub network_id: String,
}

/// The config file (`config.json` in the config folder).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// The identity used when neither `--as` nor `COOPLEDGER_AS` is given.
    #[serde(default)]
    pub default_identity: Option<String>,
    /// The server used when neither `--server` nor `COOPLEDGER_SERVER` is given.
    #[serde(default)]
    pub server: Option<String>,
    /// The CA certificate (PEM) trusted for https:// servers when neither
    /// `--tls-ca` nor `COOPLEDGER_TLS_CA` is given; relative to the config
    /// folder. Not used for an http:// server.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// Pinned servers by URL.
    #[serde(default)]
    pub pins: BTreeMap<String, Pin>,
}

/// The config folder: `$COOPLEDGER_HOME`, else `$XDG_CONFIG_HOME/coopledger`,
/// else `~/.config/coopledger`.
pub fn default_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("COOPLEDGER_HOME") {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(x).join("coopledger"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".config").join("coopledger")),
        None => bail!("no config folder: set COOPLEDGER_HOME or pass --home"),
    }
}

impl Config {
    /// Reads `config.json` from `home`, or an empty config if there is none.
    pub fn load(home: &Path) -> Result<Config> {
        let path = home.join("config.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a valid config", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `config.json` atomically (temporary file, then rename).
    pub fn save(&self, home: &Path) -> Result<()> {
        std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
        let path = home.join("config.json");
        let tmp = home.join("config.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// The key file of `handle` in `home`.
pub fn key_path(home: &Path, handle: &str) -> PathBuf {
    home.join("keys").join(format!("{handle}.key"))
}

/// The key of the identity `handle`, or why it cannot be used: a missing
/// key names the folder, the keys that are there and the closest handle to
/// a typo, and how to make one.
pub fn read_identity_key(home: &Path, handle: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let path = key_path(home, handle);
    if !path.exists() {
        let dir = home.join("keys");
        let mut handles: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".key")
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        handles.sort();
        let hint = coopledger::ledger::suggest::closest(handle, handles.iter().map(String::as_str))
            .map(|h| format!(" Did you mean --as {h}?"))
            .unwrap_or_default();
        let here = if handles.is_empty() {
            "there are none yet".to_string()
        } else {
            format!("there are keys for {}", handles.join(", "))
        };
        anyhow::bail!(
            "no key for {handle} in {} ({here}).{hint} To act as {handle} on this computer, \
             create one with `coopledger keygen {handle}`",
            dir.display()
        );
    }
    coopledger::log::keyfile::read_key(&path)
        .map_err(|e| anyhow::anyhow!("the key for {handle} cannot be used: {e}"))
}
