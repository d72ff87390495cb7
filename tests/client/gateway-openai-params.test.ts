import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../protocol";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork, WEATHER_PARAMETERS } from "../support/gateway-network";

/**
 * Every request parameter of the installed `openai` client's chat completions, Responses and
 * embeddings (read from its own type declarations, so a newer client's parameter fails here until
 * it is listed), sent with a representative value through that client to the gateway: each is
 * carried to the provider's backend (the double records what it was asked) or refused with a 400
 * naming it. Never dropped.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
let openai: OpenAI;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [
      { model: "llama-tools", payout: "22", features: ["structured_output", "tools", "logprobs"] },
      { model: "embed-small", payout: "44", features: ["embeddings"] },
    ],
  });
  backend = net.backend;
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

/** The parameters an interface of the installed client's declarations lists (its own lines only). */
function paramsOf(file: string, name: string): string[] {
  const root = dirname(createRequire(import.meta.url).resolve("openai"));
  const text = readFileSync(join(root, file), "utf8");
  const body = text.match(new RegExp(`^export interface ${name} \\{\\n([\\s\\S]*?)^\\}`, "m"))?.[1];
  if (!body) throw new Error(`${name} not found in ${file}`);
  return [...body.matchAll(/^ {4}([a-z_]+)\??:/gm)].map((m) => m[1]!).sort();
}

/** A parameter's case: what is added to the base request, and what the backend must then have been asked. */
interface Case {
  readonly send: Record<string, unknown>;
  /** Carried: a fragment of the backend's request. Absent: refused naming the parameter. */
  readonly carried?: Record<string, unknown>;
}

const weatherChat = {
  type: "function",
  function: { name: "get_weather", description: "Current weather in a city", parameters: WEATHER_PARAMETERS },
};
const weatherResponses = {
  type: "function",
  name: "get_weather",
  parameters: WEATHER_PARAMETERS,
  strict: false,
};
const carriedTool = { tools: [{ type: "function", function: { name: "get_weather" } }] };

const CHAT: Readonly<Record<string, Case>> = {
  messages: { send: {}, carried: { messages: [{ role: "user", content: "sweep" }] } },
  model: { send: {}, carried: { model: "backend-model" } },
  audio: { send: { audio: { voice: "alloy", format: "wav" } } },
  frequency_penalty: { send: { frequency_penalty: 0.5 }, carried: { frequency_penalty: 0.5 } },
  function_call: { send: { function_call: "auto" } },
  functions: { send: { functions: [{ name: "f", parameters: {} }] } },
  logit_bias: { send: { logit_bias: { "42": -5 } }, carried: { logit_bias: { "42": -5 } } },
  logprobs: { send: { logprobs: true }, carried: { logprobs: true } },
  max_completion_tokens: { send: { max_completion_tokens: 7 }, carried: { max_tokens: 7 } },
  max_tokens: { send: { max_tokens: 6 }, carried: { max_tokens: 6 } },
  metadata: { send: { metadata: { team: "a" } } },
  modalities: { send: { modalities: ["text", "audio"] } },
  moderation: { send: { moderation: { model: "omni-moderation-latest" } } },
  n: { send: { n: 2 } },
  parallel_tool_calls: {
    send: { tools: [weatherChat], parallel_tool_calls: false },
    carried: { parallel_tool_calls: false, ...carriedTool },
  },
  prediction: { send: { prediction: { type: "content", content: "x" } } },
  presence_penalty: { send: { presence_penalty: 0.25 }, carried: { presence_penalty: 0.25 } },
  prompt_cache_key: { send: { prompt_cache_key: "k1" } },
  prompt_cache_options: { send: { prompt_cache_options: { mode: "explicit" } } },
  prompt_cache_retention: { send: { prompt_cache_retention: "24h" } },
  reasoning_effort: { send: { reasoning_effort: "low" } },
  response_format: {
    send: { response_format: { type: "json_object" } },
    carried: { response_format: { type: "json_object" } },
  },
  safety_identifier: { send: { safety_identifier: "user-1" } },
  seed: { send: { seed: 7 }, carried: { seed: 7 } },
  service_tier: { send: { service_tier: "flex" } },
  stop: { send: { stop: ["END"] }, carried: { stop: ["END"] } },
  store: { send: { store: true } },
  // The backend is always asked to stream, with usage: what the caller gets of both is
  // gateway-openai.test.ts's and raw-http.test.ts's.
  stream: { send: { stream: true }, carried: { stream: true } },
  stream_options: {
    send: { stream: true, stream_options: { include_usage: true } },
    carried: { stream_options: { include_usage: true } },
  },
  temperature: { send: { temperature: 0.3 }, carried: { temperature: 0.3 } },
  tool_choice: {
    send: { tools: [weatherChat], tool_choice: "required" },
    carried: { tool_choice: "required", ...carriedTool },
  },
  tools: { send: { tools: [weatherChat] }, carried: carriedTool },
  top_logprobs: { send: { logprobs: true, top_logprobs: 2 }, carried: { top_logprobs: 2 } },
  top_p: { send: { top_p: 0.5 }, carried: { top_p: 0.5 } },
  user: { send: { user: "user-1" }, carried: { user: "user-1" } },
  verbosity: { send: { verbosity: "low" } },
  web_search_options: { send: { web_search_options: {} } },
};

