import { APIRequestContext, BrowserContext, Page } from "@playwright/test";
import { shortURL } from "../playwright.config";
import { countRefreshes, expect, login, signupViaApi, test, uniqueName } from "./helpers";

// Access tokens on this server live 3 s; verification allows 5 s of leeway.
test.use({ baseURL: shortURL });
const UNTIL_EXPIRED = 3_000 + 5_000 + 1_500;
const TOKEN_KEY = "classboard.access_token";

/** The IndexedDB record through which tabs hand each other a fresh token. */
function handoffRecord(page: Page): Promise<[string, string] | null> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("classboard");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains("refresh")) return resolve(null);
          const get = db.transaction("refresh").objectStore("refresh").get("last");
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            db.close();
            resolve(get.result ?? null);
          };
        };
      }),
  );
}

test("after expiry an action succeeds with exactly one refresh call", async ({ page, request }) => {
  const name = uniqueName("eve");
  await signupViaApi(request, shortURL, name);
  await login(page, name, undefined, "/posts/new");
  await expect(page.getByRole("button", { name: "Publish" })).toBeEnabled();
  const refreshes = countRefreshes(page);

  await page.waitForTimeout(UNTIL_EXPIRED);
  await page.getByLabel("Title").fill("Written after expiry");
  await page.getByLabel("Body").fill("The first request fails, one refresh, one retry.");
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Written after expiry" })).toBeVisible();
  expect(refreshes.count).toBe(1);
});

test("a page that makes several calls after expiry makes one refresh", async ({ page, request }) => {
  const name = uniqueName("max");
  await signupViaApi(request, shortURL, name);
  await login(page, name, undefined, "/account");
  await expect(page.getByText("(this device)")).toBeVisible();
  const refreshes = countRefreshes(page);
  const calls: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/")) calls.push(new URL(r.url()).pathname);
  });

  await page.waitForTimeout(UNTIL_EXPIRED);
  await page.reload();
  await expect(page.getByText("(this device)")).toBeVisible();
  await expect(page.getByRole("definition").getByText(name, { exact: true })).toBeVisible();
  expect(calls.filter((c) => c === "/api/me").length).toBeGreaterThanOrEqual(2); // failed, then retried
  expect(calls.filter((c) => c === "/api/auth/sessions").length).toBeGreaterThanOrEqual(2);
  expect(refreshes.count).toBe(1);
});

/**
 * Signs up a new user, logs in to /account in one tab, then opens /account in
 * a second tab of the same browser; `prepare` runs on the second tab first.
 */
async function twoTabsOnAccount(
  context: BrowserContext,
  request: APIRequestContext,
  prefix: string,
  prepare?: (second: Page, first: Page) => Promise<void>,
) {
  const name = uniqueName(prefix);
  await signupViaApi(request, shortURL, name);
  const first = await context.newPage();
  await login(first, name, undefined, "/account");
  await expect(first.getByText("(this device)")).toBeVisible();
  const second = await context.newPage();
  await prepare?.(second, first);
  await second.goto("/account");
  await expect(second.getByText("(this device)")).toBeVisible();
  return { first, second };
}

test("two tabs reloaded together both stay logged in, with one refresh", async ({ context, request }) => {
  const { first, second } = await twoTabsOnAccount(context, request, "two");
  const refreshes = countRefreshes(context);

  await first.waitForTimeout(UNTIL_EXPIRED);
  await Promise.all([first.reload(), second.reload()]);
  for (const tab of [first, second]) {
    await expect(tab.getByText("(this device)")).toBeVisible();
    await expect(tab).toHaveURL(/\/account$/);
  }
  expect(refreshes.count).toBe(1);
});

