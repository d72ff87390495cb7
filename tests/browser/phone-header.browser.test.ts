import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, text, tonOf } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";
import { backwardJumps, tabStops } from "./tab-order";

/**
 * A newcomer's first screen on a 360 px phone, before any provider is online: the header keeps
 * its one bar (Chats, Wallet, the theme) and the "No provider is online yet" notice reads as a
 * sentence on a row of its own, as chat apps show a banner, not squeezed into a narrow column.
 */
const f = usePagesFixture();

describe("the phone header with no provider online", () => {
  it("keeps one bar of controls and gives the notice its own full-width row", async () => {
    const page = await openPage(f.browser, `${f.url}/`, "client");
    await page.setViewportSize({ width: 360, height: 740 });
    await page.emulateMedia({ colorScheme: "dark" });
    const notice = page.getByText("No provider is online yet");
    await notice.waitFor();
    const bar = await Promise.all(
      [
        page.getByRole("button", { name: "Chats" }),
        page.getByRole("button", { name: /^Wallet/ }),
        page.getByRole("button", { name: /^Theme:/ }),
      ].map(async (c) => (await c.boundingBox())!),
    );
    const centre = (b: { y: number; height: number }) => b.y + b.height / 2;
    for (const b of bar) expect(Math.abs(centre(b) - centre(bar[0]!))).toBeLessThan(8);
    const text = (await notice.boundingBox())!;
    // Its own row: below the bar, and nearly the screen's width (it was about 100 px wide).
    expect(text.y).toBeGreaterThanOrEqual(Math.max(...bar.map((b) => b.y + b.height)) - 1);
    expect(text.width).toBeGreaterThan(300);
    const header = (await page.locator("header.top").boundingBox())!;
    expect(header.height).toBeLessThan(150);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  }, 120_000);

  it("takes Tab through the page in the order it shows: the bar, then the notice's link, then the chat", async () => {
    const page = await openPage(f.browser, `${f.url}/`, "client");
    await page.setViewportSize({ width: 360, height: 740 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByText("No provider is online yet").waitFor();
    const stops = await tabStops(page);
    expect(stops.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^a “Serve from this browser/),
        expect.stringMatching(/^textarea/),
      ]),
    );
    // The notice's link sits under the bar: focus went to it between Chats and Wallet, then back up.
    expect(backwardJumps(stops)).toEqual([]);
  }, 120_000);

  it("keeps what the escrow holds in view on the Wallet button, before and after a deposit", async () => {
    const page = await openPage(f.browser, `${f.url}/`, "client");
    await page.setViewportSize({ width: 360, height: 740 });
    await page.emulateMedia({ colorScheme: "dark" });
    const wallet = page.getByRole("button", { name: /^Wallet/ });
    // The exact amount is read out (the button's name); a short form of it is what the phone shows.
    const exact = page.getByTestId("balance-top");
    // ("not funded" is short already: shown as it is.)
    let balance = exact;
    // Shown, not only read out: a real box inside the button, on screen, in text a phone can read.
    const shown = async () => {
      const [b, w] = [(await balance.boundingBox())!, (await wallet.boundingBox())!];
      expect(b.width).toBeGreaterThan(20);
      expect(b.height).toBeGreaterThan(8);
      expect(b.x).toBeGreaterThanOrEqual(w.x);
      expect(b.x + b.width).toBeLessThanOrEqual(w.x + w.width + 0.5);
      expect(b.y + b.height).toBeLessThanOrEqual(w.y + w.height + 0.5);
      expect(
        await balance.evaluate((el) => parseFloat(getComputedStyle(el).fontSize)),
      ).toBeGreaterThanOrEqual(11);
      return (await balance.textContent())?.trim() ?? "";
    };
    await expect.poll(() => balance.textContent(), { timeout: 30_000 }).toBe("not funded");
    expect(await shown()).toBe("not funded");
    await fundClientEscrow(page, "5");
    const holds = tonOf(await text(page, "escrow-balance"));
    await page.keyboard.press("Escape");
    expect(await wallet.getAttribute("aria-expanded")).toBe("false");
    await expect.poll(async () => tonOf(await exact.textContent()), { timeout: 30_000 }).toBe(holds);
    // A screen reader hears the exact amount in the button's name, not the short form too.
    const exactText = (await exact.textContent()) ?? "";
    const name = new RegExp(`^Wallet\\s*·\\s*${exactText.replace(/\./g, "\\.")}$`);
    expect(await page.getByRole("button", { name }).count()).toBe(1);
    balance = page.getByTestId("balance-short");
    // The short form: what is held, rounded down to 0.001 TON (never more than there is).
    const short = tonOf(await shown());
    expect(short).toBeLessThanOrEqual(holds);
    expect(holds - short).toBeLessThan(1_000_000n);
    // The header keeps its size (the notice row included) and nothing scrolls sideways.
    expect((await page.locator("header.top").boundingBox())!.height).toBeLessThan(150);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: "test-results/phone-header-balance.png" });
  }, 180_000);
});
