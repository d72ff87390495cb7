import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, Output, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod/v4";
import type { Gateway } from "../../client/gateway/gateway-server";
import type { OpenAiBackend } from "../doubles/openai-backend";
import {
  type GatewayNetwork,
  heldTotal,
  startToolsAndPlainNetwork,
  WEATHER_PARAMETERS,
} from "../support/gateway-network";

/**
 * Real programs against the gateway: the official `openai` client and the Vercel AI SDK
 * (`ai` + `@ai-sdk/openai-compatible`), through real signaling and WebRTC to headless providers
 * in front of an OpenAI-compatible double that honours tools, JSON schema and logprobs.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
let gateway: Gateway;
let openai: OpenAI;
let signalingUrl: string;
let receiptTotal: () => Promise<bigint>;

beforeAll(async () => {
  net = await startToolsAndPlainNetwork();
  ({ backend, gateway, signalingUrl } = net);
  receiptTotal = () => heldTotal(net.receipts[0]!);
  openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "Current weather in a city", parameters: WEATHER_PARAMETERS },
};

describe("what providers declare", () => {
  it("shows each model's features and context window in /v1/models and /api/models", async () => {
    const models = await openai.models.list();
    const tools = models.data.find((m) => m.id === "llama-tools") as unknown as Record<string, unknown>;
    expect(tools).toMatchObject({
      features: ["structured_output", "tools", "logprobs"],
      context_window: 8192,
    });
    const api = (await (await fetch(`${signalingUrl}/api/models`)).json()) as {
      models: { model: string; features?: string[] }[];
    };
    expect(api.models.find((m) => m.model === "llama-plain")?.features).toBeUndefined();
    expect(api.models.find((m) => m.model === "llama-tools")?.features).toContain("tools");
  });
});

describe("messages as programs send them", () => {
  it("joins text content parts and carries the developer role and names", async () => {
    const done = await openai.chat.completions.create({
      model: "llama-plain",
      messages: [
        { role: "developer", content: "Answer briefly." },
        {
          role: "user",
          name: "ada",
          content: [
            { type: "text", text: "first part" },
            { type: "text", text: "second part" },
          ],
        },
      ],
    });
    expect(done.choices[0]?.message.content).toBe("Echo: first part\nsecond part");
    expect(backend.requests.at(-1)).toMatchObject({
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", name: "ada", content: "first part\nsecond part" },
      ],
    });
  });

  it("refuses an image part for a model that does not declare vision, naming the message", async () => {
    const err = await openai.chat.completions
      .create({
        model: "llama-tools",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is this" },
              { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
            ],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: "unsupported_value", param: "messages.0.content" });
  });
});

describe("the official openai client", () => {
  it("makes a tool call round trip, and pays for the arguments it streamed", async () => {
    const before = await receiptTotal();
    const ask: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Paris" }];
    const first = await openai.chat.completions.create({
      model: "llama-tools",
      messages: ask,
      tools: [weatherTool],
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("get_weather");
    const args = JSON.parse(call?.type === "function" ? call.function.arguments : "{}");
    expect(args).toEqual({ city: "Paris", days: 42 });
    // Tool-call arguments are generated tokens: they are billed, and the requester signed for them.
    expect(first.usage!.completion_tokens).toBeGreaterThan(1);
    const cost = BigInt((first.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton);
    expect(cost).toBe(BigInt(first.usage!.total_tokens) * 5n);
    await until(async () => (await receiptTotal()) - before === cost);

    const second = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [
        ...ask,
        choice.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: "tool", tool_call_id: call!.id, content: "sunny, 24°C" },
      ],
      tools: [weatherTool],
    });
    expect(second.choices[0]?.message.content).toBe("The tool said: sunny, 24°C");
    expect(backend.requests.at(-1)).toMatchObject({
      messages: [
        { role: "user" },
        { role: "assistant", tool_calls: [{ id: call!.id, function: { name: "get_weather" } }] },
        { role: "tool", tool_call_id: call!.id },
      ],
    });
  });

  it("streams tool_calls deltas that add up to the call", async () => {
    const stream = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [{ role: "user", content: "Oslo" }],
      tools: [weatherTool],
      stream: true,
    });
    let name = "";
    let args = "";
    let finish: string | null = null;
    let pieces = 0;
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        pieces++;
        name += d.function?.name ?? "";
        args += d.function?.arguments ?? "";
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(pieces).toBeGreaterThan(1);
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ city: "Oslo", days: 42 });
    expect(finish).toBe("tool_calls");
  });

  it("returns logprobs with the asked number of alternatives", async () => {
    const done = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [{ role: "user", content: "two words" }],
      logprobs: true,
      top_logprobs: 2,
    });
    const entries = done.choices[0]?.logprobs?.content ?? [];
    expect(entries.map((e) => e.token).join("")).toBe("Echo: two words");
    expect(entries[0]?.logprob).toBeLessThan(0);
    expect(entries[0]?.top_logprobs).toHaveLength(2);
  });

  it("carries penalties, logit_bias, user, seed and max_completion_tokens to the backend", async () => {
    await openai.chat.completions.create({
      model: "llama-plain",
      messages: [{ role: "user", content: "a b c d e f" }],
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logit_bias: { "42": -100 },
      user: "user-7",
      seed: 3,
      max_completion_tokens: 3,
    });
    expect(backend.requests.at(-1)).toMatchObject({
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logit_bias: { "42": -100 },
      user: "user-7",
      seed: 3,
      max_tokens: 3,
    });
  });

  it("carries sampling, stop, n: 1, tool choice and JSON mode to the backend, streaming or not", async () => {
    for (const stream of [false, true]) {
      const body = {
        model: "llama-tools",
        messages: [{ role: "user" as const, content: "fields" }],
        temperature: 0.3,
        top_p: 0.8,
        stop: ["END", "\n\n"],
        n: 1,
        tools: [weatherTool],
        tool_choice: { type: "function" as const, function: { name: "get_weather" } },
        parallel_tool_calls: false,
      };
      if (stream) {
        const chunks = await openai.chat.completions.create({
          ...body,
          stream: true,
          stream_options: { include_usage: true },
        });
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const c of chunks) usage = c.usage ?? usage;
        expect(usage?.completion_tokens).toBeGreaterThan(0);
      } else await openai.chat.completions.create(body);
      expect(backend.requests.at(-1)).toMatchObject({
        temperature: 0.3,
        top_p: 0.8,
        stop: ["END", "\n\n"],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
        tools: [{ function: { name: "get_weather", parameters: WEATHER_PARAMETERS } }],
      });
    }
    // A single stop string, and JSON mode.
    const json = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [{ role: "user", content: "json please" }],
      stop: "STOP",
      response_format: { type: "json_object" },
    });
    expect(JSON.parse(json.choices[0]?.message.content ?? "")).toEqual({ echo: "json please" });
    expect(backend.requests.at(-1)).toMatchObject({ response_format: { type: "json_object" } });
    expect(backend.requests.at(-1)?.stop).toEqual(expect.arrayContaining(["STOP"]));
  });

  it("refuses by name what nobody can honour or Silk does not carry", async () => {
    const refusal = (body: Record<string, unknown>, stream: boolean) =>
      openai.chat.completions
        .create({
          model: "llama-plain",
          messages: [{ role: "user", content: "x" }],
          ...body,
          stream,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((e: unknown) => e);
    for (const stream of [false, true]) {
      expect(await refusal({ tools: [weatherTool] }, stream)).toMatchObject({ status: 400, param: "tools" });
      expect(await refusal({ response_format: { type: "json_object" } }, stream)).toMatchObject({
        status: 400,
        param: "response_format",
      });
      expect(await refusal({ logprobs: true }, stream)).toMatchObject({ status: 400, param: "logprobs" });
      expect(await refusal({ n: 2 }, stream)).toMatchObject({ status: 400, param: "n" });
      expect(await refusal({ functions: [] }, stream)).toMatchObject({ status: 400, param: "functions" });
      // Both token limits become the session's one; a bad one is named as the caller sent it.
      expect(await refusal({ max_completion_tokens: 0 }, stream)).toMatchObject({
        status: 400,
        param: "max_completion_tokens",
      });
      expect(await refusal({ top_logprobs: 99 }, stream)).toMatchObject({
        status: 400,
        param: "top_logprobs",
      });
      // A list is no map of token ids: [5] was carried as it was (its index read as a token id).
      for (const logit_bias of [[5], []])
        expect(await refusal({ logit_bias }, stream)).toMatchObject({ status: 400, param: "logit_bias" });
      // Nor is a list a JSON Schema, for a model that takes tools and schemas.
      const listed = { type: "function", function: { name: "f", parameters: [] } };
      expect(await refusal({ model: "llama-tools", tools: [listed] }, stream)).toMatchObject({
        status: 400,
        param: "tools.0.function.parameters",
      });
    }
  });

  it("names a stop or n of the wrong type or an empty value as sent, saying what it takes", async () => {
    const refusal = (body: Record<string, unknown>) =>
      openai.chat.completions
        .create({
          model: "llama-plain",
          messages: [{ role: "user", content: "x" }],
          ...body,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((e: unknown) => e);
    const asked = backend.requests.length;
    const cases: [Record<string, unknown>, string, string][] = [
      // Was "stop.0: Invalid length: Expected >=1 but received 0": a list the caller never sent.
      // Were "stop: a stop sequence cannot be empty": OpenAI's words now, as every empty value.
      [
        { stop: "" },
        "stop",
        "Invalid 'stop': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      ],
      [
        { stop: ["END", ""] },
        "stop.1",
        "Invalid 'stop.1': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      ],
      // Was "Expected Array": a string is taken too.
      [
        { stop: 5 },
        "stop",
        "Invalid type for 'stop': expected a string or an array of strings, but got an integer instead.",
      ],
      [
        { stop: ["END", 5] },
        "stop.1",
        "Invalid type for 'stop.1': expected a string, but got an integer instead.",
      ],
      // Was "Silk answers one choice per request": the type is what is wrong, in OpenAI's words (it
      // said "expected an integer (1)"), and below 1 as OpenAI says it.
      [{ n: "1" }, "n", "Invalid type for 'n': expected an integer, but got a string instead."],
      [{ n: 1.5 }, "n", "Invalid type for 'n': expected an integer, but got a decimal instead."],
      [{ n: 0 }, "n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."],
      [{ n: 2 }, "n", "n: Silk answers one choice per request; send n requests instead"],
      // Were "Invalid length: Expected >=1 but received 0".
      [
        { messages: [] },
        "messages",
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      ],
      [
        { model: "llama-tools", tools: [{ type: "function", function: { name: "" } }] },
        "tools.0.function.name",
        "Invalid 'tools.0.function.name': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      ],
    ];
    for (const [body, param, message] of cases)
      expect(await refusal(body), JSON.stringify(body)).toMatchObject({
        status: 400,
        type: "invalid_request_error",
        param,
        error: { message },
      });
    expect(backend.requests.length).toBe(asked);
  });
});

describe("tool_choice and the tools it chooses among", () => {
  it("refuses a choice its tools cannot honour, naming tool_choice, before any provider is asked", async () => {
    const ask = (body: Record<string, unknown>, stream: boolean) =>
      openai.chat.completions
        .create({
          model: "llama-tools",
          messages: [{ role: "user", content: "weather?" }],
          ...body,
          stream,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((e: unknown) => e);
    const asked = backend.requests.length;
    for (const stream of [false, true]) {
      // A function nobody offered: a backend would call another one (or fail as a 502).
      const other = { type: "function", function: { name: "get_time" } };
      expect(await ask({ tools: [weatherTool], tool_choice: other }, stream)).toMatchObject({
        status: 400,
        param: "tool_choice",
        message: expect.stringContaining("get_time"),
      });
      // A call required, or a function chosen, with no tools to call.
      expect(await ask({ tool_choice: "required" }, stream)).toMatchObject({
        status: 400,
        param: "tool_choice",
      });
      expect(
        await ask({ tool_choice: { type: "function", function: { name: "get_weather" } } }, stream),
      ).toMatchObject({ status: 400, param: "tool_choice" });
    }
    // OpenAI's newer choices (allowed_tools, custom) are named, not a schema's union of shapes.
    for (const type of ["allowed_tools", "custom"]) {
      const refused = await ask({ tools: [weatherTool], tool_choice: { type, [type]: {} } }, false);
      expect(refused).toMatchObject({ status: 400, param: "tool_choice" });
      expect((refused as Error).message).toContain(`\`${type}\` choices are not carried`);
    }
    // What is no choice at all is named by the schema's own words, not as a missing tool.
    for (const bad of [5, { type: "function" }])
      expect(await ask({ tool_choice: bad }, false)).toMatchObject({
        status: 400,
        param: expect.stringMatching(/^tool_choice/),
        message: expect.not.stringContaining("no tools are given"),
      });
    expect(backend.requests.length).toBe(asked);
    // Choices that ask for no call are still taken without tools, and a listed function is chosen.
    // They ask for nothing without tools, and are not sent on: vLLM refuses any tool_choice
    // without tools ("When using `tool_choice`, `tools` must be set."), a provider's 502.
    for (const tool_choice of ["none", "auto"] as const) {
      expect((await ask({ tool_choice }, false)) as OpenAI.ChatCompletion).toMatchObject({
        choices: [{ message: { content: "Echo: weather?" } }],
      });
      expect(backend.requests.at(-1)).not.toHaveProperty("tool_choice");
    }
    const chosen = (await ask(
      { tools: [weatherTool], tool_choice: { type: "function", function: { name: "get_weather" } } },
      false,
    )) as OpenAI.ChatCompletion;
    expect(chosen.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: "get_weather" } });
    // A function chosen that is not the first listed is the one called: the backend double calls
    // the one named, as llama.cpp's server does by grammar (it called the first, and the
    // requester drops a provider that calls another than the one named: OVER_REPORT).
    const timeTool = {
      type: "function" as const,
      function: { name: "get_time", parameters: WEATHER_PARAMETERS },
    };
    const second = (await ask(
      { tools: [weatherTool, timeTool], tool_choice: { type: "function", function: { name: "get_time" } } },
      false,
    )) as OpenAI.ChatCompletion;
    expect(second.choices?.[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: "get_time" } });
  });
});

describe("fields inside messages, and the SDK's own callers", () => {
  const ask = (messages: unknown[], extra: Record<string, unknown> = {}) =>
    openai.chat.completions
      .create({ model: "llama-plain", messages, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);

  it("refuses a message or content part field it does not carry, a message without content, and stream options without a stream, naming them", async () => {
    const before = backend.requests.length;
    expect(await ask([{ role: "user", content: "x", cache_control: { type: "ephemeral" } }])).toMatchObject({
      status: 400,
      param: "messages.0.cache_control",
      code: "unsupported_parameter",
    });
    expect(await ask([{ role: "system", content: "s" }, { role: "user" }])).toMatchObject({
      status: 400,
      param: "messages.1.content",
      code: "missing_required_parameter",
    });
    expect(await ask([{ role: "user", content: null }])).toMatchObject({
      status: 400,
      param: "messages.0.content",
      code: "missing_required_parameter",
    });
    // No parts is no content either: it was sent as an empty turn nobody wrote.
    for (const role of ["user", "system"])
      expect(
        await ask([
          { role, content: [] },
          { role: "user", content: "x" },
        ]),
      ).toMatchObject({
        status: 400,
        param: "messages.0.content",
        code: "missing_required_parameter",
      });
    expect(await ask([{ role: "user", content: "x" }], { top_logprobs: 2 })).toMatchObject({
      status: 400,
      param: "top_logprobs",
    });
    const cached = [{ type: "text", text: "x", cache_control: { type: "ephemeral" } }];
    expect(await ask([{ role: "user", content: cached }])).toMatchObject({
      status: 400,
      param: "messages.0.content.0.cache_control",
      code: "unsupported_parameter",
    });
    expect(
      await ask([{ role: "user", content: "x" }], { stream_options: { include_usage: true } }),
    ).toMatchObject({
      status: 400,
      param: "stream_options",
    });
    // An option inside stream_options is carried or refused by name, not stripped by the schema.
    expect(
      await ask([{ role: "user", content: "x" }], {
        stream: true,
        stream_options: { include_obfuscation: true },
      }),
    ).toMatchObject({ status: 400, param: "stream_options.include_obfuscation" });
    expect(backend.requests.length).toBe(before);
  });

  it("names a field deep inside a tool, a choice or an image part where it is, in words, not as a schema's union or `never`", async () => {
    const before = backend.requests.length;
    const image = (image_url: Record<string, unknown>) => [
      {
        role: "user",
        content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA", ...image_url } }],
      },
    ];
    const tool = { ...weatherTool, function: { ...weatherTool.function, name: "f" } };
    // A field Silk does not carry is `unsupported_parameter` wherever it is, as at the top of the
    // body (`frobnicate`): it was `invalid_value` inside a tool, a choice or a part.
    const uncarried = "unsupported_parameter";
    const cases: [unknown[], Record<string, unknown>, string, string, string][] = [
      // Were "Invalid key: Expected never but received \"cache_control\"".
      [
        [{ role: "user", content: "x" }],
        { model: "llama-tools", tools: [{ ...tool, cache_control: { type: "ephemeral" } }] },
        "tools.0.cache_control",
        "tools.0.cache_control: Silk does not carry this field, and will not drop it silently",
        uncarried,
      ],
      // Were "messages.0.content: Invalid type: Expected (string | Array) but received Array".
      [
        image({ extra: 1 }),
        {},
        "messages.0.content.0.image_url.extra",
        "messages.0.content.0.image_url.extra: Silk does not carry this field, and will not drop it silently",
        uncarried,
      ],
      [
        image({ detail: "max" }),
        {},
        "messages.0.content.0.image_url.detail",
        "Invalid value for 'messages.0.content.0.image_url.detail': 'max'. Supported values are: 'auto', 'low' and 'high'.",
        "invalid_value",
      ],
      // Was "tool_choice: Invalid type: Expected ((\"none\" | \"auto\" | \"required\") | Object) but received Object".
      [
        [{ role: "user", content: "x" }],
        {
          model: "llama-tools",
          tools: [tool],
          tool_choice: { type: "function", function: { name: "f", x: 1 } },
        },
        "tool_choice.function.x",
        "tool_choice.function.x: Silk does not carry this field, and will not drop it silently",
        uncarried,
      ],
    ];
    for (const [messages, extra, param, message, code] of cases)
      expect(await ask(messages, extra), param).toMatchObject({
        status: 400,
        param,
        code,
        error: { message },
      });
    expect(backend.requests.length).toBe(before);
  });

  it("names a content part of a type Silk does not carry (audio, a file) by its type, in words, on any role", async () => {
    const before = backend.requests.length;
    const audio = { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } };
    const file = { type: "file", file: { file_id: "file-abc" } };
    for (const [role, part] of [
      ["user", audio],
      ["user", file],
      ["system", audio],
    ] as const) {
      const refused = await ask([{ role, content: [{ type: "text", text: "hear this" }, part] }]);
      expect(refused).toMatchObject({ status: 400, param: "messages.0.content.1.type" });
      // Said as a program's author reads it, not as a schema's union of what it expected.
      expect((refused as Error).message).toContain(`\`${part.type}\` parts are not carried`);
      expect((refused as Error).message).not.toContain("Invalid type");
    }
    // An assistant's refusal part, echoed back, likewise.
    const echoed = [{ type: "refusal", refusal: "I cannot" }];
    expect(
      await ask([
        { role: "assistant", content: echoed },
        { role: "user", content: "x" },
      ]),
    ).toMatchObject({ status: 400, param: "messages.0.content.0.type" });
    expect(backend.requests.length).toBe(before);
  });

  it("a field, role or part type named like an Object.prototype member is refused by name, never dropped or a 500", async () => {
    // These read through to Object.prototype: `constructor`, `toString`, `valueOf` were dropped
    // (answered 200 without them), `__proto__` and such a role or part type failed with a 500.
    const post = async (raw: string) => {
      const res = await fetch(`${gateway.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: raw,
      });
      return { status: res.status, error: ((await res.json()) as { error?: { param?: string } }).error };
    };
    const user = '"messages":[{"role":"user","content":"x"}]';
    const before = backend.requests.length;
    for (const key of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]) {
      expect([key, await post(`{"model":"llama-plain",${user},"${key}":{"a":1}}`)]).toMatchObject([
        key,
        { status: 400, error: { param: key, code: "unsupported_parameter" } },
      ]);
      expect([
        key,
        await post(`{"model":"llama-plain","messages":[{"role":"${key}","content":"x"}]}`),
      ]).toMatchObject([key, { status: 400, error: { param: "messages.0.role", code: "invalid_value" } }]);
      const part = `[{"type":"${key}","text":"x"}]`;
      expect([
        key,
        await post(`{"model":"llama-plain","messages":[{"role":"user","content":${part}}]}`),
      ]).toMatchObject([key, { status: 400, error: { param: "messages.0.content.0.type" } }]);
    }
    expect(backend.requests.length).toBe(before);
  });

  it("a prompt over the context window is OpenAI's 400 context_length_exceeded on messages, not a provider's 502", async () => {
    // It was 502 `engine` ("backend answered 400"), which OpenAI's clients retry.
    const long = [{ role: "user", content: "word ".repeat(40_000) }];
    expect(await ask(long)).toMatchObject({
      status: 400,
      code: "context_length_exceeded",
      param: "messages",
      type: "invalid_request_error",
    });
    const hi = await ask([{ role: "user", content: "short" }]);
    expect(hi).toMatchObject({ choices: [{ message: { content: "Echo: short" } }] });
  });

  it("takes the values that ask for nothing (store false, service_tier auto or default, text-only modalities, empty metadata), refuses the rest by name", async () => {
    const hi = [{ role: "user", content: "tiers" }];
    const noOps = [
      { store: false },
      { service_tier: "auto" },
      { service_tier: "default" },
      { modalities: ["text"] },
      { metadata: {} },
    ];
    for (const extra of noOps) {
      expect(await ask(hi, extra)).toMatchObject({ choices: [{ message: { content: "Echo: tiers" } }] });
      // Taken as nothing: none of them reaches the provider.
      expect(Object.keys(extra).filter((k) => k in (backend.requests.at(-1) ?? {}))).toEqual([]);
    }
    // Metadata with a tag in it would be lost (nothing is stored): refused by name.
    expect(await ask(hi, { metadata: { team: "a" } })).toMatchObject({ status: 400, param: "metadata" });
    expect(await ask(hi, { service_tier: "flex" })).toMatchObject({ status: 400, param: "service_tier" });
    expect(await ask(hi, { store: true })).toMatchObject({ status: 400, param: "store" });
    expect(await ask(hi, { modalities: ["text", "audio"] })).toMatchObject({
      status: 400,
      param: "modalities",
    });
  });

  it("takes an assistant message echoed back whole (refusal: null), and one with only tool calls", async () => {
    const first = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [{ role: "user", content: "first" }],
    });
    const call = { id: "call_1", type: "function" as const, function: { name: "f", arguments: "{}" } };
    const done = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [
        { role: "user", content: "first" },
        first.choices[0]!.message,
        { role: "assistant", tool_calls: [call] } as OpenAI.ChatCompletionAssistantMessageParam,
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
        { role: "user", content: "second" },
      ],
    });
    expect(done.choices[0]?.message.content).toBe("Echo: second");
  });

  it("refuses a tool call left unanswered and a tool message answering no call, naming the message, before any provider", async () => {
    const before = backend.requests.length;
    const call = (id: string) => ({ id, type: "function", function: { name: "f", arguments: "{}" } });
    const user = { role: "user", content: "x" };
    const asked = (messages: unknown[]) =>
      openai.chat.completions
        .create({ model: "llama-tools", messages, tools: [weatherTool] } as never)
        .catch((e: unknown) => e);
    // The second of two calls has no answer before the next user turn.
    expect(
      await asked([
        user,
        { role: "assistant", tool_calls: [call("call_a"), call("call_b")] },
        { role: "tool", tool_call_id: "call_a", content: "sunny" },
        user,
      ]),
    ).toMatchObject({
      status: 400,
      param: "messages.1.tool_calls",
      message: expect.stringContaining("call_b"),
    });
    // A history that ends on the calls themselves.
    expect(await asked([user, { role: "assistant", tool_calls: [call("call_a")] }])).toMatchObject({
      status: 400,
      param: "messages.1.tool_calls",
    });
    // An answer to a call nobody made, and an answer with no call before it at all.
    expect(
      await asked([
        user,
        { role: "assistant", tool_calls: [call("call_a")] },
        { role: "tool", tool_call_id: "call_z", content: "sunny" },
      ]),
    ).toMatchObject({
      status: 400,
      param: "messages.2.tool_call_id",
      message: expect.stringContaining("call_z"),
    });
    expect(await asked([user, { role: "tool", tool_call_id: "call_a", content: "sunny" }])).toMatchObject({
      status: 400,
      param: "messages.1.tool_call_id",
    });
    expect(backend.requests.length).toBe(before);
  });

  it("refuses through the SDK too what the gateway refuses by name", async () => {
    const sdk = net.client.chat.completions.create;
    const call = (extra: Record<string, unknown>) =>
      sdk({ model: "llama-plain", messages: [{ role: "user", content: "x" }], ...extra } as never).catch(
        (e: unknown) => e,
      );
    expect(await call({ functions: [] })).toMatchObject({ name: "InvalidRequestError", param: "functions" });
    expect(await call({ reasoning_effort: "low" })).toMatchObject({ param: "reasoning_effort" });
  });
});

/** The weather tool for the Vercel AI SDK, answering with `sky` for the days asked. */
const weatherTools = (sky: string) => ({
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: jsonSchema<{ city: string; days: number }>(weatherTool.function.parameters),
    execute: async ({ city, days }) => `${city}: ${sky} for ${days} days`,
  }),
});

