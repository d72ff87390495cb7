import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject, generateText, jsonSchema, stepCountIs, streamObject, streamText, tool } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod/v4";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork, WEATHER_PARAMETERS } from "../support/gateway-network";

/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible` and `@ai-sdk/openai`) as an app uses it,
 * against the gateway: real signaling, WebRTC and headless providers in front of the OpenAI
 * backend double (a test double for the model), which answers one word per chunk, 30 ms apart.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [
      { model: "llama-tools", payout: "a1", features: ["structured_output", "tools"], contextWindow: 8192 },
      { model: "llama-plain", payout: "a2", contextWindow: 8192 },
    ],
    backend: { contextTokens: 8192, tokenDelayMs: 30 },
  });
  ({ backend } = net);
});

afterAll(() => net?.close());

const compatible = () =>
  createOpenAICompatible({
    name: "silk",
    baseURL: net.gateway.url,
    apiKey: "unused",
    includeUsage: true,
    supportsStructuredOutputs: true,
  });
const openai = () => createOpenAI({ baseURL: net.gateway.url, apiKey: "unused" });

const person = z.object({ name: z.string(), age: z.number().int(), tags: z.array(z.string()) });

const weather = (sky: string) => ({
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: jsonSchema<{ city: string; days: number }>(WEATHER_PARAMETERS),
    execute: async ({ city, days }) => `${city}: ${sky} for ${days} days`,
  }),
});

describe("streamText", () => {
  it("streams text deltas, then the finish reason and the usage the provider counted", async () => {
    for (const model of [compatible().chatModel("llama-plain"), openai().chat("llama-plain")]) {
      const result = streamText({ model, prompt: "one two three four" });
      const deltas: string[] = [];
      for await (const piece of result.textStream) deltas.push(piece);
      expect(deltas.join("")).toBe("Echo: one two three four");
      expect(deltas.length).toBeGreaterThan(1);
      expect(await result.finishReason).toBe("stop");
      const usage = await result.usage;
      expect(usage.outputTokens).toBe(5);
      expect(usage.inputTokens).toBeGreaterThan(0);
      expect(usage.totalTokens).toBe((usage.inputTokens ?? 0) + (usage.outputTokens ?? 0));
    }
  });

  it("says `length` when the answer is cut at maxOutputTokens", async () => {
    const result = streamText({
      model: compatible().chatModel("llama-plain"),
      prompt: "a b c d e f g",
      maxOutputTokens: 3,
    });
    expect(await result.text).toBe("Echo: a b ");
    expect(await result.finishReason).toBe("length");
    expect(backend.requests.at(-1)).toMatchObject({ max_tokens: 3 });
  });

  it("aborted mid-stream ends cleanly, and the provider stops and serves the next call", async () => {
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const aborted = backend.aborted;
    // More aborted streams than the provider has places (2): a place kept by one would block the last call.
    // Over chat completions (@ai-sdk/openai-compatible, @ai-sdk/openai's .chat) and the Responses API.
    const models = [
      compatible().chatModel("llama-plain"),
      openai()("llama-plain"),
      openai().chat("llama-plain"),
    ];
    for (const model of models) {
      const stop = new AbortController();
      let aborts = 0;
      const result = streamText({
        model,
        prompt: long,
        abortSignal: stop.signal,
        onAbort: () => {
          aborts++;
        },
      });
      let text = "";
      for await (const piece of result.textStream) {
        text += piece;
        if (text.length > 10) stop.abort();
      }
      expect(text.length).toBeLessThan(long.length);
      expect(aborts).toBe(1);
    }
    await expect.poll(() => backend.aborted, { timeout: 15_000 }).toBe(aborted + 3);
    const next = await generateText({ model: compatible().chatModel("llama-plain"), prompt: "after" });
    expect(next.text).toBe("Echo: after");
  });
});

describe("a provider failing mid-answer", () => {
  it("ends streamText with an error part naming the engine's failure and finish reason `error`, over chat and Responses", async () => {
    for (const model of [
      compatible()("llama-plain"),
      openai()("llama-plain"),
      openai().chat("llama-plain"),
    ]) {
      const errors: unknown[] = [];
      const result = streamText({
        model,
        prompt: "fail midway through this",
        onError: ({ error }) => {
          errors.push(error);
        },
      });
      let text = "";
      for await (const part of result.fullStream) if (part.type === "text-delta") text += part.text;
      expect(text).toBe("Echo: fail ");
      expect(await result.finishReason).toBe("error");
      expect(errors.length).toBeGreaterThan(0);
      expect(String((errors[0] as Error).message)).toMatch(/engine failed/);
    }
  });
});

describe("structured output", () => {
  it("generateObject and streamObject with a zod schema carry it as response_format json_schema", async () => {
    for (const model of [compatible().chatModel("llama-tools"), openai().chat("llama-tools")]) {
      const { object } = await generateObject({ model, schema: person, schemaName: "person", prompt: "Ada" });
      expect(object).toEqual({ name: "Ada", age: 42, tags: ["Ada"] });
      expect(backend.requests.at(-1)).toMatchObject({
        response_format: {
          type: "json_schema",
          json_schema: { name: "person", schema: { type: "object", required: ["name", "age", "tags"] } },
        },
      });
      const streamed = streamObject({ model, schema: person, prompt: "Bo" });
      const partials: unknown[] = [];
      for await (const p of streamed.partialObjectStream) partials.push(p);
      expect(partials.length).toBeGreaterThan(1);
      expect(await streamed.object).toEqual({ name: "Bo", age: 42, tags: ["Bo"] });
    }
  });

  it("generateObject over the Responses API (@ai-sdk/openai's default) carries text.format as json_schema", async () => {
    const { object } = await generateObject({ model: openai()("llama-tools"), schema: person, prompt: "Cy" });
    expect(object).toEqual({ name: "Cy", age: 42, tags: ["Cy"] });
    expect(backend.requests.at(-1)).toMatchObject({ response_format: { type: "json_schema" } });
  });

  it("a model that does not declare structured output refuses the schema by name, before any work", async () => {
    const before = backend.requests.length;
    const err = await generateObject({
      model: compatible().chatModel("llama-plain"),
      schema: person,
      prompt: "Di",
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 400 });
    expect(JSON.parse((err as { responseBody: string }).responseBody)).toMatchObject({
      error: { param: "response_format", type: "invalid_request_error" },
    });
    expect(backend.requests.length).toBe(before);
  });
});

describe("generateText with tools", () => {
  it("runs a multi-step tool loop, streamed or not, over chat completions and the Responses API", async () => {
    const models = [
      compatible().chatModel("llama-tools"),
      openai().chat("llama-tools"),
      openai()("llama-tools"),
    ];
    for (const model of models) {
      const { text, steps, finishReason } = await generateText({
        model,
        tools: weather("hail"),
        stopWhen: stepCountIs(5),
        prompt: "Oslo",
      });
      expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
      expect(steps[0]?.toolResults[0]).toMatchObject({
        toolName: "get_weather",
        output: "Oslo: hail for 42 days",
      });
      expect(text).toBe("The tool said: Oslo: hail for 42 days");
      expect(finishReason).toBe("stop");
    }
  });
});
