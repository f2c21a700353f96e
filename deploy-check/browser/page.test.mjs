// The page of public/ in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), against a running dev server:
//   BASE_URL=http://127.0.0.1:PORT SCREENSHOT_DIR=target/browser node --test deploy-check/browser/
// deploy-check/browser.sh starts the server and runs this.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const BASE_URL = process.env.BASE_URL;
assert.ok(BASE_URL, "set BASE_URL to the dev server, e.g. http://127.0.0.1:3000");
const SHOTS = resolve(process.env.SCREENSHOT_DIR ?? "target/browser");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

let context;
let profile;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), "deploy-check-chromium-"));
  // A persistent context, so that the fresh profile is ours (--user-data-dir).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1024, height: 800 },
    locale: "en-US",
    timezoneId: "UTC",
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A new tab that records console errors and uncaught exceptions. */
async function openPage(setup) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // Failed loads are reported below with their URL.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    // public/ has no favicon, so Chromium's automatic /favicon.ico is a 404
    // (on Vercel too): known, cosmetic, reported rather than failed on.
    if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") {
      errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    }
  });
  if (setup) await setup(page);
  await page.goto(BASE_URL, { waitUntil: "domcontentloaded" });
  return { page, errors };
}

const rows = (page) => page.locator("#users tr");

test("the page shows the country, 20 users, then 40 after Load more", async () => {
  // Vercel's edge adds the geolocation headers; the dev server has no edge,
  // so the test adds them to the page's /api/geo call.
  const { page, errors } = await openPage((p) =>
    p.route("**/api/geo", (route) =>
      route.continue({
        headers: { ...route.request().headers(), "x-vercel-ip-country": "de", "x-vercel-ip-city": "M%C3%BCnchen" },
      }),
    ),
  );
  await page.locator("#geo[data-country]").waitFor();
  assert.equal(await page.locator("#geo").getAttribute("data-country"), "DE");
  assert.equal(await page.locator("#geo").textContent(), "🇩🇪 München, DE");
  assert.equal(await page.locator("#geo-error").isVisible(), false);

  await page.locator("#users-status", { hasText: "20 users shown" }).waitFor();
  assert.equal(await rows(page).count(), 20);
  const first = await rows(page).first().locator("td").allTextContents();
  assert.deepEqual(first, ["Wen Brightwater", "wen.brightwater@example.com", "1/7/2025"]);
  assert.equal(await page.locator("#users-error").isVisible(), false);

  const more = page.getByRole("button", { name: "Load more" });
  assert.equal(await more.isVisible(), true);
  await more.click();
  await page.locator("#users-status", { hasText: "40 users shown" }).waitFor();
  assert.equal(await rows(page).count(), 40);
  const ids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  assert.equal(new Set(ids).size, 40, "no user twice");
  assert.deepEqual(ids, [...ids].sort(), "ids in order");
  assert.equal(await more.isVisible(), true, "100 users: more pages follow");

  await page.screenshot({ path: join(SHOTS, "page.png"), fullPage: true });
  // The style sheet declares `color-scheme: light dark`: look at both.
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: join(SHOTS, "page-dark.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("without geolocation headers the country is US", async () => {
  const { page, errors } = await openPage();
  await page.locator("#geo[data-country]").waitFor();
  assert.equal(await page.locator("#geo").textContent(), "US");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a 503 from /api/users shows a visible message", async () => {
  const { page } = await openPage((p) =>
    p.route("**/api/users*", (route) =>
      route.fulfill({
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "2" },
        body: JSON.stringify({ error: "Service temporarily unavailable" }),
      }),
    ),
  );
  const error = page.locator("#users-error");
  await error.waitFor({ state: "visible" });
  assert.equal(await error.textContent(), "Service temporarily unavailable (HTTP 503)");
  assert.equal(await error.getAttribute("role"), "alert");
  assert.equal(await rows(page).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);
  await page.screenshot({ path: join(SHOTS, "users-503.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: join(SHOTS, "users-503-dark.png"), fullPage: true });
  await page.close();
});

test("a failing Load more keeps the rows and shows the message", async () => {
  const { page } = await openPage();
  await page.locator("#users-status", { hasText: "20 users shown" }).waitFor();
  await page.route("**/api/users?cursor=*", (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: '{"error":"Service temporarily unavailable"}' }),
  );
  const more = page.getByRole("button", { name: "Load more" });
  await more.click();
  await page.locator("#users-error").waitFor({ state: "visible" });
  assert.equal(await rows(page).count(), 20);
  assert.equal(await more.isEnabled(), true, "the button can be tried again");
  await page.unroute("**/api/users?cursor=*");
  await more.click();
  await page.locator("#users-status", { hasText: "40 users shown" }).waitFor();
  assert.equal(await page.locator("#users-error").isVisible(), false, "the message goes once it works");
  await page.close();
});

test("an unreachable API shows a visible message for both sections", async () => {
  const { page } = await openPage((p) => p.route("**/api/**", (route) => route.abort("connectionrefused")));
  await page.locator("#geo-error").waitFor({ state: "visible" });
  await page.locator("#users-error").waitFor({ state: "visible" });
  assert.equal(await page.locator("#geo-error").textContent(), "The API could not be reached.");
  assert.equal(await page.locator("#users-error").textContent(), "The API could not be reached.");
  await page.screenshot({ path: join(SHOTS, "api-unreachable.png"), fullPage: true });
  await page.close();
});

test("the form adds a user with the token, and a wrong token shows the 401 message", async () => {
  const token = process.env.BROWSER_API_TOKEN;
  assert.ok(token, "set BROWSER_API_TOKEN to the dev server's API_TOKEN");
  const { page, errors } = await openPage();
  await page.locator("#users-status", { hasText: "20 users shown" }).waitFor();
  const form = page.locator("#add");
  const email = `ada-${Date.now()}@example.com`;

  await form.getByLabel("Name").fill("Ada Lovelace");
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("API token").fill("not-the-token");
  await form.getByRole("button", { name: "Add" }).click();
  const result = page.locator("#add-result");
  await result.filter({ hasText: "HTTP 401" }).waitFor();
  assert.equal(await result.textContent(), "Missing or invalid bearer token (HTTP 401)");
  assert.equal(await result.getAttribute("class"), "error");

  await form.getByLabel("API token").fill(token);
  await form.getByRole("button", { name: "Add" }).click();
  await result.filter({ hasText: "Added" }).waitFor();
  const added = /^Added Ada Lovelace \(([0-9A-Z]{26})\)\.$/.exec(await result.textContent());
  assert.ok(added, await result.textContent());
  assert.equal(await form.getByLabel("Name").inputValue(), "", "the form is cleared");
  assert.equal(await form.getByLabel("API token").inputValue(), token, "the token is kept for the next add");

  // The token lives in this tab only; the user is really stored.
  assert.deepEqual(await page.evaluate(() => [sessionStorage.getItem("apiToken"), localStorage.length]), [token, 0]);
  const stored = await page.evaluate(async (id) => (await fetch(`/api/users/${id}`)).json(), added[1]);
  assert.deepEqual({ ...stored, createdAt: "<time>" }, { id: added[1], name: "Ada Lovelace", email, createdAt: "<time>" });
  await page.screenshot({ path: join(SHOTS, "user-added.png"), fullPage: true });
  // The 401 of the first try is the one expected failure.
  assert.deepEqual(errors, [`HTTP 401 POST ${BASE_URL}/api/users`]);
  await page.close();
});
