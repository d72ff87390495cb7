import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHarness } from "./build-harness";
import { launchChromium } from "./chromium";
import { serveStatic } from "./static-server";

type Outcome = { ok: true } | { ok: false; reason: string; message: string };
type Device = { ok: true; adapter: string; shaderF16: boolean } | { ok: false; message: string };

let site: { url: string; close: () => Promise<void> };
const browsers: Browser[] = [];

beforeAll(async () => {
  const built = await buildHarness(["webllm"]);
  // A model location serving only a tokenizer.json, laid out as WebLLM reads one (resolve/main/).
  mkdirSync(join(built, "models/toy/resolve/main"), { recursive: true });
  copyFileSync(
    new URL("../doubles/toy-tokenizer.json", import.meta.url),
    join(built, "models/toy/resolve/main/tokenizer.json"),
  );
  site = await serveStatic(built);
}, 120_000);
afterAll(async () => {
  for (const b of browsers) await b.close();
  await site?.close();
});

async function openHarness(webgpu: boolean) {
  const browser = await launchChromium({ webgpu });
  browsers.push(browser);
  const page = await browser.newPage();
  await page.goto(`${site.url}/webllm.html`);
  await page.waitForSelector("body[data-ready=true]", { state: "attached" });
  return page;
}

describe("the real WebLLM engine in headless Chromium", () => {
  it("says clearly that there is no WebGPU when the browser offers none", async () => {
    const page = await openHarness(false);
    const device = (await page.evaluate(() =>
      (window as never as { silkHarness: { device(): Promise<unknown> } }).silkHarness.device(),
    )) as Device;
    expect(device.ok).toBe(false);
    expect(!device.ok && device.message).toMatch(/WebGPU/);
  });

  it("given a model URL that serves nothing, fails with a clear load error, not a hang", async () => {
    const page = await openHarness(true);
    const device = (await page.evaluate(() =>
      (window as never as { silkHarness: { device(): Promise<unknown> } }).silkHarness.device(),
    )) as Device;
    expect(device.ok).toBe(true);
    const outcome = (await page.evaluate(
      (base) =>
        (window as never as { silkHarness: { tryLoad(m: unknown): Promise<unknown> } }).silkHarness.tryLoad({
          modelId: "Nothing-Here-q4f32_1-MLC",
          modelUrl: `${base}/models/nothing/`,
          modelLibUrl: `${base}/models/nothing.wasm`,
        }),
      site.url,
    )) as Outcome;
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.reason).toBe("load");
    expect(!outcome.ok && outcome.message).toMatch(/could not load Nothing-Here-q4f32_1-MLC/);
  }, 60_000);

  it("teacher forcing's parts run in the browser: the model's tokenizer, loaded lazily, and the worker's forcing messages", async () => {
    const page = await openHarness(false);
    type Ids = { ok: boolean; ids?: number[]; reason?: string; fetchedOnUse: number };
    const harness = (fn: string, ...args: unknown[]) =>
      page.evaluate(
        ([name, rest]) =>
          (window as never as { silkHarness: Record<string, (...a: unknown[]) => Promise<unknown>> })
            .silkHarness[name as string]!(...(rest as unknown[])),
        [fn, args] as const,
      );
    const mapped = (await harness("tokenIds", `${site.url}/models/toy`, [
      " the",
      " river",
      " flows",
      ".",
    ])) as Ids;
    expect(mapped).toMatchObject({ ok: true, ids: [0, 2, 6, 31] });
    // The tokenizer's code (megabytes) and the tokenizer.json came on first use, not with the page.
    expect(mapped.fetchedOnUse).toBeGreaterThanOrEqual(2);
    const split = (await harness("tokenIds", `${site.url}/models/toy`, [" ri", "ver"])) as Ids;
    expect(split).toMatchObject({ ok: false, reason: expect.stringMatching(/token 0/) });
    // Registered, armed and taken through the real WebLLM worker; nothing generated, nothing scored.
    expect(await harness("forcingRoundTrip")).toEqual({ ok: true, logprobs: [] });
  }, 60_000);

  it("refuses an f16 model on an adapter without shader-f16, saying so", async () => {
    const page = await openHarness(true);
    const device = (await page.evaluate(() =>
      (window as never as { silkHarness: { device(): Promise<unknown> } }).silkHarness.device(),
    )) as Device;
    expect(device.ok && device.shaderF16).toBe(false); // SwiftShader has no shader-f16
    const outcome = (await page.evaluate(
      (base) =>
        (window as never as { silkHarness: { tryLoad(m: unknown): Promise<unknown> } }).silkHarness.tryLoad({
          modelId: "Half-Precision-q4f16_1-MLC",
          modelUrl: `${base}/models/half/`,
          modelLibUrl: `${base}/models/half.wasm`,
        }),
      site.url,
    )) as Outcome;
    expect(outcome).toMatchObject({ ok: false, reason: "unsupported" });
    expect(!outcome.ok && outcome.message).toMatch(/shader-f16/);
  }, 60_000);
});
