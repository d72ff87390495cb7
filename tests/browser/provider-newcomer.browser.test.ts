import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openPage, serveFromProviderPage, text, tonOf, waitForText } from "./chain-server";
import { openWidgetPhone } from "./page-checks";
import { usePagesFixture } from "./pages-fixture";

/**
 * The provider page walked as a newcomer at 360 px in dark mode, by keyboard and with what a screen
 * reader announces (its live regions): each row was found on such a walk and failed before its fix.
 * The scripted test engine stands in for model weights; the signaling server and devnet are real.
 */
const f = usePagesFixture();

async function phone(): Promise<Page> {
  const page = await openPage(f.browser, `${f.url}/provider`, "provider");
  await page.setViewportSize({ width: 360, height: 740 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByTestId("step-1").waitFor();
  return page;
}

/** The text of every visible live region (status, alert, aria-live), spaces squashed. */
const liveTexts = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>("[role=status], [role=alert], [aria-live]")]
      .filter((el) => el.getClientRects().length > 0)
      .map((el) => (el.textContent ?? "").replace(/\s+/g, " ").trim())
      .filter((t) => t.length > 0),
  );

/** The live regions' texts said more than once: a screen reader hears each of those twice. */
async function saidTwice(page: Page): Promise<string[]> {
  const seen = await liveTexts(page);
  return seen.filter((t, i) => seen.indexOf(t) !== i);
}

const squash = (s: string | null) => (s ?? "").replace(/\s+/g, " ").trim();

describe("the provider page, a newcomer's walk at 360 px in dark mode", () => {
  it("idle, the headline names the next step, and says it once to a screen reader", async () => {
    const page = await phone();
    expect(await text(page, "status-headline")).toBe("Not serving: load a model, then press Start serving");
    expect(await saidTwice(page)).toEqual([]);
    await page.getByRole("button", { name: "Load", exact: true }).click();
    await page.getByTestId("loaded-model").waitFor();
    // The dev wallet's address fills the payout address: what is left is Start serving.
    await waitForText(
      page,
      "status-headline",
      (s) => s === "Not serving: test-model is loaded; press Start serving",
    );
    expect(await saidTwice(page)).toEqual([]);
    await page.context().close();
  }, 90_000);

  it("what “not claimed yet” means is said beside it, on the first screen, not only inside Earnings", async () => {
    const page = await phone();
    const earned = page.getByTestId("status-earned");
    expect(squash(await earned.textContent())).toMatch(/not claimed yet/);
    const help = page.getByTestId("status-claims-help");
    expect(await help.isVisible()).toBe(true);
    expect(squash(await help.textContent())).toMatch(/^Not claimed yet: .*escrow.*payout address/);
    const box = (await help.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(740);
    // Earnings and claims is still collapsed on a fresh page: the words must not hide in it.
    expect(await page.locator("details.earnings").getAttribute("open")).toBeNull();
    await page.context().close();
  }, 90_000);

  it("a registration is said once, in the Registry line, and the page says it once to a screen reader while serving", async () => {
    const page = await phone();
    await serveFromProviderPage(page, { register: true });
    expect(tonOf(await text(page, "wallet-balance"))).toBeGreaterThan(0n);
    const told = await page.evaluate(() =>
      [...document.querySelectorAll("p")]
        .map((p) => (p.textContent ?? "").trim())
        .filter((t) => /^Registered\b/.test(t)),
    );
    expect(told).toHaveLength(1);
    expect(await page.getByTestId("registry-state").getAttribute("role")).toBe("status");
    expect(await text(page, "status-headline")).toBe("Serving test-model: connected to Silk");
    expect(await saidTwice(page)).toEqual([]);
    // Registered, “Update the registration” is optional: not a full-width primary button like a step left.
    const update = page.getByRole("button", { name: "Update the registration" });
    const [looks, width, room] = await update.evaluate((el) => [
      getComputedStyle(el).backgroundColor === getComputedStyle(document.body).backgroundColor,
      el.getBoundingClientRect().width,
      el.parentElement!.getBoundingClientRect().width,
    ]);
    expect(looks, "a secondary button, the page's background").toBe(true);
    expect(width).toBeLessThan(Number(room) * 0.8);
    // Price and payout are off while serving, and look it: they looked like fields to type in.
    const look = (label: string) =>
      page.getByLabel(label).evaluate((el) => {
        const css = getComputedStyle(el);
        return `${css.backgroundColor} ${css.borderStyle}`;
      });
    const offLook = await look("Price, nanoTON per token");
    expect(await page.getByLabel("Price, nanoTON per token").isDisabled()).toBe(true);
    expect(offLook).toMatch(/dashed$/);
    expect(await look("Add stake, TON")).not.toBe(offLook);
    // The wallet is connected and is the payout address: nothing left to “connect”.
    expect(squash(await page.locator("#payout-help").textContent())).toBe(
      "Receipts are bound to this address and claims pay it.",
    );
    // A phone's widget (one line for the question box): its placeholder shows whole, not “Ask anything (Enter sends”.
    const widget = await openWidgetPhone(f.browser, f.url);
    const box = widget.locator("silk-chat").getByRole("textbox", { name: "Your question" });
    await expect.poll(() => box.getAttribute("placeholder"), { timeout: 30_000 }).not.toMatch(/model/);
    const fits = await box.evaluate((el) => {
      const css = getComputedStyle(el);
      const ctx = document.createElement("canvas").getContext("2d")!;
      ctx.font = `${css.fontSize} ${css.fontFamily}`;
      const room = el.clientWidth - Number.parseFloat(css.paddingLeft) - Number.parseFloat(css.paddingRight);
      return ctx.measureText(el.getAttribute("placeholder") ?? "").width <= room;
    });
    expect(fits).toBe(true);
    await widget.context().close();
    // The queue's figures name their unit: “0 / 0” read as a score.
    await page.getByText(/^Traffic:/).click();
    expect(squash(await text(page, "running-waiting"))).toBe("0 running, 0 waiting");
    await page.getByRole("button", { name: "Stop" }).click();
    await waitForText(page, "status-headline", (s) => s.startsWith("Not serving"));
    expect(await saidTwice(page)).toEqual([]);
    await page.context().close();
  }, 120_000);

  it("a long model list scrolls by keyboard while serving, its radios off, and says why they are off", async () => {
    const page = await phone();
    await page.getByText("Self-hosted model: load weights from your own host").click();
    for (let i = 1; i <= 12; i++) {
      await page.getByLabel("Model id").fill(`Own-Model-${i}-q4f32_1-MLC`);
      await page.getByLabel("Weights URL").fill(`https://weights.example.org/own-${i}/`);
      await page.getByLabel("Library URL").fill(`https://weights.example.org/own-${i}.wasm`);
      await page.getByRole("button", { name: "Save location" }).click();
      await waitForText(page, "self-hosted-saved", (s) => s.startsWith(`Saved: Own-Model-${i}-`));
    }
    await page.getByRole("radio", { name: /^test-model/ }).check();
    await serveFromProviderPage(page);
    const box = page.getByTestId("model-choices");
    const sizes = await box.evaluate((el) => ({ scroll: el.scrollHeight, client: el.clientHeight }));
    expect(sizes.scroll).toBeGreaterThan(sizes.client);
    expect(await page.getByRole("radio").first().isDisabled()).toBe(true);
    // Tab reaches the box; the arrow keys then scroll it.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await box.evaluate((el) => el === document.activeElement);
    }
    expect(reached).toBe(true);
    await page.keyboard.press("End");
    await expect.poll(() => box.evaluate((el) => el.scrollTop)).toBeGreaterThan(0);
    // Its name and why its radios are off, for a screen reader landing on it.
    expect(await box.getAttribute("aria-label")).toMatch(/^Models that fit this device/);
    const why = await box.getAttribute("aria-describedby");
    expect(squash(await page.locator(`#${why}`).textContent())).toMatch(/off while serving/);
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Start serving" }).waitFor();
    // Not serving, the radios take the focus (arrows move it): the box is no extra Tab stop.
    expect(await box.getAttribute("tabindex")).toBeNull();
    await page.context().close();
  }, 180_000);
});