describe("the official openai client's helpers", () => {
  const city = z.object({ city: z.string() });
  const runnable = (result: string) => ({
    type: "function" as const,
    function: {
      name: "get_weather",
      description: "Current weather in a city",
      parameters: WEATHER_PARAMETERS,
      function: (args: string) => `${result} in ${JSON.parse(args).city}`,
    },
  });

  it("parse() with a zod response format and a zod function, each parsed", async () => {
    const structured = await openai.chat.completions.parse({
      model: "llama-tools",
      messages: [{ role: "user", content: "Lima" }],
      response_format: zodResponseFormat(city, "city"),
    });
    expect(structured.choices[0]?.message.parsed).toEqual({ city: "Lima" });
    expect(backend.requests.at(-1)).toMatchObject({
      response_format: { type: "json_schema", json_schema: { name: "city", strict: true } },
    });
    const called = await openai.chat.completions.parse({
      model: "llama-tools",
      messages: [{ role: "user", content: "Paris" }],
      tools: [
        zodFunction({ name: "get_weather", parameters: z.object({ city: z.string(), days: z.number() }) }),
      ],
    });
    expect(called.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      function: { name: "get_weather", parsed_arguments: { city: "Paris", days: 42 } },
    });
  });

  it("stream() assembles the final completion, with usage, a tool call or parsed JSON", async () => {
    const tooled = await openai.chat.completions
      .stream({
        model: "llama-tools",
        messages: [{ role: "user", content: "Oslo" }],
        tools: [weatherTool],
        stream_options: { include_usage: true },
      })
      .finalChatCompletion();
    expect(tooled.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: {
        tool_calls: [{ function: { name: "get_weather", arguments: '{"city":"Oslo","days":42}' } }],
      },
    });
    expect(tooled.usage?.completion_tokens).toBeGreaterThan(0);
    const parsed = await openai.chat.completions
      .stream({
        model: "llama-tools",
        messages: [{ role: "user", content: "Rome" }],
        response_format: zodResponseFormat(city, "city"),
      })
      .finalChatCompletion();
    expect(parsed.choices[0]?.message.parsed).toEqual({ city: "Rome" });
  });

  it("runTools() calls the tool and answers with its result, streaming or not", async () => {
    const plain = openai.chat.completions.runTools({
      model: "llama-tools",
      messages: [{ role: "user", content: "Paris" }],
      tools: [runnable("sunny")],
    });
    expect(await plain.finalContent()).toBe("The tool said: sunny in Paris");
    const streamed = openai.chat.completions.runTools({
      model: "llama-tools",
      stream: true,
      messages: [{ role: "user", content: "Bern" }],
      tools: [runnable("snow")],
    });
    expect(await streamed.finalContent()).toBe("The tool said: snow in Bern");
  });
});

