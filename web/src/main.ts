// The coopledger web app: plain TypeScript and DOM, hash-routed screens
// (#join, #log, #review, #allocate, #month, #paid, #admin, #policy, #admit,
// #audit, #key). The member's key never leaves the
// browser: every entry is built, signed and checked here (api.ts), and every
// read is signed as the member.

import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ContributionKind, EntrySchema, Role, Verdict, type Contribution, type Entry, type RecordDistribution } from "./gen/coopledger/v1/entry_pb";
import { EntryKind, Ledger, type LoggedEntry, type Member, type ServerInfo } from "./gen/coopledger/v1/ledger_pb";
import { Session, ledgerClient, refusalText, type Landed } from "./api";
import { type Identity, fromSeed, keyFileText, load, newKey, parseKeyFile, remove, save, verify } from "./keys";
import { canonicalPolicy, describePolicy, type Section, type Units } from "./policy";
import { entryId, equalBytes, formatAmount, formatMinutes, fromHex, monthPeriod, parseAmount, parseDuration, toHex, verifyCheckpoint, verifyConsistency } from "./ledger";

// ---- tiny DOM helpers -------------------------------------------------------

type Child = Node | string | null | undefined | false;

function h(tag: string, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** A labelled form field (label wraps the control, so clicks and screen readers find it). */
function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, label), control, hint ? h("small", {}, hint) : null);
}

const main = (): HTMLElement => document.getElementById("main") as HTMLElement;

/** Shows a message in the status line (polite live region: read out too). */
function say(text: string, kind: "ok" | "error" = "ok"): void {
  const el = document.getElementById("status") as HTMLElement;
  el.textContent = text;
  el.className = kind;
}

// ---- the member's state -----------------------------------------------------

const client = ledgerClient(location.origin);
let info: ServerInfo | undefined;
let me: Identity | undefined;
/** The claim the Log screen amends, when opened from "Amend" on a claim. */
let amending: Claim | undefined;
/** Seed of a key made in this page session, for its one-time key file. */
let freshSeed: Uint8Array | undefined;
/** Seed of the new key of a rotation not yet confirmed, in this page session. */
let pendingSeed: Uint8Array | undefined;

function session(): Session {
  if (!info || !me) throw new Error("make or import a key first (Join)");
  return new Session(client, info, me);
}

/** Reads the server's info and pins its log key and network, as the CLI does. */
async function connect(): Promise<void> {
  info = await client.getServerInfo({});
  const pinned = await load<{ logKey: string; networkId: string }>("pinned");
  const now = { logKey: toHex(info.logPublicKey), networkId: toHex(info.networkId) };
  if (pinned && (pinned.logKey !== now.logKey || (pinned.networkId && now.networkId && pinned.networkId !== now.networkId))) {
    throw new Error(
      `this server presents log key ${now.logKey.slice(0, 12)}… and network ${now.networkId.slice(0, 12)}…, not the ones this browser pinned (${pinned.logKey.slice(0, 12)}…): it is another ledger, or an impostor`,
    );
  }
  if (!pinned || (!pinned.networkId && now.networkId)) await save("pinned", now);
  me = await load<Identity>("identity");
}

const kindNames: Record<number, string> = {
  [ContributionKind.WORK]: "work",
  [ContributionKind.MONEY]: "money",
  [ContributionKind.EXPENSE]: "expense",
  [ContributionKind.RESOURCE]: "material",
  [ContributionKind.USE]: "use",
};

function money(units: bigint): string {
  return formatAmount(units, info?.decimals ?? 2, info?.currency ?? "", navigator.language);
}

function quantity(c: Contribution): string {
  switch (c.kind) {
    case ContributionKind.WORK:
      return formatMinutes(c.quantity);
    case ContributionKind.MONEY:
    case ContributionKind.EXPENSE:
      return money(c.quantity);
    default:
      return `${new Intl.NumberFormat(navigator.language).format(c.quantity)}${c.rate !== undefined ? ` × ${money(c.rate)}` : ""}`;
  }
}

function day(seconds: bigint): string {
  return new Intl.DateTimeFormat(navigator.language, { dateStyle: "medium", timeZone: "UTC" }).format(new Date(Number(seconds) * 1000));
}

function shortId(id: Uint8Array): string {
  return toHex(id).slice(0, 12);
}

/** "Logged …" with the id this browser computed and what was checked. */
function landed(what: string, l: Landed): void {
  say(`${what}: entry ${toHex(l.id)} at position ${l.receipt.sequence}; checked: the id, the signed checkpoint, the inclusion proof.`);
  const out = document.getElementById("last-id");
  if (out) out.textContent = toHex(l.id);
}

/** Runs an action from a form: its refusal is shown in the server's words. */
async function act(button: HTMLButtonElement, work: () => Promise<void>): Promise<void> {
  button.disabled = true;
  try {
    await work();
  } catch (e) {
    // A lost connection is no refusal: the server may have taken the entry.
    const lost = e instanceof ConnectError && [Code.Unavailable, Code.Unknown, Code.Canceled, Code.DeadlineExceeded].includes(e.code);
    say(lost ? `No answer from the server (what was sent may or may not have landed: look again before repeating it): ${refusalText(e)}` : `Refused: ${refusalText(e)}`, "error");
  } finally {
    button.disabled = false;
  }
}

// ---- screens ------------------------------------------------------------------

/** Invitation link: the admin opens it and admits the member from it. */
function invitation(handle: string, publicKey: Uint8Array): string {
  return `${location.origin}/#admit/${encodeURIComponent(handle)}/${toHex(publicKey)}`;
}

function joinScreen(): HTMLElement {
  const handle = h("input", { name: "handle", autocomplete: "username", required: true, pattern: "[a-z0-9_.-]+", maxlength: "64" }) as HTMLInputElement;
  const make = h("button", { type: "submit" }, "Make my key") as HTMLButtonElement;
  const keyText = h("textarea", { name: "keyfile", rows: "2", spellcheck: "false", placeholder: "64 hex digits" }) as HTMLTextAreaElement;
  const keyFile = h("input", { type: "file", name: "keyfile-upload" }) as HTMLInputElement;
  const importHandle = h("input", { name: "import-handle", autocomplete: "username" }) as HTMLInputElement;
  const use = h("button", { type: "submit" }, "Use this key") as HTMLButtonElement;
  keyFile.addEventListener("change", async () => {
    const f = keyFile.files?.[0];
    if (f) {
      keyText.value = (await f.text()).trim();
      if (!importHandle.value) importHandle.value = f.name.replace(/\.key$/, "");
    }
  });
  const invite = h("section", { id: "invitation" });
  if (me) invite.append(invitationBox(me));
  return h(
    "div",
    {},
    h("h2", { tabindex: "-1" }, "Join"),
    h("p", {}, info?.networkName ? `You are joining ${info.networkName}.` : "This server has no cooperative yet: a founder runs `coopledger init` first."),
    h(
      "form",
      {
        id: "make-key",
        onsubmit: (e: Event) => {
          e.preventDefault();
          act(make, async () => {
            const key = await newKey();
            me = { handle: handle.value.trim(), publicKey: key.publicKey, privateKey: key.privateKey };
            freshSeed = key.seed;
            await save("identity", me);
            invite.replaceChildren(invitationBox(me));
            showWho();
            say(`A key for ${me.handle} is made and kept in this browser.`);
          });
        },
      },
      h("h3", {}, "New here"),
      field("Your handle (short name, lowercase)", handle),
      make,
    ),
    invite,
    h(
      "form",
      {
        id: "import-key",
        onsubmit: (e: Event) => {
          e.preventDefault();
          act(use, async () => {
            const seed = parseKeyFile(keyText.value);
            const key = await fromSeed(seed);
            me = { handle: importHandle.value.trim(), publicKey: key.publicKey, privateKey: key.privateKey };
            await save("identity", me);
            keyText.value = "";
            say(`Using ${me.handle}'s key from the key file (kept in this browser, not readable back).`);
            keepStatus = true;
            location.hash = "#review";
          });
        },
      },
      h("h3", {}, "I already use the command line"),
      field("Your handle", importHandle),
      field("Key file (keys/<handle>.key)", keyFile),
      field("…or its text", keyText),
      use,
    ),
  );
}

