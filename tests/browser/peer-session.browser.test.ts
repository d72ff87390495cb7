import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cleanup, startServer } from "../signaling/helpers";
import { buildHarness } from "./build-harness";
import { launchChromium } from "./chromium";

type Answer = {
  text: string;
  finish: string | null;
  usage: { completion_tokens: number; silk: { cost_nanoton: string; failovers: number } };
};
type ProviderApi = { paths(): string[]; generated(): number; active(): number; stop(): void };

let url: string;
let browser: Browser;

beforeAll(async () => {
  const staticDir = await buildHarness(["provider", "requester"]);
  ({ url } = await startServer({ staticDir }));
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await cleanup();
});
// A test that fails leaves no provider tab behind to answer the next test's questions.
const opened: Page[] = [];
afterEach(async () => {
  await Promise.all(
    opened.splice(0).map((p) =>
      p
        .context()
        .close()
        .catch(() => undefined),
    ),
  );
});

/** Each party in its own browser context: separate storage, separate WebRTC stacks. */
async function open(page: string): Promise<Page> {
  const context = await browser.newContext();
  const p = await context.newPage();
  opened.push(p);
  p.on("pageerror", (err) => console.error(`${page} page error:`, err.message));
  await p.goto(`${url}/${page}`);
  await p.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 20_000 });
  return p;
}

const ask = (page: Page, content: string, opts: { cancelAfter?: number } = {}) =>
  page.evaluate(
    ([c, o]) => (window as never as { silkAsk(c: string, o: unknown): Promise<unknown> }).silkAsk(c, o),
    [content, opts] as const,
  ) as Promise<Answer>;

const providerApi = <T>(page: Page, fn: (api: ProviderApi) => T) =>
  page.evaluate(`(${fn.toString()})(window.silkProvider)`) as Promise<T>;

describe("two Chromium pages over real WebRTC, through the real signaling server", () => {
  it("carries a question to the provider tab and the answer back, with usage and cost", async () => {
    const provider = await open("provider.html");
    const requester = await open("requester.html");
    const answer = await ask(requester, "hello from one tab to another");
    expect(answer.text).toBe("Echo: hello from one tab to another");
    expect(answer.finish).toBe("stop");
    expect(answer.usage.completion_tokens).toBe(7);
    expect(BigInt(answer.usage.silk.cost_nanoton)).toBeGreaterThan(70n);
    expect(await providerApi(provider, (api) => api.paths())).toEqual(["direct"]);
    await provider.context().close();
    await requester.context().close();
  });

  it("cancel stops the provider's engine", async () => {
    const provider = await open("provider.html?delay=15");
    const requester = await open("requester.html");
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const answer = await ask(requester, long, { cancelAfter: 5 });
    expect(answer.finish).toBe("abort");
    expect(answer.usage.completion_tokens).toBeLessThan(12);
    const generated = await providerApi(provider, (api) => api.generated());
    await new Promise((r) => setTimeout(r, 200));
    expect(await providerApi(provider, (api) => api.generated())).toBe(generated);
    expect(await providerApi(provider, (api) => api.active())).toBe(0);
    await provider.context().close();
    await requester.context().close();
  });

  it("fails over to another provider tab when the first is closed mid-answer, and the answer continues", async () => {
    // Slow enough that the answer is still running while the second tab opens, on a loaded machine.
    const first = await open("provider.html?delay=250");
    const requester = await open("requester.html");
    const long = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const answering = ask(requester, long);
    await first.waitForFunction(
      () => (window as never as { silkProvider: ProviderApi }).silkProvider.generated() >= 5,
    );
    const second = await open("provider.html?reply=continued.");
    await first.context().close(); // the tab is gone, mid-answer
    const answer = await answering;
    expect(answer.text.startsWith("Echo: w0 w1 w2 w3")).toBe(true);
    expect(answer.text.endsWith("continued.")).toBe(true);
    expect(answer.usage.silk.failovers).toBe(1);
    await second.context().close();
    await requester.context().close();
  });

  it("cuts off a requester tab that stops paying after the provider's credit window", async () => {
    const provider = await open("provider.html?window=6");
    const requester = await open("requester.html");
    const long = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
    const got = (await requester.evaluate(
      (c) => (window as never as { silkFreeload(c: string): Promise<unknown> }).silkFreeload(c),
      long,
    )) as { tokens: number; done: boolean; creditWait: boolean };
    expect(got).toEqual({ tokens: 6, done: false, creditWait: true });
    await provider.context().close();
    await requester.context().close();
  });

  it("refuses a provider tab that over-reports tokens", async () => {
    const provider = await open("provider.html?overreport=25");
    const requester = await open("requester.html");
    const outcome = await requester.evaluate(() =>
      (window as never as { silkAskForError(c: string): Promise<unknown> }).silkAskForError("count these"),
    );
    expect(outcome).toMatchObject({ code: "OVER_REPORT" });
    await provider.context().close();
    await requester.context().close();
  });
});
