// The identity provider, as an app and a person meet it: npm `openid-client`
// (a relying party nobody here wrote) discovers the server, builds the
// authorization request with PKCE and a nonce, and checks the ID token
// itself; Chromium plays the person on the sign-in and consent pages.
import { execFileSync } from "node:child_process";
import { Page } from "@playwright/test";
import { dataDirs, server, baseURL } from "../playwright.config";
import { PASSWORD, expect, hydrated, signupViaApi, test, uniqueName } from "./helpers";

// A web app's address (caught by the test, never loaded).
const REDIRECT = "https://library.example/callback";
const BYE = "http://127.0.0.1:9/bye";

/** Registers an app from the shell, as an operator does. */
function registerApp(scopes: string, ...more: string[]): { id: string; secret: string } {
  const said = execFileSync(
    server,
    ["clients", "add", "School library", "--redirect-uri", REDIRECT, "--scope", scopes, ...more],
    { env: { ...process.env, DATA_DIR: dataDirs.main, RUST_LOG: "warn" } },
  ).toString();
  const value = (label: string) => said.match(new RegExp(`^${label}: (\\S+)$`, "m"))![1];
  return { id: value("client_id"), secret: value("client_secret") };
}

/**
 * Where the browser is sent back to the app: caught, never loaded. (Wrapped:
 * an async function returning the promise itself would wait for it.)
 */
async function catchRedirect(page: Page, at: string = REDIRECT): Promise<{ arrived: Promise<URL> }> {
  let arrive: (url: URL) => void;
  const arrived = new Promise<URL>((resolve) => (arrive = resolve));
  await page.route(`${at}**`, async (route) => {
    arrive(new URL(route.request().url()));
    await route.fulfill({ status: 200, contentType: "text/plain", body: "back at the app" });
  });
  return { arrived };
}

async function relyingParty(app: { id: string; secret: string }) {
  const client = await import("openid-client");
  const config = await client.discovery(new URL(baseURL), app.id, app.secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return { client, config };
}

test("an app signs a person in through the sign-in and consent pages", async ({ page, request }) => {
  const app = registerApp("openid profile email grades:read");
  const name = uniqueName("oidc");
  await signupViaApi(request, baseURL, name);
  const { client, config } = await relyingParty(app);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: "openid profile email grades:read",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const back = await catchRedirect(page);

  // Nobody is signed in: the page sends the person to log in, then back.
  await page.goto(url.href);
  await expect(page).toHaveURL(/\/login\?next=/);
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();

  // The consent page says who asks and what for, in words.
  await expect(page.getByText("School library")).toBeVisible();
  await expect(page.getByText("See your grades")).toBeVisible();
  await expect(page.getByText("See your email address")).toBeVisible();
  await page.getByRole("button", { name: "Allow" }).click();
  const callback = await back.arrived;
  expect(callback.searchParams.get("iss")).toBe(baseURL);

  // openid-client checks state, iss, the ID token's signature, aud, nonce.
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims.preferred_username).toBe(name);
  expect(claims.email).toBe(`${name}@example.com`);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.preferred_username).toBe(name);
  const grades = await request.get(`${baseURL}/api/grades`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  expect(grades.status()).toBe(200);

  // Asked again for the same: no page this time, straight back.
  const again = await catchRedirect(page);
  const quietly = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  });
  // The page sends the browser on by itself, maybe before the navigation
  // that opened it settles: wait for the browser to arrive at the app.
  page.goto(quietly.href).catch(() => undefined);
  expect((await again.arrived).searchParams.get("code")).toBeTruthy();
});

