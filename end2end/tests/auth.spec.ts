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
