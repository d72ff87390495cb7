import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { directorySuite } from "./directory-suite";
import { flat, PAYOUT } from "./helpers";
import { useRedis } from "./redis-fixture";

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
