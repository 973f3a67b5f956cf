"""An independent Python client for coopledger, written from the README and proto/ only.

Modules:
  stubs    -- generates the gRPC stubs from proto/ at run time (nothing generated is committed)
  keys     -- ed25519 keys and the CLI's key-file format
  entries  -- Entry messages, DSSE PAE, signing, entry ids, leaf bytes
  reads    -- the four signed-read metadata headers (README "Signed reads")
  proofs   -- checkpoint notes and RFC 9162 inclusion proofs (blake3)
  client   -- a small gRPC client over plaintext or TLS
"""
