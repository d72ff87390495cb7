import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { fundClientEscrow, openPage, serveFromProviderPage } from "./chain-server";
import { question } from "./chat-steps";
import { usePagesFixture } from "./pages-fixture";

/**
 * The chat's parts fetched as it mounts (a turn's view, the model list: lazy chunks, so the widget's
 * first download stays small) can fail to arrive: a network blip, or a deploy that replaced the
 * hashed files under an open page. The chat says so and offers to fetch them again; the turns' view
 * said nothing, and its chat showed neither the question nor the answer.
 */
const f = usePagesFixture();

/** The turns' view: TurnList.svelte, with MessageView in its chunk. */
const MESSAGE_VIEW = /\/TurnList-[^/]*\.js$/;
const MODEL_SELECT = /\/ModelSelect-[^/]*\.js$/;

/** Fails every fetch of the chunks `urls` name until the returned function is called. */
async function failChunks(page: Page, urls: RegExp[]): Promise<() => Promise<void>> {
  for (const url of urls) await page.route(url, (route) => route.abort("connectionreset"));
  return async () => {
    for (const url of urls) await page.unroute(url);
  };
}

/** What has the focus, through the widget's shadow root: its tag and role. */
const focused = (page: Page) =>
  page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el
      ? `${el.tagName.toLowerCase()}${el.getAttribute("role") ? `[${el.getAttribute("role")}]` : ""}`
      : "";
  });

describe("a lazy part of the chat that fails to load", () => {
  it("the widget: the model list and the conversation say they could not load, and Try again (keyboard) fetches them", async () => {
    const provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, { register: true });
    const page = await (
      await f.browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
    ).newPage();
    // Only the model list comes back first: Try again fetches every part that failed, the turns' view too.
    const heal = await failChunks(page, [MODEL_SELECT]);
    await failChunks(page, [MESSAGE_VIEW]);
    await page.goto(`${f.url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });

    const models = page.getByRole("alert").filter({ hasText: "The model list could not load" });
    const turns = page.getByRole("alert").filter({ hasText: "The conversation could not load" });
    await models.waitFor({ timeout: 30_000 });
    await turns.waitFor();

    // The network is back: Try again, by keyboard, fetches the model list.
    await heal();
    await models.getByRole("button", { name: "Try again" }).press("Enter");
    await page.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    expect(await models.count()).toBe(0);
    // Try again left the page with its failure: the focus is on the list it fetched, not the page itself.
    await expect.poll(() => focused(page)).toBe("select");

    // Asked while the turns' view is still missing: the chat says why nothing shows.
    await fundClientEscrow(page);
    await page.getByRole("button", { name: "Chat", exact: true }).press("Enter");
    await question(page).fill("hello");
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Regenerate" }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("turn-assistant").count()).toBe(0);
    expect(await turns.isVisible()).toBe(true);

    await page.unroute(MESSAGE_VIEW);
    await turns.getByRole("button", { name: "Try again" }).press("Enter");
    await page.getByTestId("turn-assistant").waitFor();
    expect(await page.getByTestId("turn-assistant").textContent()).toContain("Echo: hello");
    expect(await turns.count()).toBe(0);
    await expect.poll(() => focused(page)).toBe("div[log]");
    await page.context().close();
    await provider.context().close();
  }, 180_000);

  it("the web client: the conversation says it could not load, and Try again fetches it", async () => {
    const page = await (await f.browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
    const heal = await failChunks(page, [MESSAGE_VIEW]);
    await page.goto(`${f.url}/`);
    const turns = page.getByRole("alert").filter({ hasText: "The conversation could not load" });
    await turns.waitFor({ timeout: 30_000 });
    await heal();
    const loaded = page.waitForResponse((r) => MESSAGE_VIEW.test(r.url()) && r.ok());
    await turns.getByRole("button", { name: "Try again" }).press("Enter");
    await loaded;
    await expect.poll(() => turns.count()).toBe(0);
    await expect.poll(() => focused(page)).toBe("div[log]");
    await page.context().close();
  }, 120_000);

  it("a slow Try again leaves the focus where the reader has since put it, and its sentence reads as one line of words beside the button", async () => {
    const page = await (
      await f.browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
    ).newPage();
    const heal = await failChunks(page, [MESSAGE_VIEW]);
    await page.goto(`${f.url}/`);
    const turns = page.getByRole("alert").filter({ hasText: "The conversation could not load" });
    await turns.waitFor({ timeout: 30_000 });

    // The sentence's lines are spaced as words are: the 44 px button is beside them, not inside a line
    // of them (it stretched the line it sat on, so the words around it stood apart).
    const layout = await turns.evaluate((p) => {
      const button = p.querySelector("button")!.getBoundingClientRect();
      const range = document.createRange();
      const words = [...p.childNodes].flatMap((n) => (n.nodeName === "BUTTON" ? [] : [n]));
      const lines = words.flatMap((n) => {
        range.selectNodeContents(n);
        return [...range.getClientRects()].filter((r) => r.width > 0);
      });
      const tops = [...new Set(lines.map((r) => Math.round(r.top)))].sort((a, b) => a - b);
      return {
        gaps: tops.slice(1).map((t, i) => t - tops[i]!),
        lineHeight: Number.parseFloat(getComputedStyle(p).lineHeight),
        overlaps: lines.some(
          (r) =>
            r.right > button.left && r.left < button.right && r.bottom > button.top && r.top < button.bottom,
        ),
      };
    });
    expect(layout.overlaps).toBe(false);
    for (const gap of layout.gaps) expect(gap).toBeLessThanOrEqual(Math.ceil(layout.lineHeight) + 1);

    // The chunk is back, slowly: Try again, then the reader goes on to the question box before it arrives.
    await heal();
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    await page.route(MESSAGE_VIEW, async (route) => {
      await held;
      await route.continue();
    });
    await turns.getByRole("button", { name: "Try again" }).press("Enter");
    // Still there while it tries, and says it is busy.
    expect(await turns.getByRole("button", { name: "Try again" }).getAttribute("aria-busy")).toBe("true");
    await question(page).focus();
    await page.keyboard.type("still typing");
    release();
    await expect.poll(() => turns.count()).toBe(0);
    await page.waitForTimeout(300);
    expect(await focused(page)).toBe("textarea");
    expect(await question(page).inputValue()).toBe("still typing");
    await page.context().close();
  }, 120_000);
});
