"""Signed reads (README "Signed reads: the log is members-only").

Every read RPC but GetServerInfo, GetCheckpoint and GetEntry of sequence 0
carries four metadata headers, signed by a member's current key over six
lines joined by "\\n" (no trailing newline):

  coopledger-read-v1
  <network id, 64 hex digits>
  <gRPC method path, e.g. /coopledger.v1.Ledger/ListEntries>
  <time, ms since the Unix epoch, decimal: the coopledger-read-time header>
  <nonce, 32 hex digits: the coopledger-read-nonce header>
  <blake3 of the request message's protobuf bytes as sent, 64 hex digits>

The signature covers the request bytes, so the caller must send exactly the
bytes it hashed: ``client.Client`` serializes each request once and hands
grpc those bytes (no second serialization that could differ).
"""
import os
import time
from dataclasses import dataclass

import blake3

from .keys import Key

READ_V1 = "coopledger-read-v1"
KEY = "coopledger-read-key"
TIME = "coopledger-read-time"
NONCE = "coopledger-read-nonce"
SIGNATURE = "coopledger-read-signature"


def read_message(network_id: bytes, method: str, time_ms: int, nonce: bytes,
                 request_bytes: bytes) -> bytes:
    """The bytes a member signs for one read."""
    return "\n".join([
        READ_V1,
        network_id.hex(),
        method,
        str(time_ms),
        nonce.hex(),
        blake3.blake3(request_bytes).hexdigest(),
    ]).encode()


@dataclass
class Reader:
    """A member who signs reads: their current key and the network they read."""

    key: Key
    network_id: bytes

    def metadata(self, method: str, request_bytes: bytes, *, time_ms: int | None = None,
                 nonce: bytes | None = None) -> list[tuple[str, str]]:
        """The four headers for one read of `method` with these request bytes."""
        t = int(time.time() * 1000) if time_ms is None else time_ms
        n = os.urandom(16) if nonce is None else nonce
        sig = self.key.sign(read_message(self.network_id, method, t, n, request_bytes))
        return [
            (KEY, self.key.public_hex),
            (TIME, str(t)),
            (NONCE, n.hex()),
            (SIGNATURE, sig.hex()),
        ]