const RESPONSES: Readonly<Record<string, Case>> = {
  input: { send: {}, carried: { messages: [{ role: "user", content: "sweep" }] } },
  model: { send: {}, carried: { model: "backend-model" } },
  background: { send: { background: true } },
  context_management: { send: { context_management: [{ type: "compaction", compact_threshold: 1000 }] } },
  conversation: { send: { conversation: "conv_1" } },
  include: {
    send: { include: ["message.output_text.logprobs"], top_logprobs: 2 },
    carried: { logprobs: true, top_logprobs: 2 },
  },
  instructions: {
    send: { instructions: "Be brief." },
    carried: {
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "sweep" },
      ],
    },
  },
  max_output_tokens: { send: { max_output_tokens: 16 }, carried: { max_tokens: 16 } },
  metadata: { send: { metadata: { team: "a" } } },
  moderation: { send: { moderation: { model: "omni-moderation-latest" } } },
  parallel_tool_calls: {
    send: { tools: [weatherResponses], parallel_tool_calls: false },
    carried: { parallel_tool_calls: false, ...carriedTool },
  },
  previous_response_id: { send: { previous_response_id: "resp_1" } },
  prompt: { send: { prompt: { id: "pmpt_1" } } },
  prompt_cache_key: { send: { prompt_cache_key: "k1" } },
  prompt_cache_options: { send: { prompt_cache_options: { mode: "explicit" } } },
  prompt_cache_retention: { send: { prompt_cache_retention: "24h" } },
  reasoning: { send: { reasoning: { effort: "low" } } },
  safety_identifier: { send: { safety_identifier: "user-1" } },
  service_tier: { send: { service_tier: "flex" } },
  store: { send: { store: true } },
  stream: { send: { stream: true }, carried: { stream: true } },
  stream_options: { send: { stream: true, stream_options: { include_obfuscation: true } } },
  temperature: { send: { temperature: 0.3 }, carried: { temperature: 0.3 } },
  text: {
    send: { text: { format: { type: "json_object" } } },
    carried: { response_format: { type: "json_object" } },
  },
  tool_choice: {
    send: { tools: [weatherResponses], tool_choice: "required" },
    carried: { tool_choice: "required", ...carriedTool },
  },
  tools: { send: { tools: [weatherResponses] }, carried: carriedTool },
  top_logprobs: { send: { top_logprobs: 2 } },
  top_p: { send: { top_p: 0.5 }, carried: { top_p: 0.5 } },
  truncation: { send: { truncation: "auto" } },
  user: { send: { user: "user-1" }, carried: { user: "user-1" } },
};

const EMBEDDINGS: Readonly<Record<string, Case>> = {
  input: { send: {}, carried: { input: ["sweep"] } },
  model: { send: {}, carried: { model: "backend-model" } },
  dimensions: { send: { dimensions: 4 }, carried: { dimensions: 4 } },
  // The backend is always asked for floats; the gateway answers in the encoding asked for.
  encoding_format: { send: { encoding_format: "float" }, carried: { encoding_format: "float" } },
  user: { send: { user: "user-1" }, carried: { user: "user-1" } },
};

/** Runs a request to its end (a stream read whole), resolving with its error if it had one. */
async function settle(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const answer = await run();
    if (answer && typeof answer === "object" && Symbol.asyncIterator in answer)
      for await (const _ of answer as AsyncIterable<unknown>);
    return undefined;
  } catch (err) {
    return err;
  }
}

