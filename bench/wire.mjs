// What a browser receives, on the wire, when a person opens each page: a
// first visit (an empty cache) and a second one (the same browser, a moment
// later). Chromium's DevTools protocol reports each response's
// `encodedDataLength`: the bytes that crossed the wire, headers and
// compression included. A response served from the cache crossed nothing.
//
// Usage: node bench/wire.mjs BASE_URL SESSIONS_JSON
//   SESSIONS_JSON: {"student": {"login", "password"}, "teacher": …, "admin": …}
// Prints one JSON object: {pages: [{path, who, first: {wasm, js, css, html, other}, second: {…}}]}.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// Playwright as the browser tests install it (end2end/), driving Debian's Chromium.
const require = createRequire(path.join(here, "../end2end/package.json"));
const { chromium } = require("playwright-core");

const [base, sessionsFile] = process.argv.slice(2);
const sessions = JSON.parse(readFileSync(sessionsFile, "utf8"));
const postId = (await (await fetch(`${base}/api/posts?limit=1`)).json()).posts[0].id;

// Every page, as the person who would open it (null: nobody signed in).
const PAGES = [
  ["/", null],
  [`/posts/${postId}`, null],
  ["/login", null],
  ["/login/code", null],
  ["/signup", null],
  ["/forgot-password", null],
  ["/reset-password?token=t", null],
  ["/verify-email?token=t", null],
  ["/", "student"],
  ["/posts/new", "student"],
  ["/grades", "student"],
  ["/account", "student"],
  // An app's sign-in: the page that carries it through sign-in and consent
  // (a request that has ended: the same code, with the page's answer).
  ["/authorize?request=0000000000000000000000000000000000000000000", "student"],
  // A device's sign-in (the device grant): the code form.
  ["/device", "student"],
  ["/grades", "teacher"],
  ["/admin", "admin"],
];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

/**
 * The browser state of someone signed in: the page's stored access token and
 * user, and the refresh cookie, of a session signed in for this browser alone
 * (its pages bind it to their DPoP key on their first call).
 */
async function signedIn(who) {
  if (!who) return undefined;
  const answer = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(sessions[who]),
  });
  const s = await answer.json();
  const url = new URL(base);
  return {
    cookies: [{ name: "refresh_token", value: s.refresh_token, domain: url.hostname, path: "/api/auth",
      httpOnly: true, secure: false, sameSite: "Strict", expires: -1 }],
    origins: [{ origin: url.origin, localStorage: [
      { name: "classboard.user", value: JSON.stringify(s.user) },
      { name: "classboard.access_token", value: JSON.stringify(s.access_token) },
    ] }],
  };
}

function kind(mime, url) {
  // A split point's modules arrive in one `.bundle` (scripts/setup): WebAssembly.
  if (url.endsWith(".wasm") || url.endsWith(".bundle") || mime === "application/wasm") return "wasm";
  if (mime.includes("javascript")) return "js";
  if (mime === "text/css") return "css";
  if (mime === "text/html") return "html";
  return "other";
}

/** Opens `target` in `page` and sums the bytes received by kind, once the network is quiet. */
async function visit(page, cdp, target) {
  const requests = new Map();
  const totals = { wasm: 0, js: 0, css: 0, html: 0, other: 0, requests: 0, from_cache: 0, headers: 0,
    wasm_js_headers: 0 };
  const headerBytes = new Map();
  const onResponse = (e) => requests.set(e.requestId, kind(e.response.mimeType, e.response.url));
  // The response's status line and headers as they came over the wire.
  const onExtra = (e) => headerBytes.set(e.requestId, (e.headersText ?? "").length);
  const onCached = (e) => { totals.from_cache += 1; requests.set(e.requestId, requests.get(e.requestId) ?? "other"); };
  const onFinished = (e) => {
    const k = requests.get(e.requestId) ?? "other";
    totals[k] += e.encodedDataLength;
    totals.requests += 1;
    const h = headerBytes.get(e.requestId) ?? 0;
    totals.headers += h;
    if (k === "wasm" || k === "js") totals.wasm_js_headers += h;
  };
  cdp.on("Network.responseReceived", onResponse);
  cdp.on("Network.responseReceivedExtraInfo", onExtra);
  cdp.on("Network.requestServedFromCache", onCached);
  cdp.on("Network.loadingFinished", onFinished);
  await page.goto(`${base}${target}`, { waitUntil: "networkidle" });
  // Islands hydrate when the browser is idle, and lazy ones fetch their
  // chunks then: wait until nothing more arrives for a while.
  await page.waitForTimeout(1500);
  await page.waitForLoadState("networkidle");
  cdp.off("Network.responseReceived", onResponse);
  cdp.off("Network.responseReceivedExtraInfo", onExtra);
  cdp.off("Network.requestServedFromCache", onCached);
  cdp.off("Network.loadingFinished", onFinished);
  return totals;
}

const pages = [];
for (const [target, who] of PAGES) {
  const context = await browser.newContext({ storageState: await signedIn(who) });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const first = await visit(page, cdp, target);
  const second = await visit(page, cdp, target);
  pages.push({ path: target, who: who ?? "nobody", first, second });
  await context.close();
}
await browser.close();
console.log(JSON.stringify({ pages }));
