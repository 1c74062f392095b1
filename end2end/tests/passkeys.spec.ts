import type { CDPSession } from "@playwright/test";
import { baseURL } from "../playwright.config";
import { expect, login, logOut, signupViaForm, test, uniqueName, PASSWORD } from "./helpers";

// A passkey's relying party is a host name, never an IP address: these pages
// are opened at `localhost`, the server's default PUBLIC_URL host.
test.use({ baseURL: baseURL.replace("127.0.0.1", "localhost") });

/** A platform authenticator (like a laptop's) in Chromium's WebAuthn test environment. */
async function addAuthenticator(client: CDPSession): Promise<string> {
  const { authenticatorId } = await client.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

test("passkeys: add one, sign in with it alone and as the second step, remove it", async ({ page }) => {
  test.setTimeout(90_000);
  const client = await page.context().newCDPSession(page);
  await client.send("WebAuthn.enable");
  const authenticator = await addAuthenticator(client);

  const name = uniqueName("pk");
  await signupViaForm(page, name);
  await page.goto("/account");
  const section = page.getByRole("region", { name: "Passkeys" });
  // The section's code arrives when it is opened.
  await section.getByRole("button", { name: "Manage passkeys" }).click();
  await expect(section.getByText("You have no passkeys yet.")).toBeVisible();
  // A name first, and proof that it is you.
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await expect(section.getByText("Give the passkey a name, to tell it from others.")).toBeVisible();
  await section.getByLabel(/Name of the new passkey/).fill("Laptop");
  await section.getByRole("button", { name: "Add a passkey" }).click();
  const confirm = section.getByRole("dialog", { name: "Confirm it's you" });
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(confirm.getByText("Enter your current password.")).toBeVisible();
  await confirm.getByLabel("Current password").fill(PASSWORD);
  await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(section.getByText("Passkey added. You can sign in with it now.")).toBeVisible();
  await expect(section.locator("ul.passkeys li")).toHaveCount(1);
  await expect(section.locator("ul.passkeys")).toContainText("Laptop");
  const { credentials } = await client.send("WebAuthn.getCredentials", { authenticatorId: authenticator });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // Signed out, then in with the passkey and no name or password.
  await logOut(page);
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  // The password alone is not enough now: the passkey is the second step.
  await logOut(page);
  await login(page, name);
  await expect(page.getByRole("heading", { name: "Two-step sign-in" })).toBeVisible();
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByRole("link", { name })).toBeVisible();

  // Removed, with the password and (the account has a passkey) a passkey:
  // the password alone is not enough.
  await page.goto("/account");
  await section.getByRole("button", { name: "Manage passkeys" }).click();
  await expect(section.locator("ul.passkeys")).toContainText("last used");
  await section.getByRole("button", { name: "Remove the passkey Laptop" }).click();
  const proof = section.getByRole("dialog", { name: "Confirm it's you" });
  await proof.getByLabel("Current password").fill(PASSWORD);
  await proof.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(proof.getByText("Enter a code, or use a passkey.")).toBeVisible();
  await proof.getByRole("button", { name: "Confirm with a passkey" }).click();
  await expect(section.getByText("Passkey removed.")).toBeVisible();
  await expect(section.getByText("You have no passkeys yet.")).toBeVisible();

  // Another authenticator, with no passkey for this site: a clear message.
  await client.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: authenticator });
  await addAuthenticator(client);
  await logOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByText(/No passkey was used\. If this device has no passkey for this site/)).toBeVisible();
  // And the password still works: the account has no second factor left.
  await login(page, name);
  await expect(page.getByRole("link", { name })).toBeVisible();
});

test("a browser without WebAuthn shows no passkey button", async ({ page }) => {
  await page.addInitScript(() => {
    // @ts-expect-error: removing what the page must do without.
    delete window.PublicKeyCredential;
  });
  await page.goto("/login");
  await expect(page.getByRole("button", { name: "Log in", exact: true })).toBeEnabled();
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeHidden();
});
