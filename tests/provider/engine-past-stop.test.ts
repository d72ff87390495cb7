import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

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

let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

describe("an engine that ignores stop", () => {
  it("is stopped before the sequence by its provider, one split across pieces too: finish stop, paid, the session kept", async () => {
    const engine = new StopBlindEngine({ reply: () => "one two three four five six" });
    await relayProvider(url, { engine });
    const client = await relayClient(url);
    // "ee fo" starts in "three " and ends in "four ": the provider held "three " back until it knew.
    const split = (await ask(client, "count", { stop: ["ee fo"] })) as ChatCompletion;
    expect(split.choices[0]?.message.content).toBe("one two thr");
    expect(split.choices[0]?.finish_reason).toBe("stop");
    // The tokens generated to the sequence's end are billed, as OpenAI bills a stop sequence's.
    expect(split.usage.completion_tokens).toBe(4);
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
});
