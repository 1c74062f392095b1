import { expect, signupViaApi, test, uniqueName } from "./helpers";

test("home page is server-rendered with the site layout", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveTitle("Classroom Board");
  await expect(page.getByRole("banner")).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
  await expect(page.getByRole("main")).toBeVisible();
  await expect(page.getByRole("contentinfo")).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Classroom Board" })).toBeVisible();
});

test("hydration makes the page interactive", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));

  await page.goto("/");
  const panel = page.getByText("Signing in gives this browser a short-lived access token");
  // Server-rendered HTML alone cannot open the panel: only hydrated code can.
  await expect(panel).toBeHidden();

  // A click that lands before hydration finishes is lost, so retry it.
  await expect(async () => {
    await page.getByRole("button", { name: "Show how sign-in works" }).click({ timeout: 1_000 });
    await expect(panel).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });

  const toggle = page.getByRole("button", { name: "Hide how sign-in works" });
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await toggle.click();
  await expect(panel).toBeHidden();
  await expect(page.getByRole("button", { name: "Show how sign-in works" })).toHaveAttribute(
    "aria-expanded",
    "false",
  );

  expect(errors).toEqual([]);
});

test("an unknown address shows the not-found page with a way back", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Go to the feed" }).click();
  await expect(page).toHaveURL(/\/$/);
});

test("the feed loads the core module and its own bundle, none of the other pages' code, and Load more appends older posts", async ({
  page,
  request,
  baseURL,
}) => {
  // More posts than the feed's first page holds, the oldest one this test's.
  const name = uniqueName("old");
  const { access_token } = await signupViaApi(request, baseURL!, name);
  for (let i = 0; i < 21; i += 1) {
    const response = await request.post(`${baseURL}/api/posts`, {
      headers: { authorization: `Bearer ${access_token}` },
      data: { title: `${name} post ${i}`, body: "One of many." },
    });
    expect(response.status()).toBe(201);
  }
  const code: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    // Names carry their content's hash (22 url-safe base64 characters, 10
    // for a split point's bundle).
    if (/\.(js|wasm|bundle)$/.test(path)) {
      code.push(path.replace(/\.([A-Za-z0-9_-]{22}|[A-Za-z0-9_-]{10})\.(js|wasm|bundle)$/, ".$2"));
    }
  });

  await page.goto("/");
  await page.waitForLoadState("networkidle");
  // The core module, the split loader, and the bundle of "Load more" (a
  // lazy island): no other page's code.
  expect(code.sort()).toEqual([
    "/pkg/__wasm_split.js",
    "/pkg/bundle_load_more.bundle",
    "/pkg/classboard.js",
    "/pkg/classboard.wasm",
  ]);

  const oldest = page.getByRole("link", { name: `${name} post 0`, exact: true });
  await expect(page.getByRole("link", { name: `${name} post 20`, exact: true })).toBeVisible();
  await expect(oldest).toHaveCount(0);
  const more = page.getByRole("button", { name: "Load more" });
  // Other tests' posts may stand between; each click fetches one page more.
  for (let pages = 0; pages < 5 && (await oldest.count()) === 0; pages += 1) {
    await more.click(); // waits until the button is enabled, i.e. hydrated and not loading
    await expect(oldest.or(more)).toBeVisible();
  }
  await expect(oldest).toBeVisible();
  await expect(page.getByRole("link", { name: `${name} post 20`, exact: true })).toHaveCount(1);
});
