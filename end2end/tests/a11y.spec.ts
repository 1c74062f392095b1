import { expect, test } from "./helpers";

test("every page's fields are found by their labels and pages have a heading", async ({ page }) => {
  for (const [path, labels] of [
    ["/signup", ["Username", "Email", "Password"]],
    ["/login", ["Username or email", "Password"]],
    ["/forgot-password", ["Email"]],
    ["/reset-password?token=t", ["New password"]],
    ["/reset-password", ["Code from the mail", "New password"]],
    ["/verify-email", ["Code from the mail"]],
  ] as const) {
    await page.goto(path);
    for (const label of labels) {
      await expect(page.getByLabel(label, { exact: true })).toBeVisible();
    }
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  }
});

test("logged-out visitors see Log in and Sign up, and protected pages send them to log in", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Sign up" })).toBeVisible();
  for (const path of ["/posts/new", "/grades", "/account"]) {
    await page.goto(path);
    await expect(page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(path)}$`));
  }
});
