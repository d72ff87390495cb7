import { describe, expect, it } from "vitest";
import { ResponseEvents } from "../../client/gateway/responses-answer";
import type { ChatCompletionChunk } from "../../client/sdk/openai-shapes";

/**
 * The Responses API's stream events made from a chat stream's chunks (responses-answer.ts), fed
 * chunks as a provider's answer sends them: text, then two tool calls in pieces.
 */
const chunk = (
  delta: ChatCompletionChunk["choices"][0]["delta"],
  finish: ChatCompletionChunk["choices"][0]["finish_reason"] = null,
): ChatCompletionChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 0,
  model: "m",
  choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
});

const call = (index: number, id: string, name: string, args: string) => [
  chunk({ tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }] }),
  chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, 3) } }] }),
  chunk({ tool_calls: [{ index, function: { arguments: args.slice(3) } }] }),
];

describe("the Responses stream of an answer with text and two tool calls", () => {
  it("closes each output item before the next is added, as OpenAI's stream does", () => {
    const events = new ResponseEvents({ id: "resp_abc", model: "m", createdAt: 0 });
    const all = [
      ...events.start(),
      ...[
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "Let me " }),
        chunk({ content: "check." }),
        ...call(0, "call_a", "get_weather", '{"city":"Oslo"}'),
        ...call(1, "call_b", "get_time", '{"zone":"CET"}'),
        chunk({}, "tool_calls"),
      ].flatMap((c) => events.chunk(c)),
      ...events.end(),
    ] as {
      type: string;
      sequence_number: number;
      output_index?: number;
      item?: { type: string; status: string };
    }[];
    const items = all
      .filter((e) => e.type === "response.output_item.added" || e.type === "response.output_item.done")
      .map((e) => `${e.type.slice("response.output_item.".length)} ${e.output_index} ${e.item?.type}`);
    expect(items).toEqual([
      "added 0 message",
      "done 0 message",
      "added 1 function_call",
      "done 1 function_call",
      "added 2 function_call",
      "done 2 function_call",
    ]);
    // Each item's own events lie between its added and its done.
    for (const [at, e] of all.entries()) {
      if (e.output_index === undefined) continue;
      const added = all.findIndex(
        (x) => x.type === "response.output_item.added" && x.output_index === e.output_index,
      );
      const done = all.findIndex(
        (x) => x.type === "response.output_item.done" && x.output_index === e.output_index,
      );
      expect(at).toBeGreaterThanOrEqual(added);
      expect(at).toBeLessThanOrEqual(done);
    }
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    const completed = all.at(-1) as unknown as {
      type: string;
      response: { output: { type: string; status: string; arguments?: string }[]; output_text: string };
    };
    expect(completed.type).toBe("response.completed");
    expect(completed.response.output_text).toBe("Let me check.");
    expect(completed.response.output).toMatchObject([
      { type: "message", status: "completed", content: [{ type: "output_text", text: "Let me check." }] },
      {
        type: "function_call",
        call_id: "call_a",
        name: "get_weather",
        arguments: '{"city":"Oslo"}',
        status: "completed",
      },
      {
        type: "function_call",
        call_id: "call_b",
        name: "get_time",
        arguments: '{"zone":"CET"}',
        status: "completed",
      },
    ]);
  });

  it("gives text after a call a message item of its own, so no item reopens once done", () => {
    const events = new ResponseEvents({ id: "resp_abc", model: "m", createdAt: 0 });
    const all = [
      ...events.start(),
      ...[
        chunk({ content: "First." }),
        ...call(0, "call_a", "f", "{}xyz"),
        chunk({ content: " Then." }),
      ].flatMap((c) => events.chunk(c)),
      ...events.end(),
    ] as { type: string; output_index?: number; item?: { id: string; type: string } }[];
    const added = all.filter((e) => e.type === "response.output_item.added");
    expect(added.map((e) => [e.output_index, e.item?.type])).toEqual([
      [0, "message"],
      [1, "function_call"],
      [2, "message"],
    ]);
    expect(new Set(added.map((e) => e.item?.id)).size).toBe(3);
    const completed = all.at(-1) as unknown as { response: { output_text: string; output: unknown[] } };
    expect(completed.response.output_text).toBe("First. Then.");
    expect(completed.response.output).toHaveLength(3);
  });
});
