import { expect, hydrated, mailLink, signupViaApi, test, uniqueName } from "./helpers";

// Signing in with a code sent by mail instead of the password: asked for on
// /login/code, typed from the mail, or brought by the mail's link (whose
// fragment carries the address and the code, and which signs in only when
// the person presses the button).
test("a code by mail signs in, typed or through the mail's link", async ({ page, request, baseURL }) => {
  const name = uniqueName("code");
  const email = `${name}@example.com`;
  await signupViaApi(request, baseURL!, name);
  // Only a confirmed address gets codes: confirmed with the link signup mailed.
  const confirm = await mailLink(email, "Confirm your email address");
  const token = new URL(confirm, baseURL).searchParams.get("token");
  expect((await request.post(`${baseURL}/api/auth/verify-email`, { data: { token } })).status()).toBe(204);

  await page.goto("/login?next=/grades");
  await page.getByRole("link", { name: "Email me a code instead" }).click();
  await expect(page).toHaveURL(/\/login\/code\?next=%2Fgrades$|\/login\/code\?next=\/grades$/);
  await hydrated(page, "Email me a code");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Email me a code" }).click();
  await expect(page.getByText(`If an account has the address ${email}`)).toBeVisible();

  // Typed from the mail.
  const link = await mailLink(email, "Your sign-in code", "/login/code#");
  const code = new URLSearchParams(link.split("#")[1]).get("code")!;
  await page.getByLabel("Code from the mail").fill(`${code.slice(0, 4)} ${code.slice(4)}`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/grades$/);
  await expect(page.getByRole("link", { name })).toBeVisible();

  // Through the link, in a browser that is not signed in: nothing happens
  // until the button is pressed, and the code leaves the address bar.
  const other = await page.context().browser()!.newContext();
  const visitor = await other.newPage();
  const asked = await request.post(`${baseURL}/api/auth/otp/email`, { data: { email } });
  expect(asked.status()).toBe(202);
  await expect.poll(async () => mailLink(email, "Your sign-in code", "/login/code#")).not.toBe(link);
  const second = await mailLink(email, "Your sign-in code", "/login/code#");
  await visitor.goto(second);
  await hydrated(visitor, "Sign in");
  await expect(visitor.getByLabel("Code from the mail")).toHaveValue(new URLSearchParams(second.split("#")[1]).get("code")!);
  expect(new URL(visitor.url()).hash).toBe("");
  await expect(visitor.getByRole("link", { name })).toHaveCount(0);
  await visitor.getByRole("button", { name: "Sign in" }).click();
  await expect(visitor.getByRole("link", { name })).toBeVisible();
  await other.close();
});
