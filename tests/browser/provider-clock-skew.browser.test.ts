import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Devnet } from "../../contracts/devnet";
import { startDevnet } from "../../contracts/devnet/server";
import { cleanup } from "../signaling/helpers";
import { buildPages } from "./build-pages";
import { openPage, serveFromProviderPage, startChainServer, text } from "./chain-server";
import { launchChromium } from "./chromium";

/**
 * The provider page in a browser whose clock is 2 h behind the chain's (the real server with a
 * devnet whose clock runs 2 h ahead of this machine's). Its registration carries the identity
 * key's proof, valid for an hour: dated by the chain's clock, read before the click, the Registry
 * takes it. Dated by the browser's, it was refused as expired (311) and the page waited for an
 * entry that never came.
 */
let url: string;
let devnet: Devnet;
let browser: Browser;

beforeAll(async () => {
  const dir = await buildPages({ testEngine: true });
  devnet = await startDevnet({ clock: () => Math.floor(Date.now() / 1000) + 7_200 });
  ({ url } = await startChainServer(dir, 5, { devnet }));
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await cleanup();
  await devnet?.close();
});

describe("the provider page, its browser's clock 2 h behind the chain's", () => {
  it("registers in the Registry and serves", async () => {
    const provider = await openPage(browser, `${url}/provider`, "provider");
    await serveFromProviderPage(provider, { price: 1_000_000n, register: true });
    expect(await text(provider, "registry-state")).toContain("test-model");
  }, 90_000);
});
