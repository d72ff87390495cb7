import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ProviderDirectory, ProviderRecord } from "../../signaling/directory/directory";
import { MemoryDirectory } from "../../signaling/directory/memory-directory";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { summarize, summarizeMarket } from "../../signaling/directory-feed";
import { flat, PAYOUT } from "./helpers";
import { useRedis } from "./redis-fixture";

// The market view (`/api/models`, `directory:update`) as the Redis directory sums it as entries
// change (redis-market-sums.ts), against the truth: what the in-memory directory reports for the
// same providers put through the same steps.

const redis = useRedis();

const record = (
  key: string,
  models: string[],
  nano: bigint,
  capacity: number,
  node: string,
  socketId = `s-${key}`,
): ProviderRecord => ({
  identityKey: key,
  socketId,
  payout: PAYOUT,
  models: models.map((model) => ({ model, price: flat(nano), contextWindow: 4096 })),
  capacity,
  device: {},
  registeredAt: 1,
  node,
});

/** Polls `check` until it holds (state Redis reaches by itself, e.g. a TTL); fails after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

/** Commands Redis itself ran (inside scripts too) while `work` ran, by `INFO commandstats`. */
async function commandsRun(work: () => Promise<unknown>): Promise<number> {
  await redis.client.configResetStat();
  await work();
  const stats = await redis.client.info("commandstats");
  let calls = 0;
  for (const [, name, n] of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
    if (!["evalsha", "eval", "config|resetstat", "info"].includes(name!)) calls += Number(n);
  return calls;
}

for (const shardByModel of [false, true]) {
  describe(`the market view summed as entries change${shardByModel ? ", keys sharded by model" : ""}`, () => {
    it("equals the in-memory directory's through pairings, ends, load, re-registrations, departures, a dead node and TTL expiry", async () => {
      const prefix = `m${randomBytes(4).toString("hex")}:`;
      const dir = new RedisDirectory(redis.client, { prefix, entryTtlMs: 60_000, shardByModel });
      const mem = new MemoryDirectory();
      const both: ProviderDirectory[] = [dir, mem];
      const same = async (step: string) => {
        const truth = summarize(await mem.all());
        expect(summarizeMarket(await dir.market()), step).toEqual(truth);
        return truth;
      };
      const ids = ["a", "b", "c", "d", "e"];
      /** Pairs with `key` (every other provider excluded) in both; the session ids. */
      const pair = async (key: string, model: string) => {
        const request = {
          model,
          maxPrice: { promptNanoPerToken: 99n, completionNanoPerToken: 99n },
          exclude: new Set(ids.filter((k) => k !== key)),
          now: 2,
          failureWindowMs: 1000,
        };
        const [r, m] = await Promise.all(both.map((d) => d.reserveBest(request, { requesterSocketId: "r" })));
        if (!r?.ok || !m?.ok) throw new Error(`no pairing with ${key} for ${model}`);
        expect(r.provider.identityKey).toBe(key);
        return [r.sessionId, m.sessionId] as const;
      };
      const close = async ([r, m]: readonly [string, string]) => {
        expect(await dir.closeSession(r)).toBeDefined();
        expect(await mem.closeSession(m)).toBeDefined();
      };
      const each = (f: (d: ProviderDirectory) => Promise<unknown>) => Promise.all(both.map(f));

      await each((d) => d.register(record("a", ["m1"], 5n, 2, "n1"), 1));
      await each((d) => d.register(record("b", ["m1"], 5n, 3, "n1"), 1));
      await each((d) => d.register(record("c", ["m1", "m2"], 7n, 1, "n2"), 1));
      await each((d) => d.register(record("d", ["m3"], 5n, 2, "n2"), 1));
      expect(await same("registered")).toMatchObject({ providers: 4 });

      const a1 = await pair("a", "m1");
      const b1 = await pair("b", "m1");
      await pair("c", "m1");
      const d1 = await pair("d", "m3");
      await pair("d", "m3");
      expect(await same("paired, c and d full")).toMatchObject({
        models: [
          { model: "m1", inUse: 3 },
          { model: "m2", inUse: 1 },
          { model: "m3", inUse: 2 },
        ],
      });

      await each((d) => d.heartbeat("b", "s-b", 9, 3)); // reports more than its capacity: capped
      await each((d) => d.heartbeat("a", "s-a", 1, 3));
      await same("load reported");
      await each((d) => d.heartbeat("b", "s-b", 0, 4));
      await close(a1);
      await close(d1);
      await same("sessions ended");
      await each((d) => d.recordFailure("c", "s-c", 4));
      await same("a failure");

      // Capacity and listing changed: b grows, a moves to another price (another market group).
      await each((d) => d.register(record("b", ["m1"], 5n, 5, "n1", "s-b2"), 5));
      await each((d) => d.register(record("a", ["m1"], 6n, 2, "n1"), 5));
      const reRegistered = await same("re-registered");
      expect(reRegistered.models.find((x) => x.model === "m1")).toMatchObject({
        capacity: 8,
        prices: [{}, {}, {}],
      });
      await close(b1); // held a unit of b's old registration: gives nothing back
      await same("a session of a replaced registration ended");
      expect(await dir.unregister("c", "s-other")).toBe(false); // not its socket: stays
      await each((d) => d.unregister("c", "s-c"));
      await same("unregistered");

      // Node n2 died: its providers go, its sessions are ended.
      const [r, m] = await Promise.all(both.map((d) => d.dropNode("n2")));
      expect(r?.providers).toBe(1);
      for (const id of r?.sessions ?? []) await dir.closeSession(id);
      for (const id of m?.sessions ?? []) await mem.closeSession(id);
      expect(await same("node n2 dropped")).toMatchObject({ providers: 2 });

      // An entry no script removes: its heartbeats stop and its TTL passes.
      const shortLived = new RedisDirectory(redis.client, { prefix, entryTtlMs: 300, shardByModel });
      await shortLived.register(record("e", ["m1", "m4"], 5n, 4, "n3"), 6);
      await mem.register(record("e", ["m1", "m4"], 5n, 4, "n3"), 6);
      await pair("e", "m1");
      expect(await same("e registered with a short TTL")).toMatchObject({ providers: 3 });
      await mem.unregister("e", "s-e");
      const truth = summarize(await mem.all());
      await until(
        async () => JSON.stringify(summarizeMarket(await dir.market())) === JSON.stringify(truth),
        "the market without e, its entry expired",
      );
      expect((await dir.all()).map((p) => p.identityKey).sort()).toEqual(["a", "b"]);
      await same("e expired");
    });
  });
}

describe("the market view after an upgrade", () => {
  it("counts entries written before the sums existed from their next heartbeat", async () => {
    const prefix = `u${randomBytes(4).toString("hex")}:`;
    const dir = new RedisDirectory(redis.client, { prefix, entryTtlMs: 60_000 });
    for (const k of ["a", "b"]) await dir.register(record(k, ["m1"], 5n, 2, "n1"), 1);
    // As an older version left them: entries, no sums.
    await redis.client.del(["ms", "ml", "mx", "mt"].map((k) => `${prefix}${k}`));
    expect(await dir.market()).toEqual([]);
    for (const k of ["a", "b"]) await dir.heartbeat(k, `s-${k}`, 0, 2); // load unchanged: no re-listing
    expect(summarizeMarket(await dir.market())).toEqual(summarize(await dir.all()));
    expect(await dir.market()).toMatchObject([{ providers: 2, capacity: 4, inUse: 0 }]);
  });
});

describe("the market view with leases", () => {
  it("counts leased units in use, as the entries do, through pooled pairings, ends and give-backs", async () => {
    const prefix = `l${randomBytes(4).toString("hex")}:`;
    const dir = new RedisDirectory(redis.client, {
      prefix,
      entryTtlMs: 60_000,
      lease: { node: "n1", units: 2, idleMs: 60_000, backoffMs: 10, ttlMs: 60_000 },
    });
    const fromEntries = async () => summarize(await dir.all());
    const same = async (step: string) => {
      await dir.settled();
      const truth = await fromEntries();
      expect(summarizeMarket(await dir.market()), step).toEqual(truth);
      return truth;
    };
    for (const k of ["a", "b", "c"]) await dir.register(record(k, ["m1"], 5n, 4, "n1"), 1);
    const request = {
      model: "m1",
      maxPrice: { promptNanoPerToken: 9n, completionNanoPerToken: 9n },
      exclude: new Set<string>(),
      now: 2,
      failureWindowMs: 1000,
    };
    const sessions: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await dir.reserveBest(request, { requesterSocketId: "r", requesterNode: "n2" });
      if (!r.ok) throw new Error(r.message);
      sessions.push(r.sessionId);
    }
    // Four sessions and the pool topped up: more in use than sessions, as every node sees it.
    const leased = await same("pooled pairings and top-ups");
    expect(leased.models[0]!.inUse).toBeGreaterThan(4);
    for (const id of sessions) await dir.closeSession(id);
    await same("sessions ended");
    await dir.close(); // gives the pool back
    expect(await same("leases given back")).toMatchObject({ models: [{ inUse: 0, capacity: 12 }] });
  });
});

