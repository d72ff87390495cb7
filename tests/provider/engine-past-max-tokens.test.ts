import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

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

let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

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