describe("the Vercel AI SDK", () => {
  const silk = () =>
    createOpenAICompatible({
      name: "silk",
      baseURL: gateway.url,
      apiKey: "unused",
      includeUsage: true,
      supportsStructuredOutputs: true,
    });
  const schema = jsonSchema<{ name: string; age: number; tags: string[] }>({
    type: "object",
    properties: {
      name: { type: "string" },
      age: { type: "integer" },
      tags: { type: "array", items: { type: "string" } },
    },
    required: ["name", "age", "tags"],
    additionalProperties: false,
  });

  it("parses structured output (json_schema) into the object", async () => {
    const { output } = await generateText({
      model: silk().chatModel("llama-tools"),
      output: Output.object({ schema }),
      prompt: "Grace",
    });
    expect(output).toEqual({ name: "Grace", age: 42, tags: ["Grace"] });
    expect(backend.requests.at(-1)).toMatchObject({ response_format: { type: "json_schema" } });
  });

  it("runs a tool, sends its result back, and answers with it", async () => {
    const { text, steps } = await generateText({
      model: silk().chatModel("llama-tools"),
      tools: weatherTools("rain"),
      stopWhen: stepCountIs(2),
      prompt: "Lima",
    });
    expect(steps[0]?.toolCalls[0]).toMatchObject({
      toolName: "get_weather",
      input: { city: "Lima", days: 42 },
    });
    expect(text).toBe("The tool said: Lima: rain for 42 days");
  });

  it("streams text with usage", async () => {
    const result = streamText({ model: silk().chatModel("llama-plain"), prompt: "stream this" });
    let text = "";
    for await (const piece of result.textStream) text += piece;
    expect(text).toBe("Echo: stream this");
    expect((await result.usage).outputTokens).toBe(3);
  });
});