async function sweep(
  table: Readonly<Record<string, Case>>,
  send: (extra: Record<string, unknown>) => Promise<unknown>,
) {
  const wrong: string[] = [];
  for (const [param, c] of Object.entries(table)) {
    const asked = backend.requests.length;
    const err = await settle(() => send(c.send));
    if (c.carried) {
      const seen = backend.requests.length > asked ? backend.requests.at(-1) : undefined;
      if (err) wrong.push(`${param}: refused (${String(err)}), should be carried`);
      else
        try {
          expect(seen).toMatchObject(c.carried);
        } catch {
          wrong.push(`${param}: the backend was asked ${JSON.stringify(seen)}`);
        }
      continue;
    }
    const named = err instanceof OpenAI.APIError && err.status === 400 && err.param !== undefined;
    const p = named ? String(err.param) : "";
    if (!(p === param || p.startsWith(`${param}.`)))
      wrong.push(
        `${param}: ${err ? `refused naming ${JSON.stringify(p)} (${String(err)})` : "taken"}, should be refused naming it`,
      );
    else if (backend.requests.length > asked) wrong.push(`${param}: refused, but the backend was asked`);
    // A parameter of OpenAI's own API is refused with why, not as a field nobody has heard of.
    else if ((err as Error).message.includes("Silk does not carry this field"))
      wrong.push(`${param}: refused without a reason (${(err as Error).message})`);
  }
  return wrong;
}

describe("every parameter of the installed openai client, carried or refused by name", () => {
  it("chat.completions.create", async () => {
    expect(paramsOf("resources/chat/completions/completions.d.ts", "ChatCompletionCreateParamsBase")).toEqual(
      Object.keys(CHAT).sort(),
    );
    const base = { model: "llama-tools", messages: [{ role: "user", content: "sweep" }] };
    const wrong = await sweep(CHAT, (extra) =>
      openai.chat.completions.create({
        ...base,
        ...extra,
      } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
    );
    expect(wrong).toEqual([]);
  });

  it("responses.create", async () => {
    expect(paramsOf("resources/responses/responses.d.ts", "ResponseCreateParamsBase")).toEqual(
      Object.keys(RESPONSES).sort(),
    );
    const wrong = await sweep(RESPONSES, (extra) =>
      openai.responses.create({
        model: "llama-tools",
        input: "sweep",
        ...extra,
      } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming),
    );
    expect(wrong).toEqual([]);
  });

  it("embeddings.create", async () => {
    expect(paramsOf("resources/embeddings.d.ts", "EmbeddingCreateParams")).toEqual(
      Object.keys(EMBEDDINGS).sort(),
    );
    const wrong = await sweep(EMBEDDINGS, (extra) =>
      openai.embeddings.create({
        model: "embed-small",
        input: "sweep",
        ...extra,
      } as OpenAI.EmbeddingCreateParams),
    );
    expect(wrong).toEqual([]);
  });
});

describe("logprobs on the Responses API (include message.output_text.logprobs, top_logprobs)", () => {
  it("are the answer's, per token with their alternatives: on each text delta and in the message, streamed or not, as chat's", async () => {
    const ask = {
      model: "llama-tools",
      input: "one two three",
      include: ["message.output_text.logprobs" as const],
      top_logprobs: 2,
    };
    const chat = await openai.chat.completions.create({
      model: "llama-tools",
      messages: [{ role: "user", content: "one two three" }],
      logprobs: true,
      top_logprobs: 2,
    });
    const expected = chat.choices[0]?.logprobs?.content?.map((e) => ({
      token: e.token,
      logprob: e.logprob,
      bytes: e.bytes,
      top_logprobs: e.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })),
    }));
    expect(expected).toHaveLength(4);
    const whole = await openai.responses.create(ask);
    const stream = openai.responses.stream(ask);
    const fromDeltas: unknown[] = [];
    for await (const e of stream) if (e.type === "response.output_text.delta") fromDeltas.push(...e.logprobs);
    const streamed = await stream.finalResponse();
    for (const r of [whole, streamed]) {
      expect(r.top_logprobs).toBe(2);
      const part = r.output[0]?.type === "message" ? r.output[0].content[0] : undefined;
      expect(part?.type === "output_text" && part.logprobs).toMatchObject(expected ?? []);
    }
    expect(fromDeltas).toMatchObject(expected ?? []);
    // Each alternative's bytes are given (chat's may be null): the token's UTF-8.
    const first = fromDeltas[0] as { top_logprobs: { token: string; bytes: number[] }[] };
    for (const t of first.top_logprobs) expect(t.bytes).toEqual([...Buffer.from(t.token)]);
  });

  it("refuses what it cannot include, and alternatives without the logprobs, by name", async () => {
    const asked = backend.requests.length;
    for (const [extra, param] of [
      [{ include: ["message.output_text.logprobs", "reasoning.encrypted_content"] }, "include.1"],
      [{ include: ["file_search_call.results"] }, "include.0"],
      [{ top_logprobs: 3 }, "top_logprobs"],
      [{ include: ["message.output_text.logprobs"], top_logprobs: 50 }, "top_logprobs"],
    ] as const) {
      const err = await responsesWith(extra).catch((e: unknown) => e);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param, JSON.stringify(extra)).toBe(param);
    }
    expect(backend.requests.length).toBe(asked);
    // Asking for none is nothing asked.
    await responsesWith({ include: [], top_logprobs: 0 });
    expect(backend.requests.at(-1)).not.toHaveProperty("logprobs");
  });
});

