import { getHeapSnapshot, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { type GatewayNetwork, oneOfEachRoute, startGatewayNetwork } from "../support/gateway-network";

/**
 * A gateway runs for weeks: a request leaves nothing behind once answered. The whole process (the
 * gateway, its SDK client, the provider and the signaling server) is counted by kind of object in
 * a heap snapshot after a forced GC, before and after 40 more requests: no kind grew by one a
 * request. (Each request's signal was `AbortSignal.any` with the gateway's stop, and Node keeps a
 * WeakRef to every such signal on the stop's signal while that lives: one a request, forever.)
 * Left out of the count: the backend double's log of every request (emptied before each count),
 * and windows bounded by design: the account keeps no signed answers here (a memory account
 * keeps the newest 256), Node's resource timing buffer (250 fetches) is cleared, and the gateway
 * remembers 8 of its own Responses items here (1,000 by default, item-memory.ts), full before the
 * first count, so its bound is what is checked.
 */
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let net: GatewayNetwork;
let openai: OpenAI;

beforeAll(async () => {
  const kept = new MemoryPaymentAccount();
  net = await startGatewayNetwork({
    providers: [{ model: "llama-local", payout: "22" }],
    client: { account: { last: (s) => kept.last(s), save: (r) => kept.save(r) } },
    gateway: { rememberedItems: 8 },
  });
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

/** How many objects of each constructor the heap holds, after a forced GC. */
async function objectCounts(): Promise<Map<string, number>> {
  performance.clearResourceTimings();
  (net.backend.requests as unknown[]).length = 0; // the double's log of what it was asked
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    gc();
  }
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const [type, name, width] = [fields.indexOf("type"), fields.indexOf("name"), fields.length];
  const object = snap.snapshot.meta.node_types[0].indexOf("object");
  const counts = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += width)
    if (snap.nodes[i + type] === object) {
      const kind = snap.strings[snap.nodes[i + name]!]!;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
  return counts;
}

async function requests(n: number): Promise<void> {
  for (let i = 0; i < n; i += 4) await oneOfEachRoute(openai, "llama-local");
}

describe("a request through the gateway", () => {
  it("leaves nothing behind once answered: no kind of object grows by one a request", async () => {
    await requests(40); // what is made once (the session, compiled code) is made here
    const before = await objectCounts();
    const n = 40;
    await requests(n);
    const after = await objectCounts();
    const grown = [...after]
      .map(([kind, count]) => [kind, count - (before.get(kind) ?? 0)] as const)
      .filter(([, more]) => more >= n);
    expect(grown).toEqual([]);
  }, 120_000);
});
