import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openPage } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";

/**
 * A newcomer on a 360 px phone in dark mode meets greyed-out buttons: each must say why it is off,
 * on screen and through its aria-describedby, as Send does ("Send is off: …").
 */
const f = usePagesFixture();

async function phone(url: string, label: string): Promise<Page> {
  const page = await openPage(f.browser, url, label);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.emulateMedia({ colorScheme: "dark" });
  return page;
}

/** Every visible disabled button's name, with the visible text its aria-describedby points to ("" when none). */
function disabledReasons(page: Page): Promise<{ name: string; why: string }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLButtonElement>("button:disabled")]
      .filter((b) => b.getClientRects().length > 0)
      .map((b) => {
        const why = (b.getAttribute("aria-describedby") ?? "")
          .split(/\s+/)
          .map((id) => (id ? document.getElementById(id) : null))
          .filter((el): el is HTMLElement => !!el && el.getClientRects().length > 0)
          .map((el) => (el.textContent ?? "").replace(/\s+/g, " ").trim())
          .join(" ");
        return { name: (b.getAttribute("aria-label") ?? b.textContent ?? "").trim(), why };
      }),
  );
}

describe("every greyed-out button says why, at 360 px in dark mode", () => {
  it("the web client on arrival: Send and Export are off, and each says why", async () => {
    const client = await phone(`${f.url}/`, "client");
    await client.getByRole("button", { name: "Send", exact: true }).waitFor();
    // A phone keeps the conversation list in a drawer: opened by keyboard.
    await client.locator(".drawer-toggle").focus();
    await client.keyboard.press("Enter");
    await client.getByRole("button", { name: "Export" }).waitFor();
    const off = await disabledReasons(client);
    expect(off.map((o) => o.name)).toEqual(expect.arrayContaining(["Send", "Export"]));
    for (const o of off)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(/\w/) });
  }, 120_000);

  it("the provider page on arrival: Start serving is off, and says why", async () => {
    const provider = await phone(`${f.url}/provider`, "provider");
    await provider.getByRole("button", { name: "Start serving" }).waitFor();
    const off = await disabledReasons(provider);
    expect(off.map((o) => o.name)).toContain("Start serving");
    for (const o of off)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(/\w/) });
  }, 120_000);
});
