import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { contrastRatio as hexContrast } from "../../client/widget/telegram";
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
      expect(await theme.textContent()).toBe("Theme: system");
      await theme.click();
      expect(await theme.textContent()).toBe("Theme: light");
      await page.context().close();
    }
  }, 60_000);

  it("an empty conversation list says what it is for, in the phone's drawer and on a wide screen", async () => {
    const phone = await open("/", 360, "dark");
    await phone.getByRole("button", { name: "Chats" }).press("Enter");
    const empty = phone.getByRole("navigation", { name: "Conversations" }).getByTestId("no-conversations");
    await empty.waitFor();
    expect((await empty.textContent())?.trim()).toMatch(
      /^No conversations yet\. Each question you ask starts one here/,
    );
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
    expect((await explained.textContent())?.trim()).toMatch(
      /^Your escrow is a small contract on TON that holds what you deposit/,
    );
    // "deployed" is the contract's word, not the reader's.
    await expect
      .poll(() => panel.getByTestId("escrow-balance").textContent())
      .toBe("nothing yet: your first deposit creates it");
    expect(await panel.textContent()).not.toMatch(/deploy/i);
    await page.context().close();
  }, 60_000);

  it("the widget's demo page follows dark mode around the widget, its text readable (AA)", async () => {
    const page = await (
      await f.browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
    ).newPage();
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    const colours = await page.evaluate(() => {
      const body = getComputedStyle(document.body);
      return {
        body: body.backgroundColor,
        text: body.color,
        code: getComputedStyle(document.querySelector("code")!).backgroundColor,
      };
    });
    /** The page's own WCAG rule (the widget's, for Telegram colours) on computed "rgb(r, g, b)" colours. */
    const contrastRatio = (a: string, b: string) =>
      hexContrast(
        ...([a, b].map(
          (c) =>
            `#${(c.match(/\d+/g) ?? [])
              .slice(0, 3)
              .map((n) => Number(n).toString(16).padStart(2, "0"))
              .join("")}`,
        ) as [string, string]),
      );
    // A dark page (the white page around a dark widget is darker than this by far), its text AA.
    expect(contrastRatio(colours.body, "rgb(0, 0, 0)")).toBeLessThan(1.5);
    expect(contrastRatio(colours.text, colours.body)).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio(colours.text, colours.code)).toBeGreaterThanOrEqual(4.5);
    await page.context().close();
  }, 60_000);
});
