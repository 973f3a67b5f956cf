// The app in a real browser (Debian's chromium, driven by playwright-core)
// against a real `coopledger serve` on 127.0.0.1 with a free port and a
// temporary data folder. ana founds the cooperative with the CLI and brings
// her CLI key into the browser; ben joins in another browser context (his
// own key, made there) and ana admits him from his invitation link; both
// log, review each other, allocate, amend, retract and audit; a refused action shows the server's message;
// the ids the browser computed are the ids the server's log holds.
// Screenshots of each screen go to web/screenshots/ (linked from the README).
//
// Needs target/debug/coopledger (or COOPLEDGER_BIN) and /usr/bin/chromium
// (or CHROMIUM); `npm run e2e`.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
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
  // A third member (the policy's impartial bucket needs three), via the CLI.
  const caiKey = cli("keygen", "cai", "--print-id").trim();
  cli("--as", "ana", "member", "admit", "cai", caiKey);
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

async function newMember(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 }, locale: "en-GB" });
  const page = await context.newPage();
  page.on("request", (r) => {
    if (!r.url().startsWith(`${url}/`)) outside.push(r.url());
  });
  return page;
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

test("two members join, log and review each other in the browser", async () => {
  const ana = await newMember();
  const ben = await newMember();

  // ana brings her CLI key file into the browser.
  await ana.goto(`${url}/#join`);
  await ana.locator("body[data-ready]").waitFor();
  await ana.fill("input[name=import-handle]", "ana");
  await ana.fill("textarea[name=keyfile]", readFileSync(join(home, "keys", "ana.key"), "utf8"));
  await ana.click("#import-key button[type=submit]");
  await status(ana, /Using ana's key/);

  // ben makes a key in his browser and gets an invitation link.
  await ben.goto(`${url}/`);
  await ben.locator("body[data-ready]").waitFor();
  await ben.fill("input[name=handle]", "ben");
  await ben.click("#make-key button[type=submit]");
  await status(ben, /A key for ben is made/);
  const link = await ben.inputValue("#invite-link");
  assert.match(link, /#admit\/ben\/[0-9a-f]{64}$/);
  await ben.screenshot({ path: join(shots, "join.png"), fullPage: true });

  // ana opens the link and admits him.
  await ana.goto(link);
  await ana.screenshot({ path: join(shots, "admit.png"), fullPage: true });
  await ana.click("#admit button[type=submit]");
  await status(ana, /Admitted ben: entry [0-9a-f]{64}.*checked/);
  const admitId = await lastId(ana);

  // Both log.
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

  // A duration nobody can read is refused before anything is signed.
  await ben.fill("input[name=quantity]", "soon");
  await ben.click("#log button[type=submit]");
  await status(ben, /Refused: "soon" is not a duration/);

  // The ids the browsers computed are the server's.
  const entries = JSON.parse(cli("--as", "ana", "--json", "entries")) as { id: string; author: string }[] | { entries: { id: string }[] };
  const ids = (Array.isArray(entries) ? entries : entries.entries).map((e) => e.id);
  for (const id of [admitId, workId, expenseId]) assert.ok(ids.includes(id), `${id} is in the server's log`);

  // ben reviews ana's expense; ana flags ben's work with a note.
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
  await ana.locator("#my-claims li").filter({ hasText: "approved by 1" }).waitFor();

  // ben sees his claim flagged.
  await ben.goto(`${url}/#log`);
  await ben.goto(`${url}/#review`);
  await ben.locator("#my-claims li").filter({ hasText: "flagged by ana" }).waitFor();
  await ben.screenshot({ path: join(shots, "my-claims.png"), fullPage: true });

  // A refused action shows the server's own message: ben is no admin.
  await ben.goto(`${url}/#admit`);
  await ben.fill("#admit input[name=handle]", "eve");
  await ben.fill("#admit input[name=key]", "11".repeat(32));
  await ben.click("#admit button[type=submit]");
  const refused = await status(ben, /^Refused: /);
  assert.doesNotMatch(refused, /PermissionDenied|permission_denied|\[\w+\]/, "the message, not a code");
  await ben.screenshot({ path: join(shots, "refused.png"), fullPage: true });
  const members = cli("--as", "ana", "member", "list");
  assert.match(members, /ben/);
  assert.doesNotMatch(members, /eve/);

  // ana audits: the first visit pins the checkpoint, the next one proves
  // the log only grew since.
  await ana.goto(`${url}/#audit`);
  await shows(ana, "#audit-verdict", /first checkpoint/);

  // ana splits her 100 points for this month; ben retracts his flagged work.
  await ana.goto(`${url}/#allocate`);
  await ana.locator("input[name=share-ben]").fill("100");
  await ana.locator("#total").filter({ hasText: "100 of 100" }).waitFor();
  await ana.screenshot({ path: join(shots, "allocate.png"), fullPage: true });
  await ana.click("#allocate button[type=submit]");
  await status(ana, /Allocated your points for \d{4}-\d{2}: entry [0-9a-f]{64}/);

  await ben.goto(`${url}/#review`);
  const mine = ben.locator("#my-claims li").filter({ hasText: "enclosure CAD" });
  await mine.locator("input[name=reason]").fill("logged twice");
  await mine.locator("button.flag").click();
  await status(ben, /Retracted your work: entry [0-9a-f]{64}/);
  await ben.locator("#my-claims li").filter({ hasText: "enclosure CAD" }).waitFor({ state: "detached" });

  // ana corrects her expense: the amendment clears ben's approval.
  await ana.goto(`${url}/#review`);
  await ana.locator("#my-claims li").filter({ hasText: "filament" }).locator("button.amend").click();
  assert.equal(await ana.inputValue("input[name=quantity]"), "25.00");
  await ana.fill("input[name=quantity]", "27.50");
  await ana.fill("input[name=note]", "filament, corrected");
  await ana.click("#log button[type=submit]");
  await status(ana, /Amended expense: entry [0-9a-f]{64}.*checked/);
  await ana.goto(`${url}/#review`);
  await shows(ana, "#my-claims li", /27\.50 EUR[\s\S]*pending: no review yet/);

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
    const paid = ((await row.locator("td.num").textContent()) ?? "").replace(/[^0-9]/g, "");
    shown[who] = BigInt(paid);
  }
  const month = await ana.inputValue("input[name=month]");
  const scenario = join(tmp, "month.json");
  cli("--as", "ana", "export", "--scenario", scenario, "--period", month, "--income", "1000.00");
  const scored = JSON.parse(execFileSync(bin, ["score", "--scenario", scenario, "--json"], { encoding: "utf8" })) as { payouts: Record<string, number> };
  assert.deepEqual(shown, Object.fromEntries(Object.entries(scored.payouts).map(([k, v]) => [k, BigInt(v)])));
  assert.ok(Object.keys(shown).length >= 3, "several members are paid");
  await shows(ana, "#why h4", new RegExp(`Why you get ${(Number(shown.ana) / 100).toFixed(2)} EUR`));
  await shows(ana, "#why-contributions", /expense 27\.50 EUR .*not validated yet/);

  // ben, made treasurer, records last month after the confirmation.
  cli("--as", "ana", "member", "grant", "ben", "treasurer");
  const now = new Date();
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
  await ben.goto(`${url}/#month`);
  await ben.fill("input[name=month]", last);
  await ben.fill("input[name=income]", "500.00");
  await ben.click("#month button[type=submit]");
  let asked = "";
  ben.once("dialog", (d) => {
    asked = d.message();
    void d.accept();
  });
  await ben.click("#record");
  await status(ben, new RegExp(`Recorded ${last}: entry [0-9a-f]{64}.*checked`));
  await ben.screenshot({ path: join(shots, "record.png"), fullPage: true });
  assert.match(asked, new RegExp(`Record ${last}: income 500\\.00 EUR, policy version 1`));
  const recorded = cli("--as", "ana", "distribution", "list");
  assert.match(recorded, new RegExp(last));
  await ben.goto(`${url}/#paid`);
  await shows(ben, "#distributions", new RegExp(`500\\.00 EUR[\\s\\S]*recorded, by ben`));
  await shows(ben, "#my-total", /You were paid [\d.,]+ EUR in total by 1 recorded distribution/);
  const [csv] = await Promise.all([ben.waitForEvent("download"), ben.click("#csv")]);
  const csvText = readFileSync((await csv.path())!, "utf8");
  assert.match(csvText, /^period_start,period_end,sequence,status,recipient,amount,currency\r\n/);
  await ben.screenshot({ path: join(shots, "paid.png"), fullPage: true });

  await ana.goto(`${url}/#audit`);
  await shows(ana, "#audit-verdict", /Consistent: the log grew from \d+ to \d+ entries/);
  await ana.screenshot({ path: join(shots, "audit.png"), fullPage: true });

  await ana.close();
  await ben.close();
  assert.deepEqual(outside, [], "the app fetches nothing from elsewhere");
});
