import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage } from "./chain-server";
import { openWidgetPhone } from "./page-checks";
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

/**
 * Every visible disabled control (buttons, fields, lists, checkboxes) inside `host`'s shadow root or
 * the page: its name, and the visible text its aria-describedby points to ("" when none).
 */
function disabledControls(page: Page, host?: string): Promise<{ name: string; why: string }[]> {
  return page.evaluate((hostSelector) => {
    const root: Document | ShadowRoot = hostSelector
      ? document.querySelector(hostSelector)!.shadowRoot!
      : document;
    const visible = (el: Element) => el.getClientRects().length > 0;
    return [
      ...root.querySelectorAll<
        HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
      >("button:disabled, input:disabled, select:disabled, textarea:disabled"),
    ]
      .filter(visible)
      .map((c) => {
        const why = (c.getAttribute("aria-describedby") ?? "")
          .split(/\s+/)
          .map((id) => (id ? root.getElementById(id) : null))
          .filter((el): el is HTMLElement => !!el && visible(el))
          .map((el) => (el.textContent ?? "").replace(/\s+/g, " ").trim())
          .join(" ");
        const label = "labels" in c ? c.labels?.[0]?.textContent : undefined;
        const name = c.getAttribute("aria-label") ?? label ?? c.textContent ?? c.tagName;
        return { name: name.replace(/\s+/g, " ").trim().slice(0, 60), why };
      });
  }, host);
}

/** The font sizes of the reasons the visible disabled controls point to (one each), in `host` or the page. */
function reasonSizes(page: Page, host?: string): Promise<string[]> {
  return page.evaluate((hostSelector) => {
    const root: Document | ShadowRoot = hostSelector
      ? document.querySelector(hostSelector)!.shadowRoot!
      : document;
    const visible = (el: Element) => el.getClientRects().length > 0;
    const sizes = [
      ...root.querySelectorAll("button:disabled, input:disabled, select:disabled, textarea:disabled"),
    ]
      .filter(visible)
      .flatMap((c) => (c.getAttribute("aria-describedby") ?? "").split(/\s+/))
      .map((id) => (id ? root.getElementById(id) : null))
      .filter((el): el is HTMLElement => !!el && visible(el))
      .map((el) => getComputedStyle(el).fontSize);
    return [...new Set(sizes)];
  }, host);
}

/** A reason says the control is off (or waits), not only what the control is for. */
const SAYS_OFF = /\b(off|wait)\b/i;

describe("every greyed-out button says why, at 360 px in dark mode", () => {
  it("the web client on arrival: Send and Export are off, and each says why", async () => {
    const client = await phone(`${f.url}/`, "client");
    await client.getByRole("button", { name: "Send", exact: true }).waitFor();
    // A phone keeps the conversation list in a drawer: opened by keyboard.
    await client.locator(".drawer-toggle").focus();
    await client.keyboard.press("Enter");
    await client.getByRole("button", { name: "Export" }).waitFor();
    const off = await disabledControls(client);
    expect(off.map((o) => o.name)).toEqual(expect.arrayContaining(["Send", "Export"]));
    for (const o of off)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(/\w/) });
    // Every reason in one size (14 px), as the provider page's: Send's was 12.8 px.
    expect(await reasonSizes(client)).toEqual(["14px"]);
  }, 120_000);

  it("the provider page on arrival: Start serving is off, and says why", async () => {
    const provider = await phone(`${f.url}/provider`, "provider");
    await provider.getByRole("button", { name: "Start serving" }).waitFor();
    const off = await disabledControls(provider);
    expect(off.map((o) => o.name)).toContain("Start serving");
    for (const o of off)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(/\w/) });
    // Start serving's reason was 16 px, Register's beside it 14 px.
    expect(await reasonSizes(provider)).toEqual(["14px"]);
  }, 120_000);

  it("the provider page while serving, and the widget while an answer streams: each locked control says why", async () => {
    const provider = await phone(`${f.url}/provider`, "provider");
    // Each token 300 ms apart: the widget's answer streams long enough to look around.
    await provider.evaluate(() => localStorage.setItem("silk-test-token-delay-ms", "300"));
    await serveFromProviderPage(provider, { register: true });
    const serving = await disabledControls(provider);
    // The model, Load, the price, the payout and the audit setting are locked while serving.
    expect(serving.length).toBeGreaterThanOrEqual(5);
    for (const o of serving)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(SAYS_OFF) });
    expect(await reasonSizes(provider)).toEqual(["14px"]);

    const widget = await openWidgetPhone(f.browser, f.url);
    await widget.locator("silk-chat select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(widget);
    await widget.getByRole("button", { name: "Chat", exact: true }).click();
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    await widget.getByRole("textbox", { name: "Your question" }).fill(words);
    await widget.getByRole("button", { name: "Send", exact: true }).click();
    // Streaming: Stop stands where Send was.
    const stop = widget.getByRole("button", { name: "Stop", exact: true });
    await stop.waitFor({ timeout: 30_000 });
    await widget.getByTestId("chat-options").locator("summary").click();
    expect(await reasonSizes(widget, "silk-chat")).toEqual(["14px"]);
    await widget.screenshot({ path: "test-results/disabled-reasons-widget-streaming.png" });
    const streaming = await disabledControls(widget, "silk-chat");
    const names = streaming.map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining(["New chat", "Model", expect.stringMatching(/^System prompt/)]),
    );
    for (const o of streaming)
      expect(o, `${o.name} says why it is off`).toMatchObject({ why: expect.stringMatching(SAYS_OFF) });
    await stop.click();
    await provider.evaluate(() => localStorage.removeItem("silk-test-token-delay-ms"));
  }, 180_000);
});
