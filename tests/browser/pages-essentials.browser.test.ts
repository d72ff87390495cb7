import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { EscrowParams } from "../../contracts/generated/constants";
import { fundClientEscrow, openPage, serveFromProviderPage, text, tonOf, waitForText } from "./chain-server";
import { ask, question } from "./chat-steps";
import {
  a11yViolations,
  atTextSize,
  keyboardWalk,
  offReason,
  openReady,
  placeholderContrast,
  screenshot,
  smallTargets,
  strandedPunctuation,
} from "./page-checks";
import { usePagesFixture } from "./pages-fixture";
import { TELEGRAM_THEME, telegramDoubleScript } from "./telegram-double";

/**
 * What a new user walking the pages would trip over (issue 15's items 1–8), each checked as they
 * would check it: on the test build (the provider page's engine is the scripted test engine), the
 * real signaling server and the devnet.
 */
const f = usePagesFixture();
const browser = () => f.browser;

/** No answer streaming (one a failed test left is stopped), so the next test starts from rest. */
async function settle(page: Page) {
  const stop = page.getByRole("button", { name: "Stop", exact: true });
  if ((await stop.count()) > 0) await stop.click().catch(() => undefined);
  await expect.poll(() => stop.count(), { timeout: 30_000 }).toBe(0);
}
/** Text as a reader sees it: runs of white space are one space. */
const squash = (s: string) => s.replace(/\s+/g, " ").trim();
const noViolations = async (page: Page) => expect(await a11yViolations(page)).toEqual([]);

