import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { flatPrice, type ToolCallDelta } from "../../protocol";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * An honest provider whose backend ignores parallel_tool_calls (it makes two calls whatever was
 * asked): the requester refuses a second call where one was asked for (OVER_REPORT,
 * unasked-tool-calls.test.ts), and since 60f2136 the provider refused the whole request
 * UNSUPPORTED. The first call is whole when the second begins, so the provider now ends the answer
 * there ("tool_calls", the first call, paid) as a backend that honours the field would have.
 * (A call tool_choice ruled out: engine-ignores-tool-choice.test.ts.)
 */
class ChoiceBlindEngine extends ScriptedEngine {
  override async generate(request: EngineRequest, onChunk: ChunkSink): Promise<EngineResult> {
    const name = request.tools?.[0]?.function.name ?? "none";
    for (const index of [0, 1]) {
      const call: ToolCallDelta = {
        index,
        id: `c${index}`,
        type: "function",
        function: { name, arguments: "{}" },
      };
      await onChunk({ text: "", tokens: 2, toolCalls: [call] });
    }
    return { finishReason: "tool_calls", promptTokens: 10, completionTokens: 4 };
  }
}

const tool = (name: string) => ({ type: "function", function: { name, parameters: { type: "object" } } });

let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

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
});