function invitationBox(id: Identity): HTMLElement {
  const link = invitation(id.handle, id.publicKey);
  const download = freshSeed
    ? h(
        "button",
        {
          type: "button",
          onclick: () => {
            if (!freshSeed) return;
            const a = h("a", {
              href: URL.createObjectURL(new Blob([keyFileText(freshSeed)], { type: "text/plain" })),
              download: `${id.handle}.key`,
            });
            a.click();
          },
        },
        "Save a key file for the command line (only now)",
      )
    : null;
  return h(
    "div",
    { class: "card" },
    h("h3", {}, `Your invitation, ${id.handle}`),
    h("p", {}, "Send this link to an admin of the cooperative. Opening it lets them admit you; nothing secret is in it."),
    h("input", { readonly: true, id: "invite-link", value: link, "aria-label": "Invitation link" }),
    download,
  );
}

function admitScreen(handle = "", keyHex = ""): HTMLElement {
  const who = h("input", { name: "handle", value: handle }) as HTMLInputElement;
  const code = h("input", { name: "key", value: keyHex, spellcheck: "false" }) as HTMLInputElement;
  const admit = h("button", { type: "submit" }, "Admit") as HTMLButtonElement;
  const reason = h("input", { name: "reset-reason", autocomplete: "off" }) as HTMLInputElement;
  const reset = h("button", { type: "button", id: "reset-key", class: "flag" }, "Reset their key to this one") as HTMLButtonElement;
  /** The handle and key, from the fields or a whole invitation link pasted in the key field. */
  const invited = (): { name: string; key: Uint8Array } => {
    const m = /#admit\/([^/]+)\/([0-9a-fA-F]{64})/.exec(code.value);
    return { name: m ? decodeURIComponent(m[1]) : who.value.trim(), key: fromHex(m ? m[2] : code.value.trim()) };
  };
  // A member who lost their key (a wiped browser, a stolen laptop) makes a
  // new one at Join and sends its link: an admin binds it to them.
  reset.addEventListener("click", () =>
    act(reset, async () => {
      const { name, key } = invited();
      if (!confirm(`Reset ${name}'s key to ${toHex(key).slice(0, 12)}…? Their current key signs nothing from then on. Do it only if ${name} asked you in person or by a channel you trust.`)) return;
      const l = await session().submit({ case: "resetKey", value: { member: name, newPublicKey: key, reason: reason.value.trim() } });
      landed(`Reset ${name}'s key`, l);
    }),
  );
  return h(
    "form",
    {
      id: "admit",
      onsubmit: (e: Event) => {
        e.preventDefault();
        act(admit, async () => {
          const { name, key } = invited();
          const l = await session().submit({ case: "admitMember", value: { handle: name, publicKey: key } });
          landed(`Admitted ${name}`, l);
        });
      },
    },
    h("h2", { tabindex: "-1" }, "Admit a member"),
    h("p", {}, "Admins only: from an invitation link a new member sent you."),
    field("Handle", who),
    field("Public key (or the whole invitation link)", code),
    admit,
    h(
      "details",
      {},
      h("summary", {}, "Already a member who lost their key?"),
      h("p", {}, "If the link comes from a member who lost their key and made a new one, reset their key to it instead of admitting them."),
      field("Why (for the log)", reason),
      reset,
    ),
  );
}

/** A whole number of units (material, equipment hours). */
function units(text: string): bigint {
  const t = text.trim();
  if (!/^[1-9][0-9]*$/.test(t)) throw new Error(`"${text}" is not a whole number of units`);
  return BigInt(t);
}

function logScreen(): HTMLElement {
  const kind = h(
    "select",
    { name: "kind" },
    ...[ContributionKind.WORK, ContributionKind.EXPENSE, ContributionKind.MONEY, ContributionKind.RESOURCE, ContributionKind.USE].map((k) =>
      h("option", { value: String(k) }, kindNames[k]),
    ),
  ) as HTMLSelectElement;
  const amount = h("input", { name: "quantity", required: true, inputmode: "decimal", autocomplete: "off" }) as HTMLInputElement;
  const rate = h("input", { name: "rate", inputmode: "decimal", autocomplete: "off" }) as HTMLInputElement;
  const date = h("input", { name: "date", type: "date", value: new Date().toISOString().slice(0, 10), required: true }) as HTMLInputElement;
  const tags = h("input", { name: "tags", autocomplete: "off" }) as HTMLInputElement;
  const note = h("input", { name: "note", autocomplete: "off" }) as HTMLInputElement;
  const evidence = h("input", { name: "evidence", type: "url", autocomplete: "off" }) as HTMLInputElement;
  const quantityLabel = h("span", {}, "How long (1h30m, 90m, 1.5h)");
  const rateField = field(`Rate per unit (${info?.currency ?? ""}, optional)`, rate);
  const update = (): void => {
    const k = Number(kind.value);
    quantityLabel.textContent =
      k === ContributionKind.WORK ? "How long (1h30m, 90m, 1.5h)" : k === ContributionKind.MONEY || k === ContributionKind.EXPENSE ? `Amount (${info?.currency ?? ""})` : "How many units";
    rateField.hidden = !(k === ContributionKind.RESOURCE || k === ContributionKind.USE);
  };
  kind.addEventListener("change", update);
  // Amending: the form starts from the claim as it stands; what is sent
  // replaces it whole (and clears its reviews, as the log's rules say).
  const target = amending;
  amending = undefined;
  if (target) {
    const c = target.contribution;
    kind.value = String(c.kind);
    kind.disabled = true;
    const decimals = info?.decimals ?? 2;
    const plain = (u: bigint): string => (decimals > 0 ? `${u / 10n ** BigInt(decimals)}.${(u % 10n ** BigInt(decimals)).toString().padStart(decimals, "0")}` : String(u));
    amount.value =
      c.kind === ContributionKind.WORK ? formatMinutes(c.quantity) : c.kind === ContributionKind.MONEY || c.kind === ContributionKind.EXPENSE ? plain(c.quantity) : String(c.quantity);
    if (c.rate !== undefined) rate.value = plain(c.rate);
    date.value = new Date(Number(c.at) * 1000).toISOString().slice(0, 10);
    tags.value = c.tags.join(", ");
    note.value = c.note;
    evidence.value = c.evidenceUrl;
  }
  update();
  const send = h("button", { type: "submit" }, target ? "Amend it" : "Log it") as HTMLButtonElement;
  return h(
    "form",
    {
      id: "log",
      onsubmit: (e: Event) => {
        e.preventDefault();
        act(send, async () => {
          const k = Number(kind.value) as ContributionKind;
          const decimals = info?.decimals ?? 2;
          const qty =
            k === ContributionKind.WORK
              ? BigInt(parseDuration(amount.value))
              : k === ContributionKind.MONEY || k === ContributionKind.EXPENSE
                ? parseAmount(amount.value, decimals)
                : units(amount.value);
          const at = BigInt(Date.parse(`${date.value}T00:00:00Z`) / 1000);
          const contribution = {
            kind: k,
            quantity: qty,
            rate: rate.value.trim() && !rateField.hidden ? parseAmount(rate.value, decimals) : undefined,
            tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
            at,
            note: note.value.trim(),
            evidenceUrl: evidence.value.trim(),
            evidenceHash: target?.contribution.evidenceHash,
            project: target?.contribution.project,
          };
          const l = target
            ? await session().submit({ case: "amendContribution", value: { contributionId: target.id, contribution } })
            : await session().submit({ case: "logContribution", value: { contribution } });
          landed(`${target ? "Amended" : "Logged"} ${kindNames[k]}`, l);
          amount.value = "";
          note.value = "";
        });
      },
    },
    h("h2", { tabindex: "-1" }, target ? `Amend your ${kindNames[target.contribution.kind]} of ${day(target.contribution.at)}` : "Log a contribution"),
    target ? h("p", {}, "An amendment replaces the claim and clears its reviews: reviewers approve what is there now.") : null,
    field("What", kind),
    h("label", { class: "field" }, quantityLabel, amount),
    rateField,
    field("When", date),
    field("Tags (comma-separated)", tags),
    field("Note", note),
    field("Receipt or evidence link", evidence),
    send,
  );
}