/** A refusal as a program reads it off the `openai` client's `APIError`. */
interface Refusal {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string;
  readonly message: string;
}

/** A chat request of `extra` sent through the client, streamed or not. */
const chatWith = (stream: boolean) => (extra: Record<string, unknown>) =>
  openai.chat.completions.create({
    model: "llama-tools",
    messages: [{ role: "user", content: "hi" }],
    stream,
    ...extra,
  } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);

/** A Responses request of `extra` sent through the client. */
const responsesWith = (extra: Record<string, unknown>) =>
  openai.responses.create({
    model: "llama-tools",
    input: "hi",
    ...extra,
  } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming);

/** Each case sent through the client, and the refusal it got; none of them reaches the backend. */
async function refusals(
  cases: readonly (readonly [Record<string, unknown>, Refusal])[],
  send: (extra: Record<string, unknown>) => Promise<unknown>,
): Promise<void> {
  const asked = backend.requests.length;
  for (const [extra, expected] of cases) {
    const err = await send(extra).then(
      () => new Error("answered"),
      (e: unknown) => e,
    );
    expect(err, JSON.stringify(extra)).toBeInstanceOf(OpenAI.APIError);
    const { status, type, code, param, error } = err as InstanceType<typeof OpenAI.APIError> & {
      error: { message: string };
    };
    expect({ status, type, code, param, message: error.message }, JSON.stringify(extra)).toEqual(expected);
  }
  expect(backend.requests.length).toBe(asked);
}

/**
 * A field of the wrong type is refused as OpenAI refuses it: 400, code `invalid_type`, `param`
 * naming the field, and a message saying in words what was expected and what was got
 * (`Invalid type for 'temperature': expected a number, but got a string instead.`; an integer
 * field's "expected an integer", whatever it got), not a schema
 * library's `Invalid type: Expected number but received "5"`. Nothing reaches the backend.
 */
