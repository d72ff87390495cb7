import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { flatPrice, type ToolCallDelta } from "../../protocol";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Honest providers whose engines ignore a request field the requester holds them to (an HTTP
 * backend that drops it): each provider holds its engine to the field itself, so it is not taken
 * for a liar. One server; each case its own provider and client (stopped after it).
 */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterEach(() => stopAll());
afterAll(async () => {
  await cleanup();
});

/**
 * An honest provider whose engine ignores `max_tokens` (an HTTP backend that does not read it):
 * the provider streamed every token it was given, the requester (which never pays past the cap it
 * asked for) failed the answer OVER_REPORT and dropped the session, and the provider was paid
 * nothing past the cap. The provider now stops the answer at the cap itself: "length", the answer
 * whole and paid, the session goes on.
 */
class CapBlindEngine extends ScriptedEngine {
  override generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    const { max_tokens: _ignored, ...rest } = request;
    return super.generate(rest, onChunk, signal);
  }
}

describe("an engine that ignores max_tokens", () => {
  it("is stopped at the cap by its provider: a whole answer, finish length, paid, the session kept", async () => {
    const engine = new CapBlindEngine({ reply: () => "one two three four five six seven eight" });
    await relayProvider(url, { engine });
    const client = await relayClient(url);
    const answer = (await ask(client, "count", { max_tokens: 3 })) as ChatCompletion;
    expect(answer.choices[0]?.message.content).toBe("one two three ");
    expect(answer.choices[0]?.finish_reason).toBe("length");
    expect(answer.usage.completion_tokens).toBe(3);
    // The same session answers again: nothing was refused.
    const again = (await ask(client, "again", { max_tokens: 2 })) as ChatCompletion;
    expect(again.choices[0]?.message.content).toBe("one two ");
    expect(again.usage.silk?.failovers).toBe(0);
  }, 30_000);
});

/**
 * An honest provider whose engine ignores `stop` (an HTTP backend that drops the field): the
 * requester refuses an answer that streams a stop sequence (OVER_REPORT, past-stop.test.ts), so
 * such a provider was called a liar and paid nothing from the sequence on. The provider now ends
 * the answer before the sequence itself, holding back text that may be its start: "stop", the
 * answer up to the sequence, paid, the session kept.
 */
class StopBlindEngine extends ScriptedEngine {
  override generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    const { stop: _ignored, ...rest } = request;
    return super.generate(rest, onChunk, signal);
  }
}

describe("an engine that ignores stop", () => {
  it("is stopped before the sequence by its provider, one split across pieces too: finish stop, paid, the session kept", async () => {
    const engine = new StopBlindEngine({ reply: () => "one two three four five six" });
    await relayProvider(url, { engine });
    const client = await relayClient(url);
    // "ee fo" starts in "three " and ends in "four ": the provider held "three " back until it knew.
    const split = (await ask(client, "count", { stop: ["ee fo"] })) as ChatCompletion;
    expect(split.choices[0]?.message.content).toBe("one two thr");
    expect(split.choices[0]?.finish_reason).toBe("stop");
    // The pieces before the sequence and the one it starts in are billed ("three "), not those after.
    expect(split.usage.completion_tokens).toBe(3);
    // Whole in one piece, with a second sequence that never comes: the text before it is kept.
    const whole = (await ask(client, "again", { stop: ["zzz", "hre"] })) as ChatCompletion;
    expect(whole.choices[0]?.message.content).toBe("one two t");
    expect(whole.choices[0]?.finish_reason).toBe("stop");
    // Text held back as a possible start ("e" of "e f") that no sequence followed is streamed at the end.
    const kept = (await ask(client, "last", { stop: ["e x"] })) as ChatCompletion;
    expect(kept.choices[0]?.message.content).toBe("one two three four five six");
    expect(kept.choices[0]?.finish_reason).toBe("stop");
    expect(kept.usage.silk?.failovers).toBe(0);
  }, 30_000);

  it("and max_tokens: text held back within the cap is kept when the next piece crosses it", async () => {
    await relayProvider(url, {
      engine: new StopAndCapBlindEngine({ reply: () => "one two three four five" }),
    });
    const client = await relayClient(url);
    // "three " ends in "e ", the start of "e x": held; "four " shows it is not one, and crosses the cap.
    const answer = (await ask(client, "count", { stop: ["e x"], max_tokens: 3 })) as ChatCompletion;
    expect(answer.choices[0]?.message.content).toBe("one two three ");
    expect(answer.choices[0]?.finish_reason).toBe("length");
    expect(answer.usage.completion_tokens).toBe(3);
  }, 30_000);
});

