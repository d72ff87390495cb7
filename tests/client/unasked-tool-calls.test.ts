import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { OverReportError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import type { RequestInput } from "../../client/sdk/requester-session";
import { flatPrice, NETWORK_ID, offerToWire, type ToolCallDelta } from "../../protocol";
import { endsWithin } from "../support/hang-guard";
import { pipedSession } from "../support/piped-session";
import { ESCROW, PAYOUT } from "../support/silk-parties";

/**
 * A provider that ignores `tool_choice` (a liar, or an engine that drops the field): told "none",
 * or to call one function by name, it calls a function anyway, or another one. The requester
 * refused tool calls only to a request without tools, so it handed the program a call it had
 * ruled out (which a program runs: the call a caller said not to make) and signed for every
 * token of it. Honest engines honour the choice (llama.cpp's server and vLLM by grammar; WebLLM
 * sends no tools for "none" and refuses a named choice), so such a call is the provider's lie:
 * OVER_REPORT at the piece that names it, nothing from it on paid.
 */
const stream = {
  keyEpoch: 0,
  network: NETWORK_ID.devnet,
  escrow: Address.parse(ESCROW),
  payout: Address.parse(PAYOUT),
};

const fn = (name: string) => ({
  type: "function" as const,
  function: { name, parameters: { type: "object", properties: {} } },
});
const TOOLS = [fn("get_weather"), fn("delete_files")];

/** Two text tokens, then the call's pieces, each a token, then `done`. */
async function asked(
  choice: RequestInput["tool_choice"],
  calls: readonly ToolCallDelta[],
  more: Partial<RequestInput> = {},
) {
  const account = new MemoryPaymentAccount();
  const pieces = [
    { text: "Let ", tool_calls: undefined },
    { text: "me. ", tool_calls: undefined },
    ...calls.map((c) => ({ text: "", tool_calls: [c] })),
  ];
  const { requester } = await pipedSession((provider) => {
    provider.onMessage((m) => {
      if (m.t === "receipt" && m.receipt && !m.quote)
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price: flatPrice(1n) })],
        });
      if (m.t !== "request") return;
      void (async () => {
        for (const [i, p] of pieces.entries())
          await provider.send({
            v: 1,
            t: "tokens",
            id: m.id,
            text: p.text,
            ...(p.tool_calls && { tool_calls: p.tool_calls }),
            count: 1,
            total: i + 1,
          });
        await provider.send({
          v: 1,
          t: "done",
          id: m.id,
          finish_reason: "tool_calls",
          usage: { prompt_tokens: 5, completion_tokens: pieces.length },
        });
      })().catch(() => undefined);
    });
  }, account);
  const input: RequestInput = {
    model: "test-model",
    messages: [{ role: "user", content: "weather?" }],
    tools: TOOLS,
    ...(choice !== undefined && { tool_choice: choice }),
    ...more,
  };
  const result = await endsWithin(
    requester
      .request(input, () => undefined)
      .then(
        (r) => ({ calls: r.toolCalls.map((c) => c.function.name), err: undefined }),
        (e: unknown) => ({ calls: [], err: e }),
      ),
    5_000,
  );
  if (result.err) await requester.whenClosed();
  return { ...result, account };
}

const call = (index: number, name: string): ToolCallDelta => ({
  index,
  id: `call_${index}`,
  type: "function",
  function: { name, arguments: "{}" },
});

describe("a provider that calls a function the request's tool_choice ruled out", () => {
  it("told none: OVER_REPORT at the call, the text before it paid, the call not", async () => {
    const { err, account } = await asked("none", [call(0, "delete_files")]);
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toMatch(/tool_choice "none"/);
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(2n);
  });

  it("told to call get_weather: a call of another function is OVER_REPORT naming both", async () => {
    const { err, account } = await asked({ type: "function", function: { name: "get_weather" } }, [
      call(0, "get_weather"),
      call(1, "delete_files"),
    ]);
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toMatch(/delete_files.*get_weather/);
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(3n);
  });

  it("told parallel_tool_calls false: a second call is OVER_REPORT, the first paid", async () => {
    const { err, account } = await asked("auto", [call(0, "get_weather"), call(1, "delete_files")], {
      parallel_tool_calls: false,
    });
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toMatch(/parallel_tool_calls false/);
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(3n);
  });

  it("takes the function named (its name streamed in pieces), and any declared one for auto", async () => {
    const named = await asked({ type: "function", function: { name: "get_weather" } }, [
      { index: 0, id: "call_0", type: "function", function: { name: "get_" } },
      { index: 0, function: { name: "weather", arguments: "{}" } },
    ]);
    expect(named).toMatchObject({ err: undefined, calls: ["get_weather"] });
    const auto = await asked("auto", [call(0, "delete_files")]);
    expect(auto).toMatchObject({ err: undefined, calls: ["delete_files"] });
    // One call is what parallel_tool_calls false allows; two without it.
    const one = await asked("auto", [call(0, "get_weather")], { parallel_tool_calls: false });
    expect(one).toMatchObject({ err: undefined, calls: ["get_weather"] });
    const two = await asked("auto", [call(0, "get_weather"), call(1, "delete_files")]);
    expect(two).toMatchObject({ err: undefined, calls: ["get_weather", "delete_files"] });
  });
});
