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
  site = await serveStatic(await buildHarness(["webllm"]));
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
