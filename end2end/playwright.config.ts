import { defineConfig } from "@playwright/test";
import path from "node:path";

// scripts/test picks a free port and a throw-away data folder; running
// `npx playwright test` by hand falls back to port 3100 and ./e2e-data.
const port = process.env.E2E_PORT ?? "3100";
const dataDir = process.env.E2E_DATA_DIR ?? path.resolve(__dirname, "e2e-data");
const root = path.resolve(__dirname, "..");
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
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
  webServer: {
    command: `${root}/target/release/server`,
    cwd: root,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: `${root}/target/site`,
      DATA_DIR: dataDir,
      RUST_LOG: "warn",
    },
  },
});
