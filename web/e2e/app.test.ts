// The app in a real browser (Debian's chromium, driven by playwright-core)
// against a real `coopledger serve` on 127.0.0.1 with a free port and a
// temporary data folder. ana founds the cooperative with the CLI and brings
// her CLI key into the browser; ben and cai join in browser contexts of
// their own (their own keys, made there) and ana admits them from their
// invitation links (cai's by keyboard only); the three log, review each
// other, allocate, amend, retract and audit; ana makes ben treasurer on the
// Members screen, ben records three months and voids the last; everyone
// reads the policy in words, ana adopts a new one, rotates her key, and
// suspends and reinstates cai; ben's rotation loses its receipt and is
// finished from the key kept aside; cai loses his key and ana resets it. A
// refused action shows the server's message; the ids the browser computed
// are the ids the server's log holds; the payouts, the claims' statuses
// and the earnings the browser shows are the CLI's.
// Screenshots of each screen go to web/screenshots/ (linked from the README).
//
// Needs target/debug/coopledger (or COOPLEDGER_BIN) and /usr/bin/chromium
// (or CHROMIUM); `npm run e2e`.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const repo = resolve(import.meta.dirname, "..", "..");
const bin = process.env.COOPLEDGER_BIN ? resolve(process.env.COOPLEDGER_BIN) : join(repo, "target", "debug", "coopledger");
const shots = join(repo, "web", "screenshots");
const tmp = mkdtempSync(join(tmpdir(), "coopledger-web-"));
const home = join(tmp, "home");
let server: ChildProcess;
let url = "";
let browser: Browser;
/** Every request a page made anywhere but the server: there must be none. */
const outside: string[] = [];

function cli(...args: string[]): string {
  return execFileSync(bin, ["--server", url, "--home", home, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = spawn(bin, ["serve", "--data", join(tmp, "data"), "--listen", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  url = await new Promise<string>((ok, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`the server did not start: ${seen}`)), 30_000);
    server.stderr!.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    server.on("exit", (code) => fail(new Error(`the server exited (${code}): ${seen}`)));
  });
  cli("keygen", "ana");
  cli("init", "--name", "Riverside Makers", "--currency", "EUR", "--decimals", "2");
  cli("policy", "adopt", join(repo, "examples", "policy.json"), "--yes");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

/** What the browser refused to run or apply under the page's CSP: nothing, or the app breaks it. */
const cspViolations: string[] = [];

/** What each page's confirmation dialogs asked (every one is accepted). */
const asked = new Map<Page, string[]>();

async function newMember(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 }, locale: "en-GB", acceptDownloads: true });
  const page = await context.newPage();
  page.on("request", (r) => {
    if (!r.url().startsWith(`${url}/`)) outside.push(r.url());
  });
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  asked.set(page, []);
  page.on("dialog", (d) => {
    asked.get(page)!.push(d.message());
    void d.accept();
  });
  return page;
}

function lastAsked(page: Page): string {
  return asked.get(page)!.at(-1) ?? "";
}

async function status(page: Page, expect: RegExp): Promise<string> {
  const el = page.locator("#status");
  await el.filter({ hasText: expect }).waitFor({ timeout: 15_000 }).catch(async () => {
    throw new Error(`status ${JSON.stringify(await el.textContent())} does not match ${expect}`);
  });
  return (await el.textContent()) ?? "";
}

/** Waits for `selector` to say `expect`; fails with what it says instead. */
async function shows(page: Page, selector: string, expect: RegExp): Promise<void> {
  const el = page.locator(selector);
  await el.filter({ hasText: expect }).first().waitFor({ timeout: 15_000 }).catch(async () => {
    const said = JSON.stringify(await el.allTextContents());
    throw new Error(`${selector} says ${said}, not ${expect} (status: ${await page.locator("#status").textContent()})`);
  });
}

async function lastId(page: Page): Promise<string> {
  return ((await page.locator("#last-id").textContent()) ?? "").trim();
}

/** Opens a screen afresh (by way of another, so it re-reads the log). */
async function open(page: Page, hash: string): Promise<void> {
  await page.goto(`${url}/${hash === "#join" ? "#key" : "#join"}`);
  await page.goto(`${url}/${hash}`);
}

/** Minor units in a shown amount ("1,234.50 EUR" → 123450). */
function minor(text: string | null): bigint {
  return BigInt((text ?? "").replace(/[^0-9]/g, "") || "0");
}

/** `YYYY-MM`, `back` calendar months before this one (UTC). */
function monthsAgo(back: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1)).toISOString().slice(0, 7);
}

