// Playwright's own `test`, not the suite's: Chromium logs the refused
// cross-origin request as a console error, which is what this test wants.
import { expect, test } from "@playwright/test";
import { baseURL, corsOrigin, shortURL } from "../playwright.config";
import { signupViaApi, uniqueName } from "./helpers";

/**
 * Calls the main server's API from a document of `origin`: a static file of
 * the other server, which has no Content-Security-Policy of its own (the
 * pages' `connect-src 'self'` would stop the call before CORS is asked).
 */
async function callFrom(page: import("@playwright/test").Page, origin: string, token: string) {
  await page.goto(`${origin}/favicon.png`);
  return page.evaluate(
    async ([api, token]) => {
      try {
        const response = await fetch(`${api}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
        return { status: response.status, username: (await response.json()).user?.username };
      } catch (e) {
        return { error: String(e) };
      }
    },
    [baseURL, token],
  );
}

test("a page of an origin on CORS_ALLOWED_ORIGINS calls the API with a bearer token; another origin is refused", async ({
  page,
  request,
}) => {
  const name = uniqueName("cors");
  const { access_token } = await signupViaApi(request, baseURL, name);

  expect(await callFrom(page, corsOrigin, access_token)).toEqual({ status: 200, username: name });
  // The same server under its address instead of its name: another origin, not on the list.
  expect(await callFrom(page, shortURL, access_token)).toEqual({
    error: expect.stringContaining("Failed to fetch"),
  });
});
