import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";

/**
 * POST /v1/responses, as the official `openai` client's `responses` sends it (and the Vercel AI
 * SDK's default `openai(model)` and LangChain's `useResponsesApi`): a text answer in the Responses
 * API's shapes and events, through real signaling and WebRTC to a headless provider; what it has
 * no chat counterpart for is refused by name. It used to be a 404 for every such program.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
let openai: OpenAI;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-tools", payout: "22", features: ["structured_output"] }],
  });
  backend = net.backend;
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

describe("the Responses API for text", () => {
  it("answers with instructions and message items, usage and Silk's cost", async () => {
    const r = await openai.responses.create({
      model: "llama-tools",
      instructions: "Answer briefly.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "first" }] },
        { role: "assistant", content: "ok" },
        { role: "user", content: "how are you" },
      ],
    });
    expect(r).toMatchObject({ object: "response", status: "completed", model: "llama-tools" });
    expect(r.id).toMatch(/^resp_/);
    expect(r.output_text).toBe("Echo: how are you");
    expect(r.output[0]).toMatchObject({ type: "message", role: "assistant" });
    expect(r.usage).toMatchObject({ output_tokens: 4, total_tokens: (r.usage?.input_tokens ?? 0) + 4 });
    expect(
      BigInt((r.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton),
    ).toBeGreaterThan(0n);
    expect((backend.requests.at(-1) as { messages: unknown[] }).messages).toEqual([
      { role: "system", content: "Answer briefly." },
      { role: "user", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "how are you" },
    ]);
  });

  it("streams the events OpenAI's clients read, and ends incomplete at max_output_tokens", async () => {
    const stream = await openai.responses.create({
      model: "llama-tools",
      input: "stream me please",
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === "response.output_text.delta") text += e.delta;
      if (e.type === "response.completed") expect(e.response.usage?.output_tokens).toBe(4);
    }
    expect(text).toBe("Echo: stream me please");
    expect(types.slice(0, 3)).toEqual([
      "response.created",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types.at(-1)).toBe("response.completed");
    const cut = await openai.responses.create({
      model: "llama-tools",
      input: "one two three",
      max_output_tokens: 2,
    });
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    expect(cut.output_text).toBe("Echo: one ");
  });

  it("carries text.format json_schema as structured output", async () => {
    const r = await openai.responses.create({
      model: "llama-tools",
      input: "Lima",
      text: {
        format: {
          type: "json_schema",
          name: "city",
          schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    });
    expect(JSON.parse(r.output_text)).toEqual({ city: "Lima" });
  });

  it("refuses by name what it cannot carry, in OpenAI's error shape", async () => {
    const refused = (body: Record<string, unknown>) =>
      openai.responses
        .create({ model: "llama-tools", input: "x", ...body } as never)
        .catch((e: unknown) => e);
    const tool = { type: "function", name: "f", parameters: { type: "object", properties: {} } };
    expect(await refused({ tools: [tool] })).toMatchObject({
      status: 400,
      param: "tools",
      code: "unsupported_parameter",
    });
    expect(await refused({ previous_response_id: "resp_1" })).toMatchObject({
      status: 400,
      param: "previous_response_id",
    });
    expect(await refused({ store: true })).toMatchObject({ status: 400, param: "store" });
    expect(await refused({ max_output_tokens: 0 })).toMatchObject({
      status: 400,
      param: "max_output_tokens",
    });
    expect(
      await refused({ input: [{ type: "function_call_output", call_id: "c", output: "sunny" }] }),
    ).toMatchObject({ status: 400, param: "input.0.type" });
    expect(
      await refused({ input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] }),
    ).toMatchObject({ status: 400, param: "input.0.content.0.type" });
    // Fields inside the body's objects too: refused by name, not dropped.
    expect(await refused({ text: { verbosity: "low" } })).toMatchObject({
      status: 400,
      param: "text.verbosity",
    });
    expect(
      await refused({
        input: [{ role: "user", content: [{ type: "input_text", text: "x", cache_control: {} }] }],
      }),
    ).toMatchObject({ status: 400, param: "input.0.content.0.cache_control" });
    expect(await refused({ input: [{ role: "user", content: "x", name: "ann" }] })).toMatchObject({
      status: 400,
      param: "input.0.name",
    });
    // An earlier answer echoed back, as clients send it, is taken.
    const echoed = [
      { role: "user", content: "x" },
      {
        id: "msg_1",
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "y", annotations: [] }],
      },
      { role: "user", content: "z" },
    ];
    expect(await refused({ input: echoed })).toMatchObject({ status: "completed" });
    expect(await refused({ store: false, tools: [], include: [], truncation: "disabled" })).toMatchObject({
      status: "completed",
    });
    await expect(openai.responses.create({ model: "nope", input: "x" })).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
    });
  });
});