describe("a field of the wrong type is refused as OpenAI refuses it: what was expected, what was got", () => {
  it("a string none of those a field takes is its value that is wrong: the values it takes, named", async () => {
    const refused = await openai.chat.completions
      .create({
        model: "llama-tools",
        messages: [{ role: "user", content: "hi" }],
        tools: [weatherChat],
        tool_choice: "sometimes",
      } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      status: 400,
      code: "invalid_value",
      param: "tool_choice",
      error: {
        message:
          "Invalid value for 'tool_choice': 'sometimes'. Supported values are: 'none', 'auto' and 'required'.",
      },
    });
  });

  const wrongType = (param: string, expected: string, got: string) => ({
    status: 400,
    type: "invalid_request_error",
    code: "invalid_type",
    param,
    message: `Invalid type for '${param}': expected ${expected}, but got ${got} instead.`,
  });
  it("chat.completions.create", async () => {
    await refusals(
      [
        [{ temperature: "5" }, wrongType("temperature", "a number", "a string")],
        [{ max_tokens: 2.5 }, wrongType("max_tokens", "an integer", "a decimal")],
        // An integer field says so, as OpenAI does: was "expected a number" for a string.
        [{ max_completion_tokens: "7" }, wrongType("max_completion_tokens", "an integer", "a string")],
        [{ max_tokens: "5" }, wrongType("max_tokens", "an integer", "a string")],
        [{ seed: "1" }, wrongType("seed", "an integer", "a string")],
        [{ seed: 1.5 }, wrongType("seed", "an integer", "a decimal")],
        [{ logprobs: true, top_logprobs: "2" }, wrongType("top_logprobs", "an integer", "a string")],
        [{ logprobs: true, top_logprobs: 2.5 }, wrongType("top_logprobs", "an integer", "a decimal")],
        [{ max_tokens: true }, wrongType("max_tokens", "an integer", "a boolean")],
        [{ messages: { role: "user", content: "hi" } }, wrongType("messages", "an array", "an object")],
        [
          { tools: { type: "function", function: { name: "f" } } },
          wrongType("tools", "an array", "an object"),
        ],
        [{ model: 7 }, wrongType("model", "a string", "an integer")],
        [{ stream: "yes" }, wrongType("stream", "a boolean", "a string")],
        [
          { messages: [{ role: "user", content: 5 }] },
          wrongType("messages.0.content", "a string or an array", "an integer"),
        ],
        [{ top_p: [] }, wrongType("top_p", "a number", "an array")],
        [{ tool_choice: 5 }, wrongType("tool_choice", "a string or an object", "an integer")],
      ],
      (extra) =>
        openai.chat.completions.create({
          model: "llama-tools",
          messages: [{ role: "user", content: "hi" }],
          ...extra,
        } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
    );
  });

  it("responses.create", async () => {
    await refusals(
      [
        [{ temperature: "5" }, wrongType("temperature", "a number", "a string")],
        [{ max_output_tokens: 2.5 }, wrongType("max_output_tokens", "an integer", "a decimal")],
        [{ max_output_tokens: "5" }, wrongType("max_output_tokens", "an integer", "a string")],
        [{ tools: { type: "function", name: "f" } }, wrongType("tools", "an array", "an object")],
        [{ instructions: 5 }, wrongType("instructions", "a string", "an integer")],
        [
          { input: [{ role: "user", content: 5 }] },
          wrongType("input.0.content", "a string or an array", "an integer"),
        ],
      ],
      responsesWith,
    );
  });

  it("embeddings.create", async () => {
    await refusals(
      [
        [{ dimensions: "8" }, wrongType("dimensions", "an integer", "a string")],
        [{ dimensions: 8.5 }, wrongType("dimensions", "an integer", "a decimal")],
        [{ model: 7 }, wrongType("model", "a string", "an integer")],
        [{ user: 5 }, wrongType("user", "a string", "an integer")],
        [{ input: 5 }, wrongType("input", "a string or an array of strings", "an integer")],
        [{ input: { text: "hi" } }, wrongType("input", "a string or an array of strings", "an object")],
      ],
      (extra) =>
        openai.embeddings.create({
          model: "embed-small",
          input: "hi",
          ...extra,
        } as OpenAI.EmbeddingCreateParams),
    );
  });
});

/**
 * A number out of its field's range is refused as OpenAI refuses it: 400, OpenAI's code for it
 * (`integer_below_min_value`, `decimal_above_max_value`, …), `param` naming the field, and its
 * words (`Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0
 * instead.`), not a schema library's `max_tokens: Invalid value: Expected >=1 but received 0`
 * under `invalid_value`. An integer field says "integer", any other number field "decimal", as
 * OpenAI does whatever was sent (`temperature: 3` is a decimal above its maximum). Nothing reaches
 * the backend.
 */
