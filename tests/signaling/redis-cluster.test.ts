import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelTag } from "../../signaling/directory/redis-spaces";
import { call, cleanup, connect, flat, next, provider, requestSession, startServer } from "./helpers";
import { ask, type RedisCluster, startRedisCluster } from "./redis-cluster";

/**
 * Past one Redis: two signaling nodes on a real three-master Redis Cluster (one replica each),
 * each first attached to a different master. The directory's keys are hash-tagged by model and
 * the socket.io adapter runs on sharded pub/sub; pairing and relaying cross nodes, before and
 * after the master holding the model's keys fails over to its replica.
 */
let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);

afterAll(async () => {
  await cleanup();
  await cluster?.stop();
});

interface Market {
  providers: number;
  models: { model: string; providers: number; capacity: number; inUse: number }[];
}

async function market(url: string): Promise<Market> {
  return (await (await fetch(`${url}/api/models`)).json()) as Market;
}

async function providers(url: string): Promise<number> {
  return (await market(url)).providers;
}

async function eventually(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("signaling on a Redis Cluster", () => {
  it("pairs and relays across nodes on different masters, and again after a master fails over", async () => {
    const redisPrefix = `c${randomBytes(4).toString("hex")}:`;
    const [first, second] = cluster.urls;
    const a = await startServer({ redisUrl: first, redisCluster: true, redisPrefix });
    const b = await startServer({ redisUrl: `${second},${first}`, redisPrefix });

    const p = await provider(a.url, { models: [{ model: "m1", price: flat(5n) }], capacity: 2 });
    const r = await connect(b.url);
    await eventually(async () => (await providers(b.url)) === 1, "B sees A's provider");

    /** A grant from B for A's provider, a signal relayed B → A, and the session ended. */
    const pairAndRelay = async (sdp: string) => {
      const granted = await requestSession(r);
      if (!granted.ok) throw new Error(`expected a session: ${JSON.stringify(granted)}`);
      expect(granted.provider.identityKey).toBe(p.identityKey);
      const atProvider = next(p.socket, "session:signal");
      expect(
        await call(r, "session:signal", { v: 1, sessionId: granted.sessionId, data: { type: "offer", sdp } }),
      ).toEqual({ ok: true });
      expect(await atProvider).toMatchObject({ sessionId: granted.sessionId, data: { sdp } });
      const ended = next(p.socket, "session:ended");
      await call(r, "session:end", { v: 1, sessionId: granted.sessionId });
      expect(await ended).toMatchObject({ sessionId: granted.sessionId, reason: "ended" });
      return granted.sessionId;
    };

    const before = await pairAndRelay("before");
    // The session id leads with the model's tag: its record lives in the model's slot, with the
    // provider's entry and the model's index (one slot per script).
    expect(before.startsWith(modelTag("m1"))).toBe(true);
    const shard = await cluster.shardOf(`{${modelTag("m1")}}`);
    const slot = await ask<number>(shard.master, ["CLUSTER", "KEYSLOT", `{${modelTag("m1")}}`]);
    expect(await ask<number>(shard.master, ["CLUSTER", "COUNTKEYSINSLOT", String(slot)])).toBeGreaterThan(0);
    // The adapter runs on sharded pub/sub (SSUBSCRIBE), not on classic PUBLISH to every node.
    const channels = await Promise.all(
      cluster.urls.map((u) => ask<string[]>(Number(new URL(u).port), ["PUBSUB", "SHARDCHANNELS"])),
    );
    expect(channels.flat().some((c) => c.startsWith(`${redisPrefix}io`))).toBe(true);
    // The two places are shared across nodes: both taken from B, the third request is refused.
    const held = [await requestSession(r), await requestSession(r)];
    expect(held.every((g) => g.ok)).toBe(true);
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "ALL_BUSY" } });
    // The market view, summed in the model's shard as the entry changes, shows them in use.
    await eventually(async () => (await market(b.url)).models[0]?.inUse === 2, "B's market: 2 of 2 in use");
    for (const g of held) if (g.ok) await call(r, "session:end", { v: 1, sessionId: g.sessionId });

    await cluster.failover(shard.replica);
    // Clients follow the new topology on their next command (MOVED); a request that meets the
    // old master mid-switch is answered with a typed error, so allow a few tries.
    let tries = 0;
    await eventually(async () => {
      tries++;
      const g = await requestSession(r);
      if (g.ok) await call(r, "session:end", { v: 1, sessionId: g.sessionId });
      return g.ok;
    }, "a pairing after the failover");
    expect(tries).toBeLessThan(50);
    expect(await pairAndRelay("after")).not.toBe(before);
    expect(await providers(a.url)).toBe(1);

    // A provider with models in two shards has an entry in each, and is counted once.
    expect(modelTag("m2")).not.toBe(modelTag("m1"));
    await provider(a.url, {
      models: [
        { model: "m2", price: flat(5n) },
        { model: "m1", price: flat(5n) },
      ],
      capacity: 3,
    });
    const expected = {
      providers: 2,
      models: [
        { model: "m1", providers: 2, capacity: 5, inUse: 0 },
        { model: "m2", providers: 1, capacity: 3, inUse: 0 },
      ],
    };
    let seen: Market | undefined;
    await eventually(async () => {
      seen = await market(b.url);
      return seen.providers === 2 && seen.models.length === 2;
    }, "B's market with both providers");
    expect(seen).toMatchObject(expected);
  }, 60_000);
});