/** A contribution as the log now holds it, with its standing evaluations. */
interface Claim {
  id: Uint8Array;
  author: string;
  contribution: Contribution;
  retracted: boolean;
  /** Evaluator → verdict, rating, note (the latest since the last amendment). */
  reviews: Map<string, { verdict: Verdict; rating?: number; note: string }>;
}

/**
 * Folds the log into claims, as `coopledger todo` reads it: amendments
 * replace the contribution and clear its evaluations, retractions end it,
 * a later evaluation by the same member replaces theirs; periods closed by
 * a recorded (not voided) distribution are left out. Every entry's id is
 * recomputed from its signed payload and must match the log's.
 */
function fold(entries: LoggedEntry[]): Claim[] {
  const claims = new Map<string, Claim>();
  const closed: { start: bigint; end: bigint; id: string }[] = [];
  const voided = new Set<string>();
  for (const logged of entries) {
    const payload = logged.envelope?.payload ?? new Uint8Array();
    if (!equalBytes(entryId(payload), logged.id)) throw new Error(`entry ${logged.sequence}: its id is not the blake3 of its signed bytes`);
    const e: Entry = fromBinary(EntrySchema, payload);
    const id = toHex(logged.id);
    const b = e.body;
    if (b.case === "logContribution" && b.value.contribution) {
      claims.set(id, { id: logged.id, author: e.author, contribution: b.value.contribution, retracted: false, reviews: new Map() });
    } else if (b.case === "attestContribution" && b.value.contribution) {
      claims.set(id, { id: logged.id, author: b.value.member, contribution: b.value.contribution, retracted: false, reviews: new Map() });
    } else if (b.case === "amendContribution" && b.value.contribution) {
      const c = claims.get(toHex(b.value.contributionId));
      if (c) {
        c.contribution = b.value.contribution;
        c.reviews.clear();
      }
    } else if (b.case === "retractContribution") {
      const c = claims.get(toHex(b.value.contributionId));
      if (c) c.retracted = true;
    } else if (b.case === "evaluate") {
      claims.get(toHex(b.value.contributionId))?.reviews.set(e.author, { verdict: b.value.verdict, rating: b.value.rating, note: b.value.note });
    } else if (b.case === "recordDistribution" && b.value.period) {
      closed.push({ start: b.value.period.start, end: b.value.period.end, id });
    } else if (b.case === "voidDistribution") {
      voided.add(toHex(b.value.distributionId));
    }
  }
  const isClosed = (at: bigint): boolean => closed.some((p) => !voided.has(p.id) && at >= p.start && at < p.end);
  return [...claims.values()].filter((c) => !c.retracted && !isClosed(c.contribution.at)).reverse();
}

function status(c: Claim): string {
  const approvals = [...c.reviews.values()].filter((r) => r.verdict === Verdict.APPROVE).length;
  const flaggers = [...c.reviews.entries()].filter(([, r]) => r.verdict === Verdict.FLAG).map(([who]) => who);
  if (flaggers.length > 0) return `flagged by ${flaggers.join(", ")}; ${approvals} approval${approvals === 1 ? "" : "s"}`;
  if (approvals > 0) return `approved by ${approvals}`;
  return "pending: no review yet";
}

function claimRow(c: Claim): HTMLElement {
  return h(
    "div",
    { class: "claim-head" },
    h("strong", {}, `${c.author} · ${kindNames[c.contribution.kind] ?? "?"} · ${quantity(c.contribution)}`),
    h("span", {}, ` ${day(c.contribution.at)}`),
    c.contribution.note ? h("p", {}, c.contribution.note) : null,
    c.contribution.evidenceUrl ? h("p", {}, "Evidence: ", h("span", { class: "mono" }, c.contribution.evidenceUrl)) : null,
    h("small", { class: "mono" }, shortId(c.id)),
  );
}

function reviewForm(c: Claim, refresh: () => void): HTMLElement {
  const rating = h("input", { name: "rating", type: "number", min: "0", max: "100", inputmode: "numeric" }) as HTMLInputElement;
  const note = h("input", { name: "note" }) as HTMLInputElement;
  const approve = h("button", { type: "button", class: "approve" }, "Approve") as HTMLButtonElement;
  const flag = h("button", { type: "button", class: "flag" }, "Flag") as HTMLButtonElement;
  const send = (verdict: Verdict, button: HTMLButtonElement) => (): void => {
    act(button, async () => {
      const l = await session().submit({
        case: "evaluate",
        value: {
          contributionId: c.id,
          verdict,
          rating: rating.value.trim() === "" ? undefined : Number(rating.value),
          note: note.value.trim(),
        },
      });
      landed(verdict === Verdict.APPROVE ? `Approved ${c.author}'s ${kindNames[c.contribution.kind]}` : `Flagged ${c.author}'s ${kindNames[c.contribution.kind]}`, l);
      refresh();
    });
  };
  approve.addEventListener("click", send(Verdict.APPROVE, approve));
  flag.addEventListener("click", send(Verdict.FLAG, flag));
  return h("li", { class: "card to-review" }, claimRow(c), field("Rating (0–100, optional)", rating), field("Note", note), h("div", { class: "buttons" }, approve, flag));
}

function retractForm(c: Claim, refresh: () => void): HTMLElement {
  const reason = h("input", { name: "reason", "aria-label": "Why retract it" , placeholder: "why (optional)" }) as HTMLInputElement;
  const retract = h("button", { type: "button", class: "flag" }, "Retract") as HTMLButtonElement;
  retract.addEventListener("click", () =>
    act(retract, async () => {
      const l = await session().submit({ case: "retractContribution", value: { contributionId: c.id, reason: reason.value.trim() } });
      landed(`Retracted your ${kindNames[c.contribution.kind]}`, l);
      refresh();
    }),
  );
  const amend = h("button", { type: "button", class: "amend" }, "Amend") as HTMLButtonElement;
  amend.addEventListener("click", () => {
    amending = c;
    location.hash = "#log";
  });
  return h("div", { class: "buttons" }, amend, reason, retract);
}

function allocateScreen(): HTMLElement {
  const month = h("input", { name: "month", type: "month", value: new Date().toISOString().slice(0, 7), required: true }) as HTMLInputElement;
  const rows = h("div", { id: "shares" }, h("p", { "aria-busy": "true" }, "Reading the members…"));
  const total = h("p", { id: "total", role: "status" });
  const send = h("button", { type: "submit" }, "Allocate") as HTMLButtonElement;
  const inputs: HTMLInputElement[] = [];
  const sum = (): number => inputs.reduce((n, i) => n + (Number(i.value) || 0), 0);
  const showTotal = (): void => {
    total.textContent = `${sum()} of 100 points given`;
  };
  (async () => {
    const s = session();
    const members = (await s.read(Ledger.method.listMembers, {})).members.filter((m) => m.handle !== s.me.handle && m.suspendedAt === undefined);
    rows.replaceChildren(
      ...members.map((m) => {
        const input = h("input", { name: `share-${m.handle}`, type: "number", min: "0", max: "100", inputmode: "numeric", value: "0", "data-member": m.handle }) as HTMLInputElement;
        input.addEventListener("input", showTotal);
        inputs.push(input);
        return field(m.handle, input);
      }),
    );
    showTotal();
  })().catch((e) => rows.replaceChildren(h("p", { class: "error" }, refusalText(e))));
  return h(
    "form",
    {
      id: "allocate",
      onsubmit: (e: Event) => {
        e.preventDefault();
        act(send, async () => {
          const shares = inputs
            .filter((i) => Number(i.value) > 0)
            .map((i) => ({ member: i.dataset.member ?? "", percent: Number(i.value) }));
          const l = await session().submit({ case: "allocate", value: { period: monthPeriod(month.value), shares } });
          landed(`Allocated your points for ${month.value}`, l);
        });
      },
    },
    h("h2", { tabindex: "-1" }, "Allocate 100 points"),
    h("p", {}, "Split 100 points among the others for the month: who made the month work?"),
    field("Month", month),
    rows,
    total,
    send,
  );
}

/**
 * The log's latest checkpoint, checked against the log key this browser
 * pinned, and proven to extend the last checkpoint this browser saw.
 */
