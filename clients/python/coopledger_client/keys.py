"""ed25519 member keys and the coopledger CLI's key-file format.

A key file (README "A cooperative month", ``keys/<handle>.key`` in the config
folder) holds the key's 32-byte seed as 64 hex digits on one line, is created
with mode 0600, and is refused when group or others may read it. The config
folder is ``$COOPLEDGER_HOME``, else ``~/.config/coopledger``.
"""
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


class KeyFileError(Exception):
    """A key file that cannot be read or written as the CLI would."""


class Key:
    """An ed25519 signing key."""

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private

    @classmethod
    def generate(cls) -> "Key":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "Key":
        if len(seed) != 32:
            raise ValueError("an ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def seed(self) -> bytes:
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key, as entries and read headers carry it."""
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte ed25519 signature (RFC 8032, deterministic)."""
        return self._private.sign(message)


def verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raises cryptography's InvalidSignature unless the signature verifies."""
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)


def config_home() -> Path:
    env = os.environ.get("COOPLEDGER_HOME")
    return Path(env) if env else Path.home() / ".config" / "coopledger"


def key_path(handle: str, home: Path | None = None) -> Path:
    return (home if home is not None else config_home()) / "keys" / f"{handle}.key"


def read_key_file(path: Path) -> Key:
    """Reads a key file, refusing one that group or others can read (as the CLI does)."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: permissions {mode:o} let others read the key; run `chmod 600 {path}`"
        )
    text = path.read_text().strip()
    if len(text) != 64:
        raise KeyFileError(f"{path}: not a coopledger key file (expected 64 hex digits)")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path}: not a coopledger key file (expected 64 hex digits)") from None
    return Key.from_seed(seed)


def write_key_file(path: Path, key: Key) -> None:
    """Writes a key file with mode 0600, atomically (temporary file, then rename); never overwrites."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise KeyFileError(f"{path}: a key file is already there; not overwriting it")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (key.seed.hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def load_or_create(handle: str, home: Path | None = None) -> Key:
    """The key of `handle` in the config folder, created (0600) if there is none."""
    path = key_path(handle, home)
    if path.exists():
        return read_key_file(path)
    key = Key.generate()
    write_key_file(path, key)
    return key
