import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { VERSION_REFUSAL } from "../support/version-skewed-server";
import { fundClientEscrow, serveFromProviderPage, text } from "./chain-server";
import { ask, question } from "./chat-steps";
import { type FaultyServer, faultyServer } from "./faulty-server";
import { openWidgetPhone } from "./page-checks";
import { openAt, usePagesFixture } from "./pages-fixture";

/**
 * What fails in the background, which no click awaits, said where the operator or the user looks:
 * a signaling server refusing the provider tab's re-registration (the runtime's `signaling-error`),
 * one garbling the chat's directory after a reconnect (the SDK's `onSignalingError`), and this
 * browser's own store failing a receipt (`AccountStoreError`). The pages showed none of it: the
 * provider page said "Reconnecting" with no why, the chat nothing, a failed store "Something went
 * wrong". The signaling server is the real one, made to fail those calls (faulty-server.ts).
 */
const f = usePagesFixture();

const open = (path: string, width: number, scheme: "light" | "dark") => openAt(f, path, width, scheme);

/** Counts every text the live region `testId` is given, from now on (each one is announced). */
async function countTexts(page: Page, testId: string): Promise<() => Promise<string[]>> {
  const name = `said-${testId}`;
  await page.getByTestId(testId).evaluate((region, name) => {
    const said: string[] = [];
    (window as unknown as Record<string, string[]>)[name] = said;
    new MutationObserver(() => {
      const t = (region.textContent ?? "").trim();
      if (t) said.push(t);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  }, name);
  return () => page.evaluate((name) => (window as unknown as Record<string, string[]>)[name] ?? [], name);
}

/** Counts every text the background notice's alert is given, from now on (each one is announced). */
const countAnnouncements = (page: Page) => countTexts(page, "background-notice-text");

const noticeText = (page: Page) => page.getByTestId("background-notice-text").textContent();

/** A directory answer no client can read: providers is not a list. */
const GARBLED_DIRECTORY = { ok: true, directory: { v: 1, providers: "many" } };

async function withFaults(run: (fault: FaultyServer) => Promise<void>): Promise<void> {
  const fault = faultyServer(f.server.io);
  try {
    await run(fault);
  } finally {
    fault.off();
  }
}

describe("background failures, said where they are looked for", () => {
  it("the provider page: a server refusing its re-registration is said once in words, and goes once it is listed again", async () => {
    await withFaults(async (fault) => {
      const page = await open("/provider", 360, "dark");
      await serveFromProviderPage(page);
      const words = page.getByTestId("background-notice-text");
      expect(await words.getAttribute("role")).toBe("alert");
      expect(await noticeText(page)).toBe("");
      const said = await countAnnouncements(page);

      fault.answer("provider:register", VERSION_REFUSAL);
      fault.kick("provider");
      await expect
        .poll(() => noticeText(page), { timeout: 20_000 })
        .toMatch(/^The Silk server refused or garbled/);
      expect(await words.isVisible()).toBe(true);
      // The operator's words (the server, the call, why) under Details, reached by keyboard.
      const details = page.getByTestId("background-notice").locator("summary");
      await details.focus();
      await page.keyboard.press("Enter");
      const detail = squash(await page.getByTestId("background-notice").locator(".detail").textContent());
      expect(detail).toContain(f.url);
      expect(detail).toContain("provider:register");
      expect(detail).toContain("VERSION");
      // It retries (and fails) every few seconds meanwhile: the page says it once, not each time.
      await expect
        .poll(() => fault.faulted("provider:register"), { timeout: 30_000 })
        .toBeGreaterThanOrEqual(3);
      expect(await said()).toHaveLength(1);

      // The server registers it again: listed, the notice goes by itself.
      fault.answer("provider:register", undefined);
      await expect.poll(() => noticeText(page), { timeout: 30_000 }).toBe("");
      expect(await page.getByRole("button", { name: "Dismiss" }).count()).toBe(0);
      expect(await text(page, "status-headline")).toMatch(/^Serving/);

      // Refused again, and dismissed by keyboard: the focus goes on to the Serving buttons, and the
      // retries failing meanwhile do not bring it back until the tab is listed again.
      fault.answer("provider:register", VERSION_REFUSAL);
      fault.kick("provider");
      await expect
        .poll(() => noticeText(page), { timeout: 20_000 })
        .toMatch(/^The Silk server refused or garbled/);
      await page.getByRole("button", { name: "Dismiss" }).press("Enter");
      expect(await noticeText(page)).toBe("");
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Pause");
      const before = fault.faulted("provider:register");
      await expect
        .poll(() => fault.faulted("provider:register"), { timeout: 30_000 })
        .toBeGreaterThan(before + 1);
      expect(await noticeText(page)).toBe("");
      fault.answer("provider:register", undefined);
      await page.context().close();
    });
  }, 120_000);

  it.each([
    ["web client", "/"],
    ["widget", "/widget/"],
  ])(
    "the %s: a directory garbled after a reconnect is said once, goes by itself when answered well again; Dismiss (keyboard) keeps it quiet and returns to the question",
    async (_, path) => {
      await withFaults(async (fault) => {
        const provider = await open("/provider", 1280, "light");
        await serveFromProviderPage(provider, { register: true });
        const page = path === "/" ? await open(path, 360, "dark") : await openWidgetPhone(f.browser, f.url);
        await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
        await fundClientEscrow(page);
        if (path === "/") await page.keyboard.press("Escape");
        else await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");
        await ask(page, "hello", 1);
        expect(await noticeText(page)).toBe("");
        const said = await countAnnouncements(page);

        fault.answer("directory:subscribe", GARBLED_DIRECTORY);
        fault.kick("requester");
        await expect
          .poll(() => noticeText(page), { timeout: 20_000 })
          .toMatch(/^The Silk server garbled its answer/);
        const details = squash(await page.getByTestId("background-notice").locator(".detail").textContent());
        expect(details).toContain(f.url);
        expect(details).toContain("directory:subscribe");
        // Garbled again at the next reconnect: still said once.
        fault.kick("requester");
        await expect
          .poll(() => fault.faulted("directory:subscribe"), { timeout: 20_000 })
          .toBeGreaterThanOrEqual(2);
        expect(await said()).toHaveLength(1);

        // The server answers well at the next re-subscription: the notice goes by itself, and a
        // screen reader is told politely, once, that it is over (not the alert, which stays empty).
        fault.answer("directory:subscribe", undefined);
        fault.kick("requester");
        await expect.poll(() => noticeText(page), { timeout: 20_000 }).toBe("");
        const back = page.getByTestId("background-notice-over");
        expect(await back.getAttribute("role")).toBe("status");
        expect(await back.getAttribute("aria-live")).toBe("polite");
        expect(await page.getByRole("button", { name: "Dismiss" }).count()).toBe(0);
        expect(await back.textContent()).toMatch(/^The Silk server answers well again/);
        // A good re-subscription again says nothing new.
        const overSaid = await countTexts(page, "background-notice-over");
        fault.kick("requester");
        await page.waitForTimeout(3_000);
        expect(await overSaid()).toHaveLength(0);
        expect(await noticeText(page)).toBe("");

        // Garbled again: said again (a new failure), and the word of recovery is gone.
        fault.answer("directory:subscribe", GARBLED_DIRECTORY);
        fault.kick("requester");
        await expect
          .poll(() => noticeText(page), { timeout: 20_000 })
          .toMatch(/^The Silk server garbled its answer/);
        expect(await back.textContent()).toBe("");
        expect(await said()).toHaveLength(2);

        const dismiss = page.getByRole("button", { name: "Dismiss" });
        await dismiss.focus();
        await page.keyboard.press("Enter");
        expect(await noticeText(page)).toBe("");
        expect(
          await question(page).evaluate((el) => el === (el.getRootNode() as Document).activeElement),
        ).toBe(true);
        // The same failure again is not shown again: the user has read it.
        const before = fault.faulted("directory:subscribe");
        fault.kick("requester");
        await expect
          .poll(() => fault.faulted("directory:subscribe"), { timeout: 20_000 })
          .toBeGreaterThan(before);
        await page.waitForTimeout(500);
        expect(await noticeText(page)).toBe("");
        await page.context().close();
        await provider.context().close();
      });
    },
    150_000,
  );

  it("the chat page: this browser's store failing a receipt says so, not “Something went wrong”", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider, { register: true });
    const page = await open("/", 360, "dark");
    // IndexedDB refuses every receipt written from the flag on, as a full disk does.
    await page.evaluate(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
        if (this.name === "receipts" && (window as unknown as { failReceipts?: boolean }).failReceipts)
          throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
        return put.apply(this, args);
      };
    });
    await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(page);
    await page.keyboard.press("Escape");
    await page.evaluate(() => {
      (window as unknown as { failReceipts?: boolean }).failReceipts = true;
    });
    await question(page).fill("hello");
    await page.keyboard.press("Enter");
    const error = page.locator(".turns p.error[role=alert]");
    await error.waitFor({ timeout: 30_000 });
    expect(squash(await error.textContent())).toMatch(
      /^This browser's storage failed while keeping what this answer costs, so the answer stopped/,
    );
    await page.context().close();
    await provider.context().close();
  }, 120_000);
});

const squash = (s: string | null) => (s ?? "").replace(/\s+/g, " ").trim();
