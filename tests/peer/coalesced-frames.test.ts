import { afterEach, describe, expect, it } from "vitest";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { ProviderRuntime, type RuntimeEvent } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { coalesce, frames } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";

/**
 * Issue 11: the requester's AUTH and its base receipt delivered to the provider in one read (a
 * relay that coalesces, or timing on a busy machine) used to lose the base receipt: the session
 * handed queued frames over before the serving loop listened, and the requester timed out and
 * excluded an honest provider.
 */
const ESCROW = `0:${"11".repeat(32)}`;
const PAYOUT = `0:${"22".repeat(32)}`;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

describe("AUTH and the base receipt in one delivery", () => {
  it("the provider reads both and answers; nobody is excluded", async () => {
    const { url } = await startServer();
    const mitm: Mitm = await startMitm(url, [coalesce(2, frames("provider"))]);
    closers.push(() => mitm.close());
    const events: RuntimeEvent[] = [];
    const runtime = await ProviderRuntime.start({
      signalingUrl: `${mitm.url}?party=provider`,
      identity: generateKeyPair(),
      engine: new ScriptedEngine(),
      models: [{ model: "test-model", price: flatPrice(10n) }],
      payout: PAYOUT,
      forceRelay: true,
      onEvent: (e) => events.push(e),
    });
    closers.push(() => runtime.stop());
    const failovers: unknown[] = [];
    const client: SilkClient = await connect({
      signalingUrl: `${mitm.url}?party=requester`,
      sessionKey: generateKeyPair(),
      maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
      escrow: ESCROW,
      forceRelay: true,
      onFailover: (e) => failovers.push(e),
    });
    closers.push(() => client.close());

    const answer = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "together" }],
    });
    expect(answer.choices[0]?.message.content).toBe("Echo: together");
    expect(failovers).toEqual([]);
    expect(events.filter((e) => e.type === "session-open")).toHaveLength(1);
    // The coalescing really happened: frames 2 and 3 to the provider left the proxy together.
    const toProvider = mitm.log.filter((m) => m.event === "session:frame" && m.party.role === "provider");
    expect(toProvider.length).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
