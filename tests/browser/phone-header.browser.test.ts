import { describe, expect, it } from "vitest";
import { openPage } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";

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
});