function auditScreen(): HTMLElement {
  const box = h("div", {}, h("h2", { tabindex: "-1" }, "Audit"), h("p", { "aria-busy": "true" }, "Checking…"));
  (async () => {
    const s = session();
    const latest = await s.client.getCheckpoint({});
    const cp = await verifyCheckpoint(latest.note, s.info.logPublicKey, verify);
    const seen = await load<{ size: string; root: string }>("checkpoint");
    let verdict = "This is the first checkpoint this browser has seen; later visits check that the log only grew from here.";
    if (seen) {
      const old = BigInt(seen.size);
      const proof = old === 0n || old === cp.size ? { hashes: [] as Uint8Array[] } : await s.read(Ledger.method.getConsistencyProof, { oldSize: old, newSize: cp.size });
      verifyConsistency(old, cp.size, fromHex(seen.root), cp.root, proof.hashes);
      verdict = `Consistent: the log grew from ${seen.size} to ${cp.size} entries and rewrote nothing this browser saw.`;
    }
    await save("checkpoint", { size: cp.size.toString(), root: toHex(cp.root) });
    box.replaceChildren(
      h("h2", { tabindex: "-1" }, "Audit"),
      h("p", { id: "audit-verdict" }, verdict),
      h("p", {}, `Latest checkpoint: ${cp.size} entries, signed by the log key `, h("span", { class: "mono" }, toHex(s.info.logPublicKey))),
      h("pre", { class: "mono" }, latest.note),
    );
  })().catch((e) => box.replaceChildren(h("h2", { tabindex: "-1" }, "Audit"), h("p", { class: "error", id: "audit-verdict" }, `Not consistent or not checked: ${refusalText(e)}`)));
  return box;
}

/** The report JSON of a preview (SCORING.md §7, the fields shown here). */
interface Report {
  income: number;
  reserve?: number;
  payouts: Record<string, number>;
  buckets: { type: string; amount: number; paid: Record<string, number> }[];
  warnings: unknown[];
  review?: { pending: { count: number; value: number }; flagged: { count: number; value: number } };
}

/** A member's breakdown (Explain), the fields shown in words here. */
interface Explanation {
  payout: number;
  points: number;
  contributions: {
    id: string;
    kind: string;
    at: string;
    in_period: boolean;
    quantity: number;
    value: number;
    approvals: number;
    flags: number;
    valid: boolean;
    invalid?: string | null;
    quality: number;
    points: number;
    repaid: number;
  }[];
  buckets: { index: number; type: string; paid: number; points?: number; total_points?: number; weight?: number; total_weight?: number }[];
}

/** "Why did I get this": the signed-in member's own breakdown, in words and numbers. */
async function explainMine(box: HTMLElement, period: { start: bigint; end: bigint }, income: bigint): Promise<void> {
  const s = session();
  const parts = await s.readAll(Ledger.method.explain, { member: s.me.handle, period, income });
  const e = JSON.parse(parts.map((p) => new TextDecoder().decode(p.explanationJson)).join("")) as Explanation;
  const amount = (n: number): string => money(BigInt(n));
  const pct = (a: number, b: number): string => new Intl.NumberFormat(navigator.language, { style: "percent", maximumFractionDigits: 1 }).format(b > 0 ? a / b : 0);
  const bucketWords = (b: Explanation["buckets"][number]): string => {
    if (b.points !== undefined && b.total_points !== undefined) return `${b.type}: ${amount(b.paid)}, for your ${b.points} points of ${b.total_points} (${pct(b.points, b.total_points)})`;
    if (b.weight !== undefined && b.total_weight !== undefined) return `${b.type}: ${amount(b.paid)}, for the points others gave you, weight ${b.weight} of ${b.total_weight} (${pct(b.weight, b.total_weight)})`;
    return `${b.type}: ${amount(b.paid)}`;
  };
  const kindWords = (k: string, q: number): string => (k === "work" ? formatMinutes(q) : k === "expense" || k === "money" ? amount(q) : `${q} units`);
  box.replaceChildren(h("div", {},
    h("h4", {}, `Why you get ${amount(e.payout)}`),
    e.buckets.length ? h("ul", { id: "why-buckets" }, ...e.buckets.map((b) => h("li", {}, bucketWords(b)))) : h("p", {}, "No bucket pays you this month."),
    e.contributions.length ? h("p", {}, "Your contributions up to the period's end:") : null,
    e.contributions.length
      ? h(
          "ul",
          { id: "why-contributions" },
          ...e.contributions.map((c) =>
            h(
              "li",
              {},
              `${c.kind} ${kindWords(c.kind, c.quantity)} on ${c.at.slice(0, 10)}: ` +
                (c.valid
                  ? `valid (${c.approvals} approval(s)), worth ${amount(c.value)}, quality ${c.quality}%, ${c.points} points${c.repaid ? `, ${amount(c.repaid)} repaid now` : ""}`
                  : `not validated yet (${c.approvals} approval(s), ${c.flags} flag(s)): ${policyWords(c)[1]}`),
            ),
          ),
        )
      : null,
  ));
}

/**
 * Treasurers: record the previewed distribution exactly as previewed (the
 * server's record body names the log size and the report's digest), after
 * a confirmation that says what goes unpaid.
 */
function recordButton(month: string, report: Report, record: RecordDistribution): HTMLElement {
  const button = h("button", { type: "button", id: "record" }, `Record ${month}`) as HTMLButtonElement;
  button.addEventListener("click", () =>
    act(button, async () => {
      const r = report.review;
      const unpaid = r
        ? `${r.pending.count} pending claim(s) worth ${money(BigInt(r.pending.value))} and ${r.flagged.count} flagged claim(s) worth ${money(BigInt(r.flagged.value))} would go unpaid.`
        : "";
      const question = `Record ${month}: income ${money(BigInt(report.income))}, policy version ${record.policyVersion}, the log at ${record.logSize} entries. ${unpaid} Recording closes the period.`;
      if (!confirm(question)) return;
      const l = await session().submit({ case: "recordDistribution", value: record });
      landed(`Recorded ${month}`, l);
    }),
  );
  return h("div", {}, h("p", {}, "Treasurers: record it as previewed (this closes the period)."), button);
}

/**
 * The month: the preview of a period's distribution at a given income,
 * payouts by member (a bar each) and by bucket, the reserve and warnings.
 */
function monthScreen(): HTMLElement {
  const month = h("input", { name: "month", type: "month", value: new Date().toISOString().slice(0, 7), required: true }) as HTMLInputElement;
  const income = h("input", { name: "income", inputmode: "decimal", required: true, autocomplete: "off" }) as HTMLInputElement;
  const go = h("button", { type: "submit" }, "Preview") as HTMLButtonElement;
  const out = h("section", { id: "preview", "aria-live": "polite" });
  const amount = (n: number): string => money(BigInt(n));
  return h(
    "div",
    {},
    h("h2", { tabindex: "-1" }, "The month"),
    h(
      "form",
      {
        id: "month",
        onsubmit: (e: Event) => {
          e.preventDefault();
          act(go, async () => {
            const s = session();
            const parts = await s.readAll(Ledger.method.computeShares, {
              period: monthPeriod(month.value),
              income: parseAmount(income.value, info?.decimals ?? 2),
            });
            const header = parts.find((p) => p.header)?.header;
            const json = parts.map((p) => new TextDecoder().decode(p.reportJson)).join("");
            const report = JSON.parse(json) as Report;
            const total = Math.max(1, report.income);
            out.replaceChildren(h("div", {},
              h("h3", {}, `${month.value}: ${amount(report.income)} by policy version ${header?.policyVersion ?? "?"}`),
              header?.recorded ? h("p", {}, "This period is recorded: these are the recorded figures.") : null,
              header?.notRecordable ? h("p", { class: "note" }, `Not recordable as it stands: ${header.notRecordable}`) : null,
              h("h4", {}, "By member"),
              h(
                "table",
                { id: "payouts" },
                h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Member"), h("th", { scope: "col" }, "Paid"), h("th", { scope: "col" }, "Share"))),
                h(
                  "tbody",
                  {},
                  ...Object.entries(report.payouts)
                    .sort((a, b) => b[1] - a[1])
                    .map(([who, paid]) =>
                      h(
                        "tr",
                        {},
                        h("th", { scope: "row" }, who),
                        h("td", { class: "num" }, amount(paid)),
                        h("td", {}, h("meter", { min: "0", max: String(total), value: String(paid), "aria-label": `${who}'s share` })),
                      ),
                    ),
                ),
              ),
              h("h4", {}, "By bucket"),
              h(
                "ol",
                { id: "buckets" },
                ...report.buckets.map((b) =>
                  h("li", {}, `${b.type}: ${amount(Object.values(b.paid).reduce((n, x) => n + x, 0))} paid of ${amount(b.amount)}`),
                ),
              ),
              h("p", {}, `Reserve (not paid out): ${amount(report.reserve ?? 0)}`),
              report.warnings.length ? h("h4", {}, "Warnings") : null,
              report.warnings.length ? h("ul", { id: "warnings" }, ...report.warnings.map((w) => h("li", {}, typeof w === "string" ? w : JSON.stringify(w)))) : null,
              header?.record ? recordButton(month.value, report, header.record) : null,
              h("section", { id: "why" }),
            ));
            await explainMine(out.querySelector("#why") as HTMLElement, monthPeriod(month.value), parseAmount(income.value, info?.decimals ?? 2));
          });
        },
      },
      field("Month", month),
      field(`Income (${info?.currency ?? ""})`, income),
      go,
    ),
    out,
  );
}

