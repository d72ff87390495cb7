import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage, text, waitForText } from "./chain-server";
import { ask } from "./chat-steps";
import { usePagesFixture } from "./pages-fixture";

/**
 * Addresses and greyed-out controls as a newcomer on a 360 px phone in dark mode meets them, by
 * keyboard alone: an address shows short with the whole of it in its title, Copy copies the whole
 * address and says so; a disabled Send says why; the balance is one keypress away.
 */
const f = usePagesFixture();

async function phone(url: string, label: string): Promise<Page> {
  const page = await openPage(f.browser, url, label);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: f.url });
  return page;
}

/** The address as shown (its visible text and title), then Copy pressed by keyboard: the status and the clipboard. */
async function copyByKeyboard(page: Page, testId: string) {
  const full = (await text(page, testId))!;
  const code = page.locator("code", { has: page.getByTestId(testId) }).last();
  const shown = ((await code.locator("[aria-hidden=true]").textContent()) ?? "").trim();
  const title = await code.getAttribute("title");
  const copy = page
    .locator("span.address", { has: page.getByTestId(testId) })
    .last()
    .getByRole("button", { name: "Copy address" });
  await copy.focus();
  await page.keyboard.press("Enter");
  const status = await waitForText(page, `${testId}-copied`, (s) => s.length > 0);
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  return { full, shown, title, status, clipboard, sideways };
}

/** Shown short (its first and last four characters), titled in full; Copy put the whole of it on the clipboard, said so, and nothing overflows. */
async function expectShortAndCopied(page: Page, testId: string) {
  const r = await copyByKeyboard(page, testId);
  expect(r.full.length).toBeGreaterThanOrEqual(48);
  expect(r.shown).toBe(`${r.full.slice(0, 4)}…${r.full.slice(-4)}`);
  expect(r.title).toBe(r.full);
  expect(r.status).toBe("Copied");
  expect(r.clipboard).toBe(r.full);
  expect(r.sideways).toBe(0);
}

describe("addresses and greyed-out controls at 360 px, dark, by keyboard", () => {
  it("the web client: Send says why it is off; the wallet panel opened by keyboard shows the balance and a short address whose Copy copies it whole", async () => {
    const client = await phone(`${f.url}/`, "client");
    const send = client.getByRole("button", { name: "Send", exact: true });
    expect(await send.isDisabled()).toBe(true);
    const why = await send.evaluate((b) => {
      const id = b.getAttribute("aria-describedby");
      const el = id ? document.getElementById(id) : null;
      return el && el.getBoundingClientRect().height > 0
        ? (el.textContent ?? "").replace(/\s+/g, " ").trim()
        : "";
    });
    expect(why).toMatch(/^Send is off/);

    const wallet = client.getByRole("button", { name: /^Wallet/ });
    await wallet.focus();
    await client.keyboard.press("Enter");
    await client.getByTestId("wallet-address").waitFor({ state: "attached" });
    // A phone's header hides the balance: the panel shows it, on screen.
    await waitForText(client, "escrow-balance", (s) => s !== "unknown");
    expect(await client.getByTestId("escrow-balance").isVisible()).toBe(true);
    const box = await client.getByTestId("escrow-balance").boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 360).toBe(true);

    await expectShortAndCopied(client, "wallet-address");
  }, 120_000);

  it("the provider page: its wallet address is short, titled in full, and Copy copies it whole", async () => {
    const provider = await phone(`${f.url}/provider`, "provider");
    await provider.getByTestId("wallet-address").waitFor({ state: "attached", timeout: 60_000 });
    await expectShortAndCopied(provider, "wallet-address");
  }, 120_000);

  it("a long conversation scrolls inside its log: the page itself stays one screen tall (it grew to 54,867 px)", async () => {
    const provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, { register: true });
    const client = await openPage(f.browser, `${f.url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(client, "5");
    await client.getByRole("button", { name: /^Wallet/ }).click();
    // One word a token, each its own paragraph: a question and an answer thousands of pixels tall.
    await ask(client, Array.from({ length: 300 }, (_, i) => `w${i}\n\n`).join(" "), 1);
    const tall = () =>
      client.evaluate(() => ({
        page: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight) - innerHeight,
        log: document.querySelector("[role=log]")!.scrollHeight,
      }));
    for (const [width, height] of [
      [1280, 500],
      [360, 740],
    ] as const) {
      await client.setViewportSize({ width, height });
      const t = await tall();
      expect(t.log).toBeGreaterThan(5 * height);
      expect(t.page).toBe(0);
    }
  }, 180_000);
});
