import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { PickRequest, ProviderState } from "../../signaling/directory/directory";
import type { RedisClient } from "../../signaling/directory/redis-commands";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { LeasePool } from "../../signaling/directory/redis-lease";
import { RELEASE } from "../../signaling/directory/redis-lease-scripts";
import type { NodeLeaseOptions } from "../../signaling/directory/redis-leases";
import { flat, providerState } from "./helpers";
import { useRedis } from "./redis-fixture";

const redis = useRedis();

const state = (key: string, nano = 5n) =>
  providerState(key, { price: flat(nano), capacity: 4, registeredAt: 1 });
const unit = (key: string, nano = 5n) => ({ provider: state(key, nano), price: flat(nano) });
const pick = (now: number, exclude: string[] = [], max = 9n): PickRequest => ({
  model: "m1",
  maxPrice: { promptNanoPerToken: max, completionNanoPerToken: max },
  exclude: new Set(exclude),
  now,
  failureWindowMs: 1000,
});

describe("LeasePool (pure bookkeeping)", () => {
  it("serves the first fitting unit, asks for what is missing, backs off after a short lease, gives back idle pools", () => {
    const pool = new LeasePool({ units: 3, idleMs: 100, backoffMs: 50 });
    expect(pool.take(pick(0))).toBeUndefined();
    // want: the first ask starts the model's pool; asked units count as pending.
    expect(pool.want("m1", 0)).toBe(3);
    expect(pool.want("m1", 0)).toBe(0);
    pool.leased("m1", 3, [unit("a", 8n), unit("b"), unit("c")], 1);
    expect(pool.held("m1")).toEqual(["a", "b", "c"]);
    // Price and exclusion are honoured; what does not fit stays for another request.
    expect(pool.take(pick(2, ["b"], 6n))?.provider.identityKey).toBe("c");
    expect(pool.take(pick(2, ["b"], 6n))).toBeUndefined();
    expect(pool.take(pick(2))?.provider.identityKey).toBe("a");
    // A lease that came back short (nobody left with room) quiets the model for backoffMs.
    expect(pool.want("m1", 3)).toBe(2);
    pool.leased("m1", 2, [], 3);
    expect(pool.want("m1", 40)).toBe(0);
    expect(pool.want("m1", 60)).toBe(2);
    pool.leased("m1", 2, [unit("d")], 60);
    expect(pool.drop("d")).toEqual(["m1"]);
    expect(pool.idle(100)).toEqual(new Map());
    expect(pool.idle(200)).toEqual(new Map([["m1", ["b"]]]));
    expect(pool.take(pick(201))).toBeUndefined();
  });
});

