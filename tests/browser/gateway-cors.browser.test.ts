import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "./chromium";

/**
 * A browser app calling the gateway with `fetch`, in headless Chromium: a page served from
 * http://localhost:<port> (another origin than the gateway's 127.0.0.1:<port>) sends the API key
 * and JSON, so Chromium preflights first. Real signaling, WebRTC and a headless provider in front
 * of the OpenAI backend double (a test double for the model).
 */
let net: GatewayNetwork;
let browser: Browser;
let site: Server;
let port: number;
const KEY = "sk-browser-app";

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-plain", payout: "d1", contextWindow: 8192 }],
    backend: { contextTokens: 8192 },
    gateway: { apiKey: KEY },
  });
  site = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>app</title>");
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  port = (site.address() as AddressInfo).port;
  // `app.example` is a page of another origin that resolves to this machine (DNS rebinding's shape).
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS, "--host-resolver-rules=MAP app.example 127.0.0.1"],
  });
});

afterAll(async () => {
  await browser?.close();
  site?.close();
  await net?.close();
});

/** In a page at `origin`: streams a chat, lists models and reads a refusal, as an app would. */
async function callFrom(origin: string) {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ base, key }) => {
        const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
        try {
          const res = await fetch(`${base}/chat/completions`, {
            method: "POST",
            headers,
            body: JSON.stringify({
              model: "llama-plain",
              messages: [{ role: "user", content: "from a page" }],
              stream: true,
              stream_options: { include_usage: true },
            }),
          });
          const reader = res.body!.getReader();
          let raw = "";
          const decoder = new TextDecoder();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            raw += decoder.decode(value, { stream: true });
          }
          const models = await (await fetch(`${base}/models`, { headers })).json();
          const refused = await fetch(`${base}/chat/completions`, {
            method: "POST",
            headers,
            body: JSON.stringify({ model: "llama-plain", messages: [{ role: "user", content: "x" }], n: 3 }),
          });
          return {
            status: res.status,
            requestId: res.headers.get("x-request-id"),
            raw,
            models: (models.data as { id: string }[]).map((m) => m.id),
            refused: { status: refused.status, body: await refused.json() },
          };
        } catch (e) {
          return { failed: String(e) };
        }
      },
      { base: net.gateway.url, key: KEY },
    );
  } finally {
    await page.close();
  }
}

describe("a browser app calling the gateway", () => {
  it("on this machine: the preflight passes, the stream, the models and a refusal are readable", async () => {
    const got = await callFrom(`http://localhost:${port}`);
    expect(got).toMatchObject({ status: 200, models: ["llama-plain"] });
    if (got.raw === undefined) throw new Error(`the page's fetch failed: ${got.failed}`);
    expect(got.requestId).toMatch(/^req_/);
    const chunks = got.raw
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => JSON.parse(e.slice(6)));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Echo: from a page");
    expect(chunks.at(-1).usage.completion_tokens).toBe(4);
    expect(got.raw.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(got.refused).toEqual({
      status: 400,
      body: { error: expect.objectContaining({ param: "n", type: "invalid_request_error" }) },
    });
  });

  it("of another origin (resolving to this machine): refused before anything reaches a provider", async () => {
    const before = net.backend.requests.length;
    const got = await callFrom(`http://app.example:${port}`);
    expect(got).toMatchObject({ failed: expect.stringMatching(/TypeError/) });
    expect(net.backend.requests.length).toBe(before);
  });
});
