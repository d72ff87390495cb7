import { afterEach, describe, expect, it, vi } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { costOf, ENGINE_FAILURES, flatPrice } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { RecordingAccount } from "../signaling/faulty-network";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A provider's engine that fails a request (throws mid-generation, runs out of memory, has no
 * model loaded): the requester gets a typed ENGINE error naming the class of failure in the SDK's
 * own words, never the engine's text (an untrusted peer's, which may say anything), and pays only
 * for the tokens that reached it. Real provider runtime and SDK on a real signaling server; the
 * engine is the scripted test double, told to throw.
 */
afterEach(async () => {
  stopAll();
  await cleanup();
});

const PRICE = flatPrice(10n);
/** What a hostile or careless engine's exception may carry. */
const LURE = "your escrow key was revoked: log in at https://evil.example to restore it";

async function failing(error: () => unknown, tokens: number, models?: string[]) {
  const { url } = await startServer();
  const engine = new ScriptedEngine({
    reply: () => "one two three four five six seven eight",
    failAfter: { tokens, error, times: 1 },
    ...(models && { models }),
  });
  const provider = await relayProvider(url, { engine, models: [{ model: "test-model", price: PRICE }] });
  const account = new RecordingAccount();
  const client = await relayClient(url, { account, receiptEvery: 1 });
  let arrived = 0;
  let text = "";
  const err = await (async () => {
    // A failure before the first token rejects the call itself.
    const stream = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "count" }],
      stream: true,
    });
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content ?? "";
      if (delta) arrived++;
      text += delta;
    }
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  // The requester's last receipt (cumulative): what it signed for, all told.
  const signed = () => [...account.streams.values()].map((r) => r.receipt);
  return { err, arrived, text, signed, provider, client };
}

describe("a provider's engine failing a request", () => {
  it("throwing mid-generation: ENGINE in the SDK's words, paid for the tokens that came", async () => {
    const { err, arrived, text, signed, client, provider } = await failing(() => new Error(LURE), 3);
    expect(text).toBe("one two three ");
    expect(arrived).toBe(3);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("ENGINE");
    expect((err as Error).message).toBe(ENGINE_FAILURES.backend);
    expect((err as Error).message).not.toContain("evil.example");
    // The engine's own words stay with the provider (its onEvent).
    expect(provider.events).toContainEqual({
      type: "refused",
      code: "ENGINE",
      detail: `the engine failed: ${LURE}`,
    });
    // Nothing signed for more than came: the failed request's prompt is not billed.
    const paidForFailure = costOf({ promptTokens: 0, completionTokens: 3 }, PRICE);
    for (const r of signed()) expect(r.amount).toBeLessThanOrEqual(paidForFailure);
    // The next answer on the stream: the receipts then pay it and the three tokens that came.
    const next = await ask(client, "again");
    expect(next.choices[0]?.message.content).toBe("one two three four five six seven eight");
    const usage = {
      promptTokens: next.usage?.prompt_tokens ?? 0,
      completionTokens: next.usage?.completion_tokens ?? 0,
    };
    const owed = paidForFailure + costOf(usage, PRICE);
    await vi.waitFor(() => expect(signed()[0]?.amount).toBe(owed), { timeout: 10_000, interval: 50 });
    expect(signed()).toHaveLength(1);
  }, 60_000);

  it("out of memory: ENGINE naming it", async () => {
    const { err, arrived } = await failing(
      () => new RangeError(`Array buffer allocation failed. ${LURE}`),
      2,
    );
    expect(arrived).toBe(2);
    expect((err as ProviderError).code).toBe("ENGINE");
    expect((err as Error).message).toBe(ENGINE_FAILURES["out-of-memory"]);
  }, 60_000);

  it("no model loaded: ENGINE naming it, nothing paid", async () => {
    const { err, arrived, signed } = await failing(() => new Error("unused"), 0, []);
    expect(arrived).toBe(0);
    expect((err as ProviderError).code).toBe("ENGINE");
    expect((err as Error).message).toBe(ENGINE_FAILURES["not-loaded"]);
    expect(signed().every((r) => r.tokens === 0n && r.amount === 0n)).toBe(true);
  }, 60_000);

  it("no model loaded at one provider, another serves it: answered by the other", async () => {
    const { url } = await startServer();
    await relayProvider(url, { engine: new ScriptedEngine({ models: [] }) });
    const client = await relayClient(url);
    const alone = await ask(client, "anyone").catch((e: unknown) => e);
    expect((alone as ProviderError).code).toBe("ENGINE");
    expect((alone as Error).message).toBe(ENGINE_FAILURES["not-loaded"]);
    // The broken provider's session is still open and pooled when another one comes.
    const other = await relayProvider(url, { payout: `0:${"33".repeat(32)}` });
    const answer = await ask(client, "anyone else");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone else");
    expect(other.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 60_000);
});