describe("the Vercel AI SDK's own OpenAI provider (the Responses API by default)", () => {
  it("runs a tool over /v1/responses, streaming, and answers with its result", async () => {
    const openaiProvider = createOpenAI({ baseURL: gateway.url, apiKey: "unused" });
    const result = streamText({
      model: openaiProvider("llama-tools"),
      tools: weatherTools("sun"),
      stopWhen: stepCountIs(2),
      prompt: "Quito",
    });
    let text = "";
    for await (const piece of result.textStream) text += piece;
    const steps = await result.steps;
    expect(steps[0]?.toolCalls[0]).toMatchObject({
      toolName: "get_weather",
      input: { city: "Quito", days: 42 },
    });
    expect(text).toBe("The tool said: Quito: sun for 42 days");
    expect(backend.requests.at(-1)).toMatchObject({
      messages: [
        { role: "user" },
        { role: "assistant", tool_calls: [{ function: { name: "get_weather" } }] },
        { role: "tool" },
      ],
    });
  });
});

describe("the Vercel AI SDK's OpenAI provider over several turns (it sends an earlier answer back as an item_reference)", () => {
  it("answers the next turn with the earlier one resolved from the gateway's own answers, streamed or not; an unknown reference is 400 naming it", async () => {
    const openaiProvider = createOpenAI({ baseURL: gateway.url, apiKey: "unused" });
    const model = openaiProvider("llama-tools");
    const first = await generateText({ model, prompt: "hello" });
    // The earlier answer, by the id the gateway gave it: OpenAI's default store: true assumed.
    expect(JSON.stringify(first.response.messages)).toContain('"itemId":"msg_');
    const streamed = streamText({ model, prompt: "hi there" });
    for await (const _ of streamed.textStream);
    const earlier = [...first.response.messages, ...(await streamed.response).messages];
    const second = await generateText({
      model,
      messages: [
        { role: "user", content: "hello" },
        earlier[0]!,
        { role: "user", content: "hi there" },
        earlier[1]!,
        { role: "user", content: "again" },
      ],
    });
    expect(second.text).toBe("Echo: again");
    expect((backend.requests.at(-1) as { messages: unknown[] }).messages).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "Echo: hello" },
      { role: "user", content: "hi there" },
      { role: "assistant", content: "Echo: hi there" },
      { role: "user", content: "again" },
    ]);
    const asked = backend.requests.length;
    const unknown = await fetch(`${gateway.url}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "llama-tools",
        input: [
          { role: "user", content: "hello" },
          { type: "item_reference", id: "msg_nobody" },
          { role: "user", content: "again" },
        ],
      }),
    });
    expect(unknown.status).toBe(400);
    const { error } = (await unknown.json()) as { error: { param: string; message: string } };
    expect(error.param).toBe("input.1.id");
    expect(error.message).toContain("store: false");
    expect(backend.requests.length).toBe(asked);
  });
});

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
