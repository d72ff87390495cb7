import { afterEach, describe, expect, it } from "vitest";
import { FaultNodes, health } from "./fault-nodes";
import {
  ask,
  askGateway,
  directory,
  expectWholeAnswer,
  inFlight,
  MODEL,
  placesInUse,
  until,
} from "./faulty-network";
import { connect, flat, type Granted, next, provider, requestBody, requestSession } from "./helpers";

/**
 * Two signaling processes on one real redis-server; one is killed (-9, so it tells nobody), then
 * Redis restarts empty. Clients know both nodes' URLs and move to the living one by themselves.
 */
let scene: FaultNodes;
afterEach(() => scene.close());

// A node silent for 1.5 s is dead (the default is 5 s): the test need not wait longer than that.
const NODE_TTL_MS = 1_500;

async function twoNodes() {
  scene = new FaultNodes();
  return scene.two({ NODE_TTL_MS: String(NODE_TTL_MS) });
}

describe("a node dies, then Redis restarts empty", () => {
  it("frees a session's place whichever node its requester or provider was on, and tells the survivor", async () => {
    const { a, b } = await twoNodes();
    await provider(a.url, { models: [{ model: "m1", price: flat(5n) }], capacity: 2 });
    const onB = await provider(b.url, { models: [{ model: "m2", price: flat(5n) }], capacity: 2 });
    const requesterOnA = await connect(a.url);
    const requesterOnB = await connect(b.url);
    await until(async () => (await directory(b.url)).providers === 2, "both listed", 10_000);

    // Requester on B with the provider on A; requester on A with the provider on B.
    const toA = (await requestSession(requesterOnB, requestBody("m1"))) as Granted;
    const toB = (await requestSession(requesterOnA, requestBody("m2"))) as Granted;
    expect([toA.ok, toB.ok]).toEqual([true, true]);
    await until(async () => placesInUse(await directory(b.url)) === 2, "two places taken", 5_000);

    const requesterTold = next(requesterOnB, "session:ended");
    const providerTold = next(onB.socket, "session:ended");
    const killedAt = Date.now();
    await a.kill();
    expect(await requesterTold).toMatchObject({
      sessionId: toA.sessionId,
      reason: "node-lost",
      error: { code: "NODE_LOST" },
    });
    expect(await providerTold).toMatchObject({ sessionId: toB.sessionId, reason: "node-lost" });
    // A's provider is gone and both places are free, well before the 120 s heartbeat timeout.
    const freed = await until(
      async () => {
        const d = await directory(b.url);
        return d.providers === 1 && placesInUse(d) === 0;
      },
      "dead node forgotten",
      15_000,
    );
    expect(freed - killedAt).toBeLessThan(NODE_TTL_MS + 5_000);
    // B's own provider still serves.
    expect(await requestSession(requesterOnB, requestBody("m2"))).toMatchObject({ ok: true });
  }, 120_000);

  it("everyone moves to the living node, answers in flight end whole or typed, and Redis restarting empty heals", async () => {
    const { a, b } = await twoNodes();
    const both = [a.url, b.url];
    const { direct, relayed, gateway } = await scene.net.populate({
      providers: [both, [b.url, a.url]],
      requesters: both,
      gateway: [b.url, a.url],
    });

    const onDirect = inFlight(direct, 60_000);
    const onRelay = inFlight(relayed, 60_000);
    await Promise.all([onDirect.started, onRelay.started]);
    const killedAt = Date.now();
    await a.kill();
    // Registered through B's own sockets (the shared directory may still list A's for a moment).
    const listed = await until(async () => (await health(b.url)).providers === 2, "registered on B", 30_000);
    expect(listed - killedAt).toBeLessThanOrEqual(5_000);
    const [d, r] = await Promise.all([onDirect.done, onRelay.done]);
    expect(d).toMatchObject({ ok: true, failovers: 0 });
    expectWholeAnswer(d);
    expectWholeAnswer(r);
    await expectServing(b.url, direct, relayed, gateway);

    // Redis restarts empty: no directory, no sessions, no node list. Re-registration alone heals
    // it. Answers in flight then (direct, relayed, through the gateway) finish or end typed.
    const during = [inFlight(direct, 60_000), inFlight(relayed, 60_000), inFlight(gateway, 60_000)];
    await Promise.all(during.map((f) => f.started));
    await scene.restartRedis();
    const back = Date.now();
    // B's market view is cached for up to 0.5 s: read it only once it comes from the new Redis.
    await new Promise((r) => setTimeout(r, 600));
    const relisted = await until(
      async () => (await directory(b.url)).providers === 2,
      "listed again",
      30_000,
    );
    expect(relisted - back).toBeLessThanOrEqual(5_000);
    const [d2, r2, g2] = await Promise.all(during.map((f) => f.done));
    expect(d2).toMatchObject({ ok: true, failovers: 0 }); // a direct channel needs neither
    for (const o of [d2, r2, g2]) expectWholeAnswer(o!);
    await expectServing(b.url, direct, relayed, gateway);
  }, 180_000);
});

async function expectServing(
  url: string,
  direct: Parameters<typeof ask>[0],
  relayed: Parameters<typeof ask>[0],
  gateway: string,
) {
  expect(await ask(direct)).toBe("Echo: ping");
  expect(await ask(relayed)).toBe("Echo: ping");
  expect(await askGateway(gateway)).toEqual({ status: 200, text: "Echo: ping" });
  await until(async () => placesInUse(await directory(url)) === 0, "every place free", 10_000);
  await until(async () => scene.net.providers.every((p) => p.slots.load === 0), "providers idle", 10_000);
  await scene.net.expectPaidOnce();
  expect((await directory(url)).models.map((m) => m.model)).toEqual([MODEL]);
}
