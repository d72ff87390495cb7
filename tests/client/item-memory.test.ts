import { describe, expect, it } from "vitest";
import { HttpError } from "../../client/gateway/http-errors";
import { ItemMemory } from "../../client/gateway/item-memory";
import { parseResponsesBody } from "../../client/gateway/responses-body";

/** The gateway's memory of its own Responses answers' items (item_reference): bounded in count and age. */
const message = (id: string, text: string) => ({
  type: "message",
  id,
  status: "completed",
  role: "assistant",
  content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
});

describe("the gateway's memory of its own answers' items", () => {
  it("recalls a message as its text and a call as itself, as a request sends them whole", () => {
    const memory = new ItemMemory();
    memory.remember([
      message("msg_1", "hi"),
      { type: "function_call", id: "fc_1", call_id: "c1", name: "f", arguments: "{}", status: "completed" },
    ]);
    expect(memory.recall("msg_1")).toEqual({
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "hi" }],
    });
    expect(memory.recall("fc_1")).toEqual({
      type: "function_call",
      call_id: "c1",
      name: "f",
      arguments: "{}",
    });
    expect(memory.recall("msg_2")).toBeUndefined();
  });

  it("keeps the last `max` items, for `ttlMs` at most", () => {
    let now = 0;
    const memory = new ItemMemory(2, 1_000, () => now);
    memory.remember([message("a", "1"), message("b", "2")]);
    now = 500;
    memory.remember([message("c", "3")]);
    expect(memory.recall("a")).toBeUndefined();
    expect(memory.recall("b")).toBeDefined();
    now = 1_200;
    // b was remembered at 0: past its hour (here 1 s); c at 500 is not.
    expect(memory.recall("b")).toBeUndefined();
    expect(memory.recall("c")).toBeDefined();
  });

  it("lets go of items past their hour at the next answer, recalled or not", () => {
    let now = 0;
    const memory = new ItemMemory(1_000, 1_000, () => now);
    memory.remember([message("a", "1"), message("b", "2")]);
    now = 1_500;
    memory.remember([message("c", "3")]);
    expect(memory.size).toBe(1);
    expect(memory.recall("c")).toBeDefined();
  });

  it("a reference to no item it holds is refused saying how many it keeps, as configured", () => {
    const memory = new ItemMemory(8);
    const body = { model: "m", input: [{ type: "item_reference", id: "msg_gone" }] };
    const err = (() => {
      try {
        parseResponsesBody(body, memory);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 400, param: "input.0.id" });
    expect((err as Error).message).toContain("the last 8)");
  });
});
