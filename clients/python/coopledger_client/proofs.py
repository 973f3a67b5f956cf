"""Checkpoints and inclusion proofs, from the README and ledger.proto's SignedCheckpoint.

A checkpoint is a signed note in the transparency-log (C2SP signed-note) format:

  coopledger/<log key hex>\\n<size>\\n<base64 root>\\n
  \\n
  — coopledger/<log key hex> <base64(key id || ed25519 signature)>\\n

The signature is over the note text: the three lines, each with its newline.
key id = SHA-256(origin || 0x0A || 0x01 || log public key)[:4]. The tree is
RFC 9162's with blake3 (leaf = blake3(0x00 || leaf bytes), node =
blake3(0x01 || left || right)).
"""
import base64
import hashlib
from dataclasses import dataclass

from . import keys
from .entries import node_hash

EM_DASH = "\u2014"


class ProofError(Exception):
    pass


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes


def key_id(origin: str, public_key: bytes) -> bytes:
    return hashlib.sha256(origin.encode() + b"\n" + b"\x01" + public_key).digest()[:4]


def verify_checkpoint(note: str, log_public_key: bytes) -> Checkpoint:
    """Checks the note's signature by the log key; returns what it states."""
    origin = "coopledger/" + log_public_key.hex()
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise ProofError("checkpoint note has no blank line before its signatures")
    lines = text.split("\n")
    if len(lines) < 3:
        raise ProofError("checkpoint note has fewer than three lines")
    if lines[0] != origin:
        raise ProofError(f"checkpoint origin {lines[0]!r}, expected {origin!r}")
    size = int(lines[1])
    root = base64.b64decode(lines[2], validate=True)
    body = (text + "\n").encode()
    want = key_id(origin, log_public_key)
    for line in signatures.split("\n"):
        prefix = f"{EM_DASH} {origin} "
        if not line.startswith(prefix):
            continue
        raw = base64.b64decode(line[len(prefix):], validate=True)
        if raw[:4] != want or len(raw) != 68:
            continue
        keys.verify(log_public_key, raw[4:], body)
        return Checkpoint(origin=origin, size=size, root=root)
    raise ProofError("no signature by the log key on the checkpoint")


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root that an audit path gives for a leaf."""
    if index >= size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r
