import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { ResponseEvents, wholeResponse } from "../../client/gateway/responses-answer";
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

async function* chunksOf(list: readonly ChatCompletionChunk[]): AsyncGenerator<ChatCompletionChunk> {
  yield* list;
}

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

/**
 * The events as the `openai` package's own stream helper reads them (`responses.stream`, its
 * accumulator and `finalResponse`), served by a `fetch` that answers with them as SSE.
 */
async function throughOpenAi(chunks: ChatCompletionChunk[]) {
  const events = new ResponseEvents({ id: "resp_abc", model: "m", createdAt: 0 });
  const all = [...events.start(), ...chunks.flatMap((c) => events.chunk(c)), ...events.end()] as {
    type: string;
  }[];
  const sse = all.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
  const openai = new OpenAI({
    apiKey: "unused",
    baseURL: "http://gateway.invalid/v1",
    fetch: async () => new Response(sse, { headers: { "content-type": "text/event-stream" } }),
  });
  const stream = openai.responses.stream({ model: "m", input: "hi" });
  const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const e of stream) seen.push(e);
  return { seen, final: await stream.finalResponse() };
}

/** Every event about an output item lies between its `added` and its `done`, and `done` says what the end says. */
function expectItemsClosedOnce(
  seen: OpenAI.Responses.ResponseStreamEvent[],
  final: OpenAI.Responses.Response,
) {
  for (const [at, e] of seen.entries()) {
    if (!("output_index" in e)) continue;
    const added = seen.findIndex(
      (x) => x.type === "response.output_item.added" && x.output_index === e.output_index,
    );
    const done = seen.findIndex(
      (x) => x.type === "response.output_item.done" && x.output_index === e.output_index,
    );
    expect(added, `${e.type} at ${at}`).toBeGreaterThanOrEqual(0);
    expect(at, `${e.type} at ${at} after its item's done`).toBeLessThanOrEqual(done);
  }
  const dones = seen.filter((e) => e.type === "response.output_item.done");
  // (the helper's finalResponse adds `parsed: null` to each text part)
  expect(final.output).toMatchObject(dones.map((d) => d.item));
  expect(final.output).toHaveLength(dones.length);
}

describe("the Responses stream's edge cases, read by the openai package's stream helper", () => {
  it("cut at max_output_tokens in a call after text: the message done says completed, as the end does; the call is incomplete", async () => {
    const { seen, final } = await throughOpenAi([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Let me check." }),
      chunk({
        tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: "" } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      chunk({}, "length"),
    ]);
    expect(final.status).toBe("incomplete");
    expect(final.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(final.output.map((o) => [o.type, (o as { status: string }).status])).toEqual([
      ["message", "completed"],
      ["function_call", "incomplete"],
    ]);
    expectItemsClosedOnce(seen, final);
    expect(seen.at(-1)?.type).toBe("response.incomplete");
  });

  it("cut at max_output_tokens in text: the message is incomplete in its done and at the end", async () => {
    const { seen, final } = await throughOpenAi([chunk({ content: "one two" }), chunk({}, "length")]);
    expect(final.output).toMatchObject([{ type: "message", status: "incomplete" }]);
    expectItemsClosedOnce(seen, final);
  });

  it("argument pieces of a call arriving after a later call began: no event on a closed item, every piece in the call", async () => {
    const { seen, final } = await throughOpenAi([
      chunk({
        tool_calls: [
          { index: 0, id: "call_a", type: "function", function: { name: "f", arguments: '{"a"' } },
        ],
      }),
      chunk({
        tool_calls: [
          { index: 1, id: "call_b", type: "function", function: { name: "g", arguments: '{"b"' } },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: ":2}" } }] }),
      chunk({ content: "Done." }),
      chunk({}, "tool_calls"),
    ]);
    expect(final.status).toBe("completed");
    expect(final.output).toMatchObject([
      { type: "function_call", call_id: "call_a", arguments: '{"a":1}', status: "completed" },
      { type: "function_call", call_id: "call_b", arguments: '{"b":2}', status: "completed" },
      { type: "message", status: "completed", content: [{ type: "output_text", text: "Done." }] },
    ]);
    expect(final.output_text).toBe("Done.");
    expectItemsClosedOnce(seen, final);
    // What the deltas of each call add up to is its arguments.
    for (const [n, item] of final.output.entries()) {
      if (item.type !== "function_call") continue;
      const deltas = seen
        .filter((e) => e.type === "response.function_call_arguments.delta" && e.output_index === n)
        .map((e) => (e as { delta: string }).delta)
        .join("");
      expect(deltas).toBe(item.arguments);
    }
  });
});

describe("a whole Responses answer cut at max_output_tokens", () => {
  it("is incomplete in its last item only, as the streamed one's end says", async () => {
    const r = await wholeResponse(
      { id: "resp_abc", model: "m", createdAt: 0 },
      chunksOf([
        chunk({ content: "Let me check." }),
        chunk({
          tool_calls: [
            { index: 0, id: "call_a", type: "function", function: { name: "f", arguments: '{"ci' } },
          ],
        }),
        chunk({}, "length"),
      ]),
    );
    expect(r.status).toBe("incomplete");
    expect(r.output).toMatchObject([
      { type: "message", status: "completed" },
      { type: "function_call", status: "incomplete" },
    ]);
    expect(r.output).toHaveLength(2);
  });
});

describe("an answer its backend cut for content (finish_reason content_filter)", () => {
  it("is incomplete with reason content_filter, streamed and whole, as OpenAI's Response says it", async () => {
    const { seen, final } = await throughOpenAi([chunk({ content: "Some" }), chunk({}, "content_filter")]);
    expect(final).toMatchObject({ status: "incomplete", incomplete_details: { reason: "content_filter" } });
    expect(final.output).toMatchObject([{ type: "message", status: "incomplete" }]);
    expect(seen.at(-1)?.type).toBe("response.incomplete");
    const whole = await wholeResponse(
      { id: "resp_abc", model: "m", createdAt: 0 },
      chunksOf([chunk({ content: "Some" }), chunk({}, "content_filter")]),
    );
    expect(whole).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "content_filter" },
      output: [{ type: "message", status: "incomplete" }],
    });
  });
});
