import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage, waitForText } from "./chain-server";
import { ask, question } from "./chat-steps";
import { openReady } from "./page-checks";
import { usePagesFixture } from "./pages-fixture";

/**
 * Two tabs of one browser on one key and one IndexedDB, as a person with Silk open twice has them:
 * on the test build (the provider page's engine is the scripted test engine), the real signaling
 * server and the devnet.
 */
const f = usePagesFixture();

const chat = (page: Page, name: string) => page.getByRole("button", { name, exact: true });

/**
 * Another tab of `client`'s browser, in a new chat with "Audit providers" on, whose every question
 * brings a challenge along (the auditor's 1 in 20, drawn with Math.random); `audits` is that option.
 */
async function auditingTab(client: Page): Promise<{ page: Page; audits: Locator }> {
  const page = await client.context().newPage();
  await page.addInitScript(() => {
    Math.random = () => 0;
  });
  await openReady(page, `${f.url}/`);
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByText("Chat settings").click();
  const audits = page.getByRole("checkbox", { name: /^Audit providers/ });
  await audits.check();
  return { page, audits };
}

describe("two tabs of one browser", () => {
  let provider: Page;
  let client: Page;

  it("the provider serves and the client funds its escrow", async () => {
    provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, { register: true });
    client = await openPage(f.browser, `${f.url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(client, "5");
    await client.keyboard.press("Escape");
  }, 90_000);

  it("a rename in one tab stays while the other tab, holding the old copy, answers in that conversation", async () => {
    const second = await client.context().newPage();
    try {
      await client.getByRole("button", { name: "New chat" }).click();
      await ask(client, "named-by-its-question", 1);
      await openReady(second, `${f.url}/`);
      await chat(second, "named-by-its-question").click();
      await second.getByRole("button", { name: "Rename “named-by-its-question”" }).click();
      await second.getByRole("textbox", { name: /^New name for “/ }).fill("Renamed in the second tab");
      await second.keyboard.press("Enter");
      await chat(second, "Renamed in the second tab").waitFor();
      // The first tab, not reloaded, shows the new name; its next answer (a later save of its copy) keeps it.
      await chat(client, "Renamed in the second tab").waitFor({ timeout: 10_000 });
      await ask(client, "asked-after-the-rename", 2);
      await second.getByTestId("answer-stats").nth(1).waitFor({ timeout: 30_000 });
      for (const page of [client, second]) {
        await chat(page, "Renamed in the second tab").waitFor();
        expect(await chat(page, "named-by-its-question").count()).toBe(0);
      }
      await second.reload();
      await second.waitForSelector("body[data-ready=true]", { state: "attached" });
      await chat(second, "Renamed in the second tab").waitFor();
      await second.getByRole("button", { name: "Delete “Renamed in the second tab”" }).click();
      await chat(client, "Renamed in the second tab").waitFor({ state: "detached" });
    } finally {
      await second.close();
    }
  }, 90_000);

  it("a system prompt set in one tab stays while the other tab, holding the old copy, answers in that conversation", async () => {
    const second = await client.context().newPage();
    const system = (page: Page) => page.getByRole("textbox", { name: /^System prompt/ });
    try {
      await client.getByRole("button", { name: "New chat" }).click();
      await ask(client, "tuned-in-the-second-tab", 1);
      await openReady(second, `${f.url}/`);
      await chat(second, "tuned-in-the-second-tab").click();
      await second.getByText("Chat settings").click();
      await system(second).fill("Answer in one line.");
      await system(second).blur();
      // The first tab, not reloaded, shows it; its next answer (a later save of its copy) keeps it.
      await client.getByText("Chat settings").click();
      await expect.poll(() => system(client).inputValue(), { timeout: 10_000 }).toBe("Answer in one line.");
      await ask(client, "asked-after-the-new-prompt", 2);
      await second.getByTestId("answer-stats").nth(1).waitFor({ timeout: 30_000 });
      for (const page of [client, second])
        expect(await system(page).inputValue()).toBe("Answer in one line.");
      await second.reload();
      await second.waitForSelector("body[data-ready=true]", { state: "attached" });
      await chat(second, "tuned-in-the-second-tab").click();
      await second.getByText("Chat settings").click();
      expect(await system(second).inputValue()).toBe("Answer in one line.");
    } finally {
      await client.getByText("Chat settings").click();
      await second
        .getByRole("button", { name: "Delete “tuned-in-the-second-tab”" })
        .click({ timeout: 5_000 })
        .catch(() => undefined);
      await second.close();
    }
  }, 90_000);

  it("an audit takes its tab's turn like a question: another tab's question waits for it; no answer is cut", async () => {
    // The provider's test engine holds each audit challenge (a request asking for logprobs) 3 s.
    await provider.evaluate(() => localStorage.setItem("silk-test-logprobs-delay-ms", "3000"));
    const second = await client.context().newPage();
    await openReady(second, `${f.url}/`);
    const auditing = await auditingTab(client);
    try {
      await ask(auditing.page, "audited-question", 1);
      await second.getByRole("button", { name: "New chat" }).click();
      // The challenge goes once the question's answer has ended, in the same tab's turn.
      await question(second).fill("after-the-audit");
      await second.keyboard.press("Enter");
      expect(await waitForText(second, "answer-status", (s) => s.startsWith("Another"))).toMatch(
        /^Another Silk tab of this browser is answering with the same key\./,
      );
      const answer = second.getByTestId("turn-assistant").last();
      await answer.getByTestId("answer-stats").waitFor({ timeout: 30_000 });
      expect(await answer.textContent()).toContain("Echo: after-the-audit");
      expect(await answer.getByRole("alert").count()).toBe(0);
      expect(await auditing.page.getByTestId("turn-assistant").getByRole("alert").count()).toBe(0);
    } finally {
      await cleanUp(second, auditing, ["Delete “audited-question”", "Delete “after-the-audit”"]);
    }
  }, 90_000);

  it("“Stop the other tab's answer” stops an audit running there, and the question goes at once", async () => {
    // The provider's test engine holds each audit challenge far longer than this test runs: only
    // being stopped ends it in time.
    await provider.evaluate(() => localStorage.setItem("silk-test-logprobs-delay-ms", "600000"));
    const second = await client.context().newPage();
    await openReady(second, `${f.url}/`);
    const auditing = await auditingTab(client);
    try {
      // The challenge goes once the question's answer has ended, in the tab's turn, and is held.
      await ask(auditing.page, "audited-question", 1);
      await second.getByRole("button", { name: "New chat" }).click();
      await question(second).fill("stop-the-audit");
      await second.keyboard.press("Enter");
      await waitForText(second, "answer-status", (s) => s.startsWith("Another"));
      await second.getByRole("button", { name: "Stop the other tab's answer and ask here" }).click();
      const answer = second.getByTestId("turn-assistant").last();
      await answer.getByTestId("answer-stats").waitFor({ timeout: 30_000 });
      expect(await answer.textContent()).toContain("Echo: stop-the-audit");
      expect(await answer.getByRole("alert").count()).toBe(0);
      // The audited question's answer, already whole, is untouched.
      expect(await auditing.page.getByTestId("turn-assistant").getByRole("alert").count()).toBe(0);
    } finally {
      await cleanUp(second, auditing, ["Delete “audited-question”", "Delete “stop-the-audit”"]);
    }
  }, 90_000);

  /** Audits off, the test engine's hold lifted, the chats made deleted, the tabs closed. */
  async function cleanUp(second: Page, auditing: { page: Page; audits: Locator }, chats: string[]) {
    await provider.evaluate(() => localStorage.removeItem("silk-test-logprobs-delay-ms"));
    await auditing.audits.uncheck().catch(() => undefined);
    for (const name of chats)
      await second
        .getByRole("button", { name })
        .click({ timeout: 5_000 })
        .catch(() => undefined);
    await auditing.page.close();
    await second.close();
  }
});
