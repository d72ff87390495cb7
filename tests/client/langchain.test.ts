import { type AIMessageChunk, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod/v4";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startToolsAndPlainNetwork } from "../support/gateway-network";

/**
 * LangChain JS (`@langchain/openai`'s ChatOpenAI) pointed at the gateway's base URL: real
 * signaling, WebRTC and headless providers in front of the OpenAI backend double (a test double
 * for the model).
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;

beforeAll(async () => {
  // One word per chunk, 20 ms apart: a long answer is still streaming when it is aborted.
  net = await startToolsAndPlainNetwork({ backend: { tokenDelayMs: 20 } });
  ({ backend } = net);
});

afterAll(() => net?.close());

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  new ChatOpenAI({
    model,
    apiKey: "unused",
    configuration: { baseURL: net.gateway.url },
    maxRetries: 0,
    ...extra,
  });

const getWeather = tool(async ({ city }) => `${city}: fog`, {
  name: "get_weather",
  description: "Current weather in a city",
  schema: z.object({ city: z.string(), days: z.number() }),
});

describe("LangChain's ChatOpenAI", () => {
  it("invoke answers with the text and the usage", async () => {
    const answer = await chat("llama-plain", { temperature: 0.2, maxTokens: 50 }).invoke("hello there");
    expect(answer.content).toBe("Echo: hello there");
    expect(answer.usage_metadata?.output_tokens).toBe(3);
    expect(answer.response_metadata).toMatchObject({ finish_reason: "stop" });
    expect(backend.requests.at(-1)).toMatchObject({ temperature: 0.2, max_tokens: 50 });
  });

  it("stream yields the text in pieces, with usage at the end", async () => {
    let whole: AIMessageChunk | undefined;
    let pieces = 0;
    for await (const chunk of await chat("llama-plain").stream("one two three")) {
      pieces++;
      whole = whole ? whole.concat(chunk) : chunk;
    }
    expect(pieces).toBeGreaterThan(1);
    expect(whole?.content).toBe("Echo: one two three");
    expect(whole?.usage_metadata?.output_tokens).toBe(4);
  });

  it("bindTools makes a tool call, and the tool's answer comes back", async () => {
    const model = chat("llama-tools").bindTools([getWeather]);
    const ask = new HumanMessage("Riga");
    const first = await model.invoke([ask]);
    expect(first.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Riga", days: 42 } });
    const call = first.tool_calls![0]!;
    const result = await getWeather.invoke(call);
    expect(result).toBeInstanceOf(ToolMessage);
    const second = await model.invoke([ask, first, result]);
    expect(second.content).toBe("The tool said: Riga: fog");
    // Streamed too: the tool call's chunks add up to the call.
    let whole: AIMessageChunk | undefined;
    for await (const chunk of await model.stream([new HumanMessage("Kyiv")]))
      whole = whole ? whole.concat(chunk) : chunk;
    expect(whole?.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Kyiv", days: 42 } });
  });

  it("withStructuredOutput parses the object, by JSON schema or by function calling", async () => {
    const person = z.object({ name: z.string(), age: z.number() });
    for (const method of ["jsonSchema", "functionCalling"] as const) {
      const structured = chat("llama-tools").withStructuredOutput(person, { name: "person", method });
      expect(await structured.invoke("Ada")).toEqual({ name: "Ada", age: 42 });
    }
    expect(backend.requests.at(-2)).toMatchObject({
      response_format: { type: "json_schema", json_schema: { name: "person" } },
    });
  });

  it("a refusal reaches LangChain as the gateway's 400, naming the field", async () => {
    const err = await chat("llama-plain")
      .bindTools([getWeather])
      .invoke("x")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: "tools" });
  });
});

describe("LangChain's ChatOpenAI on the Responses API (useResponsesApi)", () => {
  const responses = () => chat("llama-tools", { useResponsesApi: true });

  it("invokes, streams, runs a tool round trip and parses structured output", async () => {
    expect((await responses().invoke("hi there")).text).toBe("Echo: hi there");
    let whole: AIMessageChunk | undefined;
    for await (const chunk of await responses().stream("a b")) whole = whole ? whole.concat(chunk) : chunk;
    expect(whole?.text).toBe("Echo: a b");
    const model = responses().bindTools([getWeather]);
    const ask = new HumanMessage("Riga");
    const first = await model.invoke([ask]);
    expect(first.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Riga", days: 42 } });
    const second = await model.invoke([ask, first, await getWeather.invoke(first.tool_calls![0]!)]);
    expect(second.text).toBe("The tool said: Riga: fog");
    const person = z.object({ name: z.string(), age: z.number() });
    expect(await responses().withStructuredOutput(person, { name: "p" }).invoke("Ada")).toEqual({
      name: "Ada",
      age: 42,
    });
  });
});

describe("a provider failing mid-answer, as LangChain sees it", () => {
  it("throws the gateway's code from a stream, chat or Responses, never ends it as if whole", async () => {
    for (const extra of [{}, { useResponsesApi: true }]) {
      let text = "";
      const thrown = await (async () => {
        for await (const chunk of await chat("llama-plain", extra).stream("fail midway through this"))
          text += chunk.text;
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      // On the Responses API LangChain reads only `response.*` events: the stream stopped after
      // "Echo: fail " and the answer looked whole.
      expect([extra, thrown]).toMatchObject([extra, { code: "engine_failed" }]);
      expect(text).toBe("Echo: fail ");
    }
  });
});

describe("LangChain's options and its abort", () => {
  it("carries JSON mode, logprobs and a call's seed", async () => {
    const json = chat("llama-tools").withStructuredOutput(z.object({ echo: z.string() }), {
      method: "jsonMode",
    });
    expect(await json.invoke("json please")).toEqual({ echo: "json please" });
    expect(backend.requests.at(-1)).toMatchObject({ response_format: { type: "json_object" } });
    const answer = await chat("llama-tools", { logprobs: true, topLogprobs: 2 }).invoke("two words", {
      seed: 5,
    } as never);
    expect(backend.requests.at(-1)).toMatchObject({ logprobs: true, top_logprobs: 2, seed: 5 });
    expect(answer.response_metadata).toMatchObject({ logprobs: { content: [{}, {}, {}] } });
  });

  it("a stream aborted by its signal stops the provider's work", async () => {
    const stop = new AbortController();
    const aborted = backend.aborted;
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    let text = "";
    const ended = await (async () => {
      for await (const chunk of await chat("llama-plain").stream(long, { signal: stop.signal })) {
        text += chunk.text;
        if (text.length > 10) stop.abort();
      }
    })().catch((e: unknown) => e);
    expect(String(ended)).toMatch(/abort/i);
    await expect.poll(() => backend.aborted, { timeout: 10_000 }).toBe(aborted + 1);
    expect((await chat("llama-plain").invoke("after")).content).toBe("Echo: after");
  });
});

describe("a tool message's name", () => {
  it("is taken when it names the call it answers, refused by name when it names another", async () => {
    const call = { id: "call_9", type: "function", function: { name: "get_weather", arguments: "{}" } };
    const body = (name: string) => ({
      model: "llama-tools",
      messages: [
        { role: "user", content: "Lima" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: "call_9", name, content: "warm" },
      ],
    });
    const post = async (b: unknown) => {
      const res = await fetch(`${net.gateway.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(b),
      });
      return { status: res.status, body: await res.json() };
    };
    expect(await post(body("get_weather"))).toMatchObject({
      status: 200,
      body: { choices: [{ message: { content: "The tool said: warm" } }] },
    });
    expect(backend.requests.at(-1)).toMatchObject({
      messages: [{}, {}, { role: "tool", tool_call_id: "call_9" }],
    });
    expect(await post(body("get_time"))).toMatchObject({
      status: 400,
      body: { error: { param: "messages.2.name", code: "unsupported_parameter" } },
    });
  });
});