describe("a number out of its field's range is refused in OpenAI's words and code", () => {
  const outOfRange = (param: string, kind: "integer" | "decimal", bound: string, got: number) => {
    const below = bound.startsWith(">=");
    return {
      status: 400,
      type: "invalid_request_error",
      code: `${kind}_${below ? "below_min" : "above_max"}_value`,
      param,
      message: `Invalid '${param}': ${kind} ${below ? "below minimum" : "above maximum"} value. Expected a value ${bound}, but got ${got} instead.`,
    };
  };

  it("chat.completions.create, streamed or not", async () => {
    for (const stream of [false, true])
      await refusals(
        [
          [{ max_tokens: 0 }, outOfRange("max_tokens", "integer", ">= 1", 0)],
          [{ max_completion_tokens: -5 }, outOfRange("max_completion_tokens", "integer", ">= 1", -5)],
          [{ seed: -1 }, outOfRange("seed", "integer", ">= 0", -1)],
          [{ logprobs: true, top_logprobs: 50 }, outOfRange("top_logprobs", "integer", "<= 20", 50)],
          [{ temperature: 3 }, outOfRange("temperature", "decimal", "<= 2", 3)],
          [{ temperature: -0.5 }, outOfRange("temperature", "decimal", ">= 0", -0.5)],
          [{ top_p: 1.5 }, outOfRange("top_p", "decimal", "<= 1", 1.5)],
          [{ presence_penalty: -3 }, outOfRange("presence_penalty", "decimal", ">= -2", -3)],
          [{ frequency_penalty: 2.5 }, outOfRange("frequency_penalty", "decimal", "<= 2", 2.5)],
        ],
        chatWith(stream),
      );
  });

  it("responses.create", async () => {
    await refusals(
      [
        [{ max_output_tokens: 0 }, outOfRange("max_output_tokens", "integer", ">= 1", 0)],
        [{ temperature: 2.5 }, outOfRange("temperature", "decimal", "<= 2", 2.5)],
        [{ top_p: -1 }, outOfRange("top_p", "decimal", ">= 0", -1)],
      ],
      responsesWith,
    );
  });

  it("embeddings.create", async () => {
    await refusals([[{ dimensions: 0 }, outOfRange("dimensions", "integer", ">= 1", 0)]], (extra) =>
      openai.embeddings.create({
        model: "embed-small",
        input: "hi",
        ...extra,
      } as OpenAI.EmbeddingCreateParams),
    );
  });
});

/**
 * A string or a list too long, or a string not of its pattern, is refused in OpenAI's words and
 * code (`Invalid 'user': string too long. Expected a string with maximum length 256, but got a
 * string with length 300 instead.`, `string_above_max_length`), not a schema library's `user:
 * Invalid length: Expected <=256 but received 300` under `invalid_value`; a list for a map
 * (`logit_bias: [1]`) is of the wrong type, `invalid_type`, as a string for it is.
 */
describe("a string or list too long, or not of its pattern, is refused in OpenAI's words and code", () => {
  const refusal = (param: string, code: string, message: string) => ({
    status: 400,
    type: "invalid_request_error",
    code,
    param,
    message: `Invalid '${param}': ${message}`,
  });
  const tool = (name: string) => ({ type: "function", function: { name, parameters: { type: "object" } } });
  const longUser = [
    { user: "u".repeat(300) },
    refusal(
      "user",
      "string_above_max_length",
      "string too long. Expected a string with maximum length 256, but got a string with length 300 instead.",
    ),
  ] as const;

  it("chat.completions.create, streamed or not", async () => {
    for (const stream of [false, true])
      await refusals(
        [
          longUser,
          [
            { tools: Array.from({ length: 129 }, (_, i) => tool(`f${i}`)) },
            refusal(
              "tools",
              "array_above_max_length",
              "array too long. Expected an array with maximum length 128, but got an array with length 129 instead.",
            ),
          ],
          // Were "stop: at most 4 stop sequences, but got 5" and "stop.0: a stop sequence is at most 64 characters, but got 65".
          [
            { stop: ["a", "b", "c", "d", "e"] },
            refusal(
              "stop",
              "array_above_max_length",
              "array too long. Expected an array with maximum length 4, but got an array with length 5 instead.",
            ),
          ],
          [
            { stop: ["s".repeat(65)] },
            refusal(
              "stop.0",
              "string_above_max_length",
              "string too long. Expected a string with maximum length 64, but got a string with length 65 instead.",
            ),
          ],
          [
            { stop: "s".repeat(65) },
            refusal(
              "stop",
              "string_above_max_length",
              "string too long. Expected a string with maximum length 64, but got a string with length 65 instead.",
            ),
          ],
          [
            { tools: [tool("get weather!")] },
            refusal(
              "tools.0.function.name",
              "invalid_value",
              "string does not match pattern. Expected a string that matches the pattern '^[A-Za-z0-9_.-]+$'.",
            ),
          ],
          [
            { logit_bias: { a: 1 } },
            refusal(
              "logit_bias.a",
              "invalid_value",
              "string does not match pattern. Expected a string that matches the pattern '^[0-9]{1,9}$'.",
            ),
          ],
          [
            { logit_bias: [1] },
            {
              status: 400,
              type: "invalid_request_error",
              code: "invalid_type",
              param: "logit_bias",
              message: "Invalid type for 'logit_bias': expected an object, but got an array instead.",
            },
          ],
        ],
        chatWith(stream),
      );
  });

  it("responses.create", async () => {
    await refusals([longUser], responsesWith);
  });
});