class StopAndCapBlindEngine extends ScriptedEngine {
  override generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    const { stop: _stop, max_tokens: _cap, ...rest } = request;
    return super.generate(rest, onChunk, signal);
  }
}

/**
 * An honest provider whose backend ignores parallel_tool_calls (it makes two calls whatever was
 * asked): the requester refuses a second call where one was asked for (OVER_REPORT,
 * unasked-tool-calls.test.ts), and since 60f2136 the provider refused the whole request
 * UNSUPPORTED. The first call is whole when the second begins, so the provider now ends the answer
 * there ("tool_calls", the first call, paid) as a backend that honours the field would have.
 * (A call tool_choice ruled out: engine-ignores-tool-choice.test.ts.)
 */
class ChoiceBlindEngine extends ScriptedEngine {
  /** `together`: both calls in one chunk, as Ollama streams every call of an answer at once. */
  constructor(private readonly together = false) {
    super();
  }
  override async generate(request: EngineRequest, onChunk: ChunkSink): Promise<EngineResult> {
    const name = request.tools?.[0]?.function.name ?? "none";
    const calls = [0, 1].map(
      (index): ToolCallDelta => ({
        index,
        id: `c${index}`,
        type: "function",
        function: { name, arguments: "{}" },
      }),
    );
    if (this.together) await onChunk({ text: "", tokens: 4, toolCalls: calls });
    else for (const call of calls) await onChunk({ text: "", tokens: 2, toolCalls: [call] });
    return { finishReason: "tool_calls", promptTokens: 10, completionTokens: 4 };
  }
}

const tool = (name: string) => ({ type: "function", function: { name, parameters: { type: "object" } } });

describe("a backend that ignores parallel_tool_calls", () => {
  it("has its answer ended by its provider at the first call, whole and paid, the session kept", async () => {
    await relayProvider(url, {
      engine: new ChoiceBlindEngine(),
      models: [{ model: "test-model", price: flatPrice(10n), features: ["tools"] }],
    });
    const client = await relayClient(url);
    const tools = [tool("get_weather"), tool("delete_files")];
    const one = (await ask(client, "weather?", { tools, parallel_tool_calls: false })) as ChatCompletion;
    expect(one.choices[0]?.message.tool_calls?.map((c) => c.function.name)).toEqual(["get_weather"]);
    expect(one.choices[0]?.finish_reason).toBe("tool_calls");
    expect(one.usage.completion_tokens).toBe(2);
    // Nothing was held against the provider: the same session answers.
    const again = (await ask(client, "weather?", { tools })) as ChatCompletion;
    expect(again.choices[0]?.message.tool_calls).toHaveLength(2);
    expect(again.usage.silk?.failovers).toBe(0);
  }, 30_000);

  it("both calls in one chunk (Ollama's way): the first kept, the answer ended with it", async () => {
    await relayProvider(url, {
      engine: new ChoiceBlindEngine(true),
      models: [{ model: "test-model", price: flatPrice(10n), features: ["tools"] }],
    });
    const client = await relayClient(url);
    const tools = [tool("get_weather"), tool("delete_files")];
    const one = (await ask(client, "weather?", { tools, parallel_tool_calls: false })) as ChatCompletion;
    expect(one.choices[0]?.message.tool_calls?.map((c) => c.function.name)).toEqual(["get_weather"]);
    expect(one.choices[0]?.finish_reason).toBe("tool_calls");
    // The piece's 4 tokens shared by bytes: half of them for the call kept.
    expect(one.usage.completion_tokens).toBe(2);
    expect(one.usage.silk?.failovers).toBe(0);
  }, 30_000);

  it("both calls in one chunk, the first not the function tool_choice names: refused UNSUPPORTED, nothing streamed", async () => {
    await relayProvider(url, {
      engine: new ChoiceBlindEngine(true),
      models: [{ model: "test-model", price: flatPrice(10n), features: ["tools"] }],
    });
    const client = await relayClient(url);
    const tools = [tool("get_weather"), tool("delete_files")];
    const err = await ask(client, "weather?", {
      tools,
      parallel_tool_calls: false,
      tool_choice: { type: "function", function: { name: "delete_files" } },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNSUPPORTED", param: "tool_choice" });
  }, 30_000);
});
