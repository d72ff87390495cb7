import { randomBytes } from "node:crypto";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { summarize, summarizeMarket } from "../../signaling/directory-feed";
import { RedisAwayError, RedisTimeoutError, withDeadline } from "../../signaling/redis-deadline";
import { directorySuite } from "./directory-suite";
import { flat, PAYOUT } from "./helpers";
import { useRedis } from "./redis-fixture";
import { startRedis } from "./redis-server";

const redis = useRedis();

// A fresh key prefix per test: the same real Redis, no state shared between tests.
directorySuite(
  "redis",
  async () =>
    new RedisDirectory(redis.client, { prefix: `t${randomBytes(4).toString("hex")}:`, entryTtlMs: 60_000 }),
);

// The cluster layout (a space per model tag) on one Redis: the same semantics.
directorySuite(
  "redis, keys sharded by model",
  async () =>
    new RedisDirectory(redis.client, {
      prefix: `t${randomBytes(4).toString("hex")}:`,
      entryTtlMs: 60_000,
      shardByModel: true,
    }),
);

describe("Redis directory scripts", () => {
  it("pair in one command and end a session in one, counted per operation", async () => {
    for (const shardByModel of [false, true]) {
      const counts = new Map<string, number>();
      const dir = new RedisDirectory(redis.client, {
        prefix: `c${randomBytes(4).toString("hex")}:`,
        entryTtlMs: 60_000,
        shardByModel,
        onCommand: (op) => counts.set(op, (counts.get(op) ?? 0) + 1),
      });
      const at = (node: string, key: string) => ({
        identityKey: key,
        socketId: `s-${key}`,
        payout: PAYOUT,
        models: [{ model: "m1", price: flat(5n) }],
        capacity: 2,
        device: {},
        registeredAt: 1,
        node,
      });
      for (const k of ["a", "b", "c"]) await dir.register(at("n1", k), 1);
      // Warm the script cache, then count.
      const pick = {
        model: "m1",
        maxPrice: { promptNanoPerToken: 9n, completionNanoPerToken: 9n },
        exclude: new Set<string>(),
        now: 2,
        failureWindowMs: 1000,
      };
      const warm = await dir.reserveBest(pick, { requesterSocketId: "r", requesterNode: "n2" });
      if (!warm.ok) throw new Error(warm.message);
      await dir.closeSession(warm.sessionId);
      counts.clear();
      const sessions: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await dir.reserveBest(pick, { requesterSocketId: "r", requesterNode: "n2" });
        if (r.ok) sessions.push(r.sessionId);
      }
      expect(await dir.reserveBest({ ...pick, model: "m9" }, { requesterSocketId: "r" })).toMatchObject({
        code: "NO_MODEL",
      });
      expect(counts.get("pair")).toBe(6);
      // Both parties' nodes know the session (a requester on n2, providers on n1).
      expect((await dir.dropNode("n2")).sessions.sort()).toEqual([...sessions].sort());
      counts.clear();
      for (const id of sessions) await dir.closeSession(id);
      expect(counts.get("end")).toBe(5);
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 0 }, { active: 0 }, { active: 0 }]);
    }
  });

  it("sum the market in Redis exactly as from every entry (an entry expired by TTL left out)", async () => {
    const prefix = `k${randomBytes(4).toString("hex")}:`;
    const dir = new RedisDirectory(redis.client, { prefix, entryTtlMs: 60_000 });
    const at = (key: string, nano: bigint, capacity: number, models = ["m1"]) => ({
      identityKey: key,
      socketId: `s-${key}`,
      payout: PAYOUT,
      models: models.map((model) => ({ model, price: flat(nano), contextWindow: 4096 })),
      capacity,
      device: {},
      registeredAt: 1,
    });
    await dir.register(at("a", 5n, 2), 1);
    await dir.register(at("b", 5n, 3), 1);
    await dir.register(at("c", 7n, 1, ["m1", "m2"]), 1);
    // d's heartbeats stop: its entry expires by TTL, with no script run.
    await new RedisDirectory(redis.client, { prefix, entryTtlMs: 200 }).register(at("d", 5n, 1), 1);
    await dir.heartbeat("b", "s-b", 9, 2);
    const pick = {
      model: "m1",
      maxPrice: { promptNanoPerToken: 9n, completionNanoPerToken: 9n },
      exclude: new Set(["b", "d"]),
      now: 2,
      failureWindowMs: 1000,
    };
    expect(await dir.reserveBest(pick, { requesterSocketId: "r" })).toMatchObject({ ok: true });
    const deadline = Date.now() + 20_000;
    while ((await redis.client.exists(`${prefix}p:d`)) === 1 && Date.now() < deadline)
      await new Promise((done) => setTimeout(done, 25));
    const fromEntries = summarize(await dir.all());
    // The first market read after the expiry takes d out of the sums (within a millisecond of it).
    let market = summarizeMarket(await dir.market());
    while (JSON.stringify(market) !== JSON.stringify(fromEntries) && Date.now() < deadline)
      market = summarizeMarket(await dir.market());
    expect(market).toEqual(fromEntries);
    expect(fromEntries).toMatchObject({
      providers: 3,
      models: [
        { model: "m1", providers: 3, capacity: 6, inUse: 4 },
        { model: "m2", providers: 1, capacity: 1 },
      ],
    });
  });

  it("sum providers offering the same terms as one market group, each keeping its own signed quote", async () => {
    // Every real provider signs its own quotes: were they part of what the market groups by, the
    // market view would read and decode every entry (2,000 a read at the bench's scale).
    const dir = new RedisDirectory(redis.client, {
      prefix: `q${randomBytes(4).toString("hex")}:`,
      entryTtlMs: 60_000,
    });
    const quoteOf = (key: string) => ({ expiresAt: 9_000, owner: PAYOUT, signature: key.repeat(128) });
    for (const key of ["a", "b", "c"])
      await dir.register(
        {
          identityKey: key,
          socketId: `s-${key}`,
          payout: PAYOUT,
          models: [{ model: "m1", price: flat(5n), quote: quoteOf(key) }],
          capacity: 2,
          device: {},
          registeredAt: 1,
        },
        1,
      );
    expect(await dir.market()).toMatchObject([{ providers: 3, capacity: 6 }]);
    const quotes = (await dir.providersFor("m1")).map((p) => [p.identityKey, p.models[0]!.quote]);
    expect(quotes.sort()).toEqual(["a", "b", "c"].map((k) => [k, quoteOf(k)]));
  });

  it("still work after Redis forgets its cached scripts (restart or SCRIPT FLUSH)", async () => {
    const dir = new RedisDirectory(redis.client, {
      prefix: `f${randomBytes(4).toString("hex")}:`,
      entryTtlMs: 60_000,
    });
    const record = {
      identityKey: "a",
      socketId: "s1",
      payout: PAYOUT,
      models: [{ model: "m1", price: flat(5n) }],
      capacity: 2,
      device: {},
      registeredAt: 1,
    };
    await dir.register(record, 1);
    const pick = (now: number) => ({
      model: "m1",
      maxPrice: { promptNanoPerToken: 9n, completionNanoPerToken: 9n },
      exclude: new Set<string>(),
      now,
      failureWindowMs: 1000,
    });
    expect(await dir.reserveBest(pick(2), { requesterSocketId: "r" })).toMatchObject({ ok: true });
    await redis.client.scriptFlush();
    expect(await dir.reserveBest(pick(3), { requesterSocketId: "r" })).toMatchObject({ ok: true });
    expect(await dir.reserveBest(pick(4), { requesterSocketId: "r" })).toMatchObject({ code: "ALL_BUSY" });
    expect(await dir.providersFor("m1")).toMatchObject([{ active: 2 }]);
  });
});

