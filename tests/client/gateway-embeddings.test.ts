import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flatPrice, maxEmbedTokens } from "../../protocol";
import { embedTokens, embedVector, type OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, heldTotal as held, startGatewayNetwork } from "../support/gateway-network";

/**
 * /v1/embeddings end to end: the official `openai` client against the gateway, through real
 * signaling and WebRTC, to a headless provider in front of an OpenAI-compatible double, billed per
 * input token and signed for by the requester.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
let openai: OpenAI;
let heldTotal: () => Promise<bigint>;

beforeAll(async () => {
  const price = { ...flatPrice(5n), completionMultiplierBps: 30_000 };
  net = await startGatewayNetwork({
    providers: [
      { model: "embed-small", payout: "44", price, features: ["embeddings"] },
      { model: "chat-only", payout: "55", price },
    ],
    client: { maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 15n } },
  });
  backend = net.backend;
  heldTotal = () => held(net.receipts[0]!);
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

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
    const res = await fetch(`${net.gateway.url}/embeddings`, {
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
    const refused = await openai.embeddings
      .create({ model: "chat-only", input: "x" })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, code: "unsupported_value", param: "model" });
    // Silk's own words say what was refused and what the request needs; the server's text (its
    // word, unchecked) is apart, in silk_detail.
    const { error } = refused as { error: { message: string; silk_detail?: string } };
    expect(error.message).toMatch(
      /^model: the signaling server at \S+ refused the request with UNSUPPORTED \(this request needs embeddings\)$/,
    );
    expect(error.silk_detail).toMatch(/its word, unchecked: ".*embeddings.*"/);
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
    // Named as sent: a string is `input` (it was `input.0`, a list the caller never wrote), a list's item by its index.
    await expect(openai.embeddings.create({ model: "embed-small", input: "" })).rejects.toMatchObject({
      status: 400,
      param: "input",
      // Was "Invalid length: Expected >=1 but received 0", then "input: cannot be empty"; OpenAI's words and code.
      code: "empty_string",
      error: {
        message:
          "Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      },
    });
    await expect(openai.embeddings.create({ model: "embed-small", input: ["a", ""] })).rejects.toMatchObject({
      status: 400,
      param: "input.1",
    });
    // A model of the wrong type says what it takes (it said "a model id is required", as if none were sent).
    await expect(
      openai.embeddings.create({ model: 5 as unknown as string, input: "x" }),
    ).rejects.toMatchObject({
      status: 400,
      param: "model",
      error: { message: "Invalid type for 'model': expected a string, but got an integer instead." },
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