describe("the pages, walked by a new user", () => {
  let provider: Page;
  let client: Page;

  it("the provider serves, and its status says it is connected", async () => {
    provider = await openPage(browser(), `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, {
      register: true,
      // With 0 TON, Register is off and says why and how to fix it, before any node is asked.
      beforeRegistering: async () => {
        await waitForText(provider, "wallet-balance", (s) => s.startsWith("0 TON"));
        expect(await provider.getByRole("button", { name: "Register in the Registry" }).isDisabled()).toBe(
          true,
        );
        expect(squash((await text(provider, "register-why")) ?? "")).toMatch(
          /^Register is off: registering sends [\d.]+ TON and the network fee; the wallet holds 0 TON\. Press “Get 100 test TON” first\.$/,
        );
        // Serving before registering is allowed, but no requester's app asks an unregistered
        // provider: the status says so instead of a green "connected".
        await provider.getByRole("button", { name: "Start serving" }).click();
        expect(
          await waitForText(
            provider,
            "status-headline",
            (s) => s.startsWith("Serving") && s.includes("Registry"),
          ),
        ).toBe(
          "Serving test-model, but no question will come: requesters ask only providers in the TON Registry. Register under “Price and payout”.",
        );
        await provider.getByRole("button", { name: "Stop", exact: true }).click();
        await waitForText(provider, "serving-state", (s) => s.startsWith("Not serving"));
      },
    });
    expect(await text(provider, "status-headline")).toMatch(/^Serving test-model: connected to Silk/);
    expect((await text(provider, "serving-state"))?.trim()).toBe("Serving test-model");
    // Its audit counts, as the signaling server keeps them: nobody has audited it yet.
    expect(await waitForText(provider, "provider-audits", (s) => s.length > 0)).toMatch(
      /^Audits of this provider: none yet\./,
    );
  }, 60_000);

  it("0 TON: Deposit is off and says why; no raw node error ever shows", async () => {
    client = await openPage(browser(), `${f.url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await client.getByRole("button", { name: /^Wallet/ }).click();
    await waitForText(client, "wallet-balance", (s) => s.startsWith("0 TON"));
    await expect
      .poll(() => client.getByRole("button", { name: /^Wallet/ }).textContent())
      .toMatch(/^\s*Wallet · not funded\s*$/);
    const deposit = client.getByRole("button", { name: "Deposit", exact: true });
    expect(await deposit.isDisabled()).toBe(true);
    expect(await text(client, "deposit-why")).toMatch(
      /Deposit is off: the wallet holds 0 TON.*Get 100 test TON/,
    );
    await noViolations(client);
    // Saving prices says so; a model whose providers all ask more is marked in the picker.
    const answerPrice = client.getByLabel("Answer tokens", { exact: true });
    const above = client.locator("select option", { hasText: "above your highest price" });
    await answerPrice.fill("500");
    await client.getByRole("button", { name: "Save prices" }).click();
    expect(await text(client, "prices-saved")).toMatch(
      /^Saved: providers asking more than 10000 per prompt token or 500 per answer token/,
    );
    await above.waitFor({ state: "attached" });
    await answerPrice.fill("10000");
    await client.getByRole("button", { name: "Save prices" }).click();
    await above.waitFor({ state: "detached" });
  }, 60_000);

  it("shows the next question's cost before sending, prompt tokens included, and per answer after", async () => {
    await fundClientEscrow(client, "5");
    // "Wallet · X TON" at the top is what the escrow holds, not what was spent.
    const holds = tonOf(await text(client, "escrow-balance"));
    expect(holds).toBeGreaterThan(0n);
    expect(tonOf(await text(client, "balance-top"))).toBe(holds);
    await client.getByRole("button", { name: /^Wallet/ }).click(); // close it again
    await question(client).fill("how much will this cost?");
    const estimate = squash(await waitForText(client, "estimate", (s) => /about \d+ prompt tokens/.test(s)));
    expect(estimate).toMatch(/≈ [\d.]+ TON, plus [\d.]+ TON per answer token/);
    const before = Number(/about (\d+) prompt/.exec(estimate)?.[1]);
    await client.keyboard.press("Enter");
    await client.getByTestId("answer-stats").first().waitFor({ timeout: 30_000 });
    expect(Number(await text(client, "prompt-tokens"))).toBeGreaterThan(0);
    await client.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: f.url });
    await client.getByRole("button", { name: "Copy answer" }).click();
    await client
      .getByRole("status")
      .filter({ hasText: /^Copied$/ })
      .waitFor();
    expect(await client.evaluate(() => navigator.clipboard.readText())).toBe(
      "Echo: how much will this cost?",
    );
    // The whole conversation goes again with the next question: the estimate grows with it.
    await question(client).fill("and this?");
    await waitForText(client, "estimate", (s) => Number(/about (\d+) prompt/.exec(s)?.[1]) > before);
  }, 90_000);

  it("follows a streaming answer to its end, stops following when the reader scrolls up", async () => {
    await client.setViewportSize({ width: 1280, height: 500 });
    try {
      await followsAndLeaves();
    } finally {
      await settle(client);
      await client.setViewportSize({ width: 1280, height: 800 });
    }
  }, 120_000);

  async function followsAndLeaves() {
    // One word a token, each its own paragraph: a tall answer that takes a few seconds to stream.
    const long = Array.from({ length: 400 }, (_, i) => `w${i}\n\n`).join(" ");
    await ask(client, long, 2);
    const log = client.getByRole("log", { name: "Conversation" });
    const gap = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
    // Scrolled up while the next answer streams: the page leaves the reader where they are.
    await question(client).fill(long);
    await client.keyboard.press("Enter");
    await client.getByTestId("turn-assistant").nth(2).getByText("w20", { exact: true }).waitFor();
    // A screen reader hears the answer once it is complete: the log (a polite live region) is busy
    // while the Markdown re-renders with every token.
    expect(await log.getAttribute("aria-busy")).toBe("true");
    expect(await log.ariaSnapshot()).toMatch(/^- log "Conversation"/);
    // While it streams (live count, Stop, a busy log): no violation either.
    await noViolations(client);
    await screenshot(client, "essentials-client-streaming");
    await log.evaluate((el) => el.scrollTo({ top: 0 }));
    await client.getByRole("button", { name: "Jump to the newest" }).waitFor();
    await client.getByTestId("answer-stats").nth(2).waitFor({ timeout: 30_000 });
    await expect.poll(() => log.getAttribute("aria-busy")).toBeNull();
    expect(await log.evaluate((el) => el.scrollTop)).toBeLessThan(50);
    await client.getByRole("button", { name: "Jump to the newest" }).click();
    await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
  }

  it("keeps following when layout, not the reader, moves the log up; a wheel up leaves", async () => {
    const log = client.getByRole("log", { name: "Conversation" });
    const gap = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    const jump = client.getByRole("button", { name: "Jump to the newest" });
    // Test-only blocks: filler inside the log (tall enough to scroll), a spacer under it.
    const add = (where: "log" | "under", height: number) =>
      log.evaluate(
        (el, [w, h]) => {
          const d = document.createElement("div");
          d.className = "test-block";
          d.style.cssText = `height:${h}px;flex:none`;
          (w === "log" ? el : el.parentElement!).append(d);
        },
        [where, height] as const,
      );
    try {
      await add("log", 3000);
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      // Something under the log takes 200 px (as the cost estimate does while a question is typed)...
      await add("under", 200);
      await add("log", 20);
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      // ...and goes in the same task as the log's content grows (a question sent): the log got taller,
      // so the browser lowers its scrollTop, and the scroll event comes after the new content.
      await log.evaluate((el) => {
        el.parentElement!.querySelector(":scope > .test-block")!.remove();
        void el.scrollTop;
        const d = document.createElement("div");
        d.className = "test-block";
        d.style.height = "300px";
        el.append(d);
      });
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      expect(await jump.count()).toBe(0);
      // The reader's wheel up leaves the newest text, and the page offers the way back.
      await log.hover();
      await client.mouse.wheel(0, -600);
      await jump.waitFor();
      expect(await gap()).toBeGreaterThan(300);
      await jump.click();
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      await jump.waitFor({ state: "detached" });
      // From the keyboard: Jump keeps the focus while it has it (the log reaching its bottom does not
      // pull it away), and Enter takes the reader to the newest text and the question box.
      await client.mouse.wheel(0, -600);
      await jump.waitFor();
      await question(client).focus();
      for (let i = 0; i < 5 && !(await jump.evaluate((el) => el === document.activeElement)); i++)
        await client.keyboard.press("Shift+Tab");
      await log.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      expect(await jump.evaluate((el) => el === document.activeElement)).toBe(true);
      await log.evaluate((el) => el.scrollTo({ top: 0 }));
      await expect.poll(gap).toBeGreaterThan(300);
      await client.keyboard.press("Enter");
      await expect.poll(gap, { timeout: 10_000 }).toBeLessThan(50);
      expect(await question(client).evaluate((el) => el === document.activeElement)).toBe(true);
      await jump.waitFor({ state: "detached" });
    } finally {
      await client.evaluate(() => {
        for (const el of document.querySelectorAll(".test-block")) el.remove();
      });
    }
  }, 60_000);

  it("regenerate and edit keep every paid answer: versions and earlier branches, all counted", async () => {
    await settle(client);
    // What an edit of the first question moves away: every message after it (5 when the tests above passed).
    const after = (await client.locator("[data-testid^=turn-]").count()) - 1;
    const paid = tonOf(await text(client, "conversation-cost"));
    await client.getByRole("button", { name: "Regenerate" }).click();
    await client.getByTestId("answer-versions").waitFor({ timeout: 30_000 });
    await waitForText(client, "conversation-cost", (s) => tonOf(s) > paid);
    expect(await client.getByTestId("answer-versions").locator("summary").textContent()).toBe(
      "Earlier answers (1)",
    );
    const withVersion = tonOf(await text(client, "conversation-cost"));

    // Editing the first question warns that what follows moves to a branch; Enter sends the edit.
    await client.getByRole("button", { name: "Edit" }).first().click();
    const box = client.getByRole("textbox", { name: "Edit your question" });
    expect(await box.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await text(client, "edit-note")).toMatch(
      new RegExp(`The ${after} messages after this question \\([\\d.]+ TON paid\\) stay`),
    );
    await box.fill("an edited first question");
    await client.keyboard.press("Enter");
    await waitForText(client, "answer-stats", () => true);
    await client.getByTestId("branches").waitFor();
    expect(await client.getByTestId("turn-assistant").count()).toBe(1);
    expect(await client.getByTestId("branches").locator("summary").textContent()).toMatch(
      /^Earlier branches \(1\) · [\d.]+ TON paid$/,
    );
    await waitForText(client, "conversation-cost", (s) => tonOf(s) > withVersion);
    // The meter (what this browser signed) is the sum of everything the conversation shows.
    const total = tonOf(await text(client, "conversation-cost"));
    await waitForText(client, "meter", (s) => tonOf(s) === total);
    await noViolations(client);
  }, 120_000);

  it("a long title stays in the sidebar, delete buttons stay on screen, delete can be undone", async () => {
    await client.getByRole("button", { name: "New chat" }).click();
    await ask(client, `${"Supercalifragilistic".repeat(8)} tell me more`, 1);
    const side = await client.locator("#conversations").boundingBox();
    const items = client.getByRole("button", { name: /^Delete “/ });
    expect(await items.count()).toBe(2);
    for (const b of await items.all()) {
      const box = (await b.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(side!.x + side!.width);
    }
    expect(await client.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await items.first().click();
    expect(await client.getByRole("button", { name: /^Delete “/ }).count()).toBe(1);
    const undo = client.getByRole("button", { name: "Undo" });
    expect(await undo.evaluate((el) => el === document.activeElement)).toBe(true);
    await client.keyboard.press("Enter");
    await expect.poll(() => client.getByRole("button", { name: /^Delete “/ }).count()).toBe(2);
    // A question half typed is still there after a reload (or a phone discarding the tab).
    await question(client).fill("a question typed before the reload");
    await client.reload();
    await client.waitForSelector("body[data-ready=true]", { state: "attached" });
    expect(await client.getByRole("button", { name: /^Delete “/ }).count()).toBe(2);
    expect(await question(client).inputValue()).toBe("a question typed before the reload");
    await question(client).fill("");
  }, 60_000);

  it("a conversation is renamed in its list: Enter saves, Escape cancels, the name survives a reload", async () => {
    await client
      .getByRole("button", { name: /^Rename “/ })
      .first()
      .click();
    const box = client.getByRole("textbox", { name: /^New name for “/ });
    expect(await box.evaluate((el) => el === document.activeElement)).toBe(true);
    await box.fill("Renamed by hand");
    await client.keyboard.press("Enter");
    const renamed = client.getByRole("button", { name: "Renamed by hand", exact: true });
    await renamed.waitFor();
    expect(await renamed.evaluate((el) => el === document.activeElement)).toBe(true);
    await client.getByRole("button", { name: "Rename “Renamed by hand”" }).click();
    await box.fill("not this name");
    await client.keyboard.press("Escape");
    await renamed.waitFor();
    expect(await client.getByRole("button", { name: "not this name" }).count()).toBe(0);
    await client.reload();
    await client.waitForSelector("body[data-ready=true]", { state: "attached" });
    await client.getByRole("button", { name: "Renamed by hand", exact: true }).waitFor();
    await noViolations(client);
  }, 60_000);

  it("answers show highlighted code, typeset math, bordered tables and task lists", async () => {
    await client.getByRole("button", { name: "New chat" }).click();
    const markdown = [
      "All of Markdown:",
      "```ts\nconst answer: number = 42; // the one\n```",
      "Inline $x^2 + 1$ and a block:",
      "$$\\frac{a}{b} = \\sqrt{c}$$",
      "| model | tokens |\n| --- | --- |\n| test | 3 |",
      "- [x] asked\n- [ ] answered",
    ].join("\n\n");
    await ask(client, markdown, 1);
    const answer = client.getByTestId("turn-assistant").first();
    // Highlighting and KaTeX are lazy chunks: the answer renders again once they are here.
    await answer.locator("pre code .hljs-keyword").first().waitFor({ timeout: 15_000 });
    expect(await answer.locator("pre code .hljs-keyword").first().textContent()).toBe("const");
    await answer.locator("math mfrac").waitFor({ timeout: 15_000 });
    expect(await answer.locator("math").count()).toBe(2);
    expect(await answer.locator("math[display=block]").count()).toBe(1);
    expect(await answer.getByText("$$").count()).toBe(0);
    const border = await answer
      .locator("td")
      .first()
      .evaluate((el) => getComputedStyle(el).borderTopWidth);
    expect(border).toBe("1px");
    expect(await answer.getByRole("img", { name: "done", exact: true }).count()).toBe(1);
    expect(await answer.getByRole("img", { name: "not done", exact: true }).count()).toBe(1);
    await answer.getByRole("button", { name: "Copy code" }).waitFor();
    await noViolations(client);
    await client.emulateMedia({ colorScheme: "dark" });
    await noViolations(client);
    await client.emulateMedia({ colorScheme: "light" });
  }, 60_000);

  it("each chat keeps its own system prompt and settings; conversations are searched, exported and imported with honest messages", async () => {
    const options = client.getByTestId("chat-options");
    await options.locator("summary").click();
    const system = client.getByLabel(/^System prompt/);
    await system.fill("Answer in one line.");
    await system.dispatchEvent("change");
    const temperature = client.getByLabel("Temperature (0–2)");
    await temperature.fill("3");
    await temperature.dispatchEvent("change");
    expect(await options.getByRole("alert").textContent()).toBe("Temperature is between 0 and 2.");
    await temperature.fill("0.3");
    await temperature.dispatchEvent("change");
    expect(await options.getByRole("alert").count()).toBe(0);
    expect(await options.locator("summary").textContent()).toBe(
      "Chat settings · test-model · system prompt set",
    );
    await client.getByRole("button", { name: "New chat" }).click();
    await ask(client, "a fourth conversation", 1);
    expect(await options.locator("summary").textContent()).toBe("Chat settings · test-model");
    expect(await client.getByLabel("Temperature (0–2)").inputValue()).toBe("");

    // Four conversations: the list can be searched.
    const search = client.getByRole("searchbox", { name: "Search conversations" });
    await search.fill("all of markdown");
    const items = client.locator("#conversations [data-conversation]");
    await expect.poll(() => items.count()).toBe(1);
    await items.first().click();
    expect(await options.locator("summary").textContent()).toBe(
      "Chat settings · test-model · system prompt set",
    );
    expect(await client.getByLabel("Temperature (0–2)").inputValue()).toBe("0.3");
    await search.fill("");
    await expect.poll(() => items.count()).toBe(4);

    const [download] = await Promise.all([
      client.waitForEvent("download"),
      client.getByRole("button", { name: "Export" }).click(),
    ]);
    const file = client.locator("#conversations input[type=file]");
    await file.setInputFiles({
      name: "silk.json",
      mimeType: "application/json",
      buffer: Buffer.from("{nope"),
    });
    await client
      .getByText(/^That file could not be imported: it is not a Silk conversations export/)
      .waitFor();
    expect(await items.count()).toBe(4);
    await file.setInputFiles((await download.path())!);
    await client
      .getByText("No new conversations; 4 already here were replaced by the file's copy.")
      .waitFor();
    expect(await items.count()).toBe(4);
    await noViolations(client);
    await options.locator("summary").click(); // closed again
  }, 90_000);

  it("two tabs of one browser share its key: the second waits for the first's answer, or stops it on request; no answer is cut", async () => {
    await settle(client);
    const second = await client.context().newPage();
    try {
      await openReady(second, `${f.url}/`);
      await second.getByRole("button", { name: "New chat" }).click();
      await second.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
      const words = (tag: string) => Array.from({ length: 500 }, (_, i) => `${tag}${i}`).join(" ");
      const last = client.getByTestId("turn-assistant").last();
      // Each long question in a chat of its own, so that its answer fits the model's context.
      const started = async (tag: string) => {
        await client.getByRole("button", { name: "New chat" }).click();
        await question(client).fill(words(tag));
        await client.keyboard.press("Enter");
        await last.getByText(new RegExp(`Echo: ${tag}0 ${tag}1`)).waitFor({ timeout: 30_000 });
      };
      // The second tab asks while the first streams: it waits, and says why and what it can do.
      await started("a");
      await question(second).fill("asked from the second tab");
      await second.keyboard.press("Enter");
      expect(await waitForText(second, "answer-status", (s) => s.startsWith("Another"))).toMatch(
        /^Another Silk tab of this browser is answering with the same key\. This question goes as soon as that answer ends/,
      );
      await noViolations(second);
      // The first tab's answer streams to its end, untouched; then the second tab's question goes.
      await client.getByTestId("answer-stats").last().waitFor({ timeout: 60_000 });
      expect(await last.textContent()).toContain("a499");
      expect(await last.getByRole("alert").count()).toBe(0);
      await second.getByTestId("answer-stats").waitFor({ timeout: 30_000 });
      expect(await second.getByTestId("turn-assistant").textContent()).toContain(
        "Echo: asked from the second tab",
      );

      // Asked to, the first tab stops its answer (what arrived is kept and paid) and lets the second ask.
      await started("b");
      await question(second).fill("take over, please");
      await second.keyboard.press("Enter");
      await second.getByRole("button", { name: "Stop the other tab's answer and ask here" }).click();
      await second.getByTestId("answer-stats").nth(1).waitFor({ timeout: 30_000 });
      expect(await second.getByTestId("turn-assistant").nth(1).textContent()).toContain(
        "Echo: take over, please",
      );
      expect(await last.getByRole("alert").textContent()).toBe(
        "Stopped: another tab of this browser asked with the same key. What arrived is kept and paid.",
      );
      expect(squash((await last.getByTestId("answer-stats").textContent()) ?? "")).toMatch(/[\d.]+ TON/);
      // The chats made here go, so the tests below count the conversations they had before. A
      // deletion in one tab leaves the other's list too.
      for (const name of [/^Delete “a0 a1 /, /^Delete “b0 b1 /, "Delete “asked from the second tab”"]) {
        await client.getByRole("button", { name }).click();
        await second.getByRole("button", { name }).waitFor({ state: "detached" });
      }
    } finally {
      await second.close();
    }
  }, 120_000);

  it("two tabs on one conversation: each shows the other's questions and answers in the order asked; a reload keeps all of them", async () => {
    await settle(client);
    const second = await client.context().newPage();
    const questions = async (page: Page) =>
      (await page.getByTestId("turn-user").locator(".user-text").allTextContents()).map(
        (s) => s.split(" ")[0],
      );
    const answers = (page: Page) => page.getByTestId("turn-assistant");
    try {
      await client.getByRole("button", { name: "New chat" }).click();
      await ask(client, "one-from-the-first-tab", 1);
      await openReady(second, `${f.url}/`);
      await second.getByRole("button", { name: "one-from-the-first-tab", exact: true }).click();
      await ask(second, "two-from-the-second-tab", 2);
      // The first tab, not reloaded, shows the second's question and answer.
      await expect
        .poll(() => questions(client))
        .toEqual(["one-from-the-first-tab", "two-from-the-second-tab"]);
      await expect
        .poll(() => answers(client).last().textContent())
        .toContain("Echo: two-from-the-second-tab");

      // Both ask at once: the second tab's question waits for the first's answer, then comes after it.
      const long = `three-from-the-first-tab ${Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ")}`;
      await question(client).fill(long);
      await client.keyboard.press("Enter");
      await answers(client)
        .nth(2)
        .getByText(/Echo: three-from-the-first-tab w0/)
        .waitFor({ timeout: 30_000 });
      await question(second).fill("four-from-the-second-tab");
      await second.keyboard.press("Enter");
      await client.getByTestId("answer-stats").nth(2).waitFor({ timeout: 60_000 });
      await second.getByTestId("answer-stats").nth(3).waitFor({ timeout: 60_000 });
      const all = [
        "one-from-the-first-tab",
        "two-from-the-second-tab",
        "three-from-the-first-tab",
        "four-from-the-second-tab",
      ];
      for (const page of [client, second]) {
        await expect.poll(() => questions(page)).toEqual(all);
        await expect.poll(() => answers(page).getByTestId("answer-stats").count()).toBe(4);
      }
      expect(await answers(second).nth(2).textContent()).toContain("w299");
      expect(await answers(client).nth(3).textContent()).toContain("Echo: four-from-the-second-tab");
      // What was saved is all of it, in the same order: neither tab's save dropped the other's turns.
      await second.reload();
      await second.waitForSelector("body[data-ready=true]", { state: "attached" });
      await second.getByRole("button", { name: "one-from-the-first-tab", exact: true }).click();
      await expect.poll(() => questions(second)).toEqual(all);
      await noViolations(client);
      // Deleted in one tab, it leaves the other's list too.
      await second.getByRole("button", { name: "Delete “one-from-the-first-tab”" }).click();
      await client
        .getByRole("button", { name: "one-from-the-first-tab", exact: true })
        .waitFor({ state: "detached" });
    } finally {
      await second.close();
    }
  }, 150_000);

  it("Claim now says what happened and states the 0.01 TON minimum", async () => {
    expect(await text(provider, "claim-help")).toContain("at least 0.01 TON per requester");
    const unclaimed = tonOf(await waitForText(provider, "unclaimed", (s) => tonOf(s) > 0n));
    // Before pressing it: what it would claim, or why nothing would go yet (never a bare "nothing"
    // beside what the page shows as unclaimed).
    expect(await text(provider, "claim-now-cost")).toMatch(
      unclaimed < EscrowParams.MIN_CLAIM
        ? /^Nothing can be claimed yet: the [\d.]+ TON held waits \(each requester's line under Claims says why\)\.$/
        : /^Claim now would claim [\d.]+ TON/,
    );
    await provider.getByRole("button", { name: "Claim now" }).click();
    const result = await waitForText(provider, "claim-result", (s) => s.length > 0, 60_000);
    if (unclaimed < EscrowParams.MIN_CLAIM) {
      expect(result).toMatch(
        /^Nothing claimed: [\d.]+ TON is unclaimed, but an escrow pays only claims of at least 0.01 TON/,
      );
      expect(result).not.toMatch(/paid your payout/);
    } else {
      expect(result).toMatch(/^Claimed [\d.]+ TON: the escrows paid your payout address/);
    }
    await noViolations(provider);
  }, 90_000);

  it("close asks first; after withdrawing, a second Withdraw is off; depositing again reopens and asking works", async () => {
    await client.getByRole("button", { name: /^Wallet/ }).click();
    await client.getByRole("button", { name: "Close escrow" }).click();
    await client.getByRole("button", { name: "Keep it open" }).click();
    expect(await client.getByTestId("closing").count()).toBe(0);
    expect(
      await client
        .getByRole("button", { name: "Close escrow" })
        .evaluate((el) => el === document.activeElement),
    ).toBe(true);
    await client.getByRole("button", { name: "Close escrow" }).click();
    await client.getByRole("button", { name: "Yes, close the escrow" }).click();
    await client.getByTestId("closing").waitFor({ timeout: 30_000 });
    expect(await text(client, "money-notice")).toMatch(/Closing started/);
    // A countdown, not a clock time.
    const closing = squash((await text(client, "closing")) ?? "");
    expect(closing).toMatch(/^(Closing: providers may still claim for (\d+ min )?\d+ s;|Closed:)/);
    expect(closing).not.toMatch(/\d{1,2}:\d{2}/);
    await noViolations(client);
    const withdraw = client.getByRole("button", { name: "Withdraw" });
    await expect.poll(() => withdraw.isEnabled(), { timeout: 30_000 }).toBe(true);
    await withdraw.click();
    await waitForText(client, "money-notice", (s) => s.startsWith("Withdrawn: about"));
    expect(await withdraw.isDisabled()).toBe(true);
    expect(await text(client, "closing")).toMatch(/Deposit again to reopen/);
    expect(tonOf(await text(client, "escrow-balance"))).toBe(EscrowParams.STORAGE_RESERVE);

    await client.getByLabel("Amount, TON").fill("2");
    await client.getByRole("button", { name: "Deposit and reopen" }).click();
    await waitForText(client, "money-notice", (s) => s.startsWith("Reopened: 2 TON deposited"), 60_000);
    expect(await client.getByTestId("closing").count()).toBe(0);
    await client.keyboard.press("Escape"); // closes the wallet panel
    expect(await client.getByRole("button", { name: /^Wallet/ }).getAttribute("aria-expanded")).toBe("false");
    await ask(client, "asking after reopening", 2);
    expect(await client.getByTestId("turn-assistant").nth(1).textContent()).toContain(
      "Echo: asking after reopening",
    );
  }, 120_000);

  it("both pages at 360x740 and 1280x800, light and dark, idle, editing and with the wallet open: no sideways scroll, no axe violation", async () => {
    const wallet = client.getByRole("button", { name: /^Wallet/ });
    if ((await wallet.getAttribute("aria-expanded")) === "true") await client.keyboard.press("Escape");
    for (const [width, height] of [
      [360, 740],
      [1280, 800],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        const name = `${width}-${scheme}`;
        for (const page of [client, provider]) {
          await page.setViewportSize({ width, height });
          await page.emulateMedia({ colorScheme: scheme });
        }
        const bg = await client.evaluate(() => getComputedStyle(document.body).backgroundColor);
        expect(bg).toBe(scheme === "dark" ? "rgb(21, 25, 30)" : "rgb(255, 255, 255)");
        for (const page of [client, provider]) {
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
          await noViolations(page);
          // What axe leaves out: every control takes a finger (44 px), placeholders are readable (AA).
          expect(await smallTargets(page)).toEqual([]);
          expect(await placeholderContrast(page)).toBeGreaterThanOrEqual(4.5);
          // No "." alone on a line (it followed the registered payout address, which wrapped).
          expect(await strandedPunctuation(page)).toEqual([]);
          // A choice too long for the width (the client's model picker at 360 px) ends in "…", not
          // cut mid-word. The provider's models are a list whose names wrap (checked on their own).
          expect(
            new Set(
              await page
                .locator("select")
                .evaluateAll((els) => els.map((e) => getComputedStyle(e).textOverflow)),
            ),
          ).toEqual(page === provider ? new Set() : new Set(["ellipsis"]));
        }
        await screenshot(client, `essentials-client-${name}`);
        await screenshot(provider, `essentials-provider-${name}`);
        if (width === 360) {
          // The header is one row, as in chat apps (it was three, a quarter of the screen), and still
          // holds every control: Chats, the model, Wallet, the theme.
          const header = (await client.locator("header.top").boundingBox())!;
          expect(header.height).toBeLessThanOrEqual(60);
          for (const control of [
            client.getByRole("button", { name: "Chats" }),
            client.getByRole("combobox", { name: "Model" }),
            client.getByRole("button", { name: /^Wallet/ }),
            client.getByRole("button", { name: /^Theme:/ }),
          ]) {
            const box = (await control.boundingBox())!;
            expect(box.y + box.height).toBeLessThanOrEqual(header.y + header.height);
            expect(box.x + box.width).toBeLessThanOrEqual(width);
          }
          // The phone's drawer holds the conversations; the composer is on screen without scrolling.
          const composer = (await question(client).boundingBox())!;
          expect(composer.y + composer.height).toBeLessThanOrEqual(height);
          // The conversation is the main thing on a phone, as in chat apps: most of the screen, and
          // nothing in it scrolls sideways or is cut at its right edge (long words, code, tables).
          const log = client.getByRole("log", { name: "Conversation" });
          expect((await log.boundingBox())!.height).toBeGreaterThan(height * 0.4);
          expect(
            await log.evaluate((el) => {
              const right = el.getBoundingClientRect().right;
              const cut = [...el.querySelectorAll("[data-testid^=turn-]")].filter(
                (t) => t.getBoundingClientRect().right > right + 0.5,
              );
              return { sideways: el.scrollWidth - el.clientWidth, cut: cut.length };
            }),
          ).toEqual({ sideways: 0, cut: 0 });
          // At 200% text (a phone's larger text, a browser's font size): nothing sticks out, no sideways scroll.
          for (const page of [client, provider]) {
            expect(await atTextSize(page, 200)).toEqual({ sideways: 0, past: [] });
          }
          await client.getByRole("button", { name: "Chats" }).click();
          await client.getByRole("button", { name: "New chat" }).waitFor();
          await noViolations(client);
          await screenshot(client, `essentials-client-${name}-drawer`);
          await client.keyboard.press("Escape");
          expect(
            await client
              .getByRole("button", { name: "Chats" })
              .evaluate((el) => el === document.activeElement),
          ).toBe(true);
        }
        await client.getByRole("button", { name: "Edit" }).first().click();
        await noViolations(client);
        await screenshot(client, `essentials-client-${name}-editing`);
        await client.keyboard.press("Escape");
        await client.getByRole("button", { name: /^Wallet/ }).click();
        await client.getByTestId("escrow-balance").waitFor();
        if (width === 360) expect(await atTextSize(client, 200)).toEqual({ sideways: 0, past: [] });
        // The chat stays on screen beside the wallet on a wide screen.
        if (width === 1280) {
          const composer = (await question(client).boundingBox())!;
          expect(composer.y + composer.height).toBeLessThanOrEqual(height);
        }
        await noViolations(client);
        await screenshot(client, `essentials-client-${name}-wallet`);
        await client.keyboard.press("Escape");
      }
    }
    await client.emulateMedia({ colorScheme: "light" });
    await provider.emulateMedia({ colorScheme: "light" });
    await client.setViewportSize({ width: 1280, height: 800 });
    await provider.setViewportSize({ width: 1280, height: 800 });
  }, 180_000);

  it("the widget at 360x740 and 1280x800, light and dark: no sideways scroll, no axe violation", async () => {
    const context = await browser().newContext();
    const widget = await context.newPage();
    await widget.goto(`${f.url}/widget/`);
    await widget.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    await widget.locator("silk-chat select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    for (const [width, height] of [
      [360, 740],
      [1280, 800],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        await widget.setViewportSize({ width, height });
        await widget.emulateMedia({ colorScheme: scheme });
        expect(await widget.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        expect(await a11yViolations(widget)).toEqual([]);
        expect(await smallTargets(widget)).toEqual([]);
        expect(await placeholderContrast(widget)).toBeGreaterThanOrEqual(4.5);
        // An empty chat offers no greyed-out New chat (it said nothing of why it was off).
        expect(await widget.getByRole("button", { name: "New chat" }).count()).toBe(0);
        // On a phone the model picker shares one bar with Wallet, the widest of it (the conversation
        // gets the room; the model's full name is the picker's title), and the privacy note sits
        // below the question box, never over it.
        const picker = (await widget.locator("silk-chat select").boundingBox())!;
        const wallet = (await widget.getByRole("button", { name: "Wallet", exact: true }).boundingBox())!;
        expect(picker.width).toBeGreaterThan(width === 360 ? 180 : 250);
        if (width === 360) expect(Math.abs(picker.y - wallet.y)).toBeLessThan(4);
        expect(
          await widget.locator("silk-chat select").evaluate((e) => getComputedStyle(e).textOverflow),
        ).toBe("ellipsis");
        const box = (await widget.getByRole("textbox", { name: "Your question" }).boundingBox())!;
        const note = (await widget.locator("silk-chat .limit").boundingBox())!;
        expect(box.y + box.height).toBeLessThanOrEqual(note.y);
        // A first visit's note reads from its first line, not scrolled to its last like a chat's log.
        const firstRun = (await widget.getByTestId("first-run").boundingBox())!;
        const log = (await widget.getByRole("log").boundingBox())!;
        expect(firstRun.y).toBeGreaterThanOrEqual(log.y);
        if (width === 360) expect(await atTextSize(widget, 200)).toEqual({ sideways: 0, past: [] });
        await screenshot(widget, `essentials-widget-${width}-${scheme}`);
      }
    }
    await context.close();
  }, 60_000);

  it("by keyboard alone at 360x740 in dark mode: every stop of the client (its answers, drawer and wallet), the provider page and the widget shows its focus, named, on screen, unhidden", async () => {
    const walked: Record<string, string[]> = {};
    for (const page of [client, provider]) {
      await page.setViewportSize({ width: 360, height: 740 });
      await page.emulateMedia({ colorScheme: "dark" });
    }
    const widgetContext = await browser().newContext({
      viewport: { width: 360, height: 740 },
      colorScheme: "dark",
    });
    try {
      // The client mid-conversation, its chat settings open: each answer's own controls are stops too.
      await client.getByText("Chat settings").click();
      const chat = await keyboardWalk(client, 120);
      await client.getByText("Chat settings").click();
      walked.client = chat.problems;
      expect(chat.stops).toEqual(
        expect.arrayContaining([
          "button “Chats”",
          "button “Copy answer”",
          "textarea “System prompt (sent before every question of this chat)”",
          "textarea “Your question”",
        ]),
      );
      await client.getByRole("button", { name: "Chats" }).click();
      await client.getByRole("button", { name: "New chat" }).waitFor();
      walked.drawer = (await keyboardWalk(client)).problems;
      await client.keyboard.press("Escape");
      await client.getByRole("button", { name: /^Wallet/ }).click();
      await client.getByTestId("escrow").waitFor();
      walked.wallet = (await keyboardWalk(client)).problems;
      await client.keyboard.press("Escape");
      // While an answer streams (each token 0.4 s apart, so that it outlasts the walk): the log grows
      // under the reader and Stop stands where Send was.
      await provider.evaluate(() => localStorage.setItem("silk-test-token-delay-ms", "400"));
      const stop = client.getByRole("button", { name: "Stop", exact: true });
      try {
        await question(client).fill(Array.from({ length: 80 }, (_, i) => `streamed${i}`).join(" "));
        await client.keyboard.press("Enter");
        await client
          .getByTestId("turn-assistant")
          .last()
          .getByText(/Echo: streamed0/)
          .waitFor({ timeout: 30_000 });
        const streaming = await keyboardWalk(client, 120);
        walked.streaming = streaming.problems;
        expect(streaming.stops).toEqual(expect.arrayContaining(["button “Stop”"]));
        expect(await stop.count()).toBe(1); // still streaming: the whole walk saw it
      } finally {
        await provider.evaluate(() => localStorage.removeItem("silk-test-token-delay-ms"));
        await settle(client);
      }
      walked.provider = (await keyboardWalk(provider, 120)).problems;
      const widget = await widgetContext.newPage();
      await widget.goto(`${f.url}/widget/`);
      await widget.getByRole("textbox", { name: "Your question" }).waitFor({ timeout: 30_000 });
      await widget
        .locator("silk-chat select option", { hasText: "test-model" })
        .waitFor({ state: "attached" });
      walked.widget = (await keyboardWalk(widget)).problems;
      // In Telegram, whose theme (its colours, not ours) the widget takes.
      const telegram = await browser().newContext({ viewport: { width: 360, height: 740 } });
      await telegram.addInitScript(telegramDoubleScript(TELEGRAM_THEME));
      const mini = await telegram.newPage();
      await mini.goto(`${f.url}/widget/`);
      await mini
        .locator("silk-chat select option", { hasText: "test-model" })
        .waitFor({ state: "attached", timeout: 30_000 });
      walked.telegram = (await keyboardWalk(mini)).problems;
      await telegram.close();
      expect(walked).toEqual({
        client: [],
        drawer: [],
        wallet: [],
        streaming: [],
        provider: [],
        widget: [],
        telegram: [],
      });
    } finally {
      await widgetContext.close();
      for (const page of [client, provider]) {
        await page.emulateMedia({ colorScheme: "light" });
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    }
  }, 120_000);

  it("the provider's Stop asks first while an answer streams; once stopped, no number is left stale", async () => {
    const long = Array.from({ length: 2000 }, (_, i) => `s${i}`).join(" ");
    await question(client).fill(long);
    await client.keyboard.press("Enter");
    await client
      .getByTestId("turn-assistant")
      .last()
      .getByText(/Echo: s0 s1 s2/)
      .waitFor({ timeout: 30_000 });
    await waitForText(provider, "tokens-per-second", (s) => Number(s) > 0);
    // While serving, the status says who is connected and what was served, not only in the
    // collapsed Traffic: the session count was nowhere else a newcomer looks.
    expect(squash(await waitForText(provider, "status-traffic", (s) => !s.startsWith("0 ")))).toMatch(
      /^[1-9]\d* requester sessions? open now · served [1-9]\d* requests?, [1-9]\d* tokens$/,
    );
    expect(squash(await waitForText(provider, "per-hour", (s) => s.length > 0))).toMatch(
      /^At [\d.]+ tokens\/s and 1000 nanoTON a token: up to [\d.]+ TON an hour while busy\.$/,
    );
    const stop = provider.getByRole("button", { name: "Stop", exact: true });
    await stop.click();
    const keep = provider.getByRole("button", { name: "Keep serving" });
    await keep.waitFor();
    expect(await keep.evaluate((el) => el === document.activeElement)).toBe(true);
    await noViolations(provider);
    await keep.click();
    expect(await stop.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await text(provider, "serving-state")).toMatch(/^Serving/);
    // Escape answers the question as Keep serving does, as a dialog's Escape would.
    await stop.press("Enter");
    await keep.waitFor();
    await provider.keyboard.press("Escape");
    await expect.poll(() => keep.count()).toBe(0);
    expect(await stop.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await text(provider, "serving-state")).toMatch(/^Serving/);
    // Still streaming: this time stop.
    await stop.click();
    await provider.getByRole("button", { name: "Stop now" }).click();
    await waitForText(provider, "serving-state", (s) => !s.startsWith("Serving"));
    expect(await text(provider, "tokens-per-second")).toBe("0");
    expect(squash((await text(provider, "running-waiting")) ?? "")).toBe("0 running, 0 waiting");
    expect(await text(provider, "open-sessions")).toBe("0");
    // The client's answer ends (cut off, what arrived is kept); then the provider serves again.
    await client.getByRole("button", { name: "Stop" }).waitFor({ state: "detached", timeout: 60_000 });
    // Cut off by the provider: the tokens that arrived were paid, and say so.
    const cut = client.getByTestId("turn-assistant").last();
    expect(Number(await cut.getByTestId("completion-tokens").textContent())).toBeGreaterThan(0);
    expect(squash((await cut.getByTestId("answer-stats").textContent()) ?? "")).toMatch(
      /answer tokens arrived and were paid · [\d.]+ TON/,
    );
    await provider.getByRole("button", { name: "Start serving" }).click();
    await waitForText(provider, "serving-state", (s) => s.startsWith("Serving"));
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
  }, 120_000);

  it("a paused provider is neither counted nor listed; resuming lists it again", async () => {
    const providers = async () =>
      ((await (await fetch(`${f.url}/api/models`)).json()) as { providers: number }).providers;
    const option = client.locator("select option", { hasText: "test-model" });
    // Pause and Stop say, to the eye and to a screen reader, what each does to the requesters.
    const description = (name: string) =>
      provider.getByRole("button", { name, exact: true }).evaluate((b) =>
        (b.getAttribute("aria-describedby") ?? "")
          .split(" ")
          .map((id) => document.getElementById(id)?.textContent ?? "")
          .join(" ")
          .replace(/\s+/g, " ")
          .trim(),
      );
    for (const name of ["Pause", "Stop"])
      expect(await description(name)).toBe(
        "Pause takes this provider off Silk's list: no new requester finds it, and the sessions open now go on. Stop ends every session and serving.",
      );
    await provider.getByRole("button", { name: "Pause" }).click();
    await waitForText(provider, "status-headline", (s) =>
      s.startsWith("Paused test-model: not listed on Silk"),
    );
    expect((await text(provider, "serving-state"))?.trim()).toBe("Paused test-model");
    await expect.poll(providers, { timeout: 15_000 }).toBe(0);
    await option.waitFor({ state: "detached", timeout: 15_000 });
    await noViolations(provider);
    expect(await description("Resume")).toBe(
      "Resume lists this provider on Silk again. Stop ends every session and serving.",
    );
    await provider.getByRole("button", { name: "Resume" }).click();
    await waitForText(provider, "status-headline", (s) => s.startsWith("Serving test-model: connected"));
    await expect.poll(providers, { timeout: 15_000 }).toBe(1);
    await option.waitFor({ state: "attached", timeout: 15_000 });
  }, 60_000);

  it("a self-hosted model's location is checked, remembered, listed; its failed download names the host and offers to correct it", async () => {
    const page = await openPage(browser(), `${f.url}/provider`, "provider (self-hosted)");
    // A fresh provider: the status and the setup checklist head the page, and what is off says why.
    await page.getByTestId("step-1").waitFor();
    expect(await page.locator("main > section").first().getAttribute("aria-labelledby")).toBe("status-title");
    expect(await text(page, "status-headline")).toBe("Not serving: load a model, then press Start serving");
    expect(await page.getByTestId("step-1").getAttribute("data-done")).toBe("false");
    expect(squash((await page.getByTestId("step-4").textContent()) ?? "")).toBe("4 Serve: to do");
    expect(await page.getByRole("button", { name: "Start serving" }).isDisabled()).toBe(true);
    await page.getByText("Load a model first.").waitFor();
    await page.getByText("Self-hosted model: load weights from your own host").click();
    const id = page.getByLabel("Model id");
    await id.fill("Own-Model-q4f32_1-MLC");
    await page.getByLabel("Weights URL").fill("http://weights.example.org/own/");
    await page.getByLabel("Library URL").fill("http://127.0.0.1:1/own.wasm");
    await page.getByRole("button", { name: "Save location" }).click();
    const weights = page.getByLabel("Weights URL");
    expect(await weights.getAttribute("aria-invalid")).toBe("true");
    expect(await weights.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.locator("#sh-modelUrl-help").textContent()).toMatch(
      /^Not saved: the weights URL must start with https:\/\//,
    );
    await noViolations(page);

    // Nothing listens on port 1: the download fails as an unreachable host would.
    await weights.fill("http://127.0.0.1:1/own");
    await page.getByRole("button", { name: "Save location" }).click();
    await waitForText(page, "self-hosted-saved", (s) =>
      s.startsWith("Saved: Own-Model-q4f32_1-MLC loads from 127.0.0.1:1"),
    );
    const chosen = page
      .getByRole("group", { name: /^Models that fit this device/ })
      .getByRole("radio", { checked: true });
    expect(await chosen.inputValue()).toBe("Own-Model-q4f32_1-MLC");
    expect(await chosen.locator("xpath=..").textContent()).toContain("self-hosted at 127.0.0.1:1");
    await page.getByRole("button", { name: "Download and load" }).click();
    const error = await waitForText(page, "provider-error", (s) => s.length > 0);
    expect(error).toMatch(/could not be downloaded from 127\.0\.0\.1:1/);
    expect(error).toMatch(/correct the location under "Self-hosted model"/);
    expect(error).not.toMatch(/^Failed to fetch$/);
    await noViolations(page);
    await page.getByRole("button", { name: "Correct its location" }).click();
    await expect.poll(() => id.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.getByLabel("Weights URL").inputValue()).toBe("http://127.0.0.1:1/own/");

    // Remembered across a reload, and removable.
    await page.reload();
    await page.getByRole("radio", { name: /^Own-Model/ }).waitFor();
    await page.getByText("Self-hosted model: load weights from your own host").click();
    await page.getByRole("button", { name: "Remove Own-Model-q4f32_1-MLC" }).click();
    await page.getByRole("radio", { name: /^Own-Model/ }).waitFor({ state: "detached" });
    await page.context().close();
  }, 60_000);

  it("at 360x640, light and dark, the provider's model list shows every model's whole name and size", async () => {
    const page = await openPage(browser(), `${f.url}/provider`, "provider (360 px)");
    await page.setViewportSize({ width: 360, height: 640 });
    await page.getByTestId("model-picker").waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      // Each model's words as laid out on the screen: a closed drop-down lays out none but the
      // chosen one's, and cut that at "test-model (512 MB) · downlo…".
      const shown = await page.getByTestId("model-picker").evaluate((picker) => {
        const walker = document.createTreeWalker(picker, NodeFilter.SHOW_TEXT);
        const found: { text: string; laidOut: boolean; whole: boolean }[] = [];
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const words = n.textContent ?? "";
          if (!/^test-model \(/.test(words)) continue;
          const range = document.createRange();
          range.selectNodeContents(n);
          const rects = [...range.getClientRects()];
          const holder = n.parentElement!;
          const within = (r: DOMRect) => {
            for (let el: Element | null = holder; el; el = el.parentElement) {
              if (getComputedStyle(el).overflowX === "visible") continue;
              const box = el.getBoundingClientRect();
              if (r.left < box.left - 0.5 || r.right > box.right + 0.5) return false;
            }
            return r.left >= 0 && r.right <= window.innerWidth;
          };
          found.push({
            text: words,
            laidOut: rects.length > 0,
            whole: rects.every(within) && holder.scrollWidth <= holder.clientWidth,
          });
        }
        return found;
      });
      expect(shown.map((s) => s.text)).toEqual([expect.stringMatching(/^test-model \(512 MB\)/)]);
      expect(shown.map(({ laidOut, whole }) => ({ laidOut, whole }))).toEqual([
        { laidOut: true, whole: true },
      ]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await noViolations(page);
      await screenshot(page, `provider-models-360-${scheme}`);
    }
    await page.context().close();
  }, 60_000);

  it("a downloading model shows progress, size and time left; a download broken off midway says so, and trying again finishes it", async () => {
    // A host of fake weights (a test double standing in for a model's: 6,144,000 zero bytes in 60
    // pieces over about 6 s); its first download breaks off at 40%.
    const pieces = 60;
    const piece = Buffer.alloc(102_400);
    let downloads = 0;
    const host = createServer((req, res) => {
      res.setHeader("access-control-allow-origin", "*");
      if (req.url?.endsWith("/mlc-chat-config.json")) return void res.end("{}");
      if (!req.url?.endsWith("/params_shard_0.bin")) return void res.writeHead(404).end();
      const breakAt = downloads++ === 0 ? pieces * 0.4 : pieces;
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": piece.length * pieces,
      });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent === breakAt) return void res.destroy();
        res.write(piece);
        if (++sent === pieces) res.end();
      }, 100);
      res.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    const at = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    const page = await openPage(browser(), `${f.url}/provider`, "provider (served weights)");
    try {
      await page.getByText("Self-hosted model: load weights from your own host").click();
      await page.getByLabel("Model id").fill("Served-Model-q4f32_1-MLC");
      await page.getByLabel("Weights URL").fill(`${at}/served/`);
      await page.getByLabel("Library URL").fill(`${at}/served.wasm`);
      await page.getByRole("button", { name: "Save location" }).click();
      await waitForText(page, "self-hosted-saved", (s) => s.startsWith("Saved"));
      const progress = page.getByRole("progressbar", { name: /^Loading Served-Model/ });
      const label = page.locator("label[for=load-progress]");
      const said = async () => squash((await label.textContent({ timeout: 1000 }).catch(() => "")) ?? "");
      await page.getByRole("button", { name: "Download and load" }).click();
      await progress.waitFor();
      // While it loads, the saved locations cannot change: Save and Remove are off and say why.
      for (const off of ["Save location", "Remove Served-Model-q4f32_1-MLC"])
        expect(await offReason(page, off), off).toEqual({
          why: "Save and Remove are off while a model loads.",
        });
      await expect
        .poll(said, { timeout: 15_000 })
        .toMatch(/^Loading Served-Model-q4f32_1-MLC: \d+% · \d+ MB of about \d+ MB/);
      // Broken off midway: a typed download error naming the host, and the way to try again.
      const error = await waitForText(page, "provider-error", (s) => s.length > 0);
      expect(error).toMatch(/could not be downloaded from 127\.0\.0\.1:\d+ \(TypeError: network error/);
      expect(await page.getByTestId("loaded-model").count()).toBe(0);
      await noViolations(page);
      await page.getByRole("button", { name: "Try the download again" }).click();
      // Once it has gone on long enough to tell: the time left too.
      await expect
        .poll(said, { timeout: 15_000 })
        .toMatch(/: \d+% · \d+ MB of about \d+ MB · about \d+ s left$/);
      expect(await waitForText(page, "loaded-model", (s) => s.length > 0)).toBe(
        "Loaded: Served-Model-q4f32_1-MLC",
      );
      expect(await page.getByTestId("provider-error").count()).toBe(0);
    } finally {
      await page.context().close();
      host.close();
    }
  }, 60_000);

  it("a part of the page that does not download is told in words, with what to do, in the client and the widget", async () => {
    const context = await browser().newContext();
    // A flaky network: the connection stack's chunk never arrives.
    await context.route(/\/chat-core-[^/]*\.js$/, (route) => route.abort("internetdisconnected"));
    const said =
      "Silk could not start: part of the page did not download. Check the connection, then reload the page.";
    for (const path of ["/", "/widget/"]) {
      const page = await context.newPage();
      await page.goto(`${f.url}${path}`);
      await page.getByText(said).waitFor({ timeout: 30_000 });
      expect(await page.getByText(/dynamically imported|Failed to fetch/).count()).toBe(0);
      await noViolations(page);
    }
    await context.close();
  }, 60_000);

  it("no page asks for a file that is not there: /favicon.ico is served", async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    const missing: string[] = [];
    page.on("response", (r) => {
      if (r.status() >= 400) missing.push(`${r.status()} ${r.url()}`);
    });
    for (const path of ["/", "/provider", "/widget/"]) {
      await page.goto(`${f.url}${path}`);
      await page.waitForLoadState("networkidle");
    }
    expect(missing).toEqual([]);
    const icon = await page.request.get(`${f.url}/favicon.ico`);
    expect(icon.status()).toBe(200);
    expect(icon.headers()["content-type"]).toBe("image/x-icon");
    expect((await icon.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
    await context.close();
  }, 60_000);

  it("local-first: offered only when this device fits the model; an answer made here sends nothing and costs nothing", async () => {
    // The engine is the scripted test double; whether test-model (512 MB) fits is the pages' real
    // check (modelFits) against the GPU memory the double reports, set per browser context.
    const onDevice = async (gpuMB: number) => {
      const context = await browser().newContext();
      await context.addInitScript((mb) => localStorage.setItem("silk-test-gpu-mb", String(mb)), gpuMB);
      const page = await context.newPage();
      const sent: string[] = [];
      page.on("websocket", (ws) => ws.on("framesent", (frame) => sent.push(String(frame.payload))));
      await openReady(page, `${f.url}/`);
      await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
      return { page, sent, close: () => context.close() };
    };
    const small = await onDevice(256);
    await small.page.getByText("Chat settings").click();
    expect(await waitForText(small.page, "local-fit", (s) => s.length > 0)).toMatch(
      /cannot answer test-model itself: needs about 512 MB of GPU memory; this device reports 256 MB/,
    );
    expect(await small.page.getByTestId("local-offer").count()).toBe(0);
    await small.close();

    const pairings = async () =>
      Number(/silk_pairings_total (\d+)/.exec(await (await fetch(`${f.url}/metrics`)).text())?.[1]);
    const before = await pairings();
    const fits = await onDevice(1024);
    const offer = fits.page.getByTestId("local-offer");
    await offer.waitFor({ timeout: 30_000 });
    // It says what it costs in download before anyone ticks it.
    expect(squash((await offer.textContent()) ?? "")).toMatch(
      /The first answer downloads the model once \(up to about 512 MB; the browser keeps it\)\.$/,
    );
    await offer.getByRole("checkbox").check();
    await ask(fits.page, "answer me here", 1);
    // Once the chat has turns the offer steps into the chat settings: the conversation keeps the room.
    const settings = fits.page.getByTestId("chat-options");
    expect(await settings.locator("summary").textContent()).toBe(
      "Chat settings · test-model · answered on this device",
    );
    expect(await offer.isVisible()).toBe(false);
    await settings.locator("summary").click();
    expect(await settings.getByTestId("local-offer").getByRole("checkbox").isChecked()).toBe(true);
    expect(await fits.page.getByRole("log").textContent()).toMatch(/answer me here/);
    expect(squash((await text(fits.page, "answer-cost")) ?? "")).toBe(
      "answered on this device · nothing sent, nothing paid",
    );
    expect(Number(await text(fits.page, "completion-tokens"))).toBeGreaterThan(0);
    // Nothing went to the network: no session was asked for, none paired.
    expect(fits.sent.some((f) => f.includes("session:request"))).toBe(false);
    expect(await pairings()).toBe(before);
    await noViolations(fits.page);
    await fits.close();
  }, 90_000);

  it("when the server dies: the provider says it is reconnecting, the client lists nobody, the widget says it cannot reach Silk", async () => {
    const widgetContext = await browser().newContext({ viewport: { width: 390, height: 700 } });
    const widget = await widgetContext.newPage();
    await widget.goto(`${f.url}/widget/`);
    await widget.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    await widget.locator("silk-chat select option", { hasText: "test-model" }).waitFor({ state: "attached" });

    await f.server.close();
    await waitForText(provider, "serving-state", (s) => s.startsWith("Reconnecting to Silk"), 30_000);
    await client
      .getByText(/Cannot reach Silk/)
      .first()
      .waitFor({ timeout: 30_000 });
    expect(await client.locator("select option", { hasText: "test-model" }).count()).toBe(0);
    await noViolations(client);
    await screenshot(client, "essentials-client-1280-light-server-down");
    await widget
      .getByText(/Cannot reach Silk/)
      .first()
      .waitFor({ timeout: 30_000 });
    await screenshot(provider, "essentials-provider-reconnecting");
    await noViolations(provider);
    expect(await a11yViolations(widget)).toEqual([]);
    await widgetContext.close();
  }, 90_000);
});