test("a tab whose local storage lags behind another tab's refresh makes no refresh of its own", async ({ context, request }) => {
  const readToken = (tab: Page) => tab.evaluate((key) => localStorage.getItem(key), TOKEN_KEY);
  const { first, second } = await twoTabsOnAccount(context, request, "lag", async (tab, other) => {
    // Chromium shows one tab another tab's write to local storage a little
    // later; this tab never sees it, which makes that delay certain.
    await tab.addInitScript(
      ([key, stale]) => {
        const read = Storage.prototype.getItem;
        Storage.prototype.getItem = function (k: string) {
          return k === key ? stale : read.call(this, k);
        };
      },
      [TOKEN_KEY, await readToken(other)],
    );
  });
  const expired = await readToken(first);
  const refreshes = countRefreshes(context);

  await first.waitForTimeout(UNTIL_EXPIRED);
  await first.reload();
  await expect(first.getByText("(this device)")).toBeVisible();
  expect(refreshes.count).toBe(1);
  const fresh = await readToken(first);
  expect(await handoffRecord(first)).toEqual([JSON.parse(expired!), JSON.parse(fresh!)]);

  await second.reload();
  await expect(second.getByText("(this device)")).toBeVisible();
  await expect(second).toHaveURL(/\/account$/);
  expect(refreshes.count).toBe(1);

  // Logging out deletes the record, and the live token in it.
  await second.close();
  await first.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(first).toHaveURL(/\/login$/);
  await expect.poll(() => handoffRecord(first)).toBeNull();
});

test("a refresh token replayed by a thief ends the session, explained as for safety", async ({ page, request }) => {
  const name = uniqueName("vic");
  await signupViaApi(request, shortURL, name);
  await login(page, name, undefined, "/account");
  await expect(page.getByText("(this device)")).toBeVisible();
  const stolen = (await page.context().cookies()).find((c) => c.name === "refresh_token")!.value;

  // The victim's browser rotates the token it holds...
  const refreshes = countRefreshes(page);
  await page.waitForTimeout(UNTIL_EXPIRED);
  await page.reload();
  await expect(page.getByText("(this device)")).toBeVisible();
  expect(refreshes.count).toBe(1);

  // ...and after the 2 s grace window the thief replays the stolen copy.
  await page.waitForTimeout(2_500);
  const replay = await request.post(`${shortURL}/api/auth/refresh`, { data: { refresh_token: stolen } });
  expect(replay.status()).toBe(400);

  await page.reload();
  await expect(page).toHaveURL(/\/login\?next=%2Faccount/);
  await expect(page.getByRole("status").filter({ hasText: "ended for your safety" })).toBeVisible();
});

test("logging out in one tab logs out the others", async ({ context, request }) => {
  const { first, second } = await twoTabsOnAccount(context, request, "tab");

  await first.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(first).toHaveURL(/\/login$/);
  await expect(first.getByRole("status").filter({ hasText: "You are logged out." })).toBeVisible();
  await expect(second).toHaveURL(/\/login\?next=%2Faccount/);
  await expect(second.getByRole("link", { name: "Log in" })).toBeVisible();
});

test("log out everywhere also ends the session of another browser", async ({ browser, request }) => {
  const name = uniqueName("all");
  await signupViaApi(request, shortURL, name);
  const laptop = await (await browser.newContext({ baseURL: shortURL })).newPage();
  const phone = await (await browser.newContext({ baseURL: shortURL })).newPage();
  await login(laptop, name, undefined, "/account");
  await login(phone, name, undefined, "/account");
  await expect(phone.getByText("(this device)")).toBeVisible();
  await expect(laptop.getByRole("listitem").filter({ hasText: "Revoke" })).toHaveCount(2);

  await laptop.getByRole("button", { name: "Log out everywhere" }).click();
  await expect(laptop).toHaveURL(/\/login$/);
  await expect(laptop.getByText("You are logged out on every device.")).toBeVisible();

  await phone.reload();
  await expect(phone).toHaveURL(/\/login\?next=%2Faccount/);
  await expect(phone.getByText("Your session has ended. Please log in again.")).toBeVisible();
});
