import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHarness } from "./build-harness";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "./chromium";
import { serveStatic } from "./static-server";

/**
 * The provider page's IndexedDB receipt store under a browser killed with SIGKILL (its whole
 * process group: browser, renderer, storage) while a tab writes receipts on several streams; the
 * same profile is opened again and must hold every receipt the tab saw acknowledged.
 */
const STREAMS = 8;
const KILLS = 3;

let site: { url: string; close: () => Promise<void> };
let profile: string;

beforeAll(async () => {
  site = await serveStatic(await buildHarness(["receipts"]));
  profile = mkdtempSync(join(tmpdir(), "silk-idb-crash-"));
}, 120_000);
afterAll(async () => {
  await site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Chromium as its own process group on a persistent profile, driven over CDP. */
async function launch(): Promise<{ browser: Browser; page: Page; child: ChildProcess }> {
  const child = spawn(
    CHROMIUM_PATH,
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"],
    { detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = "";
    const deadline = setTimeout(() => reject(new Error(`Chromium did not start in 30 s: ${err}`)), 30_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const found = /DevTools listening on (ws:\S+)/.exec(err);
      if (found) {
        clearTimeout(deadline);
        resolve(found[1]!);
      }
    });
    child.on("exit", () => reject(new Error(`Chromium exited at start: ${err}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint, { timeout: 30_000 });
  const page = await browser.contexts()[0]!.newPage();
  page.on("pageerror", (err) => console.error("receipts harness page error:", err.message));
  return { browser, page, child };
}

async function openHarness(page: Page): Promise<void> {
  await page.goto(`${site.url}/receipts.html`);
  await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 20_000 });
}

function killGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    process.kill(-child.pid!, "SIGKILL");
  });
}

const held = (page: Page) =>
  page.evaluate(
    (n) => (window as never as { silkReceipts: { held(n: number): Promise<number[]> } }).silkReceipts.held(n),
    STREAMS,
  );

describe("the provider page's IndexedDB receipts when Chromium is killed mid-write", () => {
  it(`keeps every acknowledged receipt over ${KILLS} kills of the browser`, async () => {
    const acked = new Array<number>(STREAMS).fill(0);
    for (let run = 0; run < KILLS; run++) {
      const { browser, page, child } = await launch();
      let count = 0;
      const killAt = 40 + Math.floor(Math.random() * 200);
      let killed: Promise<void> | undefined;
      await page.exposeFunction("silkAck", (stream: number, tokens: number) => {
        acked[stream] = Math.max(acked[stream]!, tokens);
        if (++count === killAt) killed = killGroup(child);
      });
      await openHarness(page);
      await page.evaluate(
        (n) => (window as never as { silkReceipts: { write(n: number): void } }).silkReceipts.write(n),
        STREAMS,
      );
      await expect.poll(() => count >= killAt, { timeout: 60_000 }).toBe(true);
      await killed;
      await browser.close().catch(() => undefined); // the connection is gone with the process
    }
    expect(acked.filter((t) => t > 0).length).toBe(STREAMS);

    const { browser, page, child } = await launch();
    await openHarness(page);
    const kept = await held(page);
    for (let s = 0; s < STREAMS; s++) expect(kept[s], `stream ${s}`).toBeGreaterThanOrEqual(acked[s]!);
    await browser.close();
    await killGroup(child);
  }, 300_000);
});
