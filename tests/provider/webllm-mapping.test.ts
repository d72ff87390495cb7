import { describe, expect, it } from "vitest";
import { judgeAnswer } from "../../protocol/audit-check";
import { runOnEngine } from "../../provider/serving/scoring";
import { type EngineChunk, EngineError, type EngineRequest } from "../../web/engines/engine";
import { webLlmSupport } from "../../web/engines/model-catalog";
import { WEBLLM_MIN_TOP_P } from "../../web/engines/webllm-request";
import { IMPOSSIBLE_LOGPROB, runWebLlm } from "../../web/engines/webllm-run";
import { scoresAlong, scoreWebLlm } from "../../web/engines/webllm-score";
import { FUNCTION_CALLING_MODELS, type GreedyStep, MlcEngineDouble } from "../doubles/mlc-engine";

/**
 * How the WebLLM engine maps Silk's (OpenAI's) requests onto WebLLM's chat API, against a double
 * of MLCEngine that throws where WebLLM throws (the real engine needs WebGPU and weights).
 */
const LLM = "Llama-3.2-1B-Instruct-q4f16_1-MLC";
const HERMES = FUNCTION_CALLING_MODELS[0]!;

async function run(engine: MlcEngineDouble, request: Omit<EngineRequest, "model">, signal?: AbortSignal) {
  const chunks: EngineChunk[] = [];
  const result = await runWebLlm(
    engine,
    { model: engine.model, ...request },
    (c) => void chunks.push(c),
    signal,
  );
  return { result, chunks, text: chunks.map((c) => c.text).join(""), sent: engine.requests.at(-1)! };
}

describe("WebLLM request mapping", () => {
  it("merges system and developer messages into one first system message and joins text parts", async () => {
    const engine = new MlcEngineDouble(LLM);
    const { text, result, sent } = await run(engine, {
      messages: [
        { role: "user", content: "earlier" },
        { role: "assistant", content: "yes" },
        { role: "developer", content: "be brief" },
        { role: "system", content: "be kind" },
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ],
    });
    expect(sent.messages[0]).toEqual({ role: "system", content: "be brief\n\nbe kind" });
    expect(sent.messages.filter((m) => m.role === "system")).toHaveLength(1);
    expect(sent.messages.at(-1)).toMatchObject({ role: "user", content: [{ type: "text", text: "a\nb" }] });
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(text).toBe("Echo: a\nb");
    // Usage comes only in WebLLM's last chunk; the prompt count is read from there.
    expect(result.promptTokens).toBeGreaterThan(0);
    expect(result.completionTokens).toBe(2);
    expect(engine.resets).toBe(1);
  });

  it("gives WebLLM a json_schema as a json_object with the schema as a string", async () => {
    const engine = new MlcEngineDouble(LLM);
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const { sent, text } = await run(engine, {
      messages: [{ role: "user", content: "Rome" }],
      response_format: { type: "json_schema", json_schema: { name: "place", schema } },
    });
    expect(sent.response_format).toEqual({ type: "json_object", schema: JSON.stringify(schema) });
    expect(JSON.parse(text)).toEqual({ city: "Rome" });
  });

  it("turns WebLLM's function calling into tool-call pieces with ids, paying for the raw tokens", async () => {
    const engine = new MlcEngineDouble(HERMES);
    const { chunks, result, sent } = await run(engine, {
      messages: [
        { role: "system", content: "you are a weather bot" },
        { role: "user", content: "Oslo" },
      ],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
      tool_choice: "auto",
    });
    // WebLLM writes its own system prompt for tools: ours goes in front of the user's message.
    expect(sent.messages).toEqual([{ role: "user", content: "you are a weather bot\n\nOslo" }]);
    expect(sent.tool_choice).toBeUndefined();
    const calls = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(calls).toEqual([
      {
        index: 0,
        // An id of the answer's own, as OpenAI's: `call_0` would repeat every turn.
        id: expect.stringMatching(/^call_[0-9a-f]{18}_0$/),
        type: "function",
        function: {
          name: "get_weather",
          arguments: JSON.stringify({ city: "you are a weather bot\n\nOslo" }),
        },
      },
    ]);
    // The next answer's call has another id: programs keying tool results by id keep turns apart.
    const again = await run(new MlcEngineDouble(HERMES), {
      messages: [{ role: "user", content: "Oslo" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
    });
    const next = again.chunks.flatMap((c) => c.toolCalls ?? [])[0];
    expect(next?.id).toMatch(/^call_[0-9a-f]{18}_0$/);
    expect(next?.id).not.toBe(calls[0]?.id);
    expect(chunks.every((c) => c.text === "")).toBe(true);
    expect(result.finishReason).toBe("tool_calls");
    // Every generated token is billed, held back while WebLLM streamed the raw call.
    expect(result.completionTokens).toBe(chunks.reduce((n, c) => n + c.tokens, 0));
    expect(result.completionTokens).toBeGreaterThan(1);
  });

  it("refuses by name what WebLLM cannot honour, before the engine sees it", async () => {
    const engine = new MlcEngineDouble(HERMES);
    const tools = [{ type: "function" as const, function: { name: "f" } }];
    const ask = { messages: [{ role: "user" as const, content: "x" }] };
    await expect(
      run(engine, { ...ask, tools, tool_choice: { type: "function", function: { name: "f" } } }),
    ).rejects.toThrow(/^tool_choice:/);
    await expect(run(engine, { ...ask, tools, response_format: { type: "json_object" } })).rejects.toThrow(
      /^response_format:/,
    );
    await expect(run(engine, { ...ask, tools, parallel_tool_calls: false })).rejects.toBeInstanceOf(
      EngineError,
    );
    expect(engine.requests).toHaveLength(0);
  });

  it("carries logprobs, penalties, logit_bias and seed, and leaves out the end-user id", async () => {
    const engine = new MlcEngineDouble(LLM);
    const { sent, chunks } = await run(engine, {
      messages: [{ role: "user", content: "two words" }],
      logprobs: true,
      top_logprobs: 1,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      logit_bias: { "7": -100 },
      seed: 9,
      user: "someone",
    });
    expect(sent).toMatchObject({
      logprobs: true,
      top_logprobs: 1,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      logit_bias: { "7": -100 },
      seed: 9,
    });
    expect(sent).not.toHaveProperty("user");
    expect(chunks.every((c) => c.logprobs?.length === 1)).toBe(true);
  });

  it("asks WebLLM for one top token when logprobs come without top_logprobs, and gives back none", async () => {
    // WebLLM records logprobs only when top_logprobs > 0: without this, an audit's challenge
    // (logprobs on, no top_logprobs) would get an answer with no logprobs and fail.
    const engine = new MlcEngineDouble(LLM);
    const { sent, chunks } = await run(engine, {
      messages: [{ role: "user", content: "a b c" }],
      logprobs: true,
    });
    expect(sent).toMatchObject({ logprobs: true, top_logprobs: 1 });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.logprobs?.length === 1 && c.logprobs[0]!.top_logprobs.length === 0)).toBe(
      true,
    );
    const plain = await run(engine, { messages: [{ role: "user", content: "a b c" }] });
    expect(plain.sent).not.toHaveProperty("top_logprobs");
    expect(plain.chunks.every((c) => !c.logprobs)).toBe(true);
  });

  it("drains an interrupted stream, so the next generation can start (WebLLM runs one at a time)", async () => {
    const engine = new MlcEngineDouble(LLM);
    const abort = new AbortController();
    let seen = 0;
    const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ");
    const result = await runWebLlm(
      engine,
      { model: LLM, messages: [{ role: "user", content: long }] },
      () => {
        if (++seen === 2) abort.abort();
      },
      abort.signal,
    );
    expect(result.finishReason).toBe("abort");
    expect(seen).toBeLessThan(5);
    const next = await run(engine, { messages: [{ role: "user", content: "again" }] });
    expect(next.text).toBe("Echo: again");
  });
});