/** A CSV cell (RFC 4180), neutralised against spreadsheet formulas. */
function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Minor units as a plain decimal for CSV (no locale, no currency). */
function plainAmount(units: bigint): string {
  const d = info?.decimals ?? 2;
  if (d === 0) return units.toString();
  const scale = 10n ** BigInt(d);
  return `${units / scale}.${(units % scale).toString().padStart(d, "0")}`;
}

/** A period's name: its month (`Oct 2026`) when it is one, else its days. */
function periodName(start: bigint, end: bigint): string {
  const a = new Date(Number(start) * 1000);
  const monthEnd = Date.UTC(a.getUTCFullYear(), a.getUTCMonth() + 1, 1) / 1000;
  if (a.getUTCDate() === 1 && a.getUTCHours() === 0 && BigInt(monthEnd) === end) {
    return new Intl.DateTimeFormat(navigator.language, { month: "short", year: "numeric", timeZone: "UTC" }).format(a);
  }
  return `${day(start)} – ${day(end - 1n)}`;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * The member's earnings per recorded period as a bar chart (inline SVG,
 * drawn with attributes only: the page's CSP allows no inline style), with
 * the same numbers in a table beside it for screen readers and copying.
 */
function earningsChart(bars: { label: string; amount: bigint }[]): HTMLElement {
  // A narrow drawing, so that its labels stay readable when a phone
  // scales it down to the screen's width.
  const width = 400;
  const height = 220;
  const top = 30;
  const bottom = 34;
  const max = bars.reduce((m, b) => (b.amount > m ? b.amount : m), 1n);
  const slot = width / Math.max(1, bars.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": "earnings-title" });
  chart.append(svg("title", { id: "earnings-title" }, `Your earnings per recorded period, ${bars.length} period(s)`));
  chart.append(svg("line", { x1: "0", x2: String(width), y1: String(height - bottom), y2: String(height - bottom), class: "axis" }));
  bars.forEach((b, i) => {
    // Bar heights are proportional; the exact amounts are in the labels.
    const barHeight = Math.round(((height - top - bottom) * Number((b.amount * 1000n) / max)) / 1000);
    const x = i * slot + slot * 0.2;
    const y = height - bottom - barHeight;
    const g = svg("g", { class: "bar" });
    g.append(svg("rect", { x: x.toFixed(1), y: String(y), width: (slot * 0.6).toFixed(1), height: String(barHeight) }));
    g.append(svg("text", { x: (x + slot * 0.3).toFixed(1), y: String(y - 6), "text-anchor": "middle", class: "amount" }, money(b.amount)));
    g.append(svg("text", { x: (x + slot * 0.3).toFixed(1), y: String(height - bottom + 22), "text-anchor": "middle" }, b.label));
    chart.append(g);
  });
  return h(
    "figure",
    { id: "earnings-chart" },
    chart,
    h(
      "table",
      { id: "earnings" },
      h("caption", {}, "Your earnings per recorded period (voided distributions not counted)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Period"), h("th", { scope: "col" }, "You were paid"))),
      h("tbody", {}, ...bars.map((b) => h("tr", {}, h("th", { scope: "row" }, b.label), h("td", { class: "num" }, money(b.amount))))),
    ),
  );
}

/**
 * Recorded distributions: what each paid whom, voided ones marked (never
 * counted), my earnings over the periods as a chart, my total, a CSV of
 * every row, and for treasurers a way to void the one the server would let
 * them void: the latest standing distribution (a later one counts what the
 * ones before it paid, src/ledger/rules.rs `check_void`); the others say why
 * not.
 */
function paidScreen(): HTMLElement {
  const box = h("div", {}, h("h2", { tabindex: "-1" }, "Distributions"), h("p", { "aria-busy": "true" }, "Reading…"));
  (async () => {
    const s = session();
    const [list, people] = await Promise.all([s.read(Ledger.method.listDistributions, {}).then((r) => r.distributions), members(s)]);
    const treasurer = hasRole(people, s.me.handle, Role.TREASURER);
    // The server voids only the latest standing distribution: a later one
    // counts what the ones before it paid.
    const latest = list.filter((d) => !d.voided).reduce<(typeof list)[number] | undefined>((a, d) => (!a || d.sequence > a.sequence ? d : a), undefined);
    const latestName = latest ? periodName(latest.period?.start ?? 0n, latest.period?.end ?? 1n) : "";
    const rows: string[][] = [["period_start", "period_end", "sequence", "status", "recipient", "amount", "currency"]];
    let mine = 0n;
    const bars: { label: string; amount: bigint }[] = [];
    const items: HTMLElement[] = [];
    for (const d of list) {
      const full = await s.read(Ledger.method.getDistribution, { key: { case: "sequence", value: d.sequence } });
      const start = new Date(Number(d.period?.start ?? 0n) * 1000).toISOString().slice(0, 10);
      const end = new Date(Number(d.period?.end ?? 0n) * 1000).toISOString().slice(0, 10);
      const status = d.voided ? `voided by ${d.voided.treasurer}: ${d.voided.reason}` : "recorded";
      const name = periodName(d.period?.start ?? 0n, d.period?.end ?? 1n);
      let myShare = 0n;
      for (const p of full.payouts) {
        rows.push([start, end, String(d.sequence), d.voided ? "voided" : "recorded", p.recipient, plainAmount(p.amount), info?.currency ?? ""]);
        if (p.recipient === s.me.handle) myShare += p.amount;
      }
      if (!d.voided) {
        mine += myShare;
        bars.push({ label: name, amount: myShare });
      }
      items.push(
        h(
          "li",
          { class: d.voided ? "card voided" : "card", "data-sequence": String(d.sequence) },
          h("strong", {}, `${name} (${day(d.period?.start ?? 0n)} – ${day((d.period?.end ?? 1n) - 1n)}): ${money(d.income)}`),
          h("p", { class: "state" }, `${d.voided ? "VOIDED, not counted" : "recorded"}, by ${d.treasurer}; paid ${money(d.paid)} to ${d.recipients} recipient(s), reserve ${money(d.reserve)}`),
          d.voided ? h("p", {}, status) : null,
          h("ul", {}, ...full.payouts.map((p) => h("li", {}, `${p.recipient}: ${money(p.amount)}`))),
          !treasurer || d.voided
            ? null
            : d === latest
              ? voidForm(d.id, name, d.income, d.paid)
              : h("p", { class: "void-later" }, `Only the latest standing distribution (${latestName}) can be voided: the ones recorded after this one count what it paid; void them first, latest first.`),
        ),
      );
    }
    const csv = rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
    const download = h(
      "a",
      { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "distributions.csv", id: "csv", class: "button" },
      "Download CSV",
    );
    box.replaceChildren(
      h("h2", { tabindex: "-1" }, "Distributions"),
      h("p", { id: "my-total" }, `You were paid ${money(mine)} in total by ${list.filter((d) => !d.voided).length} recorded distribution(s) (voided ones not counted).`),
      ...(bars.length ? [h("h3", {}, "Your earnings over the periods"), earningsChart(bars)] : []),
      list.length ? h("ul", { id: "distributions" }, ...items) : h("p", {}, "Nothing recorded yet."),
      ...(list.length ? [download] : []),
    );
  })().catch((e) => box.replaceChildren(h("h2", { tabindex: "-1" }, "Distributions"), h("p", { class: "error" }, refusalText(e))));
  return box;
}

