import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage } from "./chain-server";
import { question } from "./chat-steps";
import { usePagesFixture } from "./pages-fixture";

/**
 * Every lazily fetched part of the chat, not only the turns and the model list, says so where it
 * would be when its chunk cannot be fetched (the server gone, offline, a deploy under an open page),
 * with Try again (LazyPart.svelte, the one owner). The chat settings, the introduction, the
 * background notice, the wallet panel, who answered, an answer's stats, its earlier versions, the
 * question's editor and the earlier branches showed nothing and said nothing (the wallet said to
 * open it again).
 */
const f = usePagesFixture();

const chunk = (name: string) => new RegExp(`/${name}-[^/]*\\.js$`);

async function fail(page: Page, names: string[]): Promise<void> {
  for (const n of names) await page.route(chunk(n), (route) => route.abort("connectionreset"));
}
async function heal(page: Page, names: string[]): Promise<void> {
  for (const n of names) await page.unroute(chunk(n));
}
const alert = (page: Page, what: string) =>
  page.getByRole("alert").filter({ hasText: `${what} could not load. Check the connection, then` });

/** Says `what` could not load, then, the chunk back, Try again (keyboard) shows the part `shown`. */
async function failsThenLoads(page: Page, name: string, what: string, shown: () => Promise<unknown>) {
  const said = alert(page, what);
  await said.waitFor({ timeout: 30_000 });
  await heal(page, [name]);
  await said.getByRole("button", { name: "Try again" }).press("Enter");
  await shown();
  await expect.poll(() => said.count()).toBe(0);
}

describe("every lazy part of the chat that fails to load says so", () => {
  it("the widget at 360 px, dark: settings, introduction, notice, wallet, who answered, stats, earlier answers, editor, branches", async () => {
    const provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, { register: true });
    const page = await (
      await f.browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
    ).newPage();
    // Who answered is fetched with the connection stack, before any answer; it is tried once there is one.
    await fail(page, ["ChatOptions", "FirstRun", "BackgroundNotice", "ProviderBadge", "WalletPanel"]);
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });

    await failsThenLoads(page, "ChatOptions", "The chat settings", () =>
      page.getByTestId("chat-options").waitFor(),
    );
    await failsThenLoads(page, "FirstRun", "The introduction", () => page.getByTestId("first-run").waitFor());
    await failsThenLoads(page, "BackgroundNotice", "The notice of a problem in the background", () =>
      page.getByTestId("background-notice").waitFor({ state: "attached" }),
    );

    await page.getByRole("button", { name: "Wallet", exact: true }).press("Enter");
    await failsThenLoads(page, "WalletPanel", "The wallet", () =>
      page.getByTestId("wallet-address").waitFor(),
    );
    await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");
    await fundClientEscrow(page);
    await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");

    const later = ["AnswerStats", "AnswerVersions", "EditQuestion", "EarlierBranches"];
    await fail(page, later);
    await question(page).fill("hello");
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Regenerate" }).waitFor({ timeout: 30_000 });
    await failsThenLoads(page, "ProviderBadge", "Who answered", () =>
      page.getByTestId("provider-badge").waitFor(),
    );
    await failsThenLoads(page, "AnswerStats", "This answer's token count and cost", () =>
      page.getByTestId("answer-stats").waitFor(),
    );

    await page.getByRole("button", { name: "Regenerate" }).press("Enter");
    await failsThenLoads(page, "AnswerVersions", "The earlier answers", () =>
      page.getByTestId("answer-versions").waitFor({ timeout: 30_000 }),
    );

    await page.getByRole("button", { name: "Edit", exact: true }).press("Enter");
    await failsThenLoads(page, "EditQuestion", "The question's editor", () =>
      page.getByRole("textbox", { name: "Edit your question" }).waitFor(),
    );
    await page.getByRole("textbox", { name: "Edit your question" }).fill("hello again");
    await page.getByRole("button", { name: "Send edited" }).press("Enter");
    await failsThenLoads(page, "EarlierBranches", "The earlier branches", () =>
      page.getByTestId("branches").waitFor({ timeout: 30_000 }),
    );
    await page.context().close();
    await provider.context().close();
  }, 240_000);

  it("the widget at 360 px, dark: parts that fail together are told apart, shown whole, and one Try again fetches them all", async () => {
    const page = await (
      await f.browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
    ).newPage();
    // All that fails when the server is gone before the chat's parts arrive.
    const parts = ["ChatOptions", "FirstRun", "TurnList", "BackgroundNotice", "ProviderBadge"];
    await fail(page, parts);
    await page.goto(`${f.url}/widget/`);
    const failures = page.getByRole("alert").filter({ hasText: "could not load" });
    await expect.poll(() => failures.count(), { timeout: 30_000 }).toBe(5);

    // A screen reader hears which part each Try again is for (they were five alike "Try again").
    const described = await page.getByRole("button", { name: "Try again" }).evaluateAll((buttons) =>
      buttons.map((b) => {
        const id = b.getAttribute("aria-describedby");
        return id ? ((b.getRootNode() as ShadowRoot).getElementById(id)?.textContent ?? "") : "";
      }),
    );
    expect(described).toEqual([
      "The chat settings could not load. Check the connection, then",
      "The introduction could not load. Check the connection, then",
      "The conversation could not load. Check the connection, then",
      "The notice of a problem in the background could not load. Check the connection, then",
      "Who answered could not load. Check the connection, then",
    ]);
    // The conversation's box shows its two sentences whole: it kept its fixed least height (8rem)
    // and clipped them, the second Try again half hidden.
    const log = page.getByRole("log", { name: "Conversation" });
    expect(await log.evaluate((l) => l.scrollHeight - l.clientHeight)).toBeLessThanOrEqual(1);

    await heal(page, parts);
    await page.getByRole("button", { name: "Try again" }).first().press("Enter");
    await page.getByTestId("chat-options").waitFor();
    await page.getByTestId("first-run").waitFor();
    await expect.poll(() => failures.count()).toBe(0);
    await page.context().close();
  }, 120_000);
});
