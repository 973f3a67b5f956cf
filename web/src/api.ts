// Talking to the coopledger server over gRPC-web, on the page's own origin:
// generated stubs (src/gen, `npm run gen`), reads signed as README "Signed
// reads" documents, and entries built, signed and checked in the browser.

import { create, toBinary, type DescMethodUnary, type DescMethodServerStreaming, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { EntrySchema, EnvelopeSchema } from "./gen/coopledger/v1/entry_pb";
import { Ledger, type LoggedEntry, type Receipt, type ServerInfo } from "./gen/coopledger/v1/ledger_pb";
import { type Identity, sign, verify } from "./keys";
import { PAYLOAD_TYPE, entryId, equalBytes, leafHash, pae, readMessage, rootFromInclusion, toHex, verifyCheckpoint } from "./ledger";

/** The generated client on this page's server (gRPC-web, binary). */
export function ledgerClient(baseUrl: string): Client<typeof Ledger> {
  return createClient(Ledger, createGrpcWebTransport({ baseUrl, useBinaryFormat: true }));
}

/** The server's own words for a refusal (gRPC's message, not a code). */
export function refusalText(e: unknown): string {
  if (e instanceof ConnectError) return e.rawMessage || e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** What a signed entry's receipt was checked against, for the screens. */
export interface Landed {
  /** The id this browser computed (blake3 of the PAE it signed). */
  id: Uint8Array;
  receipt: Receipt;
}

/** A member's session: the server, its pinned network and the member's key. */
export class Session {
  constructor(
    readonly client: Client<typeof Ledger>,
    readonly info: ServerInfo,
    readonly me: Identity,
  ) {}

  /** The four signed-read headers for one call with these request bytes. */
  async readHeaders(path: string, requestBytes: Uint8Array): Promise<Record<string, string>> {
    const time = Date.now();
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const signature = await sign(
      this.me.privateKey,
      readMessage(this.info.networkId, path, time, nonce, requestBytes),
    );
    return {
      "coopledger-read-key": toHex(this.me.publicKey),
      "coopledger-read-time": String(time),
      "coopledger-read-nonce": toHex(nonce),
      "coopledger-read-signature": toHex(signature),
    };
  }

  /**
   * A signed unary read. The request is serialized here to hash it;
   * connect-web serializes the same message with the same encoder, so the
   * bytes sent are the bytes signed (no unknown fields, one field order).
   */
  async read<I extends DescMethodUnary>(
    method: I,
    init: MessageInitShape<I["input"]>,
  ): Promise<ReturnType<typeof create<I["output"]>>> {
    const message = create(method.input, init);
    const headers = await this.readHeaders(`/${Ledger.typeName}/${method.name}`, toBinary(method.input, message));
    const call = (this.client as unknown as Record<string, (m: unknown, o: unknown) => Promise<unknown>>)[method.localName];
    return (await call(message, { headers })) as ReturnType<typeof create<I["output"]>>;
  }

  /** A signed server-streaming read, collected. */
  async readAll<I extends DescMethodServerStreaming>(
    method: I,
    init: MessageInitShape<I["input"]>,
  ): Promise<ReturnType<typeof create<I["output"]>>[]> {
    const message = create(method.input, init);
    const headers = await this.readHeaders(`/${Ledger.typeName}/${method.name}`, toBinary(method.input, message));
    const call = (this.client as unknown as Record<string, (m: unknown, o: unknown) => AsyncIterable<unknown>>)[method.localName];
    const out: ReturnType<typeof create<I["output"]>>[] = [];
    for await (const part of call(message, { headers })) out.push(part as ReturnType<typeof create<I["output"]>>);
    return out;
  }

  /** Every entry of the log (signed read). */
  async entries(): Promise<LoggedEntry[]> {
    return this.readAll(Ledger.method.listEntries, {});
  }

  /**
   * Builds, signs and submits one entry, then checks the receipt: the id
   * is the one computed here, its checkpoint is signed by the pinned log
   * key, and the log's inclusion proof for this exact envelope leads to
   * that checkpoint's root. Throws the server's message on a refusal, and
   * says which check failed otherwise. `landed`, when given, runs as soon
   * as the server accepted the entry, before the checks (a key rotation
   * keeps its new key then, whatever the checks say); `checkAs` signs the
   * checks' reads (after a rotation the old key can no longer read).
   */
  async submit(
    body: MessageInitShape<typeof EntrySchema>["body"],
    landed?: (receipt: Receipt) => Promise<void>,
    checkAs?: Identity,
  ): Promise<Landed> {
    const entry = create(EntrySchema, {
      networkId: this.info.networkId,
      author: this.me.handle,
      createdAtMs: BigInt(Date.now()),
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      body,
    });
    const payload = toBinary(EntrySchema, entry);
    const signature = await sign(this.me.privateKey, pae(payload));
    const envelope = create(EnvelopeSchema, {
      payload,
      payloadType: PAYLOAD_TYPE,
      publicKey: this.me.publicKey,
      signature,
    });
    const id = entryId(payload);
    const receipt = await this.client.submit({ envelope });
    if (landed) await landed(receipt);
    const checker = checkAs ? new Session(this.client, this.info, checkAs) : this;
    await checkReceipt(checker, id, leafHash(payload, this.me.publicKey, signature), receipt);
    return { id, receipt };
  }
}

/** Checks a receipt for an entry this browser signed (see [`Session.submit`]). */
export async function checkReceipt(session: Session, id: Uint8Array, leaf: Uint8Array, receipt: Receipt): Promise<void> {
  if (!equalBytes(receipt.id, id)) {
    throw new Error(`the server's receipt names entry ${toHex(receipt.id)}, but this browser signed ${toHex(id)}`);
  }
  const note = receipt.checkpoint?.note;
  if (!note) throw new Error("the receipt carries no signed checkpoint");
  const checkpoint = await verifyCheckpoint(note, session.info.logPublicKey, verify);
  if (checkpoint.size !== receipt.logSize || !equalBytes(checkpoint.root, receipt.root)) {
    throw new Error("the receipt's checkpoint does not state the receipt's log size and root");
  }
  const proof = await session.read(Ledger.method.getInclusionProof, {
    key: { case: "id", value: id },
    treeSize: receipt.logSize,
  });
  if (!equalBytes(proof.leafHash, leaf)) {
    throw new Error("the log holds other bytes under this entry's id than the ones this browser signed");
  }
  const root = rootFromInclusion(leaf, proof.sequence, receipt.logSize, proof.hashes);
  if (!equalBytes(root, checkpoint.root)) {
    throw new Error("the inclusion proof does not lead to the receipt's checkpoint root");
  }
}
