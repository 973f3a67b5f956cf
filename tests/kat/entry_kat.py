"""Known answers for one signed coopledger entry, computed without the Rust
code: a hand-written protobuf encoding, DSSE PAE, blake3 and Ed25519 from
PyPI's `blake3` and `cryptography`. Other-language clients can check their
own encoders against the same values (tests/kat_entry.rs holds them).

The payload is the canonical protobuf encoding the server requires (see
proto/coopledger/v1/entry.proto): fields in field-number order, each once,
minimal varints, proto3 defaults (here rate, project, evidence) left out, no
unknown fields. `field` below writes exactly that; an encoder that wrote the
same entry any other way would be refused.

Run: pip install blake3 cryptography && python tests/kat/entry_kat.py
"""
import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


contribution = (
    field(1, 0, 1)            # kind = WORK
    + field(2, 0, 90)         # quantity = 90 minutes
    + field(4, 2, b"design")  # tags
    + field(6, 0, 1790000000) # at
    + field(7, 2, b"kat")     # note
)
def entry_with(body):
    return (
        field(1, 2, bytes([0x11]) * 32)   # network_id
        + field(2, 2, b"ana")             # author
        + field(3, 0, 1790000000000)      # created_at_ms
        + field(4, 2, bytes([0x22]) * 16) # nonce
        + body
    )


def show(prefix, entry):
    """Prints `<prefix><name> <hex>` lines (clients/python parses them)."""
    ptype = b"application/vnd.coopledger.entry.v1+protobuf"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(entry), entry)
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    pk = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sig = key.sign(pae)
    leaf = len(pae).to_bytes(4, "big") + pae + pk + sig
    print(prefix + "payload   ", entry.hex())
    print(prefix + "pae       ", pae.hex())
    print(prefix + "public_key", pk.hex())
    print(prefix + "signature ", sig.hex())
    print(prefix + "id        ", blake3.blake3(pae).hexdigest())
    print(prefix + "leaf_hash ", blake3.blake3(b"\x00" + leaf).hexdigest())


# log_contribution { contribution }
show("", entry_with(field(16, 2, field(1, 2, contribution))))
# attest_contribution { member, contribution, source }: ana (an admin)
# attests ben's contribution, from a spreadsheet row.
show("attest_", entry_with(field(26, 2,
    field(1, 2, b"ben")
    + field(2, 2, contribution)
    + field(3, 2, b"history.csv row 2"))))
