// A cooperative's policy, for people: the adopted JSON (SCORING.md §7's
// `policy` object plus `mode` and `buckets`, in integer ppm and minor
// units) said in sentences with percents and amounts in the member's
// locale; and a policy typed by an admin, in those units or the treasurer's
// ("5%", "30.00", as `coopledger policy adopt` accepts them), converted
// exactly to the canonical form before it is signed. No I/O here: the
// server checks the result with the scoring core's own parser and its
// refusal is shown in its words.

import { formatAmount } from "./ledger";

/** The network's currency, its minor-unit digits and the reader's locale. */
export interface Units {
  currency: string;
  decimals: number;
  locale?: string;
}

/** One part of a policy in words: a heading and its sentences. */
export interface Section {
  title: string;
  lines: string[];
}

type Json = Record<string, unknown>;

const PPM = 1_000_000;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The locale's decimal separator. */
function point(locale?: string): string {
  return new Intl.NumberFormat(locale, { minimumFractionDigits: 1 }).formatToParts(1.5).find((p) => p.type === "decimal")?.value ?? ".";
}

/** `ppm` as an exact percent (`55000` → `5.5%`), in the reader's locale. */
export function ppmPercent(ppm: number, locale?: string): string {
  const whole = Math.floor(ppm / 10_000);
  const frac = String(ppm % 10_000).padStart(4, "0").replace(/0+$/, "");
  return `${new Intl.NumberFormat(locale).format(whole)}${frac ? point(locale) + frac : ""}%`;
}

/** `ppm` as a factor (`2000000` → `×2`, `1200000` → `×1.2`). */
export function ppmFactor(ppm: number, locale?: string): string {
  const whole = Math.floor(ppm / PPM);
  const frac = String(ppm % PPM).padStart(6, "0").replace(/0+$/, "");
  return `×${new Intl.NumberFormat(locale).format(whole)}${frac ? point(locale) + frac : ""}`;
}