/** The policy's word for a claim, from `coopledger explain --json`'s line. */
function expectedStatus(line: { valid: boolean; invalid?: string | null }): string {
  if (line.valid) return "valid";
  return line.invalid === "too_few_approvals" || line.invalid === "untrusted_approvers" ? "pending" : "flagged";
}

/** Checks each of `page`'s own claims shows the status `coopledger explain` gives it. */
async function statusesMatchExplain(page: Page, member: string): Promise<Record<string, string>> {
  await open(page, "#review");
  const claims = page.locator("#my-claims li.card");
  await claims.first().waitFor();
  await page.locator("#my-claims .policy-status[data-status]").first().waitFor();
  const explained = JSON.parse(cli("--as", "ana", "--json", "explain", member, "--period", monthsAgo(0), "--income", "0")) as {
    contributions: { id: string; valid: boolean; invalid?: string | null }[];
  };
  const seen: Record<string, string> = {};
  for (const li of await claims.all()) {
    const id = (await li.getAttribute("data-id")) ?? "";
    const word = (await li.locator(".policy-status").getAttribute("data-status")) ?? "";
    const line = explained.contributions.find((c) => c.id === id);
    assert.ok(line, `claim ${id} is in ${member}'s explanation`);
    assert.equal(word, expectedStatus(line), `${member}'s claim ${id}: the browser says ${word}, explain says ${JSON.stringify(line)}`);
    seen[id] = word;
  }
  return seen;
}

