import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { type Feature, flatPrice, generateKeyPair, maxEmbedTokens } from "../../protocol";
import { startHeadlessProvider } from "../../provider/headless/headless-provider";
import { latestReceipt } from "../../provider/receipt-store";
import type { ProviderRuntime } from "../../provider/runtime";
import { embedTokens, embedVector, type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * /v1/embeddings end to end: the official `openai` client against the gateway, through real
 * signaling and WebRTC, to a headless provider in front of an OpenAI-compatible double, billed per
 * input token and signed for by the requester.
 */
let backend: OpenAiBackend;
const runtimes: ProviderRuntime[] = [];
let client: SilkClient;
let gateway: Gateway;
let openai: OpenAI;
let heldTotal: () => Promise<bigint>;

beforeAll(async () => {
  backend = await startOpenAiBackend();
  const { url } = await startServer();
  const dir = mkdtempSync(join(tmpdir(), "silk-embed-"));
  const start = (model: string, payout: string, features: Feature[]) =>
    startHeadlessProvider({
      signalingUrl: url,
      backend: backend.url,
      backendModel: "backend-model",
      model,
      price: { ...flatPrice(5n), completionMultiplierBps: 30_000 },
      features,
      minCloseDelay: 60,
      feeShareBps: 100,
      maxHoldHours: 168,
      payout: `0:${payout.repeat(32)}`,
      network: "devnet",
      capacity: 2,
      keyFile: join(dir, `${model}.key`),
      receiptsFile: join(dir, `${model}-receipts.log`),
    });
  const embedder = await start("embed-small", "44", ["embeddings"]);
  const chat = await start("chat-only", "55", []);
  runtimes.push(embedder.runtime, chat.runtime);
  heldTotal = async () =>
    (await embedder.receipts.list()).reduce((sum, r) => sum + latestReceipt(r).receipt.amount, 0n);
  client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 15n },
    escrow: `0:${"11".repeat(32)}`,
    wrtc,
  });
  gateway = await startGateway({ client });
  openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  client?.close();
  for (const r of runtimes) r.stop();
  await backend?.close();
  await cleanup();
});

const float32 = (xs: number[]) => xs.map((x) => Math.fround(x));

describe("POST /v1/embeddings", () => {
  it("embeds a string with the openai client's default (base64, decoded by the client), billed per input token", async () => {
    const before = await heldTotal();
    const res = await openai.embeddings.create({ model: "embed-small", input: "The quick brown fox" });
    expect(res.object).toBe("list");
    expect(res.data).toHaveLength(1);
    expect(res.data[0]).toMatchObject({ object: "embedding", index: 0 });
    expect(res.data[0]!.embedding).toEqual(float32(embedVector("The quick brown fox")));
    // The backend was asked for floats; base64 is the wire's form and the gateway's answer.
    expect(backend.requests.at(-1)).toMatchObject({
      model: "backend-model",
      input: ["The quick brown fox"],
      encoding_format: "float",
    });
    const tokens = embedTokens("The quick brown fox");
    expect(res.usage).toMatchObject({ prompt_tokens: tokens, total_tokens: tokens });
    // Input tokens at the prompt price (5 nanoTON), not the completion price (15).
    const cost = BigInt((res.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton);
    expect(cost).toBe(BigInt(tokens) * 5n);
    // The requester signed for exactly that, and the provider holds the receipt.
    await until(async () => (await heldTotal()) - before === cost);
  });

  it("embeds a list of strings as floats, in order, and carries dimensions to the backend", async () => {
    const input = ["alpha", "beta gamma", "δέλτα"];
    const res = await openai.embeddings.create({
      model: "embed-small",
      input,
      encoding_format: "float",
      dimensions: 4,
    });
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(res.data.map((d) => d.embedding)).toEqual(input.map((t) => float32(embedVector(t, 4))));
    expect(backend.requests.at(-1)).toMatchObject({ input, dimensions: 4 });
    expect(res.usage.prompt_tokens).toBe(input.reduce((n, t) => n + embedTokens(t), 0));
  });

  it("answers encoding_format base64 with little-endian float32, as OpenAI does", async () => {
    const res = await fetch(`${gateway.url}/embeddings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "embed-small", input: "hi", encoding_format: "base64" }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { embedding: string }[] };
    const buf = Buffer.from(body.data[0]!.embedding, "base64");
    expect(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4))).toEqual(
      float32(embedVector("hi")),
    );
  });

  it("bounds what it signs for by the inputs' bytes", () => {
    expect(maxEmbedTokens(["ab", "δ"])).toBe(2 + 8 + 2 + 8);
  });
});

describe("refusals", () => {
  it("refuses a chat-only model with 400 naming model, and an unknown one with 404", async () => {
    await expect(openai.embeddings.create({ model: "chat-only", input: "x" })).rejects.toMatchObject({
      status: 400,
      code: "unsupported_value",
      param: "model",
    });
    await expect(openai.embeddings.create({ model: "nobody-serves", input: "x" })).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
    });
  });

  it("refuses token-id input and fields it does not carry by name, and an empty string", async () => {
    await expect(openai.embeddings.create({ model: "embed-small", input: [1, 2, 3] })).rejects.toMatchObject({
      status: 400,
      param: "input",
    });
    await expect(
      openai.embeddings.create({ model: "embed-small", input: "x", extra: 1 } as never),
    ).rejects.toMatchObject({ status: 400, code: "unsupported_parameter", param: "extra" });
    await expect(openai.embeddings.create({ model: "embed-small", input: "" })).rejects.toMatchObject({
      status: 400,
      param: "input.0",
    });
  });
});

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
