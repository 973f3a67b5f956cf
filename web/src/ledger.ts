// The ledger's wire rules, as the README ("How it works", "Signed reads")
// documents them, with no I/O: entry PAE bytes and ids, leaf hashes, RFC
// 9162 inclusion proofs over blake3, signed checkpoint notes, the bytes of a
// signed read, and the parsing of what people type (durations, amounts).
// The browser computes all of these itself so that it trusts nothing the
// server says about what it signed.

import { blake3 } from "@noble/hashes/blake3.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** DSSE payload type of every entry. */
export const PAYLOAD_TYPE = "application/vnd.coopledger.entry.v1+protobuf";

const utf8 = new TextEncoder();

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string (either case); throws on anything else. */
export function fromHex(hex: string): Uint8Array {
  const h = hex.trim();
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
    throw new Error("not a hex string");
  }
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenation of byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** DSSE pre-authentication encoding: what the author's key signs. */
export function pae(payload: Uint8Array, payloadType = PAYLOAD_TYPE): Uint8Array {
  const type = utf8.encode(payloadType);
  return concat(
    utf8.encode(`DSSEv1 ${type.length} `),
    type,
    utf8.encode(` ${payload.length} `),
    payload,
  );
}

/** The entry id: blake3 of the PAE. */
export function entryId(payload: Uint8Array): Uint8Array {
  return blake3(pae(payload));
}

/** The Merkle leaf hash of a signed entry: blake3(0x00 ‖ u32be(len pae) ‖ pae ‖ key ‖ sig). */
export function leafHash(payload: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): Uint8Array {
  const p = pae(payload);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, p.length, false);
  return blake3(concat(new Uint8Array([0]), len, p, publicKey, signature));
}

