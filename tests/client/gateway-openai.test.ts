import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { startHeadlessProvider } from "../../provider/headless/headless-provider";
import { latestReceipt } from "../../provider/receipt-store";
import type { ProviderRuntime } from "../../provider/runtime";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, startServer } from "../signaling/helpers";

let backend: OpenAiBackend;
let runtime: ProviderRuntime;
let client: SilkClient;
let gateway: Gateway;
let openai: OpenAI;
let receiptsFile: string;
let receiptsOf: () => Promise<{ amount: bigint }[]>;

beforeAll(async () => {
  backend = await startOpenAiBackend();
  const { url } = await startServer();
  const dir = mkdtempSync(join(tmpdir(), "silk-headless-"));
  receiptsFile = join(dir, "receipts.json");
  const provider = await startHeadlessProvider({
    signalingUrl: url,
    backend: backend.url,
    backendModel: "backend-model",
    model: "llama-local",
    price: flatPrice(5n),
    features: [],
    payout: `0:${"22".repeat(32)}`,
    network: "devnet",
    capacity: 2,
    minCloseDelay: 60,
    feeShareBps: 100,
    maxHoldHours: 168,
    keyFile: join(dir, "provider.key"),
    receiptsFile,
  });
  runtime = provider.runtime;
  receiptsOf = async () =>
    (await provider.receipts.list()).map((r) => ({ amount: latestReceipt(r).receipt.amount }));
  client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 5n },
    escrow: `0:${"11".repeat(32)}`,
    wrtc,
  });
  gateway = await startGateway({ client, apiKey: "local-secret" });
  openai = new OpenAI({ baseURL: gateway.url, apiKey: "local-secret" });
});

afterAll(async () => {
  await gateway?.close();
  client?.close();
  runtime?.stop();
  await backend?.close();
  await cleanup();
});

describe("headless provider → network → gateway, called with the official openai client", () => {
  it("lists the network's models", async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["llama-local"]);
  });

  it("answers without streaming, with usage and cost", async () => {
    const done = await openai.chat.completions.create({
      model: "llama-local",
      messages: [{ role: "user", content: "how are you" }],
    });
    expect(done.choices[0]?.message.content).toBe("Echo: how are you");
    expect(done.choices[0]?.finish_reason).toBe("stop");
    expect(done.usage?.completion_tokens).toBe(4);
    // The backend saw the request under its own model name, with usage requested.
    expect(backend.requests.at(-1)).toMatchObject({
      model: "backend-model",
      stream: true,
      stream_options: { include_usage: true },
    });
    await new Promise((r) => setTimeout(r, 50));
    const cost = BigInt((done.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton);
    expect(cost).toBe(BigInt(done.usage!.total_tokens) * 5n);
    expect((await receiptsOf())[0]?.amount).toBe(cost);
  });

  it("streams over SSE, with usage in the last chunk", async () => {
    const stream = await openai.chat.completions.create({
      model: "llama-local",
      messages: [{ role: "user", content: "stream me please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("Echo: stream me please");
    expect(usage?.completion_tokens).toBe(4);
  });

  it("returns OpenAI-style errors", async () => {
    await expect(
      openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
    });
    await expect(
      openai.chat.completions.create({
        model: "llama-local",
        messages: [{ role: "wizard", content: "x" }],
      } as never),
    ).rejects.toMatchObject({ status: 400, code: "invalid_value" });
    const wrongKey = new OpenAI({ baseURL: gateway.url, apiKey: "nope", maxRetries: 0 });
    await expect(wrongKey.models.list()).rejects.toMatchObject({ status: 401 });
  });
});