/** Treasurers: void a recorded distribution, with a reason and a confirmation naming it. */
function voidForm(id: Uint8Array, name: string, income: bigint, paid: bigint): HTMLElement {
  const reason = h("input", { name: "void-reason", autocomplete: "off", required: true }) as HTMLInputElement;
  const button = h("button", { type: "submit", class: "flag" }, "Void it") as HTMLButtonElement;
  return h(
    "form",
    {
      class: "void",
      onsubmit: (e: Event) => {
        e.preventDefault();
        act(button, async () => {
          if (!reason.value.trim()) throw new Error("say why it is voided: the members read it in the log");
          if (!confirm(`Void the distribution of ${name}: income ${money(income)}, ${money(paid)} paid? It will no longer count, and its period reopens.`)) return;
          const l = await session().submit({ case: "voidDistribution", value: { distributionId: id, reason: reason.value.trim() } });
          landed(`Voided the distribution of ${name}`, l);
          keepStatus = true;
          route();
        });
      },
    },
    field("Why void it (treasurers)", reason),
    button,
  );
}

/** What the policy decides of a claim, from a scoring run's explanation line. */
function policyWords(line: { valid: boolean; invalid?: string | null; value: number; points: number } | undefined): [string, string] {
  if (!line) return ["unknown", "not in the policy's preview (no policy adopted?)"];
  if (line.valid) return ["valid", `valid: it counts, worth ${money(BigInt(line.value))}, ${line.points} points`];
  switch (line.invalid) {
    case "too_few_approvals":
      return ["pending", "pending: not enough approvals yet, it earns nothing until peers approve it"];
    case "untrusted_approvers":
      return ["pending", "pending: not enough trusted approvals yet (its approvers hold too little trust), it earns nothing until then"];
    case "too_many_flags":
      return ["flagged", "flagged: more flags than the policy tolerates, it earns nothing"];
    case "flags_outweigh_approvals":
      return ["flagged", "flagged: those who flag it outweigh those who approve it, it earns nothing"];
    default:
      return ["flagged", "not valid, it earns nothing"];
  }
}

/**
 * Each own claim's status as the adopted policy decides it: one
 * explanation (a scoring run of the claim's month, at no income: validity
 * does not depend on it) per month shown, not one per claim.
 */
async function policyStatus(s: Session, mine: Claim[], box: HTMLElement): Promise<void> {
  const months = [...new Set(mine.map((c) => new Date(Number(c.contribution.at) * 1000).toISOString().slice(0, 7)))];
  for (const month of months) {
    const claims = mine.filter((c) => new Date(Number(c.contribution.at) * 1000).toISOString().startsWith(month));
    const slot = (c: Claim): HTMLElement | null => box.querySelector(`#my-claims li[data-id="${toHex(c.id)}"] .policy-status`);
    try {
      const parts = await s.readAll(Ledger.method.explain, { member: s.me.handle, period: monthPeriod(month), income: 0n });
      const e = JSON.parse(parts.map((p) => new TextDecoder().decode(p.explanationJson)).join("")) as Explanation;
      for (const c of claims) {
        const [word, text] = policyWords(e.contributions.find((l) => l.id === toHex(c.id)));
        const el = slot(c);
        if (el) {
          el.textContent = `As the policy decides: ${text}`;
          el.dataset.status = word;
        }
      }
    } catch (err) {
      for (const c of claims) {
        const el = slot(c);
        if (el) el.textContent = `As the policy decides: not known (${refusalText(err)})`;
      }
    }
  }
}

function reviewScreen(): HTMLElement {
  const box = h("div", {}, h("h2", { tabindex: "-1" }, "Review"), h("p", { "aria-busy": "true" }, "Reading the log…"));
  const refresh = (): void => {
    (async () => {
      const s = session();
      const claims = fold(await s.entries());
      const mine = claims.filter((c) => c.author === s.me.handle);
      const todo = claims.filter((c) => c.author !== s.me.handle && !c.reviews.has(s.me.handle));
      box.replaceChildren(
        h("h2", { tabindex: "-1" }, "Review"),
        h("h3", {}, `To review (${todo.length}): others' claims in open periods you have not evaluated`),
        todo.length ? h("ul", { id: "to-review" }, ...todo.map((c) => reviewForm(c, refresh))) : h("p", {}, "Nothing to review."),
        h("h3", {}, `My claims (${mine.length})`),
        mine.length
          ? h(
              "ul",
              { id: "my-claims" },
              ...mine.map((c) =>
                h(
                  "li",
                  { class: "card", "data-id": toHex(c.id) },
                  claimRow(c),
                  h("p", { class: "status" }, status(c)),
                  h("p", { class: "policy-status", "aria-live": "polite" }, "As the policy decides: …"),
                  retractForm(c, refresh),
                ),
              ),
            )
          : h("p", {}, "You have logged nothing in the open periods."),
      );
      await policyStatus(s, mine, box);
    })().catch((e) => box.replaceChildren(h("h2", { tabindex: "-1" }, "Review"), h("p", { class: "error" }, refusalText(e))));
  };
  refresh();
  return box;
}

/** A one-time download of a key made in this page session, as the CLI's key file. */
function saveKeyButton(handle: string): HTMLElement | null {
  if (!freshSeed) return null;
  return h(
    "button",
    {
      type: "button",
      id: "save-key",
      onclick: () => {
        if (!freshSeed) return;
        const a = h("a", { href: URL.createObjectURL(new Blob([keyFileText(freshSeed)], { type: "text/plain" })), download: `${handle}.key` });
        a.click();
      },
    },
    "Save a key file for the command line (only now)",
  );
}

/**
 * Replaces the member's key: a new non-extractable key is made here, and
 * the RotateKey entry naming it is signed by the current key (the log's
 * rule: the current key binds the next). From then on the old key signs
 * nothing. The new key is kept under "identity-next" until the server has
 * accepted the entry, so an interrupted rotation can be finished.
 */
async function rotateKey(): Promise<void> {
  const s = session();
  const key = await newKey();
  const next: Identity = { handle: s.me.handle, publicKey: key.publicKey, privateKey: key.privateKey };
  await save("identity-next", next);
  pendingSeed = key.seed;
  try {
    const l = await s.submit(
      { case: "rotateKey", value: { newPublicKey: key.publicKey } },
      async () => {
        me = next;
        freshSeed = key.seed;
        pendingSeed = undefined;
        await save("identity", next);
        await remove("identity-next");
      },
      next,
    );
    landed(`Rotated ${next.handle}'s key: the old one signs nothing from now on`, l);
  } catch (e) {
    // The server's refusal leaves the current key in place: nothing to
    // finish. A lost connection may have lost the receipt of an accepted
    // rotation: the new key stays, for "Use the new key".
    if (e instanceof ConnectError && refusalCodes.has(e.code)) {
      pendingSeed = undefined;
      await remove("identity-next");
    }
    throw e;
  }
}

/** gRPC codes by which the server refuses an entry (DECISIONS.md "Status codes"). */
const refusalCodes = new Set([
  Code.InvalidArgument,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.NotFound,
  Code.AlreadyExists,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
]);

