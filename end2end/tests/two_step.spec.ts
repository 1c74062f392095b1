import { earlyInAStep, expect, hydrated, login, logOut, signupViaForm, test, totp, uniqueName, PASSWORD } from "./helpers";

test("two-step sign-in: turn it on, sign in with a code or a recovery code, turn it off", async ({ page }) => {
  test.setTimeout(90_000);
  const name = uniqueName("totp");
  await signupViaForm(page, name);
  await page.goto("/account");
  const section = page.getByRole("region", { name: "Two-step sign-in" });
  // The section's code arrives when it is opened.
  await section.getByRole("button", { name: "Set up two-step sign-in" }).click();
  await section.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(section.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = (await section.locator("code.secret").getAttribute("data-secret"))!;
  expect(secret).toMatch(/^[A-Z2-7]{32,}$/);
  // The key as text, grouped for typing.
  await expect(section.locator("code.secret")).toHaveText(secret.match(/.{1,4}/g)!.join(" "));

  // The previous step's code: the current and next stay free for logins.
  await earlyInAStep();
  await section.getByLabel("Code from your app").fill(totp(secret, -1));
  await section.getByRole("button", { name: "Turn on", exact: true }).click();
  // The session has not proved presence yet: the one confirm step asks,
  // with what the account has (a password only, so far), then goes on.
  const confirm = section.getByRole("dialog", { name: "Confirm it's you" });
  await expect(confirm).toBeVisible();
  await expect(confirm.getByLabel(/Code from your authenticator app|Recovery code/)).toHaveCount(0);
  await confirm.getByLabel("Current password").fill(PASSWORD);
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  const codesBox = page.getByRole("region", { name: "Store these recovery codes now" });
  await expect(codesBox).toBeVisible();
  const codes = await codesBox.locator("ul.codes code").allTextContents();
  expect(codes).toHaveLength(10);
  await expect(codesBox.getByRole("link", { name: "Download codes" })).toHaveAttribute("download", "classboard-recovery-codes.txt");
  await codesBox.getByRole("button", { name: "I have stored them" }).click();
  await expect(section.getByText(/Two-step sign-in is on/)).toBeVisible();
  await expect(section.getByText("Recovery codes left: 10.")).toBeVisible();

  // Sign in again: the password, then the code.
  await logOut(page);
  await login(page, name);
  const code = page.getByLabel("Code", { exact: true });
  await expect(code).toBeVisible();
  await expect(code).toHaveAttribute("autocomplete", "one-time-code");
  await expect(code).toHaveAttribute("inputmode", "numeric");
  await code.fill(totp(secret) === "000000" ? "000001" : "000000");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("That code is not right. Try the newest code from your app.")).toBeVisible();
  await code.fill(totp(secret));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  // A reload in the second step starts again at the password, without an error.
  await page.getByRole("link", { name }).click();
  await logOut(page);
  await login(page, name);
  await expect(page.getByLabel("Code", { exact: true })).toBeVisible();
  await page.reload();
  await hydrated(page, "Log in");
  await expect(page.getByLabel("Password", { exact: true })).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);

  // A recovery code instead, typed in capitals with spaces.
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0].toUpperCase().replaceAll("-", " "));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  // Off again, from a new session: the confirm step asks for the password
  // and the second factor (the next step's code), once.
  await page.goto("/account");
  await section.getByRole("button", { name: "Manage two-step sign-in" }).click();
  await expect(section.getByText("Recovery codes left: 9.")).toBeVisible();
  await section.getByRole("button", { name: "Turn off two-step sign-in" }).click();
  const proof = section.getByRole("dialog", { name: "Confirm it's you" });
  await proof.getByLabel("Current password").fill(PASSWORD);
  await proof.getByLabel("Code from your authenticator app, or a recovery code").fill(totp(secret, 1));
  await proof.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(section.getByRole("button", { name: "Turn on two-step sign-in" })).toBeVisible();
  await expect(proof).toHaveCount(0);
});