describe("the widget on a phone, by keyboard", () => {
  it("Escape leaves the wallet panel for the chat, the focus back on Wallet, as Telegram's Back button does", async () => {
    const page = await openWidgetPhone(f.browser, f.url);
    const widget = page.locator("silk-chat");
    const wallet = widget.getByRole("button", { name: "Wallet", exact: true });
    await wallet.focus();
    await page.keyboard.press("Enter");
    await widget.getByRole("button", { name: "Chat", exact: true }).waitFor();
    await widget.getByText("Escrow").first().waitFor({ timeout: 30_000 });
    await page.keyboard.press("Escape");
    await widget.getByRole("textbox", { name: "Your question" }).waitFor();
    await expect
      .poll(() =>
        wallet.evaluate(
          (el) =>
            el.getRootNode() instanceof ShadowRoot && (el.getRootNode() as ShadowRoot).activeElement === el,
        ),
      )
      .toBe(true);
    await page.context().close();
  }, 90_000);
});

// Last in this file: it closes the signaling server.
describe("the provider page when the server goes away", () => {
  it("says “Reconnecting” to a screen reader once, not again with every second its counter ticks; the chat page’s Send says why it is off", async () => {
    const page = await phone();
    await serveFromProviderPage(page);
    const client = await openPage(f.browser, `${f.url}/`, "client");
    await client.setViewportSize({ width: 360, height: 740 });
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await f.server.close();
    await waitForText(page, "status-headline", (s) => s.startsWith("Reconnecting to Silk (lost"), 30_000);
    // The seen line counts the seconds; what the live regions say stays put while it does.
    const before = await liveTexts(page);
    const seen = await text(page, "status-headline");
    await waitForText(page, "status-headline", (s) => s !== seen, 10_000);
    expect(await liveTexts(page)).toEqual(before);
    expect(before).toContain("Reconnecting to Silk: requesters cannot reach this tab until it is back");
    expect(await saidTwice(page)).toEqual([]);
    await page.context().close();
    // The chat page's Send gives the same reason as its bar, not “no model yet”, which sent one looking for a model.
    await client
      .getByText(/^Cannot reach Silk/)
      .first()
      .waitFor({ timeout: 30_000 });
    await client.getByRole("textbox", { name: "Your question" }).fill("hello");
    expect(squash(await text(client, "estimate"))).toBe(
      "Send is off: Silk cannot be reached; it retries by itself.",
    );
    await client.context().close();
  }, 90_000);
});
