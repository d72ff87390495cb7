import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AUDIT_DROP_FAILURES,
  type AuditLedger,
  MemoryAuditLedger,
} from "../../signaling/directory/audit-ledger";
import { type AuditRedis, RedisAuditLedger } from "../../signaling/directory/redis-audit-ledger";
import { useRedis } from "./redis-fixture";

/** Issue 16: audit counts per provider and model, the same in memory and in a real Redis (shared by nodes). */
const redis = useRedis();

const P = "aa".repeat(32);
const Q = "bb".repeat(32);

const stores: Record<string, () => AuditLedger | [AuditLedger, AuditLedger]> = {
  "in memory": () => new MemoryAuditLedger(),
  // Two ledgers on one prefix: two signaling nodes sharing Redis.
  redis: () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const r = redis.client as unknown as AuditRedis;
    // No standing cache (a node's default is 1 s): every read here is fresh.
    return [new RedisAuditLedger(r, prefix, 0), new RedisAuditLedger(r, prefix, 0)];
  },
};

describe.each(Object.keys(stores))("the audit ledger, %s", (name) => {
  const make = () => {
    const made = stores[name]!();
    return Array.isArray(made) ? made : [made, made];
  };

  it("counts passes and failures per provider and model, each report once, on every node", async () => {
    const [a, b] = make();
    expect(await a!.count(P, "m1", "pass", "r1")).toBe(true);
    expect(await b!.count(P, "m1", "pass", "r1")).toBe(false);
    expect(await b!.count(P, "m1", "fail", "r2")).toBe(true);
    expect(await a!.count(P, "m2", "pass", "r3")).toBe(true);
    expect(Object.fromEntries(await b!.countsOf(P))).toEqual({
      m1: { passed: 1, failed: 1 },
      m2: { passed: 1, failed: 0 },
    });
    expect((await a!.countsOf(Q)).size).toBe(0);
  });

  it("flags a provider at its first failed audit and drops it at the threshold", async () => {
    const [a, b] = make();
    await a!.count(Q, "m1", "pass", "q0");
    expect(await b!.standing()).toEqual({ flagged: new Set(), dropped: new Set() });
    for (let i = 1; i <= AUDIT_DROP_FAILURES; i++) {
      await a!.count(P, i % 2 ? "m1" : "m2", "fail", `p${i}`);
      const s = await b!.standing();
      expect(s.flagged).toEqual(new Set([P]));
      expect(s.dropped.has(P)).toBe(i >= AUDIT_DROP_FAILURES);
    }
  });

  it("counts forged reports per reporter", async () => {
    const [a, b] = make();
    expect(await b!.forgedBy(Q)).toBe(0);
    expect(await a!.forged(Q)).toBe(1);
    expect(await b!.forged(Q)).toBe(2);
    expect(await a!.forgedBy(Q)).toBe(2);
    expect(await a!.forgedBy(P)).toBe(0);
  });
});

describe("the Redis audit ledger's standing, as pairing reads it", () => {
  it("is read from Redis at most once a second per node, and at once after a failure counted there", async () => {
    const prefix = `s${randomBytes(4).toString("hex")}:`;
    const r = redis.client as unknown as AuditRedis;
    const [here, there] = [new RedisAuditLedger(r, prefix), new RedisAuditLedger(r, prefix)];
    expect((await here.standing()).flagged.size).toBe(0);
    await there.count(P, "m1", "fail", "f1");
    // Counted on another node: this one sees it once its cached read ages out.
    expect((await here.standing()).flagged.size).toBe(0);
    await here.count(Q, "m1", "fail", "f2");
    expect((await here.standing()).flagged).toEqual(new Set([P, Q]));
  });
});
