import { afterEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { flatPrice } from "../../protocol";
import type { ProviderRuntime, ProviderRuntimeOptions, RuntimeEvent } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { stopAll, wrtcClient, wrtcProvider } from "../support/silk-parties";

/**
 * One session per provider: a session granted for model-a is used for model-b too, at the price
 * the provider's `account` names. That price must be the provider's signed word for model-b, on
 * the terms the grant's quote was signed on. A provider whose sessions sign their quotes for
 * another Registry entry than it registered with (here: its entry changed under a running runtime)
 * prices model-b at terms nobody granted: model-b is not asked of it. With nobody else serving
 * model-b the request ends PRICE naming it, nothing sent; once an honest provider serves model-b,
 * the request goes there, and the first provider's model-a session stays in use.
 */
afterEach(async () => {
  stopAll();
  await cleanup();
});

async function provider(
  url: string,
  payout: string,
  models: string[],
  events: RuntimeEvent[],
  more: Partial<ProviderRuntimeOptions> = {},
) {
  const { runtime, key } = await wrtcProvider(url, {
    engine: new ScriptedEngine({ models }),
    ...more,
    models: models.map((model) => ({ model, price: flatPrice(10n) })),
    payout,
    entry: { owner: `0:${"33".repeat(32)}`, stake: 0n, registeredAt: 1 },
    onEvent: (e) => events.push(e),
  });
  return { runtime, key };
}

/** A provider whose running sessions sign their quotes for another entry than it registered with. */
function signsForAnotherEntry(runtime: ProviderRuntime): void {
  const held = runtime as unknown as { opts: ProviderRuntimeOptions };
  held.opts = { ...held.opts, entry: { owner: `0:${"44".repeat(32)}`, stake: 0n, registeredAt: 1 } };
}

async function requester(url: string) {
  const client = await wrtcClient(url);
  return (model: string) =>
    client.chat.completions.create({ model, messages: [{ role: "user", content: model }] });
}

describe("a second model on a provider's session", () => {
  it("is not asked of a provider whose account prices it at terms it did not sign: PRICE naming it, or another provider", async () => {
    const { url } = await startServer();
    const firstEvents: RuntimeEvent[] = [];
    const first = await provider(url, `0:${"22".repeat(32)}`, ["model-a", "model-b"], firstEvents);
    // Registered (and quoted in grants) with one entry; its sessions now sign for another.
    signsForAnotherEntry(first.runtime);
    const ask = await requester(url);

    expect((await ask("model-a")).choices[0]?.message.content).toBe("Echo: model-a");
    const err = await ask("model-b").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("PRICE");
    expect((err as ProviderError).message).toContain(first.key);
    expect((err as ProviderError).message).toContain("model-b");
    expect(firstEvents.filter((e) => e.type === "request-done")).toHaveLength(1);

    const secondEvents: RuntimeEvent[] = [];
    await provider(url, `0:${"55".repeat(32)}`, ["model-b"], secondEvents);
    expect((await ask("model-b")).choices[0]?.message.content).toBe("Echo: model-b");
    expect(secondEvents.filter((e) => e.type === "request-done")).toHaveLength(1);
    expect((await ask("model-a")).choices[0]?.message.content).toBe("Echo: model-a");
    expect(firstEvents.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(firstEvents.filter((e) => e.type === "request-done")).toHaveLength(2);
  }, 40_000);

  it("waits for room at the honest provider of that model when it is full, rather than ending PRICE", async () => {
    const { url } = await startServer();
    const first = await provider(url, `0:${"22".repeat(32)}`, ["model-a", "model-b"], []);
    signsForAnotherEntry(first.runtime);
    // One place and no queue: a second request while it answers is refused QUEUE_FULL.
    const busyEvents: RuntimeEvent[] = [];
    await provider(url, `0:${"55".repeat(32)}`, ["model-b"], busyEvents, {
      engine: new ScriptedEngine({
        models: ["model-b"],
        tokenDelayMs: 40,
        reply: () => "one two three four five six seven eight",
      }),
      capacity: 1,
      maxWaiting: 0,
    });
    const ask = await requester(url);
    await ask("model-a");
    const long = ask("model-b");
    await expect.poll(() => busyEvents.filter((e) => e.type === "tokens").length).toBeGreaterThan(0);
    const waited = await ask("model-b");
    expect(waited.choices[0]?.message.content).toBe("one two three four five six seven eight");
    expect((await long).choices[0]?.message.content).toBe("one two three four five six seven eight");
    expect(busyEvents.filter((e) => e.type === "refused" && e.code === "QUEUE_FULL").length).toBeGreaterThan(
      0,
    );
    expect(busyEvents.filter((e) => e.type === "request-done")).toHaveLength(2);
  }, 40_000);
});