/** An inner Merkle node: blake3(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return blake3(concat(new Uint8Array([1]), left, right));
}

/** RFC 9162 §2.1.3.2: the root an audit path gives for a leaf. */
export function rootFromInclusion(
  leaf: Uint8Array,
  index: bigint,
  size: bigint,
  path: Uint8Array[],
): Uint8Array {
  if (index >= size) throw new Error(`leaf ${index} is not in a tree of size ${size}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) throw new Error("the inclusion proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the inclusion proof is too short");
  return r;
}

/** What a checkpoint note states once its signature checked. */
export interface Checkpoint {
  size: bigint;
  root: Uint8Array;
}

/** Verifies an Ed25519 signature with WebCrypto. */
export type Verify = (publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array) => Promise<boolean>;

function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Checks a C2SP signed note by the log key (README "Checkpoints and proofs")
 * and returns the size and root it states.
 */
export async function verifyCheckpoint(note: string, logKey: Uint8Array, verify: Verify): Promise<Checkpoint> {
  const origin = `coopledger/${toHex(logKey)}`;
  const split = note.indexOf("\n\n");
  if (split < 0) throw new Error("the checkpoint note has no blank line before its signature");
  const text = note.slice(0, split);
  const lines = text.split("\n");
  if (lines.length < 3 || lines[0] !== origin) throw new Error("the checkpoint is not from this log's key");
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("the checkpoint's size is not a number");
  const size = BigInt(lines[1]);
  const root = fromBase64(lines[2]);
  const body = utf8.encode(text + "\n");
  const keyId = sha256(concat(utf8.encode(origin), new Uint8Array([0x0a, 0x01]), logKey)).slice(0, 4);
  const prefix = `\u2014 ${origin} `;
  for (const line of note.slice(split + 2).split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const raw = fromBase64(line.slice(prefix.length));
    if (raw.length !== 68 || !equalBytes(raw.slice(0, 4), keyId)) continue;
    if (await verify(logKey, raw.slice(4), body)) return { size, root };
    throw new Error("the checkpoint's signature does not verify with the log key");
  }
  throw new Error("the checkpoint carries no signature by the log key");
}

/** The text a member signs for one read (README "Signed reads"). */
export function readMessage(
  networkId: Uint8Array,
  methodPath: string,
  timeMs: number,
  nonce: Uint8Array,
  requestBytes: Uint8Array,
): Uint8Array {
  return utf8.encode(
    [
      "coopledger-read-v1",
      toHex(networkId),
      methodPath,
      String(timeMs),
      toHex(nonce),
      toHex(blake3(requestBytes)),
    ].join("\n"),
  );
}

/**
 * Minutes in a duration as people type it: `1h30m`, `90m`, `1.5h`, `2h`,
 * `45` (minutes). Throws with a message for anything else.
 */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase().replace(/\s+/g, "");
  if (/^\d+$/.test(t)) return check(Number(t));
  const m = /^(?:(\d+(?:[.,]\d+)?)h)?(?:(\d+)m(?:in)?)?$/.exec(t);
  if (!m || (m[1] === undefined && m[2] === undefined)) {
    throw new Error(`"${text}" is not a duration: type it like 1h30m, 90m or 1.5h`);
  }
  const hours = m[1] === undefined ? 0 : Number(m[1].replace(",", "."));
  const minutes = Math.round(hours * 60) + (m[2] === undefined ? 0 : Number(m[2]));
  return check(minutes);
  function check(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error("a duration must be at least one minute");
    return n;
  }
}

/**
 * Minor units of an amount typed in the network's currency (`25`, `25.5`,
 * `25.50`, `1,234.50`) with `decimals` digits after the point; no floating
 * point anywhere.
 */
export function parseAmount(text: string, decimals: number): bigint {
  const t = text.trim().replace(/[\s_']/g, "");
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) throw new Error(`"${text}" is not an amount: type it like 25.00`);
  const whole = m[1].replace(/,/g, "");
  const frac = m[2] ?? "";
  if (frac.length > decimals) {
    throw new Error(`"${text}" has more than ${decimals} digits after the point`);
  }
  const units = BigInt(whole + frac.padEnd(decimals, "0"));
  if (units <= 0n) throw new Error("an amount must be more than zero");
  return units;
}

/** An amount in minor units, in the member's locale and the network's currency. */
export function formatAmount(units: bigint, decimals: number, currency: string, locale?: string): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  const frac = abs % scale;
  const fmt = new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  // Format the whole part as an integer (exact for any size) and splice in
  // the fraction with the locale's decimal separator.
  const parts = fmt.formatToParts(1.5);
  const point = parts.find((p) => p.type === "decimal")?.value ?? ".";
  const wholeText = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(whole);
  const text = decimals > 0 ? `${wholeText}${point}${frac.toString().padStart(decimals, "0")}` : wholeText;
  return `${negative ? "-" : ""}${text} ${currency}`;
}

/** A duration in minutes as `1h30m`. */
export function formatMinutes(minutes: bigint | number): string {
  const n = Number(minutes);
  const h = Math.floor(n / 60);
  const m = n % 60;
  return h > 0 ? (m > 0 ? `${h}h${m}m` : `${h}h`) : `${m}m`;
}

/**
 * RFC 9162 §2.1.4.2: whether the tree of `newSize` leaves with `newRoot`
 * extends the one of `oldSize` leaves with `oldRoot` (nothing rewritten,
 * only appended). Throws saying what does not hold.
 */
export function verifyConsistency(
  oldSize: bigint,
  newSize: bigint,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: Uint8Array[],
): void {
  if (oldSize > newSize) throw new Error(`the log shrank from ${oldSize} to ${newSize} entries`);
  if (oldSize === 0n) return;
  if (oldSize === newSize) {
    if (proof.length !== 0 || !equalBytes(oldRoot, newRoot)) throw new Error(`two different roots for the same size ${oldSize}`);
    return;
  }
  if (proof.length === 0) throw new Error("an empty consistency proof");
  const powerOfTwo = (oldSize & (oldSize - 1n)) === 0n;
  const seed = powerOfTwo ? oldRoot : proof[0];
  const path = powerOfTwo ? proof : proof.slice(1);
  let fn = oldSize - 1n;
  let sn = newSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = seed;
  let sr = seed;
  for (const c of path) {
    if (sn === 0n) throw new Error("the consistency proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the consistency proof is too short");
  if (!equalBytes(fr, oldRoot)) throw new Error(`the log's first ${oldSize} entries are not the ones this browser saw`);
  if (!equalBytes(sr, newRoot)) throw new Error("the consistency proof does not lead to the latest checkpoint's root");
}

/** `[start, end)` in seconds of the calendar month `YYYY-MM` (UTC). */
export function monthPeriod(month: string): { start: bigint; end: bigint } {
  const m = /^(\d{4})-(\d{2})$/.exec(month.trim());
  if (!m) throw new Error(`"${month}" is not a month: type it like 2026-10`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  if (mo < 1 || mo > 12) throw new Error(`"${month}" is not a month`);
  return { start: BigInt(Date.UTC(y, mo - 1, 1) / 1000), end: BigInt(Date.UTC(y, mo, 1) / 1000) };
}
