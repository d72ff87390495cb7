import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../../client/gateway/gateway-server";
import { latestReceipt } from "../../provider/receipt-store";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";

let net: GatewayNetwork;
let backend: OpenAiBackend;
let gateway: Gateway;
let openai: OpenAI;
let receiptsOf: () => Promise<{ amount: bigint }[]>;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-local", payout: "22" }],
    gateway: { apiKey: "local-secret" },
  });
  ({ backend, gateway } = net);
  receiptsOf = async () =>
    (await net.receipts[0]!.list()).map((r) => ({ amount: latestReceipt(r).receipt.amount }));
  openai = new OpenAI({ baseURL: gateway.url, apiKey: "local-secret" });
});

afterAll(() => net?.close());

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
    // The backend configuration, as OpenAI names it: the provider that answered.
    const provider = (done.usage as unknown as { silk: { provider: string } }).silk.provider;
    expect(done.system_fingerprint).toBe(`fp_${provider.slice(0, 16)}`);
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
    const usages: (OpenAI.CompletionUsage | undefined | null)[] = [];
    const fingerprints: (string | undefined)[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usages.push(chunk.usage);
      fingerprints.push(chunk.system_fingerprint);
    }
    // As OpenAI's: on every chunk (the role chunk first), the provider that answered.
    const provider = (usages.at(-1) as unknown as { silk: { provider: string } }).silk.provider;
    expect(fingerprints.length).toBeGreaterThan(3);
    expect(new Set(fingerprints)).toEqual(new Set([`fp_${provider.slice(0, 16)}`]));
    expect(text).toBe("Echo: stream me please");
    // As OpenAI's own stream: usage null on every chunk, then a last chunk that has it.
    expect(usages.slice(0, -1).every((u) => u === null)).toBe(true);
    expect(usages.at(-1)?.completion_tokens).toBe(4);
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
    // As OpenAI answers a wrong key: 401, invalid_request_error, invalid_api_key.
    await expect(wrongKey.models.list()).rejects.toMatchObject({
      status: 401,
      type: "invalid_request_error",
      code: "invalid_api_key",
    });
    // The auth scheme is case-insensitive: a client spelling it `bearer` is let in.
    const lower = await fetch(`${gateway.url}/models`, { headers: { authorization: "bearer local-secret" } });
    expect(lower.status).toBe(200);
  });
});
