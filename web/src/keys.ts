// The member's signing key, held by the browser: WebCrypto Ed25519, kept in
// IndexedDB as a non-extractable CryptoKey, so neither page scripts nor the
// server can read it back.
//
// The CLI's key file is one line: the 32-byte seed as 64 hex digits. A
// non-extractable key cannot be exported, so the seed is available exactly
// once: when the key is made here, it is generated extractable, its seed
// is read (PKCS#8 export) and offered as a key file download for this page
// session only, and the key is re-imported non-extractable before it is
// stored. A key file imported from the CLI is wrapped in PKCS#8 and
// imported non-extractable straight away (the member has the file already).
// Nothing writes the seed to storage.

import { concat, fromHex, toHex } from "./ledger";

/** PKCS#8 prefix of an Ed25519 private key (RFC 8410): the seed follows. */
const PKCS8_ED25519 = fromHex("302e020100300506032b657004220420");

/** A member's identity in this browser. */
export interface Identity {
  handle: string;
  publicKey: Uint8Array;
  privateKey: CryptoKey;
}

/** Signs bytes with a stored key. */
export async function sign(key: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("Ed25519", key, message as BufferSource));
}

/** Verifies an Ed25519 signature over `message` by a raw 32-byte public key. */
export async function verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", publicKey as BufferSource, "Ed25519", false, ["verify"]);
  return crypto.subtle.verify("Ed25519", key, signature as BufferSource, message as BufferSource);
}

/** A key pair from a 32-byte seed, the private half non-extractable. */
export async function fromSeed(seed: Uint8Array): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  if (seed.length !== 32) throw new Error("a key file holds 64 hex digits (a 32-byte seed)");
  const pkcs8 = concat(PKCS8_ED25519, seed);
  // Import once extractable only to derive the public key (WebCrypto has no
  // "public key of a private key"), then for keeps non-extractable.
  const temp = await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, "Ed25519", true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", temp);
  const publicKey = base64UrlDecode(jwk.x ?? "");
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, "Ed25519", false, ["sign"]);
  return { privateKey, publicKey };
}

/** A new key: the seed (for the one-time key file) and the stored key pair. */
export async function newKey(): Promise<{ seed: Uint8Array; privateKey: CryptoKey; publicKey: Uint8Array }> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const seed = pkcs8.slice(pkcs8.length - 32);
  const { privateKey, publicKey } = await fromSeed(seed);
  return { seed, privateKey, publicKey };
}

/** The CLI's key file text for a seed. */
export function keyFileText(seed: Uint8Array): string {
  return `${toHex(seed)}\n`;
}

/** The seed in a CLI key file's text. */
export function parseKeyFile(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    throw new Error("a key file is one line of 64 hex digits (the CLI's keys/<handle>.key)");
  }
  return fromHex(t);
}

function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// IndexedDB: one store, "kv", holding the identity and the pinned network.

const DB = "coopledger";
const STORE = "kv";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Reads a value kept in this browser. */
export async function load<T>(key: string): Promise<T | undefined> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const req = db.transaction(STORE, "readonly").objectStore(STORE).get(key);
    req.onsuccess = () => resolve(req.result as T | undefined);
    req.onerror = () => reject(req.error);
  });
}

/** Keeps a value (structured clone: a CryptoKey stays non-extractable). */
export async function save(key: string, value: unknown): Promise<void> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite");
    tx.objectStore(STORE).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

/** Forgets a value. */
export async function remove(key: string): Promise<void> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite");
    tx.objectStore(STORE).delete(key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}
