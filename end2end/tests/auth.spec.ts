import { PASSWORD, expect, hydrated, login, signupViaApi, test, uniqueName } from "./helpers";

test("signup refuses a common password, then accepts a good one and logs in", async ({ page }) => {
  const name = uniqueName("sam");
  await page.goto("/signup");
  await hydrated(page, "Sign up");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Email").fill(`${name}@example.com`);
  const password = page.getByLabel("Password", { exact: true });

  // Too short: caught in the browser, before any request, next to the field.
  await password.fill("short");
  await expect(page.getByText("Too short: 5 of at least 15 characters.")).toBeVisible();
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByText("Password must be at least 15 characters.")).toBeVisible();

  // Long enough but on the common-password list: refused by the server, shown at the field.
  await password.fill("1qaz2wsx3edc4rfv");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByText("This password is on a list of common or breached passwords")).toBeVisible();
  await expect(password).toHaveAttribute("aria-invalid", "true");

  await password.fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("link", { name })).toBeVisible();
  await expect(page.getByRole("link", { name: "Log in" })).toHaveCount(0);
});

test("login works by username and by email; a wrong password is explained", async ({ page, request, baseURL }) => {
  const name = uniqueName("lee");
  await signupViaApi(request, baseURL!, name);

  await login(page, name, "not the right password at all");
  await expect(page.getByRole("alert")).toHaveText("The username, email or password is not correct.");

  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  await page.context().clearCookies();
  await page.evaluate(() => localStorage.clear());
  await login(page, `${name}@example.com`.toUpperCase());
  await expect(page.getByRole("link", { name })).toBeVisible();
});

test("login returns to the page that asked for it, and only within the site", async ({ page, request, baseURL }) => {
  const name = uniqueName("nia");
  await signupViaApi(request, baseURL!, name);
  await page.goto("/grades");
  await expect(page).toHaveURL(/\/login\?next=%2Fgrades/);
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page).toHaveURL(/\/grades$/);
  await expect(page.getByRole("heading", { name: "Your grades" })).toBeVisible();

  await page.context().clearCookies();
  await page.evaluate(() => localStorage.clear());
  await login(page, name, PASSWORD, "//evil.example/phish");
  await expect(page.getByRole("link", { name })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`^${baseURL}/$`));
});

test("the refresh cookie is HttpOnly and invisible to page scripts", async ({ page }) => {
  const name = uniqueName("hal");
  await page.goto("/signup");
  await hydrated(page, "Sign up");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Email").fill(`${name}@example.com`);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === "refresh_token");
  expect(refresh?.httpOnly).toBe(true);
  expect(refresh?.sameSite).toBe("Strict");
  expect(refresh?.path).toBe("/api/auth");
  expect(await page.evaluate(() => document.cookie)).not.toContain("refresh_token");
  // The page keeps only the access token.
  const stored = await page.evaluate(() => Object.keys(localStorage));
  expect(stored).toContain("classboard.access_token");
  expect(JSON.stringify(await page.evaluate(() => ({ ...localStorage })))).not.toContain(refresh!.value);
});