describe("Redis command deadline (redis-deadline.ts)", () => {
  it("a command with no reply rejects with RedisTimeoutError once its deadline passes; answered ones resolve", async () => {
    const client = createClient({ url: redis.url, commandOptions: { timeout: 0 } });
    await client.connect();
    const timed = withDeadline(client, 200);
    try {
      expect(await timed.client.ping()).toBe("PONG");
      // BLPOP with no timeout never answers on an empty list: only the deadline ends the wait.
      const started = performance.now();
      await expect(timed.client.blPop(`never${randomBytes(4).toString("hex")}`, 0)).rejects.toThrow(
        RedisTimeoutError,
      );
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      timed.stop();
      client.destroy();
    }
  });

  it("cutWhile: with Redis away, a command waiting for it and one sent after fail at once with RedisAwayError", async () => {
    const own = await startRedis();
    const client = createClient({ url: own.url, commandOptions: { timeout: 0 } });
    client.on("error", () => undefined);
    await client.connect();
    const timed = withDeadline(client, 5_000);
    try {
      timed.cutWhile(() => !client.isReady);
      // Redis there: nothing is cut.
      expect(await timed.client.ping()).toBe("PONG");
      await own.stop();
      await expect.poll(() => client.isReady, { timeout: 10_000 }).toBe(false);
      // Sent while Redis is away: node-redis queues it until Redis is back; it is not waited for.
      await expect(timed.client.ping()).rejects.toThrow(RedisAwayError);
      await expect(timed.client.sMembers("anything")).rejects.toThrow(
        "Redis is away and the node is closing: not waited for",
      );
    } finally {
      timed.stop();
      client.destroy();
      await own.stop();
    }
  });

  it("cutWhile: a command already waiting when Redis is found away is cut at once", async () => {
    const own = await startRedis();
    const client = createClient({ url: own.url, commandOptions: { timeout: 0 } });
    client.on("error", () => undefined);
    await client.connect();
    const timed = withDeadline(client, 5_000);
    try {
      await own.stop();
      await expect.poll(() => client.isReady, { timeout: 10_000 }).toBe(false);
      const waiting = timed.client.ping();
      timed.cutWhile(() => !client.isReady);
      await expect(waiting).rejects.toThrow(RedisAwayError);
    } finally {
      timed.stop();
      client.destroy();
      await own.stop();
    }
  });
});