function keyScreen(): HTMLElement {
  const forget = h("button", { type: "button", class: "flag" }, "Forget this key in this browser") as HTMLButtonElement;
  forget.addEventListener("click", () =>
    act(forget, async () => {
      if (!confirm("Forget the key? Without a key file you cannot sign as this member again.")) return;
      await remove("identity");
      me = undefined;
      freshSeed = undefined;
      location.hash = "#join";
    }),
  );
  const rotate = h("button", { type: "button", id: "rotate" }, "Rotate my key") as HTMLButtonElement;
  rotate.addEventListener("click", () =>
    act(rotate, async () => {
      if (!confirm("Make a new key and retire this one? Your current key signs the change; from then on only the new key signs for you, here and in the command line (save its key file next).")) return;
      await rotateKey();
      keepStatus = true;
      route();
    }),
  );
  const saved = saveKeyButton(me?.handle ?? "");
  const interrupted = h("div", {});
  load<Identity>("identity-next").then((next) => {
    if (!next) return;
    const finish = h("button", { type: "button" }, "Use the new key") as HTMLButtonElement;
    finish.addEventListener("click", () =>
      act(finish, async () => {
        // Only the server knows whether the rotation landed: read as the new key.
        const check = new Session(client, info as ServerInfo, next);
        const m = await check.read(Ledger.method.getMember, { handle: next.handle });
        if (!equalBytes(m.publicKey, next.publicKey)) throw new Error("the rotation did not land: the log still names your old key");
        me = next;
        // The old key's file is worthless now; the new one's only if this
        // page session made it.
        freshSeed = pendingSeed;
        pendingSeed = undefined;
        await save("identity", next);
        await remove("identity-next");
        route();
      }),
    );
    const discard = h("button", { type: "button", class: "flag" }, "Discard the new key") as HTMLButtonElement;
    discard.addEventListener("click", () =>
      act(discard, async () => {
        if (!confirm("Discard the new key? If the rotation did land, only an admin can reset your key then.")) return;
        await remove("identity-next");
        pendingSeed = undefined;
        interrupted.replaceChildren();
      }),
    );
    interrupted.replaceChildren(
      h("p", { class: "note" }, "A key rotation was interrupted before this browser heard back: if the server took it, only the new key signs for you now."),
      h("div", { class: "buttons" }, finish, discard),
    );
  }, () => undefined);
  return h(
    "div",
    {},
    h("h2", { tabindex: "-1" }, "My key"),
    me ? h("p", {}, `Signed in as ${me.handle}, key `, h("span", { class: "mono", id: "my-key" }, toHex(me.publicKey))) : h("p", {}, "No key in this browser."),
    h("p", {}, "The key is kept in this browser and cannot be read back, not even by this page. Save a key file when you make the key (Join), or import the CLI's."),
    saved ? h("div", { class: "card" }, h("p", {}, "Your new key's file: save it now if you also use the command line (replace keys/<handle>.key); it is not offered again."), saved) : null,
    interrupted,
    me
      ? h(
          "div",
          { class: "card" },
          h("h3", {}, "Rotate my key"),
          h("p", {}, "Replace your key with a new one, for instance when an old key file may have been copied. Your current key signs the change, so no admin is needed; the old key file stops working."),
          rotate,
        )
      : null,
    me ? h("details", {}, h("summary", {}, "My invitation link"), invitationBox(me)) : null,
    forget,
  );
}

// ---- members and roles (admins act; everyone reads) --------------------------

const roleNames: Record<number, string> = { [Role.ADMIN]: "admin", [Role.TREASURER]: "treasurer" };

/** Every member, as the server's member list says (a signed read). */
async function members(s: Session): Promise<Member[]> {
  return (await s.read(Ledger.method.listMembers, {})).members;
}

function hasRole(list: Member[], handle: string, role: Role): boolean {
  return list.some((m) => m.handle === handle && m.roles.includes(role));
}

/**
 * Members and roles: every member with their roles, status and key. An
 * admin grants and revokes roles and suspends and reinstates members, each
 * a signed entry after a confirmation; others read the same list.
 */
function adminScreen(): HTMLElement {
  const box = h("div", {}, h("h2", { tabindex: "-1" }, "Members and roles"), h("p", { "aria-busy": "true" }, "Reading the members…"));
  const refresh = (): void => {
    (async () => {
      const s = session();
      const list = await members(s);
      const admin = hasRole(list, s.me.handle, Role.ADMIN);
      box.replaceChildren(
        h("h2", { tabindex: "-1" }, "Members and roles"),
        h(
          "p",
          {},
          admin
            ? "You are an admin: each change below is an entry you sign, shown to you in words before it is sent."
            : "Only admins change roles or suspend members; this is the list as the log holds it.",
        ),
        h(
          "table",
          { id: "members" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Member"), h("th", { scope: "col" }, "Roles"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Key"))),
          h(
            "tbody",
            {},
            ...list.map((m) =>
              h(
                "tr",
                { "data-member": m.handle },
                h("th", { scope: "row" }, m.handle),
                h("td", { class: "roles" }, m.roles.map((r) => roleNames[r] ?? String(r)).join(", ") || "member"),
                h("td", { class: "state" }, m.suspendedAt !== undefined ? `suspended (entry ${m.suspendedAt})` : "active"),
                h("td", { class: "mono small" }, toHex(m.publicKey)),
              ),
            ),
          ),
        ),
        ...(admin ? [h("h3", {}, "Change a member"), h("ul", { id: "member-actions" }, ...list.map((m) => memberActions(m, s.me.handle, refresh)))] : []),
      );
    })().catch((e) => box.replaceChildren(h("h2", { tabindex: "-1" }, "Members and roles"), h("p", { class: "error" }, refusalText(e))));
  };
  refresh();
  return box;
}

/** An admin's buttons for one member: roles, suspension, with a reason. */
function memberActions(m: Member, me: string, refresh: () => void): HTMLElement {
  const reason = h("input", { name: "reason", autocomplete: "off" }) as HTMLInputElement;
  const buttons: HTMLElement[] = [];
  const add = (label: string, cls: string, question: string, body: () => Parameters<Session["submit"]>[0], done: string): void => {
    const b = h("button", { type: "button", class: cls, "aria-label": `${label}: ${m.handle}` }, label) as HTMLButtonElement;
    b.addEventListener("click", () =>
      act(b, async () => {
        if (!confirm(question)) return;
        landed(done, await session().submit(body()));
        keepStatus = true;
        refresh();
      }),
    );
    buttons.push(b);
  };
  for (const role of [Role.ADMIN, Role.TREASURER]) {
    const name = roleNames[role];
    if (m.roles.includes(role)) {
      add(`Revoke ${name}`, "flag", `Revoke ${m.handle}'s ${name} role? You sign this entry as ${me}.`, () => ({ case: "revokeRole", value: { member: m.handle, role } }), `Revoked ${m.handle}'s ${name} role`);
    } else {
      add(`Grant ${name}`, "", `Make ${m.handle} ${name === "admin" ? "an admin" : "a treasurer"}? You sign this entry as ${me}.`, () => ({ case: "grantRole", value: { member: m.handle, role } }), `Granted ${name} to ${m.handle}`);
    }
  }
  if (m.suspendedAt === undefined) {
    add("Suspend", "flag", `Suspend ${m.handle}? Their key signs nothing until an admin reinstates them.`, () => ({ case: "suspendMember", value: { member: m.handle, reason: reason.value.trim() } }), `Suspended ${m.handle}`);
  } else {
    add("Reinstate", "", `Reinstate ${m.handle}? Their key signs again.`, () => ({ case: "reinstateMember", value: { member: m.handle, reason: reason.value.trim() } }), `Reinstated ${m.handle}`);
  }
  return h("li", { class: "card", "data-member": m.handle }, h("strong", {}, m.handle), field(`Reason (for a suspension, optional)`, reason), h("div", { class: "buttons wrap" }, ...buttons));
}

// ---- the policy in words, and adopting one (admins) --------------------------

function moneyUnits(): Units {
  return { currency: info?.currency ?? "", decimals: info?.decimals ?? 2, locale: navigator.language };
}

function sectionsView(id: string, sections: Section[]): HTMLElement {
  return h("div", { id, class: "policy" }, ...sections.flatMap((s) => [h("h4", {}, s.title), h("ul", {}, ...s.lines.map((l) => h("li", {}, l)))]));
}

/** The adopted policies in the log: version (1, 2, …), adopter and JSON. */
async function adoptedPolicies(s: Session): Promise<{ version: number; by: string; at: bigint; json: string }[]> {
  const parts = await s.readAll(Ledger.method.listEntries, { kinds: [EntryKind.ADOPT_POLICY] });
  return parts.flatMap((logged, i) => {
    const e = fromBinary(EntrySchema, logged.envelope?.payload ?? new Uint8Array());
    return e.body.case === "adoptPolicy" ? [{ version: i + 1, by: e.author, at: e.createdAtMs, json: new TextDecoder().decode(e.body.value.policyJson) }] : [];
  });
}

