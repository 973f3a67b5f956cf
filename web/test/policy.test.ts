// The policy in words and the exact conversion of an admin's units, on
// examples/policy.json (the policy the browser test adopts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { canonicalPolicy, describePolicy, ppmFactor, ppmPercent } from "../src/policy";

const units = { currency: "EUR", decimals: 2, locale: "en-GB" };
const example = readFileSync(resolve(import.meta.dirname, "..", "..", "examples", "policy.json"), "utf8");

test("percents and factors are exact", () => {
  assert.equal(ppmPercent(55_000, "en-GB"), "5.5%");
  assert.equal(ppmPercent(333_333, "en-GB"), "33.3333%");
  assert.equal(ppmPercent(1_000_000, "en-GB"), "100%");
  assert.equal(ppmPercent(25_000, "de-DE"), "2,5%");
  assert.equal(ppmFactor(2_000_000, "en-GB"), "×2");
  assert.equal(ppmFactor(1_200_000, "en-GB"), "×1.2");
});

test("examples/policy.json converts exactly to ppm and minor units", () => {
  const doc = canonicalPolicy(example, units) as { default_rates: Record<string, number>; rates: Record<string, number>; buckets: { percent_ppm: number; percent?: string }[] };
  assert.deepEqual(doc.default_rates, { work: 3000, use: 1250 });
  assert.deepEqual(doc.rates, { design: 3500 });
  assert.deepEqual(doc.buckets.map((b) => b.percent_ppm), [50_000, 25_000, 1_000_000, 600_000, 500_000, 500_000, 1_000_000]);
  assert.ok(doc.buckets.every((b) => b.percent === undefined));
});

test("refusals name the field", () => {
  assert.throws(() => canonicalPolicy(`{"default_rates": {"work": "30.001"}}`, units), /default_rates\.work: "30\.001" has more than 2 digits/);
  assert.throws(() => canonicalPolicy(`{"buckets": [{"type": "fixed", "percent": "five"}]}`, units), /buckets\[0\]\.percent: "five" is not a percent/);
  assert.throws(() => canonicalPolicy(`[1]`, units), /a policy is a JSON object/);
});

test("the example in words: its numbers in percent and euros", () => {
  const text = describePolicy(canonicalPolicy(example, units), units)
    .map((s) => `${s.title}\n${s.lines.join("\n")}`)
    .join("\n");
  for (const expected of [
    "work: 30.00 EUR per hour of work",
    "equipment use: 12.50 EUR per hour or unit of equipment use",
    "tagged “design”: 35.00 EUR",
    "money earns ×2 the points",
    "tagged “lead”: ×1.2 points",
    "points lose 5% for every 30 days",
    "at least 1 peer approves it",
    "2 or more flags make it invalid",
    "1. 5% of what is left to commons.",
    "2. 2.5% of what is left to ana.",
    "3. Up to 100% of what is left pays back valid expenses and money",
    "4. 60% of what is left in proportion to the points valid work and equipment use earned",
    "5. 50% of what is left in proportion to the points all members gave",
    "6. 50% of what is left by the 100 points all members gave each other for the period, split so that nobody's own",
    "7. 100% of what is left by all-time points of valid work (balanced back-pay)",
  ]) {
    assert.ok(text.includes(expected), `${JSON.stringify(expected)} in:\n${text}`);
  }
});