describe("what a WebLLM model declares", () => {
  const record = (model_id: string, extra: object = {}) =>
    ({
      model: "https://example.org/w",
      model_id,
      model_lib: "https://example.org/lib.wasm",
      ...extra,
    }) as never;
  it("declares JSON and logprobs for chat models, tools only for WebLLM's function-calling ones", () => {
    expect(webLlmSupport(record(LLM, { overrides: { context_window_size: 4096 } }))).toEqual({
      features: ["structured_output", "logprobs", "scoring"],
      contextWindow: 4096,
    });
    expect(webLlmSupport(record(HERMES)).features).toContain("tools");
    expect(
      webLlmSupport(record("Phi-3.5-vision-instruct-q4f16_1-MLC", { model_type: 2 })).features,
    ).toContain("vision");
    expect(webLlmSupport(record("snowflake-arctic-embed-m-q0f32-MLC-b4", { model_type: 1 }))).toEqual({
      features: ["embeddings"],
    });
  });
});

describe("scoring on WebLLM: greedy regeneration with its top 5 tokens, over the common prefix", () => {
  const step = (token: string, logprob: number, ...others: [string, number][]): GreedyStep => ({
    token,
    logprob,
    top: [{ token, logprob }, ...others.map(([t, l]) => ({ token: t, logprob: l }))],
  });
  const path = [
    step("The", -0.1, ["A", -2.5]),
    step(" sky", -0.2, [" sea", -1.9]),
    step(" is", -0.05),
    step(" blue", -0.3, [" grey", -1.4], [" clear", -2.2]),
    step(".", -0.01),
  ];
  const request = {
    model: LLM,
    messages: [{ role: "user" as const, content: "What colour is the sky?" }],
    temperature: 0,
    seed: 7,
    logprobs: true,
    max_tokens: 5,
  };

  it("scores every token the greedy path shares, greedy, top 5, as many tokens as given, chat reset", async () => {
    const engine = new MlcEngineDouble(LLM, path);
    const scored = await scoreWebLlm(engine, { ...request, score: ["The", " sky", " is", " blue", "."] }, [
      "The",
      " sky",
      " is",
      " blue",
      ".",
    ]);
    expect(scored.logprobs).toEqual([-0.1, -0.2, -0.05, -0.3, -0.01]);
    expect(scored.promptTokens).toBeGreaterThan(0);
    const sent = engine.requests.at(-1)!;
    expect(sent).toMatchObject({
      temperature: 1,
      top_p: WEBLLM_MIN_TOP_P,
      logprobs: true,
      top_logprobs: 5,
      max_tokens: 5,
    });
    expect(sent).not.toHaveProperty("score");
    expect(engine.resets).toBe(1);
  });

  it("at the first difference takes the given token's logprob from the top 5, then stops", async () => {
    const engine = new MlcEngineDouble(LLM, path);
    const tokens = ["The", " sky", " is", " grey", " today"];
    expect((await scoreWebLlm(engine, request, tokens)).logprobs).toEqual([-0.1, -0.2, -0.05, -1.4]);
    const along = path.map((g) => ({ token: g.token, logprob: g.logprob, top_logprobs: g.top }));
    // Outside the top 5: not scored.
    expect(scoresAlong(along, ["The", " ocean"])).toEqual([-0.1]);
    expect(scoresAlong(along, ["Why"])).toEqual([]);
    // A longer answer than the greedy one: scored as far as the path goes.
    expect(scoresAlong(along.slice(0, 2), ["The", " sky", " is"])).toEqual([-0.1, -0.2]);
  });

  it("greedy with logprobs is sent as temperature 1 with top_p 1e-5, so the logprobs are the model's, not temperature 0's zeros", async () => {
    const greedy = { messages: [{ role: "user" as const, content: "sky?" }], temperature: 0, max_tokens: 5 };
    const withLogprobs = await run(new MlcEngineDouble(LLM, path), {
      ...greedy,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(withLogprobs.sent).toMatchObject({ temperature: 1, top_p: WEBLLM_MIN_TOP_P });
    expect(withLogprobs.text).toBe("The sky is blue.");
    expect(withLogprobs.chunks.flatMap((c) => c.logprobs ?? []).map((e) => e.logprob)).toEqual([
      -0.1, -0.2, -0.05, -0.3, -0.01,
    ]);
    // Without logprobs, greedy is sent as it came; and at temperature 0 WebLLM would have said 0 each.
    expect((await run(new MlcEngineDouble(LLM, path), greedy)).sent).toMatchObject({ temperature: 0 });
    expect((await run(new MlcEngineDouble(LLM, path), greedy)).sent).not.toHaveProperty("top_p");
  });

  it("a top token WebLLM gives probability 0 is not scored, and never reaches the wire as -Infinity", async () => {
    // What WebLLM reports at temperature 0 (softmax at 1e-6): 0 for each greedy token, -Infinity for the others.
    const cold = [
      step("The", 0, ["A", Number.NEGATIVE_INFINITY]),
      step(" sky", 0, [" sea", Number.NEGATIVE_INFINITY]),
    ];
    const along = cold.map((g) => ({ token: g.token, logprob: g.logprob, top_logprobs: g.top }));
    // Two honest GPUs whose greedy paths part on a near-tie: the parting token says nothing.
    expect(scoresAlong(along, ["The", " sea"])).toEqual([0]);
    const { chunks } = await run(new MlcEngineDouble(LLM, cold), {
      messages: [{ role: "user", content: "sky?" }],
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const entries = chunks.flatMap((c) => c.logprobs ?? []);
    expect(entries.map((e) => e.top_logprobs.map((t) => t.logprob))).toEqual([
      [0, IMPOSSIBLE_LOGPROB],
      [0, IMPOSSIBLE_LOGPROB],
    ]);
    expect(JSON.parse(JSON.stringify(entries))).toEqual(entries);
  });

  it("a provider streams back the scored prefix, and the audit compares over it", async () => {
    const engine = new MlcEngineDouble(LLM, path);
    const chunks: EngineChunk[] = [];
    const tokens = ["The", " sky", " is", " grey", " today"];
    const fake = { score: (r: EngineRequest, t: readonly string[]) => scoreWebLlm(engine, r, t) } as never;
    const result = await runOnEngine(
      fake,
      { ...request, score: tokens },
      (c) => void chunks.push(c),
      new AbortController().signal,
    );
    expect(chunks.map((c) => c.text)).toEqual(["The", " sky", " is", " grey"]);
    expect(result.completionTokens).toBe(4);
    const suspect = {
      text: tokens.join(""),
      logprobs: tokens.map((token, i) => ({
        token,
        logprob: [-0.1, -0.2, -0.05, -1.4, -0.6][i]!,
        top_logprobs: [],
      })),
    };
    // Four tokens compared: too few to decide (minTokens 16), never a false failure.
    expect(judgeAnswer(suspect, [-0.1, -0.2, -0.05, -1.4])).toMatchObject({
      result: "inconclusive",
      compared: 4,
    });
  });
});