/**
 * The policy the cooperative pays by, in words, for every member. Admins
 * also edit a new one (from the adopted JSON or a file), see it in words,
 * and sign its adoption after a confirmation.
 */
function policyScreen(): HTMLElement {
  const box = h("div", {}, h("h2", { tabindex: "-1" }, "The policy"), h("p", { "aria-busy": "true" }, "Reading the policy…"));
  (async () => {
    const s = session();
    const [adopted, list] = await Promise.all([adoptedPolicies(s), members(s)]);
    const current = adopted[adopted.length - 1];
    const admin = hasRole(list, s.me.handle, Role.ADMIN);
    const shown: (HTMLElement | null)[] = [h("h2", { tabindex: "-1" }, "The policy")];
    if (!current) shown.push(h("p", { id: "policy-version" }, "No policy is adopted yet: nothing can be previewed or paid until an admin adopts one."));
    else {
      let doc: Record<string, unknown> = {};
      try {
        doc = JSON.parse(current.json) as Record<string, unknown>;
      } catch {
        // The server parsed it when it was adopted; a browser that cannot is shown the text.
      }
      shown.push(
        h("p", { id: "policy-version" }, `Version ${current.version}, adopted by ${current.by} on ${day(current.at / 1000n)}. This is how every payout is computed; amounts are in ${moneyUnits().currency}.`),
        sectionsView("policy-words", describePolicy(doc, moneyUnits())),
        h("details", {}, h("summary", {}, "The adopted policy as JSON"), h("pre", { class: "mono" }, current.json)),
      );
    }
    if (admin) shown.push(adoptForm(current ? JSON.stringify(JSON.parse(current.json), null, 2) : ""));
    box.replaceChildren(...shown.filter((x): x is HTMLElement => x !== null));
  })().catch((e) => box.replaceChildren(h("h2", { tabindex: "-1" }, "The policy"), h("p", { class: "error" }, refusalText(e))));
  return box;
}

function adoptForm(start: string): HTMLElement {
  const text = h("textarea", { name: "policy", rows: "16", spellcheck: "false", class: "mono" }) as HTMLTextAreaElement;
  text.value = start;
  const file = h("input", { type: "file", name: "policy-file", accept: ".json,application/json" }) as HTMLInputElement;
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const words = h("section", { id: "draft-words", "aria-live": "polite" });
  const show = h("button", { type: "button", id: "show-draft" }, "Show it in words") as HTMLButtonElement;
  const adopt = h("button", { type: "submit", id: "adopt" }, "Adopt this policy") as HTMLButtonElement;
  const render = (): Record<string, unknown> => {
    const doc = canonicalPolicy(text.value, moneyUnits());
    words.replaceChildren(h("h4", {}, "The new policy, in words"), sectionsView("draft-policy", describePolicy(doc, moneyUnits())));
    return doc;
  };
  show.addEventListener("click", () =>
    act(show, async () => {
      words.replaceChildren();
      render();
    }),
  );
  // What-if: the draft over the log as it is now, beside the adopted policy.
  const month = h("input", { name: "draft-month", type: "month", value: new Date().toISOString().slice(0, 7) }) as HTMLInputElement;
  const income = h("input", { name: "draft-income", inputmode: "decimal", autocomplete: "off" }) as HTMLInputElement;
  const tryIt = h("button", { type: "button", id: "try-draft" }, "Preview a month with it") as HTMLButtonElement;
  const preview = h("section", { id: "draft-preview", "aria-live": "polite" });
  tryIt.addEventListener("click", () =>
    act(tryIt, async () => {
      preview.replaceChildren();
      const doc = render();
      const s = session();
      const request = { period: monthPeriod(month.value), income: parseAmount(income.value, info?.decimals ?? 2) };
      const report = async (draft?: Uint8Array): Promise<Report> => {
        const parts = await s.readAll(Ledger.method.computeShares, { ...request, draftPolicyJson: draft });
        return JSON.parse(parts.map((p) => new TextDecoder().decode(p.reportJson)).join("")) as Report;
      };
      const withDraft = await report(new TextEncoder().encode(JSON.stringify(doc)));
      // No adopted policy yet, or one that cannot score this month: the draft alone.
      const adopted = await report().catch(() => undefined);
      const who = [...new Set([...Object.keys(withDraft.payouts), ...Object.keys(adopted?.payouts ?? {})])].sort();
      const amount = (n: number | undefined): string => money(BigInt(n ?? 0));
      preview.replaceChildren(
        h(
          "table",
          { id: "draft-payouts" },
          h("caption", {}, `${month.value} at ${money(request.income)}: what each would be paid (a what-if; nothing is signed)`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Member"), h("th", { scope: "col" }, "With this draft"), adopted ? h("th", { scope: "col" }, "With the adopted policy") : null)),
          h(
            "tbody",
            {},
            ...who.map((m) =>
              h("tr", { "data-member": m }, h("th", { scope: "row" }, m), h("td", { class: "num draft" }, amount(withDraft.payouts[m])), adopted ? h("td", { class: "num" }, amount(adopted.payouts[m])) : null),
            ),
            h("tr", {}, h("th", { scope: "row" }, "Reserve"), h("td", { class: "num" }, amount(withDraft.reserve)), adopted ? h("td", { class: "num" }, amount(adopted.reserve)) : null),
          ),
        ),
      );
    }),
  );
  return h(
    "form",
    {
      id: "adopt-policy",
      onsubmit: (e: Event) => {
        e.preventDefault();
        act(adopt, async () => {
          words.replaceChildren();
          const doc = render();
          if (!confirm("Adopt the policy shown in words below? It applies to every preview and distribution from now on; the periods already recorded keep theirs.")) return;
          const l = await session().submit({ case: "adoptPolicy", value: { policyJson: new TextEncoder().encode(JSON.stringify(doc, null, 2)) } });
          landed("Adopted the new policy", l);
          keepStatus = true;
          route();
        });
      },
    },
    h("h3", {}, "Adopt a new policy (admins)"),
    h("p", {}, "Edit the adopted policy (percents like \"5%\" and amounts like \"30.00\" are converted exactly), or load a file; check it in words, then sign it."),
    field("Policy (JSON)", text),
    field("…or a policy file", file),
    h("div", { class: "buttons" }, show, adopt),
    words,
    h(
      "details",
      {},
      h("summary", {}, "Try it on a month first"),
      field("Month", month),
      field(`Income (${info?.currency ?? ""})`, income),
      tryIt,
      preview,
    ),
  );
}

// ---- routing ------------------------------------------------------------------

/** Who is signed in, on which cooperative, in the header. */
function showWho(): void {
  const who = document.getElementById("who");
  if (who) who.textContent = me ? `${me.handle} · ${info?.networkName ?? ""}` : (info?.networkName ?? "");
}

/** Set by an action that moves to another screen and keeps its message. */
let keepStatus = false;

function route(): void {
  // A new screen starts with no message from the last one's actions.
  if (!keepStatus) say("");
  keepStatus = false;
  const hash = location.hash || (me ? "#review" : "#join");
  let screen: HTMLElement;
  const admit = /^#admit\/([^/]+)\/([0-9a-fA-F]{64})$/.exec(hash);
  if (admit) screen = admitScreen(decodeURIComponent(admit[1]), admit[2]);
  else if (!me || hash === "#join") screen = joinScreen();
  else if (hash === "#log") screen = logScreen();
  else if (hash === "#admit") screen = admitScreen();
  else if (hash === "#key") screen = keyScreen();
  else if (hash === "#allocate") screen = allocateScreen();
  else if (hash === "#audit") screen = auditScreen();
  else if (hash === "#month") screen = monthScreen();
  else if (hash === "#paid") screen = paidScreen();
  else if (hash === "#admin") screen = adminScreen();
  else if (hash === "#policy") screen = policyScreen();
  else screen = reviewScreen();
  main().replaceChildren(screen);
  showWho();
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (a.getAttribute("href") === hash.split("/")[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  (screen.querySelector("h2") as HTMLElement | null)?.focus();
}

async function start(): Promise<void> {
  try {
    await connect();
  } catch (e) {
    say(`Cannot use this server: ${refusalText(e)}`, "error");
    return;
  }
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "true";
}

start();
