import { defineConfig } from "@playwright/test";
import path from "node:path";

// scripts/test picks free ports and a throw-away data folder; running
// `npx playwright test` by hand falls back to ports 3100/3101 and ./e2e-data.
const port = process.env.E2E_PORT ?? "3100";
const shortPort = process.env.E2E_SHORT_PORT ?? "3101";
const dataDir = process.env.E2E_DATA_DIR ?? path.resolve(__dirname, "e2e-data");
const root = path.resolve(__dirname, "..");
export const baseURL = `http://127.0.0.1:${port}`;
/** A second server whose access tokens live 3 s, for the refresh tests. */
export const shortURL = `http://127.0.0.1:${shortPort}`;
// E2E_SERVER runs the tests against another build, e.g. `cargo leptos build`'s
// debug one (target/debug/server); target/site must be that build's too.
export const server = process.env.E2E_SERVER ?? `${root}/target/release/server`;
export const dataDirs = { main: `${dataDir}/main`, short: `${dataDir}/short` };
/**
 * Another origin, on the main server's CORS list: the short-lived server
 * under the name `localhost`. (A page the test makes up, on a name that no
 * server answers, is not on the loopback network, and Chromium would refuse
 * its calls to 127.0.0.1 as a public page reaching into the local network.)
 */
export const corsOrigin = `http://localhost:${shortPort}`;

function webServer(addr: string, data: string, extra: Record<string, string> = {}) {
  return {
    command: server,
    cwd: root,
    url: `http://${addr}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      LEPTOS_SITE_ADDR: addr,
      LEPTOS_SITE_ROOT: `${root}/target/site`,
      DATA_DIR: data,
      RUST_LOG: "warn",
      // Every test signs up from 127.0.0.1; the default 30/5m would trip.
      SIGNUPS_PER_IP: "1000/5m",
      AUTH_REQUESTS_PER_IP: "5000/5m",
      ...extra,
    },
  };
}

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: "list",
  use: {
    baseURL,
    trace: "off",
    launchOptions: {
      // No browser can be downloaded here: Debian's chromium, with the flags
      // that keep it off the (closed) network.
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: [
    // Pages of this other origin may call the API (cors.spec.ts).
    // The phone's test texts a confirming code and a sign-in code within
    // seconds: the default burst (once per 30 s per number) would refuse it.
    webServer(`127.0.0.1:${port}`, dataDirs.main, {
      CORS_ALLOWED_ORIGINS: corsOrigin,
      ISSUER: baseURL,
      DYNAMIC_REGISTRATION: "token",
      SMS_BURST_PER_NUMBER: "10/30s",
    }),
    webServer(`127.0.0.1:${shortPort}`, dataDirs.short, { ACCESS_TOKEN_TTL: "3s", REFRESH_REUSE_GRACE: "2s" }),
  ],
});
