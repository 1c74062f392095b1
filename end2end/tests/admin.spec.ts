import { APIRequestContext, Page } from "@playwright/test";
import { PASSWORD, expect, hydrated, login, setRole, signupViaApi, signupViaForm, test, uniqueName } from "./helpers";

/** An admin, logged in on the page, and the account they will manage. */
async function adminAndTarget(page: Page, request: APIRequestContext, baseURL: string) {
  const admin = uniqueName("root");
  const target = uniqueName("ada");
  await signupViaApi(request, baseURL, admin);
  setRole(admin, "admin");
  await signupViaApi(request, baseURL, target);
  // A failed sign-in, for the target's events to show.
  await request.post(`${baseURL}/api/auth/login`, { data: { login: target, password: "not the password" } });
  await login(page, admin);
  await expect(page.getByRole("link", { name: admin })).toBeVisible();
  return { admin, target };
}

test("an admin finds an account, reads its events, locks and unlocks it", async ({ page, request, baseURL }) => {
  const { target } = await adminAndTarget(page, request, baseURL!);
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Admin", level: 1 })).toBeVisible();
  await expect(page).toHaveTitle("Admin · Classroom Board");

  await page.getByLabel("Find accounts by the start of their username or email").fill(target.slice(0, 6).toUpperCase());
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.getByRole("row").filter({ hasText: target });
  await expect(row).toHaveCount(1);
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();

  await row.getByRole("button", { name: `Manage ${target}` }).click();
  const manage = page.getByRole("region", { name: `Manage ${target}` });
  await expect(manage.getByText("Failed sign-in")).toBeVisible();
  await expect(manage.getByText("Account created")).toBeVisible();

  // Locking asks first; cancelling changes nothing.
  await manage.getByRole("button", { name: "Lock account" }).click();
  const dialog = manage.getByRole("alertdialog");
  await expect(dialog).toContainText("cannot sign in until it is unlocked");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();

  // The first action asks the admin to confirm it is them (an admin's
  // token alone changes nothing); the next ones, within the window, do not.
  await manage.getByRole("button", { name: "Lock account" }).click();
  await manage.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  const proof = manage.getByRole("dialog", { name: "Confirm it's you" });
  await proof.getByLabel("Current password").fill(PASSWORD);
  await proof.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: `${target}'s account is locked.` })).toBeVisible();
  await expect(proof).toHaveCount(0);
  await expect(row.getByRole("cell", { name: "locked" })).toBeVisible();
  await expect(manage.getByText("Account locked by an admin")).toBeVisible();

  // The locked account cannot sign in, and is told why.
  const refused = await request.post(`${baseURL}/api/auth/login`, { data: { login: target, password: PASSWORD } });
  expect(refused.status()).toBe(403);

  await manage.getByRole("button", { name: "Unlock account" }).click();
  await manage.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByRole("status").filter({ hasText: `${target}'s account is unlocked.` })).toBeVisible();
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();
  const allowed = await request.post(`${baseURL}/api/auth/login`, { data: { login: target, password: PASSWORD } });
  expect(allowed.status()).toBe(200);
});

test("the console searches as the admin types, and shows only the newest search's answer", async ({ page, request, baseURL }) => {
  const { target } = await adminAndTarget(page, request, baseURL!);
  // Another account that the early search finds, whatever ran before.
  await signupViaApi(request, baseURL!, uniqueName("ada"));
  await page.goto("/admin");
  await expect(page.getByRole("button", { name: "Search" })).toBeEnabled();
  // The answer to the search for the first letters is held back until the
  // answer to the full name has been shown.
  const early = target.slice(0, 3);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/api\/admin\/users\?/, async (route) => {
    if (new URL(route.request().url()).searchParams.get("q") === early) await held;
    await route.continue();
  });
  const box = page.getByLabel("Find accounts by the start of their username or email");
  const first = page.waitForRequest((r) => new URL(r.url()).searchParams.get("q") === early);
  await box.fill(early);
  await first;
  await box.fill(target);
  const rows = page.getByRole("row");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText(target);
  // Now the older answer arrives: it is not shown.
  const late = page.waitForResponse((r) => new URL(r.url()).searchParams.get("q") === early);
  release();
  expect((await late).status()).toBe(200);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText(target);
});

test("a failure is explained: an admin cannot lock their own account", async ({ page, request, baseURL }) => {
  const { admin } = await adminAndTarget(page, request, baseURL!);
  await page.goto("/admin");
  await page.getByLabel("Find accounts by the start of their username or email").fill(admin);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: `Manage ${admin}` }).click();
  const manage = page.getByRole("region", { name: `Manage ${admin}` });
  await manage.getByRole("button", { name: "Lock account" }).click();
  await manage.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "You cannot lock your own account." })).toBeVisible();
});

