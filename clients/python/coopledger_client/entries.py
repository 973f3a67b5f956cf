"""Signed entries: Entry messages, DSSE PAE, signatures, entry ids and leaf bytes.

From the README ("How it works") and proto/coopledger/v1/entry.proto:

  PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body
                    (lengths in ASCII decimal, SP one space)
  signature       = ed25519 over PAE(payload_type, payload)
  entry id        = blake3(PAE)            network id = the genesis entry's id
  leaf bytes      = u32be(len(pae)) || pae || public_key(32) || signature(64)
  leaf hash       = blake3(0x00 || leaf)   node = blake3(0x01 || left || right)

An Envelope carries the serialized Entry exactly as signed; the server never
re-encodes it, so the id is computed from the bytes this module produced.
"""
import os
import time
from dataclasses import dataclass

import blake3

from . import keys, stubs

PAYLOAD_TYPE = "application/vnd.coopledger.entry.v1+protobuf"

pb = stubs.load().entry_pb2


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def entry_id(pae_bytes: bytes) -> bytes:
    return blake3.blake3(pae_bytes).digest()


def leaf_bytes(pae_bytes: bytes, public_key: bytes, signature: bytes) -> bytes:
    return len(pae_bytes).to_bytes(4, "big") + pae_bytes + public_key + signature


def leaf_hash(leaf: bytes) -> bytes:
    return blake3.blake3(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return blake3.blake3(b"\x01" + left + right).digest()


@dataclass
class Signed:
    """A signed entry: the envelope to submit and what the client computed from it."""

    envelope: object  # entry_pb2.Envelope
    pae: bytes
    id: bytes

    @property
    def leaf(self) -> bytes:
        return leaf_bytes(self.pae, self.envelope.public_key, self.envelope.signature)

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf)


def new_entry(network_id: bytes, author: str, *, created_at_ms: int | None = None,
              nonce: bytes | None = None, **body) -> "pb.Entry":
    """An Entry with exactly one body, e.g. ``new_entry(net, "ana", evaluate=pb.Evaluate(...))``.

    network_id is empty only for genesis; created_at_ms defaults to now
    (the server refuses one more than max_clock_skew_ms away from its clock);
    nonce defaults to 16 random bytes.
    """
    if len(body) != 1:
        raise ValueError("an entry has exactly one body")
    return pb.Entry(
        network_id=network_id,
        author=author,
        created_at_ms=int(time.time() * 1000) if created_at_ms is None else created_at_ms,
        nonce=os.urandom(16) if nonce is None else nonce,
        **body,
    )


def sign(entry, key: keys.Key) -> Signed:
    """Serializes the entry once and signs those bytes."""
    payload = entry.SerializeToString()
    p = pae(PAYLOAD_TYPE, payload)
    env = pb.Envelope(
        payload=payload,
        payload_type=PAYLOAD_TYPE,
        public_key=key.public_key,
        signature=key.sign(p),
    )
    return Signed(envelope=env, pae=p, id=entry_id(p))


def verify_envelope(envelope) -> bytes:
    """Checks an envelope's type and signature; returns the entry id computed from its bytes."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise ValueError(f"unexpected payload_type {envelope.payload_type!r}")
    p = pae(envelope.payload_type, envelope.payload)
    keys.verify(envelope.public_key, envelope.signature, p)
    return entry_id(p)


# Entry bodies used by the client. Every other body is built the same way from entry_pb2.

def genesis(name: str, currency: str, decimals: int, founders: list[tuple[str, bytes]],
            log_public_key: bytes):
    return pb.Genesis(
        name=name,
        currency=currency,
        decimals=decimals,
        founders=[pb.Founder(handle=h, public_key=k) for h, k in founders],
        log_public_key=log_public_key,
    )


def admit_member(handle: str, public_key: bytes):
    return pb.AdmitMember(handle=handle, public_key=public_key)


KINDS = {
    "work": pb.CONTRIBUTION_KIND_WORK,
    "money": pb.CONTRIBUTION_KIND_MONEY,
    "expense": pb.CONTRIBUTION_KIND_EXPENSE,
    "resource": pb.CONTRIBUTION_KIND_RESOURCE,
    "use": pb.CONTRIBUTION_KIND_USE,
}


def log_contribution(kind: str, quantity: int, at: int, *, rate: int | None = None,
                     tags: tuple[str, ...] = (), project: str = "", note: str = "",
                     evidence_url: str = "", evidence_hash: bytes = b""):
    """quantity: minutes (work), minor units (money, expense), units (resource, use); at: Unix seconds."""
    c = pb.Contribution(
        kind=KINDS[kind],
        quantity=quantity,
        tags=list(tags),
        project=project,
        at=at,
        note=note,
        evidence_url=evidence_url,
        evidence_hash=evidence_hash,
    )
    if rate is not None:
        c.rate = rate
    return pb.LogContribution(contribution=c)


def evaluate(contribution_id: bytes, approve: bool, rating: int | None = None, note: str = ""):
    e = pb.Evaluate(
        contribution_id=contribution_id,
        verdict=pb.VERDICT_APPROVE if approve else pb.VERDICT_FLAG,
        note=note,
    )
    if rating is not None:
        e.rating = rating
    return e
