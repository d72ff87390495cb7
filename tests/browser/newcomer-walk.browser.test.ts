import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openPage } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";

/**
 * What a newcomer trips on when walking the pages (client, provider, widget demo) at 360x740 and
 * 1280x800, light and dark, by keyboard: each row here was found on such a walk and failed before
 * its fix.
 */
const f = usePagesFixture();

async function open(path: string, width: number, scheme: "light" | "dark"): Promise<Page> {
  const page = await openPage(f.browser, `${f.url}${path}`, path);
  await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
  await page.emulateMedia({ colorScheme: scheme });
  return page;
}

describe("a newcomer's walk through the pages", () => {
  it("the theme button reads “Theme: system”, a word apart, wherever its prefix shows", async () => {
    for (const path of ["/", "/provider"]) {
      const page = await open(path, 1280, "dark");
      const theme = page.getByRole("button", { name: /^Theme/ });
      expect(await theme.innerText()).toBe("Theme: system");
      await theme.click();
      expect(await theme.innerText()).toBe("Theme: light");
      await page.context().close();
    }
  }, 60_000);

  it("an empty conversation list says what it is for, in the phone's drawer and on a wide screen", async () => {
    const phone = await open("/", 360, "dark");
    await phone.getByRole("button", { name: "Chats" }).press("Enter");
    const empty = phone.getByRole("navigation", { name: "Conversations" }).getByTestId("no-conversations");
    await empty.waitFor();
    expect(await empty.innerText()).toMatch(/^No conversations yet\. Each question you ask starts one here/);
    await phone.context().close();
    const wide = await open("/", 1280, "light");
    expect(await wide.getByTestId("no-conversations").isVisible()).toBe(true);
    await wide.context().close();
  }, 60_000);

  it("the wallet says what an escrow is before the first deposit, and no state reads as chain jargon", async () => {
    const page = await open("/", 360, "dark");
    await page.getByRole("button", { name: /^Wallet/ }).press("Enter");
    const panel = page.locator("#wallet-panel");
    await panel.getByTestId("escrow-balance").waitFor();
    const explained = panel.getByTestId("escrow-explained");
    expect(await explained.isVisible()).toBe(true);
    expect(await explained.innerText()).toMatch(/^Your escrow is a small contract on TON that holds what you deposit/);
    // "deployed" is the contract's word, not the reader's.
    await expect.poll(() => panel.getByTestId("escrow-balance").innerText()).toBe("nothing yet: your first deposit creates it");
    expect(await panel.innerText()).not.toMatch(/deploy/i);
    await page.context().close();
  }, 60_000);
});