/**
 * A JSON Schema nested deeper than any real one (a tool's `parameters`, a `json_schema` format) is
 * refused by name, 400 `invalid_value`, before any provider is asked: 5,000 levels ran the
 * request's canonical JSON out of stack, the gateway's 500 `internal_error`. Sent as raw JSON text,
 * as curl would (a client's own JSON.stringify of so deep an object may run out of stack first).
 * One as deep as the limit is carried whole.
 */
describe("a schema nested deeper than any real one is refused by name, not the gateway's 500", () => {
  /** JSON text of an object `depth` levels deep. */
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
  const deep = nested(5000);
  const cases: [string, string, string][] = [
    [
      "chat/completions",
      `{"model":"llama-tools","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]`,
      "tools.0.function.parameters",
    ],
    [
      "chat/completions",
      `{"model":"llama-tools","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deep}}}`,
      "response_format.json_schema.schema",
    ],
    [
      "responses",
      `{"model":"llama-tools","input":"hi","tools":[{"type":"function","name":"f","parameters":${deep}}]`,
      "tools.0.parameters",
    ],
    [
      "responses",
      `{"model":"llama-tools","input":"hi","text":{"format":{"type":"json_schema","name":"x","schema":${deep}}}`,
      "text.format.schema",
    ],
  ];

  it("chat.completions and responses, streamed or not", async () => {
    const asked = backend.requests.length;
    for (const [route, body, param] of cases)
      for (const stream of ["", ',"stream":true']) {
        const sent = `${body}${stream}}`;
        const res = await fetch(`${net.gateway.url}/${route}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: sent,
        });
        expect([param, stream, res.status, await res.json()]).toEqual([
          param,
          stream,
          400,
          {
            error: {
              message: `${param}: nested more than ${MAX_JSON_DEPTH} levels deep; a schema needs far fewer`,
              type: "invalid_request_error",
              param,
              code: "invalid_value",
            },
          },
        ]);
      }
    expect(backend.requests.length).toBe(asked);
  });

  it("carries one as deep as the limit", async () => {
    const parameters = JSON.parse(nested(MAX_JSON_DEPTH)) as Record<string, unknown>;
    await chatWith(false)({ tools: [{ type: "function", function: { name: "f", parameters } }] });
    expect(backend.requests.at(-1)).toMatchObject({ tools: [{ function: { name: "f", parameters } }] });
  });
});

/**
 * A program appends the answer's message to its conversation as it came (`messages.push(
 * completion.choices[0].message)`): OpenAI's carry `refusal: null` and `annotations: []`, so a
 * conversation begun there and continued here sends both back. Neither asks for anything; an
 * annotation that says something (a citation) is refused by name, as on /v1/responses.
 */
describe("an assistant message sent back as OpenAI answered it", () => {
  const asOpenAiAnswered = (annotations: unknown[]) => ({
    role: "assistant",
    content: "Echo: hello",
    refusal: null,
    annotations,
  });
  const turns = (earlier: Record<string, unknown>) => [
    { role: "user", content: "hello" },
    earlier,
    { role: "user", content: "again" },
  ];

  it("is carried as the conversation's turn, its empty annotations and null refusal asking for nothing", async () => {
    const answer = await openai.chat.completions.create({
      model: "llama-tools",
      messages: turns(asOpenAiAnswered([])) as unknown as OpenAI.ChatCompletionMessageParam[],
    });
    expect(answer.choices[0]?.message.content).toBe("Echo: again");
    expect((backend.requests.at(-1) as { messages: unknown[] }).messages).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "Echo: hello" },
      { role: "user", content: "again" },
    ]);
  });

  it("with an annotation in it: refused naming it, nothing asked of the backend", async () => {
    const asked = backend.requests.length;
    const cited = { type: "url_citation", url_citation: { url: "https://example.com", title: "x" } };
    const err = await openai.chat.completions
      .create({
        model: "llama-tools",
        messages: turns(asOpenAiAnswered([cited])) as unknown as OpenAI.ChatCompletionMessageParam[],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 400, param: "messages.1.annotations" });
    expect(backend.requests.length).toBe(asked);
  });
});
