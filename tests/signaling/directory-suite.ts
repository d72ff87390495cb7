import { beforeEach, describe, expect, it } from "vitest";
import type { ProviderDirectory, ProviderRecord } from "../../signaling/directory/directory";
import { directoryIndexSuite } from "./directory-index-suite";
import { flat, PAYOUT } from "./helpers";

/** The one suite every directory store must pass (in-memory and Redis run it as is). */
export function directorySuite(name: string, make: () => Promise<ProviderDirectory>): void {
  describe(`provider directory: ${name}`, () => {
    let dir: ProviderDirectory;
    beforeEach(async () => {
      dir = await make();
    });

    /** Pairs a request for `model` (any price) with whoever fits; the session id, or undefined. */
    const reserve = async (now: number, model = "m1", requesterNode?: string) => {
      const r = await dir.reserveBest(
        {
          model,
          maxPrice: { promptNanoPerToken: 10n ** 15n, completionNanoPerToken: 10n ** 15n },
          exclude: new Set(),
          now,
          failureWindowMs: 60_000,
        },
        { requesterSocketId: "r1", ...(requesterNode && { requesterNode }) },
      );
      return r.ok ? r.sessionId : undefined;
    };

    const rec = (key: string, socketId: string, models = ["m1"], capacity = 2): ProviderRecord => ({
      identityKey: key,
      socketId,
      payout: PAYOUT,
      models: models.map((model, i) => ({ model, price: flat(10n ** 12n - BigInt(i)) })),
      capacity,
      device: { adapter: "gpu", memoryMB: 8192, shaderF16: true },
      registeredAt: 1000,
    });

    it("reads one provider of a model by its key, as the model's list has it", async () => {
      await dir.register(rec("a", "s1", ["m1", "m2"]), 5);
      await dir.register(rec("b", "s2", ["m2"]), 5);
      expect((await dir.providerOf("a", "m2"))?.models.map((m) => m.model)).toEqual(
        (await dir.providersFor("m2")).find((p) => p.identityKey === "a")?.models.map((m) => m.model),
      );
      expect((await dir.providerOf("b", "m2"))?.identityKey).toBe("b");
      expect(await dir.providerOf("b", "m1")).toBeUndefined();
      expect(await dir.providerOf("c", "m1")).toBeUndefined();
      await dir.unregister("a", "s1");
      expect(await dir.providerOf("a", "m1")).toBeUndefined();
    });

    it("registers, lists by model and in full, with exact bigint prices", async () => {
      await dir.register(rec("a", "s1", ["m1", "m2"]), 5);
      await dir.register(rec("b", "s2", ["m2"]), 6);
      expect((await dir.providersFor("m1")).map((p) => p.identityKey)).toEqual(["a"]);
      expect((await dir.providersFor("m2")).map((p) => p.identityKey).sort()).toEqual(["a", "b"]);
      expect(await dir.providersFor("none")).toEqual([]);
      const [a] = await dir.providersFor("m1");
      expect(a).toMatchObject({
        ...rec("a", "s1", ["m1", "m2"]),
        load: 0,
        active: 0,
        failures: 0,
        seenAt: 5,
      });
      expect(a!.models[0]!.price.nanoPerToken).toBe(10n ** 12n);
      expect((await dir.all()).length).toBe(2);
    });

    it("keeps what a provider declared of its Registry entry, stake as an exact bigint, and its quotes naming it", async () => {
      const entry = { owner: PAYOUT, stake: 10n ** 18n + 7n, registeredAt: 1_700_000_000 };
      const quote = { expiresAt: 9_000, owner: PAYOUT, signature: "ab".repeat(64) };
      const quoted = rec("a", "s1").models.map((m) => ({ ...m, quote }));
      await dir.register({ ...rec("a", "s1"), models: quoted, entry }, 1);
      await dir.register(rec("b", "s2"), 1);
      const [a, b] = [...(await dir.providersFor("m1"))].sort((x, y) =>
        x.identityKey.localeCompare(y.identityKey),
      );
      expect(a!.entry).toEqual(entry);
      expect(a!.models[0]!.quote).toEqual(quote);
      expect(b!.entry).toBeUndefined();
    });

    it("replaces an entry on re-registration: new socket, new models, counters reset", async () => {
      await dir.register(rec("a", "s1", ["m1"]), 1);
      const old = await reserve(2);
      expect(old).toBeDefined();
      await dir.register(rec("a", "s2", ["m2"]), 3);
      expect(await dir.providersFor("m1")).toEqual([]);
      expect(await reserve(3)).toBeUndefined();
      expect(await dir.providersFor("m2")).toMatchObject([{ socketId: "s2", active: 0 }]);
      // The old socket can no longer touch the entry, nor can the session it held.
      expect(await dir.heartbeat("a", "s1", 1, 4)).toBe(false);
      expect(await dir.unregister("a", "s1")).toBe(false);
      expect(await reserve(4, "m2")).toBeDefined();
      expect(await dir.closeSession(old!)).toMatchObject({ providerSocketId: "s1" });
      expect(await dir.providersFor("m2")).toMatchObject([{ active: 1 }]);
      expect((await dir.all()).length).toBe(1);
    });

    it("unregisters only for the owning socket", async () => {
      await dir.register(rec("a", "s1"), 1);
      expect(await dir.unregister("a", "s1")).toBe(true);
      expect(await dir.all()).toEqual([]);
      expect(await dir.providersFor("m1")).toEqual([]);
      expect(await dir.unregister("a", "s1")).toBe(false);
    });

    it("heartbeats record load and time", async () => {
      await dir.register(rec("a", "s1"), 1);
      expect(await dir.heartbeat("a", "s1", 1, 9)).toBe(true);
      expect(await dir.providersFor("m1")).toMatchObject([{ load: 1, seenAt: 9 }]);
      expect(await dir.heartbeat("zz", "s1", 1, 9)).toBe(false);
    });

    it("reserves up to capacity, counting reported load, and gives places back as sessions end", async () => {
      await dir.register(rec("a", "s1", ["m1"], 2), 1);
      const first = await reserve(2);
      const second = await reserve(3);
      expect([first, second].every(Boolean)).toBe(true);
      expect(await reserve(4)).toBeUndefined();
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 2, lastAssignedAt: 3 }]);
      await dir.closeSession(first!);
      await dir.heartbeat("a", "s1", 2, 5);
      expect(await reserve(6)).toBeUndefined();
      await dir.heartbeat("a", "s1", 0, 7);
      const third = await reserve(8);
      expect(third).toBeDefined();
      await dir.closeSession(second!);
      await dir.closeSession(third!);
      await dir.closeSession(third!);
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 0 }]);
    });

    it("counts an ended session out of the load heard since it opened, until the next heartbeat", async () => {
      await dir.register(rec("a", "s1", ["m1"], 1), 1);
      const first = await reserve(2);
      // The provider reports the session it serves; then the server ends it.
      await dir.heartbeat("a", "s1", 1, 3);
      await dir.closeSession(first!);
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 0, load: 0 }]);
      const second = await reserve(4);
      expect(second).toBeDefined();
      await dir.closeSession(second!);
      // A heartbeat after the end says the provider is still busy: it is believed.
      await dir.heartbeat("a", "s1", 1, 5);
      expect(await reserve(6)).toBeUndefined();
    });

    it("keeps a load heard before a session opened when that session ends (the report cannot count it)", async () => {
      await dir.register(rec("a", "s1", ["m1"], 2), 1);
      await dir.heartbeat("a", "s1", 1, 2);
      const session = await reserve(3);
      expect(session).toBeDefined();
      await dir.closeSession(session!);
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 0, load: 1 }]);
    });

    it("never hands out more than capacity under concurrent reservations", async () => {
      await dir.register(rec("a", "s1", ["m1"], 3), 1);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => reserve(i)));
      expect(results.filter(Boolean)).toHaveLength(3);
      expect(new Set(results.filter(Boolean)).size).toBe(3);
    });

    it("records failures", async () => {
      await dir.register(rec("a", "s1"), 1);
      await dir.recordFailure("a", "s1", 50);
      await dir.recordFailure("a", "s1", 60);
      await dir.recordFailure("a", "other", 70);
      expect(await dir.providersFor("m1")).toMatchObject([{ failures: 2, lastFailureAt: 60 }]);
    });

    it("records a session with its pairing and closes it exactly once, giving its place back once", async () => {
      await dir.register(rec("a", "s1", ["m1"], 2), 1);
      const now = Date.now();
      const kept = await reserve(now);
      const sessionId = await reserve(now);
      expect(await dir.sessionCount()).toBe(2);
      const [first, second] = await Promise.all([dir.closeSession(sessionId!), dir.closeSession(sessionId!)]);
      expect([first, second].filter(Boolean)).toEqual([
        {
          sessionId,
          identityKey: "a",
          providerSocketId: "s1",
          requesterSocketId: "r1",
          model: "m1",
          createdAt: now,
        },
      ]);
      expect(await dir.sessionCount()).toBe(1);
      expect(await dir.providersFor("m1")).toMatchObject([{ active: 1 }]);
      expect(kept).not.toBe(sessionId);
      expect(await dir.closeSession("nope")).toBeUndefined();
      expect(await dir.closeSession(`x${sessionId}`)).toBeUndefined();
    });

    it("forgets a dead node: its providers (unless registered again elsewhere) and its sessions", async () => {
      const on = (r: ProviderRecord, node: string): ProviderRecord => ({ ...r, node });
      await dir.register(on(rec("a", "s1", ["m2"]), "dead"), 1);
      await dir.register(on(rec("b", "s2"), "dead"), 1);
      await dir.register(on(rec("c", "s3", ["m1"], 4), "alive"), 1);
      // b moved to the living node before the dead one was noticed: its new entry stays.
      await dir.register(on(rec("b", "s4", ["m3"]), "alive"), 2);
      const now = Date.now();
      const providerDied = await reserve(now, "m2", "alive");
      const requesterDied = await reserve(now, "m1", "dead");
      const bothAlive = await reserve(now, "m1", "alive");
      const endedBefore = await reserve(now, "m1", "dead");
      await dir.closeSession(endedBefore!);

      const dropped = await dir.dropNode("dead");
      expect(dropped.providers).toBe(1);
      expect(dropped.sessions.sort()).toEqual([providerDied, requesterDied].sort());
      expect(dropped.sessions).not.toContain(bothAlive);
      expect((await dir.all()).map((p) => `${p.identityKey}@${p.socketId}`).sort()).toEqual(["b@s4", "c@s3"]);
      expect(await dir.providersFor("m1")).toHaveLength(1);
      expect(await dir.providersFor("m2")).toHaveLength(0);
      // Forgetting twice finds nothing more.
      expect(await dir.dropNode("dead")).toEqual({ providers: 0, sessions: expect.any(Array) });
    });

    directoryIndexSuite(make);
  });
}