describe("the market view's cost in Redis", () => {
  it("is a few commands a read, however many providers (the sums, not every entry)", async () => {
    for (const shardByModel of [false, true]) {
      const dir = new RedisDirectory(redis.client, {
        prefix: `w${randomBytes(4).toString("hex")}:`,
        entryTtlMs: 60_000,
        shardByModel,
      });
      const keys = Array.from({ length: 2_000 }, (_, i) => `p${i}`);
      for (let i = 0; i < keys.length; i += 200)
        await Promise.all(
          keys.slice(i, i + 200).map((k, j) => dir.register(record(k, [`m${j % 2}`], 5n, 2, "n1"), 1)),
        );
      await dir.market(); // loads the script
      let groups: Awaited<ReturnType<RedisDirectory["market"]>> = [];
      const calls = await commandsRun(async () => {
        groups = await dir.market();
      });
      expect(summarizeMarket(groups)).toMatchObject({ providers: 2_000 });
      // Reading every entry was one command per provider (2,001 here).
      expect(calls).toBeLessThanOrEqual(24);
    }
  });
});

describe("the market view read in the very millisecond an entry expires", () => {
  it("still takes the entry out once it is gone (Redis keeps a key through its last millisecond)", async () => {
    const prefix = `x${randomBytes(4).toString("hex")}:`;
    const dir = new RedisDirectory(redis.client, { prefix, entryTtlMs: 60_000 });
    await dir.register(record("a", ["m1"], 5n, 2, "n1"), 1);
    const redisNow = async () => {
      const [s, us] = await redis.client.time().then((t) => [Number(t[0]), Number(t[1])]);
      return s! * 1000 + Math.floor(us! / 1000);
    };
    for (const id of ["e1", "e2", "e3"]) {
      await dir.register(record(id, ["m1"], 5n, 1, "n1"), 1);
      // The entry and its noted expiry at one millisecond; reads as fast as they come around it,
      // so some read runs in that millisecond (where PTTL answers 0 and the key is still there).
      const at = (await redisNow()) + 40;
      await redis.client.pExpireAt(`${prefix}p:${id}`, at);
      await redis.client.zAdd(`${prefix}mt`, { score: at, value: id });
      while ((await redisNow()) <= at + 5) await dir.market();
      await until(async () => (await redis.client.exists(`${prefix}p:${id}`)) === 0, `${id} gone`);
      expect(summarizeMarket(await dir.market()), `${id} expired`).toMatchObject({
        providers: 1,
        models: [{ model: "m1", capacity: 2 }],
      });
    }
  });
});
