import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage, text, tonOf, waitForText } from "./chain-server";
import { a11yViolations, placeholderContrast, screenshot } from "./page-checks";
import { usePagesFixture } from "./pages-fixture";
import { TELEGRAM_LIGHT_THEME, TELEGRAM_THEME, telegramDoubleScript } from "./telegram-double";

/**
 * The pages as users get them, except that the provider page's engine module is the scripted test
 * engine (no model weights here): a provider tab and a client tab in two browser contexts hold a
 * conversation over real WebRTC through the real signaling server.
 */
const f = usePagesFixture();

async function ask(page: Page, question: string, answers: number) {
  await page.getByRole("textbox", { name: "Your question" }).fill(question);
  await page.keyboard.press("Enter");
  await page
    .getByTestId("answer-stats")
    .nth(answers - 1)
    .waitFor({ timeout: 20_000 });
}

describe("a whole conversation between the provider page and the web client", () => {
  it("is held with the test build, whose provider page carries the scripted test engine", () => {
    // The swap is real: this build, unlike production, carries the test engine.
    const assets = readdirSync(join(f.dir, "assets")).filter((n) => n.endsWith(".js"));
    expect(
      assets.some((n) => readFileSync(join(f.dir, "assets", n), "utf8").includes("scripted test engine")),
    ).toBe(true);
  });

  let provider: Page;
  let client: Page;

  it("the provider loads the model and serves", async () => {
    provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    expect(await text(provider, "adapter")).toBe("scripted test engine");
    // Registered: the client checks every provider in the Registry before a question leaves.
    await serveFromProviderPage(provider, { register: true });
  });

  it("the client funds its escrow, asks, gets streamed Markdown back, sanitised, with tokens, cost and a moving meter", async () => {
    client = await openPage(f.browser, `${f.url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    expect(await text(client, "meter")).toBe("0 TON");
    await fundClientEscrow(client);

    await ask(client, "hello **bold** <img src=x onerror=alert(1)>", 1);
    const answer = client.getByTestId("turn-assistant").first();
    expect(await answer.locator("strong").textContent()).toBe("bold");
    expect(await answer.locator("img").count()).toBe(0);
    expect(await answer.textContent()).toContain("<img src=x onerror=alert(1)>"); // shown, never run
    const first = tonOf(await text(client, "answer-cost"));
    expect(first).toBeGreaterThan(0n);
    // Both halves of the price are shown: the prompt (the whole conversation, sent again) and the answer.
    expect((await text(client, "answer-stats"))?.replace(/\s+/g, " ")).toMatch(
      /\d+ prompt \+ \d+ answer tokens · [\d.]+ tokens\/s/,
    );
    expect(Number(await text(client, "prompt-tokens"))).toBeGreaterThan(0);
    await waitForText(client, "meter", (s) => tonOf(s) === first);

    // Who answered, as the Registry has it, with pin in one click (and the next answer still comes).
    const identity = await text(provider, "identity-key");
    expect(await client.getByTestId("provider-key").getAttribute("title")).toContain(
      (identity ?? "").trim().slice(0, 16),
    );
    expect(await text(client, "provider-stake")).toBe("no stake");
    expect(await text(client, "provider-age")).toMatch(/^registered \d+ (s|min) ago$/);
    await client.getByRole("button", { name: "Pin", exact: true }).click();
    await waitForText(client, "trust-terms", (s) => s.includes("pinned"));

    await ask(client, "show code:\n```\nlet x = 1\n```", 2);
    const second = client.getByTestId("turn-assistant").nth(1);
    expect(await second.locator("pre code").textContent()).toContain("let x = 1");
    await second.getByRole("button", { name: "Copy code" }).waitFor();
    const total = tonOf(await text(client, "conversation-cost"));
    expect(total).toBeGreaterThan(first);
    await waitForText(client, "meter", (s) => tonOf(s) === total);
  });

  it("the provider's counters and earnings moved", async () => {
    await waitForText(provider, "requests-served", (s) => s === "2");
    const earned = tonOf(await waitForText(provider, "earned", (s) => tonOf(s) > 0n));
    expect(tonOf(await text(provider, "unclaimed"))).toBe(earned);
    // The chart has its axes: money in TON up to what was earned, time from the first receipt to the last.
    const chart = provider.getByRole("img", { name: /^Earnings over time/ });
    expect(await chart.count()).toBe(1);
    await waitForText(provider, "chart-top", (s) => tonOf(s) === earned);
    expect(await text(provider, "chart-from")).toMatch(/\d{1,2}:\d{2}/);
    expect(await text(provider, "chart-to")).toMatch(/\d{1,2}:\d{2}/);
    expect(await chart.getAttribute("aria-label")).toMatch(/TON at .* TON at .*\(\d+ samples\)$/);
    // Its labels are whole (none cut off at the chart's edge) and no bigger than the text around them.
    const labels = await chart.evaluate((svg) => {
      const box = svg.getBoundingClientRect();
      return [...svg.querySelectorAll("text")].map((t) => {
        const r = t.getBoundingClientRect();
        return {
          text: t.textContent,
          whole: r.left >= box.left - 0.5 && r.right <= box.right + 0.5,
          height: r.height,
        };
      });
    });
    for (const l of labels) expect(l.whole, `${l.text} is cut off`).toBe(true);
    expect(Math.max(...labels.map((l) => l.height))).toBeLessThan(24);
  });

  it("stop, edit and regenerate work from the keyboard-reachable buttons", async () => {
    await client.getByRole("button", { name: "Edit" }).first().click();
    await client.getByRole("textbox", { name: "Edit your question" }).fill("edited question");
    await client.getByRole("button", { name: "Send edited" }).click();
    await waitForText(client, "answer-stats", () => true);
    expect(await client.getByTestId("turn-assistant").count()).toBe(1);
    expect(await client.getByTestId("turn-assistant").first().textContent()).toContain(
      "Echo: edited question",
    );
    await client.getByRole("button", { name: "Regenerate" }).click();
    await client.getByTestId("answer-stats").first().waitFor();
    expect(await client.getByTestId("turn-user").count()).toBe(1);
    // A long answer, stopped while it streams: the stats say so and the conversation goes on.
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    await client.getByRole("textbox", { name: "Your question" }).fill(long);
    await client.keyboard.press("Enter");
    await client.getByTestId("turn-assistant").nth(1).getByText("w3 ").waitFor();
    // While it streams, the live count says the tokens and cost so far, and moves.
    const live = async () => (await text(client, "live-count"))?.replace(/\s+/g, " ") ?? "";
    const tokensSoFar = async () => Number((await live()).match(/Streaming: (\d+) tokens/)?.[1] ?? 0);
    expect(await live()).toMatch(/Streaming: \d+ tokens · ≈ .*TON so far/);
    const seen = await tokensSoFar();
    expect(seen).toBeGreaterThan(0);
    await expect.poll(tokensSoFar).toBeGreaterThan(seen);
    await client.getByRole("button", { name: "Stop" }).click();
    // Stop takes its own button away: focus goes to the question box, not to the page.
    expect(
      await client
        .getByRole("textbox", { name: "Your question" })
        .evaluate((el) => el === document.activeElement),
    ).toBe(true);
    const stopped = await waitForText(client, "answer-stats", (s) => s.includes("stopped"));
    expect(stopped).toContain("stopped");
    expect(Number(await text(client, "completion-tokens"))).toBeLessThan(300);
    await client.getByRole("button", { name: "Regenerate" }).click();
    await client.getByTestId("answer-stats").nth(1).waitFor({ timeout: 30_000 });
    expect(await client.getByTestId("turn-assistant").nth(1).textContent()).toContain("w299");
  });

  it("both survive a reload: conversation, cost, identity, receipts and earnings, and they talk again", async () => {
    const before = {
      conv: await text(client, "conversation-cost"),
      meter: await text(client, "meter"),
      identity: await text(provider, "identity-key"),
      earned: await text(provider, "earned"),
      requests: await text(provider, "requests-served"),
    };
    await client.reload();
    await provider.reload();
    await client.waitForSelector("body[data-ready=true]", { state: "attached" });
    await provider.waitForSelector("body[data-ready=true]", { state: "attached" });
    expect(await text(client, "conversation-cost")).toBe(before.conv);
    expect(await text(client, "meter")).toBe(before.meter);
    expect(await client.getByTestId("turn-assistant").first().textContent()).toContain(
      "Echo: edited question",
    );
    expect(await text(provider, "identity-key")).toBe(before.identity);
    expect(await text(provider, "earned")).toBe(before.earned);
    expect(await text(provider, "requests-served")).toBe(before.requests);
    // The provider resumes serving by itself; cumulative receipts carry on from both sides' stores.
    await waitForText(provider, "serving-state", (s) => s.startsWith("Serving"));
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await ask(client, "after the reload", 3);
    expect(await client.getByTestId("turn-assistant").nth(2).textContent()).toContain(
      "Echo: after the reload",
    );
    await waitForText(provider, "earned", (s) => tonOf(s) > tonOf(before.earned));
    await waitForText(client, "meter", (s) => tonOf(s) > tonOf(before.meter));
  });

  it("both pages, mid-conversation, pass axe and are screenshotted", async () => {
    await screenshot(provider, "provider-serving");
    await screenshot(client, "client-conversation");
    expect(await a11yViolations(provider)).toEqual([]);
    expect(await a11yViolations(client)).toEqual([]);
  });
});

type TgDouble = {
  calls: string[];
  app: {
    MainButton: { visible: boolean; text: string; progress: boolean };
    SecondaryButton: { visible: boolean; text: string };
    BackButton: { visible: boolean };
    themeParams: object;
    isClosingConfirmationEnabled: boolean;
    isVerticalSwipesEnabled: boolean;
  };
  click(name: string): void;
  fire(event: string): void;
};
const tg = <T>(page: Page, fn: (d: TgDouble) => T) =>
  page.evaluate(`(${fn.toString()})(window.tgDouble)`) as Promise<T>;

describe("the widget inside a Telegram Mini App", () => {
  it("takes Telegram's theme, viewport and safe areas, funds its escrow, sends with the Main button, closes with Back, and answers", async () => {
    const context = await f.browser.newContext({ viewport: { width: 390, height: 700 } });
    await context.addInitScript(telegramDoubleScript(TELEGRAM_THEME));
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error("widget page error:", e.message));
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    const widget = page.locator("silk-chat");
    const cssVar = (name: string) =>
      widget.evaluate((el, n) => getComputedStyle(el).getPropertyValue(n).trim(), name);
    expect(await cssVar("--silk-bg")).toBe(TELEGRAM_THEME.bg_color);
    expect(await cssVar("--silk-accent")).toBe(TELEGRAM_THEME.button_color);
    expect(await cssVar("--tg-stable-height")).toBe("600px");
    expect(await cssVar("--tg-inset-bottom")).toBe("34px");
    expect(await cssVar("--tg-inset-top")).toBe("12px");
    expect(await widget.evaluate((el) => el.getBoundingClientRect().height)).toBe(600);
    const rootBg = await widget.evaluate(
      (el) => getComputedStyle(el.shadowRoot!.querySelector(".silk-root")!).backgroundColor,
    );
    expect(rootBg).toBe("rgb(23, 33, 43)");
    expect(await tg(page, (d) => d.calls.includes("ready") && d.calls.includes("expand"))).toBe(true);
    expect(await tg(page, (d) => d.app.MainButton.text)).toBe("Send");
    // Inside Telegram the Main button sends: the widget's own Send button steps aside.
    expect(await page.getByRole("button", { name: "Send", exact: true }).count()).toBe(0);

    await page.locator("silk-chat select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    // The widget pays from its own escrow: the dev wallet takes test TON and deposits; Back closes the panel.
    await fundClientEscrow(page);
    await tg(page, (d) => d.click("BackButton"));
    expect(await tg(page, (d) => d.app.MainButton.visible)).toBe(false);
    await page.getByRole("textbox", { name: "Your question" }).fill("hello from Telegram");
    await expect.poll(() => tg(page, (d) => d.app.MainButton.visible)).toBe(true);
    await tg(page, (d) => d.click("MainButton"));
    await page.getByTestId("answer-stats").waitFor({ timeout: 20_000 });
    expect(await page.getByTestId("turn-assistant").textContent()).toContain("Echo: hello from Telegram");
    await expect.poll(() => tg(page, (d) => d.calls.includes("haptic.notification:success"))).toBe(true);
    expect(await tg(page, (d) => d.calls.includes("haptic.impact:light"))).toBe(true);
    // A swipe down does not close the chat (Bot API 7.7+, checked with isVersionAtLeast).
    expect(await tg(page, (d) => d.app.isVerticalSwipesEnabled)).toBe(false);

    // While an answer streams: the Main button shows progress, the Secondary button stops it, and
    // closing the Mini App asks first; all of it ends with the answer.
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    await page.getByRole("textbox", { name: "Your question" }).fill(long);
    await expect.poll(() => tg(page, (d) => d.app.MainButton.visible)).toBe(true);
    await tg(page, (d) => d.click("MainButton"));
    await page.getByTestId("turn-assistant").nth(1).getByText("w3 ").waitFor();
    expect(await tg(page, (d) => d.app.MainButton.progress)).toBe(true);
    expect(await tg(page, (d) => d.app.isClosingConfirmationEnabled)).toBe(true);
    expect(await tg(page, (d) => [d.app.SecondaryButton.visible, d.app.SecondaryButton.text])).toEqual([
      true,
      "Stop",
    ]);
    await tg(page, (d) => d.click("SecondaryButton"));
    await waitForText(page, "answer-stats", (s) => s.includes("stopped"));
    expect(await tg(page, (d) => d.app.MainButton.progress)).toBe(false);
    expect(await tg(page, (d) => d.app.SecondaryButton.visible)).toBe(false);
    expect(await tg(page, (d) => d.app.isClosingConfirmationEnabled)).toBe(false);
    // The answer was followed to its end: the log is scrolled to its newest line.
    const log = page.getByRole("log", { name: "Conversation" });
    expect(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(50);

    expect(await a11yViolations(page)).toEqual([]);
    await screenshot(page, "widget-telegram-dark");

    // Theme changes are followed; a hint colour too faint to read darkens until it reads, but stays
    // grey: the empty question box's placeholder must not look like typed text.
    await page.evaluate((theme) => {
      const d = (window as unknown as { tgDouble: TgDouble }).tgDouble;
      d.app.themeParams = theme;
      d.fire("themeChanged");
    }, TELEGRAM_LIGHT_THEME);
    expect(await cssVar("--silk-bg")).toBe("#ffffff");
    expect(await cssVar("--silk-accent")).toBe("#2481cc");
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.fill("");
    const [typed, hint] = await box.evaluate((el) => [
      getComputedStyle(el).color,
      getComputedStyle(el, "::placeholder").color,
    ]);
    expect(hint).not.toBe(typed);
    expect(await placeholderContrast(page)).toBeGreaterThanOrEqual(4.5);

    // The wallet panel opens from the keyboard; Telegram's Back button closes it and the focus
    // returns to the button that opened it, not to the page.
    const walletButton = page.getByRole("button", { name: "Wallet" });
    await walletButton.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Wallet and costs" }).waitFor();
    // The keyboard user moves into the panel (its first control takes the focus).
    expect(
      await widget.evaluate((el) => {
        const first = el.shadowRoot!.querySelector<HTMLElement>(
          ".scroll :is(button, input, select, a[href])",
        );
        first?.focus();
        return el.shadowRoot!.activeElement === first;
      }),
    ).toBe(true);
    await expect.poll(() => tg(page, (d) => d.app.BackButton.visible)).toBe(true);
    await tg(page, (d) => d.click("BackButton"));
    await page.getByRole("textbox", { name: "Your question" }).waitFor();
    expect(await tg(page, (d) => d.app.BackButton.visible)).toBe(false);
    await expect
      .poll(() => walletButton.evaluate((el) => (el.getRootNode() as ShadowRoot).activeElement === el))
      .toBe(true);

    await screenshot(page, "widget-telegram-light");
    expect(await a11yViolations(page)).toEqual([]);

    // Who answered, as the Registry has it, with Block in one click: a blocked provider is not asked
    // again (here it is the only one, so the question fails and says so), until Unblock all.
    await page.getByTestId("provider-badge").waitFor();
    expect(await page.getByTestId("provider-key").getAttribute("title")).toMatch(/^[0-9a-f]{64}$/);
    expect(await text(page, "provider-stake")).toBe("no stake");
    expect(await text(page, "provider-age")).toMatch(/^registered \d+ (s|min) ago$/);
    await page.getByRole("button", { name: "Block", exact: true }).click();
    await waitForText(page, "trust-terms", (s) => s.includes("1 blocked"));
    const turns = await page.getByTestId("turn-assistant").count();
    await page.getByRole("textbox", { name: "Your question" }).fill("asked while blocked");
    await expect.poll(() => tg(page, (d) => d.app.MainButton.visible)).toBe(true);
    await tg(page, (d) => d.click("MainButton"));
    const refused = page.getByTestId("turn-assistant").nth(turns).getByRole("alert");
    await refused.waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("turn-assistant").nth(turns).textContent()).not.toContain("Echo:");
    expect(await a11yViolations(page)).toEqual([]);
    await page.getByRole("button", { name: "Unblock all" }).click();
    expect(await page.getByTestId("trust-terms").count()).toBe(0);
    await page.getByRole("textbox", { name: "Your question" }).fill("asked after unblocking");
    await expect.poll(() => tg(page, (d) => d.app.MainButton.visible)).toBe(true);
    await tg(page, (d) => d.click("MainButton"));
    await page
      .getByTestId("turn-assistant")
      .nth(turns + 1)
      .getByText(/Echo: asked after unblocking/)
      .waitFor({ timeout: 30_000 });

    // New chat, inside Telegram too.
    await page.getByRole("button", { name: "New chat" }).click();
    expect(await page.getByTestId("turn-assistant").count()).toBe(0);
    await context.close();
  }, 150_000);
});
