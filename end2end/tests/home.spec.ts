import { expect, hydrated, test } from "./helpers";

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

test("a first visit fetches its own page's code, and another page's only on the way there", async ({
  page,
}) => {
  const pages: string[] = [];
  page.on("request", (request) => {
    const chunk = /\/pkg\/split___(\w+?)_route_view_/.exec(request.url());
    if (chunk) pages.push(chunk[1]);
  });

  await page.goto("/");
  await page.waitForLoadState("networkidle");
  expect(pages).toEqual(["home"]);

  // A link followed inside the hydrated app fetches the next page's chunk;
  // coming back needs nothing new (a full page load would fetch "home" again).
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Log in" }).click();
  await hydrated(page, "Log in");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Feed" }).click();
  await expect(page.getByRole("heading", { name: "Latest posts" })).toBeVisible();
  expect(pages).toEqual(["home", "login"]);
});