test("three members join, log, review each other, and run the month in the browser", async () => {
  const ana = await newMember();
  const ben = await newMember();
  const cai = await newMember();

  // ana brings her CLI key file into the browser.
  await ana.goto(`${url}/#join`);
  await ana.locator("body[data-ready]").waitFor();
  await ana.fill("input[name=import-handle]", "ana");
  await ana.fill("textarea[name=keyfile]", readFileSync(join(home, "keys", "ana.key"), "utf8"));
  await ana.click("#import-key button[type=submit]");
  await status(ana, /Using ana's key/);

  // ben and cai make keys in their browsers and get invitation links.
  const links: Record<string, string> = {};
  for (const [page, handle] of [[ben, "ben"], [cai, "cai"]] as const) {
    await page.goto(`${url}/`);
    await page.locator("body[data-ready]").waitFor();
    await page.fill("input[name=handle]", handle);
    await page.click("#make-key button[type=submit]");
    await status(page, new RegExp(`A key for ${handle} is made`));
    links[handle] = await page.inputValue("#invite-link");
    assert.match(links[handle], new RegExp(`#admit/${handle}/[0-9a-f]{64}$`));
  }
  await ben.screenshot({ path: join(shots, "join.png"), fullPage: true });

  // ana opens ben's link and admits him.
  await ana.goto(links.ben);
  await ana.screenshot({ path: join(shots, "admit.png"), fullPage: true });
  await ana.click("#admit button[type=submit]");
  await status(ana, /Admitted ben: entry [0-9a-f]{64}.*checked/);
  const admitId = await lastId(ana);

  // ...and cai from his, by keyboard only: the screen's heading has the
  // focus, Tab goes through the two fields to the button, Enter admits.
  await ana.goto(links.cai);
  await ana.locator("#admit input[name=key]").waitFor();
  for (let i = 0; i < 3; i++) await ana.keyboard.press("Tab");
  assert.equal(await ana.evaluate(() => document.activeElement?.textContent), "Admit", "Tab reaches the Admit button");
  await ana.keyboard.press("Enter");
  await status(ana, /Admitted cai: entry [0-9a-f]{64}.*checked/);
  const admitCaiId = await lastId(ana);

  // All three log.
  await ben.goto(`${url}/#log`);
  await ben.fill("input[name=quantity]", "1h30m");
  await ben.fill("input[name=tags]", "design");
  await ben.fill("input[name=note]", "enclosure CAD");
  await ben.screenshot({ path: join(shots, "log.png"), fullPage: true });
  await ben.click("#log button[type=submit]");
  await status(ben, /Logged work: entry [0-9a-f]{64}.*checked/);
  const workId = await lastId(ben);

  await ana.goto(`${url}/#log`);
  await ana.selectOption("select[name=kind]", { label: "expense" });
  await ana.fill("input[name=quantity]", "25.00");
  await ana.fill("input[name=note]", "filament");
  await ana.fill("input[name=evidence]", "https://example.org/r/4411");
  await ana.click("#log button[type=submit]");
  await status(ana, /Logged expense: entry [0-9a-f]{64}.*checked/);
  const expenseId = await lastId(ana);

  await cai.goto(`${url}/#log`);
  await cai.fill("input[name=quantity]", "2h");
  await cai.fill("input[name=note]", "workshop cleanup");
  await cai.click("#log button[type=submit]");
  await status(cai, /Logged work: entry [0-9a-f]{64}.*checked/);
  const caiWorkId = await lastId(cai);

  // A duration nobody can read is refused before anything is signed.
  await ben.fill("input[name=quantity]", "soon");
  await ben.click("#log button[type=submit]");
  await status(ben, /Refused: "soon" is not a duration/);

  // The ids the browsers computed are the server's.
  const entries = JSON.parse(cli("--as", "ana", "--json", "entries")) as { id: string; author: string }[] | { entries: { id: string }[] };
  const ids = (Array.isArray(entries) ? entries : entries.entries).map((e) => e.id);
  for (const id of [admitId, admitCaiId, workId, expenseId, caiWorkId]) assert.ok(ids.includes(id), `${id} is in the server's log`);

  // ben approves ana's expense; ana and cai flag ben's work (two flags:
  // more than the policy's max_flags of 1); ana approves cai's work.
  await ben.goto(`${url}/#review`);
  const toReview = ben.locator("#to-review li").filter({ hasText: "filament" });
  await toReview.waitFor();
  assert.match((await toReview.textContent()) ?? "", /25\.00 EUR/);
  await toReview.locator("input[name=rating]").fill("80");
  await ben.screenshot({ path: join(shots, "review.png"), fullPage: true });
  await toReview.locator("button.approve").click();
  await status(ben, /Approved ana's expense: entry [0-9a-f]{64}/);

  await ana.goto(`${url}/#review`);
  const bens = ana.locator("#to-review li").filter({ hasText: "enclosure CAD" });
  await bens.waitFor();
  await bens.locator("input[name=note]").fill("no drawing attached");
  await bens.locator("button.flag").click();
  await status(ana, /Flagged ben's work/);
  await ana.locator("#to-review li").filter({ hasText: "workshop cleanup" }).locator("button.approve").click();
  await status(ana, /Approved cai's work/);
  await ana.locator("#my-claims li").filter({ hasText: "approved by 1" }).waitFor();

  await cai.goto(`${url}/#review`);
  await cai.locator("#to-review li").filter({ hasText: "enclosure CAD" }).locator("button.flag").click();
  await status(cai, /Flagged ben's work/);

  // Each one's own claims, as the policy decides them, are what
  // `coopledger explain` (the same scoring run) says: ben's work pending
  // (no approval: the policy's first rule, before its flags count), ana's
  // expense and cai's work valid.
  assert.deepEqual(Object.values(await statusesMatchExplain(ben, "ben")), ["pending"]);
  await shows(ben, "#my-claims .policy-status", /pending: not enough approvals yet/);
  await ben.locator("#my-claims li").filter({ hasText: "flagged by ana, cai" }).waitFor();
  await ben.screenshot({ path: join(shots, "my-claims.png"), fullPage: true });
  assert.deepEqual(Object.values(await statusesMatchExplain(cai, "cai")), ["valid"]);
  assert.deepEqual(Object.values(await statusesMatchExplain(ana, "ana")), ["valid"]);

  // A refused action shows the server's own message: ben is no admin.
  await ben.goto(`${url}/#admit`);
  await ben.fill("#admit input[name=handle]", "eve");
  await ben.fill("#admit input[name=key]", "11".repeat(32));
  await ben.click("#admit button[type=submit]");
  const refused = await status(ben, /^Refused: /);
  assert.doesNotMatch(refused, /PermissionDenied|permission_denied|\[\w+\]/, "the message, not a code");
  await ben.screenshot({ path: join(shots, "refused.png"), fullPage: true });
  const members = cli("--as", "ana", "member", "list");
  assert.match(members, /cai/);
  assert.doesNotMatch(members, /eve/);

  // Members and roles: ben reads the list; ana, an admin, makes him
  // treasurer, and the server's member list says so.
  await ben.goto(`${url}/#admin`);
  await shows(ben, "#members tbody tr[data-member=ana] .roles", /admin/);
  assert.equal(await ben.locator("#member-actions").count(), 0, "no buttons for a member who is no admin");
  await ana.goto(`${url}/#admin`);
  await ana.locator("#member-actions li[data-member=ben] button", { hasText: "Grant treasurer" }).click();
  await status(ana, /Granted treasurer to ben: entry [0-9a-f]{64}.*checked/);
  assert.match(lastAsked(ana), /Make ben a treasurer\?/);
  await shows(ana, "#members tbody tr[data-member=ben] .roles", /treasurer/);
  await ana.screenshot({ path: join(shots, "admin.png"), fullPage: true });
  const listed = JSON.parse(cli("--as", "ana", "--json", "member", "list")) as { handle: string; roles: string[] }[];
  assert.ok(listed.find((m) => m.handle === "ben")?.roles.includes("treasurer"), "ListMembers shows ben as treasurer");
  // The server refuses what the rules forbid, in its words: revoking the last admin.
  await ana.locator("#member-actions li[data-member=ana] button", { hasText: "Revoke admin" }).click();
  await status(ana, /^Refused: .*last admin/);

  // The policy in words, for every member: cai (no role) reads the numbers
  // of examples/policy.json in percent and euros.
  const example = JSON.parse(readFileSync(join(repo, "examples", "policy.json"), "utf8")) as {
    default_rates: Record<string, string>;
    rates: Record<string, string>;
    kind_multiplier_ppm: Record<string, number>;
    tag_multiplier_ppm: Record<string, number>;
    decay: { interval_days: number; rate_ppm: number };
    validation: { min_approvals: number; max_flags: number };
    buckets: { type: string; percent: string; recipient?: string }[];
  };
  await cai.goto(`${url}/#policy`);
  await shows(cai, "#policy-version", /Version 1, adopted by ana/);
  const words = (await cai.locator("#policy-words").textContent()) ?? "";
  assert.ok(words.includes(`work: ${example.default_rates.work} EUR per hour`), words);
  assert.ok(words.includes(`equipment use: ${example.default_rates.use} EUR per hour or unit`), words);
  assert.ok(words.includes(`tagged “design”: ${example.rates.design} EUR`), words);
  assert.ok(words.includes(`money earns ×${example.kind_multiplier_ppm.money / 1e6} the points`), words);
  assert.ok(words.includes(`tagged “lead”: ×${example.tag_multiplier_ppm.lead / 1e6} points`), words);
  assert.ok(words.includes(`points lose ${example.decay.rate_ppm / 1e4}% for every ${example.decay.interval_days} days`), words);
  assert.ok(words.includes(`at least ${example.validation.min_approvals} peer approves it`), words);
  assert.ok(words.includes(`${example.validation.max_flags + 1} or more flags make it invalid`), words);
  const lines = await cai.locator("#policy-words li").allTextContents();
  example.buckets.forEach((b, i) => {
    const line = lines.find((l) => l.startsWith(`${i + 1}. `)) ?? "";
    assert.ok(line.includes(b.percent), `bucket ${i + 1} says ${b.percent}: ${line}`);
    if (b.recipient) assert.ok(line.includes(`to ${b.recipient}`), line);
  });
  await cai.screenshot({ path: join(shots, "policy.png"), fullPage: true });
  // The same screen at a phone's width.
  await cai.setViewportSize({ width: 390, height: 844 });
  await cai.screenshot({ path: join(shots, "policy-phone.png") });
  assert.ok(await cai.evaluate(() => document.documentElement.scrollWidth <= 390), "nothing wider than the phone");
  await cai.setViewportSize({ width: 420, height: 860 });

  // ana audits: the first visit pins the checkpoint, the next one proves
  // the log only grew since.
  await ana.goto(`${url}/#audit`);
  await shows(ana, "#audit-verdict", /first checkpoint/);

  // ana splits her 100 points for this month; ben retracts his flagged work.
  await ana.goto(`${url}/#allocate`);
  await ana.locator("input[name=share-ben]").fill("60");
  await ana.locator("input[name=share-cai]").fill("40");
  await ana.locator("#total").filter({ hasText: "100 of 100" }).waitFor();
  await ana.screenshot({ path: join(shots, "allocate.png"), fullPage: true });
  await ana.click("#allocate button[type=submit]");
  await status(ana, /Allocated your points for \d{4}-\d{2}: entry [0-9a-f]{64}/);
  await cai.goto(`${url}/#allocate`);
  await cai.locator("input[name=share-ana]").fill("100");
  await cai.click("#allocate button[type=submit]");
  await status(cai, /Allocated your points/);

  await ben.goto(`${url}/#review`);
  const mine = ben.locator("#my-claims li").filter({ hasText: "enclosure CAD" });
  await mine.locator("input[name=reason]").fill("logged twice");
  await mine.locator("button.flag").click();
  await status(ben, /Retracted your work: entry [0-9a-f]{64}/);
  await ben.locator("#my-claims li").filter({ hasText: "enclosure CAD" }).waitFor({ state: "detached" });

  // ana corrects her expense: the amendment clears ben's approval, so the
  // policy has it pending again.
  await ana.goto(`${url}/#review`);
  await ana.locator("#my-claims li").filter({ hasText: "filament" }).locator("button.amend").click();
  assert.equal(await ana.inputValue("input[name=quantity]"), "25.00");
  await ana.fill("input[name=quantity]", "27.50");
  await ana.fill("input[name=note]", "filament, corrected");
  await ana.click("#log button[type=submit]");
  await status(ana, /Amended expense: entry [0-9a-f]{64}.*checked/);
  await ana.goto(`${url}/#review`);
  await shows(ana, "#my-claims li", /27\.50 EUR[\s\S]*pending: no review yet/);
  assert.deepEqual(Object.values(await statusesMatchExplain(ana, "ana")), ["pending"]);
  await shows(ana, "#my-claims .policy-status", /pending: not enough approvals yet/);

  // The month's preview at an income of 1,000.00: the payouts by member.
  await ana.goto(`${url}/#month`);
  await ana.fill("input[name=income]", "1000.00");
  await ana.click("#month button[type=submit]");
  await shows(ana, "#payouts", /ana/);
  await ana.screenshot({ path: join(shots, "month.png"), fullPage: true });
  // What the browser shows is `coopledger score` on the exported scenario,
  // to the cent.
  const shown: Record<string, bigint> = {};
  for (const row of await ana.locator("#payouts tbody tr").all()) {
    const who = ((await row.locator("th").textContent()) ?? "").trim();
    shown[who] = minor(await row.locator("td.num").textContent());
  }
  const month = await ana.inputValue("input[name=month]");
  const scenario = join(tmp, "month.json");
  cli("--as", "ana", "export", "--scenario", scenario, "--period", month, "--income", "1000.00");
  const scored = JSON.parse(execFileSync(bin, ["score", "--scenario", scenario, "--json"], { encoding: "utf8" })) as { payouts: Record<string, number> };
  assert.deepEqual(shown, Object.fromEntries(Object.entries(scored.payouts).map(([k, v]) => [k, BigInt(v)])));
  assert.ok(Object.keys(shown).length >= 3, "several members are paid");
  await shows(ana, "#why h4", new RegExp(`Why you get ${(Number(shown.ana) / 100).toFixed(2)} EUR`));
  await shows(ana, "#why-contributions", /expense 27\.50 EUR .*not validated yet/);

  // ben, now treasurer, records the last three months, each after a
  // confirmation naming the period and the income.
  const months = [monthsAgo(3), monthsAgo(2), monthsAgo(1)];
  const incomes = ["200.00", "300.00", "500.00"];
  for (const [i, m] of months.entries()) {
    await open(ben, "#month");
    await ben.fill("input[name=month]", m);
    await ben.fill("input[name=income]", incomes[i]);
    await ben.click("#month button[type=submit]");
    await ben.click("#record");
    await status(ben, new RegExp(`Recorded ${m}: entry [0-9a-f]{64}.*checked`));
    assert.match(lastAsked(ben), new RegExp(`Record ${m}: income ${incomes[i].replace(".", "\\.")} EUR, policy version 1`));
  }
  await ben.screenshot({ path: join(shots, "record.png"), fullPage: true });
  const recorded = JSON.parse(cli("--as", "ana", "--json", "distribution", "list")) as { sequence: number; start: number; voided: unknown }[];
  assert.equal(recorded.length, 3);
  const [first, second, third] = recorded;

  // ben voids: only the latest standing distribution can be (a later one
  // counts what the ones before it paid), so only the last has a Void
  // button and the older ones say why not; it goes after a confirmation
  // naming its period and amount, is marked and no longer counted, and the
  // one before it becomes the one to void.
  const card = (d: { sequence: number }) => ben.locator(`#distributions > li[data-sequence="${d.sequence}"]`);
  const onlyLatest = /^Only the latest standing distribution \(.+\) can be voided: the ones recorded after this one count what it paid/;
  await open(ben, "#paid");
  await shows(ben, "#my-total", /by 3 recorded distribution/);
  for (const older of [first, second]) {
    assert.equal(await card(older).locator("form.void").count(), 0, `no Void form on distribution ${older.sequence}`);
    assert.match((await card(older).locator("p.void-later").textContent()) ?? "", onlyLatest);
  }
  assert.equal(await card(third).locator("p.void-later").count(), 0);
  const last = ben.locator(`#distributions > li[data-sequence="${third.sequence}"]`);
  await last.locator("input[name=void-reason]").fill("income was 550.00, not 500.00");
  await last.locator("button", { hasText: "Void it" }).click();
  await status(ben, /Voided the distribution of .*: entry [0-9a-f]{64}.*checked/);
  assert.match(lastAsked(ben), /Void the distribution of .*: income 500\.00 EUR, [\d.,]+ EUR paid\?/);
  await shows(ben, `#distributions > li[data-sequence="${third.sequence}"] .state`, /VOIDED, not counted/);
  await shows(ben, "#my-total", /by 2 recorded distribution\(s\)/);
  assert.equal(await card(third).locator("form.void").count(), 0, "a voided distribution has no Void form");
  assert.equal(await card(second).locator("form.void").count(), 1, "the one before the voided one is now the latest standing");
  assert.equal(await card(first).locator("form.void").count(), 0);
  assert.match((await card(first).locator("p.void-later").textContent()) ?? "", onlyLatest);
  await ben.screenshot({ path: join(shots, "void.png"), fullPage: true });
  const afterVoid = JSON.parse(cli("--as", "ana", "--json", "distribution", "list")) as { sequence: number; voided: unknown }[];
  assert.ok(afterVoid.find((d) => d.sequence === third.sequence)?.voided, "the server has it voided");
  const [csv] = await Promise.all([ben.waitForEvent("download"), ben.click("#csv")]);
  const csvText = readFileSync((await csv.path())!, "utf8");
  assert.match(csvText, /^period_start,period_end,sequence,status,recipient,amount,currency\r\n/);
  assert.match(csvText, /,voided,/);

  // ana's earnings over the months: the chart's numbers and its table are
  // what `coopledger history` says she was paid per standing distribution.
  await open(ana, "#paid");
  await ana.locator("#earnings tbody tr").first().waitFor();
  const history = JSON.parse(cli("--as", "ana", "--json", "history")) as { distributions: { status: string; total_minor_units: number }[] };
  const earned = history.distributions.filter((d) => d.status === "recorded").map((d) => BigInt(d.total_minor_units));
  assert.equal(earned.length, 2);
  const table = (await ana.locator("#earnings tbody td.num").allTextContents()).map(minor);
  const bars = (await ana.locator("#earnings-chart svg text.amount").allTextContents()).map(minor);
  assert.deepEqual(table, earned, "the table is her recorded payouts");
  assert.deepEqual(bars, earned, "the chart's labels are her recorded payouts");
  assert.equal(await ana.locator("#earnings-chart svg rect").count(), 2);
  await shows(ana, "#my-total", new RegExp(`You were paid ${(Number(earned[0] + earned[1]) / 100).toFixed(2)} EUR in total by 2`));
  await ana.locator("#earnings-chart").screenshot({ path: join(shots, "earnings.png") });
  // cai, no treasurer, reads the same list without the void buttons.
  await open(cai, "#paid");
  await cai.locator("#earnings tbody tr").first().waitFor();
  assert.equal(await cai.locator("form.void").count(), 0);
  await cai.screenshot({ path: join(shots, "paid.png"), fullPage: true });

  // ben flags cai's work, which ana approved: one flag, valid by the
  // policy of version 1 (up to one flag tolerated)...
  await ben.goto(`${url}/#review`);
  await ben.locator("#to-review li").filter({ hasText: "workshop cleanup" }).locator("button.flag").click();
  await status(ben, /Flagged cai's work/);
  assert.deepEqual(Object.values(await statusesMatchExplain(cai, "cai")), ["valid"]);

  // ana adopts a new policy: a draft the server refuses (straight mode
  // whose buckets take more than the income) shows its words; then one
  // with a new work rate, written in euros, shown in words before signing.
  await open(ana, "#policy");
  const draft = ana.locator("textarea[name=policy]");
  await draft.waitFor();
  const adopted = JSON.parse(await draft.inputValue()) as Record<string, unknown> & { default_rates: Record<string, unknown> };
  await draft.fill(JSON.stringify({ ...adopted, mode: "straight" }, null, 2));
  await ana.click("#adopt");
  await status(ana, /^Refused: .*straight/);
  adopted.default_rates.work = "32.00";
  (adopted.validation as Record<string, number>).max_flags = 0;
  await draft.fill(JSON.stringify(adopted, null, 2));
  await ana.click("#show-draft");
  await shows(ana, "#draft-policy", /work: 32\.00 EUR per hour of work/);
  await shows(ana, "#draft-policy", /A single flag makes it invalid/);
  // A what-if of the draft on this month, nothing signed: what `coopledger
  // shares --draft` says, to the cent.
  await ana.locator("#adopt-policy summary", { hasText: "Try it on a month" }).click();
  await ana.fill("input[name=draft-income]", "1000.00");
  await ana.click("#try-draft");
  await ana.locator("#draft-payouts tbody tr").first().waitFor();
  const draftFile = join(tmp, "draft.json");
  writeFileSync(draftFile, JSON.stringify(adopted));
  const draftScored = JSON.parse(cli("--as", "ana", "--json", "shares", "--period", monthsAgo(0), "--income", "1000.00", "--draft", draftFile)) as
    | { payouts: Record<string, number> }
    | { report: { payouts: Record<string, number> } };
  const draftPayouts = "payouts" in draftScored ? draftScored.payouts : draftScored.report.payouts;
  const draftShown: Record<string, bigint> = {};
  for (const row of await ana.locator("#draft-payouts tbody tr[data-member]").all()) {
    const paid = minor(await row.locator("td.draft").textContent());
    if (paid > 0n) draftShown[(await row.getAttribute("data-member")) ?? ""] = paid;
  }
  assert.deepEqual(draftShown, Object.fromEntries(Object.entries(draftPayouts).map(([k, v]) => [k, BigInt(v)])));
  assert.ok(Object.keys(draftShown).length >= 3, "the draft pays several members");
  await ana.screenshot({ path: join(shots, "policy-adopt.png"), fullPage: true });
  await ana.click("#adopt");
  await status(ana, /Adopted the new policy: entry [0-9a-f]{64}.*checked/);
  await shows(ana, "#policy-version", /Version 2, adopted by ana/);
  await shows(ana, "#policy-words", /work: 32\.00 EUR per hour of work/);
  // ...and flagged by version 2, which tolerates no flag.
  assert.deepEqual(Object.values(await statusesMatchExplain(cai, "cai")), ["flagged"]);
  await shows(cai, "#my-claims .policy-status", /flagged: more flags than the policy tolerates/);
  await cai.screenshot({ path: join(shots, "claim-status.png"), fullPage: true });
  const v2 = JSON.parse(cli("--as", "ana", "--json", "policy", "show")) as { default_rates: Record<string, number> } | { policy: { default_rates: Record<string, number> } };
  const rates = "default_rates" in v2 ? v2.default_rates : v2.policy.default_rates;
  assert.equal(rates.work, 3200, "the adopted policy holds the rate in minor units");

  await ana.goto(`${url}/#audit`);
  await shows(ana, "#audit-verdict", /Consistent: the log grew from \d+ to \d+ entries/);
  await ana.screenshot({ path: join(shots, "audit.png"), fullPage: true });

  // ana rotates her key: the old key signs the change, the browser keeps
  // the new one (and offers its key file once); the old key file is
  // refused from then on, the new key's entries are accepted.
  await ana.goto(`${url}/#key`);
  const before = (await ana.locator("#my-key").textContent()) ?? "";
  await ana.click("#rotate");
  await status(ana, /Rotated ana's key: the old one signs nothing from now on: entry [0-9a-f]{64}.*checked/);
  const rotateId = await lastId(ana);
  const after = (await ana.locator("#my-key").textContent()) ?? "";
  assert.notEqual(after, before);
  const [keyFile] = await Promise.all([ana.waitForEvent("download"), ana.click("#save-key")]);
  const newKey = readFileSync((await keyFile.path())!, "utf8");
  assert.match(newKey, /^[0-9a-f]{64}\n$/);
  await ana.screenshot({ path: join(shots, "rotate.png"), fullPage: true });
  assert.throws(() => execFileSync(bin, ["--server", url, "--home", home, "--as", "ana", "log", "work", "30m", "--note", "old key"], { encoding: "utf8", stdio: "pipe" }), (e: Error & { stderr?: string }) => {
    assert.match(String(e.stderr), /rotated out/);
    return true;
  });
  await ana.goto(`${url}/#log`);
  await ana.fill("input[name=quantity]", "45m");
  await ana.fill("input[name=note]", "signed with the new key");
  await ana.click("#log button[type=submit]");
  await status(ana, /Logged work: entry [0-9a-f]{64}.*checked/);
  const newKeyId = await lastId(ana);
  writeFileSync(join(home, "keys", "ana.key"), newKey, { mode: 0o600 });
  const final = JSON.parse(cli("--as", "ana", "--json", "entries")) as { id: string }[] | { entries: { id: string }[] };
  const finalIds = (Array.isArray(final) ? final : final.entries).map((e) => e.id);
  for (const id of [rotateId, newKeyId]) assert.ok(finalIds.includes(id), `${id} is in the server's log`);
  const anaNow = (JSON.parse(cli("--as", "ana", "--json", "member", "list")) as { handle: string; public_key: string; retired_keys: string[] }[]).find((m) => m.handle === "ana");
  assert.equal(anaNow?.public_key, after.trim());
  assert.deepEqual(anaNow?.retired_keys, [before.trim()]);

  // ana suspends cai (his key then signs nothing) and reinstates him.
  await ana.goto(`${url}/#admin`);
  const caiActions = ana.locator("#member-actions li[data-member=cai]");
  await caiActions.locator("input[name=reason]").fill("laptop stolen");
  await caiActions.locator("button", { hasText: "Suspend" }).click();
  await status(ana, /Suspended cai: entry [0-9a-f]{64}.*checked/);
  assert.match(lastAsked(ana), /Suspend cai\?/);
  await shows(ana, "#members tbody tr[data-member=cai] .state", /suspended/);
  await cai.goto(`${url}/#log`);
  await cai.fill("input[name=quantity]", "1h");
  await cai.click("#log button[type=submit]");
  await status(cai, /^Refused: .*cai is suspended/);
  await ana.locator("#member-actions li[data-member=cai] button", { hasText: "Reinstate" }).click();
  await status(ana, /Reinstated cai: entry [0-9a-f]{64}.*checked/);
  await shows(ana, "#members tbody tr[data-member=cai] .state", /active/);
  await cai.click("#log button[type=submit]");
  await status(cai, /Logged work: entry [0-9a-f]{64}.*checked/);

  // ben rotates his key, and the connection drops with the server's
  // receipt: the server took the rotation, the browser never heard. It
  // kept the new key aside, and finishing the rotation signs in with it.
  await ben.goto(`${url}/#key`);
  const benBefore = ((await ben.locator("#my-key").textContent()) ?? "").trim();
  await ben.route("**/coopledger.v1.Ledger/Submit", async (r) => {
    await r.fetch();
    await r.abort("connectionreset");
  });
  await ben.click("#rotate");
  await status(ben, /^No answer from the server/);
  await ben.unroute("**/coopledger.v1.Ledger/Submit");
  const benServer = () => (JSON.parse(cli("--as", "ana", "--json", "member", "list")) as { handle: string; public_key: string }[]).find((m) => m.handle === "ben")?.public_key;
  assert.notEqual(benServer(), benBefore, "the server took the rotation");
  await open(ben, "#key");
  await ben.locator("button", { hasText: "Use the new key" }).click();
  await shows(ben, "#my-key", new RegExp(benServer() ?? "no key"));
  // The key file offered now is the new key's (this page made it).
  const [benFile] = await Promise.all([ben.waitForEvent("download"), ben.click("#save-key")]);
  const benSeed = readFileSync((await benFile.path())!, "utf8").trim();
  writeFileSync(join(home, "keys", "ben.key"), `${benSeed}\n`, { mode: 0o600 });
  assert.match(cli("--as", "ben", "member", "list"), /ben/, "the CLI reads with ben's new key file");
  await ben.goto(`${url}/#log`);
  await ben.fill("input[name=quantity]", "20m");
  await ben.click("#log button[type=submit]");
  await status(ben, /Logged work: entry [0-9a-f]{64}.*checked/);

  // cai loses his key (the browser forgets it), makes a new one and sends
  // its link; admitting him again is refused in the server's words, and ana
  // resets his key to the new one instead.
  await cai.goto(`${url}/#key`);
  await cai.locator("button", { hasText: "Forget this key" }).click();
  await cai.locator("#make-key").waitFor();
  await cai.fill("input[name=handle]", "cai");
  await cai.click("#make-key button[type=submit]");
  await status(cai, /A key for cai is made/);
  const caiAgain = await cai.inputValue("#invite-link");
  await ana.goto(caiAgain);
  await ana.click("#admit button[type=submit]");
  await status(ana, /^Refused: .*cai.*already a member/);
  await ana.locator("#admit summary").click();
  await ana.fill("input[name=reset-reason]", "browser storage wiped");
  await ana.click("#reset-key");
  await status(ana, /Reset cai's key: entry [0-9a-f]{64}.*checked/);
  assert.match(lastAsked(ana), /Reset cai's key to [0-9a-f]{12}…\?/);
  await ana.screenshot({ path: join(shots, "reset-key.png"), fullPage: true });
  await cai.goto(`${url}/#log`);
  await cai.fill("input[name=quantity]", "15m");
  await cai.click("#log button[type=submit]");
  await status(cai, /Logged work: entry [0-9a-f]{64}.*checked/);

  await ana.close();
  await ben.close();
  await cai.close();
  assert.deepEqual(outside, [], "the app fetches nothing from elsewhere");
  assert.deepEqual(cspViolations, [], "nothing the app does breaks its Content-Security-Policy");
});
