import { expect, hydrated, login, mailLink, signupViaApi, signupViaForm, test, uniqueName, PASSWORD } from "./helpers";
import { baseURL } from "../playwright.config";

const NEW_PASSWORD = "a brand new passphrase for testing";

test("a forgotten password: ask for a link, follow it from the mail, set a new password, log in", async ({ page, request }) => {
  const name = uniqueName("forgot");
  await signupViaApi(request, baseURL, name);

  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await hydrated(page, "Send the link");
  await page.getByLabel("Email").fill(`${name}@example.com`);
  await page.getByRole("button", { name: "Send the link" }).click();
  await expect(page.getByRole("status").filter({ hasText: "a link to choose a new password is on its way" })).toBeVisible();

  // The mail's link opens the page; only the form spends the token.
  const path = await mailLink(`${name}@example.com`, "Reset your password");
  expect(path).toMatch(/^\/reset-password\?token=[\w-]{43}$/);
  await page.goto(path);
  await hydrated(page, "Set the new password");
  await expect(page.getByLabel("Code from the mail")).toHaveCount(0);
  // The same inline rules as at signup, before any request.
  await page.getByLabel("New password").fill("too short");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await expect(page.getByText("New password must be at least 15 characters.")).toBeVisible();
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByText("Your password was changed. Log in with the new one.")).toBeVisible();

  await login(page, name, PASSWORD);
  await expect(page.getByRole("alert")).toContainText("not correct");
  await login(page, name, NEW_PASSWORD);
  await expect(page.getByRole("link", { name })).toBeVisible();

  // The link worked once.
  await page.goto(path);
  await hydrated(page, "Set the new password");
  await page.getByLabel("New password").fill("yet another passphrase, long");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await expect(page.getByRole("alert")).toContainText("expired, was already used");
});

test("confirming the email address from the mail's link ends the header's reminder", async ({ page }) => {
  const name = uniqueName("verify");
  await signupViaForm(page, name);
  const reminder = page.getByText("Please confirm your email address");
  await expect(reminder).toBeVisible();

  const path = await mailLink(`${name}@example.com`, "Confirm your email address");
  await page.goto(path);
  // Opening the page confirmed nothing yet: the reminder is still there.
  await expect(reminder).toBeVisible();
  await hydrated(page, "Confirm my address");
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByText("Your email address is confirmed.")).toBeVisible();
  await expect(reminder).toBeHidden();
  await page.goto("/account");
  await expect(page.getByText(`${name}@example.com`, { exact: true })).toBeVisible();
  await expect(page.getByText("not confirmed yet")).toHaveCount(0);
});

test("changing the password and deleting the account from the account page", async ({ page }) => {
  const name = uniqueName("settings");
  await signupViaForm(page, name);
  await page.goto("/account");
  await page.getByRole("button", { name: "Change email, password or account" }).click();

  const password = page.getByRole("region", { name: "Password", exact: true });
  await password.getByLabel("New password").fill(NEW_PASSWORD);
  await password.getByRole("button", { name: "Change my password" }).click();
  // The change needs proof of presence: one step asks for it.
  const confirm = password.getByRole("dialog", { name: "Confirm it's you" });
  await confirm.getByLabel("Current password").fill("not the password at all");
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(confirm.getByRole("alert")).toContainText("not correct");
  await confirm.getByLabel("Current password").fill(PASSWORD);
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(password.getByText("Your password was changed.")).toBeVisible();
  await expect(confirm).toHaveCount(0);

  const deletion = page.getByRole("region", { name: "Delete your account" });
  await expect(deletion.getByText(/your passkeys and recovery codes, and your grades. Your posts stay/)).toBeVisible();
  // Asked twice: the first button only opens the form. The session proved
  // presence a moment ago, so no password is asked again.
  await expect(deletion.getByRole("button", { name: "Delete my account for good" })).toBeHidden();
  await deletion.getByRole("button", { name: "Delete my account…" }).click();
  await deletion.getByRole("button", { name: "Delete my account for good" }).click();
  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByText("Your account was deleted.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();

  await login(page, name, NEW_PASSWORD);
  await expect(page.getByRole("alert")).toContainText("not correct");
});