test("Deny goes back to the app with access_denied, and an unknown redirect stays here", async ({ page, request }) => {
  const app = registerApp("openid");
  const name = uniqueName("deny");
  await signupViaApi(request, baseURL, name);
  const { client, config } = await relyingParty(app);
  const verifier = client.randomPKCECodeVerifier();
  const asked = {
    redirect_uri: REDIRECT,
    scope: "openid",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: "s-1",
  };
  const back = await catchRedirect(page);
  await page.goto(client.buildAuthorizationUrl(config, asked).href);
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByRole("button", { name: "Deny" }).click();
  const denied = await back.arrived;
  expect(denied.searchParams.get("error")).toBe("access_denied");
  expect(denied.searchParams.get("state")).toBe("s-1");
  await page.waitForURL(`${REDIRECT}**`);

  const elsewhere = client.buildAuthorizationUrl(config, { ...asked, redirect_uri: "https://evil.example/cb" });
  const response = await page.goto(elsewhere.href);
  expect(response!.status()).toBe(400);
  await expect(page.getByText("did not register")).toBeVisible();
  expect(page.url()).toContain(`${baseURL}/authorize?problem=unknown_redirect_uri`);
});

test("an app signs the person out here and gets them back at an address it registered", async ({ page, request }) => {
  const app = registerApp("openid profile", "--post-logout-redirect-uri", BYE);
  const name = uniqueName("bye");
  await signupViaApi(request, baseURL, name);
  const { client, config } = await relyingParty(app);
  const verifier = client.randomPKCECodeVerifier();
  const back = await catchRedirect(page);
  await page.goto(
    client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "in-1",
    }).href,
  );
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByRole("button", { name: "Allow" }).click();
  const tokens = await client.authorizationCodeGrant(config, await back.arrived, {
    pkceCodeVerifier: verifier,
    expectedState: "in-1",
    idTokenExpected: true,
  });
  await page.waitForURL(`${REDIRECT}**`);

  // The app's logout link: the hint names this browser's session, so the
  // page signs out without asking and returns to the app with its state.
  const gone = await catchRedirect(page, BYE);
  page
    .goto(
      client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: BYE,
        state: "out-1",
      }).href,
    )
    .catch(() => undefined);
  expect((await gone.arrived).searchParams.get("state")).toBe("out-1");
  await page.waitForURL(`${BYE}**`);

  // Signed out here, and the app's tokens ended with the session.
  const info = await request.get(`${baseURL}/oauth/userinfo`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  expect(info.status()).toBe(401);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);

  // An address the app did not register is never followed.
  const elsewhere = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: "https://evil.example/bye",
  });
  const refused = await page.goto(elsewhere.href);
  expect(refused!.status()).toBe(400);
  await expect(page.getByText("did not register")).toBeVisible();
});

test("an app pushes its request first (PAR) and binds its tokens to a DPoP key", async ({ page, request }) => {
  const app = registerApp("openid profile offline_access grades:read", "--require-par");
  const name = uniqueName("dpop");
  await signupViaApi(request, baseURL, name);
  const { client, config } = await relyingParty(app);
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256"));
  const verifier = client.randomPKCECodeVerifier();
  const asked = {
    redirect_uri: REDIRECT,
    scope: "openid profile offline_access grades:read",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: "par-1",
  };
  // The app registered to push: a plain request goes back refused.
  const refused = await catchRedirect(page);
  page.goto(client.buildAuthorizationUrl(config, asked).href).catch(() => undefined);
  expect((await refused.arrived).searchParams.get("error")).toBe("invalid_request");
  await page.unrouteAll();

  // openid-client pushes it (with a proof, which binds the code to the key)
  // and sends the browser with the request_uri alone.
  const url = await client.buildAuthorizationUrlWithPAR(config, asked, { DPoP });
  expect([...url.searchParams.keys()].sort()).toEqual(["client_id", "request_uri"]);
  const back = await catchRedirect(page);
  await page.goto(url.href);
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByText("See your grades")).toBeVisible();
  await page.getByRole("button", { name: "Allow" }).click();
  const callback = await back.arrived;
  expect(callback.searchParams.get("state")).toBe("par-1");

  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier, expectedState: "par-1", idTokenExpected: true },
    undefined,
    { DPoP },
  );
  expect(tokens.token_type).toBe("dpop");
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP });
  expect(info.preferred_username).toBe(name);
  const grades = await client.fetchProtectedResource(
    config,
    tokens.access_token,
    new URL(`${baseURL}/api/grades`),
    "GET",
    undefined,
    undefined,
    { DPoP },
  );
  expect(grades.status).toBe(200);

  // The bound token, copied out and sent as a bearer token: refused.
  const copied = await request.get(`${baseURL}/api/grades`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  expect(copied.status()).toBe(401);
  expect(copied.headers()["www-authenticate"]).toMatch(/^DPoP /);

  // A refresh with the same key: a new bound access token.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
  expect(refreshed.token_type).toBe("dpop");
  const again = await client.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub, { DPoP });
  expect(again.preferred_username).toBe(name);
});

