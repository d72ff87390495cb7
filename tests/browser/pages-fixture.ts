import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import type { Devnet } from "../../contracts/devnet";
import type { createSignalingServer } from "../../signaling/server";
import { cleanup } from "../signaling/helpers";
import { buildPages } from "./build-pages";
import { openPage, startChainServer } from "./chain-server";
import { launchChromium } from "./chromium";

/** The pages built with the scripted test engine, served with a devnet, and one Chromium. */
export interface PagesFixture {
  /** The build's folder (the production pages, the provider page's engine swapped). */
  dir: string;
  url: string;
  devnet: Devnet;
  server: ReturnType<typeof createSignalingServer>;
  browser: Browser;
}

/**
 * One fixture per test file: builds the pages, starts the signaling server with the devnet (escrows
 * closing after `closeDelay` seconds) and launches Chromium before the file's tests, and stops them
 * after. Its fields are set once `beforeAll` has run.
 */
export function usePagesFixture(opts: { closeDelay?: number } = {}): PagesFixture {
  const f = {} as PagesFixture;
  beforeAll(async () => {
    f.dir = await buildPages({ testEngine: true });
    Object.assign(f, await startChainServer(f.dir, opts.closeDelay));
    f.browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await f.browser?.close();
    await cleanup();
    await f.devnet?.close();
  });
  return f;
}

/** `path` of the fixture's pages in a new tab `width` px wide (a phone's 740 px high at 360), in `scheme`. */
export async function openAt(
  f: PagesFixture,
  path: string,
  width: number,
  scheme: "light" | "dark",
): Promise<Page> {
  const page = await openPage(f.browser, `${f.url}${path}`, path);
  await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
  await page.emulateMedia({ colorScheme: scheme });
  return page;
}