test("an admin registers an app, is shown its secret once, replaces it and removes the app", async ({ page, request, baseURL }) => {
  await adminAndTarget(page, request, baseURL!);
  await page.goto("/admin");
  const apps = page.getByRole("region", { name: "Apps" });
  const appName = uniqueName("Timetable");
  await apps.getByText("Register an app").click();
  await apps.getByLabel("Name, as people will see it").fill(appName);
  await apps.getByLabel("Addresses it returns people to").fill("https://timetable.example/callback");
  await apps.getByRole("checkbox", { name: "grades:read" }).check();
  await apps.getByRole("button", { name: "Register" }).click();
  // A change to the register of apps takes a proof of presence.
  const proof = apps.getByRole("dialog", { name: "Confirm it's you" });
  await proof.getByLabel("Current password").fill(PASSWORD);
  await proof.getByRole("button", { name: "Confirm", exact: true }).click();

  const shown = apps.locator(".secret-once");
  await expect(shown).toContainText(`${appName} is ready`);
  const secret = (await shown.locator("code.secret").textContent())!;
  expect(secret.length).toBeGreaterThanOrEqual(40);
  await shown.getByRole("button", { name: "Done" }).click();
  await expect(apps.locator(".secret-once")).toHaveCount(0);
  const item = apps.getByRole("listitem").filter({ hasText: appName });
  await expect(item).toContainText("openid profile email grades:read");
  await expect(item).toContainText("https://timetable.example/callback");
  await expect(page.getByText(secret)).toHaveCount(0);

  // A refused registration says why, and registers nothing.
  await apps.getByLabel("Name, as people will see it").fill(uniqueName("Broken"));
  await apps.getByLabel("Addresses it returns people to").fill("http://evil.example/cb");
  await apps.getByRole("button", { name: "Register" }).click();
  await expect(apps.getByRole("alert").filter({ hasText: "http only on localhost" })).toBeVisible();

  await item.getByRole("button", { name: "Replace secret" }).click();
  await item.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  const replaced = (await apps.locator(".secret-once code.secret").textContent())!;
  expect(replaced).not.toBe(secret);
  await apps.locator(".secret-once").getByRole("button", { name: "Done" }).click();

  await item.getByRole("button", { name: "Remove" }).click();
  await expect(item.getByRole("alertdialog")).toContainText("signed out of it");
  await item.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  await expect(apps.getByRole("status").filter({ hasText: `${appName} is removed.` })).toBeVisible();
  await expect(apps.getByRole("listitem").filter({ hasText: appName })).toHaveCount(0);
});

test("to anyone but an admin, /admin is the not-found page", async ({ page, request, baseURL }) => {
  const response = await page.goto("/admin");
  expect(response!.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  const student = uniqueName("student");
  await signupViaApi(request, baseURL!, student);
  await login(page, student);
  await expect(page.getByRole("link", { name: student })).toBeVisible();
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page).toHaveTitle("Page not found · Classroom Board");
  await expect(page.getByRole("heading", { name: "Admin" })).toHaveCount(0);
});

test("/account shows recent activity, with this session marked", async ({ page }) => {
  const name = uniqueName("eve");
  await signupViaForm(page, name);
  await page.goto("/account");
  await page.getByRole("button", { name: "Show recent activity" }).click();
  const activity = page.getByRole("region", { name: "Recent activity" });
  await expect(activity.getByText("Account created")).toBeVisible();
  const signIn = activity.getByRole("listitem").filter({ hasText: "Signed in" });
  await expect(signIn).toContainText("(this session)");
  await expect(signIn).toContainText("Linux");
  await expect(signIn).toContainText("127.0.0.1");
  // The sessions list names the device the same way.
  await expect(page.locator(".sessions .device").first()).toContainText("Linux");
});

test("someone already logged in is told so on /login and /signup", async ({ page }) => {
  const name = uniqueName("zoe");
  await signupViaForm(page, name);
  for (const path of ["/login", "/signup"]) {
    await page.goto(path);
    const told = page.getByText("You are logged in.");
    await expect(told).toBeVisible();
    await expect(page.getByRole("link", { name })).toBeVisible();
    await expect(told.getByRole("link", { name: "Go to your account" })).toBeVisible();
    await expect(page.getByLabel("Password", { exact: true })).toBeHidden();
  }
  await page.getByRole("link", { name: "Go to your account" }).click();
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(page).toHaveURL(/\/login/);
  await hydrated(page, "Log in");
  await expect(page.getByLabel("Username or email")).toBeVisible();
  await expect(page.getByText("You are logged in.")).toBeHidden();
});
