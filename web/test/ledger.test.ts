// Known answers: the entry of tests/kat/entry_kat.py (computed there without
// the Rust code, and checked against the Rust code by tests/kat_entry.rs),
// rebuilt here with the generated TypeScript messages and WebCrypto, must
// give the same payload, signature, id and leaf hash byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ContributionKind, EntrySchema } from "../src/gen/coopledger/v1/entry_pb";
import { entryId, formatAmount, leafHash, pae, parseAmount, parseDuration, rootFromInclusion, nodeHash, toHex, fromHex } from "../src/ledger";
import { fromSeed, parseKeyFile, sign, verify } from "../src/keys";

const PAYLOAD = "0a2011111111111111111111111111111111111111111111111111111111111111111203616e611880d8c1a28c342210222222222222222222222222222222228201190a170801105a220664657369676e3080f7c4d5063a036b6174";
const PUBLIC_KEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const SIGNATURE = "d60658cc865f06977f72e6222c0fe6fac6c4819ab0839987ecd6fd110ac0d935d13fe0e5354976f1c73484506a274d6e86245bc1d8b570eddbe66bbc68cbbd09";
const ID = "7bbf9090ae7848c807fc3d8320b0dd0e587a217b90ef3caa8d7ef18dd6c74c0d";
const LEAF_HASH = "09a27fbf32d46c6372dd5a81fc6b82206210edef91882da4a689099aaf63d456";

function katEntry() {
  return create(EntrySchema, {
    networkId: new Uint8Array(32).fill(0x11),
    author: "ana",
    createdAtMs: 1790000000000n,
    nonce: new Uint8Array(16).fill(0x22),
    body: {
      case: "logContribution",
      value: {
        contribution: { kind: ContributionKind.WORK, quantity: 90n, tags: ["design"], at: 1790000000n, note: "kat" },
      },
    },
  });
}

test("the generated encoder writes the canonical payload", () => {
  assert.equal(toHex(toBinary(EntrySchema, katEntry())), PAYLOAD);
});

test("PAE, id, signature and leaf hash equal the known answers", async () => {
  const payload = toBinary(EntrySchema, katEntry());
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const { privateKey, publicKey } = await fromSeed(seed);
  assert.equal(toHex(publicKey), PUBLIC_KEY);
  const signature = await sign(privateKey, pae(payload));
  assert.equal(toHex(signature), SIGNATURE);
  assert.ok(await verify(publicKey, signature, pae(payload)));
  assert.equal(toHex(entryId(payload)), ID);
  assert.equal(toHex(leafHash(payload, publicKey, signature)), LEAF_HASH);
});

test("a key file imports as the CLI wrote it, and its key cannot be read back", async () => {
  const seed = parseKeyFile("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
  const { privateKey, publicKey } = await fromSeed(seed);
  assert.equal(toHex(publicKey), PUBLIC_KEY);
  assert.equal(privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", privateKey));
  assert.throws(() => parseKeyFile("abc"));
});

test("inclusion proofs of a three-leaf tree", () => {
  const leaves = [1, 2, 3].map((i) => new Uint8Array(32).fill(i));
  const root = nodeHash(nodeHash(leaves[0], leaves[1]), leaves[2]);
  assert.deepEqual(rootFromInclusion(leaves[2], 2n, 3n, [nodeHash(leaves[0], leaves[1])]), root);
  assert.deepEqual(rootFromInclusion(leaves[0], 0n, 3n, [leaves[1], leaves[2]]), root);
  assert.throws(() => rootFromInclusion(leaves[0], 0n, 3n, [leaves[1]]));
  assert.throws(() => rootFromInclusion(leaves[0], 3n, 3n, []));
});

test("durations and amounts as people type them", () => {
  assert.equal(parseDuration("1h30m"), 90);
  assert.equal(parseDuration("90m"), 90);
  assert.equal(parseDuration("1.5h"), 90);
  assert.equal(parseDuration("2h"), 120);
  assert.equal(parseDuration("45"), 45);
  assert.throws(() => parseDuration("soon"), /not a duration/);
  assert.equal(parseAmount("25.00", 2), 2500n);
  assert.equal(parseAmount("25.5", 2), 2550n);
  assert.equal(parseAmount("1,234.50", 2), 123450n);
  assert.throws(() => parseAmount("2.505", 2), /more than 2 digits/);
  assert.equal(formatAmount(123450n, 2, "EUR", "en-US"), "1,234.50 EUR");
  assert.equal(formatAmount(123450n, 2, "EUR", "de-DE"), "1.234,50 EUR");
  assert.deepEqual(fromHex("0aFF"), new Uint8Array([10, 255]));
});

test("consistency proofs: a tree of 3 extends to 4 and 7, and a rewrite is caught", async () => {
  const { verifyConsistency } = await import("../src/ledger");
  const l = [1, 2, 3, 4, 5, 6, 7].map((i) => new Uint8Array(32).fill(i));
  const n = nodeHash;
  const root3 = n(n(l[0], l[1]), l[2]);
  const root4 = n(n(l[0], l[1]), n(l[2], l[3]));
  // RFC 9162 PROOF(3, D[4]) = [l2, l3, n(l0,l1)].
  verifyConsistency(3n, 4n, root3, root4, [l[2], l[3], n(l[0], l[1])]);
  const root7 = n(root4, n(n(l[4], l[5]), l[6]));
  // PROOF(4, D[7]) = [MTH(4..7)] (old tree perfect).
  verifyConsistency(4n, 7n, root4, root7, [n(n(l[4], l[5]), l[6])]);
  assert.throws(() => verifyConsistency(3n, 4n, n(n(l[0], l[1]), l[4]), root4, [l[2], l[3], n(l[0], l[1])]));
  assert.throws(() => verifyConsistency(4n, 3n, root4, root3, []), /shrank/);
});

test("months as periods", async () => {
  const { monthPeriod } = await import("../src/ledger");
  assert.deepEqual(monthPeriod("2026-10"), { start: 1790812800n, end: 1793491200n });
  assert.deepEqual(monthPeriod("2026-12").end, BigInt(Date.UTC(2027, 0, 1) / 1000));
  assert.throws(() => monthPeriod("2026-13"));
});
