import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { completionFromResult, type RunResult, streamChunks } from "../../client/sdk/completion-stream";
import type { AnswerDelta } from "../../client/sdk/requester-session";
import { AnswerBuilder, flatPrice } from "../../protocol";

/**
 * A streamed answer's tool calls as the `openai` package's own stream helper reads them
 * (`chat.completions.stream`, whose `finalChatCompletion` needs each call's id, type, name and
 * arguments). A provider may send a call's first piece bare, as the wire allows (no id, no type,
 * no arguments yet): the SDK's non-streamed answer fills them in (an id of the answer's own,
 * `call_<random>_<index>`, `function`, ""), and its chunks must say the same, or the helper throws
 * and the two forms disagree.
 */
const pieces: AnswerDelta[] = [
  { text: "", tokens: 1, toolCalls: [{ index: 0, function: { name: "get_weather" } }] },
  { text: "", tokens: 1, toolCalls: [{ index: 0, function: { arguments: '{"city":' } }] },
  { text: "", tokens: 1, toolCalls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
  {
    text: "",
    tokens: 1,
    toolCalls: [{ index: 1, id: "call_x", type: "function", function: { name: "now" } }],
  },
];

function result(): RunResult {
  const answer = new AnswerBuilder();
  for (const p of pieces) answer.add(p);
  return {
    text: answer.text,
    toolCalls: answer.toolCalls,
    unnamedCalls: answer.unnamedCalls,
    finishReason: "tool_calls",
    promptTokens: 5,
    completionTokens: 4,
    cost: 9n,
    price: flatPrice(1n),
    provider: "ab".repeat(32),
    failovers: 0,
    sent: { model: "m", messages: [{ role: "user", content: "hi" }] },
  };
}

/** The chunks streamChunks makes of `pieces`, served as SSE to the openai client's stream helper. */
async function throughOpenAi() {
  const chunks = await streamChunks(
    "m",
    async (onDelta) => {
      for (const p of pieces) onDelta(p, "ab".repeat(32));
      return result();
    },
    true,
    new AbortController(),
  );
  let sse = "";
  for await (const c of chunks) sse += `data: ${JSON.stringify(c)}\n\n`;
  sse += "data: [DONE]\n\n";
  const openai = new OpenAI({
    apiKey: "unused",
    baseURL: "http://gateway.invalid/v1",
    fetch: async () => new Response(sse, { headers: { "content-type": "text/event-stream" } }),
  });
  return openai.chat.completions
    .stream({ model: "m", messages: [{ role: "user", content: "hi" }] })
    .finalChatCompletion();
}

describe("a call's first piece sent bare by the provider", () => {
  it("streams with the id, type and arguments the whole answer has: the openai helper's final completion is it", async () => {
    const final = await throughOpenAi();
    const whole = completionFromResult("m", result());
    // Each answer draws its own id for the nameless call; the rest is the same.
    const own = expect.stringMatching(/^call_[0-9a-f]{18}_0$/);
    const expected = [
      { id: own, type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
      { id: "call_x", type: "function", function: { name: "now", arguments: "" } },
    ];
    expect(final.choices[0]?.message.tool_calls).toEqual(expected);
    expect(whole.choices[0]?.message.tool_calls).toEqual(expected);
    // The signed statement holds the call as `call_0` (both sides' AnswerBuilder), not as shown.
    expect(result().toolCalls[0]?.id).toBe("call_0");
  });
});