test("an app registers itself with an initial access token and signs a person in", async ({ page, request }) => {
  const said = execFileSync(server, ["clients", "registration-token"], {
    env: { ...process.env, DATA_DIR: dataDirs.main, DYNAMIC_REGISTRATION: "token", RUST_LOG: "warn" },
  }).toString();
  const initialAccessToken = said.match(/^registration_token: (\S+)$/m)![1];
  const name = uniqueName("dcr");
  await signupViaApi(request, baseURL, name);
  const client = await import("openid-client");
  // openid-client discovers the registration endpoint and registers.
  const metadata = { client_name: "Timetable", redirect_uris: [REDIRECT], scope: "openid profile" };
  const config = await client.dynamicClientRegistration(new URL(baseURL), metadata, undefined, {
    initialAccessToken,
    execute: [client.allowInsecureRequests],
  });
  const registered = config.clientMetadata();
  expect(registered.client_secret).toBeTruthy();

  // The new app signs a person in (asked for consent: it is never trusted).
  const verifier = client.randomPKCECodeVerifier();
  const back = await catchRedirect(page);
  await page.goto(
    client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "dcr-1",
    }).href,
  );
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByText("Timetable")).toBeVisible();
  await page.getByRole("button", { name: "Allow" }).click();
  const tokens = await client.authorizationCodeGrant(config, await back.arrived, {
    pkceCodeVerifier: verifier,
    expectedState: "dcr-1",
    idTokenExpected: true,
  });
  expect(tokens.claims()!.preferred_username).toBe(name);
  await page.waitForURL(`${REDIRECT}**`);

  // The token registered one app: a second registration with it is refused.
  await expect(
    client.dynamicClientRegistration(new URL(baseURL), metadata, undefined, {
      initialAccessToken,
      execute: [client.allowInsecureRequests],
    }),
  ).rejects.toThrow();

  // The app removes itself with its registration access token.
  const removed = await request.delete(registered.registration_client_uri as string, {
    headers: { authorization: `Bearer ${registered.registration_access_token}` },
  });
  expect(removed.status()).toBe(204);
});

test("a device without a keyboard signs in while the person allows it at /device", async ({ page, request }) => {
  const app = registerApp("openid profile", "--grant", "device_code");
  const name = uniqueName("device");
  await signupViaApi(request, baseURL, name);
  const { client, config } = await relyingParty(app);
  // The device asks for codes and polls (openid-client waits the interval).
  const started = await client.initiateDeviceAuthorization(config, { scope: "openid profile" });
  expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  const polled = client.pollDeviceAuthorizationGrant(config, started);

  // The person opens the address the device shows, signs in, and comes back.
  await page.goto(`${started.verification_uri}`);
  await expect(page).toHaveURL(/\/login\?next=/);
  await hydrated(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page).toHaveURL(/\/device$/);
  await hydrated(page, "Continue");

  // A wrong code is said so; the right one, typed loosely, shows who asks.
  await page.getByLabel("Code").fill("BCDF-GHJK");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("No device is waiting for this code")).toBeVisible();
  await page.getByLabel("Code").fill(started.user_code.toLowerCase().replace("-", " "));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("School library")).toBeVisible();
  await expect(page.getByText("See your username")).toBeVisible();
  await page.getByRole("button", { name: "Allow" }).click();
  await expect(page.getByRole("status")).toContainText("is signed in on your device");

  const tokens = await polled;
  expect(tokens.claims()!.preferred_username).toBe(name);
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
  expect(info.preferred_username).toBe(name);
});
