import { expect, login, logOut, signupViaForm, test, textedCode, uniqueName, PASSWORD } from "./helpers";

// A phone as a second factor: added on /account (after the confirm step),
// confirmed with the code texted to it, then the login's second step by
// text, and removed again.
test("a phone confirmed by a texted code signs in by text, and is removed", async ({ page }) => {
  test.setTimeout(90_000);
  const name = uniqueName("phone");
  // A number of its own: each number has its own texts' budget.
  const digits = String(Date.now() % 100_000).padStart(5, "0");
  const number = `+4474001${digits}`;
  await signupViaForm(page, name);
  await page.goto("/account");
  const section = page.getByRole("region", { name: "Two-step sign-in" });
  await section.getByRole("button", { name: "Set up two-step sign-in" }).click();
  const phone = section.getByRole("region", { name: "Codes by text message" });
  await expect(phone.getByText(/An authenticator app or a passkey is safer/)).toBeVisible();
  await phone.getByRole("button", { name: "Add a phone" }).click();
  await phone.getByLabel(/Mobile number/).fill(`+44 7400 1${digits.slice(0, 2)} ${digits.slice(2)}`);
  await phone.getByRole("button", { name: "Text me a code" }).click();
  const confirm = phone.getByRole("dialog", { name: "Confirm it's you" });
  await confirm.getByLabel("Current password").fill(PASSWORD);
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(phone.getByText(/We texted a 6-digit code to/)).toBeVisible();
  const code = await textedCode(number, 0);
  await phone.getByLabel("Code from the text").fill(code);
  await phone.getByRole("button", { name: "Confirm the number" }).click();
  await expect(phone.getByText(`Codes can be texted to ${number}.`)).toBeVisible();

  // Signing in now takes a texted code.
  await logOut(page);
  await login(page, name);
  await expect(page.getByText("We text a 6-digit code to your phone.")).toBeVisible();
  await page.getByRole("button", { name: "Text me a code" }).click();
  await expect(page.getByText("A code is on its way to your phone.")).toBeVisible();
  const signIn = await textedCode(number, 1);
  const field = page.getByLabel("Code from the text");
  await expect(field).toHaveAttribute("autocomplete", "one-time-code");
  await field.fill(signIn === "000000" ? "000001" : "000000");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("That code is not right. Try the newest code we texted you.")).toBeVisible();
  await field.fill(signIn);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  // Removed, after the confirm step: the password and a code texted for it.
  await page.goto("/account");
  await section.getByRole("button", { name: "Manage two-step sign-in" }).click();
  await phone.getByRole("button", { name: "Remove the phone" }).click();
  await confirm.getByLabel("Current password").fill(PASSWORD);
  await confirm.getByRole("button", { name: "Text me a code" }).click();
  await expect(confirm.getByText("A code is on its way to your phone.")).toBeVisible();
  await confirm.getByLabel("Code we text you").fill(await textedCode(number, 2));
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(phone.getByText("No phone is set up.")).toBeVisible();
  await logOut(page);
  await login(page, name);
  await expect(page.getByRole("link", { name })).toBeVisible();
});
