import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { PASSWORD, expect, hydrated, login, signupViaApi, signupViaForm, test, uniqueName } from "./helpers";

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

  // Browsers drop tabs and newlines inside a URL: "/\t/evil.example" would
  // become "//evil.example", another site, if the check read the raw text.
  for (const next of ["/\t/evil.example/phish", "/\n/evil.example/phish", "\t//evil.example"]) {
    await page.context().clearCookies();
    await page.evaluate(() => localStorage.clear());
    await login(page, name, PASSWORD, next);
    await expect(page.getByRole("link", { name })).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`^${baseURL}/$`));
  }
});

test("a script running in the page cannot obtain a refresh token by any call", async ({ page }) => {
  const name = uniqueName("ivy");
  await signupViaForm(page, name);
  const cookie = (await page.context().cookies()).find((c) => c.name === "refresh_token")!;

  // What an injected script could try: every way of asking for tokens that
  // the page's own origin allows, reading every answer it is given.
  const seen: string[] = await page.evaluate(async ({ name, password }) => {
    const answers: string[] = [];
    const json = { "content-type": "application/json" };
    for (const [path, body] of [
      ["/api/auth/refresh", {}],
      ["/api/auth/refresh", undefined],
      ["/api/auth/login", { login: name, password }],
    ] as const) {
      for (const mode of ["cors", "same-origin", "no-cors"] as const) {
        const response = await fetch(path, {
          method: "POST",
          mode,
          credentials: "include",
          headers: body ? json : {},
          body: body ? JSON.stringify(body) : undefined,
        });
        answers.push(await response.text());
      }
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/auth/refresh", false);
    xhr.withCredentials = true;
    xhr.send();
    answers.push(xhr.responseText);
    // A form posted into a frame of this origin, read back afterwards.
    const frame = document.createElement("iframe");
    frame.name = "sink";
    document.body.append(frame);
    const form = document.createElement("form");
    form.method = "POST";
    form.action = "/api/auth/refresh";
    form.target = "sink";
    form.enctype = "text/plain";
    document.body.append(form);
    await new Promise<void>((done) => {
      frame.onload = () => done();
      form.submit();
    });
    answers.push(frame.contentDocument?.body?.innerText ?? "");
    answers.push(document.cookie);
    return answers;
  }, { name, password: PASSWORD });

  const everything = seen.join("\n");
  expect(everything).toContain("access_token");
  expect(everything).not.toContain("refresh_token\":");
  expect(everything).not.toContain(cookie.value);
  // The rotated tokens are not in any answer either.
  const now = (await page.context().cookies()).find((c) => c.name === "refresh_token")!;
  expect(everything).not.toContain(now.value);
});

test("the refresh cookie is HttpOnly and invisible to page scripts", async ({ page }) => {
  const name = uniqueName("hal");
  await signupViaForm(page, name);

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

test("the page's tokens are bound to a key it cannot export: copied into another browser or curl, they are refused", async ({
  page,
  browser,
  baseURL,
}) => {
  const name = uniqueName("kay");
  await signupViaForm(page, name);
  await page.goto("/account");
  await expect(page.getByText("(this device)")).toBeVisible();
  const stored = await page.evaluate(() => ({
    token: JSON.parse(localStorage.getItem("classboard.access_token")!) as string,
    user: localStorage.getItem("classboard.user")!,
  }));
  const claims = JSON.parse(Buffer.from(stored.token.split(".")[1], "base64url").toString());

  // The key: a P-256 private key in IndexedDB that WebCrypto will not
  // export, whose public half the access token is bound to.
  const key = await page.evaluate(async () => {
    const record: { private: CryptoKey; header: string } = await new Promise((resolve, reject) => {
      const open = indexedDB.open("classboard");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction("keys").objectStore("keys").get("dpop");
        get.onerror = () => reject(get.error);
        get.onsuccess = () => resolve(get.result);
      };
    });
    let exported = "exported";
    try {
      await crypto.subtle.exportKey("jwk", record.private);
    } catch {
      exported = "refused";
    }
    return { extractable: record.private.extractable, type: record.private.type, exported, header: record.header };
  });
  expect(key).toMatchObject({ extractable: false, type: "private", exported: "refused" });
  const jwk = JSON.parse(Buffer.from(key.header, "base64url").toString()).jwk;
  const thumbprint = createHash("sha256")
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest("base64url");
  expect(claims.cnf).toEqual({ jkt: thumbprint });

  // Another browser, with the token copied into its storage: refused, sent
  // by a script as it is and by the board's own pages with their own key.
  const other = await browser.newContext({ baseURL });
  const thief = await other.newPage();
  await thief.goto("/");
  await thief.evaluate(({ token, user }) => {
    localStorage.setItem("classboard.user", user);
    localStorage.setItem("classboard.access_token", JSON.stringify(token));
  }, stored);
  const statuses = await thief.evaluate(async (token) => {
    const asBearer = await fetch("/api/me", { headers: { Authorization: `Bearer ${token}` } });
    const asDpop = await fetch("/api/me", { headers: { Authorization: `DPoP ${token}` } });
    return [asBearer.status, asDpop.status];
  }, stored.token);
  expect(statuses).toEqual([401, 401]);
  // (The first answer there asks for the server's nonce; the page sends
  // the request again with it, and that one is refused for its key.)
  const refused = thief.waitForResponse(
    (r) =>
      r.url().includes("/api/auth/sessions") &&
      r.status() === 401 &&
      (r.headers()["www-authenticate"] ?? "").includes('error="invalid_dpop_proof"'),
  );
  await thief.goto("/account");
  await refused;
  await other.close();

  // curl, as a bearer token and as a DPoP token without a proof.
  const curl = (...args: string[]) =>
    execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args]).toString();
  expect(curl("-H", `Authorization: Bearer ${stored.token}`, `${baseURL}/api/me`)).toBe("401");
  expect(curl("-H", `Authorization: DPoP ${stored.token}`, `${baseURL}/api/me`)).toBe("401");

  // The refresh cookie copied into curl: refused without a proof of the
  // key, and nothing spent: the page that holds the key goes on.
  const cookie = (await page.context().cookies()).find((c) => c.name === "refresh_token")!.value;
  expect(
    curl("-X", "POST", "-H", "Content-Type: application/json", "-d", JSON.stringify({ refresh_token: cookie }),
      `${baseURL}/api/auth/refresh`),
  ).toBe("401");
  // A token the server refuses makes the page refresh with that cookie.
  await page.evaluate(() => localStorage.setItem("classboard.access_token", JSON.stringify("expired.token.x")));
  await page.reload();
  await expect(page.getByText("(this device)")).toBeVisible();
  expect((await page.context().cookies()).find((c) => c.name === "refresh_token")!.value).not.toBe(cookie);
});

test("a device whose clock is ten minutes fast signs in and keeps its bound session", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  await context.addInitScript(() => {
    const realNow = Date.now;
    Date.now = () => realNow() + 10 * 60 * 1000;
  });
  const page = await context.newPage();
  const name = uniqueName("clk");
  await signupViaForm(page, name);
  await page.goto("/account");
  await expect(page.getByText("(this device)")).toBeVisible();
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("classboard.access_token")!) as string);
  expect(JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).cnf?.jkt).toBeTruthy();
  // The page corrects its proofs by the server's clock from then on.
  const offset = await page.evaluate(() => Number(localStorage.getItem("classboard.clock_offset")));
  expect(offset).toBeLessThan(-9 * 60 * 1000);
  await context.close();
});
