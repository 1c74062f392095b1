import { APIRequestContext, Page, test as base, expect } from "@playwright/test";

export { expect };
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import { simpleParser } from "mailparser";
import { dataDirs, server } from "../playwright.config";

export const PASSWORD = "correct horse battery staple";

let counter = 0;
/** A username no other test uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

/** Creates an account through the API (no browser session). */
export async function signupViaApi(request: APIRequestContext, base: string, username: string) {
  const response = await request.post(`${base}/api/auth/signup`, {
    data: { username, email: `${username}@example.com`, password: PASSWORD },
  });
  expect(response.status()).toBe(201);
  return response.json();
}

/** Signs up through the form, which logs the page in. */
export async function signupViaForm(page: Page, username: string) {
  await page.goto("/signup");
  await hydrated(page, "Sign up");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("link", { name: username })).toBeVisible();
}

/** Sets a role with the operator command, on the main or the short-lived server's database. */
export function setRole(username: string, role: string, which: "main" | "short" = "main") {
  execFileSync(server, ["set-role", username, role], { env: { ...process.env, DATA_DIR: dataDirs[which] } });
}

/** Waits until the page is hydrated: its submit button is enabled only then. */
export async function hydrated(page: Page, button: string) {
  await expect(page.getByRole("button", { name: button, exact: true })).toBeEnabled();
}

/** Logs out from the account page, and waits for the login page it leads to. */
export async function logOut(page: Page) {
  await page.goto("/account");
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(page).toHaveURL(/\/login/);
}

/** Logs in through the form. */
export async function login(page: Page, loginName: string, password = PASSWORD, next?: string) {
  await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : "/login");
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(loginName);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
}

/** Counts the refresh calls a page (or a whole context) makes. */
export function countRefreshes(target: Page | import("@playwright/test").BrowserContext) {
  const seen = { count: 0 };
  target.on("request", (request) => {
    if (request.url().endsWith("/api/auth/refresh")) seen.count += 1;
  });
  return seen;
}

/**
 * The suite's `test`: like Playwright's, but every page opened in it fails
 * the test if the app logs a console error or throws. Chromium's own
 * "Failed to load resource" lines for 4xx answers are expected (the refresh
 * tests provoke 401s on purpose) and are not app errors.
 */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ context }, use) => {
      const errors: string[] = [];
      const watch = (page: Page) => {
        page.on("console", (msg) => {
          if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
            errors.push(`${page.url()}: ${msg.text()}`);
          }
        });
        page.on("pageerror", (err) => errors.push(`${page.url()}: ${err.message}`));
      };
      context.pages().forEach(watch);
      context.on("page", watch);
      await use(errors);
      expect(errors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});

/**
 * The TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 `secret` for
 * the time step `steps` away from now. Written here, independently of the
 * server's library, so the two check each other.
 */
export function totp(secret: string, steps = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + steps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, "0");
}

/** Waits, if needed, until the current time step has at least 8 s left. */
export async function earlyInAStep() {
  const into = (Date.now() / 1000) % 30;
  if (into > 22) await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 50));
}

/**
 * The path (with its `?token=`, or whatever `marker` the link holds, and
 * its fragment) of the link in the newest mail to `address` with
 * `subject`, read from the main server's outbox folder (its default mail
 * transport), once it is there.
 */
export async function mailLink(address: string, subject: string, marker = "?token="): Promise<string> {
  const folder = `${dataDirs.main}/outbox`;
  let link: string | undefined;
  await expect
    .poll(
      async () => {
        const files = fs.existsSync(folder) ? fs.readdirSync(folder) : [];
        const found = [];
        for (const file of files) {
          const path = `${folder}/${file}`;
          const mail = await simpleParser(fs.readFileSync(path));
          const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
          if (to?.value[0]?.address === address && mail.subject === subject) {
            found.push({ at: fs.statSync(path).mtimeMs, text: mail.text ?? "" });
          }
        }
        found.sort((a, b) => a.at - b.at);
        link = found.at(-1)?.text.split(/\s+/).find((word) => word.includes(marker));
        return link !== undefined;
      },
      { message: `a mail "${subject}" to ${address}`, timeout: 10_000 },
    )
    .toBe(true);
  const url = new URL(link!);
  return url.pathname + url.search + url.hash;
}

/**
 * The code of the newest text to `number` (E.164) after `after` texts,
 * read from the main server's SMS folder (its default transport), once
 * there are more than `after`.
 */
export async function textedCode(number: string, after: number): Promise<string> {
  const folder = `${dataDirs.main}/sms`;
  let texts: { at: number; body: string }[] = [];
  await expect
    .poll(
      () => {
        const files = fs.existsSync(folder) ? fs.readdirSync(folder) : [];
        texts = files
          .map((file) => `${folder}/${file}`)
          .map((path) => ({ at: fs.statSync(path).mtimeMs, text: fs.readFileSync(path, "utf8") }))
          .filter(({ text }) => text.startsWith(`To: ${number}\n\n`))
          .map(({ at, text }) => ({ at, body: text.split("\n\n")[1] }))
          .sort((a, b) => a.at - b.at);
        return texts.length > after;
      },
      { message: `a text to ${number}`, timeout: 10_000 },
    )
    .toBe(true);
  return texts.at(-1)!.body.split(" ")[0];
}
