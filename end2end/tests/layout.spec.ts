// Every page at a laptop's width and at a phone's, with the content a real
// visit shows: nothing may overflow the viewport sideways, and no table
// cell may wrap inside a word. A screenshot of each page at each width is
// written to end2end/screenshots/ (or $E2E_SCREENSHOTS) for a reviewer.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { APIRequestContext, Page } from "@playwright/test";
import { dataDirs, server, baseURL } from "../playwright.config";
import { PASSWORD, expect, hydrated, login, setRole, signupViaApi, test, uniqueName } from "./helpers";

const WIDTHS = [
  { name: "laptop", width: 1280, height: 900 },
  { name: "phone", width: 390, height: 844 },
];
const SHOTS = process.env.E2E_SCREENSHOTS ?? path.resolve(__dirname, "../screenshots");

/**
 * What is wrong with the page's layout at its present width: the document
 * wider than the viewport, and every word of a table cell that the browser
 * laid out on more than one line.
 */
async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
      const wide = [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
        .slice(0, 3)
        .map((e) => `<${e.tagName.toLowerCase()} class="${e.className}">`);
      problems.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px viewport: ${wide.join(", ")}`);
    }
    for (const cell of document.querySelectorAll("td, th")) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent ?? "";
        for (const word of text.matchAll(/\S+/g)) {
          const range = document.createRange();
          range.setStart(node, word.index!);
          range.setEnd(node, word.index! + word[0].length);
          const lines = new Set(
            [...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)),
          );
          if (lines.size > 1) problems.push(`"${word[0]}" is broken across ${lines.size} lines in a table cell`);
        }
      }
    }
    return problems;
  });
}

/** Checks the page as it stands at both widths, and saves the screenshots. */
async function look(page: Page, name: string) {
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    // Layout is done by the next frame.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    fs.mkdirSync(path.join(SHOTS, size.name), { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, size.name, `${name}.png`), fullPage: true });
    expect(await layoutProblems(page), `${name} at ${size.width} px`).toEqual([]);
  }
  await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
}

async function tokenOf(request: APIRequestContext, name: string): Promise<string> {
  const response = await request.post(`${baseURL}/api/auth/login`, { data: { login: name, password: PASSWORD } });
  expect(response.status()).toBe(200);
  return (await response.json()).access_token;
}

function registerApp(...args: string[]): { id: string; secret: string } {
  const said = execFileSync(server, ["clients", "add", "School library", ...args], {
    env: { ...process.env, DATA_DIR: dataDirs.main, RUST_LOG: "warn" },
  }).toString();
  const value = (label: string) => said.match(new RegExp(`^${label}: (\\S+)$`, "m"))![1];
  return { id: value("client_id"), secret: value("client_secret") };
}

test("the pages a visitor sees fit a laptop and a phone", async ({ page, request }) => {
  const author = uniqueName("writer");
  await signupViaApi(request, baseURL, author);
  const posted = await request.post(`${baseURL}/api/posts`, {
    headers: { authorization: `Bearer ${await tokenOf(request, author)}` },
    data: { title: "Field trip to the observatory", body: "Bring a warm coat.\nWe leave at eight." },
  });
  expect(posted.status()).toBe(201);
  const post = (await posted.json()).post;

  await page.goto("/");
  await expect(page.getByText("Field trip to the observatory").first()).toBeVisible();
  await look(page, "home");
  await page.goto(`/posts/${post.id}`);
  await expect(page.getByText("Bring a warm coat.")).toBeVisible();
  await look(page, "post");
  for (const [at, button, name] of [
    ["/login", "Log in", "login"],
    ["/login/code", "Email me a code", "login-code"],
    ["/signup", "Sign up", "signup"],
    ["/forgot-password", "Send the link", "forgot-password"],
    ["/reset-password?token=not-a-real-token", "Set the new password", "reset-password"],
  ]) {
    await page.goto(at);
    await hydrated(page, button);
    await look(page, name);
  }
  await page.goto("/verify-email");
  await hydrated(page, "Confirm my address");
  await look(page, "verify-email");
  await page.goto("/no-such-page");
  await look(page, "not-found");
  // The pages an app's request lands on when it cannot be followed.
  await page.goto("/authorize?problem=unknown_redirect_uri");
  await look(page, "authorize-problem");
  await page.goto("/logout?problem=unknown_app");
  await look(page, "logout-problem");
});

test("a student's and a teacher's pages fit a laptop and a phone", async ({ browser, page, request }) => {
  const teacher = uniqueName("teacher");
  const student = uniqueName("student");
  await signupViaApi(request, baseURL, teacher);
  await signupViaApi(request, baseURL, student);
  setRole(teacher, "teacher");
  const token = await tokenOf(request, teacher);
  for (const [course, grade] of [["Astronomy", "A"], ["History of the Mediterranean world", "B+"]]) {
    const given = await request.post(`${baseURL}/api/grades`, {
      headers: { authorization: `Bearer ${token}` },
      data: { student, course, grade },
    });
    expect(given.status()).toBe(201);
  }

  await login(page, student, undefined, "/grades");
  await expect(page.getByRole("cell", { name: "Astronomy" })).toBeVisible();
  await look(page, "grades-student");
  await page.goto("/posts/new");
  await hydrated(page, "Publish");
  await look(page, "new-post");
  await page.goto("/account");
  await expect(page.getByRole("button", { name: "Log out", exact: true })).toBeVisible();
  await look(page, "account");
  // Every section opened, as someone reading the whole page sees it.
  for (const button of [
    "Change email, password or account",
    "Set up two-step sign-in",
    "Manage passkeys",
    "Show apps with access",
    "Show recent activity",
  ]) {
    await page.getByRole("button", { name: button }).click();
    await expect(page.getByRole("button", { name: button })).toHaveCount(0);
  }
  await expect(page.getByText("Signed in", { exact: false }).first()).toBeVisible();
  await look(page, "account-open");

  const teacherPage = await (await browser.newContext()).newPage();
  await login(teacherPage, teacher, undefined, "/grades");
  await expect(teacherPage.getByRole("cell", { name: "Astronomy" })).toBeVisible();
  await hydrated(teacherPage, "Assign");
  await look(teacherPage, "grades-teacher");
  await teacherPage.context().close();
});

test("the admin console and the apps' pages fit a laptop and a phone", async ({ page, request }) => {
  // Three accounts that one search finds.
  const prefix = uniqueName("wide");
  const admin = `${prefix}root`;
  await signupViaApi(request, baseURL, admin);
  setRole(admin, "admin");
  await signupViaApi(request, baseURL, `${prefix}ada`);
  await signupViaApi(request, baseURL, `${prefix}grace`);
  setRole(`${prefix}grace`, "teacher");
  const app = registerApp("--redirect-uri", "https://library.example/callback", "--scope", "openid profile email grades:read");
  const device = registerApp("--scope", "openid profile", "--grant", "device_code");

  await login(page, admin);
  await expect(page.getByRole("link", { name: admin })).toBeVisible();
  await page.goto("/admin");
  // Typing searches by itself, after a pause.
  await page.getByLabel("Find accounts by the start of their username or email").fill(prefix);
  await expect(page.getByRole("row")).toHaveCount(4);
  await expect(page.getByRole("row").filter({ hasText: admin }).getByRole("cell").nth(5)).not.toHaveText("never");
  await look(page, "admin");
  // On a phone each account is a card: its cells one under the other.
  await page.setViewportSize({ width: 390, height: 844 });
  const card = page.getByRole("row").filter({ hasText: `${prefix}ada` });
  const [who, role] = [await card.getByRole("cell").nth(0).boundingBox(), await card.getByRole("cell").nth(1).boundingBox()];
  expect(role!.y).toBeGreaterThanOrEqual(who!.y + who!.height - 1);
  expect(role!.x).toBeLessThan(who!.x + 1);
  await page.setViewportSize({ width: 1280, height: 900 });
  // On a laptop they are side by side.
  const [wide, beside] = [await card.getByRole("cell").nth(0).boundingBox(), await card.getByRole("cell").nth(1).boundingBox()];
  expect(beside!.x).toBeGreaterThan(wide!.x + wide!.width - 1);
  await page.getByRole("button", { name: `Manage ${prefix}ada` }).click();
  await expect(page.getByRole("region", { name: `Manage ${prefix}ada` }).getByText("Account created")).toBeVisible();
  await look(page, "admin-manage");

  // An app's consent page.
  const consent = new URL("/oauth/authorize", baseURL);
  for (const [key, value] of Object.entries({
    response_type: "code",
    client_id: app.id,
    redirect_uri: "https://library.example/callback",
    scope: "openid profile email grades:read",
    code_challenge: "E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
    state: "s",
  })) {
    consent.searchParams.set(key, value);
  }
  await page.goto(consent.href);
  await expect(page.getByText("See your grades")).toBeVisible();
  await look(page, "consent");
  await page.route("https://library.example/**", (route) => route.fulfill({ status: 200, body: "back at the app" }));
  await page.getByRole("button", { name: "Allow" }).click();
  await expect(page).toHaveURL(/library\.example/);

  // The device page, with the app that asks shown.
  const started = await request.post(`${baseURL}/oauth/device_authorization`, {
    headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString("base64")}` },
    form: { scope: "openid profile" },
  });
  expect(started.status()).toBe(200);
  const { user_code } = await started.json();
  await page.goto("/device");
  await hydrated(page, "Continue");
  await look(page, "device");
  await page.getByLabel("Code").fill(user_code);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("See your username")).toBeVisible();
  await look(page, "device-consent");

  // Apps with access, on the account page.
  await page.goto("/account");
  await page.getByRole("button", { name: "Show apps with access" }).click();
  await expect(page.getByText("School library")).toBeVisible();
  await look(page, "account-apps");
});
