import { Address } from "@ton/core";
import type { Browser, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Devnet } from "../../contracts/devnet";
import { startDevnet } from "../../contracts/devnet/server";
import { cleanup } from "../signaling/helpers";
import { buildPages } from "./build-pages";
import { openPage, serveFromProviderPage, startChainServer, text, tonOf, waitForText } from "./chain-server";
import { launchChromium } from "./chromium";
import { openReady } from "./page-checks";

/**
 * The provider page in a browser whose clock is 2 h behind the chain's (the real server with a
 * devnet whose clock runs 2 h ahead of this machine's). Its registration carries the identity
 * key's proof, valid for an hour: dated by the chain's clock, read before the click, the Registry
 * takes it. Dated by the browser's, it was refused as expired (311) and the page waited for an
 * entry that never came. So Register waits, saying why, until the chain's clock has been read (a
 * failed read is tried again): a click before used to date the proof by the browser's clock.
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

  it("Register waits, saying why, until the chain's clock is read (the first read failing), then registers", async () => {
    const registry = devnet.chain.registry;
    // The page's reads of the Registry's account (where it reads the chain's clock): the first
    // fails, the next are held until released.
    let reads = 0;
    const held: Route[] = [];
    let release = false;
    const context = await browser.newContext();
    await context.route("**/ton/**", async (route) => {
      const body = route.request().postData() ?? "";
      let call: { method?: string; params?: { address?: string } } = {};
      try {
        call = JSON.parse(body) as typeof call;
      } catch {}
      const address = call.params?.address;
      if (call.method !== "getAddressInformation" || !address || !Address.parse(address).equals(registry))
        return route.continue();
      if (reads++ === 0) return route.abort("failed");
      if (release) return route.continue();
      held.push(route);
    });
    const page = await context.newPage();
    await openReady(page, `${url}/provider`);
    await page.getByRole("button", { name: "Load", exact: true }).click();
    await page.getByTestId("loaded-model").waitFor();
    await page.getByRole("button", { name: "Get 100 test TON" }).click();
    await waitForText(page, "wallet-balance", (s) => tonOf(s) === 100_000_000_000n);
    const register = page.getByRole("button", { name: "Register in the Registry" });
    // The first read failed and the next is held: Register is off, and says it waits for the clock.
    await waitForText(page, "register-why", (s) => s.includes("the TON network's clock could not be read"));
    expect(await register.isDisabled()).toBe(true);
    await waitForText(page, "register-why", () => held.length > 0);
    expect(await text(page, "register-why")).toMatch(/Register waits: .*TON network's clock/);
    expect(await register.isDisabled()).toBe(true);
    release = true;
    for (const route of held.splice(0)) await route.continue();
    await register.click();
    await waitForText(page, "registry-state", (s) => s.startsWith("Registered"));
    expect(await text(page, "registry-state")).toContain("test-model");
    await context.close();
  }, 90_000);
});