function num(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isSafeInteger(v) ? v : fallback;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function kindsInWords(kinds: unknown): string {
  const list = Array.isArray(kinds) ? kinds.map(String) : [];
  const words = list.map((k) => (k === "resource" ? "material" : k === "use" ? "equipment use" : k === "expense" ? "expenses" : k));
  if (words.length === 0) return "no kind";
  if (words.length === 1) return words[0];
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** The policy in sentences: rates, multipliers, peer review, buckets. */
export function describePolicy(doc: Json, units: Units): Section[] {
  const money = (minor: unknown): string => formatAmount(BigInt(num(minor, 0)), units.decimals, units.currency, units.locale);
  const pct = (ppm: unknown, fallback = 0): string => ppmPercent(num(ppm, fallback), units.locale);
  const straight = doc.mode === "straight";
  const sections: Section[] = [];

  const rates: string[] = [];
  const defaults = isObject(doc.default_rates) ? doc.default_rates : {};
  const tagRates = isObject(doc.rates) ? doc.rates : {};
  const per: Record<string, string> = { work: " per hour of work", resource: " per unit of material", use: " per hour or unit of equipment use" };
  for (const [kind, rate] of Object.entries(defaults)) {
    rates.push(
      kind === "money" || kind === "expense"
        ? `${kind}: ${money(rate)} (not used: money and expenses are worth the amount logged)`
        : `${kind === "resource" ? "material" : kind === "use" ? "equipment use" : kind}: ${money(rate)}${per[kind] ?? ""}`,
    );
  }
  for (const [tag, rate] of Object.entries(tagRates)) {
    rates.push(`tagged “${tag}”: ${money(rate)} per hour of work or unit of material or use (the first tag with a rate wins over the default)`);
  }
  if (rates.length === 0) rates.push("None: work, material and equipment use without a rate of their own are worth nothing.");
  sections.push({ title: "Rates (for a contribution that names no rate of its own)", lines: rates });

  const multipliers: string[] = [];
  for (const [kind, ppm] of Object.entries(isObject(doc.kind_multiplier_ppm) ? doc.kind_multiplier_ppm : {})) {
    multipliers.push(`${kind} earns ${ppmFactor(num(ppm, PPM), units.locale)} the points of its value`);
  }
  for (const [tag, ppm] of Object.entries(isObject(doc.tag_multiplier_ppm) ? doc.tag_multiplier_ppm : {})) {
    multipliers.push(`tagged “${tag}”: ${ppmFactor(num(ppm, PPM), units.locale)} points`);
  }
  if (multipliers.length === 0) multipliers.push("None: a contribution earns as many points as it is worth.");
  if (isObject(doc.decay)) {
    const days = num(doc.decay.interval_days, 1);
    multipliers.push(
      `Decay: points lose ${pct(doc.decay.rate_ppm)} for every ${days} ${plural(days, "day", "days")} between the contribution and the period's end (each step takes it off what the step before left).`,
    );
  } else {
    multipliers.push("No decay: older contributions count in full.");
  }
  sections.push({ title: "Points", lines: multipliers });

  const v = isObject(doc.validation) ? doc.validation : {};
  const approvals = num(v.min_approvals, 0);
  const review: string[] = [];
  review.push(
    approvals === 0
      ? "A contribution counts without approvals."
      : `A contribution counts (is valid) once at least ${approvals} ${plural(approvals, "peer approves", "peers approve")} it; until then it is pending and earns nothing.`,
  );
  if (v.max_flags === undefined || v.max_flags === null) {
    review.push(
      v.flag_rule === "weighted_majority"
        ? "It is flagged (invalid, earns nothing) when the members flagging it weigh more than those approving it; a tie keeps it valid."
        : "Flags alone never make it invalid.",
    );
  } else {
    const max = num(v.max_flags, 0);
    review.push(max === 0 ? "A single flag makes it invalid (flagged, earns nothing)." : `${max + 1} or more flags make it invalid (flagged, earns nothing); ${max} ${plural(max, "flag does", "flags do")} not.`);
  }
  const r = isObject(doc.rating) ? doc.rating : {};
  const minRatings = num(r.min_ratings, 1);
  review.push(`Quality: the median of peers' ratings once it has ${minRatings} ${plural(minRatings, "rating", "ratings")}; ${num(r.default, 100)}% until then.`);
  const w = isObject(doc.evaluator_weights) ? doc.evaluator_weights : {};
  if (w.method === "eigentrust") {
    const pre = Array.isArray(w.pretrusted) ? w.pretrusted.map(String).join(", ") : "";
    review.push(`Ratings and flags weigh by trust (EigenTrust) that flows from ${pre} (damping ${pct(w.damping_ppm, 150_000)}): members nobody trusted approves carry no weight.`);
    if (approvals >= 1) {
      review.push(`Its approvers must together hold at least ${pct(v.min_approver_trust_ppm, 10_000)} of the mean member trust: approvals by members nobody trusts validate nothing.`);
    }
    review.push("Members nobody trusts take no part in allocation buckets.");
  } else {
    review.push("Every member's approval, flag and rating weighs the same.");
  }
  sections.push({ title: "Peer review", lines: review });

  const buckets = Array.isArray(doc.buckets) ? doc.buckets.filter(isObject) : [];
  const base = straight ? "the income" : "what is left";
  const lines: string[] = [
    straight ? "Each bucket takes its percent of the whole income; what no bucket takes is the reserve." : "Each bucket takes its percent of what the buckets before it left; what the last one leaves is the reserve.",
  ];
  buckets.forEach((b, i) => {
    const percent = pct(b.percent_ppm);
    const leaves = straight || i === buckets.length - 1 ? "goes to the reserve" : "flows to the next bucket";
    const participants = Array.isArray(b.participants) && b.participants.length ? b.participants.map(String).join(", ") : "all members";
    let text: string;
    if (b.type === "fixed") text = `${percent} of ${base} to ${String(b.recipient)}.`;
    else if (b.type === "reimburse")
      text = `Up to ${percent} of ${base} pays back valid ${kindsInWords(b.kinds)} not yet repaid, in proportion to what each is still owed; nobody is repaid more than they are owed, and what it does not need ${leaves}.`;
    else if (b.type === "shares" && b.method === "balanced")
      text = `${percent} of ${base} by all-time points of valid ${kindsInWords(b.kinds)} (balanced back-pay): members paid less than their share of all points so far catch up first.`;
    else if (b.type === "shares") text = `${percent} of ${base} in proportion to the points valid ${kindsInWords(b.kinds)} earned in the period; if nobody earned any, it ${leaves}.`;
    else if (b.type === "allocation" && b.mechanism === "impartial")
      text = `${percent} of ${base} by the 100 points ${participants} gave each other for the period, split so that nobody's own allocation changes their own share (a member who gave nothing counts as splitting evenly).`;
    else if (b.type === "allocation") text = `${percent} of ${base} in proportion to the points ${participants} gave each other for the period; if nobody gave any, it ${leaves}.`;
    else text = `${percent} of ${base} (${String(b.type)}).`;
    lines.push(`${i + 1}. ${text}`);
  });
  if (buckets.length === 0) lines.push("No buckets: the whole income stays in the reserve.");
  sections.push({ title: "Where the income goes, bucket by bucket", lines });
  return sections;
}

/** Minor units of a non-negative decimal amount string, exactly. */
function minorUnits(text: string, decimals: number, name: string, units: Units): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  const example = `"${(2550 / 10 ** decimals).toFixed(decimals)}"`;
  if (!m) throw new Error(`${name}: "${text}" is not an amount in ${units.currency}; write it like ${example}`);
  const frac = m[2] ?? "";
  if (frac.length > decimals) throw new Error(`${name}: "${text}" has more than ${decimals} digits after the point (${units.currency}'s minor unit)`);
  const n = Number(m[1] + frac.padEnd(decimals, "0"));
  if (!Number.isSafeInteger(n)) throw new Error(`${name}: "${text}" is too large`);
  return n;
}

/** ppm of a percent string (`"5.5%"` → 55000), exactly. */
function percentPpm(text: string, name: string): number {
  const m = /^(\d+)(?:\.(\d{1,4}))?\s*%$/.exec(text.trim());
  if (!m) throw new Error(`${name}: "${text}" is not a percent; write it like "5%", "5.5%" or "33.3333%"`);
  return Number(m[1]) * 10_000 + Number((m[2] ?? "").padEnd(4, "0"));
}

/**
 * The canonical policy object of a policy as an admin typed it: rates
 * given as amount strings become minor units and a bucket's `percent`
 * becomes `percent_ppm`, exactly; everything else is left for the server
 * to check. Throws naming the field for what it cannot convert.
 */
export function canonicalPolicy(text: string, units: Units): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`the policy is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(doc)) throw new Error("a policy is a JSON object ({…})");
  for (const map of ["default_rates", "rates"]) {
    const rates = doc[map];
    if (!isObject(rates)) continue;
    for (const [key, value] of Object.entries(rates)) {
      if (typeof value === "string") rates[key] = minorUnits(value, units.decimals, `${map}.${key}`, units);
    }
  }
  if (Array.isArray(doc.buckets)) {
    doc.buckets.forEach((b, i) => {
      if (!isObject(b) || b.percent === undefined) return;
      const name = `buckets[${i}].percent`;
      const ppm = typeof b.percent === "string" ? percentPpm(b.percent, name) : typeof b.percent === "number" && Number.isInteger(b.percent) && b.percent >= 0 ? b.percent * 10_000 : NaN;
      if (Number.isNaN(ppm)) throw new Error(`${name}: write it as a string like "5%"`);
      if (b.percent_ppm !== undefined && b.percent_ppm !== ppm) throw new Error(`buckets[${i}]: percent ${String(b.percent)} is ${ppm} ppm but percent_ppm is ${String(b.percent_ppm)}`);
      delete b.percent;
      b.percent_ppm = ppm;
    });
  }
  return doc;
}
