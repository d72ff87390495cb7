import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditOver } from "../../client/sdk/auditor";
import { networkPageConfig } from "../../contracts/page-config";
import { flatPrice, generateKeyPair } from "../../protocol";
import { LogprobEngine } from "../doubles/logprob-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { relayClient, relayProvider, stopAll } from "../support/silk-parties";
import { buildPages } from "./build-pages";
import { launchChromium } from "./chromium";
import { openReady, screenshot, seriousA11yViolations } from "./page-checks";
import { serveStatic } from "./static-server";

/** The production build (`vite.config.ts`, as `npm run build` makes it), served by the real server. */
let dir: string;
let url: string;
const browsers: Browser[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await buildPages();
  ({ url } = await startServer({ staticDir: dir }));
}, 180_000);
afterAll(async () => {
  for (const b of browsers) await b.close();
  for (const close of closers) await close();
  await cleanup();
});

async function browser(webgpu = false): Promise<Browser> {
  const b = await launchChromium({ webgpu });
  browsers.push(b);
  return b;
}

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("the production pages", () => {
  it("never ship the scripted test engine", () => {
    const scripts = filesUnder(dir).filter((f) => f.endsWith(".js") || f.endsWith(".html"));
    expect(scripts.length).toBeGreaterThan(3);
    for (const file of scripts) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toContain("scripted test engine");
      expect(text, file).not.toContain("TEST DOUBLE");
    }
  });

  it("provider page without WebGPU says why and what to do", async () => {
    const page = await (await browser()).newPage();
    await openReady(page, `${url}/provider`);
    const notice = page.getByTestId("no-webgpu");
    await expect(notice.textContent()).resolves.toMatch(
      /Why: (this browser has no WebGPU|WebGPU is present but offers no GPU adapter)/,
    );
    expect(await notice.textContent()).toMatch(/What you can do/);
    expect(await page.getByTestId("model-picker").count()).toBe(0);
    await screenshot(page, "provider-no-webgpu");
    expect(await seriousA11yViolations(page)).toEqual([]);
  });

  it("provider page with WebGPU shows the adapter's facts and which models fit, and why the others do not", async () => {
    const page = await (await browser(true)).newPage();
    await openReady(page, `${url}/provider`);
    await page.getByTestId("device-facts").waitFor();
    expect((await page.getByTestId("adapter").textContent())?.trim().length).toBeGreaterThan(0);
    const facts = await page.getByTestId("device-facts").textContent();
    expect(facts).toMatch(/shader-f16\)no: only f32 models fit/);
    const options = await page
      .getByRole("group", { name: /^Models that fit this device/ })
      .locator("label")
      .allTextContents();
    expect(options.length).toBeGreaterThan(0);
    expect(options.every((o) => !/q\d+f16/.test(o))).toBe(true); // SwiftShader has no shader-f16
    const unfit = await page.getByTestId("unfit-models").textContent({ timeout: 5_000 });
    expect(unfit).toMatch(/q4f16_1-MLC.*needs shader-f16/s);
    expect(await page.getByRole("button", { name: /download and load|^load$/i }).count()).toBe(1);
    // This server names no TON network: the setup steps read in the order a newcomer works, none
    // ticked ahead of one still to do (a ticked "Fund the wallet" before "Load a model" was).
    const steps = (await page.locator("ol.steps li").allTextContents()).map((s) =>
      s.replace(/\s+/g, " ").trim(),
    );
    expect(steps).toEqual(["1 Load a model: to do", "2 Serve: to do"]);
    // On a 360 px phone the long model ids widen nothing past the screen, and each fact's value
    // keeps room for words, not a few letters a line.
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // The facts are a detail, collapsed under the adapter's name: opened as a reader would.
    await page.getByTestId("device-facts").locator("summary").click();
    const valueWidths = await page
      .getByTestId("device-facts")
      .locator("dd")
      .evaluateAll((dds) => dds.map((d) => d.getBoundingClientRect().width));
    expect(Math.min(...valueWidths)).toBeGreaterThan(100);
    await screenshot(page, "provider-webgpu");
    expect(await seriousA11yViolations(page)).toEqual([]);

    // "Serve as an audit reference" (teacher forcing for auditors): labelled, explained, off by
    // default, reached and turned on from the keyboard, and still on after a reload.
    const reference = () =>
      page.getByRole("checkbox", {
        name: "Serve as an audit reference: check other providers' answers exactly; makes this device's answers slower",
      });
    expect(await reference().isChecked()).toBe(false);
    expect(await reference().evaluate((e) => e.getAttribute("aria-describedby"))).toBe(
      "reference-help reference-why",
    );
    expect(await page.getByTestId("audit-reference").textContent()).toMatch(/teacher\s+forcing/);
    let focused = false;
    for (let i = 0; i < 40 && !focused; i++) {
      await page.keyboard.press("Tab");
      focused = await reference().evaluate((e) => e === document.activeElement);
    }
    expect(focused).toBe(true);
    await page.keyboard.press("Space");
    expect(await reference().isChecked()).toBe(true);
    const saved = () =>
      page.evaluate(
        () =>
          new Promise((resolve) => {
            const open = indexedDB.open("silk");
            open.onsuccess = () => {
              const get = open.result.transaction("kv").objectStore("kv").get("provider.settings");
              get.onsuccess = () => resolve((get.result as { auditReference?: boolean })?.auditReference);
            };
          }),
      );
    await expect.poll(saved).toBe(true);
    await openReady(page, `${url}/provider`);
    await page.getByTestId("audit-reference").waitFor();
    await expect.poll(() => reference().isChecked()).toBe(true);
  }, 60_000);

  it("web client fits a 360 px phone, lists no models before any provider, and passes axe", async () => {
    const context = await (await browser()).newContext({ viewport: { width: 360, height: 740 } });
    const page = await context.newPage();
    await openReady(page, `${url}/`);
    await expect(page.getByText("No provider is online yet").textContent()).resolves.toBeTruthy();
    // It says where a provider comes from: the provider page of this server.
    const serve = page.getByRole("link", { name: "Serve from this browser" });
    expect(new URL((await serve.getAttribute("href"))!, url).pathname).toBe("/provider");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow).toBeLessThanOrEqual(360);
    // Keyboard only: a panel that covers the chat takes the focus and keeps Tab inside it (what it
    // hides is inert), and Escape gives the focus back to the button that opened it.
    const focused = () =>
      page.evaluate(() => (document.activeElement as HTMLElement | null)?.textContent?.trim() ?? "");
    const tabsReach = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        await page.keyboard.press("Tab");
        seen.push(
          await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ""),
        );
      }
      return seen;
    };
    await page.getByRole("button", { name: "Chats" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(focused).toBe("Close chats");
    expect(await tabsReach(6)).not.toContain("composer-input");
    await page.keyboard.press("Escape");
    await expect.poll(focused).toBe("Chats");
    await page.getByRole("button", { name: /wallet/i }).focus();
    await page.keyboard.press("Enter");
    // This server names no chain: the wallet panel says so instead of offering deposits.
    await page.getByText(/names no TON network, so no escrow can pay/).waitFor();
    await expect.poll(focused).toBe("Close wallet");
    expect(await tabsReach(6)).not.toContain("composer-input");
    await screenshot(page, "client-phone");
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.keyboard.press("Escape");
    await expect.poll(focused).toMatch(/^Wallet/);
  });

  it("on testnet before a wallet connects: Deposit says why it is off; Escape closes TON Connect's picker, then the panel", async () => {
    // Testnet as the pages see it (the node unreachable: nothing here is sent).
    const pageConfig = await networkPageConfig("testnet", "http://127.0.0.1:1/jsonRPC", 86_400);
    const testnet = await startServer({ staticDir: dir, pageConfig });
    const context = await (await browser()).newContext({ viewport: { width: 360, height: 740 } });
    const page = await context.newPage();
    await openReady(page, `${testnet.url}/`);
    // Before anything, the chat says what comes first, and the way there is one button away.
    expect((await page.getByTestId("first-run").textContent())?.replace(/\s+/g, " ")).toMatch(
      /from your escrow: connect a TON wallet under Wallet first, then deposit into it\.$/,
    );
    await page.getByRole("button", { name: "Open Wallet to connect" }).click();
    const connect = page.getByRole("button", { name: "Connect a TON wallet (testnet)" });
    await expect.poll(() => connect.isEnabled(), { timeout: 30_000 }).toBe(true);
    expect(await page.getByRole("button", { name: "Deposit", exact: true }).isDisabled()).toBe(true);
    expect((await page.getByTestId("deposit-why").textContent())?.replace(/\s+/g, " ").trim()).toBe(
      "Deposit is off: connect a TON wallet first; it pays into an escrow of its own.",
    );
    await connect.click();
    const picker = page.locator("[data-tc-wallets-modal-container]");
    await picker.waitFor({ timeout: 30_000 });
    await page.keyboard.press("Escape");
    await picker.waitFor({ state: "detached" });
    expect(await page.getByRole("heading", { name: "Wallet and costs" }).isVisible()).toBe(true);
    await page.keyboard.press("Escape");
    await page.getByRole("heading", { name: "Wallet and costs" }).waitFor({ state: "detached" });
    await context.close();
  }, 60_000);

  it("serves the widget demo: one script tag mounts <silk-chat> outside Telegram as a normal chat", async () => {
    const page = await (await browser()).newPage();
    await page.goto(`${url}/widget/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    expect(await page.locator("silk-chat").evaluate((el) => el.dataset.telegram)).toBeUndefined();
    await expect(page.getByRole("textbox", { name: "Your question" }).isVisible()).resolves.toBe(true);
    await screenshot(page, "widget-demo");
    expect(await seriousA11yViolations(page)).toEqual([]);
  });

  it("the widget embedded from another origin loads its lazy chunks from the Silk server and connects", async () => {
    const host = mkdtempSync(join(tmpdir(), "silk-embedder-"));
    writeFileSync(
      join(host, "index.html"),
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Someone else's page</title></head>
      <body><main><h1>Someone else's page</h1><silk-chat signaling="${url}"></silk-chat></main>
      <script type="module" src="${url}/widget/silk-chat.js"></script></body></html>`,
    );
    const embedder = await serveStatic(host);
    closers.push(embedder.close);
    expect(new URL(embedder.url).origin).not.toBe(new URL(url).origin);
    const page = await (await browser()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const scripts: string[] = [];
    page.on("request", (r) => {
      if (r.resourceType() === "script") scripts.push(r.url());
    });
    await page.goto(`${embedder.url}/`);
    await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
    await page.getByText("No provider is online yet").waitFor();
    expect(errors).toEqual([]);
    expect(scripts.length).toBeGreaterThan(2);
    expect(scripts.every((s) => s.startsWith(`${url}/widget/`))).toBe(true);
    expect(scripts.some((s) => /\/widget\/chat-core-[\w-]+\.js$/.test(s))).toBe(true);
    expect(await seriousA11yViolations(page)).toEqual([]);
  });

  it("the web client's and the widget's model pickers show each model's audit counts", async () => {
    // A provider serving another model is audited through the real network (the SDK's Auditor,
    // an honest provider of the model as reference) and fails; the server counts the report.
    const model = "audited-model";
    const served = (price: bigint) => [
      { model, price: flatPrice(price), features: ["logprobs" as const, "scoring" as const] },
    ];
    const direct = { forceRelay: false, wrtc };
    try {
      await relayProvider(url, {
        engine: new LogprobEngine({ model: { seed: 1 }, models: [model] }),
        models: served(20n),
        payout: `0:${"44".repeat(32)}`,
        ...direct,
      });
      const cheater = await relayProvider(url, {
        engine: new LogprobEngine({ model: { seed: 2 }, models: [model] }),
        models: served(10n),
        payout: `0:${"55".repeat(32)}`,
        ...direct,
      });
      const client = await relayClient(url, { requireSignedAnswers: true, ...direct });
      const record = await auditOver(client, generateKeyPair()).audit(model);
      expect(record).toMatchObject({ provider: cheater.key, verdict: { result: "fail" } });
      const b = await browser();
      const page = await b.newPage();
      await openReady(page, `${url}/`);
      const option = page.locator("select option", { hasText: model });
      await option.waitFor({ state: "attached", timeout: 30_000 });
      expect(await option.textContent()).toMatch(
        /audited-model · .* · 2 providers · 0 audits passed, 1 failed$/,
      );
      const widget = await b.newPage();
      await widget.goto(`${url}/widget/`);
      const inWidget = widget.locator("silk-chat select option", { hasText: model });
      await inWidget.waitFor({ state: "attached", timeout: 30_000 });
      expect(await inWidget.textContent()).toMatch(/0 audits passed, 1 failed$/);
    } finally {
      stopAll();
    }
  }, 90_000);
});
