import { afterEach, describe, expect, it } from "vitest";
import { flatPrice, generateKeyPair } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { rewrite } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A provider's signed quote is its word until it expires: "this model at this price, to this
 * payout, until T". An operator who raises the price (stops serving, sets it, serves again)
 * registers a new quote, but the old one still verifies until T, and a lying server may grant
 * with it. The requester cannot tell that replay from a bait provider (a low quote, a higher
 * price in the session) by anything the server carries; the provider can, since it signed both.
 * So the requester shows the provider the quote it was granted, and the provider honours its own
 * unexpired word: the answer comes at the quoted price, and nobody is blamed for a price the
 * provider did promise.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

type Granted = { provider?: { price: unknown; quote?: unknown } };

describe("a grant carrying the provider's own earlier, lower quote (still unexpired)", () => {
  it("is honoured by the provider: the answer arrives, billed at the quoted price; the provider is not excluded", async () => {
    // It ended PRICE "a bait; it is excluded": the honest provider blamed for the server's replay.
    let old: Granted["provider"] | undefined;
    const mitm = await mitmNetwork([
      rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([g]) => {
        const grant = g as Granted;
        if (!grant.provider) return [g];
        if (!old) {
          old = grant.provider;
          return [g];
        }
        return [{ ...grant, provider: { ...grant.provider, price: old.price, quote: old.quote } }];
      }),
    ]);
    const identity = generateKeyPair();
    const reply = () => "one two three four five";
    const first = await relayProvider(labelled(mitm.url, "p1"), {
      identity,
      engine: new ScriptedEngine({ reply }),
      models: [{ model: "test-model", price: flatPrice(10n) }],
    });
    const c1 = await relayClient(labelled(mitm.url, "r1"));
    const cheap = await c1.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hello" }],
    });
    expect(old).toBeDefined();
    await first.runtime.stop();
    // The operator raised the price (still within the requester's maximum of 100) and serves again.
    const again = await relayProvider(labelled(mitm.url, "p1"), {
      identity,
      engine: new ScriptedEngine({ reply }),
      models: [{ model: "test-model", price: flatPrice(50n) }],
    });
    const c2 = await relayClient(labelled(mitm.url, "r2"));
    const answer = await c2.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hello" }],
    });
    expect(answer.choices[0]?.message.content).toBe("one two three four five");
    // Billed as quoted (10 a token), not at the raised price: the same cost as the first answer.
    const silk = (a: typeof answer) => (a.usage as unknown as { silk: { cost_nanoton: string } }).silk;
    expect(silk(answer).cost_nanoton).toBe(silk(cheap).cost_nanoton);
    const receipts = again.events.filter((e) => e.type === "receipt");
    expect(receipts.at(-1)).toMatchObject({
      receipt: { receipt: { amount: BigInt(silk(cheap).cost_nanoton) } },
    });
    const excludes = mitm.log
      .filter((m) => m.event === "session:request" && m.direction === "to-server")
      .map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);
    expect(excludes.flat()).toEqual([]);
  }, 40_000);
});
