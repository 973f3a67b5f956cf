//! Ed25519 key files: the server's log key and each member's signing key.
//!
//! A key file holds the 32-byte seed as one line of hex and is created with
//! mode 0600 (owner read/write only), atomically: written to a temporary file
//! in the same folder and renamed, so a crash never leaves half a key.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read, created or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("{path}: not a coopledger key file (expected 64 hex digits)")]
    Malformed {
        /// The key file.
        path: String,
    },
    /// The file is readable by others than its owner.
    #[error("{path}: permissions {mode:o} let others read the key; run `chmod 600 {path}`")]
    TooOpen {
        /// The key file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The system's random number generator failed.
    #[error("could not get random bytes for a new key: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads a key file, refusing one that group or others can read.
pub fn read_key(path: &Path) -> Result<SigningKey, KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let malformed = || KeyFileError::Malformed {
        path: path.display().to_string(),
    };
    let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
    let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| malformed())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a key file with mode 0600, atomically; refuses to overwrite.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    if path.exists() {
        return Err(KeyFileError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a key file is already there; not overwriting it",
            ),
        });
    }
    let tmp = path.with_extension("key.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    writeln!(f, "{}", hex::encode(key.to_bytes())).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

/// Reads the key at `path`, or creates a new random one there.
pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyFileError> {
    if path.exists() {
        return read_key(path);
    }
    let key = crate::verify::generate_key().map_err(|e| KeyFileError::Random(e.to_string()))?;
    write_key(path, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/ann.key");
        let key = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(write_key(&path, &key).is_err(), "must not overwrite a key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read_key(&path), Err(KeyFileError::TooOpen { .. })));
    }
}