describe("RedisDirectory with leases", () => {
  const setup = async (
    providers: string[],
    units = 4,
    tuning: Partial<NodeLeaseOptions> = {},
    client: RedisClient = redis.client,
    providerNode = "n1",
  ) => {
    const counts = new Map<string, number>();
    const prefix = `l${randomBytes(4).toString("hex")}:`;
    const missed: string[] = [];
    const errors: string[] = [];
    const make = (node: string) =>
      new RedisDirectory(client, {
        prefix,
        entryTtlMs: 60_000,
        onCommand: (op) => counts.set(op, (counts.get(op) ?? 0) + 1),
        lease: {
          node,
          units,
          idleMs: 60_000,
          backoffMs: 10,
          ttlMs: 60_000,
          ...tuning,
          onClaimMissed: (sid) => missed.push(sid),
          onLeaseError: (what, err) => errors.push(`${what}: ${(err as Error).message}`),
        },
      });
    const dir = make("n1");
    for (const key of providers)
      await dir.register({ ...state(key), capacity: 4, node: providerNode } satisfies ProviderState, 1);
    return { dir, make, counts, missed, errors };
  };
  const active = async (dir: RedisDirectory) =>
    Object.fromEntries((await dir.providersFor("m1")).map((p) => [p.identityKey, p.active]));

  it("pairs from the node's pool, records each session in one command, and gives units back on close", async () => {
    // The providers' sockets are on another node: the sessions are recorded in Redis.
    const { dir, counts, missed } = await setup(["a", "b", "c"], 4, {}, redis.client, "n0");
    const first = await dir.reserveBest(pick(2), { requesterSocketId: "r", requesterNode: "n1" });
    expect(first.ok).toBe(true);
    await dir.settled();
    // One unit leased from each provider with two or more free (three here), first pairing included.
    expect(Object.values(await active(dir)).reduce((a, b) => a + b)).toBe(4);
    const sessions: string[] = [];
    const warm = await dir.reserveBest(pick(3), { requesterSocketId: "r", requesterNode: "n1" });
    if (warm.ok) sessions.push(warm.sessionId);
    await dir.settled(); // the first claim loads the script (EVALSHA, then EVAL once)
    counts.clear();
    for (let i = 0; i < 2; i++) {
      const r = await dir.reserveBest(pick(3 + i), { requesterSocketId: "r", requesterNode: "n1" });
      if (!r.ok) throw new Error(r.message);
      sessions.push(r.sessionId);
    }
    await dir.settled();
    expect(missed).toEqual([]);
    // Every pooled pairing is one command (its record, with the top-up in the same script).
    expect(counts.get("pair")).toBe(2);
    expect(counts.get("lease") ?? 0).toBe(0);
    // The sessions hold their units like any other: closing each gives one back, once.
    const held = Object.values(await active(dir)).reduce((a, b) => a + b);
    for (const id of sessions)
      expect(await dir.closeSession(id)).toMatchObject({ sessionId: id, model: "m1" });
    expect(await dir.closeSession(sessions[0]!)).toBeUndefined();
    expect(Object.values(await active(dir)).reduce((a, b) => a + b)).toBe(held - 3);
    if (first.ok) await dir.closeSession(first.sessionId);
    // Closing the node's directory gives its leased units back: nothing is held any more.
    await dir.close();
    expect(await active(dir)).toEqual({ a: 0, b: 0, c: 0 });
  });

  it("an in-node session sends Redis nothing to pair or end, and its unit goes back to the pool", async () => {
    const { dir, make, counts } = await setup(["a", "b", "c"], 4, { ttlMs: 400 });
    const total = async () => Object.values(await active(dir)).reduce((x, y) => x + y, 0);
    const first = await dir.reserveBest(pick(2), { requesterSocketId: "r", requesterNode: "n1" });
    if (!first.ok) throw new Error(first.message);
    await dir.settled();
    const held = await total(); // the first session (from Redis, as the pool was empty) and 3 leased units
    expect(held).toBe(4);
    counts.clear();
    const r = await dir.reserveBest(pick(3), { requesterSocketId: "r2", requesterNode: "n1" });
    if (!r.ok) throw new Error(r.message);
    await dir.settled();
    expect(await dir.closeSession(r.sessionId)).toMatchObject({
      sessionId: r.sessionId,
      requesterSocketId: "r2",
    });
    expect(counts.get("pair") ?? 0).toBe(0);
    expect(counts.get("end") ?? 0).toBe(0);
    expect(await total()).toBe(held); // the unit stayed leased to the node, back in its pool
    // A provider that fails its offer: its unit is given back once (not again at the session's end).
    const failed = await dir.reserveBest(pick(4), { requesterSocketId: "r3", requesterNode: "n1" });
    if (!failed.ok) throw new Error(failed.message);
    await dir.recordFailure(failed.provider.identityKey, failed.provider.socketId, 4);
    expect(await total()).toBe(held - 1);
    expect(await dir.closeSession(failed.sessionId)).toMatchObject({ sessionId: failed.sessionId });
    await dir.settled();
    expect(await total()).toBe(held - 1);
    // The node taken for dead: its leases go back, in-node sessions' units with them (nobody else
    // needs to hear of those sessions).
    const open = await dir.reserveBest(pick(5), { requesterSocketId: "r4", requesterNode: "n1" });
    expect(open.ok).toBe(true);
    const other = make("n2");
    const dropped = await other.dropNode("n1");
    expect(dropped.sessions).toEqual([first.sessionId]);
    for (const key of ["a", "b", "c"]) await other.register({ ...state(key), node: "n1" }, 5);
    expect(await total()).toBe(0);
    // Its units' leases gone, the node's tick drops them from its pool: the next pairing asks Redis.
    await new Promise((done) => setTimeout(done, 400));
    counts.clear();
    const after = await dir.reserveBest(pick(6), { requesterSocketId: "r5", requesterNode: "n1" });
    expect(after.ok).toBe(true);
    expect(counts.get("pair")).toBe(1);
    await dir.close();
    await other.close();
  });

  it("a dead node's leases are given back by whoever forgets it; a claim whose lease is gone takes a free unit", async () => {
    const { dir, make, missed } = await setup(["a", "b"]);
    await dir.reserveBest(pick(2), { requesterSocketId: "r", requesterNode: "n1" });
    await dir.settled();
    const other = make("n2");
    // n1 is taken for dead: its leases go back (its sessions are ended by the caller, as in node-liveness).
    const dropped = await other.dropNode("n1");
    expect(dropped.providers).toBe(2);
    // Registered again (a fresh entry, no lease), the pooled unit still pairs: the claim takes a free unit.
    for (const key of ["a", "b"]) await other.register({ ...state(key), node: "n2" }, 5);
    const r = await dir.reserveBest(pick(6), { requesterSocketId: "r2", requesterNode: "n1" });
    expect(r.ok).toBe(true);
    await dir.settled();
    expect(missed).toEqual([]);
    if (r.ok) expect(await dir.closeSession(r.sessionId)).toMatchObject({ requesterSocketId: "r2" });
    await dir.close();
    await other.close();
    expect(await active(other)).toEqual({ a: 0, b: 0 });
  });

  it("never leases a provider's last free unit, so other nodes still find it", async () => {
    const { dir, make } = await setup([]);
    await dir.register({ ...state("x"), capacity: 1, node: "n1" }, 1);
    const r = await dir.reserveBest(pick(2), { requesterSocketId: "r", requesterNode: "n1" });
    await dir.settled();
    expect(r.ok).toBe(true);
    if (r.ok) await dir.closeSession(r.sessionId);
    const other = make("n2");
    expect(await other.reserveBest(pick(3), { requesterSocketId: "r", requesterNode: "n2" })).toMatchObject({
      ok: true,
    });
    await dir.close();
    await other.close();
  });

  it("a lost release is logged and its units come back once the lease expires; units in use are renewed", async () => {
    // A Redis that loses every RELEASE (the give-back of an idle pool), as a dropped connection would.
    const releaseSha = createHash("sha1").update(RELEASE).digest("hex");
    const lossy = new Proxy(redis.client, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if ((name === "evalSha" && args[0] === releaseSha) || (name === "eval" && args[0] === RELEASE))
            return Promise.reject(new Error("connection lost (injected)"));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const ttlMs = 600;
    const { dir, make, errors } = await setup(["a", "b", "c"], 4, { idleMs: 1_000, ttlMs }, lossy);
    const total = async (d: RedisDirectory) => Object.values(await active(d)).reduce((x, y) => x + y, 0);
    const r = await dir.reserveBest(pick(Date.now()), { requesterSocketId: "r", requesterNode: "n1" });
    if (!r.ok) throw new Error(r.message);
    await dir.settled();
    expect(await total(dir)).toBe(4); // the session and three leased units
    // In use, the pool outlives several lease lifetimes: each tick renews what it holds.
    const until = Date.now() + 3 * ttlMs;
    while (Date.now() < until) {
      await new Promise((done) => setTimeout(done, 50));
      // A request the pool cannot serve (price too low) keeps it in use without taking a unit.
      await dir.reserveBest(pick(Date.now(), [], 0n), { requesterSocketId: "r", requesterNode: "n1" });
    }
    expect(errors).toEqual([]);
    expect(await total(dir)).toBe(4);
    // Idle, the pool is given back: the RELEASE is lost and logged, the units stay held for now.
    const deadline = Date.now() + 20_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    expect(errors[0]).toMatch(/^release: connection lost/);
    const lostAt = Date.now();
    expect(await total(dir)).toBe(4);
    // Within the lease's expiry (plus a tick, and slack for a loaded machine) they are free again.
    await dir.closeSession(r.sessionId);
    while ((await total(dir)) > 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    expect(await total(dir)).toBe(0);
    expect(Date.now() - lostAt).toBeGreaterThan(ttlMs / 4); // not freed by anything but the expiry
    // The freed providers can be leased again, by this node or another.
    const other = make("n2");
    expect(
      (await other.reserveBest(pick(Date.now()), { requesterSocketId: "r", requesterNode: "n2" })).ok,
    ).toBe(true);
    await other.close();
    await dir.close();
  });
});
