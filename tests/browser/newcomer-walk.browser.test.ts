import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { contrastRatio as hexContrast } from "../../client/widget/telegram";
import { fundClientEscrow, serveFromProviderPage, text, tonOf, waitForText } from "./chain-server";
import { ask, question } from "./chat-steps";
import { openWidgetPhone, seriousA11yViolations, smallTargets } from "./page-checks";
import { openAt, usePagesFixture } from "./pages-fixture";
import { backwardJumps, tabStops } from "./tab-order";
import { TELEGRAM_LIGHT_THEME, TELEGRAM_THEME, telegramDoubleScript } from "./telegram-double";

/**
 * What a newcomer trips on when walking the pages (client, provider, widget demo) at 360x740 and
 * 1280x800, light and dark, by keyboard: each row here was found on such a walk and failed before
 * its fix.
 */
const f = usePagesFixture();

const open = (path: string, width: number, scheme: "light" | "dark") => openAt(f, path, width, scheme);

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

  it("the provider page on a phone says first what it is for, whether it serves and what it earns; Tab follows the eye", async () => {
    const page = await open("/provider", 360, "dark");
    await page.getByRole("button", { name: "Start serving" }).waitFor();
    const box = async (selector: string) => (await page.locator(selector).first().boundingBox())!;
    // On the first screen (740 px): the purpose, the serving state and what was earned. Earnings
    // were at ~2,600 px, under the GPU card, the model, the payout and the stake.
    const purpose = page.getByText("Lend this GPU to the Silk network");
    expect((await purpose.boundingBox())!.y).toBeLessThan(200);
    const serving = await box("[data-testid=status-headline], [data-testid=serving-state]");
    expect(serving.y + serving.height).toBeLessThanOrEqual(740);
    const earned = page.locator("[data-testid=status-earned], [data-testid=earned]").first();
    const earnedBox = (await earned.boundingBox())!;
    expect(earnedBox.y + earnedBox.height).toBeLessThanOrEqual(740);
    expect((await earned.textContent())?.replace(/\s+/g, " ")).toMatch(/Earned.*0 TON/);
    // The details come after: this device's GPU (it was the first card), the model, the payout.
    const device = await box("[data-testid=device-facts]");
    for (const first of ["[data-testid=serving]", "[data-testid=model-picker]"])
      expect(device.y, `${first} above the GPU card`).toBeGreaterThan((await box(first)).y);
    // The whole page: ~3,600 px before, now a little over two thirds of that.
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(2_800);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const stops = await tabStops(page);
    expect(stops.length).toBeGreaterThan(8);
    expect(backwardJumps(stops)).toEqual([]);
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("inside Telegram at 360 px, the keyboard opening (a shorter viewport) keeps the question box being typed in on screen", async () => {
    const context = await f.browser.newContext({ viewport: { width: 360, height: 640 } });
    await context.addInitScript(telegramDoubleScript(TELEGRAM_THEME));
    await context.addInitScript("window.Telegram.WebApp.viewportStableHeight = 640;");
    const page = await context.newPage();
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.focus();
    // The keyboard takes the lower half: Telegram's webview shrinks, and its stable height follows.
    await page.setViewportSize({ width: 360, height: 330 });
    await page.evaluate(() => {
      const w = window as unknown as {
        Telegram: { WebApp: { viewportStableHeight: number } };
        tgDouble: { fire(e: string): void };
      };
      w.Telegram.WebApp.viewportStableHeight = 330;
      w.tgDouble.fire("viewportChanged");
    });
    // Before: the widget took the 330 px but left the focused box scrolled above its top (-49 to 9 px).
    await expect
      .poll(
        async () => {
          const r = (await box.boundingBox())!;
          return r.y >= 0 && r.y + r.height <= 330;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    expect(await box.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement)).toBe(true);
    await context.close();
  }, 60_000);

  it("inside Telegram, a viewport event that does not hide the field being typed in leaves the page where the reader scrolled it", async () => {
    const context = await f.browser.newContext({ viewport: { width: 360, height: 640 } });
    await context.addInitScript(telegramDoubleScript(TELEGRAM_THEME));
    await context.addInitScript("window.Telegram.WebApp.viewportStableHeight = 640;");
    const page = await context.newPage();
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    // The conversation holds the focus (pressed, or reached by Tab), and the reader has scrolled back
    // up the page to its heading: the conversation's lower part is below the screen.
    const log = page.getByRole("log", { name: "Conversation" });
    await log.focus();
    await page.evaluate(() => window.scrollTo(0, 0));
    const r = (await log.boundingBox())!;
    expect(r.y + r.height).toBeGreaterThan(640);
    const fire = (height: number) =>
      page.evaluate((height) => {
        const w = window as unknown as {
          Telegram: { WebApp: { viewportStableHeight: number } };
          tgDouble: { fire(e: string): void };
        };
        w.Telegram.WebApp.viewportStableHeight = height;
        w.tgDouble.fire("viewportChanged");
      }, height);
    // Telegram's own buttons coming and going, the keyboard closing: each a viewport event. Before,
    // each scrolled to what had the focus, and the page jumped down under the reader.
    await fire(640);
    await fire(600);
    await fire(640);
    await page.evaluate(() => new Promise(requestAnimationFrame));
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    await context.close();
  }, 60_000);

  it("at 360 px the provider page shows its headline once: the Serving card names just the state beside its buttons", async () => {
    const page = await open("/provider", 360, "dark");
    await page.getByRole("button", { name: "Start serving" }).waitFor();
    const headline = "Not serving: load a model, then press Start serving";
    expect(await text(page, "status-headline")).toBe(headline);
    // Seen on screen (drawn, not the visually hidden live region): the status card and the Serving card
    // both said the whole sentence, ~250 px apart.
    const shown = await page.evaluate(
      (words) =>
        [...document.querySelectorAll<HTMLElement>("body *")].filter(
          (el) => el.textContent?.trim() === words && el.offsetWidth > 1,
        ).length,
      headline,
    );
    expect(shown).toBe(1);
    expect((await text(page, "serving-state"))?.trim()).toBe("Not serving");
  }, 60_000);

  it("at 360 px the dev wallet's label wraps at its text's own line spacing: the Copy button's 44 px did not push its lines apart", async () => {
    const page = await open("/provider", 360, "light");
    await page.getByTestId("wallet-address").waitFor({ state: "attached", timeout: 30_000 });
    const lines = await page.evaluate(() => {
      const p = document.querySelector("[data-testid=wallet-address]")!.closest("p")!;
      const label = p.firstChild!;
      const range = document.createRange();
      range.selectNodeContents(label);
      const tops = [...new Set([...range.getClientRects()].map((r) => Math.round(r.top)))];
      return { tops, lineHeight: Number.parseFloat(getComputedStyle(p).lineHeight) };
    });
    expect(lines.tops.length, "the label wraps at 360 px").toBeGreaterThan(1);
    // Before: 32 px from its first line to its second (the line holding Copy address), for 21 px text lines.
    expect(lines.tops[1]! - lines.tops[0]!).toBeLessThanOrEqual(Math.ceil(lines.lineHeight) + 1);
    expect(await smallTargets(page)).toEqual([]);
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
    const page = await openWidgetPhone(f.browser, f.url);
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

  it("inside Telegram, the widget's demo page takes Telegram's colours around the widget, not the system's, and follows a theme change", async () => {
    // The phone is in dark mode, Telegram in its light theme: the page was the system's near-black.
    const context = await f.browser.newContext({
      viewport: { width: 360, height: 640 },
      colorScheme: "dark",
    });
    await context.addInitScript(telegramDoubleScript(TELEGRAM_LIGHT_THEME));
    await context.addInitScript("window.Telegram.WebApp.colorScheme = 'light';");
    const page = await context.newPage();
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    const colours = () =>
      page.evaluate(() => ({
        body: getComputedStyle(document.body).backgroundColor,
        text: getComputedStyle(document.body).color,
        code: getComputedStyle(document.querySelector("code")!).backgroundColor,
        scheme: getComputedStyle(document.documentElement).colorScheme,
      }));
    expect(await colours()).toEqual({
      body: "rgb(255, 255, 255)",
      text: "rgb(0, 0, 0)",
      code: "rgb(239, 239, 243)",
      scheme: "light",
    });
    // Telegram switches to its dark theme (the system stays as it was): the page follows at once.
    await page.evaluate((theme) => {
      const w = window as unknown as {
        Telegram: { WebApp: { themeParams: Record<string, string>; colorScheme: string } };
        tgDouble: { fire(e: string): void };
      };
      w.Telegram.WebApp.themeParams = theme;
      w.Telegram.WebApp.colorScheme = "dark";
      w.tgDouble.fire("themeChanged");
    }, TELEGRAM_THEME);
    expect(await colours()).toEqual({
      body: "rgb(23, 33, 43)",
      text: "rgb(245, 245, 245)",
      code: "rgb(35, 46, 60)",
      scheme: "dark",
    });
    await context.close();
  }, 60_000);

  it("by keyboard, a wallet button that goes off while it works (Get 100 test TON, Deposit, Register) keeps the focus: it fell to the page itself", async () => {
    /** The focused control's text, into the widget's shadow root; "BODY" when the focus is on the page itself. */
    const focused = (page: Page) =>
      page.evaluate(() => {
        let el = document.activeElement as HTMLElement | null;
        while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
        return !el || el === document.body ? "BODY" : (el.textContent ?? "").trim();
      });
    const press = async (page: Page, name: string | RegExp) => {
      await page.getByRole("button", { name, exact: true }).focus();
      await page.keyboard.press("Enter");
    };
    const provider = await open("/provider", 360, "dark");
    await serveFromProviderPage(provider);
    await press(provider, "Get 100 test TON");
    await waitForText(provider, "wallet-balance", (s) => tonOf(s) === 100_000_000_000n);
    await expect.poll(() => focused(provider)).toBe("Get 100 test TON");
    await press(provider, "Register in the Registry");
    await waitForText(provider, "registry-state", (s) => s.startsWith("Registered"));
    await expect.poll(() => focused(provider)).toBe("Update the registration");
    for (const path of ["/", "/widget/"]) {
      const page = path === "/" ? await open(path, 360, "dark") : await openWidgetPhone(f.browser, f.url);
      await page.setViewportSize({ width: 360, height: 640 });
      await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
      await press(page, /^Wallet/);
      await press(page, "Get 100 test TON");
      await waitForText(page, "wallet-balance", (s) => tonOf(s) >= 100_000_000_000n);
      await expect.poll(() => focused(page), { message: path }).toBe("Get 100 test TON");
      await page.getByLabel("Amount, TON").fill("5");
      await press(page, "Deposit");
      await waitForText(page, "key-state", (s) => s.startsWith("authorised"));
      await expect.poll(() => focused(page), { message: path }).toBe("Top up");
      // So Escape, pressed where the focus is, leaves the wallet for the chat (the widget's did nothing).
      await page.keyboard.press("Escape");
      await expect.poll(() => page.getByTestId("key-state").count(), { message: path }).toBe(0);
      await page.context().close();
    }
    await provider.context().close();
  }, 120_000);

  it("by keyboard, Load, Start serving, Pause, Resume and Stop hand the focus to the next step or the button that takes their place: it fell to the page itself", async () => {
    const page = await open("/provider", 360, "dark");
    const focused = () => page.evaluate(() => (document.activeElement?.textContent ?? "").trim() || "BODY");
    const press = async (name: string) => {
      await page.getByRole("button", { name, exact: true }).focus();
      await page.keyboard.press("Enter");
    };
    await press("Load");
    await page.getByTestId("loaded-model").waitFor();
    // Load stays off once its model is loaded: the focus goes on to the next step, which the status names.
    await expect.poll(focused).toBe("Start serving");
    await page.keyboard.press("Enter");
    await waitForText(page, "serving-state", (s) => s.startsWith("Serving"));
    await expect.poll(focused).toBe("Pause");
    await page.keyboard.press("Enter");
    await waitForText(page, "serving-state", (s) => s.startsWith("Paused"));
    await expect.poll(focused).toBe("Resume");
    await page.keyboard.press("Enter");
    await waitForText(page, "serving-state", (s) => s.startsWith("Serving"));
    await expect.poll(focused).toBe("Pause");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Stop");
    await page.keyboard.press("Enter");
    await waitForText(page, "serving-state", (s) => s.startsWith("Not serving"));
    await expect.poll(focused).toBe("Start serving");
    await page.context().close();
  }, 90_000);

  it("by keyboard, Regenerate (web client and widget) and the widget's New chat leave the focus in the question box: it fell to the page itself", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider, { register: true });
    for (const path of ["/", "/widget/"]) {
      const page = path === "/" ? await open(path, 360, "dark") : await openWidgetPhone(f.browser, f.url);
      await page.setViewportSize({ width: 360, height: 640 });
      await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
      await fundClientEscrow(page);
      if (path === "/") await page.keyboard.press("Escape");
      else await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");
      await ask(page, "hello", 1);
      const inQuestion = () =>
        question(page).evaluate((el) => el === (el.getRootNode() as Document | ShadowRoot).activeElement);
      await page.getByRole("button", { name: "Regenerate" }).press("Enter");
      await expect.poll(inQuestion, { message: `${path} Regenerate` }).toBe(true);
      await page.getByRole("button", { name: "Regenerate" }).waitFor();
      if (path === "/widget/") {
        await page.getByRole("button", { name: "New chat" }).press("Enter");
        await expect.poll(inQuestion, { message: `${path} New chat` }).toBe(true);
      }
      await page.context().close();
    }
    await provider.context().close();
  }, 120_000);

  it("the widget's first-run intro shows whole at 360 px, not cut off inside the chat's box", async () => {
    const page = await openWidgetPhone(f.browser, f.url);
    const intro = page.getByTestId("first-run");
    await intro.waitFor();
    expect((await intro.textContent())?.replace(/\s+/g, " ")).toMatch(/from your escrow/);
    // The conversation box holds all of it: it was ~120 px tall, the intro ~200 px, its end hidden.
    const log = page.getByRole("log", { name: "Conversation" });
    const clipped = await log.evaluate((el) => el.scrollHeight - el.clientHeight);
    expect(clipped).toBeLessThanOrEqual(1);
    const [a, b] = [(await intro.boundingBox())!, (await log.boundingBox())!];
    expect(a.y + a.height).toBeLessThanOrEqual(b.y + b.height + 1);
    await page.context().close();
  }, 60_000);

  it("the widget on a 360x640 phone gives the conversation the room: a compact bar, composer and note, nothing scrolled away", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider, { register: true });
    const page = await openWidgetPhone(f.browser, f.url);
    await page.setViewportSize({ width: 360, height: 640 });
    await page.locator("silk-chat select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(page);
    await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");
    await ask(page, "hello", 1);
    await page.locator("silk-chat").evaluate((el) => el.scrollIntoView({ block: "start" }));
    const log = (await page.getByRole("log", { name: "Conversation" }).boundingBox())!;
    // It was ~128 px (its least) of a 34rem box: the picker's row, New chat and Wallet under it, and
    // the answerer, the cost and the note each on two to four lines took the rest, and 26 px more.
    expect(log.height).toBeGreaterThanOrEqual(200);
    const widget = page.locator("silk-chat .widget");
    expect(await widget.evaluate((el) => el.scrollHeight - el.clientHeight)).toBeLessThanOrEqual(1);
    // One bar: the picker, New chat (a +, named for screen readers) and Wallet, each a finger's size.
    const bar = await Promise.all(
      [
        page.getByRole("combobox", { name: "Model" }),
        page.getByRole("button", { name: "New chat", exact: true }),
        page.getByRole("button", { name: "Wallet", exact: true }),
      ].map(async (c) => (await c.boundingBox())!),
    );
    for (const b of bar) {
      expect(Math.abs(b.y - bar[0]!.y)).toBeLessThan(4);
      expect(b.height).toBeGreaterThanOrEqual(44);
    }
    // The question box, under the conversation, is on screen with it.
    const box = (await question(page).boundingBox())!;
    expect(box.y).toBeGreaterThan(log.y + log.height);
    expect(box.y + box.height).toBeLessThanOrEqual(640);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: "test-results/newcomer-widget-360x640.png" });
    await page.context().close();
    await provider.getByRole("button", { name: "Stop" }).click();
    await provider.context().close();
  }, 120_000);

  it("at 360 px the first-run note says what a token of the chosen model costs, which the cut-off picker does not show", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider);
    const page = await open("/", 360, "dark");
    const picker = page.getByRole("combobox", { name: "Model" });
    await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    // The picker names the price, but at 360 px it shows a few letters of the model's id.
    const shown = await picker.evaluate((el) => el.scrollWidth > el.clientWidth || el.clientWidth < 200);
    expect(shown).toBe(true);
    // The note before the first question says it in words (it said "the price is beside the model").
    const note = page.getByTestId("first-run");
    await expect
      .poll(async () => (await note.textContent())?.replace(/\s+/g, " "))
      .toMatch(/paid per token \(test-model: 0\.000001 TON a token, question and answer\) from your escrow/);
    const box = (await note.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(360);
    expect(box.y + box.height).toBeLessThanOrEqual(740);
    await page.context().close();
    await provider.getByRole("button", { name: "Stop" }).click();
    await provider.context().close();
  }, 90_000);

  it("at 360 px the model's whole name is in reach, on the chat settings' line under the cut-off picker", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider);
    for (const path of ["/", "/widget/"]) {
      const page = path === "/" ? await open(path, 360, "dark") : await openWidgetPhone(f.browser, f.url);
      const picker = page.getByRole("combobox", { name: "Model" });
      await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
      // The picker shows a few letters of "test-model · 0.000001 TON/token · 1 provider".
      expect(await picker.evaluate((el) => el.scrollWidth > el.clientWidth || el.clientWidth < 250)).toBe(
        true,
      );
      // On screen, without a tap or a hover: the line under the bar names the chat's model, all of it
      // (it said "Chat settings"; the model's name was nowhere whole once the chat had begun).
      const summary = page.getByTestId("chat-options").locator("summary");
      await expect.poll(() => summary.textContent(), { timeout: 30_000 }).toBe("Chat settings · test-model");
      const name = (await page.getByTestId("chat-model").boundingBox())!;
      expect(name.x).toBeGreaterThanOrEqual(0);
      expect(name.x + name.width, path).toBeLessThanOrEqual(360);
      expect(await summary.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
      await page.context().close();
    }
    await provider.getByRole("button", { name: "Stop" }).click();
    await provider.context().close();
  }, 90_000);

  it("on a phone, Copy answer says what happened (and what to do without a clipboard); New chat is in the bar as chat apps keep it: one press from an answer to an empty chat, by keyboard too", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider, { register: true });
    const page = await open("/", 360, "dark");
    await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(page);
    await page.keyboard.press("Escape");
    await ask(page, "hello\n\n```\nx = 1\n```", 1);
    // Copy answer says what happened in a status that was there before the press (one added with its
    // text is often not read out), and, on a page without a clipboard (http:// off localhost), that it
    // failed and what to do: the press did nothing and said nothing.
    const copy = page.getByRole("button", { name: "Copy answer" });
    const copyStatus = page.getByTestId("copy-status");
    expect(await copyStatus.getAttribute("role")).toBe("status");
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: f.url });
    await copy.press("Enter");
    await expect.poll(() => copyStatus.textContent()).toBe("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toContain("Echo: hello");
    // "Copied" goes, as chat apps' copy buttons revert after a moment (it stayed for good); so does
    // a code block's "Copied", back to "Copy code".
    await expect.poll(() => copyStatus.textContent(), { timeout: 15_000 }).toBe("");
    const copyCode = page.getByRole("button", { name: /^Copy code$|^Copied$/ });
    await copyCode.press("Enter");
    await expect.poll(() => copyCode.textContent()).toBe("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toContain("x = 1");
    await expect.poll(() => copyCode.textContent(), { timeout: 15_000 }).toBe("Copy code");
    // Pressed again within 2 s, "Copied" stays 2 s from the second press: the first press's reset
    // cleared it early. On the page's clock, paused and moved by hand, so the machine's load cannot
    // move a press past the 2 s.
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1_000);
    for (const [button, shown, clipped] of [
      [copyCode, copyCode, "x = 1"],
      [copy, copyStatus, "Echo: hello"],
    ] as const) {
      const twice = async () => {
        // The clipboard holds something else first, so its holding the copy says the press is done.
        await page.evaluate(() => navigator.clipboard.writeText("-"));
        await button.press("Enter");
        await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toContain(clipped);
        await expect.poll(() => shown.textContent()).toBe("Copied");
      };
      await twice();
      await page.clock.runFor(1_500);
      await twice();
      await page.clock.runFor(1_000); // 2.5 s after the first press, 1 s after the second
      expect(await shown.textContent()).toBe("Copied");
      await page.clock.runFor(1_500); // 2.5 s after the second
      await expect.poll(() => shown.textContent()).toBe(button === copy ? "" : "Copy code");
    }
    await page.clock.resume();
    await page.evaluate(() => Object.defineProperty(navigator, "clipboard", { value: undefined }));
    await copy.press("Enter");
    await expect
      .poll(() => copyStatus.textContent())
      .toBe("Copy failed: this browser gives the page no clipboard; select the answer's text to copy it");
    // A failure stays: it says what to do.
    await page.waitForTimeout(3_000);
    expect(await copyStatus.textContent()).toMatch(/^Copy failed/);
    // Without opening the drawer (it was only there: Chats, then New chat, then back).
    const fresh = page.getByRole("button", { name: "New chat", exact: true });
    expect(await fresh.isVisible()).toBe(true);
    await fresh.focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("first-run").waitFor();
    expect(await page.getByTestId("turn-user").count()).toBe(0);
    expect(await question(page).evaluate((el) => el === document.activeElement)).toBe(true);
    // Still one bar (Chats, New chat, the model, Wallet, the theme), the model as wide as before
    // (~90 px: the theme is drawn as ◐, named "Theme: system" for screen readers), nothing sideways.
    const bar = await Promise.all(
      ["Chats", "New chat", /^Wallet/, /^Theme: system$/].map(
        async (name) =>
          (await page.getByRole("button", { name, exact: typeof name === "string" }).boundingBox())!,
      ),
    );
    const picker = (await page.getByRole("combobox", { name: "Model" }).boundingBox())!;
    for (const b of [...bar, picker])
      expect(Math.abs(b.y + b.height / 2 - (bar[0]!.y + bar[0]!.height / 2))).toBeLessThan(8);
    expect(picker.width).toBeGreaterThanOrEqual(85);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // The drawer has its own New chat; the bar's goes while it is open (one button of that name).
    await page.getByRole("button", { name: "Chats" }).press("Enter");
    await page.getByRole("button", { name: "Close chats" }).waitFor();
    expect(await page.getByRole("button", { name: "New chat", exact: true }).count()).toBe(1);
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.context().close();
    await provider.getByRole("button", { name: "Stop" }).click();
    await provider.context().close();
  }, 120_000);

  it("a code block's header names its language beside Copy code, as chat apps' do; the band was blank", async () => {
    const provider = await open("/provider", 1280, "light");
    await serveFromProviderPage(provider, { register: true });
    const page = await open("/", 360, "dark");
    await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(page);
    await page.keyboard.press("Escape");
    await ask(page, "code:\n\n```ts\nconst x = 1;\n```\n\n```\nplain\n```", 1);
    const answer = page.getByTestId("turn-assistant");
    const [typed, plain] = [answer.locator("pre").first(), answer.locator("pre").nth(1)];
    await typed.getByRole("button", { name: "Copy code" }).waitFor();
    const label = typed.locator(".lang");
    expect(await label.textContent()).toBe("ts");
    // In the band above the code, at its left, on Copy code's line and clear of it; readable.
    const box = async (x: typeof label) => (await x.boundingBox())!;
    const [l, b, code] = [
      await box(label),
      await box(typed.getByRole("button", { name: "Copy code" })),
      await box(typed.locator("code")),
    ];
    expect(Math.abs(l.y + l.height / 2 - (b.y + b.height / 2))).toBeLessThan(4);
    expect(l.x + l.width).toBeLessThan(b.x);
    expect(l.y + l.height).toBeLessThanOrEqual(code.y + 1);
    expect(await label.evaluate((el) => parseFloat(getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(
      12,
    );
    // A fence without a language gets no label; each block keeps one Copy code.
    expect(await plain.locator(".lang").count()).toBe(0);
    expect(await answer.getByRole("button", { name: "Copy code" }).count()).toBe(2);
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.screenshot({ path: "test-results/newcomer-code-header.png" });
    await page.context().close();
    await provider.getByRole("button", { name: "Stop" }).click();
    await provider.context().close();
  }, 120_000);

  it("a tap beside the phone's drawer or the tablet's wallet sheet closes it, over a dimmed chat, as phone apps do", async () => {
    const page = await open("/", 360, "dark");
    const chats = page.getByRole("button", { name: "Chats" });
    await chats.click();
    const nav = page.getByRole("navigation", { name: "Conversations" });
    await nav.waitFor();
    // What the drawer covers is dimmed: the chat's background under the tap is darker than the page's.
    const dim = await page.evaluate(() => {
      const under = document.elementFromPoint(340, 400) as HTMLElement;
      return { bg: getComputedStyle(under).backgroundColor, inDrawer: !!under.closest("#conversations") };
    });
    expect(dim.inDrawer).toBe(false);
    expect(dim.bg).toMatch(/^rgba\(0, 0, 0, 0\.[1-9]/);
    // A tap beside it closes it (it did nothing: the chat under it is inert), focus back on Chats.
    await page.mouse.click(340, 400);
    await expect.poll(() => nav.isVisible()).toBe(false);
    expect(await chats.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.context().close();

    const tablet = await open("/", 768, "light");
    await tablet.getByRole("button", { name: /^Wallet/ }).click();
    const panel = tablet.locator("#wallet-panel");
    await panel.waitFor();
    const sheet = (await panel.boundingBox())!;
    expect(sheet.x).toBeGreaterThan(100);
    await tablet.mouse.click(sheet.x / 2, 400);
    await expect.poll(() => panel.isVisible()).toBe(false);
    await tablet.context().close();
  }, 60_000);

  it("on a wide screen the header's Wallet and theme buttons share one line, what was spent beside Wallet", async () => {
    for (const width of [1280, 800]) {
      const page = await open("/", width, "light");
      await page.getByText("No provider is online yet").waitFor();
      const centre = async (name: RegExp) => {
        const b = (await page.getByRole("button", { name }).boundingBox())!;
        return b.y + b.height / 2;
      };
      // "spent 0 TON" under Wallet lifted it 19 px above the theme button.
      expect(
        Math.abs((await centre(/^Wallet/)) - (await centre(/^Theme:/))),
        `at ${width} px`,
      ).toBeLessThanOrEqual(2);
      expect(await page.getByTestId("meter").isVisible()).toBe(true);
      await page.context().close();
    }
  }, 60_000);

  it("on a wide screen the wallet's amounts read on one line, beside labels that wrap instead", async () => {
    const page = await open("/", 1280, "dark");
    await fundClientEscrow(page);
    /** How many lines an element's text takes. */
    const lines = (testId: string) =>
      page.getByTestId(testId).evaluate((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      });
    for (const width of [1280, 800]) {
      await page.setViewportSize({ width, height: 800 });
      // The side panel (a sheet at 800 px) gave its longest label ("Signed to providers so far") all it
      // wanted, the amounts ~110 px: "4.9985036 / TON" and "authorised: it signs / this browser's /
      // payments" broke over two and four lines (it takes three now).
      expect(await lines("escrow-balance"), `balance at ${width} px`).toBe(1);
      expect(await lines("total-signed"), `signed at ${width} px`).toBe(1);
      expect(await lines("key-state"), `key at ${width} px`).toBeLessThanOrEqual(3);
    }
    await page.screenshot({ path: "test-results/newcomer-wallet-800.png" });
    await page.context().close();
  }, 90_000);

  it("Close escrow's question, by keyboard: the focus lands on Keep it open, Escape keeps it open and the wallet", async () => {
    const page = await open("/", 360, "dark");
    await fundClientEscrow(page);
    const close = page.getByRole("button", { name: "Close escrow" });
    await close.focus();
    await page.keyboard.press("Enter");
    // The safe answer has the focus: Enter there never closes the escrow by accident (it was on "Yes").
    const keep = page.getByRole("button", { name: "Keep it open" });
    await keep.waitFor();
    expect(await keep.evaluate((el) => el === document.activeElement)).toBe(true);
    // Escape answers the question (it closed the whole wallet, the question left pending inside).
    await page.keyboard.press("Escape");
    await expect.poll(() => keep.count()).toBe(0);
    expect(await page.locator("#wallet-panel").isVisible()).toBe(true);
    expect(await close.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.getByTestId("closing").count()).toBe(0);
    expect(await text(page, "key-state")).toMatch(/^authorised/);
    await page.context().close();
  }, 90_000);

  it("on a phone the theme toggle is a glyph on both pages, named “Theme: system”, never a bare “system”", async () => {
    for (const path of ["/", "/provider"]) {
      const page = await open(path, 360, "dark");
      const theme = page.getByRole("button", { name: "Theme: system", exact: true });
      await theme.waitFor();
      const drawn = await theme.evaluate((el) => ({
        glyph: getComputedStyle(el, "::before").content,
        words: [...el.querySelectorAll("span")].map((s) => s.getBoundingClientRect().width),
        width: el.getBoundingClientRect().width,
      }));
      expect(drawn.glyph, path).toMatch(/◐/);
      for (const w of drawn.words) expect(w, `${path}: a word of the theme shows`).toBeLessThanOrEqual(1);
      expect(drawn.width).toBeGreaterThanOrEqual(44);
      await theme.click();
      expect(
        await page
          .getByRole("button", { name: "Theme: light" })
          .evaluate((el) => getComputedStyle(el, "::before").content),
      ).toMatch(/☀/);
      await page.context().close();
    }
  }, 60_000);
});
