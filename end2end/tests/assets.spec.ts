import { expect, signupViaForm, test, uniqueName } from "./helpers";

// What the browser receives for the site's code: the WebAssembly compressed
// (brotli), under a name that carries its content's hash, cached for a year;
// and on a second visit, nothing of it over the network. Counted through
// Chromium's DevTools protocol; nothing here is timed.
test("the WebAssembly arrives compressed under a hashed name, and a second visit takes the code from the cache", async ({ page }) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const kinds = new Map<string, string>();
  const received = new Map<string, number>();
  const responses: { url: string; headers: Record<string, string> }[] = [];
  cdp.on("Network.responseReceived", (e) => {
    const url = e.response.url;
    kinds.set(e.requestId, url.endsWith(".wasm") ? "wasm" : url.endsWith(".js") ? "js" : "other");
    responses.push({ url, headers: Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)])) });
  });
  cdp.on("Network.loadingFinished", (e) => {
    const kind = kinds.get(e.requestId) ?? "other";
    received.set(kind, (received.get(kind) ?? 0) + e.encodedDataLength);
  });

  await page.goto("/");
  await page.waitForLoadState("networkidle");
  const wasm = responses.filter((r) => r.url.includes("/pkg/") && r.url.endsWith(".wasm"));
  expect(wasm.length).toBeGreaterThan(0);
  for (const r of wasm) {
    expect(r.url).toMatch(/\/pkg\/[\w]+\.[\w-]{10,22}\.wasm$/);
    expect(r.headers["content-encoding"]).toBe("br");
    expect(r.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(r.headers["vary"]).toContain("accept-encoding");
  }
  const main = wasm.find((r) => /\/pkg\/classboard\.[\w-]{22}\.wasm$/.test(r.url));
  expect(main, "the page's own module, hashed").toBeTruthy();
  expect(received.get("wasm")).toBeGreaterThan(50_000);

  // The same page again: the code comes from the cache, the page itself
  // (revalidated on every visit) from the server.
  received.clear();
  await page.goto("/");
  await page.waitForLoadState("networkidle");
  expect(received.get("wasm") ?? 0).toBe(0);
  expect(received.get("js") ?? 0).toBe(0);
});

// The DPoP script arrives the first time a page proves anything, under a
// hashed name, compressed and kept for a year; a second visit to the page
// proves again (its requests carry proofs) with no code over the network.
test("the DPoP script arrives compressed under a hashed name, and a second visit proves from the cache", async ({ page }) => {
  await signupViaForm(page, uniqueName("cache"));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const scripts: { url: string; headers: Record<string, string> }[] = [];
  const kinds = new Map<string, string>();
  let codeBytes = 0;
  const proofs: string[] = [];
  cdp.on("Network.requestWillBeSent", (e) => {
    const proved = Object.keys(e.request.headers).some((name) => name.toLowerCase() === "dpop");
    if (e.request.url.includes("/api/") && proved) proofs.push(e.request.url);
  });
  cdp.on("Network.responseReceived", (e) => {
    const url = e.response.url;
    kinds.set(e.requestId, url.endsWith(".wasm") || url.endsWith(".js") ? "code" : "other");
    if (/\/pkg\/dpop\./.test(url)) {
      scripts.push({ url, headers: Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)])) });
    }
  });
  cdp.on("Network.loadingFinished", (e) => {
    if (kinds.get(e.requestId) === "code") codeBytes += e.encodedDataLength;
  });

  await page.goto("/account");
  await expect(page.getByText("(this device)")).toBeVisible();
  await page.waitForLoadState("networkidle");
  expect(scripts.length, "the script, fetched once").toBe(1);
  expect(scripts[0].url).toMatch(/\/pkg\/dpop\.[0-9a-f]{10}\.js$/);
  expect(scripts[0].headers["content-encoding"]).toBe("br");
  expect(scripts[0].headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  expect(proofs.length).toBeGreaterThan(0);

  scripts.length = 0;
  proofs.length = 0;
  codeBytes = 0;
  await page.reload();
  await expect(page.getByText("(this device)")).toBeVisible();
  await page.waitForLoadState("networkidle");
  expect(proofs.length, "the second visit's requests still carry proofs").toBeGreaterThan(0);
  expect(codeBytes, "no code over the network").toBe(0);
});
